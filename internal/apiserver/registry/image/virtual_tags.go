package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
)

// tagREST serves imagestreamtags, named <stream>:<tag>: reads combine the
// spec tag, the newest status event and its image; writes change the spec
// tag (creating the stream when needed); deletes remove the spec and the
// status tag.
type tagREST struct{ b *backend }

var (
	_ rest.Storage              = (*tagREST)(nil)
	_ rest.Scoper               = (*tagREST)(nil)
	_ rest.SingularNameProvider = (*tagREST)(nil)
	_ rest.ShortNamesProvider   = (*tagREST)(nil)
	_ rest.Getter               = (*tagREST)(nil)
	_ rest.Lister               = (*tagREST)(nil)
	_ rest.Creater              = (*tagREST)(nil)
	_ rest.Updater              = (*tagREST)(nil)
	_ rest.GracefulDeleter      = (*tagREST)(nil)
	_ rest.TableConvertor       = (*tagREST)(nil)
)

func (r *tagREST) New() runtime.Object     { return &imagev1.ImageStreamTag{} }
func (r *tagREST) NewList() runtime.Object { return &imagev1.ImageStreamTagList{} }
func (r *tagREST) Destroy()                {}
func (r *tagREST) NamespaceScoped() bool   { return true }
func (r *tagREST) GetSingularName() string { return "imagestreamtag" }
func (r *tagREST) ShortNames() []string    { return []string{"istag"} }

// splitStreamTag splits <stream>:<tag>, both valid.
func splitStreamTag(name string) (stream, tag string, ok bool) {
	parts := strings.Split(name, ":")
	if len(parts) != 2 || len(validateStreamName(parts[0], false)) != 0 || !tagRE.MatchString(parts[1]) {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func badTagName(name string) error {
	return apierrors.NewBadRequest(fmt.Sprintf("image stream tag name %q must be <stream>:<tag>, with a valid stream name and tag", name))
}

// newISTag builds the image stream tag of tag from the stream and the image
// of its newest event (nil: only the image name is known). Without an event
// it is NotFound unless allowEmpty.
func newISTag(tag string, s *imagev1.ImageStream, img *imagev1.Image, allowEmpty bool) (*imagev1.ImageStreamTag, error) {
	name := s.Name + ":" + tag
	event := latestEvent(s, tag)
	if event == nil || event.Image == "" {
		if !allowEmpty {
			return nil, apierrors.NewNotFound(tagResource, name)
		}
		event = &imagev1.TagEvent{Created: s.CreationTimestamp}
	}
	ist := &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         s.Namespace,
			Name:              name,
			CreationTimestamp: event.Created,
			Annotations:       map[string]string{},
			Labels:            s.Labels,
			ResourceVersion:   s.ResourceVersion,
			UID:               s.UID,
		},
		Generation:   event.Generation,
		LookupPolicy: s.Spec.LookupPolicy,
	}
	if i := statusTagIndex(s, tag); i >= 0 {
		ist.Conditions = s.Status.Tags[i].Conditions
	}
	if img != nil {
		img = img.DeepCopy()
		img.DockerImageManifest, img.DockerImageConfig = "", ""
	}
	if i := specTagIndex(s, tag); i >= 0 {
		ref := s.Spec.Tags[i].DeepCopy()
		ist.Tag = ref
		// Spec tag annotations show on the tag and on its image.
		if img != nil && img.Annotations == nil && len(ref.Annotations) > 0 {
			img.Annotations = map[string]string{}
		}
		for k, v := range ref.Annotations {
			ist.Annotations[k] = v
			if img != nil {
				img.Annotations[k] = v
			}
		}
	}
	if img != nil {
		ist.Image = *img
	} else {
		ist.Image = imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: event.Image}}
	}
	ist.Image.DockerImageReference = resolveReference(s, tag, event)
	return ist, nil
}

// imageFor returns the image of the newest event of tag; nil (no error)
// when the tag has no image or the image object is gone.
func (b *backend) imageFor(ctx context.Context, s *imagev1.ImageStream, tag string) (*imagev1.Image, error) {
	event := latestEvent(s, tag)
	if event == nil || event.Image == "" {
		return nil, nil
	}
	img, err := b.getImage(ctx, event.Image)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return img, err
}

// Get returns the tag when it has an image in the stream's status.
func (r *tagREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	streamName, tag, ok := splitStreamTag(name)
	if !ok {
		return nil, badTagName(name)
	}
	s, err := r.b.getStream(ctx, streamName)
	if err != nil {
		return nil, err
	}
	if e := latestEvent(s, tag); e == nil || e.Image == "" {
		return nil, apierrors.NewNotFound(tagResource, name)
	}
	img, err := r.b.imageFor(ctx, s, tag)
	if err != nil {
		return nil, err
	}
	return newISTag(tag, s, img, false)
}

// List returns the status tags of the streams of the namespace (all
// namespaces without one), without image metadata, as OpenShift does.
// Labels select streams (a tag has its stream's labels); fields select
// metadata.name and metadata.namespace of the tags.
func (r *tagREST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	var streamOpts metainternalversion.ListOptions
	fieldSel := fields.Everything()
	if options != nil {
		streamOpts = *options
		if options.FieldSelector != nil {
			fieldSel = options.FieldSelector
		}
	}
	// Tags are not paged: a page of streams is not a page of tags.
	streamOpts.FieldSelector, streamOpts.Limit, streamOpts.Continue = nil, 0, ""
	obj, err := r.b.streams.List(ctx, &streamOpts)
	if err != nil {
		return nil, err
	}
	streams, ok := obj.(*imagev1.ImageStreamList)
	if !ok {
		return nil, fmt.Errorf("image stream storage listed %T", obj)
	}
	list := &imagev1.ImageStreamTagList{}
	list.ResourceVersion = streams.ResourceVersion
	for i := range streams.Items {
		s := &streams.Items[i]
		for _, l := range s.Status.Tags {
			ist, err := newISTag(l.Tag, s, nil, false)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if !fieldSel.Matches(fields.Set{"metadata.name": ist.Name, "metadata.namespace": ist.Namespace}) {
				continue
			}
			list.Items = append(list.Items, *ist)
		}
	}
	return list, nil
}

// prepareTagRef checks a tag reference written through an image stream
// tag and gives it its name, annotations and defaults.
func prepareTagRef(ist *imagev1.ImageStreamTag, tag string) (*imagev1.TagReference, field.ErrorList) {
	tagPath := field.NewPath("tag")
	if ist.Tag == nil {
		return nil, nil
	}
	ref := ist.Tag.DeepCopy()
	errs := field.ErrorList{}
	if ref.Name != "" && ref.Name != tag {
		errs = append(errs, field.Invalid(tagPath.Child("name"), ref.Name, fmt.Sprintf("must be empty or %q, the tag in the name", tag)))
	}
	if ref.Annotations != nil && !apiequality.Semantic.DeepEqual(ref.Annotations, ist.Annotations) {
		errs = append(errs, field.Invalid(tagPath.Child("annotations"), ref.Annotations, "must be unset or equal to metadata.annotations"))
	}
	ref.Name = tag
	ref.Annotations = nil
	if len(ist.Annotations) > 0 {
		ref.Annotations = ist.Annotations
	}
	if ref.Generation != nil && *ref.Generation != 0 {
		ref.Generation = nil // the stream storage manages it; 0 asks for a re-import
	}
	if ref.ReferencePolicy.Type == "" {
		ref.ReferencePolicy.Type = imagev1.SourceTagReferencePolicy
	}
	if ref.ImportPolicy.ImportMode == "" {
		ref.ImportPolicy.ImportMode = imagev1.ImportModeLegacy
	}
	errs = append(errs, validateTagReference(ref, tagPath)...)
	return ref, errs
}

// Create adds a spec tag, creating the stream when it does not exist.
// An existing spec tag is AlreadyExists.
func (r *tagREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	ist, ok := obj.(*imagev1.ImageStreamTag)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected an ImageStreamTag, got %T", obj))
	}
	ns, err := requestNamespace(ctx)
	if err != nil {
		return nil, err
	}
	if err := rest.EnsureObjectNamespaceMatchesRequestNamespace(ns, ist); err != nil {
		return nil, err
	}
	ist.Namespace = ns
	streamName, tag, ok := splitStreamTag(ist.Name)
	if !ok {
		return nil, apierrors.NewInvalid(kind("ImageStreamTag"), ist.Name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "name"), ist.Name, "must be <stream>:<tag>, with a valid image stream name and tag"),
		})
	}
	errs := field.ErrorList{}
	if ist.Tag == nil {
		errs = append(errs, field.Required(field.NewPath("tag"), "the spec tag to create (tag.from, tag.referencePolicy, ...) is required"))
	}
	ref, refErrs := prepareTagRef(ist, tag)
	if errs = append(errs, refErrs...); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kind("ImageStreamTag"), ist.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, ist.DeepCopyObject()); err != nil {
			return nil, err
		}
	}

	for attempt := 0; ; attempt++ {
		s, err := r.b.getStream(ctx, streamName)
		switch {
		case apierrors.IsNotFound(err):
			s = &imagev1.ImageStream{
				ObjectMeta: metav1.ObjectMeta{Name: streamName, Namespace: ns},
				Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{*ref}},
			}
			var created runtime.Object
			created, err = r.b.streams.Create(ctx, s, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) && attempt < 3 {
				continue // created meanwhile: add the tag to it
			}
			if err != nil {
				return nil, err
			}
			s, ok = created.(*imagev1.ImageStream)
			if !ok {
				return nil, fmt.Errorf("image stream storage returned %T", created)
			}
		case err != nil:
			return nil, err
		default:
			s, err = updateStream(ctx, r.b.streams, streamName, func(s *imagev1.ImageStream) (bool, error) {
				if specTagIndex(s, tag) >= 0 {
					return false, apierrors.NewAlreadyExists(tagResource, ist.Name)
				}
				s.Spec.Tags = append(s.Spec.Tags, *ref)
				return true, nil
			})
			if err != nil {
				return nil, err
			}
		}
		if s, err = r.b.trackTags(ctx, s); err != nil {
			return nil, err
		}
		img, err := r.b.imageFor(ctx, s, tag)
		if err != nil {
			return nil, err
		}
		return newISTag(tag, s, img, true)
	}
}

// Update sets the spec tag from the updated image stream tag (PUT and
// PATCH), creating the stream or the tag when missing. A resourceVersion
// given must be the stream's.
func (r *tagREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, _ *metav1.UpdateOptions) (runtime.Object, bool, error) {
	streamName, tag, ok := splitStreamTag(name)
	if !ok {
		return nil, false, badTagName(name)
	}
	ns, err := requestNamespace(ctx)
	if err != nil {
		return nil, false, err
	}
	streamMissing := false
	s, err := r.b.getStream(ctx, streamName)
	if apierrors.IsNotFound(err) {
		streamMissing = true
		s = &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: streamName, Namespace: ns}}
	} else if err != nil {
		return nil, false, err
	}
	tagExists := specTagIndex(s, tag) >= 0

	old, err := newISTag(tag, s, nil, true)
	if err != nil {
		return nil, false, err
	}
	if !tagExists {
		old.Generation = 0
	}
	obj, err := objInfo.UpdatedObject(ctx, old)
	if err != nil {
		return nil, false, err
	}
	ist, ok := obj.(*imagev1.ImageStreamTag)
	if !ok {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("expected an ImageStreamTag, got %T", obj))
	}
	wantRV := ist.ResourceVersion
	if wantRV != "" && streamMissing {
		return nil, false, apierrors.NewNotFound(tagResource, name)
	}
	if len(s.Labels) > 0 && len(ist.Labels) == 0 {
		ist.Labels = s.Labels // labels are the stream's; old clients omit them
	}
	errs := field.ErrorList{}
	if ist.Name != name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), ist.Name, fmt.Sprintf("must be %q, the name in the URL", name)))
	}
	ref, refErrs := prepareTagRef(ist, tag)
	if errs = append(errs, refErrs...); len(errs) > 0 {
		return nil, false, apierrors.NewInvalid(kind("ImageStreamTag"), name, errs)
	}
	if !tagExists && ref == nil {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("imagestreamtag %s is not a spec tag of image stream %s/%s and the update sets no tag: cannot be updated", tag, ns, streamName))
	}
	if tagExists {
		if updateValidation != nil {
			if err := updateValidation(ctx, ist.DeepCopyObject(), old.DeepCopyObject()); err != nil {
				return nil, false, err
			}
		}
	} else if createValidation != nil {
		if err := createValidation(ctx, ist.DeepCopyObject()); err != nil {
			return nil, false, err
		}
	}

	// apply sets the spec tag; without a tag in the body only the
	// annotations of the existing spec tag change.
	apply := func(s *imagev1.ImageStream) {
		i := specTagIndex(s, tag)
		next := ref
		if next == nil {
			if i < 0 {
				return
			}
			next = s.Spec.Tags[i].DeepCopy()
			next.Annotations = ist.Annotations
		}
		if i < 0 {
			s.Spec.Tags = append(s.Spec.Tags, *next)
			return
		}
		if next.Generation == nil {
			next.Generation = s.Spec.Tags[i].Generation
		}
		s.Spec.Tags[i] = *next
	}
	if streamMissing {
		apply(s)
		created, err := r.b.streams.Create(ctx, s, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if err != nil {
			return nil, false, err
		}
		if s, ok = created.(*imagev1.ImageStream); !ok {
			return nil, false, fmt.Errorf("image stream storage returned %T", created)
		}
	} else {
		s, err = updateStream(ctx, r.b.streams, streamName, func(s *imagev1.ImageStream) (bool, error) {
			if wantRV != "" && s.ResourceVersion != wantRV {
				return false, apierrors.NewConflict(tagResource, name, fmt.Errorf("the image stream has changed (resourceVersion %s, not %s): read the tag again and retry", s.ResourceVersion, wantRV))
			}
			apply(s)
			return true, nil
		})
		if err != nil {
			return nil, false, err
		}
	}
	if s, err = r.b.trackTags(ctx, s); err != nil {
		return nil, false, err
	}
	img, err := r.b.imageFor(ctx, s, tag)
	if err != nil {
		return nil, false, err
	}
	out, err := newISTag(tag, s, img, true)
	return out, !tagExists, err
}

// Delete removes the spec tag and the tag's history; the images stay.
func (r *tagREST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	streamName, tag, ok := splitStreamTag(name)
	if !ok {
		return nil, false, badTagName(name)
	}
	s, err := r.b.getStream(ctx, streamName)
	if err != nil {
		return nil, false, err
	}
	if options != nil && options.Preconditions != nil {
		pre := options.Preconditions
		if pre.UID != nil && *pre.UID != s.UID {
			return nil, false, apierrors.NewConflict(tagResource, name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, s.UID))
		}
		if pre.ResourceVersion != nil && *pre.ResourceVersion != s.ResourceVersion {
			return nil, false, apierrors.NewConflict(tagResource, name, fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *pre.ResourceVersion, s.ResourceVersion))
		}
	}
	inSpec, inStatus := specTagIndex(s, tag) >= 0, statusTagIndex(s, tag) >= 0
	if !inSpec && !inStatus {
		return nil, false, apierrors.NewNotFound(tagResource, name)
	}
	if deleteValidation != nil {
		ist, err := newISTag(tag, s, nil, true)
		if err != nil {
			return nil, false, err
		}
		if err := deleteValidation(ctx, ist); err != nil {
			return nil, false, err
		}
	}
	if inSpec {
		_, err := updateStream(ctx, r.b.streams, streamName, func(s *imagev1.ImageStream) (bool, error) {
			i := specTagIndex(s, tag)
			if i < 0 {
				return false, nil
			}
			s.Spec.Tags = append(s.Spec.Tags[:i], s.Spec.Tags[i+1:]...)
			return true, nil
		})
		if err != nil {
			return nil, false, err
		}
	}
	_, err = updateStream(ctx, r.b.status, streamName, func(s *imagev1.ImageStream) (bool, error) {
		i := statusTagIndex(s, tag)
		if i < 0 {
			return false, nil
		}
		s.Status.Tags = append(s.Status.Tags[:i], s.Status.Tags[i+1:]...)
		return true, nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, false, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, true, nil
}

var tagColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "<stream>:<tag>."},
	{Name: "Image Reference", Type: "string", Description: "Pull spec of the image the tag points to."},
	{Name: "Updated", Type: "string", Description: "Time since the tag last changed."},
}

// ConvertToTable prints NAME, IMAGE REFERENCE and UPDATED, as oc does.
func (r *tagREST) ConvertToTable(_ context.Context, obj, tableOptions runtime.Object) (*metav1.Table, error) {
	return tagTable(obj, tableOptions, time.Now())
}

func tagTable(obj, tableOptions runtime.Object, now time.Time) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = tagColumns
	}
	row := func(ist *imagev1.ImageStreamTag) metav1.TableRow {
		updated := ""
		if !ist.CreationTimestamp.IsZero() {
			updated = duration.HumanDuration(now.Sub(ist.CreationTimestamp.Time)) + " ago"
		}
		return metav1.TableRow{
			Cells:  []interface{}{ist.Name, ist.Image.DockerImageReference, updated},
			Object: runtime.RawExtension{Object: ist},
		}
	}
	switch t := obj.(type) {
	case *imagev1.ImageStreamTag:
		table.ResourceVersion = t.ResourceVersion
		table.Rows = []metav1.TableRow{row(t)}
	case *imagev1.ImageStreamTagList:
		table.ResourceVersion = t.ResourceVersion
		table.Continue = t.Continue
		for i := range t.Items {
			table.Rows = append(table.Rows, row(&t.Items[i]))
		}
	default:
		return nil, fmt.Errorf("cannot print %T as image stream tags", obj)
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.RemainingItemCount = m.GetRemainingItemCount()
	}
	return table, nil
}
