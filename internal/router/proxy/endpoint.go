package proxy

import (
	"crypto/x509"
	"net/netip"
	"sync/atomic"
	"time"
)

// endpointKey is what makes two endpoints the same across Tables: the pod
// address and, for reencrypt, the name and roots its certificate is
// verified against. A plain and a reencrypt route to the same pod port use
// different endpoints (one speaks TLS, the other does not).
type endpointKey struct {
	addr       netip.AddrPort
	serverName string // reencrypt: <service>.<namespace>.svc; "" for plain HTTP
	roots      *x509.CertPool
}

// endpoint is one backend address with its own keep-alive pool. Its
// counters and health are shared by every route that sends traffic to it
// and survive Table swaps for as long as the address stays in the Table.
type endpoint struct {
	key      endpointKey
	hostport string // "10.0.0.1:8080", the URL host and what logs show
	scheme   string // http or https
	// cookie is the sticky-session cookie value that selects this
	// endpoint: an HMAC of its key with the router's secret, so it says
	// nothing of the address.
	cookie string
	pool   *connPool

	active atomic.Int64 // requests in flight (leastconn)
	// downUntil is the monotonic time (ns since the proxy's epoch) until
	// which the endpoint is skipped after a connect failure; failures
	// counts consecutive failures for the back-off.
	downUntil atomic.Int64
	failures  atomic.Int32
	// removed is set when the endpoint left the Table: requests still on
	// it finish, and each one closes the idle connections it leaves.
	removed atomic.Bool
	// refs counts the compiled routes' pools holding the endpoint; only
	// Update, under updateMu, reads or writes it. At 0 it leaves the
	// state.
	refs int
}

// The passive health back-off: the first connect failure takes an
// endpoint out for healthBackoffMin, each further one doubles that up to
// healthBackoffMax. A success puts it back at once.
const (
	healthBackoffMin = 2 * time.Second
	healthBackoffMax = 30 * time.Second
)

func (e *endpoint) up(now int64) bool { return e.downUntil.Load() <= now }

func (e *endpoint) markDown(now int64) {
	n := e.failures.Add(1)
	d := healthBackoffMin
	for i := int32(1); i < n && d < healthBackoffMax; i++ {
		d *= 2
	}
	if d > healthBackoffMax {
		d = healthBackoffMax
	}
	e.downUntil.Store(now + int64(d))
}

func (e *endpoint) markUp() {
	if e.failures.Load() != 0 {
		e.failures.Store(0)
		e.downUntil.Store(0)
	}
}

// dialError marks an error of connecting to an endpoint: nothing of the
// request was sent, so it is safe to retry elsewhere, and the endpoint is
// taken out for a while.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
