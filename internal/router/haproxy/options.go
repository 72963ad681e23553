package haproxy

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// MapMode is how hosts and paths are looked up.
type MapMode string

const (
	// MapRegex is OpenShift's template router: one anchored regular
	// expression per route, matched one after the other (map_reg). It is
	// what OpenShift users ran and what the benchmarks compare against.
	MapRegex MapMode = "regex"
	// MapExact looks the host and path up in trees (map_str for exact
	// host+path, map_beg for path prefixes), so the cost does not grow
	// with the number of routes.
	MapExact MapMode = "exact"
)

// Options configure the HAProxy data plane.
type Options struct {
	// Binary is the haproxy executable; empty means haproxy on $PATH.
	Binary string
	// Dir holds the configuration, maps, certificates and sockets; it is
	// created if missing. Required.
	Dir string
	// BindAddress is the address the public listeners bind; empty binds
	// every address.
	BindAddress string
	// HTTPPort and HTTPSPort are the public ports; 0 means 80 and 443.
	HTTPPort, HTTPSPort int
	// StatsPort, when not 0, serves HAProxy's statistics page and
	// /healthz on BindAddress (127.0.0.1 when BindAddress is empty).
	StatsPort int
	// MapMode is MapRegex (the default, as OpenShift) or MapExact.
	MapMode MapMode
	// Threads is haproxy's nbthread; 0 means 2.
	Threads int
	// MaxConn is the global connection limit; 0 means 20000, or less when
	// the open-file limit would not allow haproxy two descriptors per
	// connection (it refuses to start then).
	MaxConn int
	// SlotStep is how many server slots a route's service gets at a time:
	// endpoints are written into free slots through the runtime API, and
	// only a service outgrowing its slots needs a reload. 0 means 4.
	SlotStep int
	// DefaultCertificate is served to TLS clients whose server name no
	// route has a certificate for; nil generates a self-signed one.
	DefaultCertificate *tls.Certificate
	// ConnectTimeout, ClientTimeout and ServerTimeout are the defaults of
	// every route (a route's timeout annotation overrides the server
	// timeout); 0 means 5s, 30s and 30s.
	ConnectTimeout, ClientTimeout, ServerTimeout time.Duration
	// ReloadTimeout bounds the wait for a new worker after a reload or at
	// start; 0 means 60s.
	ReloadTimeout time.Duration
	// Logf receives haproxy's output and the data plane's notes; nil
	// discards them.
	Logf func(format string, args ...any)
}

// withDefaults checks the options and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, fmt.Errorf("haproxy: a working directory is required. Try: a directory the router may write its haproxy.cfg, maps and sockets to")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("haproxy: working directory %q: %w", o.Dir, err)
	}
	o.Dir = dir
	if o.Binary == "" {
		o.Binary = "haproxy"
	}
	path, err := exec.LookPath(o.Binary)
	if err != nil {
		return o, fmt.Errorf("haproxy: %v. Try: apt-get install -y haproxy (Debian's haproxy 2.6), or give the binary's path", err)
	}
	o.Binary = path
	if o.BindAddress != "" {
		if _, err := netip.ParseAddr(o.BindAddress); err != nil {
			return o, fmt.Errorf("haproxy: bind address %q is not an IP address. Try: 0.0.0.0, 127.0.0.1 or empty for every address", o.BindAddress)
		}
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	if o.HTTPSPort == 0 {
		o.HTTPSPort = 443
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"HTTP port", o.HTTPPort}, {"HTTPS port", o.HTTPSPort}, {"stats port", o.StatsPort}} {
		if p.v < 0 || p.v > 65535 {
			return o, fmt.Errorf("haproxy: %s %d is not a port number (1-65535)", p.name, p.v)
		}
	}
	if o.HTTPPort == o.HTTPSPort || (o.StatsPort != 0 && (o.StatsPort == o.HTTPPort || o.StatsPort == o.HTTPSPort)) {
		return o, fmt.Errorf("haproxy: the HTTP (%d), HTTPS (%d) and stats (%d) ports must differ", o.HTTPPort, o.HTTPSPort, o.StatsPort)
	}
	switch o.MapMode {
	case "":
		o.MapMode = MapRegex
	case MapRegex, MapExact:
	default:
		return o, fmt.Errorf("haproxy: map mode %q is not regex or exact", o.MapMode)
	}
	if o.Threads == 0 {
		o.Threads = 2
	}
	if o.MaxConn == 0 {
		o.MaxConn = defaultMaxConn()
	}
	if o.SlotStep == 0 {
		o.SlotStep = 4
	}
	if o.Threads < 0 || o.MaxConn < 0 || o.SlotStep < 0 {
		return o, fmt.Errorf("haproxy: threads, max connections and slot step must be positive")
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.ClientTimeout == 0 {
		o.ClientTimeout = 30 * time.Second
	}
	if o.ServerTimeout == 0 {
		o.ServerTimeout = 30 * time.Second
	}
	if o.ReloadTimeout == 0 {
		o.ReloadTimeout = 60 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o, nil
}

// paths of the files in Dir.
func (o Options) path(name string) string { return filepath.Join(o.Dir, name) }

// StatsBind is where the stats listener binds.
func (o Options) StatsBind() string {
	if o.BindAddress == "" {
		return "127.0.0.1"
	}
	return o.BindAddress
}

// defaultMaxConn is 20000 connections, or what the open-file limit allows
// at two descriptors each with some to spare.
func defaultMaxConn() int {
	n := 20000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Max < 1<<31 {
		n = min(n, int(lim.Max)/2-1000)
	}
	return max(n, 256)
}
