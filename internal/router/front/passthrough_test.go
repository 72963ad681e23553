package front

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/router/model"
	routev1 "github.com/openshift/api/route/v1"
)

// tlsBackend is an HTTPS server with its own certificate: the endpoint of
// a passthrough route. The front never has its key.
func tlsBackend(t *testing.T, ca *testCA, host string) net.Listener {
	t.Helper()
	_, _, pair := ca.leaf(t, host)
	l := listen(t)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "BACKEND "+r.URL.Path)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{*pair}},
	}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	return l
}

func get(t *testing.T, c *tls.Conn, br *bufio.Reader, path string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: pt.example.com\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestPassthroughIsNeverDecryptedAndSurvivesTableSwaps(t *testing.T) {
	backendCA := newCA(t, "backend-ca")
	bl := tlsBackend(t, backendCA, "pt.example.com")
	rec := &recorder{}
	tf := startFront(t, Config{Handler: rec, DefaultCertificate: defaultCert(t)})
	tf.Update(table(t, []*routev1.Route{route("pt", "pt.example.com", "pt", passthroughTLS)}, endpointsAt(t, "pt", bl.Addr())))

	// The client verifies against the backend's CA: the handshake only
	// succeeds end to end with the backend, which the front cannot fake.
	c, err := tls.Dial("tcp", tf.httpsAddr, &tls.Config{RootCAs: backendCA.pool, ServerName: "pt.example.com", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("handshake through the passthrough route: %v", err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if got := get(t, c, br, "/one"); got != "BACKEND /one" {
		t.Fatalf("got %q", got)
	}

	// The route goes away; the open connection stays with its endpoint.
	tf.Update(table(t, nil, nil))
	if got := get(t, c, br, "/two"); got != "BACKEND /two" {
		t.Fatalf("after the swap: got %q", got)
	}
	// New connections for that name are terminated with the default
	// certificate now.
	if cn := served(t, tf.httpsAddr, "pt.example.com").Subject.CommonName; cn != "router-default.local" {
		t.Fatalf("after the route is gone: served %q", cn)
	}
	if seen := rec.seen(); len(seen) != 0 {
		t.Fatalf("passthrough traffic reached the terminating handler: %v", seen)
	}
}

func TestPassthroughWithoutEndpointsClosesTheConnection(t *testing.T) {
	tf := startFront(t, Config{DefaultCertificate: defaultCert(t)})
	tf.Update(table(t, []*routev1.Route{route("pt", "pt.example.com", "pt", passthroughTLS)}, nil))
	c, err := net.Dial("tcp", tf.httpsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "pt.example.com"})
	if err := tc.Handshake(); err == nil {
		t.Fatalf("handshake succeeded with %s; want the connection closed", tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
	} else if isTimeout(err) {
		t.Fatalf("the connection was left open: %v", err)
	}
	if !strings.Contains(tf.logs.String(), "no ready endpoints") {
		t.Errorf("nothing logged about the missing endpoints:\n%s", tf.logs.String())
	}
}

// clientHello returns the bytes of a real ClientHello for serverName.
func clientHello(t *testing.T, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go tls.Client(a, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func TestPassthroughPropagatesHalfClose(t *testing.T) {
	// A raw TCP endpoint: it reads until the client's end of stream, then
	// answers. That only works if the front forwards the FIN and keeps the
	// other direction open.
	bl := listen(t)
	got := make(chan []byte, 1)
	go func() {
		c, err := bl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
		io.WriteString(c, "answer after EOF")
	}()
	tf := startFront(t, Config{DefaultCertificate: defaultCert(t)})
	tf.Update(table(t, []*routev1.Route{route("pt", "pt.example.com", "pt", passthroughTLS)}, endpointsAt(t, "pt", bl.Addr())))

	hello := clientHello(t, "pt.example.com")
	c, err := net.Dial("tcp", tf.httpsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(hello)
	c.Write([]byte("and more"))
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply) != "answer after EOF" {
		t.Fatalf("reply %q", reply)
	}
	if b := <-got; !bytes.Equal(b, append(hello, "and more"...)) {
		t.Fatalf("the endpoint got %d bytes, want the ClientHello and the rest unchanged (%d bytes)", len(b), len(hello)+8)
	}
}

func TestPickEndpointIsStickyPerClientAndFollowsWeights(t *testing.T) {
	addrs := func(prefix string, n int) []netip.Addr {
		var out []netip.Addr
		for i := range n {
			out = append(out, netip.AddrFrom4([4]byte{10, prefix[0], 0, byte(i + 1)}))
		}
		return out
	}
	tab := &model.Table{Endpoints: map[string]*model.ServiceEndpoints{
		"p/a":    {Ports: []model.EndpointPort{{Port: 8443, Addrs: addrs("a", 4)}}},
		"p/b":    {Ports: []model.EndpointPort{{Port: 9443, Addrs: addrs("b", 4)}}},
		"p/zero": {Ports: []model.EndpointPort{{Port: 7443, Addrs: addrs("z", 4)}}},
	}}
	r := &model.Route{Namespace: "p", Name: "pt", Backends: []model.Backend{{Service: "a", Weight: 3}, {Service: "b", Weight: 1}, {Service: "zero", Weight: 0}}}
	perPort := map[uint16]int{}
	perAddr := map[netip.Addr]int{}
	const clients = 4000
	for i := range clients {
		src := netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)})
		ep, ok := pickEndpoint(r, tab, src, nil)
		if !ok {
			t.Fatal("no endpoint picked")
		}
		if again, _ := pickEndpoint(r, tab, src, nil); again != ep {
			t.Fatalf("client %v got %v then %v", src, ep, again)
		}
		perPort[ep.Port()]++
		perAddr[ep.Addr()]++
		// Skipping the picked endpoint picks another one.
		if other, ok := pickEndpoint(r, tab, src, []netip.AddrPort{ep}); !ok || other == ep {
			t.Fatalf("skip did not move client %v off %v", src, ep)
		}
	}
	if perPort[7443] != 0 {
		t.Errorf("a weight-0 service got %d clients", perPort[7443])
	}
	// 3:1 within a wide margin: a broken weighting gives 1:1 or 1:0.
	if a, b := perPort[8443], perPort[9443]; a < 2*b || a > 4*b {
		t.Errorf("weights 3:1 gave %d:%d", a, b)
	}
	if len(perAddr) != 8 {
		t.Errorf("%d endpoints used, want all 8 of the weighted services", len(perAddr))
	}
}
