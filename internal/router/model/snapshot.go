package model

import (
	"crypto/tls"
	"crypto/x509"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Route is one admitted route as the data plane serves it. It belongs to a
// Snapshot and must not be modified.
type Route struct {
	Namespace, Name string
	UID             types.UID
	// Host is the route's host; for a wildcard route it is the host it
	// was created with, and Domain the subdomain it serves.
	Host     string
	Wildcard bool
	Domain   string
	// Path is the path prefix the route serves, "" for all paths. It
	// matches whole segments: /test serves /test and /test/a, not /testing.
	Path string
	// Termination is "" for a plain HTTP route, else edge, passthrough or
	// reencrypt.
	Termination routev1.TLSTerminationType
	// InsecureEdgeTerminationPolicy says what plain HTTP requests to a
	// TLS route get: None (refused), Allow or Redirect. It is "" for plain
	// routes.
	InsecureEdgeTerminationPolicy routev1.InsecureEdgeTerminationPolicyType
	// Certificate is the route's serving certificate (its chain includes
	// spec.tls.caCertificate); nil means the router's default certificate.
	Certificate *tls.Certificate
	// DestinationCAs verify the backend's certificate on reencrypt routes;
	// nil means the system roots (the service CA in a cluster).
	DestinationCAs *x509.CertPool
	// DestinationCAPEM is DestinationCAs as PEM certificates, for data
	// planes that cannot use a CertPool (HAProxy's ca-file); nil with nil
	// DestinationCAs.
	DestinationCAPEM []byte
	// Backends are spec.to then spec.alternateBackends, with their weights
	// (0 to 256; a weight of 0 takes no traffic).
	Backends []Backend
	// TargetPort is spec.port.targetPort; nil means the endpoints' first
	// port.
	TargetPort *intstr.IntOrString
	Options    Options
	// Created is the route's creationTimestamp: the age claims go by.
	Created time.Time
}

// Backend is a service traffic of a route is sent to.
type Backend struct {
	Service string
	Weight  int32
}

// Key is the route's namespace/name.
func (r *Route) Key() string { return r.Namespace + "/" + r.Name }

// MatchesPath reports whether the route serves a request path. Paths are
// compared by whole segments, as OpenShift's router does: a route path
// /test serves /test, /test/ and /test/x, not /testing; a route path ending
// in / (/test/) serves everything below it; "" and / serve every path.
func (r *Route) MatchesPath(reqPath string) bool {
	p := r.Path
	if p == "" || p == "/" {
		return true
	}
	if !strings.HasPrefix(reqPath, p) {
		return false
	}
	return len(reqPath) == len(p) || p[len(p)-1] == '/' || reqPath[len(p)] == '/'
}

// Snapshot is the immutable routing table of one router at one moment. The
// data plane swaps whole snapshots; it never changes one. It is safe for
// concurrent readers; the slices and routes its methods return are shared
// and must not be modified.
type Snapshot struct {
	exact    map[string][]*Route // host → routes, most specific path first
	wildcard map[string][]*Route // domain ("example.com" for *.example.com) → routes
	routes   []*Route            // every admitted route, by namespace/name
	version  uint64
	delta    *Delta
}

// Delta is how a Snapshot differs from the one it was built from, so a
// data plane that compiled that one recompiles only what changed. Its
// slices are shared and must not be modified.
type Delta struct {
	// Parent is the Version of the Snapshot this one was built from.
	Parent uint64
	// Hosts are the exact hosts, and Domains the wildcard subdomains,
	// whose routes are not those of Parent (in content or order); some
	// may have no route left.
	Hosts, Domains []string
	// Added are the routes in this Snapshot and not in Parent, Removed
	// those of Parent that are gone. An unchanged route is the same
	// *Route in both, in neither list.
	Added, Removed []*Route
}

// snapshotVersions numbers Snapshots, across Builders, from 1.
var snapshotVersions atomic.Uint64

// Version identifies the Snapshot: no two Snapshots of a process share
// one.
func (s *Snapshot) Version() uint64 { return s.version }

// Delta is how the Snapshot differs from its Parent, nil when it was not
// built from another (the first build of a Builder, or a Snapshot made
// another way).
func (s *Snapshot) Delta() *Delta { return s.delta }

// Lookup returns the route serving a request for host (as NormalizeHost
// gives it) and path, or nil. The routes of the exact host are tried first,
// most specific path first, then those of the wildcard route of the host's
// subdomain.
func (s *Snapshot) Lookup(host, path string) *Route {
	for _, r := range s.exact[host] {
		if r.MatchesPath(path) {
			return r
		}
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		for _, r := range s.wildcard[host[i+1:]] {
			if r.MatchesPath(path) {
				return r
			}
		}
	}
	return nil
}

// hostRoutes returns the routes serving host: its exact routes, else its
// subdomain's wildcard routes.
func (s *Snapshot) hostRoutes(host string) []*Route {
	if rs, ok := s.exact[host]; ok {
		return rs
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		return s.wildcard[host[i+1:]]
	}
	return nil
}

// Passthrough returns the passthrough route of a TLS server name, or nil:
// connections for it are forwarded without being decrypted.
func (s *Snapshot) Passthrough(serverName string) *Route {
	for _, r := range s.hostRoutes(serverName) {
		if r.Termination == routev1.TLSTerminationPassthrough {
			return r
		}
	}
	return nil
}

// Certificate returns the certificate to present for a TLS server name: the
// one of the most specific terminating route of that host that has one, or
// nil for the router's default certificate.
func (s *Snapshot) Certificate(serverName string) *tls.Certificate {
	for _, r := range s.hostRoutes(serverName) {
		if r.Certificate != nil {
			return r.Certificate
		}
	}
	return nil
}

// Host returns the routes of an exact host, most specific path first.
func (s *Snapshot) Host(host string) []*Route { return s.exact[host] }

// WildcardDomain returns the wildcard routes of a subdomain ("example.com"
// for *.example.com), most specific path first.
func (s *Snapshot) WildcardDomain(domain string) []*Route { return s.wildcard[domain] }

// Hosts returns the exact hosts, sorted.
func (s *Snapshot) Hosts() []string { return sortedKeys(s.exact) }

// WildcardDomains returns the wildcard subdomains, sorted.
func (s *Snapshot) WildcardDomains() []string { return sortedKeys(s.wildcard) }

// EachHost calls f with every exact host and its routes, in no order
// (Hosts sorts, which costs at 10,000 hosts).
func (s *Snapshot) EachHost(f func(host string, routes []*Route)) {
	for h, rs := range s.exact {
		f(h, rs)
	}
}

// EachWildcardDomain calls f with every wildcard subdomain and its routes,
// in no order.
func (s *Snapshot) EachWildcardDomain(f func(domain string, routes []*Route)) {
	for d, rs := range s.wildcard {
		f(d, rs)
	}
}

// Routes returns every admitted route, sorted by namespace and name.
func (s *Snapshot) Routes() []*Route { return s.routes }

// Len is the number of admitted routes.
func (s *Snapshot) Len() int { return len(s.routes) }

func sortedKeys(m map[string][]*Route) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortMostSpecific orders routes of one host most specific path first:
// longer paths first (with whole-segment matching, a longer matching path
// is always the more specific), then by path for a stable order.
func sortMostSpecific(rs []*Route) {
	sort.Slice(rs, func(i, j int) bool {
		pi, pj := strings.TrimSuffix(rs[i].Path, "/"), strings.TrimSuffix(rs[j].Path, "/")
		if len(pi) != len(pj) {
			return len(pi) > len(pj)
		}
		if rs[i].Path != rs[j].Path {
			return len(rs[i].Path) > len(rs[j].Path) || (len(rs[i].Path) == len(rs[j].Path) && rs[i].Path < rs[j].Path)
		}
		return rs[i].Key() < rs[j].Key()
	})
}
