// Command conformance runs the OCI distribution-spec conformance suite against Gantry's integrated
// registry and, in the same run, against a plain distribution registry, and prints the pass and fail
// counts of each and the cases that fail only on Gantry (each one a regression against the
// distribution library the registry is built on).
//
// The suite is opencontainers/distribution-spec's conformance program, built outside this repository
// and given with -suite (it is never part of Gantry):
//
//	git clone https://github.com/opencontainers/distribution-spec /work/oci-conformance
//	cd /work/oci-conformance/conformance && go build -o ../oci-conformance .
//	cd <gantry> && make build && go run ./bench/conformance -suite /work/oci-conformance/oci-conformance
//
// The plain registry runs in this process: Gantry's internal/registry without Auth, which is
// distribution's application with the integrated registry's storage configuration, no
// authentication and no image stream hooks, on 127.0.0.1 and a free port. The integrated registry is
// the one of a real `gantry start` (127.0.0.1:5000), started under the machine lock of the tests in a
// temporary data directory and stopped by PID at the end. The suite reaches it as the service
// account default/conformance, bound to cluster-admin, with a token of it as the Basic password, and
// writes to the repositories conf/repo1 and conf/repo2 (the namespace conf is created first). Both
// runs use the same repository names, so their cases have the same names.
//
// Each run's results.yaml, junit.xml, report.html and the suite's output (suite.log) are kept under
// -out (default /tmp/gantry-conformance/<registry>). The exit status is 1 when some case fails only
// on Gantry.
package main

import (
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
	"github.com/gantry-dev/gantry/test/harness"
)

const (
	// namespace holds the suite's repositories on both registries.
	namespace = "conf"
	// serviceAccount is the identity the suite pushes and deletes as, in namespace default.
	serviceAccount = "conformance"
)

func main() {
	bin := flag.String("gantry", "", "gantry binary (default $GANTRY_BIN, else bin/gantry)")
	suite := flag.String("suite", "", "the conformance suite's binary, built from opencontainers/distribution-spec/conformance (required)")
	out := flag.String("out", "/tmp/gantry-conformance", "directory for each registry's results (a subdirectory per registry)")
	timeout := flag.Duration("timeout", 20*time.Minute, "give up on one run of the suite after this long")
	var env envFlag
	flag.Var(&env, "env", "a setting of the suite, KEY=VALUE, for both registries, e.g. -env OCI_DATA_SPARSE=true (repeatable; the registry, repositories, credentials and results directory are this program's)")
	flag.Parse()

	if *suite == "" {
		fail(errors.New("no suite binary. Try: -suite /work/oci-conformance/oci-conformance (build it with `go build` in the suite's conformance directory)"))
	}
	suitePath, err := filepath.Abs(*suite)
	if err != nil {
		fail(err)
	}
	if st, err := os.Stat(suitePath); err != nil || st.IsDir() {
		fail(fmt.Errorf("suite binary %s: not a file. Try: cd <distribution-spec>/conformance && go build -o %s .", suitePath, suitePath))
	}
	path, err := benchutil.Gantry(*bin)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	res, err := run(ctx, path, suiteRun{path: suitePath, timeout: *timeout, env: env}, *out)
	if err != nil {
		fail(err)
	}
	fmt.Print(render(res, benchutil.Version(path), suiteCommit(suitePath), env))
	logf("done in %.0fs; results under %s", time.Since(start).Seconds(), *out)
	if len(onlyIn(res[1], res[0])) > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "conformance:", err)
	os.Exit(1)
}

var logf = benchutil.Logf

// envFlag is the repeatable -env flag.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(kv string) error {
	k, _, ok := strings.Cut(kv, "=")
	if !ok || !strings.HasPrefix(k, "OCI_") {
		return fmt.Errorf("%q is not KEY=VALUE with a KEY of the suite (OCI_...)", kv)
	}
	*e = append(*e, kv)
	return nil
}

// suiteRun is how to run the suite: its binary, how long one run may take, and settings of the
// user's for it.
type suiteRun struct {
	path    string
	timeout time.Duration
	env     []string
}

// result is one run of the suite.
type result struct {
	name string
	dir  string
	// counts are the suite's own totals ("OCI Conformance Result"), which count checks: a case
	// may pass or fail more than one.
	counts counts
	// cases are the test cases of its junit.xml by status.
	cases  counts
	failed []string // names of the failed (or errored) cases, sorted
}

// counts are results by status: passed, failed (a failure, or an error of the suite) and skipped
// (skipped, or disabled by the configuration).
type counts struct{ pass, fail, skip int }

// run runs the suite on the plain registry, then (under the machine lock) on a fresh cluster's
// integrated registry. The plain registry goes first so that the lock is held no longer than needed.
func run(ctx context.Context, bin string, suite suiteRun, out string) ([2]result, error) {
	var res [2]result
	plainHost, stopPlain, err := startPlain(filepath.Join(out, "plain-registry.log"))
	if err != nil {
		return res, err
	}
	logf("plain registry on %s; running the suite", plainHost)
	res[0], err = suite.run(ctx, "plain", filepath.Join(out, "plain"), plainHost, "", "")
	stopPlain()
	klog.Flush()
	if err != nil {
		return res, err
	}
	logf("plain: %d pass, %d fail, %d skipped", res[0].counts.pass, res[0].counts.fail, res[0].counts.skip)

	c, stopCluster, err := harness.StartLocked(ctx, "gantry-bench-conformance-", logf)
	if err != nil {
		return res, err
	}
	defer stopCluster()
	token, err := setUp(ctx, c.Client)
	if err != nil {
		return res, err
	}
	if err := waitForRegistry(ctx, token); err != nil {
		return res, err
	}
	logf("integrated registry on %s as system:serviceaccount:default:%s; running the suite (%s)", harness.Registry, serviceAccount, bin)
	res[1], err = suite.run(ctx, "gantry", filepath.Join(out, "gantry"), harness.Registry, "conformance", token)
	if err != nil {
		return res, err
	}
	logf("gantry: %d pass, %d fail, %d skipped", res[1].counts.pass, res[1].counts.fail, res[1].counts.skip)
	return res, nil
}

// startPlain serves a plain registry in this process on 127.0.0.1 and a free port, storing in a new
// temporary directory; stop ends it and removes the directory.
//
// What the plain registry logs (distribution logs every refused request as an error, and the suite
// sends many on purpose) goes to logPath, not to this program's output.
func startPlain(logPath string) (host string, stop func(), err error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return "", nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	// klog copies errors to stderr below this threshold even when not logging to stderr.
	if err := errors.Join(klogFlags.Set("logtostderr", "false"), klogFlags.Set("stderrthreshold", "FATAL")); err != nil {
		return "", nil, err
	}
	klog.SetOutput(logFile)
	return benchutil.StartPlainRegistry()
}

// setUp creates the namespace of the suite's repositories and the service account it runs as,
// bound to cluster-admin (it deletes manifests and blobs, which needs `delete images` cluster-wide),
// and returns a token of that account, once the API server says the account may push to and delete
// from the namespace.
func setUp(ctx context.Context, kc kubernetes.Interface) (string, error) {
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: serviceAccount, Namespace: "default"}}
	if _, err := kc.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create service account default/%s: %w", serviceAccount, err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "conformance-cluster-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccount, Namespace: "default"}},
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("bind default/%s to cluster-admin: %w", serviceAccount, err)
	}
	// The service account's token controller may not have seen the account yet: retry.
	var token string
	err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		expiry := int64(2 * time.Hour / time.Second)
		tr, err := kc.CoreV1().ServiceAccounts("default").CreateToken(ctx, serviceAccount,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("request a token for default/%s: %w", serviceAccount, err)
		}
		token = tr.Status.Token
		return nil
	})
	if err != nil {
		return "", err
	}
	// Wait for the binding to take effect before the registry's first review, so that no early
	// denial is what the registry remembers.
	user := "system:serviceaccount:default:" + serviceAccount
	checks := []authorizationv1.ResourceAttributes{
		{Namespace: namespace, Verb: "update", Group: "image.openshift.io", Resource: "imagestreams", Subresource: "layers"},
		{Namespace: namespace, Verb: "create", Group: "image.openshift.io", Resource: "imagestreams"},
		{Verb: "delete", Group: "image.openshift.io", Resource: "images"},
	}
	err = harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		for _, attrs := range checks {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}, ResourceAttributes: &attrs}}
			got, err := kc.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("review %s %s/%s for %s: %w", attrs.Verb, attrs.Resource, attrs.Subresource, user, err)
			}
			if !got.Status.Allowed {
				return fmt.Errorf("%s may not %s %s/%s in %q yet", user, attrs.Verb, attrs.Resource, attrs.Subresource, attrs.Namespace)
			}
		}
		return nil
	})
	return token, err
}

// waitForRegistry waits until the integrated registry accepts the token.
func waitForRegistry(ctx context.Context, token string) error {
	return harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+harness.Registry+"/v2/", nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth("conformance", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("reach the integrated registry: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v2/ as default/%s: %s", serviceAccount, resp.Status)
		}
		return nil
	})
}

// run runs the suite against host in dir (its working directory, so that no
// oci-conformance.yaml of elsewhere is read) and reads its junit.xml. The suite exits 1 when a case
// fails; that is a result, not an error.
func (s suiteRun) run(ctx context.Context, name, dir, host, user, password string) (result, error) {
	if err := os.RemoveAll(dir); err != nil { // results of an earlier run
		return result{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result{}, err
	}
	logFile, err := os.Create(filepath.Join(dir, "suite.log"))
	if err != nil {
		return result{}, err
	}
	defer logFile.Close()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.path)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Later settings win: the user's first, then this program's.
	cmd.Env = append(append(withoutOCI(os.Environ()), s.env...),
		"OCI_REGISTRY="+host,
		"OCI_TLS=disabled",
		"OCI_REPO1="+namespace+"/repo1",
		"OCI_REPO2="+namespace+"/repo2",
		"OCI_USERNAME="+user,
		"OCI_PASSWORD="+password,
		"OCI_RESULTS_DIR="+dir,
	)
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return result{}, fmt.Errorf("conformance suite on the %s registry: %w (its output: %s)", name, ctx.Err(), logFile.Name())
	}
	r, err := readJunit(filepath.Join(dir, "junit.xml"))
	if err != nil {
		return result{}, fmt.Errorf("conformance suite on the %s registry (exit: %v; its output: %s): %w", name, runErr, logFile.Name(), err)
	}
	if r.counts, err = readTotals(logFile.Name()); err != nil {
		return result{}, fmt.Errorf("conformance suite on the %s registry: %w", name, err)
	}
	r.name, r.dir = name, dir
	return r, nil
}

// totalLine is a line of the suite's totals, e.g. "  Pass..........................:        738".
var totalLine = regexp.MustCompile(`^\s+(Disabled|Skip|Pass|FAIL|Error)\.*:\s+(\d+)$`)

// readTotals reads the totals the suite prints after "OCI Conformance Result".
func readTotals(path string) (counts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return counts{}, err
	}
	_, report, ok := strings.Cut(string(b), "OCI Conformance Result")
	if !ok {
		return counts{}, fmt.Errorf("its output %s has no \"OCI Conformance Result\"", path)
	}
	var c counts
	seen := 0
	for _, line := range strings.Split(report, "\n") {
		m := totalLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		switch m[1] {
		case "Pass":
			c.pass += n
		case "FAIL", "Error":
			c.fail += n
		default:
			c.skip += n
		}
		if seen++; seen == 5 {
			return c, nil
		}
	}
	return counts{}, fmt.Errorf("its output %s has %d of the 5 totals after \"OCI Conformance Result\"", path, seen)
}

// withoutOCI drops the suite's settings from an environment, so that only this program's apply.
func withoutOCI(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "OCI_") })
}

type junitSuites struct {
	Suites []struct {
		Cases []struct {
			Name   string `xml:"name,attr"`
			Status string `xml:"status,attr"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// readJunit counts the suite's cases by status: passed, failed (a failure or an error of the suite)
// and skipped (skipped or disabled, as its report.html counts them).
func readJunit(path string) (result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return result{}, fmt.Errorf("read the suite's results: %w", err)
	}
	var js junitSuites
	if err := xml.Unmarshal(b, &js); err != nil {
		return result{}, fmt.Errorf("parse %s: %w", path, err)
	}
	var r result
	for _, s := range js.Suites {
		for _, c := range s.Cases {
			switch c.Status {
			case "passed":
				r.cases.pass++
			case "skipped":
				r.cases.skip++
			default: // failure, error
				r.cases.fail++
				r.failed = append(r.failed, c.Name)
			}
		}
	}
	if r.cases.pass+r.cases.fail+r.cases.skip == 0 {
		return result{}, fmt.Errorf("%s lists no test cases", path)
	}
	slices.Sort(r.failed)
	return r, nil
}

// onlyIn is the failed cases of a that b did not fail.
func onlyIn(a, b result) []string {
	var out []string
	for _, n := range a.failed {
		if _, found := slices.BinarySearch(b.failed, n); !found {
			out = append(out, n)
		}
	}
	return out
}

// suiteCommit is the commit of the suite's git checkout (the binary's directory), or "unknown".
func suiteCommit(suite string) string {
	out, err := exec.Command("git", "-C", filepath.Dir(suite), "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func render(res [2]result, version, commit string, env []string) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "OCI distribution-spec conformance (suite commit %s), %s, %s, gantry %s\n\n", commit, time.Now().Format("2006-01-02 15:04"), host, version)
	if len(env) > 0 {
		fmt.Fprintf(&b, "Suite settings beyond its defaults: %s\n\n", strings.Join(env, " "))
	}
	b.WriteString("Pass, Fail, Skipped: the suite's totals (it counts checks, several to some cases); cases: its junit.xml's test cases passed / failed / skipped.\n\n")
	b.WriteString("| Registry | Pass | Fail | Skipped | cases | results |\n|---|---|---|---|---|---|\n")
	for _, r := range res {
		label := map[string]string{"plain": "plain distribution (internal/registry without Auth)", "gantry": "Gantry's integrated registry"}[r.name]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d / %d / %d | %s |\n", label, r.counts.pass, r.counts.fail, r.counts.skip,
			r.cases.pass, r.cases.fail, r.cases.skip, r.dir)
	}
	only := onlyIn(res[1], res[0])
	fmt.Fprintf(&b, "\nCases failing only on Gantry (%d):\n", len(only))
	for _, n := range only {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	better := onlyIn(res[0], res[1])
	fmt.Fprintf(&b, "\nCases failing only on plain distribution (%d):\n", len(better))
	for _, n := range better {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	return b.String()
}
