package project

import (
	"context"
	"errors"
	"testing"

	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// rules allows "user verb resource namespace" tuples.
type rules map[[4]string]bool

func (r rules) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if r[[4]string{a.GetUser().GetName(), a.GetVerb(), a.GetResource(), a.GetNamespace()}] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func asUser(name string) context.Context {
	return request.WithUser(context.Background(), &user.DefaultInfo{Name: name, Groups: []string{user.AllAuthenticated}})
}

func namespaces(names ...string) []runtime.Object {
	var objs []runtime.Object
	for _, n := range names {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, Annotations: map[string]string{DisplayNameAnnotation: "The " + n}}})
	}
	return objs
}

func TestListShowsOnlyProjectsTheCallerMayGet(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset(namespaces("alpha", "beta", "gamma")...)
	authz := rules{{"ann", "get", "namespaces", "beta"}: true, {"root", "list", "namespaces", ""}: true}
	r := NewREST(kube, authz)

	obj, err := r.List(asUser("ann"), nil)
	if err != nil {
		t.Fatal(err)
	}
	list := obj.(*projectv1.ProjectList)
	if len(list.Items) != 1 || list.Items[0].Name != "beta" || list.Items[0].Annotations[DisplayNameAnnotation] != "The beta" {
		t.Errorf("ann sees %+v, want only beta", list.Items)
	}
	obj, _ = r.List(asUser("root"), nil)
	if n := len(obj.(*projectv1.ProjectList).Items); n != 3 {
		t.Errorf("a user who may list namespaces sees %d projects, want 3", n)
	}
	if _, err := r.Get(asUser("ann"), "alpha", &metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("get another project: %v, want Forbidden", err)
	}
	if _, err := r.Get(asUser("ann"), "missing", &metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("get a missing project: %v, want Forbidden like an existing one", err)
	}
}

func TestValidateProjectRequest(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"shop": true, "a": false, "Shop": false, "openshift-x": false, "kube-x": false, "default": false,
		"this-name-is-sixty-four-characters-long-and-so-one-too-many-xxxxx": false,
	} {
		errs := ValidateProjectRequest(&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if (len(errs) == 0) != ok {
			t.Errorf("%q: errors %v, want ok=%v", name, errs, ok)
		}
	}
	errs := ValidateProjectRequest(&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "ok-name"}, DisplayName: "two\nlines"})
	if len(errs) != 1 || errs[0].Field != "displayName" {
		t.Errorf("multi-line display name: %v", errs)
	}
}

func newRequestREST(t *testing.T, authz authorizer.Authorizer) (*RequestREST, *fake.Clientset, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	kube := fake.NewClientset()
	scheme := runtime.NewScheme()
	_ = rbacv1.AddToScheme(scheme)
	dyn := dynamicfake.NewSimpleDynamicClient(scheme)
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), meta.RESTScopeNamespace)
	return NewRequestREST(kube, dyn, mapper, authz, "Ask ops.", "", nil), kube, dyn
}

func TestProjectRequestMakesNamespaceAndAdminBinding(t *testing.T) {
	t.Parallel()
	r, kube, dyn := newRequestREST(t, rules{{"ann", "create", "projectrequests", ""}: true})
	obj, err := r.Create(asUser("ann"), &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, DisplayName: "Shop", Description: "d"}, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := obj.(*projectv1.Project); p.Name != "shop" || p.Annotations[RequesterAnnotation] != "ann" || p.Annotations[DisplayNameAnnotation] != "Shop" {
		t.Errorf("project %+v", p.ObjectMeta)
	}
	if _, err := kube.CoreV1().Namespaces().Get(context.Background(), "shop", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace: %v", err)
	}
	rb, err := dyn.Resource(rbacv1.SchemeGroupVersion.WithResource("rolebindings")).Namespace("shop").Get(context.Background(), "admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	subjects, _, _ := unstructuredSlice(rb.Object, "subjects")
	if len(subjects) != 1 || subjects[0].(map[string]interface{})["name"] != "ann" {
		t.Errorf("admin binding subjects %v, want ann", subjects)
	}
}

func TestProjectRequestDeniedWithTheMessage(t *testing.T) {
	t.Parallel()
	r, kube, _ := newRequestREST(t, rules{})
	_, err := r.Create(asUser("bob"), &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, nil, &metav1.CreateOptions{})
	var status apierrors.APIStatus
	if !apierrors.IsForbidden(err) || !errors.As(err, &status) || status.Status().Message != "Ask ops." {
		t.Fatalf("create: %v, want Forbidden with the message", err)
	}
	if _, err := r.List(asUser("bob"), nil); !apierrors.IsForbidden(err) {
		t.Errorf("list: %v, want Forbidden", err)
	}
	if l, _ := kube.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("a denied request made namespaces: %v", l.Items)
	}
}

func TestProjectRequestRemovesTheNamespaceWhenAnObjectFails(t *testing.T) {
	t.Parallel()
	r, kube, dyn := newRequestREST(t, rules{{"ann", "create", "projectrequests", ""}: true})
	dyn.PrependReactor("create", "rolebindings", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "rolebindings"}, "admin", errors.New("escalation"))
	})
	if _, err := r.Create(asUser("ann"), &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, nil, &metav1.CreateOptions{}); err == nil {
		t.Fatal("create succeeded although the admin binding failed")
	}
	if _, err := kube.CoreV1().Namespaces().Get(context.Background(), "shop", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace left behind: %v", err)
	}
}

func unstructuredSlice(obj map[string]interface{}, key string) ([]interface{}, bool, error) {
	v, ok := obj[key].([]interface{})
	return v, ok, nil
}
