package front

import (
	"crypto/tls"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// cipherSuites are the TLS 1.2 suites offered: ECDHE key exchange with an
// AEAD cipher only, the TLS 1.2 part of OpenShift's "intermediate" TLS
// profile (Go has no DHE). They are pinned rather than taken from Go's
// defaults, which follow the go.mod directive through GODEBUG and once
// included 3DES and CBC suites. TLS 1.3 suites are not configurable in Go
// and are all AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// curves are the key exchange groups, pinned for the same reason.
var curves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}

// newTLSConfig is the one server config of every terminated connection.
// One config for all connections keeps session tickets working across
// them (Go keys and rotates tickets per config); the certificate is picked
// per handshake from the current table, so a rotated certificate is used
// by the next handshake and no restart is needed.
func (f *Front) newTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		MaxVersion:       tls.VersionTLS13,
		CipherSuites:     cipherSuites,
		CurvePreferences: curves,
		NextProtos:       []string{"h2", "http/1.1"},
		GetCertificate:   f.certificate,
	}
}

// certificate is the route's certificate for the server name, else the
// default one: an unknown name never gets another tenant's certificate.
func (f *Front) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if s := f.table.Load().Routes; s != nil && hello.ServerName != "" {
		if c := s.Certificate(model.NormalizeHost(hello.ServerName)); c != nil {
			return c, nil
		}
	}
	return f.cfg.DefaultCertificate, nil
}
