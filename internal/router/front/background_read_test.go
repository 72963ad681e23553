package front

import (
	"io"
	"log"
	"net"
	"testing"
	"time"
)

// net/http's one-byte background read between requests ends at once with
// nothing instead of parking on the connection; a one-byte read of checked
// bytes already waiting still gets them, and the next request is read as
// usual.
func TestGuardEndsTheBackgroundReadAtOnce(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	g := newGuard(server, DefaultMaxHeaderBytes, true, DefaultClientTimeout, log.New(io.Discard, "", 0))
	go io.WriteString(client, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	n, err := g.Read(buf)
	if err != nil || string(buf[:n]) != "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" {
		t.Fatalf("first request: %q %v", buf[:n], err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var one [1]byte
		// net.Pipe has nothing to read: a read that went to the
		// connection would block until the test's end.
		if n, err := g.Read(one[:]); n != 0 || err != nil {
			t.Errorf("background read: %d %v, want 0 and no error", n, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the one-byte background read blocked on the connection")
	}
	go io.WriteString(client, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	n, err = g.Read(buf)
	if err != nil || string(buf[:n]) != "GET /b HTTP/1.1\r\nHost: x\r\n\r\n" {
		t.Fatalf("next request: %q %v", buf[:n], err)
	}
}
