package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tunnel finishes a protocol switch (WebSocket or any other Upgrade): the
// backend answered 101, so the client connection is taken over and bytes
// are copied both ways until either side closes or nothing moves for the
// tunnel timeout (HAProxy's "timeout tunnel", 1h by default).
func (p *Proxy) tunnel(w http.ResponseWriter, c *backendConn, reqUpgrade string) (int64, error) {
	defer c.close()
	if c.writer != nil {
		// A request body with an upgrade: the backend switched before
		// reading it all, which leaves nothing sane to tunnel.
		c.nc.Close()
		<-c.writer
		c.writer = nil
		return 0, errUpgrade("the backend switched protocols before the request body was sent")
	}
	got := c.resp.upgrade
	if !strings.EqualFold(got, reqUpgrade) {
		return 0, errUpgrade("the backend switched to " + got + ", the client asked for " + reqUpgrade)
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return 0, errUpgrade("the client connection cannot be taken over: " + err.Error())
	}
	defer conn.Close()
	conn.SetDeadline(time.Time{}) // the server's read/write timeouts do not apply to a tunnel
	c.nc.SetDeadline(time.Time{})

	h := c.resp.header()
	h["Connection"] = valUpgrade
	h["Upgrade"] = []string{got}
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	h.Write(brw)
	brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		return 0, nil
	}

	back := c.nc
	var once sync.Once
	closeBoth := func() { once.Do(func() { conn.Close(); back.Close() }) }
	idle := time.AfterFunc(p.cfg.TunnelTimeout, closeBoth)
	defer idle.Stop()
	done := make(chan int64, 2)
	// Bytes the backend sent right after its 101 are in c.br already.
	go func() { done <- p.pipe(back, brw.Reader, idle); closeBoth() }()
	go func() { done <- p.pipe(conn, c.br, idle); closeBoth() }()
	n := <-done
	n += <-done
	return n, nil
}

// pipe copies src to dst with a pooled buffer, restarting the idle timer
// on every chunk, and returns the bytes copied.
func (p *Proxy) pipe(dst io.Writer, src io.Reader, idle *time.Timer) int64 {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			idle.Reset(p.cfg.TunnelTimeout)
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n
			}
			n += int64(k)
		}
		if err != nil {
			return n
		}
	}
}

type errUpgrade string

func (e errUpgrade) Error() string { return "upgrade: " + string(e) }
