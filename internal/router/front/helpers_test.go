package front

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/gantry-dev/gantry/internal/syncbuf"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/router/model"
	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testCA issues certificates for tests; nothing is committed.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
	pool *x509.CertPool
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n)
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), pool: pool}
}

// leaf issues a serving certificate for host; it returns PEM (for routes)
// and the parsed pair (for servers).
func (ca *testCA) leaf(t testing.TB, host string) (certPEM, keyPEM string, pair *tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	p, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, &p
}

// route is a route to service svc in namespace "p".
func route(name, host, svc string, tlsCfg *routev1.TLSConfig) *routev1.Route {
	r := &routev1.Route{
		ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1000, 0))},
		Spec: routev1.RouteSpec{
			Host: host,
			To:   routev1.RouteTargetReference{Kind: "Service", Name: svc},
			TLS:  tlsCfg,
		},
	}
	return r
}

func edge(certPEM, keyPEM string) *routev1.TLSConfig {
	return &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: certPEM, Key: keyPEM}
}

var passthroughTLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationPassthrough}

// table builds a Table through the real model, so routes with bad TLS
// material are left out exactly as in the router.
func table(t testing.TB, routes []*routev1.Route, endpoints map[string]*model.ServiceEndpoints) *model.Table {
	t.Helper()
	b, err := model.NewBuilder(model.Config{RouterName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := b.Build(routes, nil)
	return &model.Table{Routes: snap, Endpoints: endpoints}
}

// endpointsAt are the endpoints of service p/svc: one address and port
// taken from a loopback listener.
func endpointsAt(t testing.TB, svc string, addr net.Addr) map[string]*model.ServiceEndpoints {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*model.ServiceEndpoints{
		model.ServiceKey("p", svc): {Ports: []model.EndpointPort{{Port: int32(ap.Port()), Addrs: []netip.Addr{ap.Addr()}}}},
	}
}

// testFront starts a Front on loopback with plain and TLS listeners.
type testFront struct {
	*Front
	httpAddr, httpsAddr string
	logs                *syncbuf.Buffer
}

func startFront(t testing.TB, cfg Config) *testFront {
	t.Helper()
	logs := &syncbuf.Buffer{}
	if cfg.Log == nil {
		cfg.Log = log.New(io.MultiWriter(logs, testWriter{t}), "", 0)
	}
	if cfg.Handler == nil {
		cfg.Handler = echoHandler()
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pl := listen(t)
	sl := listen(t)
	errs := make(chan error, 2)
	go func() { errs <- f.ServeHTTP(pl) }()
	go func() { errs <- f.ServeHTTPS(sl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		for range 2 {
			if err := <-errs; err != http.ErrServerClosed {
				t.Errorf("serve returned %v, want http.ErrServerClosed", err)
			}
		}
	})
	return &testFront{Front: f, httpAddr: pl.Addr().String(), httpsAddr: sl.Addr().String(), logs: logs}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// echoHandler answers with what it saw, body included; the tests read it
// to know whether a request reached the handler.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		tlsInfo := "none"
		if r.TLS != nil {
			tlsInfo = r.TLS.ServerName
		}
		w.Header().Set("X-Seen-Proto", r.Proto)
		w.Header().Set("X-Seen-TLS", tlsInfo)
		io.WriteString(w, "HANDLER "+r.Method+" "+r.URL.Path+" body="+string(body))
	})
}
