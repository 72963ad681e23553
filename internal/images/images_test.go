package images

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/gantry-dev/gantry/internal/registry"
)

// startRegistry runs an integrated registry on a free loopback port for the rest of the test
// and returns its address.
func startRegistry(t *testing.T) string {
	t.Helper()
	r, err := registry.New(registry.Config{Addr: "127.0.0.1:0", RootDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func() { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registry: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("registry stopped before ready: %v", err)
	}
	return r.Addr()
}

// pull fetches ref from a plain-HTTP registry and checks that the image is complete and
// matches its digests.
func pull(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	// validate reads layer blobs as gzip streams: let it check the manifest, the config and that
	// the layers exist, and check the uncompressed layer blobs here.
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Fatalf("validate %s: %v", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != len(m.Layers) || len(layers) != len(cf.RootFS.DiffIDs) {
		t.Fatalf("%s: %d layers, %d in the manifest, %d diff IDs", ref, len(layers), len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		digest, size, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s layer %d: %v", ref, i, err)
		}
		if want := m.Layers[i]; digest != want.Digest || size != want.Size || digest != cf.RootFS.DiffIDs[i] {
			t.Errorf("%s layer %d: blob %v of %d bytes; manifest says %v of %d bytes, diff ID %v",
				ref, i, digest, size, want.Digest, want.Size, cf.RootFS.DiffIDs[i])
		}
	}
	return img
}

// entry is what the tests check of a tar entry.
type entry struct {
	typeflag byte
	mode     int64
	content  string
}

// dirEntry is a directory entry as writeLayerTar writes it.
var dirEntry = entry{typeflag: tar.TypeDir, mode: 0o755}

// exeEntry is an executable file entry as writeLayerTar writes it.
func exeEntry(content []byte) entry {
	return entry{typeflag: tar.TypeReg, mode: 0o755, content: string(content)}
}

// checkImage checks that img is a one-layer linux/amd64 OCI image with an uncompressed layer,
// configured as want, whose layer holds exactly files (by tar entry name).
func checkImage(t *testing.T, img v1.Image, want v1.Config, files map[string]entry) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest media type %s, config media type %s", m.MediaType, m.Config.MediaType)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCIUncompressedLayer {
		t.Fatalf("layers: %+v", m.Layers)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !slices.Equal(cf.Config.Entrypoint, want.Entrypoint) || !slices.Equal(cf.Config.Cmd, want.Cmd) ||
		cf.Config.User != want.User || !maps.Equal(cf.Config.Labels, want.Labels) {
		t.Errorf("config: entrypoint %q, cmd %q, user %q, labels %v; want %q, %q, %q, %v",
			cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User, cf.Config.Labels,
			want.Entrypoint, want.Cmd, want.User, want.Labels)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if got := layerEntries(t, layers[0]); !maps.Equal(got, files) {
		t.Errorf("layer entries:\n%v\nwant:\n%v", got, files)
	}
}

// layerEntries reads layer's tar, checking that every entry has the fixed metadata
// writeLayerTar gives it.
func layerEntries(t *testing.T, layer v1.Layer) map[string]entry {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(time.Unix(0, 0)) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v, owner %d:%d (%q:%q); want the epoch and 0:0", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = entry{typeflag: h.Typeflag, mode: h.Mode, content: string(content)}
	}
}

// cachedTar returns the path of the only layer tar in cacheDir.
func cachedTar(t *testing.T, cacheDir string) string {
	t.Helper()
	tars, err := filepath.Glob(filepath.Join(cacheDir, cachePrefix+"*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tars) != 1 {
		t.Fatalf("cached tars: %q, want one", tars)
	}
	return tars[0]
}

func writeBinary(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestPublish(t *testing.T) {
	addr := startRegistry(t)
	bin := filepath.Join(t.TempDir(), "gantry")
	writeBinary(t, bin, "gantry binary, first build")
	cacheDir := filepath.Join(t.TempDir(), "cache") // created by Publish
	p := &Publisher{Registry: addr, CacheDir: cacheDir, Version: "v0.1.0", Binary: bin}

	refs, err := p.Publish(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := Refs{Pause: addr + "/gantry/pause:v0.1.0", Infra: addr + "/gantry/gantry:v0.1.0"}
	if refs != want {
		t.Fatalf("refs %+v, want %+v", refs, want)
	}
	pauseExe, err := pauseELF()
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, pull(t, refs.Pause), v1.Config{Entrypoint: []string{"/pause"}, User: "65535:65535"},
		map[string]entry{"pause": exeEntry(pauseExe)})
	infraFiles := func(content string) map[string]entry {
		return map[string]entry{"usr/": dirEntry, "usr/bin/": dirEntry, "usr/bin/gantry": exeEntry([]byte(content))}
	}
	checkImage(t, pull(t, refs.Infra), v1.Config{Entrypoint: []string{"/usr/bin/gantry"}}, infraFiles("gantry binary, first build"))

	// Publishing again with the same binary reuses the cached layer tar.
	tarPath := cachedTar(t, cacheDir)
	before, err := os.Stat(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(t.Context()); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(cachedTar(t, cacheDir))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Error("layer tar rewritten for an unchanged binary")
	}

	// A new binary gets a new layer, replacing the cached one.
	writeBinary(t, bin, "gantry binary, second build")
	if _, err := p.Publish(t.Context()); err != nil {
		t.Fatal(err)
	}
	if cachedTar(t, cacheDir) == tarPath {
		t.Error("layer tar not rebuilt for a changed binary")
	}
	checkImage(t, pull(t, refs.Infra), v1.Config{Entrypoint: []string{"/usr/bin/gantry"}}, infraFiles("gantry binary, second build"))
}

func TestPublishInvalid(t *testing.T) {
	addr := startRegistry(t)
	bin := filepath.Join(t.TempDir(), "gantry")
	writeBinary(t, bin, "gantry binary")
	for _, tc := range []struct {
		name    string
		p       Publisher
		wantErr string
	}{
		{"no registry", Publisher{CacheDir: t.TempDir(), Version: "v1", Binary: bin}, "publish images: no registry"},
		{"no version", Publisher{Registry: addr, CacheDir: t.TempDir(), Binary: bin}, "publish images: no version"},
		{"no cache dir", Publisher{Registry: addr, Version: "v1", Binary: bin}, "publish images: no cache directory"},
		{"invalid tag", Publisher{Registry: addr, CacheDir: t.TempDir(), Version: "v1+build", Binary: bin}, "push " + addr + "/gantry/pause:v1+build: "},
		{"missing binary", Publisher{Registry: addr, CacheDir: t.TempDir(), Version: "v1", Binary: filepath.Join(t.TempDir(), "none")}, "build infra image: stat binary: "},
		{"directory as binary", Publisher{Registry: addr, CacheDir: t.TempDir(), Version: "v1", Binary: t.TempDir()}, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.p.Publish(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Publish error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// The layer digest depends only on the binary's content: a binary touched, or cached in another
// directory, gives the same digest, and a binary rewritten in place gets a new one.
func TestBinaryLayerReproducible(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gantry")
	writeBinary(t, bin, "gantry binary")
	digest := func(cacheDir string) v1.Hash {
		t.Helper()
		l, err := (&Publisher{CacheDir: cacheDir, Binary: bin}).BinaryLayer()
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		// The digest is the one of the tar the layer serves.
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if got, _, err := v1.SHA256(rc); err != nil || got != d {
			t.Fatalf("layer blob hashes to %v (%v), digest says %v", got, err, d)
		}
		return d
	}

	cacheDir := t.TempDir()
	first := digest(cacheDir)
	tarPath := cachedTar(t, cacheDir)
	if other := digest(t.TempDir()); other != first {
		t.Errorf("digest in another cache dir %v, want %v", other, first)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(bin, future, future); err != nil {
		t.Fatal(err)
	}
	if touched := digest(cacheDir); touched != first {
		t.Errorf("digest after touch %v, want %v", touched, first)
	}
	if cachedTar(t, cacheDir) == tarPath {
		t.Error("layer tar not rebuilt for a touched binary")
	}

	// Content of the same size with the modification time set back, as cp -p would do, is
	// noticed too.
	writeBinary(t, bin, "GANTRY BINARY")
	if err := os.Chtimes(bin, future, future); err != nil {
		t.Fatal(err)
	}
	if changed := digest(cacheDir); changed == first {
		t.Error("same digest for a binary rewritten with the same size and modification time")
	}
}

// A truncated cached tar is detected and rebuilt.
func TestBinaryLayerCorruptCache(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gantry")
	writeBinary(t, bin, "gantry binary")
	p := &Publisher{CacheDir: t.TempDir(), Binary: bin}
	if _, err := p.BinaryLayer(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(cachedTar(t, p.CacheDir), 10); err != nil {
		t.Fatal(err)
	}
	l, err := p.BinaryLayer()
	if err != nil {
		t.Fatal(err)
	}
	if got := layerEntries(t, l); got["usr/bin/gantry"] != exeEntry([]byte("gantry binary")) {
		t.Errorf("layer entries after rebuild: %v", got)
	}
}

func TestImageSpecs(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gantry")
	writeBinary(t, bin, "gantry binary")
	p := &Publisher{CacheDir: t.TempDir(), Binary: bin}
	shared, err := p.BinaryLayer()
	if err != nil {
		t.Fatal(err)
	}
	sharedDigest, err := shared.Digest()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]entry{"usr/": dirEntry, "usr/bin/": dirEntry, "usr/bin/gantry": exeEntry([]byte("gantry binary"))}

	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"infra", Spec{}},
		{"router", Spec{Cmd: []string{"router", "--v=2"}, Labels: map[string]string{"io.gantry.component": "router"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := p.Image(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, img, v1.Config{Entrypoint: []string{BinaryPath}, Cmd: tc.spec.Cmd, Labels: tc.spec.Labels}, files)
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if d, err := layers[0].Digest(); err != nil || d != sharedDigest {
				t.Errorf("layer digest %v (%v), want the shared %v", d, err, sharedDigest)
			}
		})
	}
}

func TestFromBinary(t *testing.T) {
	addr := startRegistry(t)
	// The pause executable is a handy static binary.
	exe, err := pauseELF()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "server")
	if err := os.WriteFile(path, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := FromBinary(path, "--port", "8080")
	if err != nil {
		t.Fatal(err)
	}
	ref := addr + "/test/server:v1"
	if err := Push(t.Context(), img, ref, nil); err != nil {
		t.Fatal(err)
	}
	pulled := pull(t, ref)
	checkImage(t, pulled, v1.Config{Entrypoint: []string{"/server", "--port", "8080"}}, map[string]entry{"server": exeEntry(exe)})
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := pulled.Digest(); err != nil || got != want {
		t.Errorf("pulled digest %v (%v), pushed %v", got, err, want)
	}

	if _, err := FromBinary(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("FromBinary of a missing file succeeded")
	}
}

// Push uploads only the blobs the registry lacks, and names the reference in its errors.
func TestPush(t *testing.T) {
	addr := startRegistry(t)
	// Count blob upload sessions through a proxy in front of the registry.
	var mu sync.Mutex
	uploads := 0
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			mu.Lock()
			uploads++
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	proxied := srv.Listener.Addr().String()

	img, err := pauseImage()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref     string
		uploads int
	}{
		{proxied + "/a/b:1", 2}, // the layer and the config
		{proxied + "/a/b:1", 0},
		{proxied + "/a/b:2", 0},
	} {
		mu.Lock()
		uploads = 0
		mu.Unlock()
		if err := Push(t.Context(), img, tc.ref, nil); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if uploads != tc.uploads {
			t.Errorf("push %s: %d blob uploads, want %d", tc.ref, uploads, tc.uploads)
		}
		mu.Unlock()
	}

	const closed = "127.0.0.1:1/a/b:1"
	if err := Push(t.Context(), img, closed, nil); err == nil {
		t.Error("push to a closed port succeeded")
	} else if !strings.HasPrefix(err.Error(), "push "+closed+": ") {
		t.Errorf("error %q does not name the reference", err)
	}
}
