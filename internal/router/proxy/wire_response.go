package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
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

// Body framing modes.
const (
	bodyNone = iota
	bodyLength
	bodyChunked
	bodyUntilClose
)

// bodyReader reads a response body as its head framed it. Each read that
// has to wait for the network first extends the connection's read
// deadline: the route timeout is an inactivity timeout.
type bodyReader struct {
	br      *bufio.Reader
	nc      net.Conn
	timeout time.Duration
	mode    int
	n       int64 // bytes left: of the body (length), of the chunk (chunked)
	// inChunk: a chunk's data is being read (chunked).
	inChunk bool
	end     bool // the body ended as framed
	// trailers of a chunked body, once read.
	trailers []field
}

// clean says the body was read to its framed end and the connection can
// carry another exchange.
func (b *bodyReader) clean() bool { return b.end && b.mode != bodyUntilClose }

func (b *bodyReader) wait() {
	if b.br.Buffered() == 0 {
		b.nc.SetReadDeadline(time.Now().Add(b.timeout))
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.end {
		return 0, io.EOF
	}
	switch b.mode {
	case bodyNone:
		b.end = true
		return 0, io.EOF
	case bodyLength:
		if b.n == 0 {
			b.end = true
			return 0, io.EOF
		}
		if int64(len(p)) > b.n {
			p = p[:b.n]
		}
		b.wait()
		k, err := b.br.Read(p)
		b.n -= int64(k)
		if b.n == 0 {
			b.end = true
			return k, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return k, err
	case bodyUntilClose:
		b.wait()
		k, err := b.br.Read(p)
		if err == io.EOF {
			b.end = true
		}
		return k, err
	}
	return b.readChunked(p)
}

func (b *bodyReader) readChunked(p []byte) (int, error) {
	for !b.inChunk {
		b.wait()
		line, err := readLine(b.br)
		if err != nil {
			return 0, err
		}
		n, ok := parseChunkSize(line)
		if !ok {
			return 0, errBadResponse("chunk size line " + quote(string(line)))
		}
		if n == 0 {
			if err := b.readTrailers(); err != nil {
				return 0, err
			}
			b.end = true
			return 0, io.EOF
		}
		b.n, b.inChunk = n, true
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	b.wait()
	k, err := b.br.Read(p)
	b.n -= int64(k)
	if b.n == 0 {
		b.inChunk = false
		b.wait()
		line, lerr := readLine(b.br)
		if lerr != nil {
			return k, lerr
		}
		if len(line) != 0 {
			return k, errBadResponse("chunk data longer than its size")
		}
		return k, nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

// readTrailers reads the trailer section after the last chunk.
func (b *bodyReader) readTrailers() error {
	total := 0
	for {
		b.wait()
		line, err := readLine(b.br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if total += len(line); total > maxResponseHead {
			return errBadResponse("trailers larger than 64 KiB")
		}
		s := string(line)
		i := strings.IndexByte(s, ':')
		if i <= 0 {
			return errBadResponse("trailer line " + quote(s))
		}
		k, ok := canonicalKey(s[:i])
		if !ok {
			return errBadResponse("trailer name " + quote(s[:i]))
		}
		b.trailers = append(b.trailers, field{k, trimOWS(s[i+1:])})
	}
}

// readLine reads one line of a chunked body (a size line, the CRLF after
// data, a trailer), without its line end. A bare LF is refused: chunk
// framing is where request and response smuggling live.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err == bufio.ErrBufferFull {
			err = errBadResponse("chunk line too long")
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errBadResponse("line in the chunked body not ended by CRLF")
	}
	return line[:len(line)-2], nil
}

// parseChunkSize reads a chunk size line: hex digits, then optional chunk
// extensions (ignored).
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto ext
		}
		if n >= 1<<59 {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
ext:
	if i == 0 {
		return 0, false
	}
	for ; i < len(line); i++ {
		if c := line[i]; c == ';' {
			break
		} else if c != ' ' && c != '\t' {
			return 0, false
		}
	}
	return n, true
}

// nextLine splits off one line of a head, accepting CRLF or a bare LF.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// tokens splits a comma-separated header value into trimmed, non-empty
// elements.
func tokens(v string) []string {
	var out []string
	for len(v) > 0 {
		var f string
		if i := strings.IndexByte(v, ','); i >= 0 {
			f, v = v[:i], v[i+1:]
		} else {
			f, v = v, ""
		}
		if f = trimOWS(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func lastToken(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.ToLower(trimOWS(v))
}

func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

// isTokenChar reports whether c may appear in a header name (RFC 9110 5.6.2).
func isTokenChar(c byte) bool {
	return c < 0x80 && tokenTable[c]
}

var tokenTable = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// canonicalKey returns a header name in net/http's canonical form: a
// substring of k when it already is (the common case, no allocation).
func canonicalKey(k string) (string, bool) {
	upper := true
	canonical := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isTokenChar(c) {
			return "", false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if k == "" {
		return "", false
	}
	if canonical {
		return k, true
	}
	return http.CanonicalHeaderKey(k), true
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return "\"" + strings.ToValidUTF8(s, "?") + "\""
}
