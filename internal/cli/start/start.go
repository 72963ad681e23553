// Package start implements `gantry start`, the all-in-one cluster on one machine.
package start

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/cluster"
	"github.com/gantry-dev/gantry/internal/node"
	"github.com/gantry-dev/gantry/internal/server"
	"github.com/gantry-dev/gantry/internal/service"
)

// Options of `gantry start`.
type Options struct {
	Config                           server.Config
	nodeIP, serviceCIDR, clusterCIDR string
	podCIDR                          string
	extra                            map[string]*[]string
	verbosity                        int
	debugAddr                        string
	Out, ErrOut                      io.Writer
}

// NewCommand returns `gantry start`.
func NewCommand(version string) *cobra.Command {
	o := &Options{Config: server.DefaultConfig(), Out: os.Stdout, ErrOut: os.Stderr, extra: map[string]*[]string{}}
	o.Config.Version = version
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run an all-in-one cluster on this machine",
		Long: `Run an all-in-one cluster on this machine: embedded etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, a kubelet on containerd and runc, kube-proxy, cluster DNS and
a registry holding Gantry's own images. Everything is kept in --data-dir; a second start on the same
directory picks up where the first stopped. Needs root. Stop it with Ctrl-C or SIGTERM: pods are
stopped and the machine is cleaned up (they start again at the next start).`,
		Example: `  # Start with the defaults (data in /var/lib/gantry)
  sudo gantry start

  # Keep the data elsewhere and raise kube-apiserver's log level
  sudo gantry start --data-dir /srv/gantry --kube-apiserver-arg=v=4`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	c := &o.Config
	f.StringVar(&c.DataDir, "data-dir", c.DataDir, "Directory holding the cluster's state")
	f.StringVar(&c.NodeName, "node-name", c.NodeName, "Name of this node")
	f.StringVar(&o.nodeIP, "node-ip", c.NodeIP.String(), "Address of this node; added to the loopback device when no interface has it")
	f.IntVar(&c.APIServerPort, "api-port", c.APIServerPort, "kube-apiserver's port on the node IP")
	f.StringVar(&o.serviceCIDR, "service-cidr", c.ServiceCIDR.String(), "Network of service cluster IPs")
	f.StringVar(&o.clusterCIDR, "cluster-cidr", c.ClusterCIDR.String(), "Network of all pods")
	f.StringVar(&o.podCIDR, "pod-cidr", c.PodCIDR.String(), "Pod addresses of this node (inside --cluster-cidr)")
	f.StringVar(&c.ClusterDomain, "cluster-domain", c.ClusterDomain, "DNS domain of services")
	f.StringVar(&c.RegistryAddr, "registry-addr", c.RegistryAddr, "Loopback address of the registry serving Gantry's images")
	f.StringVar(&c.RegistryStorageFile, "registry-storage", "", "YAML file with the integrated registry's storage: a distribution storage driver and its parameters (filesystem or s3); default: <data-dir>/registry")
	f.StringVar(&c.ProjectRequestMessage, "project-request-message", "", "Message shown to users who may not request projects (e.g. how to ask for one)")
	f.StringSliceVar(&c.AllowedRegistriesForImport, "allowed-registries-for-import", nil, "Registries image imports may reach, as host or host:port patterns (\"*.example.com\"); empty allows any registry on a public address. Loopback, link-local and private addresses must be listed to be reachable")
	f.DurationVar(&c.ScheduledImportInterval, "scheduled-image-import-interval", c.ScheduledImportInterval, "How often image stream tags with importPolicy.scheduled are imported again")
	f.StringVar(&c.ProjectRequestTemplate, "project-request-template", "", "NAMESPACE/NAME of a Template that new projects are made from, instead of the built-in one")
	f.StringVar(&c.OAuthConfigFile, "oauth-config", "", "File with the identity providers and token settings (the oauthConfig stanza of an OpenShift 3 master-config.yaml); default: an htpasswd file in the data directory with a generated admin password")
	f.BoolVar(&c.Router, "router", c.Router, "Run the router on the node IP, serving routes (--router=false to run none, e.g. to run 'gantry router' yourself)")
	f.IntVar(&c.RouterHTTPPort, "router-http-port", c.RouterHTTPPort, "The router's HTTP port on the node IP")
	f.IntVar(&c.RouterHTTPSPort, "router-https-port", c.RouterHTTPSPort, "The router's HTTPS port on the node IP")
	f.StringVar(&c.RouterRouteSelector, "router-route-selector", "", "Label selector of the routes the node's router serves (its shard; empty: every route)")
	f.StringVar(&c.RoutingSuffix, "routing-suffix", "", "Subdomain of generated route hosts (<route>-<namespace>.<suffix>), covered by the router's default certificate; default apps.<node-ip>.nip.io")
	f.StringVar(&o.debugAddr, "debug-addr", "", "Serve Go's profiler (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060; off by default")
	f.IntVarP(&o.verbosity, "v", "v", 0, "Log level of Gantry and the embedded components (logs go to <data-dir>/logs)")
	for _, comp := range []string{server.KubeAPIServer, server.KubeControllerManager, server.KubeScheduler, server.Kubelet, server.KubeProxy, server.Containerd} {
		o.extra[comp] = f.StringArray(comp+"-arg", nil, "Extra flag for "+comp+" as key=value (repeatable; replaces Gantry's value)")
	}
	return cmd
}

// Complete parses the network flags.
func (o *Options) Complete() error {
	c := &o.Config
	if c.NodeIP = net.ParseIP(o.nodeIP); c.NodeIP == nil {
		return fmt.Errorf("--node-ip %q is not an IP address", o.nodeIP)
	}
	for flagName, dst := range map[string]struct {
		s string
		n **net.IPNet
	}{"service-cidr": {o.serviceCIDR, &c.ServiceCIDR}, "cluster-cidr": {o.clusterCIDR, &c.ClusterCIDR}, "pod-cidr": {o.podCIDR, &c.PodCIDR}} {
		_, n, err := net.ParseCIDR(dst.s)
		if err != nil {
			return fmt.Errorf("--%s %q is not a CIDR like 10.0.0.0/16", flagName, dst.s)
		}
		*dst.n = n
	}
	if o.debugAddr != "" {
		host, _, err := net.SplitHostPort(o.debugAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("--debug-addr %q must be a loopback host:port like 127.0.0.1:6060: the profiler has no authentication", o.debugAddr)
		}
	}
	c.ExtraArgs = map[string][]string{}
	for comp, v := range o.extra {
		for _, a := range *v {
			if _, _, err := server.ParseExtraArg(a); err != nil {
				return fmt.Errorf("--%s-arg: %w", comp, err)
			}
		}
		c.ExtraArgs[comp] = *v
	}
	return c.Validate()
}

// Run starts the cluster and blocks until a signal or a failure.
func (o *Options) Run(parent context.Context) error {
	c := &o.Config
	began := time.Now()
	containerd, err := server.Preflight(c)
	if err != nil {
		return err
	}
	release, err := server.Lock(c.DataDir)
	if err != nil {
		return err
	}
	defer release()
	if err := o.setupLogging(); err != nil {
		return err
	}
	createdLink, err := nodeIP(c)
	if err != nil {
		return err
	}
	cleanup := func() {
		if err := server.Cleanup(c, createdLink); err != nil {
			fmt.Fprintf(o.ErrOut, "cleanup: %v\n", err)
		}
	}
	if err := server.CheckPorts(c.Ports()); err != nil {
		cleanup()
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	s := &server.Server{Config: *c, Exec: cluster.Executor{}, Self: self, Containerd: containerd, Out: o.Out}
	if err := s.Prepare(); err != nil {
		cleanup()
		return err
	}
	if s.Host, err = server.NewHost(s); err != nil {
		cleanup()
		return err
	}

	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.debugAddr != "" {
		if err := serveProfiler(ctx, o.debugAddr); err != nil {
			cleanup()
			return err
		}
	}
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
		fmt.Fprintln(o.Out, "Stopping: removing pods and cleaning up (press Ctrl-C again to force)")
	}()
	fmt.Fprintf(o.Out, "Starting Gantry %s in %s (logs in %s)\n", c.Version, c.DataDir, filepath.Join(c.DataDir, "logs"))
	err = s.Run(ctx, func() { o.banner(time.Since(began)) })
	cleanup()
	// A component failed after the start: say so before naming it.
	if se := (*service.Error)(nil); errors.As(err, &se) {
		return fmt.Errorf("stopped because %w", err)
	}
	if err == nil {
		fmt.Fprintln(o.Out, "Stopped.")
	}
	return err
}

func nodeIP(c *server.Config) (bool, error) {
	created, err := node.EnsureNodeIP(c.NodeIP)
	if err != nil {
		return false, &server.PreflightError{Problem: fmt.Sprintf("node IP %s: %v", c.NodeIP, err), Try: "pass --node-ip with an address of this machine"}
	}
	return created, nil
}

// setupLogging sends the embedded components' logs to <data-dir>/logs/gantry.log; the terminal shows
// Gantry's progress.
func (o *Options) setupLogging() error {
	dir := filepath.Join(o.Config.DataDir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for k, v := range map[string]string{
		"logtostderr":       "false",
		"alsologtostderr":   "false",
		"stderrthreshold":   "FATAL",
		"log_file":          filepath.Join(dir, "gantry.log"),
		"log_file_max_size": "0",
		"v":                 fmt.Sprint(o.verbosity),
	} {
		if err := fs.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (o *Options) banner(took time.Duration) {
	c := &o.Config
	fmt.Fprintf(o.Out, `
Gantry is ready (%.1fs).
  API server:  %s
  Kubeconfig:  %s   (gantry kubectl uses it by default)
  Node:        %s at %s; pods %s, services %s
  DNS:         %s (*.%s), served at %s:53
  Registry:    %s (Gantry's images: %s)
  Router:      %s
  Data, logs:  %s, %s
Try: gantry kubectl get nodes,pods -A
`, took.Seconds(), c.APIServerURL(), server.AdminKubeconfig(c.DataDir), c.NodeName, c.NodeIP, c.PodCIDR, c.ServiceCIDR,
		c.DNSIP(), c.ClusterDomain, c.NodeIP, c.RegistryAddr, c.PauseImage(), routerLine(c), c.DataDir, filepath.Join(c.DataDir, "logs"))
}

// routerLine describes the node's router for the banner.
func routerLine(c *server.Config) string {
	if !c.Router {
		return fmt.Sprintf("off (--router=false); generated route hosts end in .%s", c.RouterSuffix())
	}
	ip := c.NodeIP.String()
	return fmt.Sprintf("http://%s https://%s, routes at *.%s",
		net.JoinHostPort(ip, fmt.Sprint(c.RouterHTTPPort)), net.JoinHostPort(ip, fmt.Sprint(c.RouterHTTPSPort)), c.RouterSuffix())
}
