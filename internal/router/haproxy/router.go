package haproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// Router is the HAProxy data plane: a model.Dataplane that keeps a child
// haproxy serving the latest Table.
type Router struct {
	opt        Options
	defaultPEM []byte
	rt         runtimeAPI // the worker's stats socket
	master     runtimeAPI // the master's CLI

	mu   sync.Mutex
	proc *process
	pid  int // the current worker
	last *model.Table
	// What haproxy runs: the structural config and the TLS files it was
	// loaded with, each server slot's state, each map's entries.
	structural []byte
	filesKey   [sha256.Size]byte
	servers    map[string]serverState
	maps       map[string][]mapEntry
	// slots are the server slots of each backend's service, "backend
	// service"; they only grow while haproxy runs.
	slots    map[string]int
	stopping bool
	stopped  chan struct{}
}

// serverState is what the runtime API sets on a slot.
type serverState struct {
	addr    string
	port    int32
	weight  int
	enabled bool
}

// Result says how a Table was applied.
type Result struct {
	// Reloaded is set when haproxy loaded a new configuration.
	Reloaded bool
	// Commands is the number of runtime API commands sent instead (server
	// slots set, map entries replaced).
	Commands int
	// Duration is the time from the call until haproxy serves the table.
	Duration time.Duration
}

// New checks the options and prepares the working directory. haproxy runs
// from Start on.
func New(o Options) (*Router, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{o.Dir, o.path("run"), o.path("certs"), o.path("cacerts")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("haproxy: %w", err)
		}
	}
	def := o.DefaultCertificate
	if def == nil {
		if def, err = selfSignedDefault(); err != nil {
			return nil, fmt.Errorf("haproxy: default certificate: %w", err)
		}
	}
	defPEM, err := certificatePEM(def)
	if err != nil {
		return nil, fmt.Errorf("haproxy: default certificate: %w", err)
	}
	return &Router{
		opt: o, defaultPEM: defPEM,
		rt:     runtimeAPI{sock: o.path("run/haproxy.sock"), timeout: 10 * time.Second},
		master: runtimeAPI{sock: o.path("run/master.sock"), timeout: 10 * time.Second},
		slots:  map[string]int{}, stopped: make(chan struct{}),
	}, nil
}

// Start writes the configuration of t (nil: no routes), starts haproxy and
// returns once it serves. haproxy is restarted if it exits until Stop is
// called or ctx is done.
func (r *Router) Start(ctx context.Context, t *model.Table) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		return fmt.Errorf("haproxy: already started")
	}
	if err := r.startLocked(t); err != nil {
		return err
	}
	go r.supervise(ctx)
	return nil
}

func (r *Router) startLocked(t *model.Table) error {
	v, err := r.writeAll(t)
	if err != nil {
		return err
	}
	p, err := startProcess(r.opt)
	if err != nil {
		return err
	}
	pid, err := waitWorker(p, r.rt, 0, r.opt.ReloadTimeout)
	if err == nil {
		err = waitMaster(p, r.master, r.opt.ReloadTimeout)
	}
	if err != nil {
		p.stop(time.Second)
		return err
	}
	r.proc, r.pid = p, pid
	r.loaded(v, t)
	return nil
}

// supervise restarts haproxy when it exits on its own.
func (r *Router) supervise(ctx context.Context) {
	for {
		r.mu.Lock()
		p := r.proc
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			r.Stop()
			return
		case <-r.stopped:
			return
		case <-p.done:
		}
		r.mu.Lock()
		if r.stopping {
			r.mu.Unlock()
			return
		}
		r.opt.Logf("haproxy exited (%v); starting it again", p.err)
		time.Sleep(time.Second)
		if err := r.startLocked(r.last); err != nil {
			r.opt.Logf("haproxy: restart: %v", err)
			r.proc = p // try again on the next turn
		}
		r.mu.Unlock()
	}
}

// Update applies a table; it is the model.Dataplane method. Errors are
// logged: the previous table stays served.
func (r *Router) Update(t *model.Table) {
	if res, err := r.Apply(t); err != nil {
		r.opt.Logf("haproxy: %v", err)
	} else if res.Reloaded {
		r.opt.Logf("haproxy: reloaded for %d routes in %s", routeCount(t), res.Duration.Round(time.Millisecond))
	}
}

// Apply makes haproxy serve t: through the runtime API when only
// endpoints or host maps changed, else by a seamless reload. It returns
// once haproxy serves t.
func (r *Router) Apply(t *model.Table) (Result, error) {
	start := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil || r.stopping {
		return Result{}, fmt.Errorf("haproxy is not running")
	}
	v, err := newView(r.opt, t, r.defaultPEM, r.slotsFor)
	if err != nil {
		return Result{}, err
	}
	structural, err := v.render(true)
	if err != nil {
		return Result{}, err
	}
	if !bytes.Equal(structural, r.structural) || filesKey(v) != r.filesKey || r.proc.exited() {
		if err := r.reloadLocked(v, t); err != nil {
			return Result{}, err
		}
		return Result{Reloaded: true, Duration: time.Since(start)}, nil
	}
	n, err := r.runtimeLocked(v)
	r.last = t
	return Result{Commands: n, Duration: time.Since(start)}, err
}

// reloadLocked writes the whole configuration of view v of t and reloads
// haproxy.
func (r *Router) reloadLocked(v *view, t *model.Table) error {
	if err := r.writeView(v); err != nil {
		return err
	}
	if err := r.proc.reload(r.master); err != nil {
		return fmt.Errorf("haproxy: reload: %w", err)
	}
	pid, err := waitWorker(r.proc, r.rt, r.pid, r.opt.ReloadTimeout)
	if err == nil {
		// The master re-executed itself; its CLI is back once it runs
		// its loop again, and the next reload needs it.
		err = waitMaster(r.proc, r.master, r.opt.ReloadTimeout)
	}
	if err != nil {
		return err
	}
	r.pid = pid
	r.loaded(v, t)
	return nil
}

// writeAll renders t and writes haproxy.cfg and its files.
func (r *Router) writeAll(t *model.Table) (*view, error) {
	v, err := newView(r.opt, t, r.defaultPEM, r.slotsFor)
	if err != nil {
		return nil, err
	}
	return v, r.writeView(v)
}

// writeView writes haproxy.cfg of a view and its files.
func (r *Router) writeView(v *view) error {
	cfg, err := v.render(false)
	if err != nil {
		return err
	}
	if err := v.writeFiles(); err != nil {
		return err
	}
	if err := writeFile(r.opt.path("haproxy.cfg"), cfg); err != nil {
		return fmt.Errorf("haproxy: write haproxy.cfg: %w", err)
	}
	return nil
}

// loaded records what haproxy runs after a start or reload of view v.
func (r *Router) loaded(v *view, t *model.Table) {
	r.structural, _ = v.render(true) // rendered before, it cannot fail
	r.filesKey = filesKey(v)
	r.servers = map[string]serverState{}
	for _, b := range v.Backends {
		for _, s := range b.Servers {
			r.servers[b.Name+"/"+s.Name] = serverState{s.Addr, s.Port, s.Weight, s.Enabled}
		}
	}
	r.maps = v.Maps
	r.last = t
}

// runtimeLocked sets the server slots and maps that differ from what
// haproxy runs, and returns the number of commands sent.
func (r *Router) runtimeLocked(v *view) (int, error) {
	var cmds []string
	next := map[string]serverState{}
	for _, b := range v.Backends {
		for _, s := range b.Servers {
			key := b.Name + "/" + s.Name
			want := serverState{s.Addr, s.Port, s.Weight, s.Enabled}
			next[key] = want
			have := r.servers[key]
			if want == have {
				continue
			}
			name := cliQuote(key)
			if !want.enabled {
				if have.enabled {
					cmds = append(cmds, "set server "+name+" state maint")
				}
				continue
			}
			if want.addr != have.addr || want.port != have.port {
				cmds = append(cmds, "set server "+name+" addr "+want.addr+" port "+strconv.Itoa(int(want.port)))
			}
			if want.weight != have.weight || !have.enabled {
				cmds = append(cmds, "set server "+name+" weight "+strconv.Itoa(want.weight))
			}
			if !have.enabled {
				cmds = append(cmds, "set server "+name+" state ready")
			}
		}
	}
	if err := r.rt.run(cmds); err != nil {
		// What haproxy now has is unknown: reload on the next table.
		r.structural = nil
		return len(cmds), err
	}
	// Keep the disabled slots' old addresses: that is what haproxy has.
	for k, s := range next {
		if !s.enabled {
			s = r.servers[k]
			s.enabled = false
			next[k] = s
		}
	}
	r.servers = next
	n := len(cmds)
	names := make([]string, 0, len(v.Maps))
	for name := range v.Maps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		entries := v.Maps[name]
		if slices.Equal(entries, r.maps[name]) {
			continue
		}
		// The file first, so that a reload reads the same.
		if err := writeFile(r.opt.path(name), mapText(entries)); err != nil {
			return n, fmt.Errorf("haproxy: write %s: %w", name, err)
		}
		if err := r.rt.replaceMap(r.opt.path(name), entries); err != nil {
			r.structural = nil
			return n, err
		}
		n += len(entries) + 2
		r.maps[name] = entries
	}
	return n, nil
}

// slotsFor gives a backend's service the slots for n endpoints: a multiple
// of SlotStep, never fewer than it has.
func (r *Router) slotsFor(backend, service string, n int) int {
	step := r.opt.SlotStep
	want := max(step, (n+step-1)/step*step)
	key := backend + " " + service
	if have := r.slots[key]; have > want {
		return have
	}
	r.slots[key] = want
	return want
}

// filesKey identifies the TLS files of a view: haproxy reads certificates
// only when it loads its configuration.
func filesKey(v *view) [sha256.Size]byte {
	names := make([]string, 0, len(v.Files))
	for n := range v.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(v.Files[n])
		h.Write([]byte{0})
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// Pid is the haproxy master's process ID (its workers are its children),
// 0 before Start.
func (r *Router) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return 0
	}
	return r.proc.cmd.Process.Pid
}

// Stop stops haproxy, letting established connections finish for a few
// seconds.
func (r *Router) Stop() error {
	r.mu.Lock()
	if r.stopping || r.proc == nil {
		r.mu.Unlock()
		return nil
	}
	r.stopping = true
	p := r.proc
	close(r.stopped)
	r.mu.Unlock()
	return p.stop(3 * time.Second)
}

func routeCount(t *model.Table) int {
	if t == nil || t.Routes == nil {
		return 0
	}
	return t.Routes.Len()
}

var _ model.Dataplane = (*Router)(nil)
