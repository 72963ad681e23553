package imageimport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Response size limits: a manifest (or tag list page, token, error body) and an image
// configuration. Larger answers are cut off, so a registry cannot make the API server buffer
// unbounded data.
const (
	MaxManifestSize int64 = 4 << 20
	MaxConfigSize   int64 = 8 << 20
)

type limitKey struct{}

// withLimit sets the largest response body the requests made with ctx may read.
func withLimit(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, limitKey{}, n)
}

type timeoutKey struct{}

// withTimeout sets how long each request made with ctx may take, its body included, in place
// of the transport's (blobs take longer than manifests).
func withTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, timeoutKey{}, d)
}

func limitOf(ctx context.Context) int64 {
	if n, ok := ctx.Value(limitKey{}).(int64); ok {
		return n
	}
	return MaxManifestSize
}

// SizeError is a registry answer larger than the import reads.
type SizeError struct {
	URL   string
	Limit int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("the registry's answer to %s is larger than %d MiB, more than an image manifest or configuration may be", e.URL, e.Limit>>20)
}

// TimeoutError is a request the registry did not complete in time.
type TimeoutError struct {
	URL     string
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the registry did not answer %s within %s", e.URL, e.Timeout)
}

// PlainHTTPError is a registry that speaks plain HTTP, imported without importPolicy.insecure.
type PlainHTTPError struct{ Host string }

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("registry %s serves plain HTTP, not HTTPS: import with importPolicy.insecure (--insecure) if you trust the network to it", e.Host)
}

// newHTTPTransport is the connection pool of imports: no proxy (the address checks are on the
// registry, not on a proxy), dial-time address checks, bounded handshakes and headers. The
// timeout of each request is the roundTripper's.
func newHTTPTransport(p *policy, insecure bool, rootCAs *x509.CertPool) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.dialContext(dialer),
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: insecure, RootCAs: rootCAs, MinVersion: tls.VersionTLS12}, //nolint:gosec // only for imports with importPolicy.insecure
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		ForceAttemptHTTP2:      true,
	}
}

// roundTripper enforces, per HTTP request of an import: HTTPS unless the import is insecure
// (an insecure one tries HTTPS without verification first and falls back to HTTP for hosts that
// answer in plain HTTP), a timeout covering the response body, and the response size limit.
type roundTripper struct {
	base     http.RoundTripper
	insecure bool
	timeout  time.Duration

	mu    sync.Mutex
	plain map[string]bool // hosts found to speak plain HTTP
}

func newRoundTripper(base http.RoundTripper, insecure bool, timeout time.Duration) *roundTripper {
	return &roundTripper{base: base, insecure: insecure, timeout: timeout, plain: map[string]bool{}}
}

func withScheme(req *http.Request, scheme string) *http.Request {
	r := req.Clone(req.Context())
	r.URL.Scheme = scheme
	return r
}

// speaksPlainHTTP reports whether a TLS attempt failed because the server answered in HTTP.
func speaksPlainHTTP(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.do(req)
	}
	host := req.URL.Host
	if !t.insecure {
		resp, err := t.do(withScheme(req, "https"))
		if err != nil && speaksPlainHTTP(err) {
			return nil, &PlainHTTPError{Host: host}
		}
		return resp, err
	}
	t.mu.Lock()
	plain := t.plain[host]
	t.mu.Unlock()
	if !plain {
		resp, err := t.do(withScheme(req, "https"))
		if err == nil || !speaksPlainHTTP(err) {
			return resp, err
		}
		t.mu.Lock()
		t.plain[host] = true
		t.mu.Unlock()
	}
	return t.do(req)
}

func (t *roundTripper) do(req *http.Request) (*http.Response, error) {
	timeout := t.timeout
	if d, ok := req.Context().Value(timeoutKey{}).(time.Duration); ok {
		timeout = d
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		var ne net.Error
		timedOut := req.Context().Err() == nil && (errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()))
		cancel()
		if timedOut {
			return nil, &TimeoutError{URL: redact(req), Timeout: timeout}
		}
		return nil, err
	}
	limit := limitOf(req.Context())
	if resp.ContentLength > limit {
		resp.Body.Close()
		cancel()
		return nil, &SizeError{URL: redact(req), Limit: limit}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: limit, cancel: cancel, ctx: ctx, parent: req.Context(),
		sizeErr: &SizeError{URL: redact(req), Limit: limit}, timeoutErr: &TimeoutError{URL: redact(req), Timeout: timeout}}
	return resp, nil
}

// redact is the request's URL without query (tokens may travel in it).
func redact(req *http.Request) string {
	return req.Method + " " + req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
}

// limitedBody fails a read past the size limit and ends the request's timeout on close.
type limitedBody struct {
	rc         io.ReadCloser
	left       int64
	cancel     context.CancelFunc
	ctx        context.Context
	parent     context.Context
	sizeErr    error
	timeoutErr error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, b.sizeErr
		}
		return 0, b.mapErr(err)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, b.mapErr(err)
}

func (b *limitedBody) mapErr(err error) error {
	if err != nil && err != io.EOF && errors.Is(b.ctx.Err(), context.DeadlineExceeded) && b.parent.Err() == nil {
		return b.timeoutErr
	}
	return err
}

func (b *limitedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}
