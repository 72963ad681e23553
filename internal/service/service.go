// Package service runs the long-running components of `gantry start` in dependency order.
//
// A Service has a name, the names of the services it needs, and a Run function that calls ready once a
// real health probe has passed. The Manager starts every service as soon as all of its dependencies are
// ready, so independent components start in parallel. The first service to fail, or to return while the
// others still run, stops the whole set; Run then reports which service failed and why.
package service

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Service is one component of the process tree.
type Service struct {
	// Name identifies the service in messages ("kube-apiserver").
	Name string
	// Needs lists the services that must be ready before this one starts.
	Needs []string
	// Run runs the service until ctx is done. It calls ready once the service passed its readiness
	// probe. A nil return before ctx is done counts as a failure: services are long-running.
	Run func(ctx context.Context, ready func()) error
	// Stop, if set, runs during shutdown once the service has returned and every service that needs
	// it has stopped; it does not run for a service that never started.
	// It releases what the service holds on the machine (mounts, chains, child processes).
	Stop func(ctx context.Context) error
}

// Error reports the service that stopped the set.
type Error struct {
	Service string
	Err     error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Service, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Event tells an observer about a service's progress.
type Event struct {
	Service string
	Kind    EventKind
	// Elapsed is the time since Manager.Run began.
	Elapsed time.Duration
	Err     error
}

// EventKind is what happened to a service.
type EventKind string

const (
	Starting EventKind = "starting"
	Ready    EventKind = "ready"
	Failed   EventKind = "failed"
	Stopped  EventKind = "stopped"
)

// Manager starts services in dependency order and stops them in reverse.
type Manager struct {
	services []Service
	// OnEvent, if set, is called for every state change (from several goroutines, one at a time).
	OnEvent func(Event)
	// StopTimeout bounds each Stop call during shutdown.
	StopTimeout time.Duration

	start time.Time
	evMu  sync.Mutex
}

// emit reports an event to OnEvent, one at a time.
func (m *Manager) emit(e Event) {
	if m.OnEvent == nil {
		return
	}
	e.Elapsed = time.Since(m.start)
	m.evMu.Lock()
	defer m.evMu.Unlock()
	m.OnEvent(e)
}

// Add registers services. Names must be unique and dependencies must name registered services; Run
// checks both before starting anything.
func (m *Manager) Add(s ...Service) { m.services = append(m.services, s...) }

// Validate checks names, dependencies and cycles.
func (m *Manager) Validate() error {
	byName := map[string]*Service{}
	for i := range m.services {
		s := &m.services[i]
		if s.Name == "" || s.Run == nil {
			return fmt.Errorf("service %d: a name and a Run function are required", i)
		}
		if _, dup := byName[s.Name]; dup {
			return fmt.Errorf("service %q registered twice", s.Name)
		}
		byName[s.Name] = s
	}
	for _, s := range m.services {
		for _, d := range s.Needs {
			if _, ok := byName[d]; !ok {
				return fmt.Errorf("service %q needs %q, which is not registered", s.Name, d)
			}
		}
	}
	// Depth-first search for cycles.
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case visiting:
			return fmt.Errorf("dependency cycle: %v", append(path, name))
		case done:
			return nil
		}
		state[name] = visiting
		for _, d := range byName[name].Needs {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		return nil
	}
	for _, s := range m.services {
		if err := visit(s.Name, nil); err != nil {
			return err
		}
	}
	return nil
}

// Order returns the service names in a start order that respects dependencies (ties by registration).
func (m *Manager) Order() []string {
	placed := map[string]bool{}
	var order []string
	for len(order) < len(m.services) {
		progressed := false
		for _, s := range m.services {
			if placed[s.Name] {
				continue
			}
			ok := true
			for _, d := range s.Needs {
				ok = ok && placed[d]
			}
			if ok {
				placed[s.Name] = true
				order = append(order, s.Name)
				progressed = true
			}
		}
		if !progressed { // a cycle; Validate reports it
			break
		}
	}
	return order
}

type running struct {
	svc     Service
	ready   chan struct{}
	done    chan struct{}
	started atomic.Bool
}

// Run starts every service and blocks until ctx is done or a service fails, then stops all services
// (dependents before their dependencies) and runs their Stop hooks. It returns nil after a requested
// stop, or an *Error naming the first service that failed.
func (m *Manager) Run(ctx context.Context, allReady func()) error {
	if err := m.Validate(); err != nil {
		return err
	}
	m.start = time.Now()
	emit := m.emit

	runCtx, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	rs := map[string]*running{}
	for _, s := range m.services {
		rs[s.Name] = &running{svc: s, ready: make(chan struct{}), done: make(chan struct{})}
	}
	// Each service gets its own context, so shutdown can stop dependents first.
	cancels := map[string]context.CancelFunc{}
	failed := make(chan *Error, len(m.services))
	for _, s := range m.services {
		r := rs[s.Name]
		sctx, cancel := context.WithCancel(runCtx)
		cancels[s.Name] = cancel
		go func() {
			defer close(r.done)
			for _, d := range r.svc.Needs {
				select {
				case <-rs[d].ready:
				case <-sctx.Done():
					return
				}
			}
			r.started.Store(true)
			emit(Event{Service: r.svc.Name, Kind: Starting})
			var once sync.Once
			err := r.svc.Run(sctx, func() {
				once.Do(func() {
					close(r.ready)
					emit(Event{Service: r.svc.Name, Kind: Ready})
				})
			})
			if sctx.Err() != nil {
				emit(Event{Service: r.svc.Name, Kind: Stopped})
				return
			}
			if err == nil {
				err = errors.New("exited unexpectedly")
			}
			emit(Event{Service: r.svc.Name, Kind: Failed, Err: err})
			failed <- &Error{Service: r.svc.Name, Err: err}
		}()
	}
	if allReady != nil {
		go func() {
			for _, r := range rs {
				select {
				case <-r.ready:
				case <-runCtx.Done():
					return
				}
			}
			allReady()
		}()
	}

	var result error
	select {
	case <-ctx.Done():
	case e := <-failed:
		result = e
	}
	m.shutdown(rs, cancels)
	return result
}

// shutdown stops services in reverse dependency order: a service is cancelled once every service that
// needs it has returned, then its Stop hook runs.
func (m *Manager) shutdown(rs map[string]*running, cancels map[string]context.CancelFunc) {
	order := m.Order()
	dependents := map[string][]string{}
	for _, s := range m.services {
		for _, d := range s.Needs {
			dependents[d] = append(dependents[d], s.Name)
		}
	}
	timeout := m.StopTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	var wg sync.WaitGroup
	stopped := map[string]chan struct{}{}
	for _, n := range order {
		stopped[n] = make(chan struct{})
	}
	for i := len(order) - 1; i >= 0; i-- {
		name := order[i]
		deps := dependents[name]
		sort.Strings(deps)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(stopped[name])
			for _, d := range deps {
				<-stopped[d]
			}
			cancels[name]()
			r := rs[name]
			select {
			case <-r.done:
			case <-time.After(timeout):
			}
			if r.svc.Stop != nil && r.started.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				if err := r.svc.Stop(ctx); err != nil {
					m.emit(Event{Service: name, Kind: Failed, Err: fmt.Errorf("stop: %w", err)})
				}
			}
		}()
	}
	wg.Wait()
}
