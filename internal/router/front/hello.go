package front

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
)

// errHelloRead ends crypto/tls's handshake once the ClientHello is parsed.
var errHelloRead = errors.New("client hello read")

// errPeekOnly refuses writes while the ClientHello is only looked at.
var errPeekOnly = errors.New("peeking at the client hello")

// errHelloTooLarge is a ClientHello over maxHelloBytes.
var errHelloTooLarge = errors.New("the TLS ClientHello is too large")

// peekHello reads a connection's ClientHello and returns its server name
// and every byte read, which the caller replays: to the passthrough
// endpoint, or to the real handshake. crypto/tls does the parsing (all
// record fragmentation and extension rules included): a handshake is run
// over a connection that only records what it reads, and stopped from
// GetConfigForClient, before anything is written back.
func peekHello(c net.Conn, limit int) (serverName string, recorded []byte, err error) {
	rc := &recordingConn{Conn: c, limit: limit}
	seen := false
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		serverName, seen = h.ServerName, true
		return nil, errHelloRead
	}}
	err = tls.Server(rc, cfg).Handshake()
	if seen {
		return serverName, rc.buf.Bytes(), nil
	}
	return "", rc.buf.Bytes(), err
}

// recordingConn keeps what is read from a connection, up to a limit, and
// writes nothing (crypto/tls's alert after the stopped handshake is
// dropped).
type recordingConn struct {
	net.Conn
	buf   bytes.Buffer
	limit int
}

func (c *recordingConn) Read(b []byte) (int, error) {
	room := c.limit - c.buf.Len()
	if room <= 0 {
		return 0, errHelloTooLarge
	}
	if len(b) > room {
		b = b[:room]
	}
	n, err := c.Conn.Read(b)
	c.buf.Write(b[:n])
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) { return 0, errPeekOnly }

// replayConn returns recorded bytes before reading on.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
