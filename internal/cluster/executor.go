package cluster

import (
	"context"
	"net/http"
	"strings"

	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/etcd"
	"github.com/gantry-dev/gantry/internal/node"
)

// Executor runs the control plane in this process and node components as child processes.
type Executor struct{}

func logRun(name string, args []string) {
	klog.InfoS("Running "+name, "args", strings.Join(args, " "))
}

// Etcd runs the embedded etcd member.
func (Executor) Etcd(ctx context.Context, cfg etcd.Config, ready func()) error {
	return etcd.Run(ctx, cfg, ready)
}

// APIServer runs kube-apiserver.
func (Executor) APIServer(ctx context.Context, args []string, handlers map[string]http.Handler) error {
	logRun("kube-apiserver", args)
	return RunAPIServer(ctx, args, handlers)
}

// ControllerManager runs kube-controller-manager.
func (Executor) ControllerManager(ctx context.Context, args []string) error {
	logRun("kube-controller-manager", args)
	return RunControllerManager(ctx, args)
}

// Scheduler runs kube-scheduler.
func (Executor) Scheduler(ctx context.Context, args []string) error {
	logRun("kube-scheduler", args)
	return RunScheduler(ctx, args)
}

// Child runs a child process.
func (Executor) Child(ctx context.Context, p *node.Process) error { return p.Run(ctx) }
