// Package harness starts and stops a real `gantry start` for the integration and end-to-end tests.
//
// A kubelet, containerd, the CNI bridge and iptables are machine-wide, so test packages never run two
// clusters at once: every package takes the machine lock (a flock on /run/gantry-tests.lock) for as long
// as its cluster lives, and packages wait for each other. Clusters run the built binary ($GANTRY_BIN,
// or one built from this module), in a temporary data directory, and are stopped by PID.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/gantry-dev/gantry/internal/syncbuf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ReadyLine is what `gantry start` prints once every component is ready.
const ReadyLine = "Gantry is ready"

// NodeIP is the default node address of `gantry start`.
const NodeIP = "10.127.0.1"

// Registry is the default address of the registry serving Gantry's images.
const Registry = "127.0.0.1:5000"

// LockMachine blocks until no other test package runs a cluster; call the result to release.
func LockMachine() (func(), error) {
	f, err := os.OpenFile("/run/gantry-tests.lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// Binary returns the gantry binary to test: $GANTRY_BIN, or one built from this module.
func Binary() (string, error) {
	if b := os.Getenv("GANTRY_BIN"); b != "" {
		return b, nil
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(os.TempDir(), "gantry-test-bin")
		cmd := exec.Command("go", "build", "-o", built, "./cmd/gantry")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build gantry: %v\n%s", err, out)
		}
	})
	return built, buildErr
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("go.mod not found above the working directory")
}

// Cluster is a running `gantry start`.
type Cluster struct {
	DataDir    string
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	// Started is when the process was started.
	Started time.Time
	cmd     *exec.Cmd
	out     *syncbuf.Buffer
	exited  chan struct{}
	waitErr error
}

// Start runs `gantry start --data-dir dataDir args...` and waits until it prints ReadyLine.
func Start(ctx context.Context, dataDir string, args ...string) (*Cluster, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	c := &Cluster{DataDir: dataDir, Kubeconfig: filepath.Join(dataDir, "kubeconfig", "admin.kubeconfig"), out: &syncbuf.Buffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(bin, append([]string{"start", "--data-dir", dataDir}, args...)...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.Started = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { c.waitErr = c.cmd.Wait(); close(c.exited) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(4 * time.Minute)
	for !strings.Contains(c.out.String(), ReadyLine) {
		select {
		case <-c.exited:
			return nil, fmt.Errorf("gantry start exited (%v):\n%s", c.waitErr, c.out)
		case <-timeout:
			c.Stop()
			return nil, fmt.Errorf("gantry start not ready after 4m:\n%s", c.out)
		case <-ctx.Done():
			c.Stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		c.Stop()
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Output is everything the process printed so far.
func (c *Cluster) Output() string { return c.out.String() }

// Pid is the process ID of `gantry start`.
func (c *Cluster) Pid() int { return c.cmd.Process.Pid }

// Stop sends SIGTERM to the process and waits for it to exit (SIGKILL after two minutes).
func (c *Cluster) Stop() error {
	select {
	case <-c.exited:
		return c.waitErr
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(2 * time.Minute):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("gantry start did not stop within 2m after SIGTERM:\n%s", c.out)
	}
	return c.waitErr
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits for it to exit.
func (c *Cluster) Kill() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// Leftovers lists what a stopped cluster left on the machine: containerd shims, mounts under the data
// directory, KUBE-/CNI- iptables chains, the cni0 bridge and the node address on lo.
func Leftovers(dataDir string) []string {
	var found []string
	socket := filepath.Join(dataDir, "containerd", "containerd.sock")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "containerd-shim") && strings.Contains(string(b), socket) {
			found = append(found, "shim "+filepath.Base(filepath.Dir(p)))
		}
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		s := bufio.NewScanner(bytes.NewReader(mi))
		for s.Scan() {
			if f := strings.Fields(s.Text()); len(f) > 4 && strings.HasPrefix(f[4], dataDir+"/") {
				found = append(found, "mount "+f[4])
			}
		}
	}
	for _, table := range []string{"filter", "nat", "mangle"} {
		out, _ := exec.Command("iptables", "-w", "-t", table, "-S").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "-N" && (strings.HasPrefix(f[1], "KUBE-") || strings.HasPrefix(f[1], "CNI-")) {
				found = append(found, "iptables chain "+table+"/"+f[1])
			}
		}
	}
	if _, err := netlink.LinkByName("cni0"); err == nil {
		found = append(found, "link cni0")
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == NodeIP {
				found = append(found, "address "+NodeIP)
			}
		}
	}
	return found
}

// StartLocked waits for the machine lock, then starts a cluster in a new temporary data directory
// named after prefix, reporting progress through logf. stop stops the cluster, removes the directory
// and releases the lock. Benchmarks use it; tests use LockMachine once for the package. args are
// extra flags of `gantry start`.
func StartLocked(ctx context.Context, prefix string, logf func(format string, args ...any), args ...string) (c *Cluster, stop func(), err error) {
	logf("waiting for the machine lock")
	release, err := LockMachine()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		release()
		return nil, nil, err
	}
	bin, _ := Binary()
	logf("starting %s in %s", bin, dir)
	if c, err = Start(ctx, dir, args...); err != nil {
		os.RemoveAll(dir)
		release()
		return nil, nil, err
	}
	logf("cluster ready after %.1fs (pid %d)", time.Since(c.Started).Seconds(), c.Pid())
	return c, func() {
		logf("stopping gantry (pid %d)", c.Pid())
		if err := c.Stop(); err != nil {
			logf("stop: %v", err)
		}
		os.RemoveAll(dir)
		release()
	}, nil
}
