package model

import (
	"crypto/sha256"
	"maps"
	"slices"

	routev1 "github.com/openshift/api/route/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
)

// Builder builds snapshots for one router, incrementally: it keeps what it
// made of every route (selection, the admission chain, the host claim, the
// served Route and the status wanted), and a build redoes that only for the
// routes that changed since the previous one and for the routes whose host
// claims they can affect. A change of one route at 10,000 routes costs a
// scan of the route list and the work of its own host, not a rebuild of
// all hosts. It also keeps the TLS material it parsed, by content, so only
// new certificates are parsed.
//
// A Builder is used by one goroutine at a time; the snapshots it returns
// are never modified after they are returned and are safe for any number
// of readers. Routes unchanged between two snapshots are the same *Route in
// both, so data planes can keep what they compiled for them.
type Builder struct {
	cfg   parsedConfig
	certs map[[sha256.Size]byte]*certRef

	gen     uint64 // the current build, to find the routes gone from its input
	entries map[routeKey]*entry
	// The candidates (selected routes that passed the admission chain),
	// indexed the way host claims interact: by exact host, by wildcard
	// subdomain, and the exact hosts directly under each subdomain.
	hosts map[string][]*entry
	wild  map[string][]*entry
	under map[string]map[string]int

	nsLabels map[string]map[string]string // the namespace labels of the previous build
	snap     *Snapshot
	pending  map[routeKey]*entry // routes whose status entry needs writing
	// changeList is pending as Build returned it last (shared with the
	// callers, who must not modify it; nil before the first), and changed
	// the routes whose change changed since.
	changeList []StatusChange
	changed    map[routeKey]struct{}
}

// certRef is parsed TLS material and the number of routes using it.
type certRef struct {
	m    *tlsMaterial
	refs int
}

type routeKey struct{ namespace, name string }

// entry is what the Builder made of one route.
type entry struct {
	route    *routev1.Route
	gen      uint64
	selected bool
	// cand is the route's way through the admission chain (also when the
	// chain rejected it, with chainRej: its host is what the status says).
	cand     *candidate
	chainRej *rejection
	// fresh: cand was made from a new spec since rt was built.
	fresh bool
	rt    *Route        // the served route, when admitted
	want  *StatusChange // the status change wanted, nil when the route's entry says it already
}

// claims reports whether the entry takes part in host claims.
func (e *entry) claims() bool { return e.selected && e.chainRej == nil }

// NewBuilder checks a router's configuration and returns its Builder.
func NewBuilder(cfg Config) (*Builder, error) {
	p, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Builder{
		cfg: p, certs: map[[sha256.Size]byte]*certRef{},
		entries: map[routeKey]*entry{},
		hosts:   map[string][]*entry{}, wild: map[string][]*entry{}, under: map[string]map[string]int{},
		snap:    &Snapshot{exact: map[string][]*Route{}, wildcard: map[string][]*Route{}, version: snapshotVersions.Add(1)},
		pending: map[routeKey]*entry{}, changed: map[routeKey]struct{}{},
	}, nil
}

// candidate is a route on its way through the admission chain.
type candidate struct {
	route       *routev1.Route
	host        string
	wildcard    bool
	domain      string // wildcard routes: the subdomain claimed
	claimPath   string // the path as claimed: "" and "/" are the same claim
	termination routev1.TLSTerminationType
	tls         *tlsMaterial
	tlsKey      [sha256.Size]byte // content key of the TLS material in the Builder's cache
	holdsTLS    bool              // the candidate holds a reference to certs[tlsKey]
	opts        Options
}

// rejection is a step's refusal: a fixed reason and a message for the
// route's author.
type rejection struct {
	reason, message string
}

// unit is what one host claim decision covers: an exact host, or a
// wildcard subdomain (with wildcard set).
type unit struct {
	name     string
	wildcard bool
}

// pass is the bookkeeping of one build.
type pass struct {
	units   map[unit]struct{}   // claim units to decide again
	removed map[*Route]struct{} // routes leaving the snapshot
	added   []*Route            // routes entering it
	// hosts and domains whose routes were set again
	hosts, domains []string
}

// Build brings the snapshot up to date with routes, the router's whole
// input (every route it sees, in any order), and returns it with the status
// changes still wanted (sorted by namespace/name; shared, not to be
// modified): a level, not a delta, so the changes not yet written come back
// every build until the routes carry them. namespaceLabels maps namespace names to their labels; with a
// namespace selector set, routes of namespaces missing from it are not
// selected. Build does not modify the routes.
//
// A route is taken as unchanged when its UID and resourceVersion are those
// of the previous build (what an informer guarantees: a new version of an
// object is a new object); a route without both is evaluated again every
// build.
func (b *Builder) Build(routes []*routev1.Route, namespaceLabels map[string]map[string]string) (*Snapshot, []StatusChange) {
	b.gen++
	nsChanged := b.namespacesChanged(namespaceLabels)
	p := &pass{units: map[unit]struct{}{}, removed: map[*Route]struct{}{}}
	var dirty []*entry
	for _, r := range routes {
		if r == nil {
			continue
		}
		k := routeKey{r.Namespace, r.Name}
		e := b.entries[k]
		if e != nil && e.gen == b.gen {
			continue // the same route twice: the first wins
		}
		if e != nil && r.UID != "" && r.ResourceVersion != "" && e.route.UID == r.UID &&
			e.route.ResourceVersion == r.ResourceVersion && !nsChanged[r.Namespace] {
			e.route, e.gen = r, b.gen
			continue
		}
		if e == nil {
			e = &entry{}
			b.entries[k] = e
		}
		e.gen = b.gen
		b.evaluate(e, r, namespaceLabels, p)
		dirty = append(dirty, e)
	}
	for k, e := range b.entries {
		if e.gen != b.gen {
			b.forget(k, e, p)
		}
	}
	if len(dirty) == 0 && len(p.units) == 0 && len(p.removed) == 0 {
		return b.snap, b.changes()
	}

	snap := &Snapshot{exact: maps.Clone(b.snap.exact), wildcard: maps.Clone(b.snap.wildcard), version: snapshotVersions.Add(1)}
	b.settle(snap, p)
	for _, e := range dirty {
		if !e.claims() { // candidates got their status in settle
			b.setWant(e, e.chainRej)
		}
	}

	// The route list: the previous one without the routes that left, with
	// those that came, by namespace/name.
	snap.routes = make([]*Route, 0, len(b.snap.routes)+len(p.added))
	for _, rt := range b.snap.routes {
		if _, gone := p.removed[rt]; !gone {
			snap.routes = append(snap.routes, rt)
		}
	}
	byName := func(a, c *Route) int {
		if a.Namespace != c.Namespace {
			return compareStrings(a.Namespace, c.Namespace)
		}
		return compareStrings(a.Name, c.Name)
	}
	if len(p.added) <= 16 { // a few: inserted in place
		for _, rt := range p.added {
			i, _ := slices.BinarySearchFunc(snap.routes, rt, byName)
			snap.routes = slices.Insert(snap.routes, i, rt)
		}
	} else {
		snap.routes = append(snap.routes, p.added...)
		slices.SortFunc(snap.routes, byName)
	}
	// A route dropped and admitted again in this pass (a new spec) is in
	// both lists: it is its new *Route in added and its old in removed.
	d := &Delta{Parent: b.snap.version, Hosts: p.hosts, Domains: p.domains, Added: p.added}
	if len(p.removed) > 0 {
		d.Removed = make([]*Route, 0, len(p.removed))
		for rt := range p.removed {
			d.Removed = append(d.Removed, rt)
		}
	}
	snap.delta = d
	b.snap = snap
	return snap, b.changes()
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// namespacesChanged returns the namespaces whose labels differ from the
// previous build's, when a namespace selector makes them matter.
func (b *Builder) namespacesChanged(nsLabels map[string]map[string]string) map[string]bool {
	if b.cfg.namespaceSelector.Empty() {
		return nil
	}
	changed := map[string]bool{}
	for ns, l := range nsLabels {
		if old, ok := b.nsLabels[ns]; !ok || !maps.Equal(old, l) {
			changed[ns] = true
		}
	}
	for ns := range b.nsLabels {
		if _, ok := nsLabels[ns]; !ok {
			changed[ns] = true
		}
	}
	b.nsLabels = nsLabels
	return changed
}

// evaluate takes a new version of a route (or its namespace's new labels):
// selection and the admission chain. The chain is run again only when what
// it reads changed; a status-only update keeps what it made.
func (b *Builder) evaluate(e *entry, r *routev1.Route, nsLabels map[string]map[string]string, p *pass) {
	old := e.route
	if e.claims() {
		b.unindex(e, p)
	}
	e.route = r
	e.selected = b.selects(r, nsLabels)
	switch {
	case !e.selected:
		b.release(e)
		e.cand, e.chainRej, e.fresh = nil, nil, false
	case e.cand != nil && old != nil && SameSpec(old, r):
		c := *e.cand
		c.route = r
		e.cand = &c
	default:
		b.release(e)
		e.cand, e.chainRej = b.runChain(r)
		e.fresh = true
	}
	if e.claims() {
		b.index(e, p)
	} else {
		b.dropRoute(e, p)
	}
}

// SameSpec reports whether two versions of a route differ in nothing the
// admission chain and the served Route read: an update that changed only
// the status, which a Builder does not evaluate again.
func SameSpec(o, n *routev1.Route) bool {
	return o.UID == n.UID && o.CreationTimestamp.Equal(&n.CreationTimestamp) &&
		maps.Equal(o.Labels, n.Labels) && maps.Equal(o.Annotations, n.Annotations) &&
		equality.Semantic.DeepEqual(o.Spec, n.Spec)
}

// forget drops a route that is gone.
func (b *Builder) forget(k routeKey, e *entry, p *pass) {
	if e.claims() {
		b.unindex(e, p)
	}
	b.release(e)
	b.dropRoute(e, p)
	delete(b.entries, k)
	if _, ok := b.pending[k]; ok {
		delete(b.pending, k)
		b.changed[k] = struct{}{}
	}
}

// dropRoute takes the entry's route out of the snapshot.
func (b *Builder) dropRoute(e *entry, p *pass) {
	if e.rt != nil {
		p.removed[e.rt] = struct{}{}
		e.rt = nil
	}
}

// index adds a candidate to the claim indexes and marks its unit.
func (b *Builder) index(e *entry, p *pass) {
	c := e.cand
	if c.wildcard {
		b.wild[c.domain] = append(b.wild[c.domain], e)
		p.units[unit{c.domain, true}] = struct{}{}
		return
	}
	b.hosts[c.host] = append(b.hosts[c.host], e)
	if parent := parentDomain(c.host); parent != "" {
		m := b.under[parent]
		if m == nil {
			m = map[string]int{}
			b.under[parent] = m
		}
		m[c.host]++
	}
	p.units[unit{c.host, false}] = struct{}{}
}

// unindex removes a candidate from the claim indexes and marks its unit.
func (b *Builder) unindex(e *entry, p *pass) {
	c := e.cand
	if c.wildcard {
		removeEntry(b.wild, c.domain, e)
		p.units[unit{c.domain, true}] = struct{}{}
		return
	}
	removeEntry(b.hosts, c.host, e)
	if parent := parentDomain(c.host); parent != "" {
		if m := b.under[parent]; m != nil {
			if m[c.host]--; m[c.host] <= 0 {
				delete(m, c.host)
			}
			if len(m) == 0 {
				delete(b.under, parent)
			}
		}
	}
	p.units[unit{c.host, false}] = struct{}{}
}

func removeEntry(idx map[string][]*entry, k string, e *entry) {
	es := idx[k]
	if i := slices.Index(es, e); i >= 0 {
		es = slices.Delete(es, i, i+1)
	}
	if len(es) == 0 {
		delete(idx, k)
	} else {
		idx[k] = es
	}
}

// settle decides the host claims of the marked units again and updates the
// snapshot's hosts. Claims interact only within a subdomain: an exact host
// with the wildcard route of its parent domain, a wildcard route with the
// exact hosts directly under it. So an exact host is decided on its own
// unless its parent domain has wildcard candidates, and then the whole
// subdomain is.
func (b *Builder) settle(snap *Snapshot, p *pass) {
	domains := map[string]bool{}
	var hosts []string
	for u := range p.units {
		switch {
		case u.wildcard:
			domains[u.name] = true
		case len(b.wild[parentDomain(u.name)]) > 0:
			domains[parentDomain(u.name)] = true
		default:
			hosts = append(hosts, u.name)
		}
	}
	for d := range domains {
		group := slices.Clone(b.wild[d])
		var groupHosts []string
		for h := range b.under[d] {
			group = append(group, b.hosts[h]...)
			groupHosts = append(groupHosts, h)
		}
		b.claim(group, p)
		setRoutes(snap.wildcard, d, b.wild[d])
		p.domains = append(p.domains, d)
		for _, h := range groupHosts {
			setRoutes(snap.exact, h, b.hosts[h])
		}
		p.hosts = append(p.hosts, groupHosts...)
	}
	for _, h := range hosts {
		if domains[parentDomain(h)] {
			continue // decided with its subdomain
		}
		b.claim(slices.Clone(b.hosts[h]), p)
		setRoutes(snap.exact, h, b.hosts[h])
		p.hosts = append(p.hosts, h)
	}
	// Hosts and domains whose last candidate left.
	for u := range p.units {
		if u.wildcard && len(b.wild[u.name]) == 0 {
			if _, ok := snap.wildcard[u.name]; ok {
				delete(snap.wildcard, u.name)
				p.domains = append(p.domains, u.name)
			}
		} else if !u.wildcard && len(b.hosts[u.name]) == 0 {
			if _, ok := snap.exact[u.name]; ok {
				delete(snap.exact, u.name)
				p.hosts = append(p.hosts, u.name)
			}
		}
	}
}

// claim offers the candidates of one claim unit or subdomain the claims,
// oldest first, and records each one's outcome: its served Route and its
// status.
func (b *Builder) claim(group []*entry, p *pass) {
	slices.SortFunc(group, func(x, y *entry) int {
		switch {
		case older(x.route, y.route):
			return -1
		case older(y.route, x.route):
			return 1
		}
		return 0
	})
	cl := newClaims()
	for _, e := range group {
		rej := cl.claim(e.cand)
		switch {
		case rej != nil:
			b.dropRoute(e, p)
		case e.rt == nil || e.fresh:
			b.dropRoute(e, p)
			e.rt = b.route(e.cand)
			p.added = append(p.added, e.rt)
		default: // admitted as before: the same Route stays
		}
		e.fresh = false
		b.setWant(e, rej)
	}
}

// setRoutes sets the routes of a host (or wildcard domain) in a snapshot's
// map to those of its admitted candidates, most specific path first.
func setRoutes(m map[string][]*Route, k string, es []*entry) {
	var rs []*Route
	for _, e := range es {
		if e.rt != nil {
			rs = append(rs, e.rt)
		}
	}
	if len(rs) == 0 {
		delete(m, k)
		return
	}
	sortMostSpecific(rs)
	m[k] = rs
}

// setWant records the status change a route needs, if any.
func (b *Builder) setWant(e *entry, rej *rejection) {
	k := routeKey{e.route.Namespace, e.route.Name}
	e.want = nil
	if !e.selected {
		if currentIngress(e.route, b.cfg.RouterName) != nil {
			r := e.route
			e.want = &StatusChange{Namespace: r.Namespace, Name: r.Name, UID: r.UID, Remove: true}
		}
	} else {
		e.want = b.wanted(e.cand, rej)
	}
	if e.want != nil {
		b.pending[k] = e
		b.changed[k] = struct{}{}
	} else if _, ok := b.pending[k]; ok {
		delete(b.pending, k)
		b.changed[k] = struct{}{}
	}
}

// changes lists the status changes still wanted, by namespace/name. The
// list is kept from build to build and patched for the routes whose
// change changed: after thousands of routes came, their changes wait for
// the status writer over many builds, and sorting them all again each
// time would cost more than the build.
func (b *Builder) changes() []StatusChange {
	switch {
	case len(b.changed) == 0 && (b.changeList != nil || len(b.pending) == 0):
	case b.changeList != nil && len(b.changed) <= 64:
		list := slices.Clone(b.changeList)
		for k := range b.changed {
			i, found := slices.BinarySearchFunc(list, k, func(c StatusChange, k routeKey) int {
				if c.Namespace != k.namespace {
					return compareStrings(c.Namespace, k.namespace)
				}
				return compareStrings(c.Name, k.name)
			})
			e, pending := b.pending[k]
			switch {
			case found && pending:
				list[i] = *e.want
			case found:
				list = slices.Delete(list, i, i+1)
			case pending:
				list = slices.Insert(list, i, *e.want)
			}
		}
		b.changeList = list
	default:
		list := make([]StatusChange, 0, len(b.pending))
		for _, e := range b.pending {
			list = append(list, *e.want)
		}
		slices.SortFunc(list, func(x, y StatusChange) int {
			if x.Namespace != y.Namespace {
				return compareStrings(x.Namespace, y.Namespace)
			}
			return compareStrings(x.Name, y.Name)
		})
		b.changeList = list
	}
	clear(b.changed)
	if len(b.changeList) == 0 {
		return nil
	}
	return b.changeList
}

// acquireTLS returns the parsed TLS material of key k (parsing t the first
// time) and counts one more route holding it.
func (b *Builder) acquireTLS(k [sha256.Size]byte, t *routev1.TLSConfig) *tlsMaterial {
	ref := b.certs[k]
	if ref == nil {
		ref = &certRef{m: parseTLS(t, b.cfg.Now())}
		b.certs[k] = ref
	}
	ref.refs++
	return ref.m
}

// release lets go of the TLS material the entry's candidate holds.
func (b *Builder) release(e *entry) {
	if e.cand == nil || !e.cand.holdsTLS {
		return
	}
	if ref := b.certs[e.cand.tlsKey]; ref != nil {
		if ref.refs--; ref.refs <= 0 {
			delete(b.certs, e.cand.tlsKey)
		}
	}
	e.cand.holdsTLS = false
}

// selects is the shard check: the route's labels and its namespace's.
func (b *Builder) selects(r *routev1.Route, namespaceLabels map[string]map[string]string) bool {
	if !b.cfg.routeSelector.Matches(labels.Set(r.Labels)) {
		return false
	}
	if b.cfg.namespaceSelector.Empty() {
		return true
	}
	nsLabels, ok := namespaceLabels[r.Namespace]
	return ok && b.cfg.namespaceSelector.Matches(labels.Set(nsLabels))
}

// wanted is the route's status change, or nil when its ingress entry for
// this router already says the same.
func (b *Builder) wanted(c *candidate, rej *rejection) *StatusChange {
	r := c.route
	ch := StatusChange{Namespace: r.Namespace, Name: r.Name, UID: r.UID, Host: c.host, WildcardPolicy: r.Spec.WildcardPolicy, Admitted: rej == nil}
	if ch.Host == "" {
		ch.Host = r.Spec.Host
	}
	if ch.WildcardPolicy == "" {
		ch.WildcardPolicy = routev1.WildcardPolicyNone
	}
	if rej != nil {
		ch.Reason, ch.Message = rej.reason, rej.message
	}
	if in := currentIngress(r, b.cfg.RouterName); in != nil && ingressMatches(in, ch, b.cfg.CanonicalHostname) {
		return nil
	}
	return &ch
}
