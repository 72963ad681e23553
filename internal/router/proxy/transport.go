package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// connPool is an endpoint's keep-alive pool: persistent HTTP/1.1
// connections, each with its own buffered reader and writer, handed to one
// request at a time. It replaces http.Transport on the hot path because a
// router needs almost none of what that does per request (its own
// goroutines per connection, a request copy, a cancel context, header maps
// for the response, a second copy into the client's header) and that work
// was most of the router's CPU per request.
//
// Idle connections are a stack: the most recently used is reused first, so
// a burst's connections stay warm and the rest age out at the bottom, where
// put closes them once they have been idle for idleConnTimeout.
type connPool struct {
	dial func() (net.Conn, error)

	mu     sync.Mutex
	idle   []*backendConn
	closed bool
}

const (
	// maxIdleConns bounds the idle connections kept per endpoint: the
	// router multiplexes every client of a route onto them.
	maxIdleConns = 1024
	// idleConnTimeout closes connections nobody used for this long.
	idleConnTimeout = 90 * time.Second
	// staleCheckAfter: a connection idle longer than this is checked for
	// a close by the backend (a non-blocking peek) before it is used, so
	// that the common keep-alive timeout race (Node.js closes after 5 s)
	// costs a syscall rather than a retried request.
	staleCheckAfter = time.Second
	// bufSize is each connection's read and write buffer.
	bufSize = 4 << 10
)

// backendConn is one connection to an endpoint with the state of the
// request it carries. A request owns it from get until done.
type backendConn struct {
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	pool *connPool
	// reused says the connection served a request before this one: a
	// failure before any response byte may then be the backend having
	// closed it while idle, and the request can be sent again.
	reused    bool
	idleSince time.Time

	resp respHead // the response head being read
	body bodyReader
	// writer, when the request has a body, gets the result of copying it.
	writer chan error
	// broken marks a connection that cannot carry another request.
	broken bool
}

func newConnPool(dial func() (net.Conn, error)) *connPool {
	return &connPool{dial: dial}
}

// get returns an idle connection, or dials a new one. check asks for the
// idle connection to be checked for a close by the backend however short
// its idle time: a request with a body cannot be sent again once its body
// was read, so it should not be sent on a connection already closed.
func (p *connPool) get(check bool) (*backendConn, error) {
	now := time.Now()
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := now.Sub(c.idleSince)
		if idle < idleConnTimeout && (idle < staleCheckAfter && !check || alive(c.nc)) {
			c.reused = true
			return c, nil
		}
		c.nc.Close()
		p.mu.Lock()
	}
	p.mu.Unlock()
	nc, err := p.dial()
	if err != nil {
		return nil, err
	}
	return &backendConn{
		nc:   nc,
		br:   bufio.NewReaderSize(nc, bufSize),
		bw:   bufio.NewWriterSize(nc, bufSize),
		pool: p,
	}, nil
}

// put returns a connection whose exchange ended cleanly to the pool, or
// closes it when it cannot be reused or the pool is closed.
func (p *connPool) put(c *backendConn) {
	if c.broken || c.br.Buffered() > 0 {
		// Bytes after a complete response are a broken backend.
		c.nc.Close()
		return
	}
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdleConns {
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	var old *backendConn
	if len(p.idle) > 0 && c.idleSince.Sub(p.idle[0].idleSince) > idleConnTimeout {
		old = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	if old != nil {
		old.nc.Close()
	}
}

// reap closes the connections idle for longer than idleConnTimeout (the
// oldest are at the bottom of the stack), so that an endpoint nobody sends
// traffic to does not keep sockets the backend has long closed.
func (p *connPool) reap(now time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleSince) > idleConnTimeout {
		n++
	}
	old := append([]*backendConn(nil), p.idle[:n]...)
	k := copy(p.idle, p.idle[n:])
	clear(p.idle[k:])
	p.idle = p.idle[:k]
	p.mu.Unlock()
	for _, c := range old {
		c.nc.Close()
	}
}

// closeIdle closes the idle connections; with final, connections put back
// later are closed too (the endpoint left the Table).
func (p *connPool) closeIdle(final bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if final {
		p.closed = true
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// alive peeks at an idle connection without blocking: an idle keep-alive
// connection has nothing to read, so EOF or an error means the backend
// closed it, and data means it is out of step.
func alive(nc net.Conn) bool {
	orig := nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	isTLS := nc != orig
	nc.SetReadDeadline(time.Time{}) // the last exchange's deadline may have passed
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// A TLS backend may have sent a record (a session ticket) that
		// is not an answer; only EOF or an error is a close there.
		ok = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK) || n > 0 && isTLS
		return true
	})
	return err == nil && ok
}

// done ends the exchange: the connection goes back to the pool when the
// response was read to its end, else it is closed.
func (c *backendConn) done() {
	if !c.body.clean() {
		c.broken = true
	}
	c.pool.put(c)
}

// close drops the connection.
func (c *backendConn) close() {
	c.broken = true
	c.nc.Close()
}

// dialer connects to one endpoint, for reencrypt with TLS to the service's
// name and the route's CA. Both steps are bounded by the connect timeout.
func newDialer(cfg *Config, key endpointKey, hostport string) func() (net.Conn, error) {
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	var tcfg *tls.Config
	if key.serverName != "" {
		tcfg = &tls.Config{
			ServerName: key.serverName,
			RootCAs:    key.roots,
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"},
			// One session cache per endpoint: resumed handshakes make
			// new reencrypt connections cheap.
			ClientSessionCache: tls.NewLRUClientSessionCache(64),
		}
	}
	timeout := cfg.ConnectTimeout
	return func() (net.Conn, error) {
		nc, err := d.Dial("tcp", hostport)
		if err != nil {
			return nil, &dialError{err}
		}
		if tcfg == nil {
			return nc, nil
		}
		tc := tls.Client(nc, tcfg)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, &dialError{err}
			}
			return nil, err
		}
		return tc, nil
	}
}
