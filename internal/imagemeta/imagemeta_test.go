package imagemeta

import (
	"bytes"
	"encoding/json"
	"strconv"
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

// dockerConfigJSON is the configuration of an image built by docker (fields as docker writes
// them), with the container it was committed from.
const dockerConfigJSON = `{
  "architecture": "amd64",
  "author": "ops@example.com",
  "container": "3f1a2b",
  "container_config": {"Hostname": "3f1a2b", "Cmd": ["/bin/sh", "-c", "#(nop) CMD [\"serve\"]"]},
  "created": "2024-05-01T10:00:00Z",
  "docker_version": "24.0.7",
  "os": "linux",
  "config": {
    "User": "1001",
    "Env": ["PATH=/usr/bin", "APP_ROOT=/opt/app"],
    "Entrypoint": ["/entry"],
    "Cmd": ["serve"],
    "WorkingDir": "/opt/app",
    "Labels": {"io.k8s.description": "demo"},
    "ExposedPorts": {"8080/tcp": {}},
    "Volumes": {"/data": {}},
    "StopSignal": "SIGTERM"
  },
  "rootfs": {"type": "layers", "diff_ids": ["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}
}`

func sha(b []byte) string {
	h, _, _ := ggcrv1.SHA256(bytes.NewReader(b))
	return h.String()
}

func TestDockerSchema2Fixture(t *testing.T) {
	config := []byte(dockerConfigJSON)
	layer := "sha256:" + strings.Repeat("a", 64)
	manifest := []byte(`{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": ` + strconv.Itoa(len(config)) + `, "digest": "` + sha(config) + `"},
  "layers": [
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100, "digest": "` + layer + `"},
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100, "digest": "` + layer + `"},
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 7, "digest": "sha256:` + strings.Repeat("b", 64) + `"}
  ]}`)
	img, err := Image(string(types.DockerManifestSchema2), manifest, config, "registry.example.com/app@"+sha(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != sha(manifest) || img.DockerImageManifestMediaType != string(types.DockerManifestSchema2) || img.DockerImageMetadataVersion != "1.0" {
		t.Errorf("image = %+v", img)
	}
	if len(img.DockerImageLayers) != 3 || img.DockerImageLayers[2].LayerSize != 7 || img.DockerImageLayers[0].MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
		t.Errorf("layers = %+v", img.DockerImageLayers)
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatal(err)
	}
	// The repeated layer is downloaded once.
	if want := int64(len(config)) + 100 + 7; meta.Size != want {
		t.Errorf("size = %d, want %d", meta.Size, want)
	}
	c := meta.Config
	if meta.ID != sha(config) || meta.Author != "ops@example.com" || meta.DockerVersion != "24.0.7" || meta.Container != "3f1a2b" ||
		meta.Created.UTC().Format("2006-01-02T15:04:05Z") != "2024-05-01T10:00:00Z" {
		t.Errorf("metadata = %+v", meta)
	}
	if c.User != "1001" || c.WorkingDir != "/opt/app" || len(c.Env) != 2 || c.Cmd[0] != "serve" || c.Labels["io.k8s.description"] != "demo" {
		t.Errorf("config = %+v", c)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("volumes = %v", c.Volumes)
	}
	if meta.ContainerConfig.Hostname != "3f1a2b" || len(meta.ContainerConfig.Cmd) != 3 {
		t.Errorf("container config = %+v", meta.ContainerConfig)
	}

	if _, err := Image(string(types.DockerManifestSchema2), manifest, nil, "x"); err == nil || !strings.Contains(err.Error(), "no image configuration") {
		t.Errorf("missing config: %v", err)
	}
	if _, err := Image(string(types.DockerManifestSchema2), manifest, []byte("{"), "x"); err == nil {
		t.Error("malformed config accepted")
	}
}

func TestDockerManifestListSkipsAttestations(t *testing.T) {
	list := []byte(`{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "manifests": [
  {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 528, "digest": "sha256:` + strings.Repeat("1", 64) + `", "platform": {"architecture": "amd64", "os": "linux"}},
  {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 529, "digest": "sha256:` + strings.Repeat("2", 64) + `", "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
  {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 566, "digest": "sha256:` + strings.Repeat("3", 64) + `", "platform": {"architecture": "unknown", "os": "unknown"}}
]}`)
	img, err := Image(string(types.DockerManifestList), list, nil, "r/x@"+sha(list))
	if err != nil {
		t.Fatal(err)
	}
	if len(img.DockerImageManifests) != 2 || img.DockerImageManifests[1].Variant != "v7" || img.DockerImageManifests[0].ManifestSize != 528 ||
		img.DockerImageManifests[0].MediaType != string(types.DockerManifestSchema2) || len(img.DockerImageMetadata.Raw) != 0 {
		t.Errorf("manifest list image = %+v", img)
	}
	if d, err := ConfigDigest(string(types.DockerManifestList), list); d != "" || err != nil {
		t.Errorf("config digest of a list = %q, %v", d, err)
	}
	if _, err := Image(string(types.OCIImageIndex), []byte("["), nil, "x"); err == nil {
		t.Error("malformed index accepted")
	}
	if _, err := ConfigDigest("text/plain", list); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("unknown media type: %v", err)
	}
}
