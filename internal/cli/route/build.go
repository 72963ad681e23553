package route

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// routeSpec is what both commands take from their flags.
type routeSpec struct {
	Name           string // the route's name; the service's when empty
	Service        string
	Port           string // --port: a service port name or a target port number
	Hostname       string
	Path           string
	WildcardPolicy string
}

// routeForService builds the route to a service as oc does. The target port
// is --port when given (a number as a number, anything else as a port
// name); otherwise, with pickPort, the service's first TCP port: by name
// when it has one, else by the number the pods listen on (its targetPort;
// the service port when targetPort names a container port, which the router
// cannot match). Without pickPort and without --port an unnamed port leaves
// spec.port empty, and the router uses the first port of the endpoints.
//
// Labels are the service's. A service that does not exist is allowed when
// --port says where the traffic goes (the route waits for the service), as
// in oc.
func routeForService(ctx context.Context, services corev1client.ServicesGetter, ns string, s routeSpec, pickPort bool) (*routev1.Route, error) {
	name := s.Name
	if name == "" {
		name = s.Service
	}
	r := &routev1.Route{
		TypeMeta:   metav1.TypeMeta{APIVersion: routev1.GroupVersion.String(), Kind: "Route"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: routev1.RouteSpec{
			Host: s.Hostname,
			Path: s.Path,
			To:   routev1.RouteTargetReference{Kind: "Service", Name: s.Service},
		},
	}
	if s.WildcardPolicy != "" {
		r.Spec.WildcardPolicy = routev1.WildcardPolicyType(s.WildcardPolicy)
	}
	if s.Port != "" {
		r.Spec.Port = &routev1.RoutePort{TargetPort: parsePort(s.Port)}
	}
	svc, err := services.Services(ns).Get(ctx, s.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && s.Port != "":
		return r, nil
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("service %q not found in project %s\nTry: gantry get svc -n %s, or give --port to route to a service you create later", s.Service, ns, ns)
	case err != nil:
		return nil, fmt.Errorf("read service %s/%s: %w", ns, s.Service, err)
	}
	r.Labels = svc.Labels
	port, ok := firstTCPPort(svc)
	if !ok {
		return nil, fmt.Errorf("service %q has no TCP port: routes carry HTTP and TLS only", s.Service)
	}
	if s.Port == "" {
		if target, ok := servicePortTarget(port, pickPort); ok {
			r.Spec.Port = &routev1.RoutePort{TargetPort: target}
		}
	}
	return r, nil
}

// parsePort reads --port: "8080" is a number, "http" a port name.
func parsePort(s string) intstr.IntOrString {
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return intstr.FromInt32(int32(n))
	}
	return intstr.FromString(s)
}

func firstTCPPort(svc *corev1.Service) (corev1.ServicePort, bool) {
	for _, p := range svc.Spec.Ports {
		if p.Protocol == corev1.ProtocolTCP || p.Protocol == "" {
			return p, true
		}
	}
	return corev1.ServicePort{}, false
}

// servicePortTarget is the route target port that picks this service port.
func servicePortTarget(p corev1.ServicePort, pickUnnamed bool) (intstr.IntOrString, bool) {
	switch {
	case p.Name != "":
		return intstr.FromString(p.Name), true
	case !pickUnnamed:
		return intstr.IntOrString{}, false
	case p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal != 0:
		return p.TargetPort, true
	default:
		return intstr.FromInt32(p.Port), true
	}
}

// checkPolicies checks --wildcard-policy (and --insecure-policy when
// allowed is not nil) before anything is sent.
func checkWildcardPolicy(p string) error {
	switch routev1.WildcardPolicyType(p) {
	case "", routev1.WildcardPolicyNone, routev1.WildcardPolicySubdomain:
		return nil
	}
	return fmt.Errorf("--wildcard-policy=%s is not a wildcard policy: use None (the host only) or Subdomain (every host of the host's domain)", p)
}

func checkInsecurePolicy(p string, allowed ...routev1.InsecureEdgeTerminationPolicyType) error {
	if p == "" {
		return nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		if string(a) == p {
			return nil
		}
		names[i] = string(a)
	}
	return fmt.Errorf("--insecure-policy=%s is not allowed here: use %s", p, strings.Join(names, ", "))
}

// serviceArg reads --service: NAME, svc/NAME or service/NAME.
func serviceArg(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("a route needs a service: --service is required\nTry: --service=NAME (gantry get svc lists them)")
	}
	typ, name, ok := strings.Cut(s, "/")
	if !ok {
		return s, nil
	}
	if !isService(typ) || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("--service=%s: routes point at services; give NAME or svc/NAME", s)
	}
	return name, nil
}

// isService tells whether a resource type argument names services.
func isService(typ string) bool {
	switch strings.ToLower(typ) {
	case "svc", "service", "services", "service.v1", "services.v1":
		return true
	}
	return false
}
