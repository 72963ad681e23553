package front

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"

	"golang.org/x/net/http/httpguts"
)

// parser follows the HTTP/1.x byte stream of one connection far enough to
// know where every request head starts and ends, and judges each head
// before net/http sees any of it. Bodies are skipped by their framing
// (Content-Length or chunked), following the same rules as net/http's
// reader, so the two always agree on where the next head starts.
//
// It exists because net/http accepts some ambiguous framing that an edge
// proxy must refuse (RFC 9112 section 11.2): it drops Content-Length when
// Transfer-Encoding is chunked, accepts bare LF line ends and obs-fold
// continuation lines (so "Transfer-Encoding:\r\n chunked" is chunked), and
// answers an unknown transfer coding with 501. Once net/http has parsed a
// request those facts are gone (the Content-Length header is deleted), so
// a handler wrapper cannot see them; the check has to sit on the bytes.
type parser struct {
	state      int
	maxHead    int  // bytes a head may take, request line included
	allowH2    bool // the HTTP/2 prior-knowledge preface may open the stream
	first      bool // no request finished on this connection yet
	headBytes  int
	lineStart  int // start of the current line within the held head
	lines      int
	version    int // 10 or 11
	preface    bool
	clCount    int
	clValue    []byte
	teCount    int
	teChunked  bool
	teValue    []byte
	remaining  int64 // body bytes (fixed length) or chunk data bytes left
	chunkLine  []byte
	crlfSeen   int // bytes of the CRLF after chunk data seen
	trailerLen int
}

const (
	stHead      = iota // between requests or inside a head
	stFixed            // inside a Content-Length body
	stChunkSize        // reading a chunk-size line
	stChunkData        // inside chunk data
	stChunkCRLF        // the CRLF after chunk data
	stTrailer          // trailer lines after the last chunk
	stOff              // not HTTP/1 any more (h2c preface): bytes pass unchecked
)

// maxChunkLine bounds a chunk-size line as net/http does (4096 bytes).
const maxChunkLine = 4096

// rejection is why a head was refused: the status it gets and a message
// for whoever sent it.
type rejection struct {
	status int
	msg    string
}

func reject(status int, format string, args ...any) *rejection {
	return &rejection{status: status, msg: fmt.Sprintf(format, args...)}
}

// response renders the rejection as a complete HTTP/1.1 response that
// closes the connection.
func (r *rejection) response() []byte {
	body := strconv.Itoa(r.status) + " " + http.StatusText(r.status) + ": " + r.msg + "\n"
	return []byte("HTTP/1.1 " + strconv.Itoa(r.status) + " " + http.StatusText(r.status) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

func (p *parser) inBody() bool { return p.state != stHead && p.state != stOff }

// midHead reports whether part of a request head has arrived.
func (p *parser) midHead() bool { return p.state == stHead && p.headBytes > 0 }

// headLine judges one complete line of a head (without its CRLF). done
// reports the empty line that ends the head.
func (p *parser) headLine(line []byte) (done bool, rej *rejection) {
	if bytes.IndexByte(line, '\r') >= 0 {
		return false, reject(400, "a bare CR in the request head; end every line with CRLF")
	}
	n := p.lines
	p.lines++
	if n == 0 {
		return false, p.requestLine(line)
	}
	if len(line) == 0 {
		return true, nil
	}
	if line[0] == ' ' || line[0] == '\t' {
		return false, reject(400, "a header line starts with whitespace (obsolete line folding, RFC 9112 section 5.2); put each header on one line")
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false, reject(400, "header line %q has no name", truncate(line))
	}
	name := line[:colon]
	if !httpguts.ValidHeaderFieldName(string(name)) {
		return false, reject(400, "header name %q is not a token (no whitespace before the colon)", truncate(name))
	}
	value := trimOWS(line[colon+1:])
	switch {
	case asciiEqualFold(name, "Content-Length"):
		p.clCount++
		p.clValue = append(p.clValue[:0], value...)
	case asciiEqualFold(name, "Transfer-Encoding"):
		p.teCount++
		p.teValue = append(p.teValue[:0], value...)
		p.teChunked = asciiEqualFold(value, "chunked")
	}
	return false, nil
}

func (p *parser) requestLine(line []byte) *rejection {
	if len(line) == 0 {
		return reject(400, "the request starts with an empty line")
	}
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 == sp1 {
		return reject(400, "request line %q is not METHOD TARGET HTTP/1.1", truncate(line))
	}
	switch v := string(line[sp2+1:]); {
	case v == "HTTP/1.1":
		p.version = 11
	case v == "HTTP/1.0":
		p.version = 10
	case p.allowH2 && p.first && p.headBytes == len(line)+2 && string(line) == "PRI * HTTP/2.0":
		p.preface = true
	default:
		return reject(400, "HTTP version %q is not supported; use HTTP/1.1 or HTTP/2", truncate(line[sp2+1:]))
	}
	return nil
}

// endHead decides a complete head and sets up its body.
func (p *parser) endHead() *rejection {
	switch {
	case p.preface:
		p.state = stOff
		return nil
	case p.clCount > 1:
		return reject(400, "the request has %d Content-Length headers; send exactly one", p.clCount)
	case p.teCount > 1:
		return reject(400, "the request has %d Transfer-Encoding headers; send one, Transfer-Encoding: chunked", p.teCount)
	case p.teCount == 1 && p.clCount == 1:
		return reject(400, "the request has both Content-Length and Transfer-Encoding (RFC 9112 section 6.1); send one of them")
	case p.teCount == 1 && !p.teChunked:
		return reject(400, "Transfer-Encoding %q is not supported; only chunked is", truncate(p.teValue))
	case p.teCount == 1 && p.version == 10:
		return reject(400, "Transfer-Encoding in an HTTP/1.0 request; use Content-Length, or HTTP/1.1")
	case p.teCount == 1:
		p.state = stChunkSize
		p.chunkLine = p.chunkLine[:0]
		p.trailerLen = 0
	case p.clCount == 1:
		n, ok := parseDecimal(p.clValue)
		if !ok {
			return reject(400, "Content-Length %q is not a number of bytes", truncate(p.clValue))
		}
		p.remaining = n
		p.state = stFixed
		if n == 0 {
			p.state = stHead
		}
	default:
		p.state = stHead
	}
	return nil
}

// resetHead prepares for the next head.
func (p *parser) resetHead() {
	p.headBytes, p.lineStart, p.lines = 0, 0, 0
	p.version, p.preface = 0, false
	p.clCount, p.teCount, p.teChunked = 0, 0, false
}

// body consumes body bytes from b. It returns how many bytes of b belong
// to the body (the rest start the next head), and false when the framing
// is broken: net/http's reader will fail on the same bytes, and the
// connection is cut after the k good bytes.
func (p *parser) body(b []byte) (k int, ok bool) {
	for k < len(b) {
		switch p.state {
		case stFixed, stChunkData:
			n := int64(len(b) - k)
			if n > p.remaining {
				n = p.remaining
			}
			k += int(n)
			p.remaining -= n
			if p.remaining == 0 {
				if p.state == stFixed {
					p.state = stHead
					return k, true
				}
				p.state, p.crlfSeen = stChunkCRLF, 0
			}
		case stChunkCRLF:
			want := "\r\n"[p.crlfSeen]
			if b[k] != want {
				return k, false
			}
			k++
			if p.crlfSeen++; p.crlfSeen == 2 {
				p.state = stChunkSize
				p.chunkLine = p.chunkLine[:0]
			}
		case stChunkSize, stTrailer:
			i := bytes.IndexByte(b[k:], '\n')
			end := len(b)
			if i >= 0 {
				end = k + i + 1
			}
			p.chunkLine = append(p.chunkLine, b[k:end]...)
			k = end
			if len(p.chunkLine) > maxChunkLine {
				return k, false
			}
			if i < 0 {
				continue
			}
			line := p.chunkLine
			// net/http requires CRLF and no other CR on chunk lines
			// (RFC 9112 errata 7633); trailers are held to the same.
			if len(line) < 2 || bytes.IndexByte(line, '\r') != len(line)-2 {
				return k, false
			}
			line = line[:len(line)-2]
			p.chunkLine = p.chunkLine[:0]
			if p.state == stTrailer {
				p.trailerLen += len(line) + 2
				if p.trailerLen > p.maxHead {
					return k, false
				}
				if len(line) == 0 {
					p.state = stHead
					return k, true
				}
				continue
			}
			size, ok := parseChunkSize(line)
			if !ok {
				return k, false
			}
			if size == 0 {
				p.state = stTrailer
			} else {
				p.state, p.remaining = stChunkData, size
			}
		default:
			return k, true
		}
	}
	return k, true
}

// parseChunkSize reads a chunk-size line as net/http does: trailing
// whitespace dropped, extensions after ';' ignored, 1 to 16 hex digits.
func parseChunkSize(line []byte) (int64, bool) {
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	if n > 1<<62 {
		return 0, false
	}
	return int64(n), true
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// truncate keeps what is quoted back to a client short.
func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
