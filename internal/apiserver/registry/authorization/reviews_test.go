package authorization

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	k8sauthzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/gantry-dev/gantry/internal/authz"
)

// sarFixture is a fake kube-apiserver that allows alice to get pods in "web",
// root to ask about anyone and carol (web's admin) to ask about anyone in
// "web"; it records the reviews it was asked.
func sarFixture() (*fake.Clientset, *[]k8sauthzv1.SubjectAccessReviewSpec) {
	kube := fake.NewClientset()
	var asked []k8sauthzv1.SubjectAccessReviewSpec
	kube.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		sar := a.(clienttesting.CreateAction).GetObject().(*k8sauthzv1.SubjectAccessReview)
		asked = append(asked, sar.Spec)
		ra := sar.Spec.ResourceAttributes
		allowed := sar.Spec.User == "alice" && ra != nil && ra.Namespace == "web" && ra.Verb == "get" && ra.Resource == "pods" ||
			sar.Spec.User == "root" && ra != nil && ra.Group == k8sauthzv1.GroupName && ra.Resource == "subjectaccessreviews" ||
			sar.Spec.User == "carol" && ra != nil && ra.Group == k8sauthzv1.GroupName && ra.Resource == "localsubjectaccessreviews" && ra.Namespace == "web"
		sar = sar.DeepCopy()
		sar.Status = k8sauthzv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: "decided by the fake"}
		return true, sar, nil
	})
	return kube, &asked
}

func ctxAs(ns string, u user.Info) context.Context {
	ctx := request.WithNamespace(context.Background(), ns)
	if u != nil {
		ctx = request.WithUser(ctx, u)
	}
	return ctx
}

func create(t *testing.T, s rest.Storage, ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	t.Helper()
	return s.(rest.Creater).Create(ctx, obj, nil, &metav1.CreateOptions{})
}

func TestSubjectAccessReviewAsksKubernetes(t *testing.T) {
	t.Parallel()
	kube, asked := sarFixture()
	s := Reviews(kube.AuthorizationV1().SubjectAccessReviews(), nil)
	out, err := create(t, s["subjectaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "root"}), &authorizationv1.SubjectAccessReview{
		Action: authorizationv1.Action{Namespace: "web", Verb: "get", Resource: "pods"}, User: "alice", Scopes: []string{"user:full"}})
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*authorizationv1.SubjectAccessReviewResponse)
	if !resp.Allowed || resp.Namespace != "web" || resp.Reason != "decided by the fake" {
		t.Errorf("response = %+v", resp)
	}
	if got := (*asked)[len(*asked)-1]; got.User != "alice" || got.Extra[authorizationv1.ScopesKey][0] != "user:full" {
		t.Errorf("asked %+v, want alice with her scopes", got)
	}
	out, err = create(t, s["subjectaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "root"}), &authorizationv1.SubjectAccessReview{
		Action: authorizationv1.Action{Namespace: "web", Verb: "delete", Resource: "pods"}, User: "alice"})
	if err != nil || out.(*authorizationv1.SubjectAccessReviewResponse).Allowed {
		t.Errorf("delete: %+v %v, want denied", out, err)
	}
}

func TestOnlyAuthorizedCallersAskAboutOthers(t *testing.T) {
	t.Parallel()
	kube, _ := sarFixture()
	s := Reviews(kube.AuthorizationV1().SubjectAccessReviews(), nil)
	about := authorizationv1.Action{Namespace: "web", Verb: "get", Resource: "pods"}
	_, err := create(t, s["subjectaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "bob"}), &authorizationv1.SubjectAccessReview{Action: about, User: "alice"})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "may ask only about themselves") {
		t.Errorf("bob asks about alice: %v, want Forbidden saying he may ask only about himself", err)
	}
	_, err = create(t, s["subjectaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "bob"}), &authorizationv1.SubjectAccessReview{Action: about, GroupsSlice: []string{"system:masters"}})
	if !apierrors.IsForbidden(err) {
		t.Errorf("bob asks about a group: %v, want Forbidden", err)
	}
	// web's admin may ask about others in web, not elsewhere.
	local := func(ns string) error {
		_, err := create(t, s["localsubjectaccessreviews"], ctxAs(ns, &user.DefaultInfo{Name: "carol"}), &authorizationv1.LocalSubjectAccessReview{
			Action: authorizationv1.Action{Verb: "get", Resource: "pods"}, User: "alice"})
		return err
	}
	if err := local("web"); err != nil {
		t.Errorf("web's admin asks about alice in web: %v", err)
	}
	if err := local("bank"); !apierrors.IsForbidden(err) {
		t.Errorf("web's admin asks about alice in bank: %v, want Forbidden", err)
	}
}

func TestPersonalSubjectAccessReviewIsAboutTheCaller(t *testing.T) {
	t.Parallel()
	kube, asked := sarFixture()
	s := Reviews(kube.AuthorizationV1().SubjectAccessReviews(), nil)
	caller := &user.DefaultInfo{Name: "alice", UID: "u1", Groups: []string{"devs", "system:authenticated"}, Extra: map[string][]string{"k": {"v"}}}
	out, err := create(t, s["localsubjectaccessreviews"], ctxAs("web", caller), &authorizationv1.LocalSubjectAccessReview{
		Action: authorizationv1.Action{Verb: "get", Resource: "pods/log"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp := out.(*authorizationv1.SubjectAccessReviewResponse); resp.Namespace != "web" {
		t.Errorf("response namespace = %q, want the request's", resp.Namespace)
	}
	got := (*asked)[0]
	if got.User != "alice" || got.UID != "u1" || !slices.Equal(got.Groups, caller.Groups) || got.Extra["k"][0] != "v" {
		t.Errorf("asked %+v, want the caller", got)
	}
	if ra := got.ResourceAttributes; ra.Namespace != "web" || ra.Resource != "pods" || ra.Subresource != "log" {
		t.Errorf("resource attributes = %+v", ra)
	}
}

func TestSubjectAccessReviewValidation(t *testing.T) {
	t.Parallel()
	kube, _ := sarFixture()
	s := Reviews(kube.AuthorizationV1().SubjectAccessReviews(), nil)
	_, err := create(t, s["localsubjectaccessreviews"], ctxAs("web", &user.DefaultInfo{Name: "a"}), &authorizationv1.LocalSubjectAccessReview{
		Action: authorizationv1.Action{Namespace: "other", Verb: "get", Resource: "pods"}})
	if !apierrors.IsInvalid(err) {
		t.Errorf("action in another namespace: %v, want Invalid", err)
	}
	_, err = create(t, s["subjectaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "a"}), &authorizationv1.SubjectAccessReview{
		Action: authorizationv1.Action{Resource: "pods"}})
	if !apierrors.IsInvalid(err) {
		t.Errorf("no verb: %v, want Invalid", err)
	}
	_, err = create(t, s["subjectaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "a"}), &authorizationv1.SubjectAccessReview{
		Action: authorizationv1.Action{Verb: "get", IsNonResourceURL: true}})
	if !apierrors.IsInvalid(err) {
		t.Errorf("non-resource URL without a path: %v, want Invalid", err)
	}
	_, err = create(t, s["localsubjectaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "a"}), &authorizationv1.LocalSubjectAccessReview{
		Action: authorizationv1.Action{Verb: "get", Resource: "pods"}})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("local review without a namespace: %v, want BadRequest", err)
	}
}

func evaluator(t *testing.T) *authz.Evaluator {
	t.Helper()
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	cr, crb, r, rb := idx(), idx(), idx(), idx()
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pod-reader"}
	for _, err := range []error{
		cr.Add(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}),
		rb.Add(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "readers"}, RoleRef: ref, Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: "User", Name: "alice"}, {APIGroup: rbacv1.GroupName, Kind: "Group", Name: "devs"},
			{Kind: "ServiceAccount", Namespace: "web", Name: "robot"}}}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return authz.NewEvaluatorFromListers(rbaclisters.NewClusterRoleLister(cr), rbaclisters.NewClusterRoleBindingLister(crb),
		rbaclisters.NewRoleLister(r), rbaclisters.NewRoleBindingLister(rb))
}

func TestResourceAccessReviewListsWhoCan(t *testing.T) {
	t.Parallel()
	s := Reviews(nil, evaluator(t))
	out, err := create(t, s["localresourceaccessreviews"], ctxAs("web", &user.DefaultInfo{Name: "admin"}), &authorizationv1.LocalResourceAccessReview{
		Action: authorizationv1.Action{Verb: "list", Resource: "pods"}})
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*authorizationv1.ResourceAccessReviewResponse)
	if resp.Namespace != "web" || !slices.Equal(resp.UsersSlice, []string{"alice", "system:serviceaccount:web:robot"}) ||
		!slices.Equal(resp.GroupsSlice, []string{"devs"}) || resp.EvaluationError != "" {
		t.Errorf("response = %+v", resp)
	}
	out, err = create(t, s["resourceaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "admin"}), &authorizationv1.ResourceAccessReview{
		Action: authorizationv1.Action{Verb: "list", Resource: "pods"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp := out.(*authorizationv1.ResourceAccessReviewResponse); len(resp.UsersSlice) != 0 || len(resp.GroupsSlice) != 0 {
		t.Errorf("cluster-wide answer = %+v, want nobody (the binding is in web only)", resp)
	}
	out, err = create(t, s["resourceaccessreviews"], ctxAs("", &user.DefaultInfo{Name: "admin"}), &authorizationv1.ResourceAccessReview{
		Action: authorizationv1.Action{Namespace: "web", Verb: "delete", Resource: "pods"}})
	if err != nil || len(out.(*authorizationv1.ResourceAccessReviewResponse).UsersSlice) != 0 {
		t.Errorf("who can delete pods in web: %+v %v, want nobody", out, err)
	}
}

func TestReviewsWaitForTheCaches(t *testing.T) {
	t.Parallel()
	f := informers.NewSharedInformerFactory(fake.NewClientset(), 0) // never started
	s := Reviews(nil, authz.NewEvaluator(f.Rbac().V1()))
	_, err := create(t, s["localresourceaccessreviews"], ctxAs("web", &user.DefaultInfo{Name: "a"}), &authorizationv1.LocalResourceAccessReview{
		Action: authorizationv1.Action{Verb: "list", Resource: "pods"}})
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("review before the caches load: %v, want ServiceUnavailable", err)
	}
}

func TestRulesReviews(t *testing.T) {
	t.Parallel()
	s := Reviews(nil, evaluator(t))
	out, err := create(t, s["selfsubjectrulesreviews"], ctxAs("web", &user.DefaultInfo{Name: "zed", Groups: []string{"devs"}}), &authorizationv1.SelfSubjectRulesReview{})
	if err != nil {
		t.Fatal(err)
	}
	st := out.(*authorizationv1.SelfSubjectRulesReview).Status
	if len(st.Rules) != 1 || st.Rules[0].Resources[0] != "pods" || !slices.Equal(st.Rules[0].Verbs, []string{"get", "list"}) {
		t.Errorf("rules of a devs member = %+v", st)
	}
	out, err = create(t, s["subjectrulesreviews"], ctxAs("web", &user.DefaultInfo{Name: "root"}), &authorizationv1.SubjectRulesReview{
		Spec: authorizationv1.SubjectRulesReviewSpec{User: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if rules := out.(*authorizationv1.SubjectRulesReview).Status.Rules; len(rules) != 0 {
		t.Errorf("rules of bob = %+v, want none", rules)
	}
	_, err = create(t, s["subjectrulesreviews"], ctxAs("web", &user.DefaultInfo{Name: "root"}), &authorizationv1.SubjectRulesReview{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("subject rules review without a subject: %v, want Invalid", err)
	}
}

func TestReviewStorageMetadata(t *testing.T) {
	t.Parallel()
	for name, st := range Reviews(nil, nil) {
		local := name != "subjectaccessreviews" && name != "resourceaccessreviews"
		if got := st.(rest.Scoper).NamespaceScoped(); got != local {
			t.Errorf("%s namespaced = %v, want %v", name, got, local)
		}
		if st.(rest.SingularNameProvider).GetSingularName()+"s" != name {
			t.Errorf("%s singular = %q", name, st.(rest.SingularNameProvider).GetSingularName())
		}
		// New is an empty object of the resource's kind, a new one every time.
		obj := st.New()
		if kind := strings.ToLower(reflect.TypeOf(obj).Elem().Name()) + "s"; kind != name {
			t.Errorf("%s New() is a %T", name, obj)
		}
		obj.(metav1.Object).SetName("changed")
		if again := st.New().(metav1.Object).GetName(); again != "" {
			t.Errorf("%s New() shares its object: name %q", name, again)
		}
		var want interface{} // rules reviews answer with the posted kind
		switch {
		case strings.HasSuffix(name, "subjectaccessreviews"):
			want = authorizationv1.SubjectAccessReviewResponse{}
		case strings.HasSuffix(name, "resourceaccessreviews"):
			want = authorizationv1.ResourceAccessReviewResponse{}
		}
		if got := st.(rest.StorageMetadata).ProducesObject("POST"); reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("%s produces %T, want %T", name, got, want)
		}
	}
}
