package proxy

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// Config is how the proxy serves. The zero value of a timeout means
// OpenShift's router default.
type Config struct {
	// ServerTimeout is how long the backend may stay silent (before and
	// while it answers) unless the route's
	// haproxy.router.openshift.io/timeout says otherwise; default 30s.
	ServerTimeout time.Duration
	// ConnectTimeout bounds connecting (and the TLS handshake of
	// reencrypt routes) to an endpoint; default 5s.
	ConnectTimeout time.Duration
	// TunnelTimeout closes a WebSocket or other upgraded connection that
	// has been idle this long; default 1h.
	TunnelTimeout time.Duration
	// AccessLog, when set, gets one line per request: client, request
	// line, host, route, status, bytes, duration and backend.
	AccessLog io.Writer
	// Metrics, when set, gets per-route request counters by status class
	// and duration histograms (labels namespace and route).
	Metrics prometheus.Registerer
	// RootCAs verify the endpoints of reencrypt routes that have no
	// destinationCACertificate: the service CA in a cluster. nil means the
	// system roots.
	RootCAs *x509.CertPool
	// RouterName labels the metrics and the log lines of this router.
	RouterName string
}

// Proxy is the router's HTTP data plane. It serves nothing but the 503
// page until the first Table arrives.
type Proxy struct {
	cfg       Config
	state     atomic.Pointer[state]
	updateMu  sync.Mutex
	books     books // under updateMu
	cookieKey [32]byte
	hashSeed  maphash.Seed
	metrics   *metrics
	access    *accessLog
	log       *slog.Logger
	// clock is time.Now outside tests; epoch anchors the monotonic
	// nanoseconds the health back-off and rate limits count in.
	clock func() time.Time
	epoch time.Time

	startReaper sync.Once
}

var _ model.Dataplane = (*Proxy)(nil)
var _ http.Handler = (*Proxy)(nil)

// New checks the configuration and returns a Proxy with no Table.
func New(cfg Config) (*Proxy, error) {
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"server timeout", &cfg.ServerTimeout, 30 * time.Second}, {"connect timeout", &cfg.ConnectTimeout, 5 * time.Second}, {"tunnel timeout", &cfg.TunnelTimeout, time.Hour}} {
		if *d.v < 0 {
			return nil, fmt.Errorf("router proxy: %s %v is negative. Try: a positive duration, or 0 for the default %v", d.name, *d.v, d.def)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	p := &Proxy{cfg: cfg, hashSeed: maphash.MakeSeed(), clock: time.Now, log: slog.Default().With("component", "router-proxy", "router", cfg.RouterName)}
	p.epoch = p.clock()
	if _, err := rand.Read(p.cookieKey[:]); err != nil {
		return nil, fmt.Errorf("router proxy: make the sticky cookie key: %w", err)
	}
	if cfg.Metrics != nil {
		m, err := newMetrics(cfg.Metrics, cfg.RouterName)
		if err != nil {
			return nil, err
		}
		p.metrics = m
	}
	if cfg.AccessLog != nil {
		p.access = newAccessLog(cfg.AccessLog)
	}
	return p, nil
}

// Ready reports whether the first Table arrived; until then every request
// gets the 503 page.
func (p *Proxy) Ready() bool { return p.state.Load() != nil }

// Update compiles a Table and swaps it in. Requests already routed finish
// on the state they started with; endpoints that left the Table have their
// idle connections closed and drain. A nil Table serves no route.
func (p *Proxy) Update(t *model.Table) {
	p.updateMu.Lock()
	defer p.updateMu.Unlock()
	p.startReaper.Do(func() { go p.reapLoop() })
	st, gone, dropped := p.compile(t, p.state.Load())
	p.state.Store(st)
	for _, e := range gone {
		e.removed.Store(true)
		// With requests in flight the last one to finish closes the
		// pool (release), so their connections are not kept either.
		if e.active.Load() == 0 {
			e.pool.closeIdle(true)
		}
	}
	for _, c := range dropped {
		if c.metrics != nil {
			c.metrics.delete()
		}
	}
}

// reapLoop closes long-idle backend connections of the current Table's
// endpoints every third of the idle timeout, for the life of the process.
func (p *Proxy) reapLoop() {
	t := time.NewTicker(idleConnTimeout / 3)
	defer t.Stop()
	for now := range t.C {
		if st := p.state.Load(); st != nil {
			for _, e := range st.endpoints {
				e.pool.reap(now)
			}
		}
	}
}

func (p *Proxy) mono() int64 { return int64(p.clock().Sub(p.epoch)) }

// outcome is what became of a request, for the access log and metrics.
type outcome struct {
	status int
	bytes  int64
	ep     *endpoint
	// abort: the response was cut after its header was sent; the client
	// connection is reset so the client cannot take it for complete.
	abort bool
}

// ServeHTTP routes one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := p.clock()
	secure := r.TLS != nil
	var rs *routeState
	if st := p.state.Load(); st != nil {
		rs = st.lookup(model.NormalizeHost(r.Host), r.URL.Path, secure)
	}
	var o outcome
	switch {
	case rs == nil:
		o = outcome{status: pageUnavailable.status, bytes: pageUnavailable.write(w)}
	case rs.redirect && !secure:
		o = p.redirect(w, r)
	default:
		o = p.serveRoute(w, r, rs)
	}
	p.finish(r, rs, o, start)
	if o.abort {
		panic(http.ErrAbortHandler)
	}
}

// redirect sends a plain HTTP request of a Redirect route to https with the
// same host (without its port: the router's TLS port is 443) and target.
func (p *Proxy) redirect(w http.ResponseWriter, r *http.Request) outcome {
	host := r.Host
	if h := model.NormalizeHost(host); h != "" {
		host = h
		if a, err := netip.ParseAddr(h); err == nil && a.Is6() {
			host = "[" + h + "]"
		}
	}
	w.Header()["Location"] = []string{"https://" + host + r.URL.RequestURI()}
	w.WriteHeader(http.StatusFound)
	return outcome{status: http.StatusFound}
}

// serveRoute applies a route's source and rate policies, then proxies.
func (p *Proxy) serveRoute(w http.ResponseWriter, r *http.Request, rs *routeState) outcome {
	clientIP, client, ok := clientAddr(r.RemoteAddr)
	if rs.allowed != nil && (!ok || !allowedSource(rs.allowed, client)) {
		return outcome{status: pageForbidden.status, bytes: pageForbidden.write(w)}
	}
	if rs.limiter != nil {
		now := p.mono()
		if !rs.limiter.admitConn(r.Context(), client, now) {
			// A connection over the rate goes, as HAProxy rejects it.
			w.Header()["Connection"] = []string{"close"}
			return outcome{status: pageTooMany.status, bytes: pageTooMany.write(w)}
		}
		if !rs.limiter.acquire(client, now) {
			return outcome{status: pageTooMany.status, bytes: pageTooMany.write(w)}
		}
		defer rs.limiter.release(client)
	}
	return p.forward(w, r, rs, clientIP, client)
}

// buffers are the copy buffers of response bodies and tunnels.
var buffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

// forward sends the request to one of the route's endpoints and streams
// the answer back.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, rs *routeState, clientIP string, client netip.Addr) outcome {
	secure := r.TLS != nil
	// The client's request is forwarded as it is: the transport writes its
	// headers minus the hop-by-hop ones and plus the forwarding ones
	// straight to the backend, so nothing is copied. Only the router's own
	// sticky cookie is taken out.
	o := &outRequest{r: r, clientIP: clientIP, client: client, port: p.localPort(r), upgrade: upgradeType(r.Header), timeout: rs.timeout}
	o.init()
	var cookie string
	var hasCookie bool
	if rs.cookieName != "" {
		if cookie, hasCookie = requestCookie(r.Header, rs.cookieName); hasCookie {
			stripCookie(r.Header, rs.cookieName)
		}
	}

	now := p.mono()
	var ep *endpoint
	if hasCookie {
		ep = rs.pool.byCookie(cookie, now)
	}
	var hash uint64
	if rs.pool.algo == model.BalanceSource {
		b := client.As16()
		hash = maphash.Bytes(p.hashSeed, b[:])
	}
	if ep == nil {
		ep = rs.pool.pick(now, hash, nil)
	}
	if ep == nil {
		return outcome{status: pageUnavailable.status, bytes: pageUnavailable.write(w)}
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		o.body = &retryBody{rc: r.Body}
	}

	var c *backendConn
	var err error
	for attempt := 0; ; attempt++ {
		ep.active.Add(1)
		c, err = ep.exchange(o)
		if err == nil {
			ep.markUp()
			break
		}
		p.release(ep)
		var de *dialError
		if !errors.As(err, &de) {
			break // not retried: the request may have reached the backend
		}
		ep.markDown(p.mono())
		if attempt > 0 || (o.body != nil && o.body.n > 0) {
			break
		}
		next := rs.pool.pick(p.mono(), hash, ep)
		if next == nil {
			break
		}
		ep = next
	}
	if err != nil {
		return p.backendError(w, r, rs, ep, err)
	}
	defer p.release(ep)
	h := &c.resp

	if h.status == http.StatusSwitchingProtocols {
		n, err := p.tunnel(w, c, o.upgrade)
		if err != nil {
			p.log.Warn("upgrade failed", "route", rs.key, "backend", ep.hostport, "err", err)
			return outcome{status: pageBadGateway.status, bytes: pageBadGateway.write(w), ep: ep}
		}
		return outcome{status: http.StatusSwitchingProtocols, bytes: n, ep: ep}
	}

	dst := w.Header()
	h.copyTo(dst)
	if secure && rs.hsts != nil {
		dst["Strict-Transport-Security"] = rs.hsts
	}
	if rs.cookieName != "" && (!hasCookie || cookie != ep.cookie) {
		rs.pool.setStickyCookie(dst, rs.cookieName, ep, secure)
	}
	w.WriteHeader(h.status)
	n, rerr := copyBody(w, &c.body, h.length < 0)
	for _, t := range c.body.trailers {
		dst[http.TrailerPrefix+t.k] = append(dst[http.TrailerPrefix+t.k], t.v)
	}
	if rerr != nil {
		c.close()
	}
	c.finish()
	res := outcome{status: h.status, bytes: n, ep: ep}
	if rerr != nil && rerr != errClientGone && r.Context().Err() == nil {
		// The backend broke off (or went silent) mid-response.
		if rs.metrics != nil {
			rs.metrics.backendError(reason(rerr))
		}
		res.abort = true
	}
	return res
}

// release ends an endpoint's request; the last request of an endpoint that
// left the Table closes the connections it leaves idle.
func (p *Proxy) release(e *endpoint) {
	if e.active.Add(-1) == 0 && e.removed.Load() {
		e.pool.closeIdle(true)
	}
}

// backendError answers a request whose endpoint could not be used: 503
// when no endpoint could be connected to (as HAProxy answers when no
// server is available), 504 when the route's timeout passed, 502 for
// anything else, such as a reencrypt backend whose certificate does not
// verify or a malformed response. Nothing is written when the client went
// away.
func (p *Proxy) backendError(w http.ResponseWriter, r *http.Request, rs *routeState, ep *endpoint, err error) outcome {
	why := reason(err)
	if rs.metrics != nil {
		rs.metrics.backendError(why)
	}
	if r.Context().Err() != nil {
		return outcome{status: 499, ep: ep} // client closed the request, nginx's convention
	}
	pg := pageBadGateway
	switch why {
	case "connect":
		pg = pageUnavailable
	case "timeout":
		pg = pageTimeout
	}
	p.log.Warn("backend request failed", "route", rs.key, "backend", ep.hostport, "reason", why, "status", pg.status, "err", err)
	return outcome{status: pg.status, bytes: pg.write(w), ep: ep}
}

func reason(err error) string {
	var de *dialError
	var ve *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ae tls.AlertError
	switch {
	case errors.As(err, &de):
		return "connect"
	case isTimeout(err):
		return "timeout"
	case errors.As(err, &ve), errors.As(err, &ue), errors.As(err, &he), errors.As(err, &ae):
		return "tls"
	}
	return "other"
}

// copyBody streams a response body to the client with a pooled buffer,
// flushing after each chunk when the length is unknown (streams, server
// sent events) so nothing waits in a buffer. rerr is a read error of the
// backend's body; a failed write (the client left) ends the copy quietly.
func copyBody(w http.ResponseWriter, body *bodyReader, stream bool) (n int64, rerr error) {
	if body.mode == bodyNone {
		return 0, nil
	}
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	var fl http.Flusher
	if stream {
		fl, _ = w.(http.Flusher)
	}
	for {
		k, err := body.Read(buf)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if werr != nil {
				return n, errClientGone
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// errClientGone ends a response copy whose client stopped taking it.
var errClientGone = errors.New("the client went away")

// retryBody is the client's request body as the backend request reads it.
// It counts what was read, so a failed request is sent again only when no
// byte of the body was consumed.
type retryBody struct {
	rc io.ReadCloser
	n  int64
}

func (b *retryBody) Read(p []byte) (int, error) {
	k, err := b.rc.Read(p)
	b.n += int64(k)
	return k, err
}

// finish records a request in the access log and metrics.
func (p *Proxy) finish(r *http.Request, rs *routeState, o outcome, start time.Time) {
	if p.access == nil && p.metrics == nil {
		return
	}
	d := p.clock().Sub(start)
	if p.metrics != nil {
		if rs == nil {
			p.metrics.unmatched.Inc()
		} else if rs.metrics != nil {
			rs.metrics.observe(o.status, d.Seconds())
		}
	}
	if p.access != nil {
		key := ""
		if rs != nil {
			key = rs.key
		}
		p.access.log(r, key, o.ep, o.status, o.bytes, start, d)
	}
}
