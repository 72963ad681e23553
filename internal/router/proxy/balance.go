package proxy

import (
	"math/rand/v2"
	"sort"
	"sync/atomic"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// pool is the weighted set of endpoints one route sends traffic to, with
// the route's balance algorithm. It belongs to one state and is never
// modified; the round-robin position is shared with the route's pools of
// later states (by namespace/name), so a Table swap does not restart it.
type pool struct {
	eps     []*endpoint
	weights []int64 // > 0, one per endpoint
	cum     []int64 // cumulative weights, for source and random
	total   int64
	// sched is a smooth weighted round-robin order of endpoint indexes;
	// nil when every weight is the same (plain rotation).
	sched []int32
	algo  model.Balance
	rr    *atomic.Uint64
	// cookies caches the route's Set-Cookie values per endpoint, built on
	// first use.
	cookies []atomic.Pointer[cookieLines]
}

// weightScale divides evenly by every endpoint count up to 16, so that a
// service's weight split over its endpoints stays exact in most cases.
const weightScale = 720720

// maxSchedule bounds the round-robin schedule of unevenly weighted
// endpoints; weights are scaled down (never below 1) to fit.
const maxSchedule = 4096

type weighted struct {
	ep     *endpoint
	weight int64
}

// newPool builds a route's pool. A service's weight is shared evenly by
// its endpoints, as OpenShift's router does, so a service with weight 1 and
// ten pods gets as much traffic as one with weight 1 and one pod.
// Endpoints of weight 0 are left out.
func newPool(ws []weighted, algo model.Balance, rr *atomic.Uint64) *pool {
	p := &pool{algo: algo, rr: rr}
	var g int64
	for _, w := range ws {
		if w.weight <= 0 {
			continue
		}
		p.eps = append(p.eps, w.ep)
		p.weights = append(p.weights, w.weight)
		g = gcd(g, w.weight)
	}
	if len(p.eps) == 0 {
		return p
	}
	p.cookies = make([]atomic.Pointer[cookieLines], len(p.eps))
	equal := true
	for i := range p.weights {
		p.weights[i] /= g
		p.total += p.weights[i]
		if p.weights[i] != p.weights[0] {
			equal = false
		}
	}
	p.cum = make([]int64, len(p.weights))
	var c int64
	for i, w := range p.weights {
		c += w
		p.cum[i] = c
	}
	if !equal && algo == model.BalanceRoundRobin {
		p.sched = schedule(p.weights)
	}
	return p
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// schedule is nginx's smooth weighted round robin unrolled into one full
// cycle: each endpoint appears in proportion to its weight, spread out
// rather than in runs.
func schedule(weights []int64) []int32 {
	w := append([]int64(nil), weights...)
	var total int64
	for _, x := range w {
		total += x
	}
	if total > maxSchedule {
		var t int64
		for i := range w {
			w[i] = w[i] * maxSchedule / total
			if w[i] < 1 {
				w[i] = 1
			}
			t += w[i]
		}
		total = t
	}
	cur := make([]int64, len(w))
	out := make([]int32, 0, total)
	for n := int64(0); n < total; n++ {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, int32(best))
	}
	return out
}

// pick returns the endpoint for a request: by the route's algorithm among
// the endpoints that are up, never skip (the endpoint a retry moves away
// from). When every endpoint is down it picks among all of them anyway, so
// a route whose pods all failed once is retried rather than refused until
// the back-off ends. It returns nil only when no endpoint other than skip
// exists.
func (p *pool) pick(now int64, clientHash uint64, skip *endpoint) *endpoint {
	n := len(p.eps)
	if n == 0 || (n == 1 && p.eps[0] == skip) {
		return nil
	}
	if p.algo == model.BalanceLeastConn {
		if e := p.leastConn(now, skip, true); e != nil {
			return e
		}
		return p.leastConn(now, skip, false)
	}
	var start int
	switch p.algo {
	case model.BalanceSource:
		start = p.byWeight(int64(clientHash % uint64(p.total)))
	case model.BalanceRandom:
		start = p.byWeight(rand.Int64N(p.total))
	default: // roundrobin
		c := p.rr.Add(1) - 1
		if p.sched != nil {
			start = int(p.sched[c%uint64(len(p.sched))])
		} else {
			start = int(c % uint64(n))
		}
	}
	for i := 0; i < n; i++ {
		e := p.eps[(start+i)%n]
		if e != skip && e.up(now) {
			return e
		}
	}
	for i := 0; i < n; i++ {
		if e := p.eps[(start+i)%n]; e != skip {
			return e
		}
	}
	return nil
}

// byWeight maps x in [0, total) to the endpoint whose share covers it.
func (p *pool) byWeight(x int64) int {
	return sort.Search(len(p.cum), func(i int) bool { return p.cum[i] > x })
}

// leastConn returns the endpoint with the fewest requests in flight
// relative to its weight, starting the scan at a rotating position so that
// ties are spread.
func (p *pool) leastConn(now int64, skip *endpoint, onlyUp bool) *endpoint {
	n := len(p.eps)
	start := int(p.rr.Add(1) % uint64(n))
	var best *endpoint
	var bestActive, bestWeight int64
	for i := 0; i < n; i++ {
		j := (start + i) % n
		e := p.eps[j]
		if e == skip || (onlyUp && !e.up(now)) {
			continue
		}
		a, w := e.active.Load(), p.weights[j]
		if best == nil || a*bestWeight < bestActive*w {
			best, bestActive, bestWeight = e, a, w
		}
	}
	return best
}

// indexOf is e's position in the pool, -1 when it is not in it.
func (p *pool) indexOf(e *endpoint) int {
	for i, x := range p.eps {
		if x == e {
			return i
		}
	}
	return -1
}

// byCookie returns the endpoint a sticky cookie value names, if it is in
// the pool and up.
func (p *pool) byCookie(value string, now int64) *endpoint {
	for _, e := range p.eps {
		if e.cookie == value && e.up(now) {
			return e
		}
	}
	return nil
}
