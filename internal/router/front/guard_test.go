package front

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a handler that remembers every request path it served, so a
// test can tell whether a refused or smuggled request reached it.
type recorder struct {
	mu    sync.Mutex
	paths []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.paths = append(rec.paths, r.URL.Path)
	rec.mu.Unlock()
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	io.WriteString(w, "HANDLER "+r.Method+" "+r.URL.Path+" body="+string(body))
}

func (rec *recorder) seen() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.paths...)
}

// dialers reach the plain and the TLS (HTTP/1.1) port with raw writes.
func dialers(tf *testFront) map[string]func(t *testing.T) net.Conn {
	return map[string]func(t *testing.T) net.Conn{
		"http": func(t *testing.T) net.Conn {
			c, err := net.Dial("tcp", tf.httpAddr)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		"https": func(t *testing.T) net.Conn {
			c, err := tls.Dial("tcp", tf.httpsAddr, &tls.Config{InsecureSkipVerify: true, ServerName: "x.example.com", NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	}
}

// exchange writes raw bytes and reads until the server closes.
func exchange(t *testing.T, c net.Conn, req string, byteByByte bool) string {
	t.Helper()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		if byteByByte {
			for i := 0; i < len(req); i++ {
				if _, err := c.Write([]byte{req[i]}); err != nil {
					return
				}
			}
			return
		}
		c.Write([]byte(req))
	}()
	b, err := io.ReadAll(c)
	if err != nil && !isConnReset(err) {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

func isConnReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// statuses parses the status codes of the responses in a raw stream.
func statuses(t *testing.T, raw string) []int {
	t.Helper()
	var codes []int
	br := bufio.NewReader(strings.NewReader(raw))
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
}

func defaultCert(t *testing.T) *tls.Certificate {
	_, _, pair := newCA(t, "default-ca").leaf(t, "router-default.local")
	return pair
}

func TestAmbiguousFramingIsRefusedBeforeTheHandler(t *testing.T) {
	rec := &recorder{}
	tf := startFront(t, Config{Handler: rec, DefaultCertificate: defaultCert(t)})
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name string
		req  string
		want int
	}{
		{"CL and TE together", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400},
		{"TE and CL together", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + smuggled, 400},
		{"conflicting CL", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 38\r\n\r\nabcd" + smuggled, 400},
		{"duplicate CL", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"CL list", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd", 400},
		{"CL with a sign", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd", 400},
		{"TE xchunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: 38\r\n\r\n" + smuggled, 400},
		{"TE xchunked alone", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
		{"TE chunked, identity", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400},
		{"TE twice", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", 400},
		{"TE folded onto the next line", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE header indented", "POST /a HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"space before the colon", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
		{"obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n", 400},
		{"TE in HTTP/1.0", "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
		{"bare LF line ends", "GET /a HTTP/1.1\nHost: x\n\n", 400},
		{"one bare LF", "GET /a HTTP/1.1\r\nHost: x\nX-B: y\r\n\r\n", 400},
		{"bare CR", "GET /a HTTP/1.1\r\nHost: x\rX-B: y\r\n\r\n", 400},
		{"unknown version", "GET /a HTTP/1.2\r\nHost: x\r\n\r\n", 400},
		{"h2 preface on HTTP/1", "GET /a HTTP/2.0\r\nHost: x\r\n\r\n", 400},
		{"empty line first", "\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"oversized head", "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", DefaultMaxHeaderBytes) + "\r\n\r\n", 431},
	} {
		for proto, dial := range dialers(tf) {
			for _, split := range []bool{false, true} {
				if split && len(tc.req) > 4096 {
					continue
				}
				name := tc.name + "/" + proto
				if split {
					name += "/byte-by-byte"
				}
				t.Run(name, func(t *testing.T) {
					before := len(rec.seen())
					raw := exchange(t, dial(t), tc.req, split)
					got := statuses(t, raw)
					if len(got) != 1 || got[0] != tc.want {
						t.Fatalf("got statuses %v, want exactly [%d]; raw:\n%s", got, tc.want, raw)
					}
					if strings.Contains(raw, "HANDLER") {
						t.Fatalf("the request reached the handler:\n%s", raw)
					}
					if seen := rec.seen(); len(seen) != before {
						t.Fatalf("handler saw %v", seen[before:])
					}
				})
			}
		}
	}
}

func TestWellFormedPipelinedRequestsAllReachTheHandler(t *testing.T) {
	rec := &recorder{}
	tf := startFront(t, Config{Handler: rec, DefaultCertificate: defaultCert(t)})
	// A body that looks like a request is a body; chunk extensions and
	// trailers are legal; OWS around a value is legal.
	req := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\n\r\nGET /evil HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \t chunked \r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: v\r\n\r\n" +
		"GET /c HTTP/1.0\r\nHost: x\r\n\r\n"
	for proto, dial := range dialers(tf) {
		for _, split := range []bool{false, true} {
			t.Run(proto, func(t *testing.T) {
				before := len(rec.seen())
				raw := exchange(t, dial(t), req, split)
				if got := statuses(t, raw); len(got) != 3 || got[0] != 200 || got[1] != 200 || got[2] != 200 {
					t.Fatalf("got statuses %v, want [200 200 200]; raw:\n%s", got, raw)
				}
				for _, want := range []string{"HANDLER POST /a body=GET /evil HTTP/1.1\r\nHost: x\r\n\r\n", "HANDLER POST /b body=helloabc", "HANDLER GET /c body="} {
					if !strings.Contains(raw, want) {
						t.Errorf("missing %q in:\n%s", want, raw)
					}
				}
				if seen := rec.seen()[before:]; strings.Join(seen, ",") != "/a,/b,/c" {
					t.Errorf("handler saw %v, want /a,/b,/c", seen)
				}
			})
		}
	}
}

func TestARefusedRequestFollowsTheAnswersToEarlierOnes(t *testing.T) {
	rec := &recorder{}
	tf := startFront(t, Config{Handler: rec, DefaultCertificate: defaultCert(t)})
	req := "GET /first HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	raw := exchange(t, dialers(tf)["http"](t), req, false)
	if got := statuses(t, raw); len(got) != 2 || got[0] != 200 || got[1] != 400 {
		t.Fatalf("got statuses %v, want [200 400]; raw:\n%s", got, raw)
	}
	if !strings.Contains(raw, "both Content-Length and Transfer-Encoding") {
		t.Errorf("the 400 does not say what is wrong:\n%s", raw)
	}
	if seen := rec.seen(); strings.Join(seen, ",") != "/first" {
		t.Errorf("handler saw %v, want only /first", seen)
	}
}

func TestSlowlorisGets408AndTheConnectionCloses(t *testing.T) {
	rec := &recorder{}
	tf := startFront(t, Config{Handler: rec, DefaultCertificate: defaultCert(t), ReadHeaderTimeout: 300 * time.Millisecond})
	for proto, dial := range dialers(tf) {
		t.Run(proto, func(t *testing.T) {
			c := dial(t)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			// The head starts and never ends.
			if _, err := io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\nX-A: "); err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(c)
			if err != nil && !isConnReset(err) {
				t.Fatalf("the connection was not closed: %v", err)
			}
			if got := statuses(t, string(raw)); len(got) != 1 || got[0] != 408 {
				t.Fatalf("got %v, want [408]; raw:\n%s", got, raw)
			}
		})
	}
	if len(rec.seen()) != 0 {
		t.Errorf("handler saw %v", rec.seen())
	}
}

func TestSlowPostHitsTheClientTimeoutAndTheConnectionCloses(t *testing.T) {
	bodyErr := make(chan error, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		bodyErr <- err
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
		}
	})
	tf := startFront(t, Config{Handler: h, DefaultCertificate: defaultCert(t), ClientTimeout: 300 * time.Millisecond})
	for proto, dial := range dialers(tf) {
		t.Run(proto, func(t *testing.T) {
			c := dial(t)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			// Ten of the hundred promised bytes, then silence.
			if _, err := io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(c); err != nil && !isConnReset(err) {
				t.Fatalf("the connection was not closed: %v", err)
			}
			if err := <-bodyErr; err == nil || !isTimeout(err) {
				t.Fatalf("the handler's body read ended with %v, want a timeout", err)
			}
		})
	}
}

func TestASlowButLiveUploadIsNotCutOff(t *testing.T) {
	rec := &recorder{}
	tf := startFront(t, Config{Handler: rec, DefaultCertificate: defaultCert(t), ClientTimeout: 5 * time.Second})
	c := dialers(tf)["http"](t)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
	for _, b := range "abcde" {
		time.Sleep(20 * time.Millisecond)
		io.WriteString(c, string(b))
	}
	raw, _ := io.ReadAll(c)
	if !strings.Contains(string(raw), "HANDLER POST /up body=abcde") {
		t.Fatalf("got:\n%s", raw)
	}
}
