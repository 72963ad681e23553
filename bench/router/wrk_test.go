package main

import (
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := `Running 10s test @ http://127.0.0.1:18181/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.07ms    1.10ms  30.00ms   90.00%
    Req/Sec    13.6k     1.2k    16.0k    70.00%
  Latency Distribution
     50%    1.76ms
     75%    2.20ms
     90%    3.00ms
     99%    6.30ms
  271420 requests in 10.00s, 33.40MB read
  Socket errors: connect 0, read 16, write 0, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:  27142.00
Transfer/sec:      3.34MB
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 271420, Seconds: 10, RPS: 27142, P99: 6300 * time.Microsecond, Non2xx: 5, SocketErrs: 18}
	if r != want {
		t.Errorf("parseWrk = %+v, want %+v", r, want)
	}
	if r.Failed() != 23 {
		t.Errorf("Failed = %d, want 23", r.Failed())
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Error("no error for a wrk output without a request count")
	}
}
