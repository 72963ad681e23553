package apiserver

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	discoveryv1ac "k8s.io/client-go/applyconfigurations/discovery/v1"
	"k8s.io/client-go/kubernetes"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/gantry-dev/gantry/internal/authz"
)

// Registration says where kube-apiserver finds the aggregated server.
type Registration struct {
	// Namespace and Service name the selector-less Service that fronts the
	// server (openshift-apiserver/api, as in OpenShift).
	Namespace, Service string
	// IP and Port are where the server listens. The aggregator refuses
	// loopback and link-local endpoint addresses.
	IP   net.IP
	Port int
	// CABundle verifies the server's certificate.
	CABundle []byte
}

const fieldManager = "gantry"

// Register creates or updates the namespace, Service, EndpointSlice, the
// default roles and bindings (authz.Reconcile) and one APIService per served
// group version.
func Register(ctx context.Context, kube kubernetes.Interface, agg aggregator.Interface, r Registration) error {
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	if _, err := kube.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace(r.Namespace), apply); err != nil {
		return fmt.Errorf("namespace %s: %w", r.Namespace, err)
	}
	svc := corev1ac.Service(r.Service, r.Namespace).
		WithLabels(map[string]string{"app.kubernetes.io/managed-by": "gantry"}).
		WithSpec(corev1ac.ServiceSpec().WithPorts(corev1ac.ServicePort().WithName("https").
			WithProtocol(corev1.ProtocolTCP).WithPort(443).WithTargetPort(intstr.FromInt32(int32(r.Port)))))
	if _, err := kube.CoreV1().Services(r.Namespace).Apply(ctx, svc, apply); err != nil {
		return fmt.Errorf("service %s/%s: %w", r.Namespace, r.Service, err)
	}
	tcp := corev1.ProtocolTCP
	slice := discoveryv1ac.EndpointSlice(r.Service+"-gantry", r.Namespace).
		WithLabels(map[string]string{discoveryv1.LabelServiceName: r.Service, discoveryv1.LabelManagedBy: "gantry.io"}).
		WithAddressType(discoveryv1.AddressTypeIPv4).
		WithEndpoints(discoveryv1ac.Endpoint().WithAddresses(r.IP.String()).
			WithConditions(discoveryv1ac.EndpointConditions().WithReady(true))).
		WithPorts(discoveryv1ac.EndpointPort().WithName("https").WithProtocol(tcp).WithPort(int32(r.Port)))
	if _, err := kube.DiscoveryV1().EndpointSlices(r.Namespace).Apply(ctx, slice, apply); err != nil {
		return fmt.Errorf("endpointslice %s/%s: %w", r.Namespace, r.Service, err)
	}
	if err := authz.Reconcile(ctx, kube); err != nil {
		return fmt.Errorf("default roles: %w", err)
	}
	port := int32(443)
	for _, gv := range GroupVersions {
		want := &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: gv.Version + "." + gv.Group, Labels: map[string]string{"app.kubernetes.io/managed-by": "gantry"}},
			Spec: apiregistrationv1.APIServiceSpec{
				Service:              &apiregistrationv1.ServiceReference{Namespace: r.Namespace, Name: r.Service, Port: &port},
				Group:                gv.Group,
				Version:              gv.Version,
				CABundle:             r.CABundle,
				GroupPriorityMinimum: 9900,
				VersionPriority:      15,
			},
		}
		cur, err := agg.ApiregistrationV1().APIServices().Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = agg.ApiregistrationV1().APIServices().Create(ctx, want, metav1.CreateOptions{})
		case err == nil:
			cur.Spec = want.Spec
			cur.Labels = want.Labels
			_, err = agg.ApiregistrationV1().APIServices().Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("apiservice %s: %w", want.Name, err)
		}
	}
	return nil
}
