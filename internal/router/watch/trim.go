package watch

import (
	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Trim is the informer transform of the router's factories (set it with
// informers.WithTransform and routeinformers.WithTransform): it cuts the
// objects the router caches down to what the router reads, so the caches
// do not hold managedFields, kubectl's last-applied configuration, pods'
// targetRefs and the like, which at 10,000 routes outweigh everything else.
//
// What each kind keeps:
//
//   - Route: everything but metadata.managedFields. The status writer
//     sends the cached route back with UpdateStatus, and the API server
//     keeps only spec (and labels) of the stored route on a status update:
//     metadata.annotations come from the request, so dropping any
//     annotation here (last-applied included) would erase it on the
//     server. managedFields are safe to drop: a status update never takes
//     them from the request.
//   - Service: name, namespace, uid, resourceVersion and spec.ports
//     (MergeEndpoints reads their names, protocols and ports).
//   - EndpointSlice: name, namespace, uid, resourceVersion, the
//     kubernetes.io/service-name label, addressType, each endpoint's
//     addresses and ready condition, and the ports' names, protocols and
//     numbers.
//   - Namespace: name, uid, resourceVersion and labels (the namespace
//     selector).
//
// Any other object is returned as it is. A reader of a field not kept here
// must add it to the kind's trim function, or it reads a zero value.
//
// Trim never modifies obj: it returns a new object that shares what it
// keeps (strings, slices, maps) with obj. That sharing is safe because an
// informer hands its transform the object it just decoded from a list or a
// watch event, which nothing else holds. Trim is idempotent, as client-go
// requires: a trimmed object trims to an equal one.
func Trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *routev1.Route:
		return trimRoute(o), nil
	case *corev1.Service:
		return trimService(o), nil
	case *discoveryv1.EndpointSlice:
		return trimEndpointSlice(o), nil
	case *corev1.Namespace:
		return trimNamespace(o), nil
	}
	return obj, nil
}

func trimRoute(r *routev1.Route) *routev1.Route {
	if r.ManagedFields == nil {
		return r
	}
	out := *r
	out.ManagedFields = nil
	return &out
}

// trimMeta keeps the identity of an object: what listers key it by and
// what the informer compares versions with.
func trimMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
}

func trimService(s *corev1.Service) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   s.TypeMeta,
		ObjectMeta: trimMeta(&s.ObjectMeta),
		Spec:       corev1.ServiceSpec{Ports: s.Spec.Ports},
	}
}

func trimEndpointSlice(s *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	out := &discoveryv1.EndpointSlice{
		TypeMeta:    s.TypeMeta,
		ObjectMeta:  trimMeta(&s.ObjectMeta),
		AddressType: s.AddressType,
	}
	if name, ok := s.Labels[discoveryv1.LabelServiceName]; ok {
		out.Labels = map[string]string{discoveryv1.LabelServiceName: name}
	}
	if s.Endpoints != nil {
		out.Endpoints = make([]discoveryv1.Endpoint, len(s.Endpoints))
		for i, e := range s.Endpoints {
			out.Endpoints[i] = discoveryv1.Endpoint{Addresses: e.Addresses, Conditions: discoveryv1.EndpointConditions{Ready: e.Conditions.Ready}}
		}
	}
	if s.Ports != nil {
		out.Ports = make([]discoveryv1.EndpointPort, len(s.Ports))
		for i, p := range s.Ports {
			out.Ports[i] = discoveryv1.EndpointPort{Name: p.Name, Protocol: p.Protocol, Port: p.Port}
		}
	}
	return out
}

func trimNamespace(n *corev1.Namespace) *corev1.Namespace {
	m := trimMeta(&n.ObjectMeta)
	m.Labels = n.Labels
	return &corev1.Namespace{TypeMeta: n.TypeMeta, ObjectMeta: m}
}
