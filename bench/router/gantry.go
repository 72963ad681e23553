package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
)

// gantryTarget names Gantry's router in the tables.
const gantryTarget = "gantry"

// routerName is the bench router's name in the routes' status.
const routerName = "bench"

// gantry measures Gantry's own router, run as its own process (`gantry
// router --kubeconfig K ...`) against the cluster of `gantry start
// --router=false` that run started, so that its CPU is measured alone, in
// the scenarios and with the wrk settings of HAProxy's. Its routes are
// real API objects: the same hosts, one selector-less Service and
// EndpointSlice per route, as synthetic gives HAProxy.
func (b *bench) gantry(ctx context.Context) error {
	if b.cluster == nil {
		return nil
	}
	benchutil.Logf("%s", gantryTarget)
	o, err := newObjects(b.cluster.Config, b.nodePorts[0])
	if err != nil {
		return err
	}
	if err := o.namespaces(ctx); err != nil {
		return fmt.Errorf("namespaces: %w", err)
	}
	if err := o.service(ctx, -1); err != nil {
		return err
	}
	if err := o.route(ctx, -1); err != nil {
		return err
	}
	if err := b.grow(ctx, o, 0, 100); err != nil {
		return err
	}

	r, err := startRouter(ctx, b.o.dir, b.cluster.Kubeconfig, b.certFile)
	if err != nil {
		return err
	}
	defer r.stop()
	pid := r.cmd.Process.Pid
	for _, h := range []string{routeHost(0), routeHost(99)} {
		if _, err := r.firstOK(ctx, r.httpURL, h, time.Minute); err != nil {
			return err
		}
	}
	if _, err := r.firstOK(ctx, r.httpsURL, edgeHost, time.Minute); err != nil {
		return err
	}
	b.waitAdmitted(ctx, o, 101)

	if _, err := b.measure(ctx, "plain HTTP keep-alive", gantryTarget, pid, load{url: r.httpURL, hosts: 100, goRuntime: r.scrape}); err != nil {
		return err
	}
	rss100, heap100 := treeRSS(pid), r.heap()
	if _, err := b.measure(ctx, "edge TLS keep-alive", gantryTarget, pid, load{url: r.httpsURL, host: edgeHost, goRuntime: r.scrape}); err != nil {
		return err
	}
	if _, err := b.measure(ctx, "TLS handshake per request", gantryTarget, pid, load{url: r.httpsURL, host: edgeHost, close: true, goRuntime: r.scrape}); err != nil {
		return err
	}

	n := b.o.churn
	if err := b.grow(ctx, o, 100, n); err != nil {
		return err
	}
	if _, err := r.firstOK(ctx, r.httpURL, routeHost(n-1), time.Minute); err != nil {
		return err
	}
	b.waitAdmitted(ctx, o, n+1)
	// The route that comes and goes during the churn: its service stays.
	if err := o.service(ctx, n); err != nil {
		return err
	}
	extra, err := b.gantryChurn(ctx, o, pid, r.httpURL)
	if err != nil {
		return err
	}
	if !extra {
		if err := o.route(ctx, n); err != nil {
			return err
		}
	}

	if err := b.grow(ctx, o, n+1, b.o.many); err != nil {
		return err
	}
	if _, err := r.firstOK(ctx, r.httpURL, routeHost(b.o.many-1), 2*time.Minute); err != nil {
		return err
	}
	b.waitAdmitted(ctx, o, b.o.many+1)
	scen := fmt.Sprintf("%d routes, random Host", b.o.many)
	if _, err := b.measure(ctx, scen, gantryTarget, pid, load{url: r.httpURL, hosts: b.o.many, goRuntime: r.scrape}); err != nil {
		return err
	}
	rssMany, heapMany := treeRSS(pid), r.heap()
	perRoute := float64(rssMany-rss100) / float64(b.o.many-100)
	b.samples = append(b.samples, sample{scenario: "memory per route", target: gantryTarget, kib: perRoute / 1024,
		extra: fmt.Sprintf("%.1f KiB (RSS %.0f MiB at 100 routes: %s; %.0f MiB at %d: %s)",
			perRoute/1024, float64(rss100)/(1<<20), heap100, float64(rssMany)/(1<<20), b.o.many, heapMany)})

	// Route create to first 200 with the many routes served: the route's
	// Service and EndpointSlice exist a second before, so the time is the
	// route's alone (API admission, the watch, a new snapshot).
	var times, creates, rebuilt []time.Duration
	for i := range b.o.creates {
		k := b.o.many + i
		if err := o.service(ctx, k); err != nil {
			return err
		}
		time.Sleep(time.Second)
		n0, d0 := r.rebuilds()
		start := time.Now()
		if err := o.route(ctx, k); err != nil {
			return err
		}
		creates = append(creates, time.Since(start))
		if _, err := r.firstOK(ctx, r.httpURL, routeHost(k), time.Minute); err != nil {
			return err
		}
		times = append(times, time.Since(start)) // from before the create call
		n1, d1 := r.rebuilds()
		rebuilt = append(rebuilt, d1-d0)
		benchutil.Logf("  route create to first 200: %s (the create call: %s; route table rebuilds meanwhile: %d taking %s)",
			times[len(times)-1].Round(time.Millisecond), creates[len(creates)-1].Round(time.Millisecond), n1-n0, (d1 - d0).Round(100*time.Microsecond))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	sort.Slice(creates, func(i, j int) bool { return creates[i] < creates[j] })
	sort.Slice(rebuilt, func(i, j int) bool { return rebuilt[i] < rebuilt[j] })
	var list []string
	for _, d := range times {
		list = append(list, d.Round(time.Millisecond).String())
	}
	b.samples = append(b.samples, sample{scenario: fmt.Sprintf("route create to first 200 at %d routes", b.o.many), target: gantryTarget,
		median: times[len(times)/2],
		extra:  fmt.Sprintf("median %s (runs: %s; Route create through the API to the first 200 through the router, no reload; the create call alone: median %s; the router's table rebuilds meanwhile: median %s)", times[len(times)/2].Round(time.Millisecond), strings.Join(list, ", "), creates[len(creates)/2].Round(time.Millisecond), rebuilt[len(rebuilt)/2].Round(100*time.Microsecond))})
	return nil
}

// grow creates routes from..to-1 and notes how long that took.
func (b *bench) grow(ctx context.Context, o *objects, from, to int) error {
	if to <= from {
		return nil
	}
	svc, routes, err := o.grow(ctx, from, to)
	if err != nil {
		return fmt.Errorf("create routes %d..%d: %w", from, to-1, err)
	}
	n := float64(to - from)
	msg := fmt.Sprintf("%d Services + EndpointSlices in %s (%.0f/s each), then %d Routes in %s (%.0f/s), %d writers",
		to-from, svc.Round(100*time.Millisecond), n/svc.Seconds(), to-from, routes.Round(100*time.Millisecond), n/routes.Seconds(), workers)
	benchutil.Logf("  created routes %d..%d: %s", from, to-1, msg)
	if to-from >= 1000 {
		b.notes = append(b.notes, "gantry: created through the API: "+msg)
	}
	return nil
}

// waitAdmitted waits for the router's status writes to be done before a
// measurement (it writes at most 50 a second, so at 10,000 routes this
// takes minutes) and notes how long that took; when they are not done in
// time the measurement goes on and the note says so.
func (b *bench) waitAdmitted(ctx context.Context, o *objects, want int) {
	timeout := time.Minute + time.Duration(want)*time.Second/30
	d, err := o.waitAdmitted(ctx, routerName, want, timeout)
	if err != nil {
		b.notes = append(b.notes, fmt.Sprintf("gantry: status not written to all routes before measuring: %v", err))
		benchutil.Logf("  %v", err)
		return
	}
	benchutil.Logf("  %d routes admitted in the status after %s", want, d.Round(time.Second))
	if want > 1000 {
		b.notes = append(b.notes, fmt.Sprintf("gantry: the router's status writes (50/s client limit) to %d routes were done %s after the last create; measured after them", want, d.Round(time.Second)))
	}
}

// gantryChurn runs wrk -c16 over routes 0..churn-1 while their
// EndpointSlices move between the backend's two ports on the node IP (all
// of them per step, as fast as the API takes them) and, every other
// step, route <churn> is created or deleted. It returns whether that
// route exists at the end.
func (b *bench) gantryChurn(ctx context.Context, o *objects, pid int, url string) (bool, error) {
	n := b.o.churn
	stop := make(chan struct{})
	type result struct {
		moves, partial, flips int
		extra                 bool
		err                   error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		moved := false
		for step := 0; ; step++ {
			select {
			case <-stop:
				done <- res
				return
			case <-time.After(100 * time.Millisecond):
			}
			// Every other step, as moving every EndpointSlice through
			// the API takes about a second (HAProxy's runtime API moves
			// them all at once, so it flips a route every fifth step).
			if step%2 == 1 {
				if res.extra {
					res.err = o.deleteRoute(ctx, n)
				} else {
					res.err = o.route(ctx, n)
				}
				if res.err != nil {
					done <- res
					return
				}
				res.extra = !res.extra
				res.flips++
				continue
			}
			moved = !moved
			port := b.nodePorts[0]
			if moved {
				port = b.nodePorts[1]
			}
			k, err := o.moveEndpoints(ctx, n, port, stop)
			if err != nil {
				res.err = err
				done <- res
				return
			}
			if k == n {
				res.moves++
			} else {
				res.partial++
				moved = !moved // the next step moves the rest back; either port serves
			}
		}
	}()
	l := load{url: url, hosts: n, conns: 16, threads: 2, dir: b.o.dir, duration: b.o.duration}
	before := treeCPU(pid)
	wr, err := runWrk(ctx, l)
	close(stop)
	res := <-done
	if err == nil {
		err = res.err
	}
	if err != nil {
		return res.extra, err
	}
	s := sample{scenario: fmt.Sprintf("churn: %d routes, endpoints move, routes come and go (wrk -c16)", n), target: gantryTarget, wrkResult: wr,
		extra: fmt.Sprintf("%d moves of all %d EndpointSlices through the API (+%d partial), %d route creates/deletes; no reloads", res.moves, n, res.partial, res.flips)}
	if wr.Requests > 0 {
		s.cpuPerReq = (treeCPU(pid) - before) / time.Duration(wr.Requests)
	}
	b.samples = append(b.samples, s)
	benchutil.Logf("  churn: %d requests, %d failed; %d moves (+%d partial), %d route creates/deletes", wr.Requests, wr.Failed(), res.moves, res.partial, res.flips)
	return res.extra, nil
}

// routerProc is a `gantry router` process.
type routerProc struct {
	cmd                        *exec.Cmd
	log                        *os.File
	exited                     chan struct{}
	httpURL, httpsURL, healthz string
	metrics                    string
}

// rebuilds reads the router's route-table rebuilds so far from its
// /metrics: how many and how long they took in all.
func (r *routerProc) rebuilds() (n int, total time.Duration) {
	m := r.scrape()
	return int(m[`gantry_router_table_rebuild_seconds_count{kind="routes"}`]),
		time.Duration(m[`gantry_router_table_rebuild_seconds_sum{kind="routes"}`] * float64(time.Second))
}

// heap is the router's Go heap as its /metrics say: live after the last
// collection, and the goal of the next one, MiB.
func (r *routerProc) heap() string {
	m := r.scrape()
	return fmt.Sprintf("Go heap live %.0f MiB, next GC at %.0f MiB, GC percent %.0f",
		m["go_gc_heap_live_bytes"]/(1<<20), m["go_memstats_next_gc_bytes"]/(1<<20), m["go_gc_gogc_percent"])
}

// scrape reads the router's /metrics, by series; empty when it cannot.
func (r *routerProc) scrape() map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(r.metrics)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// startRouter runs `gantry router` on free loopback ports and waits for
// its /healthz.
func startRouter(ctx context.Context, dir, kubeconfig, cert string) (*routerProc, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort("127.0.0.1")
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	log, err := os.Create(dir + "/gantry-router.log")
	if err != nil {
		return nil, err
	}
	bin := os.Getenv("GANTRY_BIN")
	cmd := exec.Command(bin, "router", "--kubeconfig", kubeconfig, "--name", routerName, "--bind", "127.0.0.1",
		"--http-port", strconv.Itoa(ports[0]), "--https-port", strconv.Itoa(ports[1]), "--stats-port", strconv.Itoa(ports[2]),
		"--default-certificate", cert)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	r := &routerProc{cmd: cmd, log: log, exited: make(chan struct{}),
		httpURL:  fmt.Sprintf("http://127.0.0.1:%d/", ports[0]),
		httpsURL: fmt.Sprintf("https://127.0.0.1:%d/", ports[1]),
		healthz:  fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[2]),
		metrics:  fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2])}
	go func() { cmd.Wait(); close(r.exited) }()
	benchutil.Logf("  gantry router pid %d on %s", cmd.Process.Pid, r.httpURL)
	if _, err := r.firstOK(ctx, r.healthz, "", time.Minute); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// firstOK polls url (with Host host, if given) until it answers 200 and
// returns how long that took.
func (r *routerProc) firstOK(ctx context.Context, url, host string, timeout time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: insecureTransport()}
	defer c.CloseIdleConnections()
	start := time.Now()
	last := "no answer"
	for time.Since(start) < timeout {
		select {
		case <-r.exited:
			return 0, fmt.Errorf("gantry router exited (%s); the end of its log:\n%s", r.why(), r.tail())
		case <-ctx.Done():
			return 0, ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("%s (Host %q) did not answer 200 within %s (last: %s); router log: %s", url, host, timeout, last, r.tail())
}

// tail is the end of the router's log.
func (r *routerProc) tail() string {
	b, _ := os.ReadFile(r.log.Name())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// why is the first fatal error or panic line of the router's log.
func (r *routerProc) why() string {
	b, _ := os.ReadFile(r.log.Name())
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") {
			return line
		}
	}
	return "no fatal error in its log"
}

// stop ends the router by its PID: SIGTERM, SIGKILL after 10 s.
func (r *routerProc) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
	r.log.Close()
}

// insecureTransport accepts the bench's self-signed default certificate.
func insecureTransport() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
}
