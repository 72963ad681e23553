// Command router measures router data planes side by side on this machine,
// in one run: the backend alone (the ceiling), HAProxy 2.6 (Debian) driven
// by internal/router/haproxy with OpenShift's regex host map and with an
// exact map, and Gantry's own router (`gantry router` in its own process
// against a cluster of `gantry start --router=false`, with real Routes,
// Services and EndpointSlices: gantry.go, cluster.go). Each is driven
// with wrk (-t2 -c64 -d10s --latency, as in
// shared/reference/performance.md) and measured by requests per second,
// p99 latency and the proxy process tree's CPU time per request
// (utime+stime from /proc before and after, divided by the requests): on a
// shared machine CPU per request is the figure that stays stable.
//
// Scenarios (issue 6):
//
//	plain HTTP keep-alive, 100 routes, a random route's Host per request
//	edge TLS keep-alive (the default certificate)
//	a new TLS handshake per request (Connection: close)
//	10,000 routes, a random Host per request
//	memory per route: (RSS at 10,000 routes - RSS at 100) / 9,900
//	route create to first 200 at 10,000 routes
//	failed requests while 1,000 routes' endpoints move and routes come
//	and go under load (wrk -c16)
//
// Everything binds loopback (and the node IP gantry start puts on the
// loopback device) only; every process started is stopped by PID. The
// backend is this program re-executed with -serve-backend. With a gantry
// binary the run takes the machine lock of the tests and needs root.
//
//	go run ./bench/router -gantry bin/gantry  # all targets, the targets table
//	go run ./bench/router                     # $GANTRY_BIN or bin/gantry; without one, HAProxy and direct only
//	go run ./bench/router -quick           # 3 s runs, 2,000 routes: a smoke run
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
	"github.com/gantry-dev/gantry/internal/router/haproxy"
	"github.com/gantry-dev/gantry/internal/router/model"
	"github.com/gantry-dev/gantry/test/harness"
)

type options struct {
	duration  time.Duration
	many      int // the "10,000 routes" count
	churn     int // routes under churn
	creates   int // route-create trials
	gantryBin string
	dir       string
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-serve-backend" {
		serveBackend(os.Args[2])
		return
	}
	bin := flag.String("gantry", "", "gantry binary for Gantry's router (default $GANTRY_BIN, else bin/gantry); measured when it has `gantry router`")
	duration := flag.Duration("d", 10*time.Second, "length of each wrk run")
	many := flag.Int("routes", 10000, "routes of the many-routes scenarios")
	quick := flag.Bool("quick", false, "smoke run: 3 s wrk runs, 2,000 routes")
	out := flag.String("out", "bench/results/router.md", "where to write the results (empty: nowhere)")
	flag.Parse()
	o := options{duration: *duration, many: *many, churn: 1000, creates: 3}
	if *quick {
		o.duration, o.many, o.churn, o.creates = 3*time.Second, 2000, 200, 1
	}
	if o.many <= o.churn+1 {
		fail(fmt.Errorf("-routes %d: the many-routes scenarios need more routes than the churn scenario's %d (and its spare one). Try: -routes %d or more", o.many, o.churn, o.churn+2))
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		fail(fmt.Errorf("%w: install wrk (apt-get install -y wrk, or hack/install-deps.sh)", err))
	}
	if p, err := benchutil.Gantry(*bin); err == nil {
		o.gantryBin = p
	}
	dir, err := os.MkdirTemp("", "gantry-bench-router-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	o.dir = dir

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	start := time.Now()
	report, err := run(ctx, o)
	if err != nil {
		fail(err)
	}
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fail(err)
		}
	}
	benchutil.Logf("done in %.0fs", time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/router:", err)
	os.Exit(1)
}

// sample is one measured run of one target.
type sample struct {
	scenario, target string
	wrkResult
	cpuPerReq time.Duration // 0: not measured (direct)
	extra     string
	kib       float64       // memory per route
	median    time.Duration // route create to first 200
}

// bench holds what the scenarios share.
type bench struct {
	o          options
	port       int32 // the backend's port, on 127.0.0.1 and 127.0.0.2 (and the node IP)
	samples    []sample
	notes      []string
	loadBefore string
	cert       *tls.Certificate // the default certificate of both routers
	certFile   string           // it and its key, PEM
	// cluster is gantry start's, when Gantry's router is measured;
	// nodePorts are then the backend's two ports on the node IP.
	cluster   *harness.Cluster
	nodePorts [2]int32
}

var (
	addr1 = netip.MustParseAddr("127.0.0.1")
	addr2 = netip.MustParseAddr("127.0.0.2")
)

func run(ctx context.Context, o options) (string, error) {
	b := &bench{o: o, loadBefore: benchutil.LoadAverage()}
	cert, certFile, err := defaultCertificate(o.dir)
	if err != nil {
		return "", err
	}
	b.cert, b.certFile = cert, certFile
	addrs := []string{"127.0.0.1", "127.0.0.2"}
	// The cluster runs through every target's measurements, not only
	// Gantry's, so that its background work loads all of them alike.
	if o.gantryBin != "" {
		if err := exec.CommandContext(ctx, o.gantryBin, "router", "--help").Run(); err != nil {
			b.notes = append(b.notes, "Gantry's router: not measured: "+o.gantryBin+" has no `router` command")
		} else {
			c, stop, err := harness.StartLocked(ctx, "gantry-bench-router-cluster-", benchutil.Logf, "--router=false")
			if err != nil {
				return "", fmt.Errorf("gantry start: %w", err)
			}
			defer stop()
			b.cluster = c
			addrs = append(addrs, harness.NodeIP)
		}
	} else {
		b.notes = append(b.notes, "Gantry's router: not measured (no gantry binary; build it with `make build` or pass -gantry)")
	}
	port, err := freePort(addrs...)
	if err != nil {
		return "", err
	}
	b.port = int32(port)
	var listen []string
	for _, a := range addrs {
		listen = append(listen, fmt.Sprintf("%s:%d", a, port))
	}
	if b.cluster != nil {
		port2, err := freePort(harness.NodeIP)
		if err != nil {
			return "", err
		}
		b.nodePorts = [2]int32{int32(port), int32(port2)}
		listen = append(listen, fmt.Sprintf("%s:%d", harness.NodeIP, port2))
	}
	be, err := startBackend(listen)
	if err != nil {
		return "", err
	}
	defer be.stop()

	benchutil.Logf("direct to the backend")
	if _, err := b.measure(ctx, "plain HTTP keep-alive", "direct", 0, load{url: fmt.Sprintf("http://127.0.0.1:%d/", port)}); err != nil {
		return "", err
	}
	for _, mode := range []haproxy.MapMode{haproxy.MapRegex, haproxy.MapExact} {
		if err := b.haproxy(ctx, mode); err != nil {
			return "", fmt.Errorf("haproxy (%s map): %w", mode, err)
		}
	}
	// A failure of Gantry's router ends its part of the run, not the
	// report: what was measured until then, and why it stopped, are
	// written.
	if err := b.gantry(ctx); err != nil {
		benchutil.Logf("gantry router: %v", err)
		msg, _, _ := strings.Cut(err.Error(), "\n")
		b.notes = append(b.notes, "**Gantry's router: the run stopped early**: "+msg+" (the router's log is in the bench's output)")
	}
	return b.report(), nil
}

// measure runs wrk against a target whose process tree is pid (0: none)
// after a 2 s warm-up, and records the sample.
func (b *bench) measure(ctx context.Context, scenario, target string, pid int, l load) (sample, error) {
	l.threads, l.dir = 2, b.o.dir
	if l.conns == 0 {
		l.conns = 64
	}
	warm := l
	warm.duration = 2 * time.Second
	if _, err := runWrk(ctx, warm); err != nil {
		return sample{}, err
	}
	l.duration = b.o.duration
	var rt map[string]float64
	if l.goRuntime != nil {
		rt = l.goRuntime()
	}
	before := treeCPU(pid)
	r, err := runWrk(ctx, l)
	if err != nil {
		return sample{}, err
	}
	s := sample{scenario: scenario, target: target, wrkResult: r}
	if pid > 0 && r.Requests > 0 {
		s.cpuPerReq = (treeCPU(pid) - before) / time.Duration(r.Requests)
	}
	if l.goRuntime != nil && r.Requests > 0 {
		after := l.goRuntime()
		alloc := (after["go_memstats_alloc_bytes_total"] - rt["go_memstats_alloc_bytes_total"]) / float64(r.Requests)
		gcs := after["go_gc_duration_seconds_count"] - rt["go_gc_duration_seconds_count"]
		b.notes = append(b.notes, fmt.Sprintf("%s, %s: the Go heap allocated %.0f bytes per request; %.0f collections in %s (live heap %.0f MiB)",
			scenario, target, alloc, gcs, l.duration, after["go_gc_heap_live_bytes"]/(1<<20)))
	}
	b.samples = append(b.samples, s)
	benchutil.Logf("  %s, %s: %.0f req/s, p99 %s, CPU %s/req, %d failed", scenario, target, r.RPS, r.P99, s.cpuPerReq, r.Failed())
	return s, nil
}

// haproxy runs every scenario against HAProxy with one map mode.
func (b *bench) haproxy(ctx context.Context, mode haproxy.MapMode) error {
	target := "haproxy, OpenShift regex map"
	if mode == haproxy.MapExact {
		target = "haproxy, exact map"
	}
	benchutil.Logf("%s", target)
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort("127.0.0.1")
		if err != nil {
			return err
		}
		ports[i] = p
	}
	builder, err := model.NewBuilder(model.Config{RouterName: "bench"})
	if err != nil {
		return err
	}
	r, err := haproxy.New(haproxy.Options{Dir: fmt.Sprintf("%s/haproxy-%s", b.o.dir, mode), BindAddress: "127.0.0.1",
		HTTPPort: ports[0], HTTPSPort: ports[1], StatsPort: ports[2], MapMode: mode, DefaultCertificate: b.cert,
		Logf: func(format string, args ...any) {
			if msg := fmt.Sprintf(format, args...); strings.Contains(msg, "ALERT") {
				benchutil.Logf("  %s", msg)
			}
		}})
	if err != nil {
		return err
	}
	if err := r.Start(ctx, synthetic(builder, 100, nil, addr1, b.port)); err != nil {
		return err
	}
	defer r.Stop()
	pid := r.Pid()
	httpURL := fmt.Sprintf("http://127.0.0.1:%d/", ports[0])
	httpsURL := fmt.Sprintf("https://127.0.0.1:%d/", ports[1])

	if _, err := b.measure(ctx, "plain HTTP keep-alive", target, pid, load{url: httpURL, hosts: 100}); err != nil {
		return err
	}
	rss100, worker100 := treeRSS(pid), treeRSS(pid)-selfRSS(pid)
	if mode == haproxy.MapRegex {
		if _, err := b.measure(ctx, "edge TLS keep-alive", target, pid, load{url: httpsURL, host: edgeHost}); err != nil {
			return err
		}
		if _, err := b.measure(ctx, "TLS handshake per request", target, pid, load{url: httpsURL, host: edgeHost, close: true}); err != nil {
			return err
		}
		if err := b.churn(ctx, r, builder, target, pid, httpURL); err != nil {
			return err
		}
	}

	many := synthetic(builder, b.o.many, nil, addr1, b.port)
	res, err := r.Apply(many)
	if err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("%s: loading %d routes (a reload) took %s", target, b.o.many, res.Duration.Round(time.Millisecond)))
	scen := fmt.Sprintf("%d routes, random Host", b.o.many)
	if _, err := b.measure(ctx, scen, target, pid, load{url: httpURL, hosts: b.o.many}); err != nil {
		return err
	}
	rssMany, workerMany := treeRSS(pid), treeRSS(pid)-selfRSS(pid)
	perRoute := float64(rssMany-rss100) / float64(b.o.many-100)
	perRouteWorker := float64(workerMany-worker100) / float64(b.o.many-100)
	b.samples = append(b.samples, sample{scenario: "memory per route", target: target, kib: perRoute / 1024,
		extra: fmt.Sprintf("%.1f KiB with the master process, %.1f KiB the worker alone (RSS %.0f / %.0f MiB at 100 routes, %.0f / %.0f MiB at %d)",
			perRoute/1024, perRouteWorker/1024, float64(rss100)/(1<<20), float64(worker100)/(1<<20), float64(rssMany)/(1<<20), float64(workerMany)/(1<<20), b.o.many)})

	// Route create to first 200, with the many routes loaded.
	var times []time.Duration
	for i := range b.o.creates {
		n := b.o.many + i
		with := synthetic(builder, b.o.many, []int{n}, addr1, b.port)
		d, err := createToServed(ctx, r, with, httpURL, routeHost(n))
		if err != nil {
			return err
		}
		times = append(times, d)
		if _, err := r.Apply(many); err != nil {
			return err
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	var list []string
	for _, d := range times {
		list = append(list, d.Round(time.Millisecond).String())
	}
	b.samples = append(b.samples, sample{scenario: fmt.Sprintf("route create to first 200 at %d routes", b.o.many), target: target,
		median: times[len(times)/2], extra: fmt.Sprintf("median %s (runs: %s; each a reload)", times[len(times)/2].Round(time.Millisecond), strings.Join(list, ", "))})
	return nil
}

// createToServed applies a table with one more route and returns the time
// until that route's host first answers 200.
func createToServed(ctx context.Context, r *haproxy.Router, t *model.Table, url, host string) (time.Duration, error) {
	start := time.Now()
	errc := make(chan error, 1)
	go func() { _, err := r.Apply(t); errc <- err }()
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Since(start) < 60*time.Second {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Host = host
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				d := time.Since(start)
				return d, <-errc
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, errors.New("the new route was not served within 60s")
}

// churn runs wrk -c16 over churn routes while their endpoints move between
// 127.0.0.1 and 127.0.0.2 (runtime API) and, every fifth step, a route is
// added or removed (a reload).
func (b *bench) churn(ctx context.Context, r *haproxy.Router, builder *model.Builder, target string, pid int, url string) error {
	n := b.o.churn
	tables := map[[2]bool]*model.Table{}
	for _, moved := range []bool{false, true} {
		for _, extra := range []bool{false, true} {
			a := addr1
			if moved {
				a = addr2
			}
			var ex []int
			if extra {
				ex = []int{n}
			}
			tables[[2]bool{moved, extra}] = synthetic(builder, n, ex, a, b.port)
		}
	}
	if _, err := r.Apply(tables[[2]bool{false, false}]); err != nil {
		return err
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	var moves, reloads int
	go func() {
		moved, extra := false, false
		for step := 0; ; step++ {
			select {
			case <-stop:
				done <- nil
				return
			case <-time.After(100 * time.Millisecond):
			}
			if step%5 == 4 {
				extra = !extra
			} else {
				moved = !moved
			}
			res, err := r.Apply(tables[[2]bool{moved, extra}])
			if err != nil {
				done <- err
				return
			}
			if res.Reloaded {
				reloads++
			} else {
				moves++
			}
		}
	}()
	l := load{url: url, hosts: n, conns: 16, threads: 2, dir: b.o.dir, duration: b.o.duration}
	before := treeCPU(pid)
	res, err := runWrk(ctx, l)
	close(stop)
	if cerr := <-done; err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	s := sample{scenario: fmt.Sprintf("churn: %d routes, endpoints move, routes come and go (wrk -c16)", n), target: target, wrkResult: res,
		extra: fmt.Sprintf("%d endpoint moves of all %d routes (runtime API), %d route adds/removes (reloads)", moves, n, reloads)}
	if res.Requests > 0 {
		s.cpuPerReq = (treeCPU(pid) - before) / time.Duration(res.Requests)
	}
	b.samples = append(b.samples, s)
	benchutil.Logf("  churn: %d requests, %d failed; %d moves, %d reloads", res.Requests, res.Failed(), moves, reloads)
	return nil
}
