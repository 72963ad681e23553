package route

import (
	"context"
	"fmt"

	routev1 "github.com/openshift/api/route/v1"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

const createRouteLong = `Expose a service over TLS with a secured route.

A route gives a service a host name that the cluster's routers answer for. The three kinds
differ in where TLS ends:

  edge         the router terminates TLS with the route's certificate (or its default one)
               and talks plain HTTP to the pods; --insecure-policy says what plain HTTP
               requests get (Redirect to https, Allow, or None: refused)
  passthrough  the router passes the TLS connection to the pods untouched, choosing the
               route by the client's SNI; the pods hold the certificate
  reencrypt    the router terminates TLS and opens a new TLS connection to the pods, which
               it verifies with --dest-ca-cert (or the cluster's service CA)

Without --hostname the route gets <name>-<project>.<routing suffix> when the cluster has a
routing suffix. Setting a host or certificates needs the edit role in the project.`

// kinds are the three `create route` subcommands.
var kinds = []struct {
	termination routev1.TLSTerminationType
	short       string
	example     string
}{
	{routev1.TLSTerminationEdge, "Create a route that uses edge TLS termination", `  # An edge route to service frontend with the router's default certificate, plain HTTP redirected
  gantry create route edge --service=frontend --insecure-policy=Redirect

  # With its own certificate, and the host it is for
  gantry create route edge --service=frontend --cert=www.crt --key=www.key --ca-cert=ca.crt --hostname=www.example.com`},
	{routev1.TLSTerminationPassthrough, "Create a route that uses passthrough TLS termination", `  # The pods of service frontend terminate TLS themselves
  gantry create route passthrough frontend-tls --service=frontend --hostname=secure.example.com`},
	{routev1.TLSTerminationReencrypt, "Create a route that uses reencrypt TLS termination", `  # Terminate at the router and re-encrypt to pods whose certificate ca.crt verifies
  gantry create route reencrypt --service=frontend --dest-ca-cert=ca.crt --hostname=www.example.com`},
}

// CreateOptions are the options of `gantry create route KIND`.
type CreateOptions struct {
	Termination routev1.TLSTerminationType
	Spec        routeSpec
	Files       tlsFiles
	// InsecurePolicy is --insecure-policy.
	InsecurePolicy string

	writer
}

// newCreateRoute returns `create route` with its three subcommands, for
// kubectl's create.
func newCreateRoute(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Expose a service with a secured route (edge, passthrough or reencrypt)",
		Long:  createRouteLong,
		Run:   cmdutil.DefaultSubCommandRun(streams.ErrOut),
	}
	for _, k := range kinds {
		cmd.AddCommand(newCreateKind(f, k.termination, k.short, k.example))
	}
	return cmd
}

func newCreateKind(f cmdutil.Factory, term routev1.TLSTerminationType, short, example string) *cobra.Command {
	o := &CreateOptions{Termination: term}
	pf := newPrintFlags("created")
	use := string(term) + " [NAME] --service=SERVICE [--hostname=HOST] [--port=PORT]"
	switch term {
	case routev1.TLSTerminationEdge:
		use += " [--path=PATH] [--cert=FILE --key=FILE] [--ca-cert=FILE] [--insecure-policy=Redirect|Allow|None]"
	case routev1.TLSTerminationReencrypt:
		use += " [--path=PATH] [--cert=FILE --key=FILE] [--ca-cert=FILE] [--dest-ca-cert=FILE] [--insecure-policy=Redirect|Allow|None]"
	case routev1.TLSTerminationPassthrough:
		use += " [--insecure-policy=Redirect|None]"
	}
	cmd := &cobra.Command{
		Use:                   use,
		DisableFlagsInUseLine: true,
		Short:                 short,
		Long:                  createRouteLong,
		Example:               example,
		Args:                  cobra.MaximumNArgs(1),
		SilenceUsage:          true,
		SilenceErrors:         true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Spec.Name = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.writer.complete(f, cmd, pf); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Spec.Service, "service", "", "Name of the service the route sends traffic to (required)")
	fl.StringVar(&o.Spec.Hostname, "hostname", "", "Host name of the route; generated from the route's name and project when empty")
	fl.StringVar(&o.Spec.Port, "port", "", "Name of the service port, or number of the container port, the route sends traffic to")
	fl.StringVar(&o.Spec.WildcardPolicy, "wildcard-policy", "", "None (the default: the host only) or Subdomain (every host in the host's domain)")
	fl.StringVar(&o.InsecurePolicy, "insecure-policy", "", "What plain HTTP requests to the host get: Redirect, Allow or None")
	if term != routev1.TLSTerminationPassthrough {
		fl.StringVar(&o.Spec.Path, "path", "", "Path the route serves (requests under it)")
		fl.StringVar(&o.Files.Cert, "cert", "", "PEM certificate file the router serves for the host")
		fl.StringVar(&o.Files.Key, "key", "", "PEM private key file of --cert")
		fl.StringVar(&o.Files.CACert, "ca-cert", "", "PEM file of the CA chain of --cert")
	}
	if term == routev1.TLSTerminationReencrypt {
		fl.StringVar(&o.Files.DestCACert, "dest-ca-cert", "", "PEM file of the CA that verifies the pods' certificates")
	}
	pf.AddFlags(cmd)
	cmdutil.AddDryRunFlag(cmd)
	return cmd
}

// Validate checks the flags before anything is sent.
func (o *CreateOptions) Validate() error {
	svc, err := serviceArg(o.Spec.Service)
	if err != nil {
		return err
	}
	o.Spec.Service = svc
	if err := checkWildcardPolicy(o.Spec.WildcardPolicy); err != nil {
		return err
	}
	if o.Termination == routev1.TLSTerminationPassthrough {
		// The router never sees a passthrough request's HTTP, so it cannot
		// serve one over plain HTTP either.
		return checkInsecurePolicy(o.InsecurePolicy, routev1.InsecureEdgeTerminationPolicyNone, routev1.InsecureEdgeTerminationPolicyRedirect)
	}
	return checkInsecurePolicy(o.InsecurePolicy, routev1.InsecureEdgeTerminationPolicyRedirect,
		routev1.InsecureEdgeTerminationPolicyAllow, routev1.InsecureEdgeTerminationPolicyNone)
}

// Route builds the route: the service's, with the termination and the
// checked content of the certificate files.
func (o *CreateOptions) Route(ctx context.Context) (*routev1.Route, error) {
	m, err := o.Files.load()
	if err != nil {
		return nil, err
	}
	r, err := routeForService(ctx, o.Services, o.Namespace, o.Spec, false)
	if err != nil {
		return nil, err
	}
	r.Spec.TLS = &routev1.TLSConfig{
		Termination:                   o.Termination,
		Certificate:                   m.Cert,
		Key:                           m.Key,
		CACertificate:                 m.CACert,
		DestinationCACertificate:      m.DestCACert,
		InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyType(o.InsecurePolicy),
	}
	return r, nil
}

// Run creates the route and prints "route.route.openshift.io/NAME created".
func (o *CreateOptions) Run(ctx context.Context) error {
	if o.Namespace == "" {
		return fmt.Errorf("no project selected\nTry: -n PROJECT, or gantry project PROJECT")
	}
	r, err := o.Route(ctx)
	if err != nil {
		return err
	}
	return o.create(ctx, r)
}
