// Package kubectl embeds upstream kubectl as `gantry kubectl`.
package kubectl

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
)

// DataDirEnv names the data directory whose admin kubeconfig `gantry kubectl` falls back to.
const DataDirEnv = "GANTRY_DATA_DIR"

// NewVerb returns `gantry VERB`, the same as `gantry kubectl VERB`: the
// generic verbs (get, describe, create, apply, ...) work on every resource,
// the OpenShift ones included.
func NewVerb(defaultDataDir, verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:                verb,
		Short:              short,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, defaultDataDir, append([]string{verb}, args...))
		},
	}
}

func run(cmd *cobra.Command, defaultDataDir string, args []string) error {
	UseLocalAdmin(defaultDataDir)
	k := kubectlcmd.NewDefaultKubectlCommandWithArgs(kubectlcmd.KubectlOptions{
		PluginHandler: kubectlcmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     append([]string{"kubectl"}, args...),
		IOStreams:     ioStreams(cmd),
	})
	k.SetArgs(args)
	return k.ExecuteContext(cmd.Context())
}

// NewCommand returns `gantry kubectl`: kubectl itself, with every verb and flag. Without --kubeconfig,
// $KUBECONFIG or ~/.kube/config it uses the admin kubeconfig of the local `gantry start`.
func NewCommand(defaultDataDir string) *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl",
		Short:              "Run kubectl against the cluster",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, defaultDataDir, args)
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
