// Package route holds the strategy pieces of route.openshift.io/v1 for
// Gantry's aggregated API server: defaulting, validation, table output and
// selectable fields of routes. Validation is the one of OpenShift
// (github.com/openshift/library-go/pkg/route/validation) with Gantry's
// route name rule on top. Host assignment (a generated host for routes
// without one, and the routes/custom-host permission for routes that bring
// their own host or certificates) is OpenShift's, from library-go's
// hostassignment, configured by Options.
package route

import (
	"context"
	"fmt"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	routecommon "github.com/openshift/library-go/pkg/route"
	"github.com/openshift/library-go/pkg/route/defaulting"
	routevalidation "github.com/openshift/library-go/pkg/route/validation"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// MaxNameLength is the longest route name: the name becomes a DNS label of
// generated host names (<name>-<namespace>.<suffix>), so OpenShift 3
// documents "The name of a route is limited to 63 characters".
const MaxNameLength = 63

// Group returns the route.openshift.io/v1 group with its persisted resources.
func Group(o Options) resource.Group {
	return resource.Group{
		GroupVersion: routev1.GroupVersion,
		Install:      routev1.Install,
		Resources:    []resource.Definition{routes(o)},
	}
}

func routes(o Options) resource.Definition {
	return resource.Definition{
		Resource:   "routes",
		Singular:   "route",
		Kind:       "Route",
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &routev1.Route{} },
		NewList:    func() runtime.Object { return &routev1.RouteList{} },

		ValidateName: validateRouteName,
		Default:      func(obj runtime.Object) { defaultRoute(obj.(*routev1.Route)) },
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			prepareForCreate(obj.(*routev1.Route))
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			prepareForUpdate(obj.(*routev1.Route), old.(*routev1.Route))
		},
		// Host assignment happens in validation, as in openshift-apiserver:
		// it needs the user's permissions, and the generated host must be
		// validated with the rest of the route.
		Validate: func(ctx context.Context, obj runtime.Object) field.ErrorList {
			r := obj.(*routev1.Route)
			if errs := assignHost(ctx, r, o); len(errs) > 0 {
				return errs
			}
			return validateRoute(ctx, r)
		},
		ValidateUpdate: func(ctx context.Context, obj, old runtime.Object) field.ErrorList {
			r, prev := obj.(*routev1.Route), old.(*routev1.Route)
			if errs := checkHostUpdate(ctx, r, prev, o); len(errs) > 0 {
				return errs
			}
			return validateRouteUpdate(ctx, r, prev)
		},
		HasStatus: true,
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateRouteStatusUpdate(obj.(*routev1.Route), old.(*routev1.Route))
		},

		Columns: columns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			r, ok := obj.(*routev1.Route)
			if !ok {
				return nil, fmt.Errorf("expected *v1.Route, got %T", obj)
			}
			return row(r), nil
		},
		Fields: func(obj runtime.Object) fields.Set {
			return selectableFields(obj.(*routev1.Route))
		},
	}
}

// validateRouteName accepts DNS-1123 subdomains of at most 63 characters.
func validateRouteName(name string, prefix bool) []string {
	errs := apivalidation.NameIsDNSSubdomain(name, prefix)
	if len(name) > MaxNameLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters (a route name is used as a DNS label of generated host names)", MaxNameLength))
	}
	return errs
}

// defaultRoute applies OpenShift's route defaults: wildcardPolicy None, a
// backend kind of Service with weight 100, and edge termination when TLS is
// set without a termination (and without a destination CA certificate).
func defaultRoute(r *routev1.Route) {
	defaulting.SetDefaults_RouteSpec(&r.Spec)
	defaulting.SetDefaults_RouteTargetReference(&r.Spec.To)
	for i := range r.Spec.AlternateBackends {
		defaulting.SetDefaults_RouteTargetReference(&r.Spec.AlternateBackends[i])
	}
	if r.Spec.TLS != nil {
		defaulting.SetDefaults_TLSConfig(r.Spec.TLS)
	}
	for i := range r.Status.Ingress {
		defaulting.SetDefaults_RouteIngress(&r.Status.Ingress[i])
	}
}

// emptyDestinationCertificate is the placeholder that OpenShift's legacy
// /oapi endpoint shows for reencrypt routes without a destination CA; a
// client that sends it back means "no destination CA".
const emptyDestinationCertificate = `-----BEGIN COMMENT-----
This is an empty PEM file created to provide backwards compatibility
for reencrypt routes that have no destinationCACertificate. This 
content will only appear for routes accessed via /oapi/v1/routes.
-----END COMMENT-----
`

func prepareForCreate(r *routev1.Route) {
	stripEmptyDestinationCACertificate(r)
	dropExternalCertificate(r)
}

func prepareForUpdate(r, old *routev1.Route) {
	stripEmptyDestinationCACertificate(r)
	dropExternalCertificate(r)
	// An update without spec.host keeps the assigned host, so re-applying
	// the manifest a route was created from does not clear it.
	if r.Spec.Host == "" {
		r.Spec.Host = old.Spec.Host
	}
}

func stripEmptyDestinationCACertificate(r *routev1.Route) {
	tls := r.Spec.TLS
	if tls != nil && tls.Termination == routev1.TLSTerminationReencrypt && tls.DestinationCACertificate == emptyDestinationCertificate {
		tls.DestinationCACertificate = ""
	}
}

// dropExternalCertificate clears spec.tls.externalCertificate as OpenShift
// does while its feature gate is off: Gantry has no router access checks
// for secrets, so routes take their certificates inline only.
func dropExternalCertificate(r *routev1.Route) {
	if r.Spec.TLS != nil {
		r.Spec.TLS.ExternalCertificate = nil
	}
}

// validationOptions turns external certificates off, which is also what
// makes the nil SubjectAccessReview creator and secrets getter passed to
// library-go safe: they are only used to check external certificates.
var validationOptions = routecommon.RouteValidationOptions{AllowExternalCertificates: false}

func validateRoute(ctx context.Context, r *routev1.Route) field.ErrorList {
	return withoutMetadata(routevalidation.ValidateRoute(ctx, r, nil, nil, validationOptions))
}

func validateRouteUpdate(ctx context.Context, r, old *routev1.Route) field.ErrorList {
	return withoutMetadata(routevalidation.ValidateRouteUpdate(ctx, r, old, nil, nil, validationOptions))
}

// validateRouteStatusUpdate checks what routers write: every ingress names
// its router and its conditions have a type and a known status.
func validateRouteStatusUpdate(r, old *routev1.Route) field.ErrorList {
	errs := withoutMetadata(routevalidation.ValidateRouteStatusUpdate(r, old))
	ingressPath := field.NewPath("status", "ingress")
	for i, ingress := range r.Status.Ingress {
		p := ingressPath.Index(i)
		if ingress.RouterName == "" {
			errs = append(errs, field.Required(p.Child("routerName"), "the name of the router that admitted or rejected the route is required"))
		}
		for j, c := range ingress.Conditions {
			cp := p.Child("conditions").Index(j)
			if c.Type == "" {
				errs = append(errs, field.Required(cp.Child("type"), "a condition type such as \"Admitted\" is required"))
			}
			switch c.Status {
			case "True", "False", "Unknown":
			default:
				errs = append(errs, field.NotSupported(cp.Child("status"), c.Status, []string{"True", "False", "Unknown"}))
			}
		}
	}
	return errs
}

// withoutMetadata drops the metadata errors of library-go's validation:
// the generic registry validates object metadata itself, and keeping both
// would report every metadata problem twice. It also explains the required
// fields that library-go reports without a message.
func withoutMetadata(errs field.ErrorList) field.ErrorList {
	out := field.ErrorList{}
	for _, e := range errs {
		if e.Field == "metadata" || strings.HasPrefix(e.Field, "metadata.") {
			continue
		}
		if e.Type == field.ErrorTypeRequired && e.Detail == "" {
			e.Detail = requiredDetail(e.Field)
		}
		out = append(out, e)
	}
	return out
}

// requiredDetail says what a required route field holds.
func requiredDetail(path string) string {
	switch {
	case path == "spec.to.name":
		return "the name of the Service the route sends traffic to is required"
	case strings.HasPrefix(path, "spec.alternateBackends[") && strings.HasSuffix(path, "].name"):
		return "the name of the alternate backend Service is required"
	case path == "spec.port.targetPort":
		return "a target port name or number of the Service is required when spec.port is set"
	case strings.HasSuffix(path, ".name"):
		return "a name is required"
	default:
		return "a value is required"
	}
}

var columns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Host/Port", Type: "string", Description: "Host the route is admitted under by routers, the reason routers rejected it, or Pending."},
	{Name: "Path", Type: "string", Description: "Path that the router watches to route traffic to the service."},
	{Name: "Services", Type: "string", Description: "Primary and alternate backends, with their share of traffic when there are several."},
	{Name: "Port", Type: "string", Description: "Target port on the service's pods, or <all>."},
	{Name: "Termination", Type: "string", Description: "TLS termination and insecure edge termination policy."},
	{Name: "Wildcard", Type: "string", Description: "Wildcard policy of the route."},
}

func row(r *routev1.Route) []interface{} {
	return []interface{}{
		r.Name,
		host(r),
		r.Spec.Path,
		services(r),
		port(r),
		termination(r),
		string(r.Spec.WildcardPolicy),
	}
}

// host is the HOST/PORT column as oc shows it: where routers admitted the
// route, not only what it asks for. The host of the first router that
// admitted it (preferring spec.host), "... N more" when several did,
// "... N rejected" when some refused it, the reason of the refusal
// (HostAlreadyClaimed, ExtendedValidationFailed) when every router refused
// it, and "Pending" while routers have reported neither. A route no router
// wrote status for shows spec.host: that cannot be told apart from a
// cluster without routers.
func host(r *routev1.Route) string {
	h := r.Spec.Host
	matched := false
	admitted, rejected := 0, 0
	reason := ""
	for _, ing := range r.Status.Ingress {
		c := admittedCondition(ing)
		switch {
		case c == nil:
		case c.Status == corev1.ConditionTrue:
			admitted++
			if !matched {
				matched = ing.Host == r.Spec.Host
				h = ing.Host
			}
		case c.Status == corev1.ConditionFalse:
			rejected++
			reason = c.Reason
		}
	}
	switch {
	case r.Status.Ingress == nil:
	case admitted == 0 && rejected > 0:
		h = reason
	case rejected > 0:
		h = fmt.Sprintf("%s ... %d rejected", h, rejected)
	case admitted == 0:
		h = "Pending"
	case admitted > 1:
		h = fmt.Sprintf("%s ... %d more", h, admitted-1)
	}
	return h
}

func admittedCondition(ing routev1.RouteIngress) *routev1.RouteIngressCondition {
	for i := range ing.Conditions {
		if ing.Conditions[i].Type == routev1.RouteAdmitted {
			return &ing.Conditions[i]
		}
	}
	return nil
}

// services renders the backends like oc: the bare name for a single
// backend, and name(percent) for each backend when there are alternates.
func services(r *routev1.Route) string {
	backends := append([]routev1.RouteTargetReference{r.Spec.To}, r.Spec.AlternateBackends...)
	var total int32
	for _, b := range backends {
		if b.Weight != nil {
			total += *b.Weight
		}
	}
	out := make([]string, 0, len(backends))
	for _, b := range backends {
		switch {
		case b.Weight == nil, len(backends) == 1 && total != 0:
			out = append(out, b.Name)
		case total == 0:
			out = append(out, fmt.Sprintf("%s(0%%)", b.Name))
		default:
			out = append(out, fmt.Sprintf("%s(%d%%)", b.Name, *b.Weight*100/total))
		}
	}
	return strings.Join(out, ",")
}

func port(r *routev1.Route) string {
	if r.Spec.Port == nil {
		return "<all>"
	}
	return r.Spec.Port.TargetPort.String()
}

func termination(r *routev1.Route) string {
	if r.Spec.TLS == nil {
		return ""
	}
	term, policy := string(r.Spec.TLS.Termination), string(r.Spec.TLS.InsecureEdgeTerminationPolicy)
	switch {
	case term != "" && policy != "":
		return term + "/" + policy
	case policy != "":
		return "default/" + policy
	default:
		return term
	}
}

func selectableFields(r *routev1.Route) fields.Set {
	return fields.Set{
		"spec.host":    r.Spec.Host,
		"spec.path":    r.Spec.Path,
		"spec.to.name": r.Spec.To.Name,
	}
}
