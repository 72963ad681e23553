package imagelookup

import (
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "github.com/openshift/api/apps/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ResolveNamesAnnotation, set to "*" on an object or on its pod template, makes every image of
// the template resolve against the project's image streams, whether or not a stream has
// lookupPolicy.local (what `oc set image-lookup deploy/x` sets).
const ResolveNamesAnnotation = "alpha.image.policy.openshift.io/resolve-names"

// ImageField is one container image of an object: where it is (a JSON pointer, for the patch),
// which container list and container it belongs to, and its value.
type ImageField struct {
	Path      string
	List      string // containers, initContainers or ephemeralContainers
	Container string
	Image     string
}

// Workload is what the webhook needs of an admitted object: its image fields, whether it asks
// for all names to be resolved, and whether a controller owns it.
type Workload struct {
	Images []ImageField
	// ResolveAll is set when the object or its pod template carries ResolveNamesAnnotation "*".
	ResolveAll bool
	// Controller is the kind of the object's controlling owner ("" when none).
	Controller string
}

// Kinds are the kinds the webhook understands, with the JSON pointer of their pod template
// ("" for a pod, whose spec is at /spec).
var Kinds = map[schema.GroupVersionKind]string{
	{Version: "v1", Kind: "Pod"}:                                          "",
	{Version: "v1", Kind: "ReplicationController"}:                        "/spec/template",
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                    "/spec/template",
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"}:                    "/spec/template",
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                   "/spec/template",
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:                     "/spec/template",
	{Group: "batch", Version: "v1", Kind: "Job"}:                          "/spec/template",
	{Group: "batch", Version: "v1", Kind: "CronJob"}:                      "/spec/jobTemplate/spec/template",
	{Group: "apps.openshift.io", Version: "v1", Kind: "DeploymentConfig"}: "/spec/template",
}

// ParseWorkload decodes an object of a kind in Kinds and lists its images.
func ParseWorkload(gvk schema.GroupVersionKind, raw []byte) (*Workload, error) {
	var meta *metav1.ObjectMeta
	var tmpl *corev1.PodTemplateSpec
	var spec *corev1.PodSpec
	decode := func(obj any) error {
		if err := json.Unmarshal(raw, obj); err != nil {
			return fmt.Errorf("decode %s: %w", gvk.Kind, err)
		}
		return nil
	}
	switch gvk {
	case schema.GroupVersionKind{Version: "v1", Kind: "Pod"}:
		var o corev1.Pod
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, spec = &o.ObjectMeta, &o.Spec
	case schema.GroupVersionKind{Version: "v1", Kind: "ReplicationController"}:
		var o corev1.ReplicationController
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, tmpl = &o.ObjectMeta, o.Spec.Template
	case schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}:
		var o kappsv1.Deployment
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, tmpl = &o.ObjectMeta, &o.Spec.Template
	case schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}:
		var o kappsv1.ReplicaSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, tmpl = &o.ObjectMeta, &o.Spec.Template
	case schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}:
		var o kappsv1.StatefulSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, tmpl = &o.ObjectMeta, &o.Spec.Template
	case schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}:
		var o kappsv1.DaemonSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, tmpl = &o.ObjectMeta, &o.Spec.Template
	case schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}:
		var o batchv1.Job
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, tmpl = &o.ObjectMeta, &o.Spec.Template
	case schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}:
		var o batchv1.CronJob
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, tmpl = &o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template
	case schema.GroupVersionKind{Group: "apps.openshift.io", Version: "v1", Kind: "DeploymentConfig"}:
		var o appsv1.DeploymentConfig
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, tmpl = &o.ObjectMeta, o.Spec.Template
	default:
		return nil, fmt.Errorf("image lookup does not handle %s", gvk)
	}
	w := &Workload{ResolveAll: meta.Annotations[ResolveNamesAnnotation] == "*"}
	if c := metav1.GetControllerOf(meta); c != nil {
		w.Controller = c.Kind
	}
	base := Kinds[gvk] + "/spec"
	if tmpl != nil {
		spec = &tmpl.Spec
		w.ResolveAll = w.ResolveAll || tmpl.Annotations[ResolveNamesAnnotation] == "*"
	}
	if spec != nil {
		w.Images = PodSpecImages(base, spec)
	}
	return w, nil
}

// PodSpecImages lists the images of a pod spec found at the JSON pointer base:
// init containers, containers and ephemeral containers, in that order.
func PodSpecImages(base string, spec *corev1.PodSpec) []ImageField {
	var out []ImageField
	add := func(list string, i int, name, image string) {
		out = append(out, ImageField{
			Path: base + "/" + list + "/" + strconv.Itoa(i) + "/image",
			List: list, Container: name, Image: image,
		})
	}
	for i, c := range spec.InitContainers {
		add("initContainers", i, c.Name, c.Image)
	}
	for i, c := range spec.Containers {
		add("containers", i, c.Name, c.Image)
	}
	for i, c := range spec.EphemeralContainers {
		add("ephemeralContainers", i, c.Name, c.Image)
	}
	return out
}
