package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strings"
)

// The response side of the backend transport: a response head read into
// one string (the header values are substrings of it, so a response costs
// one allocation for its head and one for its value slices) and the body
// framed by RFC 9112 section 6.

// maxResponseHead bounds a backend's response head (HAProxy's
// tune.bufsize is 16 KiB; net/http's Transport allows 1 MiB).
const maxResponseHead = 64 << 10

// max1xx bounds the interim responses skipped before the final one.
const max1xx = 16

// errBadResponse is a backend answer that is not HTTP/1.x: 502.
type errBadResponse string

func (e errBadResponse) Error() string { return "malformed response from the backend: " + string(e) }

// field is one response header as received, its key canonical.
type field struct{ k, v string }

// respHead is a backend response's head. It lives in its connection and is
// reused by the connection's next exchange.
type respHead struct {
	status int
	// length is the Content-Length, -1 when there is none; lengthRaw
	// its text.
	length    int64
	lengthRaw string
	chunked   bool
	// untilClose: the body runs to the end of the connection.
	untilClose bool
	// close: the connection cannot be reused after this response.
	close   bool
	upgrade string
	fields  []field
	// connTokens are the header names the Connection header lists: they
	// are hop by hop too.
	connTokens []string
	trailer    []string // keys announced by the Trailer header
	// got says a byte of the response arrived: a failure before that on a
	// reused connection is a stale connection.
	got bool
	raw []byte
}

func (h *respHead) reset() {
	h.status, h.length, h.chunked, h.untilClose, h.close, h.upgrade = 0, -1, false, false, false, ""
	h.fields, h.connTokens, h.trailer = h.fields[:0], h.connTokens[:0], h.trailer[:0]
	h.raw = h.raw[:0]
}

// readHead reads the final response head (interim 1xx answers other than
// 101 are skipped) and frames the body for a request of method.
func (c *backendConn) readHead(method string) error {
	h := &c.resp
	h.got = false
	for i := 0; ; i++ {
		h.reset()
		if err := h.read(c.br); err != nil {
			return err
		}
		if h.status >= 200 || h.status == http.StatusSwitchingProtocols {
			break
		}
		if i == max1xx {
			return errBadResponse("more than 16 interim (1xx) responses")
		}
	}
	b := &c.body
	*b = bodyReader{br: c.br, nc: c.nc, timeout: b.timeout, trailers: b.trailers[:0]}
	switch {
	case h.status == http.StatusSwitchingProtocols:
		b.mode = bodyNone
	case method == http.MethodHead || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		b.mode = bodyNone
	case h.chunked:
		b.mode = bodyChunked
	case h.length >= 0:
		b.mode, b.n = bodyLength, h.length
	default:
		b.mode = bodyUntilClose
		h.untilClose, h.close = true, true
	}
	b.end = b.mode == bodyNone || b.mode == bodyLength && b.n == 0
	if h.close {
		c.broken = true
	}
	return nil
}

// read reads and parses one response head.
func (h *respHead) read(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			h.got = true
		}
		if len(h.raw)+len(line) > maxResponseHead {
			return errBadResponse("head larger than 64 KiB")
		}
		h.raw = append(h.raw, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && h.got {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		n := len(h.raw)
		if n == 1 || (n == 2 && h.raw[0] == '\r') {
			// Empty lines before the status line: tolerated (RFC 9112 2.2).
			h.raw = h.raw[:0]
			continue
		}
		if h.raw[n-2] == '\n' || (n >= 3 && h.raw[n-3] == '\n' && h.raw[n-2] == '\r') {
			break // the empty line ends the head
		}
	}
	return h.parse(string(h.raw))
}

func (h *respHead) parse(s string) error {
	line, rest := nextLine(s)
	if len(line) < 12 || line[:7] != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errBadResponse("status line " + quote(line))
	}
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return errBadResponse("status line " + quote(line))
		}
		code = code*10 + int(d-'0')
	}
	if code < 100 {
		return errBadResponse("status line " + quote(line))
	}
	h.status = code
	http10 := line[7] == '0'
	keepAlive := false
	for {
		line, rest = nextLine(rest)
		if line == "" {
			break
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			return errBadResponse("header line " + quote(line))
		}
		k, ok := canonicalKey(line[:i])
		if !ok {
			return errBadResponse("header name " + quote(line[:i]))
		}
		v := trimOWS(line[i+1:])
		switch k {
		case "Content-Length":
			n, ok := parseLength(v)
			if !ok || (h.length >= 0 && h.length != n) {
				return errBadResponse("Content-Length " + quote(v))
			}
			h.length, h.lengthRaw = n, v
			continue
		case "Transfer-Encoding":
			// Only chunked as the last coding frames the body; any other
			// coding runs to the close (RFC 9112 6.3).
			h.chunked = lastToken(v) == "chunked"
			if !h.chunked {
				h.untilClose, h.close = true, true
			}
			continue
		case "Connection":
			for _, t := range tokens(v) {
				switch {
				case strings.EqualFold(t, "close"):
					h.close = true
				case strings.EqualFold(t, "keep-alive"):
					keepAlive = true
				default:
					h.connTokens = append(h.connTokens, t)
				}
			}
			continue
		case "Upgrade":
			h.upgrade = v
			continue
		case "Trailer":
			for _, t := range tokens(v) {
				if ck, ok := canonicalKey(t); ok {
					h.trailer = append(h.trailer, ck)
				}
			}
			continue
		case "Keep-Alive", "Proxy-Connection", "Te", "Proxy-Authenticate", "Proxy-Authorization":
			continue
		}
		h.fields = append(h.fields, field{k, v})
	}
	if h.chunked && h.length >= 0 {
		// Both: chunked wins, and the connection is not reused (a
		// backend that sends both cannot be trusted to frame the next).
		h.length, h.close = -1, true
	}
	if h.untilClose {
		h.chunked, h.length = false, -1
	}
	if http10 && !keepAlive {
		h.close = true
	}
	return nil
}

// copyTo puts the response's end-to-end headers into dst (the client
// response's header map): one allocation for all the value slices.
func (h *respHead) copyTo(dst http.Header) {
	vals := make([]string, len(h.fields)+1)
	for i, f := range h.fields {
		if h.namedByConnection(f.k) {
			continue
		}
		if old := dst[f.k]; len(old) > 0 {
			dst[f.k] = append(old, f.v)
			continue
		}
		vals[i] = f.v
		dst[f.k] = vals[i : i+1 : i+1]
	}
	if h.length >= 0 && !h.chunked {
		vals[len(h.fields)] = h.lengthRaw
		dst["Content-Length"] = vals[len(h.fields):]
	}
	for _, k := range h.trailer {
		dst["Trailer"] = append(dst["Trailer"], k)
	}
}

func (h *respHead) namedByConnection(k string) bool {
	for _, t := range h.connTokens {
		if strings.EqualFold(t, k) {
			return true
		}
	}
	return false
}

// header is the response's end-to-end header as a map, for the rare paths
// (upgrades) that need one.
func (h *respHead) header() http.Header {
	out := http.Header{}
	h.copyTo(out)
	return out
}
