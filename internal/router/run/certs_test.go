package run

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadCertificateFromOneFile(t *testing.T) {
	c, err := SelfSigned("apps.example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Leaf.DNSNames; len(got) != 2 || got[0] != "*.apps.example.com" || got[1] != "apps.example.com" {
		t.Errorf("self-signed names = %v", got)
	}
	dir := t.TempDir()
	key, err := os.ReadFile(writeKey(t, dir, c))
	if err != nil {
		t.Fatal(err)
	}
	both := filepath.Join(dir, "tls.pem")
	// Key first, then the certificate: OpenShift's router takes either order.
	if err := os.WriteFile(both, append(key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})...), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCertificate(both, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Leaf.Subject.CommonName != "*.apps.example.com" {
		t.Errorf("loaded %s", got.Leaf.Subject.CommonName)
	}
	onlyCert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(onlyCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCertificate(onlyCert, ""); err == nil || !strings.Contains(err.Error(), "Try:") {
		t.Errorf("a file without the key: %v, want an error saying what the file must hold", err)
	}
	if _, err := LoadCertificate(filepath.Join(dir, "missing.pem"), ""); err == nil {
		t.Error("a missing file loaded")
	}
}

// writeKey writes the certificate's private key as PEM and returns the file.
func writeKey(t *testing.T, dir string, c *tls.Certificate) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
