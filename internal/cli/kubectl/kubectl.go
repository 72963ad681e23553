// Package kubectl embeds upstream kubectl as `gantry kubectl`.
package kubectl

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// Extension adds to or changes kubectl's command tree before it runs, with
// the factory and streams kubectl's own commands use (so added commands
// honor -n, --kubeconfig, --context and the other global flags). Gantry
// adds OpenShift's subcommands this way ("create route", "expose svc/x")
// instead of forking kubectl's commands.
type Extension func(kubectl *cobra.Command, f cmdutil.Factory, streams genericiooptions.IOStreams)

// DataDirEnv names the data directory whose admin kubeconfig `gantry kubectl` falls back to.
const DataDirEnv = "GANTRY_DATA_DIR"

// NewVerb returns `gantry VERB`, the same as `gantry kubectl VERB`: the
// generic verbs (get, describe, create, apply, ...) work on every resource,
// the OpenShift ones included.
func NewVerb(defaultDataDir, verb, short string, ext ...Extension) *cobra.Command {
	return &cobra.Command{
		Use:                verb,
		Short:              short,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, defaultDataDir, append([]string{verb}, args...), ext)
		},
	}
}

func run(cmd *cobra.Command, defaultDataDir string, args []string, ext []Extension) error {
	UseLocalAdmin(defaultDataDir)
	streams := ioStreams(cmd)
	// kubectl's own defaults (cmd.defaultConfigFlags), made here so that
	// extensions share the flags kubectl parses.
	flags := genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().
		WithDiscoveryBurst(300).WithDiscoveryQPS(50.0).WithWarningPrinter(streams)
	k := kubectlcmd.NewDefaultKubectlCommandWithArgs(kubectlcmd.KubectlOptions{
		PluginHandler: kubectlcmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     append([]string{"kubectl"}, args...),
		ConfigFlags:   flags,
		IOStreams:     streams,
	})
	if len(ext) > 0 {
		f := cmdutil.NewFactory(cmdutil.NewMatchVersionFlags(flags))
		for _, e := range ext {
			e(k, f, streams)
		}
	}
	k.SetArgs(args)
	return k.ExecuteContext(cmd.Context())
}

// NewCommand returns `gantry kubectl`: kubectl itself, with every verb and flag. Without --kubeconfig,
// $KUBECONFIG or ~/.kube/config it uses the admin kubeconfig of the local `gantry start`.
func NewCommand(defaultDataDir string, ext ...Extension) *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl",
		Short:              "Run kubectl against the cluster",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, defaultDataDir, args, ext)
		},
	}
}

// UseLocalAdmin points KUBECONFIG at the admin kubeconfig of the local
// `gantry start` when no other kubeconfig is configured.
func UseLocalAdmin(defaultDataDir string) {
	if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "" {
		return
	}
	if _, err := os.Stat(clientcmd.RecommendedHomeFile); err == nil {
		return
	}
	dir := os.Getenv(DataDirEnv)
	if dir == "" {
		dir = defaultDataDir
	}
	admin := filepath.Join(dir, "kubeconfig", "admin.kubeconfig")
	if _, err := os.Stat(admin); err == nil {
		os.Setenv(clientcmd.RecommendedConfigPathEnvVar, admin)
	}
}
