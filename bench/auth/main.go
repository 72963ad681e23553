// Command auth measures what authentication costs on Gantry, in one run on one cluster: the same API
// requests made with three kinds of credential, and `oc login`-style logins.
//
// API requests (GET /apis/user.openshift.io/v1/users/~, served by the aggregated server behind
// kube-apiserver, and GET /api/v1/namespaces/default/configmaps?limit=1, served by kube-apiserver
// itself), -n requests per cell, once by one client and once spread over -concurrency clients (each
// with its own connection), with:
//
//   - the admin client certificate: Kubernetes' own x509 authentication, the reference;
//   - a service-account token from the TokenRequest API: Kubernetes' in-process JWT authentication;
//   - an OAuth token from Gantry's OAuth server, which kube-apiserver checks through Gantry's
//     token-review webhook (answers cached for 10 s).
//
// Kube-apiserver caches every successful token authentication for 10 s, so a token used over and over
// costs a cache lookup whatever its kind. The uncached cost is measured with -fresh tokens per cell, one
// request each, timing only the request (OAuth tokens from logins, service-account tokens from
// TokenRequests): first never used, then, in a second pass, the same tokens once every cache has
// dropped them.
//
// Logins: -logins full logins as oc does them (challenge, Basic auth against the htpasswd provider,
// code exchange with PKCE), one at a time and -login-concurrency at a time; beside them, one bcrypt
// check at the default cost in this process, the biggest part of a login's CPU time.
//
// Every cell also reports the CPU time gantry's process tree spent per operation (less its idle rate)
// and how busy the rest of the machine was, since wall-clock figures move with other load.
//
// The cached cells run in the order certificate, SA token, OAuth token and then in reverse, and report
// the mean of the two. It needs root and a free machine: it takes the machine lock of the tests, starts
// one `gantry start` in a temporary data directory and stops it by PID at the end.
//
//	go run ./bench/auth -gantry bin/gantry
//	go run ./bench/auth -quick    # 200 requests per cell, 20 logins: a smoke run
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
	"github.com/gantry-dev/gantry/internal/oauth/idp"
	"github.com/gantry-dev/gantry/internal/server"
	"github.com/gantry-dev/gantry/test/harness"
)

// The benchmark's service account and user; both may read ConfigMaps in the default namespace.
const (
	benchNamespace = "default"
	benchSA        = "bench-auth"
	benchUser      = "bench-auth-user"
)

// endpoint is one of the measured requests.
type endpoint struct {
	name string // for the table
	path string
}

var endpoints = []endpoint{
	{"GET users/~ (aggregated server)", "/apis/user.openshift.io/v1/users/~"},
	{"GET configmaps?limit=1 (kube-apiserver)", "/api/v1/namespaces/" + benchNamespace + "/configmaps?limit=1"},
}

// Credential kinds, in the forward order of the cached cells.
const (
	credCert = iota
	credSA
	credOAuth
	numCreds
)

var credNames = [numCreds]string{
	credCert:  "admin client certificate (x509)",
	credSA:    "service-account token (JWT)",
	credOAuth: "OAuth token (webhook)",
}

type options struct {
	requests         int
	concurrency      int
	logins           int
	loginConcurrency int
	fresh            int
	cellLimit        time.Duration
	limit            time.Duration
}

func main() {
	bin := flag.String("gantry", "", "gantry binary (default $GANTRY_BIN, else bin/gantry)")
	n := flag.Int("n", 2000, "requests per cell (per credential, request and client count)")
	concurrency := flag.Int("concurrency", 8, "concurrent clients of the concurrent cells")
	logins := flag.Int("logins", 100, "logins per login cell")
	loginConcurrency := flag.Int("login-concurrency", 4, "concurrent logins of the concurrent login cell")
	fresh := flag.Int("fresh", 200, "fresh tokens per credential kind and request (uncached cost)")
	cellLimit := flag.Duration("cell-timeout", 20*time.Second, "stop a cell after this long and report the requests done")
	limit := flag.Duration("timeout", 4*time.Minute, "abort the workloads after this long (cluster start not included)")
	quick := flag.Bool("quick", false, "smoke run: 200 requests per cell, 20 logins, 20 fresh tokens")
	out := flag.String("out", "bench/results/auth.md", "where to write the table (empty: nowhere)")
	flag.Parse()

	o := options{requests: *n, concurrency: *concurrency, logins: *logins, loginConcurrency: *loginConcurrency,
		fresh: *fresh, cellLimit: *cellLimit, limit: *limit}
	if *quick {
		o.requests, o.logins, o.fresh = 200, 20, 20
	}
	if o.requests < 1 || o.concurrency < 1 || o.logins < 1 || o.loginConcurrency < 1 || o.fresh < 1 {
		fail(errors.New("-n, -concurrency, -logins, -login-concurrency and -fresh must be at least 1"))
	}
	abs, err := benchutil.Gantry(*bin)
	if err != nil {
		fail(err)
	}

	start := time.Now()
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
	benchutil.Logf("done in %.0fs", time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "auth:", err)
	os.Exit(1)
}

// run takes the machine lock, starts the cluster, measures and stops the cluster (also on error or on
// SIGINT/SIGTERM, which cancel the workloads).
func run(bin string, o options) (string, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	version := benchutil.Version(bin)

	// In-process first, on a quiet machine: it needs no cluster.
	benchutil.Logf("timing bcrypt at the default cost (%d)", bcrypt.DefaultCost)
	bc, err := bcryptCheck(10)
	if err != nil {
		return "", err
	}

	c, stopCluster, err := harness.StartLocked(ctx, "gantry-bench-auth-", benchutil.Logf)
	if err != nil {
		return "", err
	}
	defer stopCluster()

	ctx, cancel := context.WithTimeout(ctx, o.limit)
	defer cancel()
	b, err := setUp(ctx, c)
	if err != nil {
		return "", err
	}
	benchutil.Logf("measuring gantry's idle CPU for %s", idleWindow)
	if b.idle, err = idleCPU(ctx, c.Pid()); err != nil {
		return "", err
	}
	benchutil.Logf("  %.0f ms of CPU per second", b.idle*1000)
	r := report{o: o, version: version, bcrypt: bc, idle: b.idle, load: benchutil.LoadAverage()}
	r.hashCost, err = htpasswdCost(server.HTPasswdFile(c.DataDir), benchUser)
	if err != nil {
		return "", err
	}

	// Cached: every credential reused for every request of a cell.
	creds := []int{credCert, credSA, credOAuth}
	for pass, order := range [][]int{creds, reversed(creds)} {
		for ei, ep := range endpoints {
			for _, cred := range order {
				for mode, clients := range []int{1, o.concurrency} {
					benchutil.Logf("pass %d: %s, %s, %d client(s)", pass+1, ep.name, credNames[cred], clients)
					s, err := b.cell(ctx, cred, ep, clients, o)
					if err != nil {
						return "", fmt.Errorf("%s with the %s, %d client(s): %w", ep.name, credNames[cred], clients, err)
					}
					benchutil.Logf("  %d requests in %.1fs: %.0f req/s, p50 %s, p99 %s, gantry CPU %s/request, others %.0f%% of the machine%s",
						s.n, s.total.Seconds(), s.rate(), ms(s.p50), ms(s.p99), ms(s.cpuPerOp()), s.others*100, s.cappedNote())
					r.cached[ei][cred][mode] = append(r.cached[ei][cred][mode], s)
				}
			}
		}
	}

	// Logins, whose tokens are the fresh OAuth tokens of the first request.
	var tokens []string
	for mode, conc := range []int{1, o.loginConcurrency} {
		benchutil.Logf("%d logins, %d at a time", o.logins, conc)
		s, toks, err := b.logins(ctx, o.logins, conc, o.cellLimit*3)
		if err != nil {
			return "", fmt.Errorf("logins, %d at a time: %w", conc, err)
		}
		benchutil.Logf("  %d logins in %.1fs: %.1f/s, p50 %s, p99 %s, gantry CPU %s/login, others %.0f%% of the machine%s",
			s.n, s.total.Seconds(), s.rate(), ms(s.p50), ms(s.p99), ms(s.cpuPerOp()), s.others*100, s.cappedNote())
		r.login[mode] = s
		tokens = append(tokens, toks...)
	}

	// Uncached: one request per token never used before. All the tokens are made first, then the
	// cluster settles (the work a login leaves behind, the OAuth server's client rate limiter), then
	// the cells run, OAuth first for the first request and SA first for the second.
	need := o.fresh * len(endpoints)
	if len(tokens) < need {
		benchutil.Logf("logging in %d times for fresh OAuth tokens (not timed)", need-len(tokens))
		_, more, err := b.logins(ctx, need-len(tokens), o.loginConcurrency, o.cellLimit*3)
		if err != nil {
			return "", fmt.Errorf("logins for fresh tokens: %w", err)
		}
		tokens = append(tokens, more...)
	}
	if len(tokens) < need {
		return "", fmt.Errorf("only %d logins for fresh tokens within the time limit, want %d: raise -cell-timeout or lower -fresh", len(tokens), need)
	}
	benchutil.Logf("requesting %d service-account tokens (not timed)", need)
	saTokens, err := b.saTokens(ctx, need)
	if err != nil {
		return "", err
	}
	benchutil.Logf("letting the cluster settle for %s", settle)
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	// The cells: every endpoint with either kind, each with its own tokens. A second pass runs them in
	// reverse with the same tokens once kube-apiserver's token caches and the aggregated server's
	// authorization cache (10 s each) have dropped them: a miss everywhere, as on first use.
	type freshCell struct {
		ep, cred int
		tokens   []string
	}
	var cells []freshCell
	for ei := range endpoints {
		order := []int{credOAuth, credSA}
		if ei%2 == 1 {
			order = reversed(order)
		}
		for _, cred := range order {
			toks := &tokens
			if cred == credSA {
				toks = &saTokens
			}
			cells = append(cells, freshCell{ei, cred, (*toks)[:o.fresh]})
			*toks = (*toks)[o.fresh:]
		}
	}
	for pass, order := range [][]freshCell{cells, reversed(cells)} {
		if pass > 0 {
			benchutil.Logf("waiting %s for the caches to drop the tokens", cacheExpiry)
			select {
			case <-time.After(cacheExpiry):
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		for _, fc := range order {
			ep := endpoints[fc.ep]
			benchutil.Logf("pass %d: %s with %d fresh tokens: %s", pass+1, ep.name, len(fc.tokens), credNames[fc.cred])
			s, err := b.fresh(ctx, ep, fc.tokens, o.cellLimit)
			if err != nil {
				return "", fmt.Errorf("%s with fresh tokens (%s): %w", ep.name, credNames[fc.cred], err)
			}
			benchutil.Logf("  p50 %s, p99 %s, gantry CPU %s/request, others %.0f%% of the machine", ms(s.p50), ms(s.p99), ms(s.cpuPerOp()), s.others*100)
			r.fresh[fc.ep][fc.cred] = append(r.fresh[fc.ep][fc.cred], s)
		}
	}
	return r.render(), nil
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// bench is the cluster and the credentials of the benchmark.
type bench struct {
	c        *harness.Cluster
	kube     kubernetes.Interface
	host     string
	certTLS  *tls.Config // the admin's client certificate
	tokenTLS *tls.Config // the cluster CA only; the token goes in a header
	password string
	tokens   [numCreds]string // reused tokens (SA, OAuth)
	// idle is gantry's CPU time per second of wall-clock time when nothing is asked of it.
	idle float64
}

// meter marks the CPU counters at the start of a cell.
type meter struct {
	b     *bench
	wall  time.Time
	start benchutil.CPU
}

func (b *bench) meter() meter {
	return meter{b: b, wall: time.Now(), start: benchutil.ReadCPU(b.c.Pid())}
}

// stop fills in s's CPU fields for the time since the meter started.
func (m meter) stop(s sample) sample {
	end := benchutil.ReadCPU(m.b.c.Pid())
	wall := time.Since(m.wall)
	gantry := end.Gantry - m.start.Gantry
	s.cpu = max(0, gantry-time.Duration(m.b.idle*float64(wall)))
	others := (end.Busy - m.start.Busy) - gantry - (end.Self - m.start.Self)
	s.others = max(0, others.Seconds()/(wall.Seconds()*float64(benchutil.NumCPU())))
	return s
}

// setUp makes the service account and the user, lets both read ConfigMaps in the default namespace,
// gets their tokens and waits until every credential reaches both endpoints.
func setUp(ctx context.Context, c *harness.Cluster) (*bench, error) {
	b := &bench{c: c, host: c.Config.Host, password: idp.GeneratePassword()}
	// The harness client keeps client-go's default limit (5 requests/s): too slow for the TokenRequests.
	kc := rest.CopyConfig(c.Config)
	kc.QPS, kc.Burst = 1000, 2000
	var err error
	if b.kube, err = kubernetes.NewForConfig(kc); err != nil {
		return nil, err
	}
	if b.certTLS, err = rest.TLSConfigFor(c.Config); err != nil {
		return nil, err
	}
	if b.tokenTLS, err = rest.TLSConfigFor(c.AnonymousConfig()); err != nil {
		return nil, err
	}
	if _, err := b.kube.CoreV1().ServiceAccounts(benchNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: benchSA}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create service account %s/%s: %w", benchNamespace, benchSA, err)
	}
	_, err = b.kube.RbacV1().RoleBindings(benchNamespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-auth-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.ServiceAccountKind, Namespace: benchNamespace, Name: benchSA},
			{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: benchUser},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("bind the view role in %s: %w", benchNamespace, err)
	}
	sa, err := b.saTokens(ctx, 1)
	if err != nil {
		return nil, err
	}
	b.tokens[credSA] = sa[0]
	if err := c.AddUser(benchUser, b.password); err != nil {
		return nil, err
	}
	if b.tokens[credOAuth], err = c.Login(benchUser, b.password); err != nil {
		return nil, err
	}
	// The role binding reaches the authorizers' caches within seconds.
	err = harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		for _, ep := range endpoints {
			for cred := range numCreds {
				if err := b.get(ctx, b.client(cred), ep, b.tokens[cred]); err != nil {
					return fmt.Errorf("%s with the %s: %w", ep.name, credNames[cred], err)
				}
			}
		}
		return nil
	})
	return b, err
}

// saTokens asks the TokenRequest API for n tokens of the benchmark's service account.
func (b *bench) saTokens(ctx context.Context, n int) ([]string, error) {
	exp := int64(3600)
	out := make([]string, 0, n)
	for range n {
		tr, err := b.kube.CoreV1().ServiceAccounts(benchNamespace).CreateToken(ctx, benchSA,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("request a token for service account %s/%s: %w", benchNamespace, benchSA, err)
		}
		out = append(out, tr.Status.Token)
	}
	return out, nil
}

// client returns a new HTTP client with its own connection pool: the admin certificate for credCert,
// the CA alone otherwise.
func (b *bench) client(cred int) *http.Client {
	cfg := b.tokenTLS
	if cred == credCert {
		cfg = b.certTLS
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 2}}
}

// get makes one request and reads the whole answer, which must be 200 OK.
func (b *bench) get(ctx context.Context, hc *http.Client, ep endpoint, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.host+ep.path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", ep.path, resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// sample is the outcome of one cell: n operations, their wall-clock total and latencies.
type sample struct {
	n        int
	total    time.Duration
	p50, p99 time.Duration
	capped   bool
	// cpu is the CPU time gantry's process tree spent in the cell beyond its idle rate; others is
	// the share of the machine's CPU that processes other than gantry's and this one used meanwhile.
	cpu    time.Duration
	others float64
}

// cpuPerOp is gantry's CPU time per operation of the cell.
func (s sample) cpuPerOp() time.Duration { return s.cpu / time.Duration(max(s.n, 1)) }

func (s sample) rate() float64 { return float64(s.n) / s.total.Seconds() }

func (s sample) cappedNote() string {
	if s.capped {
		return " (stopped by the time limit)"
	}
	return ""
}

func summarize(lat []time.Duration, total time.Duration, capped bool) sample {
	slices.Sort(lat)
	return sample{n: len(lat), total: total, p50: benchutil.Percentile(lat, 0.50), p99: benchutil.Percentile(lat, 0.99), capped: capped}
}

// cell makes o.requests requests to ep with one credential, spread over `clients` clients (each with
// its own connection, warmed up first), and stops early after o.cellLimit.
func (b *bench) cell(ctx context.Context, cred int, ep endpoint, clients int, o options) (sample, error) {
	hcs := make([]*http.Client, clients)
	for i := range hcs {
		hcs[i] = b.client(cred)
		defer hcs[i].CloseIdleConnections()
		for range 20 {
			if err := b.get(ctx, hcs[i], ep, b.tokens[cred]); err != nil {
				return sample{}, fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	cctx, cancel := context.WithTimeout(ctx, o.cellLimit)
	defer cancel()
	var next atomic.Int64
	lats := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	m := b.meter()
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(o.requests) {
				t := time.Now()
				err := b.get(cctx, hcs[w], ep, b.tokens[cred])
				if cctx.Err() != nil {
					return // the time limit, not a failure
				}
				if err != nil {
					errs[w] = err
					cancel()
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return sample{}, err
	}
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	return m.stop(summarize(slices.Concat(lats...), total, cctx.Err() != nil)), nil
}

// fresh makes one request per token, one at a time on one warm connection, timing only the requests.
func (b *bench) fresh(ctx context.Context, ep endpoint, tokens []string, limit time.Duration) (sample, error) {
	hc := b.client(credOAuth)
	defer hc.CloseIdleConnections()
	for range 20 {
		if err := b.get(ctx, hc, ep, b.tokens[credSA]); err != nil {
			return sample{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var lat []time.Duration
	var sum time.Duration
	m := b.meter()
	for _, tok := range tokens {
		t := time.Now()
		err := b.get(cctx, hc, ep, tok)
		if cctx.Err() != nil {
			break
		}
		if err != nil {
			return sample{}, err
		}
		d := time.Since(t)
		lat = append(lat, d)
		sum += d
	}
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	return m.stop(summarize(lat, sum, cctx.Err() != nil)), nil
}

// logins logs the benchmark's user in n times, conc at a time, and returns the tokens.
func (b *bench) logins(ctx context.Context, n, conc int, limit time.Duration) (sample, []string, error) {
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var next atomic.Int64
	lats := make([][]time.Duration, conc)
	toks := make([][]string, conc)
	errs := make([]error, conc)
	var wg sync.WaitGroup
	m := b.meter()
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cctx.Err() == nil && next.Add(1) <= int64(n) {
				t := time.Now()
				tok, err := b.c.Login(benchUser, b.password)
				if err != nil {
					errs[w] = err
					cancel()
					return
				}
				lats[w] = append(lats[w], time.Since(t))
				toks[w] = append(toks[w], tok)
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return sample{}, nil, err
	}
	if err := ctx.Err(); err != nil {
		return sample{}, nil, err
	}
	return m.stop(summarize(slices.Concat(lats...), total, cctx.Err() != nil)), slices.Concat(toks...), nil
}

// bcryptCheck times runs checks of a correct password against a bcrypt hash at the default cost.
func bcryptCheck(runs int) (sample, error) {
	pw := []byte(idp.GeneratePassword())
	hash, err := bcrypt.GenerateFromPassword(pw, bcrypt.DefaultCost)
	if err != nil {
		return sample{}, err
	}
	lat := make([]time.Duration, runs)
	var sum time.Duration
	for i := range lat {
		t := time.Now()
		if err := bcrypt.CompareHashAndPassword(hash, pw); err != nil {
			return sample{}, err
		}
		lat[i] = time.Since(t)
		sum += lat[i]
	}
	return summarize(lat, sum, false), nil
}

// htpasswdCost is the bcrypt cost of user's hash in the htpasswd file the OAuth server reads.
func htpasswdCost(file, user string) (int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, hash, ok := strings.Cut(line, ":"); ok && name == user {
			return bcrypt.Cost([]byte(hash))
		}
	}
	return 0, fmt.Errorf("%s has no line for %s", file, user)
}

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

// report holds every measurement; cached cells per endpoint, credential and client count (one sample
// per pass), fresh cells per endpoint and credential, login cells per concurrency.
type report struct {
	o        options
	version  string
	bcrypt   sample
	hashCost int
	idle     float64 // gantry's idle CPU per second
	load     string  // /proc/loadavg before the measurements
	cached   [2][numCreds][2][]sample
	fresh    [2][numCreds][]sample
	login    [2]sample
}

// cellv is a cell averaged over its passes.
type cellv struct {
	rate          float64
	p50, p99, cpu time.Duration
	capped        bool
}

// mean averages the passes of a cell: rates, p50, p99 and CPU per request.
func mean(ss []sample) cellv {
	var v cellv
	for _, s := range ss {
		v.rate += s.rate()
		v.p50 += s.p50
		v.p99 += s.p99
		v.cpu += s.cpuPerOp()
		v.capped = v.capped || s.capped
	}
	k := time.Duration(len(ss))
	v.rate /= float64(k)
	v.p50, v.p99, v.cpu = v.p50/k, v.p99/k, v.cpu/k
	return v
}

// others is the mean and the highest share of the machine other processes used during the cells.
func (r report) others() (avg, top float64) {
	var all []sample
	for ei := range r.cached {
		for cred := range r.cached[ei] {
			for mode := range r.cached[ei][cred] {
				all = append(all, r.cached[ei][cred][mode]...)
			}
			all = append(all, r.fresh[ei][cred]...)
		}
	}
	all = append(all, r.login[:]...)
	for _, s := range all {
		avg += s.others
		top = max(top, s.others)
	}
	return avg / float64(len(all)), top
}

func (r report) render() string {
	var b strings.Builder
	host, _ := os.Hostname()
	o := r.o
	fmt.Fprintf(&b, "Authentication cost, one cluster, %s, %s (%s, nproc %d, %s RAM), gantry %s\n\n",
		time.Now().Format("2006-01-02 15:04"), host, benchutil.CPUModel(), benchutil.NumCPU(), benchutil.MemTotal(), version(r.version))
	avg, top := r.others()
	fmt.Fprintf(&b, "Client on the same machine, JSON over HTTP/2, each client its own connection (warmed up). "+
		"Cached: %d requests per cell with one credential reused, by 1 client and spread over %d clients; the cells run in the order certificate, SA token, OAuth token and then in reverse, "+
		"and every figure is the mean of the two. Uncached: %d tokens per cell, one request each, one at a time, only the request timed "+
		"(OAuth tokens from the logins below and more, SA tokens from the TokenRequest API, all made before the cells and followed by a %s pause); "+
		"first pass with tokens never used, second pass in reverse order with the same tokens %s later, once every cache has dropped them; the mean of the two. Ratio OAuth / SA: for req/s SA / OAuth, so above 1 means the OAuth token is slower. "+
		"CPU = CPU time of gantry's process tree (kube-apiserver, etcd, the aggregated server, the OAuth server, ... in one process) per request or login, "+
		"less its idle rate (%.0f ms/s); it is steadier than wall-clock time on a shared machine. "+
		"Other processes used %.0f%% of the machine's CPU on average during the cells (%.0f%% at most; load average before: %s).\n",
		o.requests, o.concurrency, o.fresh, settle, cacheExpiry, r.idle*1000, avg*100, top*100, r.load)
	for ei, ep := range endpoints {
		fmt.Fprintf(&b, "\n%s: `GET %s`\n\n", ep.name, ep.path)
		fmt.Fprintf(&b, "| credential | 1 client req/s | p50 | p99 | CPU | %d clients req/s | p50 | p99 | CPU |\n|---|---|---|---|---|---|---|---|---|\n", o.concurrency)
		var vals [numCreds][2]cellv
		for cred := range numCreds {
			fmt.Fprintf(&b, "| %s, cached |", credNames[cred])
			for mode := range 2 {
				v := mean(r.cached[ei][cred][mode])
				vals[cred][mode] = v
				mark := ""
				if v.capped {
					mark = " (time limit)"
				}
				fmt.Fprintf(&b, " %.0f%s | %s | %s | %s |", v.rate, mark, ms(v.p50), ms(v.p99), ms(v.cpu))
			}
			b.WriteString("\n")
		}
		b.WriteString("| **OAuth / SA token, cached** |")
		for mode := range 2 {
			sa, oa := vals[credSA][mode], vals[credOAuth][mode]
			fmt.Fprintf(&b, " %.2fx | %.2fx | %.2fx | %.2fx |", sa.rate/oa.rate, ratio(oa.p50, sa.p50), ratio(oa.p99, sa.p99), ratio(oa.cpu, sa.cpu))
		}
		b.WriteString("\n")
		for _, cred := range []int{credSA, credOAuth} {
			v := mean(r.fresh[ei][cred])
			mark := ""
			if v.capped {
				mark = " (time limit)"
			}
			fmt.Fprintf(&b, "| %s, uncached | %.0f%s | %s | %s | %s | | | | |\n", credNames[cred], v.rate, mark, ms(v.p50), ms(v.p99), ms(v.cpu))
		}
		sa, oa := mean(r.fresh[ei][credSA]), mean(r.fresh[ei][credOAuth])
		fmt.Fprintf(&b, "| **OAuth / SA token, uncached** | %.2fx | %.2fx | %.2fx | %.2fx | | | | |\n",
			sa.rate/oa.rate, ratio(oa.p50, sa.p50), ratio(oa.p99, sa.p99), ratio(oa.cpu, sa.cpu))
	}

	fmt.Fprintf(&b, "\nLogins as `oc login` makes them (metadata, challenge, Basic auth against the htpasswd provider, code exchange with PKCE), one user, hash cost %d\n\n", r.hashCost)
	b.WriteString("| what | count | per second | p50 | p99 | CPU |\n|---|---|---|---|---|---|\n")
	for mode, conc := range []int{1, o.loginConcurrency} {
		s := r.login[mode]
		what := "logins, one at a time"
		if conc > 1 {
			what = fmt.Sprintf("logins, %d at a time", conc)
		}
		fmt.Fprintf(&b, "| %s | %d%s | %.1f | %s | %s | %s |\n", what, s.n, s.cappedNote(), s.rate(), ms(s.p50), ms(s.p99), ms(s.cpuPerOp()))
	}
	fmt.Fprintf(&b, "| one bcrypt check at cost %d, in-process | %d | %.1f | %s | %s | |\n", bcrypt.DefaultCost, r.bcrypt.n, r.bcrypt.rate(), ms(r.bcrypt.p50), ms(r.bcrypt.p99))
	r.notes(&b)
	return b.String()
}

// notes explains the tables: the mechanisms are facts of the code, the figures come from this run.
func (r report) notes(b *strings.Builder) {
	o := r.o
	b.WriteString("\nNotes\n\n")
	lo, hi := 1e9, 0.0
	clo, chi := 1e9, 0.0
	for ei := range endpoints {
		for mode := range 2 {
			sa, oa := mean(r.cached[ei][credSA][mode]), mean(r.cached[ei][credOAuth][mode])
			lo, hi = min(lo, sa.rate/oa.rate), max(hi, sa.rate/oa.rate)
			clo, chi = min(clo, ratio(oa.cpu, sa.cpu)), max(chi, ratio(oa.cpu, sa.cpu))
		}
	}
	fmt.Fprintf(b, "- Reused tokens: OAuth / SA token %.2f-%.2fx in req/s and %.2f-%.2fx in CPU per request over both requests and client counts. "+
		"kube-apiserver keeps every successful token authentication for 10 s (its token cache, in front of the webhook's own 10 s cache), "+
		"so a reused token of either kind costs a cache lookup, and Gantry's token-review webhook is met once per token per 10 s.\n", lo, hi, clo, chi)
	kube := len(endpoints) - 1 // configmaps: kube-apiserver alone
	sa, oa := mean(r.fresh[kube][credSA]), mean(r.fresh[kube][credOAuth])
	fmt.Fprintf(b, "- Uncached tokens on kube-apiserver alone (configmaps): OAuth token minus SA token %+.2f ms at p50, %+.2f ms of CPU per request. "+
		"An uncached OAuth token costs a token review: kube-apiserver calls the OAuth server over HTTPS on loopback (JSON TokenReview, token and user looked up in the OAuth server's informer caches), "+
		"where an SA token is a JWT signature check and a service-account lookup in process. The uncached cells are short (%d requests, well under a second), so their p99 and CPU move with a single pause.\n",
		ms64(oa.p50-sa.p50), ms64(oa.cpu-sa.cpu), o.fresh)
	sa, oa = mean(r.fresh[0][credSA]), mean(r.fresh[0][credOAuth])
	fmt.Fprintf(b, "- Uncached tokens on users/~ (through the aggregator): OAuth %s, SA token %s at p50. Every bound SA token carries its own credential-id "+
		"(authentication.kubernetes.io/credential-id) in the user's extras, and the aggregated server's delegated-authorization cache keys on the whole "+
		"SubjectAccessReview, extras included, so each fresh SA token also costs a SubjectAccessReview to kube-apiserver; fresh OAuth tokens of one user share one entry.\n",
		ms(oa.p50), ms(sa.p50))
	seq, conc := r.login[0], r.login[1]
	fmt.Fprintf(b, "- Logins: gantry spends %s of CPU per login, of which one bcrypt check at cost %d is about %s (%.0f%%); %d cores could do about %.0f logins/s.",
		ms(conc.cpuPerOp()), r.hashCost, ms(r.bcrypt.p50), 100*float64(r.bcrypt.p50)/float64(max(conc.cpuPerOp(), 1)), benchutil.NumCPU(),
		float64(benchutil.NumCPU())/max(conc.cpuPerOp().Seconds(), 1e-9))
	if conc.rate() < 1.2*seq.rate() {
		fmt.Fprintf(b, " Logins do not scale with concurrency (%.1f/s one at a time, %.1f/s %d at a time, gantry using %.0f%% of the machine), so something other than CPU "+
			"holds them back; the first suspect is the OAuth server's client-side rate limit to the API (rc.QPS in internal/server/oauth.go), shared by the ~9 OAuth-API "+
			"calls of every login (at QPS 50 it held logins to 5.6/s).",
			seq.rate(), conc.rate(), o.loginConcurrency, 100*conc.rate()*conc.cpuPerOp().Seconds()/float64(benchutil.NumCPU()))
	}
	b.WriteString("\n")
}

// ms64 prints a signed duration in milliseconds.
func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func version(v string) string {
	if v == "dev" {
		return "dev build"
	}
	return v
}

// idleWindow is how long gantry's idle CPU is measured; settle is the pause before the fresh-token cells.
const (
	idleWindow = 5 * time.Second
	settle     = 10 * time.Second
	// cacheExpiry is longer than the 10 s of kube-apiserver's token caches and of the aggregated
	// server's authorization cache.
	cacheExpiry = 12 * time.Second
)

// idleCPU is the CPU time gantry's process tree uses per second while nothing is asked of it.
func idleCPU(ctx context.Context, pid int) (float64, error) {
	start, t := benchutil.ReadCPU(pid), time.Now()
	select {
	case <-time.After(idleWindow):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return (benchutil.ReadCPU(pid).Gantry - start.Gantry).Seconds() / time.Since(t).Seconds(), nil
}
