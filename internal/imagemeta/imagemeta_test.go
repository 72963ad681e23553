package imagemeta

import (
	"encoding/json"
	"strings"
	"testing"

	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/openshift/api/image/docker10"
)

func TestImageFromManifest(t *testing.T) {
	img, err := random.Image(512, 3)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config.Env = []string{"A=1"}
	cf.Config.Entrypoint = []string{"/run"}
	cf.Config.Labels = map[string]string{"l": "v"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	img, _ = mutate.ConfigFile(img, cf)
	manifest, _ := img.RawManifest()
	config, _ := img.RawConfigFile()
	mt, _ := img.MediaType()
	dgst, _ := img.Digest()

	got, err := Image(string(mt), manifest, config, "r/ns/s@"+dgst.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != dgst.String() || got.DockerImageReference != "r/ns/s@"+dgst.String() || len(got.DockerImageLayers) != 3 {
		t.Fatalf("image = %+v", got)
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(got.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Architecture != "amd64" || meta.Config.Env[0] != "A=1" || meta.Config.Entrypoint[0] != "/run" || meta.Config.Labels["l"] != "v" {
		t.Errorf("metadata = %+v", meta)
	}
	if _, ok := meta.Config.ExposedPorts["8080/tcp"]; !ok || meta.Size <= 0 {
		t.Errorf("ports %v, size %d", meta.Config.ExposedPorts, meta.Size)
	}
	if cd, _ := ConfigDigest(string(mt), manifest); !strings.HasPrefix(cd, "sha256:") {
		t.Errorf("config digest %q", cd)
	}

	// A configuration that is not the manifest's is refused.
	if _, err := Image(string(mt), manifest, []byte(`{}`), "x"); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("foreign config: %v", err)
	}
	if _, err := Image("application/x-nope", manifest, config, "x"); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("unknown media type: %v", err)
	}
	if _, err := Image(string(types.OCIManifestSchema1), []byte("{"), config, "x"); err == nil {
		t.Error("malformed manifest accepted")
	}

	// An index: its platform images are recorded, a nested index without a platform is not.
	arm, _ := random.Image(64, 1)
	amd, _ := random.Image(64, 1)
	nested, _ := random.Index(64, 1, 1)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: ggcrv1.Descriptor{Platform: &ggcrv1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: ggcrv1.Descriptor{Platform: &ggcrv1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: nested})
	raw, _ := idx.RawManifest()
	imt, _ := idx.MediaType()
	ii, err := Image(string(imt), raw, nil, "x")
	if err != nil || len(ii.DockerImageManifests) != 2 || len(ii.DockerImageLayers) != 0 || ii.DockerImageManifests[1].Variant != "v8" {
		t.Errorf("index: %+v %v", ii, err)
	}
}
