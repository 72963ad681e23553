package front

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
)

// served returns the leaf certificate the front presents for a server name
// ("" sends no SNI).
func served(t *testing.T, addr, serverName string) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: serverName})
	if err != nil {
		t.Fatalf("handshake for %q: %v", serverName, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

func TestTheCertificateServedDependsOnTheServerName(t *testing.T) {
	ca := newCA(t, "tenant-ca")
	aCert, aKey, _ := ca.leaf(t, "a.example.com")
	_, otherKey, _ := ca.leaf(t, "bad.example.com")
	badCert, _, _ := ca.leaf(t, "bad.example.com")
	def := defaultCert(t)
	tf := startFront(t, Config{DefaultCertificate: def})
	tf.Update(table(t, []*routev1.Route{
		route("a", "a.example.com", "web", edge(aCert, aKey)),
		route("plain-edge", "b.example.com", "web", &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge}),
		// The key is not the certificate's: the model rejects the route.
		route("bad", "bad.example.com", "web", edge(badCert, otherKey)),
	}, nil))
	for _, tc := range []struct {
		sni, wantCN string
	}{
		{"a.example.com", "a.example.com"},
		{"A.Example.COM", "a.example.com"},
		{"b.example.com", "router-default.local"},
		{"unknown.example.com", "router-default.local"},
		{"", "router-default.local"},
		{"bad.example.com", "router-default.local"},
	} {
		if got := served(t, tf.httpsAddr, tc.sni).Subject.CommonName; got != tc.wantCN {
			t.Errorf("server name %q: served %q, want %q", tc.sni, got, tc.wantCN)
		}
	}
}

func TestCertificateRotationAffectsNewHandshakesOnly(t *testing.T) {
	ca := newCA(t, "tenant-ca")
	oldCert, oldKey, _ := ca.leaf(t, "a.example.com")
	newCert, newKey, _ := ca.leaf(t, "a.example.com")
	tf := startFront(t, Config{DefaultCertificate: defaultCert(t)})
	tf.Update(table(t, []*routev1.Route{route("a", "a.example.com", "web", edge(oldCert, oldKey))}, nil))

	cfg := &tls.Config{RootCAs: ca.pool, ServerName: "a.example.com", NextProtos: []string{"http/1.1"}}
	before, err := tls.Dial("tcp", tf.httpsAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	oldSerial := before.ConnectionState().PeerCertificates[0].SerialNumber

	r := route("a", "a.example.com", "web", edge(newCert, newKey))
	r.ResourceVersion = "2"
	tf.Update(table(t, []*routev1.Route{r}, nil))

	if got := served(t, tf.httpsAddr, "a.example.com").SerialNumber; got.Cmp(oldSerial) == 0 {
		t.Fatalf("a new handshake still gets the old certificate")
	}
	// The connection made before the rotation goes on working.
	br := bufio.NewReader(before)
	for i := range 2 {
		io.WriteString(before, "GET /still HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on the old connection: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "HANDLER GET /still") {
			t.Fatalf("request %d on the old connection: %s", i, body)
		}
	}
}

func TestHTTPSServesH2AndHTTP1WithTheTLSStateFilledIn(t *testing.T) {
	tf := startFront(t, Config{DefaultCertificate: defaultCert(t)})
	for _, tc := range []struct {
		name      string
		h2        bool
		wantProto string
	}{{"h2", true, "HTTP/2.0"}, {"http1", false, "HTTP/1.1"}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "x.example.com"}, ForceAttemptHTTP2: tc.h2}
			if !tc.h2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("https://" + tf.httpsAddr + "/p")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.Proto != tc.wantProto || resp.Header.Get("X-Seen-Proto") != tc.wantProto {
				t.Errorf("proto %s (handler saw %s), want %s", resp.Proto, resp.Header.Get("X-Seen-Proto"), tc.wantProto)
			}
			if got := resp.Header.Get("X-Seen-TLS"); got != "x.example.com" {
				t.Errorf("handler saw TLS server name %q, want x.example.com", got)
			}
		})
	}
}

func TestOldTLSVersionsAndWeakCiphersAreRefused(t *testing.T) {
	tf := startFront(t, Config{DefaultCertificate: defaultCert(t)})
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"TLS 1.0", &tls.Config{MaxVersion: tls.VersionTLS10}},
		{"TLS 1.1", &tls.Config{MaxVersion: tls.VersionTLS11}},
		{"TLS 1.2 CBC only", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}},
		{"TLS 1.2 RSA key exchange", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}},
	} {
		tc.cfg.InsecureSkipVerify = true
		if c, err := tls.Dial("tcp", tf.httpsAddr, tc.cfg); err == nil {
			c.Close()
			t.Errorf("%s: handshake succeeded with %s", tc.name, tls.CipherSuiteName(c.ConnectionState().CipherSuite))
		}
	}
	c, err := tls.Dial("tcp", tf.httpsAddr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 with the default suites: %v", err)
	}
	c.Close()
}

func TestPlainHTTPOnTheHTTPSPortIsTold(t *testing.T) {
	tf := startFront(t, Config{DefaultCertificate: defaultCert(t)})
	c, err := net.Dial("tcp", tf.httpsAddr)
	if err != nil {
		t.Fatal(err)
	}
	raw := exchange(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false)
	if !strings.HasPrefix(raw, "HTTP/1.0 400") || !strings.Contains(raw, "HTTP request to an HTTPS server") {
		t.Fatalf("got %q", raw)
	}
}

func TestH2COnThePlainPort(t *testing.T) {
	tf := startFront(t, Config{DefaultCertificate: defaultCert(t)})
	t.Run("prior knowledge", func(t *testing.T) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("http://" + tf.httpAddr + "/h2c")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Proto != "HTTP/2.0" || resp.Header.Get("X-Seen-Proto") != "HTTP/2.0" {
			t.Fatalf("proto %s, handler saw %s", resp.Proto, resp.Header.Get("X-Seen-Proto"))
		}
	})
	t.Run("upgrade", func(t *testing.T) {
		c, err := net.Dial("tcp", tf.httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101") {
			t.Fatalf("status line %q, %v", line, err)
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if l == "\r\n" {
				break
			}
		}
		// The server speaks HTTP/2 now: its first frame is SETTINGS.
		hdr := make([]byte, 9)
		if _, err := io.ReadFull(br, hdr); err != nil {
			t.Fatal(err)
		}
		if hdr[3] != 0x4 {
			t.Fatalf("first frame type %d, want SETTINGS (4)", hdr[3])
		}
	})
}
