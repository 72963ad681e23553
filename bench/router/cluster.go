package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
	"github.com/gantry-dev/gantry/test/harness"
)

// workers is how many creates and updates are in flight at once: enough
// to keep the API server busy on two cores without queueing for long.
const workers = 32

// objects writes the bench's Services, EndpointSlices and Routes to a
// cluster of `gantry start`, shaped as synthetic (tables.go) shapes them
// for HAProxy: route r<i> in namespace ns<i%100> with its own selector-less
// Service r<i>, whose EndpointSlice names the backend on the node IP
// (EndpointSlice validation refuses 127.0.0.0/8, so the backend listens on
// the node address gantry start puts on the loopback device).
type objects struct {
	kube   kubernetes.Interface
	routes routeclient.Interface
	port   int32 // the backend's port on the node IP
	// slices are the EndpointSlices as last written, by route index, so
	// that the churn updates them without a read first.
	mu     sync.Mutex
	slices map[int]*discoveryv1.EndpointSlice
}

func newObjects(cfg *rest.Config, port int32) (*objects, error) {
	cfg = rest.CopyConfig(cfg)
	// The default 5/s would make 30,000 creates take 100 minutes.
	cfg.QPS, cfg.Burst = 5000, 10000
	cfg.UserAgent = "gantry-bench-router"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	routes, err := routeclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &objects{kube: kube, routes: routes, port: port, slices: map[int]*discoveryv1.EndpointSlice{}}, nil
}

// namespaces creates ns0..ns99 and the edge route's namespace.
func (o *objects) namespaces(ctx context.Context) error {
	return parallel(ctx, 101, func(i int) error {
		name := edgeNamespace
		if i < 100 {
			name = fmt.Sprintf("ns%d", i)
		}
		_, err := o.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	})
}

const edgeNamespace, edgeName = "tls", "edge"

// service creates the Service and EndpointSlice of route i (-1: the edge
// route).
func (o *objects) service(ctx context.Context, i int) error {
	ns, name := routeNS(i)
	// Headless: the router reads a Service's ports and its EndpointSlices,
	// never its cluster IP, and a cluster IP per route would have
	// kube-proxy rewrite iptables for every one of 10,000 Services (the
	// first full run created Services at 20-40/s, iptables-restore taking
	// the CPU the measurements need).
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
		ClusterIP: corev1.ClusterIPNone,
		Ports:     []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(o.port), Protocol: corev1.ProtocolTCP}}}}
	if _, err := o.kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("service %s/%s: %w", ns, name, err)
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-bench", Labels: map[string]string{
			discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "gantry-bench-router"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{harness.NodeIP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(o.port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	got, err := o.kube.DiscoveryV1().EndpointSlices(ns).Create(ctx, es, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("endpointslice %s/%s: %w", ns, es.Name, err)
	}
	o.mu.Lock()
	o.slices[i] = got
	o.mu.Unlock()
	return nil
}

// route creates route i (-1: the edge route, terminated with the default
// certificate).
func (o *objects) route(ctx context.Context, i int) error {
	ns, name := routeNS(i)
	r := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: routev1.RouteSpec{
		To: routev1.RouteTargetReference{Kind: "Service", Name: name}, WildcardPolicy: routev1.WildcardPolicyNone}}
	if i < 0 {
		r.Spec.Host = edgeHost
		r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge}
	} else {
		r.Spec.Host = routeHost(i)
	}
	if _, err := o.routes.RouteV1().Routes(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("route %s/%s: %w", ns, name, err)
	}
	return nil
}

func (o *objects) deleteRoute(ctx context.Context, i int) error {
	ns, name := routeNS(i)
	return o.routes.RouteV1().Routes(ns).Delete(ctx, name, metav1.DeleteOptions{})
}

// grow creates routes from..to-1: first their Services and
// EndpointSlices, then the Routes, and returns how long each phase took
// (so a slow create shows which kind is slow).
func (o *objects) grow(ctx context.Context, from, to int) (services, routes time.Duration, err error) {
	start := time.Now()
	if err := parallel(ctx, to-from, func(k int) error { return o.service(ctx, from+k) }); err != nil {
		return 0, 0, err
	}
	services = time.Since(start)
	start = time.Now()
	if err := parallel(ctx, to-from, func(k int) error { return o.route(ctx, from+k) }); err != nil {
		return 0, 0, err
	}
	return services, time.Since(start), nil
}

// moveEndpoints points the EndpointSlices of routes 0..n-1 at port, and
// returns how many it updated (fewer when stop closed first).
func (o *objects) moveEndpoints(ctx context.Context, n int, port int32, stop <-chan struct{}) (int, error) {
	var done atomic.Int64
	err := parallel(ctx, n, func(i int) error {
		select {
		case <-stop:
			return nil
		default:
		}
		o.mu.Lock()
		es := o.slices[i].DeepCopy()
		o.mu.Unlock()
		es.Ports[0].Port = ptr.To(port)
		got, err := o.kube.DiscoveryV1().EndpointSlices(es.Namespace).Update(ctx, es, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("endpointslice %s/%s: %w", es.Namespace, es.Name, err)
		}
		o.mu.Lock()
		o.slices[i] = got
		o.mu.Unlock()
		done.Add(1)
		return nil
	})
	return int(done.Load()), err
}

// admitted counts the routes whose status has an admitted entry of
// router name.
func (o *objects) admitted(ctx context.Context, name string) (int, error) {
	n, cont := 0, ""
	for {
		list, err := o.routes.RouteV1().Routes("").List(ctx, metav1.ListOptions{Limit: 500, Continue: cont})
		if err != nil {
			return 0, err
		}
		for _, r := range list.Items {
			for _, in := range r.Status.Ingress {
				if in.RouterName != name {
					continue
				}
				for _, c := range in.Conditions {
					if c.Type == routev1.RouteAdmitted && c.Status == corev1.ConditionTrue {
						n++
					}
				}
			}
		}
		if cont = list.Continue; cont == "" {
			return n, nil
		}
	}
}

// waitAdmitted waits until want routes carry router name's admitted
// status (the router's status writes are done, so they no longer cost it
// CPU during a measurement) and returns how long that took.
func (o *objects) waitAdmitted(ctx context.Context, name string, want int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	logged := start
	for {
		n, err := o.admitted(ctx, name)
		if err != nil && !apierrors.IsTimeout(err) {
			return 0, err
		}
		if n >= want {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("%d of %d routes admitted by %s after %s", n, want, name, timeout)
		}
		if time.Since(logged) > 20*time.Second {
			logged = time.Now()
			benchutil.Logf("  %d of %d routes admitted by %s", n, want, name)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// routeNS is the namespace and name of route i (-1: the edge route).
func routeNS(i int) (string, string) {
	if i < 0 {
		return edgeNamespace, edgeName
	}
	return fmt.Sprintf("ns%d", i%100), fmt.Sprintf("r%d", i)
}

// parallel runs f(0..n-1) on workers goroutines and returns the first
// error (the others still finish).
func parallel(ctx context.Context, n int, f func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d failed, first: %s", len(errs), errs[0])
	}
	return nil
}
