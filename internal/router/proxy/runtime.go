package proxy

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector target the router process
// runs with unless GOGC is set. The data plane allocates little per
// request and its live heap is mostly the compiled Table, so collecting
// at 100% growth (Go's default) spends CPU scanning a heap that has
// barely changed; 200 halves that for one more Table's worth of memory.
const DefaultGCPercent = 200

// SetRuntimeDefaults applies the router process's runtime settings unless
// the environment chose its own: GOGC as DefaultGCPercent. A memory limit
// is left to GOMEMLIMIT (the pod's limit is what it should follow, and the
// process cannot know it reliably). The router command calls it once at
// start.
func SetRuntimeDefaults() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(DefaultGCPercent)
	}
}
