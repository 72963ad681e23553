package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	routev1 "github.com/openshift/api/route/v1"
	authorizationclient "github.com/openshift/client-go/authorization/clientset/versioned"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gantry-dev/gantry/test/harness"
)

// kubeAs is a Kubernetes client acting as user (see as).
func kubeAs(t *testing.T, user string, groups ...string) kubernetes.Interface {
	t.Helper()
	return clientset(t, as(user, groups...), kubernetes.NewForConfig)
}

func routesAs(t *testing.T, user string) routeclient.Interface {
	t.Helper()
	return clientset(t, as(user), routeclient.NewForConfig)
}

// grant binds a cluster role in a project, as the cluster admin.
func grant(t *testing.T, ns, name, role string, subjects ...rbacv1.Subject) {
	t.Helper()
	_, err := cluster.Client.RbacV1().RoleBindings(ns).Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("bind %s in %s: %v", role, ns, err)
	}
}

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}
}

// forbidden fails the test unless err is a 403.
func forbidden(t *testing.T, what string, err error) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: %v, want Forbidden", what, err)
	}
}

func webRoute(name string) *routev1.Route {
	return &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "web"}}}
}

func TestDefaultRolesCoverOpenShiftResources(t *testing.T) {
	// The aggregation controller folds Gantry's rules into view, edit and admin.
	err := harness.Eventually(t.Context(), time.Minute, func(ctx context.Context) error {
		for role, want := range map[string]string{"view": "routes", "edit": "buildconfigs/instantiate", "admin": "localresourceaccessreviews", "cluster-reader": "nodes"} {
			r, err := cluster.Client.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(r.Rules, func(p rbacv1.PolicyRule) bool { return slices.Contains(p.Resources, want) }) {
				return fmt.Errorf("%s has no rule for %s yet", role, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"basic-user", "self-provisioner", "cluster-status", "system:image-puller", "system:image-pusher",
		"system:image-builder", "system:deployer", "system:image-pruner", "system:registry", "system:router",
		"system:openshift:public-info-viewer", "system:openshift:useroauthaccesstoken-manager"} {
		if _, err := cluster.Client.RbacV1().ClusterRoles().Get(t.Context(), name, metav1.GetOptions{}); err != nil {
			t.Errorf("cluster role %s: %v", name, err)
		}
	}
}

func TestViewCannotEdit(t *testing.T) {
	p := requestProject(t, "vera", "vera-view")
	grant(t, p.Name, "viewers", "view", userSubject("walt"))
	walt := kubeAs(t, "walt")
	// Allowed reads (eventually: the grant reaches kube-apiserver's cache).
	err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		if _, err := walt.CoreV1().ConfigMaps(p.Name).List(ctx, metav1.ListOptions{}); err != nil {
			return err
		}
		_, err := routesAs(t, "walt").RouteV1().Routes(p.Name).List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("a viewer lists config maps and routes: %v", err)
	}
	_, err = walt.CoreV1().ConfigMaps(p.Name).Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	forbidden(t, "viewer creates a config map", err)
	_, err = routesAs(t, "walt").RouteV1().Routes(p.Name).Create(t.Context(), webRoute("web"), metav1.CreateOptions{})
	forbidden(t, "viewer creates a route", err)
	_, err = walt.CoreV1().Secrets(p.Name).List(t.Context(), metav1.ListOptions{})
	forbidden(t, "viewer lists secrets", err)
	_, err = walt.RbacV1().RoleBindings(p.Name).List(t.Context(), metav1.ListOptions{})
	forbidden(t, "viewer lists role bindings", err)
}

func TestEditCannotChangeRoles(t *testing.T) {
	p := requestProject(t, "erik", "erik-edit")
	grant(t, p.Name, "editors", "edit", userSubject("ella"))
	ella := kubeAs(t, "ella")
	err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := routesAs(t, "ella").RouteV1().Routes(p.Name).Create(ctx, webRoute("web"), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("an editor creates a route: %v", err)
	}
	if _, err := ella.CoreV1().Secrets(p.Name).Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("an editor creates a secret: %v", err)
	}
	_, err = ella.RbacV1().RoleBindings(p.Name).Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "sneaky"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{userSubject("mallory")},
	}, metav1.CreateOptions{})
	forbidden(t, "editor creates a role binding", err)
	admin, err := cluster.Client.RbacV1().RoleBindings(p.Name).Get(t.Context(), "admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin.Subjects = append(admin.Subjects, userSubject("ella"))
	_, err = ella.RbacV1().RoleBindings(p.Name).Update(t.Context(), admin, metav1.UpdateOptions{})
	forbidden(t, "editor makes herself admin", err)
	_, err = ella.RbacV1().Roles(p.Name).Create(t.Context(), &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r"}}, metav1.CreateOptions{})
	forbidden(t, "editor creates a role", err)
	err = ella.RbacV1().RoleBindings(p.Name).Delete(t.Context(), "admin", metav1.DeleteOptions{})
	forbidden(t, "editor deletes the admin binding", err)
}

func TestProjectAdminCannotTouchAnotherProject(t *testing.T) {
	a := requestProject(t, "adam", "adam-proj")
	b := requestProject(t, "beth", "beth-proj")
	adam := kubeAs(t, "adam")
	err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := adam.CoreV1().Pods(a.Name).List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("adam lists pods in his project: %v", err)
	}
	_, err = adam.CoreV1().Pods(b.Name).List(t.Context(), metav1.ListOptions{})
	forbidden(t, "adam lists pods in beth's project", err)
	_, err = adam.CoreV1().ConfigMaps(b.Name).Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	forbidden(t, "adam creates a config map in beth's project", err)
	_, err = routesAs(t, "adam").RouteV1().Routes(b.Name).Create(t.Context(), webRoute("web"), metav1.CreateOptions{})
	forbidden(t, "adam creates a route in beth's project", err)
	_, err = adam.RbacV1().RoleBindings(b.Name).Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "me-too"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
		Subjects:   []rbacv1.Subject{userSubject("adam")},
	}, metav1.CreateOptions{})
	forbidden(t, "adam makes himself admin of beth's project", err)
	_, err = projects(t, as("adam")).ProjectV1().Projects().Get(t.Context(), b.Name, metav1.GetOptions{})
	forbidden(t, "adam gets beth's project", err)
	err = adam.CoreV1().Namespaces().Delete(t.Context(), b.Name, metav1.DeleteOptions{})
	forbidden(t, "adam deletes beth's namespace", err)
}

func TestNobodyGrantsWhatTheyLack(t *testing.T) {
	p := requestProject(t, "gail", "gail-proj")
	gail := kubeAs(t, "gail")
	bind := func(name, kind, role string) error {
		_, err := gail.RbacV1().RoleBindings(p.Name).Create(t.Context(), &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
			Subjects:   []rbacv1.Subject{userSubject("hugo")},
		}, metav1.CreateOptions{})
		return err
	}
	// What she holds she may grant (once her admin binding is in the cache).
	if err := harness.Eventually(t.Context(), 30*time.Second, func(context.Context) error { return bind("hugo-edit", "ClusterRole", "edit") }); err != nil {
		t.Fatalf("project admin grants edit: %v", err)
	}
	err := bind("hugo-cluster-admin", "ClusterRole", "cluster-admin")
	forbidden(t, "project admin grants cluster-admin in her project", err)
	if err != nil && !strings.Contains(err.Error(), "not currently held") {
		t.Errorf("escalation refused without saying why: %v", err)
	}
	forbidden(t, "project admin grants cluster-reader (cluster-wide reads) in her project", bind("hugo-reader", "ClusterRole", "cluster-reader"))
	_, err = gail.RbacV1().Roles(p.Name).Create(t.Context(), &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "everything"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}}, metav1.CreateOptions{})
	forbidden(t, "project admin creates a role with every permission", err)
	_, err = gail.RbacV1().ClusterRoleBindings().Create(t.Context(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "gail-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
		Subjects:   []rbacv1.Subject{userSubject("gail")},
	}, metav1.CreateOptions{})
	forbidden(t, "project admin binds admin cluster-wide", err)
}

func TestRoleGrantsDecideWhichProjectsAUserSees(t *testing.T) {
	p := requestProject(t, "iris", "iris-proj")
	jack := projects(t, as("jack"))
	list, err := jack.ProjectV1().Projects().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(projectNames(list), p.Name) {
		t.Fatalf("jack sees %s before any grant", p.Name)
	}
	grant(t, p.Name, "jack-view", "view", userSubject("jack"))
	err = harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		list, err := jack.ProjectV1().Projects().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if names := projectNames(list); !slices.Equal(names, []string{p.Name}) {
			return fmt.Errorf("jack sees %v, want [%s]", names, p.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.Client.RbacV1().RoleBindings(p.Name).Delete(t.Context(), "jack-view", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		list, err := jack.ProjectV1().Projects().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if names := projectNames(list); len(names) != 0 {
			return fmt.Errorf("jack still sees %v", names)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func authzAs(t *testing.T, user string, groups ...string) authorizationclient.Interface {
	t.Helper()
	return clientset(t, as(user, groups...), authorizationclient.NewForConfig)
}

func TestReviewAPIs(t *testing.T) {
	p := requestProject(t, "kate", "kate-proj")
	grant(t, p.Name, "leo-view", "view", userSubject("leo"))
	grant(t, p.Name, "robots-edit", "edit", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: p.Name, Name: "robot"},
		rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "robot-herders"})
	kate := authzAs(t, "kate")

	// Who can create routes in the project? The admin, the editors, cluster admins.
	var rar *authorizationv1.ResourceAccessReviewResponse
	err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		var err error
		rar, err = kate.AuthorizationV1().LocalResourceAccessReviews(p.Name).Create(ctx, &authorizationv1.LocalResourceAccessReview{
			Action: authorizationv1.Action{Verb: "create", Group: "route.openshift.io", Resource: "routes"}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if !slices.Contains(rar.UsersSlice, "system:serviceaccount:"+p.Name+":robot") {
			return fmt.Errorf("answer %+v lacks the robot (grant not seen yet)", rar)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("project admin asks who can create routes: %v", err)
	}
	for _, u := range []string{"kate", "system:serviceaccount:" + p.Name + ":robot"} {
		if !slices.Contains(rar.UsersSlice, u) {
			t.Errorf("users %v lack %s", rar.UsersSlice, u)
		}
	}
	if slices.Contains(rar.UsersSlice, "leo") {
		t.Errorf("users %v include the viewer", rar.UsersSlice)
	}
	for _, g := range []string{"robot-herders", "system:masters"} {
		if !slices.Contains(rar.GroupsSlice, g) {
			t.Errorf("groups %v lack %s", rar.GroupsSlice, g)
		}
	}
	if rar.Namespace != p.Name {
		t.Errorf("namespace = %q", rar.Namespace)
	}

	// May leo delete routes? Asked by the project admin, answered by kube-apiserver.
	sar, err := kate.AuthorizationV1().LocalSubjectAccessReviews(p.Name).Create(t.Context(), &authorizationv1.LocalSubjectAccessReview{
		Action: authorizationv1.Action{Verb: "delete", Group: "route.openshift.io", Resource: "routes"}, User: "leo", GroupsSlice: []string{"system:authenticated"}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sar.Allowed {
		t.Errorf("leo (viewer) may delete routes: %+v", sar)
	}
	err = harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		sar, err := kate.AuthorizationV1().LocalSubjectAccessReviews(p.Name).Create(ctx, &authorizationv1.LocalSubjectAccessReview{
			Action: authorizationv1.Action{Verb: "list", Group: "route.openshift.io", Resource: "routes"}, User: "leo"}, metav1.CreateOptions{})
		if err == nil && !sar.Allowed {
			err = fmt.Errorf("denied: %+v", sar)
		}
		return err
	})
	if err != nil {
		t.Errorf("leo may list routes: %v", err)
	}

	// What may leo do here? He asks himself.
	leo := authzAs(t, "leo")
	rules, err := leo.AuthorizationV1().SelfSubjectRulesReviews(p.Name).Create(t.Context(), &authorizationv1.SelfSubjectRulesReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rules.Status.Rules, func(r authorizationv1.PolicyRule) bool {
		return slices.Contains(r.Resources, "routes") && slices.Contains(r.Verbs, "list")
	}) {
		t.Errorf("leo's rules lack listing routes: %+v", rules.Status)
	}
	if slices.ContainsFunc(rules.Status.Rules, func(r authorizationv1.PolicyRule) bool { return slices.Contains(r.Resources, "secrets") }) {
		t.Errorf("leo's rules name secrets: %+v", rules.Status)
	}

	// A viewer may not ask who can do things, nor about others.
	_, err = leo.AuthorizationV1().LocalResourceAccessReviews(p.Name).Create(t.Context(), &authorizationv1.LocalResourceAccessReview{
		Action: authorizationv1.Action{Verb: "get", Resource: "pods"}}, metav1.CreateOptions{})
	forbidden(t, "viewer asks who can get pods", err)
	_, err = leo.AuthorizationV1().SubjectRulesReviews(p.Name).Create(t.Context(), &authorizationv1.SubjectRulesReview{
		Spec: authorizationv1.SubjectRulesReviewSpec{User: "kate"}}, metav1.CreateOptions{})
	forbidden(t, "viewer asks what kate may do", err)
	// The project admin may not ask about the whole cluster.
	_, err = kate.AuthorizationV1().ResourceAccessReviews().Create(t.Context(), &authorizationv1.ResourceAccessReview{
		Action: authorizationv1.Action{Verb: "get", Resource: "secrets"}}, metav1.CreateOptions{})
	forbidden(t, "project admin asks who can read secrets everywhere", err)

	// The cluster admin asks cluster-wide questions.
	admin := clientset(t, cluster.Config, authorizationclient.NewForConfig)
	all, err := admin.AuthorizationV1().ResourceAccessReviews().Create(t.Context(), &authorizationv1.ResourceAccessReview{
		Action: authorizationv1.Action{Verb: "delete", Resource: "nodes"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if all.Namespace != "" || !slices.Contains(all.GroupsSlice, "system:masters") || slices.Contains(all.UsersSlice, "kate") {
		t.Errorf("who can delete nodes = %+v", all)
	}
	nonRes, err := admin.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), &authorizationv1.SubjectAccessReview{
		Action: authorizationv1.Action{Verb: "get", IsNonResourceURL: true, Path: "/.well-known/oauth-authorization-server"},
		User:   "system:anonymous", GroupsSlice: []string{"system:unauthenticated"}}, metav1.CreateOptions{})
	if err != nil || !nonRes.Allowed {
		t.Errorf("anonymous may read the OAuth metadata: %+v %v, want allowed", nonRes, err)
	}
}

func TestProjectsGetServiceAccountsBindingsAndRegistrySecrets(t *testing.T) {
	p := requestProject(t, "mona", "mona-sa")
	kube := cluster.Client
	var pull map[string]string // account → its dockercfg secret
	err := harness.Eventually(t.Context(), 2*time.Minute, func(ctx context.Context) error {
		pull = map[string]string{}
		for _, name := range []string{"default", "builder", "deployer"} {
			sa, err := kube.CoreV1().ServiceAccounts(p.Name).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(sa.ImagePullSecrets) != 1 || !strings.HasPrefix(sa.ImagePullSecrets[0].Name, name+"-dockercfg-") {
				return fmt.Errorf("%s has pull secrets %v", name, sa.ImagePullSecrets)
			}
			pull[name] = sa.ImagePullSecrets[0].Name
			if !slices.ContainsFunc(sa.Secrets, func(r corev1.ObjectReference) bool { return strings.HasPrefix(r.Name, name+"-token-") }) {
				return fmt.Errorf("%s lists secrets %v, no token", name, sa.Secrets)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range pull {
		s, err := kube.CoreV1().Secrets(p.Name).Get(t.Context(), secret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		token, err := kube.CoreV1().Secrets(p.Name).Get(t.Context(), s.Annotations["openshift.io/token-secret.name"], metav1.GetOptions{})
		if err != nil {
			t.Fatalf("token secret of %s: %v", name, err)
		}
		var cfg map[string]struct{ Username, Password string }
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &cfg); err != nil {
			t.Fatal(err)
		}
		if s.Type != corev1.SecretTypeDockercfg || cfg[harness.Registry].Password == "" || cfg[harness.Registry].Password != string(token.Data["token"]) {
			t.Errorf("%s's dockercfg %s (type %s) = %v, want the token for %s", name, secret, s.Type, cfg, harness.Registry)
		}
	}
	for binding, want := range map[string]string{
		"system:image-pullers": "Group/system:serviceaccounts:" + p.Name, "system:image-builders": "ServiceAccount/builder",
		"system:deployers": "ServiceAccount/deployer"} {
		b, err := kube.RbacV1().RoleBindings(p.Name).Get(t.Context(), binding, metav1.GetOptions{})
		if err != nil {
			t.Errorf("binding %s: %v", binding, err)
			continue
		}
		if got := b.Subjects[0].Kind + "/" + b.Subjects[0].Name; got != want {
			t.Errorf("%s binds %s, want %s", binding, got, want)
		}
	}
	// The builder may push to the project's image streams; the default account only pull.
	check := func(user, verb string) bool {
		sar, err := clientset(t, cluster.Config, authorizationclient.NewForConfig).AuthorizationV1().LocalSubjectAccessReviews(p.Name).Create(t.Context(),
			&authorizationv1.LocalSubjectAccessReview{User: user, GroupsSlice: []string{"system:serviceaccounts", "system:serviceaccounts:" + p.Name},
				Action: authorizationv1.Action{Verb: verb, Group: "image.openshift.io", Resource: "imagestreams/layers"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sar.Allowed
	}
	sa := "system:serviceaccount:" + p.Name + ":"
	err = harness.Eventually(t.Context(), 30*time.Second, func(context.Context) error {
		if !check(sa+"builder", "update") || !check(sa+"default", "get") {
			return errors.New("the builder cannot push or the default account cannot pull")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if check(sa+"default", "update") {
		t.Error("the default account may push")
	}

	// A deleted registry secret comes back under a new name.
	if err := kube.CoreV1().Secrets(p.Name).Delete(t.Context(), pull["builder"], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = harness.Eventually(t.Context(), time.Minute, func(ctx context.Context) error {
		sa, err := kube.CoreV1().ServiceAccounts(p.Name).Get(ctx, "builder", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(sa.ImagePullSecrets) != 1 || sa.ImagePullSecrets[0].Name == pull["builder"] {
			return fmt.Errorf("builder's pull secrets are %v", sa.ImagePullSecrets)
		}
		_, err = kube.CoreV1().Secrets(p.Name).Get(ctx, sa.ImagePullSecrets[0].Name, metav1.GetOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("deleted dockercfg secret not replaced: %v", err)
	}
	// So does a deleted binding.
	if err := kube.RbacV1().RoleBindings(p.Name).Delete(t.Context(), "system:deployers", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = harness.Eventually(t.Context(), time.Minute, func(ctx context.Context) error {
		_, err := kube.RbacV1().RoleBindings(p.Name).Get(ctx, "system:deployers", metav1.GetOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("deleted system:deployers binding not replaced: %v", err)
	}
}
