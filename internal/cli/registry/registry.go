// Package registry implements `gantry registry`: the integrated image registry on its own, for
// a cluster Gantry did not start (as a pod with its service account, or beside the API).
package registry

import (
	"fmt"
	"github.com/gantry-dev/gantry/internal/cli/clusterconfig"
	"os"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/registry"
)

// Options are the flags of `gantry registry`.
type Options struct {
	Listen     string
	StorageDir string
	Kubeconfig string
	Hostname   string
	// StorageFile, when set, replaces StorageDir with another storage driver.
	StorageFile string
	// AllowedRegistries limits pull-through as --allowed-registries-for-import limits imports.
	AllowedRegistries []string
}

// NewCommand returns `gantry registry`.
func NewCommand() *cobra.Command {
	o := &Options{Listen: "0.0.0.0:5000", StorageDir: "/var/lib/gantry/registry"}
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Serve the integrated image registry for an existing cluster",
		Long: `Serve Gantry's integrated image registry (the Docker/OCI distribution API) for
a cluster running Gantry's OpenShift API: pushes and pulls authenticate with
Gantry tokens, RBAC on imagestreams/layers decides who may pull and push, and
pushes are recorded in image streams.

Its identity (the kubeconfig's, or the pod's service account) needs the
system:registry cluster role.`,
		Example: `  # In a pod whose service account is bound to system:registry:
  gantry registry --storage-dir /registry --hostname image-registry.gantry.svc:5000

  # Beside the cluster, with a kubeconfig:
  gantry registry --kubeconfig registry.kubeconfig --listen 127.0.0.1:5000 --storage-dir ./registry`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := o.New()
			if err != nil {
				return err
			}
			return r.Run(cmd.Context(), func() {
				fmt.Fprintf(cmd.OutOrStdout(), "Registry serving on %s (storage %s)\n", r.Addr(), o.StorageDir)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", o.Listen, "Address to serve the registry API on (plain HTTP: put TLS in front, or use a loopback address)")
	f.StringVar(&o.StorageDir, "storage-dir", o.StorageDir, "Directory of the filesystem storage")
	f.StringVar(&o.StorageFile, "storage", "", "YAML file with another storage: a distribution storage driver and its parameters (s3), instead of --storage-dir")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "Kubeconfig of the cluster (default: the pod's service account)")
	f.StringSliceVar(&o.AllowedRegistries, "allowed-registries-for-import", nil, "Registries that imported images may be pulled through from, as the API server's flag of that name (empty: any registry on a public address)")
	f.StringVar(&o.Hostname, "hostname", "", "host[:port] nodes pull from, written in the images' pull specs (default: --listen)")
	return cmd
}

// New builds the registry the options describe.
func (o *Options) New() (*registry.Registry, error) {
	rc, err := clusterconfig.Load(o.Kubeconfig, "gantry-registry")
	if err != nil {
		return nil, err
	}
	host := o.Hostname
	if host == "" {
		host = o.Listen
	}
	if _, err := os.Stat(o.StorageDir); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("--storage-dir: %w", err)
	}
	auth, err := registry.ClusterAuth(rc, registry.ClusterOptions{Hostname: host, AllowedRegistries: o.AllowedRegistries}, nil)
	if err != nil {
		return nil, err
	}
	cfg := registry.Config{Addr: o.Listen, RootDir: o.StorageDir, Auth: auth}
	if o.StorageFile != "" {
		if cfg.Storage, err = registry.LoadStorage(o.StorageFile); err != nil {
			return nil, err
		}
	}
	return registry.New(cfg)
}
