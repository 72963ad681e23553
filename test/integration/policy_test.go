package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	projectv1 "github.com/openshift/api/project/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/authz"
	"github.com/gantry-dev/gantry/test/harness"
)

// whoCanSubjects returns the names in the Users and Groups blocks of `who-can` output.
func whoCanSubjects(out string) (users, groups []string) {
	var cur *[]string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Users:"):
			cur = &users
			line = strings.TrimPrefix(line, "Users:")
		case strings.HasPrefix(line, "Groups:"):
			cur = &groups
			line = strings.TrimPrefix(line, "Groups:")
		case !strings.HasPrefix(line, "        "):
			cur = nil
		}
		if cur != nil {
			if name := strings.TrimSpace(line); name != "" && name != "none" {
				*cur = append(*cur, name)
			}
		}
	}
	return users, groups
}

func TestPolicyCLIGrantsRevokesAndAnswersWhoCan(t *testing.T) {
	p := requestProject(t, "nora", "nora-cli")
	cli := newCLI(t)
	ns := "-n=" + p.Name

	out := cli.run("", "policy", "add-role-to-user", "view", "otto", ns)
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/view added: "otto"`)
	out = cli.run("", "policy", "add-role-to-group", "edit", "nora-devs", ns)
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/edit added: "nora-devs"`)
	out = cli.run("", "policy", "add-role-to-user", "edit", "-z", "robot", "system:serviceaccount:other:bot", ns)
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/edit added: ["system:serviceaccount:other:bot" "robot"]`)

	// otto now reads routes and is still refused writes.
	err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := routesAs(t, "otto").RouteV1().Routes(p.Name).List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("otto lists routes after the grant: %v", err)
	}
	_, err = routesAs(t, "otto").RouteV1().Routes(p.Name).Create(t.Context(), webRoute("web"), metav1.CreateOptions{})
	forbidden(t, "otto (view) creates a route", err)

	// who-can, as the cluster admin and as the project admin.
	for _, as := range [][]string{nil, {"--as=nora", "--as-group=system:authenticated"}} {
		var users, groups []string
		err := harness.Eventually(t.Context(), 30*time.Second, func(context.Context) error {
			out, err := cli.try("", append([]string{"policy", "who-can", "create", "routes", ns}, as...)...)
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			wantContains(t, out, "Namespace: "+p.Name, "Verb:      create", "Resource:  routes.route.openshift.io")
			users, groups = whoCanSubjects(out)
			if !slices.Contains(users, "system:serviceaccount:"+p.Name+":robot") {
				return fmt.Errorf("users %v: grants not seen yet", users)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("who-can %v: %v", as, err)
		}
		for _, u := range []string{"nora", "system:serviceaccount:other:bot"} {
			if !slices.Contains(users, u) {
				t.Errorf("who-can (%v) users %v lack %s", as, users, u)
			}
		}
		if slices.Contains(users, "otto") {
			t.Errorf("who-can (%v) lists the viewer otto: %v", as, users)
		}
		if !slices.Contains(groups, "nora-devs") || !slices.Contains(groups, "system:masters") {
			t.Errorf("who-can (%v) groups %v", as, groups)
		}
	}

	// The project admin grants with the CLI too, but not beyond her own rights.
	out = cli.run("", "policy", "add-role-to-user", "admin", "pia", ns, "--as=nora", "--as-group=system:authenticated")
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/admin added: "pia"`)
	out, err = cli.try("", "policy", "add-role-to-user", "cluster-admin", "pia", ns, "--as=nora", "--as-group=system:authenticated")
	if err == nil {
		t.Fatalf("project admin granted cluster-admin:\n%s", out)
	}
	wantContains(t, out, "not currently held", "Try: only roles whose permissions you hold yourself can be granted")
	out, err = cli.try("", "adm", "policy", "add-cluster-role-to-user", "cluster-reader", "pia", "--as=nora", "--as-group=system:authenticated")
	if err == nil {
		t.Fatalf("project admin granted a cluster role:\n%s", out)
	}
	wantContains(t, out, "Try: cluster roles are granted by cluster administrators")

	// Revoking takes effect.
	out = cli.run("", "policy", "remove-role-from-user", "view", "otto", ns)
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/view removed: "otto"`)
	err = harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := routesAs(t, "otto").RouteV1().Routes(p.Name).List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(err) {
			return nil
		}
		return fmt.Errorf("otto lists routes after revocation: %v", err)
	})
	if err != nil {
		t.Fatal(err)
	}
	out = cli.run("", "policy", "remove-role-from-group", "edit", "nora-devs", ns)
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/edit removed: "nora-devs"`)
	out, err = cli.try("", "policy", "remove-role-from-user", "view", "otto", ns)
	if err == nil {
		t.Fatalf("removing a role nobody has succeeded:\n%s", out)
	}
	wantContains(t, out, "unable to locate any RoleBinding for ClusterRole \"view\"")
}

func TestAdmPolicyClusterRoles(t *testing.T) {
	cli := newCLI(t)
	out := cli.run("", "adm", "policy", "add-cluster-role-to-user", "cluster-reader", "quinn")
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/cluster-reader added: "quinn"`)
	t.Cleanup(func() {
		_ = cluster.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), "cluster-reader", metav1.DeleteOptions{})
	})
	quinn := kubeAs(t, "quinn")
	err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := quinn.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("a cluster reader lists nodes: %v", err)
	}
	_, err = quinn.CoreV1().Secrets("default").List(t.Context(), metav1.ListOptions{})
	forbidden(t, "cluster reader lists secrets", err)

	err = harness.Eventually(t.Context(), 30*time.Second, func(context.Context) error {
		out, err := cli.try("", "policy", "who-can", "list", "nodes", "--all-namespaces")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		wantContains(t, out, "Namespace: <all>", "Resource:  nodes")
		if users, _ := whoCanSubjects(out); !slices.Contains(users, "quinn") {
			return fmt.Errorf("users %v lack quinn", users)
		}
		return nil
	})
	if err != nil {
		t.Errorf("who-can list nodes: %v", err)
	}

	out = cli.run("", "adm", "policy", "add-cluster-role-to-group", "cluster-reader", "auditors")
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/cluster-reader added: "auditors"`)
	out = cli.run("", "adm", "policy", "remove-cluster-role-from-user", "cluster-reader", "quinn")
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/cluster-reader removed: "quinn"`)
	err = harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := quinn.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(err) {
			return nil
		}
		return fmt.Errorf("quinn lists nodes after revocation: %v", err)
	})
	if err != nil {
		t.Fatal(err)
	}
	out = cli.run("", "adm", "policy", "remove-cluster-role-from-group", "cluster-reader", "auditors")
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/cluster-reader removed: "auditors"`)
	if _, err := cluster.Client.RbacV1().ClusterRoleBindings().Get(t.Context(), "cluster-reader", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("emptied cluster role binding: %v, want it deleted", err)
	}
}

func TestPolicyAdmKeepsEmptiedDefaultBindings(t *testing.T) {
	cli := newCLI(t)
	const name = "self-provisioners"
	// Whatever happens, self-provisioning comes back for the other tests.
	t.Cleanup(func() {
		ctx := context.Background()
		if b, err := cluster.Client.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{}); err == nil {
			if b.Annotations == nil {
				b.Annotations = map[string]string{}
			}
			b.Annotations[rbacv1.AutoUpdateAnnotationKey] = "true"
			_, _ = cluster.Client.RbacV1().ClusterRoleBindings().Update(ctx, b, metav1.UpdateOptions{})
		}
		if err := authz.Reconcile(ctx, cluster.Client); err != nil {
			t.Errorf("restore the default bindings: %v", err)
		}
	})

	out := cli.run("", "adm", "policy", "remove-cluster-role-from-group", "self-provisioner", "system:authenticated:oauth")
	wantContains(t, out, `clusterrole.rbac.authorization.k8s.io/self-provisioner removed: "system:authenticated:oauth"`,
		"Note: clusterrolebinding.rbac/self-provisioners is a default binding that gantry start restores; it was kept without subjects and annotated rbac.authorization.kubernetes.io/autoupdate=false")
	b, err := cluster.Client.RbacV1().ClusterRoleBindings().Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("default binding after removal: %v, want it kept", err)
	}
	if len(b.Subjects) != 0 || b.Annotations[rbacv1.AutoUpdateAnnotationKey] != "false" {
		t.Fatalf("subjects %v, annotations %v; want none and autoupdate=false", b.Subjects, b.Annotations)
	}
	// What the next gantry start runs leaves it empty: OAuth users may no longer request projects.
	if err := authz.Reconcile(t.Context(), cluster.Client); err != nil {
		t.Fatal(err)
	}
	if b, err := cluster.Client.RbacV1().ClusterRoleBindings().Get(t.Context(), name, metav1.GetOptions{}); err != nil || len(b.Subjects) != 0 {
		t.Fatalf("after reconciliation: %v %v, want the binding without subjects", b, err)
	}
	request := func(ctx context.Context, project string) error {
		_, err := projects(t, as("sven", "system:authenticated:oauth")).ProjectV1().ProjectRequests().Create(ctx,
			&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: project}}, metav1.CreateOptions{})
		if err == nil {
			_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), project, metav1.DeleteOptions{})
		}
		return err
	}
	err = harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		if err := request(ctx, "sven-refused"); !apierrors.IsForbidden(err) {
			return fmt.Errorf("an OAuth user requests a project: %v, want Forbidden", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// As the note says: annotate it back and restart (reconcile), and the default subject returns.
	cli.run("", "annotate", "clusterrolebinding.rbac", name, "rbac.authorization.kubernetes.io/autoupdate=true", "--overwrite")
	if err := authz.Reconcile(t.Context(), cluster.Client); err != nil {
		t.Fatal(err)
	}
	b, err = cluster.Client.RbacV1().ClusterRoleBindings().Get(t.Context(), name, metav1.GetOptions{})
	if err != nil || len(b.Subjects) != 1 || b.Subjects[0].Name != "system:authenticated:oauth" {
		t.Fatalf("after annotating autoupdate=true and reconciling: %+v %v, want system:authenticated:oauth back", b, err)
	}
	if err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error { return request(ctx, "sven-back") }); err != nil {
		t.Errorf("an OAuth user requests a project once the default is back: %v", err)
	}
}

func TestPolicyWhoCanSubresources(t *testing.T) {
	p := requestProject(t, "ivo", "ivo-images")
	cli := newCLI(t)
	ns := "-n=" + p.Name
	cli.run("", "policy", "add-role-to-user", "system:image-puller", "puller", ns)
	for _, arg := range []string{"imagestreams/layers", "is/layers", "imagestreams.image.openshift.io/layers"} {
		err := harness.Eventually(t.Context(), 30*time.Second, func(context.Context) error {
			out, err := cli.try("", "policy", "who-can", "get", arg, ns)
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			if strings.Contains(out, "Warning") {
				t.Fatalf("who-can get %s warns:\n%s", arg, out)
			}
			wantContains(t, out, "Resource:  imagestreams/layers.image.openshift.io")
			users, _ := whoCanSubjects(out)
			if !slices.Contains(users, "puller") || !slices.Contains(users, "ivo") {
				return fmt.Errorf("users %v, want the image puller and the project's admin", users)
			}
			return nil
		})
		if err != nil {
			t.Errorf("who-can get %s: %v", arg, err)
		}
	}
	// Pushing needs update: the puller is not listed.
	out := cli.run("", "policy", "who-can", "update", "is/layers", ns)
	if users, _ := whoCanSubjects(out); slices.Contains(users, "puller") || !slices.Contains(users, "ivo") {
		t.Errorf("who-can update is/layers lists %v, want ivo and not the puller", users)
	}
}

func TestPolicyRefusalSaysWhoCanHelp(t *testing.T) {
	p := requestProject(t, "hana", "hana-team")
	grant(t, p.Name, "editors", "edit", userSubject("eddie"))
	// A cluster reader may run who-can but not grant.
	_, err := cluster.Client.RbacV1().ClusterRoleBindings().Create(t.Context(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "policy-test-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-reader"},
		Subjects:   []rbacv1.Subject{userSubject("rhea")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), "policy-test-reader", metav1.DeleteOptions{})
	})
	cli := newCLI(t)
	ns := "-n=" + p.Name
	askAdmin := "ask an admin of project " + p.Name
	whoCan := "gantry policy who-can create rolebindings -n " + p.Name

	// The editor is told whom to ask, and not to run who-can, which she may not.
	err = harness.Eventually(t.Context(), 30*time.Second, func(context.Context) error {
		out, err := cli.try("", "policy", "add-role-to-user", "view", "otis", ns, "--as=eddie", "--as-group=system:authenticated")
		if err == nil {
			t.Fatalf("an editor granted a role:\n%s", out)
		}
		if !strings.Contains(out, askAdmin) {
			return fmt.Errorf("refusal lacks %q (grant not seen yet?):\n%s", askAdmin, out)
		}
		if strings.Contains(out, "who-can") {
			t.Errorf("the editor is pointed to who-can:\n%s", out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cli.try("", "policy", "who-can", "create", "rolebindings", ns, "--as=eddie", "--as-group=system:authenticated")
	if err == nil {
		t.Fatalf("the editor ran who-can, so the hint should offer it:\n%s", out)
	}

	// The cluster reader is pointed to who-can, which works for him.
	err = harness.Eventually(t.Context(), 30*time.Second, func(context.Context) error {
		out, err := cli.try("", "policy", "add-role-to-user", "view", "otis", ns, "--as=rhea", "--as-group=system:authenticated")
		if err == nil {
			t.Fatalf("a cluster reader granted a role:\n%s", out)
		}
		if !strings.Contains(out, askAdmin) || !strings.Contains(out, whoCan) {
			return fmt.Errorf("refusal lacks %q and %q (grant not seen yet?):\n%s", askAdmin, whoCan, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out = cli.run("", "policy", "who-can", "create", "rolebindings", ns, "--as=rhea", "--as-group=system:authenticated")
	if users, _ := whoCanSubjects(out); !slices.Contains(users, "hana") {
		t.Errorf("who-can as the cluster reader lists %v, want the project's admin hana", users)
	}
}
