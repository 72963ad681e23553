// Package e2e drives the built gantry binary end to end: restarts on one data directory, and the
// errors a user gets for bad input. Each test starts its own cluster while holding the machine lock.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/gantry-dev/gantry/test/harness"
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e tests need root (they run a kubelet, containerd and iptables)")
		os.Exit(1)
	}
	release, err := harness.LockMachine()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	release()
	os.Exit(code)
}
