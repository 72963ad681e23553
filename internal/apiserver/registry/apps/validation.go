package apps

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedStrategyTypes = []string{
		string(appsv1.DeploymentStrategyTypeRolling),
		string(appsv1.DeploymentStrategyTypeRecreate),
		string(appsv1.DeploymentStrategyTypeCustom),
	}
	supportedTriggerTypes = []string{
		string(appsv1.DeploymentTriggerOnConfigChange),
		string(appsv1.DeploymentTriggerOnImageChange),
	}
	supportedFailurePolicies = []string{
		string(appsv1.LifecycleHookFailurePolicyRetry),
		string(appsv1.LifecycleHookFailurePolicyAbort),
		string(appsv1.LifecycleHookFailurePolicyIgnore),
	}

	imageStreamNameRegexp = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$`)
	tagRegexp             = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	percentRegexp         = regexp.MustCompile(`^[0-9]+%$`)
)

// validateDeploymentConfig checks a deployment config's spec.
func validateDeploymentConfig(dc *appsv1.DeploymentConfig) field.ErrorList {
	spec := &dc.Spec
	specPath := field.NewPath("spec")
	var allErrs field.ErrorList
	if spec.Replicas < 0 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("replicas"), spec.Replicas, "must be greater than or equal to 0"))
	}
	if spec.MinReadySeconds < 0 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("minReadySeconds"), spec.MinReadySeconds, "must be greater than or equal to 0"))
	}
	if l := spec.RevisionHistoryLimit; l != nil && *l < 0 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("revisionHistoryLimit"), *l, "must be greater than or equal to 0"))
	}
	allErrs = append(allErrs, validateSelector(spec.Selector, specPath.Child("selector"))...)
	containers := templateContainers(spec.Template)
	if spec.Template == nil {
		allErrs = append(allErrs, field.Required(specPath.Child("template"), "must give the pod template to deploy"))
	} else {
		allErrs = append(allErrs, validateTemplate(spec.Template, spec.Selector, imageTriggeredContainers(spec.Triggers), specPath.Child("template"))...)
	}
	allErrs = append(allErrs, validateStrategy(&spec.Strategy, containers, specPath.Child("strategy"))...)
	allErrs = append(allErrs, validateTriggers(spec.Triggers, containers, spec.Template != nil, specPath.Child("triggers"))...)
	return allErrs
}

// validateStatusUpdate keeps the version and observed generation from going
// backwards and the counts from going negative.
func validateStatusUpdate(dc, old *appsv1.DeploymentConfig) field.ErrorList {
	p := field.NewPath("status")
	s := &dc.Status
	var allErrs field.ErrorList
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"latestVersion", s.LatestVersion}, {"observedGeneration", s.ObservedGeneration},
		{"replicas", int64(s.Replicas)}, {"updatedReplicas", int64(s.UpdatedReplicas)},
		{"availableReplicas", int64(s.AvailableReplicas)}, {"unavailableReplicas", int64(s.UnavailableReplicas)},
		{"readyReplicas", int64(s.ReadyReplicas)},
	} {
		if c.v < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child(c.name), c.v, "must be greater than or equal to 0"))
		}
	}
	if s.LatestVersion < old.Status.LatestVersion {
		allErrs = append(allErrs, field.Invalid(p.Child("latestVersion"), s.LatestVersion, fmt.Sprintf("may not be decreased (currently %d)", old.Status.LatestVersion)))
	}
	if s.ObservedGeneration < old.Status.ObservedGeneration {
		allErrs = append(allErrs, field.Invalid(p.Child("observedGeneration"), s.ObservedGeneration, fmt.Sprintf("may not be decreased (currently %d)", old.Status.ObservedGeneration)))
	}
	return allErrs
}

func validateSelector(selector map[string]string, fldPath *field.Path) field.ErrorList {
	if len(selector) == 0 {
		return field.ErrorList{field.Required(fldPath, "must select the pods of the template by label (defaults to the template's labels)")}
	}
	return metav1validation.ValidateLabels(selector, fldPath)
}

// validateTemplate checks the parts of the pod template a deployment config
// depends on: labels matching the selector and named containers with images
// (an image may be left empty for an image change trigger to fill in).
func validateTemplate(t *corev1.PodTemplateSpec, selector map[string]string, triggered map[string]bool, fldPath *field.Path) field.ErrorList {
	labelsPath := fldPath.Child("metadata", "labels")
	allErrs := metav1validation.ValidateLabels(t.Labels, labelsPath)
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("metadata", "annotations"))...)
	if len(selector) != 0 && !labels.SelectorFromSet(selector).Matches(labels.Set(t.Labels)) {
		allErrs = append(allErrs, field.Invalid(labelsPath, t.Labels, fmt.Sprintf("must match the selector %s", labels.SelectorFromSet(selector))))
	}
	specPath := fldPath.Child("spec")
	if len(t.Spec.Containers) == 0 {
		allErrs = append(allErrs, field.Required(specPath.Child("containers"), "must give at least one container"))
	}
	seen := map[string]bool{}
	for _, group := range []struct {
		name       string
		containers []corev1.Container
	}{{"initContainers", t.Spec.InitContainers}, {"containers", t.Spec.Containers}} {
		for i, c := range group.containers {
			p := specPath.Child(group.name).Index(i)
			switch {
			case c.Name == "":
				allErrs = append(allErrs, field.Required(p.Child("name"), "must name the container"))
			case seen[c.Name]:
				allErrs = append(allErrs, field.Duplicate(p.Child("name"), c.Name))
			default:
				for _, msg := range validation.IsDNS1123Label(c.Name) {
					allErrs = append(allErrs, field.Invalid(p.Child("name"), c.Name, msg))
				}
			}
			seen[c.Name] = true
			if strings.TrimSpace(c.Image) == "" && !triggered[c.Name] {
				allErrs = append(allErrs, field.Required(p.Child("image"), "must give the image, unless an ImageChange trigger sets it"))
			}
		}
	}
	return allErrs
}

// validateStrategy checks the type, that the params match it, and the params.
func validateStrategy(s *appsv1.DeploymentStrategy, containers map[string]bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch s.Type {
	case appsv1.DeploymentStrategyTypeRolling:
		if s.RollingParams == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("rollingParams"), "must be set when type is Rolling"))
		}
		if s.RecreateParams != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("recreateParams"), "may not be set when type is Rolling"))
		}
	case appsv1.DeploymentStrategyTypeRecreate:
		if s.RollingParams != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("rollingParams"), "may not be set when type is Recreate"))
		}
	case appsv1.DeploymentStrategyTypeCustom:
		if s.CustomParams == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("customParams"), "must be set when type is Custom"))
		}
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), fmt.Sprintf("must be one of %s", strings.Join(supportedStrategyTypes, ", "))))
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), s.Type, supportedStrategyTypes))
	}
	if p := s.CustomParams; p != nil {
		allErrs = append(allErrs, validateEnv(p.Environment, fldPath.Child("customParams", "environment"))...)
	}
	var timeout *int64
	if p := s.RecreateParams; p != nil {
		allErrs = append(allErrs, validateRecreateParams(p, containers, fldPath.Child("recreateParams"))...)
		timeout = p.TimeoutSeconds
	}
	if p := s.RollingParams; p != nil {
		allErrs = append(allErrs, validateRollingParams(p, containers, fldPath.Child("rollingParams"))...)
		timeout = p.TimeoutSeconds
	}
	if d := s.ActiveDeadlineSeconds; d != nil {
		switch {
		case *d <= 0:
			allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *d, "must be greater than 0"))
		case timeout != nil && *d <= *timeout:
			allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *d, fmt.Sprintf("must be greater than timeoutSeconds (%d)", *timeout)))
		}
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(s.Labels, fldPath.Child("labels"))...)
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(s.Annotations, fldPath.Child("annotations"))...)
	allErrs = append(allErrs, validateResources(&s.Resources, fldPath.Child("resources"))...)
	return allErrs
}

func validateRecreateParams(p *appsv1.RecreateDeploymentStrategyParams, containers map[string]bool, fldPath *field.Path) field.ErrorList {
	allErrs := validatePositive(p.TimeoutSeconds, fldPath.Child("timeoutSeconds"))
	allErrs = append(allErrs, validateHook(p.Pre, containers, fldPath.Child("pre"))...)
	allErrs = append(allErrs, validateHook(p.Mid, containers, fldPath.Child("mid"))...)
	allErrs = append(allErrs, validateHook(p.Post, containers, fldPath.Child("post"))...)
	return allErrs
}

func validateRollingParams(p *appsv1.RollingDeploymentStrategyParams, containers map[string]bool, fldPath *field.Path) field.ErrorList {
	allErrs := validatePositive(p.IntervalSeconds, fldPath.Child("intervalSeconds"))
	allErrs = append(allErrs, validatePositive(p.UpdatePeriodSeconds, fldPath.Child("updatePeriodSeconds"))...)
	allErrs = append(allErrs, validatePositive(p.TimeoutSeconds, fldPath.Child("timeoutSeconds"))...)
	unavailable, unavailableErrs := intOrPercent(p.MaxUnavailable, fldPath.Child("maxUnavailable"))
	surge, surgeErrs := intOrPercent(p.MaxSurge, fldPath.Child("maxSurge"))
	allErrs = append(allErrs, unavailableErrs...)
	allErrs = append(allErrs, surgeErrs...)
	if len(unavailableErrs) == 0 && p.MaxUnavailable != nil && p.MaxUnavailable.Type == intstr.String && unavailable > 100 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxUnavailable"), p.MaxUnavailable.String(), "must not be greater than 100%"))
	}
	if len(unavailableErrs) == 0 && len(surgeErrs) == 0 && unavailable == 0 && surge == 0 {
		value := "0"
		if p.MaxUnavailable != nil {
			value = p.MaxUnavailable.String()
		}
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxUnavailable"), value, "may not be 0 when maxSurge is 0 too; at least one must allow progress"))
	}
	allErrs = append(allErrs, validateHook(p.Pre, containers, fldPath.Child("pre"))...)
	allErrs = append(allErrs, validateHook(p.Post, containers, fldPath.Child("post"))...)
	return allErrs
}

// intOrPercent checks a non-negative integer or percentage and returns its
// number (nil counts as 0).
func intOrPercent(v *intstr.IntOrString, fldPath *field.Path) (int, field.ErrorList) {
	if v == nil {
		return 0, nil
	}
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return 0, field.ErrorList{field.Invalid(fldPath, v.IntVal, "must be greater than or equal to 0")}
		}
		return int(v.IntVal), nil
	}
	if !percentRegexp.MatchString(v.StrVal) {
		return 0, field.ErrorList{field.Invalid(fldPath, v.StrVal, "must be an integer (5) or a percentage (5%)")}
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	if err != nil {
		return 0, field.ErrorList{field.Invalid(fldPath, v.StrVal, "must be an integer (5) or a percentage (5%)")}
	}
	return n, nil
}

// validateHook checks a lifecycle hook: a failure policy and exactly one of
// execNewPod or tagImages, naming containers of the template.
func validateHook(h *appsv1.LifecycleHook, containers map[string]bool, fldPath *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	var allErrs field.ErrorList
	switch {
	case h.FailurePolicy == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("failurePolicy"), fmt.Sprintf("must be one of %s", strings.Join(supportedFailurePolicies, ", "))))
	case !contains(supportedFailurePolicies, string(h.FailurePolicy)):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("failurePolicy"), h.FailurePolicy, supportedFailurePolicies))
	}
	switch {
	case h.ExecNewPod != nil && len(h.TagImages) > 0:
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("tagImages"), "may not be set together with execNewPod; give exactly one"))
	case h.ExecNewPod == nil && len(h.TagImages) == 0:
		allErrs = append(allErrs, field.Required(fldPath.Child("execNewPod"), "must give execNewPod or tagImages"))
	}
	if e := h.ExecNewPod; e != nil {
		p := fldPath.Child("execNewPod")
		if len(e.Command) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("command"), "must give the command to run"))
		}
		allErrs = append(allErrs, validateContainerRef(e.ContainerName, containers, p.Child("containerName"))...)
		allErrs = append(allErrs, validateEnv(e.Env, p.Child("env"))...)
		for i, v := range e.Volumes {
			if v == "" {
				allErrs = append(allErrs, field.Required(p.Child("volumes").Index(i), "must name a volume of the template"))
			}
		}
	}
	for i, ti := range h.TagImages {
		p := fldPath.Child("tagImages").Index(i)
		allErrs = append(allErrs, validateContainerRef(ti.ContainerName, containers, p.Child("containerName"))...)
		if ti.To.Kind != "ImageStreamTag" {
			allErrs = append(allErrs, field.NotSupported(p.Child("to", "kind"), ti.To.Kind, []string{"ImageStreamTag"}))
		}
		if ti.To.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("to", "name"), "must give the image stream tag to tag the image into"))
		}
	}
	return allErrs
}

func validateContainerRef(name string, containers map[string]bool, fldPath *field.Path) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(fldPath, "must name a container of the template")}
	case containers != nil && !containers[name]:
		return field.ErrorList{field.Invalid(fldPath, name, "must name a container of the template")}
	}
	return nil
}

// validateTriggers checks each trigger and that at most one ConfigChange
// trigger is given.
func validateTriggers(triggers []appsv1.DeploymentTriggerPolicy, containers map[string]bool, haveTemplate bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	configChange := 0
	for i, t := range triggers {
		p := fldPath.Index(i)
		switch t.Type {
		case appsv1.DeploymentTriggerOnConfigChange:
			configChange++
			if configChange > 1 {
				allErrs = append(allErrs, field.Invalid(p.Child("type"), t.Type, "at most one ConfigChange trigger is allowed"))
			}
			if t.ImageChangeParams != nil {
				allErrs = append(allErrs, field.Forbidden(p.Child("imageChangeParams"), "may not be set when type is ConfigChange"))
			}
		case appsv1.DeploymentTriggerOnImageChange:
			if t.ImageChangeParams == nil {
				allErrs = append(allErrs, field.Required(p.Child("imageChangeParams"), "must be set when type is ImageChange"))
			} else {
				if !haveTemplate {
					containers = nil // already reported as a missing template
				}
				allErrs = append(allErrs, validateImageChangeParams(t.ImageChangeParams, containers, p.Child("imageChangeParams"))...)
			}
		case "":
			allErrs = append(allErrs, field.Required(p.Child("type"), fmt.Sprintf("must be one of %s", strings.Join(supportedTriggerTypes, ", "))))
		default:
			allErrs = append(allErrs, field.NotSupported(p.Child("type"), t.Type, supportedTriggerTypes))
		}
	}
	return allErrs
}

func validateImageChangeParams(p *appsv1.DeploymentTriggerImageChangeParams, containers map[string]bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	fromPath := fldPath.Child("from")
	if p.From.Kind != "ImageStreamTag" {
		allErrs = append(allErrs, field.NotSupported(fromPath.Child("kind"), p.From.Kind, []string{"ImageStreamTag"}))
	}
	if p.From.Name == "" {
		allErrs = append(allErrs, field.Required(fromPath.Child("name"), "must give the image stream tag as <name>:<tag>"))
	} else if msg := imageStreamTagProblem(p.From.Name); msg != "" {
		allErrs = append(allErrs, field.Invalid(fromPath.Child("name"), p.From.Name, msg))
	}
	if ns := p.From.Namespace; ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(fromPath.Child("namespace"), ns, msg))
		}
	}
	if len(p.ContainerNames) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("containerNames"), "must name at least one container whose image the trigger updates"))
	}
	for i, name := range p.ContainerNames {
		allErrs = append(allErrs, validateContainerRef(name, containers, fldPath.Child("containerNames").Index(i))...)
	}
	return allErrs
}

// imageStreamTagProblem describes what is wrong with an image stream tag
// name, or returns "".
func imageStreamTagProblem(istag string) string {
	parts := strings.Split(istag, ":")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "must be an image stream tag in the form <name>:<tag>"
	}
	if !imageStreamNameRegexp.MatchString(parts[0]) {
		return fmt.Sprintf("image stream name %q must consist of lower-case letters, digits and the separators '.', '_', '__' or '-'", parts[0])
	}
	if !tagRegexp.MatchString(parts[1]) {
		return fmt.Sprintf("tag %q must start with a letter, digit or '_' and contain at most 128 letters, digits, '_', '.' or '-'", parts[1])
	}
	return ""
}

// validateEnv checks environment variable names.
func validateEnv(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range vars {
		p := fldPath.Index(i).Child("name")
		if ev.Name == "" {
			allErrs = append(allErrs, field.Required(p, "must give the variable name"))
		} else if msgs := validation.IsEnvVarName(ev.Name); len(msgs) != 0 {
			allErrs = append(allErrs, field.Invalid(p, ev.Name, strings.Join(msgs, "; ")))
		}
	}
	return allErrs
}

// validateResources checks resource names and that quantities are not
// negative and requests do not exceed limits.
func validateResources(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range sortedResourceNames(r.Limits) {
		l := r.Limits[name]
		allErrs = append(allErrs, validateQuantity(name, l.Sign(), l.String(), fldPath.Child("limits").Key(string(name)))...)
	}
	for _, name := range sortedResourceNames(r.Requests) {
		q := r.Requests[name]
		p := fldPath.Child("requests").Key(string(name))
		allErrs = append(allErrs, validateQuantity(name, q.Sign(), q.String(), p)...)
		if l, ok := r.Limits[name]; ok && q.Cmp(l) > 0 {
			allErrs = append(allErrs, field.Invalid(p, q.String(), fmt.Sprintf("must be less than or equal to the %s limit %s", name, l.String())))
		}
	}
	return allErrs
}

func validateQuantity(name corev1.ResourceName, sign int, value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsQualifiedName(string(name)) {
		allErrs = append(allErrs, field.Invalid(fldPath, string(name), "resource name "+msg))
	}
	if sign < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "must be greater than or equal to 0"))
	}
	return allErrs
}

func sortedResourceNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

func validatePositive(v *int64, fldPath *field.Path) field.ErrorList {
	if v != nil && *v < 1 {
		return field.ErrorList{field.Invalid(fldPath, *v, "must be greater than 0")}
	}
	return nil
}

// templateContainers are the names of the template's containers (nil
// without a template).
func templateContainers(t *corev1.PodTemplateSpec) map[string]bool {
	if t == nil {
		return nil
	}
	names := map[string]bool{}
	for _, c := range t.Spec.InitContainers {
		names[c.Name] = true
	}
	for _, c := range t.Spec.Containers {
		names[c.Name] = true
	}
	return names
}

// imageTriggeredContainers are the containers an image change trigger
// supplies the image of.
func imageTriggeredContainers(triggers []appsv1.DeploymentTriggerPolicy) map[string]bool {
	names := map[string]bool{}
	for _, t := range triggers {
		if t.Type == appsv1.DeploymentTriggerOnImageChange && t.ImageChangeParams != nil {
			for _, n := range t.ImageChangeParams.ContainerNames {
				names[n] = true
			}
		}
	}
	return names
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
