package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Pull-through: a stream's tag imported from another registry (`gantry import-image`, a spec
// tag from a DockerImage) records the image with that registry's pull spec. Pulling it through
// the stream (`<registry>/<project>/<stream>@<digest>` or `:<tag>`, which is what pods get with
// referencePolicy Local) fetches the manifest and blobs from that registry with the project's
// docker-registry secrets, under the import rules (allow-list, no internal addresses). Only
// images in the stream's history are reachable this way, and only their own blobs: the history
// is the grant, and pulling through needs pull rights on the stream like any pull.
// Content is not kept: every pull asks the other registry.

// Remote fetches content of other registries for pull-through.
type Remote interface {
	// FetchManifest returns the manifest that pullSpec (pinned by digest) names, checked
	// against its digest, with the credentials of the project of stream namespace/name.
	FetchManifest(ctx context.Context, namespace, name, pullSpec string, insecure bool) (mediaType string, payload []byte, err error)
	// OpenBlob opens blob dgst of repository (host/path) with the same credentials; the
	// content is checked against dgst as it is read.
	OpenBlob(ctx context.Context, namespace, name, repository string, dgst digest.Digest, insecure bool) (io.ReadCloser, int64, error)
}

// remoteImage is an image of the stream's history kept in another registry.
type remoteImage struct {
	pullSpec string
	insecure bool
}

// remoteImages lists the images of the stream's history whose pull spec names another
// registry, by image digest (at most maxImagesScanned).
func (r *streamRepository) remoteImages(st *imagev1.ImageStream) map[string]remoteImage {
	insecureTags := map[string]bool{}
	for _, t := range st.Spec.Tags {
		insecureTags[t.Name] = t.ImportPolicy.Insecure
	}
	insecureStream := st.Annotations[imagev1.InsecureRepositoryAnnotation] == "true"
	local := r.s.Hostname + "/"
	out := map[string]remoteImage{}
	for _, t := range st.Status.Tags {
		for _, e := range t.Items {
			if e.Image == "" || len(out) >= maxImagesScanned || strings.HasPrefix(e.DockerImageReference, local) {
				// Pushes to this registry (most images) need no parsing: clients check for
				// blobs before every push, and each check looks here.
				continue
			}
			if _, seen := out[e.Image]; seen {
				continue
			}
			named, err := reference.ParseNormalizedNamed(e.DockerImageReference)
			if err != nil || reference.Domain(named) == r.s.Hostname {
				continue
			}
			out[e.Image] = remoteImage{pullSpec: e.DockerImageReference, insecure: insecureStream || insecureTags[t.Tag]}
		}
	}
	return out
}

// pinnedRepository returns the repository (host/path) of a pull spec.
func pinnedRepository(pullSpec string) (string, error) {
	named, err := reference.ParseNormalizedNamed(pullSpec)
	if err != nil {
		return "", err
	}
	return named.Name(), nil
}

// remoteManifest fetches manifest dgst from the registry the stream imported it from.
func (m *streamManifests) remoteManifest(ctx context.Context, st *imagev1.ImageStream, dgst digest.Digest) (distribution.Manifest, bool) {
	r := m.r
	if r.s.Remote == nil || st == nil {
		return nil, false
	}
	img, ok := r.remoteImages(st)[dgst.String()]
	if !ok {
		return nil, false
	}
	repo, err := pinnedRepository(img.pullSpec)
	if err != nil {
		return nil, false
	}
	mediaType, payload, err := r.s.Remote.FetchManifest(ctx, r.ns, r.name, repo+"@"+dgst.String(), img.insecure)
	if err != nil {
		klog.InfoS("Pull-through of a manifest failed", "repository", r.ref(), "from", repo, "digest", dgst, "err", err)
		return nil, false
	}
	man, _, err := distribution.UnmarshalManifest(mediaType, payload)
	if err != nil {
		klog.InfoS("Pull-through: unreadable manifest", "repository", r.ref(), "from", repo, "digest", dgst, "mediaType", mediaType, "err", err)
		return nil, false
	}
	return man, true
}

// blobSets remembers which blobs images use (content never changes for a digest).
type blobSets struct {
	mu sync.Mutex
	m  map[string]map[string]int64 // image digest -> blob digest -> size (-1 unknown)
}

const blobSetsLimit = 4096

func (b *blobSets) get(image string) (map[string]int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.m[image]
	return s, ok
}

func (b *blobSets) put(image string, s map[string]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil || len(b.m) >= blobSetsLimit {
		b.m = map[string]map[string]int64{}
	}
	b.m[image] = s
}

func imageBlobs(img *imagev1.Image) map[string]int64 {
	s := map[string]int64{}
	for _, l := range img.DockerImageLayers {
		s[l.Name] = l.LayerSize
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err == nil && meta.ID != "" {
		if _, ok := s[meta.ID]; !ok {
			s[meta.ID] = -1
		}
	}
	return s
}

// remoteBlob finds blob dgst among the blobs of the stream's images kept in other registries.
func (r *streamRepository) remoteBlob(ctx context.Context, dgst digest.Digest) (*remoteBlobStore, bool) {
	if r.s.Remote == nil {
		return nil, false
	}
	st, err := r.stream(ctx)
	if err != nil || st == nil {
		return nil, false
	}
	for image, ri := range r.remoteImages(st) {
		blobs, ok := r.s.blobSets.get(image)
		if !ok {
			img, err := r.s.Images.Images().Get(ctx, image, metav1.GetOptions{})
			if err != nil {
				continue
			}
			blobs = imageBlobs(img)
			r.s.blobSets.put(image, blobs)
		}
		size, ok := blobs[dgst.String()]
		if !ok {
			continue
		}
		repo, err := pinnedRepository(ri.pullSpec)
		if err != nil {
			continue
		}
		return &remoteBlobStore{r: r, repo: repo, insecure: ri.insecure, dgst: dgst, size: size}, true
	}
	return nil, false
}

// remoteBlobStore reads one blob of another registry.
type remoteBlobStore struct {
	r        *streamRepository
	repo     string
	insecure bool
	dgst     digest.Digest
	size     int64 // -1: unknown until fetched
}

func (b *remoteBlobStore) open(ctx context.Context) (io.ReadCloser, int64, error) {
	rc, size, err := b.r.s.Remote.OpenBlob(ctx, b.r.ns, b.r.name, b.repo, b.dgst, b.insecure)
	if err != nil {
		klog.InfoS("Pull-through of a blob failed", "repository", b.r.ref(), "from", b.repo, "digest", b.dgst, "err", err)
		return nil, 0, distribution.ErrBlobUnknown
	}
	return rc, size, nil
}

func (b *remoteBlobStore) Stat(ctx context.Context) (v1.Descriptor, error) {
	if b.size >= 0 {
		return v1.Descriptor{Digest: b.dgst, Size: b.size, MediaType: "application/octet-stream"}, nil
	}
	rc, size, err := b.open(ctx)
	if err != nil {
		return v1.Descriptor{}, err
	}
	rc.Close()
	b.size = size
	return v1.Descriptor{Digest: b.dgst, Size: size, MediaType: "application/octet-stream"}, nil
}

func (b *remoteBlobStore) Get(ctx context.Context) ([]byte, error) {
	rc, size, err := b.open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxConfigSize {
		return nil, fmt.Errorf("blob %s is %d bytes, more than the %d bytes read whole", b.dgst, size, maxConfigSize)
	}
	return io.ReadAll(io.LimitReader(rc, maxConfigSize+1))
}

func (b *remoteBlobStore) ServeBlob(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	rc, size, err := b.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", b.dgst.String())
	w.Header().Set("Etag", `"`+b.dgst.String()+`"`)
	w.Header().Set("Cache-Control", "max-age=31536000")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(w, rc); err != nil && !errors.Is(err, context.Canceled) {
		// The status is sent: all that is left is to cut the response short, which the
		// client sees as a failed download (and its digest check fails).
		klog.InfoS("Pull-through of a blob broke off", "repository", b.r.ref(), "from", b.repo, "digest", b.dgst, "err", err)
		return http.ErrAbortHandler
	}
	return nil
}
