package registry

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// A registry configured for S3 keeps its content in the bucket (here an S3 server on loopback,
// speaking the S3 protocol the driver uses): a push lands there, and a new registry on the same
// bucket serves it.
func TestS3Storage(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("images"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "storage.yaml")
	writeStorage(t, file, `s3:
  region: us-east-1
  bucket: images
  regionendpoint: `+srv.URL+`
  forcepathstyle: true
  secure: false
  accesskey: key
  secretkey: secret
  rootdirectory: /registry
`)
	st, err := LoadStorage(file)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := startConfig(t, Config{Addr: "127.0.0.1:0", Storage: st})
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	tag, _ := name.NewTag(addr+"/test/app:v1", name.Insecure)
	if err := remote.Write(tag, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push: %v", err)
	}
	objects, err := backend.ListBucket("images", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range objects.Contents {
		if strings.HasPrefix(o.Key, "registry/docker/registry/v2/blobs/sha256/") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no blob in the bucket after a push: %d objects", len(objects.Contents))
	}
	stop()
	addr, _ = startConfig(t, Config{Addr: "127.0.0.1:0", Storage: st})
	if got := pull(t, addr+"/test/app:v1"); got != want {
		t.Errorf("pull from a new registry on the bucket: %s, want %s", got, want)
	}
}

func writeStorage(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadStorageRefusals(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ yaml, want string }{
		"unknown driver":  {"gcs:\n  bucket: x\n", `unknown storage driver "gcs"`},
		"two drivers":     {"s3:\n  bucket: x\nfilesystem:\n  rootdirectory: /x\n", "exactly one storage type"},
		"gantry's option": {"filesystem:\n  rootdirectory: /x\nredirect:\n  disable: false\n", `"redirect" is set by Gantry`},
		"no driver":       {"{}\n", "names no driver"},
		"not yaml":        {"s3: [\n", "registry storage configuration"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "storage.yaml")
			writeStorage(t, file, c.yaml)
			_, err := LoadStorage(file)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("LoadStorage(%q) = %v, want an error saying %q", c.yaml, err, c.want)
			}
		})
	}
	if _, err := LoadStorage(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file was accepted")
	}
}
