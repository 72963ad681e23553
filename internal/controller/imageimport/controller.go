// Package imageimport is the image import controller (OpenShift's image stream and scheduled
// import controllers in one): it watches image streams and imports, through the
// imagestreamimports API, the spec tags from a DockerImage whose generation is newer than what
// their status has seen (what makes `gantry tag docker.example.com/x:1 app:1` work), a
// spec.dockerImageRepository never checked, and, every ScheduledImportInterval (with jitter), the
// tags with importPolicy.scheduled. Outcomes are recorded by the import itself (tag events, or
// an ImportSuccess=False condition carrying the generation, so a failure is not retried until
// the spec changes or the schedule comes); the controller adds Kubernetes events on the stream:
// Imported for a new image, ImportFailed for a failure. A stream whose import request fails is
// retried with a per-stream exponential backoff.
package imageimport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	imagelisters "github.com/openshift/client-go/image/listers/image/v1"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Defaults of Options.
const (
	DefaultScheduledImportInterval = 15 * time.Minute
	DefaultWorkers                 = 4
	// importTimeout bounds one import request.
	importTimeout = 5 * time.Minute
)

// Event reasons on image streams.
const (
	ReasonImported     = "Imported"
	ReasonImportFailed = "ImportFailed"
)

// Options configures the controller.
type Options struct {
	// ScheduledImportInterval is how often tags with importPolicy.scheduled are imported again
	// (default 15 minutes); each stream's time gets up to a tenth of it as jitter.
	ScheduledImportInterval time.Duration
	// Workers is how many streams are imported at once (default 4).
	Workers int
}

// Run imports until ctx is done. kube records events; images reads image streams and creates
// imagestreamimports in every namespace.
func Run(ctx context.Context, kube kubernetes.Interface, images imageclient.Interface, opts Options) error {
	factory := imageinformers.NewSharedInformerFactory(images, 0)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(eventScheme(), corev1.EventSource{Component: "gantry-image-import-controller"})
	c := newController(images, factory, recorder, opts)
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return fmt.Errorf("image import controller: image streams did not sync: %w", ctx.Err())
	}
	c.run(ctx, opts.Workers)
	return nil
}

// eventScheme knows ImageStream, so events can refer to streams.
func eventScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(scheme.AddToScheme(s))
	utilruntime.Must(imagev1.Install(s))
	return s
}

type controller struct {
	images   imageclient.Interface
	streams  imagelisters.ImageStreamLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	interval time.Duration
	now      func() time.Time
	jitter   func(time.Duration) time.Duration

	mu sync.Mutex
	// tried holds, per stream, the spec generation of each tag already imported by this
	// controller, so an import whose outcome does not show in the status is not repeated in a
	// loop.
	tried map[string]map[string]int64
	// next is when each stream with scheduled tags is imported again.
	next map[string]time.Time
}

func newController(images imageclient.Interface, factory imageinformers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *controller {
	interval := opts.ScheduledImportInterval
	if interval <= 0 {
		interval = DefaultScheduledImportInterval
	}
	inf := factory.Image().V1().ImageStreams()
	c := &controller{
		images:   images,
		streams:  inf.Lister(),
		synced:   inf.Informer().HasSynced,
		recorder: recorder,
		interval: interval,
		now:      time.Now,
		jitter: func(d time.Duration) time.Duration {
			if d < 10 {
				return 0
			}
			return rand.N(d / 10)
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "gantry-image-import"}),
		tried: map[string]map[string]int64{},
		next:  map[string]time.Time{},
	}
	enqueue := func(obj interface{}) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(old, cur interface{}) {
			if o, ok := old.(*imagev1.ImageStream); ok {
				if n, ok := cur.(*imagev1.ImageStream); ok && o.ResourceVersion == n.ResourceVersion {
					return
				}
			}
			enqueue(cur)
		},
		DeleteFunc: enqueue,
	})
	return c
}

func (c *controller) run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	if workers <= 0 {
		workers = DefaultWorkers
	}
	klog.FromContext(ctx).Info("Starting the image import controller", "scheduledInterval", c.interval, "workers", workers)
	for range workers {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for c.processNextWorkItem(ctx) {
			}
		}, time.Second)
	}
	<-ctx.Done()
}

func (c *controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil {
		klog.FromContext(ctx).V(2).Info("Image stream import will be retried", "stream", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// importable reports whether the controller imports a spec tag: from a DockerImage, not a
// reference-only tag.
func importable(t imagev1.TagReference) bool {
	return t.From != nil && t.From.Kind == "DockerImage" && !t.Reference
}

// observedGeneration is the newest generation the status of tag shows: of its newest event or
// of its ImportSuccess condition (a failed import).
func observedGeneration(s *imagev1.ImageStream, tag string) int64 {
	gen := int64(0)
	for _, l := range s.Status.Tags {
		if l.Tag != tag {
			continue
		}
		if len(l.Items) > 0 {
			gen = l.Items[0].Generation
		}
		for _, c := range l.Conditions {
			if c.Type == imagev1.ImportSuccess && c.Generation > gen {
				gen = c.Generation
			}
		}
	}
	return gen
}

// needsImport reports whether a tag's spec is newer than its status.
func needsImport(s *imagev1.ImageStream, t imagev1.TagReference) bool {
	return importable(t) && t.Generation != nil && *t.Generation > observedGeneration(s, t.Name)
}

// scheduled reports whether a tag is imported periodically: a tag pinned to a digest only until
// it has been imported once.
func scheduled(s *imagev1.ImageStream, t imagev1.TagReference) bool {
	if !importable(t) || !t.ImportPolicy.Scheduled {
		return false
	}
	ref, err := imageref.Parse(t.From.Name)
	if err != nil {
		return false
	}
	return ref.ID == "" || needsImport(s, t)
}

// repositoryUnchecked reports whether spec.dockerImageRepository has never been imported.
func repositoryUnchecked(s *imagev1.ImageStream) bool {
	return s.Spec.DockerImageRepository != "" && s.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] == ""
}

func (c *controller) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tried, key)
	delete(c.next, key)
}

// plan decides what to import of a stream now: the tags whose spec is newer than their status
// (and not yet tried at that generation), the scheduled tags when their time has come, the
// repository when never checked. due reports a scheduled import.
func (c *controller) plan(key string, s *imagev1.ImageStream, now time.Time) (tags []imagev1.TagReference, repository, due bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tried := c.tried[key]
	hasScheduled := false
	for _, t := range s.Spec.Tags {
		if scheduled(s, t) {
			hasScheduled = true
		}
	}
	next, known := c.next[key]
	switch {
	case !hasScheduled:
		delete(c.next, key)
	case !known:
		// Newly seen: imported on its spec generation now, on the schedule from now on.
		c.next[key] = now.Add(c.interval + c.jitter(c.interval))
	case !now.Before(next):
		due = true
	}
	for _, t := range s.Spec.Tags {
		switch {
		case due && scheduled(s, t):
			tags = append(tags, t)
		case needsImport(s, t):
			if g, ok := tried[t.Name]; !ok || g != *t.Generation {
				tags = append(tags, t)
			}
		case tried != nil:
			delete(tried, t.Name)
		}
	}
	return tags, repositoryUnchecked(s), due
}

func (c *controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	s, err := c.streams.ImageStreams(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	now := c.now()
	tags, repository, due := c.plan(key, s, now)
	defer c.scheduleNext(key)
	if len(tags) == 0 && !repository {
		return nil
	}
	isi := &imagev1.ImageStreamImport{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, ResourceVersion: s.ResourceVersion, UID: s.UID},
		Spec:       imagev1.ImageStreamImportSpec{Import: true},
	}
	for _, t := range tags {
		isi.Spec.Images = append(isi.Spec.Images, imagev1.ImageImportSpec{
			From:            corev1.ObjectReference{Kind: "DockerImage", Name: t.From.Name},
			To:              &corev1.LocalObjectReference{Name: t.Name},
			ImportPolicy:    t.ImportPolicy,
			ReferencePolicy: t.ReferencePolicy,
		})
	}
	if repository {
		isi.Spec.Repository = &imagev1.RepositoryImportSpec{
			From:         corev1.ObjectReference{Kind: "DockerImage", Name: s.Spec.DockerImageRepository},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: s.Annotations[imagev1.InsecureRepositoryAnnotation] == "true"},
		}
	}
	rctx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	out, err := c.images.ImageV1().ImageStreamImports(ns).Create(rctx, isi, metav1.CreateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.forget(key) // deleted meanwhile
		return nil
	case apierrors.IsConflict(err):
		return err // changed meanwhile: the informer brings the new version
	case err != nil:
		c.recorder.Eventf(s, corev1.EventTypeWarning, ReasonImportFailed, "Import of %s failed: %v", describeTags(tags, repository, s), err)
		return err
	}
	c.mu.Lock()
	if c.tried[key] == nil {
		c.tried[key] = map[string]int64{}
	}
	for _, t := range tags {
		c.tried[key][t.Name] = *t.Generation
	}
	if due {
		c.next[key] = now.Add(c.interval + c.jitter(c.interval))
	}
	c.mu.Unlock()
	c.report(s, out)
	return nil
}

// scheduleNext has the queue bring the stream back when its scheduled import is due.
func (c *controller) scheduleNext(key string) {
	c.mu.Lock()
	next, ok := c.next[key]
	c.mu.Unlock()
	// A due time in the past means the import failed: the rate limiter brings the stream back.
	if d := next.Sub(c.now()); ok && d > 0 {
		c.queue.AddAfter(key, d)
	}
}

func describeTags(tags []imagev1.TagReference, repository bool, s *imagev1.ImageStream) string {
	names := make([]string, 0, len(tags))
	for _, t := range tags {
		names = append(names, s.Name+":"+t.Name)
	}
	sort.Strings(names)
	out := strings.Join(names, ", ")
	if repository {
		out += " and repository " + s.Spec.DockerImageRepository
	}
	return out
}

// report records events: Imported for each tag whose newest image changed, ImportFailed for
// each tag that failed.
func (c *controller) report(before *imagev1.ImageStream, isi *imagev1.ImageStreamImport) {
	newest := func(s *imagev1.ImageStream, tag string) string {
		if s == nil {
			return ""
		}
		for _, l := range s.Status.Tags {
			if l.Tag == tag && len(l.Items) > 0 {
				return l.Items[0].Image
			}
		}
		return ""
	}
	one := func(tag, from string, st imagev1.ImageImportStatus) {
		if st.Status.Status != metav1.StatusSuccess || st.Image == nil {
			c.recorder.Eventf(before, corev1.EventTypeWarning, ReasonImportFailed, "Import of %s:%s from %s failed: %s", before.Name, tag, from, st.Status.Message)
			return
		}
		if img := newest(isi.Status.Import, tag); img != "" && img != newest(before, tag) {
			c.recorder.Eventf(before, corev1.EventTypeNormal, ReasonImported, "Imported %s:%s from %s: image %s", before.Name, tag, from, img)
		}
	}
	for i, spec := range isi.Spec.Images {
		if spec.To != nil && i < len(isi.Status.Images) {
			one(spec.To.Name, spec.From.Name, isi.Status.Images[i])
		}
	}
	if r := isi.Status.Repository; r != nil && isi.Spec.Repository != nil {
		if len(r.Images) == 0 && r.Status.Status != metav1.StatusSuccess {
			c.recorder.Eventf(before, corev1.EventTypeWarning, ReasonImportFailed, "Import of repository %s failed: %s", isi.Spec.Repository.From.Name, r.Status.Message)
		}
		for _, st := range r.Images {
			if st.Tag != "" {
				one(st.Tag, isi.Spec.Repository.From.Name+":"+st.Tag, st)
			}
		}
	}
}
