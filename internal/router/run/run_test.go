package run

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routefake "github.com/openshift/client-go/route/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// TestRouterServesAndReportsHealth runs the whole router on loopback ports
// over fake clients: the route is admitted in its status, served over HTTP
// and HTTPS (with the default certificate), and /healthz and /metrics
// answer.
func TestRouterServesAndReportsHealth(t *testing.T) { serveAndCheck(t, BackendGantry) }

// TestHAProxyBackendServes is the same with --backend=haproxy (Debian's
// haproxy must be installed).
func TestHAProxyBackendServes(t *testing.T) { serveAndCheck(t, BackendHAProxy) }

// freePort returns a loopback port nothing listens on (haproxy binds its
// own ports, so it needs them fixed).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func serveAndCheck(t *testing.T, backendKind string) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "backend "+r.Host) }))
	defer backend.Close()
	port, _ := strconv.Atoi(backend.URL[strings.LastIndexByte(backend.URL, ':')+1:])

	rt := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web", UID: "u1", ResourceVersion: "1"},
		Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "web"}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt(port)}}}}
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(port))}}}
	// rate-tcp: two new connections per client per 3 s.
	limited := rt.DeepCopy()
	limited.Name, limited.UID = "limited", "u2"
	limited.Annotations = map[string]string{"haproxy.router.openshift.io/rate-limit-connections": "true",
		"haproxy.router.openshift.io/rate-limit-connections.rate-tcp": "2"}
	routes := routefake.NewSimpleClientset(rt, limited)
	cert, err := SelfSigned("apps.example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Model:  model.Config{RouterName: "test", Subdomain: "apps.example.com"},
		Kube:   kubefake.NewSimpleClientset(svc, es),
		Routes: routes, HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", StatsAddr: "127.0.0.1:0",
		DefaultCertificate: cert, Backend: backendKind,
	}
	if backendKind == BackendHAProxy {
		cfg.HTTPAddr, cfg.HTTPSAddr, cfg.HAProxyDir = freePort(t), freePort(t), t.TempDir()
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Healthy() {
		t.Error("healthy before the first table")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	readyc := make(chan struct{})
	go func() { done <- r.Run(ctx, func() { close(readyc) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-readyc:
	case err := <-done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}

	host := "web-a.apps.example.com"
	client := func(addr string) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, n, addr)
			},
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: host},
		}}
	}
	get := func(c *http.Client, url string) (int, string, *http.Response) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp
	}
	if code, body, _ := get(client(r.HTTPAddr()), "http://"+host+"/"); code != 200 || body != "backend "+host {
		t.Errorf("HTTP: %d %q", code, body)
	}
	if backendKind == BackendGantry {
		// Each client is one keep-alive connection: the third new one in
		// the window is refused and closed; the first two go on.
		limitedURL := "http://limited-a.apps.example.com/"
		c1, c2, c3 := client(r.HTTPAddr()), client(r.HTTPAddr()), client(r.HTTPAddr())
		for i, c := range []*http.Client{c1, c1, c2} {
			if code, _, _ := get(c, limitedURL); code != 200 {
				t.Errorf("rate-tcp: request %d on the first two connections: %d", i+1, code)
			}
		}
		if code, _, resp := get(c3, limitedURL); code != http.StatusTooManyRequests || !resp.Close {
			t.Errorf("rate-tcp: a third connection: %d (closed %v), want 429 and closed", code, resp.Close)
		}
		if code, _, _ := get(c1, limitedURL); code != 200 {
			t.Errorf("rate-tcp: the first connection after the third was refused: %d", code)
		}
	}
	code, _, resp := get(client(r.HTTPSAddr()), "https://"+host+"/")
	if code != http.StatusServiceUnavailable && code != http.StatusOK {
		t.Errorf("HTTPS to a plain route: %d", code)
	}
	if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "*.apps.example.com" {
		t.Errorf("HTTPS did not present the default certificate")
	}
	stats := &http.Client{Timeout: 10 * time.Second}
	if code, body, _ := get(stats, "http://"+r.StatsAddr()+"/healthz"); code != 200 {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if _, body, _ := get(stats, "http://"+r.StatsAddr()+"/metrics"); !strings.Contains(body, "gantry_router_table_rebuild_seconds") {
		t.Errorf("/metrics lacks the rebuild histogram")
	} else if !strings.Contains(body, "\ngo_gc_heap_live_bytes ") {
		t.Errorf("/metrics lacks the live heap")
	}
	// The router's verdict reaches the route's status.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := routes.RouteV1().Routes("a").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Status.Ingress) == 1 && got.Status.Ingress[0].RouterName == "test" && got.Status.Ingress[0].Host == host {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status.ingress = %+v", got.Status.Ingress)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewRefusesWhatItCannotServe(t *testing.T) {
	cert, err := SelfSigned("", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	base := Config{Model: model.Config{RouterName: "r"}, Kube: kubefake.NewSimpleClientset(), Routes: routefake.NewSimpleClientset(),
		HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", DefaultCertificate: cert}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"haproxy without a directory", func(c *Config) {
			c.Backend = BackendHAProxy
			c.HTTPAddr, c.HTTPSAddr = "127.0.0.1:8080", "127.0.0.1:8443"
		}, "--haproxy-dir"},
		{"haproxy on a random port", func(c *Config) { c.Backend = BackendHAProxy; c.HAProxyDir = t.TempDir() }, "needs a fixed port"},
		{"unknown backend", func(c *Config) { c.Backend = "nginx" }, `unknown backend "nginx"`},
		{"no certificate", func(c *Config) { c.DefaultCertificate = nil }, "default certificate is required"},
		{"bad selector", func(c *Config) { c.Model.RouteSelector = "a in (" }, "route selector"},
		{"port taken", func(c *Config) { c.HTTPSAddr = taken.Addr().String() }, "router HTTPS port"},
	} {
		c := base
		tc.change(&c)
		r, err := New(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error about %s", tc.name, err, tc.want)
		}
		if r != nil {
			r.closeListeners()
		}
	}
}
