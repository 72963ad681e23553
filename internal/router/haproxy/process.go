package haproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is haproxy's master process, a child of this one, in
// master-worker mode: the master re-executes itself on the CLI's reload
// with the configuration on disk, and the new worker takes the listening sockets of
// the old one over through the stats socket (expose-fd listeners).
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// startProcess starts haproxy on the configuration in Dir.
func startProcess(o Options) (*process, error) {
	cmd := exec.Command(o.Binary, "-W", "-db", "-S", o.path("run/master.sock")+",mode,600", "-f", o.path("haproxy.cfg"))
	cmd.Dir = o.Dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// haproxy must not outlive us when we are killed without a chance to
	// stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("haproxy: start %s: %w", o.Binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		s := bufio.NewScanner(pr)
		for s.Scan() {
			o.Logf("haproxy: %s", s.Text())
		}
		io.Copy(io.Discard, pr) // a line too long for the scanner: drain, so haproxy never blocks
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		// Its last lines are logged before it counts as stopped: a
		// caller's logger may be gone once stop returns.
		<-logged
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the master has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitWorker waits until the worker answering on the stats socket is not
// oldPid (0: any worker), and returns its PID.
func waitWorker(p *process, rt runtimeAPI, oldPid int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return 0, fmt.Errorf("haproxy exited: %v (its output is in the router's log)", p.err)
		}
		pid, err := rt.pid()
		if err == nil && pid != oldPid {
			return pid, nil
		}
		last = err
		time.Sleep(5 * time.Millisecond)
	}
	if last == nil {
		last = errors.New("the old worker still answers")
	}
	return 0, fmt.Errorf("haproxy: no new worker after %s: %v", timeout, last)
}

// reload asks the master to load the configuration again, through its
// CLI: a SIGUSR2 that arrives before the master runs its event loop is
// lost (right after a start, it was), while a CLI that answers is a master
// that reloads.
func (p *process) reload(master runtimeAPI) error {
	_, err := master.exec("reload")
	return err
}

// waitMaster waits until the master's CLI answers.
func waitMaster(p *process, master runtimeAPI, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("haproxy exited: %v (its output is in the router's log)", p.err)
		}
		out, err := master.exec("show proc;quit")
		if err == nil && strings.Contains(out, "master") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy: the master CLI does not answer after %s: %v %q", timeout, err, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop ends haproxy: a soft stop (SIGUSR1 lets established connections
// finish) for up to grace, then SIGTERM, then SIGKILL.
func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGUSR1)
	for _, next := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		select {
		case <-p.done:
			return nil
		case <-time.After(grace):
			p.cmd.Process.Signal(next)
		}
	}
	<-p.done
	return nil
}
