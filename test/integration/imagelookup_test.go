package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	kappsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/test/harness"
)

// lookupNamespace creates a namespace for an image lookup test, deleted at the end.
func lookupNamespace(t *testing.T, name string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// pushedReference pushes the echo image as ns/echo:tag and returns the reference a pod naming
// echo:tag must end up with: the registry's repository at the pushed digest.
func pushedReference(t *testing.T, images imageclient.Interface, ns, tag string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := harness.PushEchoImage(ctx, cluster, ns, tag); err != nil {
		t.Fatal(err)
	}
	is, err := images.ImageV1().ImageStreams(ns).Get(ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !is.Spec.LookupPolicy.Local {
		t.Fatalf("a pushed stream has lookupPolicy.local false")
	}
	for _, st := range is.Status.Tags {
		if st.Tag == tag && len(st.Items) > 0 && strings.HasPrefix(st.Items[0].Image, "sha256:") {
			return harness.Registry + "/" + ns + "/echo@" + st.Items[0].Image
		}
	}
	t.Fatalf("stream %s/echo has no image for %s: %+v", ns, tag, is.Status.Tags)
	return ""
}

// echoPod is a pod running the echo server; without a name, one is generated.
func echoPod(name, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, GenerateName: "echo-"},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "echo", Image: image, Args: []string{"serve"}}},
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
}

func waitRunning(t *testing.T, ns, name string) {
	t.Helper()
	err := harness.Eventually(t.Context(), 3*time.Minute, func(ctx context.Context) error {
		p, err := cluster.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod %s is %s; pods: %s", name, p.Status.Phase, podSummary(ctx, ns))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A pod and a Deployment of the project that say image: echo:v1 get the pushed image's
// registry reference with its digest, and run it.
func TestImageLookupResolvesPodsAndDeployments(t *testing.T) {
	ctx := t.Context()
	images, err := imageclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := lookupNamespace(t, "lookup-on")
	want := pushedReference(t, images, ns, "v1")

	pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, echoPod("echo", "echo:v1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pod.Spec.Containers[0].Image; got != want {
		t.Fatalf("pod image = %q, want %q", got, want)
	}
	waitRunning(t, ns, "echo")

	labels := map[string]string{"app": "echo-lookup"}
	dep := &kappsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: kappsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: echoPod("", "echo:v1").Spec},
		},
	}
	dep, err = cluster.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != want {
		t.Fatalf("deployment template image = %q, want %q", got, want)
	}
	err = harness.Eventually(ctx, 3*time.Minute, func(ctx context.Context) error {
		d, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 1 || d.Status.UpdatedReplicas != 1 {
			return fmt.Errorf("%d ready, %d updated, want 1; pods: %s", d.Status.ReadyReplicas, d.Status.UpdatedReplicas, podSummary(ctx, ns))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// One ReplicaSet: its template is the Deployment's (a rewritten one would make the
	// Deployment controller make another).
	rss, err := cluster.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo-lookup"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 1 || rss.Items[0].Spec.Template.Spec.Containers[0].Image != want {
		t.Errorf("replica sets %d, want 1 with image %s", len(rss.Items), want)
	}

	// A DeploymentConfig goes through the webhook too (openshift-apiserver's admission).
	apps, err := appsclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "echo-dc"}}, Spec: echoPod("", "echo:v1").Spec}
	dc, err := apps.AppsV1().DeploymentConfigs(ns).Create(ctx, &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec:       appsv1.DeploymentConfigSpec{Replicas: 0, Selector: map[string]string{"app": "echo-dc"}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dc.Spec.Template.Spec.Containers[0].Image; got != want {
		t.Errorf("deployment config template image = %q, want %q", got, want)
	}
}

// A stream with lookupPolicy.local false is not used, unless the object asks with the
// resolve-names annotation; a stream of another project is never used.
func TestImageLookupNeedsLocalPolicyAndOwnProject(t *testing.T) {
	ctx := t.Context()
	images, err := imageclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := lookupNamespace(t, "lookup-off")
	want := pushedReference(t, images, ns, "v1")
	err = harness.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		is, err := images.ImageV1().ImageStreams(ns).Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		is.Spec.LookupPolicy = imagev1.ImageLookupPolicy{Local: false}
		_, err = images.ImageV1().ImageStreams(ns).Update(ctx, is, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The informer may still hold the stream with lookup on: wait until the webhook sees the change.
	err = harness.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, echoPod("", "echo:v1"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if got := pod.Spec.Containers[0].Image; got != "echo:v1" {
			return fmt.Errorf("image %q, want echo:v1 left alone", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	forced := echoPod("forced", "echo:v1")
	forced.Annotations = map[string]string{"alpha.image.policy.openshift.io/resolve-names": "*"}
	pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, forced, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pod.Spec.Containers[0].Image; got != want {
		t.Errorf("resolve-names pod image = %q, want %q", got, want)
	}

	// lookup-on-other has no echo stream; lookup-off's (and any other project's) is not used.
	other := lookupNamespace(t, "lookup-other")
	if _, err := images.ImageV1().ImageStreams(ns).Patch(ctx, "echo", "application/merge-patch+json", []byte(`{"spec":{"lookupPolicy":{"local":true}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	forced.Namespace = ""
	pod, err = cluster.Client.CoreV1().Pods(other).Create(ctx, forced, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if got := pod.Spec.Containers[0].Image; got != "echo:v1" {
		t.Errorf("a pod of %s got %q from another project's stream, want echo:v1", other, got)
	}
	// A reference with a registry host is never rewritten.
	hosted := echoPod("", harness.Registry+"/"+ns+"/echo:v1")
	pod, err = cluster.Client.CoreV1().Pods(ns).Create(ctx, hosted, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if got := pod.Spec.Containers[0].Image; got != hosted.Spec.Containers[0].Image {
		t.Errorf("a host-qualified image became %q", got)
	}
}

// Only the API servers may ask the webhook: anyone else could learn what every project's
// streams hold.
func TestImageLookupWebhookRefusesOtherCallers(t *testing.T) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Post("https://"+net.JoinHostPort(harness.NodeIP, "8446")+"/mutate/imagelookup", "application/json",
		strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","namespace":"lookup-on","operation":"CREATE","kind":{"version":"v1","kind":"Pod"},"object":{"spec":{"containers":[{"name":"a","image":"echo:v1"}]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "sha256") {
		t.Errorf("a caller without the API servers' certificate: %s %s, want 403", resp.Status, body)
	}
}

// gantry set image-lookup turns a stream's lookup off and on, and makes a Deployment whose
// image was not resolved resolve it: its new pods run the pushed image.
func TestSetImageLookupCommand(t *testing.T) {
	ctx := t.Context()
	images, err := imageclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := lookupNamespace(t, "lookup-cli")
	want := pushedReference(t, images, ns, "v1")
	cli := newCLI(t)
	if out := cli.run("", "set", "image-lookup", "echo", "--enabled=false", "-n", ns); out != "imagestream.image.openshift.io/echo image lookup updated\n" {
		t.Errorf("set image-lookup echo --enabled=false:\n%s", out)
	}
	if out := cli.run("", "set", "image-lookup", "-n", ns); out != "NAME  LOCAL\necho  false\n" {
		t.Errorf("set image-lookup (list):\n%s", out)
	}

	// With lookup off, the Deployment keeps echo:v1 (which does not pull).
	labels := map[string]string{"app": "echo-cli"}
	dep := &kappsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: kappsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: echoPod("", "echo:v1").Spec},
		},
	}
	// The webhook's cache may still have lookup on for a moment.
	err = harness.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		d, err := cluster.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != "echo:v1" {
			return fmt.Errorf("image %q with lookup off", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := cli.run("", "set", "image-lookup", "deploy/web", "-n", ns); out != "deployment.apps/web image lookup updated\n" {
		t.Errorf("set image-lookup deploy/web:\n%s", out)
	}
	if out := cli.run("", "set", "image-lookup", "deploy/web", "--list", "-n", ns); out != "NAME             LOCAL\ndeployments/web  true\n" {
		t.Errorf("set image-lookup deploy/web --list:\n%s", out)
	}
	err = harness.Eventually(ctx, 3*time.Minute, func(ctx context.Context) error {
		pods, err := cluster.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo-cli"})
		if err != nil {
			return err
		}
		if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodRunning || pods.Items[0].DeletionTimestamp != nil {
			return fmt.Errorf("want one running pod; pods: %s", podSummary(ctx, ns))
		}
		if got := pods.Items[0].Spec.Containers[0].Image; got != want {
			return fmt.Errorf("running pod's image %q, want %q", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two revisions (before and after the annotation), not a new ReplicaSet forever.
	rss, err := cluster.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo-cli"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Errorf("%d replica sets, want 2", len(rss.Items))
	}
	wantContains(t, cli.run("", "set", "image-lookup", "--help"), "resolve-names", "deploy/mysql")
}
