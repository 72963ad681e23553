package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Images tagged into a stream from another stream of this registry (`gantry tag a/x:1 b/y:1`)
// keep their content where it was pushed. A pull through b/y finds it there: a manifest
// named by an event of b/y's tag history, and a blob that is a layer or the configuration of
// such an image, are served from the repository the event's pull spec names. Nothing else
// is: the tag history is the grant, and tagging across projects needs pull rights on the
// source (checked by the API when the tag is written).

// maxImagesScanned bounds the images whose layers are looked at for one blob.
const maxImagesScanned = 50

// sourceRepository returns the repository of this registry holding image dgst, according to
// the stream's tag history; nil when the stream does not name dgst or names this repository.
func (r *streamRepository) sourceRepository(ctx context.Context, st *imagev1.ImageStream, dgst digest.Digest) distribution.Repository {
	if r.s.namespace == nil || st == nil {
		return nil
	}
	for _, t := range st.Status.Tags {
		for _, e := range t.Items {
			if e.Image != dgst.String() {
				continue
			}
			if repo := r.localRepository(ctx, e.DockerImageReference); repo != nil {
				return repo
			}
		}
	}
	return nil
}

// localRepository opens the repository of a pull spec of this registry, other than r.
func (r *streamRepository) localRepository(ctx context.Context, pullSpec string) distribution.Repository {
	named, err := reference.ParseNormalizedNamed(pullSpec)
	if err != nil || reference.Domain(named) != r.s.Hostname {
		return nil
	}
	path := reference.Path(named)
	if path == r.ref() {
		return nil
	}
	if _, _, err := splitRepository(path); err != nil {
		return nil
	}
	n, err := reference.WithName(path)
	if err != nil {
		return nil
	}
	repo, err := r.s.namespace.Repository(ctx, n)
	if err != nil {
		return nil
	}
	return repo
}

// blobSource returns the repository holding blob dgst as a layer or configuration of an image
// in the stream's history.
func (r *streamRepository) blobSource(ctx context.Context, dgst digest.Digest) distribution.Repository {
	if r.s.namespace == nil {
		return nil
	}
	st, err := r.stream(ctx)
	if err != nil || st == nil {
		return nil
	}
	// Most streams hold only their own pushes: then there is nothing to look up.
	foreign := false
	for _, t := range st.Status.Tags {
		for _, e := range t.Items {
			if !strings.HasPrefix(e.DockerImageReference, r.s.Hostname+"/"+r.ref()+"@") {
				foreign = true
			}
		}
	}
	if !foreign {
		return nil
	}
	seen := map[string]bool{}
	for _, t := range st.Status.Tags {
		for _, e := range t.Items {
			if seen[e.Image] || len(seen) >= maxImagesScanned {
				continue
			}
			seen[e.Image] = true
			repo := r.localRepository(ctx, e.DockerImageReference)
			if repo == nil {
				continue
			}
			img, err := r.s.Images.Images().Get(ctx, e.Image, metav1.GetOptions{})
			if err != nil {
				continue
			}
			if imageHasBlob(img, dgst) {
				return repo
			}
		}
	}
	return nil
}

func imageHasBlob(img *imagev1.Image, dgst digest.Digest) bool {
	for _, l := range img.DockerImageLayers {
		if l.Name == dgst.String() {
			return true
		}
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err == nil && meta.ID == dgst.String() {
		return true
	}
	return false
}

// Get falls back to the image's source repository for a manifest of the stream's history.
func (m *streamManifests) Get(ctx context.Context, dgst digest.Digest, options ...distribution.ManifestServiceOption) (distribution.Manifest, error) {
	man, err := m.ManifestService.Get(ctx, dgst, options...)
	if err == nil || !isUnknownManifest(err) {
		return man, err
	}
	st, serr := m.r.stream(ctx)
	if serr != nil {
		return nil, err
	}
	src := m.r.sourceRepository(ctx, st, dgst)
	if src == nil {
		if pulling(ctx) {
			if man, ok := m.remoteManifest(ctx, st, dgst); ok {
				return man, nil
			}
		}
		return nil, err
	}
	ms, serr := src.Manifests(ctx)
	if serr != nil {
		return nil, err
	}
	return ms.Get(ctx, dgst, options...)
}

// Exists answers for manifests reachable through the stream too.
func (m *streamManifests) Exists(ctx context.Context, dgst digest.Digest) (bool, error) {
	ok, err := m.ManifestService.Exists(ctx, dgst)
	if ok || err != nil {
		return ok, err
	}
	if _, err := m.Get(ctx, dgst); err == nil {
		return true, nil
	}
	return false, nil
}

func isUnknownManifest(err error) bool {
	var rev distribution.ErrManifestUnknownRevision
	var unk distribution.ErrManifestUnknown
	return errors.As(err, &rev) || errors.As(err, &unk)
}

func (r *streamRepository) Blobs(ctx context.Context) distribution.BlobStore {
	return &streamBlobs{BlobStore: r.Repository.Blobs(ctx), r: r}
}

// streamBlobs serves, read-only, blobs of images tagged in from other repositories.
type streamBlobs struct {
	distribution.BlobStore
	r *streamRepository
}

// unsupportedDigest answers blob reads for digests the storage never holds (it keeps sha256
// content only) with BLOB_UNKNOWN, where distribution would answer 500.
func unsupportedDigest(dgst digest.Digest) bool { return dgst.Algorithm() != digest.SHA256 }

func (b *streamBlobs) source(ctx context.Context, dgst digest.Digest, err error) distribution.BlobStore {
	if !errors.Is(err, distribution.ErrBlobUnknown) {
		return nil
	}
	if src := b.r.blobSource(ctx, dgst); src != nil {
		return src.Blobs(ctx)
	}
	return nil
}

// remote is the other registry holding blob dgst of an image the stream imported, for pulls of
// a blob this registry does not have.
func (b *streamBlobs) remote(ctx context.Context, dgst digest.Digest, err error) *remoteBlobStore {
	if !errors.Is(err, distribution.ErrBlobUnknown) || !pulling(ctx) {
		return nil
	}
	rb, _ := b.r.remoteBlob(ctx, dgst)
	return rb
}

func (b *streamBlobs) Stat(ctx context.Context, dgst digest.Digest) (v1.Descriptor, error) {
	if unsupportedDigest(dgst) {
		return v1.Descriptor{}, distribution.ErrBlobUnknown
	}
	d, err := b.BlobStore.Stat(ctx, dgst)
	if src := b.source(ctx, dgst, err); src != nil {
		return src.Stat(ctx, dgst)
	}
	if rb := b.remote(ctx, dgst, err); rb != nil {
		return rb.Stat(ctx)
	}
	return d, err
}

func (b *streamBlobs) Get(ctx context.Context, dgst digest.Digest) ([]byte, error) {
	if unsupportedDigest(dgst) {
		return nil, distribution.ErrBlobUnknown
	}
	p, err := b.BlobStore.Get(ctx, dgst)
	if src := b.source(ctx, dgst, err); src != nil {
		return src.Get(ctx, dgst)
	}
	if rb := b.remote(ctx, dgst, err); rb != nil {
		return rb.Get(ctx)
	}
	return p, err
}

func (b *streamBlobs) Open(ctx context.Context, dgst digest.Digest) (io.ReadSeekCloser, error) {
	if unsupportedDigest(dgst) {
		return nil, distribution.ErrBlobUnknown
	}
	rc, err := b.BlobStore.Open(ctx, dgst)
	if src := b.source(ctx, dgst, err); src != nil {
		return src.Open(ctx, dgst)
	}
	return rc, err
}

func (b *streamBlobs) ServeBlob(ctx context.Context, w http.ResponseWriter, r *http.Request, dgst digest.Digest) error {
	if unsupportedDigest(dgst) {
		return distribution.ErrBlobUnknown
	}
	if _, err := b.BlobStore.Stat(ctx, dgst); err != nil {
		if src := b.source(ctx, dgst, err); src != nil {
			return src.ServeBlob(ctx, w, r, dgst)
		}
		if rb := b.remote(ctx, dgst, err); rb != nil {
			return rb.ServeBlob(ctx, w, r)
		}
	}
	return b.BlobStore.ServeBlob(ctx, w, r, dgst)
}
