package proxy

import (
	"context"
	"crypto/x509"
	"fmt"
	"github.com/gantry-dev/gantry/internal/syncbuf"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	routev1 "github.com/openshift/api/route/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRateLimitHTTPRequestsPerWindow(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	r := newRoute("p", "rl", "rl.example.com", "web")
	r.Annotations = map[string]string{
		"haproxy.router.openshift.io/rate-limit-connections":           "true",
		"haproxy.router.openshift.io/rate-limit-connections.rate-http": "5",
	}
	p, clk := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	from := func(a string) func(*http.Request) { return func(r *http.Request) { r.RemoteAddr = a } }
	for i := 0; i < 5; i++ {
		if got := do(p, "GET", "http://rl.example.com/", from("198.51.100.1:1")); got.code != 200 {
			t.Fatalf("request %d of 5: %d", i+1, got.code)
		}
	}
	if got := do(p, "GET", "http://rl.example.com/", from("198.51.100.1:2")); got.code != 429 {
		t.Fatalf("6th request in the window: %d, want 429", got.code)
	}
	if got := do(p, "GET", "http://rl.example.com/", from("198.51.100.2:1")); got.code != 200 {
		t.Fatalf("another client: %d, want 200 (limits are per client)", got.code)
	}
	// The limit must survive a Table swap of the unchanged route.
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	if got := do(p, "GET", "http://rl.example.com/", from("198.51.100.1:3")); got.code != 429 {
		t.Fatalf("after an Update: %d, want 429 still", got.code)
	}
	clk.Add(3 * time.Second)
	if got := do(p, "GET", "http://rl.example.com/", from("198.51.100.1:4")); got.code != 200 {
		t.Fatalf("next window: %d, want 200", got.code)
	}
}

func TestRateLimitNewConnectionsPerWindow(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	r := newRoute("p", "rt", "rt.example.com", "web")
	r.Annotations = map[string]string{
		"haproxy.router.openshift.io/rate-limit-connections":          "true",
		"haproxy.router.openshift.io/rate-limit-connections.rate-tcp": "2",
	}
	p, clk := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	// A connection is its context from ConnContext: its requests share it.
	conn := func() context.Context { return ConnContext(context.Background(), nil) }
	on := func(ctx context.Context, addr string) func(*http.Request) {
		return func(r *http.Request) { *r = *r.WithContext(ctx); r.RemoteAddr = addr }
	}
	c1, c2, c3 := conn(), conn(), conn()
	for i, c := range []context.Context{c1, c1, c1, c2, c2} {
		if got := do(p, "GET", "http://rt.example.com/", on(c, "198.51.100.1:1")); got.code != 200 {
			t.Fatalf("request %d on the first two connections: %d", i+1, got.code)
		}
	}
	got := do(p, "GET", "http://rt.example.com/", on(c3, "198.51.100.1:2"))
	if got.code != 429 || got.header.Get("Connection") != "close" {
		t.Fatalf("a third new connection in the window: %d, Connection %q; want 429 and close", got.code, got.header.Get("Connection"))
	}
	if got := do(p, "GET", "http://rt.example.com/", on(c1, "198.51.100.1:1")); got.code != 200 {
		t.Fatalf("the first connection again: %d, want 200 (it was counted once)", got.code)
	}
	if got := do(p, "GET", "http://rt.example.com/", on(conn(), "198.51.100.2:1")); got.code != 200 {
		t.Fatalf("another client: %d, want 200 (limits are per client)", got.code)
	}
	clk.Add(3 * time.Second)
	if got := do(p, "GET", "http://rt.example.com/", on(c3, "198.51.100.1:2")); got.code != 200 {
		t.Fatalf("next window: %d, want 200", got.code)
	}
	// Without ConnContext every request is a connection of its own.
	for i := 0; i < 2; i++ {
		do(p, "GET", "http://rt.example.com/", on(context.Background(), "198.51.100.3:1"))
	}
	if got := do(p, "GET", "http://rt.example.com/", on(context.Background(), "198.51.100.3:1")); got.code != 429 {
		t.Fatalf("a third request without connection context: %d, want 429", got.code)
	}
}

func TestRateLimitConcurrent(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Hold") != "" {
				arrived <- struct{}{}
				<-release
			}
		})
	}, nil)
	r := newRoute("p", "cc", "cc.example.com", "web")
	r.Annotations = map[string]string{
		"haproxy.router.openshift.io/rate-limit-connections":                "true",
		"haproxy.router.openshift.io/rate-limit-connections.concurrent-tcp": "1",
	}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	done := make(chan int)
	go func() {
		done <- do(p, "GET", "http://cc.example.com/", func(r *http.Request) { r.Header.Set("X-Hold", "1") }).code
	}()
	<-arrived
	if got := do(p, "GET", "http://cc.example.com/", nil); got.code != 429 {
		t.Errorf("second concurrent request: %d, want 429", got.code)
	}
	close(release)
	if c := <-done; c != 200 {
		t.Errorf("held request: %d", c)
	}
	if got := do(p, "GET", "http://cc.example.com/", nil); got.code != 200 {
		t.Errorf("after the first finished: %d, want 200", got.code)
	}
}

func TestReencryptVerifiesTheDestinationCA(t *testing.T) {
	t.Parallel()
	right, wrong := newCA(t, "service CA"), newCA(t, "other CA")
	port, bs := startBackends(t, 1, nil, right.serverTLS(t, "web.p.svc"))
	mk := func(name, caPEM string) *routev1.Route {
		r := newRoute("p", name, name+".example.com", "web")
		r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationReencrypt, DestinationCACertificate: caPEM}
		return r
	}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{mk("good", right.pem), mk("bad", wrong.pem), mk("svcca", "")}, services{"p/web": svc(port, bs[0].addr)}))
	if got := do(p, "GET", "https://good.example.com/", nil); got.code != 200 || got.body != "backend 1" {
		t.Errorf("reencrypt with the right CA: %d %q", got.code, got.body)
	}
	if got := do(p, "GET", "https://bad.example.com/", nil); got.code != 502 || strings.Contains(got.body, "backend") {
		t.Errorf("reencrypt with the wrong CA: %d %q, want 502", got.code, got.body)
	}
	// Without destinationCACertificate, Config.RootCAs (the service CA) verifies.
	if got := do(p, "GET", "https://svcca.example.com/", nil); got.code != 502 {
		t.Errorf("reencrypt against system roots: %d, want 502", got.code)
	}
	pool := x509.NewCertPool()
	pool.AddCert(right.cert)
	p2, _ := newProxy(t, Config{RootCAs: pool})
	p2.Update(buildTable(t, []*routev1.Route{mk("svcca", "")}, services{"p/web": svc(port, bs[0].addr)}))
	if got := do(p2, "GET", "https://svcca.example.com/", nil); got.code != 200 {
		t.Errorf("reencrypt with RootCAs holding the service CA: %d %q", got.code, got.body)
	}
}

func TestRouteTimeoutGives504(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		})
	}, nil)
	r := newRoute("p", "slow", "slow.example.com", "web")
	r.Annotations = map[string]string{"haproxy.router.openshift.io/timeout": "50ms"}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	if got := do(p, "GET", "http://slow.example.com/", nil); got.code != 504 {
		t.Errorf("silent backend past the route timeout: %d, want 504", got.code)
	}
}

func TestWebSocketEcho(t *testing.T) {
	t.Parallel()
	up := websocket.Upgrader{}
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				mt, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				c.WriteMessage(mt, append([]byte("echo: "), msg...))
			}
		})
	}, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{newRoute("p", "ws", "ws.example.com", "web")}, services{"p/web": svc(port, bs[0].addr)}))
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, _ string) (netConn, error) {
		return dialer.DialContext(ctx, network, front.Listener.Addr().String())
	}}
	c, resp, err := d.Dial("ws://ws.example.com/chat", nil)
	if err != nil {
		t.Fatalf("dial through the proxy: %v (%v)", err, resp)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("hello %d", i)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage()
		if err != nil || string(got) != "echo: "+msg {
			t.Fatalf("echo %d: %q %v", i, got, err)
		}
	}
}

func TestMetricsAndAccessLog(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	reg := prometheus.NewRegistry()
	var logBuf syncbuf.Buffer
	p, _ := newProxy(t, Config{Metrics: reg, AccessLog: &logBuf, RouterName: "r1"})
	p.Update(buildTable(t, []*routev1.Route{newRoute("shop", "web", "web.example.com", "web")}, services{"shop/web": svc(port, bs[0].addr)}))
	for i := 0; i < 3; i++ {
		do(p, "GET", "http://web.example.com/cart?token=secret", nil)
	}
	do(p, "GET", "http://nobody.example.com/", nil)
	want := `
# HELP gantry_router_requests_total HTTP requests served for a route, by status code class (2xx, 3xx, 4xx, 5xx, other).
# TYPE gantry_router_requests_total counter
gantry_router_requests_total{code="2xx",namespace="shop",route="web",router="r1"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gantry_router_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.ToFloat64(p.metrics.unmatched); n != 1 {
		t.Errorf("unmatched = %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(reg, "gantry_router_request_duration_seconds"); err != nil || n != 1 {
		t.Errorf("duration histograms: %d %v, want 1", n, err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "gantry_router_request_duration_seconds" {
			h := f.GetMetric()[0].GetHistogram()
			// The test clock does not move: every request took 0 s.
			if h.GetSampleCount() != 3 || h.GetBucket()[0].GetCumulativeCount() != 3 || h.GetSampleSum() != 0 {
				t.Errorf("duration histogram = %v, want 3 requests in the first bucket", h)
			}
		}
	}
	lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("access log has %d lines, want 4:\n%s", len(lines), logBuf.String())
	}
	for _, want := range []string{`"GET /cart HTTP/1.1"`, "host=web.example.com", "route=shop/web", "status=200", "bytes=9", "duration=", "backend=" + bs[0].addr.String()} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("access log line %q lacks %q", lines[0], want)
		}
	}
	if strings.Contains(logBuf.String(), "secret") {
		t.Error("the access log carries the query string")
	}
	if !strings.Contains(lines[3], "route=- status=503") {
		t.Errorf("unmatched line %q", lines[3])
	}
	// The route leaves: its series go.
	p.Update(buildTable(t, nil, nil))
	if n, _ := testutil.GatherAndCount(reg, "gantry_router_requests_total"); n != 0 {
		t.Errorf("%d request series left after the route was removed", n)
	}
	if _, err := New(Config{Metrics: reg, RouterName: "r1"}); err == nil {
		t.Error("a second proxy on the same registry and name registered")
	}
}

// A route's failed requests are counted by reason, and a route that only
// failed still exports them.
func TestBackendErrorMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rm := m.route("shop", "web")
	m.route("shop", "idle") // no request: nothing exported
	rm.backendError("connect")
	rm.backendError("connect")
	rm.backendError("tls")
	want := `
# HELP gantry_router_backend_errors_total Failed requests to a route's endpoints, by reason (connect, timeout, tls, other).
# TYPE gantry_router_backend_errors_total counter
gantry_router_backend_errors_total{namespace="shop",reason="connect",route="web",router="r1"} 2
gantry_router_backend_errors_total{namespace="shop",reason="tls",route="web",router="r1"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gantry_router_backend_errors_total", "gantry_router_requests_total"); err != nil {
		t.Error(err)
	}
	rm.delete()
	if n, _ := testutil.GatherAndCount(reg, "gantry_router_backend_errors_total"); n != 0 {
		t.Errorf("%d error series left after the route left", n)
	}
}

func TestGCPercentKeepsAFixedHeadroom(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 200}, {32 << 20, 200}, {64 << 20, 200}, {128 << 20, 100}, {256 << 20, 50}, {300 << 20, 40}, {4 << 30, 25},
	} {
		if got := gcPercent(c.live); got != c.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}
