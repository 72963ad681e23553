package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// cookieValue is the sticky-session value naming an endpoint: the first
// 128 bits of an HMAC-SHA256 of its address and TLS identity under the
// router's random key. It is stable for the life of the router process and
// reveals nothing of the pod address; a client cannot forge one for an
// endpoint it was never sent to.
func (p *Proxy) cookieValue(k endpointKey) string {
	m := hmac.New(sha256.New, p.cookieKey[:])
	m.Write([]byte(k.addr.String()))
	m.Write([]byte{0})
	m.Write([]byte(k.serverName))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// requestCookie returns the value of the cookie name in the request's
// Cookie headers without parsing the others (http.Request.Cookie builds
// every cookie of the header).
func requestCookie(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			if i := strings.IndexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				return strings.Trim(part[len(name)+1:], `"`), true
			}
		}
	}
	return "", false
}

// stripCookie removes the router's own cookie from the request before it
// goes to the backend, as HAProxy's "cookie ... insert indirect" does: the
// application never sees the router's cookie.
func stripCookie(h http.Header, name string) {
	lines := h["Cookie"]
	for i, line := range lines {
		if !strings.Contains(line, name) {
			continue
		}
		var b strings.Builder
		for _, part := range strings.Split(line, ";") {
			t := strings.TrimSpace(part)
			if len(t) > len(name) && t[len(name)] == '=' && t[:len(name)] == name {
				continue
			}
			if t == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(t)
		}
		lines[i] = b.String()
	}
	out := lines[:0]
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = out
	}
}

// cookieLines are the Set-Cookie values that send a client to one
// endpoint under one cookie name, over plain HTTP and over TLS. Each is a
// one-element slice capped at one, so appending to it copies.
type cookieLines struct {
	name          string
	plain, secure []string
}

// setStickyCookie adds the Set-Cookie that sends the client's next
// requests to e: HttpOnly always, Secure when the request came over TLS.
// The values are built on first use per route and endpoint (each route has
// its own cookie name; an endpoint may serve several routes).
func (p *pool) setStickyCookie(h http.Header, name string, e *endpoint, secure bool) {
	i := p.indexOf(e)
	var cl *cookieLines
	if i >= 0 {
		cl = p.cookies[i].Load()
	}
	if cl == nil || cl.name != name {
		v := name + "=" + e.cookie + "; path=/; HttpOnly"
		cl = &cookieLines{name: name, plain: []string{v}, secure: []string{v + "; Secure; SameSite=None"}}
		if i >= 0 {
			p.cookies[i].Store(cl)
		}
	}
	line := cl.plain
	if secure {
		line = cl.secure
	}
	if old := h["Set-Cookie"]; len(old) > 0 {
		h["Set-Cookie"] = append(old, line[0])
	} else {
		h["Set-Cookie"] = line
	}
}
