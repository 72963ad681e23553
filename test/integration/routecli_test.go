package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/test/harness"
)

// routeAPIServerPort is the port of the openshift-apiserver with a routing
// suffix that TestRouteCLI starts.
const routeAPIServerPort = 18445

// `gantry expose`, `gantry create route`, `gantry set route-backends` and
// `gantry get routes` as a user types them, against the test cluster; the
// routes/custom-host permission for users who may create routes but not
// choose their host; and host generation by an openshift-apiserver started
// with --routing-suffix.
func TestRouteCLI(t *testing.T) {
	ctx := t.Context()
	ns := "routecli"
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cluster.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "frontend", Labels: map[string]string{"app": "shop"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "canary"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8081)}}}},
	} {
		if _, err := cluster.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	routes := routeClient(t, cluster.Config).RouteV1().Routes(ns)
	get := func(name string) *routev1.Route {
		t.Helper()
		r, err := routes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("route %s: %v", name, err)
		}
		return r
	}
	cli := newCLI(t)

	// expose: the route is named like the service, has its labels and its named port.
	wantOutput(t, cli.run("", "expose", "svc/frontend", "-n", ns, "--hostname=www.routecli.test"), "route.route.openshift.io/frontend exposed\n")
	r := get("frontend")
	if r.Spec.Host != "www.routecli.test" || r.Spec.To.Name != "frontend" || r.Spec.Port == nil || r.Spec.Port.TargetPort != intstr.FromString("http") || r.Labels["app"] != "shop" {
		t.Errorf("exposed route %+v, labels %v", r.Spec, r.Labels)
	}
	// An unnamed port goes by the pods' port; --dry-run creates nothing.
	out := cli.run("", "expose", "service", "canary", "-n", ns, "--path=/beta", "--dry-run=client", "-o", "yaml")
	wantContains(t, out, "kind: Route", "name: canary", "path: /beta", "targetPort: 8081")
	if _, err := routes.Get(ctx, "canary", metav1.GetOptions{}); err == nil {
		t.Error("expose --dry-run=client created the route")
	}
	out, err := cli.try("", "expose", "svc/nothere", "-n", ns)
	wantFailure(t, out, err, `error: service "nothere" not found in project `+ns, "Try:")

	// create route edge with certificate files.
	dir := t.TempDir()
	cert, key := writeRouteKeyPair(t, dir, "secure.routecli.test")
	wantOutput(t, cli.run("", "create", "route", "edge", "secure", "-n", ns, "--service=frontend", "--hostname=secure.routecli.test",
		"--cert="+cert, "--key="+key, "--ca-cert="+cert, "--insecure-policy=Redirect"), "route.route.openshift.io/secure created\n")
	r = get("secure")
	certPEM, _ := os.ReadFile(cert)
	if tls := r.Spec.TLS; tls == nil || tls.Termination != routev1.TLSTerminationEdge || tls.Certificate != string(certPEM) ||
		tls.InsecureEdgeTerminationPolicy != routev1.InsecureEdgeTerminationPolicyRedirect || !strings.Contains(tls.Key, "PRIVATE KEY") {
		t.Errorf("edge route tls %+v", r.Spec.TLS)
	}
	wantOutput(t, cli.run("", "create", "route", "passthrough", "-n", ns, "--service=svc/canary", "--hostname=pass.routecli.test"),
		"route.route.openshift.io/canary created\n")
	out, err = cli.try("", "create", "route", "edge", "-n", ns, "--hostname=x.routecli.test")
	wantFailure(t, out, err, "error: a route needs a service: --service is required")
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o600)
	out, err = cli.try("", "create", "route", "reencrypt", "-n", ns, "--service=frontend", "--dest-ca-cert="+garbage)
	wantFailure(t, out, err, "error: --dest-ca-cert: "+garbage+" holds no PEM data")

	// set route-backends.
	wantOutput(t, cli.run("", "set", "route-backends", "frontend", "-n", ns, "frontend=60", "canary=40"), "route.route.openshift.io/frontend backends updated\n")
	wantContains(t, cli.run("", "set", "route-backends", "frontend", "-n", ns), "NAME", "WEIGHT", "routes/frontend  Service  frontend  60 (60%)", "routes/frontend  Service  canary    40 (40%)")
	wantOutput(t, cli.run("", "set", "route-backends", "frontend", "-n", ns, "--adjust", "canary=+10%"), "route.route.openshift.io/frontend backends updated\n")
	r = get("frontend")
	if len(r.Spec.AlternateBackends) != 1 || *r.Spec.To.Weight != 50 || *r.Spec.AlternateBackends[0].Weight != 50 {
		t.Errorf("after --adjust canary=+10%%: to %v, alternates %v", r.Spec.To, r.Spec.AlternateBackends)
	}
	out, err = cli.try("", "set", "route-backends", "frontend", "-n", ns, "a=1", "b=1", "c=1", "d=1", "e=1")
	wantFailure(t, out, err, "at most 4 backends")

	// get routes: oc's columns.
	out = cli.run("", "get", "routes", "-n", ns)
	t.Logf("gantry get routes:\n%s", out)
	wantRow(t, out, "NAME", "HOST/PORT", "PATH", "SERVICES", "PORT", "TERMINATION", "WILDCARD")
	wantRow(t, out, "frontend", "www.routecli.test", "frontend(50%),canary(50%)", "http", "None")
	wantRow(t, out, "secure", "secure.routecli.test", "frontend", "http", "edge/Redirect", "None")
	wantRow(t, out, "canary", "pass.routecli.test", "canary", "<all>", "passthrough", "None")

	t.Run("custom host permission", func(t *testing.T) { testRouteCustomHost(t, cli, ns) })
	t.Run("generated hosts", func(t *testing.T) { testGeneratedHosts(t, ns) })
}

// Rob may create routes but not set their host (a role without
// routes/custom-host); Eddie has the edit role, which includes it.
func testRouteCustomHost(t *testing.T, cli *gantryCLI, ns string) {
	ctx := t.Context()
	rbac := cluster.Client.RbacV1()
	if _, err := rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "route-creator"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "list", "create"}, APIGroups: []string{routev1.GroupName}, Resources: []string{"routes"}},
			{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"services"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "rob"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "route-creator"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "rob"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "eddie"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "eddie"}}},
	} {
		if _, err := rbac.RoleBindings(ns).Create(ctx, &b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	as := func(user string) []string {
		return []string{"-n", ns, "--as=" + user, "--as-group=system:authenticated"}
	}
	// Authorization is cached for a moment: the new bindings may take a few tries to be seen.
	var out string
	err := harness.Eventually(ctx, time.Minute, func(context.Context) error {
		var err error
		out, err = cli.try("", append([]string{"expose", "svc/frontend", "--name=rob-plain"}, as("rob")...)...)
		return err
	})
	if err != nil {
		t.Fatalf("rob cannot expose a route without a host: %v\n%s", err, out)
	}
	wantOutput(t, out, "route.route.openshift.io/rob-plain exposed\n")
	out, err = cli.try("", append([]string{"expose", "svc/frontend", "--name=rob-host", "--hostname=rob.routecli.test"}, as("rob")...)...)
	wantFailure(t, out, err, "spec.host: Forbidden: you do not have permission to set the host field of the route", "routes/custom-host", "Try:")
	cert, key := writeRouteKeyPair(t, t.TempDir(), "rob.routecli.test")
	out, err = cli.try("", append([]string{"create", "route", "edge", "rob-tls", "--service=frontend", "--cert=" + cert, "--key=" + key}, as("rob")...)...)
	wantFailure(t, out, err, "spec.tls: Forbidden: you do not have permission to set certificate fields on the route")
	// Edge termination with the router's certificate needs nothing more.
	wantOutput(t, cli.run("", append([]string{"create", "route", "edge", "rob-edge", "--service=frontend"}, as("rob")...)...), "route.route.openshift.io/rob-edge created\n")

	err = harness.Eventually(ctx, time.Minute, func(context.Context) error {
		var err error
		out, err = cli.try("", append([]string{"expose", "svc/frontend", "--name=eddie-host", "--hostname=eddie.routecli.test"}, as("eddie")...)...)
		return err
	})
	if err != nil {
		t.Fatalf("eddie (edit) cannot set a host: %v\n%s", err, out)
	}
	wantOutput(t, out, "route.route.openshift.io/eddie-host exposed\n")
}

// An openshift-apiserver with --routing-suffix gives routes without a host
// <name>-<namespace>.<suffix>, keeps it on updates without a host, and
// leaves explicit hosts alone.
func testGeneratedHosts(t *testing.T, ns string) {
	ctx := t.Context()
	routes := startRouteAPIServer(t, "apps.routecli.test").RouteV1().Routes(ns)
	r, err := routes.Create(ctx, &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "frontend"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "web-" + ns + ".apps.routecli.test"; r.Spec.Host != want || r.Annotations["openshift.io/host.generated"] != "true" {
		t.Errorf("host %q (annotations %v), want generated %s", r.Spec.Host, r.Annotations, want)
	}
	r.Spec.Host = ""
	r.Spec.Path = "/v2"
	if r, err = routes.Update(ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Spec.Host, "web-") {
		t.Errorf("an update without a host changed it to %q", r.Spec.Host)
	}
	own, err := routes.Create(ctx, &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "own"},
		Spec: routev1.RouteSpec{Host: "own.example.com", To: routev1.RouteTargetReference{Kind: "Service", Name: "frontend"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if own.Spec.Host != "own.example.com" || own.Annotations["openshift.io/host.generated"] != "" {
		t.Errorf("explicit host became %q (annotations %v)", own.Spec.Host, own.Annotations)
	}
	_, err = routes.Create(ctx, &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("x", 60)},
		Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "frontend"}}}, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "shorter route name") {
		t.Errorf("a route whose generated host is too long: %v", err)
	}
}

// startRouteAPIServer runs a second openshift-apiserver with a routing
// suffix, storing under its own etcd prefix, and returns a client of it.
func startRouteAPIServer(t *testing.T, suffix string) routeclient.Interface {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(cluster.DataDir, "pki")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "openshift-apiserver",
		"--kubeconfig", cluster.Kubeconfig,
		"--etcd-servers", "https://127.0.0.1:2379",
		"--etcd-cafile", filepath.Join(pki, "etcd", "ca.crt"),
		"--etcd-certfile", filepath.Join(pki, "etcd", "openshift-apiserver-client.crt"),
		"--etcd-keyfile", filepath.Join(pki, "etcd", "openshift-apiserver-client.key"),
		"--etcd-prefix", "/routecli-test",
		"--bind-address", harness.NodeIP, "--secure-port", fmt.Sprint(routeAPIServerPort),
		"--tls-cert-file", filepath.Join(pki, "openshift-apiserver-serving.crt"),
		"--tls-private-key-file", filepath.Join(pki, "openshift-apiserver-serving.key"),
		"--routing-suffix", suffix)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("openshift-apiserver --routing-suffix %s:\n%s", suffix, out)
		}
	})
	c := rest.CopyConfig(cluster.Config)
	c.Host = fmt.Sprintf("https://%s:%d", harness.NodeIP, routeAPIServerPort)
	rc := routeClient(t, c)
	err = harness.Eventually(t.Context(), time.Minute, func(ctx context.Context) error {
		_, err := rc.RouteV1().Routes("default").List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("the openshift-apiserver with a routing suffix did not serve: %v\n%s", err, out)
	}
	return rc
}

func routeClient(t *testing.T, c *rest.Config) routeclient.Interface {
	t.Helper()
	rc, err := routeclient.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// wantRow checks that one line of a table holds the cells, in order,
// separated by spaces only.
func wantRow(t *testing.T, table string, cells ...string) {
	t.Helper()
	quoted := make([]string, len(cells))
	for i, c := range cells {
		quoted[i] = regexp.QuoteMeta(c)
	}
	re := regexp.MustCompile(`(?m)^` + strings.Join(quoted, `\s+`) + `\s*$`)
	if !re.MatchString(table) {
		t.Errorf("no row %q in\n%s", cells, table)
	}
}

// writeRouteKeyPair writes a self-signed certificate for host and its key.
func writeRouteKeyPair(t *testing.T, dir, host string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		// Its own CA too, so that it verifies as --ca-cert of itself.
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, host+".crt"), filepath.Join(dir, host+".key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
