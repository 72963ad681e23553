// Package images builds the container images Gantry runs and pushes them to its registry.
//
// No image comes from the internet: the pod sandbox ("pause") image holds a tiny executable
// generated here, and Gantry's infrastructure images hold the running gantry binary itself. All
// images are single-layer OCI images for linux/amd64 with uncompressed layers (media type
// application/vnd.oci.image.layer.v1.tar), pushed over plain HTTP to the loopback registry that
// the node's containerd pulls from.
//
// The infrastructure images share one layer, the binary at BinaryPath (see Publisher.BinaryLayer),
// and differ only in their configuration (see Spec and Publisher.Image). Building that layer
// means copying a binary of a few hundred megabytes, so it is cached on disk and rebuilt only
// when the binary changes.
package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"k8s.io/klog/v2"
)

const (
	// PauseRepository is the repository of the pod sandbox image, tagged with the Gantry version.
	PauseRepository = "gantry/pause"
	// InfraRepository is the repository of the gantry infrastructure image, tagged with the
	// Gantry version.
	InfraRepository = "gantry/gantry"
	// BinaryPath is where the infrastructure images hold the gantry binary; it is their
	// entrypoint.
	BinaryPath = "/usr/bin/gantry"
)

// The platform of every image built here. containerd rejects images without one; Gantry nodes
// are x86-64 Linux, the only architecture the pause executable is generated for.
const (
	imageOS   = "linux"
	imageArch = "amd64"
)

// selfExe names the running executable on Linux. Reading it rather than the path os.Executable
// returns packages the binary that is actually running, even if its file has been replaced or
// removed since it started.
const selfExe = "/proc/self/exe"

// Publisher builds Gantry's images and pushes them to a registry.
type Publisher struct {
	// Registry is the registry's host:port, reached over plain HTTP.
	Registry string
	// CacheDir holds the cached binary layer (created if missing). Gantry processes must not
	// share it.
	CacheDir string
	// Version is the tag of the published images.
	Version string
	// Binary is the executable packaged in the infrastructure images. Empty means the running
	// binary.
	Binary string
	// Auth authenticates the pushes (nil: anonymous).
	Auth authn.Authenticator
}

// Refs are the references of the published images.
type Refs struct {
	// Pause is the pod sandbox image, e.g. "127.0.0.1:5000/gantry/pause:v0.1.0".
	Pause string
	// Infra is the gantry infrastructure image, e.g. "127.0.0.1:5000/gantry/gantry:v0.1.0".
	Infra string
}

// Spec describes one infrastructure image: the binary layer with its own configuration. The
// entrypoint is always BinaryPath.
type Spec struct {
	// Cmd holds the arguments passed to the binary, such as a subcommand.
	Cmd []string
	// Labels are the image's labels.
	Labels map[string]string
}

// Publish builds the pause and infrastructure images and pushes them to the registry, tagged
// with Version, skipping blobs the registry already has. With an unchanged binary it reuses the
// cached binary layer, so apart from the pushes it only stats files.
func (p *Publisher) Publish(ctx context.Context) (Refs, error) {
	switch {
	case p.Registry == "":
		return Refs{}, errors.New("publish images: no registry")
	case p.Version == "":
		return Refs{}, errors.New("publish images: no version")
	case p.CacheDir == "":
		return Refs{}, errors.New("publish images: no cache directory")
	}
	refs := Refs{
		Pause: p.Registry + "/" + PauseRepository + ":" + p.Version,
		Infra: p.Registry + "/" + InfraRepository + ":" + p.Version,
	}
	// The small pause image goes first: a bad reference or an unreachable registry fails
	// before the binary layer is built.
	pause, err := pauseImage()
	if err != nil {
		return Refs{}, fmt.Errorf("build pause image: %w", err)
	}
	if err := Push(ctx, pause, refs.Pause, p.Auth); err != nil {
		return Refs{}, err
	}
	infra, err := p.Image(Spec{})
	if err != nil {
		return Refs{}, fmt.Errorf("build infra image: %w", err)
	}
	if err := Push(ctx, infra, refs.Infra, p.Auth); err != nil {
		return Refs{}, err
	}
	klog.InfoS("Published images", "pause", refs.Pause, "infra", refs.Infra)
	return refs, nil
}

// BinaryLayer returns the layer shared by all infrastructure images: the binary at BinaryPath,
// mode 0755. The layer tar is cached in CacheDir, keyed by the binary's path, size, modification
// and change times and inode; its entries have fixed timestamps and ownership, so its digest
// depends only on the binary's content.
func (p *Publisher) BinaryLayer() (v1.Layer, error) {
	if p.CacheDir == "" {
		return nil, errors.New("binary layer: no cache directory")
	}
	bin := p.Binary
	if bin == "" {
		bin = selfExe
	}
	return cachedBinaryLayer(bin, p.CacheDir)
}

// Image returns the infrastructure image described by spec.
//
// A dynamically linked binary gets a first layer with its loader and shared libraries (see
// runtimeLayer), so that the image runs.
func (p *Publisher) Image(spec Spec) (v1.Image, error) {
	layer, err := p.BinaryLayer()
	if err != nil {
		return nil, err
	}
	bin := p.Binary
	if bin == "" {
		bin = selfExe
	}
	runtime, err := runtimeLayer(bin)
	if err != nil {
		return nil, fmt.Errorf("runtime libraries of %s: %w", bin, err)
	}
	layers := []v1.Layer{layer}
	if runtime != nil {
		layers = []v1.Layer{runtime, layer}
	}
	return newImage(v1.Config{
		Entrypoint: []string{BinaryPath},
		Cmd:        spec.Cmd,
		Labels:     spec.Labels,
	}, layers...)
}

// Push pushes img to ref ("host:port/repository:tag") over plain HTTP, skipping blobs the
// registry already has. auth may be nil for an anonymous push.
func Push(ctx context.Context, img v1.Image, ref string, auth authn.Authenticator) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	klog.V(2).InfoS("Pushed image", "ref", ref)
	return nil
}

// FromBinary builds a one-layer image holding the static executable at path as /<base name of
// path> (mode 0755), with that file followed by args as its entrypoint. The file is read into
// memory: it is meant for small programs such as test servers built with CGO_ENABLED=0.
func FromBinary(path string, args ...string) (v1.Image, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("image from binary: %w", err)
	}
	base := filepath.Base(path)
	layer, err := memoryLayer(base, content)
	if err != nil {
		return nil, fmt.Errorf("image from binary %s: %w", path, err)
	}
	return newImage(v1.Config{Entrypoint: append([]string{"/" + base}, args...)}, layer)
}

// newImage returns an OCI image for linux/amd64 made of layers and configured by cfg.
func newImage(cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(base, &v1.ConfigFile{
		OS:           imageOS,
		Architecture: imageArch,
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("configure image: %w", err)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("add layer: %w", err)
	}
	return img, nil
}
