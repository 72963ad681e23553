// Command routerperf measures the CPU the router's data plane (front +
// proxy, no control plane) spends per request on loopback: it starts a
// trivial backend and a router as separate processes (itself, re-executed),
// drives the router with wrk, and divides the router process's utime+stime
// by the requests wrk completed. CPU per request is the figure that stays
// stable on a shared machine; req/s and p99 are printed too but depend on
// what else runs.
//
//	go run ./hack/routerperf -mode plain -d 10s -c 32
//	go run ./hack/routerperf -mode edge
//	go run ./hack/routerperf -mode plain -routes 10000   # random host per request
//
// It binds 127.0.0.1 only and stops every process it starts by PID.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/internal/router/front"
	"github.com/gantry-dev/gantry/internal/router/model"
	"github.com/gantry-dev/gantry/internal/router/proxy"
)

func main() {
	role := flag.String("role", "driver", "driver, backend or router (the last two are started by the driver)")
	mode := flag.String("mode", "plain", "plain (HTTP keep-alive) or edge (TLS keep-alive)")
	backend := flag.String("backend", "", "router role: the backend's host:port")
	routes := flag.Int("routes", 1, "routes in the Table; with more than 1 each request picks a random host")
	dur := flag.Duration("d", 10*time.Second, "wrk duration")
	conns := flag.Int("c", 32, "wrk connections")
	threads := flag.Int("t", 1, "wrk threads")
	warm := flag.Duration("warmup", 2*time.Second, "wrk warm-up run before measuring")
	profile := flag.String("cpuprofile", "", "write the router process's CPU profile of the measured run here")
	rate := flag.Int("rate", 0, "requests per second in total at a fixed rate (a Go client, -c connections) instead of wrk at saturation; reports p50/p99")
	procs := flag.Int("router-procs", 0, "GOMAXPROCS of the router process (0: Go's default)")
	ref := flag.Bool("haproxy", false, "measure Debian's haproxy (nbthread 2, an OpenShift-like backend section) instead of Gantry's router, in the same way")
	flag.Parse()
	switch *role {
	case "backend":
		runBackend()
	case "router":
		if *procs > 0 {
			runtime.GOMAXPROCS(*procs)
		}
		runRouter(*backend, *mode, *routes, *profile)
	case "driver":
		if err := drive(*mode, *routes, *dur, *warm, *conns, *threads, *profile, *ref, *procs, *rate); err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatalf("unknown -role %q. Try: driver (the default)", *role)
	}
}

// runBackend answers every request with 13 bytes, as the reference
// measurements in shared/reference/performance.md do.
func runBackend() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	body := []byte("hello, world\n")
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain"}
		w.Write(body)
	})))
}

func host(i int) string { return fmt.Sprintf("route%d-ns%d.apps.example.com", i, i%100) }

func runRouter(backend, mode string, n int, profile string) {
	if profile != "" {
		// The driver sends SIGUSR1 to start the profile and SIGUSR2 to
		// stop it, around the measured run.
		sig := make(chan os.Signal, 2)
		signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
		go func() {
			var f *os.File
			for s := range sig {
				if s == syscall.SIGUSR1 {
					f, _ = os.Create(profile)
					pprof.StartCPUProfile(f)
				} else if f != nil {
					pprof.StopCPUProfile()
					f.Close()
					fmt.Fprintln(os.Stderr, "profile written")
				}
			}
		}()
	}
	ap, err := netip.ParseAddrPort(backend)
	if err != nil {
		log.Fatalf("-backend %q: %v", backend, err)
	}
	var rs []*routev1.Route
	for i := 0; i < n; i++ {
		r := &routev1.Route{}
		r.Namespace, r.Name, r.UID = fmt.Sprintf("ns%d", i%100), fmt.Sprintf("route%d", i), types.UID(fmt.Sprint("uid-", i))
		r.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		r.Spec.Host = host(i)
		r.Spec.To = routev1.RouteTargetReference{Kind: "Service", Name: "web"}
		r.Spec.WildcardPolicy = routev1.WildcardPolicyNone
		if mode == "edge" {
			r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge}
		}
		rs = append(rs, r)
	}
	b, err := model.NewBuilder(model.Config{RouterName: "perf"})
	if err != nil {
		log.Fatal(err)
	}
	snap, _ := b.Build(rs, nil)
	tab := &model.Table{Routes: snap, Endpoints: map[string]*model.ServiceEndpoints{}}
	for i := 0; i < 100 && i < n; i++ {
		tab.Endpoints[fmt.Sprintf("ns%d/web", i)] = &model.ServiceEndpoints{Ports: []model.EndpointPort{{Port: int32(ap.Port()), Addrs: []netip.Addr{ap.Addr()}}}}
	}
	proxy.SetRuntimeDefaults()
	p, err := proxy.New(proxy.Config{})
	if err != nil {
		log.Fatal(err)
	}
	p.Update(tab)
	cert := selfSigned()
	f, err := front.New(front.Config{Handler: p, DefaultCertificate: &cert, Log: log.New(io.Discard, "", 0)})
	if err != nil {
		log.Fatal(err)
	}
	f.Update(tab)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	if mode == "edge" {
		err = f.ServeHTTPS(ln)
	} else {
		err = f.ServeHTTP(ln)
	}
	log.Fatal(err)
}

func selfSigned() tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "router"}, DNSNames: []string{"*.apps.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// child is a process the driver started; stop kills it by PID.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func start(args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%v did not print its address: %v", args, err)
	}
	return &child{cmd: cmd, addr: strings.TrimSpace(line)}, nil
}

func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// cpu is a process's utime+stime from /proc.
func cpu(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * (time.Second / 100), nil // USER_HZ is 100 on Linux
}

const hostsLua = `
local n = tonumber(os.getenv("NHOSTS"))
math.randomseed(os.time())
request = function()
  local i = math.random(0, n - 1)
  return wrk.format("GET", "/", {["Host"] = "route" .. i .. "-ns" .. (i % 100) .. ".apps.example.com"})
end
`

func drive(mode string, n int, dur, warm time.Duration, conns, threads int, profile string, ref bool, procs, rate int) error {
	if mode != "plain" && mode != "edge" {
		return fmt.Errorf("-mode %q: use plain or edge", mode)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	be, err := start("-role", "backend")
	if err != nil {
		return err
	}
	defer be.stop()
	var rt *child
	if ref {
		rt, err = startHAProxy(be.addr, mode)
	} else {
		rt, err = start("-role", "router", "-backend", be.addr, "-mode", mode, "-routes", strconv.Itoa(n), "-cpuprofile", profile, "-router-procs", strconv.Itoa(procs))
	}
	if err != nil {
		return err
	}
	defer rt.stop()
	scheme := "http"
	if mode == "edge" {
		scheme = "https"
	}
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "--latency"}
	env := os.Environ()
	if n > 1 {
		dir, err := os.MkdirTemp("", "routerperf")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		script := filepath.Join(dir, "hosts.lua")
		if err := os.WriteFile(script, []byte(hostsLua), 0o644); err != nil {
			return err
		}
		args = append(args, "-s", script)
		env = append(env, "NHOSTS="+strconv.Itoa(n))
	} else {
		args = append(args, "-H", "Host: "+host(0))
	}
	target := scheme + "://" + rt.addr + "/"
	if rate > 0 {
		return fixedRate(rt, be, target, host(0), ref, mode, dur, warm, conns, rate)
	}
	run := func(d time.Duration) (string, error) {
		a := append(append([]string{}, args...), "-d", d.String(), target)
		cmd := exec.CommandContext(ctx, "wrk", a...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("wrk: %v\n%s", err, out)
		}
		return string(out), nil
	}
	if warm > 0 {
		if _, err := run(warm); err != nil {
			return err
		}
	}
	c0, err := cpu(rt.cmd.Process.Pid)
	if err != nil {
		return err
	}
	b0, _ := cpu(be.cmd.Process.Pid)
	if profile != "" {
		rt.cmd.Process.Signal(syscall.SIGUSR1)
	}
	out, err := run(dur)
	if err != nil {
		return err
	}
	if profile != "" {
		rt.cmd.Process.Signal(syscall.SIGUSR2)
		time.Sleep(500 * time.Millisecond)
	}
	c1, err := cpu(rt.cmd.Process.Pid)
	if err != nil {
		return err
	}
	b1, _ := cpu(be.cmd.Process.Pid)
	m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out)
	if m == nil {
		return errors.New("no request count in wrk's output:\n" + out)
	}
	reqs, _ := strconv.ParseFloat(m[1], 64)
	p99 := "?"
	if m := regexp.MustCompile(`\s99%\s+(\S+)`).FindStringSubmatch(out); m != nil {
		p99 = m[1]
	}
	non2xx := "0"
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindStringSubmatch(out); m != nil {
		non2xx = m[1]
	}
	errs := "0"
	if m := regexp.MustCompile(`Socket errors: (.*)`).FindStringSubmatch(out); m != nil {
		errs = m[1]
	}
	who := "gantry"
	if ref {
		who = "haproxy"
	}
	fmt.Printf("proxy=%s mode=%s routes=%d requests=%.0f req/s=%.0f p99=%s router_cpu_us/req=%.1f backend_cpu_us/req=%.1f non2xx=%s socket_errors=%s\n",
		who, mode, n, reqs, reqs/dur.Seconds(), p99, float64((c1-c0).Microseconds())/reqs, float64((b1-b0).Microseconds())/reqs, non2xx, errs)
	return nil
}

// startHAProxy runs haproxy in the foreground with the settings of
// OpenShift's template router that apply to one plain or edge route: HTTP
// keep-alive both sides, forwarded headers, an inserted sticky cookie.
func startHAProxy(backend, mode string) (*child, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "routerperf-haproxy")
	if err != nil {
		return nil, err
	}
	bind := "bind " + addr
	proto := "http"
	if mode == "edge" {
		cert := selfSigned()
		kb, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
		if err != nil {
			return nil, err
		}
		pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
		if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pemData, 0o600); err != nil {
			return nil, err
		}
		bind += " ssl crt " + filepath.Join(dir, "cert.pem") + " alpn http/1.1"
		proto = "https"
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	cfg := `global
  nbthread 2
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 300s
frontend fe
  ` + bind + `
  default_backend be
backend be
  option forwardfor
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header X-Forwarded-Port ` + port + `
  http-request set-header X-Forwarded-Proto ` + proto + `
  http-request add-header Forwarded for=%[src];host=%[req.hdr(host)];proto=` + proto + `
  cookie 0a1b2c3d insert indirect nocache httponly
  http-reuse safe
  server pod ` + backend + ` cookie 5e6f7a8b
`
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("haproxy", "-db", "-f", cfgPath)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("haproxy did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &child{cmd: cmd, addr: addr}, nil
}

// fixedRate sends rate requests per second over conns keep-alive
// connections (each paced on its own ticker) and reports the latency
// percentiles and the proxy's CPU per request.
func fixedRate(rt, be *child, target, hostHeader string, ref bool, mode string, dur, warm time.Duration, conns, rate int) error {
	interval := time.Duration(float64(time.Second) * float64(conns) / float64(rate))
	measure := func(d time.Duration) ([]time.Duration, int) {
		var mu sync.Mutex
		var lat []time.Duration
		failed := 0
		var wg sync.WaitGroup
		stop := time.Now().Add(d)
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr := &http.Transport{MaxIdleConnsPerHost: 1, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
				defer tr.CloseIdleConnections()
				c := &http.Client{Transport: tr}
				tk := time.NewTicker(interval)
				defer tk.Stop()
				for now := range tk.C {
					if now.After(stop) {
						return
					}
					req, _ := http.NewRequest("GET", target, nil)
					req.Host = hostHeader
					t0 := time.Now()
					resp, err := c.Do(req)
					ok := err == nil
					if ok {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						ok = resp.StatusCode == 200
					}
					d := time.Since(t0)
					mu.Lock()
					if ok {
						lat = append(lat, d)
					} else {
						failed++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return lat, failed
	}
	if warm > 0 {
		measure(warm)
	}
	c0, err := cpu(rt.cmd.Process.Pid)
	if err != nil {
		return err
	}
	lat, failed := measure(dur)
	c1, err := cpu(rt.cmd.Process.Pid)
	if err != nil {
		return err
	}
	if len(lat) == 0 {
		return errors.New("no request succeeded")
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	who := "gantry"
	if ref {
		who = "haproxy"
	}
	fmt.Printf("proxy=%s mode=%s rate=%d requests=%d p50=%v p90=%v p99=%v router_cpu_us/req=%.1f failed=%d\n",
		who, mode, rate, len(lat), pct(0.5).Round(time.Microsecond), pct(0.9).Round(time.Microsecond), pct(0.99).Round(time.Microsecond),
		float64((c1-c0).Microseconds())/float64(len(lat)+failed), failed)
	return nil
}
