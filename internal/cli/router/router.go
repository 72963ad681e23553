// Package router implements `gantry router`: Gantry's router on its own, for
// a cluster running Gantry's OpenShift API, as a pod with its service
// account or beside the cluster with a kubeconfig. It takes OpenShift's
// router environment variables as flag defaults, so a deployment written for
// OpenShift's router runs it unchanged.
package router

import (
	"fmt"
	"github.com/gantry-dev/gantry/internal/cli/clusterconfig"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	routeclientset "github.com/openshift/client-go/route/clientset/versioned"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/internal/router/model"
	"github.com/gantry-dev/gantry/internal/router/proxy"
	"github.com/gantry-dev/gantry/internal/router/run"
)

// Options are the flags of `gantry router`.
type Options struct {
	Kubeconfig         string
	Name               string
	CanonicalHostname  string
	Bind               string
	HTTPPort           int
	HTTPSPort          int
	StatsPort          int
	Subdomain          string
	RouteSelector      string
	NamespaceSelector  string
	AllowWildcard      bool
	DefaultCertificate string
	Backend            string
	HAProxyDir         string
	HAProxyMap         string
	AccessLog          bool
}

// env is one flag's OpenShift environment variable.
type env struct{ flag, name string }

// envs are the OpenShift router variables the flags default from.
var envs = []env{
	{"name", "ROUTER_SERVICE_NAME"},
	{"canonical-hostname", "ROUTER_CANONICAL_HOSTNAME"},
	{"http-port", "ROUTER_SERVICE_HTTP_PORT"},
	{"https-port", "ROUTER_SERVICE_HTTPS_PORT"},
	{"stats-port", "STATS_PORT"},
	{"subdomain", "ROUTER_SUBDOMAIN"},
	{"route-selector", "ROUTE_LABELS"},
	{"namespace-selector", "NAMESPACE_LABELS"},
	{"allow-wildcard-routes", "ROUTER_ALLOW_WILDCARD_ROUTES"},
	{"default-certificate", "DEFAULT_CERTIFICATE_PATH"},
}

// NewCommand returns `gantry router`.
func NewCommand() *cobra.Command {
	o := &Options{Name: "default", Bind: "0.0.0.0", HTTPPort: 80, HTTPSPort: 443, StatsPort: 1936, Backend: run.BackendGantry}
	cmd := &cobra.Command{
		Use:   "router",
		Short: "Serve routes: the router for an existing cluster",
		Long: `Serve the routes of a cluster running Gantry's OpenShift API: HTTP and HTTPS
with SNI (edge, passthrough and reencrypt routes), from a routing table
rebuilt on every change of routes, services, endpoints and namespaces, never
reloaded. It writes its verdict on every route it serves into the route's
status.ingress, under its --name.

Its identity (the kubeconfig's, or the pod's service account) needs to list
and watch routes, services, endpointslices and namespaces, and update
routes/status: OpenShift's system:router cluster role. With
--namespace-selector it also lists and watches namespaces, which
system:router does not allow (add cluster-reader, as on OpenShift).

Each flag defaults from the environment variable OpenShift's router reads
(ROUTER_SERVICE_NAME, ROUTER_SERVICE_HTTP_PORT, ROUTER_SERVICE_HTTPS_PORT,
STATS_PORT, ROUTER_SUBDOMAIN, ROUTE_LABELS, NAMESPACE_LABELS,
ROUTER_ALLOW_WILDCARD_ROUTES, DEFAULT_CERTIFICATE_PATH,
ROUTER_CANONICAL_HOSTNAME); a flag given wins.`,
		Example: `  # In a pod whose service account has the system:router role:
  gantry router --subdomain apps.example.com --default-certificate /etc/router/tls.pem

  # Beside the cluster, a shard on unprivileged ports:
  gantry router --kubeconfig router.kubeconfig --name shard-a --route-selector shard=a \
    --http-port 8080 --https-port 8443 --bind 127.0.0.1`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags(), os.LookupEnv)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The router process is the data plane alone: it collects with a
			// fixed heap headroom (unless GOGC is set).
			proxy.SetRuntimeDefaults()
			cfg, err := o.Config()
			if err != nil {
				return err
			}
			r, err := run.New(cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			return r.Run(cmd.Context(), func() {
				fmt.Fprintf(out, "Router %q serving HTTP on %s and HTTPS on %s", o.Name, r.HTTPAddr(), r.HTTPSAddr())
				if a := r.StatsAddr(); a != "" {
					fmt.Fprintf(out, " (/healthz and /metrics on %s)", a)
				}
				fmt.Fprintln(out)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "Kubeconfig of the cluster (default: the pod's service account)")
	f.StringVar(&o.Name, "name", o.Name, "Name of this router, written as routerName in the routes' status [ROUTER_SERVICE_NAME]")
	f.StringVar(&o.CanonicalHostname, "canonical-hostname", "", "Host name DNS should point the routes' hosts at, written in their status [ROUTER_CANONICAL_HOSTNAME]")
	f.StringVar(&o.Bind, "bind", o.Bind, "Address to serve HTTP, HTTPS and stats on")
	f.IntVar(&o.HTTPPort, "http-port", o.HTTPPort, "HTTP port [ROUTER_SERVICE_HTTP_PORT]")
	f.IntVar(&o.HTTPSPort, "https-port", o.HTTPSPort, "HTTPS port [ROUTER_SERVICE_HTTPS_PORT]")
	f.IntVar(&o.StatsPort, "stats-port", o.StatsPort, "Port of /healthz and /metrics; 0 turns them off [STATS_PORT]")
	f.StringVar(&o.Subdomain, "subdomain", "", "Routing suffix: routes without a host are served at <name>-<namespace>.<subdomain> [ROUTER_SUBDOMAIN]")
	f.StringVar(&o.RouteSelector, "route-selector", "", "Serve only routes with these labels (a label selector: shard=a,env!=test) [ROUTE_LABELS]")
	f.StringVar(&o.NamespaceSelector, "namespace-selector", "", "Serve only routes of namespaces with these labels [NAMESPACE_LABELS]")
	f.BoolVar(&o.AllowWildcard, "allow-wildcard-routes", false, "Admit routes with wildcardPolicy Subdomain [ROUTER_ALLOW_WILDCARD_ROUTES]")
	f.StringVar(&o.DefaultCertificate, "default-certificate", "", "PEM file with the certificate (and chain) and private key served for names no route has a certificate for; default: a self-signed *.<subdomain> made at start [DEFAULT_CERTIFICATE_PATH]")
	f.StringVar(&o.Backend, "backend", o.Backend, "Data plane: gantry (Gantry's proxy) or haproxy")
	f.StringVar(&o.HAProxyDir, "haproxy-dir", "", "With --backend=haproxy: directory for haproxy's configuration, maps, certificates and sockets (default: a directory under the system's temporary directory)")
	f.StringVar(&o.HAProxyMap, "haproxy-map", "regex", "With --backend=haproxy: host lookup, regex (as OpenShift's template router) or exact")
	f.BoolVar(&o.AccessLog, "access-log", false, "Log every request to stderr")
	return cmd
}

// applyEnv sets each flag not given on the command line from its
// environment variable.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	for _, e := range envs {
		f := fs.Lookup(e.flag)
		if f == nil || f.Changed {
			continue
		}
		v, ok := lookup(e.name)
		if !ok || v == "" {
			continue
		}
		if err := fs.Set(e.flag, v); err != nil {
			return fmt.Errorf("environment variable %s=%q: %w. Try: a valid value for --%s, or unset it", e.name, v, err, e.flag)
		}
	}
	return nil
}

// Config checks the options and turns them into the router's
// configuration, with clients of the cluster.
func (o *Options) Config() (run.Config, error) {
	var c run.Config
	if net.ParseIP(o.Bind) == nil {
		return c, fmt.Errorf("--bind %q is not an IP address. Try: 0.0.0.0, or an address of this machine", o.Bind)
	}
	for _, p := range []struct {
		name string
		v    int
		zero bool
	}{{"--http-port", o.HTTPPort, false}, {"--https-port", o.HTTPSPort, false}, {"--stats-port", o.StatsPort, true}} {
		if p.v < 0 || p.v > 65535 || (p.v == 0 && !p.zero) {
			return c, fmt.Errorf("%s %d is not a port. Try: a number from 1 to 65535", p.name, p.v)
		}
	}
	if o.HTTPPort == o.HTTPSPort || (o.StatsPort != 0 && (o.StatsPort == o.HTTPPort || o.StatsPort == o.HTTPSPort)) {
		return c, fmt.Errorf("--http-port %d, --https-port %d and --stats-port %d must differ", o.HTTPPort, o.HTTPSPort, o.StatsPort)
	}
	c.Model = model.Config{
		RouterName: o.Name, CanonicalHostname: o.CanonicalHostname,
		RouteSelector: o.RouteSelector, NamespaceSelector: o.NamespaceSelector,
		AllowWildcardRoutes: o.AllowWildcard, Subdomain: o.Subdomain,
	}
	// The model checks names and selectors; check them before connecting.
	if _, err := model.NewBuilder(c.Model); err != nil {
		return c, err
	}
	c.Backend = o.Backend
	if o.Backend == run.BackendHAProxy {
		c.HAProxyDir, c.HAProxyMapMode = o.HAProxyDir, o.HAProxyMap
		if c.HAProxyDir == "" {
			c.HAProxyDir = filepath.Join(os.TempDir(), "gantry-router-haproxy-"+o.Name)
		}
		if o.HAProxyMap != "regex" && o.HAProxyMap != "exact" {
			return c, fmt.Errorf("--haproxy-map %q: want regex or exact", o.HAProxyMap)
		}
	}
	c.HTTPAddr = net.JoinHostPort(o.Bind, strconv.Itoa(o.HTTPPort))
	c.HTTPSAddr = net.JoinHostPort(o.Bind, strconv.Itoa(o.HTTPSPort))
	if o.StatsPort != 0 {
		c.StatsAddr = net.JoinHostPort(o.Bind, strconv.Itoa(o.StatsPort))
	}
	var err error
	if o.DefaultCertificate != "" {
		if c.DefaultCertificate, err = run.LoadCertificate(o.DefaultCertificate, ""); err != nil {
			return c, err
		}
	} else {
		if c.DefaultCertificate, err = run.SelfSigned(o.Subdomain, time.Now()); err != nil {
			return c, err
		}
		fmt.Fprintf(os.Stderr, "No --default-certificate: serving a self-signed certificate for %s to names no route has a certificate for\n", c.DefaultCertificate.Leaf.Subject.CommonName)
	}
	if o.AccessLog {
		c.AccessLog = os.Stderr
	}
	rc, err := o.restConfig()
	if err != nil {
		return c, err
	}
	if c.Kube, err = kubernetes.NewForConfig(rc); err != nil {
		return c, err
	}
	if c.Routes, err = routeclientset.NewForConfig(rc); err != nil {
		return c, err
	}
	return c, nil
}

func (o *Options) restConfig() (*rest.Config, error) {
	rc, err := clusterconfig.Load(o.Kubeconfig, "gantry-router")
	if err != nil {
		return nil, err
	}
	// Status writes after a start at 10,000 routes: more than client-go's
	// default 5/s, still gentle on the API.
	rc.QPS, rc.Burst = 50, 100
	return rc, nil
}
