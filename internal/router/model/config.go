package model

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	kvalidation "k8s.io/apimachinery/pkg/util/validation"
)

// Config is what one router instance is: its name, which routes it serves
// (its shard) and its admission policy.
type Config struct {
	// RouterName is written as routerName of the route's status ingress
	// entry; each router keeps its own entry. Required.
	RouterName string
	// CanonicalHostname, when set, is written as routerCanonicalHostname of
	// the status entries (the name DNS should point routes' hosts at).
	CanonicalHostname string
	// RouteSelector is a label selector ("shard=a,env!=test") routes must
	// match to be served by this router; empty selects every route.
	RouteSelector string
	// NamespaceSelector is a label selector the route's namespace must
	// match; empty selects every namespace.
	NamespaceSelector string
	// AllowWildcardRoutes lets routes with wildcardPolicy Subdomain in;
	// without it they are rejected with RouteNotAdmitted.
	AllowWildcardRoutes bool
	// Subdomain, when set, gives routes without spec.host the host
	// <name>-<namespace>.<Subdomain>. The API server normally assigns hosts
	// already; this covers routes stored without one.
	Subdomain string
	// DefaultBalance is the balance algorithm of routes without the
	// haproxy.router.openshift.io/balance annotation that have a single
	// backend and are not passthrough; empty means leastconn, OpenShift's
	// default.
	DefaultBalance Balance
	// Now returns the current time for certificate chain verification;
	// nil means time.Now.
	Now func() time.Time
}

// parsedConfig is a Config with its selectors parsed.
type parsedConfig struct {
	Config
	routeSelector     labels.Selector
	namespaceSelector labels.Selector
}

func parseConfig(c Config) (parsedConfig, error) {
	p := parsedConfig{Config: c}
	if c.RouterName == "" {
		return p, fmt.Errorf("router config: a router name is required. Try: name the router (it is written to every route's status)")
	}
	var err error
	if p.routeSelector, err = labels.Parse(c.RouteSelector); err != nil {
		return p, fmt.Errorf("router config: route selector %q: %w. Try: a label selector such as shard=a,env!=test", c.RouteSelector, err)
	}
	if p.namespaceSelector, err = labels.Parse(c.NamespaceSelector); err != nil {
		return p, fmt.Errorf("router config: namespace selector %q: %w. Try: a label selector such as team in (a,b)", c.NamespaceSelector, err)
	}
	if c.Subdomain != "" {
		if errs := kvalidation.IsDNS1123Subdomain(c.Subdomain); len(errs) > 0 {
			return p, fmt.Errorf("router config: subdomain %q: %v. Try: a DNS name such as apps.example.com", c.Subdomain, errs)
		}
	}
	switch c.DefaultBalance {
	case "":
		p.DefaultBalance = BalanceLeastConn
	case BalanceRoundRobin, BalanceLeastConn, BalanceSource, BalanceRandom:
	default:
		return p, fmt.Errorf("router config: default balance %q is not one of roundrobin, leastconn, source, random", c.DefaultBalance)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return p, nil
}
