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

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110 7.6.1); they are never forwarded, in either direction.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop deletes the hop-by-hop headers and those the Connection
// header names. It modifies h.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = textproto(strings.TrimSpace(f)); f != "" {
				delete(h, f)
			}
		}
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
}

func textproto(s string) string { return http.CanonicalHeaderKey(s) }

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

// Shared header values. The server and the transport only read header
// values, so constant ones are not allocated per request.
var (
	valHTTP     = []string{"http"}
	valHTTPS    = []string{"https"}
	valH2       = []string{"h2"}
	valUpgrade  = []string{"Upgrade"}
	valNoStore  = []string{"no-store"}
	valTextHTML = []string{"text/html; charset=utf-8"}
)

// addForwarded appends the forwarding headers as OpenShift's router does
// with ROUTER_SET_FORWARDED_HEADERS=append (its default): every header is
// added after whatever the client sent, never replacing it. The values are
// X-Forwarded-For (the client address), X-Forwarded-Host (the Host header),
// X-Forwarded-Port (the router port the request arrived on),
// X-Forwarded-Proto (http or https), X-Forwarded-Proto-Version (h2 when TLS
// negotiated h2) and Forwarded (RFC 7239: for, host and proto).
func (p *Proxy) addForwarded(h http.Header, r *http.Request, clientIP string, client netip.Addr) {
	proto := valHTTP
	if r.TLS != nil {
		proto = valHTTPS
	}
	fwd := make([]byte, 0, 64)
	fwd = append(fwd, "for="...)
	if client.Is6() {
		fwd = append(fwd, `"[`...)
		fwd = append(fwd, clientIP...)
		fwd = append(fwd, `]"`...)
	} else {
		fwd = append(fwd, clientIP...)
	}
	if r.Host != "" {
		fwd = append(fwd, ";host="...)
		if strings.ContainsAny(r.Host, ":[]") {
			fwd = strconv.AppendQuote(fwd, r.Host)
		} else {
			fwd = append(fwd, r.Host...)
		}
	}
	fwd = append(fwd, ";proto="...)
	fwd = append(fwd, proto[0]...)

	// One backing array for the new header values, each slice capped so
	// an append by anyone else copies rather than overwrites its neighbour.
	vals := make([]string, 4)
	vals[0], vals[1], vals[2], vals[3] = clientIP, r.Host, p.localPort(r), string(fwd)
	add := func(k string, v []string) {
		if old := h[k]; len(old) > 0 {
			h[k] = append(old, v[0])
		} else {
			h[k] = v
		}
	}
	if old := h["X-Forwarded-For"]; len(old) > 0 {
		h["X-Forwarded-For"] = []string{strings.Join(old, ", ") + ", " + clientIP}
	} else {
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	if r.Host != "" {
		add("X-Forwarded-Host", vals[1:2:2])
	}
	if vals[2] != "" {
		add("X-Forwarded-Port", vals[2:3:3])
	}
	add("X-Forwarded-Proto", proto)
	if r.TLS != nil && r.TLS.NegotiatedProtocol == "h2" {
		add("X-Forwarded-Proto-Version", valH2)
	}
	add("Forwarded", vals[3:4:4])
}

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
