// Command startup measures a cold `gantry start` on a fresh data directory, several times, and prints
// min/median/max of: API ready, node Ready and first pod Running (from process start), and the total
// RSS of Gantry's process tree (gantry, its kubelet and kube-proxy, containerd, shims and pods) after
// it has been idle. It needs root and a free machine (no other cluster running).
//
//	go run ./bench/startup -gantry bin/gantry -runs 3 -idle 60s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/test/harness"
)

type sample struct {
	api, node, pod time.Duration
	rssMiB         float64
}

func main() {
	bin := flag.String("gantry", "bin/gantry", "gantry binary")
	runs := flag.Int("runs", 3, "cold starts to measure")
	idle := flag.Duration("idle", 60*time.Second, "idle time before measuring RSS")
	out := flag.String("out", "bench/results/startup.md", "where to write the table")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	os.Setenv("GANTRY_BIN", abs)
	release, err := harness.LockMachine()
	if err != nil {
		fail(err)
	}
	defer release()
	var samples []sample
	for i := 0; i < *runs; i++ {
		s, err := measure(*idle)
		if err != nil {
			fail(fmt.Errorf("run %d: %w", i+1, err))
		}
		fmt.Fprintf(os.Stderr, "run %d: API %.2fs, node %.2fs, pod %.2fs, RSS %.0f MiB\n", i+1, s.api.Seconds(), s.node.Seconds(), s.pod.Seconds(), s.rssMiB)
		samples = append(samples, s)
	}
	table := render(samples, *idle)
	fmt.Print(table)
	if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "startup:", err)
	os.Exit(1)
}

func measure(idle time.Duration) (sample, error) {
	var s sample
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gantry-bench-")
	if err != nil {
		return s, err
	}
	defer os.RemoveAll(dir)
	// harness.Start returns once every component is ready; the milestones are read from what the
	// process printed (times since its start) and from the API.
	c, err := harness.Start(ctx, dir)
	if err != nil {
		return s, err
	}
	defer c.Stop()
	if s.api, err = milestone(c.Output(), "kube-apiserver ready"); err != nil {
		return s, err
	}
	cs := c.Client
	image := pauseImage(c.Output())
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: image}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return s, err
	}
	err = harness.Eventually(ctx, 2*time.Minute, func(ctx context.Context) error {
		if s.node == 0 {
			if n, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil && len(n.Items) == 1 && ready(n.Items[0]) {
				s.node = time.Since(c.Started)
			}
		}
		if s.pod == 0 {
			if p, err := cs.CoreV1().Pods("default").Get(ctx, "bench", metav1.GetOptions{}); err == nil && p.Status.Phase == corev1.PodRunning {
				s.pod = time.Since(c.Started)
			}
		}
		if s.node == 0 || s.pod == 0 {
			return fmt.Errorf("node ready after %v, pod running after %v", s.node, s.pod)
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	time.Sleep(idle)
	s.rssMiB = float64(treeRSS(c.Pid())) / 1024
	return s, c.Stop()
}

func ready(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// milestone reads "  5.14s  kube-apiserver ready" from gantry start's output.
func milestone(out, what string) (time.Duration, error) {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(strings.TrimSpace(line), what) {
			f := strings.Fields(line)
			d, err := time.ParseDuration(f[0])
			return d, err
		}
	}
	return 0, fmt.Errorf("%q not in output:\n%s", what, out)
}

func pauseImage(out string) string {
	const marker = "Gantry's images: "
	i := strings.Index(out, marker)
	if i < 0 {
		return harness.Registry + "/gantry/pause:dev"
	}
	rest := out[i+len(marker):]
	return strings.TrimRight(rest[:strings.IndexAny(rest, ")\n")], ")")
}

// treeRSS sums VmRSS (KiB) over pid and its descendants. Processes that left the tree by design are
// counted too: containerd shims re-parent to init, so they are found by their containerd address.
func treeRSS(root int) int {
	children := map[int][]int{}
	rss := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	var shims []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		ppid := 0
		for _, line := range strings.Split(string(status), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "PPid:" {
				ppid, _ = strconv.Atoi(f[1])
			}
			if len(f) >= 2 && f[0] == "VmRSS:" {
				rss[pid], _ = strconv.Atoi(f[1])
			}
		}
		children[ppid] = append(children[ppid], pid)
		if cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); strings.Contains(string(cmd), "containerd-shim") && strings.Contains(string(cmd), "gantry-bench-") {
			shims = append(shims, pid)
		}
	}
	seen := map[int]bool{}
	total := 0
	var walk func(int)
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		total += rss[pid]
		for _, c := range children[pid] {
			walk(c)
		}
	}
	walk(root)
	for _, s := range shims {
		walk(s)
	}
	return total
}

func render(samples []sample, idle time.Duration) string {
	stat := func(get func(sample) float64) (float64, float64, float64) {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = get(s)
		}
		slices.Sort(v)
		return v[0], v[len(v)/2], v[len(v)-1]
	}
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Cold `gantry start` on a fresh data dir, %d runs, %s, %s (%d cores)\n\n", len(samples), time.Now().Format("2006-01-02"), host, numCPU())
	fmt.Fprintf(&b, "| metric | min | median | max | target |\n|---|---|---|---|---|\n")
	row := func(name, unit, target string, get func(sample) float64) {
		lo, mid, hi := stat(get)
		fmt.Fprintf(&b, "| %s | %.1f%s | %.1f%s | %.1f%s | %s |\n", name, lo, unit, mid, unit, hi, unit, target)
	}
	row("API ready", " s", "<= 5 s", func(s sample) float64 { return s.api.Seconds() })
	row("node Ready", " s", "<= 15 s", func(s sample) float64 { return s.node.Seconds() })
	row("first pod Running", " s", "<= 20 s", func(s sample) float64 { return s.pod.Seconds() })
	row(fmt.Sprintf("RSS of the process tree, idle %s", idle), " MiB", "<= 1024 MiB", func(s sample) float64 { return s.rssMiB })
	return b.String()
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}
