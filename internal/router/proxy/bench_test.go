package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	routev1 "github.com/openshift/api/route/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// nopWriter is a ResponseWriter that keeps nothing: the benchmark measures
// the proxy's own work plus the loopback round trip to a real backend, not
// a recorder's copying.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkProxy sends GETs through ServeHTTP to a keep-alive loopback
// backend answering 13 bytes. The request is built once and its header
// reset each time, as net/http would hand a fresh one.
func BenchmarkProxy(b *testing.B) {
	for _, n := range []int{1, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{"text/plain"}
				io.WriteString(w, "hello, world\n")
			})}
			go srv.Serve(ln)
			defer srv.Close()
			port := int32(ln.Addr().(*net.TCPAddr).Port)
			var routes []*routev1.Route
			for i := 0; i < n; i++ {
				r := newRoute(fmt.Sprintf("ns-%d", i%100), fmt.Sprintf("r-%d", i), fmt.Sprintf("r-%d.apps.example.com", i), "web")
				r.Spec.To.Name = "web"
				routes = append(routes, r)
			}
			svcs := services{}
			for i := 0; i < 100 && i < n; i++ {
				svcs[fmt.Sprintf("ns-%d/web", i)] = svc(port, netipLoopback)
			}
			p, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			p.Update(buildTable(b, routes, svcs))
			hosts := make([]string, n)
			for i := range hosts {
				hosts[i] = fmt.Sprintf("r-%d.apps.example.com", i)
			}
			req := httptest.NewRequest("GET", "http://r-0.apps.example.com/index.html", nil)
			req.RemoteAddr = "192.0.2.1:50000"
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req.Host = hosts[i%n]
				req.Header = http.Header{"User-Agent": {"bench"}, "Accept": {"*/*"}}
				clear(w.h)
				p.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkUpdate10000 is the data plane's share of "route create to
// served" at 10,000 routes: one more route in a Table (from the
// incremental route model), compiled (from the Table's deltas) and swapped
// in.
func BenchmarkUpdate10000(b *testing.B) {
	var routes []*routev1.Route
	for i := 0; i < 10000; i++ {
		// A service of its own per route, as in bench/router.
		r := newRoute(fmt.Sprintf("ns-%d", i%100), fmt.Sprintf("r-%d", i), fmt.Sprintf("r-%d.apps.example.com", i), fmt.Sprintf("web-%d", i))
		r.UID, r.ResourceVersion = types.UID(fmt.Sprint("uid-", i)), "1"
		routes = append(routes, r)
	}
	eps := map[string]*model.ServiceEndpoints{}
	for i := 0; i < 10000; i++ {
		eps[fmt.Sprintf("ns-%d/web-%d", i%100, i)] = &model.ServiceEndpoints{Ports: []model.EndpointPort{{Port: 8080, Addrs: []netip.Addr{netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))}}}}
	}
	builder, err := model.NewBuilder(model.Config{RouterName: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	snap, _ := builder.Build(routes, nil)
	p.Update(&model.Table{Routes: snap, Endpoints: eps, Seq: 1})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := newRoute("ns-1", fmt.Sprintf("new-%d", i), fmt.Sprintf("new-%d.apps.example.com", i), "web")
		r.UID, r.ResourceVersion = types.UID(fmt.Sprint("new-uid-", i)), "1"
		routes = append(routes, r)
		snap, _ := builder.Build(routes, nil)
		// The Table as the watcher makes it: numbered, with no endpoint
		// changed since the one before.
		seq := uint64(i + 2)
		p.Update(&model.Table{Routes: snap, Endpoints: eps, Seq: seq, EndpointsDelta: &model.EndpointsDelta{Since: seq - 1}})
	}
	if p.books.full != 1 {
		b.Fatalf("%d Tables compiled whole, want only the first", p.books.full)
	}
	if p.state.Load().lookup(fmt.Sprintf("new-%d.apps.example.com", b.N-1), "/", false) == nil {
		b.Fatal("the last route added is not served")
	}
}

// BenchmarkHeapPerRoute10000 reports the proxy's live heap per route at
// 10,000 routes (the compiled Table and, once every route served a
// request, its metrics series), excluding the route model's own share.
func BenchmarkHeapPerRoute10000(b *testing.B) {
	const n = 10000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	var routes []*routev1.Route
	eps := map[string]*model.ServiceEndpoints{}
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("ns-%d", i%100)
		r := newRoute(ns, fmt.Sprintf("r-%d", i), fmt.Sprintf("r-%d.apps.example.com", i), fmt.Sprintf("svc-%d", i))
		r.UID, r.ResourceVersion = types.UID(fmt.Sprint("uid-", i)), "1"
		routes = append(routes, r)
		eps[ns+"/"+r.Spec.To.Name] = &model.ServiceEndpoints{Ports: []model.EndpointPort{{Port: port, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}}}
	}
	builder, err := model.NewBuilder(model.Config{RouterName: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	snap, _ := builder.Build(routes, nil)
	table := &model.Table{Routes: snap, Endpoints: eps}
	w := &nopWriter{h: http.Header{}}
	for i := 0; i < b.N; i++ {
		before := liveHeap()
		p, err := New(Config{Metrics: prometheus.NewRegistry(), RouterName: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		p.Update(table)
		compiled := liveHeap()
		for j := 0; j < n; j++ {
			req := httptest.NewRequest("GET", fmt.Sprintf("http://r-%d.apps.example.com/", j), nil)
			clear(w.h)
			p.ServeHTTP(w, req)
		}
		served := liveHeap()
		b.ReportMetric(float64(compiled-before)/n, "compiled-B/route")
		b.ReportMetric(float64(served-before)/n, "served-B/route")
		runtime.KeepAlive(p)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
