package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/test/harness"
)

// Objects and workloads survive a stop and start on the same data directory, and a stop leaves
// nothing behind on the machine.
func TestRestartKeepsObjectsAndRestartsPods(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	c, err := harness.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	image, err := harness.PushEchoImage(ctx, c, "default", "restart")
	if err != nil {
		c.Stop()
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Data: map[string]string{"answer": "42"}}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		c.Stop()
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image, Args: []string{"serve"}}}},
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		c.Stop()
		t.Fatal(err)
	}
	if err := waitRunning(ctx, c, "web"); err != nil {
		c.Stop()
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, c.Output())
	}
	if left := harness.Leftovers(dir); len(left) > 0 {
		t.Fatalf("the stopped cluster left behind: %v", left)
	}

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
	got, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{})
	if err != nil || got.Data["answer"] != "42" {
		t.Fatalf("config map after restart = %v, %v; want answer=42", got, err)
	}
	// The API still shows the status from before the stop at first: wait for the kubelet to report
	// the container running again, started after this second start (the stop removed every container).
	err = harness.Eventually(ctx, 2*time.Minute, func(ctx context.Context) error {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(p.Status.ContainerStatuses) == 0 {
			return fmt.Errorf("pod web has no container status")
		}
		run := p.Status.ContainerStatuses[0].State.Running
		if run == nil || run.StartedAt.Time.Before(c.Started.Truncate(time.Second)) {
			return fmt.Errorf("container state %+v, want running since the second start (%s)", p.Status.ContainerStatuses[0].State, c.Started)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The image lookup webhook was configured by the first start; the second serves it again.
	named := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "named"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "echo:restart", Args: []string{"serve"}}}},
	}
	created, err := c.Client.CoreV1().Pods("default").Create(ctx, named, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := created.Spec.Containers[0].Image; !strings.HasPrefix(img, harness.Registry+"/default/echo@sha256:") {
		t.Errorf("after the restart, echo:restart became %q, want the registry's default/echo at a digest", img)
	}
	if err := waitRunning(ctx, c, "named"); err != nil {
		t.Fatal(err)
	}
}

func waitRunning(ctx context.Context, c *harness.Cluster, name string) error {
	return harness.Eventually(ctx, 2*time.Minute, func(ctx context.Context) error {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) == 0 || !p.Status.ContainerStatuses[0].Ready {
			return fmt.Errorf("pod %s is %s", name, p.Status.Phase)
		}
		return nil
	})
}
