package imageimport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// AllowSetting names the setting that lets imports reach a refused registry, for error messages.
const AllowSetting = "--allowed-registries-for-import (on gantry start, or gantry openshift-apiserver)"

// RefusedError says that an import may not reach a registry: it is not on the administrator's
// allow-list, it is the integrated registry, or it resolves to an address inside the cluster or
// the host (loopback, link-local such as a cloud metadata service, private, ...). Imports run in
// the API server, so without this check any user could make it fetch from internal services.
type RefusedError struct {
	// Host is the registry as named (host or host:port).
	Host string
	// Addr is the address it resolved to, when the refusal comes from the address.
	Addr string
	// Reason says why, e.g. "it is not on the allow-list".
	Reason string
}

func (e *RefusedError) Error() string {
	at := ""
	if e.Addr != "" {
		at = " (" + e.Addr + ")"
	}
	return fmt.Sprintf("importing from registry %q%s is not allowed: %s; an administrator can allow it with %s", e.Host, at, e.Reason, AllowSetting)
}

// hostPattern is one entry of the allow-list: host labels where "*" matches one or more labels,
// and a port ("" for the default ports 443 and 80, "*" for any).
type hostPattern struct {
	labels []string
	port   string
	text   string
}

func parsePattern(s string) (hostPattern, error) {
	text := strings.TrimSpace(s)
	p := hostPattern{text: text}
	host := strings.ToLower(text)
	hasPort := false
	switch {
	case host == "":
		return p, errors.New("an empty registry pattern: give a host such as registry.example.com, *.example.com or 127.0.0.1:5000")
	case strings.Contains(host, "/"):
		return p, fmt.Errorf("registry pattern %q names a path: give only host or host:port (\"*\" matches one or more DNS labels, a port of \"*\" any port)", text)
	case strings.HasPrefix(host, "["): // [v6] or [v6]:port
		end := strings.Index(host, "]")
		if end < 0 {
			return p, fmt.Errorf("registry pattern %q: unterminated IPv6 address", text)
		}
		rest := host[end+1:]
		host = host[1:end]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return p, fmt.Errorf("registry pattern %q: expected :port after the IPv6 address", text)
			}
			hasPort, p.port = true, rest[1:]
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return p, fmt.Errorf("registry pattern %q: %q is not an IPv6 address", text, host)
		}
		p.labels = []string{host}
	default:
		if i := strings.LastIndex(host, ":"); i >= 0 {
			hasPort, host, p.port = true, host[:i], host[i+1:]
			if strings.Contains(host, ":") {
				return p, fmt.Errorf("registry pattern %q has too many colons: write an IPv6 address in brackets, [::1]:5000", text)
			}
		}
		p.labels = strings.Split(host, ".")
		for _, l := range p.labels {
			if l == "" {
				return p, fmt.Errorf("registry pattern %q has an empty DNS label", text)
			}
			if l != "*" && strings.Contains(l, "*") {
				return p, fmt.Errorf("registry pattern %q: \"*\" must be a whole DNS label (*.example.com), not part of one", text)
			}
		}
	}
	if hasPort && p.port == "" {
		return p, fmt.Errorf("registry pattern %q ends with an empty port: give a port number or \"*\"", text)
	}
	if p.port != "" && p.port != "*" {
		for _, c := range p.port {
			if c < '0' || c > '9' {
				return p, fmt.Errorf("registry pattern %q: port %q must be a number or \"*\"", text, p.port)
			}
		}
	}
	return p, nil
}

// matchLabels matches host labels against pattern labels, "*" standing for one or more labels.
func matchLabels(pat, host []string) bool {
	if len(pat) == 0 {
		return len(host) == 0
	}
	if pat[0] == "*" {
		for n := 1; n <= len(host); n++ {
			if matchLabels(pat[1:], host[n:]) {
				return true
			}
		}
		return false
	}
	return len(host) > 0 && pat[0] == host[0] && matchLabels(pat[1:], host[1:])
}

// matches reports whether host (lower case, without brackets) on port ("" when not given)
// matches the pattern.
func (p hostPattern) matches(host, port string) bool {
	var labels []string
	if strings.Contains(host, ":") { // IPv6
		labels = []string{host}
	} else {
		labels = strings.Split(host, ".")
	}
	if !matchLabels(p.labels, labels) {
		return false
	}
	switch {
	case p.port == "*":
		return true
	case p.port == "":
		return port == "" || port == "443" || port == "80"
	case port == "":
		return p.port == "443" || p.port == "80"
	}
	return p.port == port
}

// policy decides which registries imports may reach.
type policy struct {
	allow      []hostPattern
	integrated map[string]bool
}

func newPolicy(allowed, integrated []string) (*policy, error) {
	p := &policy{integrated: map[string]bool{}}
	var errs []error
	for _, a := range allowed {
		hp, err := parsePattern(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.allow = append(p.allow, hp)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("allowed registries for import: %w", errors.Join(errs...))
	}
	for _, r := range integrated {
		if r != "" {
			p.integrated[strings.ToLower(r)] = true
		}
	}
	return p, nil
}

// splitHostPort splits host[:port], accepting bracketed IPv6 addresses.
func splitHostPort(hostport string) (host, port string) {
	hostport = strings.ToLower(hostport)
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return strings.Trim(hostport, "[]"), ""
}

// dockerHubHosts are the names of Docker Hub, which the pattern "docker.io" allows.
var dockerHubHosts = map[string]bool{"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true}

// listed reports whether the allow-list names host[:port].
func (p *policy) listed(hostport string) bool {
	host, port := splitHostPort(hostport)
	for _, a := range p.allow {
		if a.matches(host, port) || (dockerHubHosts[host] && a.matches("docker.io", port)) {
			return true
		}
	}
	return false
}

// checkRegistry is the check of a registry named in an import, before any connection: with an
// allow-list only listed registries; never the integrated registry or an internal address given
// literally unless listed. Names resolving to internal addresses are refused when dialing.
func (p *policy) checkRegistry(hostport string) error {
	if p.listed(hostport) {
		return nil
	}
	if len(p.allow) > 0 {
		list := make([]string, len(p.allow))
		for i, a := range p.allow {
			list[i] = a.text
		}
		return &RefusedError{Host: hostport, Reason: "it is not on the allow-list (" + strings.Join(list, ", ") + ")"}
	}
	if p.integrated[strings.ToLower(hostport)] {
		return &RefusedError{Host: hostport, Reason: "it is the integrated registry: tag its images with `gantry tag` instead of importing them"}
	}
	host, _ := splitHostPort(hostport)
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := internalAddress(ip); why != "" {
			return &RefusedError{Host: hostport, Addr: ip.String(), Reason: "it is " + why}
		}
	}
	return nil
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	reserved  = netip.MustParsePrefix("240.0.0.0/4") // includes 255.255.255.255
	ietf      = netip.MustParsePrefix("192.0.0.0/24")
	benchmark = netip.MustParsePrefix("198.18.0.0/15")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	ec2IPv6   = netip.MustParseAddr("fd00:ec2::254")
	metadata  = netip.MustParseAddr("169.254.169.254")
)

// internalAddress says what kind of non-public address ip is, or "" for a public one.
func internalAddress(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() && nat64.Contains(ip) { // an IPv4 address behind NAT64
		b := ip.As16()
		v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if why := internalAddress(v4); why != "" {
			return why + " (through NAT64)"
		}
	}
	switch {
	case ip == metadata || ip == ec2IPv6:
		return "a cloud metadata service address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified() || thisNet.Contains(ip):
		return "an unspecified address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case ip.IsPrivate():
		return "a private address"
	case cgnat.Contains(ip):
		return "a carrier-grade NAT address"
	case reserved.Contains(ip), ietf.Contains(ip), benchmark.Contains(ip):
		return "a reserved address"
	}
	return ""
}

// dialContext connects like base, refusing internal addresses for hosts the allow-list does
// not name, and the integrated registry. The check runs on the address actually connected to,
// after name resolution, so a name that resolves (or later re-resolves) to an internal address
// and redirects to such names are refused as well.
func (p *policy) dialContext(base *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if p.listed(addr) {
			return base.DialContext(ctx, network, addr)
		}
		host, port := splitHostPort(addr)
		if p.integrated[strings.ToLower(addr)] || (port == "443" && p.integrated[host]) {
			return nil, &RefusedError{Host: addr, Reason: "it is the integrated registry"}
		}
		d := *base
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &RefusedError{Host: addr, Addr: address, Reason: "its address cannot be checked"}
			}
			if why := internalAddress(ap.Addr()); why != "" {
				return &RefusedError{Host: addr, Addr: ap.Addr().String(), Reason: "it resolves to " + why}
			}
			return nil
		}
		return d.DialContext(ctx, network, addr)
	}
}
