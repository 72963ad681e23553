package watch

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// This file dresses test objects the way a real API server returns them:
// with managedFields, kubectl's last-applied configuration, and for
// EndpointSlices and Services what their controllers fill in. The router
// reads none of it, but its caches hold it unless trimmed.

const lastAppliedKey = "kubectl.kubernetes.io/last-applied-configuration"

var servedTime = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

// fakeUID is a UUID-shaped uid, unique for kind and i.
func fakeUID(kind byte, i int) types.UID {
	return types.UID(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i, int(kind), i%4096, i/4096%4096, i*7919))
}

// toJSONMap is v as a generic JSON object.
func toJSONMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

// fieldSet is the FieldsV1 form of a JSON value: every key as "f:key",
// list elements as "k:{...}" (objects, keyed by up to two of their scalar
// fields) or "v:..." (scalars), as the API server's field manager records.
func fieldSet(v any) map[string]any {
	out := map[string]any{}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out["f:"+k] = fieldSet(e)
		}
		if len(x) > 0 {
			out["."] = map[string]any{}
		}
	case []any:
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				b, _ := json.Marshal(e)
				out["v:"+string(b)] = map[string]any{}
				continue
			}
			keys := make([]string, 0, len(m))
			for k, f := range m {
				switch f.(type) {
				case string, float64, bool:
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			id := map[string]any{}
			for _, k := range keys[:min(2, len(keys))] {
				id[k] = m[k]
			}
			b, _ := json.Marshal(id)
			out["k:"+string(b)] = fieldSet(m)
		}
	}
	return out
}

// managedEntry is the managedFields entry of manager owning fields (a JSON
// object of the fields it set).
func managedEntry(manager, apiVersion, subresource string, fields map[string]any) metav1.ManagedFieldsEntry {
	raw, err := json.Marshal(fieldSet(fields))
	if err != nil {
		panic(err)
	}
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: apiVersion,
		Time: &servedTime, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: raw}, Subresource: subresource}
}

// applied gives m what `kubectl apply` of (m, spec) leaves: the
// last-applied annotation and the kubectl-client-side-apply entry.
func applied(m *metav1.ObjectMeta, apiVersion, kind string, spec any) {
	meta := map[string]any{"name": m.Name, "namespace": m.Namespace, "annotations": map[string]any{}}
	if len(m.Labels) > 0 {
		meta["labels"] = m.Labels
	}
	last, err := json.Marshal(map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta, "spec": spec})
	if err != nil {
		panic(err)
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[lastAppliedKey] = string(last) + "\n"
	owned := map[string]any{"metadata": map[string]any{"annotations": map[string]any{lastAppliedKey: ""}, "labels": m.Labels}, "spec": toJSONMap(spec)}
	m.ManagedFields = append(m.ManagedFields, managedEntry("kubectl-client-side-apply", apiVersion, "", owned))
	m.CreationTimestamp = servedTime
	if m.ResourceVersion == "" {
		m.ResourceVersion = "1"
	}
	m.Generation = 1
}

// servedRoute dresses r as applied by kubectl and admitted by router
// "bench" (which wrote its status entry).
func servedRoute(r *routev1.Route, i int) *routev1.Route {
	r = r.DeepCopy()
	r.UID = fakeUID('r', i)
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	r.Labels["app"] = r.Spec.To.Name
	r.Labels["app.kubernetes.io/part-of"] = r.Namespace
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	r.Annotations["openshift.io/host.generated"] = "false"
	applied(&r.ObjectMeta, "route.openshift.io/v1", "Route", r.Spec)
	r.Status.Ingress = []routev1.RouteIngress{{Host: r.Spec.Host, RouterName: "bench", WildcardPolicy: routev1.WildcardPolicyNone,
		RouterCanonicalHostname: "router-bench.apps.example.com",
		Conditions:              []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: corev1.ConditionTrue, LastTransitionTime: &servedTime}}}}
	r.ManagedFields = append(r.ManagedFields, managedEntry("openshift-router", "route.openshift.io/v1", "status", map[string]any{"status": toJSONMap(r.Status)}))
	if r.Spec.WildcardPolicy == "" {
		r.Spec.WildcardPolicy = routev1.WildcardPolicyNone
	}
	if r.Spec.To.Weight == nil {
		r.Spec.To.Weight = ptr.To(int32(100))
	}
	return r
}

// servedService dresses s as applied by kubectl and given a cluster IP.
func servedService(s *corev1.Service, i int) *corev1.Service {
	s = s.DeepCopy()
	s.UID = fakeUID('s', i)
	s.Labels = map[string]string{"app": s.Name, "app.kubernetes.io/part-of": s.Namespace}
	s.Spec.Selector = map[string]string{"app": s.Name, "deployment": s.Name}
	applied(&s.ObjectMeta, "v1", "Service", map[string]any{"ports": s.Spec.Ports, "selector": s.Spec.Selector})
	ip := fmt.Sprintf("172.30.%d.%d", i/256%256, i%256)
	s.Spec.ClusterIP, s.Spec.ClusterIPs = ip, []string{ip}
	s.Spec.Type, s.Spec.SessionAffinity = corev1.ServiceTypeClusterIP, corev1.ServiceAffinityNone
	s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = []corev1.IPFamily{corev1.IPv4Protocol}, ptr.To(corev1.IPFamilyPolicySingleStack)
	s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
	return s
}

// servedSlice dresses s as the EndpointSlice controller writes it for the
// service svc: pods' references, nodes and zones, owner reference.
func servedSlice(s *discoveryv1.EndpointSlice, svc *corev1.Service, i int) *discoveryv1.EndpointSlice {
	s = s.DeepCopy()
	s.UID, s.ResourceVersion, s.Generation, s.CreationTimestamp = fakeUID('e', i), "1", 1, servedTime
	s.GenerateName = svc.Name + "-"
	s.Labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
	for k, v := range svc.Labels {
		s.Labels[k] = v
	}
	s.Annotations = map[string]string{"endpoints.kubernetes.io/last-change-trigger-time": servedTime.UTC().Format(time.RFC3339)}
	s.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	for j := range s.Endpoints {
		e := &s.Endpoints[j]
		ready := e.Conditions.Ready == nil || *e.Conditions.Ready
		e.Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(!ready)}
		e.NodeName = ptr.To(fmt.Sprintf("worker-%d.example.com", (i+j)%12))
		e.Zone = ptr.To(fmt.Sprintf("zone-%c", 'a'+(i+j)%3))
		e.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: s.Namespace, Name: fmt.Sprintf("%s-7d9c8b6f5-%05d", svc.Name, j), UID: fakeUID('p', i*8+j)}
	}
	owned := toJSONMap(s)
	delete(owned["metadata"].(map[string]any), "managedFields")
	for _, k := range []string{"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp"} {
		delete(owned["metadata"].(map[string]any), k)
	}
	owned["endpoints"] = map[string]any{} // an atomic list: owned whole
	s.ManagedFields = []metav1.ManagedFieldsEntry{managedEntry("kube-controller-manager", "discovery.k8s.io/v1", "", owned)}
	return s
}

// servedNamespace dresses a namespace as an OpenShift project's.
func servedNamespace(n *corev1.Namespace, i int) *corev1.Namespace {
	n = n.DeepCopy()
	n.UID, n.ResourceVersion, n.CreationTimestamp = fakeUID('n', i), "1", servedTime
	n.Annotations = map[string]string{
		"openshift.io/description": "", "openshift.io/display-name": "", "openshift.io/requester": "developer",
		"openshift.io/sa.scc.mcs": "s0:c26,c15", "openshift.io/sa.scc.supplemental-groups": "1000680000/10000",
		"openshift.io/sa.scc.uid-range": "1000680000/10000",
	}
	n.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	n.Status.Phase = corev1.NamespaceActive
	n.ManagedFields = []metav1.ManagedFieldsEntry{managedEntry("openshift-controller-manager", "v1", "", map[string]any{"metadata": map[string]any{"annotations": n.Annotations}})}
	return n
}

// fakeClient is what decodeLists needs of a fake clientset.
type fakeClient interface {
	Tracker() clienttesting.ObjectTracker
	PrependReactor(verb, resource string, reaction clienttesting.ReactionFunc)
}

// decodeLists makes c's lists return objects decoded from JSON, as a real
// client's are. The fakes otherwise hand out deep copies that share every
// string with their own store, so caches filled from them look smaller
// than caches filled from an API server.
func decodeLists(c fakeClient) {
	react := clienttesting.ObjectReaction(c.Tracker())
	c.PrependReactor("list", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		handled, obj, err := react(a)
		if err != nil || obj == nil {
			return handled, obj, err
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return true, nil, err
		}
		out := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
		return true, out, json.Unmarshal(b, out)
	})
}

func TestServedObjectsLookServed(t *testing.T) {
	svc := servedService(service("a", "web"), 1)
	s := servedSlice(slice("a", "web-1", "web", 8080, ep{"10.0.0.1", nil}), svc, 1)
	r := servedRoute(route("a", "web", "web.example.com", "web"), 1)
	for name, m := range map[string]metav1.ObjectMeta{"service": svc.ObjectMeta, "slice": s.ObjectMeta, "route": r.ObjectMeta} {
		if len(m.ManagedFields) == 0 || len(m.ManagedFields[0].FieldsV1.Raw) < 200 {
			t.Errorf("%s: managedFields %v, want an entry of realistic size", name, m.ManagedFields)
		}
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(r.Annotations[lastAppliedKey]), &last); err != nil || last["kind"] != "Route" {
		t.Errorf("route's last-applied configuration %q: %v", r.Annotations[lastAppliedKey], err)
	}
}
