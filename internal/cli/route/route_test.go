package route

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routefake "github.com/openshift/client-go/route/clientset/versioned/fake"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubefake "k8s.io/client-go/kubernetes/fake"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

func service(name string, labels map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", Labels: labels},
		Spec:       corev1.ServiceSpec{Ports: ports},
	}
}

func tcp(name string, port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: target, Protocol: corev1.ProtocolTCP}
}

func portPtr(p intstr.IntOrString) *intstr.IntOrString { return &p }

func TestRouteForServicePicksThePort(t *testing.T) {
	t.Parallel()
	udp := corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}
	tests := []struct {
		name     string
		svc      *corev1.Service
		port     string
		pickPort bool
		want     *intstr.IntOrString // nil: no spec.port
		wantErr  string
	}{
		{"named port by name", service("web", nil, tcp("http", 80, intstr.FromInt32(8080))), "", true, portPtr(intstr.FromString("http")), ""},
		{"unnamed port by the pods' port", service("web", nil, tcp("", 80, intstr.FromInt32(8080))), "", true, portPtr(intstr.FromInt32(8080)), ""},
		{"unnamed port with a named target by the service port", service("web", nil, tcp("", 80, intstr.FromString("http"))), "", true, portPtr(intstr.FromInt32(80)), ""},
		{"several ports: the first", service("web", nil, tcp("http", 80, intstr.FromInt32(8080)), tcp("admin", 9090, intstr.FromInt32(9090))), "", true, portPtr(intstr.FromString("http")), ""},
		{"the first TCP port", service("web", nil, udp, tcp("http", 80, intstr.FromInt32(8080))), "", true, portPtr(intstr.FromString("http")), ""},
		{"--port number", service("web", nil, tcp("http", 80, intstr.FromInt32(8080))), "8443", true, portPtr(intstr.FromInt32(8443)), ""},
		{"--port name", service("web", nil, tcp("http", 80, intstr.FromInt32(8080))), "admin", true, portPtr(intstr.FromString("admin")), ""},
		{"create route leaves an unnamed port to the router", service("web", nil, tcp("", 80, intstr.FromInt32(8080))), "", false, nil, ""},
		{"create route names a named port", service("web", nil, tcp("http", 80, intstr.FromInt32(8080))), "", false, portPtr(intstr.FromString("http")), ""},
		{"no TCP port", service("web", nil, udp), "", true, nil, "no TCP port"},
		{"missing service with --port", nil, "8080", true, portPtr(intstr.FromInt32(8080)), ""},
		{"missing service without --port", nil, "", true, nil, "Try:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var objs []runtime.Object
			if tt.svc != nil {
				objs = append(objs, tt.svc)
			}
			kube := kubefake.NewSimpleClientset(objs...)
			r, err := routeForService(context.Background(), kube.CoreV1(), "demo", routeSpec{Service: "web", Port: tt.port}, tt.pickPort)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && r.Spec.Port != nil:
				t.Errorf("spec.port = %v, want none", r.Spec.Port.TargetPort)
			case tt.want != nil && (r.Spec.Port == nil || r.Spec.Port.TargetPort != *tt.want):
				t.Errorf("spec.port = %v, want %v", r.Spec.Port, *tt.want)
			}
			if r.Name != "web" || r.Spec.To.Name != "web" || r.Spec.To.Kind != "Service" {
				t.Errorf("route %s to %s %s, want web to Service web", r.Name, r.Spec.To.Kind, r.Spec.To.Name)
			}
		})
	}
}

// fixture holds fake clients and the writer of a command under test.
type fixture struct {
	kube   *kubefake.Clientset
	routes *routefake.Clientset
	out    *bytes.Buffer
}

func newFixture(objs ...runtime.Object) *fixture {
	return &fixture{kube: kubefake.NewSimpleClientset(objs...), routes: routefake.NewSimpleClientset(), out: &bytes.Buffer{}}
}

func (f *fixture) writer(t *testing.T, operation, output string, dry cmdutil.DryRunStrategy) writer {
	t.Helper()
	pf := newPrintFlags(operation)
	pf.OutputFormat = &output
	cmdutil.PrintFlagsWithDryRunStrategy(pf, dry)
	p, err := pf.ToPrinter()
	if err != nil {
		t.Fatal(err)
	}
	return writer{Namespace: "demo", Routes: f.routes.RouteV1(), Services: f.kube.CoreV1(), DryRun: dry, Printer: p, Out: f.out}
}

func (f *fixture) route(t *testing.T, name string) *routev1.Route {
	t.Helper()
	r, err := f.routes.RouteV1().Routes("demo").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("route %s: %v", name, err)
	}
	return r
}

func TestExposeCreatesTheRouteWithTheServiceLabels(t *testing.T) {
	t.Parallel()
	f := newFixture(service("frontend", map[string]string{"app": "shop", "tier": "web"}, tcp("http", 80, intstr.FromInt32(8080))))
	o := &ExposeOptions{Spec: routeSpec{Service: "frontend", Hostname: "www.example.com", Path: "/shop"}, Labels: "tier=front,team=a",
		writer: f.writer(t, "exposed", "", cmdutil.DryRunNone)}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.out.String(); got != "route.route.openshift.io/frontend exposed\n" {
		t.Errorf("output %q", got)
	}
	r := f.route(t, "frontend")
	if r.Spec.Host != "www.example.com" || r.Spec.Path != "/shop" || r.Spec.Port.TargetPort.StrVal != "http" {
		t.Errorf("spec %+v", r.Spec)
	}
	want := map[string]string{"app": "shop", "tier": "front", "team": "a"}
	if len(r.Labels) != len(want) || r.Labels["app"] != "shop" || r.Labels["tier"] != "front" || r.Labels["team"] != "a" {
		t.Errorf("labels %v, want %v", r.Labels, want)
	}
	svc, _ := f.kube.CoreV1().Services("demo").Get(context.Background(), "frontend", metav1.GetOptions{})
	if svc.Labels["tier"] != "web" {
		t.Errorf("the service's labels changed: %v", svc.Labels)
	}
}

func TestExposeDryRunPrintsAndCreatesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(service("frontend", nil, tcp("", 80, intstr.FromInt32(8080))))
	o := &ExposeOptions{Spec: routeSpec{Service: "frontend", Name: "shop"}, writer: f.writer(t, "exposed", "yaml", cmdutil.DryRunClient)}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: route.openshift.io/v1", "kind: Route", "name: shop", "targetPort: 8080", "name: frontend"} {
		if !strings.Contains(f.out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, f.out.String())
		}
	}
	for _, a := range f.routes.Actions() {
		if a.GetVerb() == "create" {
			t.Errorf("dry run sent %v", a)
		}
	}
}

func TestExposeValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		o       ExposeOptions
		wantErr string
	}{
		{ExposeOptions{Spec: routeSpec{WildcardPolicy: "Subdomain"}}, ""},
		{ExposeOptions{Spec: routeSpec{WildcardPolicy: "All"}}, "--wildcard-policy=All"},
		{ExposeOptions{Labels: "a=b"}, ""},
		{ExposeOptions{Labels: "a"}, "-l a"},
	} {
		err := tt.o.Validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: error %v, want %q", tt.o, err, tt.wantErr)
		}
	}
}

func TestServiceOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"svc/web"}, "web", true},
		{[]string{"service/web"}, "web", true},
		{[]string{"services", "web"}, "web", true},
		{[]string{"svc", "web"}, "web", true},
		{[]string{"deployment/web"}, "", false},
		{[]string{"deployment", "web"}, "", false},
		{[]string{"svc/"}, "", false},
		{[]string{"web"}, "", false},
		{nil, "", false},
	} {
		got, ok := serviceOf(tt.args)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("serviceOf(%q) = %q, %t; want %q, %t", tt.args, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCreateValidate(t *testing.T) {
	t.Parallel()
	edge, pass, reenc := routev1.TLSTerminationEdge, routev1.TLSTerminationPassthrough, routev1.TLSTerminationReencrypt
	for _, tt := range []struct {
		name    string
		o       CreateOptions
		wantErr string
	}{
		{"service required", CreateOptions{Termination: edge}, "--service is required"},
		{"svc/NAME", CreateOptions{Termination: edge, Spec: routeSpec{Service: "svc/web"}}, ""},
		{"not a service", CreateOptions{Termination: edge, Spec: routeSpec{Service: "deploy/web"}}, "routes point at services"},
		{"edge redirect", CreateOptions{Termination: edge, Spec: routeSpec{Service: "web"}, InsecurePolicy: "Redirect"}, ""},
		{"edge allow", CreateOptions{Termination: edge, Spec: routeSpec{Service: "web"}, InsecurePolicy: "Allow"}, ""},
		{"unknown policy", CreateOptions{Termination: edge, Spec: routeSpec{Service: "web"}, InsecurePolicy: "redirect"}, "use Redirect, Allow, None"},
		{"passthrough allow", CreateOptions{Termination: pass, Spec: routeSpec{Service: "web"}, InsecurePolicy: "Allow"}, "use None, Redirect"},
		{"reencrypt none", CreateOptions{Termination: reenc, Spec: routeSpec{Service: "web"}, InsecurePolicy: "None"}, ""},
		{"wildcard", CreateOptions{Termination: edge, Spec: routeSpec{Service: "web", WildcardPolicy: "Everything"}}, "not a wildcard policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := tt.o
			err := o.Validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if err == nil && o.Spec.Service != "web" {
				t.Errorf("service %q, want web", o.Spec.Service)
			}
		})
	}
}

// writeKeyPair writes a self-signed certificate and its key (and a second,
// unrelated key) as PEM files.
func writeKeyPair(t *testing.T, dir string) (cert, key, otherKey string) {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "www.example.com"}, DNSNames: []string{"www.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	od, _ := x509.MarshalECPrivateKey(other)
	return write("tls.crt", "CERTIFICATE", der), write("tls.key", "PRIVATE KEY", kd), write("other.key", "EC PRIVATE KEY", od)
}

func TestTLSFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key, otherKey := writeKeyPair(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not pem at all\n"), 0o600)
	for _, tt := range []struct {
		name    string
		files   tlsFiles
		wantErr string
	}{
		{"none", tlsFiles{}, ""},
		{"pair and CA", tlsFiles{Cert: cert, Key: key, CACert: cert, DestCACert: cert}, ""},
		{"cert without key", tlsFiles{Cert: cert}, "--cert and --key go together"},
		{"unreadable", tlsFiles{Cert: filepath.Join(dir, "missing.crt"), Key: key}, "--cert: cannot read"},
		{"not PEM", tlsFiles{CACert: garbage}, "--ca-cert: " + garbage + " holds no PEM data"},
		{"key given as certificate", tlsFiles{Cert: key, Key: key}, "not a certificate"},
		{"certificate given as key", tlsFiles{Cert: cert, Key: cert}, "--key"},
		{"mismatched key", tlsFiles{Cert: cert, Key: otherKey}, "do not belong together"},
		{"destination CA not PEM", tlsFiles{DestCACert: garbage}, "--dest-ca-cert"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := tt.files.load()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.files.Cert != "" && !strings.Contains(m.Cert, "BEGIN CERTIFICATE") {
					t.Errorf("certificate content %q", m.Cert)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCreateEdgeRouteWithFiles(t *testing.T) {
	t.Parallel()
	cert, key, _ := writeKeyPair(t, t.TempDir())
	f := newFixture(service("frontend", map[string]string{"app": "shop"}, tcp("http", 80, intstr.FromInt32(8080))))
	o := &CreateOptions{Termination: routev1.TLSTerminationEdge, InsecurePolicy: "Redirect",
		Spec:   routeSpec{Name: "secure", Service: "frontend", Hostname: "www.example.com"},
		Files:  tlsFiles{Cert: cert, Key: key, CACert: cert},
		writer: f.writer(t, "created", "", cmdutil.DryRunNone)}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.out.String(); got != "route.route.openshift.io/secure created\n" {
		t.Errorf("output %q", got)
	}
	r := f.route(t, "secure")
	tls := r.Spec.TLS
	if tls == nil || tls.Termination != routev1.TLSTerminationEdge || tls.InsecureEdgeTerminationPolicy != routev1.InsecureEdgeTerminationPolicyRedirect {
		t.Fatalf("tls %+v", tls)
	}
	certPEM, _ := os.ReadFile(cert)
	if tls.Certificate != string(certPEM) || !strings.Contains(tls.Key, "PRIVATE KEY") || tls.CACertificate != string(certPEM) {
		t.Errorf("certificate material not copied: %+v", tls)
	}
	if r.Spec.To.Name != "frontend" || r.Spec.Host != "www.example.com" || r.Labels["app"] != "shop" {
		t.Errorf("route %+v", r)
	}
}

func TestCreateRefusesBadFilesBeforeSending(t *testing.T) {
	t.Parallel()
	f := newFixture(service("frontend", nil, tcp("http", 80, intstr.FromInt32(8080))))
	o := &CreateOptions{Termination: routev1.TLSTerminationReencrypt, Spec: routeSpec{Service: "frontend"},
		Files: tlsFiles{DestCACert: filepath.Join(t.TempDir(), "nope.crt")}, writer: f.writer(t, "created", "", cmdutil.DryRunNone)}
	err := o.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--dest-ca-cert: cannot read") {
		t.Fatalf("error %v", err)
	}
	if len(f.routes.Actions()) != 0 {
		t.Errorf("sent %v", f.routes.Actions())
	}
}

func TestCreatePassthroughRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(service("db", nil, tcp("", 443, intstr.FromInt32(8443))))
	o := &CreateOptions{Termination: routev1.TLSTerminationPassthrough, Spec: routeSpec{Service: "db", Hostname: "db.example.com"},
		writer: f.writer(t, "created", "", cmdutil.DryRunServer)}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sent *routev1.Route
	for _, a := range f.routes.Actions() {
		if c, ok := a.(interface{ GetObject() runtime.Object }); ok && a.GetVerb() == "create" {
			sent = c.GetObject().(*routev1.Route)
		}
	}
	if sent == nil || sent.Spec.TLS.Termination != routev1.TLSTerminationPassthrough || sent.Spec.Port != nil || sent.Spec.TLS.Certificate != "" {
		t.Fatalf("sent %+v", sent)
	}
	if got := f.out.String(); got != "route.route.openshift.io/db created (server dry run)\n" {
		t.Errorf("output %q", got)
	}
}

func TestExtendAddsCreateRouteAndWrapsExpose(t *testing.T) {
	t.Parallel()
	root := &cobra.Command{Use: "kubectl"}
	kubectlExposeRan := false
	expose := &cobra.Command{Use: "expose", Run: func(*cobra.Command, []string) { kubectlExposeRan = true }}
	for _, fl := range []string{"name", "port", "labels", "output", "type"} {
		expose.Flags().String(fl, "", "")
	}
	expose.Flags().StringSlice("filename", nil, "")
	root.AddCommand(&cobra.Command{Use: "create"}, expose)
	Extend(root, nil, genericiooptions.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})

	c, _, err := root.Find([]string{"create", "route", "reencrypt"})
	if err != nil || c.Name() != "reencrypt" || c.Flags().Lookup("dest-ca-cert") == nil {
		t.Fatalf("create route reencrypt: %v, %v", c, err)
	}
	if p, _, _ := root.Find([]string{"create", "route", "passthrough"}); p.Flags().Lookup("cert") != nil || p.Flags().Lookup("path") != nil {
		t.Error("passthrough takes --cert or --path")
	}
	for _, fl := range []string{"hostname", "path", "wildcard-policy"} {
		if expose.Flags().Lookup(fl) == nil {
			t.Errorf("expose lacks --%s", fl)
		}
	}
	// Other kinds go on to kubectl's expose.
	if err := expose.RunE(expose, []string{"deployment/web"}); err != nil || !kubectlExposeRan {
		t.Errorf("deployment/web: err %v, kubectl's expose ran %t", err, kubectlExposeRan)
	}
	expose.Flags().Set("type", "NodePort")
	if err := expose.RunE(expose, []string{"svc/web"}); err == nil || !strings.Contains(err.Error(), "--type") {
		t.Errorf("svc/web --type: err %v", err)
	}
}
