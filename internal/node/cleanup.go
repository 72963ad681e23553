package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
)

// nodeAddrLabel marks the node IP Gantry adds to the loopback device.
const nodeAddrLabel = "lo:gantry"

// EnsureNodeIP makes ip an address of this machine. When some interface already has it nothing changes
// and added is false; otherwise ip/32 is added to the loopback device (labelled lo:gantry): a node
// address private to this machine, so that Gantry's servers never listen on a public interface by
// default. (Kubernetes refuses 127.0.0.0/8 endpoints, so the node needs an address outside it.)
func EnsureNodeIP(ip net.IP) (added bool, err error) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return false, fmt.Errorf("find loopback device: %w", err)
	}
	// Left behind by a start that crashed: still ours.
	if loAddrs, err := netlink.AddrList(lo, netlink.FAMILY_ALL); err == nil {
		for _, a := range loAddrs {
			if a.IP.Equal(ip) && a.Label == nodeAddrLabel {
				return true, nil
			}
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return false, nil
		}
	}
	if err := netlink.AddrAdd(lo, nodeAddr(ip)); err != nil {
		return false, fmt.Errorf("add %s to lo: %w", ip, err)
	}
	return true, nil
}

// RemoveNodeIP removes the address EnsureNodeIP added.
func RemoveNodeIP(ip net.IP) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(lo, nodeAddr(ip)); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
		return fmt.Errorf("remove %s from lo: %w", ip, err)
	}
	return nil
}

func nodeAddr(ip net.IP) *netlink.Addr {
	bits := 32
	if ip.To4() == nil {
		bits = 128
	}
	return &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, Label: nodeAddrLabel}
}

// DeleteLinks removes network links (the pod bridge), if present.
func DeleteLinks(names ...string) error {
	var errs []error
	for _, name := range names {
		link, err := netlink.LinkByName(name)
		if err != nil {
			continue // already gone
		}
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("delete link %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// KillShims kills containerd shims still serving the containerd socket at address. After every pod
// sandbox was removed there should be none; a crash or a stuck task can leave some behind.
func KillShims(address string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	killed := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == address {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	return killed, nil
}

// UnmountUnder unmounts every mount point below dir, deepest first (pod volumes, the kubelet's bind
// mounts, container root filesystems and shm).
func UnmountUnder(dir string) (int, error) {
	dir = filepath.Clean(dir)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	// Longest path first: children before their parents.
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	n := 0
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// unescapeMountPath decodes the octal escapes (\040 for space) of /proc/self/mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ChainPrefixes are the iptables chains the node creates: kube-proxy's and the kubelet's (KUBE-) and
// the CNI plugins' (CNI-). Gantry owns the machine's node, so at a stop every such chain goes.
var ChainPrefixes = []string{"KUBE-", "CNI-"}

// RemoveChains deletes every chain with one of the prefixes from the filter, nat and mangle tables of
// iptables and ip6tables, with the rules that jump to them.
func RemoveChains(prefixes []string) error {
	var errs []error
	for _, bin := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(bin); err != nil {
			continue
		}
		for _, table := range []string{"filter", "nat", "mangle"} {
			if err := removeChains(bin, table, prefixes); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func removeChains(bin, table string, prefixes []string) error {
	out, err := exec.Command(bin, "-w", "-t", table, "-S").Output()
	if err != nil {
		return fmt.Errorf("%s -t %s -S: %w", bin, table, err)
	}
	ours := func(chain string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(chain, p) })
	}
	var chains []string
	var jumps [][]string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "-N" && ours(f[1]):
			chains = append(chains, f[1])
		case len(f) >= 2 && f[0] == "-A" && !ours(f[1]):
			// A rule in a chain we keep that jumps into one of ours.
			if i := slices.Index(f, "-j"); i >= 0 && i+1 < len(f) && ours(f[i+1]) {
				jumps = append(jumps, f)
			}
		}
	}
	if len(chains) == 0 {
		return nil
	}
	// iptables-restore applies the deletions in one transaction: rules into our chains, then the
	// chains' contents, then the chains. (-S prints quoted comments exactly as restore reads them.)
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%s\n", table)
	for _, c := range chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c) // declaring a chain in restore flushes it
	}
	for _, j := range jumps {
		fmt.Fprintf(&b, "-D %s\n", strings.Join(j[1:], " "))
	}
	for _, c := range chains {
		fmt.Fprintf(&b, "-X %s\n", c)
	}
	b.WriteString("COMMIT\n")
	cmd := exec.Command(bin+"-restore", "-w", "--noflush")
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s-restore (table %s): %v: %s", bin, table, err, bytes.TrimSpace(out))
	}
	return nil
}

// RemoveCgroups removes the empty cgroups the kubelet made for pods (kubepods) in every hierarchy.
func RemoveCgroups() {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	if more, _ := filepath.Glob("/sys/fs/cgroup/kubepods*"); len(more) > 0 {
		roots = append(roots, more...)
	}
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = syscall.Rmdir(dirs[i]) // fails while a process is still in it; that cgroup stays
		}
	}
}
