package authz

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/component-helpers/auth/rbac/validation"
)

func role(t *testing.T, name string) rbacv1.ClusterRole {
	t.Helper()
	for _, r := range ClusterRoles() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no cluster role %s", name)
	return rbacv1.ClusterRole{}
}

// allows says whether any rule of the role grants req.
func allows(r rbacv1.ClusterRole, req Request) bool {
	return slices.ContainsFunc(r.Rules, func(p rbacv1.PolicyRule) bool { return RuleAllows(p, req) })
}

var mutating = []string{"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate", "*"}

func TestViewRulesOnlyRead(t *testing.T) {
	t.Parallel()
	for _, r := range role(t, AggregateToView).Rules {
		for _, v := range r.Verbs {
			if slices.Contains(mutating, v) {
				t.Errorf("view rule %v grants %q", r, v)
			}
		}
		for _, res := range r.Resources {
			if strings.Contains(res, "secret") || res == "*" {
				t.Errorf("view rule %v names %q", r, res)
			}
		}
	}
	v := role(t, AggregateToView)
	if v.Labels["rbac.authorization.k8s.io/aggregate-to-view"] != "true" {
		t.Errorf("view extension labels = %v, want aggregation to view", v.Labels)
	}
	for _, res := range []string{"routes", "imagestreams", "buildconfigs", "builds", "deploymentconfigs", "templates"} {
		group := map[string]string{"routes": routeGroup, "imagestreams": imageGroup, "buildconfigs": buildGroup, "builds": buildGroup,
			"deploymentconfigs": appsOSGroup, "templates": templateGroup}[res]
		if !allows(v, Request{Namespace: "p", Verb: "list", Group: group, Resource: res}) {
			t.Errorf("view cannot list %s.%s", res, group)
		}
		if allows(v, Request{Namespace: "p", Verb: "create", Group: group, Resource: res}) {
			t.Errorf("view can create %s.%s", res, group)
		}
	}
}

func TestEditAndViewCannotTouchRolesOrBindings(t *testing.T) {
	t.Parallel()
	for _, name := range []string{AggregateToView, AggregateToEdit} {
		r := role(t, name)
		for _, res := range []string{"roles", "rolebindings", "clusterroles", "clusterrolebindings"} {
			for _, v := range []string{"get", "create", "update", "delete", "bind", "escalate"} {
				for _, g := range []string{rbac, authzGroup} {
					if allows(r, Request{Namespace: "p", Verb: v, Group: g, Resource: res}) {
						t.Errorf("%s may %s %s.%s", name, v, res, g)
					}
				}
			}
		}
		if allows(r, Request{Namespace: "p", Verb: "update", Group: projectGroup, Resource: "projects", Name: "p"}) {
			t.Errorf("%s may change the project itself", name)
		}
		if allows(r, Request{Namespace: "p", Verb: "update", Group: quotaGroup, Resource: "clusterresourcequotas"}) {
			t.Errorf("%s may change quota", name)
		}
	}
	if !allows(role(t, AggregateToAdmin), Request{Namespace: "p", Verb: "delete", Group: projectGroup, Resource: "projects", Name: "p"}) {
		t.Error("admin may not delete the project")
	}
	if !allows(role(t, AggregateToAdmin), Request{Namespace: "p", Verb: "create", Group: authzGroup, Resource: "localresourceaccessreviews"}) {
		t.Error("admin may not ask who can act in the project")
	}
}

func TestEditPushesAndBuilds(t *testing.T) {
	t.Parallel()
	e := role(t, AggregateToEdit)
	for _, req := range []Request{
		{Verb: "update", Group: imageGroup, Resource: "imagestreams/layers"},
		{Verb: "create", Group: buildGroup, Resource: "buildconfigs", Subresource: "instantiate"},
		{Verb: "create", Group: appsOSGroup, Resource: "deploymentconfigs/rollback"},
		{Verb: "create", Group: templateGroup, Resource: "processedtemplates"},
		{Verb: "create", Group: routeGroup, Resource: "routes/custom-host"},
	} {
		req.Namespace = "p"
		if !allows(e, req) {
			t.Errorf("edit cannot %+v", req)
		}
	}
}

func TestClusterReaderReadsEverythingButSecrets(t *testing.T) {
	t.Parallel()
	cr := role(t, ClusterReader)
	if cr.AggregationRule == nil || len(cr.AggregationRule.ClusterRoleSelectors) != 2 {
		t.Fatalf("cluster-reader aggregation = %+v", cr.AggregationRule)
	}
	agg := role(t, AggregateToClusterRdr)
	if agg.Labels[aggregateToClusterReader] != "true" {
		t.Errorf("labels = %v", agg.Labels)
	}
	for _, r := range agg.Rules {
		for _, v := range r.Verbs {
			if v != "create" && slices.Contains(mutating, v) {
				t.Errorf("cluster-reader rule %v grants %q", r, v)
			}
			if v == "create" && (len(r.APIGroups) != 1 || r.APIGroups[0] != authzGroup || !allReviews(r.Resources)) {
				t.Errorf("cluster-reader may create %v: only reviews are allowed", r.Resources)
			}
		}
		for _, res := range r.Resources {
			if strings.Contains(res, "secret") || strings.Contains(res, "token") || res == "*" || res == "oauthclients" {
				t.Errorf("cluster-reader rule %v names %q", r, res)
			}
		}
	}
	if !allows(agg, Request{Verb: "list", Group: core, Resource: "nodes"}) || !allows(agg, Request{Verb: "list", Group: rbac, Resource: "clusterrolebindings"}) {
		t.Error("cluster-reader cannot list nodes or cluster role bindings")
	}
}

func allReviews(resources []string) bool {
	for _, r := range resources {
		if !strings.HasSuffix(r, "reviews") {
			return false
		}
	}
	return true
}

func TestBasicUserSeesOnlyItself(t *testing.T) {
	t.Parallel()
	b := role(t, BasicUser)
	if !allows(b, Request{Verb: "get", Group: userGroup, Resource: "users", Name: "~"}) {
		t.Error("basic-user cannot get ~")
	}
	if allows(b, Request{Verb: "get", Group: userGroup, Resource: "users", Name: "alice"}) {
		t.Error("basic-user can get another user")
	}
	if allows(b, Request{Verb: "create", Group: projectGroup, Resource: "projectrequests"}) {
		t.Error("basic-user can request projects: that is self-provisioner's")
	}
	if !allows(role(t, SelfProvisioner), Request{Verb: "create", Group: projectGroup, Resource: "projectrequests"}) {
		t.Error("self-provisioner cannot request projects")
	}
	if !allows(b, Request{Verb: "create", Group: authzGroup, Resource: "selfsubjectrulesreviews", Namespace: "p"}) {
		t.Error("basic-user cannot ask what it may do")
	}
	if allows(b, Request{Verb: "create", Group: authzGroup, Resource: "resourceaccessreviews"}) {
		t.Error("basic-user can ask who can do things")
	}
}

func TestAnyoneReadsTheOAuthMetadata(t *testing.T) {
	t.Parallel()
	p := role(t, PublicInfoViewer)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/version", "/healthz"} {
		if !allows(p, Request{NonResourceURL: true, Verb: "get", Path: path}) {
			t.Errorf("public info viewer cannot get %s", path)
		}
	}
	if allows(p, Request{NonResourceURL: true, Verb: "get", Path: "/apis"}) || allows(p, Request{NonResourceURL: true, Verb: "post", Path: "/version"}) {
		t.Error("public info viewer reaches more than public info")
	}
	var found bool
	for _, b := range ClusterRoleBindings() {
		if b.RoleRef.Name == PublicInfoViewer {
			found = true
			var groups []string
			for _, s := range b.Subjects {
				groups = append(groups, s.Name)
			}
			if !slices.Contains(groups, user.AllAuthenticated) || !slices.Contains(groups, user.AllUnauthenticated) {
				t.Errorf("public info viewer bound to %v", groups)
			}
		}
		if b.RoleRef.Name == ClusterStatus && slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return s.Name == user.AllUnauthenticated }) {
			t.Error("cluster-status (discovery) is open to anonymous users")
		}
	}
	if !found {
		t.Error("public info viewer is not bound")
	}
}

func TestSystemRoles(t *testing.T) {
	t.Parallel()
	pull := Request{Namespace: "p", Verb: "get", Group: imageGroup, Resource: "imagestreams/layers"}
	push := Request{Namespace: "p", Verb: "update", Group: imageGroup, Resource: "imagestreams/layers"}
	if !allows(role(t, ImagePuller), pull) || allows(role(t, ImagePuller), push) {
		t.Error("image-puller must pull and not push")
	}
	if !allows(role(t, ImagePusher), push) {
		t.Error("image-pusher cannot push")
	}
	if ok, missing := validation.Covers(role(t, ImageBuilder).Rules, role(t, ImagePusher).Rules); !ok {
		t.Errorf("image-builder lacks pusher rules %v", missing)
	}
	if !allows(role(t, ImageBuilder), Request{Namespace: "p", Verb: "update", Group: buildGroup, Resource: "builds", Subresource: "details"}) {
		t.Error("image-builder cannot update build details")
	}
	d := role(t, Deployer)
	for _, req := range []Request{
		{Verb: "update", Resource: "replicationcontrollers"}, {Verb: "create", Resource: "pods"},
		{Verb: "create", Resource: "events"}, {Verb: "update", Group: imageGroup, Resource: "imagestreamtags"},
	} {
		req.Namespace = "p"
		if !allows(d, req) {
			t.Errorf("deployer cannot %+v", req)
		}
	}
	if allows(d, Request{Namespace: "p", Verb: "get", Resource: "secrets"}) {
		t.Error("deployer can read secrets")
	}
	if !allows(role(t, Router), Request{Verb: "update", Group: routeGroup, Resource: "routes/status", Namespace: "p"}) {
		t.Error("router cannot report route status")
	}
	if !allows(role(t, TokenManager), Request{Verb: "delete", Group: oauthGroup, Resource: "useroauthaccesstokens", Name: "sha256~x"}) {
		t.Error("token manager cannot revoke a token")
	}
}

func TestRolesAndBindingsAreConsistent(t *testing.T) {
	t.Parallel()
	names := map[string]bool{"cluster-admin": true, "admin": true, "edit": true, "view": true}
	for _, r := range ClusterRoles() {
		if names[r.Name] {
			t.Errorf("role %s defined twice (or overrides Kubernetes')", r.Name)
		}
		names[r.Name] = true
		if r.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
			t.Errorf("role %s lacks the autoupdate annotation", r.Name)
		}
		for _, p := range r.Rules {
			if len(p.Verbs) == 0 || (len(p.Resources) == 0) == (len(p.NonResourceURLs) == 0) {
				t.Errorf("role %s has a malformed rule %+v", r.Name, p)
			}
		}
	}
	for _, b := range ClusterRoleBindings() {
		if !names[b.RoleRef.Name] {
			t.Errorf("binding %s refers to unknown role %s", b.Name, b.RoleRef.Name)
		}
		if len(b.Subjects) == 0 {
			t.Errorf("binding %s has no subjects", b.Name)
		}
	}
}
