package imageimport

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
)

// BlobTimeout bounds the fetch of one blob for the integrated registry's pull-through, its
// content included.
const BlobTimeout = 30 * time.Minute

// The integrated registry serves images that streams imported from other registries (their
// tags' history names the other registry) by fetching them there when a client pulls them
// through the stream: "pull-through". These fetches obey the same rules as imports: the
// allow-list, the refusal of internal addresses, the project's credentials.

// FetchManifest returns the manifest that pullSpec (pinned by digest) names, checked against its
// digest.
func (im *Importer) FetchManifest(ctx context.Context, pullSpec string, insecure bool, kc authn.Keychain) (mediaType string, payload []byte, err error) {
	t, err := parseTarget(pullSpec, insecure)
	if err != nil {
		return "", nil, err
	}
	if _, ok := t.gref.(name.Digest); !ok {
		return "", nil, fmt.Errorf("%q is not pinned by digest", pullSpec)
	}
	if err := im.policy.checkRegistry(registryOf(t.ref)); err != nil {
		return "", nil, err
	}
	s := &session{im: im, kc: kc, pullers: map[pullerKey]*remote.Puller{}}
	release, err := s.acquire(ctx)
	if err != nil {
		return "", nil, err
	}
	defer release()
	desc, err := withCredentials(s, insecure, func(p *remote.Puller) (*remote.Descriptor, error) {
		return p.Get(withLimit(ctx, MaxManifestSize), t.gref)
	})
	if err != nil {
		return "", nil, err
	}
	return string(desc.MediaType), desc.Manifest, nil
}

// OpenBlob opens blob dgst of repository (host/path, as in a pull spec) and returns its
// content, checked against the digest as it is read, and its size.
func (im *Importer) OpenBlob(ctx context.Context, repository string, dgst digest.Digest, insecure bool, kc authn.Keychain) (io.ReadCloser, int64, error) {
	t, err := parseTarget(repository+"@"+dgst.String(), insecure)
	if err != nil {
		return nil, 0, err
	}
	ref, ok := t.gref.(name.Digest)
	if !ok {
		return nil, 0, fmt.Errorf("%q is not a repository", repository)
	}
	if err := im.policy.checkRegistry(registryOf(t.ref)); err != nil {
		return nil, 0, err
	}
	s := &session{im: im, kc: kc, pullers: map[pullerKey]*remote.Puller{}}
	ctx = withTimeout(withLimit(ctx, math.MaxInt64), BlobTimeout)
	type opened struct {
		rc   io.ReadCloser
		size int64
	}
	o, err := withCredentials(s, insecure, func(p *remote.Puller) (opened, error) {
		l, err := p.Layer(ctx, ref)
		if err != nil {
			return opened{}, err
		}
		size, err := l.Size()
		if err != nil {
			return opened{}, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return opened{}, err
		}
		return opened{rc: rc, size: size}, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return o.rc, o.size, nil
}
