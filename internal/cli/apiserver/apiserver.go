// Package apiserver implements `gantry openshift-apiserver`: the aggregated
// OpenShift API server on its own, for a Kubernetes cluster Gantry did not
// start (`gantry start` runs it in-process).
package apiserver

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/gantry-dev/gantry/internal/apiserver"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
)

// Options are the flags of `gantry openshift-apiserver`.
type Options struct {
	Config      apiserver.Config
	bindAddress string
	// Register creates the APIServices, Service and EndpointSlice.
	Register bool
	// CABundle is the CA that verifies the serving certificate (for the APIServices).
	CABundle string
}

// NewCommand returns `gantry openshift-apiserver`.
func NewCommand(version string) *cobra.Command {
	o := &Options{Config: apiserver.Config{Version: version}}
	cmd := &cobra.Command{
		Use:   "openshift-apiserver",
		Short: "Serve the OpenShift API groups for an existing Kubernetes cluster",
		Long: `Serve project, route, image, build, apps, template, user, oauth, security,
authorization and quota APIs as an aggregated API server of an existing
Kubernetes cluster, storing in its etcd.

The kubeconfig's identity must be allowed to create namespaces, role bindings,
token and subject access reviews, and (with --register) APIServices.`,
		Example: `  gantry openshift-apiserver --kubeconfig admin.kubeconfig \
    --etcd-servers https://127.0.0.1:2379 --etcd-cafile ca.crt --etcd-certfile client.crt --etcd-keyfile client.key \
    --bind-address 10.0.0.5 --tls-cert-file serving.crt --tls-private-key-file serving.key \
    --register --ca-bundle ca.crt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(); err != nil {
				return err
			}
			srv, err := apiserver.New(o.Config)
			if err != nil {
				return err
			}
			if o.Register {
				if err := o.register(cmd); err != nil {
					return err
				}
			}
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	c := &o.Config
	f.StringVar(&c.Kubeconfig, "kubeconfig", "", "Kubeconfig of the cluster (required)")
	f.StringSliceVar(&c.EtcdServers, "etcd-servers", nil, "etcd URLs (required)")
	f.StringVar(&c.EtcdCAFile, "etcd-cafile", "", "CA of the etcd servers")
	f.StringVar(&c.EtcdCertFile, "etcd-certfile", "", "Client certificate for etcd")
	f.StringVar(&c.EtcdKeyFile, "etcd-keyfile", "", "Client key for etcd")
	f.StringVar(&c.EtcdPrefix, "etcd-prefix", "/openshift.io", "Key prefix of the stored objects")
	f.StringVar(&o.bindAddress, "bind-address", "", "Address to serve on; the aggregator refuses loopback addresses (required)")
	f.IntVar(&c.Port, "secure-port", 8443, "Port to serve on")
	f.StringVar(&c.CertFile, "tls-cert-file", "", "Serving certificate (required)")
	f.StringVar(&c.KeyFile, "tls-private-key-file", "", "Serving key (required)")
	f.StringVar(&c.Projects.RequestMessage, "project-request-message", "", "Message shown to users who may not request projects")
	f.StringVar(&c.Projects.RequestTemplate, "project-request-template", "", "NAMESPACE/NAME of the Template new projects are made from")
	f.StringVar(&c.Images.InternalRegistryHostname, "internal-registry-hostname", "", "host:port of the integrated registry as nodes pull from it; image streams report <host>/<namespace>/<name>")
	f.StringVar(&c.Images.ExternalRegistryHostname, "external-registry-hostname", "", "host[:port] of the integrated registry for users outside the cluster")
	f.StringSliceVar(&c.Images.AllowedRegistriesForImport, "allowed-registries-for-import", nil, "Registries image imports may reach, as host or host:port patterns; loopback, link-local and private addresses must be listed to be reachable")
	f.StringVar(&c.Routes.Subdomain, "routing-suffix", "", "Subdomain of generated route hosts: a route created without a host gets <name>-<namespace>.<suffix> (e.g. apps.10.0.0.5.nip.io)")
	f.BoolVar(&o.Register, "register", false, "Register the API groups with the cluster's aggregator")
	f.StringVar(&o.CABundle, "ca-bundle", "", "CA file that verifies --tls-cert-file (with --register)")
	return cmd
}

func (o *Options) complete() error {
	c := &o.Config
	var missing []string
	for _, f := range []struct{ flag, value string }{{"--kubeconfig", c.Kubeconfig}, {"--bind-address", o.bindAddress},
		{"--tls-cert-file", c.CertFile}, {"--tls-private-key-file", c.KeyFile}} {
		if f.value == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(c.EtcdServers) == 0 {
		missing = append(missing, "--etcd-servers")
	}
	if o.Register && o.CABundle == "" {
		missing = append(missing, "--ca-bundle (with --register)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %v\nTry: gantry openshift-apiserver --help", missing)
	}
	c.BindAddress = net.ParseIP(o.bindAddress)
	if c.BindAddress == nil || c.BindAddress.IsLoopback() {
		return errors.New("--bind-address must be a non-loopback IP address: kube-apiserver's aggregator refuses loopback endpoints")
	}
	return nil
}

func (o *Options) register(cmd *cobra.Command) error {
	rc, err := clientcmd.BuildConfigFromFlags("", o.Config.Kubeconfig)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	agg, err := aggregator.NewForConfig(rc)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return err
	}
	return apiserver.Register(cmd.Context(), kube, agg, apiserver.Registration{
		Namespace: "openshift-apiserver", Service: "api", IP: o.Config.BindAddress, Port: o.Config.Port, CABundle: ca,
	})
}
