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
	"os"
	"slices"
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
	// ClientCAFile, when set, is the CA of the callers' client certificates: the webhook paths
	// then answer only a certificate it signed whose common name is in AllowedClients (the API
	// servers), 403 to anyone else. /healthz stays open.
	ClientCAFile   string
	AllowedClients []string
}

// Server is the webhook server.
type Server struct {
	cfg       Config
	cert      tls.Certificate
	clientCAs *x509.CertPool
	mux       *http.ServeMux
}

// New loads the serving certificate and builds the routes.
func New(cfg Config) (*Server, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load the admission serving certificate: %w", err)
	}
	s := &Server{cfg: cfg, cert: cert, mux: http.NewServeMux()}
	webhook := cfg.ImageLookup
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read the admission client CA: %w", err)
		}
		s.clientCAs = x509.NewCertPool()
		if !s.clientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no certificate", cfg.ClientCAFile)
		}
		webhook = onlyClients(cfg.AllowedClients, webhook)
	}
	s.mux.Handle(imagelookup.Path, webhook)
	s.mux.HandleFunc(HealthzPath, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	return s, nil
}

// onlyClients answers only callers whose verified client certificate has one of names as its
// common name.
func onlyClients(names []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || !slices.Contains(names, r.TLS.VerifiedChains[0][0].Subject.CommonName) {
			http.Error(w, "only the cluster's API servers may call this webhook (a client certificate of the cluster CA)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
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
		TLSConfig:         s.tlsConfig(),
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

func (s *Server) tlsConfig() *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
	if s.clientCAs != nil {
		c.ClientCAs, c.ClientAuth = s.clientCAs, tls.VerifyClientCertIfGiven
	}
	return c
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
