package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	cliflag "k8s.io/component-base/cli/flag"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"
	schedulerapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	scheduleroptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
)

// parse parses args into a fresh flag set holding every named flag set of a component.
func parse(component string, sets cliflag.NamedFlagSets, args []string) error {
	fs := pflag.NewFlagSet(component, pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	for _, name := range sets.Order {
		fs.AddFlagSet(sets.FlagSets[name])
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s flags: %w", component, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s flags: unexpected arguments %q", component, fs.Args())
	}
	return nil
}

// controllerManagerOptions builds kube-controller-manager's options and flag sets once. All embedded
// components share Kubernetes' process-wide feature gates, and building these flag sets changes a
// default (WatchListClient), which is only allowed before any component has registered its feature
// flags: so RunAPIServer, the first component to start, calls this first.
var controllerManagerOptions = sync.OnceValues(func() (*cmoptions.KubeControllerManagerOptions, error) {
	s, err := cmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return nil, err
	}
	sets := s.Flags(cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases())
	s.ParsedFlags = &sets
	return s, nil
})

// RunAPIServer runs kube-apiserver with args until ctx is done. handlers are served at their exact
// paths, outside the API (authentication and authorization still apply: grant nonResourceURLs).
func RunAPIServer(ctx context.Context, args []string, handlers map[string]http.Handler) error {
	if _, err := controllerManagerOptions(); err != nil {
		return err
	}
	s := apiserveroptions.NewServerRunOptions()
	if err := parse("kube-apiserver", s.Flags(), args); err != nil {
		return err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return utilerrors.NewAggregate(errs)
	}
	// apiserverapp.Run, with the extra handlers added to the outermost server of the chain.
	config, err := apiserverapp.NewConfig(completed)
	if err != nil {
		return err
	}
	cc, err := config.Complete()
	if err != nil {
		return err
	}
	chain, err := apiserverapp.CreateServerChain(cc)
	if err != nil {
		return err
	}
	for path, h := range handlers {
		chain.GenericAPIServer.Handler.NonGoRestfulMux.Handle(path, h)
	}
	prepared, err := chain.PrepareRun()
	if err != nil {
		return err
	}
	return prepared.Run(ctx)
}

// RunControllerManager runs kube-controller-manager with args until ctx is done.
func RunControllerManager(ctx context.Context, args []string) (err error) {
	// Stopped while it starts its controllers, upstream dereferences the nil
	// handle an already stopped informer returns (the service account
	// controller): a panic that would skip Gantry's cleanup. A stop is a stop.
	defer func() {
		if r := recover(); r != nil {
			if ctx.Err() != nil {
				err = nil
				return
			}
			err = fmt.Errorf("kube-controller-manager panicked: %v", r)
		}
	}()
	s, err := controllerManagerOptions()
	if err != nil {
		return err
	}
	if err := parse("kube-controller-manager", *s.ParsedFlags, args); err != nil {
		return err
	}
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	c, err := s.Config(ctx, cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases())
	if err != nil {
		return err
	}
	return cmapp.Run(ctx, c.Complete())
}

// RunScheduler runs kube-scheduler with args until ctx is done.
func RunScheduler(ctx context.Context, args []string) error {
	opts := scheduleroptions.NewOptions()
	if err := parse("kube-scheduler", *opts.Flags, args); err != nil {
		return err
	}
	if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	cc, sched, err := schedulerapp.Setup(ctx, opts)
	if err != nil {
		return err
	}
	return schedulerapp.Run(ctx, cc, sched)
}

// KubeletCommand is upstream's kubelet command, run by `gantry kubelet` in a child process.
func KubeletCommand(ctx context.Context) *cobra.Command { return kubeletapp.NewKubeletCommand(ctx) }

// ProxyCommand is upstream's kube-proxy command, run by `gantry kube-proxy` in a child process.
func ProxyCommand() *cobra.Command { return proxyapp.NewProxyCommand() }
