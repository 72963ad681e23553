package pki

import (
	"crypto/x509"
	"net"
	"os"
	"testing"
)

func TestIssueReusesAndRenews(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := EnsureCA(dir, "ca", "gantry-ca")
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "apiserver", CommonName: "kube-apiserver", DNSNames: []string{"kubernetes"},
		IPs: []net.IP{net.ParseIP("10.0.0.1")}, Server: true}
	p, err := ca.Issue(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(p.CertFile)

	// Same spec: the certificate is kept.
	if _, err := ca.Issue(dir, spec); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(p.CertFile); string(again) != string(first) {
		t.Error("certificate was issued again for an unchanged spec")
	}

	// A new address: the certificate is issued again and covers it.
	spec.IPs = append(spec.IPs, net.ParseIP("10.0.0.2"))
	if _, err := ca.Issue(dir, spec); err != nil {
		t.Fatal(err)
	}
	cert, _, err := load(p.CertFile, p.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.IPAddresses) != 2 {
		t.Errorf("IPs = %v, want both addresses", cert.IPAddresses)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "kubernetes"}); err != nil {
		t.Errorf("certificate does not verify against the CA: %v", err)
	}

	// The CA itself survives a reload.
	ca2, err := EnsureCA(dir, "ca", "gantry-ca")
	if err != nil {
		t.Fatal(err)
	}
	if !ca2.Cert.Equal(ca.Cert) {
		t.Error("CA was replaced on reload")
	}
}

func TestEnsureKeyPairIsStable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, _, err := EnsureKeyPair(dir, "sa")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(priv)
	if _, _, err := EnsureKeyPair(dir, "sa"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(priv); string(a) != string(b) {
		t.Error("service-account key changed on the second call")
	}
	if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", fi.Mode().Perm())
	}
}
