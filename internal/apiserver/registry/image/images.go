package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// DefaultMetadataVersion is the version of dockerImageMetadata when unset.
const DefaultMetadataVersion = "1.0"

var (
	// metadataVersions are the dockerImageMetadata versions OpenShift knows.
	metadataVersions = []string{"1.0", "pre012"}

	// digestRE is an OCI content digest: algorithm ":" hex (at least 32 digits).
	digestRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
	// mediaTypeRE is an RFC 6838 media type.
	mediaTypeRE = regexp.MustCompile(`^ *([A-Za-z0-9][A-Za-z0-9!#$&^_-]{0,126})/([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}) *$`)
)

func images() resource.Definition {
	return resource.Definition{
		Resource: "images",
		Singular: "image",
		Kind:     "Image",
		New:      func() runtime.Object { return &imagev1.Image{} },
		NewList:  func() runtime.Object { return &imagev1.ImageList{} },

		ValidateName: validateImageName,
		Default:      func(obj runtime.Object) { defaultImage(obj.(*imagev1.Image)) },
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			prepareImageForCreate(obj.(*imagev1.Image))
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			prepareImageForUpdate(obj.(*imagev1.Image), old.(*imagev1.Image))
		},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateImage(obj.(*imagev1.Image))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateImage(obj.(*imagev1.Image))
		},

		Columns: imageColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			img, ok := obj.(*imagev1.Image)
			if !ok {
				return nil, fmt.Errorf("expected *v1.Image, got %T", obj)
			}
			return []interface{}{img.Name, img.DockerImageReference}, nil
		},
	}
}

// validateImageName accepts content digests such as sha256:<64 hex digits>,
// the names the registry and image imports give images.
func validateImageName(name string, prefix bool) []string {
	if errs := path.ValidatePathSegmentName(name, prefix); len(errs) != 0 {
		return errs
	}
	if !prefix && !digestRE.MatchString(name) {
		return []string{"must be the image's content digest, <algorithm>:<hex digits> such as sha256:<64 hex digits>"}
	}
	return nil
}

func defaultImage(img *imagev1.Image) {
	if img.DockerImageMetadataVersion == "" {
		img.DockerImageMetadataVersion = DefaultMetadataVersion
	}
}

func prepareImageForCreate(img *imagev1.Image) {
	dropStoredBlobs(img)
}

// prepareImageForUpdate keeps what the image content determines: metadata,
// layers and signatures blobs never change, and the manifest and config
// change only to content that matches the image digest (to repair an image
// stored with a malformed manifest, as OpenShift allows).
func prepareImageForUpdate(img, old *imagev1.Image) {
	img.DockerImageMetadata = old.DockerImageMetadata
	img.DockerImageMetadataVersion = old.DockerImageMetadataVersion
	img.DockerImageLayers = old.DockerImageLayers
	img.DockerImageSignatures = old.DockerImageSignatures
	if img.DockerImageManifest != old.DockerImageManifest && img.DockerImageManifest != "" && !contentMatches(old.Name, img.DockerImageManifest) {
		img.DockerImageManifest = old.DockerImageManifest
	}
	if img.DockerImageConfig != old.DockerImageConfig && img.DockerImageConfig != "" && !contentMatches(configDigest(img.DockerImageManifest), img.DockerImageConfig) {
		img.DockerImageConfig = old.DockerImageConfig
	}
	dropStoredBlobs(img)
}

// dropStoredBlobs clears the manifest and config of images whose blobs the
// registry stores itself, so etcd does not hold them twice.
func dropStoredBlobs(img *imagev1.Image) {
	if img.Annotations[imagev1.ImageManifestBlobStoredAnnotation] == "true" {
		img.DockerImageManifest = ""
		img.DockerImageConfig = ""
	}
}

// contentMatches reports whether content has the sha256 digest digest.
func contentMatches(digest, content string) bool {
	sum := sha256.Sum256([]byte(content))
	return strings.EqualFold(digest, "sha256:"+hex.EncodeToString(sum[:]))
}

// configDigest returns the config digest named by a schema 2 or OCI manifest.
func configDigest(manifest string) string {
	var m struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
	}
	if json.Unmarshal([]byte(manifest), &m) != nil {
		return ""
	}
	return m.Config.Digest
}

func validateImage(img *imagev1.Image) field.ErrorList {
	errs := field.ErrorList{}
	refPath := field.NewPath("dockerImageReference")
	if img.DockerImageReference == "" {
		errs = append(errs, field.Required(refPath, "the pull spec of the image, such as registry.example.com/ns/name@sha256:<digest>, is required"))
	} else if _, err := imageref.Parse(img.DockerImageReference); err != nil {
		errs = append(errs, field.Invalid(refPath, img.DockerImageReference, fmt.Sprintf("must be a valid image pull spec: %v", err)))
	}
	if v := img.DockerImageMetadataVersion; v != "" && v != metadataVersions[0] && v != metadataVersions[1] {
		errs = append(errs, field.NotSupported(field.NewPath("dockerImageMetadataVersion"), v, metadataVersions))
	}
	if len(img.DockerImageMetadata.Raw) > 0 && !isJSONObject(img.DockerImageMetadata.Raw) {
		errs = append(errs, field.Invalid(field.NewPath("dockerImageMetadata"), "<raw>", "must be a JSON object describing the image"))
	}
	errs = append(errs, validateLayers(img.DockerImageLayers, field.NewPath("dockerImageLayers"))...)
	errs = append(errs, validateManifests(img, field.NewPath("dockerImageManifests"))...)
	for i := range img.Signatures {
		errs = append(errs, validateSignature(&img.Signatures[i], field.NewPath("signatures").Index(i))...)
	}
	return errs
}

func isJSONObject(raw []byte) bool {
	var m map[string]interface{}
	return json.Unmarshal(raw, &m) == nil && m != nil
}

func validateLayers(layers []imagev1.ImageLayer, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	for i, l := range layers {
		p := fldPath.Index(i)
		if l.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), "the layer digest is required"))
		}
		if l.LayerSize < 0 {
			errs = append(errs, field.Invalid(p.Child("size"), l.LayerSize, "must not be negative"))
		}
	}
	return errs
}

// validateManifests checks the sub-manifests of a manifest list; an image
// is either a manifest list or a single manifest with layers, not both.
func validateManifests(img *imagev1.Image, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	if len(img.DockerImageManifests) > 0 && len(img.DockerImageLayers) > 0 {
		errs = append(errs, field.Invalid(field.NewPath("dockerImageLayers"), len(img.DockerImageLayers), "must be empty when dockerImageManifests is set: a manifest list has no layers of its own"))
	}
	for i, m := range img.DockerImageManifests {
		p := fldPath.Index(i)
		if !digestRE.MatchString(m.Digest) {
			errs = append(errs, field.Invalid(p.Child("digest"), m.Digest, "must be an OCI digest, <algorithm>:<hex digits> such as sha256:<64 hex digits>"))
		}
		if !mediaTypeRE.MatchString(m.MediaType) {
			errs = append(errs, field.Invalid(p.Child("mediaType"), m.MediaType, "must be a media type (RFC 6838), such as application/vnd.oci.image.manifest.v1+json"))
		}
		if m.Architecture == "" {
			errs = append(errs, field.Required(p.Child("architecture"), "the CPU architecture of the manifest, such as amd64, is required"))
		}
		if m.OS == "" {
			errs = append(errs, field.Required(p.Child("os"), "the operating system of the manifest, such as linux, is required"))
		}
		if m.ManifestSize < 0 {
			errs = append(errs, field.Invalid(p.Child("manifestSize"), m.ManifestSize, "must not be negative"))
		}
	}
	return errs
}

// Signature condition types (the internal OpenShift API names them; v1 does not).
const (
	signatureTrusted  = "Trusted"
	signatureForImage = "ForImage"
)

func validateSignature(sig *imagev1.ImageSignature, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	metaPath := fldPath.Child("metadata")
	errs = append(errs, validateSignatureName(sig.Name, metaPath.Child("name"))...)
	if len(sig.Labels) > 0 {
		errs = append(errs, field.Forbidden(metaPath.Child("labels"), "signatures may not have labels"))
	}
	if len(sig.Annotations) > 0 {
		errs = append(errs, field.Forbidden(metaPath.Child("annotations"), "signatures may not have annotations"))
	}
	if sig.Type == "" {
		errs = append(errs, field.Required(fldPath.Child("type"), "the signature type, such as atomic, is required"))
	}
	if len(sig.Content) == 0 {
		errs = append(errs, field.Required(fldPath.Child("content"), "the signature blob is required"))
	}

	var trusted, forImage *imagev1.SignatureCondition
	for i := range sig.Conditions {
		c := &sig.Conditions[i]
		switch c.Type {
		case signatureTrusted:
			if trusted == nil || !c.LastProbeTime.Before(&trusted.LastProbeTime) {
				trusted = c
			}
		case signatureForImage:
			if forImage == nil || !c.LastProbeTime.Before(&forImage.LastProbeTime) {
				forImage = c
			}
		}
	}
	condPath := fldPath.Child("conditions")
	switch {
	case trusted != nil && forImage == nil:
		errs = append(errs, field.Invalid(condPath, signatureTrusted, fmt.Sprintf("a %q condition needs a %q condition beside it", signatureTrusted, signatureForImage)))
	case forImage != nil && trusted == nil:
		errs = append(errs, field.Invalid(condPath, signatureForImage, fmt.Sprintf("a %q condition needs a %q condition beside it", signatureForImage, signatureTrusted)))
	}
	if trusted == nil || trusted.Status == "Unknown" {
		const msg = "must be unset until the signature is verified (no Trusted condition, or its status is Unknown)"
		if sig.ImageIdentity != "" {
			errs = append(errs, field.Invalid(fldPath.Child("imageIdentity"), sig.ImageIdentity, msg))
		}
		if len(sig.SignedClaims) != 0 {
			errs = append(errs, field.Invalid(fldPath.Child("signedClaims"), len(sig.SignedClaims), msg))
		}
		if sig.IssuedBy != nil {
			errs = append(errs, field.Invalid(fldPath.Child("issuedBy"), sig.IssuedBy, msg))
		}
		if sig.IssuedTo != nil {
			errs = append(errs, field.Invalid(fldPath.Child("issuedTo"), sig.IssuedTo, msg))
		}
	}
	return errs
}

// validateSignatureName checks the <image name>@<signature name> form.
func validateSignatureName(name string, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	for _, msg := range path.ValidatePathSegmentName(name, false) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	parts := strings.Split(name, "@")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		errs = append(errs, field.Invalid(fldPath, name, "must be <image name>@<signature name>, with exactly one @"))
	}
	return errs
}

var imageColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Image Reference", Type: "string", Description: "Pull spec of the image (dockerImageReference)."},
}
