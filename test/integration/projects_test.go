package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	projectv1 "github.com/openshift/api/project/v1"
	routev1 "github.com/openshift/api/route/v1"
	projectclient "github.com/openshift/client-go/project/clientset/versioned"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/test/harness"
)

// projectRequestMessage is what TestMain passes to gantry start.
const projectRequestMessage = "Ask the ops team at ops@example.com for a project."

// as returns a client configuration that acts as user (through
// impersonation by the cluster admin), authenticated like a logged-in user.
func as(user string, groups ...string) *rest.Config {
	c := rest.CopyConfig(cluster.Config)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append([]string{"system:authenticated"}, groups...)}
	return c
}

func projects(t *testing.T, c *rest.Config) projectclient.Interface {
	t.Helper()
	pc, err := projectclient.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// requestProject makes a project as user, who may request projects
// (self-provisioner is bound to OAuth users, as in OpenShift).
func requestProject(t *testing.T, user, name string) *projectv1.Project {
	t.Helper()
	p, err := projects(t, as(user, "system:authenticated:oauth")).ProjectV1().ProjectRequests().Create(t.Context(),
		&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: name}, DisplayName: "Project of " + user, Description: "made by a test"},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s requests project %s: %v", user, name, err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return p
}

func TestProjectRequestMakesTheRequesterAdmin(t *testing.T) {
	p := requestProject(t, "alice", "alice-web")
	if p.Annotations["openshift.io/display-name"] != "Project of alice" || p.Annotations["openshift.io/requester"] != "alice" {
		t.Errorf("annotations = %v, want display name and requester", p.Annotations)
	}
	// Pods created right away get the registry pull secret: the request waited for it.
	sa, err := cluster.Client.CoreV1().ServiceAccounts("alice-web").Get(t.Context(), "default", metav1.GetOptions{})
	if err != nil || len(sa.ImagePullSecrets) == 0 {
		t.Errorf("right after the project request the default service account has no pull secret (%v): pods created now could not pull the project's images", err)
	}
	rb, err := cluster.Client.RbacV1().RoleBindings("alice-web").Get(t.Context(), "admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.Name != "admin" || len(rb.Subjects) != 1 || rb.Subjects[0].Name != "alice" {
		t.Errorf("admin binding = %+v %+v, want alice as admin", rb.RoleRef, rb.Subjects)
	}
	// As admin of the project, alice works with its OpenShift resources.
	rc, err := routeclient.NewForConfig(as("alice"))
	if err != nil {
		t.Fatal(err)
	}
	route := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "web"}}}
	err = harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := rc.RouteV1().Routes("alice-web").Create(ctx, route, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("alice creates a route in her project: %v", err)
	}
	// A second request for the same name is refused.
	_, err = projects(t, as("alice", "system:authenticated:oauth")).ProjectV1().ProjectRequests().Create(t.Context(),
		&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "alice-web"}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("request for an existing project: %v, want AlreadyExists", err)
	}
}

func TestProjectRequestDeniedWithTheAdministratorsMessage(t *testing.T) {
	pc := projects(t, as("dave")) // not an OAuth user: not a self-provisioner
	_, err := pc.ProjectV1().ProjectRequests().Create(t.Context(),
		&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "dave-proj"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("create by a user without self-provisioner: %v, want Forbidden", err)
	}
	err = pc.ProjectV1().RESTClient().Get().Resource("projectrequests").Do(t.Context()).Error()
	var status apierrors.APIStatus
	if !apierrors.IsForbidden(err) || !errors.As(err, &status) || status.Status().Message != projectRequestMessage {
		t.Fatalf("list projectrequests: %v, want Forbidden with %q", err, projectRequestMessage)
	}
	if _, err := cluster.Client.CoreV1().Namespaces().Get(t.Context(), "dave-proj", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a denied request left namespace dave-proj behind: %v", err)
	}
	// A self-provisioner is told it may.
	if err := projects(t, as("erin", "system:authenticated:oauth")).ProjectV1().RESTClient().Get().Resource("projectrequests").Do(t.Context()).Error(); err != nil {
		t.Errorf("list projectrequests as a self-provisioner: %v", err)
	}
}

func TestProjectRequestValidation(t *testing.T) {
	pc := projects(t, as("frank", "system:authenticated:oauth"))
	for _, name := range []string{"a", "Upper", "has_underscore", "openshift-infra", "x" + string(make([]byte, 63))} {
		_, err := pc.ProjectV1().ProjectRequests().Create(t.Context(),
			&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
			t.Errorf("request for project %q: %v, want Invalid", name, err)
		}
	}
	long := make([]byte, 64)
	for i := range long {
		long[i] = 'a'
	}
	_, err := pc.ProjectV1().ProjectRequests().Create(t.Context(),
		&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: string(long)}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("64-character project name: %v, want Invalid (the limit is 63)", err)
	}
}

func TestProjectsListAndWatchShowOnlyTheCallersProjects(t *testing.T) {
	requestProject(t, "gina", "gina-one")
	requestProject(t, "hank", "hank-one")
	gina := projects(t, as("gina"))

	var list *projectv1.ProjectList
	err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		var err error
		if list, err = gina.ProjectV1().Projects().List(ctx, metav1.ListOptions{}); err != nil {
			return err
		}
		if names := projectNames(list); !slices.Equal(names, []string{"gina-one"}) {
			return fmt.Errorf("gina sees %v, want [gina-one]", names)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gina.ProjectV1().Projects().Get(t.Context(), "hank-one", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("gina gets hank's project: %v, want Forbidden", err)
	}
	if _, err := gina.ProjectV1().Projects().Get(t.Context(), "no-such-project", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("gina gets a missing project: %v, want Forbidden (existence must not leak)", err)
	}

	w, err := gina.ProjectV1().Projects().Watch(t.Context(), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, ns := range []string{"hank-one", "gina-one"} {
		n, err := cluster.Client.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Labels = map[string]string{"touched": "yes"}
		if _, err := cluster.Client.CoreV1().Namespaces().Update(t.Context(), n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	timeout := time.After(20 * time.Second)
	for seen := false; !seen; {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			p, isProject := e.Object.(*projectv1.Project)
			if !isProject {
				t.Fatalf("watch event %s with %T", e.Type, e.Object)
			}
			if p.Name != "gina-one" {
				t.Fatalf("gina's watch delivered %s %s", e.Type, p.Name)
			}
			seen = e.Type == watch.Modified && p.Labels["touched"] == "yes"
		case <-timeout:
			t.Fatal("no event for gina-one within 20s")
		}
	}
}

func TestRecreatedProjectShowsNoneOfTheOldObjects(t *testing.T) {
	requestProject(t, "ivan", "ivan-reborn")
	rc, err := routeclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	route := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "old"}}}
	if _, err := rc.RouteV1().Routes("ivan-reborn").Create(t.Context(), route, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Client.CoreV1().Namespaces().Delete(t.Context(), "ivan-reborn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace controller empties the project, OpenShift resources included, then removes it.
	err = harness.Eventually(t.Context(), 2*time.Minute, func(ctx context.Context) error {
		_, err := cluster.Client.CoreV1().Namespaces().Get(ctx, "ivan-reborn", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace still there: %v", err)
	})
	if err != nil {
		t.Fatal(err)
	}
	requestProject(t, "ivan", "ivan-reborn")
	routes, err := rc.RouteV1().Routes("ivan-reborn").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes.Items) != 0 {
		t.Errorf("the re-created project has %d routes from before", len(routes.Items))
	}
}

func projectNames(l *projectv1.ProjectList) []string {
	var names []string
	for _, p := range l.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

func TestOtherProjectsObjectsDoNotLeak(t *testing.T) {
	requestProject(t, "jane", "jane-shop")
	requestProject(t, "kurt", "kurt-shop")
	admin, err := routeclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	secret := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "internal"}, Spec: routev1.RouteSpec{Host: "internal.kurt.example.com", To: routev1.RouteTargetReference{Kind: "Service", Name: "x"}}}
	if _, err := admin.RouteV1().Routes("kurt-shop").Create(t.Context(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	jane, err := routeclient.NewForConfig(as("jane"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jane.RouteV1().Routes("kurt-shop").List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("jane lists kurt's routes: %v, want Forbidden", err)
	}
	if _, err := jane.RouteV1().Routes("").List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("jane lists routes of all projects: %v, want Forbidden", err)
	}
	if _, err := jane.RouteV1().Routes("kurt-shop").Watch(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("jane watches kurt's routes: %v, want Forbidden", err)
	}
	if _, err := jane.RouteV1().Routes("kurt-shop").Get(t.Context(), "internal", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("jane gets kurt's route: %v, want Forbidden", err)
	}
	err = harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		list, err := jane.RouteV1().Routes("jane-shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) != 0 {
			return fmt.Errorf("jane's project lists %d routes, want none", len(list.Items))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// A project's admin may change and delete the project itself (through kube-apiserver's authorization
// webhook, since RBAC sees projects/NAME as a cluster-scoped resource), and nobody else's.
func TestProjectAdminsManageTheirOwnProjectOnly(t *testing.T) {
	ctx := t.Context()
	owner := cluster.TokenConfig(newUser(t, "proj-owner"))
	other := cluster.TokenConfig(newUser(t, "proj-other"))
	for _, c := range []struct {
		cfg  *rest.Config
		name string
	}{{owner, "proj-owner-app"}, {other, "proj-other-app"}} {
		if _, err := projects(t, c.cfg).ProjectV1().ProjectRequests().Create(ctx, &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: c.name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), c.name, metav1.DeleteOptions{})
		})
	}
	pc := projects(t, owner).ProjectV1().Projects()
	// Changing the display name: an update of the project itself.
	err := harness.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		p, err := pc.Get(ctx, "proj-owner-app", metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Annotations["openshift.io/display-name"] = "Renamed"
		_, err = pc.Update(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("the admin updates her project: %v", err)
	}
	if err := pc.Delete(ctx, "proj-other-app", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
		t.Errorf("deleting another user's project: %v, want Forbidden or NotFound", err)
	}
	if err := pc.Delete(ctx, "proj-owner-app", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("the admin deletes her project: %v", err)
	}
	if _, err := projects(t, other).ProjectV1().Projects().Get(ctx, "proj-other-app", metav1.GetOptions{}); err != nil {
		t.Errorf("the other project was touched: %v", err)
	}
}

// client-go 0.35 (oc 4.22) lists by watching with sendInitialEvents and waits for the bookmark that
// ends the initial events: a user who sees only some projects must get it too (`oc delete project`
// waits this way).
func TestProjectWatchListEndsItsInitialEventsForUsers(t *testing.T) {
	cfg := cluster.TokenConfig(newUser(t, "proj-watcher"))
	yes := true
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	w, err := projects(t, cfg).ProjectV1().Projects().Watch(ctx, metav1.ListOptions{
		SendInitialEvents: &yes, AllowWatchBookmarks: true, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for e := range w.ResultChan() {
		if e.Type != watch.Bookmark {
			continue
		}
		if p, ok := e.Object.(*projectv1.Project); ok && p.Annotations[metav1.InitialEventsAnnotationKey] == "true" {
			return
		}
	}
	t.Fatal("the watch ended without the bookmark that ends the initial events")
}
