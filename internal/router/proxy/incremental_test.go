package proxy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// TestIncrementalUpdateMatchesFullCompile drives one proxy through random
// route and endpoint changes with the Tables' deltas, as the watcher hands
// them out, and checks after every Update that it serves what a proxy
// compiling the same Table whole serves, and that its books add up: each
// endpoint held by as many pools as it counts, the endpoints that left
// retired, one carried state per admitted route.
func TestIncrementalUpdateMatchesFullCompile(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 13))
	b, err := model.NewBuilder(model.Config{RouterName: "test", AllowWildcardRoutes: true})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := newProxy(t, Config{})
	hosts := []string{"a.example.com", "b.example.com", "x.example.com", "y.x.example.com", "c.example.org"}
	paths := []string{"", "/p", "/p/q", "/r"}
	svcNames := []string{"s0", "s1", "s2"}
	pool := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("10.0.0.4")}

	routes := map[string]*routev1.Route{}
	eps := map[string]*model.ServiceEndpoints{}
	version, seq := 0, uint64(0)
	seen := map[*endpoint]bool{}
	for step := range 500 {
		var changedSvcs []string
		ns := fmt.Sprintf("ns%d", rng.IntN(2))
		switch op := rng.IntN(10); {
		case op < 4: // a route created or given a new spec
			name := fmt.Sprintf("r%d", rng.IntN(8))
			r := &routev1.Route{}
			r.Namespace, r.Name = ns, name
			r.UID = types.UID(fmt.Sprintf("uid-%s-%s-%d", ns, name, rng.IntN(2)))
			r.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, rng.IntN(3), 0, 0, time.UTC))
			r.Spec.Host = hosts[rng.IntN(len(hosts))]
			r.Spec.Path = paths[rng.IntN(len(paths))]
			r.Spec.To = routev1.RouteTargetReference{Kind: "Service", Name: svcNames[rng.IntN(len(svcNames))], Weight: ptrTo(int32(1 + rng.IntN(3)))}
			if rng.IntN(3) == 0 {
				r.Spec.AlternateBackends = []routev1.RouteTargetReference{{Kind: "Service", Name: svcNames[rng.IntN(len(svcNames))], Weight: ptrTo(int32(rng.IntN(3)))}}
			}
			r.Spec.WildcardPolicy = routev1.WildcardPolicyNone
			if rng.IntN(4) == 0 {
				r.Spec.WildcardPolicy = routev1.WildcardPolicySubdomain
			}
			if rng.IntN(4) == 0 {
				r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyAllow}
			}
			version++
			r.ResourceVersion = fmt.Sprint(version)
			routes[ns+"/"+name] = r
		case op < 6: // a route deleted
			delete(routes, fmt.Sprintf("%s/r%d", ns, rng.IntN(8)))
		default: // a service's endpoints change, or it goes
			k := ns + "/" + svcNames[rng.IntN(len(svcNames))]
			if rng.IntN(4) == 0 {
				delete(eps, k)
			} else {
				var as []netip.Addr
				for _, a := range pool {
					if rng.IntN(2) == 0 {
						as = append(as, a)
					}
				}
				eps[k] = &model.ServiceEndpoints{Ports: []model.EndpointPort{{Port: int32(8080 + rng.IntN(2)), Addrs: as}}}
			}
			changedSvcs = append(changedSvcs, k)
		}
		list := make([]*routev1.Route, 0, len(routes))
		for _, r := range routes {
			list = append(list, r)
		}
		snap, _ := b.Build(list, nil)
		seq++
		tab := &model.Table{Routes: snap, Endpoints: cloneEndpoints(eps), Seq: seq}
		if seq > 1 {
			tab.EndpointsDelta = &model.EndpointsDelta{Since: seq - 1, Services: changedSvcs}
		}
		p.Update(tab)

		got := p.state.Load()
		ref, _ := newProxy(t, Config{})
		want, _, _ := ref.compile(tab, nil)
		if g, w := describe(got), describe(want); !reflect.DeepEqual(g, w) {
			t.Fatalf("step %d: the incremental state\n %v\nwant (compiled whole)\n %v", step, g, w)
		}
		refs := map[*endpoint]int{}
		for _, m := range []map[string][]*routeState{got.exact, got.wildcard} {
			for _, rss := range m {
				for _, rs := range rss {
					for _, e := range rs.pool.eps {
						refs[e]++
					}
				}
			}
		}
		for k, e := range got.endpoints {
			seen[e] = true
			if e.refs != refs[e] || e.refs == 0 {
				t.Fatalf("step %d: endpoint %v counts %d references, the pools hold it %d times", step, k, e.refs, refs[e])
			}
			if e.removed.Load() {
				t.Fatalf("step %d: endpoint %v is in the state and retired", step, k)
			}
		}
		for e := range seen {
			if got.endpoints[e.key] != e && !e.removed.Load() {
				t.Fatalf("step %d: endpoint %v left the state and was not retired", step, e.key)
			}
		}
		var keys, carried []string
		for _, r := range snap.Routes() {
			keys = append(keys, r.Key())
		}
		for k := range p.books.carried {
			carried = append(carried, k)
		}
		sort.Strings(carried)
		if !slices.Equal(keys, carried) {
			t.Fatalf("step %d: carried state for %v, the admitted routes are %v", step, carried, keys)
		}
		if len(p.books.compiled) != snap.Len() {
			t.Fatalf("step %d: %d routes compiled, %d admitted", step, len(p.books.compiled), snap.Len())
		}
	}
	if p.books.full != 1 {
		t.Errorf("%d Tables compiled whole, want only the first", p.books.full)
	}
}

func ptrTo[T any](v T) *T { return &v }

func cloneEndpoints(m map[string]*model.ServiceEndpoints) map[string]*model.ServiceEndpoints {
	out := make(map[string]*model.ServiceEndpoints, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// describe is what a state serves: per host and subdomain, its routes in
// order with their endpoints and weights; and the endpoints it holds.
func describe(st *state) map[string][]string {
	out := map[string][]string{}
	for prefix, m := range map[string]map[string][]*routeState{"host ": st.exact, "*.": st.wildcard} {
		for h, rss := range m {
			for _, rs := range rss {
				line := fmt.Sprintf("%s%s plain=%v secure=%v", rs.key, rs.route.Path, rs.plain, rs.secure)
				for i, e := range rs.pool.eps {
					line += fmt.Sprintf(" %s×%d", e.hostport, rs.pool.weights[i])
				}
				out[prefix+h] = append(out[prefix+h], line)
			}
		}
	}
	for k := range st.endpoints {
		out["endpoints"] = append(out["endpoints"], k.addr.String())
	}
	sort.Strings(out["endpoints"])
	return out
}
