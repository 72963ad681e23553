// Command api measures create and list of OpenShift resources served by Gantry's aggregated API server
// (routes, imagestreams; reached through kube-apiserver's aggregator) beside the same operations on a
// built-in resource (ConfigMaps, served by kube-apiserver itself), in one run on one cluster, and
// prints the ratio ours / built-in. It needs root and a free machine: it takes the machine lock of the
// tests, starts one `gantry start` in a temporary data directory and stops it by PID at the end.
//
// For every count N and resource (each in its own namespace): N creates by a bounded worker pool
// (total time, objects/s, p50/p99 per create), a full unpaginated List and a List paginated with
// limit=500 (median of -list-runs runs each), then a DeleteCollection and the namespace's deletion.
//
//	go run ./bench/api -gantry bin/gantry -n 1000,10000 -concurrency 16
//	go run ./bench/api -quick    # 200 objects, a smoke run
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	routev1 "github.com/openshift/api/route/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
	"github.com/gantry-dev/gantry/test/harness"
)

const pageSize = 500

// benchLabel marks the objects of the benchmark: every namespace also has a kube-root-ca.crt ConfigMap,
// which lists return but which is not counted.
const benchLabel = "gantry.dev/bench"

func ours(labels map[string]string) bool { return labels[benchLabel] == "bench" }

// ourItems counts the benchmark's objects in a page of a list.
func ourItems[T any, PT interface {
	*T
	metav1.Object
}](items []T, cont string) listed {
	out := listed{cont: cont}
	for i := range items {
		if ours(PT(&items[i]).GetLabels()) {
			out.items++
			out.first = &items[i]
		}
	}
	return out
}

type options struct {
	order       []string
	counts      []int
	concurrency int
	listRuns    int
	contentType string
	limit       time.Duration
}

func main() {
	bin := flag.String("gantry", "", "gantry binary (default $GANTRY_BIN, else bin/gantry)")
	n := flag.String("n", "1000,10000", "object counts, comma-separated")
	concurrency := flag.Int("concurrency", 16, "concurrent creates")
	quick := flag.Bool("quick", false, "smoke run: 200 objects only")
	listRuns := flag.Int("list-runs", 5, "runs of each list (the median is reported)")
	proto := flag.Bool("protobuf", false, "talk protobuf instead of JSON (to every resource)")
	limit := flag.Duration("timeout", 15*time.Minute, "abort the workloads after this long (cluster start not included)")
	order := flag.String("resources", "configmaps,routes,imagestreams", "resources to run, in this order (configmaps is the reference and must be one)")
	out := flag.String("out", "bench/results/api.md", "where to write the table (empty: nowhere)")
	flag.Parse()

	o := options{order: strings.Split(*order, ","), concurrency: *concurrency, listRuns: *listRuns, limit: *limit, contentType: "application/json"}
	if *proto {
		o.contentType = "application/vnd.kubernetes.protobuf"
	}
	spec := *n
	if *quick {
		spec = "200"
	}
	for _, s := range strings.Split(spec, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v <= 0 {
			fail(fmt.Errorf("-n: bad count %q", s))
		}
		o.counts = append(o.counts, v)
	}
	if o.concurrency < 1 || o.listRuns < 1 {
		fail(errors.New("-concurrency and -list-runs must be at least 1"))
	}
	abs, err := benchutil.Gantry(*bin)
	if err != nil {
		fail(err)
	}

	table, err := run(abs, o)
	if err != nil {
		fail(err)
	}
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "api:", err)
	os.Exit(1)
}

// run takes the machine lock, starts the cluster, runs every workload and stops the cluster (also on
// error or on SIGINT/SIGTERM, which cancel the workloads).
func run(bin string, o options) (string, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	version := benchutil.Version(bin)

	c, stopCluster, err := harness.StartLocked(ctx, "gantry-bench-api-", benchutil.Logf)
	if err != nil {
		return "", err
	}
	defer stopCluster()

	ctx, cancel := context.WithTimeout(ctx, o.limit)
	defer cancel()
	res, err := newResources(c.Config, o.contentType)
	if err != nil {
		return "", err
	}
	if res, err = pick(res, o.order); err != nil {
		return "", err
	}
	// gantry start is ready once the aggregated server is; make sure the aggregator routes to it.
	err = harness.Eventually(ctx, 2*time.Minute, func(ctx context.Context) error {
		for _, r := range res {
			if _, err := r.list(ctx, "default", metav1.ListOptions{Limit: 1}); err != nil {
				return fmt.Errorf("list %s: %w", r.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}

	// Warm up every path (clients, connections, caches, authorization) before measuring.
	for _, r := range res {
		if _, err := workload(ctx, c.Client, r, 50, options{concurrency: o.concurrency, listRuns: 1}); err != nil {
			return "", fmt.Errorf("warm-up of %s: %w", r.name, err)
		}
	}

	// Each count runs the resources in order, then in reverse, and reports
	// each resource's mean: what runs later meets a bigger etcd (the history
	// of everything before), which alone moved ratios by 0.3x.
	var results []result
	for _, n := range o.counts {
		runs := map[string][]result{}
		for _, order := range [][]*resource{res, reversed(res)} {
			for _, r := range order {
				benchutil.Logf("%s x %d", r.name, n)
				rr, err := workload(ctx, c.Client, r, n, o)
				if err != nil {
					return "", fmt.Errorf("%s x %d: %w", r.name, n, err)
				}
				benchutil.Logf("%s x %d: create %.1fs (%.0f/s, p50 %s, p99 %s), list %s, paginated %s, %d B/object",
					r.name, n, rr.createTotal.Seconds(), rr.rate(), ms(rr.p50), ms(rr.p99), ms(rr.list), ms(rr.listPaged), rr.objBytes)
				runs[r.name] = append(runs[r.name], rr)
			}
		}
		for _, r := range res {
			results = append(results, mean(runs[r.name]))
		}
	}
	return render(results, o, version), nil
}

func reversed(res []*resource) []*resource {
	out := slices.Clone(res)
	slices.Reverse(out)
	return out
}

// mean averages the times of runs of one resource and count.
func mean(runs []result) result {
	m := runs[0]
	avg := func(get func(result) time.Duration) time.Duration {
		var sum time.Duration
		for _, r := range runs {
			sum += get(r)
		}
		return sum / time.Duration(len(runs))
	}
	m.createTotal = avg(func(r result) time.Duration { return r.createTotal })
	m.p50 = avg(func(r result) time.Duration { return r.p50 })
	m.p99 = avg(func(r result) time.Duration { return r.p99 })
	m.list = avg(func(r result) time.Duration { return r.list })
	m.listPaged = avg(func(r result) time.Duration { return r.listPaged })
	m.deleteAll = avg(func(r result) time.Duration { return r.deleteAll })
	return m
}

// resource is one benchmarked resource behind its typed client.
type resource struct {
	name    string
	builtin bool
	create  func(ctx context.Context, ns string, i int) error
	// list returns the count of the benchmark's items, the continue token and one item (to size it).
	list      func(ctx context.Context, ns string, opts metav1.ListOptions) (listed, error)
	deleteAll func(ctx context.Context, ns string) error
}

type listed struct {
	items int
	cont  string
	first any
}

func newResources(base *rest.Config, contentType string) ([]*resource, error) {
	cfg := rest.CopyConfig(base)
	cfg.QPS, cfg.Burst = 5000, 10000
	cfg.ContentType = contentType
	cfg.AcceptContentTypes = contentType
	if contentType != "application/json" {
		cfg.AcceptContentTypes = contentType + ",application/json"
	}
	cfg.Timeout = 5 * time.Minute
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	routes, err := routeclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	images, err := imageclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	name := func(i int) string { return fmt.Sprintf("obj-%05d", i) }
	labels := func(i int) map[string]string {
		return map[string]string{benchLabel: "bench", "shard": strconv.Itoa(i % 10)}
	}
	all := metav1.DeleteOptions{}
	configMaps := &resource{
		name:    "configmaps",
		builtin: true,
		create: func(ctx context.Context, ns string, i int) error {
			_, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name(i), Labels: labels(i)},
				Data: map[string]string{
					"host":    name(i) + ".apps.bench.example.com",
					"path":    "/api/v1",
					"service": "backend-" + strconv.Itoa(i%10) + ":8080",
				},
			}, metav1.CreateOptions{})
			return err
		},
		list: func(ctx context.Context, ns string, opts metav1.ListOptions) (listed, error) {
			l, err := kube.CoreV1().ConfigMaps(ns).List(ctx, opts)
			if err != nil {
				return listed{}, err
			}
			return ourItems(l.Items, l.Continue), nil
		},
		deleteAll: func(ctx context.Context, ns string) error {
			return kube.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, all, metav1.ListOptions{LabelSelector: benchLabel + "=bench"})
		},
	}
	weight := int32(100)
	routeRes := &resource{
		name: "routes",
		create: func(ctx context.Context, ns string, i int) error {
			_, err := routes.RouteV1().Routes(ns).Create(ctx, &routev1.Route{
				ObjectMeta: metav1.ObjectMeta{Name: name(i), Labels: labels(i)},
				Spec: routev1.RouteSpec{
					Host: name(i) + ".apps.bench.example.com",
					Path: "/api/v1",
					To:   routev1.RouteTargetReference{Kind: "Service", Name: "backend-" + strconv.Itoa(i%10), Weight: &weight},
					Port: &routev1.RoutePort{TargetPort: intstr.FromInt32(8080)},
				},
			}, metav1.CreateOptions{})
			return err
		},
		list: func(ctx context.Context, ns string, opts metav1.ListOptions) (listed, error) {
			l, err := routes.RouteV1().Routes(ns).List(ctx, opts)
			if err != nil {
				return listed{}, err
			}
			return ourItems(l.Items, l.Continue), nil
		},
		deleteAll: func(ctx context.Context, ns string) error {
			return routes.RouteV1().Routes(ns).DeleteCollection(ctx, all, metav1.ListOptions{LabelSelector: benchLabel + "=bench"})
		},
	}
	streams := &resource{
		name: "imagestreams",
		create: func(ctx context.Context, ns string, i int) error {
			tag := func(t, version string) imagev1.TagReference {
				return imagev1.TagReference{Name: t, From: &corev1.ObjectReference{Kind: "DockerImage", Name: "registry.bench.example.com/team/" + name(i) + ":" + version}}
			}
			_, err := images.ImageV1().ImageStreams(ns).Create(ctx, &imagev1.ImageStream{
				ObjectMeta: metav1.ObjectMeta{Name: name(i), Labels: labels(i)},
				Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{tag("latest", "1.1"), tag("stable", "1.0")}},
			}, metav1.CreateOptions{})
			return err
		},
		list: func(ctx context.Context, ns string, opts metav1.ListOptions) (listed, error) {
			l, err := images.ImageV1().ImageStreams(ns).List(ctx, opts)
			if err != nil {
				return listed{}, err
			}
			return ourItems(l.Items, l.Continue), nil
		},
		deleteAll: func(ctx context.Context, ns string) error {
			return images.ImageV1().ImageStreams(ns).DeleteCollection(ctx, all, metav1.ListOptions{LabelSelector: benchLabel + "=bench"})
		},
	}
	return []*resource{configMaps, routeRes, streams}, nil
}

// pick returns the resources named in order.
func pick(all []*resource, order []string) ([]*resource, error) {
	var out []*resource
	for _, name := range order {
		i := slices.IndexFunc(all, func(r *resource) bool { return r.name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("-resources: unknown resource %q", name)
		}
		out = append(out, all[i])
	}
	if !slices.ContainsFunc(out, func(r *resource) bool { return r.builtin }) {
		return nil, errors.New("-resources: configmaps (the reference) is missing")
	}
	return out, nil
}

type result struct {
	resource    string
	builtin     bool
	n           int
	createTotal time.Duration
	p50, p99    time.Duration
	list        time.Duration
	listPaged   time.Duration
	deleteAll   time.Duration
	objBytes    int
}

func (r result) rate() float64 { return float64(r.n) / r.createTotal.Seconds() }

// workload creates n objects of r in a fresh namespace, lists them and deletes them.
func workload(ctx context.Context, kube kubernetes.Interface, r *resource, n int, o options) (result, error) {
	res := result{resource: r.name, builtin: r.builtin, n: n}
	ns := fmt.Sprintf("bench-%s-%d", r.name, n)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return res, err
	}
	defer func() {
		// Delete the namespace even when the workload failed, and wait for it to be gone so the
		// next workload starts on a quiet server (bounded: a stuck namespace is reported, not fatal).
		// After an interrupt or the time limit the cluster is about to be thrown away: skip it.
		if ctx.Err() != nil {
			return
		}
		dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := kube.CoreV1().Namespaces().Delete(dctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			benchutil.Logf("delete namespace %s: %v", ns, err)
			return
		}
		err := harness.Eventually(dctx, 3*time.Minute, func(ctx context.Context) error {
			_, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("namespace %s still there (%v)", ns, err)
		})
		if err != nil {
			benchutil.Logf("%v", err)
		}
	}()

	// Creates: a bounded pool of workers takes indices from a channel.
	lat := make([]time.Duration, n)
	next := make(chan int)
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				err := r.create(cctx, ns, i)
				lat[i] = time.Since(t)
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-cctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	res.createTotal = time.Since(start)
	if firstErr != nil {
		return res, fmt.Errorf("%d creates failed, first: %w", failed.Load(), firstErr)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	slices.Sort(lat)
	res.p50, res.p99 = benchutil.Percentile(lat, 0.50), benchutil.Percentile(lat, 0.99)

	// Lists: unpaginated, then paginated; every run must see all n objects.
	var err error
	res.list, err = median(o.listRuns, func() error {
		l, err := r.list(ctx, ns, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if l.items != n {
			return fmt.Errorf("list returned %d items, want %d", l.items, n)
		}
		if l.first != nil && res.objBytes == 0 {
			b, _ := json.Marshal(l.first)
			res.objBytes = len(b)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.listPaged, err = median(o.listRuns, func() error {
		total, cont := 0, ""
		for pages := 0; ; pages++ {
			if pages > n/pageSize+2 {
				return fmt.Errorf("more pages than %d objects need", n)
			}
			l, err := r.list(ctx, ns, metav1.ListOptions{Limit: pageSize, Continue: cont})
			if err != nil {
				return err
			}
			total += l.items
			if cont = l.cont; cont == "" {
				break
			}
		}
		if total != n {
			return fmt.Errorf("paginated list returned %d items, want %d", total, n)
		}
		return nil
	})
	if err != nil {
		return res, err
	}

	t := time.Now()
	if err := r.deleteAll(ctx, ns); err != nil {
		return res, fmt.Errorf("delete collection: %w", err)
	}
	res.deleteAll = time.Since(t)
	return res, nil
}

func median(runs int, f func() error) (time.Duration, error) {
	d := make([]time.Duration, runs)
	for i := range d {
		t := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		d[i] = time.Since(t)
	}
	slices.Sort(d)
	return d[len(d)/2], nil
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

// render prints one table per count: a row per operation, a column per resource and the ratios
// ours / built-in (for objects/s, built-in / ours, so that above 1 always means slower).
func render(results []result, o options, version string) string {
	var b strings.Builder
	host, _ := os.Hostname()
	format := "JSON"
	if o.contentType != "application/json" {
		format = "protobuf"
	}
	fmt.Fprintf(&b, "API create/list through the aggregated server (routes, imagestreams) vs kube-apiserver (configmaps), one cluster, %s, %s (%s, %d cores, %s RAM), gantry %s\n\n",
		time.Now().Format("2006-01-02"), host, benchutil.CPUModel(), benchutil.NumCPU(), benchutil.MemTotal(), version)
	fmt.Fprintf(&b, "Client on the same machine, %s, QPS 5000/burst 10000, %d concurrent creates; lists are the median of %d runs, paginated with limit=%d. Each count runs the resources in order and then in reverse; times are the mean of the two. "+
		"Ratio = ours / built-in (for objects/s: built-in / ours), so above 1 is slower; target <= 1.5.\n",
		format, o.concurrency, o.listRuns, pageSize)
	byKey := map[string]result{}
	var names []string
	for _, r := range results {
		byKey[fmt.Sprintf("%s/%d", r.resource, r.n)] = r
		if !slices.Contains(names, r.resource) {
			names = append(names, r.resource)
		}
	}
	for _, n := range o.counts {
		base, ok := byKey[fmt.Sprintf("configmaps/%d", n)]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "\n%d objects per resource\n\n| operation |", n)
		var ours []result
		for _, name := range names {
			r := byKey[fmt.Sprintf("%s/%d", name, n)]
			fmt.Fprintf(&b, " %s |", name)
			if !r.builtin {
				ours = append(ours, r)
			}
		}
		for _, r := range ours {
			fmt.Fprintf(&b, " %s / configmaps |", r.resource)
		}
		b.WriteString("\n|---|")
		for range len(names) + len(ours) {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		row := func(op string, cell func(result) string, cost func(result) float64, target bool) {
			fmt.Fprintf(&b, "| %s |", op)
			for _, name := range names {
				fmt.Fprintf(&b, " %s |", cell(byKey[fmt.Sprintf("%s/%d", name, n)]))
			}
			for _, r := range ours {
				ratio := cost(r) / cost(base)
				mark := ""
				if target && ratio > 1.5 {
					mark = " **over**"
				}
				fmt.Fprintf(&b, " %.2fx%s |", ratio, mark)
			}
			b.WriteString("\n")
		}
		dur := func(get func(result) time.Duration) (func(result) string, func(result) float64) {
			return func(r result) string { return ms(get(r)) }, func(r result) float64 { return float64(get(r)) }
		}
		c, v := dur(func(r result) time.Duration { return r.createTotal })
		row("create all, total", c, v, true)
		row("create, objects/s", func(r result) string { return fmt.Sprintf("%.0f", r.rate()) }, func(r result) float64 { return 1 / r.rate() }, true)
		c, v = dur(func(r result) time.Duration { return r.p50 })
		row("create, p50", c, v, true)
		c, v = dur(func(r result) time.Duration { return r.p99 })
		row("create, p99", c, v, true)
		c, v = dur(func(r result) time.Duration { return r.list })
		row("list all (one call)", c, v, true)
		c, v = dur(func(r result) time.Duration { return r.listPaged })
		row(fmt.Sprintf("list all (limit=%d)", pageSize), c, v, true)
		c, v = dur(func(r result) time.Duration { return r.deleteAll })
		row("deletecollection", c, v, true)
		row("object size (JSON bytes)", func(r result) string { return strconv.Itoa(r.objBytes) }, func(r result) float64 { return float64(r.objBytes) }, false)
	}
	return b.String()
}
