package imagelookup

import (
	"context"
	"fmt"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Streams reads image streams. Get returns a NotFound error for a stream that does not exist.
// fresh asks for the stream as the API has it now, not as a cache last saw it.
type Streams interface {
	Get(ctx context.Context, namespace, name string, fresh bool) (*imagev1.ImageStream, error)
}

// LocalName is an image reference that may name an image stream of the project: a single path
// segment, NAME, NAME:TAG or NAME@DIGEST.
type LocalName struct {
	Stream, Tag, Digest string
}

// ParseLocalName reports whether image is a local name. Anything with a "/" — a registry host
// ("registry.example.com/x", "localhost/x", "host:5000/x") or a Docker Hub path ("library/x",
// "other-project/x") — is not, so it is never rewritten; nor is a stream of another project used.
func ParseLocalName(image string) (LocalName, bool) {
	if image == "" || strings.Contains(image, "/") {
		return LocalName{}, false
	}
	var n LocalName
	name := image
	if i := strings.Index(image, "@"); i >= 0 {
		name, n.Digest = image[:i], image[i+1:]
		algo, hex, ok := strings.Cut(n.Digest, ":")
		if !ok || algo == "" || hex == "" {
			return LocalName{}, false
		}
	}
	if i := strings.Index(name, ":"); i >= 0 {
		name, n.Tag = name[:i], name[i+1:]
		if n.Tag == "" {
			return LocalName{}, false
		}
	}
	if name == "" || strings.ToLower(name) != name {
		return LocalName{}, false
	}
	n.Stream = name
	if n.Tag == "" && n.Digest == "" {
		n.Tag = "latest"
	}
	return n, true
}

// Resolve returns the pull spec the image of a pod in namespace should have, and whether it
// changes. A local name resolves when the project has the stream and the stream has
// lookupPolicy.local (or force: the object asked for all names to be resolved), and the tag (or
// the digest) is in the stream's status; anything else is left as it is. An error means the
// streams could not be read.
func Resolve(ctx context.Context, streams Streams, namespace, image string, force bool) (string, bool, error) {
	name, ok := ParseLocalName(image)
	if !ok {
		return image, false, nil
	}
	// The cache first; a miss may be a stream or tag pushed a moment ago: ask the API.
	for _, fresh := range []bool{false, true} {
		s, err := streams.Get(ctx, namespace, name.Stream, fresh)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return image, false, fmt.Errorf("read image stream %s/%s: %w", namespace, name.Stream, err)
		}
		if !force && !s.Spec.LookupPolicy.Local {
			return image, false, nil
		}
		if ref, ok := StreamReference(s, name); ok {
			return ref, ref != image, nil
		}
	}
	return image, false, nil
}

// StreamReference is the pull spec of a stream's tag (its current image) or of an image of its
// history named by digest. With the tag's referencePolicy Local it is the stream's own
// repository in the integrated registry (status.dockerImageRepository@digest); otherwise the
// tag event's dockerImageReference, pinned to the image's digest.
func StreamReference(s *imagev1.ImageStream, n LocalName) (string, bool) {
	for _, t := range s.Status.Tags {
		for i, ev := range t.Items {
			if n.Digest != "" && ev.Image != n.Digest {
				continue
			}
			if n.Digest == "" && (t.Tag != n.Tag || i > 0) {
				break
			}
			return eventReference(s, t.Tag, ev)
		}
	}
	return "", false
}

func eventReference(s *imagev1.ImageStream, tag string, ev imagev1.TagEvent) (string, bool) {
	if localPolicy(s, tag) && s.Status.DockerImageRepository != "" && ev.Image != "" {
		return s.Status.DockerImageRepository + "@" + ev.Image, true
	}
	if ev.DockerImageReference == "" {
		return "", false
	}
	if ev.Image == "" {
		return ev.DockerImageReference, true
	}
	ref, err := imageref.Parse(ev.DockerImageReference)
	if err != nil {
		return "", false
	}
	ref.Tag, ref.ID = "", ev.Image
	return ref.Exact(), true
}

func localPolicy(s *imagev1.ImageStream, tag string) bool {
	for _, t := range s.Spec.Tags {
		if t.Name == tag {
			return t.ReferencePolicy.Type == imagev1.LocalTagReferencePolicy
		}
	}
	return false
}
