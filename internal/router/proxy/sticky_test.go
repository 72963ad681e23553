package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
)

func TestStickyCookieIsOpaqueAndSticks(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 3, nil, nil)
	r := newRoute("p", "s", "s.example.com", "web")
	r.Annotations = map[string]string{"haproxy.router.openshift.io/balance": "roundrobin", "router.openshift.io/cookie_name": "app_session"}
	r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyAllow}
	p, _ := newProxy(t, Config{})
	tab := func(b ...*backend) {
		p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, addrs(b...)...)}))
	}
	tab(bs...)

	first := do(p, "GET", "https://s.example.com/", nil)
	sc := first.header.Get("Set-Cookie")
	name, rest, _ := strings.Cut(sc, "=")
	value, attrs, _ := strings.Cut(rest, ";")
	if name != "app_session" || value == "" {
		t.Fatalf("first response Set-Cookie %q, want app_session=<value>", sc)
	}
	if !strings.Contains(attrs, "HttpOnly") || !strings.Contains(attrs, "Secure") {
		t.Errorf("cookie on a TLS response lacks HttpOnly or Secure: %q", sc)
	}
	for _, b := range bs {
		for _, leak := range []string{b.addr.String(), fmt.Sprint(port), fmt.Sprintf("%x", b.addr.AsSlice())} {
			if strings.Contains(value, leak) {
				t.Errorf("cookie value %q reveals %q", value, leak)
			}
		}
	}
	if plain := do(p, "GET", "http://s.example.com/", nil).header.Get("Set-Cookie"); strings.Contains(plain, "Secure") {
		t.Errorf("cookie on a plain response is Secure: %q", plain)
	}

	withCookie := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Cookie", "other=1; app_session="+v+"; more=2") }
	}
	for i := 0; i < 10; i++ {
		got := do(p, "GET", "https://s.example.com/", withCookie(value))
		if got.body != first.body {
			t.Fatalf("request %d with the cookie went to %q, not %q", i, got.body, first.body)
		}
		if got.header.Get("Set-Cookie") != "" {
			t.Errorf("a request with a valid cookie got a new one: %q", got.header.Get("Set-Cookie"))
		}
	}
	var stuck *backend
	for _, b := range bs {
		if first.body == fmt.Sprintf("backend %d", b.id) {
			stuck = b
		}
	}
	if c := stuck.lastHeader().Get("Cookie"); strings.Contains(c, "app_session") || !strings.Contains(c, "other=1") || !strings.Contains(c, "more=2") {
		t.Errorf("backend saw Cookie %q: the router's cookie must be removed, the others kept", c)
	}

	// A forged value goes where balancing sends it and gets a real cookie.
	if got := do(p, "GET", "https://s.example.com/", withCookie("0123456789abcdef0123456789abcdef")); got.code != 200 || got.header.Get("Set-Cookie") == "" {
		t.Errorf("forged cookie: %d, Set-Cookie %q", got.code, got.header.Get("Set-Cookie"))
	}

	// The endpoint leaves: the cookie's requests are re-balanced and re-cookied.
	var others []*backend
	for _, b := range bs {
		if b != stuck {
			others = append(others, b)
		}
	}
	tab(others...)
	got := do(p, "GET", "https://s.example.com/", withCookie(value))
	if got.code != 200 || got.body == first.body {
		t.Fatalf("after its endpoint left, the cookie's request got %d %q", got.code, got.body)
	}
	if nc := got.header.Get("Set-Cookie"); nc == "" || strings.Contains(nc, value) {
		t.Errorf("re-picked request got Set-Cookie %q, want a new value", nc)
	}
}

func TestDisableCookies(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	r := newRoute("p", "nc", "nc.example.com", "web")
	r.Annotations = map[string]string{"haproxy.router.openshift.io/disable_cookies": "true"}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	if sc := do(p, "GET", "http://nc.example.com/", nil).header.Get("Set-Cookie"); sc != "" {
		t.Errorf("disable_cookies route set %q", sc)
	}
}

func TestPassiveHealthTakesADeadEndpointOutAndBack(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 2, nil, nil)
	r := balanced("h", "roundrobin")
	p, clk := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, addrs(bs...)...)}))
	bs[1].stop()
	// Every request succeeds: the connect failure is retried on the live one.
	got := count(p, "http://h.example.com/", 20, nil)
	if got["backend 1"] != 20 {
		t.Fatalf("with backend 2 dead: %v, want all 20 on backend 1", got)
	}
	bs[1].restart(t, port)
	// Still inside the back-off: no traffic to it yet.
	if got := count(p, "http://h.example.com/", 10, nil); got["backend 1"] != 10 {
		t.Fatalf("inside the back-off: %v", got)
	}
	clk.Add(healthBackoffMin + time.Millisecond)
	if got := count(p, "http://h.example.com/", 10, nil); got["backend 2"] != 5 {
		t.Fatalf("after the back-off: %v, want backend 2 back in rotation", got)
	}
}

func TestAllEndpointsDownAreTriedAnyway(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, nil, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{balanced("d", "roundrobin")}, services{"p/web": svc(port, bs[0].addr)}))
	bs[0].stop()
	if got := do(p, "GET", "http://d.example.com/", nil); got.code != 503 {
		t.Fatalf("only endpoint dead: %d, want 503", got.code)
	}
	bs[0].restart(t, port)
	// The endpoint is inside its back-off, but it is the only one: it is
	// tried rather than the route refused.
	if got := do(p, "GET", "http://d.example.com/", nil); got.code != 200 {
		t.Fatalf("only endpoint back within its back-off: %d %q, want 200", got.code, got.body)
	}
}
