package main

import (
	"strings"
	"testing"
	"time"
)

// TestTargets checks the verdict of each of issue 6's targets from
// samples on both sides of its limit.
func TestTargets(t *testing.T) {
	const ref = "haproxy, OpenShift regex map"
	w := func(rps float64, p99 time.Duration, non2xx int64) wrkResult {
		return wrkResult{Requests: 1000, RPS: rps, P99: p99, Non2xx: non2xx}
	}
	b := &bench{o: options{many: 10000, churn: 1000}}
	b.samples = []sample{
		{scenario: "plain HTTP keep-alive", target: ref, wrkResult: w(5000, 10*time.Millisecond, 0), cpuPerReq: 20 * time.Microsecond},
		{scenario: "plain HTTP keep-alive", target: gantryTarget, wrkResult: w(5000, 11*time.Millisecond, 0), cpuPerReq: 40 * time.Microsecond},
		{scenario: "edge TLS keep-alive", target: ref, wrkResult: w(5000, 10*time.Millisecond, 0), cpuPerReq: 20 * time.Microsecond},
		{scenario: "edge TLS keep-alive", target: gantryTarget, wrkResult: w(5000, 13*time.Millisecond, 0), cpuPerReq: 30 * time.Microsecond},
		{scenario: "10000 routes, random Host", target: ref, wrkResult: w(500, 10*time.Millisecond, 0), cpuPerReq: time.Millisecond},
		{scenario: "10000 routes, random Host", target: gantryTarget, wrkResult: w(3000, 10*time.Millisecond, 0), cpuPerReq: 40 * time.Microsecond},
		{scenario: "memory per route", target: gantryTarget, kib: 8.5, extra: "x"},
		{scenario: "route create to first 200 at 10000 routes", target: gantryTarget, median: 80 * time.Millisecond, extra: "x"},
		{scenario: "churn: 1000 routes, endpoints move, routes come and go (wrk -c16)", target: gantryTarget, wrkResult: w(3000, time.Millisecond, 1)},
	}
	find := func(scenario, target string) *sample {
		for i := range b.samples {
			if b.samples[i].scenario == scenario && b.samples[i].target == target {
				return &b.samples[i]
			}
		}
		return nil
	}
	out := b.targets(find)
	want := map[string]string{
		"plain HTTP keep-alive: CPU/request": "**fail**", // 2.00x
		"plain HTTP keep-alive: p99":         "pass",     // 1.10x
		"edge TLS keep-alive: CPU/request":   "pass",     // 1.50x
		"edge TLS keep-alive: p99":           "**fail**", // 1.30x
		"TLS handshake per request":          "–",        // not measured
		"10000 routes: req/s >= 0.8x":        "**fail**", // 0.60x
		"10000 routes: ahead of":             "pass",
		"memory per route":                   "**fail**",
		"route create to served":             "pass",
		"zero failed requests during churn":  "**fail**",
	}
	for prefix, verdict := range want {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "| "+prefix) {
				found = true
				if !strings.HasSuffix(line, "| "+verdict+" |") {
					t.Errorf("row %q: want %s", line, verdict)
				}
			}
		}
		if !found {
			t.Errorf("no row starting %q in\n%s", prefix, out)
		}
	}
	if got := (&bench{}).targets(func(string, string) *sample { return nil }); got != "" {
		t.Errorf("targets without Gantry samples = %q, want none", got)
	}
}
