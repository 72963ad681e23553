package policy

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	authorizationfake "github.com/openshift/client-go/authorization/clientset/versioned/fake"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gantry-dev/gantry/internal/authz"
)

func options(t *testing.T, kube *fake.Clientset, cluster bool) (*RoleOptions, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &RoleOptions{Cluster: cluster, Namespace: "web", RBAC: kube.RbacV1(),
		IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: errOut}}, out, errOut
}

func subjectNames(s []rbacv1.Subject) []string {
	var out []string
	for _, x := range s {
		n := x.Kind + ":" + x.Name
		if x.Namespace != "" {
			n = x.Kind + ":" + x.Namespace + "/" + x.Name
		}
		out = append(out, n)
	}
	return out
}

func TestAddRoleToUsersAndServiceAccounts(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	o, out, _ := options(t, kube, false)
	o.RoleName, o.Users, o.ServiceAccounts = "edit", []string{"alice", "system:serviceaccount:ci:robot"}, []string{"builder"}
	if err := o.AddRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), `clusterrole.rbac.authorization.k8s.io/edit added: ["alice" "system:serviceaccount:ci:robot" "builder"]`+"\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	b, err := kube.RbacV1().RoleBindings("web").Get(t.Context(), "edit", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"}) {
		t.Errorf("roleRef = %+v", b.RoleRef)
	}
	if got, want := subjectNames(b.Subjects), []string{"User:alice", "ServiceAccount:ci/robot", "ServiceAccount:web/builder"}; !slices.Equal(got, want) {
		t.Errorf("subjects = %v, want %v", got, want)
	}

	// Again: nothing to do. Another user: a second binding, as oc makes.
	out.Reset()
	o.Users, o.ServiceAccounts = []string{"alice"}, nil
	if err := o.AddRole(t.Context()); err != nil || out.String() != `clusterrole.rbac.authorization.k8s.io/edit added: "alice"`+"\n" {
		t.Fatalf("re-add: %v %q", err, out)
	}
	o.Users = []string{"bob"}
	if err := o.AddRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	list, _ := kube.RbacV1().RoleBindings("web").List(t.Context(), metav1.ListOptions{})
	if len(list.Items) != 2 || list.Items[1].Name != "edit-0" || list.Items[1].Subjects[0].Name != "bob" {
		t.Errorf("bindings = %+v", list.Items)
	}
}

func TestAddRoleWithBindingName(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "team"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "alice"}}})
	o, _, _ := options(t, kube, false)
	o.RoleName, o.Groups, o.BindingName = "view", []string{"devs"}, "team"
	if err := o.AddRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, _ := kube.RbacV1().RoleBindings("web").Get(t.Context(), "team", metav1.GetOptions{})
	if got := subjectNames(b.Subjects); !slices.Equal(got, []string{"User:alice", "Group:devs"}) {
		t.Errorf("subjects = %v", got)
	}
	o.RoleName = "edit"
	err := o.AddRole(t.Context())
	if err == nil || !strings.Contains(err.Error(), `binding team is for clusterrole "view", not clusterrole "edit"`) {
		t.Errorf("binding of another role: %v", err)
	}
}

func TestRemoveRole(t *testing.T) {
	t.Parallel()
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}
	user := func(n string) rbacv1.Subject {
		return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: "User", Name: n}
	}
	kube := fake.NewClientset(
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "view"}, RoleRef: ref, Subjects: []rbacv1.Subject{user("alice"), user("bob")}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "view-0"}, RoleRef: ref, Subjects: []rbacv1.Subject{user("alice")}},
	)
	o, out, _ := options(t, kube, false)
	o.RoleName, o.Users = "view", []string{"alice"}
	if err := o.RemoveRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out.String() != `clusterrole.rbac.authorization.k8s.io/view removed: "alice"`+"\n" {
		t.Errorf("output %q", out)
	}
	list, _ := kube.RbacV1().RoleBindings("web").List(t.Context(), metav1.ListOptions{})
	if len(list.Items) != 1 || !slices.Equal(subjectNames(list.Items[0].Subjects), []string{"User:bob"}) {
		t.Errorf("bindings left = %+v, want view with bob (view-0 emptied and deleted)", list.Items)
	}
	err := o.RemoveRole(t.Context())
	if err == nil || !strings.Contains(err.Error(), "unable to find target [alice]") {
		t.Errorf("second removal: %v", err)
	}
	o.RoleName = "admin"
	err = o.RemoveRole(t.Context())
	if err == nil || !strings.Contains(err.Error(), `unable to locate any RoleBinding for ClusterRole "admin"`) {
		t.Errorf("removal of an unbound role: %v", err)
	}
}

func TestClusterRoleCommands(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	o, out, _ := options(t, kube, true)
	o.RoleName, o.Groups = "cluster-reader", []string{"auditors"}
	if err := o.AddRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out.String() != `clusterrole.rbac.authorization.k8s.io/cluster-reader added: "auditors"`+"\n" {
		t.Errorf("output %q", out)
	}
	b, err := kube.RbacV1().ClusterRoleBindings().Get(t.Context(), "cluster-reader", metav1.GetOptions{})
	if err != nil || !slices.Equal(subjectNames(b.Subjects), []string{"Group:auditors"}) {
		t.Fatalf("binding = %+v %v", b, err)
	}
	if err := o.RemoveRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Get(t.Context(), "cluster-reader", metav1.GetOptions{}); err == nil {
		t.Error("emptied cluster role binding kept")
	}
}

func TestEmptiedBindingOptedOutOfUpdatesIsKept(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset(&rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "self-provisioners", Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "false"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "self-provisioner"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "system:authenticated:oauth"}},
	})
	o, _, _ := options(t, kube, true)
	o.RoleName, o.Groups = "self-provisioner", []string{"system:authenticated:oauth"}
	if err := o.RemoveRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := kube.RbacV1().ClusterRoleBindings().Get(t.Context(), "self-provisioners", metav1.GetOptions{})
	if err != nil || len(b.Subjects) != 0 {
		t.Errorf("binding = %+v %v, want it kept and empty", b, err)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	tests := []struct {
		name string
		edit func(o *RoleOptions)
		want string
	}{
		{"nobody", func(o *RoleOptions) {}, "name at least one user"},
		{"full name with -z", func(o *RoleOptions) { o.ServiceAccounts = []string{"system:serviceaccount:a:b"} }, "-z takes the short name"},
		{"bad sa", func(o *RoleOptions) { o.ServiceAccounts = []string{"Bad_Name"} }, "not a valid service account name"},
		{"role in another project", func(o *RoleOptions) { o.Users = []string{"a"}; o.RoleNamespace = "other" }, `cannot refer to a role in project "other"`},
		{"no project", func(o *RoleOptions) { o.Users = []string{"a"}; o.Namespace = "" }, "no project selected"},
	}
	for _, tc := range tests {
		o, _, _ := options(t, kube, false)
		o.RoleName = "view"
		tc.edit(o)
		if err := o.AddRole(t.Context()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if len(kube.Actions()) != 0 {
		t.Errorf("invalid commands called the API: %v", kube.Actions())
	}
}

func TestRoleInTheProject(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	o, out, _ := options(t, kube, false)
	o.RoleName, o.RoleNamespace, o.Users = "deployer-helper", "web", []string{"alice"}
	if err := o.AddRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out.String() != `role.rbac.authorization.k8s.io/deployer-helper added: "alice"`+"\n" {
		t.Errorf("output %q", out)
	}
	b, _ := kube.RbacV1().RoleBindings("web").Get(t.Context(), "deployer-helper", metav1.GetOptions{})
	if b.RoleRef.Kind != "Role" {
		t.Errorf("roleRef = %+v", b.RoleRef)
	}
}

func TestPrintWhoCan(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	printWhoCan(&b, "delete", schema.GroupResource{Group: "route.openshift.io", Resource: "routes"}, &authorizationv1.ResourceAccessReviewResponse{
		Namespace: "web", UsersSlice: []string{"alice", "bob"}, GroupsSlice: nil, EvaluationError: "rolebinding web/x refers to a missing role"})
	want := `
Namespace: web
Verb:      delete
Resource:  routes.route.openshift.io

Users:  alice
        bob

Groups: none

Error during evaluation, results may not be complete: rolebinding web/x refers to a missing role
`
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestCommandTree(t *testing.T) {
	t.Parallel()
	ran := false
	var out bytes.Buffer
	root := NewCommand(genericclioptions.NewConfigFlags(true), genericiooptions.NewTestIOStreamsDiscard(), func() { ran = true })
	root.SetOut(&out)
	for _, verb := range []string{"add-role-to-user", "remove-role-from-user", "add-role-to-group", "remove-role-from-group", "who-can"} {
		cmd, _, err := root.Find([]string{verb})
		if err != nil || cmd.Name() != verb {
			t.Errorf("policy %s: %v", verb, err)
			continue
		}
		// The kubeconfig flags reach every subcommand.
		if cmd.Flag("kubeconfig") == nil || cmd.Flag("server") == nil || cmd.Flag("namespace") == nil {
			t.Errorf("policy %s lacks the kubeconfig flags", verb)
		}
	}
	// Alone, the command prints its help and needs no cluster.
	root.SetArgs(nil)
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Grant and revoke project roles") {
		t.Errorf("policy alone: %v, output %q; want the help", err, out.String())
	}
	ran = false
	// Without a cluster a subcommand fails after setup ran.
	root.SilenceUsage, root.SilenceErrors = true, true
	root.SetArgs([]string{"add-role-to-user", "--server", "https://127.0.0.1:1", "view", "alice", "-n", "web"})
	if err := root.Execute(); !ran || err == nil {
		t.Errorf("setup ran = %v, err = %v; want setup run and an error for the missing cluster", ran, err)
	}
}

// gantryDefault is the binding as Gantry's start makes it.
func gantryDefault(t *testing.T, name string) *rbacv1.ClusterRoleBinding {
	t.Helper()
	for _, b := range authz.ClusterRoleBindings() {
		if b.Name == name {
			return b.DeepCopy()
		}
	}
	t.Fatalf("no default binding %s", name)
	return nil
}

func TestEmptyingADefaultBindingKeepsItAndOptsItOutOfRestoring(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset(gantryDefault(t, "self-provisioners"))
	o, out, errOut := options(t, kube, true)
	o.RoleName, o.Groups = "self-provisioner", []string{"system:authenticated:oauth"}
	if err := o.RemoveRole(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), `clusterrole.rbac.authorization.k8s.io/self-provisioner removed: "system:authenticated:oauth"`+"\n"; got != want {
		t.Errorf("output %q, want oc's %q", got, want)
	}
	wantNote := "Note: clusterrolebinding.rbac/self-provisioners is a default binding that gantry start restores; it was kept without subjects and annotated rbac.authorization.kubernetes.io/autoupdate=false so that your change lasts.\n" +
		"To have its default subjects back: gantry annotate clusterrolebinding.rbac self-provisioners rbac.authorization.kubernetes.io/autoupdate=true --overwrite, then restart gantry\n"
	if errOut.String() != wantNote {
		t.Errorf("stderr %q, want %q", errOut, wantNote)
	}
	// One update, no delete: the binding never goes missing.
	var verbs []string
	for _, a := range kube.Actions() {
		verbs = append(verbs, a.GetVerb())
	}
	if !slices.Equal(verbs, []string{"list", "update"}) {
		t.Errorf("API calls %v, want list and one update", verbs)
	}
	b, err := kube.RbacV1().ClusterRoleBindings().Get(t.Context(), "self-provisioners", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("default binding: %v, want it kept", err)
	}
	if len(b.Subjects) != 0 || b.Annotations[rbacv1.AutoUpdateAnnotationKey] != "false" {
		t.Errorf("binding subjects %v annotations %v, want none and autoupdate=false", b.Subjects, b.Annotations)
	}
	// What gantry start runs leaves it so.
	if err := authz.Reconcile(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	b, err = kube.RbacV1().ClusterRoleBindings().Get(t.Context(), "self-provisioners", metav1.GetOptions{})
	if err != nil || len(b.Subjects) != 0 {
		t.Errorf("after reconciliation: %v %v, want the binding without subjects", subjectNames(b.Subjects), err)
	}
}

func TestRemovingFromDefaultBindings(t *testing.T) {
	t.Parallel()
	group := func(n string) rbacv1.Subject {
		return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: "Group", Name: n}
	}
	withAdded := gantryDefault(t, "basic-users")
	withAdded.Subjects = append(withAdded.Subjects, group("partners"))
	kubeDefault := &rbacv1.ClusterRoleBinding{ // one of kube-apiserver's own, which it restores too
		ObjectMeta: metav1.ObjectMeta{Name: "system:discovery", Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:discovery"},
		Subjects:   []rbacv1.Subject{group("system:authenticated")},
	}
	tests := []struct {
		name, binding, role, group string
		wantSubjects               []string
		wantAnnotation             string
		wantNote                   string
	}{
		{"a default subject of a default binding, others stay", authz.PublicInfoViewer, authz.PublicInfoViewer, "system:unauthenticated",
			[]string{"Group:system:authenticated"}, "false", "it was kept and annotated rbac.authorization.kubernetes.io/autoupdate=false"},
		{"a subject an admin added to a default binding", "basic-users", "basic-user", "partners",
			[]string{"Group:system:authenticated"}, "true", ""},
		{"the last subject of kube-apiserver's default", "system:discovery", "system:discovery", "system:authenticated",
			nil, "false", "it was kept without subjects"},
	}
	for _, tc := range tests {
		kube := fake.NewClientset(gantryDefault(t, authz.PublicInfoViewer), withAdded.DeepCopy(), kubeDefault.DeepCopy())
		o, out, errOut := options(t, kube, true)
		o.RoleName, o.Groups = tc.role, []string{tc.group}
		if err := o.RemoveRole(t.Context()); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !strings.Contains(out.String(), "removed: \""+tc.group+"\"") {
			t.Errorf("%s: output %q", tc.name, out)
		}
		b, err := kube.RbacV1().ClusterRoleBindings().Get(t.Context(), tc.binding, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: %v, want the binding kept", tc.name, err)
			continue
		}
		if got := subjectNames(b.Subjects); !slices.Equal(got, tc.wantSubjects) || b.Annotations[rbacv1.AutoUpdateAnnotationKey] != tc.wantAnnotation {
			t.Errorf("%s: subjects %v, autoupdate=%q; want %v, %q", tc.name, got, b.Annotations[rbacv1.AutoUpdateAnnotationKey], tc.wantSubjects, tc.wantAnnotation)
		}
		if tc.wantNote == "" && errOut.Len() > 0 || !strings.Contains(errOut.String(), tc.wantNote) {
			t.Errorf("%s: stderr %q, want %q", tc.name, errOut, tc.wantNote)
		}
	}
}

// refusingKube refuses to list or create role bindings, as for an editor.
func refusingKube() *fake.Clientset {
	kube := fake.NewClientset()
	kube.PrependReactor("*", "rolebindings", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(rbacv1.Resource("rolebindings"), "", errors.New(`User "ed" cannot list resource "rolebindings"`))
	})
	return kube
}

func TestRefusedGrantSaysWhoCanHelp(t *testing.T) {
	t.Parallel()
	for _, mayAsk := range []bool{false, true} {
		reviews := authorizationfake.NewSimpleClientset()
		var asked []*authorizationv1.SubjectAccessReview
		reviews.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
			asked = append(asked, a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview))
			return true, &authorizationv1.SubjectAccessReviewResponse{Namespace: "web", Allowed: mayAsk}, nil
		})
		o, _, _ := options(t, refusingKube(), false)
		o.Reviews = reviews.AuthorizationV1()
		o.RoleName, o.Users = "view", []string{"alice"}
		err := o.AddRole(t.Context())
		if err == nil {
			t.Fatal("grant allowed")
		}
		if !strings.Contains(err.Error(), "Try: project roles are granted and revoked by the project's admins: ask an admin of project web") {
			t.Errorf("may ask who-can = %v: %v; want to be told to ask an admin of web", mayAsk, err)
		}
		if got := strings.Contains(err.Error(), "gantry policy who-can create rolebindings -n web"); got != mayAsk {
			t.Errorf("may ask who-can = %v, but suggested = %v: %v", mayAsk, got, err)
		}
		// The question is about the caller (no user), on who-can's review in the project.
		want := authorizationv1.Action{Namespace: "web", Verb: "create", Group: "authorization.openshift.io", Resource: "localresourceaccessreviews"}
		if len(asked) != 1 || asked[0].User != "" || len(asked[0].GroupsSlice) != 0 || !equality.Semantic.DeepEqual(asked[0].Action, want) {
			t.Errorf("reviews asked %+v, want one about the caller for %+v", asked, want)
		}
	}
	// Removal refused the same way; without a review client there is no suggestion.
	o, _, _ := options(t, refusingKube(), false)
	o.RoleName, o.Users = "view", []string{"alice"}
	err := o.RemoveRole(t.Context())
	if err == nil || !strings.Contains(err.Error(), "ask an admin of project web") || strings.Contains(err.Error(), "who-can") {
		t.Errorf("refused removal: %v", err)
	}
}
