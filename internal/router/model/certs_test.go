package model

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPKI makes certificates for fixtures on demand, so no key material is
// committed. CA names are roots ("ca1") or intermediates under a root
// ("ca1/int"); a leaf is named by its host and issuer. A host starting with
// "expired." gets a certificate that expired an hour ago.
type testPKI struct {
	t     testing.TB
	mu    sync.Mutex
	cas   map[string]*issued
	leafs map[string]*issued
}

type issued struct {
	cert    *x509.Certificate
	certPEM string
	keyPEM  string
	key     *ecdsa.PrivateKey
	issuer  *issued
}

var (
	sharedPKIOnce sync.Once
	sharedPKI     *testPKI
)

// pki returns the PKI shared by the tests of this package.
func pki(t testing.TB) *testPKI {
	sharedPKIOnce.Do(func() {
		sharedPKI = &testPKI{cas: map[string]*issued{}, leafs: map[string]*issued{}}
	})
	sharedPKI.mu.Lock()
	sharedPKI.t = t
	sharedPKI.mu.Unlock()
	return sharedPKI
}

func (p *testPKI) ca(name string) *issued {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.caLocked(name)
}

func (p *testPKI) caLocked(name string) *issued {
	if c, ok := p.cas[name]; ok {
		return c
	}
	var parent *issued
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		parent = p.caLocked(name[:i])
	}
	c := p.issue(pkix.Name{CommonName: "test " + name}, nil, true, parent, false)
	p.cas[name] = c
	return c
}

func (p *testPKI) leaf(host, caName string) *issued {
	issuer := p.ca(caName)
	p.mu.Lock()
	defer p.mu.Unlock()
	k := host + "@" + caName
	if l, ok := p.leafs[k]; ok {
		return l
	}
	l := p.issue(pkix.Name{CommonName: host}, []string{host}, false, issuer, strings.HasPrefix(host, "expired."))
	p.leafs[k] = l
	return l
}

func (p *testPKI) issue(subject pkix.Name, dnsNames []string, isCA bool, issuer *issued, expired bool) *issued {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatalf("generate key: %v", err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		DNSNames:     dnsNames,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if expired {
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-48*time.Hour), now.Add(-time.Hour)
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = nil
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		p.t.Fatalf("create certificate: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatalf("marshal key: %v", err)
	}
	return &issued{
		cert:    cert,
		key:     key,
		issuer:  issuer,
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}
}

// templateFuncs are the functions fixtures use to put PEM into YAML; each
// returns a double-quoted YAML string.
func (p *testPKI) templateFuncs() map[string]any {
	return map[string]any{
		// cert HOST CA: the leaf certificate of HOST issued by CA.
		"cert": func(host, ca string) string { return quote(p.leaf(host, ca).certPEM) },
		// chain HOST CA: the leaf followed by its issuer (an intermediate).
		"chain": func(host, ca string) string {
			l := p.leaf(host, ca)
			return quote(l.certPEM + l.issuer.certPEM)
		},
		// key HOST CA: the private key of that leaf.
		"key": func(host, ca string) string { return quote(p.leaf(host, ca).keyPEM) },
		// ca NAME: the CA certificate.
		"ca": func(name string) string { return quote(p.ca(name).certPEM) },
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
