package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/generic"
)

// Spec tags that point at another image stream tag or image (from.kind
// ImageStreamTag or ImageStreamImage, what `gantry tag` writes) take their
// image at the moment the spec is written, as in OpenShift: the newest
// event of the source becomes a status event of the tag. A reference tag
// of an external image (from.kind DockerImage, reference: true, never
// imported) gets an event with only its pull spec, as in OpenShift: `oc
// tag` copies such a tag as that pull spec. A source in
// another project counts only when the writer may pull from it (get
// imagestreams/layers there); otherwise the tag gets a condition saying so,
// and no image — tagging must not be a way around pull rights.

// trackTags resolves the spec tags of s whose status does not show their
// current generation yet, and returns the stream as stored afterwards.
func (b *backend) trackTags(ctx context.Context, s *imagev1.ImageStream) (*imagev1.ImageStream, error) {
	type change struct {
		tag   string
		event *imagev1.TagEvent
		cond  *imagev1.TagEventCondition
	}
	var changes []change
	for _, t := range s.Spec.Tags {
		if t.From == nil {
			continue
		}
		reference := t.From.Kind == "DockerImage" && t.Reference
		if !reference && t.From.Kind != "ImageStreamTag" && t.From.Kind != "ImageStreamImage" {
			continue // DockerImage tags are the import controller's
		}
		gen := int64(0)
		if t.Generation != nil {
			gen = *t.Generation
		}
		if e := latestEvent(s, t.Name); e != nil && e.Generation >= gen {
			continue
		}
		var ev *imagev1.TagEvent
		var err error
		if reference {
			// A tag that only points at an external image (never imported):
			// its event names the pull spec, without an image, as in
			// OpenShift, so that it can be the source of another tag.
			ev = &imagev1.TagEvent{DockerImageReference: t.From.Name}
		} else {
			ev, err = b.sourceEvent(ctx, s, t.From)
		}
		switch {
		case err == nil:
			ev.Generation = gen
			ev.Created = metav1.NewTime(b.now())
			changes = append(changes, change{tag: t.Name, event: ev})
		case apierrors.IsNotFound(err) || apierrors.IsBadRequest(err):
			// Nothing to take yet (a source tag without an image): the tag stays empty.
		case apierrors.IsForbidden(err):
			changes = append(changes, change{tag: t.Name, cond: &imagev1.TagEventCondition{
				Type: imagev1.ImportSuccess, Status: "False", Reason: string(apierrors.ReasonForError(err)),
				Message: apiErrorMessage(err), Generation: gen, LastTransitionTime: metav1.NewTime(b.now()),
			}})
		default:
			return nil, err
		}
	}
	if len(changes) == 0 {
		return s, nil
	}
	return updateStream(ctx, b.status, s.Name, func(s *imagev1.ImageStream) (bool, error) {
		changed := false
		for _, c := range changes {
			if c.event != nil {
				if addTagEvent(s, c.tag, *c.event) {
					updateTrackingTags(s, c.tag, *c.event)
					changed = true
				}
				continue
			}
			i := statusTagIndex(s, c.tag)
			if i < 0 {
				s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: c.tag})
				i = len(s.Status.Tags) - 1
			}
			s.Status.Tags[i].Conditions = []imagev1.TagEventCondition{*c.cond}
			changed = true
		}
		return changed, nil
	})
}

func apiErrorMessage(err error) string {
	if st, ok := err.(apierrors.APIStatus); ok {
		return st.Status().Message
	}
	return err.Error()
}

// sourceEvent finds the tag event a spec tag's from points at.
func (b *backend) sourceEvent(ctx context.Context, s *imagev1.ImageStream, from *corev1.ObjectReference) (*imagev1.TagEvent, error) {
	ns := from.Namespace
	if ns == "" {
		ns = s.Namespace
	}
	sep := ":"
	if from.Kind == "ImageStreamImage" {
		sep = "@"
	}
	streamName, item, ok := strings.Cut(from.Name, sep)
	if !ok {
		// A bare tag name means a tag of the same stream.
		if from.Kind != "ImageStreamTag" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("from %s %q must be <stream>@<image>", from.Kind, from.Name))
		}
		streamName, item = s.Name, from.Name
	}
	src := s
	if ns != s.Namespace || streamName != s.Name {
		if ns != s.Namespace {
			if err := b.mayPull(ctx, ns, streamName); err != nil {
				return nil, err
			}
		}
		var err error
		if src, err = b.getStream(request.WithNamespace(ctx, ns), streamName); err != nil {
			return nil, err
		}
	}
	if from.Kind == "ImageStreamTag" {
		e := latestEvent(src, item)
		if e == nil || (e.Image == "" && e.DockerImageReference == "") {
			return nil, apierrors.NewNotFound(tagResource, streamName+":"+item)
		}
		ev := *e
		ev.DockerImageReference = resolveReference(src, item, e)
		return &ev, nil
	}
	image, err := resolveImageID(src, from.Name, item)
	if err != nil {
		return nil, err
	}
	for _, l := range src.Status.Tags {
		for _, e := range l.Items {
			if e.Image == image {
				ev := e
				return &ev, nil
			}
		}
	}
	return nil, apierrors.NewNotFound(streamImageResource, from.Name)
}

// mayPull checks that the requesting user may pull from ns/stream.
func (b *backend) mayPull(ctx context.Context, ns, stream string) error {
	u, ok := request.UserFrom(ctx)
	if !ok || b.authz == nil {
		return apierrors.NewForbidden(streamImageResource, ns+"/"+stream, fmt.Errorf("no user to check access to another project's images with"))
	}
	decision, _, err := b.authz.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: "get", Namespace: ns, APIGroup: imagev1.GroupName, Resource: "imagestreams",
		Subresource: "layers", Name: stream, ResourceRequest: true,
	})
	if err != nil {
		return err
	}
	if decision != authorizer.DecisionAllow {
		return apierrors.NewForbidden(imagev1.Resource("imagestreams/layers"), ns+"/"+stream,
			fmt.Errorf("%s may not pull images from project %s: ask its admin for the system:image-puller role", u.GetName(), ns))
	}
	return nil
}

// streamsREST is the imagestreams storage: the generic store, with spec
// tags that follow other tags resolved after each write.
type streamsREST struct {
	*generic.REST
	b *backend
}

// NewStreamsREST wraps the imagestreams store so that spec tags following
// other tags get their image; authz checks cross-project sources.
func NewStreamsREST(main *generic.REST, status StatusStore, images Store, authz authorizer.Authorizer) rest.Storage {
	return &streamsREST{REST: main, b: &backend{streams: main, status: status, images: images, now: time.Now, authz: authz}}
}

// Create implements rest.Creater.
func (r *streamsREST) Create(ctx context.Context, obj runtime.Object, v rest.ValidateObjectFunc, o *metav1.CreateOptions) (runtime.Object, error) {
	out, err := r.REST.Create(ctx, obj, v, o)
	if err != nil || (o != nil && len(o.DryRun) > 0) {
		return out, err
	}
	return r.b.trackTags(ctx, out.(*imagev1.ImageStream))
}

// Update implements rest.Updater.
func (r *streamsREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, cv rest.ValidateObjectFunc, uv rest.ValidateObjectUpdateFunc, force bool, o *metav1.UpdateOptions) (runtime.Object, bool, error) {
	out, created, err := r.REST.Update(ctx, name, objInfo, cv, uv, force, o)
	if err != nil || (o != nil && len(o.DryRun) > 0) {
		return out, created, err
	}
	s, err := r.b.trackTags(ctx, out.(*imagev1.ImageStream))
	return s, created, err
}
