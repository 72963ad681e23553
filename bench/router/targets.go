package main

import (
	"fmt"
	"strings"
	"time"
)

// Issue 6's performance targets.
const (
	maxCPURatio     = 1.5                    // CPU per request over HAProxy's
	maxP99Ratio     = 1.2                    // p99 over HAProxy's at the same load
	minManyRatio    = 0.8                    // req/s at many routes over our own at 100
	maxKiBPerRoute  = 8.0                    // memory per route
	maxCreateServed = 100 * time.Millisecond // route create to first 200 at many routes
)

// targets is the table of issue 6's targets for Gantry's router, each
// with what was measured and pass or fail; empty when Gantry's router was
// not measured. HAProxy means the OpenShift-style config (regex map), the
// one with every scenario.
func (b *bench) targets(find func(scenario, target string) *sample) string {
	const ref = "haproxy, OpenShift regex map"
	if find("plain HTTP keep-alive", gantryTarget) == nil {
		return ""
	}
	var s strings.Builder
	s.WriteString("\n| target (issue 6) | measured | result |\n|---|---|---|\n")
	row := func(target, measured string, ok bool) {
		verdict := "**fail**"
		if ok {
			verdict = "pass"
		}
		fmt.Fprintf(&s, "| %s | %s | %s |\n", target, measured, verdict)
	}
	missing := func(target string) { fmt.Fprintf(&s, "| %s | not measured | – |\n", target) }
	for _, scen := range []string{"plain HTTP keep-alive", "edge TLS keep-alive", "TLS handshake per request"} {
		g, h := find(scen, gantryTarget), find(scen, ref)
		if g == nil || h == nil || h.cpuPerReq == 0 || h.P99 == 0 {
			missing(scen)
			continue
		}
		cr := float64(g.cpuPerReq) / float64(h.cpuPerReq)
		row(fmt.Sprintf("%s: CPU/request <= %.1fx HAProxy's", scen, maxCPURatio),
			fmt.Sprintf("%.1f vs %.1f µs: %.2fx", us(g.cpuPerReq), us(h.cpuPerReq), cr), cr <= maxCPURatio)
		pr := float64(g.P99) / float64(h.P99)
		row(fmt.Sprintf("%s: p99 <= %.1fx HAProxy's (same wrk load)", scen, maxP99Ratio),
			fmt.Sprintf("%s vs %s: %.2fx", ms(g.P99), ms(h.P99), pr), pr <= maxP99Ratio)
	}
	manyScen := fmt.Sprintf("%d routes, random Host", b.o.many)
	if g, g100 := find(manyScen, gantryTarget), find("plain HTTP keep-alive", gantryTarget); g != nil && g100.RPS > 0 {
		r := g.RPS / g100.RPS
		row(fmt.Sprintf("%d routes: req/s >= %.1fx our own at 100 routes", b.o.many, minManyRatio),
			fmt.Sprintf("%.0f vs %.0f: %.2fx", g.RPS, g100.RPS, r), r >= minManyRatio)
		if h := find(manyScen, ref); h != nil {
			row(fmt.Sprintf("%d routes: ahead of the OpenShift-style HAProxy (regex map)", b.o.many),
				fmt.Sprintf("%.0f vs %.0f req/s: %.2fx", g.RPS, h.RPS, g.RPS/h.RPS), g.RPS > h.RPS)
		}
	} else {
		missing(manyScen)
	}
	if m := find("memory per route", gantryTarget); m != nil {
		row(fmt.Sprintf("memory per route <= %.0f KiB", maxKiBPerRoute), fmt.Sprintf("%.1f KiB", m.kib), m.kib <= maxKiBPerRoute)
	} else {
		missing("memory per route")
	}
	if c := find(fmt.Sprintf("route create to first 200 at %d routes", b.o.many), gantryTarget); c != nil {
		row(fmt.Sprintf("route create to served <= %s at %d routes", maxCreateServed, b.o.many),
			fmt.Sprintf("median %s", c.median.Round(time.Millisecond)), c.median <= maxCreateServed)
	} else {
		missing("route create to served")
	}
	if c := find(fmt.Sprintf("churn: %d routes, endpoints move, routes come and go (wrk -c16)", b.o.churn), gantryTarget); c != nil {
		row("zero failed requests during churn", fmt.Sprintf("%d failed of %d (%d non-2xx, %d socket errors)", c.Failed(), c.Requests, c.Non2xx, c.SocketErrs),
			c.Failed() == 0 && c.Requests > 0)
	} else {
		missing("churn")
	}
	return s.String()
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
