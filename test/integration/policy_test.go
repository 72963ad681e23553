package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
