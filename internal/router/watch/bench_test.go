package watch

import (
	"context"
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

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

var heapProfile = flag.String("heapprofile", "", "BenchmarkHeapPerRoute10000 writes the heap profile at the first Table to this file, suffixed with .trimmed or .untrimmed (run with -test.memprofilerate=4096 for detail)")

// servedCluster is benchCluster dressed as an API server returns it:
// managedFields, last-applied configurations, cluster IPs, pods' targetRefs.
func servedCluster(n int) (routes, kube []runtime.Object) {
	rs, ks := benchCluster(n)
	for i, r := range rs {
		routes = append(routes, servedRoute(r.(*routev1.Route), i))
	}
	for i := 0; i < len(ks); i += 2 {
		svc := servedService(ks[i].(*corev1.Service), i/2)
		kube = append(kube, svc, servedSlice(ks[i+1].(*discoveryv1.EndpointSlice), svc, i/2))
	}
	return routes, kube
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	goruntime.GC()
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkHeapPerRoute10000 is the live heap the watcher holds at its
// first Table for 10,000 routes (each with its service and an EndpointSlice
// of two endpoints, as an API server returns them): informer caches,
// route Snapshot, endpoints and the Builder's cache, with the caches whole
// and trimmed. The fake clientsets' own copies are not counted.
func BenchmarkHeapPerRoute10000(b *testing.B) {
	const n = 10000
	for _, tc := range []struct {
		name      string
		transform cache.TransformFunc
	}{{"untrimmed", nil}, {"trimmed", Trim}, {"trimmed-without-route-last-applied", trimRouteLastApplied}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				f := newFixture(servedCluster(n))
				decodeLists(f.routes)
				decodeLists(f.kube)
				before := liveHeap()
				f.run(b, model.Config{RouterName: "bench"}, false, 0, tc.transform)
				if got := f.w.Table().Routes.Len(); got != n {
					b.Fatalf("%d routes admitted, want %d", got, n)
				}
				held := liveHeap() - before
				if *heapProfile != "" {
					writeHeapProfile(b, *heapProfile+"."+tc.name)
				}
				b.ReportMetric(float64(held)/n, "heapB/route")
				f.stop()
			}
		})
	}
}

// trimRouteLastApplied is Trim that also drops routes' last-applied
// configuration: not safe while the status writer sends cached routes back
// with UpdateStatus (it would erase the annotation), measured to show what
// a writer that sends only the status would save.
func trimRouteLastApplied(obj any) (any, error) {
	obj, err := Trim(obj)
	if r, ok := obj.(*routev1.Route); ok && r.Annotations[lastAppliedKey] != "" {
		r = r.DeepCopy()
		delete(r.Annotations, lastAppliedKey)
		obj = r
	}
	return obj, err
}

func writeHeapProfile(tb testing.TB, path string) {
	out, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close()
	if err := pprof.Lookup("heap").WriteTo(out, 0); err != nil {
		tb.Fatal(err)
	}
}
