package watch

import (
	"net/netip"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// MergeEndpoints merges a service's EndpointSlices into the ready endpoints
// the data planes send traffic to, one EndpointPort per port name (and
// number: during a change of a service's targetPort slices can disagree).
// Only TCP ports and IP addresses count; an endpoint is ready unless its
// ready condition says false (the EndpointSlice API's rule for a missing
// condition), so terminating endpoints take no new traffic. Ports come in
// the order of the service's ports, which is the port a route without
// spec.port gets. It returns nil when no port has a ready endpoint.
func MergeEndpoints(svc *corev1.Service, eps []*discoveryv1.EndpointSlice) *model.ServiceEndpoints {
	type portKey struct {
		name string
		port int32
	}
	addrs := map[portKey]map[netip.Addr]struct{}{}
	for _, s := range eps {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var ready []netip.Addr
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil {
					ready = append(ready, ip.Unmap())
				}
			}
		}
		for _, p := range s.Ports {
			if p.Port == nil || (p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP) {
				continue
			}
			k := portKey{port: *p.Port}
			if p.Name != nil {
				k.name = *p.Name
			}
			set := addrs[k]
			if set == nil {
				set = map[netip.Addr]struct{}{}
				addrs[k] = set
			}
			for _, a := range ready {
				set[a] = struct{}{}
			}
		}
	}
	order := map[string]int{}
	servicePort := map[string]int32{}
	for i, p := range svc.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		order[p.Name] = i
		servicePort[p.Name] = p.Port
	}
	se := &model.ServiceEndpoints{Ports: make([]model.EndpointPort, 0, len(addrs))}
	haveReady := false
	for k, set := range addrs {
		if _, ok := order[k.name]; !ok {
			continue // a slice port the service does not (or no longer) have
		}
		ep := model.EndpointPort{Name: k.name, ServicePort: servicePort[k.name], Port: k.port, Addrs: make([]netip.Addr, 0, len(set))}
		for a := range set {
			ep.Addrs = append(ep.Addrs, a)
		}
		slices.SortFunc(ep.Addrs, func(a, b netip.Addr) int { return a.Compare(b) })
		haveReady = haveReady || len(ep.Addrs) > 0
		se.Ports = append(se.Ports, ep)
	}
	if !haveReady {
		return nil
	}
	sort.Slice(se.Ports, func(i, j int) bool {
		a, b := se.Ports[i], se.Ports[j]
		if order[a.Name] != order[b.Name] {
			return order[a.Name] < order[b.Name]
		}
		return a.Port < b.Port
	})
	return se
}
