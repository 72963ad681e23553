package e2e

import (
	"fmt"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/test/harness"
)

// Every write the API acknowledged is still there after the server is
// killed with SIGKILL and started again on the same data directory.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	c, err := harness.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := routeclient.NewForConfig(c.Config)
	if err != nil {
		c.Stop()
		t.Fatal(err)
	}
	const n = 50
	var last *routev1.Route
	for i := range n {
		r := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r%d", i)},
			Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "svc"}}}
		if last, err = rc.RouteV1().Routes("default").Create(ctx, r, metav1.CreateOptions{}); err != nil {
			c.Stop()
			t.Fatal(err)
		}
	}
	last.Spec.Path = "/acknowledged"
	if _, err := rc.RouteV1().Routes("default").Update(ctx, last, metav1.UpdateOptions{}); err != nil {
		c.Stop()
		t.Fatal(err)
	}
	c.Kill()

	c, err = harness.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if left := harness.Leftovers(dir); len(left) > 0 {
			t.Errorf("the stopped cluster left behind: %v", left)
		}
	}()
	if rc, err = routeclient.NewForConfig(c.Config); err != nil {
		t.Fatal(err)
	}
	list, err := rc.RouteV1().Routes("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != n {
		t.Errorf("%d routes after kill -9 and restart, want %d", len(list.Items), n)
	}
	got, err := rc.RouteV1().Routes("default").Get(ctx, last.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Path != "/acknowledged" {
		t.Errorf("the acknowledged update was lost: path %q", got.Spec.Path)
	}
}
