package proxy

import (
	"net/netip"
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
	carried   map[string]*carried // by route namespace/name
	// compiled is every route's compiled state with the endpoints it was
	// compiled against, so the next Table recompiles only the routes that
	// changed or whose endpoints did.
	compiled map[*model.Route]compiledRoute
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

// carried is the per-route state that outlives a Table swap.
type carried struct {
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

// compile turns a Table into a state, reusing the endpoints and carried
// route state of the previous one.
func (p *Proxy) compile(t *model.Table, prev *state) *state {
	if t == nil || t.Routes == nil {
		return &state{exact: map[string][]*routeState{}, wildcard: map[string][]*routeState{},
			endpoints: map[endpointKey]*endpoint{}, carried: map[string]*carried{}}
	}
	n := t.Routes.Len()
	st := &state{
		exact:     make(map[string][]*routeState, n),
		wildcard:  map[string][]*routeState{},
		endpoints: make(map[endpointKey]*endpoint, n),
		carried:   make(map[string]*carried, n),
	}
	var prevEPs map[endpointKey]*endpoint
	var prevCarried map[string]*carried
	if prev != nil {
		prevEPs, prevCarried = prev.endpoints, prev.carried
	}
	var ws []weighted
	compileRoute := func(r *model.Route) *routeState {
		key := r.Key()
		c := prevCarried[key]
		if c == nil {
			c = &carried{rr: new(atomic.Uint64)}
			if p.metrics != nil {
				c.metrics = p.metrics.route(r.Namespace, r.Name)
			}
		}
		var limits model.RateLimit
		if r.Options.RateLimit != nil {
			limits = *r.Options.RateLimit
		}
		if c.limiter == nil || c.limits != limits {
			c.limits, c.limiter = limits, nil
			if limits.ConcurrentTCP > 0 || limits.RateHTTP > 0 {
				c.limiter = newLimiter(limits)
			}
		}
		st.carried[key] = c

		rs := &routeState{
			route: r, key: key, timeout: r.Options.Timeout,
			allowed: r.Options.AllowedSources, limiter: c.limiter, metrics: c.metrics,
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

		ws = ws[:0]
		for _, b := range r.Backends {
			if b.Weight <= 0 {
				continue
			}
			ep := t.Backend(r, b.Service)
			if ep == nil {
				continue
			}
			share := int64(b.Weight) * weightScale / int64(len(ep.Addrs))
			if share < 1 {
				share = 1
			}
			for _, a := range ep.Addrs {
				k := endpointKey{addr: netip.AddrPortFrom(a.Unmap(), uint16(ep.Port))}
				if r.Termination == routev1.TLSTerminationReencrypt {
					k.serverName = b.Service + "." + r.Namespace + ".svc"
					k.roots = r.DestinationCAs
					if k.roots == nil {
						k.roots = p.cfg.RootCAs
					}
				}
				e := st.endpoints[k]
				if e == nil {
					if e = prevEPs[k]; e == nil || e.removed.Load() {
						e = p.newEndpoint(k)
					}
					st.endpoints[k] = e
				}
				ws = append(ws, weighted{ep: e, weight: share})
			}
		}
		rs.pool = newPool(ws, r.Options.Balance, c.rr)
		return rs
	}
	var prevCompiled map[*model.Route]compiledRoute
	var prevExact, prevWildcard map[string][]*routeState
	if prev != nil {
		prevCompiled, prevExact, prevWildcard = prev.compiled, prev.exact, prev.wildcard
	}
	st.compiled = make(map[*model.Route]compiledRoute, n)
	get := func(r *model.Route) *routeState {
		if cr, ok := st.compiled[r]; ok {
			return cr.rs
		}
		cr, ok := prevCompiled[r]
		if ok && sameEndpoints(t, r, cr.eps) {
			// Unchanged: the same route state, its endpoints and its
			// carried state go on.
			for _, e := range cr.rs.pool.eps {
				st.endpoints[e.key] = e
			}
			st.carried[cr.rs.key] = prevCarried[cr.rs.key]
		} else {
			eps := make([]*model.EndpointPort, len(r.Backends))
			for i, b := range r.Backends {
				eps[i] = t.Backend(r, b.Service)
			}
			cr = compiledRoute{rs: compileRoute(r), eps: eps}
		}
		st.compiled[r] = cr
		return cr.rs
	}
	// A host whose routes all kept their state keeps its slice too: an
	// update allocates only for what changed.
	hostRoutes := func(prev []*routeState, routes []*model.Route) []*routeState {
		same := len(prev) == len(routes)
		for i, r := range routes {
			if rs := get(r); same && prev[i] != rs {
				same = false
			}
		}
		if same {
			return prev
		}
		rss := make([]*routeState, len(routes))
		for i, r := range routes {
			rss[i] = get(r)
		}
		return rss
	}
	t.Routes.EachHost(func(h string, routes []*model.Route) {
		st.exact[h] = hostRoutes(prevExact[h], routes)
	})
	t.Routes.EachWildcardDomain(func(d string, routes []*model.Route) {
		st.wildcard[d] = hostRoutes(prevWildcard[d], routes)
	})
	return st
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
