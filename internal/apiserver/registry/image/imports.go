package image

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	imagev1 "github.com/openshift/api/image/v1"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"

	"github.com/gantry-dev/gantry/internal/imageimport"
)

// imagestreamimports (create only) imports images from other registries, as OpenShift's
// imagestreamimport REST does: spec.images (one image each, optionally tagged into the stream
// with `to`) and spec.repository (the most relevant tags of a repository). The answer's status
// has one entry per image, with the Image or a failure (Forbidden for a refused registry,
// Unauthorized, NotFound, ...); the failure of one image fails only its entry and becomes a
// condition of its tag. With spec.import=false (or a server-side dry run) nothing is stored. With
// spec.import=true the stream is created when missing (lookupPolicy.local), each imported tag gets
// its spec tag (from, importPolicy, referencePolicy) and a status event with the spec tag's
// generation, and the Images are created; that needs the right to create or update the stream.

// MaxImportImages bounds spec.images of one import.
const MaxImportImages = 50

var importResource = imagev1.Resource("imagestreamimports")

// Importer fetches the images of an import (imageimport.Importer).
type Importer interface {
	Import(ctx context.Context, isi *imagev1.ImageStreamImport, stream *imagev1.ImageStream, kc authn.Keychain)
}

// SecretsFunc reads the docker-registry secrets of a namespace.
type SecretsFunc func(ctx context.Context, namespace string) ([]corev1.Secret, error)

// ImportOptions configures NewImportsREST.
type ImportOptions struct {
	// AllowedRegistries is the administrator's allow-list (--allowed-registries-for-import).
	AllowedRegistries []string
	// InternalRegistryHostname and ExternalRegistryHostname name the integrated registry,
	// which imports may not reach unless allowed.
	InternalRegistryHostname string
	ExternalRegistryHostname string
}

// NewImportsREST returns the imagestreamimports storage of the API server: imports fetch with
// an imageimport.Importer built from opts (an error for a malformed allow-list) and the
// credentials of the namespace's docker-registry secrets, read with kube.
func NewImportsREST(streams Store, streamStatus StatusStore, images Store, authz authorizer.Authorizer, kube kubernetes.Interface, opts ImportOptions) (rest.Storage, error) {
	im, err := imageimport.New(imageimport.Options{
		AllowedRegistries:    opts.AllowedRegistries,
		IntegratedRegistries: []string{opts.InternalRegistryHostname, opts.ExternalRegistryHostname},
	})
	if err != nil {
		return nil, err
	}
	var secrets SecretsFunc
	if kube != nil {
		secrets = KubeSecrets(kube)
	}
	return NewImportREST(streams, streamStatus, images, authz, im, secrets), nil
}

// NewImportREST returns imagestreamimports storage fetching with importer and the credentials
// secrets returns (nil: anonymous only).
func NewImportREST(streams Store, streamStatus StatusStore, images Store, authz authorizer.Authorizer, importer Importer, secrets SecretsFunc) rest.Storage {
	return &importREST{
		b:        &backend{streams: streams, status: streamStatus, images: images, now: time.Now, authz: authz},
		importer: importer,
		secrets:  secrets,
	}
}

// KubeSecrets reads the kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg secrets of a
// namespace.
func KubeSecrets(kube kubernetes.Interface) SecretsFunc {
	return func(ctx context.Context, ns string) ([]corev1.Secret, error) {
		var out []corev1.Secret
		for _, t := range []corev1.SecretType{corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg} {
			l, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("type", string(t)).String()})
			if err != nil {
				return nil, fmt.Errorf("read the docker-registry secrets of project %s: %w", ns, err)
			}
			out = append(out, l.Items...)
		}
		return out, nil
	}
}

type importREST struct {
	b        *backend
	importer Importer
	secrets  SecretsFunc
}

var (
	_ rest.Storage              = (*importREST)(nil)
	_ rest.Scoper               = (*importREST)(nil)
	_ rest.SingularNameProvider = (*importREST)(nil)
	_ rest.Creater              = (*importREST)(nil)
	_ rest.TableConvertor       = (*importREST)(nil)
)

func (r *importREST) New() runtime.Object     { return &imagev1.ImageStreamImport{} }
func (r *importREST) Destroy()                {}
func (r *importREST) NamespaceScoped() bool   { return true }
func (r *importREST) GetSingularName() string { return "imagestreamimport" }
func (r *importREST) ConvertToTable(ctx context.Context, obj, opts runtime.Object) (*metav1.Table, error) {
	return rest.NewDefaultTableConvertor(importResource).ConvertToTable(ctx, obj, opts)
}

// defaultImport fills the import modes OpenShift defaults.
func defaultImport(isi *imagev1.ImageStreamImport) {
	for i := range isi.Spec.Images {
		if isi.Spec.Images[i].ImportPolicy.ImportMode == "" {
			isi.Spec.Images[i].ImportPolicy.ImportMode = imagev1.ImportModeLegacy
		}
	}
	if r := isi.Spec.Repository; r != nil && r.ImportPolicy.ImportMode == "" {
		r.ImportPolicy.ImportMode = imagev1.ImportModeLegacy
	}
}

func validateImportPolicies(pol imagev1.TagImportPolicy, ref imagev1.TagReferencePolicy, p *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	switch pol.ImportMode {
	case imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal:
	default:
		errs = append(errs, field.NotSupported(p.Child("importPolicy", "importMode"), pol.ImportMode, importModes))
	}
	switch ref.Type {
	case "", imagev1.SourceTagReferencePolicy, imagev1.LocalTagReferencePolicy:
	default:
		errs = append(errs, field.NotSupported(p.Child("referencePolicy", "type"), ref.Type, referencePolicy))
	}
	return errs
}

func validateDockerFrom(from corev1.ObjectReference, p *field.Path, repository bool) field.ErrorList {
	if from.Kind != "DockerImage" {
		return field.ErrorList{field.NotSupported(p.Child("kind"), from.Kind, []string{"DockerImage"})}
	}
	if from.Name == "" {
		return field.ErrorList{field.Required(p.Child("name"), "a pull spec such as registry.example.com/team/app:1 is required")}
	}
	ref, err := imageref.Parse(from.Name)
	if err != nil {
		return field.ErrorList{field.Invalid(p.Child("name"), from.Name, fmt.Sprintf("must be an image pull spec such as registry.example.com/team/app:1: %v", err))}
	}
	if repository && (ref.Tag != "" || ref.ID != "") {
		return field.ErrorList{field.Invalid(p.Child("name"), from.Name, "must name a repository without tag or digest, such as registry.example.com/team/app: its tags are imported")}
	}
	return nil
}

func validateImport(isi *imagev1.ImageStreamImport) field.ErrorList {
	errs := nameErrors(isi.Name, validateStreamName, field.NewPath("metadata", "name"))
	spec := field.NewPath("spec")
	if len(isi.Spec.Images) == 0 && isi.Spec.Repository == nil {
		errs = append(errs, field.Required(spec.Child("images"), "give spec.images (images to import) or spec.repository (a repository whose tags to import)"))
	}
	if len(isi.Spec.Images) > MaxImportImages {
		errs = append(errs, field.TooMany(spec.Child("images"), len(isi.Spec.Images), MaxImportImages))
	}
	tags := map[string]bool{}
	for i, im := range isi.Spec.Images {
		p := spec.Child("images").Index(i)
		errs = append(errs, validateDockerFrom(im.From, p.Child("from"), false)...)
		errs = append(errs, validateImportPolicies(im.ImportPolicy, im.ReferencePolicy, p)...)
		if im.To != nil {
			errs = append(errs, validateTagName(im.To.Name, p.Child("to", "name"))...)
			if tags[im.To.Name] {
				errs = append(errs, field.Duplicate(p.Child("to", "name"), im.To.Name))
			}
			tags[im.To.Name] = true
		}
	}
	if r := isi.Spec.Repository; r != nil {
		p := spec.Child("repository")
		errs = append(errs, validateDockerFrom(r.From, p.Child("from"), true)...)
		errs = append(errs, validateImportPolicies(r.ImportPolicy, r.ReferencePolicy, p)...)
	}
	return errs
}

// Create imports the images and, with spec.import=true, records them in the stream.
func (r *importREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	isi, ok := obj.(*imagev1.ImageStreamImport)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected an ImageStreamImport, got %T", obj))
	}
	ns, err := requestNamespace(ctx)
	if err != nil {
		return nil, err
	}
	if err := rest.EnsureObjectNamespaceMatchesRequestNamespace(ns, isi); err != nil {
		return nil, err
	}
	isi.Namespace = ns
	defaultImport(isi)
	if errs := validateImport(isi); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kind("ImageStreamImport"), isi.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, isi.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	wantRV, wantUID := isi.ResourceVersion, isi.UID
	store := isi.Spec.Import && (options == nil || len(options.DryRun) == 0)

	stream, err := r.b.getStream(ctx, isi.Name)
	switch {
	case apierrors.IsNotFound(err):
		if wantRV != "" || wantUID != "" {
			return nil, apierrors.NewNotFound(imagev1.Resource("imagestreams"), isi.Name)
		}
		stream = nil
	case err != nil:
		return nil, err
	case wantUID != "" && wantUID != stream.UID:
		return nil, apierrors.NewNotFound(imagev1.Resource("imagestreams"), isi.Name)
	case wantRV != "" && wantRV != stream.ResourceVersion:
		return nil, apierrors.NewConflict(imagev1.Resource("imagestreams"), isi.Name,
			fmt.Errorf("the image stream changed (resourceVersion %s, not %s): read it again and retry", stream.ResourceVersion, wantRV))
	}
	if store {
		if err := r.mayWrite(ctx, ns, isi.Name, stream != nil); err != nil {
			return nil, err
		}
	}

	isi.ResourceVersion, isi.UID = "", ""
	isi.CreationTimestamp = metav1.NewTime(r.b.now())
	var kc authn.Keychain
	if r.secrets != nil {
		kc = imageimport.LazyKeychain(func() ([]corev1.Secret, error) { return r.secrets(ctx, ns) })
	}
	r.importer.Import(ctx, isi, stream, kc)
	if !store {
		clearManifests(isi)
		return isi, nil
	}
	final, err := r.record(ctx, isi, stream, wantRV)
	if err != nil {
		return nil, err
	}
	isi.Status.Import = final
	clearManifests(isi)
	return isi, nil
}

// mayWrite checks that the user may write the stream an import records into.
func (r *importREST) mayWrite(ctx context.Context, ns, name string, exists bool) error {
	verb, target := "create", ""
	if exists {
		verb, target = "update", name
	}
	u, ok := request.UserFrom(ctx)
	if !ok || r.b.authz == nil {
		return apierrors.NewForbidden(imagev1.Resource("imagestreams"), name, fmt.Errorf("no user to check the right to %s image streams with", verb))
	}
	decision, _, err := r.b.authz.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: verb, Namespace: ns, APIGroup: imagev1.GroupName, Resource: "imagestreams",
		Name: target, ResourceRequest: true,
	})
	if err != nil && decision != authorizer.DecisionAllow {
		return apierrors.NewInternalError(fmt.Errorf("check the right to %s image streams: %w", verb, err))
	}
	if decision != authorizer.DecisionAllow {
		return apierrors.NewForbidden(imagev1.Resource("imagestreams"), name, fmt.Errorf(
			"%s may not %s image streams in project %s, which an import with spec.import=true does: ask the project's admin for the edit role, or import with spec.import=false to only look at the images",
			u.GetName(), verb, ns))
	}
	return nil
}

// sameImportPolicy compares import policies, an unset import mode being Legacy.
func sameImportPolicy(a, b imagev1.TagImportPolicy) bool {
	mode := func(m imagev1.ImportModeType) imagev1.ImportModeType {
		if m == "" {
			return imagev1.ImportModeLegacy
		}
		return m
	}
	return a.Insecure == b.Insecure && a.Scheduled == b.Scheduled && mode(a.ImportMode) == mode(b.ImportMode)
}

// outcome is what an import means for one tag of the stream.
type outcome struct {
	tag       string
	from      string
	policy    imagev1.TagImportPolicy
	refPolicy imagev1.TagReferencePolicy
	status    *imagev1.ImageImportStatus
}

func (o outcome) ok() bool {
	return o.status.Image != nil && o.status.Status.Status == metav1.StatusSuccess
}

// outcomes lists the tags an import writes: the spec images with a `to`, and the tags of a
// repository import (whose spec tags then import <repository>:<tag>).
func outcomes(isi *imagev1.ImageStreamImport) []outcome {
	var out []outcome
	if r := isi.Spec.Repository; r != nil && isi.Status.Repository != nil {
		repo, _ := imageref.Parse(r.From.Name)
		for i := range isi.Status.Repository.Images {
			st := &isi.Status.Repository.Images[i]
			if st.Tag == "" {
				continue
			}
			from := repo
			from.Tag, from.ID = st.Tag, ""
			out = append(out, outcome{tag: st.Tag, from: from.Exact(), policy: r.ImportPolicy, refPolicy: r.ReferencePolicy, status: st})
		}
	}
	for i, im := range isi.Spec.Images {
		if im.To == nil || i >= len(isi.Status.Images) {
			continue
		}
		out = append(out, outcome{tag: im.To.Name, from: im.From.Name, policy: im.ImportPolicy, refPolicy: im.ReferencePolicy, status: &isi.Status.Images[i]})
	}
	return out
}

// record creates the imported Images, then writes the spec tags and the tag history.
// wantRV, when set, is the stream version the import was made for: if the stream changed while
// the images were fetched (a tag deleted, say), nothing is written and the caller gets a conflict,
// so an import never brings back what a user removed meanwhile.
func (r *importREST) record(ctx context.Context, isi *imagev1.ImageStreamImport, stream *imagev1.ImageStream, wantRV string) (*imagev1.ImageStream, error) {
	all := outcomes(isi)
	r.createImages(ctx, all)
	now := metav1.NewTime(r.b.now())

	ensureSpec := func(s *imagev1.ImageStream) bool {
		changed := false
		for _, o := range all {
			i := specTagIndex(s, o.tag)
			from := &corev1.ObjectReference{Kind: "DockerImage", Name: o.from}
			if i < 0 {
				ref := imagev1.TagReference{Name: o.tag, From: from, ImportPolicy: o.policy, ReferencePolicy: o.refPolicy}
				if ref.ReferencePolicy.Type == "" {
					ref.ReferencePolicy.Type = imagev1.SourceTagReferencePolicy
				}
				s.Spec.Tags = append(s.Spec.Tags, ref)
				changed = true
				continue
			}
			if !o.ok() {
				continue // a failed import leaves an existing spec tag alone
			}
			t := &s.Spec.Tags[i]
			if t.From == nil || t.From.Kind != "DockerImage" || t.From.Name != o.from || t.From.Namespace != "" {
				t.From = from
				changed = true
			}
			if !sameImportPolicy(t.ImportPolicy, o.policy) {
				t.ImportPolicy = o.policy
				changed = true
			}
			if o.refPolicy.Type != "" && t.ReferencePolicy.Type != o.refPolicy.Type {
				t.ReferencePolicy = o.refPolicy
				changed = true
			}
		}
		if isi.Spec.Repository != nil {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] = now.UTC().Format(time.RFC3339)
			changed = true
		}
		return changed
	}

	var err error
	created := false
	if stream == nil {
		s := &imagev1.ImageStream{
			ObjectMeta: metav1.ObjectMeta{Name: isi.Name, Namespace: isi.Namespace,
				Annotations: map[string]string{imagev1.DockerImageRepositoryCheckAnnotation: now.UTC().Format(time.RFC3339)}},
			Spec: imagev1.ImageStreamSpec{LookupPolicy: imagev1.ImageLookupPolicy{Local: true}},
		}
		ensureSpec(s)
		var obj runtime.Object
		obj, err = r.b.streams.Create(ctx, s, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		switch {
		case err == nil:
			stream, created = obj.(*imagev1.ImageStream), true
		case !apierrors.IsAlreadyExists(err):
			return nil, err
		}
	}
	if !created { // created meanwhile, or existing: add the tags to it
		stream, err = updateStream(ctx, r.b.streams, isi.Name, func(s *imagev1.ImageStream) (bool, error) {
			if wantRV != "" && s.ResourceVersion != wantRV {
				return false, apierrors.NewConflict(imagev1.Resource("imagestreams"), isi.Name,
					fmt.Errorf("the image stream changed during the import (resourceVersion %s, not %s): read it again and retry", s.ResourceVersion, wantRV))
			}
			return ensureSpec(s), nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(all) == 0 {
		return stream, nil
	}
	return updateStream(ctx, r.b.status, isi.Name, func(s *imagev1.ImageStream) (bool, error) {
		changed := false
		for _, o := range all {
			gen := s.Generation
			if i := specTagIndex(s, o.tag); i >= 0 && s.Spec.Tags[i].Generation != nil {
				gen = *s.Spec.Tags[i].Generation
			}
			if o.ok() {
				ev := imagev1.TagEvent{Created: now, DockerImageReference: o.status.Image.DockerImageReference, Image: o.status.Image.Name, Generation: gen}
				if addTagEvent(s, o.tag, ev) {
					updateTrackingTags(s, o.tag, ev)
					changed = true
				}
				if i := statusTagIndex(s, o.tag); i >= 0 && len(s.Status.Tags[i].Conditions) > 0 {
					s.Status.Tags[i].Conditions = nil
					changed = true
				}
				continue
			}
			cond := imagev1.TagEventCondition{
				Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: string(o.status.Status.Reason),
				Message: o.status.Status.Message, Generation: gen, LastTransitionTime: now,
			}
			if cond.Message == "" {
				cond.Message = "the import failed for an unknown reason: try again"
			}
			i := statusTagIndex(s, o.tag)
			if i < 0 {
				s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: o.tag})
				i = len(s.Status.Tags) - 1
			}
			l := &s.Status.Tags[i]
			if len(l.Conditions) == 1 {
				c := l.Conditions[0]
				if c.Type == cond.Type && c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message && c.Generation == cond.Generation {
					continue
				}
			}
			l.Conditions = []imagev1.TagEventCondition{cond}
			changed = true
		}
		return changed, nil
	})
}

// createImages stores the imported Images (an index's images before the index). An image that
// cannot be stored fails its tags.
func (r *importREST) createImages(ctx context.Context, all []outcome) {
	done := map[string]error{}
	create := func(img *imagev1.Image) error {
		if err, ok := done[img.Name]; ok {
			return err
		}
		obj := img.DeepCopy()
		// The manifest and configuration stay in their registry; etcd keeps the metadata.
		obj.DockerImageManifest, obj.DockerImageConfig = "", ""
		obj.ResourceVersion, obj.UID, obj.Namespace = "", "", ""
		_, err := r.b.images.Create(request.WithNamespace(ctx, ""), obj, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
		done[img.Name] = err
		return err
	}
	fail := func(st *imagev1.ImageImportStatus, name string, err error) {
		st.Status = metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
			Message: fmt.Sprintf("the image %s was fetched but could not be stored: %v", name, err)}
		st.Image, st.Manifests = nil, nil
	}
	for _, o := range all {
		if !o.ok() {
			continue
		}
		var err error
		for i := range o.status.Manifests {
			if err = create(&o.status.Manifests[i]); err != nil {
				fail(o.status, o.status.Manifests[i].Name, err)
				break
			}
		}
		if err == nil {
			if err := create(o.status.Image); err != nil {
				fail(o.status, o.status.Image.Name, err)
			}
		}
	}
}

// clearManifests drops the raw manifests and configurations the caller did not ask for.
func clearManifests(isi *imagev1.ImageStreamImport) {
	clear := func(st *imagev1.ImageImportStatus) {
		if st.Image != nil {
			st.Image.DockerImageManifest, st.Image.DockerImageConfig = "", ""
		}
		for i := range st.Manifests {
			st.Manifests[i].DockerImageManifest, st.Manifests[i].DockerImageConfig = "", ""
		}
	}
	for i := range isi.Status.Images {
		if i >= len(isi.Spec.Images) || !isi.Spec.Images[i].IncludeManifest {
			clear(&isi.Status.Images[i])
		}
	}
	if isi.Status.Repository != nil && (isi.Spec.Repository == nil || !isi.Spec.Repository.IncludeManifest) {
		for i := range isi.Status.Repository.Images {
			clear(&isi.Status.Repository.Images[i])
		}
	}
}
