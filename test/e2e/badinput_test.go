package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gantry-dev/gantry/test/harness"
)

// run runs the gantry binary and returns its combined output; it must fail.
func runFailing(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%v succeeded, want a failure:\n%s", cmd.Args, out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("%v: %v, want a non-zero exit", cmd.Args, err)
	}
	return string(out)
}

func gantry(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(bin, args...)
}

// Each bad start is refused with a message naming the problem and what to do, and leaves nothing
// started or changed on the machine.
func TestBadStartsAreRefusedCleanly(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		cmd   func(t *testing.T) *exec.Cmd
		wants []string
	}{
		{"unwritable data dir", func(t *testing.T) *exec.Cmd {
			return gantry(t, "start", "--data-dir", filepath.Join(file, "data"))
		}, []string{"data directory", "is not writable", "Try: choose another one with --data-dir"}},
		{"not root", func(t *testing.T) *exec.Cmd {
			cmd := gantry(t, "start", "--data-dir", t.TempDir())
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			return cmd
		}, []string{"must run as root", "Try: sudo gantry start"}},
		{"loopback node IP", func(t *testing.T) *exec.Cmd {
			return gantry(t, "start", "--data-dir", t.TempDir(), "--node-ip", "127.0.0.2")
		}, []string{"--node-ip 127.0.0.2", "non-loopback"}},
		{"malformed extra arg", func(t *testing.T) *exec.Cmd {
			return gantry(t, "start", "--data-dir", t.TempDir(), "--kube-apiserver-arg", "=4")
		}, []string{"--kube-apiserver-arg"}},
		{"containerd missing", func(t *testing.T) *exec.Cmd {
			cmd := gantry(t, "start", "--data-dir", t.TempDir())
			cmd.Env = append(os.Environ(), "GANTRY_CONTAINERD=/nonexistent/containerd")
			return cmd
		}, []string{"containerd is not installed", "Try: apt-get install"}},
		{"port in use", func(t *testing.T) *exec.Cmd {
			// If something else holds the port already, the start must be refused all the same.
			if l, err := net.Listen("tcp", "127.0.0.1:2379"); err == nil {
				t.Cleanup(func() { l.Close() })
			}
			return gantry(t, "start", "--data-dir", t.TempDir())
		}, []string{"127.0.0.1:2379 (etcd)", "address already in use", "Try:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := runFailing(t, c.cmd(t))
			for _, w := range c.wants {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines > 3 {
				t.Errorf("want a short error (problem and hint), got %d lines:\n%s", lines, out)
			}
			if left := harness.Leftovers("/nonexistent"); len(left) > 0 {
				t.Errorf("a refused start changed the machine: %v", left)
			}
		})
	}
}
