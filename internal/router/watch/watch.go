package watch

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	routev1 "github.com/openshift/api/route/v1"

	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	routeinformers "github.com/openshift/client-go/route/informers/externalversions"
	routev1informers "github.com/openshift/client-go/route/informers/externalversions/route/v1"
	routelisters "github.com/openshift/client-go/route/listers/route/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// DefaultMinInterval is the shortest time between two rebuilds under a
// stream of changes. A change after a quiet spell is built at once.
const DefaultMinInterval = 50 * time.Millisecond

// DefaultStatusInterval is the shortest time between two route builds
// caused only by status updates of routes.
const DefaultStatusInterval = time.Second

// StatusSink takes the status changes of each route build. Sync is called
// from the rebuild loop with every change still wanted (a level, not a
// delta) and must not block on the API.
type StatusSink interface {
	Sync(changes []model.StatusChange)
}

// Config is what a Watcher watches and whom it feeds.
type Config struct {
	// Routes and Kube are the informer factories the watcher takes its
	// routes, and its services, EndpointSlices and namespaces from. The
	// watcher registers its informers and starts both factories; the status
	// writer shares the route informer through Routes. Create both with
	// the Trim transform (informers.WithTransform(Trim)) so their caches
	// hold only what the router reads.
	Routes routeinformers.SharedInformerFactory
	Kube   informers.SharedInformerFactory
	// Builder admits routes for this router (its name, shard and policy).
	Builder *model.Builder
	// WatchNamespaces makes the watcher watch namespaces for their labels:
	// needed, and only needed, with a namespace selector.
	WatchNamespaces bool
	// Dataplanes each get every new Table, in order, from one goroutine.
	Dataplanes []model.Dataplane
	// Status, when set, gets the status changes of every route build.
	Status StatusSink
	// MinInterval is the shortest time between rebuilds under a stream of
	// changes; 0 means DefaultMinInterval.
	MinInterval time.Duration
	// StatusInterval is the shortest time between route builds caused only
	// by updates of routes' status (routers' own writes: thousands after a
	// start, and every other router's); 0 means DefaultStatusInterval. A
	// status update changes nothing that is served, only whether this
	// router's entry still needs writing.
	StatusInterval time.Duration
	// Metrics, when set, records rebuilds.
	Metrics *Metrics
}

// Watcher rebuilds Tables from the cluster's state. Create it with New,
// then Run it.
type Watcher struct {
	cfg        Config
	routes     routelisters.RouteLister
	services   corelisters.ServiceLister
	namespaces corelisters.NamespaceLister
	slices     cache.Indexer
	synced     []cache.InformerSynced

	kick chan struct{}

	mu          sync.Mutex
	routesDirty bool
	statusDirty bool            // only routes' status changed since the last route build
	dirtySvcs   map[string]bool // services (namespace/name) whose endpoints must be merged again

	// Owned by the rebuild loop.
	snap      *model.Snapshot
	endpoints map[svcRef]cachedEndpoints         // merged endpoints of the services last referenced
	eps       map[string]*model.ServiceEndpoints // the last Table's endpoints (shared with it: never modified)
	epsSnap   *model.Snapshot                    // the routes eps was made for
	seq       uint64                             // the last Table's Seq

	table   atomic.Pointer[model.Table]
	served  chan struct{} // closed once the first Table went to the data planes
	builds  atomic.Uint64
	lastDur atomic.Int64
}

// serviceIndex indexes EndpointSlices by the namespace/name of their
// service (the kubernetes.io/service-name label).
const serviceIndex = "service"

// New registers the watcher's informers with the factories.
func New(cfg Config) (*Watcher, error) {
	if cfg.Routes == nil || cfg.Kube == nil {
		return nil, errors.New("router watch: the route and Kubernetes informer factories are required")
	}
	if cfg.Builder == nil {
		return nil, errors.New("router watch: a route builder is required")
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = DefaultMinInterval
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = DefaultStatusInterval
	}
	w := &Watcher{
		cfg:       cfg,
		kick:      make(chan struct{}, 1),
		dirtySvcs: map[string]bool{},
		endpoints: map[svcRef]cachedEndpoints{},
		served:    make(chan struct{}),
	}
	// The informers without the namespace index the factories give them:
	// nothing here lists by namespace, and at 10,000 routes the index of
	// each cache is a set entry per object.
	cfg.Routes.InformerFor(&routev1.Route{}, func(c routeclient.Interface, resync time.Duration) cache.SharedIndexInformer {
		return routev1informers.NewRouteInformer(c, metav1.NamespaceAll, resync, cache.Indexers{})
	})
	cfg.Kube.InformerFor(&corev1.Service{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return coreinformers.NewServiceInformer(c, metav1.NamespaceAll, resync, cache.Indexers{})
	})
	cfg.Kube.InformerFor(&discoveryv1.EndpointSlice{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return discoveryinformers.NewEndpointSliceInformer(c, metav1.NamespaceAll, resync, cache.Indexers{})
	})
	ri := cfg.Routes.Route().V1().Routes()
	w.routes = ri.Lister()
	routeEvents := handler(w.routeChanged)
	routeEvents.UpdateFunc = w.routeUpdated
	rr, err := ri.Informer().AddEventHandler(routeEvents)
	if err != nil {
		return nil, err
	}
	si := cfg.Kube.Core().V1().Services()
	w.services = si.Lister()
	sr, err := si.Informer().AddEventHandler(handler(w.serviceChanged))
	if err != nil {
		return nil, err
	}
	ei := cfg.Kube.Discovery().V1().EndpointSlices().Informer()
	if err := ei.AddIndexers(cache.Indexers{serviceIndex: sliceService}); err != nil {
		return nil, err
	}
	er, err := ei.AddEventHandler(handler(w.sliceChanged))
	if err != nil {
		return nil, err
	}
	w.slices = ei.GetIndexer()
	// The registrations' HasSynced, not the informers': the first build
	// waits until the handlers have seen every object of the first list,
	// so their kicks come before it and are drained, not built again.
	w.synced = []cache.InformerSynced{rr.HasSynced, sr.HasSynced, er.HasSynced}
	if cfg.WatchNamespaces {
		ni := cfg.Kube.Core().V1().Namespaces()
		w.namespaces = ni.Lister()
		nr, err := ni.Informer().AddEventHandler(handler(func(any) { w.routeChanged(nil) }))
		if err != nil {
			return nil, err
		}
		w.synced = append(w.synced, nr.HasSynced)
	}
	return w, nil
}

// handler calls f with the object of every add, update and delete
// (tombstones unwrapped).
func handler(f func(obj any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    f,
		UpdateFunc: func(_, obj any) { f(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			f(obj)
		},
	}
}

func (w *Watcher) routeChanged(any) {
	w.mu.Lock()
	w.routesDirty = true
	w.mu.Unlock()
	w.wake()
}

// routeUpdated tells status-only updates from the others.
func (w *Watcher) routeUpdated(oldObj, newObj any) {
	o, ok1 := oldObj.(*routev1.Route)
	n, ok2 := newObj.(*routev1.Route)
	if !ok1 || !ok2 || !statusOnly(o, n) {
		w.routeChanged(newObj)
		return
	}
	w.mu.Lock()
	w.statusDirty = true
	w.mu.Unlock()
	w.wake()
}

// statusOnly reports whether an update changed nothing the Builder reads
// but the status.
func statusOnly(o, n *routev1.Route) bool { return model.SameSpec(o, n) }

func (w *Watcher) serviceChanged(obj any) {
	if s, ok := obj.(*corev1.Service); ok {
		w.serviceDirty(model.ServiceKey(s.Namespace, s.Name))
	}
}

func (w *Watcher) sliceChanged(obj any) {
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			w.serviceDirty(model.ServiceKey(s.Namespace, name))
		}
	}
}

func (w *Watcher) serviceDirty(key string) {
	w.mu.Lock()
	w.dirtySvcs[key] = true
	w.mu.Unlock()
	w.wake()
}

// wake asks the loop for a rebuild without ever blocking the caller.
func (w *Watcher) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{model.ServiceKey(s.Namespace, name)}, nil
}

// RouteLister is the lister of the route informer the watcher builds from.
func (w *Watcher) RouteLister() routelisters.RouteLister { return w.routes }

// Run starts the informer factories, waits for their caches, serves the
// first Table and then rebuilds on every change until ctx is done.
func (w *Watcher) Run(ctx context.Context) error {
	w.cfg.Routes.Start(ctx.Done())
	w.cfg.Kube.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), w.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("router watch: the route, service and endpoint caches did not sync")
	}
	select { // the first list's kicks: the first build covers them
	case <-w.kick:
	default:
	}
	w.mu.Lock()
	w.routesDirty = true
	w.mu.Unlock()
	w.rebuild()
	close(w.served)
	last, lastRoutes := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		}
		if !sleep(ctx, time.Until(last.Add(w.cfg.MinInterval)), nil) {
			return nil
		}
		// Status updates alone wait for the slow lane, unless a change
		// that is served comes in meanwhile.
		for w.onlyStatusDirty() {
			wait := time.Until(lastRoutes.Add(w.cfg.StatusInterval))
			if wait <= 0 {
				break
			}
			if !sleep(ctx, wait, w.kick) {
				return nil
			}
		}
		if !w.anyDirty() {
			continue
		}
		last = time.Now()
		if w.rebuild() {
			lastRoutes = last
		}
	}
}

// sleep waits for d, or until wake (when not nil) receives; it returns
// false when ctx is done.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

func (w *Watcher) anyDirty() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.statusDirty || w.routesDirty || len(w.dirtySvcs) > 0
}

func (w *Watcher) onlyStatusDirty() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.statusDirty && !w.routesDirty && len(w.dirtySvcs) == 0
}

// Served is closed once the first Table has been handed to the data planes.
func (w *Watcher) Served() <-chan struct{} { return w.served }

// Table is the last Table handed to the data planes, nil before the first.
func (w *Watcher) Table() *model.Table { return w.table.Load() }

// rebuild builds a Table from the caches and hands it to the data planes.
// It reports whether the routes were built again.
func (w *Watcher) rebuild() bool {
	start := time.Now()
	w.mu.Lock()
	routesDirty, dirty := w.routesDirty || w.statusDirty, w.dirtySvcs
	w.routesDirty, w.statusDirty, w.dirtySvcs = false, false, map[string]bool{}
	w.mu.Unlock()

	var changes []model.StatusChange
	if routesDirty || w.snap == nil {
		routes, err := w.routes.List(labels.Everything())
		if err != nil { // a cache lister does not fail
			klog.ErrorS(err, "List routes from the cache")
		}
		var nsLabels map[string]map[string]string
		if w.namespaces != nil {
			nsLabels = w.namespaceLabels()
		}
		w.snap, changes = w.cfg.Builder.Build(routes, nsLabels)
	}
	prevSeq := w.seq
	eps, changedSvcs := w.referencedEndpoints(dirty)
	w.seq++
	t := &model.Table{Routes: w.snap, Endpoints: eps, Seq: w.seq}
	if prevSeq > 0 {
		t.EndpointsDelta = &model.EndpointsDelta{Since: prevSeq, Services: changedSvcs}
	}
	w.table.Store(t)
	w.builds.Add(1) // before the data planes see it: Stats never lags them
	for _, dp := range w.cfg.Dataplanes {
		dp.Update(t)
	}
	if routesDirty && w.cfg.Status != nil {
		w.cfg.Status.Sync(changes)
	}
	d := time.Since(start)
	w.lastDur.Store(int64(d))
	if m := w.cfg.Metrics; m != nil {
		m.observe(d, routesDirty, w.snap.Len(), len(changes))
	}
	klog.V(4).InfoS("Router table rebuilt", "routes", w.snap.Len(), "services", len(eps), "statusChanges", len(changes), "routesRebuilt", routesDirty, "took", d)
	return routesDirty
}

func (w *Watcher) namespaceLabels() map[string]map[string]string {
	nss, err := w.namespaces.List(labels.Everything())
	if err != nil {
		klog.ErrorS(err, "List namespaces from the cache")
	}
	out := make(map[string]map[string]string, len(nss))
	for _, ns := range nss {
		out[ns.Name] = ns.Labels
	}
	return out
}

// svcRef names a service without building its "namespace/name" key.
type svcRef struct{ namespace, name string }

// cachedEndpoints is a service's key and merged endpoints (nil: none).
type cachedEndpoints struct {
	key string
	se  *model.ServiceEndpoints
}

// referencedEndpoints returns the endpoints of every service an admitted
// route sends traffic to, merging again only the services marked dirty
// since the last build (and those not referenced before), and the keys
// whose entry is not the one of the last Table. At 10,000 routes it runs on
// every build, so a service already known costs two map lookups and no
// allocation.
func (w *Watcher) referencedEndpoints(dirty map[string]bool) (map[string]*model.ServiceEndpoints, []string) {
	var changed []string
	if w.eps != nil && w.snap == w.epsSnap {
		// The same routes: only the dirty services that are referenced
		// change.
		if len(dirty) == 0 {
			return w.eps, nil
		}
		next := maps.Clone(w.eps)
		for key := range dirty {
			ns, name, _ := strings.Cut(key, "/")
			ref := svcRef{ns, name}
			c, ok := w.endpoints[ref]
			if !ok {
				continue // no route sends traffic to it
			}
			c.se = w.merge(ns, name, c.key)
			w.endpoints[ref] = c
			if c.se != nil {
				next[key] = c.se
			} else {
				delete(next, key)
			}
			if c.se != w.eps[key] {
				changed = append(changed, key)
			}
		}
		w.eps = next
		return next, changed
	}
	next := make(map[string]*model.ServiceEndpoints, len(w.endpoints))
	cached := make(map[svcRef]cachedEndpoints, len(w.endpoints))
	for _, r := range w.snap.Routes() {
		for _, b := range r.Backends {
			ref := svcRef{r.Namespace, b.Service}
			if _, ok := cached[ref]; ok {
				continue
			}
			c, ok := w.endpoints[ref]
			if !ok {
				c.key = model.ServiceKey(r.Namespace, b.Service)
			}
			if !ok || dirty[c.key] {
				c.se = w.merge(r.Namespace, b.Service, c.key)
			}
			// Absent services are remembered too (as nil), so they are
			// not merged again until they change.
			cached[ref] = c
			if c.se != nil {
				next[c.key] = c.se
			}
			if c.se != w.eps[c.key] {
				changed = append(changed, c.key)
			}
		}
	}
	// The services no route sends traffic to any more.
	for key := range w.eps {
		if _, ok := next[key]; !ok {
			if ns, name, _ := strings.Cut(key, "/"); !referenced(cached, svcRef{ns, name}) {
				changed = append(changed, key)
			}
		}
	}
	w.endpoints = cached
	w.eps, w.epsSnap = next, w.snap
	return next, changed
}

func referenced(cached map[svcRef]cachedEndpoints, ref svcRef) bool {
	_, ok := cached[ref]
	return ok
}

// merge reads a service and its EndpointSlices from the caches.
func (w *Watcher) merge(namespace, name, key string) *model.ServiceEndpoints {
	svc, err := w.services.Services(namespace).Get(name)
	if err != nil {
		return nil // not found: the route's service does not exist (yet)
	}
	objs, err := w.slices.ByIndex(serviceIndex, key)
	if err != nil {
		klog.ErrorS(err, "List EndpointSlices from the cache", "service", key)
		return nil
	}
	slices := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			slices = append(slices, s)
		}
	}
	return MergeEndpoints(svc, slices)
}

// Stats are the watcher's counters, for logs and tests.
type Stats struct {
	Builds       uint64
	LastDuration time.Duration
}

// Stats returns how many Tables were built and how long the last took.
func (w *Watcher) Stats() Stats {
	return Stats{Builds: w.builds.Load(), LastDuration: time.Duration(w.lastDur.Load())}
}
