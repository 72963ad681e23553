package authz

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
)

func TestRuleAllows(t *testing.T) {
	t.Parallel()
	r := func(verbs, groups, resources, names []string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
	}
	s := func(v ...string) []string { return v }
	tests := []struct {
		name string
		rule rbacv1.PolicyRule
		req  Request
		want bool
	}{
		{"exact", r(s("get"), s(""), s("pods"), nil), Request{Verb: "get", Resource: "pods"}, true},
		{"other verb", r(s("get"), s(""), s("pods"), nil), Request{Verb: "list", Resource: "pods"}, false},
		{"other group", r(s("get"), s(""), s("pods"), nil), Request{Verb: "get", Group: "apps", Resource: "pods"}, false},
		{"wildcards", r(s("*"), s("*"), s("*"), nil), Request{Verb: "delete", Group: "x", Resource: "y", Subresource: "z"}, true},
		{"subresource not granted by resource", r(s("get"), s(""), s("pods"), nil), Request{Verb: "get", Resource: "pods/log"}, false},
		{"subresource in Resource", r(s("get"), s(""), s("pods/log"), nil), Request{Verb: "get", Resource: "pods/log"}, true},
		{"subresource field", r(s("get"), s(""), s("pods/log"), nil), Request{Verb: "get", Resource: "pods", Subresource: "log"}, true},
		{"any resource's subresource", r(s("get"), s(""), s("*/scale"), nil), Request{Verb: "get", Resource: "deployments/scale"}, true},
		{"named", r(s("get"), s("user.openshift.io"), s("users"), s("~")), Request{Verb: "get", Group: "user.openshift.io", Resource: "users", Name: "~"}, true},
		{"other name", r(s("get"), s("user.openshift.io"), s("users"), s("~")), Request{Verb: "get", Group: "user.openshift.io", Resource: "users", Name: "bob"}, false},
		{"names never grant list", r(s("list"), s(""), s("pods"), s("a")), Request{Verb: "list", Resource: "pods"}, false},
		{"url", rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/healthz")}, Request{NonResourceURL: true, Verb: "get", Path: "/healthz"}, true},
		{"url prefix", rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/.well-known/*")}, Request{NonResourceURL: true, Verb: "get", Path: "/.well-known/oauth-authorization-server"}, true},
		{"url other", rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/healthz")}, Request{NonResourceURL: true, Verb: "get", Path: "/metrics"}, false},
		{"resource rule for url", r(s("*"), s("*"), s("*"), nil), Request{NonResourceURL: true, Verb: "get", Path: "/metrics"}, false},
	}
	for _, tc := range tests {
		if got := RuleAllows(tc.rule, tc.req); got != tc.want {
			t.Errorf("%s: RuleAllows = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// fixture builds an Evaluator over in-memory listers.
func fixture(t *testing.T, objs ...interface{}) *Evaluator {
	t.Helper()
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	cr, crb, r, rb := idx(), idx(), idx(), idx()
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *rbacv1.ClusterRole:
			err = cr.Add(o)
		case *rbacv1.ClusterRoleBinding:
			err = crb.Add(o)
		case *rbacv1.Role:
			err = r.Add(o)
		case *rbacv1.RoleBinding:
			err = rb.Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return NewEvaluatorFromListers(rbaclisters.NewClusterRoleLister(cr), rbaclisters.NewClusterRoleBindingLister(crb),
		rbaclisters.NewRoleLister(r), rbaclisters.NewRoleBindingLister(rb))
}

func usr(n string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: n}
}
func grp(n string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: n}
}
func sa(ns, n string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: n}
}

func policy() []interface{} {
	podReader := []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}
	all := []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, {Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}
	ref := func(kind, name string) rbacv1.RoleRef {
		return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}
	}
	return []interface{}{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"}, Rules: all},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Rules: podReader},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "local-reader"}, Rules: podReader},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "admins"}, RoleRef: ref("ClusterRole", "cluster-admin"),
			Subjects: []rbacv1.Subject{grp("system:masters"), usr("root")}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "readers"}, RoleRef: ref("ClusterRole", "pod-reader"),
			Subjects: []rbacv1.Subject{usr("alice"), grp("devs"), sa("a", "robot")}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "local"}, RoleRef: ref("Role", "local-reader"),
			Subjects: []rbacv1.Subject{usr("carol")}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "readers"}, RoleRef: ref("ClusterRole", "pod-reader"),
			Subjects: []rbacv1.Subject{usr("bob")}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "dangling"}, RoleRef: ref("ClusterRole", "gone"),
			Subjects: []rbacv1.Subject{usr("dave")}},
	}
}

func TestWhoCan(t *testing.T) {
	t.Parallel()
	e := fixture(t, policy()...)
	users, groups, err := e.WhoCan(Request{Namespace: "a", Verb: "list", Resource: "pods"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice", "carol", "root", "system:serviceaccount:a:robot"}; !slices.Equal(users, want) {
		t.Errorf("users = %v, want %v", users, want)
	}
	if want := []string{"devs", "system:masters"}; !slices.Equal(groups, want) {
		t.Errorf("groups = %v, want %v", groups, want)
	}
	users, _, err = e.WhoCan(Request{Namespace: "a", Verb: "delete", Resource: "pods"})
	if err != nil || !slices.Equal(users, []string{"root"}) {
		t.Errorf("who can delete pods in a: %v %v, want only root", users, err)
	}
	// Cluster-wide, only cluster role bindings count.
	users, _, _ = e.WhoCan(Request{Verb: "list", Resource: "pods"})
	if !slices.Equal(users, []string{"root"}) {
		t.Errorf("who can list pods everywhere = %v, want [root]", users)
	}
	// A binding to a missing role is reported and grants nothing.
	users, _, err = e.WhoCan(Request{Namespace: "b", Verb: "list", Resource: "pods"})
	if err == nil || !strings.Contains(err.Error(), `rolebinding b/dangling refers to clusterrole "gone", which does not exist`) {
		t.Errorf("error = %v, want the dangling binding named", err)
	}
	if !slices.Equal(users, []string{"bob", "root"}) {
		t.Errorf("users in b = %v, want [bob root]", users)
	}
	users, _, _ = e.WhoCan(Request{NonResourceURL: true, Verb: "get", Path: "/metrics"})
	if !slices.Equal(users, []string{"root"}) {
		t.Errorf("who can get /metrics = %v", users)
	}
}

func TestRulesFor(t *testing.T) {
	t.Parallel()
	e := fixture(t, policy()...)
	rules, err := e.RulesFor(&user.DefaultInfo{Name: "zed", Groups: []string{"devs"}}, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Resources[0] != "pods" {
		t.Errorf("rules of a devs member in a = %+v", rules)
	}
	rules, _ = e.RulesFor(&user.DefaultInfo{Name: "zed", Groups: []string{"devs"}}, "b")
	if len(rules) != 0 {
		t.Errorf("rules of a devs member in b = %+v, want none", rules)
	}
	rules, _ = e.RulesFor(&user.DefaultInfo{Name: "system:serviceaccount:a:robot"}, "a")
	if len(rules) != 1 {
		t.Errorf("rules of the robot service account = %+v", rules)
	}
	rules, _ = e.RulesFor(&user.DefaultInfo{Name: "root"}, "")
	if len(rules) != 2 {
		t.Errorf("rules of root cluster-wide = %+v", rules)
	}
	_, err = e.RulesFor(&user.DefaultInfo{Name: "dave"}, "b")
	if err == nil {
		t.Error("missing role not reported")
	}
}
