package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// upgradeType returns the protocol a request asks to switch to (Connection:
// upgrade with an Upgrade header), or "".
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		if hasToken(v, "upgrade") {
			if u := h["Upgrade"]; len(u) > 0 {
				return u[0]
			}
		}
	}
	return ""
}

// hasToken reports whether a comma-separated header value holds token
// (case-insensitively).
func hasToken(v, token string) bool {
	for len(v) > 0 {
		var f string
		if i := strings.IndexByte(v, ','); i >= 0 {
			f, v = v[:i], v[i+1:]
		} else {
			f, v = v, ""
		}
		if strings.EqualFold(strings.TrimSpace(f), token) {
			return true
		}
	}
	return false
}

// Shared header values. The server only reads header values, so constant
// ones are not allocated per request.
var (
	valUpgrade  = []string{"Upgrade"}
	valNoStore  = []string{"no-store"}
	valTextHTML = []string{"text/html; charset=utf-8"}
)

// portStrings caches the decimal form of the few ports a router listens on.
var portStrings atomic.Pointer[map[int]string]
var portMu sync.Mutex

// localPort is the router port the request arrived on, "" when unknown.
func (p *Proxy) localPort(r *http.Request) string {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return ""
	}
	var port int
	switch a := a.(type) {
	case *net.TCPAddr:
		port = a.Port
	default:
		_, ps, err := net.SplitHostPort(a.String())
		if err != nil {
			return ""
		}
		return ps
	}
	if m := portStrings.Load(); m != nil {
		if s, ok := (*m)[port]; ok {
			return s
		}
	}
	portMu.Lock()
	defer portMu.Unlock()
	next := map[int]string{}
	if m := portStrings.Load(); m != nil && len(*m) < 64 {
		for k, v := range *m {
			next[k] = v
		}
	}
	s := strconv.Itoa(port)
	next[port] = s
	portStrings.Store(&next)
	return s
}

// clientAddr splits a RemoteAddr into the client IP as text (a substring,
// no allocation) and as an address; ok is false when it is not ip:port.
func clientAddr(remote string) (string, netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return "", netip.Addr{}, false
	}
	i := strings.LastIndexByte(remote, ':')
	ip := remote[:i]
	if len(ip) > 1 && ip[0] == '[' {
		ip = ip[1 : len(ip)-1]
	}
	return ip, ap.Addr().Unmap(), true
}

func allowedSource(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
