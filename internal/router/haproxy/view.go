package haproxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	routev1 "github.com/openshift/api/route/v1"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// view is what haproxy.cfg and its files are rendered from: a model.Table
// seen as HAProxy sees it.
type view struct {
	Opt      Options
	Exact    bool
	Backends []*backendView
	// Maps are the host map files by file name, entries in match order.
	Maps map[string][]mapEntry
	// Files are the certificate files and the crt-list by name, their
	// content PEM or text. HAProxy reads them at start, so a change needs
	// a reload.
	Files map[string][]byte
}

// backendView is one route's backend.
type backendView struct {
	Name    string
	Route   string // namespace/name, for the comment
	TCP     bool   // passthrough: mode tcp
	Balance string
	// Timeout is the route's server timeout in ms, 0 for the default.
	TimeoutMS int64
	// Cookie is the sticky-session cookie's name, "" without cookies;
	// SecureCookie adds the secure attribute (TLS routes).
	Cookie       string
	SecureCookie bool
	HSTS         string
	Whitelist    []string
	RateLimit    *model.RateLimit
	// ServerSSL is the TLS setting of every server (reencrypt), "" for
	// plain connections.
	ServerSSL string
	Servers   []*serverView
}

// serverView is one server slot of a backend.
type serverView struct {
	Name    string
	Addr    string
	Port    int32
	Weight  int
	Enabled bool
	Cookie  string
}

// mapEntry is one line of a map file.
type mapEntry struct{ Key, Value string }

// Map file names. In regex mode they are OpenShift's; exact mode splits
// each into an exact (.str) and a prefix (.beg) map.
const (
	mapHTTP     = "os_http_be.map"             // the public frontend: plain routes, and TLS routes that allow HTTP
	mapRedirect = "os_route_http_redirect.map" // TLS routes that redirect HTTP to HTTPS
	mapTLS      = "os_edge_reencrypt_be.map"   // fe_sni and fe_no_sni: edge and reencrypt routes
	mapTCP      = "os_tcp_be.map"              // public_ssl: passthrough routes by SNI
	crtList     = "cert_config.map"            // the edge and reencrypt certificates by SNI
	defaultCert = "default.pem"
	unusedAddr  = "127.0.0.1"
	unusedPort  = 1
)

// slotsFunc says how many server slots a backend's service gets for n
// endpoints: at least n, and never fewer than it already has while haproxy
// runs, so that endpoints coming and going need no reload.
type slotsFunc func(backend, service string, n int) int

// newView translates a table. defaultPEM is the default certificate's PEM
// (certificate chain and key).
func newView(o Options, t *model.Table, defaultPEM []byte, slots slotsFunc) (*view, error) {
	v := &view{Opt: o, Exact: o.MapMode == MapExact, Maps: map[string][]mapEntry{}, Files: map[string][]byte{defaultCert: defaultPEM}}
	for _, name := range v.mapNames() {
		v.Maps[name] = nil
	}
	v.Files[crtList] = nil
	if t == nil || t.Routes == nil {
		return v, nil
	}
	snap := t.Routes
	for _, r := range snap.Routes() {
		b, err := v.backend(r, t, slots)
		if err != nil {
			return nil, err
		}
		v.Backends = append(v.Backends, b)
	}
	// Map entries in match order: the exact hosts (each most specific
	// path first), then the wildcard subdomains.
	var list strings.Builder
	certFor := func(hostKey string, rs []*model.Route) {
		for _, r := range rs {
			if r.Certificate != nil && r.Termination != routev1.TLSTerminationPassthrough {
				fmt.Fprintf(&list, "%s [alpn h2,http/1.1] %s\n", o.path("certs/"+fileName(r)), hostKey)
				return
			}
		}
	}
	for _, h := range snap.Hosts() {
		rs := snap.Host(h)
		for _, r := range rs {
			v.addRoute(r, h, false)
		}
		certFor(h, rs)
	}
	for _, d := range snap.WildcardDomains() {
		rs := snap.WildcardDomain(d)
		for _, r := range rs {
			v.addRoute(r, d, true)
		}
		certFor("*."+d, rs)
	}
	v.Files[crtList] = []byte(list.String())
	return v, nil
}

// mapNames are the map files of the view's mode.
func (v *view) mapNames() []string {
	base := []string{mapHTTP, mapRedirect, mapTLS, mapTCP}
	if !v.Exact {
		return base
	}
	var names []string
	for _, b := range base {
		names = append(names, exactMap(b), prefixMap(b))
	}
	return names
}

func exactMap(base string) string  { return strings.TrimSuffix(base, ".map") + ".str.map" }
func prefixMap(base string) string { return strings.TrimSuffix(base, ".map") + ".beg.map" }

// fileName is a route's file name for its certificates.
func fileName(r *model.Route) string { return r.Namespace + ":" + r.Name + ".pem" }

// backendName is the route's backend, named as OpenShift names them.
func backendName(r *model.Route) string {
	prefix := "be_http"
	switch r.Termination {
	case routev1.TLSTerminationEdge:
		prefix = "be_edge_http"
	case routev1.TLSTerminationReencrypt:
		prefix = "be_secure"
	case routev1.TLSTerminationPassthrough:
		prefix = "be_tcp"
	}
	return prefix + ":" + r.Namespace + ":" + r.Name
}

// addRoute adds a route's map entries. host is its exact host, or for a
// wildcard route its subdomain.
func (v *view) addRoute(r *model.Route, host string, wildcard bool) {
	be := backendName(r)
	insecure := r.InsecureEdgeTerminationPolicy
	switch r.Termination {
	case "":
		v.addEntry(mapHTTP, host, r.Path, wildcard, be)
	case routev1.TLSTerminationPassthrough:
		v.addEntry(mapTCP, host, "", wildcard, be)
		if insecure == routev1.InsecureEdgeTerminationPolicyRedirect {
			v.addEntry(mapRedirect, host, "", wildcard, be)
		}
	default:
		v.addEntry(mapTLS, host, r.Path, wildcard, be)
		switch insecure {
		case routev1.InsecureEdgeTerminationPolicyAllow:
			v.addEntry(mapHTTP, host, r.Path, wildcard, be)
		case routev1.InsecureEdgeTerminationPolicyRedirect:
			v.addEntry(mapRedirect, host, r.Path, wildcard, be)
		}
	}
}

// addEntry adds the lines that send host and path to a backend: one regex
// in regex mode; in exact mode an exact host+path key for a path that
// does not end in / and a prefix key ending in / for everything below it.
func (v *view) addEntry(base, host, path string, wildcard bool, be string) {
	if !v.Exact {
		v.Maps[base] = append(v.Maps[base], mapEntry{routeRegexp(host, path, wildcard, base == mapTCP), be})
		return
	}
	if wildcard {
		host = "*." + host
	}
	if base == mapTCP {
		v.addUnique(exactMap(base), host, be)
		return
	}
	if path != "" && path != "/" && !strings.HasSuffix(path, "/") {
		v.addUnique(exactMap(base), host+path, be)
	}
	prefix := host + path
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	v.addUnique(prefixMap(base), prefix, be)
}

// addUnique adds a key once: the first route, the most specific, wins, as
// in the model's lookup.
func (v *view) addUnique(name, key, value string) {
	for _, e := range v.Maps[name] {
		if e.Key == key {
			return
		}
	}
	v.Maps[name] = append(v.Maps[name], mapEntry{key, value})
}

// routeRegexp is the os_http_be.map pattern of a host and path, matched
// against HAProxy's base (Host header and path): the host, an optional
// trailing dot and port, then the path by whole segments. For a wildcard
// route host is its subdomain and any one label may precede it. SNI
// names (sni) have neither port nor path.
func routeRegexp(host, path string, wildcard, sni bool) string {
	var b strings.Builder
	b.WriteString("^")
	if wildcard {
		b.WriteString(`[^.]+\.`)
	}
	b.WriteString(quoteRegexp(host))
	if sni {
		b.WriteString("$")
		return b.String()
	}
	b.WriteString(`\.?(:[0-9]+)?`)
	switch {
	case path == "" || path == "/":
		b.WriteString("(/.*)?")
	case strings.HasSuffix(path, "/"):
		b.WriteString(quoteRegexp(path) + ".*")
	default:
		b.WriteString(quoteRegexp(path) + "(/.*)?")
	}
	b.WriteString("$")
	return b.String()
}

// quoteRegexp escapes the regular expression metacharacters a host or
// path can hold. Spaces cannot occur (paths are validated).
func quoteRegexp(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// backend builds a route's backend and its server slots.
func (v *view) backend(r *model.Route, t *model.Table, slots slotsFunc) (*backendView, error) {
	o := r.Options
	b := &backendView{
		Name:      backendName(r),
		Route:     r.Key(),
		TCP:       r.Termination == routev1.TLSTerminationPassthrough,
		Balance:   string(o.Balance),
		HSTS:      o.HSTSHeader,
		RateLimit: o.RateLimit,
	}
	if b.Balance == "" {
		b.Balance = string(model.BalanceLeastConn)
	}
	if o.Timeout > 0 {
		b.TimeoutMS = int64((o.Timeout + time.Millisecond - 1) / time.Millisecond)
	}
	for _, p := range o.AllowedSources {
		b.Whitelist = append(b.Whitelist, p.String())
	}
	if !b.TCP && !o.DisableCookies {
		b.Cookie = o.CookieName
		b.SecureCookie = r.Termination != ""
	}
	if r.Termination == routev1.TLSTerminationReencrypt {
		ca := "@system-ca"
		if len(r.DestinationCAPEM) > 0 {
			name := "cacerts/" + fileName(r)
			v.Files[name] = r.DestinationCAPEM
			ca = v.Opt.path(name)
		}
		svc := ""
		if len(r.Backends) > 0 {
			svc = r.Backends[0].Service + "." + r.Namespace + ".svc"
		}
		b.ServerSSL = "ssl verify required ca-file " + ca
		if svc != "" {
			b.ServerSSL += " verifyhost " + svc
		}
	}
	if r.Certificate != nil && r.Termination != routev1.TLSTerminationPassthrough {
		p, err := certificatePEM(r.Certificate)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", r.Key(), err)
		}
		v.Files["certs/"+fileName(r)] = p
	}

	// Each service's endpoints share its weight: a service with weight w
	// and n endpoints gives each endpoint w/n, scaled so the largest is
	// 256, HAProxy's maximum.
	type svcEPs struct {
		svc    model.Backend
		port   int32
		addrs  []string
		perEnd float64
	}
	var svcs []svcEPs
	maxPer := 0.0
	for _, be := range r.Backends {
		s := svcEPs{svc: be}
		if ep := t.Backend(r, be.Service); ep != nil {
			s.port = ep.Port
			for _, a := range ep.Addrs {
				s.addrs = append(s.addrs, a.String())
			}
			s.perEnd = float64(be.Weight) / float64(len(ep.Addrs))
			maxPer = math.Max(maxPer, s.perEnd)
		}
		svcs = append(svcs, s)
	}
	for i, s := range svcs {
		n := slots(b.Name, s.svc.Service, len(s.addrs))
		for j := 0; j < n; j++ {
			sv := &serverView{Name: serverName(s.svc.Service, i, j), Addr: unusedAddr, Port: unusedPort}
			sv.Cookie = cookieValue(b.Name, sv.Name)
			if j < len(s.addrs) {
				sv.Addr, sv.Port, sv.Enabled = s.addrs[j], s.port, true
				if maxPer > 0 {
					sv.Weight = int(math.Round(256 * s.perEnd / maxPer))
					if sv.Weight == 0 && s.svc.Weight > 0 {
						sv.Weight = 1
					}
				}
			}
			b.Servers = append(b.Servers, sv)
		}
	}
	return b, nil
}

// serverName names a slot by its service (the index keeps a service named
// twice apart) and number.
func serverName(service string, i, j int) string {
	return service + ":" + strconv.Itoa(i) + ":" + strconv.Itoa(j)
}

// cookieValue is a slot's sticky-session cookie value: a hash, so that the
// cookie reveals no pod address.
func cookieValue(backend, server string) string {
	h := fnv.New64a()
	h.Write([]byte(backend))
	h.Write([]byte{0})
	h.Write([]byte(server))
	return fmt.Sprintf("%016x", h.Sum64())
}

// certificatePEM writes a certificate chain and its key in the form
// HAProxy's crt wants: certificates, then the key (PKCS #8).
func certificatePEM(c *tls.Certificate) ([]byte, error) {
	var out []byte
	for _, der := range c.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("encode the private key for haproxy: %w", err)
	}
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})...), nil
}
