package authz

import (
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestProjectWebhookLetsProjectRolesActOnTheirProject(t *testing.T) {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"}
	viewRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}
	e := fixture(t,
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "admin"}, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get", "update", "patch", "delete"}, APIGroups: []string{ProjectGroup}, Resources: []string{"projects"}}}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"}, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, APIGroups: []string{ProjectGroup}, Resources: []string{"projects"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "admin"}, RoleRef: ref, Subjects: []rbacv1.Subject{usr("alice")}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "view"}, RoleRef: viewRef, Subjects: []rbacv1.Subject{grp("auditors")}},
	)
	w := ProjectWebhook{Evaluator: e}
	// kube-apiserver appends a reason to every denial: none when the webhook has no opinion.
	if st := w.Decide(authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "secrets"}}); st.Reason != "" || st.Allowed {
		t.Errorf("an unrelated request: %+v, want no opinion and no reason", st)
	}
	ask := func(user string, groups []string, verb, group, resource, namespace, name string) bool {
		st := w.Decide(authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: namespace, Name: name}})
		return st.Allowed
	}
	for _, c := range []struct {
		desc                                   string
		user                                   string
		groups                                 []string
		verb, group, resource, namespace, name string
		want                                   bool
	}{
		{"admin deletes her project", "alice", nil, "delete", ProjectGroup, "projects", "", "shop", true},
		{"admin updates her project", "alice", nil, "update", ProjectGroup, "projects", "", "shop", true},
		{"admin cannot delete another project", "alice", nil, "delete", ProjectGroup, "projects", "", "bank", false},
		{"a viewer (by group) gets the project", "bob", []string{"auditors"}, "get", ProjectGroup, "projects", "", "shop", true},
		{"a viewer cannot delete it", "bob", []string{"auditors"}, "delete", ProjectGroup, "projects", "", "shop", false},
		{"a stranger cannot get it", "mallory", nil, "get", ProjectGroup, "projects", "", "shop", false},
		{"only named requests", "alice", nil, "list", ProjectGroup, "projects", "", "", false},
		{"not namespaces", "alice", nil, "delete", "", "namespaces", "", "shop", false},
		{"not other resources named like the project", "alice", nil, "delete", ProjectGroup, "projectrequests", "", "shop", false},
		{"not create", "alice", nil, "create", ProjectGroup, "projects", "", "shop", false},
	} {
		if got := ask(c.user, c.groups, c.verb, c.group, c.resource, c.namespace, c.name); got != c.want {
			t.Errorf("%s: allowed = %v, want %v", c.desc, got, c.want)
		}
	}
}

func TestResolveLegacyGroup(t *testing.T) {
	for _, c := range [][3]string{
		{"", "projectrequests", "project.openshift.io"},
		{"", "builds/log", "build.openshift.io"},
		{"", "pods", ""},
		{"apps", "deployments", "apps"},
		{"example.com", "routes", "example.com"},
	} {
		if got := ResolveLegacyGroup(c[0], c[1]); got != c[2] {
			t.Errorf("ResolveLegacyGroup(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
