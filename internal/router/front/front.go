package front

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-dev/gantry/internal/router/model"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// Config is what a Front serves and how long it waits for clients. Zero
// durations and sizes take the defaults below, which follow OpenShift's
// HAProxy router template (timeout http-request 10s, client 30s, connect
// 5s, tunnel 1h, http-keep-alive 300s).
type Config struct {
	// Handler serves every request that is not passthrough: the proxy.
	Handler http.Handler
	// ConnContext, when set, is the servers' http.Server.ConnContext: the
	// proxy's marks each connection's requests (proxy.ConnContext).
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// DefaultCertificate is served for an unknown server name, no server
	// name, and routes without a certificate of their own. ServeHTTPS
	// needs it.
	DefaultCertificate *tls.Certificate

	// ReadHeaderTimeout bounds the arrival of a request head (slowloris);
	// a head cut short by it is answered 408. Default 10s.
	ReadHeaderTimeout time.Duration
	// ClientTimeout is the longest the client may stay silent while its
	// request body is read, or not take response bytes (slow POST, slow
	// read). Default 30s.
	ClientTimeout time.Duration
	// ReadTimeout and WriteTimeout, when set, bound a whole request and a
	// whole response, as net/http's fields of the same name. Default none:
	// large uploads and streamed responses are limited by ClientTimeout.
	ReadTimeout, WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request. Default 300s.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the TLS ClientHello and handshake on the
	// HTTPS port. Default 10s.
	HandshakeTimeout time.Duration
	// MaxHeaderBytes bounds a request head (request line and headers);
	// larger heads get 431. Default 32 KiB.
	MaxHeaderBytes int
	// ConnectTimeout bounds dialing a passthrough endpoint. Default 5s.
	ConnectTimeout time.Duration
	// TunnelTimeout closes a passthrough connection with no traffic in
	// either direction for that long. Default 1h.
	TunnelTimeout time.Duration
	// Log receives refused requests, handshake errors and passthrough
	// failures; nil means the standard logger.
	Log *log.Logger
}

// Defaults, exported for documentation and tests.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultClientTimeout     = 30 * time.Second
	DefaultIdleTimeout       = 300 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultMaxHeaderBytes    = 32 << 10
	DefaultConnectTimeout    = 5 * time.Second
	DefaultTunnelTimeout     = time.Hour
)

// maxHelloBytes bounds what is read while looking for the server name: a
// ClientHello may span several records but not more than crypto/tls
// accepts for one handshake message.
const maxHelloBytes = 64<<10 + 5*8

func (c *Config) setDefaults() error {
	if c.Handler == nil {
		return errors.New("router front: no handler. Try: pass the proxy as Config.Handler")
	}
	durations := []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"ReadHeaderTimeout", &c.ReadHeaderTimeout, DefaultReadHeaderTimeout},
		{"ClientTimeout", &c.ClientTimeout, DefaultClientTimeout},
		{"ReadTimeout", &c.ReadTimeout, 0},
		{"WriteTimeout", &c.WriteTimeout, 0},
		{"IdleTimeout", &c.IdleTimeout, DefaultIdleTimeout},
		{"HandshakeTimeout", &c.HandshakeTimeout, DefaultHandshakeTimeout},
		{"ConnectTimeout", &c.ConnectTimeout, DefaultConnectTimeout},
		{"TunnelTimeout", &c.TunnelTimeout, DefaultTunnelTimeout},
	}
	for _, d := range durations {
		if *d.d < 0 {
			return fmt.Errorf("router front: %s is %v; it must be positive, or 0 for the default", d.name, *d.d)
		}
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	switch {
	case c.MaxHeaderBytes == 0:
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	case c.MaxHeaderBytes < 1024:
		return fmt.Errorf("router front: MaxHeaderBytes %d is too small for real clients; use at least 1024, or 0 for %d", c.MaxHeaderBytes, DefaultMaxHeaderBytes)
	}
	if c.Log == nil {
		c.Log = log.Default()
	}
	return nil
}

// Front owns the router's listeners: plain HTTP (HTTP/1.1 and h2c) and
// HTTPS, where each connection is either passed through to a passthrough
// route's endpoints by its TLS server name or terminated and served by the
// Handler over HTTP/1.1 or h2. It serves from the Table of the last Update.
type Front struct {
	cfg       Config
	table     atomic.Pointer[model.Table]
	tlsConfig *tls.Config
	plain     *http.Server
	secure    *http.Server
	secureLn  *connListener
	startTLS  sync.Once
	closing   atomic.Bool

	mu        sync.Mutex
	listeners map[net.Listener]struct{} // HTTPS listeners being accepted on
	pending   map[net.Conn]struct{}     // HTTPS connections before the handshake ends
	tunnels   map[net.Conn]struct{}     // passthrough client connections
	tunnelWG  sync.WaitGroup
}

var _ model.Dataplane = (*Front)(nil)

// New checks the configuration and returns a Front serving an empty
// table until the first Update.
func New(cfg Config) (*Front, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	f := &Front{
		cfg:       cfg,
		listeners: map[net.Listener]struct{}{},
		pending:   map[net.Conn]struct{}{},
		tunnels:   map[net.Conn]struct{}{},
	}
	f.table.Store(&model.Table{})
	f.tlsConfig = f.newTLSConfig()

	h2conf := &http.HTTP2Config{
		// A peer that does not take bytes for this long is gone.
		WriteByteTimeout: cfg.ClientTimeout,
		// The protocol's default frame size (RFC 9113 section 4.2), as
		// HAProxy uses, rather than Go's 1 MiB: a frame is buffered
		// whole before it is checked.
		MaxReadFrameSize: 16 << 10,
	}
	plainProtocols := new(http.Protocols)
	plainProtocols.SetHTTP1(true)
	plainProtocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	f.plain = f.newServer(h2cUpgrade(cfg.Handler, cfg), plainProtocols, h2conf)

	secureProtocols := new(http.Protocols)
	secureProtocols.SetHTTP1(true)
	secureProtocols.SetHTTP2(true)
	f.secure = f.newServer(cfg.Handler, secureProtocols, h2conf)
	f.secureLn = newConnListener()
	return f, nil
}

func (f *Front) newServer(h http.Handler, p *http.Protocols, h2conf *http.HTTP2Config) *http.Server {
	return &http.Server{
		Handler:           h,
		Protocols:         p,
		HTTP2:             h2conf,
		ReadHeaderTimeout: f.cfg.ReadHeaderTimeout,
		ReadTimeout:       f.cfg.ReadTimeout,
		WriteTimeout:      f.cfg.WriteTimeout,
		IdleTimeout:       f.cfg.IdleTimeout,
		// net/http allows 4 KiB over this; the guard enforces the limit
		// exactly and answers 431 itself.
		MaxHeaderBytes: f.cfg.MaxHeaderBytes,
		ErrorLog:       f.cfg.Log,
		ConnState:      connState,
		ConnContext:    f.cfg.ConnContext,
		// "OPTIONS *" goes to the proxy like any request (it has no
		// route, so it gets the 503 page) instead of net/http's own
		// handler.
		DisableGeneralOptionsHandler: true,
	}
}

// h2cUpgrade serves "Upgrade: h2c" requests (RFC 7540 section 3.2) with
// golang.org/x/net/http2. Prior knowledge, the common way to speak h2c, is
// served by net/http itself; the Upgrade dance is deprecated by RFC 9113
// and net/http does not offer it, but curl --http2 and older clients still
// use it on http:// URLs, so the router accepts it.
func h2cUpgrade(h http.Handler, cfg Config) http.Handler {
	//lint:ignore SA1019 net/http serves h2c prior knowledge, not the Upgrade.
	return h2c.NewHandler(h, &http2.Server{IdleTimeout: cfg.IdleTimeout, WriteByteTimeout: cfg.ClientTimeout})
}

// connState stops the guard when net/http gives a connection away
// (WebSocket or h2c upgrade): what follows is not HTTP/1.
func connState(c net.Conn, s http.ConnState) {
	if s != http.StateHijacked {
		return
	}
	switch g := c.(type) {
	case *guardConn:
		g.stopChecking()
	case tlsGuardConn:
		g.stopChecking()
	}
}

// Update makes t the table new connections and requests are served from.
// Connections already passed through, and handshakes already done, keep
// what they have. It never blocks on traffic.
func (f *Front) Update(t *model.Table) {
	if t == nil {
		t = &model.Table{}
	}
	f.table.Store(t)
}

// Shutdown stops accepting, lets requests in flight and passthrough
// connections finish until ctx is done, then closes what is left.
func (f *Front) Shutdown(ctx context.Context) error {
	f.closing.Store(true)
	f.mu.Lock()
	for l := range f.listeners {
		l.Close()
	}
	for c := range f.pending {
		c.Close()
	}
	f.mu.Unlock()
	f.secureLn.Close()

	errs := []error{f.plain.Shutdown(ctx), f.secure.Shutdown(ctx)}
	done := make(chan struct{})
	go func() { f.tunnelWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		f.mu.Lock()
		for c := range f.tunnels {
			c.Close()
		}
		f.mu.Unlock()
		<-done
		errs = append(errs, fmt.Errorf("router front: passthrough connections still open at shutdown were closed: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// track registers a connection in one of the sets Shutdown closes; it
// fails once Shutdown has begun.
func (f *Front) track(set map[net.Conn]struct{}, c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing.Load() {
		return false
	}
	set[c] = struct{}{}
	return true
}

func (f *Front) untrack(set map[net.Conn]struct{}, c net.Conn) {
	f.mu.Lock()
	delete(set, c)
	f.mu.Unlock()
}
