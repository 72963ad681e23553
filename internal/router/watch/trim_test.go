package watch

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// trimCluster is a little of everything the router reads, dressed as an
// API server returns it: routes with options, paths, alternate backends,
// named target ports and a host conflict; services with several ports;
// slices with terminating endpoints, IPv6 and FQDN addresses; namespaces
// in and out of the selector team=x.
func trimCluster() (routes, kube []runtime.Object) {
	rs := []*routev1.Route{
		route("a", "web", "web.example.com", "web"),
		route("a", "api", "web.example.com", "api"),
		route("a", "dup", "web.example.com", "web"), // same host and path as a/web: one is rejected
		route("b", "shop", "shop.example.com", "shop"),
		route("c", "hidden", "hidden.example.com", "web"), // namespace outside the selector
	}
	rs[0].Annotations = map[string]string{model.AnnotationTimeout: "5s"}
	rs[0].Spec.AlternateBackends = []routev1.RouteTargetReference{{Kind: "Service", Name: "api", Weight: ptr.To(int32(20))}}
	rs[1].Spec.Path = "/api"
	rs[1].Spec.Port = &routev1.RoutePort{TargetPort: intstr.FromString("metrics")}
	rs[3].Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyRedirect}
	for i, r := range rs {
		routes = append(routes, servedRoute(r, i))
	}
	web := servedService(service("a", "web"), 1)
	api := servedService(service("a", "api",
		corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9090), Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}), 2)
	shop := servedService(service("b", "shop"), 3)
	cweb := servedService(service("c", "web"), 4)
	apiSlice := slice("a", "api-1", "api", 8080, ep{"10.0.1.1", nil}, ep{"10.0.1.2", ptr.To(false)})
	apiSlice.Ports = append(apiSlice.Ports, discoveryv1.EndpointPort{Name: ptr.To("metrics"), Port: ptr.To(int32(9090)), Protocol: ptr.To(corev1.ProtocolTCP)},
		discoveryv1.EndpointPort{Name: ptr.To("dns"), Port: ptr.To(int32(53)), Protocol: ptr.To(corev1.ProtocolUDP)})
	v6 := slice("b", "shop-2", "shop", 8080, ep{"fd00::5", nil})
	v6.AddressType = discoveryv1.AddressTypeIPv6
	fqdn := slice("b", "shop-3", "shop", 8080, ep{"shop.internal.example.com", nil})
	fqdn.AddressType = discoveryv1.AddressTypeFQDN
	kube = append(kube, web, api, shop, cweb,
		servedSlice(slice("a", "web-1", "web", 8080, ep{"10.0.0.1", nil}, ep{"10.0.0.2", ptr.To(true)}), web, 1),
		servedSlice(slice("a", "web-2", "web", 8080, ep{"10.0.0.3", ptr.To(false)}), web, 2),
		servedSlice(apiSlice, api, 3),
		servedSlice(slice("b", "shop-1", "shop", 8080, ep{"10.0.2.1", nil}), shop, 4),
		servedSlice(v6, shop, 5), servedSlice(fqdn, shop, 6),
		servedSlice(slice("c", "web-1", "web", 8080, ep{"10.0.3.1", nil}), cweb, 7))
	for i, ns := range []struct{ name, team string }{{"a", "x"}, {"b", "x"}, {"c", "y"}} {
		kube = append(kube, servedNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.name, Labels: map[string]string{"team": ns.team}}}, i))
	}
	return routes, kube
}

func endpointsString(eps map[string]*model.ServiceEndpoints) string {
	ks := keys(eps)
	sort.Strings(ks)
	out := ""
	for _, k := range ks {
		out += fmt.Sprintf("%s: %v\n", k, eps[k].Ports)
	}
	return out
}

func sortedChanges(f *fixture) []model.StatusChange {
	c, _ := f.status.get()
	c = append([]model.StatusChange(nil), c...)
	sort.Slice(c, func(i, j int) bool { return c[i].Key() < c[j].Key() })
	return c
}

// The router serves from trimmed caches exactly what it serves from whole
// objects: the same routes, endpoints and status verdicts.
func TestTrimmedCachesBuildTheSameTable(t *testing.T) {
	cfg := model.Config{RouterName: "bench", NamespaceSelector: "team=x"}
	routes, kube := trimCluster()
	whole := newFixture(routes, kube)
	whole.run(t, cfg, true, 0, nil)
	trimmed := newFixture(routes, kube)
	trimmed.run(t, cfg, true, 0, Trim)

	want, got := whole.w.Table(), trimmed.w.Table()
	if want.Routes.Len() != 3 || len(want.Endpoints) != 3 {
		t.Fatalf("the untrimmed table has %d routes and endpoints of %v, want 3 routes (a/web or a/dup rejected, c outside the selector) and 3 services",
			want.Routes.Len(), keys(want.Endpoints))
	}
	if !reflect.DeepEqual(got.Routes.Routes(), want.Routes.Routes()) {
		t.Errorf("routes from trimmed caches differ:\n got %+v\nwant %+v", got.Routes.Routes(), want.Routes.Routes())
	}
	for _, host := range []string{"web.example.com", "shop.example.com"} {
		if !reflect.DeepEqual(got.Routes.Host(host), want.Routes.Host(host)) {
			t.Errorf("routes of %s from trimmed caches differ", host)
		}
	}
	if !reflect.DeepEqual(got.Endpoints, want.Endpoints) {
		t.Errorf("endpoints from trimmed caches differ:\n got %s\nwant %s", endpointsString(got.Endpoints), endpointsString(want.Endpoints))
	}
	if g, w := sortedChanges(trimmed), sortedChanges(whole); !reflect.DeepEqual(g, w) {
		t.Errorf("status changes from trimmed caches differ:\n got %+v\nwant %+v", g, w)
	}
}

// A trimmed cache holds no managedFields, and no last-applied
// configuration outside routes (whose annotations the status writer sends
// back with UpdateStatus, so they must be kept whole).
func TestTrimmedCachesDropWhatTheRouterDoesNotRead(t *testing.T) {
	routes, kube := trimCluster()
	f := newFixture(routes, kube)
	f.run(t, model.Config{RouterName: "bench", NamespaceSelector: "team=x"}, true, 0, Trim)

	rs, _ := f.w.routes.List(labels.Everything())
	if len(rs) != len(routes) {
		t.Fatalf("%d routes cached, want %d", len(rs), len(routes))
	}
	for _, r := range rs {
		if r.ManagedFields != nil {
			t.Errorf("route %s/%s cached with managedFields", r.Namespace, r.Name)
		}
		if r.Annotations[lastAppliedKey] == "" || len(r.Status.Ingress) == 0 {
			t.Errorf("route %s/%s lost annotations or status the status writer sends back: %v %v", r.Namespace, r.Name, r.Annotations, r.Status)
		}
	}
	svc, err := f.w.services.Services("a").Get("api")
	if err != nil {
		t.Fatal(err)
	}
	if svc.ManagedFields != nil || svc.Annotations != nil || svc.Spec.ClusterIP != "" || svc.Spec.Selector != nil {
		t.Errorf("service cached with fields the router does not read: %+v", svc.ObjectMeta)
	}
	if len(svc.Spec.Ports) != 3 {
		t.Errorf("service cached with ports %v, want all 3", svc.Spec.Ports)
	}
	objs, _ := f.w.slices.ByIndex(serviceIndex, "a/api")
	if len(objs) != 1 {
		t.Fatalf("%d slices of a/api indexed, want 1", len(objs))
	}
	s := objs[0].(*discoveryv1.EndpointSlice)
	if s.ManagedFields != nil || s.Annotations != nil || s.OwnerReferences != nil || len(s.Labels) != 1 {
		t.Errorf("slice cached with metadata the router does not read: %+v", s.ObjectMeta)
	}
	for _, e := range s.Endpoints {
		if e.TargetRef != nil || e.NodeName != nil || e.Zone != nil || e.Conditions.Serving != nil {
			t.Errorf("slice endpoint cached with fields the router does not read: %+v", e)
		}
	}
	ns, err := f.w.namespaces.Get("a")
	if err != nil {
		t.Fatal(err)
	}
	if ns.ManagedFields != nil || ns.Annotations != nil || ns.Labels["team"] != "x" {
		t.Errorf("namespace cached as %+v, want its labels only", ns.ObjectMeta)
	}
}

// Trim leaves its input alone and trims a trimmed object to an equal one
// (client-go may hand it objects it already trimmed).
func TestTrimIsIdempotentAndLeavesItsInput(t *testing.T) {
	routes, kube := trimCluster()
	for _, obj := range append(routes, append(kube, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other"}})...) {
		before := obj.DeepCopyObject()
		once, err := Trim(obj)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(obj, before) {
			t.Errorf("Trim modified its input %T", obj)
		}
		twice, err := Trim(once)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(once, twice) {
			t.Errorf("Trim of a trimmed %T differs:\n once %+v\ntwice %+v", obj, once, twice)
		}
	}
}
