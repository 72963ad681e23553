package route

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func validRoute() *routev1.Route {
	r := &routev1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "frontend", Namespace: "demo", CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))},
		Spec: routev1.RouteSpec{
			Host: "www.example.com",
			Path: "/app",
			To:   routev1.RouteTargetReference{Name: "frontend"},
			Port: &routev1.RoutePort{TargetPort: intstr.FromString("http")},
			TLS:  &routev1.TLSConfig{InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyRedirect},
		},
	}
	defaultRoute(r)
	return r
}

// fieldSet lists "type field" for each error, for order-free comparison.
func fieldSet(errs field.ErrorList) map[string]bool {
	out := map[string]bool{}
	for _, e := range errs {
		out[string(e.Type)+" "+e.Field] = true
	}
	return out
}

func TestGroup(t *testing.T) {
	t.Parallel()
	g := Group(Options{})
	if g.GroupVersion.String() != "route.openshift.io/v1" || len(g.Resources) != 1 {
		t.Fatalf("unexpected group %v with %d resources", g.GroupVersion, len(g.Resources))
	}
	d := g.Resources[0]
	if d.Resource != "routes" || d.Kind != "Route" || !d.Namespaced || !d.HasStatus || len(d.Categories) != 1 || d.Categories[0] != "all" {
		t.Errorf("unexpected definition %+v", d)
	}
	if d.New == nil || d.NewList == nil || d.Validate == nil || d.ValidateUpdate == nil || d.Row == nil || d.Fields == nil {
		t.Error("definition misses functions")
	}
}

func TestDefaultRoute(t *testing.T) {
	t.Parallel()
	r := &routev1.Route{Spec: routev1.RouteSpec{
		To:                routev1.RouteTargetReference{Name: "a"},
		AlternateBackends: []routev1.RouteTargetReference{{Name: "b"}},
		TLS:               &routev1.TLSConfig{},
	}, Status: routev1.RouteStatus{Ingress: []routev1.RouteIngress{{Host: "h"}}}}
	defaultRoute(r)
	if r.Spec.WildcardPolicy != routev1.WildcardPolicyNone {
		t.Errorf("wildcardPolicy = %q, want None", r.Spec.WildcardPolicy)
	}
	for _, b := range []routev1.RouteTargetReference{r.Spec.To, r.Spec.AlternateBackends[0]} {
		if b.Kind != "Service" || b.Weight == nil || *b.Weight != 100 {
			t.Errorf("backend %s not defaulted: kind %q weight %v", b.Name, b.Kind, b.Weight)
		}
	}
	if r.Spec.TLS.Termination != routev1.TLSTerminationEdge {
		t.Errorf("termination = %q, want edge", r.Spec.TLS.Termination)
	}
	if r.Status.Ingress[0].WildcardPolicy != routev1.WildcardPolicyNone {
		t.Errorf("ingress wildcardPolicy = %q, want None", r.Status.Ingress[0].WildcardPolicy)
	}
}

func TestValidateRouteName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		valid bool
	}{
		{"frontend", true},
		{"my.route", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"Frontend", false},
		{"front_end", false},
	}
	for _, tt := range tests {
		if got := validateRouteName(tt.name, false); (len(got) == 0) != tt.valid {
			t.Errorf("validateRouteName(%q) = %v, want valid=%v", tt.name, got, tt.valid)
		}
	}
}

func TestValidateRoute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*routev1.Route)
		want   []string
	}{
		{name: "valid", mutate: func(*routev1.Route) {}},
		{name: "plain http route", mutate: func(r *routev1.Route) { r.Spec.TLS = nil; r.Spec.Port = nil }},
		{
			name: "many invalid fields",
			mutate: func(r *routev1.Route) {
				r.Spec.Host = "bad_host.example.com"
				r.Spec.Path = "no-slash"
				r.Spec.To = routev1.RouteTargetReference{Kind: "Pod", Weight: ptr.To[int32](300)}
				r.Spec.AlternateBackends = []routev1.RouteTargetReference{{Kind: "Service"}}
				r.Spec.Port = &routev1.RoutePort{TargetPort: intstr.FromInt32(0)}
				r.Spec.TLS = &routev1.TLSConfig{Termination: "bogus"}
				r.Spec.WildcardPolicy = "Everything"
			},
			want: []string{
				"FieldValueInvalid spec.host",
				"FieldValueInvalid spec.path",
				"FieldValueRequired spec.to.name",
				"FieldValueInvalid spec.to.kind",
				"FieldValueInvalid spec.to.weight",
				"FieldValueRequired spec.alternateBackends[0].name",
				"FieldValueRequired spec.port.targetPort",
				"FieldValueNotSupported spec.tls.termination",
				"FieldValueNotSupported spec.wildcardPolicy",
			},
		},
		{
			name: "passthrough with certificates and a path",
			mutate: func(r *routev1.Route) {
				r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationPassthrough, Certificate: "c", Key: "k", InsecureEdgeTerminationPolicy: "Allow"}
			},
			want: []string{
				"FieldValueInvalid spec.path",
				"FieldValueInvalid spec.tls.certificate",
				"FieldValueInvalid spec.tls.key",
				"FieldValueInvalid spec.tls.insecureEdgeTerminationPolicy",
			},
		},
		{
			name: "metadata problems are left to the generic registry",
			mutate: func(r *routev1.Route) {
				r.Name = "Not_Valid"
				r.Namespace = ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRoute()
			tt.mutate(r)
			errs := validateRoute(context.Background(), r)
			for _, e := range errs {
				if e.Detail == "" && e.Type != field.ErrorTypeNotSupported {
					t.Errorf("error %v has no message saying what is expected", e)
				}
			}
			got := fieldSet(errs)
			if len(got) != len(tt.want) {
				t.Errorf("got %d distinct errors, want %d: %v", len(got), len(tt.want), errs)
			}
			for _, w := range tt.want {
				if !got[w] {
					t.Errorf("missing error %q in %v", w, errs)
				}
			}
		})
	}
}

func TestValidateRouteUpdate(t *testing.T) {
	t.Parallel()
	old := validRoute()
	r := validRoute()
	r.ResourceVersion, old.ResourceVersion = "1", "1"
	if errs := validateRouteUpdate(context.Background(), r, old); len(errs) != 0 {
		t.Fatalf("unchanged route: %v", errs)
	}
	r.Spec.WildcardPolicy = routev1.WildcardPolicySubdomain
	r.Spec.To.Name = ""
	got := fieldSet(validateRouteUpdate(context.Background(), r, old))
	for _, w := range []string{"FieldValueInvalid spec.wildcardPolicy", "FieldValueRequired spec.to.name"} {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}
}

func TestValidateRouteStatusUpdate(t *testing.T) {
	t.Parallel()
	old := validRoute()
	r := validRoute()
	r.Status.Ingress = []routev1.RouteIngress{
		{Host: "www.example.com", RouterName: "default", Conditions: []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: "True"}}},
	}
	if errs := validateRouteStatusUpdate(r, old); len(errs) != 0 {
		t.Fatalf("valid status: %v", errs)
	}
	r.Status.Ingress = append(r.Status.Ingress, routev1.RouteIngress{Conditions: []routev1.RouteIngressCondition{{Status: "Maybe"}}})
	got := fieldSet(validateRouteStatusUpdate(r, old))
	want := []string{
		"FieldValueRequired status.ingress[1].routerName",
		"FieldValueRequired status.ingress[1].conditions[0].type",
		"FieldValueNotSupported status.ingress[1].conditions[0].status",
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	r := validRoute()
	r.Spec.TLS = &routev1.TLSConfig{
		Termination:              routev1.TLSTerminationReencrypt,
		DestinationCACertificate: emptyDestinationCertificate,
		ExternalCertificate:      &routev1.LocalObjectReference{Name: "secret"},
	}
	prepareForCreate(r)
	if r.Spec.TLS.DestinationCACertificate != "" || r.Spec.TLS.ExternalCertificate != nil {
		t.Errorf("create kept placeholder CA or external certificate: %+v", r.Spec.TLS)
	}

	old := validRoute()
	upd := validRoute()
	upd.Spec.Host = ""
	prepareForUpdate(upd, old)
	if upd.Spec.Host != old.Spec.Host {
		t.Errorf("update cleared host: got %q, want %q", upd.Spec.Host, old.Spec.Host)
	}
}

func TestRow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*routev1.Route)
		want   []interface{}
	}{
		{
			name:   "edge with redirect",
			mutate: func(*routev1.Route) {},
			want:   []interface{}{"frontend", "www.example.com", "/app", "frontend", "http", "edge/Redirect", "None"},
		},
		{
			name: "weighted backends, no port, no tls, host from status",
			mutate: func(r *routev1.Route) {
				r.Spec.Host = ""
				r.Spec.Path = ""
				r.Spec.Port = nil
				r.Spec.TLS = nil
				r.Spec.To.Weight = ptr.To[int32](80)
				r.Spec.AlternateBackends = []routev1.RouteTargetReference{{Kind: "Service", Name: "other", Weight: ptr.To[int32](20)}}
				r.Status.Ingress = []routev1.RouteIngress{{Host: "frontend-demo.apps.example.com", Conditions: admitted}}
			},
			want: []interface{}{"frontend", "frontend-demo.apps.example.com", "", "frontend(80%),other(20%)", "<all>", "", "None"},
		},
		{
			name: "zero weights and passthrough",
			mutate: func(r *routev1.Route) {
				r.Spec.To.Weight = ptr.To[int32](0)
				r.Spec.AlternateBackends = []routev1.RouteTargetReference{{Name: "other", Weight: ptr.To[int32](0)}}
				r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationPassthrough}
				r.Spec.Port = &routev1.RoutePort{TargetPort: intstr.FromInt32(8443)}
			},
			want: []interface{}{"frontend", "www.example.com", "/app", "frontend(0%),other(0%)", "8443", "passthrough", "None"},
		},
	}
	for _, tt := range []struct {
		name    string
		ingress []routev1.RouteIngress
		want    string
	}{
		{"no router wrote status", nil, "www.example.com"},
		{"no router decided yet", []routev1.RouteIngress{{Host: "www.example.com", RouterName: "a"}}, "Pending"},
		{"admitted by one", []routev1.RouteIngress{{Host: "www.example.com", RouterName: "a", Conditions: admitted}}, "www.example.com"},
		{"admitted by two", []routev1.RouteIngress{
			{Host: "other.example.com", RouterName: "a", Conditions: admitted},
			{Host: "www.example.com", RouterName: "b", Conditions: admitted},
		}, "www.example.com ... 1 more"},
		{"rejected by every router", []routev1.RouteIngress{{Host: "www.example.com", RouterName: "a", Conditions: rejected("HostAlreadyClaimed")}}, "HostAlreadyClaimed"},
		{"admitted by one, rejected by another", []routev1.RouteIngress{
			{Host: "www.example.com", RouterName: "a", Conditions: admitted},
			{Host: "www.example.com", RouterName: "b", Conditions: rejected("ExtendedValidationFailed")},
		}, "www.example.com ... 1 rejected"},
	} {
		tests = append(tests, struct {
			name   string
			mutate func(*routev1.Route)
			want   []interface{}
		}{
			name:   "host column: " + tt.name,
			mutate: func(r *routev1.Route) { r.Status.Ingress = tt.ingress },
			want:   []interface{}{"frontend", tt.want, "/app", "frontend", "http", "edge/Redirect", "None"},
		})
	}
	d := routes(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRoute()
			tt.mutate(r)
			resourcetest.AssertRow(t, d, r, tt.want...)
		})
	}
	if _, err := d.Row(&routev1.RouteList{}); err == nil {
		t.Error("Row accepted a list")
	}
}

var admitted = []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: corev1.ConditionTrue}}

func rejected(reason string) []routev1.RouteIngressCondition {
	return []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: corev1.ConditionFalse, Reason: reason}}
}

func TestFields(t *testing.T) {
	t.Parallel()
	got := routes(Options{}).Fields(validRoute())
	want := map[string]string{"spec.host": "www.example.com", "spec.path": "/app", "spec.to.name": "frontend"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s = %q, want %q", k, got[k], v)
		}
	}
}
