package integration

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/test/harness"
)

// `gantry openshift-apiserver` serves the OpenShift API for a cluster it
// did not start: here the test cluster's kube-apiserver and etcd, on another
// port and etcd prefix, reached directly with the admin's client certificate.
func TestStandaloneOpenShiftAPIServer(t *testing.T) {
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(cluster.DataDir, "pki")
	const port = 18443
	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, bin, "openshift-apiserver",
		"--kubeconfig", cluster.Kubeconfig,
		"--etcd-servers", "https://127.0.0.1:2379",
		"--etcd-cafile", filepath.Join(pki, "etcd", "ca.crt"),
		"--etcd-certfile", filepath.Join(pki, "etcd", "openshift-apiserver-client.crt"),
		"--etcd-keyfile", filepath.Join(pki, "etcd", "openshift-apiserver-client.key"),
		"--etcd-prefix", "/standalone-test",
		"--bind-address", harness.NodeIP, "--secure-port", fmt.Sprint(port),
		"--tls-cert-file", filepath.Join(pki, "openshift-apiserver-serving.crt"),
		"--tls-private-key-file", filepath.Join(pki, "openshift-apiserver-serving.key"))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()

	c := rest.CopyConfig(cluster.Config)
	c.Host = fmt.Sprintf("https://%s:%d", harness.NodeIP, port)
	rc, err := routeclient.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	r := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "standalone"}, Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "s"}}}
	err = harness.Eventually(t.Context(), time.Minute, func(ctx context.Context) error {
		_, err := rc.RouteV1().Routes("default").Create(ctx, r, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("create through the standalone server: %v\n%s", err, out)
	}
	got, err := rc.RouteV1().Routes("default").Get(t.Context(), "standalone", metav1.GetOptions{})
	if err != nil || got.Spec.WildcardPolicy != routev1.WildcardPolicyNone {
		t.Fatalf("get: %v %+v (defaults applied: want wildcardPolicy None)", err, got)
	}
	// Its own etcd prefix: the in-process server does not see the route.
	main, err := routeclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := main.RouteV1().Routes("default").Get(t.Context(), "standalone", metav1.GetOptions{}); err == nil {
		t.Error("a route stored under /standalone-test shows up under /openshift.io")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// `gantry registry` serves the integrated registry on its own, with a kubeconfig bound to
// system:registry: a user's push is authorized and recorded in the image stream with the
// registry's own host name.
func TestStandaloneRegistry(t *testing.T) {
	const addr = "127.0.0.1:15000"
	out := startStandaloneRegistry(t, addr)
	ctx := t.Context()
	u := newRegistryUser(t, "standalone-reg")
	img := testImage(t)
	err := harness.Eventually(t.Context(), time.Minute, func(ctx context.Context) error {
		return remote.Write(ref(t, addr+"/"+u.project+"/app:v1"), img, remote.WithContext(ctx), remote.WithAuth(u.auth()))
	})
	if err != nil {
		t.Fatalf("push to the standalone registry: %v\n%s", err, out)
	}
	if err := remote.Write(ref(t, addr+"/"+u.project+"/app:v2"), img, remote.WithContext(ctx), remote.WithAuth(authn.Anonymous)); err == nil {
		t.Error("anonymous push accepted")
	}
	ist, err := imageClient(t).ImageV1().ImageStreamTags(u.project).Get(t.Context(), "app:v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ist.Image.DockerImageReference, "registry.example:5000/"+u.project+"/app@") {
		t.Errorf("pushed image reference %q, want the standalone registry's host name", ist.Image.DockerImageReference)
	}
}

// startStandaloneRegistry runs `gantry registry` on addr as the cluster's registry identity, with
// empty storage and the host name registry.example:5000, until the test ends. It returns the
// process's output.
func startStandaloneRegistry(t *testing.T, addr string, args ...string) *lockedBuffer {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"registry",
		"--kubeconfig", filepath.Join(cluster.DataDir, "kubeconfig", "registry.kubeconfig"),
		"--listen", addr, "--storage-dir", t.TempDir(), "--hostname", "registry.example:5000"}, args...)...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	return out
}
