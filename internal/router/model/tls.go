package model

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	routev1 "github.com/openshift/api/route/v1"
)

// tlsMaterial is the parsed TLS of one route, or why it cannot be used.
type tlsMaterial struct {
	cert           *tls.Certificate // nil: serve the router's default certificate
	destinationCAs *x509.CertPool   // reencrypt only; nil: the system roots
	// destinationCAPEM is the PEM the pool was made of: data planes that
	// verify backends outside Go (HAProxy's ca-file) need the certificates
	// themselves, which a CertPool does not give back.
	destinationCAPEM []byte
	err              string // non-empty: ExtendedValidationFailed
}

// tlsKey identifies TLS material by content, so a Builder parses each
// certificate once however often it rebuilds.
func tlsKey(t *routev1.TLSConfig) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{string(t.Termination), t.Certificate, t.Key, t.CACertificate, t.DestinationCACertificate} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// parseTLS checks a route's TLS material the way OpenShift's router does
// before it serves it, and returns it parsed. The certificate's host names
// are not compared with the route's host (OpenShift does not either: a
// mismatch is the user's choice and only shows in clients).
func parseTLS(t *routev1.TLSConfig, now time.Time) *tlsMaterial {
	m := &tlsMaterial{}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var caCerts []*x509.Certificate
	if strings.TrimSpace(t.CACertificate) != "" {
		certs, err := parseCertsPEM(t.CACertificate)
		if err != nil {
			fail("spec.tls.caCertificate: %v", err)
		}
		caCerts = certs
	}
	if strings.TrimSpace(t.DestinationCACertificate) != "" {
		certs, err := parseCertsPEM(t.DestinationCACertificate)
		if err != nil {
			fail("spec.tls.destinationCACertificate: %v", err)
		} else {
			m.destinationCAs = x509.NewCertPool()
			for _, c := range certs {
				m.destinationCAs.AddCert(c)
				m.destinationCAPEM = append(m.destinationCAPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
			}
		}
	}

	hasCert, hasKey := strings.TrimSpace(t.Certificate) != "", strings.TrimSpace(t.Key) != ""
	switch {
	case hasKey && !hasCert:
		fail("spec.tls.key is set without spec.tls.certificate")
	case hasCert && !hasKey:
		fail("spec.tls.certificate is set without spec.tls.key")
	case hasCert:
		chain, err := parseCertsPEM(t.Certificate)
		if err != nil {
			fail("spec.tls.certificate: %v", err)
			break
		}
		pair, err := tls.X509KeyPair([]byte(t.Certificate), []byte(t.Key))
		if err != nil {
			fail("spec.tls.key: %v", keyPairError(err))
			break
		}
		if len(caCerts) > 0 {
			if err := verifyChain(chain, caCerts, now); err != nil {
				fail("spec.tls.certificate: %v", err)
				break
			}
			// Serve the chain up to the CA, as OpenShift's router does
			// with the certificate and CA concatenated.
			for _, ca := range caCerts {
				if !containsCert(chain, ca) {
					pair.Certificate = append(pair.Certificate, ca.Raw)
				}
			}
		}
		m.cert = &pair
	}
	if len(problems) > 0 {
		m.cert, m.destinationCAs, m.destinationCAPEM = nil, nil, nil
		m.err = strings.Join(problems, "; ")
	}
	return m
}

// parseCertsPEM returns the certificates of a PEM bundle, failing when there
// are none or one does not parse.
func parseCertsPEM(s string) ([]*x509.Certificate, error) {
	rest := []byte(s)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("found a %q PEM block where only certificates belong", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM-encoded certificate found")
	}
	return certs, nil
}

// keyPairError rewords crypto/tls's key pair errors for a route's author.
func keyPairError(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not match"):
		return "the private key does not match the certificate"
	case strings.Contains(msg, "failed to find any PEM data in key input"),
		strings.Contains(msg, "failed to find PEM block with type ending in \"PRIVATE KEY\""):
		return "no PEM-encoded private key found"
	}
	return strings.TrimPrefix(msg, "tls: ")
}

// verifyChain checks that the leaf chains to one of the CA certificates,
// with the other certificates of either bundle as intermediates.
func verifyChain(chain, caCerts []*x509.Certificate, now time.Time) error {
	pool := x509.NewCertPool()
	for _, c := range caCerts {
		pool.AddCert(c)
	}
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	for _, c := range caCerts {
		intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			return errors.New("the certificate is not signed by spec.tls.caCertificate")
		}
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return fmt.Errorf("the certificate is not valid at %s (valid %s to %s)",
				now.UTC().Format(time.RFC3339), chain[0].NotBefore.UTC().Format(time.RFC3339), chain[0].NotAfter.UTC().Format(time.RFC3339))
		}
		return fmt.Errorf("verify against spec.tls.caCertificate: %w", err)
	}
	return nil
}

func containsCert(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if x.Equal(c) {
			return true
		}
	}
	return false
}
