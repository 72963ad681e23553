package images

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/openshift/library-go/pkg/network/networkutils"
)

// RegistryClient deletes manifests, layer links and blobs in the integrated registry with a
// bearer token (a user with the system:image-pruner cluster role, or cluster-admin).
type RegistryClient struct {
	// URL is the registry's base URL (scheme and host).
	URL   *url.URL
	Token string
	HTTP  *http.Client
}

var _ Registry = (*RegistryClient)(nil)

// RegistryConfig says how to reach the registry.
type RegistryConfig struct {
	// Address is a host[:port], or a URL with an http:// or https:// scheme.
	Address string
	Token   string
	// CAFile adds a certificate authority for HTTPS.
	CAFile string
	// Insecure allows plain HTTP and unverified HTTPS. Without a scheme in Address, plain HTTP is
	// also tried when the host is a loopback or private address, as oc does.
	Insecure bool
}

// ValidateRegistryURL checks --registry-url: a host[:port], optionally with an http:// or https://
// scheme, and nothing after it.
func ValidateRegistryURL(s string) error {
	u, err := parseRegistryURL(s)
	if err != nil {
		return err
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return fmt.Errorf("registry URL %q: give only [http[s]://]host[:port], no path or query", s)
	}
	if u.Host == "" {
		return fmt.Errorf("registry URL %q names no host", s)
	}
	return nil
}

func parseRegistryURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("registry URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("registry URL %q: the scheme must be http or https", s)
	}
	return u, nil
}

// NewRegistryClient finds how the registry answers (HTTPS first; plain HTTP when allowed) with a
// GET /v2/ that must accept the token, and returns a client for it.
func NewRegistryClient(ctx context.Context, cfg RegistryConfig) (*RegistryClient, error) {
	u, err := parseRegistryURL(cfg.Address)
	if err != nil {
		return nil, err
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read the registry's certificate authority: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", cfg.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	host := u.Hostname()
	insecure := cfg.Insecure || (cfg.CAFile == "" && (host == "localhost" || networkutils.IsPrivateAddress(host) || isLoopback(host)))
	tlsConfig.InsecureSkipVerify = cfg.Insecure
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	transport.Proxy = nil // the integrated registry is local
	c := &RegistryClient{Token: cfg.Token, HTTP: &http.Client{Transport: transport, Timeout: time.Minute}}

	candidates := []*url.URL{u}
	if !strings.Contains(cfg.Address, "://") && insecure {
		h := *u
		h.Scheme = "http"
		candidates = append(candidates, &h)
	}
	var errs []error
	for _, cand := range candidates {
		c.URL = &url.URL{Scheme: cand.Scheme, Host: cand.Host}
		err := c.ping(ctx)
		if err == nil {
			return c, nil
		}
		var denied *deniedError
		if errors.As(err, &denied) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("reach the registry at %s: %w\nTry: --registry-url with the registry's address (http:// for plain HTTP), or --force-insecure", cfg.Address, errors.Join(errs...))
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// deniedError is the registry's refusal (401 or 403), with its message.
type deniedError struct {
	status  int
	message string
}

func (e *deniedError) Error() string {
	if e.status == http.StatusUnauthorized {
		return "the registry does not accept the token (401): " + e.message
	}
	return "the registry refused (403): " + e.message
}

func (c *RegistryClient) ping(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/v2/")
}

// CheckAccess asks the registry to delete a blob that cannot exist: a refusal says that the
// token may not prune, before anything was changed.
func (c *RegistryClient) CheckAccess(ctx context.Context) error {
	err := c.DeleteBlob(ctx, "sha256:"+strings.Repeat("0", 64))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("check that the registry lets this user prune: %w", err)
}

// DeleteManifest deletes a manifest from a repository: DELETE /v2/<repo>/manifests/<digest>.
func (c *RegistryClient) DeleteManifest(ctx context.Context, repo, digest string) error {
	return c.do(ctx, http.MethodDelete, "/v2/"+repo+"/manifests/"+digest)
}

// DeleteLayerLink deletes a repository's link to a blob: DELETE /v2/<repo>/blobs/<digest>.
func (c *RegistryClient) DeleteLayerLink(ctx context.Context, repo, digest string) error {
	return c.do(ctx, http.MethodDelete, "/v2/"+repo+"/blobs/"+digest)
}

// DeleteBlob removes a blob's data from the registry's storage: DELETE /admin/blobs/<digest>.
func (c *RegistryClient) DeleteBlob(ctx context.Context, digest string) error {
	return c.do(ctx, http.MethodDelete, "/admin/blobs/"+digest)
}

func (c *RegistryClient) do(ctx context.Context, method, path string) error {
	req, err := http.NewRequestWithContext(ctx, method, c.URL.String()+path, nil)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w (%s)", method, path, ErrNotFound, registryMessage(body, resp.Status))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &deniedError{status: resp.StatusCode, message: registryMessage(body, resp.Status)}
	}
	return fmt.Errorf("%s %s: %s", method, path, registryMessage(body, resp.Status))
}

// registryMessage returns the messages of a registry error body ({"errors":[{code,message}]}).
func registryMessage(body []byte, status string) string {
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		if s := strings.TrimSpace(string(body)); s != "" && len(s) < 300 {
			return status + ": " + s
		}
		return status
	}
	var msgs []string
	for _, x := range e.Errors {
		msgs = append(msgs, x.Message)
	}
	return strings.Join(msgs, "; ")
}
