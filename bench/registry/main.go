// Command registry measures Gantry's integrated registry beside a plain distribution registry on the
// same machine, in one run, and prints throughput and the ratio integrated / plain (target: at least
// 0.9).
//
// The plain registry runs in this process: distribution's registry application with the storage
// configuration of the integrated one (Gantry's internal/registry without authentication or image
// stream hooks), served by net/http on 127.0.0.1 and a free port, storing in a temporary directory.
// The integrated registry is the one of a real `gantry start` (127.0.0.1:5000): every request is
// authenticated (a user's OAuth token as the Basic password) and authorized by RBAC, and every push
// records an Image and a tag in the image stream, which is part of what is measured. The client is
// go-containerregistry, one push or pull per image as separate `docker push`es would make them.
//
// Workloads, each run on both registries in passes (-big-passes, -small-passes), odd passes plain first
// and then integrated, even ones in the reverse order, to spread the machine's noise over both;
// reported as the means over the passes:
//
//	(a) push one image of -big-layers uncompressed layers of random bytes (-big-mib in all), then
//	    pull it back (every layer read to the end, digests checked);
//	(b) push -small images of one 4 KiB layer each (distinct content, tags t0..t<n-1> spread over
//	    -streams streams), -concurrency at a time, then pull them all the same way.
//
// It needs root and a free machine: it takes the machine lock of the tests, starts one `gantry start`
// in a temporary data directory and stops it by PID at the end. -aa compares two plain registries
// instead (no cluster, no root): the two columns should be the same, and how far apart they are is
// the noise of the method on this machine.
//
//	go run ./bench/registry -gantry bin/gantry
//	go run ./bench/registry -quick    # 20 MiB and 100 small images: a smoke run
//	go run ./bench/registry -aa       # plain vs plain
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
	"github.com/gantry-dev/gantry/test/harness"
)

const (
	mib = 1 << 20
	// smallLayer is the size of a small image's layer: a tar archive of one 2.5 KiB file.
	smallLayer = 4096
	// goal is the least acceptable throughput of the integrated registry, as a fraction of the
	// plain one's.
	goal = 0.9
)

type options struct {
	bigMiB, bigLayers      int
	small, streams         int
	bigPasses, smallPasses int
	concurrency            int
	aa                     bool
	limit                  time.Duration
	debugAddr              string
}

func main() {
	bin := flag.String("gantry", "", "gantry binary (default $GANTRY_BIN, else bin/gantry)")
	bigMiB := flag.Int("big-mib", 100, "size of the big image's layers in all, MiB")
	bigLayers := flag.Int("big-layers", 4, "layers of the big image")
	small := flag.Int("small", 1000, "small images")
	streams := flag.Int("streams", 10, "image streams the small images are spread over")
	concurrency := flag.Int("concurrency", 8, "concurrent pushes and pulls of small images")
	bigPasses := flag.Int("big-passes", 6, "passes of (a); odd passes run plain first, even ones integrated first")
	smallPasses := flag.Int("small-passes", 2, "passes of (b); odd passes run plain first, even ones integrated first")
	quick := flag.Bool("quick", false, "smoke run: a 20 MiB image and 100 small images")
	aa := flag.Bool("aa", false, "compare two plain registries (no cluster, no root): shows the noise of the method")
	limit := flag.Duration("timeout", 8*time.Minute, "abort the workloads after this long (cluster start not included)")
	debugAddr := flag.String("debug-addr", "", "start gantry with --debug-addr (its profiler) on this loopback address")
	out := flag.String("out", "bench/results/registry.md", "where to write the table (empty: nowhere; with -aa nowhere unless given)")
	flag.Parse()

	o := options{bigMiB: *bigMiB, bigLayers: *bigLayers, small: *small, streams: *streams, concurrency: *concurrency,
		bigPasses: *bigPasses, smallPasses: *smallPasses, aa: *aa, limit: *limit, debugAddr: *debugAddr}
	if *quick {
		o.bigMiB, o.small = 20, 100
	}
	if o.bigLayers < 1 || o.bigMiB < o.bigLayers || o.small < 1 || o.streams < 1 || o.concurrency < 1 || o.bigPasses < 1 || o.smallPasses < 1 {
		fail(errors.New("-big-layers, -small, -streams, -concurrency and the passes must be at least 1, and -big-mib at least -big-layers"))
	}
	if o.bigMiB*mib/o.bigLayers%512 != 0 {
		fail(fmt.Errorf("-big-mib %d over -big-layers %d: a layer must be a whole number of 512-byte blocks", o.bigMiB, o.bigLayers))
	}
	explicitOut := false
	flag.Visit(func(f *flag.Flag) { explicitOut = explicitOut || f.Name == "out" })
	if o.aa && !explicitOut {
		*out = ""
	}
	path := ""
	if !o.aa {
		var err error
		if path, err = benchutil.Gantry(*bin); err != nil {
			fail(err)
		}
	}

	start := time.Now()
	table, err := run(path, o)
	if err != nil {
		fail(err)
	}
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fail(err)
		}
	}
	logf("done in %.0fs", time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "registry:", err)
	os.Exit(1)
}

var logf = benchutil.Logf

// report is everything measured, each workload's runs in the order they ran.
type report struct {
	o           options
	version     string
	a, b        string // the columns: the reference, then the one measured against it
	m           *machine
	big         []bigResult
	small       []smallResult
	load, after string // load averages before and after the workloads
}

// run starts the registries (and the cluster, under the machine lock), runs the workloads and stops
// everything it started (also on error or on SIGINT/SIGTERM, which cancel the workloads).
func run(bin string, o options) (string, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := report{o: o, m: &machine{}}

	a, stopA, err := startPlain("plain")
	if err != nil {
		return "", err
	}
	defer stopA()
	logf("plain registry on %s", a.host)
	var b *target
	if o.aa {
		var stopB func()
		if b, stopB, err = startPlain("plain B"); err != nil {
			return "", err
		}
		defer stopB()
		a.name = "plain A"
		r.version = "not used (-aa)"
		logf("second plain registry on %s", b.host)
	} else {
		r.version = benchutil.Version(bin)
		var startArgs []string
		if o.debugAddr != "" {
			startArgs = append(startArgs, "--debug-addr", o.debugAddr)
		}
		c, stopCluster, err := harness.StartLocked(ctx, "gantry-bench-registry-", logf, startArgs...)
		if err != nil {
			return "", err
		}
		defer stopCluster()
		if b, err = integrated(ctx, c); err != nil {
			return "", err
		}
		r.m.pid = c.Pid()
	}
	a.machine, b.machine = r.m, r.m
	r.a, r.b = a.name, b.name

	ctx, cancel := context.WithTimeout(ctx, o.limit)
	defer cancel()
	if err := warmUp(ctx, a, b); err != nil {
		return "", err
	}
	if r.m.pid != 0 {
		logf("measuring gantry's idle CPU for %s", idleWindow)
		if err := r.m.measureIdle(ctx); err != nil {
			return "", err
		}
		logf("  %.0f ms of CPU per second", r.m.idle*1000)
	}
	r.load = benchutil.LoadAverage()

	// Pass 1 runs a then b, pass 2 b then a, and so on.
	order := func(pass int) []*target {
		if pass%2 == 0 {
			return []*target{a, b}
		}
		return []*target{b, a}
	}
	layer := o.bigMiB * mib / o.bigLayers
	for pass := range o.bigPasses {
		for _, t := range order(pass) {
			logf("(a) pass %d, %s: push and pull %d MiB in %d layers", pass+1, t.name, o.bigMiB, o.bigLayers)
			runtime.GC()
			res, err := big(ctx, t, fmt.Sprintf("big-%d", pass+1), o.bigLayers, layer)
			if err != nil {
				return "", fmt.Errorf("(a) on the %s registry: %w", t.name, err)
			}
			logf("  push %.2fs (%.0f MiB/s), pull %.2fs (%.0f MiB/s)", res.push.wall.Seconds(), mibps(res.bytes, res.push.wall),
				res.pull.wall.Seconds(), mibps(res.bytes, res.pull.wall))
			r.big = append(r.big, res)
		}
	}
	for pass := range o.smallPasses {
		for _, t := range order(pass) {
			logf("(b) pass %d, %s: push and pull %d images, %d at a time", pass+1, t.name, o.small, o.concurrency)
			runtime.GC()
			res, err := small(ctx, t, fmt.Sprintf("small%d", pass+1), o.small, o.streams, smallLayer, o.concurrency)
			if err != nil {
				return "", fmt.Errorf("(b) on the %s registry: %w", t.name, err)
			}
			logf("  push %.2fs (%.0f/s, p50 %s, p99 %s), pull %.2fs (%.0f/s, p50 %s, p99 %s)",
				res.push.wall.Seconds(), perSecond(res.n, res.push.wall), ms(res.pushP50), ms(res.pushP99),
				res.pull.wall.Seconds(), perSecond(res.n, res.pull.wall), ms(res.pullP50), ms(res.pullP99))
			r.small = append(r.small, res)
		}
	}
	r.after = benchutil.LoadAverage()
	return r.render(), nil
}

// warmUp makes every path warm on both registries (connections, storage directories, the integrated
// registry's token and authorization caches) with a few small images and a small big one. The
// integrated registry's first push waits, bounded, for the project's role bindings to take effect.
func warmUp(ctx context.Context, ts ...*target) error {
	for _, t := range ts {
		logf("warming up the %s registry", t.name)
		err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
			_, err := small(ctx, t, "warmup-first", 1, 1, smallLayer, 1)
			return err
		})
		if err != nil {
			return fmt.Errorf("warm-up push to the %s registry: %w", t.name, err)
		}
		if _, err := small(ctx, t, "warmup", 50, 5, smallLayer, 8); err != nil {
			return fmt.Errorf("warm-up of the %s registry: %w", t.name, err)
		}
		if _, err := big(ctx, t, "warmup-big", 2, 4*mib); err != nil {
			return fmt.Errorf("warm-up of the %s registry: %w", t.name, err)
		}
	}
	return nil
}

func mibps(bytes int64, d time.Duration) float64 { return float64(bytes) / mib / d.Seconds() }

func perSecond(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", f)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", f)
	default:
		return fmt.Sprintf("%.2f ms", f)
	}
}

// msf prints a duration in milliseconds with one decimal, signed when signed is set.
func msf(d time.Duration, signed bool) string {
	if signed {
		return fmt.Sprintf("%+.1f", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

// meanOf averages get over the runs on the registry named reg.
func meanOf[T any](runs []T, name func(T) string, reg string, get func(T) time.Duration) time.Duration {
	var sum time.Duration
	n := 0
	for _, r := range runs {
		if name(r) == reg {
			sum += get(r)
			n++
		}
	}
	return sum / time.Duration(max(n, 1))
}

func bigName(x bigResult) string     { return x.target }
func smallName(x smallResult) string { return x.target }

func (r report) render() string {
	o := r.o
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Registry throughput: Gantry's integrated registry vs a plain distribution registry, one run, %s, %s (%s, %d cores, %s RAM), gantry %s\n\n",
		time.Now().Format("2006-01-02 15:04"), host, benchutil.CPUModel(), benchutil.NumCPU(), benchutil.MemTotal(), r.version)
	fmt.Fprintf(&b, "Client (go-containerregistry) on the same machine, plain HTTP on loopback, one push or pull per image (each with its own ping, as separate `docker push`es would), no retries. "+
		"Plain: distribution's registry in the benchmark's process, Gantry's storage configuration (filesystem, in-memory blob descriptor cache), no authentication. "+
		"Integrated: `gantry start`'s registry on 127.0.0.1:5000, as a project admin with an OAuth token (Basic), recording every push in its image stream. "+
		"Both store on the same file system. Images: OCI manifests of uncompressed tar layers (application/vnd.oci.image.layer.v1.tar) of random bytes, so nothing is compressed or decompressed. "+
		"(a) one image of %d layers of %d MiB (%d MiB), pushed (layers 4 at a time, go-containerregistry's default) and pulled back (layers 4 at a time, read to the end, digests checked); "+
		"(b) %d images of one %d-byte layer each, tags t0..t%d over %d streams, %d pushes at a time, then %d pulls at a time (manifest by tag, configuration, layer). "+
		"Workloads ran in passes, odd ones on %s then %s, even ones in the reverse order, (a) in %d passes and (b) in %d; figures are the means over the passes. "+
		"Ratio = %s as a fraction of %s's speed (throughput %s / %s, latency %s / %s), so 1 is the same and below 1 slower; target >= %.1f for throughput. "+
		"Load average before the workloads: %s; after: %s.\n\n",
		o.bigLayers, o.bigMiB/o.bigLayers, o.bigMiB, o.small, smallLayer, o.small-1, o.streams, o.concurrency, o.concurrency,
		r.a, r.b, o.bigPasses, o.smallPasses, r.b, r.a, r.b, r.a, r.a, r.b, goal, r.load, r.after)

	fmt.Fprintf(&b, "| workload | %s | %s | %s / %s |\n|---|---|---|---|\n", r.a, r.b, r.b, r.a)
	mark := func(ratio float64) string {
		if ratio < goal {
			return fmt.Sprintf(" **under %.1f**", goal)
		}
		return ""
	}
	bytes := int64(o.bigMiB) * mib
	for _, op := range []struct {
		what string
		get  func(bigResult) time.Duration
	}{
		{fmt.Sprintf("(a) push %d MiB image", o.bigMiB), func(x bigResult) time.Duration { return x.push.wall }},
		{fmt.Sprintf("(a) pull %d MiB image", o.bigMiB), func(x bigResult) time.Duration { return x.pull.wall }},
	} {
		ta, tb := meanOf(r.big, bigName, r.a, op.get), meanOf(r.big, bigName, r.b, op.get)
		ratio := ta.Seconds() / tb.Seconds()
		fmt.Fprintf(&b, "| %s, MiB/s | %.0f | %.0f | %.2f%s |\n", op.what, mibps(bytes, ta), mibps(bytes, tb), ratio, mark(ratio))
	}
	for _, op := range []struct {
		what            string
		total, p50, p99 func(smallResult) time.Duration
	}{
		{fmt.Sprintf("(b) push %d images", o.small), func(x smallResult) time.Duration { return x.push.wall },
			func(x smallResult) time.Duration { return x.pushP50 }, func(x smallResult) time.Duration { return x.pushP99 }},
		{fmt.Sprintf("(b) pull %d images", o.small), func(x smallResult) time.Duration { return x.pull.wall },
			func(x smallResult) time.Duration { return x.pullP50 }, func(x smallResult) time.Duration { return x.pullP99 }},
	} {
		ta, tb := meanOf(r.small, smallName, r.a, op.total), meanOf(r.small, smallName, r.b, op.total)
		ratio := ta.Seconds() / tb.Seconds()
		fmt.Fprintf(&b, "| %s, images/s | %.0f | %.0f | %.2f%s |\n", op.what, perSecond(o.small, ta), perSecond(o.small, tb), ratio, mark(ratio))
		ta, tb = meanOf(r.small, smallName, r.a, op.p50), meanOf(r.small, smallName, r.b, op.p50)
		fmt.Fprintf(&b, "| %s, p50 per image | %s | %s | %.2f |\n", op.what, ms(ta), ms(tb), ta.Seconds()/tb.Seconds())
		ta, tb = meanOf(r.small, smallName, r.a, op.p99), meanOf(r.small, smallName, r.b, op.p99)
		fmt.Fprintf(&b, "| %s, p99 per image | %s | %s | %.2f |\n", op.what, ms(ta), ms(tb), ta.Seconds()/tb.Seconds())
	}

	r.runs(&b)
	r.requests(&b)
	if !o.aa {
		r.notes(&b)
	}
	return b.String()
}

// runs prints every run in the order they ran.
func (r report) runs(b *strings.Builder) {
	b.WriteString("\nEvery run, in the order they ran. CPU per image: this process (the client, and the plain registry in its runs), gantry's process tree " +
		"(less its idle rate; the integrated registry and the API servers and etcd it calls) and the share of the machine other processes used.\n\n")
	b.WriteString("| workload | registry | push | pull | push p50 / p99 | pull p50 / p99 | requests per image, push / pull | CPU ms per image, push: this process / gantry | pull: this process / gantry | others, push / pull |\n" +
		"|---|---|---|---|---|---|---|---|---|---|\n")
	cpu := func(p phase, n int) string {
		return msf(p.self/time.Duration(n), false) + " / " + msf(p.gantry/time.Duration(n), false)
	}
	for _, x := range r.big {
		fmt.Fprintf(b, "| (a) | %s | %.2f s, %.0f MiB/s | %.2f s, %.0f MiB/s | | | %d / %d | %s | %s | %.0f%% / %.0f%% |\n",
			x.target, x.push.wall.Seconds(), mibps(x.bytes, x.push.wall), x.pull.wall.Seconds(), mibps(x.bytes, x.pull.wall),
			x.push.count(), x.pull.count(), cpu(x.push, 1), cpu(x.pull, 1), 100*x.push.others, 100*x.pull.others)
	}
	for _, x := range r.small {
		fmt.Fprintf(b, "| (b) | %s | %.2f s, %.0f/s | %.2f s, %.0f/s | %s / %s | %s / %s | %.1f / %.1f | %s | %s | %.0f%% / %.0f%% |\n",
			x.target, x.push.wall.Seconds(), perSecond(x.n, x.push.wall), x.pull.wall.Seconds(), perSecond(x.n, x.pull.wall),
			ms(x.pushP50), ms(x.pushP99), ms(x.pullP50), ms(x.pullP99),
			float64(x.push.count())/float64(x.n), float64(x.pull.count())/float64(x.n),
			cpu(x.push, x.n), cpu(x.pull, x.n), 100*x.push.others, 100*x.pull.others)
	}
}

// sumRequests adds up the requests of one phase over the runs on registry reg.
func sumRequests(runs []smallResult, reg string, get func(smallResult) phase) (map[string]reqStat, int) {
	out := map[string]reqStat{}
	images := 0
	for _, x := range runs {
		if x.target != reg {
			continue
		}
		images += x.n
		for k, st := range get(x).requests {
			t := out[k]
			t.n += st.n
			t.total += st.total
			out[k] = t
		}
	}
	return out, images
}

// requests prints, for (b), each kind of request's mean time to the response header on both
// registries: where the integrated registry's extra time per image goes.
func (r report) requests(b *strings.Builder) {
	fmt.Fprintf(b, "\n(b) by request: mean time to the response header (client side, %d at a time), and what the difference adds up to per image\n\n", r.o.concurrency)
	fmt.Fprintf(b, "| request | per image | %s | %s | difference per image |\n|---|---|---|---|---|\n", r.a, r.b)
	for _, ph := range []struct {
		name string
		get  func(smallResult) phase
	}{{"push", func(x smallResult) phase { return x.push }}, {"pull", func(x smallResult) phase { return x.pull }}} {
		sa, na := sumRequests(r.small, r.a, ph.get)
		sb, nb := sumRequests(r.small, r.b, ph.get)
		all := append([]string{}, kinds...)
		for k := range sa {
			if !slices.Contains(all, k) {
				all = append(all, k)
			}
		}
		var total time.Duration
		for _, k := range all {
			ka, kb := sa[k], sb[k]
			if ka.n == 0 && kb.n == 0 {
				continue
			}
			mean := func(st reqStat) time.Duration { return st.total / time.Duration(max(st.n, 1)) }
			perImage := float64(kb.n) / float64(max(nb, 1))
			diff := time.Duration(float64(mean(kb)-mean(ka)) * perImage)
			total += diff
			fmt.Fprintf(b, "| %s: %s | %.1f | %s | %s | %s ms |\n", ph.name, k, float64(ka.n)/float64(max(na, 1)), ms(mean(ka)), ms(mean(kb)), msf(diff, true))
		}
		fmt.Fprintf(b, "| **%s, all requests** | | | | **%s ms** |\n", ph.name, msf(total, true))
	}
}

// notes says what the integrated registry does beyond the plain one (facts of the code) and what
// it cost in this run.
func (r report) notes(b *strings.Builder) {
	perImage := func(get func(smallResult) time.Duration) time.Duration {
		return meanOf(r.small, smallName, r.b, get) / time.Duration(r.o.small)
	}
	gPush := perImage(func(x smallResult) time.Duration { return x.push.gantry })
	gPull := perImage(func(x smallResult) time.Duration { return x.pull.gantry })
	cPush := perImage(func(x smallResult) time.Duration { return x.push.self })
	pushB := meanOf(r.small, smallName, r.b, func(x smallResult) time.Duration { return x.push.wall })
	cores := float64(benchutil.NumCPU())
	b.WriteString("\nNotes\n\n")
	b.WriteString("- Both registries get the same requests from the client (the requests column). On top of the plain registry's work, the integrated one authenticates every request " +
		"(a TokenReview, cached 10 s per token) and authorizes it (a SubjectAccessReview on imagestreams/layers, cached 10 s per user, project, stream and verb); " +
		"a manifest push also reads the image stream (creating it on the first push), reads the image configuration back from storage, creates an ImageStreamMapping " +
		"(the aggregated API server writes the Image and the stream's new tag to etcd) and an Event; a pull by tag reads the image stream to resolve the tag.\n")
	fmt.Fprintf(b, "- (b) on the integrated registry: gantry spent %s ms of CPU per pushed image and %s ms per pulled one; the client in this process %s ms per push. "+
		"At %.0f pushes/s that is %.0f%% of the machine's %d cores for gantry and %.0f%% for the client.\n",
		msf(gPush, false), msf(gPull, false), msf(cPush, false), perSecond(r.o.small, pushB),
		100*gPush.Seconds()*perSecond(r.o.small, pushB)/cores, benchutil.NumCPU(), 100*cPush.Seconds()*perSecond(r.o.small, pushB)/cores)
	b.WriteString("- The plain registry shares this process with the client; the integrated one shares `gantry start`'s process with etcd, the API servers and the controllers, " +
		"on the same cores. Figures move with other load on the machine (the others column); `-aa` compares two plain registries to show the method's own noise.\n")
}
