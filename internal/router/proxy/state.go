package proxy

import (
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	routev1 "github.com/openshift/api/route/v1"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// state is one compiled Table: what ServeHTTP reads, through one atomic
// load, for the whole of a request. It is never modified after Update
// stores it.
type state struct {
	exact     map[string][]*routeState // host → routes, most specific path first
	wildcard  map[string][]*routeState // subdomain → routes
	endpoints map[endpointKey]*endpoint
}

// books is what Update keeps between Tables to recompile only what
// changed; only Update, under updateMu, reads or writes it.
type books struct {
	table *model.Table // the Table the current state was compiled from
	// compiled is every admitted route's compiled state with the
	// endpoints it was compiled against.
	compiled map[*model.Route]compiledRoute
	carried  map[string]*carried       // by route namespace/name
	bySvc    map[string][]*model.Route // service key → the routes sending traffic to it
	full     int                       // Tables compiled whole, for tests
}

// compiledRoute is a routeState and the endpoints of each of its backends
// (as Table.Backend gave them) it was compiled against.
type compiledRoute struct {
	rs  *routeState
	eps []*model.EndpointPort
}

// routeState is one admitted route with everything a request to it needs.
type routeState struct {
	route *model.Route
	key   string // namespace/name
	pool  *pool
	// plain and secure say whether the route serves requests that came
	// over plain HTTP and over TLS; redirect that plain ones get a 302 to
	// https instead.
	plain, secure, redirect bool
	timeout                 time.Duration
	hsts                    []string // Strict-Transport-Security value, nil for none
	allowed                 []netip.Prefix
	cookieName              string // "" when cookies are off
	limiter                 *limiter
	metrics                 *routeMetrics
}

// carried is the per-route state that outlives a Table swap, and a new
// spec of the route.
type carried struct {
	owner   *model.Route // the route it was last compiled for
	rr      *atomic.Uint64
	limits  model.RateLimit
	limiter *limiter
	metrics *routeMetrics
}

// lookup finds the route of a request as OpenShift's router does: the
// exact host's routes, then the wildcard routes of its subdomain, most
// specific path first, among the routes that serve the request's scheme.
func (s *state) lookup(host, path string, secure bool) *routeState {
	if rs := match(s.exact[host], path, secure); rs != nil {
		return rs
	}
	for i := 0; i < len(host); i++ {
		if host[i] == '.' {
			if i == 0 {
				return nil
			}
			return match(s.wildcard[host[i+1:]], path, secure)
		}
	}
	return nil
}

func match(rss []*routeState, path string, secure bool) *routeState {
	for _, rs := range rss {
		if (secure && !rs.secure) || (!secure && !rs.plain) {
			continue
		}
		if rs.route.MatchesPath(path) {
			return rs
		}
	}
	return nil
}

// compile turns a Table into a state. When the Table says how it differs
// from the one compiled before (Table.DeltaFrom), only the hosts whose
// routes changed and the routes of the services whose endpoints changed are
// compiled again; else every host is, still reusing what was compiled for a
// route that is the same *Route with the same endpoints. It returns the
// state with the endpoints that left it and the carried state of the
// routes that left, for Update to retire once the state is swapped in.
func (p *Proxy) compile(t *model.Table, prev *state) (*state, []*endpoint, []*carried) {
	if t == nil || t.Routes == nil {
		t = &model.Table{Routes: &model.Snapshot{}}
	}
	b := &p.books
	if b.compiled == nil {
		b.compiled, b.carried, b.bySvc = map[*model.Route]compiledRoute{}, map[string]*carried{}, map[string][]*model.Route{}
	}
	c := compilation{p: p, t: t}
	rd, svcs, incremental := t.DeltaFrom(b.table)
	var hosts, domains []string
	var removed []*model.Route
	if incremental && prev != nil {
		c.st = &state{exact: maps.Clone(prev.exact), wildcard: maps.Clone(prev.wildcard), endpoints: maps.Clone(prev.endpoints)}
		if rd != nil {
			hosts, domains, removed = rd.Hosts, rd.Domains, rd.Removed
		}
		for _, k := range svcs {
			for _, r := range b.bySvc[k] {
				if r.Wildcard {
					domains = append(domains, r.Domain)
				} else {
					hosts = append(hosts, r.Host)
				}
			}
		}
	} else {
		b.full++
		c.st = &state{exact: make(map[string][]*routeState, t.Routes.Len()), wildcard: map[string][]*routeState{}, endpoints: map[endpointKey]*endpoint{}}
		if prev != nil {
			c.st.endpoints = maps.Clone(prev.endpoints)
		}
		present := make(map[*model.Route]bool, t.Routes.Len())
		for _, r := range t.Routes.Routes() {
			present[r] = true
		}
		for r := range b.compiled {
			if !present[r] {
				removed = append(removed, r)
			}
		}
		t.Routes.EachHost(func(h string, _ []*model.Route) { hosts = append(hosts, h) })
		t.Routes.EachWildcardDomain(func(d string, _ []*model.Route) { domains = append(domains, d) })
	}
	if prev != nil {
		c.prevExact, c.prevWildcard = prev.exact, prev.wildcard
	}

	for _, r := range removed {
		c.drop(r)
	}
	for _, h := range hosts {
		c.setHost(c.st.exact, c.prevExact, h, t.Routes.Host(h))
	}
	for _, d := range domains {
		c.setHost(c.st.wildcard, c.prevWildcard, d, t.Routes.WildcardDomain(d))
	}

	// What left: the carried state of routes no new spec of took over,
	// the endpoints no route uses any more.
	var droppedCarried []*carried
	for _, r := range removed {
		if cs := b.carried[r.Key()]; cs != nil && cs.owner == r {
			delete(b.carried, r.Key())
			droppedCarried = append(droppedCarried, cs)
		}
	}
	var gone []*endpoint
	for _, e := range c.unused {
		if e.refs == 0 && c.st.endpoints[e.key] == e {
			delete(c.st.endpoints, e.key)
			gone = append(gone, e)
		}
	}
	b.table = t
	return c.st, gone, droppedCarried
}

// compilation is one compile's work in progress.
type compilation struct {
	p                       *Proxy
	t                       *model.Table
	st                      *state
	prevExact, prevWildcard map[string][]*routeState
	unused                  []*endpoint // endpoints whose last route left (they may get another)
	ws                      []weighted  // scratch
}

// setHost sets the routes of one host (or wildcard subdomain) of the new
// state. A host whose routes all kept their state keeps its slice too.
func (c *compilation) setHost(m, prevM map[string][]*routeState, h string, routes []*model.Route) {
	if len(routes) == 0 {
		delete(m, h)
		return
	}
	prev := prevM[h]
	same := len(prev) == len(routes)
	for i, r := range routes {
		if rs := c.get(r); same && prev[i] != rs {
			same = false
		}
	}
	if same {
		m[h] = prev
		return
	}
	rss := make([]*routeState, len(routes))
	for i, r := range routes {
		rss[i] = c.get(r)
	}
	m[h] = rss
}

// get returns the compiled state of an admitted route: the one compiled
// before when it is the same *Route with the same endpoints, else a new
// one.
func (c *compilation) get(r *model.Route) *routeState {
	b := &c.p.books
	cr, ok := b.compiled[r]
	if ok && sameEndpoints(c.t, r, cr.eps) {
		return cr.rs
	}
	if ok {
		c.release(cr.rs)
	} else {
		for _, be := range r.Backends {
			k := model.ServiceKey(r.Namespace, be.Service)
			b.bySvc[k] = append(b.bySvc[k], r)
		}
	}
	eps := make([]*model.EndpointPort, len(r.Backends))
	for i, be := range r.Backends {
		eps[i] = c.t.Backend(r, be.Service)
	}
	cr = compiledRoute{rs: c.compileRoute(r), eps: eps}
	b.compiled[r] = cr
	return cr.rs
}

// drop forgets a route that left the Table.
func (c *compilation) drop(r *model.Route) {
	b := &c.p.books
	cr, ok := b.compiled[r]
	if !ok {
		return
	}
	c.release(cr.rs)
	delete(b.compiled, r)
	for _, be := range r.Backends {
		k := model.ServiceKey(r.Namespace, be.Service)
		rs := slices.DeleteFunc(b.bySvc[k], func(x *model.Route) bool { return x == r })
		if len(rs) == 0 {
			delete(b.bySvc, k)
		} else {
			b.bySvc[k] = rs
		}
	}
}

// release gives back a route state's references to its endpoints.
func (c *compilation) release(rs *routeState) {
	for _, e := range rs.pool.eps {
		if e.refs--; e.refs == 0 {
			c.unused = append(c.unused, e)
		}
	}
}

func (c *compilation) compileRoute(r *model.Route) *routeState {
	p, t := c.p, c.t
	key := r.Key()
	cs := p.books.carried[key]
	if cs == nil {
		cs = &carried{rr: new(atomic.Uint64)}
		if p.metrics != nil {
			cs.metrics = p.metrics.route(r.Namespace, r.Name)
		}
		p.books.carried[key] = cs
	}
	cs.owner = r
	var limits model.RateLimit
	if r.Options.RateLimit != nil {
		limits = *r.Options.RateLimit
	}
	if cs.limiter == nil || cs.limits != limits {
		cs.limits, cs.limiter = limits, nil
		if limits.ConcurrentTCP > 0 || limits.RateHTTP > 0 || limits.RateTCP > 0 {
			cs.limiter = newLimiter(limits)
		}
	}

	rs := &routeState{
		route: r, key: key, timeout: r.Options.Timeout,
		allowed: r.Options.AllowedSources, limiter: cs.limiter, metrics: cs.metrics,
	}
	if r.Options.HSTSHeader != "" {
		rs.hsts = []string{r.Options.HSTSHeader}
	}
	if rs.timeout <= 0 {
		rs.timeout = p.cfg.ServerTimeout
	}
	pol := r.InsecureEdgeTerminationPolicy
	switch r.Termination {
	case "":
		rs.plain = true
	case routev1.TLSTerminationEdge, routev1.TLSTerminationReencrypt:
		rs.secure = true
		rs.plain = pol == routev1.InsecureEdgeTerminationPolicyAllow || pol == routev1.InsecureEdgeTerminationPolicyRedirect
		rs.redirect = pol == routev1.InsecureEdgeTerminationPolicyRedirect
	case routev1.TLSTerminationPassthrough:
		rs.plain = pol == routev1.InsecureEdgeTerminationPolicyRedirect
		rs.redirect = rs.plain
	}
	if !r.Options.DisableCookies && r.Termination != routev1.TLSTerminationPassthrough {
		rs.cookieName = r.Options.CookieName
	}

	ws := c.ws[:0]
	for _, be := range r.Backends {
		if be.Weight <= 0 {
			continue
		}
		ep := t.Backend(r, be.Service)
		if ep == nil {
			continue
		}
		share := int64(be.Weight) * weightScale / int64(len(ep.Addrs))
		if share < 1 {
			share = 1
		}
		for _, a := range ep.Addrs {
			k := endpointKey{addr: netip.AddrPortFrom(a.Unmap(), uint16(ep.Port))}
			if r.Termination == routev1.TLSTerminationReencrypt {
				k.serverName = be.Service + "." + r.Namespace + ".svc"
				k.roots = r.DestinationCAs
				if k.roots == nil {
					k.roots = p.cfg.RootCAs
				}
			}
			e := c.st.endpoints[k]
			if e == nil {
				e = p.newEndpoint(k)
				c.st.endpoints[k] = e
				c.unused = append(c.unused, e) // until a pool holds it
			}
			ws = append(ws, weighted{ep: e, weight: share})
		}
	}
	c.ws = ws
	rs.pool = newPool(ws, r.Options.Balance, cs.rr)
	for _, e := range rs.pool.eps {
		e.refs++
	}
	return rs
}

// sameEndpoints reports whether the route's backends have, in t, the
// endpoints eps it was compiled against.
func sameEndpoints(t *model.Table, r *model.Route, eps []*model.EndpointPort) bool {
	if len(eps) != len(r.Backends) {
		return false
	}
	for i, b := range r.Backends {
		if t.Backend(r, b.Service) != eps[i] {
			return false
		}
	}
	return true
}

func (p *Proxy) newEndpoint(k endpointKey) *endpoint {
	e := &endpoint{key: k, hostport: k.addr.String(), scheme: "http", cookie: p.cookieValue(k)}
	if k.serverName != "" {
		e.scheme = "https"
	}
	e.pool = newConnPool(newDialer(&p.cfg, k, e.hostport))
	return e
}
