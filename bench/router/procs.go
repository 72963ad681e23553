package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
)

// serveBackend is the trivial backend of performance.md (12 bytes of
// text/plain), run as a child process of the bench (-serve-backend) so
// its CPU is not the bench's, on every address given.
func serveBackend(addrs string) {
	body := []byte("hello world\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	errs := make(chan error)
	for _, a := range strings.Split(addrs, ",") {
		l, err := net.Listen("tcp", a)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() { errs <- http.Serve(l, h) }()
	}
	fmt.Fprintln(os.Stderr, <-errs)
	os.Exit(1)
}

// child is a process the bench started.
type child struct {
	cmd *exec.Cmd
}

// startBackend starts the backend child on addrs and waits until each
// accepts connections.
func startBackend(addrs []string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve-backend", strings.Join(addrs, ","))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd}
	for _, a := range addrs {
		if err := waitTCP(a, 10*time.Second); err != nil {
			c.stop()
			return nil, fmt.Errorf("backend: %w", err)
		}
	}
	return c, nil
}

func (c *child) stop() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

func waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort is a port free on every address given at the time of the call.
func freePort(addrs ...string) (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", addrs[0]+":0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		var more []net.Listener
		for _, a := range addrs[1:] {
			m, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			more = append(more, m)
		}
		l.Close()
		for _, m := range more {
			m.Close()
		}
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free on %v", addrs)
}

// treeCPU is the CPU time of a process and its descendants.
func treeCPU(pid int) time.Duration { return benchutil.ReadCPU(pid).Gantry }

// treeRSS is the resident memory of a process and its descendants, bytes.
func treeRSS(pid int) int64 {
	parents := map[int]int{}
	rss := map[int]int64{}
	paths, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var id, ppid int
		var kb int64
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "Pid:":
				id, _ = strconv.Atoi(f[1])
			case "PPid:":
				ppid, _ = strconv.Atoi(f[1])
			case "VmRSS:":
				kb, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
		parents[id], rss[id] = ppid, kb*1024
	}
	var total int64
	for id := range rss {
		for p := id; p > 1; p = parents[p] {
			if p == pid {
				total += rss[id]
				break
			}
		}
	}
	return total
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown host"
	}
	return h
}

// haproxyVersion is the first line of haproxy -v, shortened.
func haproxyVersion() string {
	out, err := exec.Command("haproxy", "-v").Output()
	if err != nil {
		return "(not found)"
	}
	f := strings.Fields(string(out))
	if len(f) >= 3 {
		return f[2]
	}
	return strings.TrimSpace(string(out))
}

// selfRSS is the resident memory of one process, bytes.
func selfRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
