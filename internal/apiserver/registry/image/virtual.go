package image

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// This file and the other virtual_*.go files serve the virtual resources of
// image.openshift.io/v1, which have no storage of their own but read and
// write image streams and images, following openshift-apiserver:
//
//   - imagestreammappings (create only): record that an image was pushed to
//     a tag of a stream: create the Image and add a tag event to the status.
//   - imagestreamtags (<stream>:<tag>): one tag of a stream, with its spec
//     tag and the image its newest status event points to.
//   - imagestreamimages (<stream>@<digest or unique prefix>): an image from
//     the tag history of a stream.

// Store is the part of a k8s.io/apiserver registry Store the virtual
// resources use; *genericregistry.Store (and generic.REST, which embeds it)
// satisfies it.
type Store interface {
	StatusStore
	Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error)
	List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error)
}

// StatusStore reads objects and updates them; the status subresource
// storage (generic.StatusREST) satisfies it.
type StatusStore interface {
	Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error)
	Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error)
}

// Virtual returns the storage of imagestreammappings, imagestreamtags and
// imagestreamimages, keyed by resource name. streams is the main
// imagestreams storage (spec writes and stream creation), streamStatus its
// status subresource (tag history writes) and images the images storage.
// authz checks that a tag written from another project's image may pull it.
func Virtual(streams Store, streamStatus StatusStore, images Store, authz authorizer.Authorizer) map[string]rest.Storage {
	b := &backend{streams: streams, status: streamStatus, images: images, now: time.Now, authz: authz}
	return map[string]rest.Storage{
		"imagestreammappings": &mappingREST{b: b, batch: &streamBatcher{}},
		"imagestreamtags":     &tagREST{b},
		"imagestreamimages":   &streamImageREST{b},
	}
}

var (
	mappingResource     = imagev1.Resource("imagestreammappings")
	tagResource         = imagev1.Resource("imagestreamtags")
	streamImageResource = imagev1.Resource("imagestreamimages")
)

func kind(k string) schema.GroupKind { return schema.GroupKind{Group: imagev1.GroupName, Kind: k} }

// backend holds the stores the virtual resources share.
type backend struct {
	streams Store
	status  StatusStore
	images  Store
	now     func() time.Time
	authz   authorizer.Authorizer
}

func (b *backend) getStream(ctx context.Context, name string) (*imagev1.ImageStream, error) {
	obj, err := b.streams.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	s, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return nil, fmt.Errorf("image stream storage returned %T", obj)
	}
	return s, nil
}

// getImage reads a cluster-scoped image.
func (b *backend) getImage(ctx context.Context, name string) (*imagev1.Image, error) {
	obj, err := b.images.Get(request.WithNamespace(ctx, ""), name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	img, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, fmt.Errorf("image storage returned %T", obj)
	}
	return img, nil
}

// updateStream applies mutate to the stored stream through store, which
// calls it with the freshly read object on every attempt, so concurrent
// writers never lose each other's changes. mutate returns false when
// nothing needs to change.
func updateStream(ctx context.Context, store StatusStore, name string, mutate func(*imagev1.ImageStream) (bool, error)) (*imagev1.ImageStream, error) {
	objInfo := updatedObjectFunc(func(_ context.Context, old runtime.Object) (runtime.Object, error) {
		s, ok := old.(*imagev1.ImageStream)
		if !ok {
			return nil, fmt.Errorf("image stream storage returned %T", old)
		}
		next := s.DeepCopy()
		changed, err := mutate(next)
		if err != nil {
			return nil, err
		}
		if !changed {
			return s, nil // the store writes nothing for an unchanged object
		}
		return next, nil
	})
	obj, _, err := store.Update(ctx, name, objInfo, rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	s, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return nil, fmt.Errorf("image stream storage returned %T", obj)
	}
	return s, nil
}

// updatedObjectFunc is a rest.UpdatedObjectInfo computing the new object
// from the current one, without preconditions.
type updatedObjectFunc func(ctx context.Context, old runtime.Object) (runtime.Object, error)

func (f updatedObjectFunc) Preconditions() *metav1.Preconditions { return nil }

func (f updatedObjectFunc) UpdatedObject(ctx context.Context, old runtime.Object) (runtime.Object, error) {
	return f(ctx, old)
}

// requestNamespace returns the namespace of a namespaced request.
func requestNamespace(ctx context.Context) (string, error) {
	ns := request.NamespaceValue(ctx)
	if ns == "" {
		return "", apierrors.NewBadRequest("a namespace is required")
	}
	return ns, nil
}

// --- tag history helpers (v1 forms of OpenShift's internal helpers) ---

func statusTagIndex(s *imagev1.ImageStream, tag string) int {
	for i := range s.Status.Tags {
		if s.Status.Tags[i].Tag == tag {
			return i
		}
	}
	return -1
}

func specTagIndex(s *imagev1.ImageStream, tag string) int {
	for i := range s.Spec.Tags {
		if s.Spec.Tags[i].Name == tag {
			return i
		}
	}
	return -1
}

// latestEvent returns the newest tag event of tag, or nil.
func latestEvent(s *imagev1.ImageStream, tag string) *imagev1.TagEvent {
	if i := statusTagIndex(s, tag); i >= 0 && len(s.Status.Tags[i].Items) > 0 {
		return &s.Status.Tags[i].Items[0]
	}
	return nil
}

// addTagEvent makes next the newest event of tag, collapsing it into the
// newest event when that has the same image or pull spec (as OpenShift's
// AddTagEventToImageStream does). It reports whether the stream changed.
func addTagEvent(s *imagev1.ImageStream, tag string, next imagev1.TagEvent) bool {
	i := statusTagIndex(s, tag)
	if i < 0 {
		s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{next}})
		return true
	}
	l := &s.Status.Tags[i]
	if len(l.Items) == 0 {
		l.Items = []imagev1.TagEvent{next}
		l.Conditions = nil
		return true
	}
	prev := &l.Items[0]
	sameRef := prev.DockerImageReference == next.DockerImageReference
	sameImage := prev.Image == next.Image
	switch {
	case sameRef && sameImage && prev.Generation == next.Generation:
		return false
	case sameRef && sameImage:
	case sameRef:
		prev.Image = next.Image
	case sameImage:
		prev.DockerImageReference = next.DockerImageReference
	default:
		l.Conditions = nil
		l.Items = append([]imagev1.TagEvent{next}, l.Items...)
		return true
	}
	prev.Generation = next.Generation
	l.Conditions = nil
	return true
}

// updateTrackingTags adds event to every spec tag that follows tag of the
// same stream (from.kind ImageStreamTag, from.name <tag> or <stream>:<tag>).
func updateTrackingTags(s *imagev1.ImageStream, tag string, event imagev1.TagEvent) {
	for _, ref := range s.Spec.Tags {
		if ref.Name == tag || ref.From == nil || ref.From.Kind != "ImageStreamTag" {
			continue
		}
		if ref.From.Namespace != "" && ref.From.Namespace != s.Namespace {
			continue
		}
		stream, followed := s.Name, ref.From.Name
		if strings.Contains(followed, ":") {
			var ok bool
			if stream, followed, ok = splitStreamTag(followed); !ok {
				continue
			}
		}
		if stream == s.Name && followed == tag {
			addTagEvent(s, ref.Name, event)
		}
	}
}

// resolveReference is the pull spec a tag event resolves to: the stream's
// own repository when the spec tag asks for Local references.
func resolveReference(s *imagev1.ImageStream, tag string, event *imagev1.TagEvent) string {
	i := specTagIndex(s, tag)
	if i < 0 || s.Spec.Tags[i].ReferencePolicy.Type != imagev1.LocalTagReferencePolicy {
		return event.DockerImageReference
	}
	if s.Status.DockerImageRepository == "" || event.Image == "" {
		return event.DockerImageReference
	}
	ref, err := imageref.Parse(s.Status.DockerImageRepository)
	if err != nil {
		return event.DockerImageReference
	}
	ref.Tag, ref.ID = "", event.Image
	return ref.Exact()
}

// streamReference is the pull spec of image in the stream's repository.
func streamReference(s *imagev1.ImageStream, image string) (string, bool) {
	repo := s.Status.DockerImageRepository
	if repo == "" {
		repo = s.Spec.DockerImageRepository
	}
	if repo == "" {
		return "", false
	}
	ref, err := imageref.Parse(repo)
	if err != nil {
		return "", false
	}
	ref.Tag, ref.ID = "", image
	return ref.Exact(), true
}

// prefixErrors moves field errors of an embedded object under fldPath.
func prefixErrors(errs field.ErrorList, prefix string) field.ErrorList {
	for _, e := range errs {
		e.Field = prefix + "." + e.Field
	}
	return errs
}

func nameErrors(name string, fn func(string, bool) []string, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	if name == "" {
		return append(errs, field.Required(fldPath, "a name is required"))
	}
	for _, msg := range fn(name, false) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	return errs
}

// ---------------------------------------------------------------------------
// imagestreammappings

// mappingREST serves imagestreammappings: a create records an image pushed
// to a tag of an existing stream.
type mappingREST struct {
	b     *backend
	batch *streamBatcher // concurrent mappings to one stream are written together
}

var (
	_ rest.Storage              = (*mappingREST)(nil)
	_ rest.Scoper               = (*mappingREST)(nil)
	_ rest.SingularNameProvider = (*mappingREST)(nil)
	_ rest.Creater              = (*mappingREST)(nil)
	_ rest.TableConvertor       = (*mappingREST)(nil)
)

func (r *mappingREST) New() runtime.Object     { return &imagev1.ImageStreamMapping{} }
func (r *mappingREST) Destroy()                {}
func (r *mappingREST) NamespaceScoped() bool   { return true }
func (r *mappingREST) GetSingularName() string { return "imagestreammapping" }
func (r *mappingREST) ConvertToTable(ctx context.Context, obj, opts runtime.Object) (*metav1.Table, error) {
	return rest.NewDefaultTableConvertor(mappingResource).ConvertToTable(ctx, obj, opts)
}

func validateMapping(m *imagev1.ImageStreamMapping) field.ErrorList {
	errs := nameErrors(m.Name, validateStreamName, field.NewPath("metadata", "name"))
	errs = append(errs, validateTagName(m.Tag, field.NewPath("tag"))...)
	errs = append(errs, nameErrors(m.Image.Name, validateImageName, field.NewPath("image", "metadata", "name"))...)
	errs = append(errs, prefixErrors(validateImage(&m.Image), "image")...)
	return errs
}

// Create adds the mapping's image to the tag's history and answers with a
// Success status, as OpenShift does.
func (r *mappingREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	m, ok := obj.(*imagev1.ImageStreamMapping)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected an ImageStreamMapping, got %T", obj))
	}
	ns, err := requestNamespace(ctx)
	if err != nil {
		return nil, err
	}
	if err := rest.EnsureObjectNamespaceMatchesRequestNamespace(ns, m); err != nil {
		return nil, err
	}
	m.Namespace = ns
	if errs := validateMapping(m); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kind("ImageStreamMapping"), m.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, m.DeepCopyObject()); err != nil {
			return nil, err
		}
	}

	stream, err := r.b.getStream(ctx, m.Name)
	if err != nil {
		return nil, err
	}

	img := m.Image.DeepCopy()
	img.Namespace, img.ResourceVersion, img.UID = "", "", ""
	img.CreationTimestamp, img.DeletionTimestamp, img.Generation = metav1.Time{}, nil, 0
	_, err = r.b.images.Create(request.WithNamespace(ctx, ""), img, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	exists := apierrors.IsAlreadyExists(err)
	if err != nil && !exists {
		return nil, err
	}

	ref := m.Image.DockerImageReference
	if exists && m.Image.Annotations[imagev1.ManagedByOpenShiftAnnotation] == "true" {
		// An image of the integrated registry tagged elsewhere already:
		// pull it through this stream's repository.
		if local, ok := streamReference(stream, m.Image.Name); ok {
			ref = local
		}
	}
	event := imagev1.TagEvent{
		Created:              metav1.NewTime(r.b.now()),
		DockerImageReference: ref,
		Image:                m.Image.Name,
	}
	err = r.batch.update(ctx, r.b.status, m.Name, func(s *imagev1.ImageStream) (bool, error) {
		next := event
		next.Generation = s.Generation
		if !addTagEvent(s, m.Tag, next) {
			return false, nil
		}
		updateTrackingTags(s, m.Tag, next)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

// ---------------------------------------------------------------------------
// imagestreamimages

// streamImageREST serves imagestreamimages: the images in the tag history
// of a stream, named <stream>@<digest> (or a unique prefix of the digest).
type streamImageREST struct{ b *backend }

var (
	_ rest.Storage              = (*streamImageREST)(nil)
	_ rest.Scoper               = (*streamImageREST)(nil)
	_ rest.SingularNameProvider = (*streamImageREST)(nil)
	_ rest.ShortNamesProvider   = (*streamImageREST)(nil)
	_ rest.Getter               = (*streamImageREST)(nil)
	_ rest.TableConvertor       = (*streamImageREST)(nil)
)

func (r *streamImageREST) New() runtime.Object     { return &imagev1.ImageStreamImage{} }
func (r *streamImageREST) Destroy()                {}
func (r *streamImageREST) NamespaceScoped() bool   { return true }
func (r *streamImageREST) GetSingularName() string { return "imagestreamimage" }
func (r *streamImageREST) ShortNames() []string    { return []string{"isimage"} }
func (r *streamImageREST) ConvertToTable(ctx context.Context, obj, opts runtime.Object) (*metav1.Table, error) {
	return rest.NewDefaultTableConvertor(streamImageResource).ConvertToTable(ctx, obj, opts)
}

// splitStreamImage splits <stream>@<id>.
func splitStreamImage(name string) (stream, id string, ok bool) {
	parts := strings.Split(name, "@")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// Get returns the image of the stream's history matching the name's id.
func (r *streamImageREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	streamName, id, ok := splitStreamImage(name)
	if !ok || len(validateStreamName(streamName, false)) != 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("image stream image name %q must be <stream>@<image digest or unique digest prefix>", name))
	}
	ns, err := requestNamespace(ctx)
	if err != nil {
		return nil, err
	}
	s, err := r.b.getStream(ctx, streamName)
	if err != nil {
		return nil, err
	}
	imageName, err := resolveImageID(s, name, id)
	if err != nil {
		return nil, err
	}
	img, err := r.b.getImage(ctx, imageName)
	if err != nil {
		return nil, err
	}
	img = img.DeepCopy()
	img.DockerImageManifest, img.DockerImageConfig = "", ""
	return &imagev1.ImageStreamImage{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         ns,
			Name:              name,
			CreationTimestamp: img.CreationTimestamp,
			Annotations:       s.Annotations,
		},
		Image: *img,
	}, nil
}

// resolveImageID finds the one image of the stream's history whose name,
// or whose digest's hex part, starts with id.
func resolveImageID(s *imagev1.ImageStream, name, id string) (string, error) {
	matches := map[string]bool{}
	for _, l := range s.Status.Tags {
		for _, e := range l.Items {
			if e.Image == id {
				return e.Image, nil
			}
			hex := e.Image
			if i := strings.Index(hex, ":"); i >= 0 {
				hex = hex[i+1:]
			}
			if e.Image != "" && (strings.HasPrefix(e.Image, id) || strings.HasPrefix(hex, id)) {
				matches[e.Image] = true
			}
		}
	}
	switch len(matches) {
	case 0:
		return "", apierrors.NewNotFound(streamImageResource, name)
	case 1:
		for m := range matches {
			return m, nil
		}
	}
	list := make([]string, 0, len(matches))
	for m := range matches {
		list = append(list, m)
	}
	sort.Strings(list)
	return "", apierrors.NewConflict(streamImageResource, name, fmt.Errorf("%q matches several images of the stream: %s; give more of the digest", id, strings.Join(list, ", ")))
}
