package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// backend is one test endpoint: an HTTP server on 127.0.0.N:port, so that
// the endpoints of one service share a port as pods do.
type backend struct {
	id   int
	addr netip.Addr
	hits atomic.Int64
	// conns counts the backend's open client connections.
	conns atomic.Int64
	srv   *http.Server
	ln    net.Listener
	// last holds the headers of the last request it got.
	mu   sync.Mutex
	last http.Header
}

func (b *backend) lastHeader() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// startBackends starts n backends on 127.0.0.1..n with the same port; each
// answers "backend <id>" unless h is given. tlsCfg makes them HTTPS.
func startBackends(t *testing.T, n int, h func(b *backend) http.Handler, tlsCfg *tls.Config) (int32, []*backend) {
	t.Helper()
	for try := 0; try < 20; try++ {
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		ok := true
		for i := 2; i <= n; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", i, port))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		if !ok {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		var bs []*backend
		for i, ln := range lns {
			b := &backend{id: i + 1, addr: netip.MustParseAddr(fmt.Sprintf("127.0.0.%d", i+1)), ln: ln}
			var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "backend %d", b.id)
			})
			if h != nil {
				handler = h(b)
			}
			b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b.hits.Add(1)
				b.mu.Lock()
				b.last = r.Header.Clone()
				b.mu.Unlock()
				handler.ServeHTTP(w, r)
			}), ConnState: b.connState}
			if tlsCfg != nil {
				ln = tls.NewListener(ln, tlsCfg)
			}
			go b.srv.Serve(ln)
			t.Cleanup(func() { b.srv.Close() })
			bs = append(bs, b)
		}
		return int32(port), bs
	}
	t.Fatal("no free port on 127.0.0.1-n")
	return 0, nil
}

func (b *backend) connState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		b.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		b.conns.Add(-1)
	}
}

// stop closes a backend's listener and connections: it then refuses
// connections, as a dead pod does.
func (b *backend) stop() { b.srv.Close() }

// restart serves on the backend's address again.
func (b *backend) restart(t *testing.T, port int32) {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", b.addr, port))
	if err != nil {
		t.Fatalf("restart backend %d: %v", b.id, err)
	}
	h := b.srv.Handler
	b.srv = &http.Server{Handler: h, ConnState: b.connState}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
}

func addrs(bs ...*backend) []netip.Addr {
	var out []netip.Addr
	for _, b := range bs {
		out = append(out, b.addr)
	}
	return out
}

func newRoute(ns, name, host, service string) *routev1.Route {
	r := &routev1.Route{}
	r.Namespace, r.Name, r.UID = ns, name, types.UID("uid-"+ns+"-"+name)
	r.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r.Spec.Host = host
	r.Spec.To = routev1.RouteTargetReference{Kind: "Service", Name: service}
	r.Spec.WildcardPolicy = routev1.WildcardPolicyNone
	return r
}

// services maps "ns/svc" to the addresses of its ready endpoints on port.
type services map[string]struct {
	port  int32
	addrs []netip.Addr
}

func svc(port int32, a ...netip.Addr) struct {
	port  int32
	addrs []netip.Addr
} {
	return struct {
		port  int32
		addrs []netip.Addr
	}{port, a}
}

// buildTable admits routes through the real route model and pairs them
// with endpoints, as the watcher does.
func buildTable(t testing.TB, routes []*routev1.Route, svcs services) *model.Table {
	t.Helper()
	b, err := model.NewBuilder(model.Config{RouterName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	snap, changes := b.Build(routes, nil)
	for _, c := range changes {
		if !c.Admitted {
			t.Fatalf("route %s/%s not admitted: %s %s", c.Namespace, c.Name, c.Reason, c.Message)
		}
	}
	tab := &model.Table{Routes: snap, Endpoints: map[string]*model.ServiceEndpoints{}}
	for k, s := range svcs {
		tab.Endpoints[k] = &model.ServiceEndpoints{Ports: []model.EndpointPort{{Port: s.port, Addrs: s.addrs}}}
	}
	return tab
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newProxy(t testing.TB, cfg Config) (*Proxy, *fakeClock) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	p.clock, p.epoch = clk.Now, clk.now
	return p, clk
}

// result is what a request through the proxy got.
type result struct {
	code   int
	body   string
	header http.Header
}

// do sends a request straight to the handler. remote is the client
// address; secure marks it as arriving over TLS.
func do(p *Proxy, method, url string, mod func(r *http.Request)) result {
	r := httptest.NewRequest(method, url, nil)
	r.RemoteAddr = "192.0.2.10:40000"
	r.TLS = nil
	if strings.HasPrefix(url, "https:") {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: r.Host}
	}
	if mod != nil {
		mod(r)
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return result{code: w.Code, body: string(body), header: w.Result().Header}
}

// testCA issues certificates for reencrypt backends.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func (ca *testCA) serverTLS(t *testing.T, dnsName string) *tls.Config {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

type netConn = net.Conn

var dialer net.Dialer

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var netipLoopback = netip.MustParseAddr("127.0.0.1")
