package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/test/harness"
)

func TestNodeIsReady(t *testing.T) {
	err := harness.Eventually(t.Context(), 2*time.Minute, func(ctx context.Context) error {
		nodes, err := cluster.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(nodes.Items) != 1 {
			return fmt.Errorf("%d nodes, want 1", len(nodes.Items))
		}
		for _, c := range nodes.Items[0].Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node %s not Ready", nodes.Items[0].Name)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClusterDNSAnswersServiceNames(t *testing.T) {
	c := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA)
	r, _, err := c.Exchange(m, net.JoinHostPort(harness.NodeIP, "53"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "172.30.0.1" {
		t.Fatalf("kubernetes.default.svc.cluster.local = %v, want A 172.30.0.1", r.Answer)
	}
	m.SetQuestion("nothing-here.default.svc.cluster.local.", dns.TypeA)
	if r, _, err = c.Exchange(m, net.JoinHostPort(harness.NodeIP, "53")); err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("unknown service: rcode %v, err %v; want NXDOMAIN", r, err)
	}
}

// A Deployment of a locally built image is reached through its Service's cluster IP (from the node)
// and through the Service's DNS names from another pod.
func TestDeploymentReachableThroughServiceAndDNS(t *testing.T) {
	ctx := t.Context()
	cs := cluster.Client
	ns := "echo-test"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	image, err := harness.PushEchoImage(ctx, cluster, ns, "v1")
	if err != nil {
		t.Fatal(err)
	}
	svc := deployEcho(ctx, t, ns, image, 2)
	err = harness.Eventually(ctx, 3*time.Minute, func(ctx context.Context) error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 2 {
			return fmt.Errorf("%d/2 replicas ready; pods: %s", d.Status.ReadyReplicas, podSummary(ctx, ns))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Through the cluster IP, from the node: both pods answer, so kube-proxy balances over them.
	seen := map[string]bool{}
	err = harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		body, err := httpGet(ctx, "http://"+net.JoinHostPort(svc.Spec.ClusterIP, "80")+"/")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(body, "hello from echo-") {
			return fmt.Errorf("unexpected answer %q", body)
		}
		seen[body] = true
		if len(seen) < 2 {
			return fmt.Errorf("answers so far from %d pod(s), want 2", len(seen))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Through DNS, from another pod: the full name, the short name (search path) and the endpoints name.
	client := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "client", Image: image,
			Args: []string{"get", "http://echo." + ns + ".svc.cluster.local/", "http://echo/", "http://echo." + ns + ".endpoints.cluster.local:8080/"},
		}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = harness.Eventually(ctx, 2*time.Minute, func(ctx context.Context) error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "client", metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			return nil
		case corev1.PodFailed:
			t.Fatalf("client pod failed; logs:\n%s", logs(ctx, ns, "client"))
		}
		return fmt.Errorf("client pod is %s", p.Status.Phase)
	})
	if err != nil {
		t.Fatal(err)
	}
	out := logs(ctx, ns, "client")
	for _, want := range []string{"resolved echo." + ns + ".svc.cluster.local to [" + svc.Spec.ClusterIP + "]", "resolved echo to", "hello from echo-"} {
		if !strings.Contains(out, want) {
			t.Errorf("client output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "hello from echo-") != 3 {
		t.Errorf("want 3 answers from echo pods:\n%s", out)
	}
}

// deployEcho creates the Deployment echo of the echo image (replicas pods answering on 8080, ready
// when they answer) and its Service echo on port 80, and returns the Service.
func deployEcho(ctx context.Context, t *testing.T, ns, image string, replicas int32) *corev1.Service {
	t.Helper()
	cs := cluster.Client
	labels := map[string]string{"app": "echo"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "echo", Image: image, Args: []string{"serve"},
					Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func httpGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	// A new connection each time, so that kube-proxy picks a backend for every request.
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func logs(ctx context.Context, ns, pod string) string {
	b, err := cluster.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return "(logs: " + err.Error() + ")"
	}
	return string(b)
}

func podSummary(ctx context.Context, ns string) string {
	pods, err := cluster.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b bytes.Buffer
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "%s=%s ", p.Name, p.Status.Phase)
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Waiting != nil {
				fmt.Fprintf(&b, "(%s: %s) ", s.State.Waiting.Reason, s.State.Waiting.Message)
			}
		}
	}
	return b.String()
}
