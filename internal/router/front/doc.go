// Package front is everything of the router between the sockets and the
// proxy: the plain HTTP and HTTPS listeners, TLS, passthrough, and the
// checks that keep ambiguous or slow requests away from the proxy.
//
// Port 80 (ServeHTTP) is an http.Server speaking HTTP/1.1 and h2c: prior
// knowledge through net/http itself, the deprecated Upgrade: h2c through
// golang.org/x/net/http2/h2c.
//
// Port 443 (ServeHTTPS) reads each connection's ClientHello without
// consuming it: crypto/tls parses it over a connection that records what
// it reads, the handshake is stopped from GetConfigForClient, and the
// recorded bytes are replayed. A server name that is a passthrough route's
// host (Snapshot.Passthrough) sends the connection, still encrypted, to
// one of the route's endpoints, picked by a weighted rendezvous hash of the
// client address (OpenShift's "balance source"); bytes are copied both ways
// with half-close until both sides are done. Every other connection is
// terminated with the route's certificate (Snapshot.Certificate) or the
// default one, TLS 1.2 and 1.3 with ECDHE AEAD suites only, ALPN h2 and
// http/1.1, and handed to an http.Server serving the Handler.
//
// HTTP/1 connections, plain and TLS, go through a guard (guardConn) that
// follows the byte stream, holds back each request head until it has seen
// all of it, and refuses framing an edge proxy must not guess at (both
// Content-Length and Transfer-Encoding, repeated or malformed lengths,
// codings other than chunked, obs-fold, bare LF or CR, oversized heads)
// with 400 or 431 before net/http or the Handler see any of it. It also
// answers a head that does not arrive in time with 408 and applies the
// client inactivity timeout to bodies and responses. HTTP/2 framing is
// checked by net/http's HTTP/2 server (see docs/dev/router-front.md for
// h2spec's verdict).
//
// The Table is swapped atomically by Update: certificates and passthrough
// routes take effect for the next connection or handshake, and nothing
// already connected is disturbed.
package front
