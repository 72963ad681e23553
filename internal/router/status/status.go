// Package status writes a router's verdict on routes into their
// status.ingress, through the routes/status subresource.
//
// The Writer is level-based: every Sync hands it the whole set of changes
// the last route build wants, replacing whatever was still waiting, so a
// verdict overtaken by a newer one is never written. Workers read the route
// from the informer cache, apply the change to a copy (model.StatusChange
// touches only this router's own entry, so routers sharing a route never
// undo each other's entries) and write only when the status differs. A
// conflict is retried against a fresh read from the API; other errors go
// back on the rate-limited queue with backoff.
package status

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned/typed/route/v1"
	routelisters "github.com/openshift/client-go/route/listers/route/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// DefaultWorkers is how many status writes run at once.
const DefaultWorkers = 4

// Config is what a Writer writes and how.
type Config struct {
	// Client writes routes/status; Lister is the route informer's cache the
	// changes were computed from.
	Client routeclient.RoutesGetter
	Lister routelisters.RouteLister
	// RouterName and CanonicalHostname identify this router's ingress entry.
	RouterName        string
	CanonicalHostname string
	// Workers is the number of concurrent writes; 0 means DefaultWorkers.
	Workers int
	// Now stamps condition transitions; nil means time.Now.
	Now func() time.Time
}

// Writer writes status changes. Create it with New, Run it, and feed it
// with Sync.
type Writer struct {
	cfg   Config
	queue workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	pending map[string]model.StatusChange
}

// New returns a Writer.
func New(cfg Config) (*Writer, error) {
	if cfg.Client == nil || cfg.Lister == nil {
		return nil, errors.New("route status writer: a route client and lister are required")
	}
	if cfg.RouterName == "" {
		return nil, errors.New("route status writer: a router name is required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Writer{
		cfg: cfg,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "route-status"}),
		pending: map[string]model.StatusChange{},
	}, nil
}

// Sync replaces the changes still to be written with changes: a route
// missing from them is no longer to be written, even if an earlier Sync
// asked for it. It never blocks on the API.
func (w *Writer) Sync(changes []model.StatusChange) {
	next := make(map[string]model.StatusChange, len(changes))
	for _, c := range changes {
		next[c.Key()] = c
	}
	w.mu.Lock()
	w.pending = next
	w.mu.Unlock()
	// Queue from the slice: once published, next belongs to the workers,
	// which delete what they have written (ranging over it here raced
	// them: a fatal concurrent map iteration and write at 10k routes).
	for _, c := range changes {
		w.queue.Add(c.Key())
	}
}

// Run writes until ctx is done.
func (w *Writer) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	var wg sync.WaitGroup
	for i := 0; i < w.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for w.processNext(ctx) {
				}
			}, time.Second)
		}()
	}
	<-ctx.Done()
	w.queue.ShutDown()
	wg.Wait()
}

func (w *Writer) processNext(ctx context.Context) bool {
	key, quit := w.queue.Get()
	if quit {
		return false
	}
	defer w.queue.Done(key)
	w.mu.Lock()
	c, ok := w.pending[key]
	w.mu.Unlock()
	if !ok {
		w.queue.Forget(key)
		return true
	}
	if err := w.write(ctx, c); err != nil {
		klog.V(2).InfoS("Route status write will be retried", "route", key, "err", err)
		w.queue.AddRateLimited(key)
		return true
	}
	w.queue.Forget(key)
	w.mu.Lock()
	if cur, ok := w.pending[key]; ok && cur == c {
		delete(w.pending, key)
	}
	w.mu.Unlock()
	return true
}

// write applies one change to the route, reading it from the cache first
// and from the API after a conflict.
func (w *Writer) write(ctx context.Context, c model.StatusChange) error {
	fresh := false
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var r *routev1.Route
		var err error
		if fresh {
			r, err = w.cfg.Client.Routes(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
		} else {
			r, err = w.cfg.Lister.Routes(c.Namespace).Get(c.Name)
		}
		fresh = true
		if apierrors.IsNotFound(err) {
			return nil // deleted: nothing to write
		}
		if err != nil {
			return err
		}
		if c.UID != "" && r.UID != c.UID {
			return nil // deleted and created again: the next build judges the new one
		}
		r = r.DeepCopy()
		if !c.Apply(r, w.cfg.RouterName, w.cfg.CanonicalHostname, w.cfg.Now()) {
			return nil
		}
		if _, err := w.cfg.Client.Routes(c.Namespace).UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			if apierrors.IsConflict(err) {
				return err
			}
			return fmt.Errorf("update status of route %s: %w", c.Key(), err)
		}
		return nil
	})
}

// Pending is how many routes still wait for a write.
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}
