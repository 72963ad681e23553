package route

import (
	"context"
	"fmt"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	"github.com/spf13/cobra"
	"k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/generate"
)

const exposeLong = `Expose a service with a route, or a deployment, replication controller or pod with a service.

'expose svc/NAME' creates a route named like the service (or --name) that sends the traffic
of a host name to the service's pods. Without --hostname the route gets
<name>-<project>.<routing suffix> when the cluster has a routing suffix. Without --port the
route goes to the service's first TCP port (by name when it has one). The route gets the
service's labels and those of -l.

Any other kind is exposed by kubectl's expose, which creates a service: expose the service
afterwards to give it a route. Secured routes are made with 'gantry create route'.`

const exposeExample = `  # Give service frontend a route (host generated, or as given)
  gantry expose svc/frontend
  gantry expose svc/frontend --hostname=www.example.com

  # Route only /api of the host to service api, port web
  gantry expose svc/api --hostname=www.example.com --path=/api --port=web

  # See the route without creating it
  gantry expose svc/frontend --dry-run=client -o yaml

  # Create a service for a deployment, then a route for the service
  gantry expose deployment/frontend --port=8080
  gantry expose svc/frontend`

// ExposeOptions are the options of `gantry expose svc/NAME`.
type ExposeOptions struct {
	Spec routeSpec
	// Labels is -l: labels of the route instead of the service's.
	Labels string
	writer
}

// wrapExpose turns kubectl's expose into oc's: a service is exposed with a
// route, and anything else goes on to kubectl's own expose. The route flags
// are added to kubectl's command, whose --port, --name, -l, --dry-run and
// -o they share.
func wrapExpose(f util.Factory, expose *cobra.Command) {
	o := &ExposeOptions{}
	kubectlRun := expose.Run
	fl := expose.Flags()
	fl.StringVar(&o.Spec.Hostname, "hostname", "", "Host name of the route (services only); generated from the route's name and project when empty")
	fl.StringVar(&o.Spec.Path, "path", "", "Path the route serves (services only)")
	fl.StringVar(&o.Spec.WildcardPolicy, "wildcard-policy", "", "Wildcard policy of the route (services only): None or Subdomain")
	for name, usage := range map[string]string{
		"port":   "; for a service, the service port name or the container port number the route sends traffic to (default: the first TCP port)",
		"name":   "; for a service, the route's name (default: the service's)",
		"labels": "; for a service, labels of the route, added to the service's",
	} {
		if fl := fl.Lookup(name); fl != nil {
			fl.Usage += usage
		}
	}
	expose.Use = "expose (svc/NAME | TYPE NAME | -f FILENAME) [--name=NAME] [--hostname=HOST] [--path=PATH] [--port=PORT] [-l LABELS]"
	expose.Short = "Expose a service with a route, or another resource with a service"
	expose.Long = exposeLong
	expose.Example = exposeExample
	expose.Run = nil
	expose.SilenceUsage, expose.SilenceErrors = true, true
	expose.RunE = func(cmd *cobra.Command, args []string) error {
		svc, ok := serviceOf(args)
		if !ok || cmd.Flags().Changed("filename") {
			kubectlRun(cmd, args)
			return nil
		}
		if cmd.Flags().Changed("type") {
			return fmt.Errorf("--type is for services: a route has no type\nTry: gantry expose svc/%s without --type, or gantry create route edge for TLS", svc)
		}
		o.Spec.Service = svc
		o.Spec.Name = util.GetFlagString(cmd, "name")
		o.Spec.Port = util.GetFlagString(cmd, "port")
		o.Labels = util.GetFlagString(cmd, "labels")
		if err := o.Validate(); err != nil {
			return err
		}
		pf := newPrintFlags("exposed")
		format := util.GetFlagString(cmd, "output")
		pf.OutputFormat = &format
		if t := cmd.Flags().Lookup("template"); t != nil {
			v := t.Value.String()
			pf.TemplatePrinterFlags.TemplateArgument = &v
		}
		if err := o.writer.complete(f, cmd, pf); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// serviceOf returns the service an expose argument list names: svc/NAME,
// service/NAME, or "svc NAME".
func serviceOf(args []string) (string, bool) {
	switch len(args) {
	case 1:
		typ, name, ok := strings.Cut(args[0], "/")
		return name, ok && isService(typ) && name != ""
	case 2:
		return args[1], isService(args[0]) && !strings.Contains(args[1], "/")
	}
	return "", false
}

// Validate checks the flags before anything is sent.
func (o *ExposeOptions) Validate() error {
	if err := checkWildcardPolicy(o.Spec.WildcardPolicy); err != nil {
		return err
	}
	if o.Labels != "" {
		if _, err := generate.ParseLabels(o.Labels); err != nil {
			return fmt.Errorf("-l %s: %v\nTry: -l key=value,key2=value2", o.Labels, err)
		}
	}
	return nil
}

// Route builds the route to the service.
func (o *ExposeOptions) Route(ctx context.Context) (*routev1.Route, error) {
	r, err := routeForService(ctx, o.Services, o.Namespace, o.Spec, true)
	if err != nil {
		return nil, err
	}
	if o.Labels != "" {
		// -l adds to (and overrides) the service's labels, as in oc.
		labels, _ := generate.ParseLabels(o.Labels)
		merged := map[string]string{}
		for k, v := range r.Labels {
			merged[k] = v
		}
		for k, v := range labels {
			merged[k] = v
		}
		r.Labels = merged
	}
	return r, nil
}

// Run creates the route and prints "route.route.openshift.io/NAME exposed".
func (o *ExposeOptions) Run(ctx context.Context) error {
	if o.Namespace == "" {
		return fmt.Errorf("no project selected\nTry: -n PROJECT, or gantry project PROJECT")
	}
	r, err := o.Route(ctx)
	if err != nil {
		return err
	}
	return o.create(ctx, r)
}
