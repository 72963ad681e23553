package dns

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
)

func service(namespace, name string, spec corev1.ServiceSpec) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: spec}
}

func clusterIPService(namespace, name string, ips []string, ports ...corev1.ServicePort) *corev1.Service {
	return service(namespace, name, corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ips[0], ClusterIPs: ips, Ports: ports})
}

func endpointSlice(namespace, service, name string, addressType discoveryv1.AddressType, ports []discoveryv1.EndpointPort, endpoints ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      name,
			Labels:    map[string]string{discoveryv1.LabelServiceName: service},
		},
		AddressType: addressType,
		Endpoints:   endpoints,
		Ports:       ports,
	}
}

func sliceEndpoint(addr, hostname string, ready *bool) discoveryv1.Endpoint {
	ep := discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
	if hostname != "" {
		ep.Hostname = &hostname
	}
	return ep
}

// fixtures are the objects the resolver and server tests answer from.
func fixtures() []runtime.Object {
	pg := []discoveryv1.EndpointPort{{Name: new("pg"), Protocol: new(corev1.ProtocolTCP), Port: new(int32(5432))}}
	return []runtime.Object{
		clusterIPService("default", "web", []string{"10.0.0.10"},
			corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80},
			corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53}),
		endpointSlice("default", "web", "web-1", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{{Name: new("http"), Protocol: new(corev1.ProtocolTCP), Port: new(int32(8080))}},
			sliceEndpoint("10.1.1.1", "", new(true)), sliceEndpoint("10.1.1.2", "", nil), sliceEndpoint("10.1.1.3", "", new(false))),
		clusterIPService("default", "v6", []string{"fd00::10"}),
		clusterIPService("other", "dual", []string{"10.0.0.11", "fd00::11"}),
		service("default", "db", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: corev1.ClusterIPNone}),
		endpointSlice("default", "db", "db-1", discoveryv1.AddressTypeIPv4, pg,
			sliceEndpoint("10.1.0.1", "db-0", new(true)), sliceEndpoint("10.1.0.2", "db-1", nil),
			sliceEndpoint("10.1.0.3", "db-2", new(false)), sliceEndpoint("10.1.0.4", "", new(true))),
		endpointSlice("default", "db", "db-2", discoveryv1.AddressTypeIPv6, pg, sliceEndpoint("fd00:1::5", "", nil)),
		endpointSlice("default", "db", "db-3", discoveryv1.AddressTypeFQDN, pg, sliceEndpoint("db.example.com", "", nil)),
		service("default", "ext", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "Example.COM"}),
	}
}

func newTestResolver(objs ...runtime.Object) *resolver {
	r := &resolver{
		domain: "cluster.local.",
		ttl:    30,
		services: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{
			cache.NamespaceIndex: cache.MetaNamespaceIndexFunc,
			clusterIPIndex:       clusterIPKeys,
		}),
		endpointSlices: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{serviceIndex: serviceKeys}),
	}
	for _, obj := range objs {
		switch obj.(type) {
		case *corev1.Service:
			_ = r.services.Add(obj)
		case *discoveryv1.EndpointSlice:
			_ = r.endpointSlices.Add(obj)
		}
	}
	return r
}

// normalize returns records in presentation format, sorted.
func normalize(t testing.TB, rrs []string) []string {
	t.Helper()
	out := make([]string, 0, len(rrs))
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

func format(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr.String())
		}
	}
	slices.Sort(out)
	return out
}

// resolveCase is a query and its expected answer, shared by the resolver
// and server tests.
type resolveCase struct {
	name    string
	qname   string
	qtype   uint16
	rcode   int
	answer  []string
	extra   []string
	forward bool // not the cluster's: forwarded upstream
}

var resolveCases = []resolveCase{
	{name: "service A", qname: "web.default.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{"web.default.svc.cluster.local. 30 IN A 10.0.0.10"}},
	{name: "case-insensitive, owner as asked", qname: "WEB.Default.SVC.Cluster.Local.", qtype: dns.TypeA,
		answer: []string{"WEB.Default.SVC.Cluster.Local. 30 IN A 10.0.0.10"}},
	{name: "IPv4 service AAAA is NODATA", qname: "web.default.svc.cluster.local.", qtype: dns.TypeAAAA},
	{name: "IPv6 service AAAA", qname: "v6.default.svc.cluster.local.", qtype: dns.TypeAAAA,
		answer: []string{"v6.default.svc.cluster.local. 30 IN AAAA fd00::10"}},
	{name: "dual-stack service A", qname: "dual.other.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{"dual.other.svc.cluster.local. 30 IN A 10.0.0.11"}},
	{name: "dual-stack service AAAA", qname: "dual.other.svc.cluster.local.", qtype: dns.TypeAAAA,
		answer: []string{"dual.other.svc.cluster.local. 30 IN AAAA fd00::11"}},
	{name: "wildcard", qname: "anything.web.default.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{"anything.web.default.svc.cluster.local. 30 IN A 10.0.0.10"}},
	{name: "deep wildcard", qname: "a.b.web.default.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{"a.b.web.default.svc.cluster.local. 30 IN A 10.0.0.10"}},
	{name: "headless A: ready endpoints", qname: "db.default.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{
			"db.default.svc.cluster.local. 30 IN A 10.1.0.1",
			"db.default.svc.cluster.local. 30 IN A 10.1.0.2",
			"db.default.svc.cluster.local. 30 IN A 10.1.0.4",
		}},
	{name: "headless AAAA", qname: "db.default.svc.cluster.local.", qtype: dns.TypeAAAA,
		answer: []string{"db.default.svc.cluster.local. 30 IN AAAA fd00:1::5"}},
	{name: "headless endpoint hostname", qname: "db-0.db.default.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{"db-0.db.default.svc.cluster.local. 30 IN A 10.1.0.1"}},
	{name: "headless endpoint by dashed address", qname: "10-1-0-4.db.default.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{"10-1-0-4.db.default.svc.cluster.local. 30 IN A 10.1.0.4"}},
	{name: "headless endpoint by dashed IPv6 address", qname: "fd00-1--5.db.default.svc.cluster.local.", qtype: dns.TypeAAAA,
		answer: []string{"fd00-1--5.db.default.svc.cluster.local. 30 IN AAAA fd00:1::5"}},
	{name: "headless endpoint of other type is NODATA", qname: "db-0.db.default.svc.cluster.local.", qtype: dns.TypeAAAA},
	{name: "not ready endpoint hostname falls to the wildcard", qname: "db-2.db.default.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{
			"db-2.db.default.svc.cluster.local. 30 IN A 10.1.0.1",
			"db-2.db.default.svc.cluster.local. 30 IN A 10.1.0.2",
			"db-2.db.default.svc.cluster.local. 30 IN A 10.1.0.4",
		}},
	{name: "ExternalName", qname: "ext.default.svc.cluster.local.", qtype: dns.TypeA,
		answer: []string{"ext.default.svc.cluster.local. 30 IN CNAME example.com."}},
	{name: "ExternalName wildcard", qname: "www.ext.default.svc.cluster.local.", qtype: dns.TypeAAAA,
		answer: []string{"www.ext.default.svc.cluster.local. 30 IN CNAME example.com."}},
	{name: "SRV of a named port", qname: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
		answer: []string{"_http._tcp.web.default.svc.cluster.local. 30 IN SRV 0 100 80 web.default.svc.cluster.local."},
		extra:  []string{"web.default.svc.cluster.local. 30 IN A 10.0.0.10"}},
	{name: "SRV of a UDP port", qname: "_DNS._UDP.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
		answer: []string{"_DNS._UDP.web.default.svc.cluster.local. 30 IN SRV 0 100 53 web.default.svc.cluster.local."},
		extra:  []string{"web.default.svc.cluster.local. 30 IN A 10.0.0.10"}},
	{name: "SRV of a port with another protocol", qname: "_http._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
		rcode: dns.RcodeNameError},
	{name: "A of an SRV name is NODATA", qname: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeA},
	{name: "SRV of the service name: all ports", qname: "web.default.svc.cluster.local.", qtype: dns.TypeSRV,
		answer: []string{
			"web.default.svc.cluster.local. 30 IN SRV 0 100 80 web.default.svc.cluster.local.",
			"web.default.svc.cluster.local. 30 IN SRV 0 100 53 web.default.svc.cluster.local.",
		},
		extra: []string{"web.default.svc.cluster.local. 30 IN A 10.0.0.10"}},
	{name: "SRV of a dual-stack service without ports is NODATA", qname: "dual.other.svc.cluster.local.", qtype: dns.TypeSRV},
	{name: "headless SRV", qname: "_pg._tcp.db.default.svc.cluster.local.", qtype: dns.TypeSRV,
		answer: []string{
			"_pg._tcp.db.default.svc.cluster.local. 30 IN SRV 0 100 5432 db-0.db.default.svc.cluster.local.",
			"_pg._tcp.db.default.svc.cluster.local. 30 IN SRV 0 100 5432 db-1.db.default.svc.cluster.local.",
			"_pg._tcp.db.default.svc.cluster.local. 30 IN SRV 0 100 5432 10-1-0-4.db.default.svc.cluster.local.",
			"_pg._tcp.db.default.svc.cluster.local. 30 IN SRV 0 100 5432 fd00-1--5.db.default.svc.cluster.local.",
		},
		extra: []string{
			"db-0.db.default.svc.cluster.local. 30 IN A 10.1.0.1",
			"db-1.db.default.svc.cluster.local. 30 IN A 10.1.0.2",
			"10-1-0-4.db.default.svc.cluster.local. 30 IN A 10.1.0.4",
			"fd00-1--5.db.default.svc.cluster.local. 30 IN AAAA fd00:1::5",
		}},
	{name: "SRV of ExternalName does not exist", qname: "_http._tcp.ext.default.svc.cluster.local.", qtype: dns.TypeSRV,
		rcode: dns.RcodeNameError},
	{name: "endpoints", qname: "web.default.endpoints.cluster.local.", qtype: dns.TypeA,
		answer: []string{
			"web.default.endpoints.cluster.local. 30 IN A 10.1.1.1",
			"web.default.endpoints.cluster.local. 30 IN A 10.1.1.2",
		}},
	{name: "endpoints of a missing service", qname: "nope.default.endpoints.cluster.local.", qtype: dns.TypeA,
		rcode: dns.RcodeNameError},
	{name: "below endpoints name", qname: "x.web.default.endpoints.cluster.local.", qtype: dns.TypeA,
		rcode: dns.RcodeNameError},
	{name: "pod", qname: "10-2-0-5.default.pod.cluster.local.", qtype: dns.TypeA,
		answer: []string{"10-2-0-5.default.pod.cluster.local. 30 IN A 10.2.0.5"}},
	{name: "IPv6 pod", qname: "fd00--5.default.pod.cluster.local.", qtype: dns.TypeAAAA,
		answer: []string{"fd00--5.default.pod.cluster.local. 30 IN AAAA fd00::5"}},
	{name: "pod of other type is NODATA", qname: "10-2-0-5.default.pod.cluster.local.", qtype: dns.TypeAAAA},
	{name: "pod name not an address", qname: "web.default.pod.cluster.local.", qtype: dns.TypeA,
		rcode: dns.RcodeNameError},
	{name: "PTR of a cluster IP", qname: "10.0.0.10.in-addr.arpa.", qtype: dns.TypePTR,
		answer: []string{"10.0.0.10.in-addr.arpa. 30 IN PTR web.default.svc.cluster.local."}},
	{name: "PTR of an IPv6 cluster IP", qname: reverse("fd00::11"), qtype: dns.TypePTR,
		answer: []string{reverse("fd00::11") + " 30 IN PTR dual.other.svc.cluster.local."}},
	{name: "PTR of another address", qname: "1.1.1.1.in-addr.arpa.", qtype: dns.TypePTR, forward: true},
	{name: "PTR of a network", qname: "10.in-addr.arpa.", qtype: dns.TypePTR, forward: true},
	{name: "namespace", qname: "default.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
	{name: "missing service", qname: "nope.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
	{name: "below a missing service", qname: "x.nope.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
	{name: "namespace with services", qname: "default.svc.cluster.local.", qtype: dns.TypeA},
	{name: "namespace without services", qname: "empty.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
	{name: "svc", qname: "svc.cluster.local.", qtype: dns.TypeA},
	{name: "domain SOA", qname: "cluster.local.", qtype: dns.TypeSOA,
		answer: []string{"cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30"}},
	{name: "domain A", qname: "cluster.local.", qtype: dns.TypeA},
	{name: "outside the domain", qname: "example.com.", qtype: dns.TypeA, forward: true},
	{name: "domain as a prefix", qname: "cluster.local.example.com.", qtype: dns.TypeA, forward: true},
	{name: "domain as a suffix of a label", qname: "xcluster.local.", qtype: dns.TypeA, forward: true},
}

func reverse(ip string) string {
	name, err := dns.ReverseAddr(ip)
	if err != nil {
		panic(err)
	}
	return name
}

func TestResolve(t *testing.T) {
	t.Parallel()
	r := newTestResolver(fixtures()...)
	for _, tc := range resolveCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := new(dns.Msg).SetQuestion(tc.qname, tc.qtype)
			resp := r.resolve(req)
			if tc.forward {
				if resp != nil {
					t.Fatalf("got an answer, want forwarding:\n%v", resp)
				}
				return
			}
			checkResponse(t, tc, resp)
		})
	}
}

// checkResponse checks an authoritative response against tc.
func checkResponse(t *testing.T, tc resolveCase, resp *dns.Msg) {
	t.Helper()
	if resp == nil {
		t.Fatal("no answer")
	}
	if resp.Rcode != tc.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
	}
	if !resp.Authoritative {
		t.Error("not authoritative")
	}
	if got, want := format(resp.Answer), normalize(t, tc.answer); !slices.Equal(got, want) {
		t.Errorf("answer:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := format(resp.Extra), normalize(t, tc.extra); !slices.Equal(got, want) {
		t.Errorf("extra:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var ns []string
	if len(tc.answer) == 0 {
		ns = []string{"cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30"}
	}
	if got, want := format(resp.Ns), normalize(t, ns); !slices.Equal(got, want) {
		t.Errorf("authority:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReverseAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want string // "" if not an address
	}{
		{"4.3.2.1.in-addr.arpa.", "1.2.3.4"},
		{"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.2.ip6.arpa.", "2001::"},
		{"3.2.1.in-addr.arpa.", ""},
		{"5.4.3.2.1.in-addr.arpa.", ""},
		{"04.3.2.1.in-addr.arpa.", ""},
		{"256.3.2.1.in-addr.arpa.", ""},
		{"00.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.2.ip6.arpa.", ""},
		{"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.2.ip6.arpa.", ""},
		{"in-addr.arpa.", ""},
		{"4.3.2.1.example.com.", ""},
	} {
		addr, ok := reverseAddr(tc.name)
		if got := addr.String(); ok != (tc.want != "") || ok && got != tc.want {
			t.Errorf("reverseAddr(%q) = %s, %t; want %q", tc.name, got, ok, tc.want)
		}
	}
}
