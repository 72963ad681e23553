package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
)

// rawBackend is a backend on 127.0.0.1 scripted at the byte level, for the
// framing cases a net/http server never produces. serve gets each
// accepted connection (numbered from 1) and owns it.
type rawBackend struct {
	ln    net.Listener
	port  int32
	conns atomic.Int64
}

func startRaw(t *testing.T, serve func(n int64, c net.Conn, br *bufio.Reader)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln, port: int32(ln.Addr().(*net.TCPAddr).Port)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close() // the proxy's idle pool keeps them open
		}
		mu.Unlock()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := b.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	return b
}

// readReq reads one request head and its body.
func readReq(br *bufio.Reader) (*http.Request, string, error) {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(r.Body)
	return r, string(body), err
}

func rawProxy(t *testing.T, port int32, annotations map[string]string) *Proxy {
	t.Helper()
	r := newRoute("p", "raw", "raw.example.com", "web")
	r.Annotations = annotations
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, netipLoopback)}))
	return p
}

func TestKeepAliveReusesOneBackendConnection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	remotes := map[string]int{}
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			remotes[r.RemoteAddr]++
			mu.Unlock()
			io.WriteString(w, "ok")
		})
	}, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{newRoute("p", "ka", "ka.example.com", "web")}, services{"p/web": svc(port, bs[0].addr)}))
	for i := 0; i < 20; i++ {
		if got := do(p, "GET", "http://ka.example.com/", nil); got.code != 200 || got.body != "ok" {
			t.Fatalf("request %d: %d %q", i, got.code, got.body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Fatalf("20 sequential requests used %d backend connections, want 1: %v", len(remotes), remotes)
	}
}

// A backend that closes every keep-alive connection right after its
// answer, without saying so: the next request on the pooled connection
// meets EOF before any response byte and is sent again on a new one.
func TestStaleConnectionIsRetriedOnANewOne(t *testing.T) {
	t.Parallel()
	closed := make(chan int64, 16)
	b := startRaw(t, func(n int64, c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", n%10)
		c.Close()
		closed <- n
	})
	p := rawProxy(t, b.port, nil)
	for i := 1; i <= 5; i++ {
		got := do(p, "GET", "http://raw.example.com/", nil)
		if got.code != 200 {
			t.Fatalf("request %d: %d %q, want 200 (a stale pooled connection must be retried)", i, got.code, got.body)
		}
	}
	if n := b.conns.Load(); n != 5 {
		t.Errorf("backend accepted %d connections, want 5 (one per request)", n)
	}
	// A body request after the backend closed an idle connection: the
	// close is seen before the body is read, so it goes on a new one.
	// (Had the close not arrived yet, the body would be consumed and the
	// request could not be sent again: a 502, as http.Transport gives.)
	for n := int64(0); n != 5; n = <-closed {
	}
	got := do(p, "POST", "http://raw.example.com/", func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader("payload"))
		r.ContentLength = 7
	})
	if got.code != 200 {
		t.Fatalf("POST after a stale connection: %d %q", got.code, got.body)
	}
}

// A new connection that fails before any response byte is not retried:
// the backend may have acted on the request.
func TestFailureOnANewConnectionIsNotResent(t *testing.T) {
	t.Parallel()
	var reqs atomic.Int64
	b := startRaw(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err == nil {
			reqs.Add(1)
		}
	})
	p := rawProxy(t, b.port, nil)
	if got := do(p, "GET", "http://raw.example.com/", nil); got.code != 502 {
		t.Fatalf("backend closed without answering: %d %q, want 502", got.code, got.body)
	}
	if n := reqs.Load(); n != 1 {
		t.Fatalf("the backend got the request %d times, want 1", n)
	}
}

func TestChunkedResponseWithTrailersThenReuse(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	remotes := map[string]bool{}
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			remotes[r.RemoteAddr] = true
			mu.Unlock()
			w.Header().Set("Trailer", "X-Sum")
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "part %d;", i)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "3 parts")
		})
	}, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{newRoute("p", "ch", "ch.example.com", "web")}, services{"p/web": svc(port, bs[0].addr)}))
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = "ch.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "part 0;part 1;part 2;" {
			t.Fatalf("chunked body %q %v", body, err)
		}
		if got := resp.Trailer.Get("X-Sum"); got != "3 parts" {
			t.Errorf("trailer X-Sum %q, want %q", got, "3 parts")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Errorf("2 chunked responses used %d backend connections, want 1", len(remotes))
	}
}

// A chunked request's trailers reach the backend after its body, over
// HTTP/1.1 and over HTTP/2.
func TestRequestTrailersAreForwarded(t *testing.T) {
	t.Parallel()
	got := make(chan string, 4)
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			got <- fmt.Sprintf("%s sum=%q te=%v", body, r.Trailer.Get("X-Sum"), r.TransferEncoding)
		})
	}, nil)
	p, _ := newProxy(t, Config{})
	r := newRoute("p", "tr", "tr.example.com", "web")
	r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge}
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	front := httptest.NewUnstartedServer(p)
	front.EnableHTTP2 = true
	front.StartTLS()
	t.Cleanup(front.Close)
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		c := front.Client()
		if proto == "HTTP/1.1" {
			tr := c.Transport.(*http.Transport).Clone()
			tr.ForceAttemptHTTP2 = false
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
			c = &http.Client{Transport: tr}
		}
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", front.URL+"/", pr)
		req.Host = "tr.example.com"
		req.Trailer = http.Header{"X-Sum": nil}
		go func() {
			io.WriteString(pw, "a;b;")
			req.Trailer.Set("X-Sum", "2 parts")
			pw.Close()
		}()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		resp.Body.Close()
		if resp.Proto != proto || resp.StatusCode != 200 {
			t.Fatalf("%s: got %s %d", proto, resp.Proto, resp.StatusCode)
		}
		if g, want := <-got, `a;b; sum="2 parts" te=[chunked]`; g != want {
			t.Errorf("%s: the backend got %s, want %s", proto, g, want)
		}
	}
}

// HEAD, 204 and 304 have no body whatever their headers say, and 1xx
// answers are skipped: all on one connection, which stays in step (the
// last GET would read the wrong bytes otherwise).
func TestBodylessResponsesAndInterim1xxKeepTheConnectionInStep(t *testing.T) {
	t.Parallel()
	b := startRaw(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := readReq(br)
			if err != nil {
				return
			}
			switch r.URL.Path {
			case "/head":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Case: head\r\n\r\n")
			case "/204":
				io.WriteString(c, "HTTP/1.1 204 No Content\r\nX-Case: 204\r\n\r\n")
			case "/304":
				io.WriteString(c, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nX-Case: 304\r\n\r\n")
			case "/1xx":
				io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"+
					"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Case: 1xx\r\n\r\nfinal")
			default:
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast")
			}
		}
	})
	p := rawProxy(t, b.port, nil)
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"HEAD", "/head", 200, ""},
		{"GET", "/204", 204, ""},
		{"GET", "/304", 304, ""},
		{"GET", "/1xx", 200, "final"},
		{"GET", "/", 200, "last"},
	} {
		got := do(p, tc.method, "http://raw.example.com"+tc.path, nil)
		if got.code != tc.code || got.body != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, got.code, got.body, tc.code, tc.body)
		}
		if tc.path == "/1xx" && got.header.Get("Link") != "" {
			t.Errorf("a 103's header leaked into the final response: Link %q", got.header.Get("Link"))
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Errorf("backend accepted %d connections, want 1", n)
	}
}

// A response without Content-Length or chunking runs to the close: it is
// read whole, and its connection is not reused.
func TestResponseWithoutLengthIsReadToEOF(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789", 10000)
	b := startRaw(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"+big)
	})
	p := rawProxy(t, b.port, nil)
	for i := 0; i < 2; i++ {
		if got := do(p, "GET", "http://raw.example.com/", nil); got.code != 200 || got.body != big {
			t.Fatalf("request %d: %d, %d bytes, want 200 and %d bytes", i, got.code, len(got.body), len(big))
		}
	}
	if n := b.conns.Load(); n != 2 {
		t.Errorf("backend accepted %d connections, want 2 (a close-delimited response ends its connection)", n)
	}
}

func TestMalformedResponsesGive502(t *testing.T) {
	t.Parallel()
	for name, resp := range map[string]string{
		"conflicting lengths": "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"not HTTP":            "SSH-2.0-OpenSSH_9.2\r\n\r\n",
		"space before colon":  "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := startRaw(t, func(_ int64, c net.Conn, br *bufio.Reader) {
				if _, _, err := readReq(br); err == nil {
					io.WriteString(c, resp)
				}
			})
			if got := do(rawProxy(t, b.port, nil), "GET", "http://raw.example.com/", nil); got.code != 502 {
				t.Errorf("%q: %d %q, want 502", resp, got.code, got.body)
			}
		})
	}
}

// Request bodies are streamed: the backend has the first part before the
// client has sent the second. A body of unknown length goes chunked, one
// of known length with its Content-Length.
func TestRequestBodiesAreStreamed(t *testing.T) {
	t.Parallel()
	gotFirst := make(chan struct{}, 1)
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 6)
			if _, err := io.ReadFull(r.Body, buf); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			gotFirst <- struct{}{}
			rest, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "cl=%d te=%v body=%s%s", r.ContentLength, r.TransferEncoding, buf, rest)
		})
	}, nil)
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{newRoute("p", "up", "up.example.com", "web")}, services{"p/web": svc(port, bs[0].addr)}))
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)

	post := func(body io.Reader, length int64) string {
		req, _ := http.NewRequest("POST", front.URL+"/upload", body)
		req.Host = "up.example.com"
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	for _, length := range []int64{-1, 12} {
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte("first:"))
			<-gotFirst // the backend has it: the router did not wait for the end
			pw.Write([]byte("second"))
			pw.Close()
		}()
		want := "200 cl=12 te=[] body=first:second"
		if length < 0 {
			want = "200 cl=-1 te=[chunked] body=first:second"
		}
		if got := post(pr, length); got != want {
			t.Errorf("length %d: %q, want %q", length, got, want)
		}
	}
}

// The route timeout counts inactivity: a response that keeps flowing
// outlives it, one that stalls halfway is cut (the client must not take
// it for complete).
func TestRouteTimeoutIsInactivityOnTheResponseBody(t *testing.T) {
	t.Parallel()
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "40")
			for i := 0; i < 4; i++ {
				if r.URL.Path == "/stall" && i == 2 {
					select {
					case <-stall:
					case <-r.Context().Done():
					}
					return
				}
				io.WriteString(w, "0123456789")
				w.(http.Flusher).Flush()
				time.Sleep(150 * time.Millisecond) // each pause under the timeout, all of them over it
			}
		})
	}, nil)
	r := newRoute("p", "slow", "slow.example.com", "web")
	r.Annotations = map[string]string{"haproxy.router.openshift.io/timeout": "400ms"}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	get := func(path string) (string, error) {
		req, _ := http.NewRequest("GET", front.URL+path, nil)
		req.Host = "slow.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get("/flowing"); err != nil || len(body) != 40 {
		t.Errorf("a response flowing for longer than the timeout: %d bytes, %v; want all 40", len(body), err)
	}
	if body, err := get("/stall"); err == nil {
		t.Errorf("a response stalled past the timeout arrived as complete (%d bytes)", len(body))
	}
}

// Requests that arrived over HTTP/2 (edge TLS with h2) go to the backend as
// HTTP/1.1: target, Host, headers and a body of unknown length (chunked)
// all make it, and X-Forwarded-Proto-Version says h2.
func TestHTTP2ClientsReachAnHTTP1Backend(t *testing.T) {
	t.Parallel()
	port, bs := startBackends(t, 1, func(b *backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s host=%s v=%s body=%s", r.Proto, r.Method, r.RequestURI, r.Host, r.Header.Get("X-Forwarded-Proto-Version"), body)
		})
	}, nil)
	r := newRoute("p", "h2", "h2.example.com", "web")
	r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge}
	p, _ := newProxy(t, Config{})
	p.Update(buildTable(t, []*routev1.Route{r}, services{"p/web": svc(port, bs[0].addr)}))
	front := httptest.NewUnstartedServer(p)
	front.EnableHTTP2 = true
	front.StartTLS()
	t.Cleanup(front.Close)
	client := front.Client()
	for _, tc := range []struct {
		method string
		body   io.Reader
		want   string
	}{
		{"GET", nil, "HTTP/1.1 GET /a%2Fb?q=1 host=h2.example.com v=h2 body="},
		{"POST", io.MultiReader(strings.NewReader("streamed "), strings.NewReader("body")), "HTTP/1.1 POST /a%2Fb?q=1 host=h2.example.com v=h2 body=streamed body"},
	} {
		req, _ := http.NewRequest(tc.method, front.URL+"/a%2Fb?q=1", tc.body)
		req.Host = "h2.example.com"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("the client spoke %s, want HTTP/2", resp.Proto)
		}
		if string(b) != tc.want {
			t.Errorf("%s over h2: %q, want %q", tc.method, b, tc.want)
		}
	}
}

func TestReapClosesOnlyLongIdleConnections(t *testing.T) {
	t.Parallel()
	var closed atomic.Int64
	pool := newConnPool(nil)
	now := time.Now()
	for _, idle := range []time.Duration{2 * idleConnTimeout, idleConnTimeout + time.Second, time.Second} {
		c1, c2 := net.Pipe()
		t.Cleanup(func() { c1.Close(); c2.Close() })
		go func() { io.Copy(io.Discard, c2); closed.Add(1) }()
		pool.idle = append(pool.idle, &backendConn{nc: c1, idleSince: now.Add(-idle), pool: pool})
	}
	pool.reap(now)
	if len(pool.idle) != 1 || now.Sub(pool.idle[0].idleSince) != time.Second {
		t.Fatalf("after reaping %d idle connections are left, want only the one idle for 1s", len(pool.idle))
	}
	waitFor(t, func() bool { return closed.Load() == 2 }, "the two long-idle connections to close")
}
