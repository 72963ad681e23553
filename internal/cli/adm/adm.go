// Package adm implements `gantry adm`, the cluster administrator's commands
// (OpenShift's `oc adm`). Today it holds `adm policy` with the cluster-role
// verbs; later capabilities add their own subcommands (prune, ...).
package adm

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/gantry-dev/gantry/internal/cli/policy"
)

// NewCommand returns `gantry adm`. setup runs before any subcommand (the
// root passes one that picks the local admin kubeconfig when none is set).
func NewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, setup func()) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "adm",
		Short: "Administer the cluster",
		Long:  "Commands for cluster administrators: cluster-wide roles and, later, pruning and other maintenance.",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRun: func(*cobra.Command, []string) {
			if setup != nil {
				setup()
			}
		},
	}
	flags.AddFlags(cmd.PersistentFlags())
	pol := &cobra.Command{
		Use:   "policy",
		Short: "Grant and revoke cluster roles",
		Long: `Grant cluster roles (cluster-admin, cluster-reader, self-provisioner, ...) to
users, groups and service accounts in every project, with cluster role bindings.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pol.AddCommand(policy.NewClusterRoleCommands(flags, streams)...)
	cmd.AddCommand(pol)
	return cmd
}
