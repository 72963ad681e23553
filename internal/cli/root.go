// Package cli builds the gantry command tree.
package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/cli/kubectl"
	"github.com/gantry-dev/gantry/internal/cli/start"
	"github.com/gantry-dev/gantry/internal/cluster"
	"github.com/gantry-dev/gantry/internal/server"
)

// NewRoot returns the gantry command.
func NewRoot(version string) *cobra.Command {
	root := &cobra.Command{
		Use:   "gantry",
		Short: "Gantry: an OpenShift-style application platform in one binary",
		Long: `Gantry runs an application platform in the shape of OpenShift 3 on Kubernetes.

Start a cluster on this machine with 'sudo gantry start', then use it with 'gantry kubectl'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(
		start.NewCommand(version),
		kubectl.NewCommand(server.DefaultDataDir),
		passthrough("kubelet", "Run the kubelet (started by gantry start)", func(cmd *cobra.Command) *cobra.Command {
			return cluster.KubeletCommand(cmd.Context())
		}),
		passthrough("kube-proxy", "Run kube-proxy (started by gantry start)", func(*cobra.Command) *cobra.Command {
			return cluster.ProxyCommand()
		}),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "gantry", version) },
		},
	)
	return root
}

// passthrough wraps an upstream command: its flags are parsed by the upstream command itself.
func passthrough(use, short string, upstream func(*cobra.Command) *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:                use,
		Short:              short,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			u := upstream(cmd)
			u.SetArgs(args)
			return u.ExecuteContext(cmd.Context())
		},
	}
}
