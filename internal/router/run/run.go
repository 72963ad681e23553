// Package run puts a router together: the watcher and status writer (the
// control plane) feeding Gantry's proxy behind its TLS front (the data
// plane), with a stats server for /healthz and /metrics. `gantry router`
// and the router service of `gantry start` both run it, so the two differ
// only in where their flags and credentials come from.
package run

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	routeclientset "github.com/openshift/client-go/route/clientset/versioned"
	routeinformers "github.com/openshift/client-go/route/informers/externalversions"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/router/front"
	"github.com/gantry-dev/gantry/internal/router/model"
	"github.com/gantry-dev/gantry/internal/router/proxy"
	"github.com/gantry-dev/gantry/internal/router/status"
	"github.com/gantry-dev/gantry/internal/router/watch"
)

// Backends a router can serve with.
const (
	BackendGantry  = "gantry"
	BackendHAProxy = "haproxy"
)

// Config is one router.
type Config struct {
	// Model is the router's name, shard and admission policy.
	Model model.Config
	// Kube and Routes are the clients of the cluster; Routes must be able
	// to update routes/status.
	Kube   kubernetes.Interface
	Routes routeclientset.Interface
	// HTTPAddr and HTTPSAddr are where traffic is served (host:port).
	HTTPAddr, HTTPSAddr string
	// StatsAddr serves /healthz and /metrics; empty turns it off.
	StatsAddr string
	// DefaultCertificate is served for TLS server names no route has a
	// certificate for. Required.
	DefaultCertificate *tls.Certificate
	// Backend is BackendGantry (default) or BackendHAProxy.
	Backend string
	// RootCAs verify the endpoints of reencrypt routes without a
	// destinationCACertificate (the service CA); nil means system roots.
	RootCAs *x509.CertPool
	// AccessLog, when set, gets one line per request.
	AccessLog io.Writer
	// Resync is the informers' resync period; 0 means none.
	Resync time.Duration
	// HAProxyDir is the haproxy backend's working directory (its
	// configuration, maps, certificates and sockets); HAProxyMapMode is
	// "regex" (OpenShift's template router, the default) or "exact".
	HAProxyDir, HAProxyMapMode string
}

// Router is a router ready to Run: its ports are bound already, so a port
// taken fails New, not later.
type Router struct {
	cfg       Config
	watcher   *watch.Watcher
	writer    *status.Writer
	proxy     *proxy.Proxy
	front     *front.Front
	haproxy   *haproxyPlane
	registry  *prometheus.Registry
	http      net.Listener
	https     net.Listener
	stats     net.Listener
	closeOnce sync.Once
}

// New checks the configuration, builds the router and binds its ports.
func New(cfg Config) (*Router, error) {
	switch cfg.Backend {
	case "", BackendGantry, BackendHAProxy:
	default:
		return nil, fmt.Errorf("router: unknown backend %q. Try: --backend=gantry or --backend=haproxy", cfg.Backend)
	}
	if cfg.Kube == nil || cfg.Routes == nil {
		return nil, errors.New("router: Kubernetes and route clients are required")
	}
	if cfg.DefaultCertificate == nil {
		return nil, errors.New("router: a default certificate is required")
	}
	b, err := model.NewBuilder(cfg.Model)
	if err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, registry: prometheus.NewRegistry()}
	// With the live heap (go_gc_heap_live_bytes): what the router holds,
	// apart from garbage and GC headroom.
	r.registry.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var planes []model.Dataplane
	if cfg.Backend == BackendHAProxy {
		if r.haproxy, err = newHAProxy(cfg); err != nil {
			return nil, err
		}
		planes = []model.Dataplane{r.haproxy}
	} else {
		if r.proxy, err = proxy.New(proxy.Config{Metrics: r.registry, AccessLog: cfg.AccessLog, RootCAs: cfg.RootCAs, RouterName: cfg.Model.RouterName}); err != nil {
			return nil, err
		}
		if r.front, err = front.New(front.Config{Handler: r.proxy, ConnContext: proxy.ConnContext, DefaultCertificate: cfg.DefaultCertificate}); err != nil {
			return nil, err
		}
		// The proxy before the front: a host the front lets through has
		// its route in the proxy already.
		planes = []model.Dataplane{r.proxy, r.front}
	}
	metrics, err := watch.NewMetrics(r.registry)
	if err != nil {
		return nil, err
	}
	// The caches keep only what the router reads (watch.Trim): at 10,000
	// routes managedFields, last-applied configurations and EndpointSlices'
	// pod references are most of an untrimmed cache.
	rf := routeinformers.NewSharedInformerFactoryWithOptions(cfg.Routes, cfg.Resync, routeinformers.WithTransform(watch.Trim))
	kf := informers.NewSharedInformerFactoryWithOptions(cfg.Kube, cfg.Resync, informers.WithTransform(watch.Trim))
	// The writer reads the watcher's route cache: both go through one
	// informer (the factory hands out one per type).
	if r.writer, err = status.New(status.Config{
		Client: cfg.Routes.RouteV1(), Lister: rf.Route().V1().Routes().Lister(),
		RouterName: cfg.Model.RouterName, CanonicalHostname: cfg.Model.CanonicalHostname, Now: cfg.Model.Now,
	}); err != nil {
		return nil, err
	}
	if r.watcher, err = watch.New(watch.Config{
		Routes: rf, Kube: kf, Builder: b, WatchNamespaces: cfg.Model.NamespaceSelector != "",
		Dataplanes: planes, Status: r.writer, Metrics: metrics,
	}); err != nil {
		return nil, err
	}
	if err := r.listen(); err != nil {
		r.closeListeners()
		return nil, err
	}
	return r, nil
}

// listen binds the ports; haproxy binds its own.
func (r *Router) listen() error {
	var err error
	if r.haproxy == nil {
		if r.http, err = listen("HTTP", r.cfg.HTTPAddr); err != nil {
			return err
		}
		if r.https, err = listen("HTTPS", r.cfg.HTTPSAddr); err != nil {
			return err
		}
	}
	if r.cfg.StatsAddr != "" {
		if r.stats, err = listen("stats", r.cfg.StatsAddr); err != nil {
			return err
		}
	}
	return nil
}

func listen(what, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("router %s port: %w. Try: another port (flags --http-port, --https-port, --stats-port) or stop what uses it", what, err)
	}
	return l, nil
}

func (r *Router) closeListeners() {
	r.closeOnce.Do(func() {
		for _, l := range []net.Listener{r.http, r.https, r.stats} {
			if l != nil {
				l.Close()
			}
		}
	})
}

// HTTPAddr, HTTPSAddr and StatsAddr are the addresses served (with the
// ports chosen when :0 was asked for); StatsAddr is "" when off.
func (r *Router) HTTPAddr() string  { return addrOf(r.http, r.cfg.HTTPAddr) }
func (r *Router) HTTPSAddr() string { return addrOf(r.https, r.cfg.HTTPSAddr) }
func (r *Router) StatsAddr() string { return addrOf(r.stats, r.cfg.StatsAddr) }

func addrOf(l net.Listener, configured string) string {
	if l == nil {
		return configured
	}
	return l.Addr().String()
}

// Healthy reports whether the router serves its routes: the first Table
// has reached the data plane.
func (r *Router) Healthy() bool {
	select {
	case <-r.watcher.Served():
		if r.haproxy != nil {
			return r.haproxy.started.Load()
		}
		return r.proxy.Ready()
	default:
		return false
	}
}

// Run serves until ctx is done; ready is called once the first Table is
// served. Traffic is taken from the start (the proxy answers 503 until its
// first Table), so a router that restarts is never refused at the TCP
// level.
func (r *Router) Run(ctx context.Context, ready func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	goRun := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("router %s: %w", name, err)
			}
		}()
	}
	if r.haproxy != nil {
		r.haproxy.run(ctx, errc)
	}
	goRun("watch", func() error { return r.watcher.Run(ctx) })
	goRun("status", func() error { r.writer.Run(ctx); return nil })
	if r.front != nil {
		goRun("http", func() error { return ignoreClosed(r.front.ServeHTTP(r.http)) })
		goRun("https", func() error { return ignoreClosed(r.front.ServeHTTPS(r.https)) })
	}
	var statsSrv *http.Server
	if r.stats != nil {
		statsSrv = &http.Server{Handler: r.statsHandler(), ReadHeaderTimeout: 10 * time.Second}
		goRun("stats", func() error { return ignoreClosed(statsSrv.Serve(r.stats)) })
	}
	var err error
	select {
	case <-r.watcher.Served():
		klog.InfoS("Router serving", "router", r.cfg.Model.RouterName, "backend", r.cfg.Backend, "http", r.HTTPAddr(), "https", r.HTTPSAddr(), "routes", r.watcher.Table().Routes.Len())
		if ready != nil {
			ready()
		}
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	shutdown, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	if r.front != nil {
		if serr := r.front.Shutdown(shutdown); serr != nil {
			klog.V(2).InfoS("Router shutdown", "err", serr)
		}
	}
	if statsSrv != nil {
		statsSrv.Close()
	}
	r.closeListeners()
	wg.Wait()
	if r.haproxy != nil {
		r.haproxy.stop()
	}
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// statsHandler serves /healthz (200 once the first Table is served, 503
// before) and /metrics.
func (r *Router) statsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !r.Healthy() {
			http.Error(w, "router: waiting for the first routing table (the route, service and endpoint caches have not synced)", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(r.registry, promhttp.HandlerOpts{Registry: r.registry}))
	return mux
}
