package proxy

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// accessLog writes one line per request. Lines are built in pooled buffers
// and written whole under a lock, so the writer need not be safe for
// concurrent use and lines never interleave.
type accessLog struct {
	mu   sync.Mutex
	w    io.Writer
	bufs sync.Pool
}

func newAccessLog(w io.Writer) *accessLog {
	return &accessLog{w: w, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}}
}

// log writes a line of the form
//
//	2026-12-01T21:10:00.123456Z 10.0.0.9:51234 "GET /path HTTP/1.1" host=app.example.com route=ns/name status=200 bytes=612 duration=0.412ms backend=10.128.0.7:8080
//
// route and backend are "-" when there was none. The query string is left
// out: it often carries tokens.
func (l *accessLog) log(r *http.Request, routeKey string, ep *endpoint, status int, bytes int64, start time.Time, d time.Duration) {
	bp := l.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ' ')
	b = append(b, r.RemoteAddr...)
	b = append(b, ' ', '"')
	b = appendSafe(b, r.Method)
	b = append(b, ' ')
	b = appendSafe(b, r.URL.EscapedPath())
	b = append(b, ' ')
	b = appendSafe(b, r.Proto)
	b = append(b, `" host=`...)
	b = appendSafe(b, r.Host)
	b = append(b, " route="...)
	if routeKey == "" {
		b = append(b, '-')
	} else {
		b = append(b, routeKey...)
	}
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, " duration="...)
	b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
	b = append(b, "ms backend="...)
	if ep == nil {
		b = append(b, '-')
	} else {
		b = append(b, ep.hostport...)
	}
	b = append(b, '\n')
	l.mu.Lock()
	l.w.Write(b)
	l.mu.Unlock()
	*bp = b
	l.bufs.Put(bp)
}

// appendSafe appends s with bytes that could forge or break a log line
// (controls, quotes, spaces, non-ASCII) as %XX.
func appendSafe(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '"' || c >= 0x7f {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
