package model

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	"k8s.io/apimachinery/pkg/types"
)

// referenceBuild is the Builder's result computed the plain way, from
// nothing: every route through selection and the chain, then the claims of
// all candidates together, oldest first. The incremental Builder must give
// the same snapshot and status changes after any sequence of changes.
func referenceBuild(t *testing.T, cfg Config, routes []*routev1.Route, nsLabels map[string]map[string]string) (map[string][]string, map[string][]string, []string, []StatusChange) {
	t.Helper()
	b := mustBuilder(t, cfg)
	var changes []StatusChange
	var cands []*candidate
	for _, r := range routes {
		if !b.selects(r, nsLabels) {
			if currentIngress(r, b.cfg.RouterName) != nil {
				changes = append(changes, StatusChange{Namespace: r.Namespace, Name: r.Name, UID: r.UID, Remove: true})
			}
			continue
		}
		c, rej := b.runChain(r)
		if rej != nil {
			if ch := b.wanted(c, rej); ch != nil {
				changes = append(changes, *ch)
			}
			continue
		}
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(i, j int) bool { return older(cands[i].route, cands[j].route) })
	cl := newClaims()
	exact, wild := map[string][]*Route{}, map[string][]*Route{}
	var keys []string
	for _, c := range cands {
		rej := cl.claim(c)
		if ch := b.wanted(c, rej); ch != nil {
			changes = append(changes, *ch)
		}
		if rej != nil {
			continue
		}
		rt := b.route(c)
		keys = append(keys, rt.Key())
		if rt.Wildcard {
			wild[rt.Domain] = append(wild[rt.Domain], rt)
		} else {
			exact[rt.Host] = append(exact[rt.Host], rt)
		}
	}
	sort.Strings(keys)
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key() < changes[j].Key() })
	return routeKeys(exact), routeKeys(wild), keys, changes
}

func routeKeys(m map[string][]*Route) map[string][]string {
	out := map[string][]string{}
	for h, rs := range m {
		sortMostSpecific(rs)
		for _, r := range rs {
			out[h] = append(out[h], r.Key())
		}
	}
	return out
}

func snapshotKeys(s *Snapshot) (map[string][]string, map[string][]string, []string) {
	var keys []string
	for _, r := range s.Routes() {
		keys = append(keys, r.Key())
	}
	return routeKeys(s.exact), routeKeys(s.wildcard), keys
}

// TestIncrementalBuildMatchesFullBuild applies random changes (creates,
// deletes, new hosts, paths and wildcard policies, ties in age, status
// writes, relabelled routes and namespaces) and checks every build against
// the reference.
func TestIncrementalBuildMatchesFullBuild(t *testing.T) {
	t.Parallel()
	p := pki(t)
	hosts := []string{"a.example.com", "b.example.com", "x.a.example.com", "y.a.example.com", "a.example.org", "localhost", "bad_host!"}
	paths := []string{"", "/", "/p", "/p/", "/p/q", "relative"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, cfg := range []Config{
		{RouterName: "r", AllowWildcardRoutes: true},
		{RouterName: "r", RouteSelector: "shard!=b", NamespaceSelector: "team=x", Subdomain: "apps.example.com"},
		{RouterName: "r"},
	} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(cfg.RouteSelector))))
			b := mustBuilder(t, cfg)
			routes := map[string]*routev1.Route{}
			nsLabels := map[string]map[string]string{"ns0": {"team": "x"}, "ns1": {"team": "x"}, "ns2": {"team": "y"}}
			version := 0
			newVersion := func(r *routev1.Route) *routev1.Route {
				r = r.DeepCopy()
				version++
				r.ResourceVersion = fmt.Sprint(version)
				return r
			}
			for step := range 400 {
				ns, name := fmt.Sprintf("ns%d", rng.IntN(3)), fmt.Sprintf("r%d", rng.IntN(8))
				k := ns + "/" + name
				old := routes[k]
				switch op := rng.IntN(10); {
				case op < 3 || old == nil: // create, or replace with a new UID
					r := newRoute(ns, name, hosts[rng.IntN(len(hosts))], base.Add(time.Duration(rng.IntN(4))*time.Minute))
					r.UID = types.UID(fmt.Sprintf("uid-%d", step))
					if rng.IntN(5) == 0 {
						r.Spec.Host = "" // generated from the subdomain, or rejected
					}
					if rng.IntN(4) == 0 {
						r.Spec.WildcardPolicy = routev1.WildcardPolicySubdomain
					}
					if rng.IntN(6) == 0 {
						l := p.leaf("a.example.com", "ca1")
						r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: l.certPEM, Key: l.keyPEM}
					}
					r.Spec.Path = paths[rng.IntN(len(paths))]
					routes[k] = newVersion(r)
				case op < 5:
					delete(routes, k)
				case op < 7: // a new spec
					r := newVersion(old)
					r.Spec.Host = hosts[rng.IntN(len(hosts))]
					r.Spec.Path = paths[rng.IntN(len(paths))]
					routes[k] = r
				case op < 8: // relabelled
					r := newVersion(old)
					r.Labels = map[string]string{"shard": []string{"a", "b"}[rng.IntN(2)]}
					routes[k] = r
				case op < 9: // a namespace relabelled
					nsLabels = map[string]map[string]string{"ns0": nsLabels["ns0"], "ns1": nsLabels["ns1"], "ns2": nsLabels["ns2"]}
					nsLabels[ns] = map[string]string{"team": []string{"x", "y"}[rng.IntN(2)]}
				default: // the router's status write of a pending change lands
				}
				list := make([]*routev1.Route, 0, len(routes))
				for _, r := range routes {
					list = append(list, r)
				}
				rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
				prevSnap := b.snap
				snap, changes := b.Build(list, nsLabels)
				checkDelta(t, step, prevSnap, snap)
				gotExact, gotWild, gotKeys := snapshotKeys(snap)
				wantExact, wantWild, wantKeys, wantChanges := referenceBuild(t, cfg, list, nsLabels)
				if !reflect.DeepEqual(gotExact, wantExact) || !reflect.DeepEqual(gotWild, wantWild) || !slices.Equal(gotKeys, wantKeys) {
					t.Fatalf("step %d: incremental snapshot\n exact %v\n wild %v\n routes %v\nwant\n exact %v\n wild %v\n routes %v", step, gotExact, gotWild, gotKeys, wantExact, wantWild, wantKeys)
				}
				if !reflect.DeepEqual(changes, wantChanges) {
					t.Fatalf("step %d: status changes\n %+v\nwant\n %+v", step, changes, wantChanges)
				}
				// Some wanted status lands, as the status writer would
				// write it: a new version of the route.
				for _, c := range changes {
					if rng.IntN(2) == 0 {
						r := newVersion(routes[c.Key()])
						c.Apply(r, cfg.RouterName, cfg.CanonicalHostname, base)
						routes[c.Key()] = r
					}
				}
				if len(routes) == 0 && len(b.certs) != 0 {
					t.Fatalf("step %d: %d parsed certificates kept with no route", step, len(b.certs))
				}
			}
		})
	}
}

// checkDelta checks that next's Delta says all there is between prev and
// next: the hosts and domains it does not list have the same routes (the
// same *Route, in the same order), and Added and Removed are the routes of
// one and not the other.
func checkDelta(t *testing.T, step int, prev, next *Snapshot) {
	t.Helper()
	if next == prev {
		return
	}
	d := next.Delta()
	if d == nil || d.Parent != prev.Version() || next.Version() == prev.Version() {
		t.Fatalf("step %d: a new snapshot (version %d, delta %+v) from version %d", step, next.Version(), d, prev.Version())
	}
	for _, side := range []struct {
		name       string
		prev, next map[string][]*Route
		listed     []string
	}{{"host", prev.exact, next.exact, d.Hosts}, {"domain", prev.wildcard, next.wildcard, d.Domains}} {
		for _, k := range slices.Concat(slices.Collect(maps.Keys(side.prev)), slices.Collect(maps.Keys(side.next))) {
			if !slices.Contains(side.listed, k) && !slices.Equal(side.prev[k], side.next[k]) {
				t.Fatalf("step %d: %s %s changed (%v to %v) and the delta does not say so (%v)", step, side.name, k, side.prev[k], side.next[k], side.listed)
			}
		}
	}
	was, is := map[*Route]bool{}, map[*Route]bool{}
	for _, r := range prev.Routes() {
		was[r] = true
	}
	for _, r := range next.Routes() {
		is[r] = true
	}
	var added, removed []*Route
	for r := range is {
		if !was[r] {
			added = append(added, r)
		}
	}
	for r := range was {
		if !is[r] {
			removed = append(removed, r)
		}
	}
	byKey := func(a, b *Route) int { return strings.Compare(a.Key(), b.Key()) }
	for _, l := range []struct {
		name      string
		got, want []*Route
	}{{"added", d.Added, added}, {"removed", d.Removed, removed}} {
		got := slices.SortedFunc(slices.Values(l.got), byKey)
		slices.SortFunc(l.want, byKey)
		if !slices.Equal(got, l.want) {
			t.Fatalf("step %d: delta %s %v, want %v", step, l.name, got, l.want)
		}
	}
}

// TestUnchangedRoutesKeepTheirRoute: a data plane keeps what it compiled
// for a *Route, so a build after another route changed, or after a route's
// status alone changed, must hand out the same *Route for it.
func TestUnchangedRoutesKeepTheirRoute(t *testing.T) {
	t.Parallel()
	b := mustBuilder(t, Config{RouterName: "r"})
	a := newRoute("ns", "a", "a.example.com", time.Now())
	c := newRoute("ns", "c", "c.example.com", time.Now())
	a.ResourceVersion, c.ResourceVersion = "1", "1"
	s1, changes := b.Build([]*routev1.Route{a, c}, nil)
	if len(changes) != 2 {
		t.Fatalf("changes = %+v", changes)
	}
	// c's status is written (a new version, same spec), and a new route d
	// comes.
	c2 := c.DeepCopy()
	c2.ResourceVersion = "2"
	changes[1].Apply(c2, "r", "", time.Now())
	d := newRoute("ns", "d", "d.example.com", time.Now())
	d.ResourceVersion = "1"
	s2, changes := b.Build([]*routev1.Route{a, c2, d}, nil)
	if s1.Host("a.example.com")[0] != s2.Host("a.example.com")[0] {
		t.Error("an unchanged route got a new *Route")
	}
	if s1.Host("c.example.com")[0] != s2.Host("c.example.com")[0] {
		t.Error("a status-only update gave the route a new *Route")
	}
	if s2.Lookup("d.example.com", "/") == nil || s1.Lookup("d.example.com", "/") != nil {
		t.Error("the new route is not in the new snapshot only")
	}
	if len(changes) != 2 || changes[1].Name != "d" || !changes[1].Admitted {
		t.Errorf("changes = %+v, want a (not written yet) and d", changes)
	}
	// No change at all: the same snapshot.
	if s3, _ := b.Build([]*routev1.Route{a, c2, d}, nil); s3 != s2 {
		t.Error("a build with nothing changed made a new snapshot")
	}
}
