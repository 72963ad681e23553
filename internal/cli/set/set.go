// Package set implements `gantry set`, oc's commands that set one feature of existing objects.
// Today it holds `set image-lookup` and `set route-backends`; later ones (triggers, env, probes,
// ...) join it.
package set

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/gantry-dev/gantry/internal/cli/policy"
)

// NewCommand returns `gantry set`. setup runs before any subcommand (the root passes one that
// picks the local admin kubeconfig when none is set).
func NewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, setup func()) *cobra.Command {
	return policy.NewGroupCommand("set", "Commands that help set specific features on objects",
		"Change one aspect of existing objects, such as how their images are resolved.",
		flags, setup,
		NewCmdImageLookup(flags, streams),
		NewCmdRouteBackends(flags, streams),
	)
}
