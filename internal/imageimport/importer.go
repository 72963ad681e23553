// Package imageimport fetches images from other registries for imagestreamimports: manifests
// (single images and indexes), image configurations, tag lists, with the credentials of the
// project's docker-registry secrets, and turns them into Image objects (package imagemeta).
//
// Imports run inside the API server on behalf of any user who may create imagestreamimports, so
// every connection is checked (policy.go): only registries on the administrator's allow-list
// when there is one, never the integrated registry, and no internal address (loopback,
// link-local and metadata services, private, CGNAT, multicast) unless the allow-list names the
// registry. Every HTTP request has a timeout, every response a size limit, and only a bounded
// number of fetches run at once.
package imageimport

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	imagev1 "github.com/openshift/api/image/v1"
	"github.com/openshift/library-go/pkg/image/imageutil"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/imagemeta"
)

// Defaults of Options.
const (
	DefaultRequestTimeout    = 20 * time.Second
	DefaultMaxConcurrent     = 8
	DefaultMaxRepositoryTags = 50

	// maxListedTags bounds the tags read from a repository's tag list (they are sorted and
	// the first MaxRepositoryTags imported).
	maxListedTags = 10000
	// maxIndexImages bounds the platform images of an index imported with PreserveOriginal.
	maxIndexImages = 64
)

// Options configures an Importer.
type Options struct {
	// AllowedRegistries are host[:port] patterns ("*" matches one or more DNS labels, a port of
	// "*" any port, no port the ports 443 and 80). Empty: any registry on a public address.
	// Non-empty: only these, on any address.
	AllowedRegistries []string
	// IntegratedRegistries are the host[:port] names of the integrated registry, refused
	// unless allowed explicitly.
	IntegratedRegistries []string
	// RequestTimeout bounds each HTTP request, its body included (default 20s).
	RequestTimeout time.Duration
	// MaxConcurrent bounds the images fetched at once, over all imports (default 8).
	MaxConcurrent int
	// MaxRepositoryTags bounds the tags a repository import imports (default 50).
	MaxRepositoryTags int
	// RootCAs, when set, replaces the system's trusted certificate authorities.
	RootCAs *x509.CertPool
}

// Importer fetches images for imports. It is safe for concurrent use.
type Importer struct {
	policy   *policy
	secure   *http.Transport
	insecure *http.Transport
	timeout  time.Duration
	slots    chan struct{}
	maxTags  int
}

// New checks the options (the allow-list patterns) and returns an Importer.
func New(o Options) (*Importer, error) {
	p, err := newPolicy(o.AllowedRegistries, o.IntegratedRegistries)
	if err != nil {
		return nil, err
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.MaxRepositoryTags <= 0 {
		o.MaxRepositoryTags = DefaultMaxRepositoryTags
	}
	return &Importer{
		policy:   p,
		secure:   newHTTPTransport(p, false, o.RootCAs),
		insecure: newHTTPTransport(p, true, o.RootCAs),
		timeout:  o.RequestTimeout,
		slots:    make(chan struct{}, o.MaxConcurrent),
		maxTags:  o.MaxRepositoryTags,
	}, nil
}

// Close drops idle connections.
func (im *Importer) Close() {
	im.secure.CloseIdleConnections()
	im.insecure.CloseIdleConnections()
}

// Import fills isi.Status.Images (one entry per spec image) and isi.Status.Repository from the
// remote registries. Failures are per image, in the entries' status. stream, when not nil,
// gives the tags' preferred platform annotations (importer.image.openshift.io/prefer-arch and
// prefer-os) for indexes imported in Legacy mode. kc gives registry credentials (nil: none).
func (im *Importer) Import(ctx context.Context, isi *imagev1.ImageStreamImport, stream *imagev1.ImageStream, kc authn.Keychain) {
	s := &session{im: im, kc: kc, pullers: map[pullerKey]*remote.Puller{}, cache: map[string]*cached{}}
	isi.Status.Images = make([]imagev1.ImageImportStatus, len(isi.Spec.Images))
	var wg sync.WaitGroup
	for i := range isi.Spec.Images {
		spec := isi.Spec.Images[i]
		arch, os := preferredPlatform(stream, spec.To)
		wg.Add(1)
		go func() {
			defer wg.Done()
			isi.Status.Images[i] = s.importImage(ctx, spec.From, spec.ImportPolicy, arch, os)
		}()
	}
	if isi.Spec.Repository != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			isi.Status.Repository = s.importRepository(ctx, *isi.Spec.Repository)
		}()
	}
	wg.Wait()
}

func preferredPlatform(stream *imagev1.ImageStream, to *corev1.LocalObjectReference) (arch, os string) {
	if stream == nil || to == nil {
		return "", ""
	}
	for _, t := range stream.Spec.Tags {
		if t.Name == to.Name {
			return t.Annotations[imagev1.ImporterPreferArchAnnotation], t.Annotations[imagev1.ImporterPreferOSAnnotation]
		}
	}
	return "", ""
}

// registryOf is the registry host[:port] of a reference (Docker Hub when it names none).
func registryOf(r imageref.DockerImageReference) string {
	if r.Registry == "" {
		return "docker.io"
	}
	return r.Registry
}

// pinned is the pull spec of digest in the repository of r.
func pinned(r imageref.DockerImageReference, digest string) string {
	r.Tag, r.ID = "", digest
	return r.Exact()
}

type pullerKey struct{ insecure, anonymous bool }

// cached is one fetch shared by the spec entries naming the same image.
type cached struct {
	once sync.Once
	res  fetched
}

// session is one Import: its pullers (connections and registry tokens are reused between the
// images of a repository) and the images fetched so far.
type session struct {
	im *Importer
	kc authn.Keychain

	mu      sync.Mutex
	pullers map[pullerKey]*remote.Puller
	cache   map[string]*cached
}

func (s *session) puller(insecure, anonymous bool) (*remote.Puller, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := pullerKey{insecure: insecure, anonymous: anonymous || s.kc == nil}
	if p, ok := s.pullers[key]; ok {
		return p, nil
	}
	base := s.im.secure
	if insecure {
		base = s.im.insecure
	}
	opts := []remote.Option{
		remote.WithTransport(newRoundTripper(base, insecure, s.im.timeout)),
		remote.WithUserAgent("gantry-image-import"),
		remote.WithRetryBackoff(remote.Backoff{Duration: 300 * time.Millisecond, Factor: 3, Steps: 2}),
	}
	if key.anonymous {
		opts = append(opts, remote.WithAuth(authn.Anonymous))
	} else {
		opts = append(opts, remote.WithAuthFromKeychain(s.kc))
	}
	p, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	s.pullers[key] = p
	return p, nil
}

// acquire takes one of the importer's fetch slots.
func (s *session) acquire(ctx context.Context) (func(), error) {
	select {
	case s.im.slots <- struct{}{}:
		return func() { <-s.im.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// withCredentials runs fn with the keychain's credentials and, when the registry refuses them,
// once more anonymously (a stale secret must not break the import of a public image). The
// first error is the one reported.
func withCredentials[T any](s *session, insecure bool, fn func(*remote.Puller) (T, error)) (T, error) {
	p, err := s.puller(insecure, false)
	if err != nil {
		var zero T
		return zero, err
	}
	out, err := fn(p)
	if err == nil || s.kc == nil || !isUnauthorized(err) {
		return out, err
	}
	anon, aerr := s.puller(insecure, true)
	if aerr != nil {
		return out, err
	}
	if out2, err2 := fn(anon); err2 == nil {
		return out2, nil
	}
	return out, err
}

// fetched is an imported image: the Image, the images of an index kept with PreserveOriginal.
type fetched struct {
	image     *imagev1.Image
	manifests []imagev1.Image
	err       error
}

type target struct {
	ref      imageref.DockerImageReference
	gref     name.Reference
	insecure bool
	mode     imagev1.ImportModeType
	arch, os string
}

func parseTarget(from string, insecure bool) (target, error) {
	r, err := imageref.Parse(from)
	if err != nil {
		return target{}, fmt.Errorf("%q is not an image pull spec: %v", from, err)
	}
	opts := []name.Option{}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	gref, err := name.ParseReference(r.Exact(), opts...)
	if err != nil {
		return target{}, fmt.Errorf("%q is not an image pull spec: %v", from, err)
	}
	return target{ref: r, gref: gref, insecure: insecure}, nil
}

// importImage imports one spec image.
func (s *session) importImage(ctx context.Context, from corev1.ObjectReference, pol imagev1.TagImportPolicy, arch, os string) imagev1.ImageImportStatus {
	var st imagev1.ImageImportStatus
	if from.Kind != "DockerImage" {
		st.Status = invalidStatus(fmt.Sprintf("from.kind %q cannot be imported: only DockerImage", from.Kind))
		return st
	}
	t, err := parseTarget(from.Name, pol.Insecure)
	if err != nil {
		st.Status = invalidStatus(err.Error())
		return st
	}
	t.mode, t.arch, t.os = pol.ImportMode, arch, os
	if t.ref.ID == "" {
		st.Tag = t.ref.Tag
		if st.Tag == "" {
			st.Tag = imagev1.DefaultImageTag
		}
	}
	res := s.fetchOnce(ctx, t)
	if res.err != nil {
		st.Status = FailureStatus(res.err, from.Name)
		return st
	}
	st.Status = metav1.Status{Status: metav1.StatusSuccess}
	st.Image = res.image.DeepCopy()
	for _, m := range res.manifests {
		st.Manifests = append(st.Manifests, *m.DeepCopy())
	}
	return st
}

func (s *session) fetchOnce(ctx context.Context, t target) fetched {
	key := fmt.Sprintf("%s|%t|%s|%s/%s", t.gref.Name(), t.insecure, t.mode, t.os, t.arch)
	s.mu.Lock()
	c, ok := s.cache[key]
	if !ok {
		c = &cached{}
		s.cache[key] = c
	}
	s.mu.Unlock()
	c.once.Do(func() { c.res = s.fetch(ctx, t) })
	return c.res
}

func (s *session) fetch(ctx context.Context, t target) fetched {
	if err := s.im.policy.checkRegistry(registryOf(t.ref)); err != nil {
		return fetched{err: err}
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return fetched{err: err}
	}
	defer release()
	res, err := withCredentials(s, t.insecure, func(p *remote.Puller) (fetched, error) {
		r := s.fetchWith(ctx, p, t)
		return r, r.err
	})
	if err != nil {
		return fetched{err: err}
	}
	return res
}

// mediaTypeOf is the media type of a manifest: the registry's Content-Type when it is one of
// the supported ones, else the manifest's own mediaType field, else what its shape says.
func mediaTypeOf(header types.MediaType, manifest []byte) string {
	switch header {
	case types.OCIManifestSchema1, types.DockerManifestSchema2, types.OCIImageIndex, types.DockerManifestList:
		return string(header)
	}
	var peek struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	if json.Unmarshal(manifest, &peek) != nil {
		return string(header)
	}
	switch {
	case peek.MediaType != "":
		return peek.MediaType
	case peek.Manifests != nil:
		return string(types.OCIImageIndex)
	case peek.Config != nil:
		return string(types.OCIManifestSchema1)
	}
	return string(header)
}

func isIndex(mt string) bool {
	return mt == string(types.OCIImageIndex) || mt == string(types.DockerManifestList)
}

// UnsupportedError is a manifest of a kind imports do not read.
type UnsupportedError struct {
	Ref       string
	MediaType string
}

func (e *UnsupportedError) Error() string {
	hint := "Gantry imports OCI and Docker schema 2 images and indexes"
	if strings.Contains(e.MediaType, "v1+prettyjws") || strings.Contains(e.MediaType, "manifest.v1+json") {
		hint = "Docker schema 1 images are not supported: push the image again with a current docker, podman or buildah"
	}
	return fmt.Sprintf("%s has a manifest of type %q: %s", e.Ref, e.MediaType, hint)
}

func (s *session) fetchWith(ctx context.Context, p *remote.Puller, t target) fetched {
	mctx := withLimit(ctx, MaxManifestSize)
	desc, err := p.Get(mctx, t.gref)
	if err != nil {
		return fetched{err: err}
	}
	mt := mediaTypeOf(desc.MediaType, desc.Manifest)
	if !isIndex(mt) {
		img, err := s.buildImage(ctx, p, t, mt, desc.Manifest)
		return fetched{image: img, err: err}
	}
	idx, err := ggcrv1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return fetched{err: fmt.Errorf("%s: the registry sent an index that is not valid JSON: %v", t.gref, err)}
	}
	var platforms []ggcrv1.Descriptor
	for _, d := range idx.Manifests {
		if imagemeta.IsPlatformImage(d) {
			platforms = append(platforms, d)
		}
	}
	if len(platforms) == 0 {
		return fetched{err: fmt.Errorf("%s is an index without images for any platform", t.gref)}
	}
	if t.mode != imagev1.ImportModePreserveOriginal {
		d := pickPlatform(platforms, t.arch, t.os)
		img, err := s.child(ctx, p, t, d.Digest.String())
		return fetched{image: img, err: err}
	}
	if len(platforms) > maxIndexImages {
		return fetched{err: fmt.Errorf("%s is an index of %d images, more than the %d an import keeps: import it with importMode Legacy (one platform)", t.gref, len(platforms), maxIndexImages)}
	}
	img, err := imagemeta.Image(mt, desc.Manifest, nil, pinned(t.ref, digestOf(desc.Manifest)))
	if err != nil {
		return fetched{err: err}
	}
	img.DockerImageManifest = string(desc.Manifest)
	res := fetched{image: img}
	for _, d := range platforms {
		c, err := s.child(ctx, p, t, d.Digest.String())
		if err != nil {
			return fetched{err: fmt.Errorf("image %s of index %s (%s): %w", d.Digest, t.gref, platformString(d.Platform), err)}
		}
		res.manifests = append(res.manifests, *c)
	}
	return res
}

func platformString(p *ggcrv1.Platform) string {
	if p == nil {
		return "no platform"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func digestOf(b []byte) string {
	h, _, _ := ggcrv1.SHA256(bytes.NewReader(b))
	return h.String()
}

// pickPlatform is the image of an index a Legacy import takes: the tag's preferred platform,
// else linux/amd64, else the first one.
func pickPlatform(ds []ggcrv1.Descriptor, arch, os string) ggcrv1.Descriptor {
	if arch != "" || os != "" {
		for _, d := range ds {
			if (arch == "" || d.Platform.Architecture == arch) && (os == "" || d.Platform.OS == os) {
				return d
			}
		}
	}
	for _, d := range ds {
		if d.Platform.Architecture == "amd64" && d.Platform.OS == "linux" {
			return d
		}
	}
	return ds[0]
}

// child fetches the image an index names by digest.
func (s *session) child(ctx context.Context, p *remote.Puller, t target, digest string) (*imagev1.Image, error) {
	ref := t.gref.Context().Digest(digest)
	desc, err := p.Get(withLimit(ctx, MaxManifestSize), ref)
	if err != nil {
		return nil, err
	}
	mt := mediaTypeOf(desc.MediaType, desc.Manifest)
	if isIndex(mt) {
		return nil, fmt.Errorf("%s is an index inside an index, which imports do not read", ref)
	}
	return s.buildImage(ctx, p, t, mt, desc.Manifest)
}

// buildImage fetches the configuration of a single-image manifest and builds its Image.
func (s *session) buildImage(ctx context.Context, p *remote.Puller, t target, mt string, manifest []byte) (*imagev1.Image, error) {
	cfgDigest, err := imagemeta.ConfigDigest(mt, manifest)
	if err != nil {
		if mt != string(types.OCIManifestSchema1) && mt != string(types.DockerManifestSchema2) {
			return nil, &UnsupportedError{Ref: t.gref.String(), MediaType: mt}
		}
		return nil, err
	}
	layer, err := p.Layer(withLimit(ctx, MaxConfigSize), t.gref.Context().Digest(cfgDigest))
	if err != nil {
		return nil, err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	config, err := io.ReadAll(io.LimitReader(rc, MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(config)) > MaxConfigSize {
		return nil, &SizeError{URL: "the configuration " + cfgDigest, Limit: MaxConfigSize}
	}
	img, err := imagemeta.Image(mt, manifest, config, pinned(t.ref, digestOf(manifest)))
	if err != nil {
		return nil, err
	}
	// The raw manifest and configuration travel in the answer for includeManifest; the API
	// server does not store them.
	img.DockerImageManifest, img.DockerImageConfig = string(manifest), string(config)
	return img, nil
}

// importRepository imports the most relevant tags of a repository (OpenShift's order: latest,
// then versions newest first, then the others by name), at most MaxRepositoryTags of them; the
// others are listed in additionalTags.
func (s *session) importRepository(ctx context.Context, spec imagev1.RepositoryImportSpec) *imagev1.RepositoryImportStatus {
	st := &imagev1.RepositoryImportStatus{}
	if spec.From.Kind != "DockerImage" {
		st.Status = invalidStatus(fmt.Sprintf("from.kind %q cannot be imported: only DockerImage", spec.From.Kind))
		return st
	}
	t, err := parseTarget(spec.From.Name, spec.ImportPolicy.Insecure)
	if err != nil {
		st.Status = invalidStatus(err.Error())
		return st
	}
	if t.ref.Tag != "" || t.ref.ID != "" {
		st.Status = invalidStatus(fmt.Sprintf("%q names a tag or digest: a repository import takes a repository such as registry.example.com/team/app", spec.From.Name))
		return st
	}
	if err := s.im.policy.checkRegistry(registryOf(t.ref)); err != nil {
		st.Status = FailureStatus(err, spec.From.Name)
		return st
	}
	tags, err := s.listTags(ctx, t)
	if err != nil {
		st.Status = FailureStatus(err, spec.From.Name)
		return st
	}
	imageutil.PrioritizeTags(tags)
	if len(tags) > s.im.maxTags {
		st.AdditionalTags = tags[s.im.maxTags:]
		tags = tags[:s.im.maxTags]
	}
	st.Images = make([]imagev1.ImageImportStatus, len(tags))
	var wg sync.WaitGroup
	for i, tag := range tags {
		r := t.ref
		r.Tag = tag
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.Images[i] = s.importImage(ctx, corev1.ObjectReference{Kind: "DockerImage", Name: r.Exact()}, spec.ImportPolicy, "", "")
			st.Images[i].Tag = tag
		}()
	}
	wg.Wait()
	failures := 0
	for _, im := range st.Images {
		if im.Status.Status != metav1.StatusSuccess {
			failures++
		}
	}
	st.Status = metav1.Status{Status: metav1.StatusSuccess}
	if failures > 0 {
		st.Status = metav1.Status{Status: metav1.StatusFailure, Reason: "ImportFailed",
			Message: fmt.Sprintf("%d of the %d images imported from %s failed: see each image's status", failures, len(st.Images), spec.From.Name)}
	}
	return st
}

// listTags reads the repository's tag list, at most maxListedTags tags; an empty tag counts as
// latest (some registries list one).
func (s *session) listTags(ctx context.Context, t target) ([]string, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return withCredentials(s, t.insecure, func(p *remote.Puller) ([]string, error) {
		lctx := withLimit(ctx, MaxManifestSize)
		l, err := p.Lister(lctx, t.gref.Context())
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var tags []string
		for len(tags) < maxListedTags {
			page, err := l.Next(lctx)
			if err != nil {
				return nil, err
			}
			for _, tag := range page.Tags {
				if tag == "" {
					tag = imagev1.DefaultImageTag
				}
				if !seen[tag] && len(tags) < maxListedTags {
					seen[tag] = true
					tags = append(tags, tag)
				}
			}
			if !l.HasNext() {
				break
			}
		}
		return tags, nil
	})
}

// --- statuses ---

func invalidStatus(msg string) metav1.Status {
	return metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid, Message: msg}
}

func registryErr(err error) *transport.Error {
	var te *transport.Error
	if errors.As(err, &te) {
		return te
	}
	return nil
}

func hasCode(te *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

func isUnauthorized(err error) bool {
	te := registryErr(err)
	return te != nil && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden ||
		hasCode(te, transport.UnauthorizedErrorCode, transport.DeniedErrorCode))
}

// FailureStatus is the status of an image whose import failed: Forbidden for a refused
// registry, Unauthorized when the registry refused the credentials, NotFound for a missing
// image or repository, UnsupportedMediaType for manifests imports cannot read, else
// InternalError; the message says what to do.
func FailureStatus(err error, ref string) metav1.Status {
	st := metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError}
	var refused *RefusedError
	var unsupported *UnsupportedError
	var x509Unknown x509.UnknownAuthorityError
	var x509Host x509.HostnameError
	var x509Invalid x509.CertificateInvalidError
	var netErr *net.OpError
	var dnsErr *net.DNSError
	te := registryErr(err)
	switch {
	case errors.As(err, &refused):
		st.Code, st.Reason, st.Message = http.StatusForbidden, metav1.StatusReasonForbidden, refused.Error()
	case errors.As(err, &unsupported):
		st.Code, st.Reason, st.Message = http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, unsupported.Error()
	case isUnauthorized(err):
		host := ""
		if r, perr := imageref.Parse(ref); perr == nil {
			host = registryOf(r)
		}
		st.Code, st.Reason = http.StatusUnauthorized, metav1.StatusReasonUnauthorized
		st.Message = fmt.Sprintf("you may not have access to the container image %q (the registry answered %d %s): if it needs a login, give this project a docker-registry secret for %s (kubectl create secret docker-registry)",
			ref, te.StatusCode, http.StatusText(te.StatusCode), host)
	case te != nil && (te.StatusCode == http.StatusNotFound || hasCode(te, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode)):
		st.Code, st.Reason = http.StatusNotFound, metav1.StatusReasonNotFound
		st.Message = fmt.Sprintf("the container image %q was not found in its registry: check the repository name and tag", ref)
	case te != nil && te.StatusCode == http.StatusTooManyRequests:
		st.Message = fmt.Sprintf("importing %q: the registry limits requests (429 Too Many Requests); try again later", ref)
	case errors.As(err, &x509Unknown), errors.As(err, &x509Host), errors.As(err, &x509Invalid):
		st.Message = fmt.Sprintf("importing %q: the registry's TLS certificate is not trusted (%v); import with importPolicy.insecure (--insecure) only if you trust the network to it", ref, err)
	case errors.As(err, &dnsErr):
		st.Message = fmt.Sprintf("importing %q: the registry's host name does not resolve (%v): check the pull spec", ref, dnsErr)
	case speaksPlainHTTP(err):
		st.Message = fmt.Sprintf("importing %q: the registry serves plain HTTP, not HTTPS: import with importPolicy.insecure (--insecure) if you trust the network to it", ref)
	case errors.As(err, &netErr):
		st.Message = fmt.Sprintf("importing %q: cannot reach the registry: %v", ref, netErr)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		st.Message = fmt.Sprintf("importing %q: the import request ended before the image was fetched (%v); try again", ref, err)
	default:
		st.Message = fmt.Sprintf("importing %q: %v", ref, err)
	}
	return st
}
