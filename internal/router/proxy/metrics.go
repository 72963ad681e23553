package proxy

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus series. Per-route series are created
// on a route's first request (a router with 10,000 idle routes exports
// nothing for them) and deleted when the route leaves the Table.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	unmatched     prometheus.Counter
	backendErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, routerName string) (*metrics, error) {
	constLabels := prometheus.Labels{"router": routerName}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_router_requests_total", ConstLabels: constLabels,
			Help: "HTTP requests served for a route, by status code class (2xx, 3xx, 4xx, 5xx, other).",
		}, []string{"namespace", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gantry_router_request_duration_seconds", ConstLabels: constLabels,
			Help:    "Time from a request's arrival to the end of its response, per route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"namespace", "route"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gantry_router_unmatched_requests_total", ConstLabels: constLabels,
			Help: "Requests for a host and path no route serves (answered 503).",
		}),
		backendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_router_backend_errors_total", ConstLabels: constLabels,
			Help: "Failed requests to a route's endpoints, by reason (connect, timeout, tls, other).",
		}, []string{"namespace", "route", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.unmatched, m.backendErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register router metrics: %w. Try: one proxy per metrics registry, or a RouterName of its own", err)
		}
	}
	return m, nil
}

// routeMetrics are one route's series, resolved once so that a request
// does not hash label values.
type routeMetrics struct {
	m         *metrics
	namespace string
	name      string
	mu        sync.Mutex
	codes     [6]prometheus.Counter
	dur       prometheus.Observer
}

var codeClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (m *metrics) route(namespace, name string) *routeMetrics {
	return &routeMetrics{m: m, namespace: namespace, name: name}
}

func (rm *routeMetrics) observe(status int, seconds float64) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	rm.mu.Lock()
	c, d := rm.codes[class], rm.dur
	if c == nil {
		c = rm.m.requests.WithLabelValues(rm.namespace, rm.name, codeClasses[class])
		rm.codes[class] = c
	}
	if d == nil {
		d = rm.m.duration.WithLabelValues(rm.namespace, rm.name)
		rm.dur = d
	}
	rm.mu.Unlock()
	c.Inc()
	d.Observe(seconds)
}

func (rm *routeMetrics) backendError(reason string) {
	rm.m.backendErrors.WithLabelValues(rm.namespace, rm.name, reason).Inc()
}

// delete removes the route's series once it is no longer served.
func (rm *routeMetrics) delete() {
	l := prometheus.Labels{"namespace": rm.namespace, "route": rm.name}
	rm.m.requests.DeletePartialMatch(l)
	rm.m.duration.DeletePartialMatch(l)
	rm.m.backendErrors.DeletePartialMatch(l)
}
