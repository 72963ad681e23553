// Package integration runs tests against one real all-in-one cluster started for the package.
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/gantry-dev/gantry/test/harness"
)

var cluster *harness.Cluster

// unroutedLabel marks routes the node's router does not serve: the cluster's
// router is started with the selector !unroutedLabel. Tests of the API
// itself (resource versions, conflicts, watch events) use such routes.
const unroutedLabel = "gantry.test/unrouted"

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "integration tests need root (they run a kubelet, containerd and iptables)")
		return 1
	}
	release, err := harness.LockMachine()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer release()
	dir, err := os.MkdirTemp("", "gantry-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cluster, err = harness.Start(context.Background(), dir, "--project-request-message", projectRequestMessage,
		"--router-route-selector", "!"+unroutedLabel)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := cluster.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop: %v\n%s", err, cluster.Output())
		code = 1
	}
	if left := harness.Leftovers(dir); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "the stopped cluster left behind: %v\n", left)
		code = 1
	}
	return code
}
