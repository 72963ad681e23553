package watch

import (
	"context"
	"fmt"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// benchCluster is n routes over n/10 namespaces, each with its service and
// one EndpointSlice of two ready endpoints.
func benchCluster(n int) (routes, kube []runtime.Object) {
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("ns-%d", i%(n/10+1))
		name := fmt.Sprintf("app-%d", i)
		r := route(ns, name, name+".apps.example.com", name)
		r.UID, r.ResourceVersion = types.UID(fmt.Sprintf("uid-%d", i)), "1"
		// The status this router would write: builds find nothing to change.
		r.Status.Ingress = []routev1.RouteIngress{{Host: r.Spec.Host, RouterName: "bench", WildcardPolicy: routev1.WildcardPolicyNone,
			Conditions: []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: "True"}}}}
		routes = append(routes, r)
		kube = append(kube, service(ns, name), slice(ns, name+"-1", name, 8080, ep{fmt.Sprintf("10.%d.%d.1", i/256%256, i%256), nil}, ep{fmt.Sprintf("10.%d.%d.2", i/256%256, i%256), nil}))
	}
	return routes, kube
}

// BenchmarkRebuild10000 is one rebuild after a route changed (the routes are
// admitted again, unchanged ones from the Builder's cache) and after only an
// endpoint changed, at 10,000 routes.
func BenchmarkRebuild10000(b *testing.B) {
	routes, kube := benchCluster(10000)
	f := start(b, model.Config{RouterName: "bench"}, false, routes, kube)
	f.stop() // the loop is stopped; rebuild is called directly
	if n := f.w.Table().Routes.Len(); n != 10000 {
		b.Fatalf("%d routes admitted", n)
	}
	b.Run("route-changed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			f.w.routeChanged(nil)
			f.w.rebuild()
		}
	})
	b.Run("endpoints-changed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			f.w.serviceDirty(model.ServiceKey("ns-7", "app-7"))
			f.w.rebuild()
		}
	})
}

// BenchmarkRouteCreateToTable10000 is the control plane's share of "route
// create to first 200" at 10,000 routes: from the create call on the (fake)
// API to a Table serving the new route in the data plane, through the
// informer, the coalescing loop and a rebuild.
func BenchmarkRouteCreateToTable10000(b *testing.B) {
	routes, kube := benchCluster(10000)
	f := start(b, model.Config{RouterName: "bench"}, false, routes, kube)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		host := fmt.Sprintf("new-%d.apps.example.com", i)
		r := route("ns-1", fmt.Sprintf("new-%d", i), host, "app-1")
		r.UID, r.ResourceVersion = types.UID(fmt.Sprintf("new-uid-%d", i)), "1"
		if _, err := f.routes.RouteV1().Routes("ns-1").Create(ctx, r, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		f.dp.waitFor(b, host+" is served", func(t *model.Table) bool {
			r := t.Routes.Lookup(host, "/")
			return r != nil && t.Backend(r, "app-1") != nil
		})
	}
}
