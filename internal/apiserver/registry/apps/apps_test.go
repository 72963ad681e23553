package apps

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func validDC() *appsv1.DeploymentConfig {
	return &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "frontend", Namespace: "app"},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 2,
			Selector: map[string]string{"app": "frontend"},
			Triggers: []appsv1.DeploymentTriggerPolicy{
				{Type: appsv1.DeploymentTriggerOnConfigChange},
				{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
					Automatic: true, ContainerNames: []string{"web"},
					From: corev1.ObjectReference{Kind: "ImageStreamTag", Name: "ruby:latest"},
				}},
			},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "frontend", "tier": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}},
			},
		},
	}
}

func defaulted(dc *appsv1.DeploymentConfig) *appsv1.DeploymentConfig {
	d := deploymentConfigDefinition()
	d.Default(dc)
	d.PrepareForCreate(context.Background(), dc)
	return dc
}

func TestValid(t *testing.T) {
	t.Parallel()
	d := deploymentConfigDefinition()
	tests := map[string]func(*appsv1.DeploymentConfig){
		"rolling defaults":   func(*appsv1.DeploymentConfig) {},
		"selector defaulted": func(dc *appsv1.DeploymentConfig) { dc.Spec.Selector = nil },
		"recreate with hook": func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRecreate, RecreateParams: &appsv1.RecreateDeploymentStrategyParams{
				Pre: &appsv1.LifecycleHook{FailurePolicy: appsv1.LifecycleHookFailurePolicyAbort, ExecNewPod: &appsv1.ExecNewPodHook{Command: []string{"migrate"}}},
			}}
		},
		"custom": func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeCustom, CustomParams: &appsv1.CustomDeploymentStrategyParams{Image: "acme/deployer"}}
		},
		"rolling with custom params and zero surge": func(dc *appsv1.DeploymentConfig) {
			zero := intstr.FromInt32(0)
			dc.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling,
				RollingParams: &appsv1.RollingDeploymentStrategyParams{MaxSurge: &zero},
				CustomParams:  &appsv1.CustomDeploymentStrategyParams{Command: []string{"/bin/true"}}}
		},
		"no triggers": func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Triggers = []appsv1.DeploymentTriggerPolicy{}
			dc.Spec.Template.Spec.Containers[0].Image = "quay.io/acme/web:1"
		},
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dc := validDC()
			mutate(dc)
			defaulted(dc)
			resourcetest.AssertErrors(t, d.Validate(context.Background(), dc), nil)
			resourcetest.AssertErrors(t, d.ValidateUpdate(context.Background(), dc, validDC()), nil)
		})
	}
}

func TestInvalidReportsAll(t *testing.T) {
	t.Parallel()
	d := deploymentConfigDefinition()
	dc := defaulted(validDC())
	zero := intstr.FromString("0%")
	bad := intstr.FromString("lots")
	dc.Spec.Replicas = -1
	dc.Spec.RevisionHistoryLimit = new(int32)
	*dc.Spec.RevisionHistoryLimit = -3
	dc.Spec.Template.Labels = map[string]string{"app": "backend"}
	dc.Spec.Template.Spec.Containers = append(dc.Spec.Template.Spec.Containers, corev1.Container{Name: "Side_Car"})
	dc.Spec.Strategy.RollingParams.MaxSurge = &zero
	dc.Spec.Strategy.RollingParams.MaxUnavailable = &zero
	dc.Spec.Strategy.RollingParams.IntervalSeconds = new(int64)
	dc.Spec.Strategy.RecreateParams = &appsv1.RecreateDeploymentStrategyParams{}
	dc.Spec.Triggers = []appsv1.DeploymentTriggerPolicy{
		{Type: appsv1.DeploymentTriggerOnConfigChange},
		{Type: appsv1.DeploymentTriggerOnConfigChange},
		{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
			From: corev1.ObjectReference{Kind: "DockerImage", Name: "ruby"},
		}},
		{Type: appsv1.DeploymentTriggerOnImageChange},
		{Type: "Cron"},
	}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), dc), []string{
		"FieldValueInvalid spec.replicas",
		"FieldValueInvalid spec.revisionHistoryLimit",
		"FieldValueInvalid spec.template.metadata.labels",
		"FieldValueInvalid spec.template.spec.containers[1].name",
		"FieldValueRequired spec.template.spec.containers[0].image",
		"FieldValueRequired spec.template.spec.containers[1].image",
		"FieldValueInvalid spec.strategy.rollingParams.intervalSeconds",
		"FieldValueInvalid spec.strategy.rollingParams.maxUnavailable",
		"FieldValueForbidden spec.strategy.recreateParams",
		"FieldValueInvalid spec.triggers[1].type",
		"FieldValueNotSupported spec.triggers[2].imageChangeParams.from.kind",
		"FieldValueInvalid spec.triggers[2].imageChangeParams.from.name",
		"FieldValueRequired spec.triggers[2].imageChangeParams.containerNames",
		"FieldValueRequired spec.triggers[3].imageChangeParams",
		"FieldValueNotSupported spec.triggers[4].type",
	})

	noTemplate := &appsv1.DeploymentConfig{Spec: appsv1.DeploymentConfigSpec{
		Strategy: appsv1.DeploymentStrategy{Type: "BlueGreen"},
		Triggers: []appsv1.DeploymentTriggerPolicy{},
	}}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), noTemplate), []string{
		"FieldValueRequired spec.template",
		"FieldValueRequired spec.selector",
		"FieldValueNotSupported spec.strategy.type",
	})

	badSurge := defaulted(validDC())
	badSurge.Spec.Strategy.RollingParams.MaxSurge = &bad
	hook := &appsv1.LifecycleHook{TagImages: []appsv1.TagImageHook{{ContainerName: "nope", To: corev1.ObjectReference{Name: "x:y"}}}}
	badSurge.Spec.Strategy.RollingParams.Pre = hook
	badSurge.Spec.Strategy.ActiveDeadlineSeconds = new(int64)
	*badSurge.Spec.Strategy.ActiveDeadlineSeconds = 60
	resourcetest.AssertErrors(t, d.Validate(context.Background(), badSurge), []string{
		"FieldValueInvalid spec.strategy.rollingParams.maxSurge",
		"FieldValueRequired spec.strategy.rollingParams.pre.failurePolicy",
		"FieldValueInvalid spec.strategy.rollingParams.pre.tagImages[0].containerName",
		"FieldValueNotSupported spec.strategy.rollingParams.pre.tagImages[0].to.kind",
		"FieldValueInvalid spec.strategy.activeDeadlineSeconds",
	})
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	dc := defaulted(validDC())
	s := dc.Spec.Strategy
	if s.Type != appsv1.DeploymentStrategyTypeRolling || s.RollingParams == nil {
		t.Fatalf("strategy = %+v, want Rolling with params", s)
	}
	p := s.RollingParams
	if *p.UpdatePeriodSeconds != 1 || *p.IntervalSeconds != 1 || *p.TimeoutSeconds != 600 {
		t.Errorf("rolling params = %v %v %v, want 1 1 600", *p.UpdatePeriodSeconds, *p.IntervalSeconds, *p.TimeoutSeconds)
	}
	if p.MaxSurge.String() != "25%" || p.MaxUnavailable.String() != "25%" {
		t.Errorf("maxSurge/maxUnavailable = %v/%v, want 25%%", p.MaxSurge, p.MaxUnavailable)
	}
	if *s.ActiveDeadlineSeconds != 21600 {
		t.Errorf("activeDeadlineSeconds = %d", *s.ActiveDeadlineSeconds)
	}
	if *dc.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("revisionHistoryLimit = %d", *dc.Spec.RevisionHistoryLimit)
	}
	if ns := dc.Spec.Triggers[1].ImageChangeParams.From.Namespace; ns != "app" {
		t.Errorf("trigger namespace = %q, want app", ns)
	}

	nilTriggers := validDC()
	nilTriggers.Spec.Triggers = nil
	nilTriggers.Spec.Selector = nil
	defaulted(nilTriggers)
	if len(nilTriggers.Spec.Triggers) != 1 || nilTriggers.Spec.Triggers[0].Type != appsv1.DeploymentTriggerOnConfigChange {
		t.Errorf("triggers = %+v, want one ConfigChange", nilTriggers.Spec.Triggers)
	}
	if nilTriggers.Spec.Selector["tier"] != "web" {
		t.Errorf("selector = %v, want the template labels", nilTriggers.Spec.Selector)
	}

	emptyTriggers := validDC()
	emptyTriggers.Spec.Triggers = []appsv1.DeploymentTriggerPolicy{}
	defaulted(emptyTriggers)
	if len(emptyTriggers.Spec.Triggers) != 0 {
		t.Errorf("empty trigger list was defaulted: %+v", emptyTriggers.Spec.Triggers)
	}

	recreate := validDC()
	recreate.Spec.Strategy.Type = appsv1.DeploymentStrategyTypeRecreate
	recreate.Spec.Strategy.RecreateParams = &appsv1.RecreateDeploymentStrategyParams{Mid: &appsv1.LifecycleHook{ExecNewPod: &appsv1.ExecNewPodHook{}}}
	defaulted(recreate)
	if rp := recreate.Spec.Strategy.RecreateParams; *rp.TimeoutSeconds != 600 || rp.Mid.ExecNewPod.ContainerName != "web" {
		t.Errorf("recreate params = %+v", rp)
	}
	if recreate.Spec.Strategy.RollingParams != nil {
		t.Errorf("rolling params defaulted for Recreate")
	}

	// User values are kept.
	one := intstr.FromInt32(1)
	user := validDC()
	user.Spec.RevisionHistoryLimit = new(int32)
	user.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling, ActiveDeadlineSeconds: int64p(3600),
		RollingParams: &appsv1.RollingDeploymentStrategyParams{TimeoutSeconds: int64p(120), MaxUnavailable: &one}}
	defaulted(user)
	up := user.Spec.Strategy.RollingParams
	if *user.Spec.RevisionHistoryLimit != 0 || *user.Spec.Strategy.ActiveDeadlineSeconds != 3600 || *up.TimeoutSeconds != 120 || up.MaxUnavailable.IntValue() != 1 || up.MaxSurge != nil {
		t.Errorf("user values changed: %+v %+v", user.Spec, up)
	}
}

func TestGenerationAndStatus(t *testing.T) {
	t.Parallel()
	d := deploymentConfigDefinition()
	old := defaulted(validDC())
	old.Generation = 2
	old.Status.LatestVersion = 3
	changed := old.DeepCopy()
	changed.Spec.Replicas = 5
	d.PrepareForUpdate(context.Background(), changed, old)
	if changed.Generation != 3 {
		t.Errorf("generation = %d, want 3", changed.Generation)
	}
	// A body without the defaulted trigger namespace is the same spec.
	resent := old.DeepCopy()
	resent.Generation = 7 // whatever the generic registry set before
	resent.Spec.Triggers[1].ImageChangeParams.From.Namespace = ""
	d.PrepareForUpdate(context.Background(), resent, old)
	if resent.Generation != 2 || resent.Spec.Triggers[1].ImageChangeParams.From.Namespace != "app" {
		t.Errorf("generation = %d namespace = %q, want 2 and app", resent.Generation, resent.Spec.Triggers[1].ImageChangeParams.From.Namespace)
	}
	back := old.DeepCopy()
	back.Status.LatestVersion = 1
	back.Status.Replicas = -1
	resourcetest.AssertErrors(t, d.ValidateStatusUpdate(context.Background(), back, old), []string{
		"FieldValueInvalid status.latestVersion", "FieldValueInvalid status.replicas",
	})
}

func TestTable(t *testing.T) {
	t.Parallel()
	d := deploymentConfigDefinition()
	tests := map[string]struct {
		mutate func(*appsv1.DeploymentConfig)
		want   []interface{}
	}{
		"config and image": {
			mutate: func(dc *appsv1.DeploymentConfig) { dc.Status.LatestVersion = 4; dc.Status.Replicas = 2 },
			want:   []interface{}{"frontend", int64(4), "2", int64(2), "config,image(ruby:latest)"},
		},
		"manual image trigger hidden": {
			mutate: func(dc *appsv1.DeploymentConfig) { dc.Spec.Triggers[1].ImageChangeParams.Automatic = false },
			want:   []interface{}{"frontend", int64(0), "2", int64(0), "config"},
		},
		"multi container prefix and test": {
			mutate: func(dc *appsv1.DeploymentConfig) {
				dc.Spec.Test = true
				dc.Spec.Template.Spec.Containers = append(dc.Spec.Template.Spec.Containers, corev1.Container{Name: "proxy"})
			},
			want: []interface{}{"frontend", int64(0), "2 (during test)", int64(0), "config,image(web:ruby:latest)"},
		},
		"none": {
			mutate: func(dc *appsv1.DeploymentConfig) { dc.Spec.Triggers = nil },
			want:   []interface{}{"frontend", int64(0), "2", int64(0), ""},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dc := validDC()
			tc.mutate(dc)
			resourcetest.AssertRow(t, d, dc, tc.want...)
		})
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	g := Group()
	s := runtime.NewScheme()
	if err := g.Install(s); err != nil {
		t.Fatal(err)
	}
	d := g.Resources[0]
	if g.GroupVersion.String() != "apps.openshift.io/v1" || d.ShortNames[0] != "dc" || !d.HasStatus || !d.Namespaced {
		t.Errorf("unexpected group/definition: %v %+v", g.GroupVersion, d)
	}
	if _, _, err := s.ObjectKinds(d.New()); err != nil {
		t.Error(err)
	}
}
