package model

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func newRoute(ns, name, host string, created time.Time) *routev1.Route {
	r := &routev1.Route{}
	r.Namespace, r.Name, r.UID = ns, name, types.UID("uid-"+ns+"-"+name)
	r.CreationTimestamp = metav1.NewTime(created)
	r.Spec.Host = host
	r.Spec.To = routev1.RouteTargetReference{Kind: "Service", Name: name}
	r.Spec.WildcardPolicy = routev1.WildcardPolicyNone
	return r
}

func mustBuilder(t testing.TB, cfg Config) *Builder {
	t.Helper()
	if cfg.RouterName == "" {
		cfg.RouterName = "default"
	}
	b, err := NewBuilder(cfg)
	if err != nil {
		t.Fatalf("NewBuilder: %v", err)
	}
	return b
}

func TestAdmittedRouteCarriesBackendsPortAndOptions(t *testing.T) {
	t.Parallel()
	r := newRoute("shop", "web", "www.example.com", time.Now())
	w10, w0 := int32(10), int32(0)
	r.Spec.To.Weight = &w10
	r.Spec.AlternateBackends = []routev1.RouteTargetReference{
		{Kind: "Service", Name: "canary"}, // no weight: OpenShift's 100
		{Kind: "Service", Name: "off", Weight: &w0},
	}
	r.Spec.Port = &routev1.RoutePort{TargetPort: intstr.FromString("http")}
	r.Annotations = map[string]string{
		AnnotationTimeout:             "90",
		AnnotationIPWhitelist:         "192.168.1.10  10.1.2.3/8",
		AnnotationRateLimit:           "true",
		AnnotationRateLimitRateTCP:    "20",
		AnnotationRateLimitRateHTTP:   "100",
		AnnotationHSTSHeader:          "max-age=60 ; preload", // ignored: not a TLS route
		AnnotationDisableCookies:      "true",
		AnnotationCookieName:          "shop_session",
		"unrelated.example.com/thing": "anything",
	}
	snap, changes := mustBuilder(t, Config{}).Build([]*routev1.Route{r}, nil)
	if len(changes) != 1 || !changes[0].Admitted {
		t.Fatalf("changes = %+v, want one admitted", changes)
	}
	got := snap.Lookup("www.example.com", "/")
	if got == nil {
		t.Fatal("route not served")
	}
	wantBackends := []Backend{{"web", 10}, {"canary", 100}, {"off", 0}}
	if !slices.Equal(got.Backends, wantBackends) {
		t.Errorf("backends = %v, want %v", got.Backends, wantBackends)
	}
	if got.TargetPort == nil || got.TargetPort.String() != "http" {
		t.Errorf("target port = %v, want http", got.TargetPort)
	}
	if got.Termination != "" || got.InsecureEdgeTerminationPolicy != "" || got.Certificate != nil {
		t.Errorf("plain route has TLS settings: %q %q %v", got.Termination, got.InsecureEdgeTerminationPolicy, got.Certificate)
	}
	o := got.Options
	if o.Timeout != 90*time.Millisecond {
		t.Errorf("timeout = %v, want 90ms (a bare number is milliseconds)", o.Timeout)
	}
	if o.Balance != BalanceRoundRobin {
		t.Errorf("balance = %q, want roundrobin for several weighted services", o.Balance)
	}
	wantSources := []netip.Prefix{netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("10.0.0.0/8")}
	if !slices.Equal(o.AllowedSources, wantSources) {
		t.Errorf("allowed sources = %v, want %v", o.AllowedSources, wantSources)
	}
	if o.RateLimit == nil || *o.RateLimit != (RateLimit{RateTCP: 20, RateHTTP: 100}) {
		t.Errorf("rate limit = %+v", o.RateLimit)
	}
	if o.HSTSHeader != "" {
		t.Errorf("HSTS header %q on a plain HTTP route", o.HSTSHeader)
	}
	if !o.DisableCookies || o.CookieName != "shop_session" {
		t.Errorf("cookies: disabled=%v name=%q", o.DisableCookies, o.CookieName)
	}
}

func TestDefaultBalanceAndCookieName(t *testing.T) {
	t.Parallel()
	plain := newRoute("a", "plain", "plain.example.com", time.Now())
	pass := newRoute("a", "pass", "pass.example.com", time.Now())
	pass.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationPassthrough}
	other := newRoute("b", "plain", "other.example.com", time.Now())
	snap, _ := mustBuilder(t, Config{DefaultBalance: BalanceRandom}).Build([]*routev1.Route{plain, pass, other}, nil)
	p, ps, o := snap.Lookup("plain.example.com", "/"), snap.Lookup("pass.example.com", ""), snap.Lookup("other.example.com", "/")
	if p.Options.Balance != BalanceRandom || ps.Options.Balance != BalanceSource {
		t.Errorf("balance: plain %q (want the router default random), passthrough %q (want source)", p.Options.Balance, ps.Options.Balance)
	}
	if p.Options.CookieName == "" || p.Options.CookieName == o.Options.CookieName {
		t.Errorf("default cookie names %q and %q: want distinct per route", p.Options.CookieName, o.Options.CookieName)
	}
	if strings.Contains(p.Options.CookieName, "plain") {
		t.Errorf("default cookie name %q reveals the route name", p.Options.CookieName)
	}
}

func TestTLSRoutesCarryServingChainAndDestinationCAs(t *testing.T) {
	t.Parallel()
	p := pki(t)
	edge := newRoute("tls", "edge", "edge.example.com", time.Now())
	edge.Annotations = map[string]string{AnnotationHSTSHeader: "max-age=31536000 ; includesubdomains"}
	edge.Spec.TLS = &routev1.TLSConfig{
		Termination:   routev1.TLSTerminationEdge,
		Certificate:   p.leaf("edge.example.com", "ca1").certPEM,
		Key:           p.leaf("edge.example.com", "ca1").keyPEM,
		CACertificate: p.ca("ca1").certPEM,
	}
	re := newRoute("tls", "re", "re.example.com", time.Now())
	re.Spec.TLS = &routev1.TLSConfig{
		Termination:                   routev1.TLSTerminationReencrypt,
		InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyAllow,
		DestinationCACertificate:      p.ca("ca2").certPEM,
	}
	snap, _ := mustBuilder(t, Config{}).Build([]*routev1.Route{edge, re}, nil)

	e := snap.Lookup("edge.example.com", "/")
	if e == nil || e.Certificate == nil {
		t.Fatalf("edge route or its certificate missing: %+v", e)
	}
	if len(e.Certificate.Certificate) != 2 {
		t.Errorf("served chain has %d certificates, want the leaf and caCertificate", len(e.Certificate.Certificate))
	}
	if e.InsecureEdgeTerminationPolicy != routev1.InsecureEdgeTerminationPolicyNone {
		t.Errorf("insecure policy = %q, want None by default", e.InsecureEdgeTerminationPolicy)
	}
	if e.Options.HSTSHeader != "max-age=31536000;includeSubDomains" {
		t.Errorf("HSTS header = %q", e.Options.HSTSHeader)
	}

	r := snap.Lookup("re.example.com", "/")
	if r == nil || r.DestinationCAs == nil {
		t.Fatalf("reencrypt route or its destination CAs missing: %+v", r)
	}
	if r.Certificate != nil {
		t.Error("reencrypt route without a certificate should use the default one")
	}
	if r.InsecureEdgeTerminationPolicy != routev1.InsecureEdgeTerminationPolicyAllow {
		t.Errorf("insecure policy = %q, want Allow", r.InsecureEdgeTerminationPolicy)
	}
	backendCert := p.leaf("backend.svc", "ca2").cert
	if _, err := backendCert.Verify(x509.VerifyOptions{Roots: r.DestinationCAs}); err != nil {
		t.Errorf("a backend certificate signed by the destination CA does not verify: %v", err)
	}
	if _, err := p.leaf("backend.svc", "ca1").cert.Verify(x509.VerifyOptions{Roots: r.DestinationCAs}); err == nil {
		t.Error("a backend certificate of another CA verifies against the destination CAs")
	}
	if blk, _ := pem.Decode(r.DestinationCAPEM); blk == nil || !bytes.Equal(blk.Bytes, p.ca("ca2").cert.Raw) {
		t.Errorf("DestinationCAPEM is not the destination CA's certificate: %q", r.DestinationCAPEM)
	}
}

func TestCertificatesAreParsedOncePerContent(t *testing.T) {
	t.Parallel()
	p := pki(t)
	mk := func(name string) *routev1.Route {
		r := newRoute("tls", name, name+".example.com", time.Now())
		r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge,
			Certificate: p.leaf(name+".example.com", "ca1").certPEM, Key: p.leaf(name+".example.com", "ca1").keyPEM}
		return r
	}
	a, c := mk("a"), mk("c")
	b := mustBuilder(t, Config{})
	s1, _ := b.Build([]*routev1.Route{a, c}, nil)
	s2, _ := b.Build([]*routev1.Route{a, c}, nil)
	if s1.Certificate("a.example.com") != s2.Certificate("a.example.com") {
		t.Error("rebuilding with the same certificate parsed it again")
	}
	b.Build([]*routev1.Route{a}, nil)
	if len(b.certs) != 1 {
		t.Errorf("builder keeps %d parsed certificates after a route was deleted, want 1", len(b.certs))
	}
}

func TestStatusChangesSettleAfterApply(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	older := newRoute("a", "web", "www.example.com", now.Add(-time.Hour))
	younger := newRoute("b", "web", "www.example.com", now)
	// Another router's entry must survive.
	younger.Status.Ingress = []routev1.RouteIngress{{Host: "www.example.com", RouterName: "internal",
		Conditions: []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: corev1.ConditionTrue}}}}
	routes := []*routev1.Route{older, younger}
	b := mustBuilder(t, Config{RouterName: "public", CanonicalHostname: "router.example.com"})

	apply := func(changes []StatusChange, at time.Time) {
		for _, c := range changes {
			for _, r := range routes {
				if r.Namespace == c.Namespace && r.Name == c.Name {
					if !c.Apply(r, "public", "router.example.com", at) {
						t.Errorf("Apply(%s) reported no change", c.Key())
					}
				}
			}
		}
	}
	_, changes := b.Build(routes, nil)
	if len(changes) != 2 || !changes[0].Admitted || changes[1].Admitted || changes[1].Reason != ReasonHostAlreadyClaimed {
		t.Fatalf("first build changes = %+v", changes)
	}
	apply(changes, now)
	in := currentIngress(younger, "public")
	if in == nil || in.RouterCanonicalHostname != "router.example.com" || in.WildcardPolicy != routev1.WildcardPolicyNone ||
		len(in.Conditions) != 1 || in.Conditions[0].Status != corev1.ConditionFalse || in.Conditions[0].Reason != ReasonHostAlreadyClaimed {
		t.Fatalf("younger route's entry = %+v", in)
	}
	if currentIngress(younger, "internal") == nil {
		t.Fatal("another router's status entry was dropped")
	}
	if _, again := b.Build(routes, nil); len(again) != 0 {
		t.Fatalf("rebuild after applying the changes gives %+v, want none", again)
	}

	// The older route goes away: the younger one is admitted now, with a
	// new transition time.
	routes = []*routev1.Route{younger}
	_, changes = b.Build(routes, nil)
	if len(changes) != 1 || !changes[0].Admitted {
		t.Fatalf("after deleting the holder, changes = %+v", changes)
	}
	later := now.Add(time.Minute)
	apply(changes, later)
	c := currentIngress(younger, "public").Conditions[0]
	if c.Status != corev1.ConditionTrue || c.Reason != "" || !c.LastTransitionTime.Time.Equal(later) {
		t.Errorf("admitted condition = %+v", c)
	}

	// Leaving the shard removes this router's entry only.
	b2 := mustBuilder(t, Config{RouterName: "public", CanonicalHostname: "router.example.com", RouteSelector: "shard=x"})
	_, changes = b2.Build(routes, nil)
	if len(changes) != 1 || !changes[0].Remove {
		t.Fatalf("changes after leaving the shard = %+v", changes)
	}
	apply(changes, later)
	if currentIngress(younger, "public") != nil || currentIngress(younger, "internal") == nil {
		t.Errorf("ingress after removal = %+v", younger.Status.Ingress)
	}
}

func TestGenerateHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ns, suffix, want, err string
	}{
		{name: "no-route-hostname", ns: "mynamespace", suffix: "router.default.svc.cluster.local", want: "no-route-hostname-mynamespace.router.default.svc.cluster.local"},
		{name: "v1.api", ns: "shop", suffix: "apps.example.com", want: "v1-api-shop.apps.example.com"},
		{name: "web", ns: "shop", suffix: "", err: "no routing subdomain is configured"},
		{name: "web", ns: "shop", suffix: "Bad_Suffix", err: "invalid DNS suffix"},
		{name: strings.Repeat("a", 40), ns: strings.Repeat("b", 30), suffix: "apps.example.com", err: "Try: a shorter route name"},
		{name: "", ns: "shop", suffix: "apps.example.com", err: "name and namespace are required"},
	} {
		got, err := GenerateHost(tc.name, tc.ns, tc.suffix)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("GenerateHost(%q, %q, %q) = %q, %v; want error containing %q", tc.name, tc.ns, tc.suffix, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("GenerateHost(%q, %q, %q) = %q, %v; want %q", tc.name, tc.ns, tc.suffix, got, err, tc.want)
		}
	}
}

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"www.example.com":      "www.example.com",
		"WWW.Example.COM:8443": "www.example.com",
		"www.example.com.":     "www.example.com",
		"www.example.com.:80":  "www.example.com",
		"[2001:db8::1]:443":    "2001:db8::1",
		"2001:db8::1":          "2001:db8::1",
	} {
		if got := NormalizeHost(in); got != want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewBuilderRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "a router name is required"},
		{Config{RouterName: "r", RouteSelector: "a in (b"}, "route selector"},
		{Config{RouterName: "r", NamespaceSelector: "=x"}, "namespace selector"},
		{Config{RouterName: "r", Subdomain: "not_dns"}, "subdomain"},
		{Config{RouterName: "r", DefaultBalance: "fastest"}, "default balance"},
	} {
		if _, err := NewBuilder(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewBuilder(%+v) error = %v, want one mentioning %q", tc.cfg, err, tc.want)
		}
	}
}

func TestParseHAProxyDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"5s": 5 * time.Second, "500ms": 500 * time.Millisecond, "2m": 2 * time.Minute, "1h": time.Hour,
		"1d": 24 * time.Hour, "250us": 250 * time.Microsecond, "30": 30 * time.Millisecond, " 10s ": 10 * time.Second,
	} {
		if got, err := parseHAProxyDuration(in); err != nil || got != want {
			t.Errorf("parseHAProxyDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "5 s", "1.5s", "5sec", "-1s", "99999999999999999999d"} {
		if got, err := parseHAProxyDuration(in); err == nil {
			t.Errorf("parseHAProxyDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestChangedRouteVersionIsAdmittedAgain(t *testing.T) {
	t.Parallel()
	r := newRoute("app", "web", "www.example.com", time.Now())
	r.ResourceVersion = "1"
	r.Annotations = map[string]string{AnnotationTimeout: "soon"}
	b := mustBuilder(t, Config{})
	snap, changes := b.Build([]*routev1.Route{r}, nil)
	if snap.Len() != 0 || len(changes) != 1 || changes[0].Reason != ReasonInvalidAnnotation {
		t.Fatalf("first version: %d routes, changes %+v", snap.Len(), changes)
	}
	fixed := r.DeepCopy()
	fixed.ResourceVersion = "2"
	fixed.Annotations[AnnotationTimeout] = "10s"
	snap, changes = b.Build([]*routev1.Route{fixed}, nil)
	if got := snap.Lookup("www.example.com", "/"); got == nil || got.Options.Timeout != 10*time.Second {
		t.Fatalf("fixed version not served with its timeout: %+v, changes %+v", got, changes)
	}
	// The same version again comes from the cache, and a new object of it
	// still serves (the snapshot does not keep the old object alive).
	again := fixed.DeepCopy()
	snap, _ = b.Build([]*routev1.Route{again}, nil)
	if got := snap.Lookup("www.example.com", "/"); got == nil || got.Options.Timeout != 10*time.Second {
		t.Fatalf("cached version not served: %+v", got)
	}
}

func TestRelabelledOlderRouteTakesItsHostBack(t *testing.T) {
	t.Parallel()
	now := time.Now()
	old := newRoute("a", "old", "www.example.com", now.Add(-time.Hour))
	old.ResourceVersion, old.Labels = "1", map[string]string{"shard": "other"}
	young := newRoute("b", "young", "www.example.com", now)
	young.ResourceVersion, young.Labels = "1", map[string]string{"shard": "x"}
	b := mustBuilder(t, Config{RouteSelector: "shard=x"})
	snap, _ := b.Build([]*routev1.Route{old, young}, nil)
	if got := snap.Lookup("www.example.com", "/"); got == nil || got.Key() != "b/young" {
		t.Fatalf("before relabelling, served by %+v, want b/young", got)
	}
	relabelled := old.DeepCopy()
	relabelled.ResourceVersion, relabelled.Labels["shard"] = "2", "x"
	snap, changes := b.Build([]*routev1.Route{relabelled, young}, nil)
	if got := snap.Lookup("www.example.com", "/"); got == nil || got.Key() != "a/old" {
		t.Fatalf("after relabelling, served by %+v, want a/old", got)
	}
	if len(changes) != 2 || changes[1].Key() != "b/young" || changes[1].Reason != ReasonHostAlreadyClaimed {
		t.Errorf("changes = %+v, want a/old admitted and b/young HostAlreadyClaimed", changes)
	}
}

// TestSnapshotsAreReadWhileTheNextIsBuilt runs readers on one snapshot
// while the builder makes the next ones; run with -race.
func TestSnapshotsAreReadWhileTheNextIsBuilt(t *testing.T) {
	t.Parallel()
	p := pki(t)
	var routes []*routev1.Route
	for i := range 50 {
		r := newRoute("app", fmt.Sprintf("r%d", i), fmt.Sprintf("h%d.example.com", i), time.Now())
		r.ResourceVersion = "1"
		if i%2 == 0 {
			l := p.leaf(fmt.Sprintf("h%d.example.com", i), "ca1")
			r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: l.certPEM, Key: l.keyPEM}
		}
		routes = append(routes, r)
	}
	b := mustBuilder(t, Config{})
	var current atomic.Pointer[Snapshot]
	s, _ := b.Build(routes, nil)
	current.Store(s)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				snap := current.Load()
				for i := range 50 {
					host := fmt.Sprintf("h%d.example.com", i)
					r := snap.Lookup(host, "/")
					if r == nil || r.Host != host {
						t.Errorf("lookup %s: %+v", host, r)
						return
					}
					if (i%2 == 0) != (snap.Certificate(host) != nil) {
						t.Errorf("certificate of %s: %v", host, snap.Certificate(host))
						return
					}
				}
			}
		}()
	}
	for i := range 20 {
		routes[i%50] = routes[i%50].DeepCopy()
		routes[i%50].ResourceVersion = fmt.Sprint(i + 2)
		s, _ := b.Build(routes, nil)
		current.Store(s)
	}
	close(done)
	wg.Wait()
}
