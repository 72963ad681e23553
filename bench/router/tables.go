package main

import (
	"fmt"
	"net/netip"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// routeHost is the host of synthetic route i, as hosts.lua builds it.
func routeHost(i int) string { return fmt.Sprintf("r%d-ns%d.apps.example.com", i, i%100) }

// edgeHost is the host of the synthetic edge route.
const edgeHost = "edge.apps.example.com"

func syntheticRoute(ns, name, host string) *routev1.Route {
	r := &routev1.Route{}
	r.Namespace, r.Name = ns, name
	r.UID, r.ResourceVersion = types.UID(ns+"/"+name), "1"
	r.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r.Spec.Host = host
	r.Spec.To = routev1.RouteTargetReference{Kind: "Service", Name: name}
	r.Spec.WildcardPolicy = routev1.WildcardPolicyNone
	return r
}

// synthetic builds the bench's routes: routes r0..r<n-1> (plain HTTP, one
// service each, in 100 namespaces), the edge route (the default
// certificate) and the extra routes given, every service with one
// endpoint at addr:port.
func synthetic(b *model.Builder, n int, extra []int, addr netip.Addr, port int32) *model.Table {
	routes := make([]*routev1.Route, 0, n+1+len(extra))
	add := func(i int) {
		routes = append(routes, syntheticRoute(fmt.Sprintf("ns%d", i%100), fmt.Sprintf("r%d", i), routeHost(i)))
	}
	for i := range n {
		add(i)
	}
	for _, i := range extra {
		add(i)
	}
	edge := syntheticRoute("tls", "edge", edgeHost)
	edge.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge}
	routes = append(routes, edge)
	snap, _ := b.Build(routes, nil)
	t := &model.Table{Routes: snap, Endpoints: make(map[string]*model.ServiceEndpoints, len(routes))}
	for _, r := range routes {
		t.Endpoints[model.ServiceKey(r.Namespace, r.Name)] = &model.ServiceEndpoints{Ports: []model.EndpointPort{
			{ServicePort: 80, Port: port, Addrs: []netip.Addr{addr}},
		}}
	}
	return t
}
