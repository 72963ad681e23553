package front

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// guardConn sits between an HTTP/1 connection and net/http. Every request
// head is held back until it is complete and has passed the parser's
// checks; a refused head never reaches net/http: the stream net/http reads
// ends just before it, and when net/http closes the connection the guard
// answers the refused request itself and hangs up. A head that times out
// half-sent (slowloris) is answered 408 the same way.
//
// It also keeps the client honest about time while a body is being read or
// a response written: ClientTimeout is an inactivity limit (as HAProxy's
// "timeout client"), enforced on each read and write by narrowing the
// deadline net/http asked for.
//
// After the connection is hijacked (WebSocket, h2c upgrade) or has turned
// into HTTP/2 (prior-knowledge preface) bytes pass through unchecked.
type guardConn struct {
	net.Conn
	p             parser
	clientTimeout time.Duration
	log           *log.Logger

	out    []byte // checked bytes not yet returned to net/http
	outPos int
	head   []byte // the head being received, held back
	rerr   error  // a read error to return once out is drained
	off    atomic.Bool

	mu         sync.Mutex // guards what Close reads and the deadlines
	rd, wd     time.Time  // deadlines as net/http set them
	armed      bool       // the read deadline is narrowed for a body
	cut        bool       // the stream ends before the next head
	cutReached bool       // net/http read up to the cut
	rej        *rejection // why, when the cut is a refused head
	timedOut   bool       // a read timed out in the middle of a head
	closeOnce  sync.Once
	closeErr   error
}

func newGuard(c net.Conn, maxHead int, allowH2 bool, clientTimeout time.Duration, l *log.Logger) *guardConn {
	g := &guardConn{Conn: c, clientTimeout: clientTimeout, log: l}
	g.p = parser{maxHead: maxHead, allowH2: allowH2, first: true}
	return g
}

// tlsGuardConn is a guarded TLS connection. net/http fills Request.TLS from
// ConnectionState when the connection is not a *tls.Conn itself.
type tlsGuardConn struct {
	*guardConn
	tc *tls.Conn
}

func (c tlsGuardConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// stopChecking is called when net/http hands the connection to a hijacker.
func (c *guardConn) stopChecking() { c.off.Store(true) }

func (c *guardConn) Read(b []byte) (int, error) {
	for {
		if c.outPos < len(c.out) {
			n := copy(b, c.out[c.outPos:])
			c.outPos += n
			if c.outPos == len(c.out) {
				c.out, c.outPos = c.out[:0], 0
			}
			return n, nil
		}
		if c.off.Load() && len(c.head) > 0 {
			c.out = append(c.out, c.head...)
			c.head = c.head[:0]
			continue
		}
		if c.cut && !c.off.Load() {
			c.mu.Lock()
			c.cutReached = true
			c.mu.Unlock()
			return 0, io.EOF
		}
		if c.rerr != nil {
			err := c.rerr
			c.rerr = nil
			return 0, err
		}
		if c.off.Load() || c.p.state == stOff {
			return c.Conn.Read(b)
		}
		if len(b) == 1 && !c.p.inBody() {
			// net/http's background read: while a handler runs it keeps
			// a one-byte read pending on the connection, to notice a
			// client hanging up, and aborts it with a deadline in 1970
			// when the handler is done. Per request that is a read that
			// finds nothing, a goroutine parked and woken and two
			// deadline changes: about a tenth of the router's CPU. The
			// proxy does not need it (it stops when a write to the client
			// fails, and its backend timeout bounds the wait), so the
			// read ends at once with nothing; net/http reads the next
			// request as usual. (Its other reads use its 4 KiB buffer,
			// and body reads never get here.)
			return 0, nil
		}
		c.armRead()
		n, err := c.Conn.Read(b)
		if n == 0 {
			if err != nil && c.p.midHead() && isTimeout(err) {
				c.mu.Lock()
				// net/http wakes its background reader with a deadline
				// in 1970; only a real deadline is the client's fault.
				c.timedOut = c.rd.After(epochAbort)
				c.mu.Unlock()
			}
			return 0, err
		}
		if c.timedOut {
			c.mu.Lock()
			c.timedOut = false
			c.mu.Unlock()
		}
		c.rerr = err
		if c.p.inBody() {
			k, ok := c.p.body(b[:n])
			if !ok {
				c.setCut(nil)
			} else if k < n {
				c.process(b[k:n])
			}
			if k > 0 {
				return k, nil
			}
			continue
		}
		c.process(b[:n])
	}
}

// process runs bytes that may hold request heads through the parser:
// checked bytes go to out, an incomplete head is held in head.
func (c *guardConn) process(data []byte) {
	for len(data) > 0 && !c.cut {
		switch c.p.state {
		case stOff:
			c.out = append(c.out, data...)
			return
		case stHead:
			i := bytes.IndexByte(data, '\n')
			end := len(data)
			if i >= 0 {
				end = i + 1
			}
			if c.p.headBytes+end > c.p.maxHead {
				c.setCut(reject(431, "the request head is larger than %d bytes; send fewer or smaller headers", c.p.maxHead))
				return
			}
			c.head = append(c.head, data[:end]...)
			c.p.headBytes += end
			data = data[end:]
			if i < 0 {
				return
			}
			line := c.head[c.p.lineStart : len(c.head)-1]
			c.p.lineStart = len(c.head)
			if len(line) == 0 || line[len(line)-1] != '\r' {
				c.setCut(reject(400, "a line of the request head ends in a bare LF; end every line with CRLF"))
				return
			}
			done, rej := c.p.headLine(line[:len(line)-1])
			if rej == nil && done {
				rej = c.p.endHead()
			}
			if rej != nil {
				c.setCut(rej)
				return
			}
			if done {
				c.out = append(c.out, c.head...)
				c.head = c.head[:0]
				c.p.first = false
				c.p.resetHead()
			}
		default:
			k, ok := c.p.body(data)
			c.out = append(c.out, data[:k]...)
			data = data[k:]
			if !ok {
				c.setCut(nil)
				return
			}
		}
	}
}

// setCut ends the stream net/http sees before the current head (rej set)
// or inside a body whose framing is broken (rej nil: net/http is already
// answering that request, so the guard adds nothing).
func (c *guardConn) setCut(rej *rejection) {
	c.mu.Lock()
	c.cut, c.rej = true, rej
	c.mu.Unlock()
	c.head = c.head[:0]
	if rej != nil && c.log != nil {
		c.log.Printf("front: refused a request from %s: %d %s", c.RemoteAddr(), rej.status, rej.msg)
	}
}

// armRead narrows the read deadline to the inactivity limit while a body
// is read, and restores net/http's deadline after it.
func (c *guardConn) armRead() {
	if c.clientTimeout <= 0 {
		return
	}
	inBody := c.p.inBody()
	if !inBody && !c.armed {
		return
	}
	c.mu.Lock()
	d := c.rd
	if inBody {
		if t := time.Now().Add(c.clientTimeout); d.IsZero() || t.Before(d) {
			d = t
		}
	}
	c.armed = inBody
	_ = c.Conn.SetReadDeadline(d)
	c.mu.Unlock()
}

func (c *guardConn) Write(b []byte) (int, error) {
	if c.clientTimeout > 0 {
		c.mu.Lock()
		d := c.wd
		if t := time.Now().Add(c.clientTimeout); d.IsZero() || t.Before(d) {
			d = t
		}
		_ = c.Conn.SetWriteDeadline(d)
		c.mu.Unlock()
	}
	return c.Conn.Write(b)
}

func (c *guardConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rd, c.wd = t, t
	return c.Conn.SetDeadline(t)
}

func (c *guardConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rd = t
	return c.Conn.SetReadDeadline(t)
}

func (c *guardConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wd = t
	return c.Conn.SetWriteDeadline(t)
}

// CloseWrite half-closes when the connection underneath can; net/http uses
// it before hanging up on a client it answered with an error.
func (c *guardConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// epochAbort is later than the deadline net/http sets to abort a read.
var epochAbort = time.Unix(1<<20, 0)

// timeoutResponse answers a head that did not arrive in time.
var timeoutResponse = reject(408, "the request head did not arrive in time").response()

// Close answers a refused or timed-out head, then closes. The answer is
// written only when net/http has read everything before it, so it follows
// the responses to earlier requests and never a Connection: close one.
func (c *guardConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		var resp []byte
		switch {
		case c.cutReached && c.rej != nil:
			resp = c.rej.response()
		case c.timedOut && !c.cut && !c.off.Load():
			resp = timeoutResponse
		}
		c.mu.Unlock()
		if resp != nil {
			c.answer(resp)
		}
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// answer writes a final response and lets the client read it: closing a
// socket with unread input sends a reset that can destroy the response in
// flight, so the write side is shut first and the input drained briefly
// (as net/http does for its own error responses).
func (c *guardConn) answer(resp []byte) {
	deadline := time.Now().Add(time.Second)
	_ = c.Conn.SetWriteDeadline(deadline)
	if _, err := c.Conn.Write(resp); err != nil {
		return
	}
	_ = c.CloseWrite()
	_ = c.Conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, 256<<10))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
