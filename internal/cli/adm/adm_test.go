package adm

import (
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestCommandTree(t *testing.T) {
	t.Parallel()
	ran := false
	root := NewCommand(genericclioptions.NewConfigFlags(true), genericiooptions.NewTestIOStreamsDiscard(), func() { ran = true })
	for _, verb := range []string{"add-cluster-role-to-user", "remove-cluster-role-from-user", "add-cluster-role-to-group", "remove-cluster-role-from-group"} {
		cmd, _, err := root.Find([]string{"policy", verb})
		if err != nil || cmd.Name() != verb {
			t.Errorf("adm policy %s: %v", verb, err)
			continue
		}
		// The kubeconfig flags reach every subcommand.
		if cmd.Flag("kubeconfig") == nil || cmd.Flag("server") == nil || cmd.Flag("namespace") == nil {
			t.Errorf("adm policy %s lacks the kubeconfig flags", verb)
		}
	}
	// The help says what happens to the default bindings.
	if cmd, _, _ := root.Find([]string{"policy", "remove-cluster-role-from-group"}); !strings.Contains(cmd.Long, "self-provisioners") ||
		!strings.Contains(cmd.Long, "rbac.authorization.kubernetes.io/autoupdate=false in the same change") {
		t.Errorf("remove-cluster-role-from-group help does not say that default bindings are kept and opted out of restoring:\n%s", cmd.Long)
	}
	// Without a cluster the command fails after setup ran, saying what to do.
	root.SilenceUsage, root.SilenceErrors = true, true
	root.SetArgs([]string{"policy", "add-cluster-role-to-user", "--server", "https://127.0.0.1:1", "cluster-reader"})
	err := root.Execute()
	if !ran || err == nil {
		t.Errorf("setup ran = %v, err = %v; want setup run and an error for the missing user", ran, err)
	}
}
