package registry

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// start runs a registry on a free loopback port over root until the returned stop function is
// called (or the test ends), and returns its bound address once it is ready.
func start(t *testing.T, root string) (addr string, stop func()) {
	t.Helper()
	return startConfig(t, Config{Addr: "127.0.0.1:0", RootDir: root})
}

// startConfig runs a registry of cfg as start does.
func startConfig(t *testing.T, cfg Config) (addr string, stop func()) {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("registry stopped before ready: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registry run: %v", err)
		}
	}
	t.Cleanup(stop)
	return r.Addr(), stop
}

// pull fetches ref and checks that its manifest, config and every layer are complete and match
// their digests, returning the image digest.
func pull(t *testing.T, ref string) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPushPullPersist(t *testing.T) {
	root := filepath.Join(t.TempDir(), "not", "yet") // New creates it
	addr, stop := start(t, root)
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		t.Fatalf("Addr() = %s, want the bound port", addr)
	}

	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(addr+"/test/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push: %v", err)
	}

	check := func(addr string) {
		t.Helper()
		for _, ref := range []string{addr + "/test/app:v1", addr + "/test/app@" + want.String()} {
			if got := pull(t, ref); got != want {
				t.Errorf("pull %s: digest %s, want %s", ref, got, want)
			}
		}
	}
	check(addr)

	// A new registry over the same storage root serves what the first one stored.
	stop()
	addr, _ = start(t, root)
	check(addr)
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()

	r, err := New(Config{Addr: addr, RootDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(t.Context(), func() { t.Error("ready called") })
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Run error = %v, want EADDRINUSE", err)
	}
	if want := "listen " + addr + ": address already in use"; err.Error() != want {
		t.Errorf("Run error = %q, want %q", err, want)
	}
}

func TestNewInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no address", Config{RootDir: t.TempDir()}},
		{"no root", Config{Addr: "127.0.0.1:0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}
