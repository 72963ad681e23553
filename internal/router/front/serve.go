package front

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// ServeHTTP serves plain HTTP on l: HTTP/1.1 and h2c (prior knowledge and
// Upgrade). It returns http.ErrServerClosed after Shutdown.
func (f *Front) ServeHTTP(l net.Listener) error {
	if f.closing.Load() {
		return http.ErrServerClosed
	}
	return f.plain.Serve(&guardListener{Listener: l, f: f})
}

// guardListener puts the request checks on every plain connection.
type guardListener struct {
	net.Listener
	f *Front
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGuard(c, l.f.cfg.MaxHeaderBytes, true, l.f.cfg.ClientTimeout, l.f.cfg.Log), nil
}

// ServeHTTPS serves TLS on l: a connection whose server name is a
// passthrough route's host is forwarded, still encrypted, to one of the
// route's endpoints; every other one is terminated with the route's
// certificate (or the default one) and served over h2 or HTTP/1.1. It
// returns http.ErrServerClosed after Shutdown. Several listeners may be
// served at once.
func (f *Front) ServeHTTPS(l net.Listener) error {
	if f.cfg.DefaultCertificate == nil {
		return errors.New("serve https: no default certificate. Try: set Config.DefaultCertificate (the router serves it for unknown server names)")
	}
	f.mu.Lock()
	if f.closing.Load() {
		f.mu.Unlock()
		return http.ErrServerClosed
	}
	f.listeners[l] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.listeners, l)
		f.mu.Unlock()
	}()
	f.startTLS.Do(func() { go f.secure.Serve(f.secureLn) })

	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if f.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors or similar: back off as
				// net/http does rather than spin.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				f.cfg.Log.Printf("front: accept on %s: %v; retrying in %v", l.Addr(), err, delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("serve https on %s: %w", l.Addr(), err)
		}
		delay = 0
		go f.serveTLSConn(c)
	}
}

// serveTLSConn reads the ClientHello and either passes the connection
// through or terminates TLS and hands it to the HTTPS server.
func (f *Front) serveTLSConn(c net.Conn) {
	if !f.track(f.pending, c) {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Now().Add(f.cfg.HandshakeTimeout))
	name, hello, err := peekHello(c, maxHelloBytes)
	if err != nil {
		f.untrack(f.pending, c)
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && rh.Conn != nil && looksLikeHTTP(hello) {
			// As net/http does: say why instead of a TLS alert.
			_, _ = c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"))
		}
		c.Close()
		return
	}
	t := f.table.Load()
	if r := t.Routes; r != nil && name != "" {
		if route := r.Passthrough(model.NormalizeHost(name)); route != nil {
			f.untrack(f.pending, c)
			f.passthrough(c, hello, route, t)
			return
		}
	}
	tc := tls.Server(&replayConn{Conn: c, pending: hello}, f.tlsConfig)
	if err := tc.Handshake(); err != nil {
		f.untrack(f.pending, c)
		f.cfg.Log.Printf("front: TLS handshake from %s (server name %q): %v", c.RemoteAddr(), name, err)
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	f.untrack(f.pending, c)
	var conn net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		conn = tlsGuardConn{newGuard(tc, f.cfg.MaxHeaderBytes, false, f.cfg.ClientTimeout, f.cfg.Log), tc}
	}
	if !f.secureLn.push(conn) {
		conn.Close()
	}
}

func looksLikeHTTP(b []byte) bool {
	for _, m := range []string{"GET ", "HEAD ", "POST ", "PUT ", "OPTIO", "DELET", "PATCH", "CONNE"} {
		if len(b) >= len(m) && string(b[:len(m)]) == m {
			return true
		}
	}
	return false
}

// connListener hands terminated connections to the HTTPS http.Server.
type connListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return connListenerAddr{} }

type connListenerAddr struct{}

func (connListenerAddr) Network() string { return "tls" }
func (connListenerAddr) String() string  { return "router-https" }
