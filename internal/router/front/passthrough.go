package front

import (
	"errors"
	"hash/fnv"
	"io"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// dialAttempts is how many endpoints a passthrough connection tries.
const dialAttempts = 3

// passthrough forwards a TLS connection, ClientHello included, to one of
// the route's endpoints without decrypting it, and copies bytes both ways
// until both sides are done. The connection belongs to the endpoint it
// was given: later Tables do not move it.
func (f *Front) passthrough(client net.Conn, hello []byte, r *model.Route, t *model.Table) {
	if !f.track(f.tunnels, client) {
		client.Close()
		return
	}
	f.tunnelWG.Add(1)
	defer f.tunnelWG.Done()
	defer f.untrack(f.tunnels, client)

	src := clientAddr(client)
	var tried []netip.AddrPort
	var backend net.Conn
	var lastErr error
	for range dialAttempts {
		ep, ok := pickEndpoint(r, t, src, tried)
		if !ok {
			break
		}
		tried = append(tried, ep)
		d := net.Dialer{Timeout: f.cfg.ConnectTimeout}
		c, err := d.Dial("tcp", ep.String())
		if err == nil {
			backend = c
			break
		}
		lastErr = err
	}
	if backend == nil {
		if lastErr != nil {
			f.cfg.Log.Printf("front: passthrough route %s (%s) for %s: no endpoint answered: %v", r.Key(), r.Host, client.RemoteAddr(), lastErr)
		} else {
			f.cfg.Log.Printf("front: passthrough route %s (%s) for %s: no ready endpoints; closing", r.Key(), r.Host, client.RemoteAddr())
		}
		client.Close()
		return
	}
	_ = client.SetDeadline(time.Time{})
	_ = backend.SetWriteDeadline(time.Now().Add(f.cfg.ConnectTimeout))
	if _, err := backend.Write(hello); err != nil {
		f.cfg.Log.Printf("front: passthrough route %s to %s: %v", r.Key(), backend.RemoteAddr(), err)
		backend.Close()
		client.Close()
		return
	}
	splice(client, backend, f.cfg.TunnelTimeout)
}

// clientAddr is the client's IP, what source balancing hashes.
func clientAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// pickEndpoint chooses an endpoint for a client: first a service among the
// route's weighted backends, then an address of its endpoints. Both picks
// are rendezvous hashes of the client address (HAProxy's "balance source",
// OpenShift's default for passthrough): a client keeps its endpoint while
// it is there, and a change of endpoints moves only the clients of the
// endpoints that changed. Endpoints in skip have failed to connect.
func pickEndpoint(r *model.Route, t *model.Table, src netip.Addr, skip []netip.AddrPort) (netip.AddrPort, bool) {
	key := src.AsSlice()
	var best *model.EndpointPort
	bestScore := math.Inf(-1)
	for _, b := range r.Backends {
		if b.Weight <= 0 {
			continue
		}
		ep := t.Backend(r, b.Service)
		if ep == nil || allSkipped(ep, skip) {
			continue
		}
		// Weighted rendezvous: -w/ln(u) with u uniform in (0,1) from the
		// hash; the highest score wins.
		u := (float64(hash(key, []byte(b.Service))>>11) + 0.5) / (1 << 53)
		if s := -float64(b.Weight) / math.Log(u); s > bestScore {
			best, bestScore = ep, s
		}
	}
	if best == nil {
		return netip.AddrPort{}, false
	}
	var pick netip.AddrPort
	var top uint64
	found := false
	port := uint16(best.Port)
	for _, a := range best.Addrs {
		ap := netip.AddrPortFrom(a, port)
		if contains(skip, ap) {
			continue
		}
		if h := hash(key, a.AsSlice()); !found || h > top {
			pick, top, found = ap, h, true
		}
	}
	return pick, found
}

func allSkipped(ep *model.EndpointPort, skip []netip.AddrPort) bool {
	for _, a := range ep.Addrs {
		if !contains(skip, netip.AddrPortFrom(a, uint16(ep.Port))) {
			return false
		}
	}
	return true
}

func contains(s []netip.AddrPort, a netip.AddrPort) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}

func hash(a, b []byte) uint64 {
	h := fnv.New64a()
	h.Write(a)
	h.Write([]byte{0})
	h.Write(b)
	// fnv's high bits mix poorly for short keys; finish with a
	// multiply-xorshift.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

var spliceBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// splice copies both ways. When one side finishes sending (EOF) the other
// side's write half is closed, so a client that half-closes still gets the
// rest of the answer; when both directions are done, or one fails, both
// connections are closed. A tunnel with no traffic either way for idle is
// closed.
func splice(client, backend net.Conn, idle time.Duration) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	var once sync.Once
	closeBoth := func() { once.Do(func() { client.Close(); backend.Close() }) }
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		err := copyIdle(dst, src, idle, &last)
		if err == nil {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				return
			}
		}
		closeBoth()
	}
	wg.Add(2)
	go pipe(backend, client)
	go pipe(client, backend)
	wg.Wait()
	closeBoth()
}

// copyIdle copies src to dst until EOF (nil) or an error. A read that
// times out while the other direction moved bytes recently is retried.
func copyIdle(dst, src net.Conn, idle time.Duration, last *atomic.Int64) error {
	bp := spliceBufs.Get().(*[]byte)
	defer spliceBufs.Put(bp)
	buf := *bp
	for {
		_ = src.SetReadDeadline(time.Now().Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			_ = dst.SetWriteDeadline(time.Now().Add(idle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil
		case isTimeout(err) && time.Since(time.Unix(0, last.Load())) < idle:
		default:
			return err
		}
	}
}
