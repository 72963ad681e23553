// Package adm implements `gantry adm`, the cluster administrator's commands
// (OpenShift's `oc adm`): `adm policy` with the cluster-role verbs, and
// `adm prune images`.
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
	return policy.NewGroupCommand("adm", "Administer the cluster",
		"Commands for cluster administrators: cluster-wide roles, and pruning what is no longer used.",
		flags, setup,
		policy.NewGroupCommand("policy", "Grant and revoke cluster roles",
			`Grant cluster roles (cluster-admin, cluster-reader, self-provisioner, ...) to
users, groups and service accounts in every project, with cluster role bindings.`,
			nil, nil, policy.NewClusterRoleCommands(flags, streams)...),
		newPruneCommand(flags, streams),
	)
}
