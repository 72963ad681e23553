package set

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	routefake "github.com/openshift/client-go/route/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
)

func backendRoute(backends ...routev1.RouteTargetReference) *routev1.Route {
	r := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "proj"}}
	r.Spec.To = backends[0]
	r.Spec.AlternateBackends = backends[1:]
	return r
}

func b(name string, w int32) routev1.RouteTargetReference {
	return routev1.RouteTargetReference{Kind: "Service", Name: name, Weight: ptr.To(w)}
}

// runBackends runs the command on a fake route and returns the output and the stored route.
func runBackends(t *testing.T, r *routev1.Route, set func(*RouteBackendsOptions), args ...string) (string, *routev1.Route, error) {
	t.Helper()
	cs := routefake.NewSimpleClientset(r)
	out := &bytes.Buffer{}
	o := &RouteBackendsOptions{Namespace: "proj", Routes: cs.RouteV1(), IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: out}}
	if set != nil {
		set(o)
	}
	if err := o.CompleteArgs(append([]string{"web"}, args...)); err != nil {
		return "", nil, err
	}
	if err := o.Validate(); err != nil {
		return "", nil, err
	}
	err := o.Run(context.Background())
	got, gerr := cs.RouteV1().Routes("proj").Get(context.Background(), "web", metav1.GetOptions{})
	if gerr != nil {
		t.Fatal(gerr)
	}
	return out.String(), got, err
}

func weights(r *routev1.Route) string {
	var parts []string
	for _, x := range append([]routev1.RouteTargetReference{r.Spec.To}, r.Spec.AlternateBackends...) {
		w := "nil"
		if x.Weight != nil {
			w = fmt.Sprint(*x.Weight)
		}
		parts = append(parts, x.Name+"="+w)
	}
	return strings.Join(parts, " ")
}

func TestRouteBackendsPrintsWeightsAndShares(t *testing.T) {
	t.Parallel()
	out, _, err := runBackends(t, backendRoute(b("a", 60), b("b", 20), b("c", 20)), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME        KIND     TO  WEIGHT
routes/web  Service  a   60 (60%)
routes/web  Service  b   20 (20%)
routes/web  Service  c   20 (20%)
`
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
	single, _, _ := runBackends(t, backendRoute(routev1.RouteTargetReference{Name: "a"}), nil)
	if !strings.Contains(single, "Service  a   100") {
		t.Errorf("single backend without weight:\n%s", single)
	}
}

func TestRouteBackendsChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route *routev1.Route
		set   func(*RouteBackendsOptions)
		args  []string
		want  string
	}{
		{"set primary and alternates", backendRoute(b("a", 100)), nil, []string{"a=2", "b=1", "c=0"}, "a=2 b=1 c=0"},
		{"replace the primary", backendRoute(b("a", 100), b("b", 100)), nil, []string{"c=50"}, "c=50"},
		{"zero", backendRoute(b("a", 10), b("b", 20)), func(o *RouteBackendsOptions) { o.Zero = true }, nil, "a=0 b=0"},
		{"equal", backendRoute(b("a", 10), b("b", 0)), func(o *RouteBackendsOptions) { o.Equal = true }, nil, "a=100 b=100"},
		{"adjust to a weight", backendRoute(b("a", 10), b("b", 20)), func(o *RouteBackendsOptions) { o.Adjust = true }, []string{"b=5"}, "a=10 b=5"},
		{"adjust up", backendRoute(b("a", 10), b("b", 20)), func(o *RouteBackendsOptions) { o.Adjust = true }, []string{"b=+10"}, "a=10 b=30"},
		{"adjust down below zero", backendRoute(b("a", 10), b("b", 20)), func(o *RouteBackendsOptions) { o.Adjust = true }, []string{"b=-30"}, "a=10 b=0"},
		{"adjust up to the limit", backendRoute(b("a", 10), b("b", 250)), func(o *RouteBackendsOptions) { o.Adjust = true }, []string{"b=+10"}, "a=10 b=256"},
		{"adjust to a share", backendRoute(b("a", 50), b("b", 50)), func(o *RouteBackendsOptions) { o.Adjust = true }, []string{"b=10%"}, "a=90 b=10"},
		{"adjust a share up", backendRoute(b("a", 80), b("b", 20)), func(o *RouteBackendsOptions) { o.Adjust = true }, []string{"b=+10%"}, "a=70 b=30"},
		{"adjust the primary against the first alternate", backendRoute(b("a", 50), b("b", 150)), func(o *RouteBackendsOptions) { o.Adjust = true }, []string{"a=75%"}, "a=75 b=25"},
		{"adjust keeps the other backends' share", backendRoute(b("a", 100), b("b", 100), b("c", 200)), func(o *RouteBackendsOptions) { o.Adjust = true }, []string{"b=25%"}, "a=75 b=25 c=100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, got, err := runBackends(t, tt.route, tt.set, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if w := weights(got); w != tt.want {
				t.Errorf("backends %s, want %s", w, tt.want)
			}
			if out != "route.route.openshift.io/web backends updated\n" {
				t.Errorf("output %q", out)
			}
		})
	}
}

func TestRouteBackendsUnchanged(t *testing.T) {
	t.Parallel()
	out, _, err := runBackends(t, backendRoute(b("a", 0), b("b", 0)), func(o *RouteBackendsOptions) { o.Zero = true })
	if err != nil || !strings.Contains(out, "unchanged") {
		t.Errorf("out %q, err %v", out, err)
	}
}

func TestRouteBackendsRefuses(t *testing.T) {
	t.Parallel()
	adjust := func(o *RouteBackendsOptions) { o.Adjust = true }
	tests := []struct {
		name    string
		route   *routev1.Route
		set     func(*RouteBackendsOptions)
		args    []string
		wantErr string
	}{
		{"too many alternates", backendRoute(b("a", 1)), nil, []string{"a=1", "b=1", "c=1", "d=1", "e=1"}, "at most 4 backends"},
		{"weight over 256", backendRoute(b("a", 1)), nil, []string{"a=300"}, "0 to 256"},
		{"negative weight", backendRoute(b("a", 1)), nil, []string{"a=-1"}, "need --adjust"},
		{"percent without adjust", backendRoute(b("a", 1)), nil, []string{"a=10%"}, "need --adjust"},
		{"twice", backendRoute(b("a", 1)), nil, []string{"a=1", "a=2"}, "given twice"},
		{"not a number", backendRoute(b("a", 1)), nil, []string{"a=lots"}, "whole number"},
		{"no weight", backendRoute(b("a", 1)), nil, []string{"a="}, "SERVICE=WEIGHT"},
		{"svc/ prefix", backendRoute(b("a", 1)), nil, []string{"svc/a=1"}, "without svc/"},
		{"zero and equal", backendRoute(b("a", 1)), func(o *RouteBackendsOptions) { o.Zero, o.Equal = true, true }, nil, "contradict"},
		{"zero with args", backendRoute(b("a", 1)), func(o *RouteBackendsOptions) { o.Zero = true }, []string{"a=1"}, "no SERVICE=WEIGHT"},
		{"adjust two", backendRoute(b("a", 1)), adjust, []string{"a=1", "b=1"}, "exactly one"},
		{"adjust unknown", backendRoute(b("a", 1), b("b", 1)), adjust, []string{"c=1"}, `"c" is not a backend of the route (a, b)`},
		{"adjust share of the only backend", backendRoute(b("a", 1)), adjust, []string{"a=10%"}, "only backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got, err := runBackends(t, tt.route, tt.set, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if got != nil && weights(got) != weights(tt.route) {
				t.Errorf("route changed to %s", weights(got))
			}
		})
	}
}

func TestRouteBackendsMissingRoute(t *testing.T) {
	t.Parallel()
	cs := routefake.NewSimpleClientset()
	o := &RouteBackendsOptions{Namespace: "proj", Routes: cs.RouteV1(), IOStreams: genericiooptions.IOStreams{Out: &bytes.Buffer{}}}
	o.CompleteArgs([]string{"nope"})
	if err := o.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `route "nope" not found in project proj`) {
		t.Errorf("error %v", err)
	}
}
