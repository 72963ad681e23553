package server_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/gantry-dev/gantry/internal/syncbuf"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/gantry-dev/gantry/internal/etcd"
	"github.com/gantry-dev/gantry/internal/node"
	"github.com/gantry-dev/gantry/internal/server"
	"github.com/gantry-dev/gantry/internal/service"
)

// world is the state shared by the fake executor and the fake host: what was called, in which order,
// which components run, and which ones are told to fail.
type world struct {
	mu      sync.Mutex
	events  []string
	running map[string]bool
	// fail makes a component's run (or a one-shot step) return this error at once.
	fail map[string]error
	// neverReady makes a component's probe fail forever.
	neverReady map[string]bool
	// stopErr is what RemovePods returns.
	stopErr error
	args    map[string][]string
	procs   map[string]node.Process
	etcdCfg etcd.Config
}

func newWorld() *world {
	return &world{running: map[string]bool{}, fail: map[string]error{}, neverReady: map[string]bool{},
		args: map[string][]string{}, procs: map[string]node.Process{}}
}

func (w *world) add(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, fmt.Sprintf(format, a...))
}

func (w *world) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

func (w *world) index(event string) int { return slices.Index(w.list(), event) }

func (w *world) count(event string) (n int) {
	for _, e := range w.list() {
		if e == event {
			n++
		}
	}
	return n
}

func (w *world) argsOf(component string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.args[component])
}

func (w *world) proc(name string) (node.Process, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.procs[name]
	return p, ok
}

// component behaves like a real long-running component: it fails at once if told to, else it runs
// (calling ready, when it has such a callback) until its context is done.
func (w *world) component(ctx context.Context, name string, ready func()) error {
	w.add("start %s", name)
	w.mu.Lock()
	err := w.fail[name]
	if err == nil {
		w.running[name] = true
	}
	w.mu.Unlock()
	if err != nil {
		w.add("failed %s", name)
		return err
	}
	if ready != nil {
		w.add("ready %s", name) // before ready(): whatever starts next is recorded after this
		ready()
	}
	<-ctx.Done()
	w.mu.Lock()
	w.running[name] = false
	w.mu.Unlock()
	w.add("stop %s", name)
	return nil
}

// step is a one-shot Host action.
func (w *world) step(name string) error {
	w.add("start %s", name)
	w.mu.Lock()
	err := w.fail[name]
	w.mu.Unlock()
	if err != nil {
		w.add("failed %s", name)
		return err
	}
	w.add("ready %s", name)
	return nil
}

type fakeExec struct{ w *world }

func (f fakeExec) Etcd(ctx context.Context, cfg etcd.Config, ready func()) error {
	f.w.mu.Lock()
	f.w.etcdCfg = cfg
	f.w.mu.Unlock()
	return f.w.component(ctx, "etcd", ready)
}

func (f fakeExec) upstream(ctx context.Context, name string, args []string) error {
	f.w.mu.Lock()
	f.w.args[name] = slices.Clone(args)
	f.w.mu.Unlock()
	return f.w.component(ctx, name, nil)
}

func (f fakeExec) APIServer(ctx context.Context, args []string, _ map[string]http.Handler) error {
	return f.upstream(ctx, server.KubeAPIServer, args)
}

func (f fakeExec) ControllerManager(ctx context.Context, args []string) error {
	return f.upstream(ctx, server.KubeControllerManager, args)
}

func (f fakeExec) Scheduler(ctx context.Context, args []string) error {
	return f.upstream(ctx, server.KubeScheduler, args)
}

func (f fakeExec) Child(ctx context.Context, p *node.Process) error {
	f.w.mu.Lock()
	cp := *p
	cp.Args = slices.Clone(p.Args)
	f.w.procs[p.Name] = cp
	f.w.mu.Unlock()
	return f.w.component(ctx, p.Name, nil)
}

type fakeHost struct{ w *world }

// Probe passes once the component runs, as a health endpoint would.
func (h fakeHost) Probe(_ context.Context, component string) error {
	h.w.mu.Lock()
	ok := h.w.running[component] && !h.w.neverReady[component]
	h.w.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: connection refused", component)
	}
	h.w.add("ready %s", component) // probed services stop probing once ready: recorded once
	return nil
}

func (h fakeHost) Registry(ctx context.Context, ready func()) error {
	return h.w.component(ctx, "registry", ready)
}

func (h fakeHost) PublishImages(context.Context) error { return h.w.step("images") }
func (h fakeHost) Bootstrap(context.Context) error     { return h.w.step("bootstrap") }

func (h fakeHost) DNS(ctx context.Context, ready func()) error {
	return h.w.component(ctx, "dns", ready)
}

func (h fakeHost) OpenShiftAPI(ctx context.Context) error {
	return h.w.component(ctx, server.OpenShiftAPIServer, nil)
}

func (h fakeHost) OAuth(ctx context.Context, ready func()) error {
	return h.w.component(ctx, server.OAuthServer, ready)
}

func (h fakeHost) Controllers(ctx context.Context, ready func()) error {
	return h.w.component(ctx, "controllers", ready)
}

// Admission never calls ready when told neverReady (its probe is its own).
func (h fakeHost) Admission(ctx context.Context, ready func()) error {
	h.w.mu.Lock()
	if h.w.neverReady["admission"] {
		ready = nil
	}
	h.w.mu.Unlock()
	return h.w.component(ctx, "admission", ready)
}

func (h fakeHost) Router(ctx context.Context, ready func()) error {
	return h.w.component(ctx, "router", ready)
}

func (h fakeHost) RemovePods(context.Context) error {
	h.w.add("remove-pods")
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return h.w.stopErr
}

var allServices = []string{"etcd", server.KubeAPIServer, server.KubeControllerManager, server.KubeScheduler,
	"bootstrap", "registry", "images", server.Containerd, server.Kubelet, server.KubeProxy, "dns",
	server.OpenShiftAPIServer, server.OAuthServer, "controllers", "admission", "router"}

const (
	testSelf       = "/opt/test/bin/gantry"
	testContainerd = "/opt/test/bin/containerd"
)

// newServer returns a Server on fakes with a temporary data directory; configure may change the
// configuration before Prepare runs.
func newServer(t *testing.T, configure func(*server.Config)) (*server.Server, *world, *syncbuf.Buffer) {
	t.Helper()
	c := server.DefaultConfig()
	c.DataDir = t.TempDir()
	c.NodeName = "test-node"
	if configure != nil {
		configure(&c)
	}
	w := newWorld()
	out := &syncbuf.Buffer{}
	s := &server.Server{Config: c, Exec: fakeExec{w}, Host: fakeHost{w}, Self: testSelf, Containerd: testContainerd, Out: out}
	if err := s.Prepare(); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return s, w, out
}

var errTestDeadline = errors.New("test deadline: Run neither became ready nor failed")

// run runs s until every service is ready (then stops it), or until Run returns on its own. It
// returns Run's error and how many times onReady was called.
func run(t *testing.T, s *server.Server) (err error, readyCalls int) {
	t.Helper()
	ctx, cancel := context.WithTimeoutCause(t.Context(), 2*time.Minute, errTestDeadline)
	defer cancel()
	var mu sync.Mutex
	err = s.Run(ctx, func() {
		mu.Lock()
		readyCalls++
		mu.Unlock()
		cancel()
	})
	if errors.Is(context.Cause(ctx), errTestDeadline) {
		t.Fatal(errTestDeadline)
	}
	mu.Lock()
	defer mu.Unlock()
	return err, readyCalls
}

// flagValue returns the value of --key in args and how many times it was given.
func flagValue(args []string, key string) (value string, n int) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+key+"="); ok {
			value = v
			n++
		}
	}
	return value, n
}

func TestFlagsBuiltForEachComponent(t *testing.T) {
	t.Parallel()
	s, w, _ := newServer(t, nil)
	dir := s.Config.DataDir
	if err, n := run(t, s); err != nil || n != 1 {
		t.Fatalf("Run = %v with %d onReady calls, want nil and 1; events: %v", err, n, w.list())
	}
	kubelet, _ := w.proc(server.Kubelet)
	proxy, _ := w.proc(server.KubeProxy)
	containerd, _ := w.proc(server.Containerd)
	args := map[string][]string{
		server.KubeAPIServer:         w.argsOf(server.KubeAPIServer),
		server.KubeControllerManager: w.argsOf(server.KubeControllerManager),
		server.KubeScheduler:         w.argsOf(server.KubeScheduler),
		server.Kubelet:               kubelet.Args,
		server.KubeProxy:             proxy.Args,
		server.Containerd:            containerd.Args,
	}

	want := map[string][]string{
		server.KubeAPIServer: {
			"--etcd-servers=https://127.0.0.1:2379",
			"--service-cluster-ip-range=172.30.0.0/16",
			"--advertise-address=10.127.0.1",
			"--bind-address=10.127.0.1",
			"--secure-port=6443",
			"--authorization-mode=Node,RBAC,Webhook",
			"--authentication-token-webhook-config-file=" + filepath.Join(dir, "kubeconfig", "token-webhook.kubeconfig"),
			"--authorization-webhook-config-file=" + filepath.Join(dir, "kubeconfig", "authorization-webhook.kubeconfig"),
			"--enable-aggregator-routing=true",
			"--service-account-issuer=https://kubernetes.default.svc",
		},
		server.KubeControllerManager: {
			"--leader-elect=false",
			"--use-service-account-credentials=true",
			"--cluster-cidr=10.128.0.0/14",
			"--kubeconfig=" + filepath.Join(dir, "kubeconfig", "controller-manager.kubeconfig"),
		},
		server.KubeScheduler: {
			"--leader-elect=false",
			"--kubeconfig=" + filepath.Join(dir, "kubeconfig", "scheduler.kubeconfig"),
		},
		server.Kubelet: {
			"kubelet",
			"--config=" + filepath.Join(dir, "kubelet", "config.yaml"),
			"--kubeconfig=" + filepath.Join(dir, "kubeconfig", "kubelet.kubeconfig"),
			"--node-ip=10.127.0.1",
			"--hostname-override=test-node",
		},
		server.KubeProxy: {
			"kube-proxy",
			"--config=" + filepath.Join(dir, "kube-proxy", "config.yaml"),
		},
		server.Containerd: {
			"--config=" + filepath.Join(dir, "containerd", "config.toml"),
		},
	}
	for comp, flags := range want {
		for _, f := range flags {
			if !slices.Contains(args[comp], f) {
				t.Errorf("%s args lack %s; got %v", comp, f, args[comp])
			}
		}
	}

	// The node components are children: the kubelet and kube-proxy are subcommands of this binary.
	for _, c := range []struct {
		name, path, sub string
		p               node.Process
	}{
		{server.Kubelet, testSelf, "kubelet", kubelet},
		{server.KubeProxy, testSelf, "kube-proxy", proxy},
		{server.Containerd, testContainerd, "", containerd},
	} {
		if c.p.Path != c.path {
			t.Errorf("%s runs %q, want %q", c.name, c.p.Path, c.path)
		}
		if c.sub != "" && (len(c.p.Args) == 0 || c.p.Args[0] != c.sub) {
			t.Errorf("%s args %v should start with the subcommand %q", c.name, c.p.Args, c.sub)
		}
		if want := filepath.Join(dir, "logs", c.name+".log"); c.p.LogFile != want {
			t.Errorf("%s logs to %q, want %q", c.name, c.p.LogFile, want)
		}
	}

	// Every flag is given once, and every path a flag names under the data directory exists.
	pathFlags := 0
	for comp, a := range args {
		seen := map[string]bool{}
		for _, arg := range a {
			key, value, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			if !ok {
				continue // a subcommand
			}
			if seen[key] {
				t.Errorf("%s: --%s given twice: %v", comp, key, a)
			}
			seen[key] = true
			if strings.HasPrefix(value, dir+string(filepath.Separator)) {
				pathFlags++
				if _, err := os.Stat(value); err != nil {
					t.Errorf("%s --%s points at a missing file: %v", comp, key, err)
				}
			}
		}
	}
	if pathFlags < 25 {
		t.Errorf("only %d flags name files in the data directory; expected the certificates, keys and kubeconfigs", pathFlags)
	}
	// The flags that must name files, not take defaults.
	for comp, keys := range map[string][]string{
		server.KubeAPIServer: {"etcd-cafile", "etcd-certfile", "etcd-keyfile", "client-ca-file", "tls-cert-file",
			"tls-private-key-file", "kubelet-client-certificate", "kubelet-client-key", "service-account-key-file",
			"service-account-signing-key-file", "requestheader-client-ca-file", "proxy-client-cert-file", "proxy-client-key-file"},
		server.KubeControllerManager: {"kubeconfig", "cluster-signing-cert-file", "cluster-signing-key-file", "root-ca-file",
			"service-account-private-key-file", "tls-cert-file", "tls-private-key-file"},
		server.KubeScheduler: {"kubeconfig", "tls-cert-file", "tls-private-key-file"},
		server.Kubelet:       {"config", "kubeconfig"},
		server.KubeProxy:     {"config"},
		server.Containerd:    {"config"},
	} {
		for _, k := range keys {
			v, n := flagValue(args[comp], k)
			if n != 1 || !strings.HasPrefix(v, dir) {
				t.Errorf("%s --%s = %q (given %d times), want one file in %s", comp, k, v, n, dir)
			}
		}
	}

	// etcd's certificates exist too.
	w.mu.Lock()
	ec := w.etcdCfg
	w.mu.Unlock()
	if ec.ClientURL != "https://127.0.0.1:2379" || ec.DataDir != filepath.Join(dir, "etcd") {
		t.Errorf("etcd config = %+v", ec)
	}
	for _, f := range []string{ec.CertFile, ec.KeyFile, ec.TrustedCAFile} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("etcd: %v", err)
		}
	}

	// Every user of the machine can read the CA (for gantry login), and no key.
	if fi, err := os.Stat(server.PublicCAFile(dir)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("public CA file: %v %v, want mode 0644", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "pki")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("pki directory: %v %v, want it private to root", fi, err)
	}

	// The kubeconfigs reach the API server at the node IP with files that exist.
	for _, user := range []string{"admin", "controller-manager", "scheduler", "kubelet", "kube-proxy", "dns", "openshift-apiserver", "oauth-server", "controllers"} {
		path := filepath.Join(dir, "kubeconfig", user+".kubeconfig")
		kc, err := clientcmd.LoadFromFile(path)
		if err != nil {
			t.Errorf("kubeconfig %s: %v", user, err)
			continue
		}
		cl := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster]
		ai := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
		if cl.Server != "https://10.127.0.1:6443" {
			t.Errorf("kubeconfig %s: server %q", user, cl.Server)
		}
		for _, f := range []string{cl.CertificateAuthority, ai.ClientCertificate, ai.ClientKey} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("kubeconfig %s: %v", user, err)
			}
		}
	}
	if got := server.AdminKubeconfig(dir); got != filepath.Join(dir, "kubeconfig", "admin.kubeconfig") {
		t.Errorf("AdminKubeconfig = %q", got)
	}

	// The kubelet sends pods to the cluster DNS address.
	b, err := os.ReadFile(filepath.Join(dir, "kubelet", "config.yaml"))
	if err != nil || !strings.Contains(string(b), "172.30.0.10") {
		t.Errorf("kubelet config (err %v) does not name the cluster DNS 172.30.0.10:\n%s", err, b)
	}
}

func TestExtraArgsOverrideOurs(t *testing.T) {
	t.Parallel()
	t.Run("override", func(t *testing.T) {
		t.Parallel()
		s, w, _ := newServer(t, func(c *server.Config) {
			c.ExtraArgs = map[string][]string{
				server.KubeAPIServer: {"v=4", "--secure-port=7443", "feature-gates=A=true", "feature-gates=B=false"},
				server.Kubelet:       {"--v=3"},
			}
		})
		if err, _ := run(t, s); err != nil {
			t.Fatalf("Run: %v", err)
		}
		api := w.argsOf(server.KubeAPIServer)
		for _, c := range []struct {
			key  string
			want []string
		}{
			{"v", []string{"4"}},
			{"secure-port", []string{"7443"}},
			{"feature-gates", []string{"A=true", "B=false"}},
			{"etcd-servers", []string{"https://127.0.0.1:2379"}}, // ours, untouched
		} {
			var got []string
			for _, a := range api {
				if v, ok := strings.CutPrefix(a, "--"+c.key+"="); ok {
					got = append(got, v)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("kube-apiserver --%s = %v, want %v", c.key, got, c.want)
			}
		}
		kubelet, _ := w.proc(server.Kubelet)
		if v, n := flagValue(kubelet.Args, "v"); v != "3" || n != 1 {
			t.Errorf("kubelet --v = %q (%d times), want 3 once: %v", v, n, kubelet.Args)
		}
		// Extra arguments apply to their component only.
		if _, n := flagValue(w.argsOf(server.KubeScheduler), "feature-gates"); n != 0 {
			t.Errorf("kube-scheduler got kube-apiserver's feature gates: %v", w.argsOf(server.KubeScheduler))
		}
	})
	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		s, w, _ := newServer(t, func(c *server.Config) {
			c.ExtraArgs = map[string][]string{server.KubeAPIServer: {"v=4", "=x"}}
		})
		_, err := s.Services()
		if err == nil || !strings.Contains(err.Error(), "--kube-apiserver-arg") || !strings.Contains(err.Error(), `"=x"`) {
			t.Fatalf("Services = %v, want an error about --kube-apiserver-arg \"=x\"", err)
		}
		if err, _ := run(t, s); err == nil || !strings.Contains(err.Error(), "--kube-apiserver-arg") {
			t.Fatalf("Run = %v, want the --kube-apiserver-arg error", err)
		}
		if ev := w.list(); len(ev) != 0 {
			t.Errorf("something started despite the bad argument: %v", ev)
		}
	})
}

// startDependencies are pairs of (dependency, dependent): the dependent must not start before the
// dependency is ready.
var startDependencies = []struct{ dependency, dependent string }{
	{"etcd", server.KubeAPIServer},
	{server.KubeAPIServer, server.KubeControllerManager},
	{server.KubeAPIServer, server.KubeScheduler},
	{server.KubeAPIServer, "bootstrap"},
	{server.KubeControllerManager, "bootstrap"}, // it waits for the default service account
	{server.KubeAPIServer, server.Kubelet},
	{server.KubeAPIServer, server.KubeProxy},
	{"registry", "images"},
	{"images", server.Kubelet},
	{server.Containerd, server.Kubelet},
	{"bootstrap", "dns"},
	{server.KubeAPIServer, server.OpenShiftAPIServer},
	{server.KubeControllerManager, server.OpenShiftAPIServer}, // namespaces of deleted projects must be cleaned
	{server.OpenShiftAPIServer, server.OAuthServer},           // users, identities and tokens live there
	{"bootstrap", "controllers"},
	{server.OpenShiftAPIServer, "admission"}, // the image lookup webhook reads image streams
	{server.OpenShiftAPIServer, "router"},    // routes are OpenShift API objects
}

// The system namespaces never go through Gantry's webhooks, so the cluster's own start must not
// wait for them: nothing that DNS or the node needs depends on the admission service.
func TestClusterBootstrapDoesNotNeedAdmission(t *testing.T) {
	t.Parallel()
	s, _, _ := newServer(t, nil)
	svcs, err := s.Services()
	if err != nil {
		t.Fatal(err)
	}
	needs := map[string][]string{}
	for _, svc := range svcs {
		needs[svc.Name] = svc.Needs
	}
	var reaches func(from, to string) bool
	reaches = func(from, to string) bool {
		for _, d := range needs[from] {
			if d == to || reaches(d, to) {
				return true
			}
		}
		return false
	}
	for _, name := range []string{"bootstrap", "dns", server.Kubelet, server.KubeAPIServer, server.KubeControllerManager, server.OpenShiftAPIServer} {
		if reaches(name, "admission") {
			t.Errorf("%s waits for the admission webhooks", name)
		}
	}
}

// gantry start is ready only once the webhooks are: a pod created after "ready" is resolved.
func TestReadyWaitsForAdmission(t *testing.T) {
	t.Parallel()
	s, w, _ := newServer(t, nil)
	w.neverReady["admission"] = true
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var readyCalled atomic.Bool
	_ = s.Run(ctx, func() { readyCalled.Store(true) })
	if w.index("start admission") < 0 {
		t.Fatalf("admission never started; events: %v", w.list())
	}
	if readyCalled.Load() {
		t.Errorf("ready before the admission webhooks were; events: %v", w.list())
	}
}

func TestStartOrderFollowsDependencies(t *testing.T) {
	t.Parallel()
	s, w, out := newServer(t, nil)

	// The declared graph: a fast dependency would hide a missing edge in the recorded order.
	svcs, err := s.Services()
	if err != nil {
		t.Fatal(err)
	}
	needs := map[string][]string{}
	var names []string
	for _, svc := range svcs {
		names = append(names, svc.Name)
		needs[svc.Name] = svc.Needs
	}
	slices.Sort(names)
	if want := slices.Sorted(slices.Values(allServices)); !slices.Equal(names, want) {
		t.Errorf("services = %v, want %v", names, want)
	}
	var reaches func(from, to string) bool
	reaches = func(from, to string) bool {
		for _, d := range needs[from] {
			if d == to || reaches(d, to) {
				return true
			}
		}
		return false
	}
	for _, c := range startDependencies {
		if !reaches(c.dependent, c.dependency) {
			t.Errorf("%s does not need %s (needs %v)", c.dependent, c.dependency, needs[c.dependent])
		}
	}

	err, readyCalls := run(t, s)
	if err != nil {
		t.Fatalf("Run after a requested stop = %v, want nil", err)
	}
	if readyCalls != 1 {
		t.Errorf("onReady called %d times, want 1", readyCalls)
	}
	ev := w.list()
	for _, name := range allServices {
		if n := w.count("start " + name); n != 1 {
			t.Errorf("%s started %d times, want 1; events: %v", name, n, ev)
		}
		if w.index("ready "+name) < 0 {
			t.Errorf("%s never became ready; events: %v", name, ev)
		}
		if !strings.Contains(out.String(), name+" ready\n") {
			t.Errorf("output does not report %s ready:\n%s", name, out)
		}
	}
	for _, c := range startDependencies {
		if ready, start := w.index("ready "+c.dependency), w.index("start "+c.dependent); ready < 0 || start < 0 || ready > start {
			t.Errorf("%s started before %s was ready; events: %v", c.dependent, c.dependency, ev)
		}
	}
	// A requested stop stops every long-running component, dependents before their dependencies,
	// and removes the pods before containerd stops.
	for _, name := range allServices {
		if name == "images" || name == "bootstrap" {
			continue // one-shot steps
		}
		if w.index("stop "+name) < 0 {
			t.Errorf("%s was not stopped; events: %v", name, ev)
		}
	}
	for _, c := range [][2]string{
		{"stop " + server.Kubelet, "remove-pods"},
		{"remove-pods", "stop " + server.Containerd},
		{"stop " + server.KubeAPIServer, "stop etcd"},
		{"stop dns", "stop " + server.KubeAPIServer},
	} {
		if a, b := w.index(c[0]), w.index(c[1]); a < 0 || b < 0 || a > b {
			t.Errorf("want %q before %q; events: %v", c[0], c[1], ev)
		}
	}
}

func TestFailingComponentStopsEverything(t *testing.T) {
	t.Parallel()
	cases := []struct {
		component string
		err       error
		// neverStarted are services that need the failing one.
		neverStarted []string
	}{
		{
			component:    server.KubeAPIServer,
			err:          errors.New("listen tcp 10.127.0.1:6443: bind: address already in use"),
			neverStarted: []string{server.KubeControllerManager, server.KubeScheduler, "bootstrap", server.Kubelet, server.KubeProxy, "dns", server.OpenShiftAPIServer, server.OAuthServer, "controllers"},
		},
		{
			component: server.Kubelet,
			err:       errors.New(`exited (exit status 1); last log lines from kubelet.log: failed to run Kubelet`),
		},
		{
			component:    "images",
			err:          errors.New("push pause: connection refused"),
			neverStarted: []string{server.Kubelet},
		},
	}
	for _, c := range cases {
		t.Run(c.component, func(t *testing.T) {
			t.Parallel()
			s, w, out := newServer(t, nil)
			w.fail[c.component] = c.err
			err, readyCalls := run(t, s)
			ev := w.list()
			if err == nil || !strings.HasPrefix(err.Error(), c.component+": ") || !errors.Is(err, c.err) {
				t.Fatalf("Run = %v, want an error starting with %q wrapping %q", err, c.component+": ", c.err)
			}
			var se *service.Error
			if !errors.As(err, &se) || se.Service != c.component {
				t.Errorf("Run = %#v, want a *service.Error for %s", err, c.component)
			}
			if readyCalls != 0 {
				t.Errorf("onReady was called although %s failed", c.component)
			}
			if !strings.Contains(out.String(), c.component+" failed: "+c.err.Error()) {
				t.Errorf("output does not report the failure:\n%s", out)
			}
			for _, name := range c.neverStarted {
				if w.index("start "+name) >= 0 {
					t.Errorf("%s started although %s failed; events: %v", name, c.component, ev)
				}
			}
			// Everything that started and did not fail was stopped before Run returned; etcd, which
			// every case starts, among them.
			if w.index("stop etcd") < 0 {
				t.Errorf("etcd's context was not cancelled; events: %v", ev)
			}
			for _, name := range allServices {
				started := w.index("start "+name) >= 0
				oneShot := name == "images" || name == "bootstrap"
				if started && !oneShot && name != c.component && w.index("stop "+name) < 0 {
					t.Errorf("%s started but was not stopped; events: %v", name, ev)
				}
			}
			if c.component == server.Kubelet {
				// The kubelet's Stop hook removes the pods once the kubelet returned, while containerd
				// still runs.
				if n := w.count("remove-pods"); n != 1 {
					t.Errorf("RemovePods ran %d times, want 1; events: %v", n, ev)
				}
				if a, b := w.index("remove-pods"), w.index("stop "+server.Containerd); a < 0 || b < 0 || a > b {
					t.Errorf("pods must be removed before containerd stops; events: %v", ev)
				}
			}
		})
	}
}

func TestStopHookFailureIsReported(t *testing.T) {
	t.Parallel()
	s, w, out := newServer(t, nil)
	w.stopErr = errors.New("list pod sandboxes: unavailable")
	if err, _ := run(t, s); err != nil {
		t.Fatalf("Run after a requested stop = %v, want nil (a failed Stop hook is reported, not returned)", err)
	}
	if !strings.Contains(out.String(), "kubelet failed: stop: list pod sandboxes: unavailable") {
		t.Errorf("output does not report the failed pod removal:\n%s", out)
	}
}

func TestProbeTimeoutNamesComponent(t *testing.T) {
	t.Parallel()
	s, w, _ := newServer(t, nil)
	// Large enough for the other components' first probe on a loaded machine; nothing is timed.
	s.ReadyTimeout = time.Second
	w.neverReady[server.KubeScheduler] = true
	err, readyCalls := run(t, s)
	if err == nil {
		t.Fatal("Run = nil, want a readiness timeout")
	}
	msg := err.Error()
	for _, want := range []string{
		server.KubeScheduler + ": not ready after ",
		server.KubeScheduler + ": connection refused", // the last probe error
		filepath.Join(s.Config.DataDir, "logs"),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if !strings.HasPrefix(msg, server.KubeScheduler+": ") {
		t.Errorf("error %q should start with the component", msg)
	}
	if readyCalls != 0 {
		t.Error("onReady was called although kube-scheduler never became ready")
	}
}

func TestCheckPortsReportsPortInUse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		network string
		listen  func() (addr string, closeFn func() error, err error)
	}{
		{"tcp", func() (string, func() error, error) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return "", nil, err
			}
			return l.Addr().String(), l.Close, nil
		}},
		{"udp", func() (string, func() error, error) {
			l, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				return "", nil, err
			}
			return l.LocalAddr().String(), l.Close, nil
		}},
	}
	for _, c := range cases {
		t.Run(c.network, func(t *testing.T) {
			t.Parallel()
			addr, closeFn, err := c.listen()
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			err = server.CheckPorts([]server.Port{
				{Component: "registry", Network: c.network, Addr: "127.0.0.1:0"}, // free: any port
				{Component: server.KubeAPIServer, Network: c.network, Addr: addr},
			})
			var pe *server.PreflightError
			if !errors.As(err, &pe) {
				t.Fatalf("CheckPorts = %v, want a *PreflightError", err)
			}
			for _, want := range []string{addr, "address already in use", server.KubeAPIServer, c.network} {
				if !strings.Contains(pe.Problem, want) {
					t.Errorf("problem %q lacks %q", pe.Problem, want)
				}
			}
			if strings.Contains(pe.Problem, "registry") {
				t.Errorf("problem %q names the free port", pe.Problem)
			}
			if pe.Try == "" || !strings.Contains(err.Error(), "\nTry: "+pe.Try) {
				t.Errorf("error %q carries no Try: hint", err)
			}
		})
	}
	t.Run("free", func(t *testing.T) {
		t.Parallel()
		if err := server.CheckPorts([]server.Port{{"etcd", "tcp", "127.0.0.1:0"}, {"dns", "udp", "127.0.0.1:0"}}); err != nil {
			t.Errorf("CheckPorts on free ports = %v", err)
		}
	})
}

func TestLockRefusesSecondStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	release, err := server.Lock(dir)
	if err != nil {
		t.Fatalf("first Lock: %v", err)
	}
	_, err = server.Lock(dir)
	var pe *server.PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("second Lock = %v, want a *PreflightError", err)
	}
	for _, want := range []string{"another gantry start", fmt.Sprint(os.Getpid()), dir} {
		if !strings.Contains(pe.Problem, want) {
			t.Errorf("problem %q lacks %q", pe.Problem, want)
		}
	}
	if pe.Try == "" {
		t.Error("no Try: hint")
	}
	release()
	release2, err := server.Lock(dir)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	release2()

	if _, err := server.Lock(filepath.Join(dir, "missing")); err == nil {
		t.Error("Lock of a missing directory succeeded")
	}
}

// kube-apiserver and openshift-apiserver call Gantry's webhooks with the admission webhook
// client certificate, chosen by the webhooks' host:port.
func TestAdmissionWebhookClientConfig(t *testing.T) {
	t.Parallel()
	s, w, _ := newServer(t, nil)
	if err, _ := run(t, s); err != nil {
		t.Fatal(err)
	}
	file, n := flagValue(w.argsOf(server.KubeAPIServer), "admission-control-config-file")
	if n != 1 {
		t.Fatalf("kube-apiserver has --admission-control-config-file %d times", n)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(s.Config.DataDir, "admission", "webhook-client.kubeconfig")
	for _, want := range []string{"kind: AdmissionConfiguration", "name: MutatingAdmissionWebhook", "name: ValidatingAdmissionWebhook", "kubeConfigFile: " + kubeconfig} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%s", file, want, b)
		}
	}
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	user, ok := kc.AuthInfos["10.127.0.1:8446"]
	if !ok || !strings.HasSuffix(user.ClientCertificate, "admission-webhook-client.crt") {
		t.Errorf("webhook kubeconfig users %v, want 10.127.0.1:8446 with the admission-webhook-client certificate", kc.AuthInfos)
	}
}

// The router serves applications: no service of the cluster's own start waits for it, and
// --router=false leaves it out.
func TestRouterIsALeafAndCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	s, _, _ := newServer(t, nil)
	svcs, err := s.Services()
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range svcs {
		if slices.Contains(svc.Needs, "router") {
			t.Errorf("%s needs the router", svc.Name)
		}
	}
	off, _, _ := newServer(t, func(c *server.Config) { c.Router = false })
	svcs, err = off.Services()
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range svcs {
		if svc.Name == "router" {
			t.Error("the router runs with Router false")
		}
	}
}
