package proxy

import (
	"net/netip"
	"sync"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// rateWindow is the period of haproxy.router.openshift.io/
// rate-limit-connections.rate-http: HTTP requests per client per 3 s.
const rateWindow = int64(3e9)

// limiter enforces a route's rate-limit-connections annotations per client
// address. At the HTTP layer the concurrent limit counts requests in
// flight from one address (a client's connections each carry at most one
// at a time over HTTP/1.1); rate-http counts requests in fixed 3-second
// windows. It lives as long as the route and its limits are unchanged.
type limiter struct {
	concurrent, rate int
	mu               sync.Mutex
	clients          map[netip.Addr]*clientCount
	lastSweep        int64
}

type clientCount struct {
	active      int
	windowStart int64
	count       int
}

func newLimiter(l model.RateLimit) *limiter {
	return &limiter{concurrent: l.ConcurrentTCP, rate: l.RateHTTP, clients: map[netip.Addr]*clientCount{}}
}

// acquire admits a request of client at now (ns), or reports that a limit
// is reached. An admitted request must be released.
func (l *limiter) acquire(client netip.Addr, now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now-l.lastSweep > 4*rateWindow {
		l.sweep(now)
	}
	c := l.clients[client]
	if c == nil {
		c = &clientCount{windowStart: now}
		l.clients[client] = c
	}
	if now-c.windowStart >= rateWindow {
		c.windowStart, c.count = now, 0
	}
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
