package model

import (
	"net/netip"
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Table is everything a data plane serves from at one moment: the admitted
// routes and the ready endpoints of the services they send traffic to. A
// watcher builds a new Table on every change and hands it to the data plane
// whole (Dataplane.Update); neither it nor anything it points to is modified
// afterwards.
type Table struct {
	Routes *Snapshot
	// Endpoints are the ready endpoints by service, keyed "namespace/name".
	// A service that is missing, or has no ready endpoint, is absent.
	Endpoints map[string]*ServiceEndpoints
	// Seq numbers the Tables of one watcher, from 1; 0 is a Table made
	// another way.
	Seq uint64
	// EndpointsDelta, when not nil, says which services' endpoints differ
	// from those of the Table numbered EndpointsDelta.Since; with
	// Routes.Delta it lets a data plane that served that Table recompile
	// only what changed.
	EndpointsDelta *EndpointsDelta
}

// EndpointsDelta is how a Table's Endpoints differ from an earlier Table's.
type EndpointsDelta struct {
	Since uint64
	// Services are the keys whose entry in Endpoints is not the one of
	// Since: changed, new or gone.
	Services []string
}

// DeltaFrom returns how t differs from the Table prev when t says so
// (its Endpoints from prev's, its Routes the same Snapshot or one built
// from prev's), else ok false: the whole Table is to be taken as new.
func (t *Table) DeltaFrom(prev *Table) (routes *Delta, services []string, ok bool) {
	if prev == nil || t.Routes == nil || prev.Routes == nil || t.EndpointsDelta == nil ||
		prev.Seq == 0 || t.EndpointsDelta.Since != prev.Seq {
		return nil, nil, false
	}
	if t.Routes != prev.Routes {
		d := t.Routes.Delta()
		if d == nil || d.Parent != prev.Routes.Version() {
			return nil, nil, false
		}
		routes = d
	}
	return routes, t.EndpointsDelta.Services, true
}

// Dataplane is what serves traffic from Tables: Gantry's own proxy or the
// HAProxy backend. Update is called from one goroutine, never concurrently
// with itself, and must not block on traffic.
type Dataplane interface {
	Update(t *Table)
}

// ServiceEndpoints are the ready endpoints of one service, by port.
type ServiceEndpoints struct {
	Ports []EndpointPort
}

// EndpointPort is one port of a service's endpoints.
type EndpointPort struct {
	// Name is the port's name ("" for a service's single unnamed port);
	// it is the service port's name.
	Name string
	// ServicePort is the number the service exposes this port on, 0 when
	// unknown; Port is the number the endpoints listen on (the service
	// port's targetPort).
	ServicePort int32
	Port        int32
	// Addrs are the ready endpoint addresses, sorted.
	Addrs []netip.Addr
}

// ServiceKey is the Endpoints key of a route's backend service.
func ServiceKey(namespace, service string) string { return namespace + "/" + service }

// Backend returns the endpoints port a route's traffic to one of its
// services goes to, or nil when the service has no ready endpoint on it.
// The route's spec.port.targetPort picks the port as OpenShift's router
// does: a name matches the port's name, a number the endpoints' port
// number, then the service's port number. Without a targetPort the first
// port is used.
func (t *Table) Backend(r *Route, service string) *EndpointPort {
	se := t.Endpoints[ServiceKey(r.Namespace, service)]
	if se == nil || len(se.Ports) == 0 {
		return nil
	}
	return se.port(r.TargetPort)
}

func (se *ServiceEndpoints) port(target *intstr.IntOrString) *EndpointPort {
	if target == nil {
		return nonEmpty(&se.Ports[0])
	}
	if target.Type == intstr.String {
		for i := range se.Ports {
			if se.Ports[i].Name == target.StrVal {
				return nonEmpty(&se.Ports[i])
			}
		}
		// "8080" given as a string is a number to OpenShift's router too.
		n, err := strconv.ParseInt(target.StrVal, 10, 32)
		if err != nil {
			return nil
		}
		return se.portNumber(int32(n))
	}
	return se.portNumber(target.IntVal)
}

func (se *ServiceEndpoints) portNumber(n int32) *EndpointPort {
	for i := range se.Ports {
		if se.Ports[i].Port == n {
			return nonEmpty(&se.Ports[i])
		}
	}
	for i := range se.Ports {
		if se.Ports[i].ServicePort == n {
			return nonEmpty(&se.Ports[i])
		}
	}
	return nil
}

func nonEmpty(p *EndpointPort) *EndpointPort {
	if len(p.Addrs) == 0 {
		return nil
	}
	return p
}
