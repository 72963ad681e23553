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
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
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

// Register creates or updates the namespace, Service, EndpointSlice and one
// APIService per served group version.
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
	roles, bindings := projectRoles()
	for _, role := range append(aggregatedRoles(), roles...) {
		if _, err := kube.RbacV1().ClusterRoles().Apply(ctx, role, apply); err != nil {
			return fmt.Errorf("clusterrole %s: %w", *role.Name, err)
		}
	}
	for _, b := range bindings {
		if _, err := kube.RbacV1().ClusterRoleBindings().Apply(ctx, b, apply); err != nil {
			return fmt.Errorf("clusterrolebinding %s: %w", *b.Name, err)
		}
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

// aggregatedRoles extend Kubernetes' view, edit and admin roles to the
// OpenShift resources of a project, as OpenShift 4 does with aggregation
// labels: whoever has a role in a project gets it on routes, image streams,
// builds, deployment configs and templates too; admins may also edit and
// delete the project itself.
func aggregatedRoles() []*rbacv1ac.ClusterRoleApplyConfiguration {
	read := []string{"get", "list", "watch"}
	write := []string{"create", "update", "patch", "delete", "deletecollection"}
	rule := func(group string, verbs []string, resources ...string) *rbacv1ac.PolicyRuleApplyConfiguration {
		return rbacv1ac.PolicyRule().WithAPIGroups(group).WithResources(resources...).WithVerbs(verbs...)
	}
	viewRules := []*rbacv1ac.PolicyRuleApplyConfiguration{
		rule("route.openshift.io", read, "routes", "routes/status"),
		rule("image.openshift.io", read, "imagestreams", "imagestreams/status", "imagestreamtags", "imagestreamimages", "imagetags"),
		rule("build.openshift.io", read, "buildconfigs", "builds", "builds/log"),
		rule("apps.openshift.io", read, "deploymentconfigs", "deploymentconfigs/scale", "deploymentconfigs/log", "deploymentconfigs/status"),
		rule("template.openshift.io", read, "templates", "templateinstances"),
		rule("project.openshift.io", []string{"get"}, "projects"),
	}
	editRules := []*rbacv1ac.PolicyRuleApplyConfiguration{
		rule("route.openshift.io", write, "routes", "routes/custom-host"),
		rule("image.openshift.io", write, "imagestreams", "imagestreamtags", "imagestreammappings", "imagestreamimports", "imagetags"),
		rule("build.openshift.io", write, "buildconfigs", "builds", "buildconfigs/instantiate", "buildconfigs/instantiatebinary", "builds/clone"),
		rule("apps.openshift.io", write, "deploymentconfigs", "deploymentconfigs/scale", "deploymentconfigs/rollback", "deploymentconfigs/instantiate"),
		rule("template.openshift.io", write, "templates", "templateinstances", "processedtemplates"),
	}
	role := func(name, aggregateTo string, rules []*rbacv1ac.PolicyRuleApplyConfiguration) *rbacv1ac.ClusterRoleApplyConfiguration {
		return rbacv1ac.ClusterRole(name).
			WithLabels(map[string]string{"rbac.authorization.k8s.io/aggregate-to-" + aggregateTo: "true", "app.kubernetes.io/managed-by": "gantry"}).
			WithRules(rules...)
	}
	return []*rbacv1ac.ClusterRoleApplyConfiguration{
		role("gantry:openshift:aggregate-to-view", "view", viewRules),
		role("gantry:openshift:aggregate-to-edit", "edit", editRules),
	}
}

// projectRoles are OpenShift's basic-user (every authenticated user may
// list projects, filtered to their own, and ask whether they may request
// one) and self-provisioner (may request projects; bound to users who logged
// in through OAuth, as in OpenShift).
func projectRoles() ([]*rbacv1ac.ClusterRoleApplyConfiguration, []*rbacv1ac.ClusterRoleBindingApplyConfiguration) {
	labels := map[string]string{"app.kubernetes.io/managed-by": "gantry"}
	basic := rbacv1ac.ClusterRole("basic-user").WithLabels(labels).WithRules(
		rbacv1ac.PolicyRule().WithAPIGroups("project.openshift.io").WithResources("projects").WithVerbs("get", "list", "watch"),
		rbacv1ac.PolicyRule().WithAPIGroups("project.openshift.io").WithResources("projectrequests").WithVerbs("list"),
		rbacv1ac.PolicyRule().WithAPIGroups("user.openshift.io").WithResources("users").WithResourceNames("~").WithVerbs("get"),
	)
	self := rbacv1ac.ClusterRole("self-provisioner").WithLabels(labels).WithRules(
		rbacv1ac.PolicyRule().WithAPIGroups("project.openshift.io").WithResources("projectrequests").WithVerbs("create"),
	)
	bind := func(name, role, group string) *rbacv1ac.ClusterRoleBindingApplyConfiguration {
		return rbacv1ac.ClusterRoleBinding(name).WithLabels(labels).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(role)).
			WithSubjects(rbacv1ac.Subject().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Group").WithName(group))
	}
	return []*rbacv1ac.ClusterRoleApplyConfiguration{basic, self},
		[]*rbacv1ac.ClusterRoleBindingApplyConfiguration{
			bind("basic-users", "basic-user", "system:authenticated"),
			bind("self-provisioners", "self-provisioner", "system:authenticated:oauth"),
		}
}
