// Package admission serves Gantry's admission webhooks over HTTPS (DESIGN D3: policy is
// webhooks, so that the same code works embedded and on an external cluster) and registers them
// with kube-apiserver. For now it serves one: image stream lookup (package imagelookup).
package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/admission/imagelookup"
)

// HealthzPath answers 200 once the server serves.
const HealthzPath = "/healthz"

// Config is the webhook server's.
type Config struct {
	// Addr is host:port to listen on.
	Addr string
	// CertFile and KeyFile are the serving certificate, signed by the CA kube-apiserver is given
	// in the webhook configuration's caBundle.
	CertFile, KeyFile string
	// ImageLookup serves imagelookup.Path.
	ImageLookup http.Handler
}

// Server is the webhook server.
type Server struct {
	cfg  Config
	cert tls.Certificate
	mux  *http.ServeMux
}

// New loads the serving certificate and builds the routes.
func New(cfg Config) (*Server, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load the admission serving certificate: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(imagelookup.Path, cfg.ImageLookup)
	mux.HandleFunc(HealthzPath, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	return &Server{cfg: cfg, cert: cert, mux: mux}, nil
}

// Handler is the server's routes (for tests).
func (s *Server) Handler() http.Handler { return s.mux }

// Run listens and serves until ctx is done; listening is called once the socket is open.
func (s *Server) Run(ctx context.Context, listening func()) error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(klogWriter{}, "", 0), // TLS handshake errors of probes and scanners
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(l, "", "") }()
	if listening != nil {
		listening()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve admission webhooks on %s: %w", s.cfg.Addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		klog.InfoS("Admission webhook server did not stop cleanly", "err", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Probe GETs url + HealthzPath over TLS, trusting only roots: it fails unless the server
// answers 200 with a certificate those roots signed for the URL's host.
func Probe(ctx context.Context, url string, roots *x509.CertPool) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsConfig(roots), DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+HealthzPath, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s: %s", url, HealthzPath, resp.Status)
	}
	return nil
}

func tlsConfig(roots *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: roots} }

type klogWriter struct{}

func (klogWriter) Write(p []byte) (int, error) {
	klog.V(2).InfoS("Admission webhook server", "msg", string(bytes.TrimSpace(p)))
	return len(p), nil
}
