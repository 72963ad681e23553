package proxy

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// rateWindow is the period of haproxy.router.openshift.io/
// rate-limit-connections.rate-http and .rate-tcp: HTTP requests, and new
// connections, per client per 3 s.
const rateWindow = int64(3e9)

// limiter enforces a route's rate-limit-connections annotations per client
// address. At the HTTP layer the concurrent limit counts requests in
// flight from one address (a client's connections each carry at most one
// at a time over HTTP/1.1); rate-http counts requests and rate-tcp the
// connections whose first request to the route it is, in fixed 3-second
// windows. It lives as long as the route and its limits are unchanged.
type limiter struct {
	concurrent, rate, connRate int
	mu                         sync.Mutex
	clients                    map[netip.Addr]*clientCount
	lastSweep                  int64
}

type clientCount struct {
	active      int
	windowStart int64
	count       int // requests in the window
	conns       int // new connections in the window
}

func newLimiter(l model.RateLimit) *limiter {
	return &limiter{concurrent: l.ConcurrentTCP, rate: l.RateHTTP, connRate: l.RateTCP, clients: map[netip.Addr]*clientCount{}}
}

// clientConn is one client connection, as ConnContext puts it in the
// context of the connection's requests: rate-tcp counts a connection once
// per route.
type clientConn struct {
	mu      sync.Mutex
	counted []*limiter // the limiters that counted this connection
}

type connKey struct{}

// ConnContext is an http.Server's ConnContext for servers in front of the
// Proxy: it marks the requests of one connection as such, which the
// rate-tcp limit counts by. Without it every request counts as a new
// connection.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &clientConn{})
}

// admitConn admits the request of a connection the limiter has not
// counted yet as a new connection, at most connRate a window per client;
// once admitted, the connection's later requests are not counted again.
// It reports whether the request may go on.
func (l *limiter) admitConn(ctx context.Context, client netip.Addr, now int64) bool {
	if l.connRate <= 0 {
		return true
	}
	cc, _ := ctx.Value(connKey{}).(*clientConn)
	if cc != nil {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if slices.Contains(cc.counted, l) {
			return true
		}
	}
	l.mu.Lock()
	c := l.client(client, now)
	ok := c.conns < l.connRate
	if ok {
		c.conns++
	}
	l.mu.Unlock()
	if ok && cc != nil {
		cc.counted = append(cc.counted, l)
	}
	return ok
}

// client is the counts of one client address, its window moved on when it
// has passed. l.mu is held.
func (l *limiter) client(client netip.Addr, now int64) *clientCount {
	if now-l.lastSweep > 4*rateWindow {
		l.sweep(now)
	}
	c := l.clients[client]
	if c == nil {
		c = &clientCount{windowStart: now}
		l.clients[client] = c
	}
	if now-c.windowStart >= rateWindow {
		c.windowStart, c.count, c.conns = now, 0, 0
	}
	return c
}

// acquire admits a request of client at now (ns), or reports that a limit
// is reached. An admitted request must be released.
func (l *limiter) acquire(client netip.Addr, now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.client(client, now)
	if l.concurrent > 0 && c.active >= l.concurrent {
		return false
	}
	if l.rate > 0 && c.count >= l.rate {
		return false
	}
	c.active++
	c.count++
	return true
}

func (l *limiter) release(client netip.Addr) {
	l.mu.Lock()
	if c := l.clients[client]; c != nil && c.active > 0 {
		c.active--
	}
	l.mu.Unlock()
}

// sweep forgets clients with nothing in flight whose window has passed, so
// the table does not grow with every address ever seen.
func (l *limiter) sweep(now int64) {
	l.lastSweep = now
	for a, c := range l.clients {
		if c.active == 0 && now-c.windowStart >= rateWindow {
			delete(l.clients, a)
		}
	}
}
