package proxy

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
)

func TestUnknownHostGets503AndNoOtherRoutesBody(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	p, _ := newProxy(t, Config{})
	if p.Ready() {
		t.Fatal("Ready before the first Table")
	}
	if got := do(p, "GET", "http://a.example.com/", nil); got.code != 503 {
		t.Fatalf("before the first Table: %d, want 503", got.code)
	}
	p.Update(buildTable(t, []*routev1.Route{
		newRoute("p", "a", "a.example.com", "web"),
		newRoute("p", "empty", "empty.example.com", "none"),
	}, services{"p/web": svc(port, addrs(bs...)...)}))
	if !p.Ready() {
		t.Fatal("not Ready after Update")
	}
	ok := do(p, "GET", "http://A.Example.com:80/x", nil)
	if ok.code != 200 || ok.body != "backend 1" {
		t.Fatalf("known host: %d %q", ok.code, ok.body)
	}
	unknown := do(p, "GET", "http://b.example.com/", nil)
	noEndpoints := do(p, "GET", "http://empty.example.com/", nil)
	for name, got := range map[string]result{"unknown host": unknown, "route without endpoints": noEndpoints} {
		if got.code != 503 || strings.Contains(got.body, "backend") || !strings.Contains(got.body, "Application is not available") {
			t.Errorf("%s: %d %q, want the 503 page", name, got.code, got.body)
		}
		if strings.Contains(got.body, "example.com") || strings.Contains(got.body, "empty") {
			t.Errorf("%s: the page names a host or route: %q", name, got.body)
		}
	}
	if unknown.body != noEndpoints.body {
		t.Error("the unknown-host page and the no-endpoints page differ: a client can tell which hosts exist")
	}
}

func TestMostSpecificPathWins(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 3, nil, nil)
	root := newRoute("p", "root", "shop.example.com", "root")
	api := newRoute("p", "api", "shop.example.com", "api")
	api.Spec.Path = "/api"
	v1 := newRoute("p", "v1", "shop.example.com", "v1")
	v1.Spec.Path = "/api/v1"
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{root, api, v1}, services{
		"p/root": svc(port, bs[0].addr), "p/api": svc(port, bs[1].addr), "p/v1": svc(port, bs[2].addr),
	}))
	for path, want := range map[string]string{
		"/": "backend 1", "/apix": "backend 1", "/api": "backend 2", "/api/": "backend 2",
		"/api/v2": "backend 2", "/api/v1": "backend 3", "/api/v1/users?x=1": "backend 3",
	} {
		if got := do(p, "GET", "http://shop.example.com"+path, nil); got.body != want {
			t.Errorf("%s: got %d %q, want %q", path, got.code, got.body, want)
		}
	}
}

func TestInsecureEdgeTerminationPolicies(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	mk := func(name string, term routev1.TLSTerminationType, pol routev1.InsecureEdgeTerminationPolicyType) *routev1.Route {
		r := newRoute("p", name, name+".example.com", "web")
		if term != "" {
			r.Spec.TLS = &routev1.TLSConfig{Termination: term, InsecureEdgeTerminationPolicy: pol}
		}
		return r
	}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{
		mk("plain", "", ""),
		mk("none", routev1.TLSTerminationEdge, routev1.InsecureEdgeTerminationPolicyNone),
		mk("allow", routev1.TLSTerminationEdge, routev1.InsecureEdgeTerminationPolicyAllow),
		mk("redirect", routev1.TLSTerminationEdge, routev1.InsecureEdgeTerminationPolicyRedirect),
		mk("pass", routev1.TLSTerminationPassthrough, routev1.InsecureEdgeTerminationPolicyRedirect),
	}, services{"p/web": svc(port, bs[0].addr)}))
	for _, tc := range []struct {
		url      string
		code     int
		location string
	}{
		{"http://plain.example.com/", 200, ""},
		{"https://plain.example.com/", 503, ""}, // plain routes are not served on TLS
		{"http://none.example.com/", 503, ""},
		{"https://none.example.com/", 200, ""},
		{"http://allow.example.com/", 200, ""},
		{"https://allow.example.com/", 200, ""},
		{"http://redirect.example.com:80/a/b?q=1&r=2", 302, "https://redirect.example.com/a/b?q=1&r=2"},
		{"https://redirect.example.com/", 200, ""},
		{"http://pass.example.com/x?y", 302, "https://pass.example.com/x?y"},
	} {
		got := do(p, "GET", tc.url, nil)
		if got.code != tc.code || got.header.Get("Location") != tc.location {
			t.Errorf("%s: %d Location %q, want %d %q", tc.url, got.code, got.header.Get("Location"), tc.code, tc.location)
		}
	}
}

func TestHSTSOnlyOnTLSResponses(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	r := newRoute("p", "s", "s.example.com", "web")
	r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyAllow}
	r.Annotations = map[string]string{"haproxy.router.openshift.io/hsts_header": "max-age=31536000;includeSubDomains;preload"}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	if got := do(p, "GET", "https://s.example.com/", nil).header.Get("Strict-Transport-Security"); got != "max-age=31536000;includeSubDomains;preload" {
		t.Errorf("TLS response: Strict-Transport-Security %q", got)
	}
	if got := do(p, "GET", "http://s.example.com/", nil).header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("plain response carries Strict-Transport-Security %q", got)
	}
}

func TestIPWhitelist(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	r := newRoute("p", "w", "w.example.com", "web")
	r.Annotations = map[string]string{"haproxy.router.openshift.io/ip_whitelist": "10.0.0.0/8 2001:db8::1"}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	for remote, want := range map[string]int{
		"10.1.2.3:5000": 200, "[2001:db8::1]:5000": 200, "192.168.1.1:5000": 403, "[2001:db8::2]:1": 403, "[::ffff:10.9.9.9]:1": 200,
	} {
		got := do(p, "GET", "http://w.example.com/", func(r *http.Request) { r.RemoteAddr = remote })
		if got.code != want {
			t.Errorf("from %s: %d, want %d", remote, got.code, want)
		}
	}
	if bs[0].hits.Load() != 3 {
		t.Errorf("backend got %d requests, want only the 3 allowed", bs[0].hits.Load())
	}
}

func TestForwardedHeadersAppendAndHopByHopStripped(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{newRoute("p", "f", "f.example.com", "web")}, services{"p/web": svc(port, bs[0].addr)}))
	got := do(p, "GET", "https://f.example.com/", func(r *http.Request) {
		r.TLS = nil
		r.Header.Set("X-Forwarded-For", "203.0.113.5")
		r.Header.Set("Connection", "keep-alive, X-Secret")
		r.Header.Set("X-Secret", "hop")
		r.Header.Set("Keep-Alive", "timeout=5")
		r.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
		r.Header.Set("X-Kept", "end-to-end")
	})
	if got.code != 200 {
		t.Fatalf("%d %q", got.code, got.body)
	}
	h := bs[0].lastHeader()
	want := map[string]string{
		"X-Forwarded-For":   "203.0.113.5, 192.0.2.10",
		"X-Forwarded-Host":  "f.example.com",
		"X-Forwarded-Proto": "http",
		"Forwarded":         "for=192.0.2.10;host=f.example.com;proto=http",
		"X-Kept":            "end-to-end",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("backend saw %s %q, want %q", k, h.Get(k), v)
		}
	}
	for _, k := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization"} {
		if h.Get(k) != "" {
			t.Errorf("hop-by-hop header %s reached the backend: %q", k, h.Get(k))
		}
	}
}

func TestPassthroughAndTLSStateNeverServePlainRoutes(t *testing.T) {
	t.Parallel()
	// A plain route and a TLS-only route on one host: TLS requests see only
	// the edge route, plain requests only the plain one.
	port, bs := startBackends(t, 2, nil, nil)
	plain := newRoute("p", "plain", "mix.example.com", "a")
	edge := newRoute("p", "edge", "mix.example.com", "b")
	edge.Spec.Path = "/secure"
	edge.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{plain, edge}, services{"p/a": svc(port, bs[0].addr), "p/b": svc(port, bs[1].addr)}))
	if got := do(p, "GET", "http://mix.example.com/secure", nil); got.body != "backend 1" {
		t.Errorf("plain /secure: %d %q, want the plain route", got.code, got.body)
	}
	if got := do(p, "GET", "https://mix.example.com/secure", nil); got.body != "backend 2" {
		t.Errorf("TLS /secure: %d %q, want the edge route", got.code, got.body)
	}
	if got := do(p, "GET", "https://mix.example.com/", func(r *http.Request) { r.TLS = &tls.ConnectionState{} }); got.code != 503 {
		t.Errorf("TLS /: %d, want 503 (the plain route is not served over TLS)", got.code)
	}
}
