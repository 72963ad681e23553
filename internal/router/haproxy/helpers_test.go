package haproxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// route is a route fixture serving service name on host.
func route(ns, name, host, path string) *routev1.Route {
	r := &routev1.Route{}
	r.Namespace, r.Name, r.UID = ns, name, types.UID("uid-"+ns+"-"+name)
	r.ResourceVersion = "1"
	r.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r.Spec.Host, r.Spec.Path = host, path
	r.Spec.To = routev1.RouteTargetReference{Kind: "Service", Name: name}
	r.Spec.WildcardPolicy = routev1.WildcardPolicyNone
	return r
}

// table builds a table of routes whose services all have the given
// endpoints on port 8080.
func table(t testing.TB, routes []*routev1.Route, eps map[string][]string) *model.Table {
	t.Helper()
	b, err := model.NewBuilder(model.Config{RouterName: "test", AllowWildcardRoutes: true})
	if err != nil {
		t.Fatal(err)
	}
	snap, changes := b.Build(routes, nil)
	for _, c := range changes {
		if c.Reason != "" {
			t.Fatalf("fixture route %s/%s not admitted: %s %s", c.Namespace, c.Name, c.Reason, c.Message)
		}
	}
	tab := &model.Table{Routes: snap, Endpoints: map[string]*model.ServiceEndpoints{}}
	for svc, addrs := range eps {
		p := model.EndpointPort{Port: 8080, ServicePort: 80}
		for _, a := range addrs {
			p.Addrs = append(p.Addrs, netip.MustParseAddr(a))
		}
		tab.Endpoints[svc] = &model.ServiceEndpoints{Ports: []model.EndpointPort{p}}
	}
	return tab
}

// testCA issues certificates for fixtures.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// leaf issues a serving certificate for host; it returns certificate and
// key PEM.
func (ca *testCA) leaf(t testing.TB, host string) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// fixtureRoutes covers every kind of route the config has to express.
func fixtureRoutes(t testing.TB) []*routev1.Route {
	ca := newTestCA(t, "test-ca")
	destCA := newTestCA(t, "dest-ca")
	plain := route("shop", "web", "www.example.com", "")
	api := route("shop", "api", "www.example.com", "/api")
	api.Annotations = map[string]string{
		model.AnnotationTimeout:     "90s",
		model.AnnotationIPWhitelist: "192.168.1.10 10.0.0.0/8",
		model.AnnotationBalance:     "roundrobin",
		model.AnnotationCookieName:  "shop_api",
	}
	static := route("shop", "static", "www.example.com", "/static/")
	static.Annotations = map[string]string{model.AnnotationDisableCookies: "true"}
	w10, w30 := int32(10), int32(30)
	canary := route("shop", "canary", "canary.example.com", "")
	canary.Spec.To.Weight = &w10
	canary.Spec.AlternateBackends = []routev1.RouteTargetReference{{Kind: "Service", Name: "canary-b", Weight: &w30}}
	canary.Annotations = map[string]string{
		model.AnnotationRateLimit:           "true",
		model.AnnotationRateLimitConcurrent: "10",
		model.AnnotationRateLimitRateHTTP:   "100",
	}
	edge := route("bank", "edge", "secure.example.com", "")
	cert, key := ca.leaf(t, "secure.example.com")
	edge.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: cert, Key: key,
		CACertificate: ca.pem, InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyRedirect}
	edge.Annotations = map[string]string{model.AnnotationHSTSHeader: "max-age=31536000"}
	allow := route("bank", "allow", "open.example.com", "")
	allow.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge,
		InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyAllow}
	re := route("bank", "re", "re.example.com", "")
	re.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationReencrypt, DestinationCACertificate: destCA.pem}
	pt := route("bank", "pt", "pass.example.com", "")
	pt.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationPassthrough}
	wild := route("wild", "any", "wild.apps.example.com", "")
	wild.Spec.WildcardPolicy = routev1.WildcardPolicySubdomain
	return []*routev1.Route{plain, api, static, canary, edge, allow, re, pt, wild}
}

// fixtureEndpoints gives every fixture service endpoints, two for web.
func fixtureEndpoints() map[string][]string {
	return map[string][]string{
		"shop/web": {"10.1.0.1", "10.1.0.2"}, "shop/api": {"10.1.0.3"}, "shop/static": {"10.1.0.4"},
		"shop/canary": {"10.1.0.5"}, "shop/canary-b": {"10.1.0.6", "10.1.0.7", "10.1.0.8"},
		"bank/edge": {"10.2.0.1"}, "bank/allow": {"10.2.0.2"}, "bank/re": {"10.2.0.3"}, "bank/pt": {"10.2.0.4"},
		"wild/any": {"10.3.0.1"},
	}
}
