package apps

import (
	appsv1 "github.com/openshift/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// OpenShift's deployment config defaults.
const (
	DefaultRollingTimeoutSeconds      int64 = 10 * 60
	DefaultRecreateTimeoutSeconds     int64 = 10 * 60
	DefaultRollingIntervalSeconds     int64 = 1
	DefaultRollingUpdatePeriodSeconds int64 = 1
	// MaxDeploymentDurationSeconds is the default activeDeadlineSeconds of
	// the deployer pod.
	MaxDeploymentDurationSeconds int64 = 21600
	// DefaultRevisionHistoryLimit is set on create by the group API.
	DefaultRevisionHistoryLimit int32 = 10
)

// defaultDeploymentConfig applies OpenShift's apps.openshift.io/v1 defaults
// (pod template defaults are left to the kubelet and the pod API).
func defaultDeploymentConfig(dc *appsv1.DeploymentConfig) {
	spec := &dc.Spec
	// A nil trigger list means "not given"; an empty list means "no triggers".
	if spec.Triggers == nil {
		spec.Triggers = []appsv1.DeploymentTriggerPolicy{{Type: appsv1.DeploymentTriggerOnConfigChange}}
	}
	if len(spec.Selector) == 0 && spec.Template != nil && len(spec.Template.Labels) != 0 {
		spec.Selector = make(map[string]string, len(spec.Template.Labels))
		for k, v := range spec.Template.Labels {
			spec.Selector[k] = v
		}
	}
	defaultStrategy(&spec.Strategy)
	defaultHookContainerNames(spec)
	for i := range spec.Triggers {
		if p := spec.Triggers[i].ImageChangeParams; p != nil && p.From.Kind == "" {
			p.From.Kind = "ImageStreamTag"
		}
	}
	defaultTriggerNamespaces(dc)
}

// defaultTriggerNamespaces points image change triggers without a namespace
// at the deployment config's namespace, once that is known.
func defaultTriggerNamespaces(dc *appsv1.DeploymentConfig) {
	if dc.Namespace == "" {
		return
	}
	for i := range dc.Spec.Triggers {
		if p := dc.Spec.Triggers[i].ImageChangeParams; p != nil && p.From.Namespace == "" {
			p.From.Namespace = dc.Namespace
		}
	}
}

func defaultStrategy(s *appsv1.DeploymentStrategy) {
	if s.Type == "" {
		s.Type = appsv1.DeploymentStrategyTypeRolling
	}
	if s.Type == appsv1.DeploymentStrategyTypeRolling && s.RollingParams == nil {
		s.RollingParams = &appsv1.RollingDeploymentStrategyParams{}
	}
	if s.Type == appsv1.DeploymentStrategyTypeRecreate && s.RecreateParams == nil {
		s.RecreateParams = &appsv1.RecreateDeploymentStrategyParams{}
	}
	if s.RollingParams != nil {
		defaultRollingParams(s.RollingParams)
	}
	if p := s.RecreateParams; p != nil && p.TimeoutSeconds == nil {
		p.TimeoutSeconds = int64p(DefaultRecreateTimeoutSeconds)
	}
	if s.ActiveDeadlineSeconds == nil {
		s.ActiveDeadlineSeconds = int64p(MaxDeploymentDurationSeconds)
	}
}

func defaultRollingParams(p *appsv1.RollingDeploymentStrategyParams) {
	if p.IntervalSeconds == nil {
		p.IntervalSeconds = int64p(DefaultRollingIntervalSeconds)
	}
	if p.UpdatePeriodSeconds == nil {
		p.UpdatePeriodSeconds = int64p(DefaultRollingUpdatePeriodSeconds)
	}
	if p.TimeoutSeconds == nil {
		p.TimeoutSeconds = int64p(DefaultRollingTimeoutSeconds)
	}
	// 25% each when neither is given; when only one is given and it is
	// zero, the other becomes 25% so that the rollout can progress.
	switch {
	case p.MaxUnavailable == nil && p.MaxSurge == nil:
		p.MaxUnavailable = quarter()
		p.MaxSurge = quarter()
	case p.MaxUnavailable == nil && isZero(p.MaxSurge):
		p.MaxUnavailable = quarter()
	case p.MaxSurge == nil && isZero(p.MaxUnavailable):
		p.MaxSurge = quarter()
	}
}

// defaultHookContainerNames points lifecycle hooks without a container name
// at the only container of the template.
func defaultHookContainerNames(spec *appsv1.DeploymentConfigSpec) {
	if spec.Template == nil || len(spec.Template.Spec.Containers) != 1 {
		return
	}
	name := spec.Template.Spec.Containers[0].Name
	var hooks []*appsv1.LifecycleHook
	if p := spec.Strategy.RecreateParams; p != nil {
		hooks = append(hooks, p.Pre, p.Mid, p.Post)
	}
	if p := spec.Strategy.RollingParams; p != nil {
		hooks = append(hooks, p.Pre, p.Post)
	}
	for _, h := range hooks {
		if h == nil {
			continue
		}
		for i := range h.TagImages {
			if h.TagImages[i].ContainerName == "" {
				h.TagImages[i].ContainerName = name
			}
		}
		if h.ExecNewPod != nil && h.ExecNewPod.ContainerName == "" {
			h.ExecNewPod.ContainerName = name
		}
	}
}

func quarter() *intstr.IntOrString {
	v := intstr.FromString("25%")
	return &v
}

func isZero(v *intstr.IntOrString) bool {
	return v != nil && (*v == intstr.FromInt32(0) || *v == intstr.FromString("0%"))
}

func int64p(v int64) *int64 { return &v }
