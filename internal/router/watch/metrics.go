package watch

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the watcher's Prometheus metrics.
type Metrics struct {
	rebuilds      *prometheus.HistogramVec
	routes        prometheus.Gauge
	statusChanges prometheus.Counter
}

// NewMetrics registers the watcher's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		rebuilds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gantry_router", Name: "table_rebuild_seconds",
			Help:    "Time to build a routing table and hand it to the data planes; kind is routes when routes were admitted again, endpoints when only endpoints changed.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"kind"}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gantry_router", Name: "routes_admitted",
			Help: "Routes admitted by this router in the last table.",
		}),
		statusChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gantry_router", Name: "route_status_changes_total",
			Help: "Route status entries found to differ from what this router wants (before deduplication by the status writer).",
		}),
	}
	for _, c := range []prometheus.Collector{m.rebuilds, m.routes, m.statusChanges} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observe(d time.Duration, routes bool, admitted, changes int) {
	kind := "endpoints"
	if routes {
		kind = "routes"
	}
	m.rebuilds.WithLabelValues(kind).Observe(d.Seconds())
	m.routes.Set(float64(admitted))
	m.statusChanges.Add(float64(changes))
}
