package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/test/harness"
)

// gantryCLI runs the gantry binary with its own copy of the admin kubeconfig
// (project switches write to it).
type gantryCLI struct {
	t          *testing.T
	bin        string
	kubeconfig string
}

func newCLI(t *testing.T) *gantryCLI {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return &gantryCLI{t: t, bin: bin, kubeconfig: kc}
}

// run returns the combined output; failing commands fail the test.
func (c *gantryCLI) run(stdin string, args ...string) string {
	c.t.Helper()
	out, err := c.try(stdin, args...)
	if err != nil {
		c.t.Fatalf("gantry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *gantryCLI) try(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(c.t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func wantContains(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

const cliRoute = `apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: web
spec:
  host: web.apps.example.com
  path: /shop
  to: {kind: Service, name: web}
  port: {targetPort: http}
  tls: {termination: edge, insecureEdgeTerminationPolicy: Redirect}
`

const cliDC = `apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: web}
spec:
  replicas: 1
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.example.com/web:1}]
`

func TestCLIProjectsAndGenericVerbs(t *testing.T) {
	cli := newCLI(t)
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), "cli-demo", metav1.DeleteOptions{})
	})

	wantContains(t, cli.run("", "--version"), "gantry ")
	wantContains(t, cli.run("", "new-project", "cli-demo", "--display-name=CLI Demo", "--description=made by the CLI test"),
		`Now using project "cli-demo" on server`)
	wantContains(t, cli.run("", "project"), `Using project "cli-demo"`)
	wantContains(t, cli.run("", "projects"), "* cli-demo - CLI Demo")
	if out, err := cli.try("", "new-project", "cli-demo"); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("second new-project: %v\n%s", err, out)
	}

	// Generic verbs on OpenShift resources, in the current project.
	wantContains(t, cli.run(cliRoute, "create", "-f", "-"), "route.route.openshift.io/web created")
	wantContains(t, cli.run("", "get", "routes"), "HOST/PORT", "SERVICES", "TERMINATION", "web.apps.example.com", "/shop", "edge/Redirect")
	wantContains(t, cli.run("", "describe", "route", "web"), "web.apps.example.com")
	wantContains(t, cli.run("", "label", "route", "web", "tier=frontend"), "labeled")
	wantContains(t, cli.run("", "annotate", "route", "web", "owner=shop-team"), "annotated")
	wantContains(t, cli.run("", "get", "routes", "-l", "tier=frontend", "-o", "name"), "route.route.openshift.io/web")
	// Server-side apply uses the OpenAPI schema the aggregated server publishes.
	wantContains(t, cli.run(strings.Replace(cliRoute, "/shop", "/store", 1), "apply", "--server-side", "--force-conflicts", "-f", "-"), "serverside-applied")
	wantContains(t, cli.run("", "get", "route", "web", "-o", "jsonpath={.spec.path} {.metadata.labels.tier}"), "/store frontend")
	wantContains(t, cli.run("", "explain", "route.spec.tls.termination"), "termination")
	wantContains(t, cli.run("", "api-resources", "--api-group=image.openshift.io"), "imagestreams", "is ", "imagestreamtags")
	wantContains(t, cli.run("", "delete", "route", "web"), `route.route.openshift.io "web" deleted`)
	wantContains(t, cli.run(cliDC, "create", "-f", "-"), "deploymentconfig.apps.openshift.io/web created")
	wantContains(t, cli.run("", "scale", "dc/web", "--replicas=3"), "scaled")
	wantContains(t, cli.run("", "get", "dc", "web"), "REVISION", "DESIRED", "TRIGGERED BY", "config")
	wantContains(t, cli.run("", "get", "dc", "web", "-o", "jsonpath={.spec.replicas}"), "3")

	// Invalid input is refused with the field and what is expected.
	out, err := cli.try(strings.Replace(cliRoute, "path: /shop", "path: shop", 1), "create", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.path") {
		t.Errorf("create with a bad path: %v\n%s", err, out)
	}

	wantContains(t, cli.run("", "delete", "project", "cli-demo"), `project.project.openshift.io "cli-demo" deleted`)
	err = harness.Eventually(t.Context(), 2*time.Minute, func(ctx context.Context) error {
		_, err := cluster.Client.CoreV1().Namespaces().Get(ctx, "cli-demo", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace still there (%v)", err)
	})
	if err != nil {
		t.Errorf("project cli-demo not gone: %v", err)
	}
}
