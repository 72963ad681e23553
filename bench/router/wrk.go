package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// load is one wrk run.
type load struct {
	url         string
	threads     int
	conns       int
	duration    time.Duration
	hosts       int    // >0: a random Host among the synthetic routes' first hosts per request
	host        string // else this Host header, if set
	close       bool   // Connection: close: a new connection (and TLS handshake) per request
	script, dir string
	// goRuntime, when set, is a Go proxy's /metrics: its allocation and
	// collections over the run are noted.
	goRuntime func() map[string]float64
}

// wrkResult is what wrk printed.
type wrkResult struct {
	Requests   int64
	Seconds    float64
	RPS        float64
	P99        time.Duration
	Non2xx     int64
	SocketErrs int64
}

// Failed is every request that did not get a 2xx or 3xx answer.
func (r wrkResult) Failed() int64 { return r.Non2xx + r.SocketErrs }

// hostsLua picks a random Host among the first NHOSTS synthetic route hosts
// for every request (the shape of performance.md's hosts.lua).
const hostsLua = `local n = tonumber(os.getenv("NHOSTS"))
local hosts = {}
for i = 0, n - 1 do hosts[i + 1] = string.format("r%d-ns%d.apps.example.com", i, i % 100) end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format(nil, nil, { Host = hosts[math.random(n)] })
end
`

// runWrk runs wrk, bounded by timeout, and parses its report.
func runWrk(ctx context.Context, l load) (wrkResult, error) {
	args := []string{"-t" + strconv.Itoa(l.threads), "-c" + strconv.Itoa(l.conns),
		"-d" + strconv.Itoa(int(l.duration.Seconds())) + "s", "--latency"}
	env := os.Environ()
	if l.hosts > 0 {
		script := filepath.Join(l.dir, "hosts.lua")
		if err := os.WriteFile(script, []byte(hostsLua), 0o644); err != nil {
			return wrkResult{}, err
		}
		args = append(args, "-s", script)
		env = append(env, "NHOSTS="+strconv.Itoa(l.hosts))
	} else if l.host != "" {
		args = append(args, "-H", "Host: "+l.host)
	}
	if l.close {
		args = append(args, "-H", "Connection: close")
	}
	args = append(args, l.url)
	ctx, cancel := context.WithTimeout(ctx, l.duration+50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return parseWrk(string(out))
}

var (
	reTotal  = regexp.MustCompile(`(\d+) requests in ([\d.]+)(\w+),`)
	reRPS    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reP99    = regexp.MustCompile(`\n\s+99%\s+([\d.]+)(us|ms|s)\b`)
	reNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reSock   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := reTotal.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk printed no request count:\n%s", out)
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	r.Seconds, _ = strconv.ParseFloat(m[2], 64)
	switch m[3] {
	case "ms":
		r.Seconds /= 1000
	case "m":
		r.Seconds *= 60
	}
	if m := reRPS.FindStringSubmatch(out); m != nil {
		r.RPS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reP99.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[2]]
		r.P99 = time.Duration(v * float64(unit))
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reSock.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrs += n
		}
	}
	return r, nil
}
