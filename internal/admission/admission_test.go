package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gantry-dev/gantry/internal/admission/imagelookup"
	"github.com/gantry-dev/gantry/internal/pki"
)

type oneStream struct{ s *imagev1.ImageStream }

func (o oneStream) Get(_ context.Context, ns, name string, _ bool) (*imagev1.ImageStream, error) {
	if o.s.Namespace == ns && o.s.Name == name {
		return o.s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "imagestreams"}, name)
}

// serve starts the server on a loopback port with a certificate of a fresh CA; it returns the
// URL and that CA.
func serve(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	url, pool, _ := serveWith(t, nil)
	return url, pool
}

// serveWith is serve with the server's configuration changed by configure; it also returns
// the CA, to issue client certificates.
func serveWith(t *testing.T, configure func(*Config, *pki.CA)) (string, *x509.CertPool, *pki.CA) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.EnsureCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue(dir, pki.Spec{Name: "serving", CommonName: "admission", Server: true, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := Config{Addr: addr, CertFile: pair.CertFile, KeyFile: pair.KeyFile, ImageLookup: &imagelookup.Handler{Streams: oneStream{&imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "echo"},
		Spec:       imagev1.ImageStreamSpec{LookupPolicy: imagev1.ImageLookupPolicy{Local: true}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{{Tag: "v1", Items: []imagev1.TagEvent{
			{DockerImageReference: "127.0.0.1:5000/proj/echo@sha256:abababababababababababababababababababababababababababababababab", Image: "sha256:abababababababababababababababababababababababababababababababab"}}}}},
	}}}}
	if configure != nil {
		configure(&cfg, ca)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	listening := make(chan struct{})
	go func() { done <- s.Run(ctx, func() { close(listening) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after stop = %v", err)
		}
	})
	select {
	case <-listening:
	case err := <-done:
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(ca.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return "https://" + addr, pool, ca
}

func TestProbeNeedsTheClusterCA(t *testing.T) {
	t.Parallel()
	url, pool := serve(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := Probe(ctx, url, pool); err != nil {
		t.Fatalf("Probe with the CA = %v", err)
	}
	if err := Probe(ctx, url, x509.NewCertPool()); err == nil {
		t.Error("Probe trusting nothing succeeded")
	}
}

func TestServesImageLookupOverTLS(t *testing.T) {
	t.Parallel()
	url, pool := serve(t)
	pod := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"echo:v1"}]}}`)
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "req-1", Operation: admissionv1.Create, Namespace: "proj",
			Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Object: runtime.RawExtension{Raw: pod}},
	})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(pool)}}
	resp, err := c.Post(url+imagelookup.Path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Kind != "AdmissionReview" || out.APIVersion != "admission.k8s.io/v1" || out.Response == nil || out.Response.UID != "req-1" || !out.Response.Allowed {
		t.Fatalf("response %+v, want an allowed v1 AdmissionReview for req-1", out)
	}
	if want := `[{"op":"replace","path":"/spec/containers/0/image","value":"127.0.0.1:5000/proj/echo@sha256:abababababababababababababababababababababababababababababababab"}]`; string(out.Response.Patch) != want {
		t.Errorf("patch %s, want %s", out.Response.Patch, want)
	}
	// Not a review: 400, not a crash.
	resp, err = c.Post(url+imagelookup.Path, "application/json", strings.NewReader(`{"kind":"Pod"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a body without a request: %s, want 400", resp.Status)
	}
}

func TestImageLookupConfiguration(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	cfg := ImageLookupConfiguration("https://10.127.0.1:8446", []byte("CA"))
	for range 2 { // every start applies it again
		if err := Register(t.Context(), cs, cfg); err != nil {
			t.Fatal(err)
		}
	}
	got, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(t.Context(), ImageLookupWebhook, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Webhooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(got.Webhooks))
	}
	w := got.Webhooks[0]
	if *w.ClientConfig.URL != "https://10.127.0.1:8446/mutate/imagelookup" || string(w.ClientConfig.CABundle) != "CA" {
		t.Errorf("client config %+v", w.ClientConfig)
	}
	if *w.FailurePolicy != admissionregistrationv1.Fail || *w.SideEffects != admissionregistrationv1.SideEffectClassNone ||
		*w.TimeoutSeconds != 5 || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("failure %v, side effects %v, timeout %v, reinvocation %v", *w.FailurePolicy, *w.SideEffects, *w.TimeoutSeconds, *w.ReinvocationPolicy)
	}
	covered := map[string]bool{}
	for _, r := range w.Rules {
		if !slices.Equal(r.Operations, []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}) {
			t.Errorf("rule %v: operations %v", r.Resources, r.Operations)
		}
		for _, res := range r.Resources {
			covered[r.APIGroups[0]+"/"+res] = true
		}
	}
	for _, want := range []string{"/pods", "/replicationcontrollers", "apps/deployments", "apps/replicasets", "apps/statefulsets",
		"apps/daemonsets", "batch/jobs", "batch/cronjobs", "apps.openshift.io/deploymentconfigs"} {
		if !covered[want] {
			t.Errorf("%s not covered; rules %+v", want, w.Rules)
		}
	}
	sel := w.NamespaceSelector.MatchExpressions
	if len(sel) != 1 || sel[0].Key != "kubernetes.io/metadata.name" || sel[0].Operator != metav1.LabelSelectorOpNotIn || !slices.Equal(sel[0].Values, SystemNamespaces) {
		t.Errorf("namespace selector %+v, want every namespace but %v", sel, SystemNamespaces)
	}
}

func TestWebhookAnswersOnlyTheAPIServers(t *testing.T) {
	t.Parallel()
	url, pool, ca := serveWith(t, func(c *Config, ca *pki.CA) {
		c.ClientCAFile, c.AllowedClients = ca.CertFile, []string{"kube-apiserver"}
	})
	dir := t.TempDir()
	client := func(cn string) *http.Client {
		cfg := tlsConfig(pool)
		if cn != "" {
			p, err := ca.Issue(dir, pki.Spec{Name: cn, CommonName: cn, Client: true})
			if err != nil {
				t.Fatal(err)
			}
			cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	for _, c := range []struct {
		cn   string
		want int
	}{{"", http.StatusForbidden}, {"mallory", http.StatusForbidden}, {"kube-apiserver", http.StatusBadRequest}} {
		resp, err := client(c.cn).Post(url+imagelookup.Path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("client %q: %s, want %d", c.cn, resp.Status, c.want)
		}
	}
	// The health check needs no certificate.
	if err := Probe(t.Context(), url, pool); err != nil {
		t.Errorf("Probe without a client certificate: %v", err)
	}
}
