package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	routev1 "github.com/openshift/api/route/v1"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// TestUpdatesUnderLoadLoseNoRequest swaps Tables (endpoints in and out,
// routes added and removed, the served route's options changing) while
// clients hammer the proxy (100 swaps) over real connections: not one request may fail.
func TestUpdatesUnderLoadLoseNoRequest(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 3, nil, nil)
	p, _ := newProxy(t, Config{})
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	base := newRoute("p", "live", "live.example.com", "web")
	sets := [][]netip.Addr{addrs(bs[0]), addrs(bs[0], bs[1]), addrs(bs[1], bs[2]), addrs(bs[2]), addrs(bs...)}
	table := func(i int) {
		r := base.DeepCopy()
		r.ResourceVersion = fmt.Sprint(i)
		r.Annotations = map[string]string{"haproxy.router.openshift.io/balance": []string{"roundrobin", "leastconn", "random"}[i%3]}
		routes := []*routev1.Route{r}
		for j := 0; j < i%5; j++ {
			routes = append(routes, newRoute("q", fmt.Sprintf("extra-%d", j), fmt.Sprintf("extra-%d.example.com", j), "web"))
		}
		p.Update(buildTable(t, routes, services{"p/web": svc(port, sets[i%len(sets)]...), "q/web": svc(port, bs[0].addr)}))
	}
	table(0)

	stop := make(chan struct{})
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", front.URL+"/", nil)
				req.Host = "live.example.com"
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for i := 1; i <= 100; i++ {
		table(i)
		// Let some requests through between swaps, without sleeping.
		for target := ok.Load() + 3; ok.Load() < target && failed.Load() == 0; {
			runtime.Gosched()
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during 100 updates; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if ok.Load() < 300 {
		t.Fatalf("only %d requests ran", ok.Load())
	}
}

// TestRemovedEndpointDrains checks that a request in flight to an endpoint
// that leaves the Table finishes, and that its connection is not kept.
func TestRemovedEndpointDrains(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	port, bs := startBackends(t, 2, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Hold") != "" {
				arrived <- struct{}{}
				<-release
			}
			fmt.Fprintf(w, "backend %d", b.id)
		})
	}, nil)
	r := balanced("dr", "roundrobin")
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	done := make(chan result)
	go func() {
		done <- do(p, "GET", "http://dr.example.com/", func(r *http.Request) { r.Header.Set("X-Hold", "1") })
	}()
	<-arrived
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[1].addr)}))
	if got := do(p, "GET", "http://dr.example.com/", nil); got.body != "backend 2" {
		t.Fatalf("new request after the swap: %q", got.body)
	}
	close(release)
	if got := <-done; got.code != 200 || got.body != "backend 1" {
		t.Fatalf("in-flight request to the removed endpoint: %d %q", got.code, got.body)
	}
	waitFor(t, func() bool { return bs[0].conns.Load() == 0 }, "the removed endpoint's connection to close")
}

// TestUpdateRecompilesOnlyWhatChanged: with the incremental route model an
// unchanged route is the same *model.Route in the next Table; the proxy
// keeps its compiled state unless the endpoints of one of its backends
// changed, and a route whose endpoints moved goes to the new ones.
func TestUpdateRecompilesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 2, nil, nil)
	b, err := model.NewBuilder(model.Config{RouterName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	moving, still := newRoute("p", "moving", "moving.example.com", "web"), newRoute("q", "still", "still.example.com", "web")
	moving.ResourceVersion, still.ResourceVersion = "1", "1"
	routes := []*routev1.Route{moving, still}
	eps := func(a netip.Addr) *model.ServiceEndpoints {
		return &model.ServiceEndpoints{Ports: []model.EndpointPort{{Port: port, Addrs: []netip.Addr{a}}}}
	}
	qweb := eps(bs[1].addr)
	p, _ := newProxy(t, Config{})
	snap, _ := b.Build(routes, nil)
	p.Update(&model.Table{Routes: snap, Endpoints: map[string]*model.ServiceEndpoints{"p/web": eps(bs[0].addr), "q/web": qweb}})
	if got := do(p, "GET", "http://moving.example.com/", nil); got.body != "backend 1" {
		t.Fatalf("before the move: %d %q", got.code, got.body)
	}
	before := p.state.Load()

	// p/web moves to backend 2; q/web is the same; the routes are the same.
	snap, _ = b.Build(routes, nil)
	p.Update(&model.Table{Routes: snap, Endpoints: map[string]*model.ServiceEndpoints{"p/web": eps(bs[1].addr), "q/web": qweb}})
	after := p.state.Load()
	if got := do(p, "GET", "http://moving.example.com/", nil); got.body != "backend 2" {
		t.Fatalf("after the move: %d %q", got.code, got.body)
	}
	if before.exact["still.example.com"][0] != after.exact["still.example.com"][0] {
		t.Error("the route whose endpoints did not change was compiled again")
	}
	if before.exact["moving.example.com"][0] == after.exact["moving.example.com"][0] {
		t.Error("the route whose endpoints moved kept its old state")
	}
	if got := do(p, "GET", "http://still.example.com/", nil); got.code != 200 || got.body != "backend 2" {
		t.Fatalf("the unchanged route: %d %q", got.code, got.body)
	}
}
