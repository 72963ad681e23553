package route

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// tlsFiles are the --cert, --key, --ca-cert and --dest-ca-cert files.
type tlsFiles struct {
	Cert, Key, CACert, DestCACert string
}

// tlsMaterial is their content, checked.
type tlsMaterial struct {
	Cert, Key, CACert, DestCACert string
}

// load reads the files and checks what the router would reject later, so
// that the user hears about it now, with the flag to fix: each file must be
// PEM of the right kind, and the certificate must match the key.
func (f tlsFiles) load() (tlsMaterial, error) {
	var m tlsMaterial
	if (f.Cert == "") != (f.Key == "") {
		return m, errors.New("--cert and --key go together: give both (the route serves this certificate) or neither (the router's default certificate)")
	}
	var err error
	if m.Cert, err = readPEM("--cert", f.Cert, isCertificate, "a PEM certificate (BEGIN CERTIFICATE)"); err != nil {
		return m, err
	}
	if m.Key, err = readPEM("--key", f.Key, isKey, "a PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY), not encrypted"); err != nil {
		return m, err
	}
	if m.CACert, err = readPEM("--ca-cert", f.CACert, isCertificate, "PEM CA certificates (BEGIN CERTIFICATE)"); err != nil {
		return m, err
	}
	if m.DestCACert, err = readPEM("--dest-ca-cert", f.DestCACert, isCertificate, "PEM CA certificates (BEGIN CERTIFICATE)"); err != nil {
		return m, err
	}
	if m.Cert != "" {
		if _, err := tls.X509KeyPair([]byte(m.Cert), []byte(m.Key)); err != nil {
			return m, fmt.Errorf("--cert %s and --key %s do not belong together: %v\nTry: give the key the certificate was issued for", f.Cert, f.Key, err)
		}
	}
	return m, nil
}

// readPEM reads a file that must hold at least one PEM block each of which
// passes check. An empty name reads nothing.
func readPEM(flag, name string, check func(*pem.Block) error, want string) (string, error) {
	if name == "" {
		return "", nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read %s: %v", flag, name, err)
	}
	rest, n := data, 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		if err := check(b); err != nil {
			return "", fmt.Errorf("%s: %s: PEM block %d (%s): %v; it must be %s", flag, name, n, b.Type, err, want)
		}
	}
	if n == 0 {
		return "", fmt.Errorf("%s: %s holds no PEM data; it must be %s", flag, name, want)
	}
	return string(data), nil
}

func isCertificate(b *pem.Block) error {
	if b.Type != "CERTIFICATE" {
		return errors.New("not a certificate")
	}
	_, err := x509.ParseCertificate(b.Bytes)
	return err
}

func isKey(b *pem.Block) error {
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		_, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		_, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		_, err = x509.ParseECPrivateKey(b.Bytes)
	case "EC PARAMETERS":
		return nil // openssl writes these before an EC key
	default:
		err = errors.New("not a private key")
	}
	return err
}
