package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var digest = "sha256:" + strings.Repeat("ab", 32)

func TestGroup(t *testing.T) {
	t.Parallel()
	g := Group()
	if g.GroupVersion.String() != "image.openshift.io/v1" || len(g.Resources) != 2 {
		t.Fatalf("unexpected group %v with %d resources", g.GroupVersion, len(g.Resources))
	}
	img, is := g.Resources[0], g.Resources[1]
	if img.Resource != "images" || img.Namespaced || img.HasStatus {
		t.Errorf("unexpected images definition %+v", img)
	}
	if is.Resource != "imagestreams" || !is.Namespaced || !is.HasStatus || len(is.ShortNames) != 1 || is.ShortNames[0] != "is" || len(is.Categories) != 1 || is.Categories[0] != "all" {
		t.Errorf("unexpected imagestreams definition %+v", is)
	}
	s := runtime.NewScheme()
	if err := g.Install(s); err != nil {
		t.Fatal(err)
	}
}

func validImage() *imagev1.Image {
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digest},
		DockerImageReference: "registry.example.com/demo/app@" + digest,
		DockerImageLayers:    []imagev1.ImageLayer{{Name: "sha256:" + strings.Repeat("01", 32), LayerSize: 10, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}},
		Signatures: []imagev1.ImageSignature{{
			ObjectMeta: metav1.ObjectMeta{Name: digest + "@sig1"},
			Type:       "atomic",
			Content:    []byte("blob"),
		}},
	}
}

func TestValidateImageName(t *testing.T) {
	t.Parallel()
	for name, valid := range map[string]bool{
		digest:                               true,
		"sha512:" + strings.Repeat("f", 128): true,
		"latest":                             false,
		"sha256:xyz":                         false,
		"sha256:ab/cd":                       false,
		"..":                                 false,
	} {
		if got := validateImageName(name, false); (len(got) == 0) != valid {
			t.Errorf("validateImageName(%q) = %v, want valid=%v", name, got, valid)
		}
	}
}

func TestDefaultImage(t *testing.T) {
	t.Parallel()
	img := &imagev1.Image{}
	defaultImage(img)
	if img.DockerImageMetadataVersion != "1.0" {
		t.Errorf("dockerImageMetadataVersion = %q, want 1.0", img.DockerImageMetadataVersion)
	}
	img.DockerImageMetadataVersion = "pre012"
	defaultImage(img)
	if img.DockerImageMetadataVersion != "pre012" {
		t.Errorf("defaulting replaced a set version: %q", img.DockerImageMetadataVersion)
	}
}

func TestValidateImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*imagev1.Image)
		want   []string
	}{
		{name: "valid", mutate: func(*imagev1.Image) {}},
		{name: "valid manifest list", mutate: func(img *imagev1.Image) {
			img.DockerImageLayers = nil
			img.DockerImageManifests = []imagev1.ImageManifest{{Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json", Architecture: "amd64", OS: "linux"}}
		}},
		{name: "verified signature", mutate: func(img *imagev1.Image) {
			img.Signatures[0].Conditions = []imagev1.SignatureCondition{{Type: "Trusted", Status: "True"}, {Type: "ForImage", Status: "True"}}
			img.Signatures[0].ImageIdentity = "registry.example.com/demo/app"
		}},
		{name: "missing reference", mutate: func(img *imagev1.Image) { img.DockerImageReference = "" },
			want: []string{"FieldValueRequired dockerImageReference"}},
		{
			name: "many invalid fields",
			mutate: func(img *imagev1.Image) {
				img.DockerImageReference = "Not A Reference"
				img.DockerImageMetadataVersion = "2.0"
				img.DockerImageMetadata = runtime.RawExtension{Raw: []byte(`"text"`)}
				img.DockerImageLayers = []imagev1.ImageLayer{{LayerSize: -1}}
				img.DockerImageManifests = []imagev1.ImageManifest{{Digest: "nope", MediaType: "nope", ManifestSize: -1}}
				img.Signatures = []imagev1.ImageSignature{{
					ObjectMeta:    metav1.ObjectMeta{Name: "no-at-sign", Labels: map[string]string{"a": "b"}},
					Conditions:    []imagev1.SignatureCondition{{Type: "Trusted", Status: "Unknown"}},
					ImageIdentity: "id",
				}}
			},
			want: []string{
				"FieldValueInvalid dockerImageReference",
				"FieldValueNotSupported dockerImageMetadataVersion",
				"FieldValueInvalid dockerImageMetadata",
				"FieldValueRequired dockerImageLayers[0].name",
				"FieldValueInvalid dockerImageLayers[0].size",
				"FieldValueInvalid dockerImageLayers",
				"FieldValueInvalid dockerImageManifests[0].digest",
				"FieldValueInvalid dockerImageManifests[0].mediaType",
				"FieldValueRequired dockerImageManifests[0].architecture",
				"FieldValueRequired dockerImageManifests[0].os",
				"FieldValueInvalid dockerImageManifests[0].manifestSize",
				"FieldValueInvalid signatures[0].metadata.name",
				"FieldValueForbidden signatures[0].metadata.labels",
				"FieldValueRequired signatures[0].type",
				"FieldValueRequired signatures[0].content",
				"FieldValueInvalid signatures[0].conditions",
				"FieldValueInvalid signatures[0].imageIdentity",
			},
		},
	}
	d := images()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := validImage()
			tt.mutate(img)
			resourcetest.AssertErrors(t, d.Validate(context.Background(), img), tt.want)
		})
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestPrepareImageForUpdate(t *testing.T) {
	t.Parallel()
	config := `{"architecture":"amd64"}`
	manifest := `{"schemaVersion":2,"config":{"digest":"` + sha(config) + `"}}`

	old := validImage()
	old.Name = sha(manifest)
	old.DockerImageMetadata = runtime.RawExtension{Raw: []byte(`{"Size":1}`)}
	old.DockerImageMetadataVersion = "1.0"

	img := old.DeepCopy()
	img.DockerImageMetadata = runtime.RawExtension{Raw: []byte(`{"Size":2}`)}
	img.DockerImageLayers = nil
	img.DockerImageManifest = manifest
	img.DockerImageConfig = config
	prepareImageForUpdate(img, old)
	if string(img.DockerImageMetadata.Raw) != `{"Size":1}` || len(img.DockerImageLayers) != 1 {
		t.Errorf("update changed image metadata or layers: %s %v", img.DockerImageMetadata.Raw, img.DockerImageLayers)
	}
	if img.DockerImageManifest != manifest || img.DockerImageConfig != config {
		t.Errorf("update dropped a manifest and config that match the digest")
	}

	forged := old.DeepCopy()
	forged.DockerImageManifest = `{"schemaVersion":2}`
	forged.DockerImageConfig = `{}`
	prepareImageForUpdate(forged, old)
	if forged.DockerImageManifest != "" || forged.DockerImageConfig != "" {
		t.Errorf("update accepted a manifest or config that does not match: %q %q", forged.DockerImageManifest, forged.DockerImageConfig)
	}

	stored := img.DeepCopy()
	stored.Annotations = map[string]string{imagev1.ImageManifestBlobStoredAnnotation: "true"}
	prepareImageForCreate(stored)
	if stored.DockerImageManifest != "" || stored.DockerImageConfig != "" {
		t.Error("create kept manifest and config of an image whose blobs the registry stores")
	}
}

func TestImageRow(t *testing.T) {
	t.Parallel()
	d := images()
	resourcetest.AssertRow(t, d, validImage(), digest, "registry.example.com/demo/app@"+digest)
	if _, err := d.Row(&imagev1.ImageStream{}); err == nil {
		t.Error("Row accepted an image stream")
	}
}
