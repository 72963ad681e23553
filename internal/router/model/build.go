package model

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	routecommon "github.com/openshift/library-go/pkg/route"
	routevalidation "github.com/openshift/library-go/pkg/route/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Builder builds snapshots for one router. It keeps the TLS material it
// parsed, by content, so rebuilding after a change parses only new
// certificates. A Builder is used by one goroutine at a time; the snapshots
// it returns are safe for any number of readers.
type Builder struct {
	cfg   parsedConfig
	certs map[[sha256.Size]byte]*tlsMaterial
	// admitted remembers each route's way through the admission chain by
	// UID and resourceVersion: the chain depends only on the route and the
	// config, so an unchanged route is not validated again.
	admitted map[types.UID]*chainResult
}

// chainResult is what the admission chain made of one version of a route.
type chainResult struct {
	resourceVersion string
	cand            candidate
	rej             *rejection
}

// NewBuilder checks a router's configuration and returns its Builder.
func NewBuilder(cfg Config) (*Builder, error) {
	p, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Builder{cfg: p, certs: map[[sha256.Size]byte]*tlsMaterial{}, admitted: map[types.UID]*chainResult{}}, nil
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
	tlsKey      [sha256.Size]byte // content key of tls in the Builder's cache
	opts        Options
}

// rejection is a step's refusal: a fixed reason and a message for the
// route's author.
type rejection struct {
	reason, message string
}

// step is one link of the admission chain: it lets the route through (nil)
// or rejects it. Steps run in order and the first rejection wins.
type step struct {
	name  string
	admit func(b *Builder, nextCerts map[[sha256.Size]byte]*tlsMaterial, c *candidate) *rejection
}

// admissionChain is the chain every route of the shard goes through before
// host claims are decided among the routes that passed.
var admissionChain = []step{
	{"host", admitHost},
	{"validation", admitValid},
	{"wildcard", admitWildcard},
	{"tls", admitTLS},
	{"annotations", admitAnnotations},
}

// Build runs every route through the admission chain and the host claims,
// and returns the snapshot of the admitted routes and the status changes
// (sorted by namespace/name) against what the routes carry for this
// router. namespaceLabels maps namespace names to their labels; with a
// namespace selector set, routes of namespaces missing from it are not
// selected. Build does not modify the routes.
func (b *Builder) Build(routes []*routev1.Route, namespaceLabels map[string]map[string]string) (*Snapshot, []StatusChange) {
	nextCerts := make(map[[sha256.Size]byte]*tlsMaterial, len(b.certs))
	nextAdmitted := make(map[types.UID]*chainResult, len(b.admitted))
	var changes []StatusChange
	candidates := make([]*candidate, 0, len(routes))
	for _, r := range routes {
		if r == nil {
			continue
		}
		if !b.selects(r, namespaceLabels) {
			if currentIngress(r, b.cfg.RouterName) != nil {
				changes = append(changes, StatusChange{Namespace: r.Namespace, Name: r.Name, UID: r.UID, Remove: true})
			}
			continue
		}
		c, rej := b.runChain(r, nextCerts, nextAdmitted)
		if rej != nil {
			changes = b.appendChange(changes, c, rej)
			continue
		}
		candidates = append(candidates, c)
	}
	b.certs, b.admitted = nextCerts, nextAdmitted

	sort.Slice(candidates, func(i, j int) bool { return older(candidates[i].route, candidates[j].route) })
	claims := newClaims()
	snap := &Snapshot{exact: map[string][]*Route{}, wildcard: map[string][]*Route{}}
	for _, c := range candidates {
		if rej := claims.claim(c); rej != nil {
			changes = b.appendChange(changes, c, rej)
			continue
		}
		rt := b.route(c)
		snap.routes = append(snap.routes, rt)
		if rt.Wildcard {
			snap.wildcard[rt.Domain] = append(snap.wildcard[rt.Domain], rt)
		} else {
			snap.exact[rt.Host] = append(snap.exact[rt.Host], rt)
		}
		changes = b.appendChange(changes, c, nil)
	}
	for _, rs := range snap.exact {
		sortMostSpecific(rs)
	}
	for _, rs := range snap.wildcard {
		sortMostSpecific(rs)
	}
	sort.Slice(snap.routes, func(i, j int) bool {
		return byKey(snap.routes[i].Namespace, snap.routes[i].Name, snap.routes[j].Namespace, snap.routes[j].Name)
	})
	sort.Slice(changes, func(i, j int) bool {
		return byKey(changes[i].Namespace, changes[i].Name, changes[j].Namespace, changes[j].Name)
	})
	return snap, changes
}

// byKey orders by namespace/name without building the keys.
func byKey(ns1, n1, ns2, n2 string) bool {
	if ns1 != ns2 {
		return ns1 < ns2
	}
	return n1 < n2
}

// runChain passes a route through the admission chain, or reuses what the
// chain made of this version of the route in the previous build.
func (b *Builder) runChain(r *routev1.Route, nextCerts map[[sha256.Size]byte]*tlsMaterial, nextAdmitted map[types.UID]*chainResult) (*candidate, *rejection) {
	cacheable := r.UID != "" && r.ResourceVersion != ""
	if cacheable {
		if res, ok := b.admitted[r.UID]; ok && res.resourceVersion == r.ResourceVersion {
			nextAdmitted[r.UID] = res
			if res.cand.tls != nil {
				nextCerts[res.cand.tlsKey] = res.cand.tls
			}
			c := res.cand
			c.route = r
			return &c, res.rej
		}
	}
	c := &candidate{route: r}
	var rej *rejection
	for _, s := range admissionChain {
		if rej = s.admit(b, nextCerts, c); rej != nil {
			break
		}
	}
	if cacheable {
		res := &chainResult{resourceVersion: r.ResourceVersion, cand: *c, rej: rej}
		res.cand.route = nil
		nextAdmitted[r.UID] = res
	}
	return c, rej
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

// appendChange adds the route's status change unless its ingress entry for
// this router already says the same.
func (b *Builder) appendChange(changes []StatusChange, c *candidate, rej *rejection) []StatusChange {
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
		return changes
	}
	return append(changes, ch)
}

// older orders routes by age: creationTimestamp, then name, then namespace,
// so equal timestamps still give every router the same answer.
func older(a, b *routev1.Route) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Namespace < b.Namespace
}

// admitHost settles the route's host: spec.host, else the generated one.
func admitHost(b *Builder, _ map[[sha256.Size]byte]*tlsMaterial, c *candidate) *rejection {
	r := c.route
	c.host = r.Spec.Host
	if c.host == "" {
		if b.cfg.Subdomain == "" {
			return &rejection{ReasonInvalidHost, "the route has no host and this router has no default subdomain. Try: set spec.host"}
		}
		h, err := GenerateHost(r.Name, r.Namespace, b.cfg.Subdomain)
		if err != nil {
			return &rejection{ReasonInvalidHost, err.Error()}
		}
		c.host = h
	}
	return nil
}

var validationOptions = routecommon.RouteValidationOptions{AllowExternalCertificates: false}

// rank orders the reasons of validation errors: a route with several
// problems is reported under the one that matters most.
var rank = map[string]int{ReasonInvalidHost: 4, ReasonInvalidPath: 3, ReasonExtendedValidationFailed: 2, ReasonInvalidRoute: 1}

// admitValid runs OpenShift's route validation (library-go) and sorts its
// errors into reasons. External certificates are off, which is what makes
// the nil access review creator and secrets getter safe.
func admitValid(_ *Builder, _ map[[sha256.Size]byte]*tlsMaterial, c *candidate) *rejection {
	r := c.route
	if r.Spec.Host != c.host {
		cp := *r
		cp.Spec.Host = c.host
		r = &cp
	}
	errs := routevalidation.ValidateRoute(context.Background(), r, nil, nil, validationOptions)
	var msgs []string
	reason := ""
	for _, e := range errs {
		var why string
		switch f := e.Field; {
		case f == "metadata" || strings.HasPrefix(f, "metadata."):
			continue // the API server validated the metadata already
		case f == "spec.host" || f == "spec.subdomain" || f == "spec.wildcardPolicy":
			why = ReasonInvalidHost
		case f == "spec.path":
			why = ReasonInvalidPath
		case strings.HasPrefix(f, "spec.tls"):
			why = ReasonExtendedValidationFailed
		default:
			why = ReasonInvalidRoute
		}
		if rank[why] > rank[reason] {
			reason = why
		}
		msgs = append(msgs, e.Error())
	}
	if reason != "" {
		return &rejection{reason, strings.Join(msgs, "; ")}
	}
	c.wildcard = r.Spec.WildcardPolicy == routev1.WildcardPolicySubdomain
	if r.Spec.TLS != nil {
		c.termination = r.Spec.TLS.Termination
	}
	c.claimPath = r.Spec.Path
	if c.claimPath == "/" {
		c.claimPath = ""
	}
	return nil
}

// admitWildcard applies the router's wildcard policy.
func admitWildcard(b *Builder, _ map[[sha256.Size]byte]*tlsMaterial, c *candidate) *rejection {
	if !c.wildcard {
		return nil
	}
	if !b.cfg.AllowWildcardRoutes {
		return &rejection{ReasonRouteNotAdmitted, "wildcard routes are not allowed on this router. Try: wildcardPolicy None, or a router that allows wildcard routes"}
	}
	c.domain = wildcardDomain(c.host)
	if c.domain == "" {
		return &rejection{ReasonInvalidHost, fmt.Sprintf("host %s is too short for a wildcard route: the subdomain it claims would be a top-level domain", c.host)}
	}
	return nil
}

// admitTLS checks and parses the TLS material of edge and reencrypt routes.
func admitTLS(b *Builder, next map[[sha256.Size]byte]*tlsMaterial, c *candidate) *rejection {
	t := c.route.Spec.TLS
	if t == nil || t.Termination == routev1.TLSTerminationPassthrough {
		return nil
	}
	k := tlsKey(t)
	m, ok := next[k]
	if !ok {
		if m, ok = b.certs[k]; !ok {
			m = parseTLS(t, b.cfg.Now())
		}
		next[k] = m
	}
	if m.err != "" {
		return &rejection{ReasonExtendedValidationFailed, m.err}
	}
	c.tls, c.tlsKey = m, k
	return nil
}

// admitAnnotations parses the router annotations.
func admitAnnotations(b *Builder, _ map[[sha256.Size]byte]*tlsMaterial, c *candidate) *rejection {
	o, err := parseOptions(c.route, c.termination, 1+len(c.route.Spec.AlternateBackends), b.cfg.DefaultBalance)
	if err != nil {
		return &rejection{ReasonInvalidAnnotation, err.Error()}
	}
	c.opts = o
	return nil
}

// route turns an admitted candidate into the snapshot's Route.
func (b *Builder) route(c *candidate) *Route {
	r := c.route
	rt := &Route{
		Namespace: r.Namespace, Name: r.Name, UID: r.UID,
		Host: c.host, Wildcard: c.wildcard, Domain: c.domain,
		Path:        r.Spec.Path,
		Termination: c.termination,
		Options:     c.opts,
		Created:     r.CreationTimestamp.Time,
	}
	if rt.Path == "/" {
		rt.Path = ""
	}
	if r.Spec.TLS != nil {
		rt.InsecureEdgeTerminationPolicy = r.Spec.TLS.InsecureEdgeTerminationPolicy
		if rt.InsecureEdgeTerminationPolicy == "" {
			rt.InsecureEdgeTerminationPolicy = routev1.InsecureEdgeTerminationPolicyNone
		}
	}
	if c.tls != nil {
		rt.Certificate, rt.DestinationCAs, rt.DestinationCAPEM = c.tls.cert, c.tls.destinationCAs, c.tls.destinationCAPEM
	}
	if r.Spec.Port != nil {
		p := r.Spec.Port.TargetPort
		rt.TargetPort = &p
	}
	rt.Backends = make([]Backend, 0, 1+len(r.Spec.AlternateBackends))
	rt.Backends = append(rt.Backends, backend(r.Spec.To))
	for _, alt := range r.Spec.AlternateBackends {
		rt.Backends = append(rt.Backends, backend(alt))
	}
	return rt
}

func backend(t routev1.RouteTargetReference) Backend {
	w := int32(100) // OpenShift's default weight
	if t.Weight != nil {
		w = *t.Weight
	}
	return Backend{Service: t.Name, Weight: w}
}
