package proxy

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus series. Per-route series are counted
// in plain atomics on the route's own state and turned into metrics only
// when scraped (metrics is a prometheus.Collector): a client_golang
// counter or histogram child per route costs kilobytes, which at 10,000
// routes was most of the proxy's memory. A route exports nothing until its
// first request, and its series go when it leaves the Table.
type metrics struct {
	requests, duration, backendErrors *prometheus.Desc
	unmatched                         prometheus.Counter

	mu     sync.Mutex
	routes map[*routeMetrics]struct{}
}

// durationBuckets are the upper bounds of the request duration histogram,
// in seconds.
var durationBuckets = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

var codeClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// errorReasons are the reasons of gantry_router_backend_errors_total, as
// reason gives them.
var errorReasons = [...]string{"connect", "timeout", "tls", "other"}

func newMetrics(reg prometheus.Registerer, routerName string) (*metrics, error) {
	constLabels := prometheus.Labels{"router": routerName}
	m := &metrics{
		requests: prometheus.NewDesc("gantry_router_requests_total",
			"HTTP requests served for a route, by status code class (2xx, 3xx, 4xx, 5xx, other).",
			[]string{"namespace", "route", "code"}, constLabels),
		duration: prometheus.NewDesc("gantry_router_request_duration_seconds",
			"Time from a request's arrival to the end of its response, per route.",
			[]string{"namespace", "route"}, constLabels),
		backendErrors: prometheus.NewDesc("gantry_router_backend_errors_total",
			"Failed requests to a route's endpoints, by reason (connect, timeout, tls, other).",
			[]string{"namespace", "route", "reason"}, constLabels),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gantry_router_unmatched_requests_total", ConstLabels: constLabels,
			Help: "Requests for a host and path no route serves (answered 503).",
		}),
		routes: map[*routeMetrics]struct{}{},
	}
	for _, c := range []prometheus.Collector{m, m.unmatched} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register router metrics: %w. Try: one proxy per metrics registry, or a RouterName of its own", err)
		}
	}
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.requests
	ch <- m.duration
	ch <- m.backendErrors
}

// Collect implements prometheus.Collector: the series of every route that
// served a request or failed one.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	routes := make([]*routeMetrics, 0, len(m.routes))
	for rm := range m.routes {
		routes = append(routes, rm)
	}
	m.mu.Unlock()
	for _, rm := range routes {
		rm.collect(ch)
	}
}

// routeMetrics are one route's counters.
type routeMetrics struct {
	m               *metrics
	namespace, name string
	codes           [len(codeClasses)]atomic.Uint64
	buckets         [len(durationBuckets) + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumBits         atomic.Uint64                           // float64 bits of the sum of durations
	errors          [len(errorReasons)]atomic.Uint64
}

// route returns a route's counters, exported from now on.
func (m *metrics) route(namespace, name string) *routeMetrics {
	rm := &routeMetrics{m: m, namespace: namespace, name: name}
	m.mu.Lock()
	m.routes[rm] = struct{}{}
	m.mu.Unlock()
	return rm
}

func (rm *routeMetrics) observe(status int, seconds float64) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	rm.codes[class].Add(1)
	i := 0
	for i < len(durationBuckets) && seconds > durationBuckets[i] {
		i++
	}
	rm.buckets[i].Add(1)
	for {
		old := rm.sumBits.Load()
		if rm.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+seconds)) {
			return
		}
	}
}

func (rm *routeMetrics) backendError(reason string) {
	for i, r := range errorReasons {
		if r == reason {
			rm.errors[i].Add(1)
			return
		}
	}
	rm.errors[len(errorReasons)-1].Add(1)
}

// delete removes the route's series once it is no longer served.
func (rm *routeMetrics) delete() {
	rm.m.mu.Lock()
	delete(rm.m.routes, rm)
	rm.m.mu.Unlock()
}

func (rm *routeMetrics) collect(ch chan<- prometheus.Metric) {
	m := rm.m
	var count uint64
	for i := range rm.codes {
		if n := rm.codes[i].Load(); n > 0 {
			count += n
			ch <- prometheus.MustNewConstMetric(m.requests, prometheus.CounterValue, float64(n), rm.namespace, rm.name, codeClasses[i])
		}
	}
	if count > 0 {
		// Buckets are read one by one while requests go on: the count is
		// their total, so the histogram is always consistent.
		cum := make(map[float64]uint64, len(durationBuckets))
		var c uint64
		for i, ub := range durationBuckets {
			c += rm.buckets[i].Load()
			cum[ub] = c
		}
		c += rm.buckets[len(durationBuckets)].Load()
		ch <- prometheus.MustNewConstHistogram(m.duration, c, math.Float64frombits(rm.sumBits.Load()), cum, rm.namespace, rm.name)
	}
	for i := range rm.errors {
		if n := rm.errors[i].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(m.backendErrors, prometheus.CounterValue, float64(n), rm.namespace, rm.name, errorReasons[i])
		}
	}
}
