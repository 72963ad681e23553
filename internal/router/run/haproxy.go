package run

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/router/haproxy"
	"github.com/gantry-dev/gantry/internal/router/model"
)

// haproxyPlane is the HAProxy backend as the watcher's data plane: haproxy
// is started with the first Table (so it never serves an empty
// configuration to a router with routes) and driven through Update after.
type haproxyPlane struct {
	r       *haproxy.Router
	ctx     context.Context
	errc    chan<- error
	started atomic.Bool
	once    sync.Once
}

var _ model.Dataplane = (*haproxyPlane)(nil)

func newHAProxy(cfg Config) (*haproxyPlane, error) {
	host, httpPort, err := splitAddr("HTTP", cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	_, httpsPort, err := splitAddr("HTTPS", cfg.HTTPSAddr)
	if err != nil {
		return nil, err
	}
	if host == "0.0.0.0" || host == "::" {
		host = ""
	}
	if cfg.HAProxyDir == "" {
		return nil, fmt.Errorf("router: the haproxy backend needs a working directory. Try: --haproxy-dir")
	}
	r, err := haproxy.New(haproxy.Options{
		Dir: cfg.HAProxyDir, BindAddress: host, HTTPPort: httpPort, HTTPSPort: httpsPort,
		MapMode: haproxy.MapMode(cfg.HAProxyMapMode), DefaultCertificate: cfg.DefaultCertificate,
		Logf: func(format string, args ...any) {
			klog.InfoS(fmt.Sprintf(format, args...), "router", cfg.Model.RouterName)
		},
	})
	if err != nil {
		return nil, err
	}
	return &haproxyPlane{r: r}, nil
}

func splitAddr(what, addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("router %s address %q: %w", what, addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("router %s address %q: the haproxy backend needs a fixed port", what, addr)
	}
	return host, p, nil
}

// run sets what Start runs under and where its failure goes.
func (h *haproxyPlane) run(ctx context.Context, errc chan<- error) { h.ctx, h.errc = ctx, errc }

func (h *haproxyPlane) Update(t *model.Table) {
	if h.started.Load() {
		h.r.Update(t)
		return
	}
	h.once.Do(func() {
		if err := h.r.Start(h.ctx, t); err != nil {
			h.errc <- fmt.Errorf("router haproxy: %w", err)
			return
		}
		h.started.Store(true)
	})
}

func (h *haproxyPlane) stop() {
	if err := h.r.Stop(); err != nil {
		klog.V(2).InfoS("Stop haproxy", "err", err)
	}
}
