package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog is a request's server timeout (HAProxy's "timeout server", the
// route's haproxy.router.openshift.io/timeout): an inactivity timer, reset
// whenever request or response body bytes move, that cancels the request's
// context when the backend is silent for too long. A long download that
// keeps flowing is never cut. Watchdogs and their timers are pooled.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
	d      time.Duration
	mu     sync.Mutex // guards cancel against a firing timer
	fired  atomic.Bool
}

var watchdogs sync.Pool

func startWatchdog(parent context.Context, d time.Duration) *watchdog {
	ctx, cancel := context.WithCancel(parent)
	wd, _ := watchdogs.Get().(*watchdog)
	if wd == nil {
		wd = &watchdog{}
		wd.mu.Lock()
		wd.ctx, wd.cancel, wd.d = ctx, cancel, d
		wd.mu.Unlock()
		wd.timer = time.AfterFunc(d, wd.fire)
		return wd
	}
	wd.mu.Lock()
	wd.ctx, wd.cancel, wd.d = ctx, cancel, d
	wd.mu.Unlock()
	wd.fired.Store(false)
	wd.timer.Reset(d)
	return wd
}

func (wd *watchdog) fire() {
	wd.fired.Store(true)
	wd.mu.Lock()
	c := wd.cancel
	wd.mu.Unlock()
	if c != nil {
		c()
	}
}

// kick restarts the inactivity period, unless the watchdog already fired.
func (wd *watchdog) kick() {
	if !wd.fired.Load() {
		wd.timer.Reset(wd.d)
	}
}

// stop ends the watchdog and cancels its context. The watchdog goes back
// to the pool only when its timer was stopped before firing: a timer that
// is firing may still read the old cancel func.
func (wd *watchdog) stop() {
	stopped := wd.timer.Stop()
	wd.mu.Lock()
	c := wd.cancel
	wd.cancel, wd.ctx = nil, nil
	wd.mu.Unlock()
	if c != nil {
		c()
	}
	// (A kick racing the very moment of expiry could re-arm a timer whose
	// callback is about to run; fired is checked to keep that window to
	// the instant between expiry and fire's first statement.)
	if stopped && !wd.fired.Load() {
		watchdogs.Put(wd)
	}
}
