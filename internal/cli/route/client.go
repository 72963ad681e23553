package route

import (
	"context"
	"fmt"
	"io"

	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned/typed/route/v1"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// scheme knows routes, so printed objects carry their apiVersion and kind
// and -o name prints route.route.openshift.io/NAME as oc does.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := routev1.Install(s); err != nil {
		panic(err)
	}
	return s
}()

// writer creates a route (or, with --dry-run=client, only prints it) and
// prints the result: the route's name with the operation by default, or
// the object with -o.
type writer struct {
	Namespace string
	Routes    routeclient.RoutesGetter
	Services  corev1client.ServicesGetter
	DryRun    cmdutil.DryRunStrategy
	Printer   printers.ResourcePrinter
	Out       io.Writer
}

// complete fills the writer from kubectl's factory and the command's
// --dry-run and -o flags; operation is the word printed after the name.
func (w *writer) complete(f cmdutil.Factory, cmd *cobra.Command, pf *genericclioptions.PrintFlags) error {
	var err error
	if w.Namespace, _, err = f.ToRawKubeConfigLoader().Namespace(); err != nil {
		return fmt.Errorf("read the current project: %w", err)
	}
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to (%v)\nTry: gantry login, or sudo gantry start", err)
	}
	rc, err := routeclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	kube, err := f.KubernetesClientSet()
	if err != nil {
		return err
	}
	w.Routes, w.Services = rc, kube.CoreV1()
	if w.DryRun, err = cmdutil.GetDryRunStrategy(cmd); err != nil {
		return err
	}
	cmdutil.PrintFlagsWithDryRunStrategy(pf, w.DryRun)
	if w.Printer, err = pf.ToPrinter(); err != nil {
		return err
	}
	w.Out = cmd.OutOrStdout()
	return nil
}

func newPrintFlags(operation string) *genericclioptions.PrintFlags {
	return genericclioptions.NewPrintFlags(operation).WithTypeSetter(scheme)
}

// create sends the route (unless --dry-run=client) and prints it.
func (w *writer) create(ctx context.Context, r *routev1.Route) error {
	out := r
	if w.DryRun != cmdutil.DryRunClient {
		opts := metav1.CreateOptions{}
		if w.DryRun == cmdutil.DryRunServer {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		var err error
		if out, err = w.Routes.Routes(w.Namespace).Create(ctx, r, opts); err != nil {
			return fmt.Errorf("create route %s/%s: %w", w.Namespace, r.Name, err)
		}
	}
	return w.Printer.PrintObj(out, w.Out)
}
