package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
)

// reqStat counts requests of one kind and the time to their responses' headers.
type reqStat struct {
	n     int
	total time.Duration
}

// Request kinds, in the order a push and a pull send them.
var kinds = []string{
	"GET /v2/ (ping)",
	"HEAD manifest",
	"HEAD blob",
	"POST blob upload",
	"PATCH blob upload",
	"PUT blob upload",
	"PUT manifest",
	"GET manifest",
	"GET blob",
}

// requestKind names the kind of a registry API request.
func requestKind(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		return "GET /v2/ (ping)"
	case strings.Contains(p, "/blobs/uploads/"):
		return r.Method + " blob upload"
	case strings.Contains(p, "/blobs/"):
		return r.Method + " blob"
	case strings.Contains(p, "/manifests/"):
		return r.Method + " manifest"
	}
	return r.Method + " other"
}

// machine is what the CPU figures need: gantry's PID (0 without a cluster) and its idle CPU rate.
type machine struct {
	pid  int
	idle float64 // CPU seconds per second gantry's process tree spends when nothing is asked of it
}

// idleWindow is how long gantry's idle CPU is measured.
const idleWindow = 5 * time.Second

// measureIdle sets m.idle from gantry's CPU time over idleWindow.
func (m *machine) measureIdle(ctx context.Context) error {
	if m.pid == 0 {
		return nil
	}
	start, t := benchutil.ReadCPU(m.pid), time.Now()
	select {
	case <-time.After(idleWindow):
	case <-ctx.Done():
		return ctx.Err()
	}
	m.idle = (benchutil.ReadCPU(m.pid).Gantry - start.Gantry).Seconds() / time.Since(t).Seconds()
	return nil
}

// phase is what one push or pull of a workload cost.
type phase struct {
	wall     time.Duration
	requests map[string]reqStat
	// self is this process's CPU time (the client, and in runs on the plain registry the registry
	// too); gantry is gantry's process tree's less its idle rate (the integrated registry and the
	// API servers and etcd it calls).
	self, gantry time.Duration
	// others is the share of the machine's CPU used by other processes.
	others float64
}

func (p phase) count() int {
	n := 0
	for _, st := range p.requests {
		n += st.n
	}
	return n
}

// meter measures a phase from begin to end.
type meter struct {
	t     *target
	start time.Time
	cpu   benchutil.CPU
}

func (t *target) begin() meter {
	t.take()
	return meter{t: t, start: time.Now(), cpu: benchutil.ReadCPU(t.machine.pid)}
}

func (m meter) end() phase {
	wall := time.Since(m.start)
	cpu := benchutil.ReadCPU(m.t.machine.pid)
	p := phase{wall: wall, requests: m.t.take()}
	p.self = cpu.Self - m.cpu.Self
	gantry := cpu.Gantry - m.cpu.Gantry
	p.gantry = max(0, gantry-time.Duration(m.t.machine.idle*float64(wall)))
	others := (cpu.Busy - m.cpu.Busy) - gantry - p.self
	p.others = max(0, others.Seconds()/(wall.Seconds()*float64(benchutil.NumCPU())))
	return p
}
