package images

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPauseELFParses(t *testing.T) {
	exe, err := pauseELF()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Errorf("header: class %v, data %v, machine %v, type %v", f.Class, f.Data, f.Machine, f.Type)
	}
	if len(f.Progs) != 1 {
		t.Fatalf("%d program headers, want 1", len(f.Progs))
	}
	p := f.Progs[0]
	if p.Type != elf.PT_LOAD || p.Flags != elf.PF_R|elf.PF_X || p.Off != 0 || p.Vaddr != pauseBase || p.Filesz != uint64(len(exe)) || p.Memsz != p.Filesz {
		t.Errorf("program header: %+v (file is %d bytes)", p.ProgHeader, len(exe))
	}
	// The entry point is the first byte after the headers and the sigaction struct, and the
	// code there is the one pauseCode generates.
	wantEntry := uint64(pauseBase + 64 + 56 + 32)
	if f.Entry != wantEntry {
		t.Errorf("entry %#x, want %#x", f.Entry, wantEntry)
	}
	if code := exe[f.Entry-pauseBase:]; !bytes.Equal(code, pauseCode(pauseBase+64+56)) {
		t.Errorf("code at entry: % x", code)
	}
	if len(exe) > 256 {
		t.Errorf("pause executable is %d bytes", len(exe))
	}
}

func TestPauseRuns(t *testing.T) {
	exe, err := pauseELF()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pause: %v", err)
	}
	pid := cmd.Process.Pid
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	// Once started, the process must end up sleeping in pause(2) (system call 34), and stay
	// there: it is neither running (R) nor exited (Z).
	waitFor(t, "pause to sleep in pause(2)", func() bool {
		state := procState(t, pid)
		if state == "Z" {
			t.Fatal("pause exited")
		}
		syscallFile, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
		if err != nil {
			t.Fatal(err)
		}
		return state == "S" && strings.HasPrefix(string(syscallFile), "34 ")
	})

	// Before pausing, it set SIGCHLD to SIG_IGN, so that the kernel reaps its children.
	if ignored := sigIgnored(t, pid); ignored&(1<<(syscall.SIGCHLD-1)) == 0 {
		t.Errorf("SIGCHLD not ignored: SigIgn %#x", ignored)
	}

	killed = true
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("wait: %v", err)
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("pause ended with %v, want killed by SIGKILL", exitErr)
	}
}

// procState returns the state letter of process pid from /proc/<pid>/stat.
func procState(t *testing.T, pid int) string {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// "pid (comm) state ...": comm may contain spaces and parentheses, the state follows the
	// last ")".
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) == 0 {
		t.Fatalf("malformed /proc/%d/stat: %q", pid, stat)
	}
	return fields[0]
}

// sigIgnored returns the SigIgn mask of process pid from /proc/<pid>/status.
func sigIgnored(t *testing.T, pid int) uint64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("parse SigIgn %q: %v", v, err)
			}
			return mask
		}
	}
	t.Fatalf("no SigIgn in /proc/%d/status", pid)
	return 0
}

// waitFor polls cond until it holds, failing the test shortly before the test binary's deadline
// (or after a minute without one).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	if d, ok := t.Deadline(); ok {
		deadline = d.Add(-5 * time.Second)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
