package model

import (
	"net/netip"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestTableBackendPicksThePortTheRouteNames(t *testing.T) {
	a := []netip.Addr{netip.MustParseAddr("10.0.0.1")}
	tab := &Table{Endpoints: map[string]*ServiceEndpoints{
		"p/web": {Ports: []EndpointPort{
			{Name: "http", ServicePort: 80, Port: 8080, Addrs: a},
			{Name: "metrics", ServicePort: 9000, Port: 9090, Addrs: a},
			{Name: "idle", ServicePort: 7000, Port: 7070},
		}},
	}}
	str := intstr.FromString
	num := func(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }
	name := func(s string) *intstr.IntOrString { v := str(s); return &v }
	for _, tc := range []struct {
		desc    string
		ns, svc string
		target  *intstr.IntOrString
		want    int32 // endpoint port, 0 for none
	}{
		{"no targetPort takes the first port", "p", "web", nil, 8080},
		{"a name matches the port name", "p", "web", name("metrics"), 9090},
		{"a number matches the endpoints port", "p", "web", num(9090), 9090},
		{"a number falls back to the service port", "p", "web", num(9000), 9090},
		{"a numeric string is a number", "p", "web", name("8080"), 8080},
		{"an unknown name matches nothing", "p", "web", name("grpc"), 0},
		{"an unknown number matches nothing", "p", "web", num(1), 0},
		{"a port without ready addresses is no backend", "p", "web", name("idle"), 0},
		{"another namespace's service of the same name is not used", "q", "web", nil, 0},
		{"a missing service is no backend", "p", "api", nil, 0},
	} {
		r := &Route{Namespace: tc.ns, Name: "r", TargetPort: tc.target}
		got := tab.Backend(r, tc.svc)
		switch {
		case tc.want == 0 && got != nil:
			t.Errorf("%s: got port %d, want none", tc.desc, got.Port)
		case tc.want != 0 && (got == nil || got.Port != tc.want):
			t.Errorf("%s: got %v, want port %d", tc.desc, got, tc.want)
		}
	}
}
