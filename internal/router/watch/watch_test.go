package watch

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routefake "github.com/openshift/client-go/route/clientset/versioned/fake"
	routeinformers "github.com/openshift/client-go/route/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// recorder is a Dataplane that keeps the Tables it gets.
// It checks that every Table's deltas say what changed since the one
// before: waitFor reports the first that does not.
type recorder struct {
	mu       sync.Mutex
	tables   []*model.Table
	notify   chan struct{}
	deltaErr error
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) Update(t *model.Table) {
	r.mu.Lock()
	if n := len(r.tables); n > 0 && r.deltaErr == nil {
		r.deltaErr = checkTableDelta(r.tables[n-1], t)
	}
	r.tables = append(r.tables, t)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) last() *model.Table {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.tables) == 0 {
		return nil
	}
	return r.tables[len(r.tables)-1]
}

// waitFor waits until the last Table satisfies ok. The deadline only bounds
// a failing test; nothing is asserted about how long it took.
func (r *recorder) waitFor(tb testing.TB, what string, ok func(*model.Table) bool) *model.Table {
	tb.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		err := r.deltaErr
		r.mu.Unlock()
		if err != nil {
			tb.Fatal(err)
		}
		if t := r.last(); t != nil && ok(t) {
			return t
		}
		select {
		case <-r.notify:
		case <-deadline:
			tb.Fatalf("no table where %s", what)
		}
	}
}

// checkTableDelta checks that t's deltas from prev list every service
// whose endpoints changed and every route that came or went.
func checkTableDelta(prev, t *model.Table) error {
	rd, svcs, ok := t.DeltaFrom(prev)
	if !ok {
		return fmt.Errorf("table %d has no delta from table %d", t.Seq, prev.Seq)
	}
	for _, k := range slices.Concat(slices.Collect(maps.Keys(prev.Endpoints)), slices.Collect(maps.Keys(t.Endpoints))) {
		if prev.Endpoints[k] != t.Endpoints[k] && !slices.Contains(svcs, k) {
			return fmt.Errorf("table %d: the endpoints of %s changed and the delta (%v) does not say so", t.Seq, k, svcs)
		}
	}
	if rd == nil {
		if t.Routes != prev.Routes {
			return fmt.Errorf("table %d: new routes and no route delta", t.Seq)
		}
		return nil
	}
	was := map[*model.Route]bool{}
	for _, r := range prev.Routes.Routes() {
		was[r] = true
	}
	for _, r := range t.Routes.Routes() {
		if !was[r] && !slices.Contains(rd.Added, r) {
			return fmt.Errorf("table %d: route %s is new and not in the delta", t.Seq, r.Key())
		}
		delete(was, r)
	}
	for r := range was {
		if !slices.Contains(rd.Removed, r) {
			return fmt.Errorf("table %d: route %s is gone and not in the delta", t.Seq, r.Key())
		}
	}
	return nil
}

// statusRecorder is a StatusSink that keeps the last changes.
type statusRecorder struct {
	mu      sync.Mutex
	changes []model.StatusChange
	syncs   int
}

func (s *statusRecorder) Sync(c []model.StatusChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes, s.syncs = c, s.syncs+1
}

func (s *statusRecorder) get() ([]model.StatusChange, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes, s.syncs
}

type fixture struct {
	routes *routefake.Clientset
	kube   *kubefake.Clientset
	w      *Watcher
	dp     *recorder
	status *statusRecorder
	cancel context.CancelFunc
	done   chan error
}

func start(tb testing.TB, cfg model.Config, watchNamespaces bool, routeObjs, kubeObjs []runtime.Object) *fixture {
	tb.Helper()
	return startWith(tb, cfg, watchNamespaces, 0, routeObjs, kubeObjs)
}

func startWith(tb testing.TB, cfg model.Config, watchNamespaces bool, statusInterval time.Duration, routeObjs, kubeObjs []runtime.Object) *fixture {
	tb.Helper()
	f := newFixture(routeObjs, kubeObjs)
	f.run(tb, cfg, watchNamespaces, statusInterval, Trim)
	return f
}

// newFixture loads the objects into fake clientsets; run starts a watcher
// on them.
func newFixture(routeObjs, kubeObjs []runtime.Object) *fixture {
	return &fixture{
		routes: routefake.NewSimpleClientset(routeObjs...),
		kube:   kubefake.NewSimpleClientset(kubeObjs...),
		dp:     newRecorder(),
		status: &statusRecorder{},
		done:   make(chan error, 1),
	}
}

// run starts a watcher whose informer factories have transform (nil: none,
// the caches hold whole objects) and waits for its first Table.
func (f *fixture) run(tb testing.TB, cfg model.Config, watchNamespaces bool, statusInterval time.Duration, transform cache.TransformFunc) {
	tb.Helper()
	if cfg.RouterName == "" {
		cfg.RouterName = "test"
	}
	b, err := model.NewBuilder(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	rf := routeinformers.NewSharedInformerFactoryWithOptions(f.routes, 0, routeinformers.WithTransform(transform))
	kf := informers.NewSharedInformerFactoryWithOptions(f.kube, 0, informers.WithTransform(transform))
	f.w, err = New(Config{Routes: rf, Kube: kf, Builder: b, WatchNamespaces: watchNamespaces,
		Dataplanes: []model.Dataplane{f.dp}, Status: f.status, MinInterval: time.Millisecond, StatusInterval: statusInterval})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- f.w.Run(ctx) }()
	tb.Cleanup(f.stop)
	select {
	case <-f.w.Served():
	case <-time.After(20 * time.Second):
		tb.Fatal("the watcher served no table")
	}
	// Fake clientsets drop events sent before a watch is registered.
	want := []string{"routes", "services", "endpointslices"}
	if watchNamespaces {
		want = append(want, "namespaces")
	}
	waitForWatches(tb, want, f.routes.Actions, f.kube.Actions)
}

func (f *fixture) stop() {
	if f.cancel != nil {
		f.cancel()
		<-f.done
		f.cancel = nil
	}
}

func waitForWatches(tb testing.TB, resources []string, actions ...func() []clienttesting.Action) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		seen := map[string]bool{}
		for _, a := range actions {
			for _, act := range a() {
				if act.GetVerb() == "watch" {
					seen[act.GetResource().Resource] = true
				}
			}
		}
		missing := ""
		for _, r := range resources {
			if !seen[r] {
				missing = r
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no watch of %s started", missing)
		}
		time.Sleep(time.Millisecond)
	}
}

func route(ns, name, host, svc string) *routev1.Route {
	return &routev1.Route{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
		Spec:       routev1.RouteSpec{Host: host, To: routev1.RouteTargetReference{Kind: "Service", Name: svc}},
	}
}

func service(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
	if len(ports) == 0 {
		ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}
	}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
}

type ep struct {
	addr  string
	ready *bool
}

func slice(ns, name, svc string, port int32, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.addr}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}})
	}
	return s
}

func addrs(t *model.Table, r *model.Route, svc string) []string {
	p := t.Backend(r, svc)
	if p == nil {
		return nil
	}
	out := make([]string, len(p.Addrs))
	for i, a := range p.Addrs {
		out[i] = a.String()
	}
	return out
}

func TestServesAdmittedRouteWithReadyEndpoints(t *testing.T) {
	f := start(t, model.Config{}, false,
		[]runtime.Object{route("a", "web", "web.example.com", "web")},
		[]runtime.Object{service("a", "web"), slice("a", "web-1", "web", 8080, ep{"10.0.0.2", nil}, ep{"10.0.0.1", ptr.To(true)}, ep{"10.0.0.3", ptr.To(false)})})
	tab := f.dp.waitFor(t, "web is served", func(tab *model.Table) bool { return tab.Routes.Lookup("web.example.com", "/") != nil })
	r := tab.Routes.Lookup("web.example.com", "/")
	if got := fmt.Sprint(addrs(tab, r, "web")); got != "[10.0.0.1 10.0.0.2]" {
		t.Errorf("endpoints of web = %s, want the two ready ones, sorted", got)
	}
	p := tab.Backend(r, "web")
	if p.Port != 8080 || p.ServicePort != 80 || p.Name != "http" {
		t.Errorf("port = %+v, want http 80 -> 8080", *p)
	}
	changes, _ := f.status.get()
	if len(changes) != 1 || !changes[0].Admitted || changes[0].Key() != "a/web" {
		t.Errorf("status changes = %+v, want a/web admitted", changes)
	}
}

func TestRouteCreatedLaterIsServed(t *testing.T) {
	f := start(t, model.Config{Subdomain: "apps.example.com"}, false, nil, []runtime.Object{service("a", "web"), slice("a", "web-1", "web", 8080, ep{"10.0.0.1", nil})})
	if f.dp.last().Routes.Len() != 0 {
		t.Fatal("first table has routes")
	}
	r := route("a", "web", "", "web") // host generated by the router
	if _, err := f.routes.RouteV1().Routes("a").Create(context.Background(), r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tab := f.dp.waitFor(t, "web-a.apps.example.com is served", func(tab *model.Table) bool {
		return tab.Routes.Lookup("web-a.apps.example.com", "/") != nil
	})
	if got := addrs(tab, tab.Routes.Lookup("web-a.apps.example.com", "/"), "web"); len(got) != 1 {
		t.Errorf("endpoints = %v", got)
	}
}

func TestEndpointChangeKeepsTheRouteSnapshot(t *testing.T) {
	f := start(t, model.Config{}, false,
		[]runtime.Object{route("a", "web", "web.example.com", "web")},
		[]runtime.Object{service("a", "web"), slice("a", "web-1", "web", 8080, ep{"10.0.0.1", nil})})
	first := f.dp.waitFor(t, "web has an endpoint", func(tab *model.Table) bool {
		r := tab.Routes.Lookup("web.example.com", "/")
		return r != nil && len(addrs(tab, r, "web")) == 1
	})
	_, syncs := f.status.get()
	ctx := context.Background()
	// A second slice of the same service is merged with the first.
	if _, err := f.kube.DiscoveryV1().EndpointSlices("a").Create(ctx, slice("a", "web-2", "web", 8080, ep{"10.0.0.9", nil}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	second := f.dp.waitFor(t, "web has two endpoints", func(tab *model.Table) bool {
		return len(addrs(tab, tab.Routes.Lookup("web.example.com", "/"), "web")) == 2
	})
	if second.Routes != first.Routes {
		t.Error("an endpoint change rebuilt the route snapshot")
	}
	if _, after := f.status.get(); after != syncs {
		t.Error("an endpoint change synced route status")
	}
	if first.Endpoints[model.ServiceKey("a", "web")] == second.Endpoints[model.ServiceKey("a", "web")] {
		t.Error("the old table's endpoints were modified in place")
	}
	// Every endpoint gone: the service is absent from the table.
	for _, n := range []string{"web-1", "web-2"} {
		if err := f.kube.DiscoveryV1().EndpointSlices("a").Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f.dp.waitFor(t, "web has no endpoints", func(tab *model.Table) bool {
		_, ok := tab.Endpoints[model.ServiceKey("a", "web")]
		return !ok && tab.Backend(tab.Routes.Lookup("web.example.com", "/"), "web") == nil
	})
}

func TestTableHoldsOnlyReferencedServices(t *testing.T) {
	f := start(t, model.Config{}, false,
		[]runtime.Object{route("a", "web", "web.example.com", "web")},
		[]runtime.Object{service("a", "web"), slice("a", "web-1", "web", 8080, ep{"10.0.0.1", nil}),
			service("a", "db"), slice("a", "db-1", "db", 5432, ep{"10.0.0.5", nil}),
			service("b", "web"), slice("b", "web-1", "web", 8080, ep{"10.0.1.1", nil})})
	tab := f.dp.waitFor(t, "web is served", func(tab *model.Table) bool { return tab.Routes.Len() == 1 })
	if len(tab.Endpoints) != 1 || tab.Endpoints["a/web"] == nil {
		t.Errorf("endpoints for %v, want only a/web", keys(tab.Endpoints))
	}
	// The route's alternate backend brings a/db in.
	r, err := f.routes.RouteV1().Routes("a").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Spec.AlternateBackends = []routev1.RouteTargetReference{{Kind: "Service", Name: "db", Weight: ptr.To(int32(10))}}
	if _, err := f.routes.RouteV1().Routes("a").Update(context.Background(), r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.dp.waitFor(t, "db is referenced", func(tab *model.Table) bool { return len(tab.Endpoints) == 2 && tab.Endpoints["a/db"] != nil })
}

func TestServiceCreatedAfterRouteIsPickedUp(t *testing.T) {
	f := start(t, model.Config{}, false, []runtime.Object{route("a", "web", "web.example.com", "web")}, nil)
	ctx := context.Background()
	if _, err := f.kube.DiscoveryV1().EndpointSlices("a").Create(ctx, slice("a", "web-1", "web", 8080, ep{"10.0.0.1", nil}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Slices without their service are not served; the service makes them count.
	if _, err := f.kube.CoreV1().Services("a").Create(ctx, service("a", "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.dp.waitFor(t, "web has an endpoint", func(tab *model.Table) bool { return tab.Endpoints["a/web"] != nil })
}

func TestNamespaceSelectorFollowsNamespaceLabels(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"team": "x"}}}
	f := start(t, model.Config{NamespaceSelector: "team=y"}, true,
		[]runtime.Object{route("a", "web", "web.example.com", "web")}, []runtime.Object{ns})
	if n := f.dp.last().Routes.Len(); n != 0 {
		t.Fatalf("%d routes served from a namespace outside the selector", n)
	}
	ns = ns.DeepCopy()
	ns.Labels["team"] = "y"
	if _, err := f.kube.CoreV1().Namespaces().Update(context.Background(), ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.dp.waitFor(t, "the relabelled namespace's route is served", func(tab *model.Table) bool { return tab.Routes.Len() == 1 })
}

func TestEveryDataplaneGetsTheSameTable(t *testing.T) {
	b, err := model.NewBuilder(model.Config{RouterName: "r"})
	if err != nil {
		t.Fatal(err)
	}
	routes := routefake.NewSimpleClientset(route("a", "web", "web.example.com", "web"))
	kube := kubefake.NewSimpleClientset()
	one, two := newRecorder(), newRecorder()
	w, err := New(Config{Routes: routeinformers.NewSharedInformerFactory(routes, 0), Kube: informers.NewSharedInformerFactory(kube, 0),
		Builder: b, Dataplanes: []model.Dataplane{one, two}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-w.Served()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if one.last() == nil || one.last() != two.last() || one.last() != w.Table() {
		t.Error("the data planes did not get the same first table")
	}
}

func keys(m map[string]*model.ServiceEndpoints) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMergeEndpoints(t *testing.T) {
	svc := service("a", "web",
		corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})
	named := func(name string, port int32, proto corev1.Protocol) discoveryv1.EndpointPort {
		return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(port), Protocol: ptr.To(proto)}
	}
	s1 := &discoveryv1.EndpointSlice{
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{named("http", 8080, corev1.ProtocolTCP), named("https", 8443, corev1.ProtocolTCP), named("dns", 53, corev1.ProtocolUDP)},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.2"}},
			{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.0.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Terminating: ptr.To(true)}},
		},
	}
	s2 := s1.DeepCopy()
	s2.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.2"}}, {Addresses: []string{"10.0.0.3"}}}
	fqdn := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeFQDN, Ports: s1.Ports,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"db.example.com"}}}}
	se := MergeEndpoints(svc, []*discoveryv1.EndpointSlice{s1, s2, fqdn})
	if se == nil {
		t.Fatal("no endpoints")
	}
	got := fmt.Sprint(se.Ports)
	want := fmt.Sprint([]model.EndpointPort{
		{Name: "https", ServicePort: 443, Port: 8443, Addrs: parse("10.0.0.1", "10.0.0.2", "10.0.0.3")},
		{Name: "http", ServicePort: 80, Port: 8080, Addrs: parse("10.0.0.1", "10.0.0.2", "10.0.0.3")},
	})
	if got != want {
		t.Errorf("ports\n got %s\nwant %s", got, want)
	}

	notReady := s1.DeepCopy()
	notReady.Endpoints = notReady.Endpoints[2:]
	if se := MergeEndpoints(svc, []*discoveryv1.EndpointSlice{notReady}); se != nil {
		t.Errorf("only a terminating endpoint: got %v, want none", se.Ports)
	}
	if se := MergeEndpoints(svc, nil); se != nil {
		t.Errorf("no slices: got %v", se.Ports)
	}
	unnamed := service("a", "one", corev1.ServicePort{Port: 80})
	s3 := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Port: ptr.To(int32(9000))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.4"}}}}
	if se := MergeEndpoints(unnamed, []*discoveryv1.EndpointSlice{s3}); se == nil || se.Ports[0].Port != 9000 || se.Ports[0].ServicePort != 80 {
		t.Errorf("unnamed port: got %+v", se)
	}
}

func parse(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// Status writes (this router's and every other's) change nothing served:
// they wait for the slow lane, while a served change goes through at once.
func TestStatusOnlyUpdatesWaitForTheSlowLane(t *testing.T) {
	f := startWith(t, model.Config{}, false, time.Hour,
		[]runtime.Object{route("a", "web", "web.example.com", "web"), route("a", "api", "api.example.com", "api")}, nil)
	f.dp.waitFor(t, "two routes", func(tab *model.Table) bool { return tab.Routes.Len() == 2 })
	ctx := context.Background()
	r, err := f.routes.RouteV1().Routes("a").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	builds := f.w.Stats().Builds
	r.Status.Ingress = []routev1.RouteIngress{{Host: "web.example.com", RouterName: "other"}}
	if _, err := f.routes.RouteV1().Routes("a").UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !f.w.onlyStatusDirty() {
		if time.Now().After(deadline) {
			t.Fatal("a status update was not taken as status-only")
		}
		time.Sleep(time.Millisecond)
	}
	if got := f.w.Stats().Builds; got != builds {
		t.Errorf("%d builds after a status-only update, want none before the slow lane", got-builds)
	}
	// A spec change does not wait for the slow lane.
	r, err = f.routes.RouteV1().Routes("a").Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Spec.Path = "/v1"
	if _, err := f.routes.RouteV1().Routes("a").Update(ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.dp.waitFor(t, "api serves /v1 only", func(tab *model.Table) bool {
		return tab.Routes.Lookup("api.example.com", "/v1/x") != nil && tab.Routes.Lookup("api.example.com", "/") == nil
	})
}

func TestStatusOnly(t *testing.T) {
	base := route("a", "web", "web.example.com", "web")
	for _, tc := range []struct {
		name   string
		change func(*routev1.Route)
		want   bool
	}{
		{"status", func(r *routev1.Route) {
			r.Status.Ingress = []routev1.RouteIngress{{RouterName: "x"}}
			r.ResourceVersion = "9"
		}, true},
		{"spec", func(r *routev1.Route) { r.Spec.Path = "/x" }, false},
		{"labels", func(r *routev1.Route) { r.Labels = map[string]string{"shard": "b"} }, false},
		{"annotations", func(r *routev1.Route) { r.Annotations = map[string]string{model.AnnotationTimeout: "5s"} }, false},
		{"recreated", func(r *routev1.Route) { r.UID = "other" }, false},
	} {
		n := base.DeepCopy()
		tc.change(n)
		if got := statusOnly(base, n); got != tc.want {
			t.Errorf("%s: statusOnly = %v, want %v", tc.name, got, tc.want)
		}
	}
}
