package proxy

import (
	"bufio"
	"io"
	"net"
	"strings"
	"time"
)

// The body side of the backend transport: a response body read as its
// head framed it (RFC 9112 section 6), the chunked coding undone and its
// trailers kept for the client.

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
