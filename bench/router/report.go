package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
)

// report is the Markdown of the run: the machine, a table of every sample
// with ratios, and the notes.
func (b *bench) report() string {
	var s strings.Builder
	fmt.Fprintf(&s, "Router data planes, %s, %s (%s, %d cores, %s RAM), load average before %s, at the end %s, %s\n\n",
		time.Now().Format("2006-01-02 15:04"), hostname(), benchutil.CPUModel(), benchutil.NumCPU(), benchutil.MemTotal(),
		b.loadBefore, benchutil.LoadAverage(), runtime.Version())
	fmt.Fprintf(&s, "wrk -t2 -c64 -d%s --latency after a 2 s warm-up (churn: -c16), loopback; backend: a trivial Go net/http server (12 bytes) "+
		"in its own process (for Gantry's router on the node IP, which EndpointSlices accept); both routers serve the same ECDSA P-256 default certificate; "+
		"Gantry's router is `gantry router` in its own process against `gantry start --router=false`, whose cluster runs during every target's runs; "+
		"HAProxy %s driven by internal/router/haproxy (nbthread 2, OpenShift-style config). CPU per request is the "+
		"proxy's process tree (utime+stime) over the run divided by the requests. Ratios are to HAProxy with OpenShift's regex map in the "+
		"same scenario; \"÷ 100 routes\" is req/s over the same target's 100-route req/s.\n\n", b.o.duration, haproxyVersion())
	s.WriteString("| scenario | target | req/s | p99 | CPU µs/req | failed | ÷ haproxy regex req/s | ÷ haproxy regex CPU | ÷ 100 routes |\n")
	s.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	find := func(scenario, target string) *sample {
		for i := range b.samples {
			if b.samples[i].scenario == scenario && b.samples[i].target == target {
				return &b.samples[i]
			}
		}
		return nil
	}
	const ref = "haproxy, OpenShift regex map"
	var other []sample
	for _, x := range b.samples {
		if x.extra != "" && x.Requests == 0 {
			other = append(other, x)
			continue
		}
		cpu, rr, rc, r100 := "–", "–", "–", "–"
		if x.cpuPerReq > 0 {
			cpu = fmt.Sprintf("%.1f", float64(x.cpuPerReq.Nanoseconds())/1000)
		}
		if h := find(x.scenario, ref); h != nil && x.target != ref && h.RPS > 0 {
			rr = fmt.Sprintf("%.2fx", x.RPS/h.RPS)
			if x.cpuPerReq > 0 && h.cpuPerReq > 0 {
				rc = fmt.Sprintf("%.2fx", float64(x.cpuPerReq)/float64(h.cpuPerReq))
			}
		}
		if strings.Contains(x.scenario, "routes, random Host") {
			if h := find("plain HTTP keep-alive", x.target); h != nil && h.RPS > 0 {
				r100 = fmt.Sprintf("%.2fx", x.RPS/h.RPS)
			}
		}
		name := x.scenario
		if x.extra != "" {
			name += " (" + x.extra + ")"
		}
		fmt.Fprintf(&s, "| %s | %s | %.0f | %.1f ms | %s | %d of %d | %s | %s | %s |\n",
			name, x.target, x.RPS, float64(x.P99.Microseconds())/1000, cpu, x.Failed(), x.Requests, rr, rc, r100)
	}
	s.WriteString("\n| measure | target | result |\n|---|---|---|\n")
	for _, x := range other {
		fmt.Fprintf(&s, "| %s | %s | %s |\n", x.scenario, x.target, x.extra)
	}
	s.WriteString(b.targets(find))
	b.notes = append(b.notes,
		"Each route's backend has 4 pre-allocated server slots (haproxy.Options.SlotStep) so endpoint changes need no reload: at 10,000 routes haproxy holds 40,000 servers, which is most of its memory per route and reload time (performance.md's 18 KiB per route had 1 server per backend).",
		"Compare these figures only within this run: the machine is shared, and a load average far above 2 means the absolute req/s, p99 and reload times are contended; CPU per request moves least.")
	if len(b.notes) > 0 {
		s.WriteString("\nNotes:\n")
		for _, n := range b.notes {
			fmt.Fprintf(&s, "- %s\n", n)
		}
	}
	return s.String()
}
