package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
)

func balanced(name, balance string) *routev1.Route {
	r := newRoute("p", name, name+".example.com", "web")
	r.Annotations = map[string]string{"haproxy.router.openshift.io/balance": balance, "haproxy.router.openshift.io/disable_cookies": "true"}
	return r
}

func count(p *Proxy, url string, n int, mod func(i int, r *http.Request)) map[string]int {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		res := do(p, "GET", url, func(r *http.Request) {
			if mod != nil {
				mod(i, r)
			}
		})
		got[res.body]++
	}
	return got
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 3, nil, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{balanced("rr", "roundrobin")}, services{"p/web": svc(port, addrs(bs...)...)}))
	got := count(p, "http://rr.example.com/", 300, nil)
	for i := 1; i <= 3; i++ {
		if got[fmt.Sprintf("backend %d", i)] != 100 {
			t.Fatalf("roundrobin over 3 endpoints, 300 requests: %v, want 100 each", got)
		}
	}
}

func TestRandomSpreadsOverAll(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 3, nil, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{balanced("rnd", "random")}, services{"p/web": svc(port, addrs(bs...)...)}))
	got := count(p, "http://rnd.example.com/", 1500, nil)
	// 500 expected each; the bounds are over 10 standard deviations away.
	for i := 1; i <= 3; i++ {
		if n := got[fmt.Sprintf("backend %d", i)]; n < 300 || n > 700 {
			t.Fatalf("random over 3 endpoints, 1500 requests: %v", got)
		}
	}
}

func TestSourceKeepsAClientOnOneEndpoint(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 3, nil, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{balanced("src", "source")}, services{"p/web": svc(port, addrs(bs...)...)}))
	used := map[string]bool{}
	for c := 1; c <= 30; c++ {
		remote := fmt.Sprintf("198.51.100.%d:%d", c, 1000+c)
		got := count(p, "http://src.example.com/", 5, func(i int, r *http.Request) {
			r.RemoteAddr = strings.Replace(remote, fmt.Sprintf(":%d", 1000+c), fmt.Sprintf(":%d", 2000+i), 1)
		})
		if len(got) != 1 {
			t.Fatalf("client %s went to several endpoints: %v", remote, got)
		}
		for k := range got {
			used[k] = true
		}
	}
	if len(used) < 2 {
		t.Errorf("30 clients all hashed to %v", used)
	}
}

func TestLeastConnAvoidsBusyEndpoints(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan int, 10)
	port, bs := startBackends(t, 3, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Hold") != "" {
				arrived <- b.id
				<-release
			}
			fmt.Fprintf(w, "backend %d", b.id)
		})
	}, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{balanced("lc", "leastconn")}, services{"p/web": svc(port, addrs(bs...)...)}))
	var wg sync.WaitGroup
	busy := map[int]bool{}
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(p, "GET", "http://lc.example.com/", func(r *http.Request) { r.Header.Set("X-Hold", "1") })
		}()
		busy[<-arrived] = true // the next request is sent once this one is in flight
	}
	if len(busy) != 2 {
		t.Fatalf("two held requests went to %v, want two endpoints", busy)
	}
	got := count(p, "http://lc.example.com/", 20, nil)
	close(release)
	wg.Wait()
	for i := 1; i <= 3; i++ {
		if !busy[i] && got[fmt.Sprintf("backend %d", i)] != 20 {
			t.Fatalf("with endpoints %v busy, 20 requests went to %v; want all on backend %d", busy, got, i)
		}
	}
}

func TestWeightsSplitTrafficAndZeroTakesNone(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 4, nil, nil)
	w := func(n int32) *int32 { return &n }
	r := balanced("wt", "roundrobin")
	r.Spec.To.Weight = w(1)
	r.Spec.AlternateBackends = []routev1.RouteTargetReference{
		{Kind: "Service", Name: "canary", Weight: w(3)},
		{Kind: "Service", Name: "off", Weight: w(0)},
	}
	// "web" has two endpoints that share its weight 1; "canary" has one.
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{
		"p/web": svc(port, bs[0].addr, bs[1].addr), "p/canary": svc(port, bs[2].addr), "p/off": svc(port, bs[3].addr),
	}))
	got := count(p, "http://wt.example.com/", 800, nil)
	want := map[string]int{"backend 1": 100, "backend 2": 100, "backend 3": 600}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("weights web=1 (2 endpoints), canary=3, off=0 over 800 requests: %v, want %v", got, want)
		}
	}
	if bs[3].hits.Load() != 0 {
		t.Errorf("the weight-0 service got %d requests", bs[3].hits.Load())
	}
	for _, algo := range []string{"random", "source", "leastconn"} {
		r2 := r.DeepCopy()
		r2.Annotations["haproxy.router.openshift.io/balance"] = algo
		p.Update(buildTable(t, []*routev1.Route{r2}, services{
			"p/web": svc(port, bs[0].addr, bs[1].addr), "p/canary": svc(port, bs[2].addr), "p/off": svc(port, bs[3].addr),
		}))
		count(p, "http://wt.example.com/", 50, nil)
		if bs[3].hits.Load() != 0 {
			t.Errorf("%s: the weight-0 service got %d requests", algo, bs[3].hits.Load())
		}
	}
}

func TestAllWeightsZeroIs503(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	zero := int32(0)
	r := newRoute("p", "z", "z.example.com", "web")
	r.Spec.To.Weight = &zero
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	if got := do(p, "GET", "http://z.example.com/", nil); got.code != 503 || bs[0].hits.Load() != 0 {
		t.Errorf("all weights 0: %d, backend hits %d; want 503 and none", got.code, bs[0].hits.Load())
	}
}
