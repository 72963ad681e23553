// Package server implements `gantry start`: it prepares the data directory (certificates, kubeconfigs,
// component configuration), then runs every component as a service in dependency order — embedded
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the bootstrap registry with Gantry's
// own images, containerd, the kubelet, kube-proxy and the cluster DNS — and takes the machine back to
// its state before the start when it stops.
//
// Upstream components run through an Executor, and machine side effects through a Host, so that the
// orchestration (flags, order, failure propagation) is unit-tested without starting anything.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gantry-dev/gantry/internal/etcd"
	"github.com/gantry-dev/gantry/internal/node"
	"github.com/gantry-dev/gantry/internal/service"
)

// Executor runs the upstream components.
type Executor interface {
	Etcd(ctx context.Context, cfg etcd.Config, ready func()) error
	// APIServer runs kube-apiserver; handlers are extra non-API paths it serves (the OAuth metadata).
	APIServer(ctx context.Context, args []string, handlers map[string]http.Handler) error
	ControllerManager(ctx context.Context, args []string) error
	Scheduler(ctx context.Context, args []string) error
	// Child runs a node component as a child process.
	Child(ctx context.Context, p *node.Process) error
}

// Host does what `gantry start` does to the machine, and runs Gantry's own in-process services.
type Host interface {
	// Probe returns nil once the named component answers its health check.
	Probe(ctx context.Context, component string) error
	Registry(ctx context.Context, ready func()) error
	PublishImages(ctx context.Context) error
	// Bootstrap creates the cluster objects Gantry needs (the DNS service, its RBAC) and waits until
	// the default namespace accepts pods.
	Bootstrap(ctx context.Context) error
	DNS(ctx context.Context, ready func()) error
	// OpenShiftAPI runs the aggregated API server and registers it with kube-apiserver.
	OpenShiftAPI(ctx context.Context) error
	// OAuth runs the OAuth server; ready is called once it serves.
	OAuth(ctx context.Context, ready func()) error
	// Controllers runs Gantry's controllers (per-project service accounts, ...) until ctx is done.
	Controllers(ctx context.Context, ready func()) error
	// Admission serves Gantry's admission webhooks; ready is called once they answer over TLS
	// and kube-apiserver has their configuration.
	Admission(ctx context.Context, ready func()) error
	// Router runs Gantry's router on the node IP; ready is called once it serves its first routing
	// table.
	Router(ctx context.Context, ready func()) error
	// RemovePods removes every pod sandbox once the kubelet has stopped.
	RemovePods(ctx context.Context) error
}

// Server is one `gantry start`.
type Server struct {
	Config Config
	Exec   Executor
	Host   Host
	// Self is the path of the gantry binary, which runs the kubelet and kube-proxy as children.
	Self string
	// Containerd is the path of the containerd binary.
	Containerd string
	// Out receives progress lines and the banner.
	Out io.Writer
	// ReadyTimeout bounds the wait for each component's readiness probe.
	ReadyTimeout time.Duration

	certs *certs
	oauth *oauthSetup
}

// Service names, in the order they become ready.
const (
	svcEtcd        = "etcd"
	svcAPIServer   = KubeAPIServer
	svcCM          = KubeControllerManager
	svcScheduler   = KubeScheduler
	svcBootstrap   = "bootstrap"
	svcRegistry    = "registry"
	svcImages      = "images"
	svcContainerd  = Containerd
	svcKubelet     = Kubelet
	svcKubeProxy   = KubeProxy
	svcDNS         = "dns"
	svcOpenShift   = OpenShiftAPIServer
	svcOAuth       = OAuthServer
	svcControllers = "controllers"
	svcAdmission   = "admission"
	svcRouter      = "router"
)

// Prepare writes the certificates, kubeconfigs and component configuration files. It is idempotent.
func (s *Server) Prepare() error {
	c := &s.Config
	for _, d := range []string{c.DataDir, c.logDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	k, err := c.ensurePKI()
	if err != nil {
		return err
	}
	s.certs = k
	if err := copyFile(k.CA.CertFile, PublicCAFile(c.DataDir), 0o644); err != nil {
		return err
	}
	if err := c.writeKubeconfigs(k); err != nil {
		return err
	}
	password, setup, err := c.prepareOAuth()
	if err != nil {
		return err
	}
	s.oauth = setup
	if password != "" {
		fmt.Fprintf(s.Out, "Created user %q with password %q: write it down, it is shown only this once.\n"+
			"(Its bcrypt hash is in %s; delete that file to get a new password at the next start.)\n",
			AdminUser, password, HTPasswdFile(c.DataDir))
	}
	l := c.layout()
	cniBin, err := node.FindCNIPluginDir()
	if err != nil {
		cniBin = node.CNIPluginDirs[0] // Preflight reports a missing plugin; tests run without any
	}
	if err := l.WriteContainerdConfig(node.ContainerdOptions{
		SandboxImage: c.PauseImage(),
		RuncPath:     lookPathOr("runc", "/usr/sbin/runc"),
		CNIBinDir:    cniBin,
		Registries:   map[string]string{c.RegistryAddr: "http://" + c.RegistryAddr},
	}); err != nil {
		return err
	}
	if err := l.WriteCNIConfig(c.PodCIDR); err != nil {
		return err
	}
	if err := l.WriteKubeletConfig(node.KubeletOptions{
		NodeIP: c.NodeIP, ClusterDNS: c.DNSIP(), ClusterDomain: c.ClusterDomain,
		ClientCAFile: k.CA.CertFile, TLSCertFile: k.KubeletServing.CertFile, TLSKeyFile: k.KubeletServing.KeyFile,
	}); err != nil {
		return err
	}
	return l.WriteKubeProxyConfig(node.KubeProxyOptions{
		Kubeconfig: c.kubeconfig("kube-proxy"), NodeName: c.NodeName, ClusterCIDR: c.ClusterCIDR.String(),
	})
}

// Services returns the services of an all-in-one start, in dependency order. Prepare must have run.
func (s *Server) Services() ([]service.Service, error) {
	c := &s.Config
	k := s.certs
	var args = map[string][]string{}
	for name, flags := range map[string]map[string]string{
		KubeAPIServer:         c.apiServerFlags(k),
		KubeControllerManager: c.controllerManagerFlags(k),
		KubeScheduler:         c.schedulerFlags(k),
		Kubelet:               c.kubeletFlags(),
		KubeProxy:             c.kubeProxyFlags(),
		Containerd:            c.containerdFlags(),
	} {
		a, err := c.Args(name, flags)
		if err != nil {
			return nil, err
		}
		args[name] = a
	}
	child := func(name, path string, argv []string) func(context.Context) error {
		return func(ctx context.Context) error {
			return s.Exec.Child(ctx, &node.Process{Name: name, Path: path, Args: argv, LogFile: c.logFile(name)})
		}
	}
	etcdCfg := c.etcdConfig(k)
	svcs := []service.Service{
		{Name: svcEtcd, Run: func(ctx context.Context, ready func()) error { return s.Exec.Etcd(ctx, etcdCfg, ready) }},
		s.probed(svcAPIServer, []string{svcEtcd}, func(ctx context.Context) error {
			return s.Exec.APIServer(ctx, args[KubeAPIServer], c.apiServerHandlers())
		}),
		s.probed(svcCM, []string{svcAPIServer}, func(ctx context.Context) error { return s.Exec.ControllerManager(ctx, args[KubeControllerManager]) }),
		s.probed(svcScheduler, []string{svcAPIServer}, func(ctx context.Context) error { return s.Exec.Scheduler(ctx, args[KubeScheduler]) }),
		{Name: svcBootstrap, Needs: []string{svcAPIServer, svcCM}, Run: s.once(s.Host.Bootstrap)},
		// The registry authenticates with the API and records pushes in image streams.
		{Name: svcRegistry, Needs: []string{svcOpenShift}, Run: s.Host.Registry},
		{Name: svcImages, Needs: []string{svcRegistry}, Run: s.once(s.Host.PublishImages)},
		s.probed(svcContainerd, nil, child(Containerd, s.Containerd, args[Containerd])),
		withStop(s.probed(svcKubelet, []string{svcContainerd, svcAPIServer, svcImages},
			child(Kubelet, s.Self, append([]string{"kubelet"}, args[Kubelet]...))), s.Host.RemovePods),
		s.probed(svcKubeProxy, []string{svcAPIServer}, child(KubeProxy, s.Self, append([]string{"kube-proxy"}, args[KubeProxy]...))),
		{Name: svcDNS, Needs: []string{svcBootstrap}, Run: s.Host.DNS},
		s.probed(svcOpenShift, []string{svcAPIServer, svcCM}, s.Host.OpenShiftAPI),
		{Name: svcOAuth, Needs: []string{svcOpenShift}, Run: s.Host.OAuth},
		{Name: svcControllers, Needs: []string{svcBootstrap}, Run: s.Host.Controllers},
		// The webhooks read image streams; the system namespaces never go through them, so the
		// bootstrap and DNS do not wait for them.
		{Name: svcAdmission, Needs: []string{svcOpenShift}, Run: s.Host.Admission},
	}
	if c.Router {
		// Routes are served by the OpenShift API; nothing of the cluster's own start needs the router.
		svcs = append(svcs, service.Service{Name: svcRouter, Needs: []string{svcOpenShift}, Run: s.Host.Router})
	}
	return svcs, nil
}

func withStop(svc service.Service, stop func(context.Context) error) service.Service {
	svc.Stop = stop
	return svc
}

// probed runs a component and reports it ready once its health probe passes.
func (s *Server) probed(name string, needs []string, run func(context.Context) error) service.Service {
	return service.Service{Name: name, Needs: needs, Run: func(parent context.Context, ready func()) error {
		ctx, cancel := context.WithCancel(parent)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- run(ctx) }()
		timeout := s.ReadyTimeout
		if timeout == 0 {
			timeout = 2 * time.Minute
		}
		deadline := time.NewTimer(timeout)
		defer deadline.Stop()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var lastErr error
		for probing := true; probing; {
			select {
			case err := <-errc:
				return err
			case <-deadline.C:
				cancel() // a component that never got ready must be gone before what it needs stops
				<-errc
				if lastErr == nil {
					lastErr = errors.New("no probe answered yet")
				}
				return fmt.Errorf("not ready after %s (%v); see %s", timeout, lastErr, s.Config.logDir())
			case <-tick.C:
				if lastErr = s.Host.Probe(ctx, name); lastErr == nil {
					ready()
					probing = false
				}
			}
		}
		return <-errc
	}}
}

// once runs a one-shot step as a service: ready when the step succeeded, then idle until stopped.
func (s *Server) once(step func(context.Context) error) func(context.Context, func()) error {
	return func(ctx context.Context, ready func()) error {
		if err := step(ctx); err != nil {
			return err
		}
		ready()
		<-ctx.Done()
		return nil
	}
}

// PauseImage is the pod sandbox image.
func (c *Config) PauseImage() string { return c.RegistryAddr + "/gantry/pause:" + c.Version }

func (c *Config) layout() node.Layout { return node.Layout{DataDir: c.DataDir} }

// Run runs every service until ctx is done or one fails. onReady is called once all are ready.
func (s *Server) Run(ctx context.Context, onReady func()) error {
	svcs, err := s.Services()
	if err != nil {
		return err
	}
	m := &service.Manager{OnEvent: func(e service.Event) {
		switch e.Kind {
		case service.Ready:
			fmt.Fprintf(s.Out, "%6.2fs  %s ready\n", e.Elapsed.Seconds(), e.Service)
		case service.Failed:
			fmt.Fprintf(s.Out, "%6.2fs  %s failed: %v\n", e.Elapsed.Seconds(), e.Service, e.Err)
		}
	}}
	m.Add(svcs...)
	return m.Run(ctx, onReady)
}

func lookPathOr(name, fallback string) string {
	if p, err := lookPath(name); err == nil {
		return p
	}
	return fallback
}
