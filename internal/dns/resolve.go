package dns

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Indexes the resolver reads, besides the namespace index on services.
const (
	clusterIPIndex = "clusterIP" // services by cluster IP
	serviceIndex   = "service"   // EndpointSlices by <namespace>/<service>
)

// clusterIPKeys indexes a service by its cluster IPs.
func clusterIPKeys(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, ip := range clusterIPs(svc) {
		keys = append(keys, ip.String())
	}
	return keys, nil
}

// serviceKeys indexes an EndpointSlice by the service it belongs to.
func serviceKeys(obj any) ([]string, error) {
	slice, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || slice.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{slice.Namespace + "/" + slice.Labels[discoveryv1.LabelServiceName]}, nil
}

// resolver answers queries for the cluster domain from the informer caches.
type resolver struct {
	domain         string        // lowercase and fully qualified: "cluster.local."
	ttl            uint32        // of every record, and the negative TTL in the SOA
	services       cache.Indexer // with cache.NamespaceIndex and clusterIPIndex
	endpointSlices cache.Indexer // with serviceIndex
}

// resolve answers req, which has one question, or returns nil when the name
// is not the cluster's and the query is to be forwarded.
func (r *resolver) resolve(req *dns.Msg) *dns.Msg {
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true // names outside the domain are forwarded
	if addr, ok := reverseAddr(name); ok {
		if q.Qtype != dns.TypePTR {
			return nil
		}
		if m.Answer = r.ptr(q.Name, addr); m.Answer == nil {
			return nil
		}
		m.Authoritative = true
		return m
	}
	if !dns.IsSubDomain(r.domain, name) {
		return nil
	}
	m.Authoritative = true
	var found bool
	m.Answer, m.Extra, found = r.lookup(q.Name, name, q.Qtype)
	if !found {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{r.soa()}
	}
	return m
}

// lookup returns the records of type qtype for name, a lowercase name in the
// domain, with owner as their owner name; found reports whether name exists.
func (r *resolver) lookup(owner, name string, qtype uint16) (answer, extra []dns.RR, found bool) {
	if name == r.domain {
		if qtype == dns.TypeSOA {
			return []dns.RR{r.soa()}, nil, true
		}
		return nil, nil, true
	}
	labels := strings.Split(strings.TrimSuffix(name, "."+r.domain), ".")
	n := len(labels)
	switch labels[n-1] {
	case "svc":
		return r.lookupService(owner, labels[:n-1], qtype)
	case "endpoints":
		return r.lookupEndpoints(owner, labels[:n-1], qtype)
	case "pod":
		return r.lookupPod(owner, labels[:n-1], qtype)
	}
	return nil, nil, false
}

// lookupService serves the names below svc.<domain>; labels excludes "svc".
func (r *resolver) lookupService(owner string, labels []string, qtype uint16) (answer, extra []dns.RR, found bool) {
	n := len(labels)
	switch n {
	case 0:
		return nil, nil, true
	case 1:
		return nil, nil, r.namespaceExists(labels[0])
	}
	svc := r.service(labels[n-1], labels[n-2])
	if svc == nil {
		return nil, nil, false
	}
	switch prefix := labels[:n-2]; {
	case len(prefix) == 2 && len(prefix[0]) > 1 && prefix[0][0] == '_' && len(prefix[1]) > 1 && prefix[1][0] == '_':
		ports := portFilter{name: prefix[0][1:], protocol: prefix[1][1:]}
		answer, extra = r.serviceRecords(owner, svc, dns.TypeSRV, ports)
		if answer == nil {
			return nil, nil, false
		}
		if qtype != dns.TypeSRV {
			return nil, nil, true
		}
		return answer, extra, true
	case len(prefix) == 1 && svc.Spec.ClusterIP == corev1.ClusterIPNone:
		var addrs []netip.Addr
		for _, ep := range r.readyEndpoints(svc.Namespace, svc.Name) {
			if ep.name() == prefix[0] {
				addrs = append(addrs, ep.addr)
			}
		}
		if addrs != nil {
			return r.addrRecords(owner, addrs, qtype), nil, true
		}
	}
	answer, extra = r.serviceRecords(owner, svc, qtype, portFilter{})
	return answer, extra, true
}

// lookupEndpoints serves the names below endpoints.<domain>; labels
// excludes "endpoints".
func (r *resolver) lookupEndpoints(owner string, labels []string, qtype uint16) (answer, extra []dns.RR, found bool) {
	switch len(labels) {
	case 0:
		return nil, nil, true
	case 1:
		return nil, nil, r.namespaceExists(labels[0])
	case 2:
		if r.service(labels[1], labels[0]) == nil {
			return nil, nil, false
		}
		var addrs []netip.Addr
		for _, ep := range r.readyEndpoints(labels[1], labels[0]) {
			addrs = append(addrs, ep.addr)
		}
		return r.addrRecords(owner, addrs, qtype), nil, true
	}
	return nil, nil, false
}

// lookupPod serves the names below pod.<domain>; labels excludes "pod".
func (r *resolver) lookupPod(owner string, labels []string, qtype uint16) (answer, extra []dns.RR, found bool) {
	switch len(labels) {
	case 0, 1:
		return nil, nil, true
	case 2:
		if addr, ok := dashedAddr(labels[0]); ok {
			return r.addrRecords(owner, []netip.Addr{addr}, qtype), nil, true
		}
	}
	return nil, nil, false
}

// serviceRecords returns svc's records of type qtype at owner. For SRV, only
// the ports that match ports, with the targets' addresses as extra.
func (r *resolver) serviceRecords(owner string, svc *corev1.Service, qtype uint16, ports portFilter) (answer, extra []dns.RR) {
	fqdn := svc.Name + "." + svc.Namespace + ".svc." + r.domain
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		if qtype == dns.TypeSRV {
			return nil, nil
		}
		return []dns.RR{&dns.CNAME{Hdr: r.hdr(owner, dns.TypeCNAME), Target: dns.Fqdn(strings.ToLower(svc.Spec.ExternalName))}}, nil
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		eps := r.readyEndpoints(svc.Namespace, svc.Name)
		if qtype != dns.TypeSRV {
			addrs := make([]netip.Addr, 0, len(eps))
			for _, ep := range eps {
				addrs = append(addrs, ep.addr)
			}
			return r.addrRecords(owner, addrs, qtype), nil
		}
		for _, ep := range eps {
			target := ep.name() + "." + fqdn
			for _, p := range ep.ports {
				if p.Port != nil && ports.match(p.Name, p.Protocol) {
					answer = append(answer, r.srv(owner, *p.Port, target))
					extra = append(extra, r.addrRecords(target, []netip.Addr{ep.addr}, dns.TypeANY)...)
				}
			}
		}
	default:
		ips := clusterIPs(svc)
		if qtype != dns.TypeSRV {
			return r.addrRecords(owner, ips, qtype), nil
		}
		for _, p := range svc.Spec.Ports {
			if ports.match(&p.Name, &p.Protocol) {
				answer = append(answer, r.srv(owner, p.Port, fqdn))
			}
		}
		if answer != nil {
			extra = r.addrRecords(fqdn, ips, dns.TypeANY)
		}
	}
	return dns.Dedup(answer, nil), dns.Dedup(extra, nil)
}

// ptr returns the PTR records at owner of the services with cluster IP addr.
func (r *resolver) ptr(owner string, addr netip.Addr) []dns.RR {
	objs, _ := r.services.ByIndex(clusterIPIndex, addr.String())
	var rrs []dns.RR
	for _, obj := range objs {
		svc := obj.(*corev1.Service)
		rrs = append(rrs, &dns.PTR{Hdr: r.hdr(owner, dns.TypePTR), Ptr: svc.Name + "." + svc.Namespace + ".svc." + r.domain})
	}
	return rrs
}

func (r *resolver) service(namespace, name string) *corev1.Service {
	obj, ok, _ := r.services.GetByKey(namespace + "/" + name)
	if !ok {
		return nil
	}
	return obj.(*corev1.Service)
}

func (r *resolver) namespaceExists(namespace string) bool {
	objs, _ := r.services.ByIndex(cache.NamespaceIndex, namespace)
	return len(objs) > 0
}

// endpoint is one ready address of a service.
type endpoint struct {
	addr     netip.Addr
	hostname string
	ports    []discoveryv1.EndpointPort
}

// name is the endpoint's label below its service name: its hostname, or
// else its address with dashes for dots or colons.
func (e endpoint) name() string {
	if e.hostname != "" {
		return e.hostname
	}
	return strings.NewReplacer(".", "-", ":", "-").Replace(e.addr.String())
}

// readyEndpoints returns the ready IP endpoints of a service, ordered by address.
func (r *resolver) readyEndpoints(namespace, service string) []endpoint {
	objs, _ := r.endpointSlices.ByIndex(serviceIndex, namespace+"/"+service)
	var eps []endpoint
	for _, obj := range objs {
		slice := obj.(*discoveryv1.EndpointSlice)
		if slice.AddressType != discoveryv1.AddressTypeIPv4 && slice.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, ep := range slice.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			var hostname string
			if ep.Hostname != nil {
				hostname = strings.ToLower(*ep.Hostname)
			}
			for _, a := range ep.Addresses {
				if addr, err := netip.ParseAddr(a); err == nil {
					eps = append(eps, endpoint{addr: addr, hostname: hostname, ports: slice.Ports})
				}
			}
		}
	}
	slices.SortFunc(eps, func(a, b endpoint) int { return a.addr.Compare(b.addr) })
	return eps
}

// addrRecords returns A and AAAA records at owner for addrs, only those of
// type qtype unless it is ANY.
func (r *resolver) addrRecords(owner string, addrs []netip.Addr, qtype uint16) []dns.RR {
	var rrs []dns.RR
	for _, addr := range addrs {
		switch {
		case addr.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			rrs = append(rrs, &dns.A{Hdr: r.hdr(owner, dns.TypeA), A: addr.AsSlice()})
		case addr.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			rrs = append(rrs, &dns.AAAA{Hdr: r.hdr(owner, dns.TypeAAAA), AAAA: addr.AsSlice()})
		}
	}
	return dns.Dedup(rrs, nil)
}

func (r *resolver) srv(owner string, port int32, target string) dns.RR {
	return &dns.SRV{Hdr: r.hdr(owner, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(port), Target: target}
}

func (r *resolver) soa() dns.RR {
	return &dns.SOA{
		Hdr:     r.hdr(r.domain, dns.TypeSOA),
		Ns:      "ns.dns." + r.domain,
		Mbox:    "hostmaster." + r.domain,
		Serial:  1,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  r.ttl,
	}
}

func (r *resolver) hdr(owner string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: r.ttl}
}

// portFilter selects ports by lowercase name and protocol; empty fields match any.
type portFilter struct{ name, protocol string }

func (f portFilter) match(name *string, protocol *corev1.Protocol) bool {
	return (f.name == "" || name != nil && f.name == strings.ToLower(*name)) &&
		(f.protocol == "" || protocol != nil && f.protocol == strings.ToLower(string(*protocol)))
}

// clusterIPs returns the service's cluster IPs, none for headless and
// ExternalName services.
func clusterIPs(svc *corev1.Service) []netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var addrs []netip.Addr
	for _, ip := range ips {
		if addr, err := netip.ParseAddr(ip); err == nil {
			addrs = append(addrs, addr)
		}
	}
	return addrs
}

// dashedAddr parses an address written with dashes for dots (IPv4) or
// colons (IPv6): 10-1-2-3, fd00--1.
func dashedAddr(label string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && addr.Is4() {
		return addr, true
	}
	if addr, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":")); err == nil && addr.Is6() && addr.Zone() == "" {
		return addr, true
	}
	return netip.Addr{}, false
}

// reverseAddr parses a lowercase in-addr.arpa or ip6.arpa name of a whole address.
func reverseAddr(name string) (netip.Addr, bool) {
	var s string
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa."):
		labels := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		slices.Reverse(labels)
		s = strings.Join(labels, ".")
	case strings.HasSuffix(name, ".ip6.arpa."):
		labels := strings.Split(strings.TrimSuffix(name, ".ip6.arpa."), ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		slices.Reverse(labels)
		var b strings.Builder
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			if i > 0 && i%4 == 0 {
				b.WriteByte(':')
			}
			b.WriteString(l)
		}
		s = b.String()
	default:
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(s)
	return addr, err == nil
}
