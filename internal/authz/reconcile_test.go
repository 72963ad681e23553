package authz

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes/fake"
)

func TestReconcileCreatesMissingRolesAndBindings(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	if err := Reconcile(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	for _, want := range ClusterRoles() {
		got, err := kube.RbacV1().ClusterRoles().Get(t.Context(), want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("clusterrole %s: %v", want.Name, err)
		}
		if len(got.Rules) != len(want.Rules) {
			t.Errorf("clusterrole %s has %d rules, want %d", want.Name, len(got.Rules), len(want.Rules))
		}
	}
	for _, want := range ClusterRoleBindings() {
		if _, err := kube.RbacV1().ClusterRoleBindings().Get(t.Context(), want.Name, metav1.GetOptions{}); err != nil {
			t.Fatalf("clusterrolebinding %s: %v", want.Name, err)
		}
	}
	// A second run changes nothing.
	before := len(kube.Actions())
	if err := Reconcile(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	for _, a := range kube.Actions()[before:] {
		if a.GetVerb() != "get" {
			t.Errorf("second reconcile did %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestReconcileRestoresRulesUnlessOptedOut(t *testing.T) {
	t.Parallel()
	tampered := rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"secrets"}}
	puller := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ImagePuller}, Rules: []rbacv1.PolicyRule{tampered}}
	pusher := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ImagePusher,
		Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "false"}}, Rules: []rbacv1.PolicyRule{tampered}}
	kube := fake.NewClientset(puller, pusher)
	if err := Reconcile(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	got, err := kube.RbacV1().ClusterRoles().Get(t.Context(), ImagePuller, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := role(t, ImagePuller).Rules; len(got.Rules) != len(want) || got.Rules[0].Resources[0] != "imagestreams/layers" {
		t.Errorf("image-puller rules = %+v, want the defaults %+v", got.Rules, want)
	}
	if got.Labels[managedBy] != "gantry" {
		t.Errorf("labels = %v", got.Labels)
	}
	got, err = kube.RbacV1().ClusterRoles().Get(t.Context(), ImagePusher, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != 1 || got.Rules[0].Resources[0] != "secrets" {
		t.Errorf("image-pusher (autoupdate=false) rules = %+v, want the administrator's", got.Rules)
	}
}

func TestReconcileOnlyAddsBindingSubjects(t *testing.T) {
	t.Parallel()
	grp := func(name string) rbacv1.Subject {
		return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: name}
	}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole"}
	basic := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "basic-users"},
		RoleRef: withName(ref, BasicUser), Subjects: []rbacv1.Subject{grp("partners")}}
	self := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "self-provisioners",
		Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "false"}}, RoleRef: withName(ref, SelfProvisioner)}
	kube := fake.NewClientset(basic, self)
	if err := Reconcile(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	got, err := kube.RbacV1().ClusterRoleBindings().Get(t.Context(), "basic-users", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got.Subjects, grp("partners")) || !slices.Contains(got.Subjects, grp(user.AllAuthenticated)) {
		t.Errorf("basic-users subjects = %+v, want partners kept and system:authenticated added", got.Subjects)
	}
	got, err = kube.RbacV1().ClusterRoleBindings().Get(t.Context(), "self-provisioners", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Subjects) != 0 {
		t.Errorf("self-provisioners (autoupdate=false, emptied by the administrator) = %+v, want no subjects", got.Subjects)
	}
}

func withName(r rbacv1.RoleRef, name string) rbacv1.RoleRef {
	r.Name = name
	return r
}
