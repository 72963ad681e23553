package proxy

import (
	"context"
	"sync/atomic"
	"time"
)

// watchdog is a request's server timeout (HAProxy's "timeout server", the
// route's haproxy.router.openshift.io/timeout): an inactivity timer, reset
// whenever request or response body bytes move, that cancels the request's
// context when the backend is silent for too long. A long download that
// keeps flowing is never cut.
// (Pooling watchdogs saved two allocations but let a timer firing late
// cancel the next request using the same watchdog; see
// docs/dev/router-proxy.md.)
type watchdog struct {
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
	d      time.Duration
	fired  atomic.Bool
}

func startWatchdog(parent context.Context, d time.Duration) *watchdog {
	ctx, cancel := context.WithCancel(parent)
	wd := &watchdog{ctx: ctx, cancel: cancel, d: d}
	wd.timer = time.AfterFunc(d, wd.fire)
	return wd
}

func (wd *watchdog) fire() {
	wd.fired.Store(true)
	wd.cancel()
}

// kick restarts the inactivity period, unless the watchdog already fired.
func (wd *watchdog) kick() {
	if !wd.fired.Load() {
		wd.timer.Reset(wd.d)
	}
}

// stop ends the watchdog and cancels its context.
func (wd *watchdog) stop() {
	wd.timer.Stop()
	wd.cancel()
}
