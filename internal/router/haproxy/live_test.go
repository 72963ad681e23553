package haproxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// freePort is a TCP port free on 127.0.0.1 (and, for backends, on
// 127.0.0.2) at the time of the call.
func freePort(t *testing.T, also ...string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		var others []net.Listener
		for _, a := range also {
			o, err := net.Listen("tcp", fmt.Sprintf("%s:%d", a, port))
			if err != nil {
				ok = false
				break
			}
			others = append(others, o)
		}
		l.Close()
		for _, o := range others {
			o.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// backends serves "one" on 127.0.0.1:port and "two" on 127.0.0.2:port.
func backends(t *testing.T) int {
	port := freePort(t, "127.0.0.2")
	for _, s := range []struct{ addr, body string }{{"127.0.0.1", "one"}, {"127.0.0.2", "two"}} {
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", s.addr, port))
		if err != nil {
			t.Fatal(err)
		}
		body := s.body
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", body, r.Header.Get("X-Forwarded-Proto"))
		})}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
	return port
}

// tableAt is table() with every endpoint on port.
func tableAt(t *testing.T, routes []*routev1.Route, eps map[string][]string, port int32) *model.Table {
	tab := table(t, routes, eps)
	for _, se := range tab.Endpoints {
		se.Ports[0].Port = port
	}
	return tab
}

func startRouter(t *testing.T, mode MapMode, tab *model.Table) (*Router, Options) {
	t.Helper()
	bin := haproxyBinary(t)
	o := Options{Binary: bin, Dir: t.TempDir(), BindAddress: "127.0.0.1", MapMode: mode,
		HTTPPort: freePort(t), HTTPSPort: freePort(t), StatsPort: freePort(t), Logf: t.Logf}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Start(ctx, tab); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); r.Stop() })
	return r, r.opt
}

// get requests http://host/path through the router's HTTP port.
func get(t *testing.T, o Options, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", o.HTTPPort, path), nil)
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustApply(t *testing.T, r *Router, tab *model.Table, wantReload bool) Result {
	t.Helper()
	res, err := r.Apply(tab)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reloaded != wantReload {
		t.Fatalf("Apply: reloaded = %v, want %v (%+v)", res.Reloaded, wantReload, res)
	}
	return res
}

func expect(t *testing.T, o Options, host, path string, wantCode int, wantBody string) {
	t.Helper()
	code, body := get(t, o, host, path)
	if code != wantCode || !strings.Contains(body, wantBody) {
		t.Errorf("GET %s%s = %d %q, want %d %q", host, path, code, body, wantCode, wantBody)
	}
}

func TestEndpointAndHostChangesNeedNoReload(t *testing.T) {
	for _, mode := range []MapMode{MapRegex, MapExact} {
		t.Run(string(mode), func(t *testing.T) {
			port := int32(backends(t))
			web := route("shop", "web", "www.example.com", "")
			api := route("shop", "api", "www.example.com", "/api")
			routes := []*routev1.Route{web, api}
			one := map[string][]string{"shop/web": {"127.0.0.1"}, "shop/api": {"127.0.0.2"}}
			r, o := startRouter(t, mode, tableAt(t, routes, one, port))
			pid := r.pid

			expect(t, o, "www.example.com", "/", 200, "one")
			expect(t, o, "WWW.example.com:80", "/x", 200, "one")
			expect(t, o, "www.example.com", "/api", 200, "two")
			expect(t, o, "www.example.com", "/api/v1", 200, "two")
			expect(t, o, "www.example.com", "/apis", 200, "one")
			expect(t, o, "other.example.com", "/", 503, "no route serves this host")

			// The endpoints move: runtime API, no reload.
			swapped := map[string][]string{"shop/web": {"127.0.0.2"}, "shop/api": {"127.0.0.1"}}
			if res := mustApply(t, r, tableAt(t, routes, swapped, port), false); res.Commands == 0 {
				t.Error("no runtime command was sent for moved endpoints")
			}
			expect(t, o, "www.example.com", "/", 200, "two")
			expect(t, o, "www.example.com", "/api", 200, "one")

			// No endpoints: 503 from the route's backend; then back.
			none := map[string][]string{"shop/api": {"127.0.0.1"}}
			mustApply(t, r, tableAt(t, routes, none, port), false)
			expect(t, o, "www.example.com", "/", 503, "")
			both := map[string][]string{"shop/web": {"127.0.0.1", "127.0.0.2"}, "shop/api": {"127.0.0.1"}}
			mustApply(t, r, tableAt(t, routes, both, port), false)
			seen := map[string]bool{}
			for range 10 {
				_, body := get(t, o, "www.example.com", "/")
				seen[strings.Fields(body)[0]] = true
			}
			if !seen["one"] || !seen["two"] {
				t.Errorf("two endpoints: responses came from %v, want both", seen)
			}

			// The route's host changes: the maps are replaced, no reload.
			moved := route("shop", "web", "shop.example.com", "")
			routes2 := []*routev1.Route{moved, api}
			mustApply(t, r, tableAt(t, routes2, both, port), false)
			expect(t, o, "shop.example.com", "/", 200, "")
			expect(t, o, "www.example.com", "/", 503, "no route serves this host")
			expect(t, o, "www.example.com", "/api", 200, "one")
			if r.pid != pid {
				t.Errorf("the worker changed (%d to %d) without a reload", pid, r.pid)
			}

			// Five endpoints outgrow the four slots: reload.
			grown := map[string][]string{"shop/web": {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}, "shop/api": {"127.0.0.1"}}
			mustApply(t, r, tableAt(t, routes2, grown, port), true)
			// A new route: reload; the new worker serves it.
			extra := route("shop", "extra", "extra.example.com", "")
			routes3 := []*routev1.Route{moved, api, extra}
			eps3 := map[string][]string{"shop/web": {"127.0.0.1"}, "shop/api": {"127.0.0.1"}, "shop/extra": {"127.0.0.2"}}
			mustApply(t, r, tableAt(t, routes3, eps3, port), true)
			expect(t, o, "extra.example.com", "/", 200, "two")
			if r.pid == pid {
				t.Error("the worker did not change on reload")
			}
			// Slots do not shrink while haproxy runs: fewer endpoints again
			// need no reload.
			mustApply(t, r, tableAt(t, routes3, eps3, port), false)
		})
	}
}

func TestTLSRoutesThroughHAProxy(t *testing.T) {
	port := int32(backends(t))
	ca := newTestCA(t, "ca")
	cert, key := ca.leaf(t, "secure.example.com")
	edge := route("bank", "edge", "secure.example.com", "")
	edge.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: cert, Key: key,
		InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyRedirect}
	// A TLS backend for the passthrough route: its certificate must reach
	// the client untouched.
	backendCA := newTestCA(t, "backend-ca")
	bcert, bkey := backendCA.leaf(t, "pass.example.com")
	pair, err := tls.X509KeyPair([]byte(bcert), []byte(bkey))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "passthrough") }))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	tsPort := ts.Listener.Addr().(*net.TCPAddr).Port
	pt := route("bank", "pt", "pass.example.com", "")
	pt.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationPassthrough}

	tab := tableAt(t, []*routev1.Route{edge, pt}, map[string][]string{"bank/edge": {"127.0.0.1"}, "bank/pt": {"127.0.0.1"}}, port)
	tab.Endpoints["bank/pt"].Ports[0].Port = int32(tsPort)
	for _, mode := range []MapMode{MapRegex, MapExact} {
		t.Run(string(mode), func(t *testing.T) {
			_, o := startRouter(t, mode, tab)
			served := func(sni, host string) (string, int, string) {
				t.Helper()
				c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
					TLSClientConfig: &tls.Config{ServerName: sni, InsecureSkipVerify: true}}}
				req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/", o.HTTPSPort), nil)
				req.Host = host
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("GET https://%s (SNI %q): %v", host, sni, err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.TLS.PeerCertificates[0].Subject.CommonName, resp.StatusCode, string(b)
			}
			if cn, code, body := served("secure.example.com", "secure.example.com"); cn != "secure.example.com" || code != 200 || body != "one https" {
				t.Errorf("edge route: certificate %q, %d %q; want the route's certificate, 200 \"one https\"", cn, code, body)
			}
			if cn, code, _ := served("unknown.example.com", "unknown.example.com"); cn != "gantry-router-default" || code != 503 {
				t.Errorf("unknown SNI: certificate %q, %d; want the default certificate and 503", cn, code)
			}
			if cn, _, body := served("pass.example.com", "pass.example.com"); cn != "pass.example.com" || body != "passthrough" {
				t.Errorf("passthrough route: certificate %q, body %q; want the backend's own certificate", cn, body)
			}
			if code, _ := get(t, o, "secure.example.com", "/"); code != 302 {
				t.Errorf("plain HTTP to an edge route with Redirect: %d, want 302", code)
			}
		})
	}
}
