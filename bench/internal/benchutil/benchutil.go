// Package benchutil holds what Gantry's benchmarks share: finding the gantry binary and its version,
// progress logging, percentiles, and a description of the machine for the results.
package benchutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Gantry resolves the gantry binary to benchmark: flagValue, else $GANTRY_BIN, else bin/gantry. It
// returns the absolute path, checks that the file exists and sets $GANTRY_BIN to it (the harness
// starts clusters with $GANTRY_BIN).
func Gantry(flagValue string) (string, error) {
	path := flagValue
	if path == "" {
		path = os.Getenv("GANTRY_BIN")
	}
	if path == "" {
		path = "bin/gantry"
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("%w (build it with `make build`)", err)
	}
	os.Setenv("GANTRY_BIN", abs)
	return abs, nil
}

// Version is what `bin version` prints, without the leading "gantry ", or "unknown".
func Version(bin string) string {
	if b, err := exec.Command(bin, "version").Output(); err == nil {
		return strings.TrimPrefix(strings.TrimSpace(string(b)), "gantry ")
	}
	return "unknown"
}

// Logf prints a progress line with the time of day to standard error.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Percentile is the p-th (0..1) percentile of sorted durations by the nearest-rank method; 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// NumCPU is the number of processors in /proc/cpuinfo.
func NumCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// CPUModel is the first model name in /proc/cpuinfo.
func CPUModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown CPU"
}

// MemTotal is the machine's memory in whole GiB, as "24 GiB".
func MemTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "? GiB"
}

// LoadAverage is the 1, 5 and 15 minute load averages of /proc/loadavg, as "0.74 1.64 1.67".
func LoadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// CPU holds CPU times since boot: of gantry's process tree, of this process, and of the whole machine
// (busy: neither idle nor waiting for I/O). Differences of two readings are what was spent between them.
type CPU struct {
	Gantry, Self, Busy time.Duration
}

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on every Linux architecture Gantry runs on).
const clockTick = 10 * time.Millisecond

// ReadCPU reads the CPU times; Gantry is the process root and its descendants (0 when root is 0).
func ReadCPU(root int) CPU {
	var c CPU
	type proc struct {
		ppid int
		cpu  time.Duration
	}
	procs := map[int]proc{}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 > len(s) {
			continue
		}
		f := strings.Fields(s[i+2:]) // from field 3 (state) on
		if len(f) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:strings.IndexByte(s, ' ')]))
		ppid, _ := strconv.Atoi(f[1])
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		procs[pid] = proc{ppid: ppid, cpu: time.Duration(utime+stime) * clockTick}
	}
	if root > 0 {
		in := map[int]bool{}
		var under func(pid int) bool
		under = func(pid int) bool {
			if v, ok := in[pid]; ok {
				return v
			}
			in[pid] = false // breaks cycles of reused PIDs
			p, ok := procs[pid]
			v := pid == root || (ok && p.ppid > 1 && under(p.ppid))
			in[pid] = v
			return v
		}
		for pid, p := range procs {
			if under(pid) {
				c.Gantry += p.cpu
			}
		}
	}
	c.Self = procs[os.Getpid()].cpu
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i := 1; i < len(f); i++ {
			v, _ := strconv.Atoi(f[i])
			if i != 4 && i != 5 && i <= 8 { // user nice system [idle iowait] irq softirq steal
				c.Busy += time.Duration(v) * clockTick
			}
		}
	}
	return c
}
