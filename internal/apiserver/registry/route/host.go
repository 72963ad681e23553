package route

import (
	"context"
	"fmt"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	routecommon "github.com/openshift/library-go/pkg/route"
	"github.com/openshift/library-go/pkg/route/hostassignment"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/gantry-dev/gantry/internal/router/model"
)

// Options configure the route storage.
type Options struct {
	// Subdomain, when set, gives routes created without spec.host the host
	// <name>-<namespace>.<Subdomain> (OpenShift's routingConfig.subdomain).
	Subdomain string
	// Access answers whether the requesting user may set spec.host or TLS
	// material ("create"/"update" on routes/custom-host). Required: without
	// it every route with a host or certificate is refused.
	Access routecommon.SubjectAccessReviewCreator
}

// hostGenerator is library-go's allocation hook backed by the one host rule
// Gantry's API server and router share (model.GenerateHost).
type hostGenerator struct{ subdomain string }

var _ hostassignment.HostnameGenerator = hostGenerator{}

func (g hostGenerator) GenerateHostname(r *routev1.Route) (string, error) {
	return model.GenerateHost(r.Name, r.Namespace, g.subdomain)
}

// assignHost runs OpenShift's create-time host rule (library-go's
// AllocateHost): a route that brings its own host or certificates needs
// create on routes/custom-host, and a route without a host gets a generated
// one (annotated openshift.io/host.generated=true) when a subdomain is set.
func assignHost(ctx context.Context, r *routev1.Route, o Options) field.ErrorList {
	var gen hostassignment.HostnameGenerator
	if o.Subdomain != "" {
		gen = hostGenerator{o.Subdomain}
		// library-go reports a failed generation with a dump of the
		// whole route; say what is wrong here instead.
		if r.Spec.Host == "" && r.Spec.Subdomain == "" && r.Spec.WildcardPolicy != routev1.WildcardPolicySubdomain {
			if _, err := gen.GenerateHostname(r); err != nil {
				return field.ErrorList{field.Invalid(field.NewPath("spec", "host"), "", err.Error())}
			}
		}
	}
	return explainPermission(hostassignment.AllocateHost(ctx, r, access(o), gen, validationOptions))
}

// checkHostUpdate runs OpenShift's update rule: changing the host needs
// update on routes/custom-host, changing certificates create or update.
// Removing certificates needs nothing.
func checkHostUpdate(ctx context.Context, r, old *routev1.Route, o Options) field.ErrorList {
	return explainPermission(hostassignment.ValidateHostUpdate(ctx, r, old, access(o), validationOptions))
}

func access(o Options) routecommon.SubjectAccessReviewCreator {
	if o.Access == nil {
		return denyAll{}
	}
	return o.Access
}

// denyAll stands in for a missing access checker: refusing is the safe
// answer, and the reason says the server is misconfigured.
type denyAll struct{}

func (denyAll) Create(context.Context, *authorizationv1.SubjectAccessReview, metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	return nil, fmt.Errorf("the API server has no authorizer to check routes/custom-host with")
}

// explainPermission appends what to do to library-go's permission errors,
// which only say that something is not allowed.
func explainPermission(errs field.ErrorList) field.ErrorList {
	for _, e := range errs {
		if (e.Type != field.ErrorTypeForbidden && e.Type != field.ErrorTypeInvalid) || !strings.HasPrefix(e.Detail, "you do not have permission") {
			continue
		}
		switch {
		case e.Field == "spec.host":
			e.Detail += ": setting or changing spec.host needs create/update on routes/custom-host (part of the edit and admin roles). Try: leave spec.host empty to get a generated host, or ask the project's admin for the edit role"
		case e.Field == "spec.subdomain":
			e.Detail += ": changing spec.subdomain needs update on routes/custom-host (part of the edit and admin roles). Try: ask the project's admin for the edit role"
		case strings.HasPrefix(e.Field, "spec.tls"):
			e.Detail += ": certificates on a route need create on routes/custom-host (part of the edit and admin roles). Try: leave the certificate fields empty to use the router's default certificate, or ask the project's admin for the edit role"
		}
	}
	return errs
}

// AuthorizerAccess answers library-go's access reviews with the API
// server's own authorizer (delegated to kube-apiserver and cached) instead
// of a SubjectAccessReview round trip per route write.
func AuthorizerAccess(a authorizer.Authorizer) routecommon.SubjectAccessReviewCreator {
	if a == nil {
		return nil
	}
	return authorizerAccess{a}
}

type authorizerAccess struct{ a authorizer.Authorizer }

func (z authorizerAccess) Create(ctx context.Context, sar *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	ra := sar.Spec.ResourceAttributes
	if ra == nil {
		return nil, fmt.Errorf("access review without resource attributes")
	}
	extra := map[string][]string{}
	for k, v := range sar.Spec.Extra {
		extra[k] = v
	}
	u := &user.DefaultInfo{Name: sar.Spec.User, UID: sar.Spec.UID, Groups: sar.Spec.Groups, Extra: extra}
	decision, reason, err := z.a.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: ra.Verb, Namespace: ra.Namespace, APIGroup: ra.Group, APIVersion: ra.Version,
		Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name, ResourceRequest: true,
	})
	if err != nil && decision != authorizer.DecisionAllow {
		return nil, fmt.Errorf("check %s on %s/%s: %w", ra.Verb, ra.Resource, ra.Subresource, err)
	}
	out := sar.DeepCopy()
	out.Status = authorizationv1.SubjectAccessReviewStatus{
		Allowed: decision == authorizer.DecisionAllow,
		Denied:  decision == authorizer.DecisionDeny,
		Reason:  reason,
	}
	return out, nil
}
