package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/gantry-dev/gantry/internal/node"
)

// PreflightError is a problem found before anything started, with what to do about it.
type PreflightError struct {
	Problem string
	Try     string
}

func (e *PreflightError) Error() string {
	if e.Try == "" {
		return e.Problem
	}
	return e.Problem + "\nTry: " + e.Try
}

// ContainerdEnv, when set, is the path of the containerd binary to run instead of the one on PATH.
const ContainerdEnv = "GANTRY_CONTAINERD"

const installHint = "apt-get install -y containerd runc containernetworking-plugins iptables (or: make deps)"

// Preflight checks what `gantry start` needs from the machine before it changes anything: root, a
// writable data directory, containerd, runc, iptables and the CNI plugins, and cgroups. It returns the
// paths of containerd and of this binary.
func Preflight(c *Config) (containerd string, err error) {
	if os.Geteuid() != 0 {
		return "", &PreflightError{"gantry start must run as root: it runs a kubelet, containerd and iptables", "sudo gantry start"}
	}
	if err := checkWritable(c.DataDir); err != nil {
		return "", &PreflightError{fmt.Sprintf("data directory %s is not writable: %v", c.DataDir, err), "choose another one with --data-dir"}
	}
	containerd, err = lookPath("containerd")
	if env := os.Getenv(ContainerdEnv); env != "" {
		containerd, err = env, nil
		if fi, statErr := os.Stat(env); statErr != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			err = fmt.Errorf("%s=%s is not an executable", ContainerdEnv, env)
		}
	}
	if err != nil {
		return "", &PreflightError{"containerd is not installed (" + err.Error() + ")", installHint}
	}
	for _, bin := range []string{"runc", "iptables", "iptables-restore"} {
		if _, err := lookPath(bin); err != nil {
			return "", &PreflightError{bin + " is not installed", installHint}
		}
	}
	if _, err := node.FindCNIPluginDir(); err != nil {
		return "", &PreflightError{err.Error(), installHint}
	}
	if err := checkCgroups("/sys/fs/cgroup"); err != nil {
		return "", &PreflightError{err.Error(), "mount the cgroup v1 controllers (cpu, memory, pids) or cgroup v2 with those controllers enabled"}
	}
	return containerd, nil
}

func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".gantry-write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// checkCgroups accepts cgroup v2 with the cpu, memory and pids controllers, or v1 (also hybrid) with
// those hierarchies mounted.
func checkCgroups(root string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		return fmt.Errorf("cgroups are not mounted at %s: %v", root, err)
	}
	const cgroup2Magic = 0x63677270
	if st.Type == cgroup2Magic {
		b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
		if err != nil {
			return fmt.Errorf("read cgroup controllers: %v", err)
		}
		have := strings.Fields(string(b))
		for _, want := range []string{"cpu", "memory", "pids"} {
			if !slices.Contains(have, want) {
				return fmt.Errorf("the cgroup v2 controller %q is not enabled (have: %s)", want, strings.Join(have, " "))
			}
		}
		return nil
	}
	for _, want := range []string{"cpu", "memory", "pids"} {
		if _, err := os.Stat(filepath.Join(root, want)); err != nil {
			return fmt.Errorf("the cgroup v1 hierarchy %q is not mounted under %s", want, root)
		}
	}
	return nil
}

// Port is an address Gantry will listen on.
type Port struct {
	Component string
	Network   string // tcp or udp
	Addr      string
}

// Ports lists every address `gantry start` binds.
func (c *Config) Ports() []Port {
	node := c.NodeIP.String()
	hp := func(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	ports := []Port{
		{"etcd", "tcp", "127.0.0.1:2379"},
		{"etcd", "tcp", "127.0.0.1:2380"},
		{KubeAPIServer, "tcp", hp(node, c.APIServerPort)},
		{KubeControllerManager, "tcp", hp("127.0.0.1", controllerManagerPort)},
		{KubeScheduler, "tcp", hp("127.0.0.1", schedulerPort)},
		{Kubelet, "tcp", hp(node, 10250)},
		{Kubelet, "tcp", "127.0.0.1:10248"},
		{KubeProxy, "tcp", "127.0.0.1:10256"},
		{KubeProxy, "tcp", "127.0.0.1:10249"},
		{"registry", "tcp", c.RegistryAddr},
		{"dns", "tcp", hp(node, 53)},
		{"dns", "udp", hp(node, 53)},
		{OpenShiftAPIServer, "tcp", hp(node, OpenShiftAPIPort)},
		{OAuthServer, "tcp", hp(node, OAuthPort)},
		{"admission", "tcp", hp(node, AdmissionPort)},
	}
	if c.Router {
		ports = append(ports, Port{"router", "tcp", hp(node, c.RouterHTTPPort)}, Port{"router", "tcp", hp(node, c.RouterHTTPSPort)},
			Port{"router", "tcp", hp("127.0.0.1", RouterStatsPort)})
	}
	return ports
}

// CheckPorts binds and releases every address, so that a port in use is reported before anything starts.
func CheckPorts(ports []Port) error {
	var errs []error
	for _, p := range ports {
		var err error
		if p.Network == "udp" {
			var l net.PacketConn
			if l, err = net.ListenPacket("udp", p.Addr); err == nil {
				l.Close()
			}
		} else {
			var l net.Listener
			if l, err = net.Listen("tcp", p.Addr); err == nil {
				l.Close()
			}
		}
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				err = errors.New("address already in use")
			}
			errs = append(errs, fmt.Errorf("%s %s (%s): %v", p.Network, p.Addr, p.Component, err))
		}
	}
	if len(errs) > 0 {
		return &PreflightError{fmt.Sprintf("cannot listen on %v", errors.Join(errs...)), "stop what uses the port (ss -ltnup shows it), or another gantry start"}
	}
	return nil
}

// Lock takes the data directory's lock file, so that two `gantry start` never share one.
func Lock(dataDir string) (release func(), err error) {
	path := filepath.Join(dataDir, "gantry.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		return nil, &PreflightError{fmt.Sprintf("another gantry start (pid %s) is using %s", strings.TrimSpace(string(pid)), dataDir), "stop it first, or use another --data-dir"}
	}
	_ = f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}
