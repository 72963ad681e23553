package integration

import (
	"bytes"
	"context"
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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routeclientset "github.com/openshift/client-go/route/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/test/harness"
)

// The node's router of `gantry start`: its defaults.
const (
	routerHTTP    = harness.NodeIP + ":80"
	routerHTTPS   = harness.NodeIP + ":443"
	routingSuffix = "apps." + harness.NodeIP + ".nip.io"
)

// routerBackend is an HTTP server on the node IP that a selector-less service's EndpointSlice
// points at (EndpointSlices refuse loopback addresses): it answers with its name.
func routerBackend(t *testing.T, name string) int32 {
	t.Helper()
	l, err := net.Listen("tcp", harness.NodeIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// routerService creates a selector-less service and its EndpointSlice to the backend port.
func routerService(ctx context.Context, t *testing.T, ns, name string, port int32) {
	t.Helper()
	cs := cluster.Client
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP}}}}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setEndpoints(ctx, t, ns, name, port, true)
}

// setEndpoints creates (present) or deletes the service's EndpointSlice.
func setEndpoints(ctx context.Context, t *testing.T, ns, name string, port int32, present bool) {
	t.Helper()
	slices := cluster.Client.DiscoveryV1().EndpointSlices(ns)
	if !present {
		if err := slices.Delete(ctx, name+"-test", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-test", Labels: map[string]string{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "integration-test"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{harness.NodeIP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if _, err := slices.Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// routerGet sends a request for host to the router, as `curl --resolve` would: the connection
// goes to the router's address, the Host header (and TLS server name) names the route.
func routerGet(ctx context.Context, scheme, host, path string, roots *x509.CertPool) (int, string, *x509.Certificate, error) {
	addr := routerHTTP
	if scheme == "https" {
		addr = routerHTTPS
	}
	var peer *x509.Certificate
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{ServerName: host, RootCAs: roots, InsecureSkipVerify: roots == nil},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+host+path, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		peer = resp.TLS.PeerCertificates[0]
	}
	return resp.StatusCode, string(body), peer, nil
}

// expectServed waits until a request for host gets status, with body starting with prefix when
// given.
func expectServed(ctx context.Context, t *testing.T, scheme, host string, status int, prefix string, roots *x509.CertPool) {
	t.Helper()
	err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		code, body, _, err := routerGet(ctx, scheme, host, "/", roots)
		if err != nil {
			return err
		}
		if code != status || !strings.HasPrefix(body, prefix) {
			return fmt.Errorf("%s://%s/: %d %q, want %d %q", scheme, host, code, body, status, prefix)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// admission waits until the router's status entry on a route has the Admitted condition
// status, and returns the entry.
func admission(ctx context.Context, t *testing.T, rc routeclientset.Interface, ns, name string, status corev1.ConditionStatus) routev1.RouteIngress {
	t.Helper()
	var got routev1.RouteIngress
	err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		r, err := rc.RouteV1().Routes(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, in := range r.Status.Ingress {
			if in.RouterName != "default" {
				continue
			}
			for _, c := range in.Conditions {
				if c.Type == routev1.RouteAdmitted && c.Status == status {
					got = in
					return nil
				}
			}
			return fmt.Errorf("route %s/%s: ingress %+v", ns, name, in)
		}
		return fmt.Errorf("route %s/%s has no status entry of router default: %+v", ns, name, r.Status.Ingress)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func createNamespace(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cluster.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

func routeTo(name, host, service string) *routev1.Route {
	return &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: routev1.RouteSpec{Host: host, To: routev1.RouteTargetReference{Kind: "Service", Name: service}}}
}

// TestRouterServesRoutes drives the router of `gantry start` through the API: admission and the
// status it writes, host claims across namespaces, a rejected certificate that leaves the other
// routes serving, an edge route's own certificate on SNI, the default certificate, unknown hosts
// and endpoints that go and come back, all while the router keeps running.
func TestRouterServesRoutes(t *testing.T) {
	ctx := t.Context()
	rc, err := routeclientset.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	a, b := "router-a", "router-b"
	createNamespace(ctx, t, a)
	createNamespace(ctx, t, b)
	portA, portB := routerBackend(t, "backend-a"), routerBackend(t, "backend-b")
	routerService(ctx, t, a, "web", portA)
	routerService(ctx, t, b, "web", portB)
	routes := func(ns string) interface {
		Create(context.Context, *routev1.Route, metav1.CreateOptions) (*routev1.Route, error)
	} {
		return rc.RouteV1().Routes(ns)
	}

	// A route without a host gets <name>-<namespace>.<suffix>, is admitted and served.
	created, err := routes(a).Create(ctx, routeTo("web", "", "web"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	generated := "web-" + a + "." + routingSuffix
	if created.Spec.Host != generated {
		t.Errorf("the API gave the route host %q, want %s (gantry start's routing suffix)", created.Spec.Host, generated)
	}
	in := admission(ctx, t, rc, a, "web", corev1.ConditionTrue)
	if in.Host != generated || in.WildcardPolicy != routev1.WildcardPolicyNone {
		t.Errorf("status entry = %+v, want host %s, wildcardPolicy None", in, generated)
	}
	expectServed(ctx, t, "http", generated, http.StatusOK, "backend-a /", nil)

	t.Run("UnknownHost503", func(t *testing.T) {
		expectServed(ctx, t, "http", "nobody-"+a+"."+routingSuffix, http.StatusServiceUnavailable, "", nil)
	})

	t.Run("OlderRouteKeepsItsHost", func(t *testing.T) {
		host := "claimed.router.test"
		if _, err := routes(a).Create(ctx, routeTo("claim", host, "web"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		admission(ctx, t, rc, a, "claim", corev1.ConditionTrue)
		if _, err := routes(b).Create(ctx, routeTo("claim", host, "web"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		in := admission(ctx, t, rc, b, "claim", corev1.ConditionFalse)
		if c := in.Conditions[0]; c.Reason != "HostAlreadyClaimed" {
			t.Errorf("newer route in another namespace: %+v, want HostAlreadyClaimed", c)
		}
		expectServed(ctx, t, "http", host, http.StatusOK, "backend-a", nil)
	})

	t.Run("BadCertificateIsRejectedOthersServe", func(t *testing.T) {
		bad := routeTo("badcert", "badcert.router.test", "web")
		bad.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge,
			Certificate: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", Key: "not a key"}
		if _, err := routes(a).Create(ctx, bad, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		in := admission(ctx, t, rc, a, "badcert", corev1.ConditionFalse)
		if c := in.Conditions[0]; c.Reason != "ExtendedValidationFailed" || c.Message == "" {
			t.Errorf("bad certificate: %+v, want ExtendedValidationFailed with a message", c)
		}
		expectServed(ctx, t, "http", generated, http.StatusOK, "backend-a", nil)
		expectServed(ctx, t, "http", "badcert.router.test", http.StatusServiceUnavailable, "", nil)
	})

	t.Run("EdgeRouteCertificateOnSNI", func(t *testing.T) {
		host := "secure.router.test"
		certPEM, keyPEM, pool := selfSigned(t, host)
		edge := routeTo("secure", host, "web")
		edge.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: string(certPEM), Key: string(keyPEM)}
		if _, err := routes(a).Create(ctx, edge, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		admission(ctx, t, rc, a, "secure", corev1.ConditionTrue)
		// Verified against the route's own certificate only: anything else fails the handshake.
		expectServed(ctx, t, "https", host, http.StatusOK, "backend-a", pool)
		_, _, peer, err := routerGet(ctx, "https", host, "/", pool)
		if err != nil || peer == nil || peer.Subject.CommonName != host {
			t.Errorf("certificate for %s: %v, %v", host, peer, err)
		}
	})

	t.Run("DefaultCertificateForOtherNames", func(t *testing.T) {
		ca, err := os.ReadFile(filepath.Join(cluster.DataDir, "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		// The generated host has no certificate of its own: the cluster CA's wildcard for the
		// routing suffix is served, and verifies.
		_, _, peer, err := routerGet(ctx, "https", generated, "/", pool)
		if err != nil {
			t.Fatalf("https://%s/ with the cluster CA: %v", generated, err)
		}
		if !bytes.Contains([]byte(strings.Join(peer.DNSNames, ",")), []byte("*."+routingSuffix)) {
			t.Errorf("default certificate names %v, want *.%s", peer.DNSNames, routingSuffix)
		}
	})

	t.Run("EndpointsGoneThenBack", func(t *testing.T) {
		setEndpoints(ctx, t, a, "web", portA, false)
		expectServed(ctx, t, "http", generated, http.StatusServiceUnavailable, "", nil)
		setEndpoints(ctx, t, a, "web", portA, true)
		expectServed(ctx, t, "http", generated, http.StatusOK, "backend-a", nil)
	})
}

// selfSigned makes a certificate and key for host and a pool that trusts only it.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), pool
}

// TestStandaloneRouterShard runs `gantry router` beside the node's router as a second shard (route
// selector shard=b, on loopback ports): a route of the shard carries both routers' status
// entries and is served by both; relabelled out of the shard, it loses only the shard's entry.
func TestStandaloneRouterShard(t *testing.T) {
	ctx := t.Context()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := routeclientset.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := "router-shard"
	createNamespace(ctx, t, ns)
	routerService(ctx, t, ns, "web", routerBackend(t, "backend-shard"))

	httpAddr, httpsAddr, statsAddr := freeLoopback(t), freeLoopback(t), freeLoopback(t)
	port := func(a string) string { _, p, _ := net.SplitHostPort(a); return p }
	var out bytes.Buffer
	cmd := exec.Command(bin, "router", "--kubeconfig", cluster.Kubeconfig, "--name", "shard-b", "--route-selector", "shard=b",
		"--bind", "127.0.0.1", "--http-port", port(httpAddr), "--https-port", port(httpsAddr), "--stats-port", port(statsAddr),
		"--subdomain", routingSuffix)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("gantry router output:\n%s", out.String())
		}
	})
	if err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		resp, err := http.Get("http://" + statsAddr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz: %s", resp.Status)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	r := routeTo("web", "", "web")
	r.Labels = map[string]string{"shard": "b"}
	if _, err := rc.RouteV1().Routes(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := "web-" + ns + "." + routingSuffix
	entries := func(want ...string) {
		t.Helper()
		err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
			got, err := rc.RouteV1().Routes(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			var names []string
			for _, in := range got.Status.Ingress {
				if in.Host == host && len(in.Conditions) == 1 && in.Conditions[0].Status == corev1.ConditionTrue {
					names = append(names, in.RouterName)
				}
			}
			if !sameSet(names, want) {
				return fmt.Errorf("admitted by %v (ingress %+v), want %v", names, got.Status.Ingress, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	entries("default", "shard-b")
	expectServed(ctx, t, "http", host, http.StatusOK, "backend-shard", nil)
	if err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		code, body, err := getVia(ctx, httpAddr, host)
		if err != nil || code != http.StatusOK || !strings.HasPrefix(body, "backend-shard") {
			return fmt.Errorf("via the shard: %d %q %v", code, body, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Two routers write this route's status: relabel on a fresh read.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := rc.RouteV1().Routes(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		got.Labels["shard"] = "c"
		_, err = rc.RouteV1().Routes(ns).Update(ctx, got, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	entries("default")
	if err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		code, _, err := getVia(ctx, httpAddr, host)
		if err != nil || code != http.StatusServiceUnavailable {
			return fmt.Errorf("via the shard after leaving it: %d %v", code, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// getVia sends GET / for host to a router at addr.
func getVia(ctx context.Context, addr, host string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}
