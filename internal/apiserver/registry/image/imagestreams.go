package image

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// MaxStreamNameLength is the longest image stream name.
const MaxStreamNameLength = 63

var (
	// streamNameRE is one component of a registry repository name, which
	// an image stream name becomes (<registry>/<namespace>/<name>).
	streamNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	// tagRE is a Docker tag.
	tagRE = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

	fromKinds       = []string{"DockerImage", "ImageStreamTag", "ImageStreamImage"}
	referencePolicy = []string{string(imagev1.SourceTagReferencePolicy), string(imagev1.LocalTagReferencePolicy)}
	importModes     = []string{string(imagev1.ImportModeLegacy), string(imagev1.ImportModePreserveOriginal)}
)

func imageStreams() resource.Definition {
	return resource.Definition{
		Resource:   "imagestreams",
		Singular:   "imagestream",
		Kind:       "ImageStream",
		ShortNames: []string{"is"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &imagev1.ImageStream{} },
		NewList:    func() runtime.Object { return &imagev1.ImageStreamList{} },

		ValidateName: validateStreamName,
		Default:      func(obj runtime.Object) { defaultImageStream(obj.(*imagev1.ImageStream)) },
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			prepareStreamForCreate(obj.(*imagev1.ImageStream))
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			prepareStreamForUpdate(obj.(*imagev1.ImageStream), old.(*imagev1.ImageStream))
		},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateStreamSpec(obj.(*imagev1.ImageStream))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateStreamSpec(obj.(*imagev1.ImageStream))
		},
		HasStatus: true,
		ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateStreamStatus(obj.(*imagev1.ImageStream))
		},

		Columns: streamColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			s, ok := obj.(*imagev1.ImageStream)
			if !ok {
				return nil, fmt.Errorf("expected *v1.ImageStream, got %T", obj)
			}
			return streamRow(s, time.Now()), nil
		},
		Fields: func(obj runtime.Object) fields.Set {
			s := obj.(*imagev1.ImageStream)
			return fields.Set{
				"spec.dockerImageRepository":   s.Spec.DockerImageRepository,
				"status.dockerImageRepository": s.Status.DockerImageRepository,
			}
		},
	}
}

// validateStreamName accepts path segments that are also one repository
// name component (lower case letters and digits separated by . _ or -), of
// at most 63 characters.
func validateStreamName(name string, prefix bool) []string {
	if errs := path.ValidatePathSegmentName(name, prefix); len(errs) != 0 {
		return errs
	}
	var errs []string
	// A generateName prefix may end with a separator: the suffix follows.
	check := name
	if prefix {
		check = strings.TrimRight(name, "._-")
	}
	if !streamNameRE.MatchString(check) {
		errs = append(errs, fmt.Sprintf("must consist of lower case letters and digits, separated by single '.', '_' or '-' (regex %q), as in 'ruby-27'", streamNameRE.String()))
	}
	if len(name) > MaxStreamNameLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", MaxStreamNameLength))
	}
	return errs
}

// defaultImageStream gives each spec tag a Source reference policy and the
// Legacy import mode, as OpenShift's defaulting does.
func defaultImageStream(s *imagev1.ImageStream) {
	for i := range s.Spec.Tags {
		t := &s.Spec.Tags[i]
		if t.ReferencePolicy.Type == "" {
			t.ReferencePolicy.Type = imagev1.SourceTagReferencePolicy
		}
		if t.ImportPolicy.ImportMode == "" {
			t.ImportPolicy.ImportMode = imagev1.ImportModeLegacy
		}
	}
}

// prepareStreamForCreate starts the stream at generation 1 and records that
// generation on every spec tag, so importers can tell which spec they saw.
func prepareStreamForCreate(s *imagev1.ImageStream) {
	s.Generation = 1
	for i := range s.Spec.Tags {
		s.Spec.Tags[i].Generation = int64Ptr(s.Generation)
	}
}

// prepareStreamForUpdate bumps the generation when the spec changes and
// keeps spec tag generations under the server's control: a client may only
// reset one to 0 (asking for a re-import); changed and new tags get the new
// generation.
func prepareStreamForUpdate(s, old *imagev1.ImageStream) {
	s.Generation = old.Generation
	oldTags := map[string]imagev1.TagReference{}
	for _, t := range old.Spec.Tags {
		oldTags[t.Name] = t
	}
	for i := range s.Spec.Tags {
		t := &s.Spec.Tags[i]
		if t.Generation != nil && *t.Generation == 0 {
			continue
		}
		if o, ok := oldTags[t.Name]; ok {
			t.Generation = o.Generation
		}
	}
	if !apiequality.Semantic.DeepEqual(s.Spec, old.Spec) || s.Generation == 0 {
		s.Generation = old.Generation + 1
	}
	for i := range s.Spec.Tags {
		t := &s.Spec.Tags[i]
		if o, ok := oldTags[t.Name]; !ok || tagRefChanged(o, *t, s.Namespace) {
			t.Generation = nil
		}
		if t.Generation == nil || *t.Generation == 0 {
			t.Generation = int64Ptr(s.Generation)
		}
	}
}

// tagRefChanged reports whether a spec tag points somewhere new.
func tagRefChanged(old, next imagev1.TagReference, namespace string) bool {
	if next.From == nil || (next.From.Kind == "" && next.From.Name == "") {
		return false
	}
	oldFrom := old.From
	if oldFrom == nil {
		oldFrom = &corev1.ObjectReference{}
	}
	orDefault := func(ns string) string {
		if ns == "" {
			return namespace
		}
		return ns
	}
	switch {
	case orDefault(oldFrom.Namespace) != orDefault(next.From.Namespace),
		oldFrom.Name != next.From.Name,
		old.Reference != next.Reference,
		old.ImportPolicy.ImportMode != next.ImportPolicy.ImportMode:
		return true
	}
	return old.Generation != nil && next.Generation != nil && *old.Generation != *next.Generation && *next.Generation == 0
}

func int64Ptr(v int64) *int64 { return &v }

func validateStreamSpec(s *imagev1.ImageStream) field.ErrorList {
	errs := field.ErrorList{}
	specPath := field.NewPath("spec")
	if repo := s.Spec.DockerImageRepository; repo != "" {
		errs = append(errs, validateRepository(repo, specPath.Child("dockerImageRepository"))...)
	}
	seen := map[string]bool{}
	for i := range s.Spec.Tags {
		t := &s.Spec.Tags[i]
		p := specPath.Child("tags").Index(i)
		if t.Name != "" && seen[t.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), t.Name))
		}
		seen[t.Name] = true
		errs = append(errs, validateTagReference(t, p)...)
	}
	return errs
}

// validateRepository checks spec.dockerImageRepository: a pull spec of a
// repository, without tag or digest.
func validateRepository(repo string, fldPath *field.Path) field.ErrorList {
	ref, err := imageref.Parse(repo)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath, repo, fmt.Sprintf("must be an image repository such as registry.example.com/ns/name: %v", err))}
	}
	errs := field.ErrorList{}
	if ref.Tag != "" {
		errs = append(errs, field.Invalid(fldPath, repo, "must name a repository without a tag (drop the :"+ref.Tag+"); tags go in spec.tags"))
	}
	if ref.ID != "" {
		errs = append(errs, field.Invalid(fldPath, repo, "must name a repository without a digest (drop the @"+ref.ID+")"))
	}
	return errs
}

func validateTagName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "a tag name such as \"latest\" is required")}
	}
	if !tagRE.MatchString(name) {
		return field.ErrorList{field.Invalid(fldPath, name, "must be a valid tag: a letter, digit or '_' followed by up to 127 letters, digits, '_', '.' or '-'")}
	}
	return nil
}

func validateTagReference(t *imagev1.TagReference, fldPath *field.Path) field.ErrorList {
	errs := validateTagName(t.Name, fldPath.Child("name"))
	if t.From != nil {
		errs = append(errs, validateFrom(t.From, fldPath.Child("from"))...)
		if t.ImportPolicy.Scheduled && t.From.Kind != "DockerImage" {
			errs = append(errs, field.Invalid(fldPath.Child("importPolicy", "scheduled"), true, "only tags from a DockerImage can be scheduled for periodic import"))
		}
	}
	switch t.ReferencePolicy.Type {
	case imagev1.SourceTagReferencePolicy, imagev1.LocalTagReferencePolicy:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("referencePolicy", "type"), t.ReferencePolicy.Type, referencePolicy))
	}
	switch t.ImportPolicy.ImportMode {
	case "", imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("importPolicy", "importMode"), t.ImportPolicy.ImportMode, importModes))
	}
	return errs
}

// validateFrom checks the source of a tag: a pull spec for DockerImage,
// <tag> or <stream>:<tag> for ImageStreamTag, and <id> or <stream>@<id>
// for ImageStreamImage (without a stream, the tag's own stream is meant).
func validateFrom(from *corev1.ObjectReference, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	namePath := fldPath.Child("name")
	if from.Namespace != "" {
		for _, msg := range apivalidation.ValidateNamespaceName(from.Namespace, false) {
			errs = append(errs, field.Invalid(fldPath.Child("namespace"), from.Namespace, msg))
		}
	}
	switch from.Kind {
	case "DockerImage":
		if from.Name == "" {
			return append(errs, field.Required(namePath, "a pull spec such as registry.example.com/ns/name:tag is required"))
		}
		if _, err := imageref.Parse(from.Name); err != nil {
			errs = append(errs, field.Invalid(namePath, from.Name, fmt.Sprintf("must be an image pull spec such as registry.example.com/ns/name:tag: %v", err)))
		}
	case "ImageStreamTag":
		errs = append(errs, validateStreamReference(from.Name, ":", "tag", namePath)...)
	case "ImageStreamImage":
		errs = append(errs, validateStreamReference(from.Name, "@", "id", namePath)...)
	case "":
		errs = append(errs, field.Required(fldPath.Child("kind"), "one of DockerImage, ImageStreamTag or ImageStreamImage is required"))
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("kind"), from.Kind, fromKinds))
	}
	return errs
}

// validateStreamReference checks <item> or <stream><sep><item>.
func validateStreamReference(name, sep, item string, fldPath *field.Path) field.ErrorList {
	form := fmt.Sprintf("<%s> or <stream>%s<%s>", item, sep, item)
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "a reference of the form "+form+" is required")}
	}
	parts := strings.Split(name, sep)
	var stream, value string
	switch len(parts) {
	case 1:
		value = parts[0]
	case 2:
		stream, value = parts[0], parts[1]
		if len(validateStreamName(stream, false)) != 0 {
			return field.ErrorList{field.Invalid(fldPath, name, fmt.Sprintf("must be %s, with a valid image stream name", form))}
		}
	default:
		return field.ErrorList{field.Invalid(fldPath, name, fmt.Sprintf("must be %s, with a single %q", form, sep))}
	}
	if value == "" {
		return field.ErrorList{field.Invalid(fldPath, name, fmt.Sprintf("must be %s, with a non-empty %s", form, item))}
	}
	if item == "tag" && !tagRE.MatchString(value) {
		return field.ErrorList{field.Invalid(fldPath, name, fmt.Sprintf("must be %s, with a valid tag", form))}
	}
	return nil
}

// validateStreamStatus checks status written through /status: unique valid
// tag names and pull specs on every history item.
func validateStreamStatus(s *imagev1.ImageStream) field.ErrorList {
	errs := field.ErrorList{}
	tagsPath := field.NewPath("status", "tags")
	seen := map[string]bool{}
	for i, tl := range s.Status.Tags {
		p := tagsPath.Index(i)
		errs = append(errs, validateTagName(tl.Tag, p.Child("tag"))...)
		if tl.Tag != "" && seen[tl.Tag] {
			errs = append(errs, field.Duplicate(p.Child("tag"), tl.Tag))
		}
		seen[tl.Tag] = true
		for j, item := range tl.Items {
			refPath := p.Child("items").Index(j).Child("dockerImageReference")
			if item.DockerImageReference == "" {
				errs = append(errs, field.Required(refPath, "the pull spec of the tagged image is required"))
			} else if _, err := imageref.Parse(item.DockerImageReference); err != nil {
				errs = append(errs, field.Invalid(refPath, item.DockerImageReference, fmt.Sprintf("must be an image pull spec: %v", err)))
			}
		}
	}
	return errs
}

var streamColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Image Repository", Type: "string", Description: "Pull spec of the stream's repository (the public one when there is one)."},
	{Name: "Tags", Type: "string", Description: "Tags with images, most recently updated first."},
	{Name: "Updated", Type: "string", Description: "Time since the most recent tag update."},
}

// maxListedTags is how many tags the TAGS column names before "+ N more...".
const maxListedTags = 3

func streamRow(s *imagev1.ImageStream, now time.Time) []interface{} {
	repo := s.Status.PublicDockerImageRepository
	if repo == "" {
		repo = s.Status.DockerImageRepository
	}
	tags, latest := sortedStatusTags(s.Status.Tags)
	shown := tags
	if len(shown) > maxListedTags {
		shown = shown[:maxListedTags]
	}
	tagCell := strings.Join(shown, ",")
	if hidden := len(tags) - len(shown); hidden > 0 {
		tagCell = fmt.Sprintf("%s + %d more...", tagCell, hidden)
	}
	updated := ""
	if !latest.IsZero() {
		updated = duration.HumanDuration(now.Sub(latest)) + " ago"
	}
	return []interface{}{s.Name, repo, tagCell, updated}
}

// sortedStatusTags returns the status tag names, most recently created
// first (ties by name), and the newest creation time.
func sortedStatusTags(lists []imagev1.NamedTagEventList) ([]string, time.Time) {
	type tag struct {
		name    string
		created time.Time
	}
	tags := make([]tag, 0, len(lists))
	var latest time.Time
	for _, l := range lists {
		t := tag{name: l.Tag}
		if len(l.Items) > 0 {
			t.created = l.Items[0].Created.Time
			if t.created.After(latest) {
				latest = t.created
			}
		}
		tags = append(tags, t)
	}
	sort.SliceStable(tags, func(i, j int) bool {
		ci, cj := tags[i].created.Truncate(time.Second), tags[j].created.Truncate(time.Second)
		if !ci.Equal(cj) {
			return ci.After(cj)
		}
		return tags[i].name < tags[j].name
	})
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.name
	}
	return names, latest
}
