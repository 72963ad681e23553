package proxy

import (
	"os"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// GCHeadroom is the heap growth the router process allows itself between
// collections, whatever its live heap. Go's GOGC sets the growth as a
// share of the live heap instead: at 10,000 routes the live heap is mostly
// the routes (informer caches, the model, compiled state), and a share of
// it is memory per route that buys nothing. A fixed headroom keeps
// collections as rare as GOGC 200 gives for a small router, where
// collecting often would cost CPU per request, and adds no memory per
// route for a large one. It is a trade: bench/router at 10,000 routes
// (2026-12-02) measured 18 KiB of RSS per route with 128 MiB and 7.7 KiB
// with 32 MiB, which doubled the CPU per request at 10,000 routes (each
// collection marks the whole live heap, most of it the routes). Where
// memory matters more, GOGC=40 gives about the latter.
const GCHeadroom = 128 << 20

// The GC percent the headroom is turned into stays within these bounds: a
// huge heap still grows by a quarter before a collection, so collections
// do not come back to back.
const (
	minGCPercent = 25
	maxGCPercent = 200
)

// SetRuntimeDefaults applies the router process's runtime settings unless
// the environment chose its own: without GOGC, the GC percent follows the
// live heap so that the heap grows by GCHeadroom between collections,
// adjusted every few seconds. A memory limit is left to GOMEMLIMIT (the
// pod's limit is what it should follow, and the process cannot know it
// reliably). The router command calls it once at start.
func SetRuntimeDefaults() {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return
	}
	debug.SetGCPercent(maxGCPercent)
	go func() {
		sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		last := maxGCPercent
		for range time.Tick(5 * time.Second) {
			rtmetrics.Read(sample)
			if sample[0].Value.Kind() != rtmetrics.KindUint64 {
				return // not this Go's metric: keep the default
			}
			if p := gcPercent(sample[0].Value.Uint64()); p != last {
				debug.SetGCPercent(p)
				last = p
			}
		}
	}()
}

// gcPercent is the GC percent that lets a live heap grow by GCHeadroom,
// within bounds, in steps of 5 so that small changes of the heap do not
// reset it.
func gcPercent(live uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	p := int(uint64(GCHeadroom) * 100 / live)
	p -= p % 5
	return min(max(p, minGCPercent), maxGCPercent)
}
