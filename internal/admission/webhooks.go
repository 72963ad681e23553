package admission

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gantry-dev/gantry/internal/admission/imagelookup"
)

// ImageLookupWebhook is the name of the MutatingWebhookConfiguration of image stream lookup, and
// of its one webhook (with a domain, as the API requires).
const (
	ImageLookupWebhook     = "gantry-image-lookup"
	imageLookupWebhookName = "image-lookup.gantry.io"
	fieldManager           = "gantry"
)

// SystemNamespaces are never sent to Gantry's webhooks: the cluster's own bootstrap (DNS,
// kube-system controllers) must not depend on Gantry's servers.
var SystemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// ImageLookupConfiguration is the MutatingWebhookConfiguration that sends the creation and
// update of pods and of every workload with a pod template to the image lookup webhook at
// url (https://host:port) with the CA that signed its certificate.
func ImageLookupConfiguration(url string, caBundle []byte) *ac.MutatingWebhookConfigurationApplyConfiguration {
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) *ac.RuleWithOperationsApplyConfiguration {
		return ac.RuleWithOperations().WithOperations(ops...).WithAPIGroups(group).WithAPIVersions("v1").
			WithResources(resources...).WithScope(admissionregistrationv1.NamespacedScope)
	}
	return ac.MutatingWebhookConfiguration(ImageLookupWebhook).
		WithLabels(map[string]string{"app.kubernetes.io/managed-by": "gantry"}).
		WithWebhooks(ac.MutatingWebhook().
			WithName(imageLookupWebhookName).
			WithClientConfig(ac.WebhookClientConfig().WithURL(url+imagelookup.Path).WithCABundle(caBundle...)).
			WithRules(
				rule("", "pods", "pods/ephemeralcontainers", "replicationcontrollers"),
				rule("apps", "deployments", "replicasets", "statefulsets", "daemonsets"),
				rule("batch", "jobs", "cronjobs"),
				rule("apps.openshift.io", "deploymentconfigs"),
			).
			WithFailurePolicy(admissionregistrationv1.Fail).
			WithMatchPolicy(admissionregistrationv1.Equivalent).
			WithSideEffects(admissionregistrationv1.SideEffectClassNone).
			WithTimeoutSeconds(5).
			WithAdmissionReviewVersions("v1").
			WithReinvocationPolicy(admissionregistrationv1.IfNeededReinvocationPolicy).
			WithNamespaceSelector(metav1ac.LabelSelector().WithMatchExpressions(metav1ac.LabelSelectorRequirement().
				WithKey(corev1.LabelMetadataName).WithOperator(metav1.LabelSelectorOpNotIn).WithValues(SystemNamespaces...))))
}

// Register creates or updates the webhook configuration (server-side apply, forced: every start
// puts back what Gantry wants).
func Register(ctx context.Context, cs kubernetes.Interface, cfg *ac.MutatingWebhookConfigurationApplyConfiguration) error {
	_, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("register mutating webhook configuration %s: %w", *cfg.Name, err)
	}
	return nil
}
