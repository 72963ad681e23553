package model

import (
	"fmt"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	"github.com/openshift/library-go/pkg/route/hostassignment"
	"github.com/openshift/library-go/pkg/route/routeapihelpers"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// GenerateHost returns the host OpenShift gives a route without spec.host:
// <name>-<namespace>.<suffix>, with dots of the name turned into dashes. The
// API server calls it when a route is created without a host; the router
// calls it for routes stored without one. It fails when the suffix is not a
// DNS name or the result is not a valid host (a label over 63 characters).
func GenerateHost(name, namespace, suffix string) (string, error) {
	if name == "" || namespace == "" {
		return "", fmt.Errorf("generate host: a route name and namespace are required")
	}
	if suffix == "" {
		return "", fmt.Errorf("generate host for route %s/%s: no routing subdomain is configured. Try: set spec.host on the route", namespace, name)
	}
	plugin, err := hostassignment.NewSimpleAllocationPlugin(suffix)
	if err != nil {
		return "", fmt.Errorf("generate host for route %s/%s: %w", namespace, name, err)
	}
	host, err := plugin.GenerateHostname(routeNamed(name, namespace))
	if err != nil {
		return "", fmt.Errorf("generate host for route %s/%s: %w", namespace, name, err)
	}
	if errs := routeapihelpers.ValidateHost(host, "", field.NewPath("spec", "host")); len(errs) > 0 {
		return "", fmt.Errorf("generate host for route %s/%s: %s is not a valid host: %s. Try: a shorter route name, or set spec.host", namespace, name, host, errs.ToAggregate().Error())
	}
	return host, nil
}

func routeNamed(name, namespace string) *routev1.Route {
	r := &routev1.Route{}
	r.Name, r.Namespace = name, namespace
	return r
}

// wildcardDomain is the subdomain a wildcard route with this host claims:
// the host without its first label ("www.example.com" claims
// "*.example.com", returned as "example.com"). It is empty when the host has
// fewer than three labels: a wildcard over a top-level domain such as *.com
// is refused.
func wildcardDomain(host string) string {
	i := strings.IndexByte(host, '.')
	if i < 0 {
		return ""
	}
	domain := host[i+1:]
	if !strings.Contains(domain, ".") {
		return ""
	}
	return domain
}

// NormalizeHost turns a request's Host header or TLS server name into the
// form the Snapshot is keyed by: lower case, without a port or trailing dot.
func NormalizeHost(hostport string) string {
	h := hostport
	if strings.HasPrefix(h, "[") { // IPv6 literal
		if i := strings.IndexByte(h, ']'); i > 0 {
			return strings.ToLower(h[1:i])
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[:i], ":") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
