package integration

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routeclientset "github.com/openshift/client-go/route/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gantry-dev/gantry/test/harness"
)

// TestRouterAsPod runs the router as a pod on the node, as a shard with its own service account
// bound to system:router and nothing else: it reads the cluster with the pod's in-cluster
// credentials, serves its routes on unprivileged ports set through OpenShift's environment
// variables, writes its status entry on them, and leaves other routes alone.
func TestRouterAsPod(t *testing.T) {
	ctx := t.Context()
	cs := cluster.Client
	ns := "router-pod"
	createNamespace(ctx, t, ns)
	rc, err := routeclientset.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	routerImage, err := harness.PushTestImage(ctx, cluster, "router", ns, "v1")
	if err != nil {
		t.Fatal(err)
	}
	echoImage, err := harness.PushEchoImage(ctx, cluster, ns, "v1")
	if err != nil {
		t.Fatal(err)
	}

	// The router's identity: a service account with system:router, cluster-wide.
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "router"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "router-pod-test"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:router"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "router", Namespace: ns}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), crb.Name, metav1.DeleteOptions{})
	})
	// Its pods pull with its own registry pull secret, which Gantry's service account controller
	// gives every account a moment after it appears.
	err = harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		sa, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "router", metav1.GetOptions{})
		if err == nil && len(sa.ImagePullSecrets) == 0 {
			err = fmt.Errorf("service account router has no pull secret yet")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// The application: the echo server behind a Service.
	deployEcho(ctx, t, ns, echoImage, 1)

	// The router pod: a shard of the routes labelled shard=pod.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "router"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "router",
			Containers: []corev1.Container{{
				Name: "router", Image: routerImage,
				Env: []corev1.EnvVar{
					{Name: "ROUTER_SERVICE_NAME", Value: "pod-shard"},
					{Name: "ROUTER_SERVICE_HTTP_PORT", Value: "8080"},
					{Name: "ROUTER_SERVICE_HTTPS_PORT", Value: "8443"},
					{Name: "STATS_PORT", Value: "1936"},
					{Name: "ROUTE_LABELS", Value: "shard=pod"},
				},
				Ports:          []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 8443}, {ContainerPort: 1936}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(1936)}}, PeriodSeconds: 1},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var podIP string
	err = harness.Eventually(ctx, 3*time.Minute, func(ctx context.Context) error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "router", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.Status.PodIP != "" {
				podIP = p.Status.PodIP
				return nil
			}
		}
		return fmt.Errorf("router pod not ready: %s %+v", p.Status.Phase, p.Status.ContainerStatuses)
	})
	if err != nil {
		ctx := context.Background()
		t.Fatalf("%v\npods: %s\nrouter logs:\n%s\nevents:\n%s", err, podSummary(ctx, ns), logs(ctx, ns, "router"), eventSummary(ctx, ns))
	}

	// Its route and one of another shard.
	mine := routeTo("web", "web.pod.example.com", "echo")
	mine.Labels = map[string]string{"shard": "pod"}
	other := routeTo("other", "other.pod.example.com", "echo")
	other.Labels = map[string]string{"shard": "elsewhere"}
	for _, r := range []*routev1.Route{mine, other} {
		if _, err := rc.RouteV1().Routes(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	addr := net.JoinHostPort(podIP, "8080")
	host := mine.Spec.Host
	err = harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		code, body, err := getVia(ctx, addr, host)
		if err != nil {
			return err
		}
		if code != 200 || !strings.HasPrefix(body, "hello from echo-") {
			return fmt.Errorf("GET %s via the router pod: %d %q", host, code, body)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v; router logs:\n%s", err, logs(context.Background(), ns, "router"))
	}
	if code, body, err := getVia(ctx, addr, "other.pod.example.com"); err != nil || code != 503 {
		t.Errorf("a route of another shard through the router pod: %d %q %v, want 503", code, body, err)
	}

	// Its verdict, under its name, on its route only.
	err = harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		r, err := rc.RouteV1().Routes(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, in := range r.Status.Ingress {
			if in.RouterName == "pod-shard" && in.Host == host && len(in.Conditions) > 0 && in.Conditions[0].Type == routev1.RouteAdmitted && in.Conditions[0].Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("route web has no admitted entry of pod-shard: %+v", r.Status.Ingress)
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rc.RouteV1().Routes(ns).Get(ctx, "other", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range r.Status.Ingress {
		if in.RouterName == "pod-shard" {
			t.Errorf("the router pod wrote an entry on a route of another shard: %+v", in)
		}
	}
}

func eventSummary(ctx context.Context, ns string) string {
	evs, err := cluster.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "%s %s/%s: %s\n", e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
	}
	return b.String()
}
