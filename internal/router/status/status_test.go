package status

import (
	"context"
	"fmt"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routefake "github.com/openshift/client-go/route/clientset/versioned/fake"
	routelisters "github.com/openshift/client-go/route/listers/route/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/gantry-dev/gantry/internal/router/model"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	client *routefake.Clientset
	cache  cache.Indexer
	w      *Writer
}

// newFixture has the API hold api and the informer cache hold cached (the
// same routes when cached is nil).
func newFixture(t *testing.T, api []*routev1.Route, cached []*routev1.Route) *fixture {
	t.Helper()
	objs := make([]runtime.Object, len(api))
	for i, r := range api {
		objs[i] = r
	}
	f := &fixture{client: routefake.NewSimpleClientset(objs...), cache: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})}
	if cached == nil {
		cached = api
	}
	for _, r := range cached {
		if err := f.cache.Add(r.DeepCopy()); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	f.w, err = New(Config{Client: f.client.RouteV1(), Lister: routelisters.NewRouteLister(f.cache), RouterName: "mine", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	f.client.ClearActions()
	return f
}

// drain processes every queued change that is ready now.
func (f *fixture) drain(t *testing.T) {
	t.Helper()
	for f.w.queue.Len() > 0 {
		f.w.processNext(context.Background())
	}
}

func (f *fixture) route(t *testing.T, ns, name string) *routev1.Route {
	t.Helper()
	r, err := f.client.RouteV1().Routes(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) statusUpdates() int {
	n := 0
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func newRoute(ns, name string, ingress ...routev1.RouteIngress) *routev1.Route {
	return &routev1.Route{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), ResourceVersion: "1"},
		Spec:       routev1.RouteSpec{Host: name + ".example.com", To: routev1.RouteTargetReference{Kind: "Service", Name: name}},
		Status:     routev1.RouteStatus{Ingress: ingress},
	}
}

func entry(router string, admitted bool, reason string) routev1.RouteIngress {
	st := corev1.ConditionTrue
	if !admitted {
		st = corev1.ConditionFalse
	}
	t := metav1.NewTime(now.Add(-time.Hour))
	return routev1.RouteIngress{Host: "web.example.com", RouterName: router, WildcardPolicy: routev1.WildcardPolicyNone,
		Conditions: []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: st, Reason: reason, LastTransitionTime: &t}}}
}

func admitted(name string) model.StatusChange {
	return model.StatusChange{Namespace: "a", Name: name, UID: types.UID("uid-" + name), Host: name + ".example.com", WildcardPolicy: routev1.WildcardPolicyNone, Admitted: true}
}

func ingressOf(r *routev1.Route, router string) *routev1.RouteIngress {
	for i := range r.Status.Ingress {
		if r.Status.Ingress[i].RouterName == router {
			return &r.Status.Ingress[i]
		}
	}
	return nil
}

func TestWritesOwnEntryAndKeepsOtherRouters(t *testing.T) {
	f := newFixture(t, []*routev1.Route{newRoute("a", "web", entry("other", false, "HostAlreadyClaimed"))}, nil)
	f.w.Sync([]model.StatusChange{admitted("web")})
	f.drain(t)
	r := f.route(t, "a", "web")
	mine, other := ingressOf(r, "mine"), ingressOf(r, "other")
	if mine == nil || len(mine.Conditions) != 1 || mine.Conditions[0].Status != corev1.ConditionTrue || mine.Host != "web.example.com" {
		t.Fatalf("this router's entry = %+v, want admitted", mine)
	}
	if !mine.Conditions[0].LastTransitionTime.Time.Equal(now) {
		t.Errorf("lastTransitionTime = %v, want now", mine.Conditions[0].LastTransitionTime)
	}
	if other == nil || other.Conditions[0].Reason != "HostAlreadyClaimed" {
		t.Errorf("the other router's entry = %+v, want it kept", other)
	}
	if n := f.statusUpdates(); n != 1 {
		t.Errorf("%d status updates, want 1", n)
	}
	if f.w.Pending() != 0 {
		t.Errorf("%d changes still pending", f.w.Pending())
	}
}

func TestDoesNotWriteWhatTheStatusAlreadySays(t *testing.T) {
	e := entry("mine", true, "")
	e.Host = "web.example.com"
	f := newFixture(t, []*routev1.Route{newRoute("a", "web", e)}, nil)
	f.w.Sync([]model.StatusChange{admitted("web")})
	f.drain(t)
	if n := f.statusUpdates(); n != 0 {
		t.Errorf("%d status updates of a status that already says admitted", n)
	}
}

func TestRejectionCarriesReasonAndMessage(t *testing.T) {
	f := newFixture(t, []*routev1.Route{newRoute("a", "web", entry("mine", true, ""))}, nil)
	f.w.Sync([]model.StatusChange{{Namespace: "a", Name: "web", UID: "uid-web", Host: "web.example.com", WildcardPolicy: routev1.WildcardPolicyNone,
		Reason: model.ReasonExtendedValidationFailed, Message: "certificate and key do not match"}})
	f.drain(t)
	c := ingressOf(f.route(t, "a", "web"), "mine").Conditions[0]
	if c.Status != corev1.ConditionFalse || c.Reason != model.ReasonExtendedValidationFailed || c.Message != "certificate and key do not match" {
		t.Errorf("condition = %+v", c)
	}
}

func TestConflictIsRetriedOnAFreshRoute(t *testing.T) {
	// The API has a newer version (another router wrote its entry) than the cache.
	fresh := newRoute("a", "web", entry("other", true, ""))
	fresh.ResourceVersion = "2"
	f := newFixture(t, []*routev1.Route{fresh}, []*routev1.Route{newRoute("a", "web")})
	conflicts := 0
	f.client.PrependReactor("update", "routes", func(a clienttesting.Action) (bool, runtime.Object, error) {
		u := a.(clienttesting.UpdateAction)
		if u.GetObject().(*routev1.Route).ResourceVersion != "2" {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "route.openshift.io", Resource: "routes"}, "web", nil)
		}
		return false, nil, nil
	})
	f.w.Sync([]model.StatusChange{admitted("web")})
	f.drain(t)
	r := f.route(t, "a", "web")
	if conflicts != 1 {
		t.Errorf("%d conflicts, want the stale cached copy to conflict once", conflicts)
	}
	if ingressOf(r, "mine") == nil || ingressOf(r, "other") == nil {
		t.Errorf("ingress = %+v, want both routers' entries", r.Status.Ingress)
	}
}

func TestFailedWriteIsRequeued(t *testing.T) {
	f := newFixture(t, []*routev1.Route{newRoute("a", "web")}, nil)
	f.client.PrependReactor("update", "routes", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is away")
	})
	f.w.Sync([]model.StatusChange{admitted("web")})
	f.drain(t)
	if f.w.Pending() != 1 || f.w.queue.NumRequeues("a/web") != 1 {
		t.Errorf("pending %d, requeues %d: want the change kept and requeued with backoff", f.w.Pending(), f.w.queue.NumRequeues("a/web"))
	}
}

func TestRemoveDeletesOnlyThisRoutersEntry(t *testing.T) {
	f := newFixture(t, []*routev1.Route{newRoute("a", "web", entry("other", true, ""), entry("mine", true, ""))}, nil)
	f.w.Sync([]model.StatusChange{{Namespace: "a", Name: "web", UID: "uid-web", Remove: true}})
	f.drain(t)
	r := f.route(t, "a", "web")
	if len(r.Status.Ingress) != 1 || r.Status.Ingress[0].RouterName != "other" {
		t.Errorf("ingress = %+v, want only the other router's entry", r.Status.Ingress)
	}
}

func TestOvertakenChangeIsNotWritten(t *testing.T) {
	f := newFixture(t, []*routev1.Route{newRoute("a", "web"), newRoute("a", "api")}, nil)
	f.w.Sync([]model.StatusChange{admitted("web")})
	f.w.Sync([]model.StatusChange{admitted("api")}) // the next build no longer wants web written
	f.drain(t)
	if ingressOf(f.route(t, "a", "web"), "mine") != nil {
		t.Error("a change a later Sync dropped was written")
	}
	if ingressOf(f.route(t, "a", "api"), "mine") == nil {
		t.Error("the later Sync's change was not written")
	}
}

func TestRecreatedOrDeletedRouteIsLeftAlone(t *testing.T) {
	recreated := newRoute("a", "web")
	recreated.UID = "uid-new"
	f := newFixture(t, []*routev1.Route{recreated}, nil)
	f.w.Sync([]model.StatusChange{admitted("web"), admitted("gone")})
	f.drain(t)
	if n := f.statusUpdates(); n != 0 {
		t.Errorf("%d status updates for a route of another UID or a deleted one", n)
	}
	if f.w.Pending() != 0 {
		t.Errorf("%d changes pending, want them done", f.w.Pending())
	}
}

// TestBuilderVerdictsReachTheStatus runs the model's changes through the
// writer: a host claimed by an older route in another namespace.
func TestBuilderVerdictsReachTheStatus(t *testing.T) {
	old, young := newRoute("a", "web"), newRoute("b", "web")
	old.CreationTimestamp = metav1.NewTime(now.Add(-time.Hour))
	young.CreationTimestamp = metav1.NewTime(now)
	young.Spec.Host = old.Spec.Host
	f := newFixture(t, []*routev1.Route{old, young}, nil)
	b, err := model.NewBuilder(model.Config{RouterName: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	_, changes := b.Build([]*routev1.Route{old, young}, nil)
	f.w.Sync(changes)
	f.drain(t)
	if c := ingressOf(f.route(t, "a", "web"), "mine").Conditions[0]; c.Status != corev1.ConditionTrue {
		t.Errorf("older route: %+v, want admitted", c)
	}
	if c := ingressOf(f.route(t, "b", "web"), "mine").Conditions[0]; c.Status != corev1.ConditionFalse || c.Reason != model.ReasonHostAlreadyClaimed {
		t.Errorf("younger route: %+v, want HostAlreadyClaimed", c)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	f := newFixture(t, []*routev1.Route{newRoute("a", "web")}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.w.Run(ctx); close(done) }()
	f.w.Sync([]model.StatusChange{admitted("web")})
	deadline := time.After(20 * time.Second)
	for ingressOf(f.route(t, "a", "web"), "mine") == nil {
		select {
		case <-deadline:
			t.Fatal("the running writer wrote nothing")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
}

// Sync hands its changes to running workers, which delete what they have
// written from the same map; under -race this fails if Sync reads the map
// after publishing it (the bench crashed that way at 10,000 routes).
func TestSyncWhileWorkersWrite(t *testing.T) {
	var routes []*routev1.Route
	var changes []model.StatusChange
	for i := 0; i < 300; i++ {
		name := fmt.Sprintf("web%d", i)
		routes = append(routes, newRoute("a", name))
		changes = append(changes, admitted(name))
	}
	f := newFixture(t, routes, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.w.Run(ctx); close(done) }()
	for i := 0; i < 20; i++ {
		f.w.Sync(changes)
	}
	deadline := time.After(60 * time.Second)
	for _, c := range changes {
		for ingressOf(f.route(t, "a", c.Name), "mine") == nil {
			select {
			case <-deadline:
				t.Fatalf("%s was never written", c.Name)
			case <-time.After(time.Millisecond):
			}
		}
	}
	cancel()
	<-done
}
