package model

import (
	"context"
	"fmt"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	routecommon "github.com/openshift/library-go/pkg/route"
	routevalidation "github.com/openshift/library-go/pkg/route/validation"
)

// step is one link of the admission chain: it lets the route through (nil)
// or rejects it. Steps run in order and the first rejection wins.
type step struct {
	name  string
	admit func(b *Builder, c *candidate) *rejection
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

// runChain passes a route through the admission chain. The candidate is
// returned even when rejected: its host is what the status reports.
func (b *Builder) runChain(r *routev1.Route) (*candidate, *rejection) {
	c := &candidate{route: r}
	for _, s := range admissionChain {
		if rej := s.admit(b, c); rej != nil {
			return c, rej
		}
	}
	return c, nil
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
func admitHost(b *Builder, c *candidate) *rejection {
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
func admitValid(_ *Builder, c *candidate) *rejection {
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
func admitWildcard(b *Builder, c *candidate) *rejection {
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
func admitTLS(b *Builder, c *candidate) *rejection {
	t := c.route.Spec.TLS
	if t == nil || t.Termination == routev1.TLSTerminationPassthrough {
		return nil
	}
	k := tlsKey(t)
	m := b.acquireTLS(k, t)
	c.tlsKey, c.holdsTLS = k, true
	if m.err != "" {
		return &rejection{ReasonExtendedValidationFailed, m.err}
	}
	c.tls = m
	return nil
}

// admitAnnotations parses the router annotations.
func admitAnnotations(b *Builder, c *candidate) *rejection {
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
