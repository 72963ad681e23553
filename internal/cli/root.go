// Package cli builds the gantry command tree.
package cli

import (
	"fmt"
	"os"

	apiservercmd "github.com/gantry-dev/gantry/internal/cli/apiserver"
	imagecmd "github.com/gantry-dev/gantry/internal/cli/image"
	"github.com/gantry-dev/gantry/internal/cli/project"
	registrycmd "github.com/gantry-dev/gantry/internal/cli/registry"
	routecmd "github.com/gantry-dev/gantry/internal/cli/route"
	routercmd "github.com/gantry-dev/gantry/internal/cli/router"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gantry-dev/gantry/internal/cli/adm"
	"github.com/gantry-dev/gantry/internal/cli/kubectl"
	"github.com/gantry-dev/gantry/internal/cli/login"
	"github.com/gantry-dev/gantry/internal/cli/policy"
	setcmd "github.com/gantry-dev/gantry/internal/cli/set"
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
		// Not cobra's Version: Kubernetes' component-base registers its own
		// non-boolean --version flag globally, which cobra's bool flag would
		// trip over. `gantry --version` is answered here instead.
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f := cmd.Flags().Lookup("version"); f != nil && f.Changed {
				fmt.Fprintln(cmd.OutOrStdout(), "gantry", version)
				return nil
			}
			return cmd.Help()
		},
	}
	if f := pflag.CommandLine.Lookup("version"); f != nil {
		f.Usage = "Print gantry's version and quit"
	}
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	configFlags := genericclioptions.NewConfigFlags(true)
	for _, v := range genericVerbs {
		root.AddCommand(kubectl.NewVerb(server.DefaultDataDir, v[0], v[1], routecmd.Extend))
	}
	root.AddCommand(
		start.NewCommand(version),
		kubectl.NewCommand(server.DefaultDataDir, routecmd.Extend),
		apiservercmd.NewCommand(version),
		registrycmd.NewCommand(),
		routercmd.NewCommand(),
		withKubeconfig(configFlags, project.NewCommandNewProject(configFlags, streams)),
		withKubeconfig(configFlags, project.NewCommandProject(configFlags, streams)),
		withKubeconfig(configFlags, project.NewCommandProjects(configFlags, streams)),
		withKubeconfig(configFlags, imagecmd.NewCommandTag(configFlags, streams)),
		withKubeconfig(configFlags, imagecmd.NewCommandImportImage(configFlags, streams)),
		policy.NewCommand(configFlags, streams, func() { kubectl.UseLocalAdmin(server.DefaultDataDir) }), // subcommands: flags are persistent
		adm.NewCommand(configFlags, streams, func() { kubectl.UseLocalAdmin(server.DefaultDataDir) }),
		setcmd.NewCommand(configFlags, streams, func() { kubectl.UseLocalAdmin(server.DefaultDataDir) }),
		login.NewCommandLogin(server.DefaultDataDir, streams), // not withKubeconfig: login writes the user's kubeconfig, never the admin's
		withKubeconfig(configFlags, login.NewCommandLogout(configFlags, streams)),
		withKubeconfig(configFlags, login.NewCommandWhoAmI(configFlags, streams)),
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

// withKubeconfig gives a client command the kubeconfig flags, and the local
// admin kubeconfig when no other is configured.
func withKubeconfig(flags *genericclioptions.ConfigFlags, cmd *cobra.Command) *cobra.Command {
	flags.AddFlags(cmd.Flags())
	cmd.PreRun = func(*cobra.Command, []string) { kubectl.UseLocalAdmin(server.DefaultDataDir) }
	return cmd
}

// genericVerbs are kubectl's verbs offered at the top level, as oc does.
var genericVerbs = [][2]string{
	{"get", "Display one or many resources"},
	{"describe", "Show details of a resource or group of resources"},
	{"create", "Create a resource from a file or from stdin, or a route (create route edge|passthrough|reencrypt)"},
	{"expose", "Expose a service with a route, or a deployment, replication controller or pod with a service"},
	{"apply", "Apply a configuration to a resource by file name or stdin"},
	{"edit", "Edit a resource on the server"},
	{"delete", "Delete resources by file names, stdin, resources and names, or by resources and label selector"},
	{"patch", "Update fields of a resource"},
	{"replace", "Replace a resource by file name or stdin"},
	{"label", "Update the labels on a resource"},
	{"annotate", "Update the annotations on a resource"},
	{"explain", "Get documentation for a resource"},
	{"api-resources", "Print the supported API resources on the server"},
	{"api-versions", "Print the supported API versions on the server"},
	{"logs", "Print the logs for a container in a pod"},
	{"exec", "Execute a command in a container"},
	{"scale", "Set a new size for a deployment, replica set, or deployment config"},
	{"wait", "Wait for a specific condition on one or many resources"},
	{"config", "Modify kubeconfig files"},
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
