package haproxy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// mapText is a map file: one "key value" line per entry.
func mapText(entries []mapEntry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(e.Key)
		b.WriteByte(' ')
		b.WriteString(e.Value)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// writeFile replaces a file atomically, so a reloading haproxy never reads
// half of one. Unchanged files are left alone.
func writeFile(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeFiles writes the view's maps and TLS files and removes the
// certificate files of routes that are gone.
func (v *view) writeFiles() error {
	for name, entries := range v.Maps {
		if err := writeFile(v.Opt.path(name), mapText(entries)); err != nil {
			return fmt.Errorf("haproxy: write %s: %w", name, err)
		}
	}
	for name, data := range v.Files {
		if err := writeFile(v.Opt.path(name), data); err != nil {
			return fmt.Errorf("haproxy: write %s: %w", name, err)
		}
	}
	for _, dir := range []string{"certs", "cacerts"} {
		entries, _ := os.ReadDir(v.Opt.path(dir))
		for _, e := range entries {
			if _, ok := v.Files[dir+"/"+e.Name()]; !ok && !strings.HasSuffix(e.Name(), ".tmp") {
				os.Remove(v.Opt.path(dir + "/" + e.Name()))
			}
		}
	}
	return nil
}

// selfSignedDefault makes the default certificate when none is given: a
// self-signed ECDSA P-256 certificate, valid for a year. Clients are not
// meant to trust it; it is what an unknown server name gets instead of
// another tenant's certificate.
func selfSignedDefault() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "gantry-router-default"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
