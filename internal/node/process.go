package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// Process runs a child process until its context is done.
type Process struct {
	// Name is used in messages and names the log file.
	Name string
	Path string
	Args []string
	// LogFile receives the child's stdout and stderr.
	LogFile string
	// StopTimeout is how long a child gets after SIGTERM before SIGKILL.
	StopTimeout time.Duration
}

// Run starts the child and waits. When ctx is done the child gets SIGTERM, then SIGKILL after
// StopTimeout; Run returns nil then. A child that exits on its own is an error that quotes the end of
// its log. The child is killed if gantry itself dies (Pdeathsig), so a crash leaves no orphan kubelet.
func (p *Process) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(p.LogFile), 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	klog.InfoS("Running", "component", p.Name, "command", p.Path+" "+strings.Join(p.Args, " "))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return fmt.Errorf("exited (%v); last log lines from %s:\n%s", err, p.LogFile, tail(p.LogFile, 5))
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	timeout := p.StopTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	select {
	case <-done:
	case <-time.After(timeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	return nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
