package model

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/template"

	routev1 "github.com/openshift/api/route/v1"
	"github.com/openshift/library-go/pkg/route/defaulting"
	"sigs.k8s.io/yaml"
)

// fixture is one testdata/*.yaml file: a router, namespaces and routes in,
// what the router admits and rejects out. Fixtures are Go templates so
// they can ask for generated certificates ({{ cert "host" "ca1" }}).
type fixture struct {
	Description string                       `json:"description"`
	Config      fixtureConfig                `json:"config"`
	Namespaces  map[string]map[string]string `json:"namespaces"`
	Routes      []routev1.Route              `json:"routes"`
	Expect      fixtureExpect                `json:"expect"`
}

type fixtureConfig struct {
	RouterName          string `json:"routerName"`
	RouteSelector       string `json:"routeSelector"`
	NamespaceSelector   string `json:"namespaceSelector"`
	AllowWildcardRoutes bool   `json:"allowWildcardRoutes"`
	Subdomain           string `json:"subdomain"`
}

type fixtureExpect struct {
	// Every route of the fixture is in exactly one of admitted, rejected
	// and unselected.
	Admitted   []admittedRoute `json:"admitted"`
	Rejected   []rejectedRoute `json:"rejected"`
	Unselected []string        `json:"unselected"`
	// Removed are the unselected routes whose stale status entry of this
	// router is to be deleted.
	Removed []string `json:"removed"`
	// Hosts and Wildcards give the order of routes per exact host and per
	// wildcard subdomain (most specific first); only the hosts listed are
	// checked, but the set of keys must match when given.
	Hosts     map[string][]string `json:"hosts"`
	Wildcards map[string][]string `json:"wildcards"`
	// Lookups are requests and the route that serves them ("" for none).
	Lookups []lookup `json:"lookups"`
	// Certificates map TLS server names to the DNS name of the certificate
	// served ("" for the router's default certificate).
	Certificates map[string]string `json:"certificates"`
	// Passthrough maps TLS server names to the passthrough route ("" for
	// none).
	Passthrough map[string]string `json:"passthrough"`
}

type admittedRoute struct {
	Route string `json:"route"`
	Host  string `json:"host"`
	Path  string `json:"path"`
}

type rejectedRoute struct {
	Route           string `json:"route"`
	Reason          string `json:"reason"`
	MessageContains string `json:"messageContains"`
}

type lookup struct {
	Host  string `json:"host"`
	Path  string `json:"path"`
	Route string `json:"route"`
}

func loadFixture(t *testing.T, path string) fixture {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New(filepath.Base(path)).Funcs(pki(t).templateFuncs()).Parse(string(raw))
	if err != nil {
		t.Fatalf("parse fixture template: %v", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		t.Fatalf("render fixture: %v", err)
	}
	var f fixture
	if err := yaml.UnmarshalStrict(buf.Bytes(), &f); err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	for i := range f.Routes {
		// Routes as the API server stores them.
		r := &f.Routes[i]
		defaulting.SetDefaults_RouteSpec(&r.Spec)
		defaulting.SetDefaults_RouteTargetReference(&r.Spec.To)
		for j := range r.Spec.AlternateBackends {
			defaulting.SetDefaults_RouteTargetReference(&r.Spec.AlternateBackends[j])
		}
		if r.Spec.TLS != nil {
			defaulting.SetDefaults_TLSConfig(r.Spec.TLS)
		}
	}
	if f.Config.RouterName == "" {
		f.Config.RouterName = "default"
	}
	return f
}

func TestFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			t.Parallel()
			f := loadFixture(t, file)
			runFixture(t, f)
		})
	}
}

func runFixture(t *testing.T, f fixture) {
	t.Helper()
	b, err := NewBuilder(Config{
		RouterName:          f.Config.RouterName,
		RouteSelector:       f.Config.RouteSelector,
		NamespaceSelector:   f.Config.NamespaceSelector,
		AllowWildcardRoutes: f.Config.AllowWildcardRoutes,
		Subdomain:           f.Config.Subdomain,
	})
	if err != nil {
		t.Fatalf("NewBuilder: %v", err)
	}
	routes := make([]*routev1.Route, len(f.Routes))
	for i := range f.Routes {
		routes[i] = &f.Routes[i]
	}
	snap, changes := b.Build(routes, f.Namespaces)

	// Every route is accounted for exactly once.
	listed := map[string]int{}
	for _, a := range f.Expect.Admitted {
		listed[a.Route]++
	}
	for _, r := range f.Expect.Rejected {
		listed[r.Route]++
	}
	for _, u := range f.Expect.Unselected {
		listed[u]++
	}
	for _, r := range routes {
		k := r.Namespace + "/" + r.Name
		if listed[k] != 1 {
			t.Errorf("fixture lists route %s %d times in expect (admitted, rejected, unselected); want once", k, listed[k])
		}
	}

	byKey := map[string]StatusChange{}
	var removed []string
	for _, c := range changes {
		if c.Remove {
			removed = append(removed, c.Key())
			continue
		}
		byKey[c.Key()] = c
	}

	// Admitted routes: in the snapshot with their host and path, and
	// reported admitted.
	var gotAdmitted, wantAdmitted []string
	for _, r := range snap.Routes() {
		gotAdmitted = append(gotAdmitted, r.Key()+" "+r.Host+r.Path)
	}
	for _, a := range f.Expect.Admitted {
		wantAdmitted = append(wantAdmitted, a.Route+" "+a.Host+a.Path)
		if c, ok := byKey[a.Route]; !ok || !c.Admitted {
			t.Errorf("route %s: status change %+v, want admitted", a.Route, c)
		} else if c.Host != a.Host {
			t.Errorf("route %s: status host %q, want %q", a.Route, c.Host, a.Host)
		}
	}
	sort.Strings(wantAdmitted)
	if !slices.Equal(gotAdmitted, wantAdmitted) {
		t.Errorf("admitted routes:\n got  %q\n want %q", gotAdmitted, wantAdmitted)
	}

	for _, r := range f.Expect.Rejected {
		c, ok := byKey[r.Route]
		switch {
		case !ok:
			t.Errorf("route %s: no status change, want rejected with %s", r.Route, r.Reason)
		case c.Admitted:
			t.Errorf("route %s: admitted, want rejected with %s", r.Route, r.Reason)
		case c.Reason != r.Reason:
			t.Errorf("route %s: rejected with %s (%s), want %s", r.Route, c.Reason, c.Message, r.Reason)
		case !strings.Contains(c.Message, r.MessageContains):
			t.Errorf("route %s: message %q does not contain %q", r.Route, c.Message, r.MessageContains)
		}
	}
	for _, u := range f.Expect.Unselected {
		if c, ok := byKey[u]; ok {
			t.Errorf("route %s is not this router's, but got status change %+v", u, c)
		}
	}
	sort.Strings(f.Expect.Removed)
	if !slices.Equal(removed, f.Expect.Removed) {
		t.Errorf("removed status entries: got %q, want %q", removed, f.Expect.Removed)
	}

	checkOrder := func(kind string, want map[string][]string, keys []string, get func(string) []*Route) {
		if want == nil {
			return
		}
		wantKeys := make([]string, 0, len(want))
		for k := range want {
			wantKeys = append(wantKeys, k)
		}
		sort.Strings(wantKeys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("%s: got %q, want %q", kind, keys, wantKeys)
		}
		for k, w := range want {
			var got []string
			for _, r := range get(k) {
				got = append(got, r.Key())
			}
			if !slices.Equal(got, w) {
				t.Errorf("%s %s: routes in order %q, want %q", kind, k, got, w)
			}
		}
	}
	checkOrder("hosts", f.Expect.Hosts, snap.Hosts(), snap.Host)
	checkOrder("wildcard domains", f.Expect.Wildcards, snap.WildcardDomains(), snap.WildcardDomain)

	for _, l := range f.Expect.Lookups {
		got := ""
		if r := snap.Lookup(l.Host, l.Path); r != nil {
			got = r.Key()
		}
		if got != l.Route {
			t.Errorf("lookup %s%s: served by %q, want %q", l.Host, l.Path, got, l.Route)
		}
	}
	for name, want := range f.Expect.Certificates {
		got := ""
		if c := snap.Certificate(name); c != nil {
			if c.Leaf == nil || len(c.Leaf.DNSNames) == 0 {
				t.Errorf("certificate for %s: no parsed leaf with DNS names", name)
				continue
			}
			got = c.Leaf.DNSNames[0]
		}
		if got != want {
			t.Errorf("certificate for server name %s: %q, want %q", name, got, want)
		}
	}
	for name, want := range f.Expect.Passthrough {
		got := ""
		if r := snap.Passthrough(name); r != nil {
			got = r.Key()
		}
		if got != want {
			t.Errorf("passthrough for server name %s: %q, want %q", name, got, want)
		}
	}
}
