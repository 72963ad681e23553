package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	repomiddleware "github.com/distribution/distribution/v3/registry/middleware/repository"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	imagev1 "github.com/openshift/api/image/v1"
	imagev1client "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	imagev1listers "github.com/openshift/client-go/image/listers/image/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/imagemeta"
)

// The image stream side of the registry, as a distribution repository
// middleware:
//
//   - a manifest push first makes sure the stream <project>/<name> exists
//     (creating it, with lookupPolicy.local, when the pusher may create image
//     streams), then records the Image with its metadata and, for a tagged
//     push, the tag, through an ImageStreamMapping;
//   - tags are the stream's: reading a tag follows the stream's status (so
//     `gantry tag` and deletes through the API show in the registry), and
//     deleting a tag through the registry removes it from the stream.
//
// Repositories without a stream (content pushed before streams existed)
// fall back to the registry's own tags.

// Streams records pushes in image streams.
type Streams struct {
	// Images is an image.openshift.io client with the system:registry role.
	Images imagev1client.ImageV1Interface
	// Lister, when set, is an informer cache of image streams read before asking the API:
	// reads of tags then cost no API request. Misses fall back to the API.
	Lister imagev1listers.ImageStreamLister
	// Events, when set, receives a Kubernetes Event on the stream per push.
	Events corev1client.EventsGetter
	// Hostname is the registry's host[:port] in the images' pull specs.
	Hostname string
	// Remote, when set, serves the images streams imported from other registries by fetching
	// them there (pull-through, see pullthrough.go).
	Remote Remote
	// Now is the clock for events (default time.Now).
	Now func() time.Time

	authz     Authorizer
	namespace distribution.Namespace // the storage, for images tagged in from other repositories
	recent    recentTags
	blobSets  blobSets
}

// recentTags remembers the tags this registry recorded or deleted in the last moments, for
// reads that come before the informer cache has seen the write (a client pushing, then pulling
// at once; or deleting a tag, then checking that it is gone, as the OCI conformance suite does).
// A remembered write holds only while the cached stream is still the version the write was made
// over: once the cache shows any later version, the cache is the truth (the tag may have been
// moved, written again, or its history pruned since).
type recentTags struct {
	mu sync.Mutex
	m  map[string]recentTag // "<ns>/<stream>:<tag>"
}

type recentTag struct {
	image string // "" for a tag deleted here
	// over is the resourceVersion of the cached stream when the write was made ("" when the
	// cache had none).
	over string
	at   time.Time
}

// recentTagTTL bounds how long a write is remembered; the informer sees a write well within it.
const recentTagTTL = 30 * time.Second

func (r *recentTags) put(key, image, over string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]recentTag{}
	}
	for k, e := range r.m {
		if now.Sub(e.at) > recentTagTTL {
			delete(r.m, k)
		}
	}
	r.m[key] = recentTag{image: image, over: over, at: now}
}

// deleted remembers that this registry deleted a tag.
func (r *recentTags) deleted(key, over string, now time.Time) { r.put(key, "", over, now) }

// current returns key's remembered write when the cached stream st has not caught up with it.
func (r *recentTags) current(key string, st *imagev1.ImageStream, now time.Time) (recentTag, bool) {
	e, ok := r.m[key]
	if !ok {
		return recentTag{}, false
	}
	if now.Sub(e.at) > recentTagTTL || st.ResourceVersion != e.over {
		delete(r.m, key)
		return recentTag{}, false
	}
	return e, true
}

// resolve returns the image a tag points at, given the cached stream: the remembered write (or
// delete) while the cache is still the version it was made over, else the cache's.
func (r *recentTags) resolve(key string, st *imagev1.ImageStream, tag string, now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.current(key, st, now); ok {
		return e.image
	}
	return latestImage(st, tag)
}

// behind tells whether the cached stream st of repository ref (<ns>/<stream>) has not seen a
// tag write or delete this registry made a moment ago.
func (r *recentTags) behind(ref string, st *imagev1.ImageStream, now time.Time) bool {
	prefix := ref + ":"
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		if strings.HasPrefix(k, prefix) {
			if _, ok := r.current(k, st, now); ok {
				return true
			}
		}
	}
	return false
}

func (s *Streams) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

const middlewareName = "gantry-imagestreams"

// tagRE is a valid tag (distribution's, and the image stream API's).
var tagRE = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

// maxConfigSize bounds the image configuration read to record an image.
const maxConfigSize = 8 << 20

var registerMiddlewareOnce sync.Once

func registerStreamsMiddleware() {
	registerMiddlewareOnce.Do(func() {
		_ = repomiddleware.Register(middlewareName, func(ctx context.Context, repo distribution.Repository, options map[string]interface{}) (distribution.Repository, error) {
			s, ok := options["streams"].(*Streams)
			if !ok {
				return nil, fmt.Errorf("registry middleware %q: no image stream hooks in the configuration", middlewareName)
			}
			return s.wrap(repo)
		})
	})
}

func (s *Streams) wrap(repo distribution.Repository) (distribution.Repository, error) {
	ns, name, err := splitRepository(repo.Named().Name())
	if err != nil {
		return nil, distribution.ErrRepositoryNameInvalid{Name: repo.Named().Name(), Reason: err}
	}
	return &streamRepository{Repository: repo, s: s, ns: ns, name: name}, nil
}

type streamRepository struct {
	distribution.Repository
	s        *Streams
	ns, name string
}

func (r *streamRepository) ref() string { return r.ns + "/" + r.name }

func (r *streamRepository) Manifests(ctx context.Context, options ...distribution.ManifestServiceOption) (distribution.ManifestService, error) {
	ms, err := r.Repository.Manifests(ctx, options...)
	if err != nil {
		return nil, err
	}
	return &streamManifests{ManifestService: ms, r: r}, nil
}

func (r *streamRepository) Tags(ctx context.Context) distribution.TagService {
	return &streamTags{TagService: r.Repository.Tags(ctx), r: r}
}

// stream reads the repository's image stream; nil without error when there
// is none.
// The cached copy (Streams.Lister) is used when there is one: it may lag the API by a moment.
func (r *streamRepository) stream(ctx context.Context) (*imagev1.ImageStream, error) {
	if r.s.Lister != nil {
		if st, err := r.s.Lister.ImageStreams(r.ns).Get(r.name); err == nil {
			return st, nil
		}
	}
	return r.liveStream(ctx)
}

// cachedVersion is the resourceVersion of the informer cache's copy of the stream ("" when it has
// none).
func (r *streamRepository) cachedVersion() string {
	if r.s.Lister != nil {
		if st, err := r.s.Lister.ImageStreams(r.ns).Get(r.name); err == nil {
			return st.ResourceVersion
		}
	}
	return ""
}

// liveStream reads the stream from the API.
func (r *streamRepository) liveStream(ctx context.Context) (*imagev1.ImageStream, error) {
	st, err := r.s.Images.ImageStreams(r.ns).Get(ctx, r.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errcode.ErrorCodeUnavailable.WithMessage(fmt.Sprintf("cannot read image stream %s: %v", r.ref(), err))
	}
	return st, nil
}

// ensureStream creates the stream for a push when it does not exist and the
// pusher may create image streams in the project.
func (r *streamRepository) ensureStream(ctx context.Context) error {
	st, err := r.stream(ctx)
	if err != nil || st != nil {
		return err
	}
	u := userFrom(ctx)
	if u == nil {
		return errcode.ErrorCodeDenied.WithMessage("no authenticated user to create image stream " + r.ref())
	}
	ok, err := r.s.authz.Allowed(ctx, u, authorizationv1.ResourceAttributes{
		Namespace: r.ns, Verb: "create", Group: imagev1.GroupName, Resource: "imagestreams", Name: r.name,
	})
	if err != nil {
		return errcode.ErrorCodeUnavailable.WithMessage("cannot check access: " + err.Error())
	}
	if !ok {
		return errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf(
			"%s may not create image stream %s: push to an existing stream, or ask an admin of project %s for the edit role",
			u.GetName(), r.ref(), r.ns))
	}
	_, err = r.s.Images.ImageStreams(r.ns).Create(ctx, &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: r.name},
		Spec:       imagev1.ImageStreamSpec{LookupPolicy: imagev1.ImageLookupPolicy{Local: true}},
	}, metav1.CreateOptions{})
	switch {
	case err == nil || apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		return errcode.ErrorCodeNameUnknown.WithMessage(fmt.Sprintf("cannot create image stream %s: %v (does project %s exist?)", r.ref(), apiMessage(err), r.ns))
	default:
		return errcode.ErrorCodeUnavailable.WithMessage(fmt.Sprintf("cannot create image stream %s: %v", r.ref(), apiMessage(err)))
	}
}

func apiMessage(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().Message
	}
	return err.Error()
}

type streamManifests struct {
	distribution.ManifestService
	r *streamRepository
}

// Put stores the manifest and records it in the image stream.
func (m *streamManifests) Put(ctx context.Context, manifest distribution.Manifest, options ...distribution.ManifestServiceOption) (digest.Digest, error) {
	tag := ""
	for _, o := range options {
		if t, ok := o.(distribution.WithTagOption); ok {
			tag = t.Tag
		}
	}
	if tag != "" && !tagRE.MatchString(tag) {
		return "", errcode.ErrorCodeTagInvalid.WithMessage(fmt.Sprintf("%q is not a tag: a letter, digit or '_' followed by up to 127 letters, digits, '_', '.' or '-'", tag))
	}
	if err := m.r.ensureStream(ctx); err != nil {
		return "", err
	}
	dgst, err := m.ManifestService.Put(ctx, manifest, options...)
	if err != nil {
		return dgst, invalidManifest(err)
	}
	if err := m.r.record(ctx, manifest, dgst, tag); err != nil {
		klog.ErrorS(err, "Recording a pushed image failed", "repository", m.r.ref(), "digest", dgst, "tag", tag)
		return "", errcode.ErrorCodeUnavailable.WithMessage(fmt.Sprintf(
			"the manifest was stored but could not be recorded in image stream %s: %v; push again", m.r.ref(), err))
	}
	return dgst, nil
}

// record creates the Image of a pushed manifest and, for a tagged push,
// adds it to the tag's history through an ImageStreamMapping.
func (r *streamRepository) record(ctx context.Context, manifest distribution.Manifest, dgst digest.Digest, tag string) error {
	mediaType, payload, err := manifest.Payload()
	if err != nil {
		return err
	}
	var config []byte
	if cfg, err := imagemeta.ConfigDigest(mediaType, payload); err != nil {
		return err
	} else if cfg != "" {
		blobs := r.Repository.Blobs(ctx)
		d, err := digest.Parse(cfg)
		if err != nil {
			return fmt.Errorf("config digest %q: %w", cfg, err)
		}
		desc, err := blobs.Stat(ctx, d)
		if err != nil {
			return fmt.Errorf("image config %s: %w", d, err)
		}
		if desc.Size > maxConfigSize {
			return fmt.Errorf("image config %s is %d bytes, more than the %d bytes allowed", d, desc.Size, maxConfigSize)
		}
		if config, err = blobs.Get(ctx, d); err != nil {
			return fmt.Errorf("image config %s: %w", d, err)
		}
	}
	img, err := imagemeta.Image(mediaType, payload, config, r.s.Hostname+"/"+r.ref()+"@"+dgst.String())
	if err != nil {
		return err
	}
	if img.Annotations == nil {
		img.Annotations = map[string]string{}
	}
	img.Annotations[imagev1.ManagedByOpenShiftAnnotation] = "true"
	if tag == "" {
		_, err := r.s.Images.Images().Create(ctx, img, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
		return err
	}
	cachedVersion := r.cachedVersion()
	_, err = r.s.Images.ImageStreamMappings(r.ns).Create(ctx, &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: r.name},
		Image:      *img,
		Tag:        tag,
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	r.s.recent.put(r.ref()+":"+tag, dgst.String(), cachedVersion, r.s.now())
	r.event(ctx, tag, dgst)
	return nil
}

// event reports a push on the stream, for people watching the project.
func (r *streamRepository) event(ctx context.Context, tag string, dgst digest.Digest) {
	if r.s.Events == nil {
		return
	}
	who := "someone"
	if u := userFrom(ctx); u != nil {
		who = u.GetName()
	}
	t := metav1.NewTime(r.s.now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: r.name + ".", Namespace: r.ns},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: imagev1.GroupVersion.String(), Kind: "ImageStream", Namespace: r.ns, Name: r.name,
		},
		Reason:         "Pushed",
		Message:        fmt.Sprintf("%s pushed %s to tag %s", who, dgst, tag),
		Type:           corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "gantry-registry"},
		FirstTimestamp: t, LastTimestamp: t, Count: 1,
	}
	// Off the push's path: the client does not wait for the event.
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := r.s.Events.Events(r.ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			klog.V(2).InfoS("Cannot record a push event", "stream", r.ref(), "err", err)
		}
	}()
}

// streamTags serves the stream's tags.
type streamTags struct {
	distribution.TagService
	r *streamRepository
}

func latestImage(s *imagev1.ImageStream, tag string) string {
	for _, t := range s.Status.Tags {
		if t.Tag == tag && len(t.Items) > 0 {
			return t.Items[0].Image
		}
	}
	return ""
}

// Get resolves tag through the stream: from the informer cache, and the tags this
// registry recorded a moment ago (which the cache may not have seen yet). A tag the
// cache does not know is looked up in the API, so one written there an instant ago
// is found; except for HEAD requests, which clients send before every push to see
// whether the tag is there already (it mostly is not): those are answered from the
// cache alone.
func (t *streamTags) Get(ctx context.Context, tag string) (v1.Descriptor, error) {
	st, err := t.r.stream(ctx)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if st == nil {
		return t.TagService.Get(ctx, tag)
	}
	key := t.r.ref() + ":" + tag
	img := t.r.s.recent.resolve(key, st, tag, t.r.s.now())
	if img == "" && t.r.s.Lister != nil && !isHead(ctx) {
		if st, err = t.r.liveStream(ctx); err != nil {
			return v1.Descriptor{}, err
		}
		if st != nil {
			img = latestImage(st, tag)
		}
	}
	if img == "" {
		return v1.Descriptor{}, distribution.ErrTagUnknown{Tag: tag}
	}
	d, err := digest.Parse(img)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("tag %s of %s points at %q, not a digest", tag, t.r.ref(), img)
	}
	return v1.Descriptor{Digest: d}, nil
}

// All lists the stream's tags that have an image: from the cache, unless it has not yet seen
// a tag this registry wrote or deleted a moment ago.
func (t *streamTags) All(ctx context.Context) ([]string, error) {
	st, err := t.r.stream(ctx)
	if err != nil {
		return nil, err
	}
	if st != nil && t.r.s.Lister != nil && t.r.s.recent.behind(t.r.ref(), st, t.r.s.now()) {
		if st, err = t.r.liveStream(ctx); err != nil {
			return nil, err
		}
	}
	if st == nil {
		return t.TagService.All(ctx)
	}
	var tags []string
	for _, tag := range st.Status.Tags {
		if len(tag.Items) > 0 {
			tags = append(tags, tag.Tag)
		}
	}
	if len(tags) == 0 {
		return nil, distribution.ErrRepositoryUnknown{Name: t.r.ref()}
	}
	sort.Strings(tags)
	return tags, nil
}

// Lookup returns the stream's tags whose current image is desc's digest. Distribution asks it
// when a manifest is deleted, and untags what it returns: answering from the repository's own tag
// links, which keep the last digest pushed to a tag even after the stream's tag was moved
// elsewhere, would delete a live tag from the stream when an image pruner deletes that old
// manifest.
func (t *streamTags) Lookup(ctx context.Context, desc v1.Descriptor) ([]string, error) {
	st, err := t.r.liveStream(ctx)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return t.TagService.Lookup(ctx, desc)
	}
	var tags []string
	for _, tag := range st.Status.Tags {
		if len(tag.Items) > 0 && tag.Items[0].Image == desc.Digest.String() {
			tags = append(tags, tag.Tag)
		}
	}
	return tags, nil
}

// Untag removes the tag from the registry and from the stream.
func (t *streamTags) Untag(ctx context.Context, tag string) error {
	err := t.TagService.Untag(ctx, tag)
	var unknown distribution.ErrTagUnknown
	if err != nil && !errors.As(err, &unknown) {
		return err
	}
	st, serr := t.r.liveStream(ctx)
	if serr != nil {
		return serr
	}
	if st == nil || latestImage(st, tag) == "" {
		return err
	}
	derr := t.r.s.Images.ImageStreamTags(t.r.ns).Delete(ctx, t.r.name+":"+tag, metav1.DeleteOptions{})
	if derr != nil && !apierrors.IsNotFound(derr) {
		return errcode.ErrorCodeUnavailable.WithMessage(fmt.Sprintf("cannot remove tag %s from image stream %s: %v", tag, t.r.ref(), apiMessage(derr)))
	}
	// The informer cache tags are read from sees the delete a moment later: until it does, the
	// tag is gone for reads all the same.
	t.r.s.recent.deleted(t.r.ref()+":"+tag, t.r.cachedVersion(), t.r.s.now())
	return nil
}

// invalidManifest turns a manifest verification failure that distribution would answer with 500
// (a layer with foreign URLs: "invalid URL on layer") into 400 MANIFEST_INVALID saying why.
// Failures distribution answers precisely (unknown blobs, bad names, digests) pass unchanged.
func invalidManifest(err error) error {
	var verr distribution.ErrManifestVerification
	if !errors.As(err, &verr) {
		return err
	}
	var other []string
	for _, e := range verr {
		switch e.(type) {
		case distribution.ErrManifestBlobUnknown, distribution.ErrManifestNameInvalid, distribution.ErrManifestUnverified:
		default:
			if !errors.Is(e, digest.ErrDigestInvalidFormat) {
				other = append(other, e.Error())
			}
		}
	}
	if len(other) == 0 {
		return err
	}
	return errcode.ErrorCodeManifestInvalid.WithMessage("manifest refused: " + strings.Join(other, "; ") +
		" (layers must be pushed to this registry: foreign, non-distributable layers are not accepted)")
}
