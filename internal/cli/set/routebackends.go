package set

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned/typed/route/v1"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"
)

const routeBackendsLong = `Set and adjust the services a route sends traffic to.

A route sends its traffic to one service (spec.to) and up to three alternate backends, each
with a weight from 0 to 256: each service gets its weight's share of the total. A weight of 0
sends a service nothing; when every weight is 0 the route serves nothing (503).

Without SERVICE=WEIGHT arguments, prints the backends with their weights and shares.

SERVICE=WEIGHT arguments replace the backends: the first becomes the primary, the others the
alternates, in order.

--adjust changes one backend: SERVICE=WEIGHT sets its weight, SERVICE=+10 or SERVICE=-10 adds
to it, and SERVICE=30% gives it 30% of the traffic it shares with the primary (or, for the
primary, with the first alternate), SERVICE=+10% ten points more. --zero sets every weight to
0 (stop all traffic), --equal every weight to 100.`

const routeBackendsExample = `  # Show the backends of route web
  gantry set route-backends web

  # Send 2/3 of the traffic to a and 1/3 to b
  gantry set route-backends web a=2 b=1

  # Send 10% more of the traffic to b, taking it from a
  gantry set route-backends web --adjust b=+10%

  # Give b 10% of what a and b share
  gantry set route-backends web --adjust b=10%

  # Set the weight of b to 10
  gantry set route-backends web --adjust b=10

  # Stop all traffic, then spread it evenly again
  gantry set route-backends web --zero
  gantry set route-backends web --equal`

// Limits of the route API: alternate backends and a backend's weight.
const (
	maxAlternateBackends = 3
	maxBackendWeight     = 256
)

// BackendInput is one SERVICE=WEIGHT argument.
type BackendInput struct {
	Name  string
	Value int32
	// Percent is WEIGHT%: a share of the traffic, with --adjust.
	Percent bool
	// Relative is +N or -N: a change, with --adjust.
	Relative bool
}

// ParseBackendInput reads SERVICE=WEIGHT, SERVICE=+N, SERVICE=-N, SERVICE=N%.
func ParseBackendInput(s string) (BackendInput, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" || value == "" {
		return BackendInput{}, fmt.Errorf("%q is not SERVICE=WEIGHT\nTry: gantry set route-backends ROUTE a=60 b=40", s)
	}
	if strings.Contains(name, "/") {
		return BackendInput{}, fmt.Errorf("%q: name the service alone (SERVICE=WEIGHT), without svc/", s)
	}
	in := BackendInput{Name: name}
	if v, found := strings.CutSuffix(value, "%"); found {
		in.Percent, value = true, v
	}
	if v, found := strings.CutPrefix(value, "+"); found {
		in.Relative, value = true, v
	}
	n, err := strconv.ParseInt(value, 10, 32)
	if err != nil {
		return BackendInput{}, fmt.Errorf("%q: the weight must be a whole number, optionally with + or - and %%", s)
	}
	in.Value = int32(n)
	if n < 0 {
		in.Relative = true
	}
	return in, nil
}

// RouteBackendsOptions are the options of `gantry set route-backends`.
type RouteBackendsOptions struct {
	Route  string
	Inputs []BackendInput
	Adjust bool
	Zero   bool
	Equal  bool

	Namespace string
	Routes    routeclient.RoutesGetter
	genericiooptions.IOStreams
}

// NewCmdRouteBackends returns `gantry set route-backends`.
func NewCmdRouteBackends(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RouteBackendsOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "route-backends ROUTE [--zero|--equal] [--adjust] [SERVICE=WEIGHT[%] ...]",
		Short:   "Update the backends of a route",
		Long:    routeBackendsLong,
		Example: routeBackendsExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.CompleteArgs(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(flags); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.Adjust, "adjust", false, "Change one backend by an absolute or relative weight, or a percentage")
	cmd.Flags().BoolVar(&o.Zero, "zero", false, "Set the weight of every backend to 0")
	cmd.Flags().BoolVar(&o.Equal, "equal", false, "Set the weight of every backend to 100")
	return cmd
}

// CompleteArgs reads ROUTE and the SERVICE=WEIGHT arguments.
func (o *RouteBackendsOptions) CompleteArgs(args []string) error {
	if len(args) == 0 {
		return errors.New("name the route: gantry set route-backends ROUTE [SERVICE=WEIGHT ...]\nTry: gantry get routes")
	}
	o.Route = strings.TrimPrefix(strings.TrimPrefix(args[0], "routes/"), "route/")
	if strings.Contains(o.Route, "=") || strings.Contains(o.Route, "/") {
		return fmt.Errorf("%q is not a route name: the first argument is the route, then SERVICE=WEIGHT", args[0])
	}
	o.Inputs = nil
	for _, a := range args[1:] {
		in, err := ParseBackendInput(a)
		if err != nil {
			return err
		}
		o.Inputs = append(o.Inputs, in)
	}
	return nil
}

// Complete builds the route client and the project from the kubeconfig flags.
func (o *RouteBackendsOptions) Complete(flags *genericclioptions.ConfigFlags) error {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to (%v)\nTry: sudo gantry start, or set --kubeconfig", err)
	}
	c, err := routeclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	o.Routes = c
	o.Namespace, _, err = flags.ToRawKubeConfigLoader().Namespace()
	return err
}

func (o *RouteBackendsOptions) printOnly() bool {
	return !o.Zero && !o.Equal && len(o.Inputs) == 0
}

// Validate checks the flag combination and the weights.
func (o *RouteBackendsOptions) Validate() error {
	switch {
	case o.Zero && o.Equal:
		return errors.New("--zero and --equal contradict each other: give one")
	case (o.Zero || o.Equal) && (o.Adjust || len(o.Inputs) > 0):
		return errors.New("--zero and --equal change every backend: give no SERVICE=WEIGHT and no --adjust with them")
	case o.Adjust && len(o.Inputs) != 1:
		return errors.New("--adjust changes one backend: give exactly one SERVICE=WEIGHT")
	case o.Adjust:
		return nil
	}
	if len(o.Inputs) > 1+maxAlternateBackends {
		return fmt.Errorf("a route has at most %d backends (spec.to and %d alternates); %d were given", 1+maxAlternateBackends, maxAlternateBackends, len(o.Inputs))
	}
	seen := map[string]bool{}
	for _, in := range o.Inputs {
		if seen[in.Name] {
			return fmt.Errorf("service %q is given twice", in.Name)
		}
		seen[in.Name] = true
		if in.Percent || in.Relative {
			return fmt.Errorf("%s: percentages and +/- changes need --adjust; without it give weights (0-%d)", in.Name, maxBackendWeight)
		}
		if in.Value > maxBackendWeight {
			return fmt.Errorf("%s=%d: a weight is 0 to %d", in.Name, in.Value, maxBackendWeight)
		}
	}
	return nil
}

// Run prints the backends, or changes them and prints
// "route.route.openshift.io/NAME backends updated".
func (o *RouteBackendsOptions) Run(ctx context.Context) error {
	if o.Namespace == "" {
		return errors.New("no project selected\nTry: -n PROJECT, or gantry project PROJECT")
	}
	routes := o.Routes.Routes(o.Namespace)
	if o.printOnly() {
		r, err := routes.Get(ctx, o.Route, metav1.GetOptions{})
		if err != nil {
			return o.readError(err)
		}
		return printBackends(o.Out, r)
	}
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		r, err := routes.Get(ctx, o.Route, metav1.GetOptions{})
		if err != nil {
			return o.readError(err)
		}
		backends := append([]routev1.RouteTargetReference{r.Spec.To}, r.Spec.AlternateBackends...)
		next, err := o.apply(backends)
		if err != nil {
			return err
		}
		if err := checkBackends(next); err != nil {
			return err
		}
		before := r.DeepCopy()
		r.Spec.To, r.Spec.AlternateBackends = next[0], nil
		if len(next) > 1 {
			r.Spec.AlternateBackends = next[1:]
		}
		if sameBackends(before, r) {
			return nil
		}
		changed = true
		_, err = routes.Update(ctx, r, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("set the backends of route %s: %w", o.Route, err)
	}
	if changed {
		fmt.Fprintf(o.Out, "route.route.openshift.io/%s backends updated\n", o.Route)
	} else {
		fmt.Fprintf(o.Out, "route.route.openshift.io/%s backends unchanged\n", o.Route)
	}
	return nil
}

func (o *RouteBackendsOptions) readError(err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("route %q not found in project %s\nTry: gantry get routes -n %s", o.Route, o.Namespace, o.Namespace)
	}
	return fmt.Errorf("read route %s/%s: %w", o.Namespace, o.Route, err)
}

// apply computes the new backends from the current ones.
func (o *RouteBackendsOptions) apply(cur []routev1.RouteTargetReference) ([]routev1.RouteTargetReference, error) {
	out := make([]routev1.RouteTargetReference, len(cur))
	copy(out, cur)
	for i := range out {
		if out[i].Weight != nil {
			w := *out[i].Weight
			out[i].Weight = &w
		}
	}
	switch {
	case o.Zero, o.Equal:
		w := int32(0)
		if o.Equal {
			w = 100
		}
		for i := range out {
			v := w
			out[i].Weight = &v
		}
		return out, nil
	case o.Adjust:
		return adjust(out, o.Inputs[0])
	}
	out = out[:0]
	for _, in := range o.Inputs {
		w := in.Value
		out = append(out, routev1.RouteTargetReference{Kind: "Service", Name: in.Name, Weight: &w})
	}
	return out, nil
}

func weightOf(b routev1.RouteTargetReference) int32 {
	if b.Weight == nil {
		return 100 // the API's default
	}
	return *b.Weight
}

// adjust changes one backend. A percentage is a share of the traffic the
// backend has together with its partner (the primary, or for the primary
// the first alternate). As in oc the pair is put on a scale of 100 (the
// backend gets share*100, the partner the rest) and the other backends are
// rescaled by the same factor, so they keep their share of the whole.
func adjust(bs []routev1.RouteTargetReference, in BackendInput) ([]routev1.RouteTargetReference, error) {
	idx := -1
	var names []string
	for i, b := range bs {
		names = append(names, b.Name)
		if b.Name == in.Name {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("service %q is not a backend of the route (%s)\nTry: gantry set route-backends ROUTE %s=WEIGHT ... to add it", in.Name, strings.Join(names, ", "), in.Name)
	}
	w := weightOf(bs[idx])
	if !in.Percent {
		if in.Relative {
			w += in.Value
		} else {
			w = in.Value
		}
		w = min(max(w, 0), maxBackendWeight)
		bs[idx].Weight = &w
		return bs, nil
	}
	partner := 0
	if idx == 0 {
		if len(bs) == 1 {
			return nil, fmt.Errorf("%s is the only backend: a percentage is a share against another backend\nTry: --adjust %s=WEIGHT", in.Name, in.Name)
		}
		partner = 1
	}
	pair := w + weightOf(bs[partner])
	share := float64(in.Value) / 100
	if in.Relative && pair > 0 {
		share += float64(w) / float64(pair)
	}
	share = min(max(share, 0), 1)
	for i := range bs {
		if i == idx || i == partner || pair == 0 {
			continue
		}
		v := weightOf(bs[i]) * 100 / pair
		bs[i].Weight = &v
	}
	nw := int32(share*100 + 0.5)
	np := 100 - nw
	bs[idx].Weight, bs[partner].Weight = &nw, &np
	// Rescaled alternates may pass the API's limit: bring the largest
	// down to 200, keeping every non-zero weight at least 1.
	top := int32(0)
	for _, b := range bs {
		top = max(top, weightOf(b))
	}
	if top > maxBackendWeight {
		for i := range bs {
			if v := weightOf(bs[i]); v > 0 {
				v = max(200*v/top, 1)
				bs[i].Weight = &v
			}
		}
	}
	return bs, nil
}

// checkBackends refuses what the API would: too many backends, weights out
// of range, a service given twice.
func checkBackends(bs []routev1.RouteTargetReference) error {
	if len(bs) == 0 {
		return errors.New("a route needs at least one backend")
	}
	if len(bs) > 1+maxAlternateBackends {
		return fmt.Errorf("a route has at most %d backends (spec.to and %d alternates)", 1+maxAlternateBackends, maxAlternateBackends)
	}
	seen := map[string]bool{}
	for _, b := range bs {
		if seen[b.Name] {
			return fmt.Errorf("service %q would be a backend twice", b.Name)
		}
		seen[b.Name] = true
		if w := weightOf(b); w < 0 || w > maxBackendWeight {
			return fmt.Errorf("%s: weight %d is outside 0-%d", b.Name, w, maxBackendWeight)
		}
	}
	return nil
}

func sameBackends(a, b *routev1.Route) bool {
	x := append([]routev1.RouteTargetReference{a.Spec.To}, a.Spec.AlternateBackends...)
	y := append([]routev1.RouteTargetReference{b.Spec.To}, b.Spec.AlternateBackends...)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].Name != y[i].Name || x[i].Kind != y[i].Kind || weightOf(x[i]) != weightOf(y[i]) {
			return false
		}
	}
	return true
}

// printBackends prints oc's NAME/KIND/TO/WEIGHT table, with each backend's
// share of the traffic when there are several.
func printBackends(out interface{ Write([]byte) (int, error) }, r *routev1.Route) error {
	w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tTO\tWEIGHT")
	bs := append([]routev1.RouteTargetReference{r.Spec.To}, r.Spec.AlternateBackends...)
	total := int32(0)
	for _, b := range bs {
		total += weightOf(b)
	}
	for _, b := range bs {
		kind := b.Kind
		if kind == "" {
			kind = "Service"
		}
		switch {
		case len(bs) == 1 || total == 0:
			fmt.Fprintf(w, "routes/%s\t%s\t%s\t%d\n", r.Name, kind, b.Name, weightOf(b))
		default:
			fmt.Fprintf(w, "routes/%s\t%s\t%s\t%d (%d%%)\n", r.Name, kind, b.Name, weightOf(b), weightOf(b)*100/total)
		}
	}
	return w.Flush()
}
