package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder keeps the order in which things happened.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) index(s string) int { return slices.Index(r.list(), s) }

// blocking is a service that becomes ready at once and runs until stopped.
func blocking(rec *recorder, name string, needs ...string) Service {
	return Service{
		Name:  name,
		Needs: needs,
		Run: func(ctx context.Context, ready func()) error {
			rec.add("start " + name)
			ready()
			<-ctx.Done()
			rec.add("exit " + name)
			return nil
		},
		Stop: func(context.Context) error { rec.add("cleanup " + name); return nil },
	}
}

func TestStartsDependenciesFirstAndStopsThemLast(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	m := &Manager{}
	m.Add(
		blocking(rec, "kubelet", "containerd", "apiserver"),
		blocking(rec, "apiserver", "etcd"),
		blocking(rec, "etcd"),
		blocking(rec, "containerd"),
	)
	ctx, cancel := context.WithCancel(t.Context())
	allReady := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx, func() { close(allReady) }) }()
	<-allReady
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run after a requested stop = %v, want nil", err)
	}
	before := func(a, b string) {
		t.Helper()
		if ia, ib := rec.index(a), rec.index(b); ia < 0 || ib < 0 || ia > ib {
			t.Errorf("want %q before %q; events: %v", a, b, rec.list())
		}
	}
	before("start etcd", "start apiserver")
	before("start apiserver", "start kubelet")
	before("start containerd", "start kubelet")
	before("exit kubelet", "exit apiserver")
	before("exit apiserver", "exit etcd")
	before("exit kubelet", "exit containerd")
	before("exit containerd", "cleanup containerd")
	before("cleanup kubelet", "exit containerd")
}

func TestFailureStopsEverythingAndNamesTheService(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	m := &Manager{}
	boom := errors.New("listen tcp 127.0.0.1:6443: address already in use")
	m.Add(
		blocking(rec, "etcd"),
		Service{Name: "kube-apiserver", Needs: []string{"etcd"}, Run: func(ctx context.Context, ready func()) error {
			return boom
		}},
		blocking(rec, "kubelet", "kube-apiserver"),
	)
	err := m.Run(t.Context(), nil)
	var se *Error
	if !errors.As(err, &se) || se.Service != "kube-apiserver" || !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want an *Error for kube-apiserver wrapping %v", err, boom)
	}
	if !strings.HasPrefix(err.Error(), "kube-apiserver: ") {
		t.Errorf("message %q should start with the service name", err)
	}
	if rec.index("start kubelet") >= 0 {
		t.Errorf("kubelet started although its dependency failed: %v", rec.list())
	}
	if rec.index("exit etcd") < 0 || rec.index("cleanup etcd") < 0 {
		t.Errorf("etcd was not stopped and cleaned up: %v", rec.list())
	}
}

func TestServiceReturningEarlyIsAFailure(t *testing.T) {
	t.Parallel()
	m := &Manager{}
	m.Add(Service{Name: "dns", Run: func(context.Context, func()) error { return nil }})
	err := m.Run(t.Context(), nil)
	if err == nil || !strings.Contains(err.Error(), "dns: exited unexpectedly") {
		t.Fatalf("Run = %v, want dns: exited unexpectedly", err)
	}
}

func TestValidateRejectsBadGraphs(t *testing.T) {
	t.Parallel()
	run := func(context.Context, func()) error { return nil }
	cases := []struct {
		name     string
		services []Service
		want     string
	}{
		{"unknown dependency", []Service{{Name: "a", Needs: []string{"b"}, Run: run}}, `"a" needs "b"`},
		{"duplicate", []Service{{Name: "a", Run: run}, {Name: "a", Run: run}}, "registered twice"},
		{"cycle", []Service{{Name: "a", Needs: []string{"b"}, Run: run}, {Name: "b", Needs: []string{"a"}, Run: run}}, "cycle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &Manager{}
			m.Add(c.services...)
			if err := m.Run(t.Context(), nil); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run = %v, want error containing %q", err, c.want)
			}
		})
	}
}

func TestEventsReportReadiness(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var kinds []string
	m := &Manager{OnEvent: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		kinds = append(kinds, e.Service+" "+string(e.Kind))
	}, StopTimeout: time.Second}
	rec := &recorder{}
	m.Add(blocking(rec, "etcd"))
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx, cancel) }()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"etcd starting", "etcd ready", "etcd stopped"}
	if !slices.Equal(kinds, want) {
		t.Errorf("events = %v, want %v", kinds, want)
	}
}

func TestStopHookSkippedForServiceThatNeverStarted(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	m := &Manager{}
	m.Add(
		Service{Name: "kube-apiserver", Run: func(context.Context, func()) error { return errors.New("boom") }},
		blocking(rec, "kubelet", "kube-apiserver"),
	)
	if err := m.Run(t.Context(), nil); err == nil {
		t.Fatal("Run succeeded, want the apiserver's failure")
	}
	if rec.index("cleanup kubelet") >= 0 {
		t.Errorf("the kubelet's stop hook ran although it never started: %v", rec.list())
	}
}
