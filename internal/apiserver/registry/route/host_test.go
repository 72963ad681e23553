package route

import (
	"context"
	"errors"
	"strings"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// fakeAuthorizer allows the verbs on routes/custom-host listed for a user
// and records every question.
type fakeAuthorizer struct {
	allow map[string][]string // user -> verbs on routes/custom-host
	err   error
	asked []authorizer.Attributes
}

func (f *fakeAuthorizer) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	f.asked = append(f.asked, a)
	if f.err != nil {
		return authorizer.DecisionNoOpinion, "", f.err
	}
	if a.GetAPIGroup() != routev1.GroupName || a.GetResource() != "routes" || a.GetSubresource() != "custom-host" || a.GetNamespace() != "demo" {
		return authorizer.DecisionNoOpinion, "", nil
	}
	for _, v := range f.allow[a.GetUser().GetName()] {
		if v == a.GetVerb() {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func userCtx(name string) context.Context {
	ctx := request.WithNamespace(context.Background(), "demo")
	return request.WithUser(ctx, &user.DefaultInfo{Name: name, Groups: []string{"system:authenticated"}})
}

func newRoute(host string, tls *routev1.TLSConfig) *routev1.Route {
	r := validRoute()
	r.Spec.Host = host
	r.Spec.TLS = tls
	defaultRoute(r)
	return r
}

const testSubdomain = "apps.example.com"

func TestCreateGeneratesHostWhenSubdomainIsSet(t *testing.T) {
	t.Parallel()
	authz := &fakeAuthorizer{}
	d := routes(Options{Subdomain: testSubdomain, Access: AuthorizerAccess(authz)})
	r := newRoute("", nil)
	if errs := d.Validate(userCtx("viewer"), r); len(errs) > 0 {
		t.Fatalf("create without host refused: %v", errs)
	}
	if r.Spec.Host != "frontend-demo.apps.example.com" {
		t.Errorf("host = %q, want frontend-demo.apps.example.com", r.Spec.Host)
	}
	if r.Annotations["openshift.io/host.generated"] != "true" {
		t.Errorf("generated host not annotated: %v", r.Annotations)
	}
	if len(authz.asked) != 0 {
		t.Errorf("a generated host needs no permission, but %d questions were asked", len(authz.asked))
	}
}

func TestCreateKeepsEmptyHostWithoutSubdomain(t *testing.T) {
	t.Parallel()
	d := routes(Options{Access: AuthorizerAccess(&fakeAuthorizer{})})
	r := newRoute("", nil)
	if errs := d.Validate(userCtx("viewer"), r); len(errs) > 0 {
		t.Fatalf("create without host refused: %v", errs)
	}
	if r.Spec.Host != "" || r.Annotations["openshift.io/host.generated"] != "" {
		t.Errorf("host %q (annotations %v) generated without a subdomain", r.Spec.Host, r.Annotations)
	}
}

func TestCreateDoesNotGenerateHostForWildcardRoutes(t *testing.T) {
	t.Parallel()
	d := routes(Options{Subdomain: testSubdomain, Access: AuthorizerAccess(&fakeAuthorizer{})})
	r := newRoute("", nil)
	r.Spec.WildcardPolicy = routev1.WildcardPolicySubdomain
	d.Validate(userCtx("viewer"), r)
	if r.Spec.Host != "" {
		t.Errorf("wildcard route got host %q", r.Spec.Host)
	}
}

func TestCreateCustomHostNeedsPermission(t *testing.T) {
	t.Parallel()
	authz := &fakeAuthorizer{allow: map[string][]string{"editor": {"create", "update"}}}
	d := routes(Options{Subdomain: testSubdomain, Access: AuthorizerAccess(authz)})
	withCert := &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: "cert", Key: "key"}
	noCert := &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyRedirect}
	tests := []struct {
		name      string
		user      string
		route     *routev1.Route
		wantField string // "" means allowed
	}{
		{"editor sets host", "editor", newRoute("www.example.com", nil), ""},
		{"viewer sets host", "viewer", newRoute("www.example.com", nil), "spec.host"},
		{"viewer sets a host equal to the generated one", "viewer", newRoute("frontend-demo.apps.example.com", nil), "spec.host"},
		{"viewer sets certificates", "viewer", newRoute("", withCert), "spec.tls"},
		{"viewer sets edge termination without certificates", "viewer", newRoute("", noCert), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := assignHost(userCtx(tt.user), tt.route, Options{Subdomain: testSubdomain, Access: AuthorizerAccess(authz)})
			if tt.wantField == "" {
				if len(errs) > 0 {
					t.Fatalf("refused: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.wantField || errs[0].Type != field.ErrorTypeForbidden {
				t.Fatalf("errors = %v, want one Forbidden %s", errs, tt.wantField)
			}
			if !strings.Contains(errs[0].Detail, "routes/custom-host") || !strings.Contains(errs[0].Detail, "Try:") {
				t.Errorf("error does not say what is needed: %q", errs[0].Detail)
			}
		})
	}
	// The Definition refuses before validation runs.
	if errs := d.Validate(userCtx("viewer"), newRoute("www.example.com", nil)); len(errs) != 1 || errs[0].Field != "spec.host" {
		t.Errorf("Validate = %v, want the spec.host permission error only", errs)
	}
}

func TestUpdateHostNeedsUpdatePermission(t *testing.T) {
	t.Parallel()
	authz := &fakeAuthorizer{allow: map[string][]string{"editor": {"update"}, "creator": {"create"}}}
	o := Options{Subdomain: testSubdomain, Access: AuthorizerAccess(authz)}
	d := routes(o)
	old := newRoute("frontend-demo.apps.example.com", nil)
	cert := &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: "cert", Key: "key"}
	tests := []struct {
		name      string
		user      string
		mutate    func(*routev1.Route)
		wantField string
	}{
		{"unchanged host", "viewer", func(r *routev1.Route) { r.Spec.Path = "/other" }, ""},
		{"editor changes host", "editor", func(r *routev1.Route) { r.Spec.Host = "www.example.com" }, ""},
		{"creator changes host", "creator", func(r *routev1.Route) { r.Spec.Host = "www.example.com" }, "spec.host"},
		{"viewer changes host", "viewer", func(r *routev1.Route) { r.Spec.Host = "www.example.com" }, "spec.host"},
		{"creator adds certificates", "creator", func(r *routev1.Route) { r.Spec.TLS = cert }, ""},
		{"viewer adds certificates", "viewer", func(r *routev1.Route) { r.Spec.TLS = cert }, "spec.tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := old.DeepCopy()
			tt.mutate(r)
			errs := d.ValidateUpdate(userCtx(tt.user), r, old)
			if tt.wantField == "" {
				if len(errs) > 0 {
					t.Fatalf("refused: %v", errs)
				}
				return
			}
			if len(errs) == 0 || errs[0].Field != tt.wantField {
				t.Fatalf("errors = %v, want %s refused", errs, tt.wantField)
			}
			if !strings.Contains(errs[0].Detail, "Try:") {
				t.Errorf("error does not say what to do: %q", errs[0].Detail)
			}
		})
	}
	// Removing certificates needs nothing.
	withCert := old.DeepCopy()
	withCert.Spec.TLS = cert
	if errs := d.ValidateUpdate(userCtx("viewer"), old.DeepCopy(), withCert); len(errs) > 0 {
		t.Errorf("removing certificates refused: %v", errs)
	}
}

func TestAccessWithoutAuthorizerRefuses(t *testing.T) {
	t.Parallel()
	errs := assignHost(userCtx("editor"), newRoute("www.example.com", nil), Options{})
	if len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal || !strings.Contains(errs[0].Error(), "no authorizer") {
		t.Errorf("errors = %v, want an internal error naming the missing authorizer", errs)
	}
}

func TestAuthorizerAccessPassesTheUserAndReportsErrors(t *testing.T) {
	t.Parallel()
	authz := &fakeAuthorizer{allow: map[string][]string{"editor": {"create"}}}
	if errs := assignHost(userCtx("editor"), newRoute("www.example.com", nil), Options{Access: AuthorizerAccess(authz)}); len(errs) > 0 {
		t.Fatalf("editor refused: %v", errs)
	}
	if len(authz.asked) != 1 {
		t.Fatalf("asked %d questions, want 1", len(authz.asked))
	}
	a := authz.asked[0]
	if a.GetUser().GetName() != "editor" || len(a.GetUser().GetGroups()) != 1 || a.GetVerb() != "create" || !a.IsResourceRequest() {
		t.Errorf("asked %+v", a)
	}
	failing := &fakeAuthorizer{err: errors.New("webhook down")}
	errs := assignHost(userCtx("editor"), newRoute("www.example.com", nil), Options{Access: AuthorizerAccess(failing)})
	if len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal || !strings.Contains(errs[0].Error(), "webhook down") {
		t.Errorf("errors = %v, want the authorizer's error", errs)
	}
}

func TestGeneratedHostTooLong(t *testing.T) {
	t.Parallel()
	r := newRoute("", nil)
	r.Name = strings.Repeat("a", 60)
	errs := assignHost(userCtx("viewer"), r, Options{Subdomain: testSubdomain, Access: AuthorizerAccess(&fakeAuthorizer{})})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "shorter route name") {
		t.Errorf("errors = %v, want a refusal suggesting a shorter name", errs)
	}
}
