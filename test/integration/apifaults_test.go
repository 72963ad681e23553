package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

// testNamespace makes a namespace for one test and removes it afterwards.
func testNamespace(t *testing.T, name string) string {
	t.Helper()
	_, err := cluster.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

func routes(t *testing.T) routeclient.Interface {
	t.Helper()
	c := rest.CopyConfig(cluster.Config)
	c.QPS, c.Burst = 200, 400 // client-side throttling would serialize the concurrent tests
	rc, err := routeclient.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestInvalidRouteListsEveryInvalidField(t *testing.T) {
	ns := testNamespace(t, "faults-invalid")
	bad := &routev1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: routev1.RouteSpec{
			Host: "-not a host-",
			Path: "no-leading-slash",
			To:   routev1.RouteTargetReference{Kind: "Service"},
			TLS:  &routev1.TLSConfig{Termination: "sideways"},
		},
	}
	_, err := routes(t).RouteV1().Routes(ns).Create(t.Context(), bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("create invalid route: %v, want 422 Invalid", err)
	}
	var status apierrors.APIStatus
	errors.As(err, &status)
	fields := map[string]bool{}
	for _, c := range status.Status().Details.Causes {
		fields[c.Field] = true
	}
	for _, f := range []string{"spec.host", "spec.path", "spec.to.name", "spec.tls.termination"} {
		if !fields[f] {
			t.Errorf("no cause for %s; causes: %+v", f, status.Status().Details.Causes)
		}
	}
}

func TestStaleResourceVersionIsAConflict(t *testing.T) {
	ns := testNamespace(t, "faults-conflict")
	rc := routes(t).RouteV1().Routes(ns)
	r, err := rc.Create(t.Context(), newRoute("r"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := r.DeepCopy()
	r.Spec.Path = "/one"
	if _, err := rc.Update(t.Context(), r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale.Spec.Path = "/two"
	if _, err := rc.Update(t.Context(), stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: %v, want 409 Conflict", err)
	}
	stale.Status.Ingress = []routev1.RouteIngress{{Host: "x.example.com", RouterName: "default"}}
	if _, err := rc.UpdateStatus(t.Context(), stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("status update with a stale resourceVersion: %v, want 409 Conflict", err)
	}
}

// TestConcurrentReadModifyWriteLosesNoUpdate has writers add one label each
// to the same route, retrying on conflict; every label must be there.
func TestConcurrentReadModifyWriteLosesNoUpdate(t *testing.T) {
	ns := testNamespace(t, "faults-rmw")
	rc := routes(t).RouteV1().Routes(ns)
	if _, err := rc.Create(t.Context(), newRoute("shared"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- retry.RetryOnConflict(contended, func() error {
				r, err := rc.Get(t.Context(), "shared", metav1.GetOptions{})
				if err != nil {
					return err
				}
				if r.Labels == nil {
					r.Labels = map[string]string{}
				}
				r.Labels[fmt.Sprintf("writer-%d", i)] = "yes"
				_, err = rc.Update(t.Context(), r, metav1.UpdateOptions{})
				return err
			})
		}()
		go func() {
			defer wg.Done()
			errs <- retry.RetryOnConflict(contended, func() error {
				r, err := rc.Get(t.Context(), "shared", metav1.GetOptions{})
				if err != nil {
					return err
				}
				r.Status.Ingress = append(r.Status.Ingress, routev1.RouteIngress{Host: "h.example.com", RouterName: fmt.Sprintf("router-%d", i)})
				_, err = rc.UpdateStatus(t.Context(), r, metav1.UpdateOptions{})
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := rc.Get(t.Context(), "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Labels) != writers+1 { // and unroutedLabel
		t.Errorf("%d labels after %d concurrent writers: %v", len(r.Labels), writers, r.Labels)
	}
	if len(r.Status.Ingress) != writers {
		t.Errorf("%d status entries after %d concurrent status writers", len(r.Status.Ingress), writers)
	}
}

func TestWatchResumedFromAResourceVersionSeesEveryChangeOnce(t *testing.T) {
	ns := testNamespace(t, "faults-watch")
	rc := routes(t).RouteV1().Routes(ns)
	first, err := rc.Create(t.Context(), newRoute("w0"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 1; i <= 5; i++ {
		r, err := rc.Create(t.Context(), newRoute(fmt.Sprintf("w%d", i)), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, "ADDED "+r.Name)
	}
	if err := rc.Delete(t.Context(), "w1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "DELETED w1")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	w, err := rc.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	for len(got) < len(want) {
		select {
		case e := <-w.ResultChan():
			r, ok := e.Object.(*routev1.Route)
			if !ok {
				t.Fatalf("event %s with %T: %v", e.Type, e.Object, e.Object)
			}
			got = append(got, string(e.Type)+" "+r.Name)
		case <-ctx.Done():
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	select {
	case e := <-w.ResultChan():
		if e.Type != watch.Bookmark {
			t.Errorf("extra event %s after the expected ones", e.Type)
		}
	case <-time.After(2 * time.Second):
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", got, want)
	}
}

// rawClient talks HTTP to kube-apiserver as the cluster admin, for bodies a
// typed client would never send.
func rawClient(t *testing.T) (*http.Client, string) {
	t.Helper()
	tc, err := rest.TLSConfigFor(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}, cluster.Config.Host
}

func TestHostileBodiesGetAQuick4xx(t *testing.T) {
	ns := testNamespace(t, "faults-hostile")
	if _, err := routes(t).RouteV1().Routes(ns).Create(t.Context(), newRoute("target"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client, host := rawClient(t)
	base := host + "/apis/route.openshift.io/v1/namespaces/" + ns + "/routes"

	laughs := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for i := 'b'; i <= 'j'; i++ {
		laughs += fmt.Sprintf("%c: &%c [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", i, i, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = string(i)
	}
	deep := strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)
	var ops bytes.Buffer
	ops.WriteString("[")
	for i := range 100_000 {
		if i > 0 {
			ops.WriteString(",")
		}
		ops.WriteString(`{"op":"add","path":"/metadata/labels/a","value":"b"}`)
	}
	ops.WriteString("]")
	huge := `{"apiVersion":"route.openshift.io/v1","kind":"Route","metadata":{"name":"huge","annotations":{"x":"` + strings.Repeat("x", 4<<20) + `"}},"spec":{"to":{"kind":"Service","name":"s"}}}`

	cases := []struct {
		name, method, url, contentType, body string
	}{
		{"yaml billion laughs", http.MethodPost, base, "application/yaml", laughs},
		{"json nested a million deep", http.MethodPost, base, "application/json", `{"apiVersion":"route.openshift.io/v1","kind":"Route","metadata":{"name":"deep"},"spec":` + deep + `}`},
		{"100000-operation json patch", http.MethodPatch, base + "/target", string(types.JSONPatchType), ops.String()},
		{"body over the size limit", http.MethodPost, base, "application/json", huge},
		{"name with a slash", http.MethodPost, base, "application/json", `{"apiVersion":"route.openshift.io/v1","kind":"Route","metadata":{"name":"a/b"},"spec":{"to":{"kind":"Service","name":"s"}}}`},
		{"name ..", http.MethodPost, base, "application/json", `{"apiVersion":"route.openshift.io/v1","kind":"Route","metadata":{"name":".."},"spec":{"to":{"kind":"Service","name":"s"}}}`},
		{"name with NUL", http.MethodPost, base, "application/json", `{"apiVersion":"route.openshift.io/v1","kind":"Route","metadata":{"name":"a\u0000b"},"spec":{"to":{"kind":"Service","name":"s"}}}`},
		{"get name ..", http.MethodGet, base + "/..%2f..%2fsecrets", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), c.method, c.url, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("status %d after %s, want 4xx: %s", resp.StatusCode, time.Since(start).Round(time.Millisecond), body)
			}
			var st metav1.Status
			if json.Unmarshal(body, &st) == nil && st.Message == "" && resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d without a message: %s", resp.StatusCode, body)
			}
		})
	}
	// Nothing was created by any of them.
	list, err := routes(t).RouteV1().Routes(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("%d routes after hostile requests, want only the target", len(list.Items))
	}
}

// contended retries long enough for 16 writers on one object (no Cap: a
// capped wait.Backoff stops after reaching it).
var contended = wait.Backoff{Steps: 300, Duration: 20 * time.Millisecond, Factor: 1, Jitter: 1}

// newRoute returns a route no router serves (unroutedLabel): the tests
// using it are about the API, and a router writing status would change
// the resource versions and events they check.
func newRoute(name string) *routev1.Route {
	return &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{unroutedLabel: ""}},
		Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: name}}}
}

// compactEtcd compacts the cluster's etcd at its current revision, as
// kube-apiserver does every few minutes, so older resource versions are gone.
func compactEtcd(t *testing.T) int64 {
	t.Helper()
	dir := filepath.Join(cluster.DataDir, "pki", "etcd")
	tlsInfo := transport.TLSInfo{CertFile: filepath.Join(dir, "apiserver-client.crt"), KeyFile: filepath.Join(dir, "apiserver-client.key"), TrustedCAFile: filepath.Join(dir, "ca.crt")}
	tc, err := tlsInfo.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://127.0.0.1:2379"}, TLS: tc, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Get(t.Context(), "compact-probe")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(t.Context(), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func TestWatchFromACompactedResourceVersionIsGone(t *testing.T) {
	ns := testNamespace(t, "faults-compacted")
	rc := routes(t).RouteV1().Routes(ns)
	if _, err := rc.Create(t.Context(), newRoute("c0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	compactEtcd(t)
	// "2" predates both the compaction and the server's watch cache.
	w, err := rc.Watch(t.Context(), metav1.ListOptions{ResourceVersion: "2"})
	if err == nil {
		defer w.Stop()
		select {
		case e := <-w.ResultChan():
			status, ok := e.Object.(*metav1.Status)
			if e.Type != watch.Error || !ok || status.Code != http.StatusGone {
				t.Fatalf("first event %s %v, want an ERROR event with 410 Gone", e.Type, e.Object)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event from a watch on a compacted resource version")
		}
	} else if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from a compacted resource version: %v, want 410 Gone", err)
	}
	// A client recovers the usual way: list again and watch from there.
	list, err := rc.List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := rc.Watch(t.Context(), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	w2.Stop()
}
