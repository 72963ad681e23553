package model

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	routev1 "github.com/openshift/api/route/v1"
)

// The route annotations the data plane honours, under OpenShift's names.
const (
	AnnotationTimeout             = "haproxy.router.openshift.io/timeout"
	AnnotationBalance             = "haproxy.router.openshift.io/balance"
	AnnotationIPWhitelist         = "haproxy.router.openshift.io/ip_whitelist"
	AnnotationRateLimit           = "haproxy.router.openshift.io/rate-limit-connections"
	AnnotationRateLimitConcurrent = "haproxy.router.openshift.io/rate-limit-connections.concurrent-tcp"
	AnnotationRateLimitRateTCP    = "haproxy.router.openshift.io/rate-limit-connections.rate-tcp"
	AnnotationRateLimitRateHTTP   = "haproxy.router.openshift.io/rate-limit-connections.rate-http"
	AnnotationHSTSHeader          = "haproxy.router.openshift.io/hsts_header"
	AnnotationDisableCookies      = "haproxy.router.openshift.io/disable_cookies"
	AnnotationCookieName          = "router.openshift.io/cookie_name"
)

// Balance is a load-balancing algorithm over a route's endpoints.
type Balance string

// The balance algorithms of haproxy.router.openshift.io/balance.
const (
	BalanceRoundRobin Balance = "roundrobin"
	BalanceLeastConn  Balance = "leastconn"
	BalanceSource     Balance = "source"
	BalanceRandom     Balance = "random"
)

// Options are a route's parsed router annotations.
type Options struct {
	// Timeout is the server-side timeout of the route; 0 means the
	// router's default.
	Timeout time.Duration
	// Balance is the effective algorithm: the annotation, else source for
	// passthrough, roundrobin over several weighted services, else the
	// router's default.
	Balance Balance
	// AllowedSources, when non-nil, are the only client addresses the
	// route accepts (ip_whitelist).
	AllowedSources []netip.Prefix
	// RateLimit is nil when connection rate limiting is off.
	RateLimit *RateLimit
	// HSTSHeader is the Strict-Transport-Security value to send on edge
	// and reencrypt routes; empty sends none.
	HSTSHeader string
	// DisableCookies turns sticky-session cookies off.
	DisableCookies bool
	// CookieName is the sticky-session cookie's name: the annotation, else
	// a hash of the route's namespace and name (it reveals no pod address).
	CookieName string
}

// RateLimit is the rate-limit-connections group of annotations; a zero
// field means that limit is not set.
type RateLimit struct {
	ConcurrentTCP int // concurrent TCP connections per client address
	RateTCP       int // new TCP connections per client address per 3 seconds
	RateHTTP      int // HTTP requests per client address per 3 seconds
}

var cookieNameRE = regexp.MustCompile("^[-!#$%&'*+.0-9A-Z^_`a-z|~]+$")

// parseOptions parses the router annotations of a route; the error names
// the annotation and what it accepts.
func parseOptions(r *routev1.Route, termination routev1.TLSTerminationType, backends int, defaultBalance Balance) (Options, error) {
	a := r.Annotations
	var o Options
	if v, ok := a[AnnotationTimeout]; ok {
		d, err := parseHAProxyDuration(v)
		if err != nil {
			return o, fmt.Errorf("annotation %s=%q: %v. Try: a duration such as 30s, 500ms or 5m", AnnotationTimeout, v, err)
		}
		o.Timeout = d
	}
	switch v := Balance(strings.TrimSpace(a[AnnotationBalance])); v {
	case "":
		switch {
		case termination == routev1.TLSTerminationPassthrough:
			o.Balance = BalanceSource
		case backends > 1:
			o.Balance = BalanceRoundRobin
		default:
			o.Balance = defaultBalance
		}
	case BalanceRoundRobin, BalanceLeastConn, BalanceSource, BalanceRandom:
		o.Balance = v
	default:
		return o, fmt.Errorf("annotation %s=%q is not one of roundrobin, leastconn, source, random", AnnotationBalance, a[AnnotationBalance])
	}
	if v, ok := a[AnnotationIPWhitelist]; ok && strings.TrimSpace(v) != "" {
		for _, f := range strings.Fields(v) {
			p, err := parseSource(f)
			if err != nil {
				return o, fmt.Errorf("annotation %s: %q is not an IP address or CIDR. Try: space-separated entries such as 192.168.1.10 10.0.0.0/8", AnnotationIPWhitelist, f)
			}
			o.AllowedSources = append(o.AllowedSources, p)
		}
	}
	if v, ok := a[AnnotationRateLimit]; ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("annotation %s=%q is not true or false", AnnotationRateLimit, v)
		}
		if on {
			rl := &RateLimit{}
			for _, f := range []struct {
				name string
				dst  *int
			}{{AnnotationRateLimitConcurrent, &rl.ConcurrentTCP}, {AnnotationRateLimitRateTCP, &rl.RateTCP}, {AnnotationRateLimitRateHTTP, &rl.RateHTTP}} {
				s, ok := a[f.name]
				if !ok {
					continue
				}
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 0 {
					return o, fmt.Errorf("annotation %s=%q is not a whole number of 0 or more", f.name, s)
				}
				*f.dst = n
			}
			o.RateLimit = rl
		}
	}
	if v, ok := a[AnnotationHSTSHeader]; ok && strings.TrimSpace(v) != "" {
		h, err := parseHSTS(v)
		if err != nil {
			return o, fmt.Errorf("annotation %s=%q: %v. Try: max-age=31536000;includeSubDomains;preload", AnnotationHSTSHeader, v, err)
		}
		if termination == routev1.TLSTerminationEdge || termination == routev1.TLSTerminationReencrypt {
			o.HSTSHeader = h
		}
	}
	if v, ok := a[AnnotationDisableCookies]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return o, fmt.Errorf("annotation %s=%q is not true or false", AnnotationDisableCookies, v)
		}
		o.DisableCookies = b
	}
	if v, ok := a[AnnotationCookieName]; ok {
		if !cookieNameRE.MatchString(v) {
			return o, fmt.Errorf("annotation %s=%q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", AnnotationCookieName, v)
		}
		o.CookieName = v
	} else {
		h := fnv.New64a()
		h.Write([]byte(r.Namespace))
		h.Write([]byte{0})
		h.Write([]byte(r.Name))
		o.CookieName = fmt.Sprintf("%016x", h.Sum64())
	}
	return o, nil
}

// parseHAProxyDuration reads HAProxy's time format: a whole number with an
// optional unit us, ms, s, m, h or d; a bare number is milliseconds.
func parseHAProxyDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("not a duration")
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a duration")
	}
	units := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	unit, ok := units[s[i:]]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (use us, ms, s, m, h or d)", s[i:])
	}
	if n > int64((1<<63-1)/unit) {
		return 0, fmt.Errorf("too long")
	}
	return time.Duration(n) * unit, nil
}

func parseSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseHSTS checks a Strict-Transport-Security value (RFC 6797): max-age is
// required, includeSubDomains and preload are the other directives. It
// returns the value with the directives joined by ";".
func parseHSTS(v string) (string, error) {
	var out []string
	seen := map[string]bool{}
	for _, d := range strings.Split(v, ";") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		name, value, hasValue := strings.Cut(d, "=")
		key := strings.ToLower(strings.TrimSpace(name))
		if seen[key] {
			return "", fmt.Errorf("directive %s is repeated", name)
		}
		seen[key] = true
		switch key {
		case "max-age":
			value = strings.Trim(strings.TrimSpace(value), `"`)
			n, err := strconv.ParseUint(value, 10, 63)
			if !hasValue || err != nil {
				return "", fmt.Errorf("max-age must be a number of seconds")
			}
			out = append(out, "max-age="+strconv.FormatUint(n, 10))
		case "includesubdomains":
			if hasValue {
				return "", fmt.Errorf("includeSubDomains takes no value")
			}
			out = append(out, "includeSubDomains")
		case "preload":
			if hasValue {
				return "", fmt.Errorf("preload takes no value")
			}
			out = append(out, "preload")
		default:
			return "", fmt.Errorf("unknown directive %q", name)
		}
	}
	if !seen["max-age"] {
		return "", fmt.Errorf("max-age is required")
	}
	return strings.Join(out, ";"), nil
}
