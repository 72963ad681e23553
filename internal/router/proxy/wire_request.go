package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The request side of the backend transport: the head is written straight
// into the connection's buffer from the client's request (the request
// target exactly as received, the client's headers minus the hop-by-hop
// ones, then the forwarding headers), so forwarding a request changes
// nothing in it and allocates nothing.

// outRequest is what the transport sends: the client's request and what
// the proxy adds to it.
type outRequest struct {
	r        *http.Request
	clientIP string
	client   netip.Addr
	port     string // the router port, for X-Forwarded-Port
	upgrade  string // the protocol a WebSocket-style request switches to
	body     *retryBody
	timeout  time.Duration
	// connTokens are the header names the client's Connection header
	// lists, which are not forwarded.
	connTokens [8]string
	nTokens    int
	// manyTokens: more names than connTokens holds; the slow check runs.
	manyTokens bool
}

func (o *outRequest) init() {
	for _, v := range o.r.Header["Connection"] {
		for len(v) > 0 {
			var f string
			if i := strings.IndexByte(v, ','); i >= 0 {
				f, v = v[:i], v[i+1:]
			} else {
				f, v = v, ""
			}
			f = trimOWS(f)
			if f == "" || strings.EqualFold(f, "keep-alive") || strings.EqualFold(f, "close") || strings.EqualFold(f, "upgrade") {
				continue
			}
			if o.nTokens == len(o.connTokens) {
				o.manyTokens = true
				continue
			}
			o.connTokens[o.nTokens] = f
			o.nTokens++
		}
	}
}

func (o *outRequest) namedByConnection(k string) bool {
	for _, t := range o.connTokens[:o.nTokens] {
		if strings.EqualFold(t, k) {
			return true
		}
	}
	if o.manyTokens {
		for _, v := range o.r.Header["Connection"] {
			if hasToken(v, k) {
				return true
			}
		}
	}
	return false
}

// skipRequestHeader says whether a client header is not forwarded as it
// is: hop-by-hop headers (RFC 9110 7.6.1), the framing the transport
// writes itself, Expect (net/http already answered it, on the first read
// of the body) and X-Forwarded-For, which is rewritten with the client
// appended.
func skipRequestHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Content-Length", "Expect", "Host", "X-Forwarded-For":
		return true
	}
	return false
}

// writeHead writes the request line and header section into bw.
func (o *outRequest) writeHead(bw *bufio.Writer, hostport string) {
	r := o.r
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	writeTarget(bw, r)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if r.Host != "" {
		writeValue(bw, r.Host)
	} else {
		bw.WriteString(hostport)
	}
	bw.WriteString("\r\n")
	for k, vv := range r.Header {
		if skipRequestHeader(k) || (o.nTokens > 0 || o.manyTokens) && o.namedByConnection(k) {
			continue
		}
		writeField(bw, k, vv)
	}
	if o.upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		writeValue(bw, o.upgrade)
		bw.WriteString("\r\n")
	}
	switch {
	case o.body != nil && r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		var b [20]byte
		bw.Write(strconv.AppendInt(b[:0], r.ContentLength, 10))
		bw.WriteString("\r\n")
	case o.body != nil:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		o.writeTrailerNames(bw)
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n")
	}
	o.writeForwarded(bw)
	bw.WriteString("\r\n")
}

// writeTarget writes the request target exactly as the client sent it
// (no re-encoding); an absolute-form target is sent in origin form.
func writeTarget(bw *bufio.Writer, r *http.Request) {
	if raw := r.RequestURI; len(raw) > 0 && raw[0] == '/' {
		writeValue(bw, raw)
		return
	}
	if r.Method == http.MethodOptions && r.RequestURI == "*" {
		bw.WriteByte('*')
		return
	}
	writeValue(bw, r.URL.RequestURI())
}

// writeValue writes a header value (or target) with any CR, LF or NUL
// replaced by a space. net/http's server never lets one through; this
// keeps a request built another way from splitting the backend's stream.
func writeValue(bw *bufio.Writer, v string) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' || c == 0 {
			b := []byte(v)
			for j := i; j < len(b); j++ {
				if b[j] == '\r' || b[j] == '\n' || b[j] == 0 {
					b[j] = ' '
				}
			}
			bw.Write(b)
			return
		}
	}
	bw.WriteString(v)
}

// writeForwarded writes the forwarding headers as OpenShift's router does
// with ROUTER_SET_FORWARDED_HEADERS=append (its default): every header is
// added after whatever the client sent, never replacing it (a second
// header line of the same name is the same as an appended value).
// X-Forwarded-For is the one kept on a single line, the client's values
// joined and the client address appended. The values are the client
// address, the Host header, the router port the request arrived on, http
// or https, h2 when TLS negotiated h2, and Forwarded (RFC 7239: for, host
// and proto).
func (o *outRequest) writeForwarded(bw *bufio.Writer) {
	r := o.r
	bw.WriteString("X-Forwarded-For: ")
	for _, v := range r.Header["X-Forwarded-For"] {
		writeValue(bw, v)
		bw.WriteString(", ")
	}
	bw.WriteString(o.clientIP)
	if r.Host != "" {
		bw.WriteString("\r\nX-Forwarded-Host: ")
		writeValue(bw, r.Host)
	}
	if o.port != "" {
		bw.WriteString("\r\nX-Forwarded-Port: ")
		bw.WriteString(o.port)
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	bw.WriteString(proto)
	if r.TLS != nil && r.TLS.NegotiatedProtocol == "h2" {
		bw.WriteString("\r\nX-Forwarded-Proto-Version: h2")
	}
	bw.WriteString("\r\nForwarded: for=")
	if o.client.Is6() {
		bw.WriteString(`"[`)
		bw.WriteString(o.clientIP)
		bw.WriteString(`]"`)
	} else {
		bw.WriteString(o.clientIP)
	}
	if r.Host != "" {
		bw.WriteString(";host=")
		if strings.ContainsAny(r.Host, ":[]") {
			var b [128]byte
			bw.Write(strconv.AppendQuote(b[:0], r.Host))
		} else {
			writeValue(bw, r.Host)
		}
	}
	bw.WriteString(";proto=")
	bw.WriteString(proto)
	bw.WriteString("\r\n")
}

// forwardedTrailer says whether a request trailer field goes on to the
// backend: not the fields a trailer must not carry (RFC 9110 6.5.1:
// framing, routing, hop-by-hop).
func forwardedTrailer(k string) bool {
	return !skipRequestHeader(k) && k != "Authorization" && k != "Cookie" && k != "Content-Type" && k != "Content-Encoding" && k != "Content-Range"
}

// writeTrailerNames announces the client's trailer fields (its Trailer
// header, as net/http parsed it into Request.Trailer) on a chunked body.
func (o *outRequest) writeTrailerNames(bw *bufio.Writer) {
	first := true
	for k := range o.r.Trailer {
		if !forwardedTrailer(k) {
			continue
		}
		if first {
			bw.WriteString("Trailer: ")
			first = false
		} else {
			bw.WriteString(", ")
		}
		writeValue(bw, k)
	}
	if !first {
		bw.WriteString("\r\n")
	}
}

// writeTrailers writes the client's trailer fields after the last chunk:
// net/http fills Request.Trailer once the body was read to its end.
func (o *outRequest) writeTrailers(bw *bufio.Writer) {
	for k, vv := range o.r.Trailer {
		if forwardedTrailer(k) {
			writeField(bw, k, vv)
		}
	}
}

// writeField writes a header or trailer field, a line per value.
func writeField(bw *bufio.Writer, k string, vv []string) {
	for _, v := range vv {
		bw.WriteString(k)
		bw.WriteString(": ")
		writeValue(bw, v)
		bw.WriteString("\r\n")
	}
}

// writeBody copies the client's body to the backend: as it came when its
// length is known, else chunked. Every chunk read from the client extends
// the connection's deadline (the route timeout counts inactivity).
func (c *backendConn) writeBody(o *outRequest) error {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	chunked := o.r.ContentLength <= 0
	left := o.r.ContentLength
	for {
		k, rerr := o.body.Read(buf)
		if k > 0 {
			c.nc.SetDeadline(time.Now().Add(o.timeout))
			if !chunked && int64(k) > left {
				k = int(left) // never more than announced
			}
			if chunked {
				var b [18]byte
				c.bw.Write(strconv.AppendInt(b[:0], int64(k), 16))
				c.bw.WriteString("\r\n")
			}
			c.bw.Write(buf[:k])
			if chunked {
				c.bw.WriteString("\r\n")
			}
			if err := c.bw.Flush(); err != nil {
				return err
			}
			left -= int64(k)
		}
		if rerr == io.EOF {
			if !chunked {
				if left != 0 {
					return io.ErrUnexpectedEOF
				}
				return nil
			}
			c.bw.WriteString("0\r\n")
			o.writeTrailers(c.bw)
			c.bw.WriteString("\r\n")
			return c.bw.Flush()
		}
		if rerr != nil {
			return rerr
		}
		if !chunked && left == 0 {
			return nil
		}
	}
}
