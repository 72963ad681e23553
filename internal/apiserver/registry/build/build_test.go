package build

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

func definition(t *testing.T, name string) resource.Definition {
	t.Helper()
	for _, d := range Group().Resources {
		if d.Resource == name {
			return d
		}
	}
	t.Fatalf("no resource %q in group", name)
	return resource.Definition{}
}

func int32p(v int32) *int32 { return &v }
func int64p(v int64) *int64 { return &v }

func validBuildConfig() *buildv1.BuildConfig {
	return &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "ruby", Namespace: "app"},
		Spec: buildv1.BuildConfigSpec{
			Triggers: []buildv1.BuildTriggerPolicy{
				{Type: buildv1.GitHubWebHookBuildTriggerType, GitHubWebHook: &buildv1.WebHookTrigger{SecretReference: &buildv1.SecretLocalReference{Name: "hook"}}},
				{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: &buildv1.WebHookTrigger{Secret: "s3cr3t", AllowEnv: true}},
				{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{}},
				{Type: buildv1.ConfigChangeBuildTriggerType},
			},
			RunPolicy: buildv1.BuildRunPolicySerial,
			CommonSpec: buildv1.CommonSpec{
				Source: buildv1.BuildSource{
					Type: buildv1.BuildSourceGit,
					Git:  &buildv1.GitBuildSource{URI: "https://github.com/sclorg/ruby-ex.git", Ref: "main"},
				},
				Strategy: buildv1.BuildStrategy{
					Type: buildv1.SourceBuildStrategyType,
					SourceStrategy: &buildv1.SourceBuildStrategy{
						From: corev1.ObjectReference{Kind: "ImageStreamTag", Name: "ruby:3.1", Namespace: "openshift"},
						Env:  []corev1.EnvVar{{Name: "RACK_ENV", Value: "production"}},
					},
				},
				Output: buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "ruby-ex:latest"}},
				Resources: corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceCPU: apiresource.MustParse("1")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: apiresource.MustParse("500m")},
				},
				CompletionDeadlineSeconds: int64p(1800),
			},
		},
	}
}

func TestBuildConfigValid(t *testing.T) {
	t.Parallel()
	d := definition(t, "buildconfigs")
	tests := map[string]func(*buildv1.BuildConfig){
		"source git": func(*buildv1.BuildConfig) {},
		"docker with dockerfile": func(bc *buildv1.BuildConfig) {
			df := "FROM busybox"
			bc.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceDockerfile, Dockerfile: &df}
			bc.Spec.Strategy = buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{}}
			bc.Spec.Triggers = nil
			bc.Spec.Output.To = &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/acme/app:v1"}
		},
		"binary docker": func(bc *buildv1.BuildConfig) {
			bc.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceBinary}
			bc.Spec.Strategy = buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType}
			bc.Spec.Triggers = nil
		},
		"pipeline": func(bc *buildv1.BuildConfig) {
			bc.Spec.Strategy = buildv1.BuildStrategy{Type: buildv1.JenkinsPipelineBuildStrategyType,
				JenkinsPipelineStrategy: &buildv1.JenkinsPipelineBuildStrategy{JenkinsfilePath: "ci/Jenkinsfile"}}
			bc.Spec.Triggers = nil
		},
		"deprecated trigger types": func(bc *buildv1.BuildConfig) {
			bc.Spec.Triggers = []buildv1.BuildTriggerPolicy{
				{Type: "github", GitHubWebHook: &buildv1.WebHookTrigger{Secret: "x"}},
				{Type: "imageChange"},
			}
		},
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bc := validBuildConfig()
			mutate(bc)
			d.Default(bc)
			d.PrepareForCreate(context.Background(), bc)
			resourcetest.AssertErrors(t, d.Validate(context.Background(), bc), nil)
			resourcetest.AssertErrors(t, d.ValidateUpdate(context.Background(), bc, validBuildConfig()), nil)
		})
	}
}

func TestBuildConfigInvalidReportsAll(t *testing.T) {
	t.Parallel()
	d := definition(t, "buildconfigs")
	bc := validBuildConfig()
	bc.Spec.RunPolicy = "Sometimes"
	bc.Spec.CompletionDeadlineSeconds = int64p(0)
	bc.Spec.FailedBuildsHistoryLimit = int32p(-1)
	bc.Spec.Source.Git.URI = ""
	bc.Spec.Strategy.SourceStrategy.From = corev1.ObjectReference{Kind: "ImageStreamTag"}
	bc.Spec.Strategy.SourceStrategy.Env = []corev1.EnvVar{{Name: "1BAD"}, {Name: ""}}
	bc.Spec.Strategy.DockerStrategy = &buildv1.DockerBuildStrategy{}
	bc.Spec.Output.To = &corev1.ObjectReference{Kind: "ImageStream", Name: "out"}
	bc.Spec.Resources.Requests[corev1.ResourceCPU] = apiresource.MustParse("2")
	bc.Spec.Resources.Limits[corev1.ResourceMemory] = apiresource.MustParse("-1Gi")
	bc.Spec.Triggers = []buildv1.BuildTriggerPolicy{
		{Type: buildv1.GitHubWebHookBuildTriggerType},
		{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: &buildv1.WebHookTrigger{}},
		{Type: buildv1.GitLabWebHookBuildTriggerType, GitLabWebHook: &buildv1.WebHookTrigger{Secret: "x", AllowEnv: true}, ImageChange: &buildv1.ImageChangeTrigger{}},
		{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{From: &corev1.ObjectReference{Kind: "DockerImage", Name: "busybox"}}},
		{Type: buildv1.ConfigChangeBuildTriggerType},
		{Type: buildv1.ConfigChangeBuildTriggerType},
		{Type: "Cron"},
	}
	errs := d.Validate(context.Background(), bc)
	resourcetest.AssertErrors(t, errs, []string{
		"FieldValueNotSupported spec.runPolicy",
		"FieldValueInvalid spec.completionDeadlineSeconds",
		"FieldValueInvalid spec.failedBuildsHistoryLimit",
		"FieldValueRequired spec.source.git.uri",
		"FieldValueRequired spec.strategy.sourceStrategy.from.name",
		"FieldValueInvalid spec.strategy.sourceStrategy.env[0].name",
		"FieldValueRequired spec.strategy.sourceStrategy.env[1].name",
		"FieldValueForbidden spec.strategy.dockerStrategy",
		"FieldValueNotSupported spec.output.to.kind",
		"FieldValueInvalid spec.resources.requests[cpu]",
		"FieldValueInvalid spec.resources.limits[memory]",
		"FieldValueRequired spec.triggers[0].github",
		"FieldValueRequired spec.triggers[1].generic.secretReference",
		"FieldValueForbidden spec.triggers[2].gitlab.allowEnv",
		"FieldValueForbidden spec.triggers[2].imageChange",
		"FieldValueNotSupported spec.triggers[3].imageChange.from.kind",
		"FieldValueInvalid spec.triggers[5].type",
		"FieldValueNotSupported spec.triggers[6].type",
	})
	for _, e := range errs {
		if e.Detail == "" && e.Type != field.ErrorTypeNotSupported {
			t.Errorf("error %s has no detail saying what is expected", e.Field)
		}
	}
}

func TestBuildConfigStrategyConsistency(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		strategy buildv1.BuildStrategy
		want     []string
	}{
		"type without struct": {
			strategy: buildv1.BuildStrategy{Type: buildv1.CustomBuildStrategyType},
			want:     []string{"FieldValueRequired spec.strategy.customStrategy"},
		},
		"no type and two structs": {
			strategy: buildv1.BuildStrategy{
				SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Kind: "DockerImage", Name: "ruby"}},
				CustomStrategy: &buildv1.CustomBuildStrategy{From: corev1.ObjectReference{Kind: "DockerImage", Name: "builder"}},
			},
			want: []string{"FieldValueRequired spec.strategy.type"},
		},
		"unknown type": {
			strategy: buildv1.BuildStrategy{Type: "Magic"},
			want:     []string{"FieldValueNotSupported spec.strategy.type"},
		},
		"source without from": {
			strategy: buildv1.BuildStrategy{Type: buildv1.SourceBuildStrategyType, SourceStrategy: &buildv1.SourceBuildStrategy{}},
			want:     []string{"FieldValueRequired spec.strategy.sourceStrategy.from.name"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bc := validBuildConfig()
			bc.Spec.Triggers = nil
			bc.Spec.Strategy = tc.strategy
			defaultBuildConfig(bc)
			resourcetest.AssertErrors(t, validateBuildConfig(bc), tc.want)
		})
	}
}

func TestBuildConfigDefaults(t *testing.T) {
	t.Parallel()
	d := definition(t, "buildconfigs")

	bc := &buildv1.BuildConfig{Spec: buildv1.BuildConfigSpec{
		Triggers: []buildv1.BuildTriggerPolicy{{Type: "generic", GenericWebHook: &buildv1.WebHookTrigger{Secret: "keep"}}, {Type: buildv1.ImageChangeBuildTriggerType}},
		CommonSpec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://example.com/x.git"}},
			Strategy: buildv1.BuildStrategy{SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Name: "ruby:3.1"}}},
		},
	}}
	d.Default(bc)
	d.PrepareForCreate(context.Background(), bc)
	if bc.Spec.RunPolicy != buildv1.BuildRunPolicySerial {
		t.Errorf("runPolicy = %q, want Serial", bc.Spec.RunPolicy)
	}
	if got := bc.Spec.SuccessfulBuildsHistoryLimit; got == nil || *got != 5 {
		t.Errorf("successfulBuildsHistoryLimit = %v, want 5", got)
	}
	if got := bc.Spec.FailedBuildsHistoryLimit; got == nil || *got != 5 {
		t.Errorf("failedBuildsHistoryLimit = %v, want 5", got)
	}
	if bc.Spec.Strategy.Type != buildv1.SourceBuildStrategyType || bc.Spec.Strategy.SourceStrategy.From.Kind != "ImageStreamTag" {
		t.Errorf("strategy = %+v, want type Source and from.kind ImageStreamTag", bc.Spec.Strategy)
	}
	if bc.Spec.Source.Type != buildv1.BuildSourceGit {
		t.Errorf("source.type = %q, want Git", bc.Spec.Source.Type)
	}
	if bc.Spec.Triggers[0].Type != buildv1.GenericWebHookBuildTriggerType || bc.Spec.Triggers[0].GenericWebHook.Secret != "keep" {
		t.Errorf("trigger[0] = %+v, want Generic with its secret kept", bc.Spec.Triggers[0])
	}
	if bc.Spec.Triggers[1].ImageChange == nil {
		t.Errorf("trigger[1].imageChange not defaulted")
	}
	if bc.Generation != 1 {
		t.Errorf("generation = %d, want 1", bc.Generation)
	}

	// Values the user set are kept.
	set := &buildv1.BuildConfig{Spec: buildv1.BuildConfigSpec{
		RunPolicy:                    buildv1.BuildRunPolicyParallel,
		SuccessfulBuildsHistoryLimit: int32p(1),
		FailedBuildsHistoryLimit:     int32p(0),
		CommonSpec: buildv1.CommonSpec{
			Source: buildv1.BuildSource{Type: buildv1.BuildSourceBinary, Binary: &buildv1.BinaryBuildSource{AsFile: "app.war"}},
			Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType,
				DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Kind: "DockerImage", Name: "ubi9"}}},
		},
	}}
	d.Default(set)
	d.PrepareForCreate(context.Background(), set)
	if set.Spec.RunPolicy != buildv1.BuildRunPolicyParallel || *set.Spec.SuccessfulBuildsHistoryLimit != 1 || *set.Spec.FailedBuildsHistoryLimit != 0 {
		t.Errorf("user values overwritten: %+v", set.Spec)
	}
	if set.Spec.Source.Binary.AsFile != "app.war" || set.Spec.Strategy.DockerStrategy.From.Kind != "DockerImage" {
		t.Errorf("user values overwritten: %+v", set.Spec.CommonSpec)
	}

	// Docker type without struct and Binary type without struct get them.
	empty := &buildv1.BuildConfig{Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
		Source:   buildv1.BuildSource{Type: buildv1.BuildSourceBinary},
		Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType},
	}}}
	d.Default(empty)
	if empty.Spec.Strategy.DockerStrategy == nil || empty.Spec.Source.Binary == nil {
		t.Errorf("docker strategy / binary source not defaulted: %+v", empty.Spec.CommonSpec)
	}
}

func TestBuildConfigGenerationAndStatus(t *testing.T) {
	t.Parallel()
	d := definition(t, "buildconfigs")
	old := validBuildConfig()
	old.Generation = 3
	old.Status.LastVersion = 4
	same := old.DeepCopy()
	d.PrepareForUpdate(context.Background(), same, old)
	if same.Generation != 3 {
		t.Errorf("generation bumped without spec change: %d", same.Generation)
	}
	changed := old.DeepCopy()
	changed.Spec.RunPolicy = buildv1.BuildRunPolicyParallel
	d.PrepareForUpdate(context.Background(), changed, old)
	if changed.Generation != 4 {
		t.Errorf("generation = %d, want 4", changed.Generation)
	}
	back := old.DeepCopy()
	back.Status.LastVersion = 2
	resourcetest.AssertErrors(t, d.ValidateStatusUpdate(context.Background(), back, old), []string{"FieldValueInvalid status.lastVersion"})
}

func validBuild() *buildv1.Build {
	bc := validBuildConfig()
	return &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{Name: "ruby-1", Namespace: "app"},
		Spec:       buildv1.BuildSpec{CommonSpec: bc.Spec.CommonSpec},
	}
}

func TestBuildValidate(t *testing.T) {
	t.Parallel()
	d := definition(t, "builds")
	b := validBuild()
	d.Default(b)
	d.PrepareForCreate(context.Background(), b)
	resourcetest.AssertErrors(t, d.Validate(context.Background(), b), nil)
	if b.Status.Phase != buildv1.BuildPhaseNew || b.Generation != 1 {
		t.Errorf("phase = %q generation = %d, want New and 1", b.Status.Phase, b.Generation)
	}

	bad := validBuild()
	bad.Spec.Strategy = buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{DockerfilePath: "../Dockerfile"}}
	bad.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceGit}
	bad.Spec.Output.To = &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "no-tag"}
	bad.Spec.CompletionDeadlineSeconds = int64p(-5)
	resourcetest.AssertErrors(t, d.Validate(context.Background(), bad), []string{
		"FieldValueInvalid spec.strategy.dockerStrategy.dockerfilePath",
		"FieldValueRequired spec.source.git",
		"FieldValueRequired spec.source",
		"FieldValueInvalid spec.output.to.name",
		"FieldValueInvalid spec.completionDeadlineSeconds",
	})
}

func TestBuildUpdateSpecImmutable(t *testing.T) {
	t.Parallel()
	d := definition(t, "builds")
	old := validBuild()

	ok := old.DeepCopy()
	ok.Labels = map[string]string{"a": "b"}
	ok.Spec.Output.PushSecret = &corev1.LocalObjectReference{Name: "rotated"}
	resourcetest.AssertErrors(t, d.ValidateUpdate(context.Background(), ok, old), nil)

	changed := old.DeepCopy()
	changed.Spec.Source.Git.Ref = "dev"
	changed.Spec.Strategy.SourceStrategy.Env = nil
	changed.Spec.ServiceAccount = "builder2"
	resourcetest.AssertErrors(t, d.ValidateUpdate(context.Background(), changed, old), []string{
		"FieldValueForbidden spec.source",
		"FieldValueForbidden spec.strategy",
		"FieldValueForbidden spec.serviceAccount",
	})
}

func TestBuildStatusUpdate(t *testing.T) {
	t.Parallel()
	d := definition(t, "builds")
	old := validBuild()
	old.Status.Phase = buildv1.BuildPhaseRunning
	next := old.DeepCopy()
	next.Status.Phase = buildv1.BuildPhaseComplete
	resourcetest.AssertErrors(t, d.ValidateStatusUpdate(context.Background(), next, old), nil)

	done := next.DeepCopy()
	again := done.DeepCopy()
	again.Status.Phase = buildv1.BuildPhaseRunning
	resourcetest.AssertErrors(t, d.ValidateStatusUpdate(context.Background(), again, done), []string{"FieldValueInvalid status.phase"})
	unknown := old.DeepCopy()
	unknown.Status.Phase = "Sleeping"
	resourcetest.AssertErrors(t, d.ValidateStatusUpdate(context.Background(), unknown, old), []string{"FieldValueNotSupported status.phase"})
}

func TestBuildConfigTable(t *testing.T) {
	t.Parallel()
	d := definition(t, "buildconfigs")
	df := "FROM x"
	tests := map[string]struct {
		mutate func(*buildv1.BuildConfig)
		want   []interface{}
	}{
		"git with ref": {
			mutate: func(bc *buildv1.BuildConfig) { bc.Status.LastVersion = 3 },
			want:   []interface{}{"ruby", "Source", "Git@main", int64(3)},
		},
		"git without ref": {
			mutate: func(bc *buildv1.BuildConfig) { bc.Spec.Source.Git.Ref = "" },
			want:   []interface{}{"ruby", "Source", "Git", int64(0)},
		},
		"binary": {
			mutate: func(bc *buildv1.BuildConfig) {
				bc.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceBinary, Binary: &buildv1.BinaryBuildSource{}}
				bc.Spec.Strategy = buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{}}
			},
			want: []interface{}{"ruby", "Docker", "Binary", int64(0)},
		},
		"dockerfile": {
			mutate: func(bc *buildv1.BuildConfig) {
				bc.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceDockerfile, Dockerfile: &df}
			},
			want: []interface{}{"ruby", "Source", "Dockerfile", int64(0)},
		},
		"custom shows builder image": {
			mutate: func(bc *buildv1.BuildConfig) {
				bc.Spec.Strategy = buildv1.BuildStrategy{Type: buildv1.CustomBuildStrategyType,
					CustomStrategy: &buildv1.CustomBuildStrategy{From: corev1.ObjectReference{Kind: "DockerImage", Name: "acme/builder"}}}
			},
			want: []interface{}{"ruby", "Custom", "acme/builder", int64(0)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bc := validBuildConfig()
			tc.mutate(bc)
			resourcetest.AssertRow(t, d, bc, tc.want...)
		})
	}
}

func TestBuildTable(t *testing.T) {
	t.Parallel()
	d := definition(t, "builds")
	started := metav1.NewTime(time.Now().Add(-5 * time.Minute))
	tests := map[string]struct {
		mutate func(*buildv1.Build)
		want   []interface{}
	}{
		"new": {
			mutate: func(b *buildv1.Build) { b.Status.Phase = buildv1.BuildPhaseNew },
			want:   []interface{}{"ruby-1", "Source", "Git@main", "New", "", ""},
		},
		"failed with reason and commit": {
			mutate: func(b *buildv1.Build) {
				b.Spec.Revision = &buildv1.SourceRevision{Type: buildv1.BuildSourceGit, Git: &buildv1.GitSourceRevision{Commit: "0123456789abcdef0123456789abcdef01234567"}}
				b.Status.Phase = buildv1.BuildPhaseFailed
				b.Status.Reason = "DockerBuildFailed"
				b.Status.StartTimestamp = &started
				b.Status.Duration = 93*time.Second + 400*time.Millisecond
			},
			want: []interface{}{"ruby-1", "Source", "Git@0123456", "Failed (DockerBuildFailed)", "5m ago", "1m33s"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := validBuild()
			tc.mutate(b)
			resourcetest.AssertRow(t, d, b, tc.want...)
		})
	}
}

func TestBuildFields(t *testing.T) {
	t.Parallel()
	d := definition(t, "builds")
	b := validBuild()
	b.Status.Phase = buildv1.BuildPhaseRunning
	f := d.Fields(b)
	if f["status"] != "Running" || f["podName"] != "ruby-1-build" {
		t.Errorf("fields = %v", f)
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	g := Group()
	if g.GroupVersion.Group != "build.openshift.io" || g.GroupVersion.Version != "v1" {
		t.Errorf("group version = %v", g.GroupVersion)
	}
	s := runtime.NewScheme()
	if err := g.Install(s); err != nil {
		t.Fatal(err)
	}
	for _, d := range g.Resources {
		for _, o := range []runtime.Object{d.New(), d.NewList()} {
			if _, _, err := s.ObjectKinds(o); err != nil {
				t.Errorf("%s: %v", d.Resource, err)
			}
		}
		if !d.HasStatus || !d.Namespaced || d.Categories[0] != "all" {
			t.Errorf("%s: definition flags wrong: %+v", d.Resource, d)
		}
	}
	if bc := definition(t, "buildconfigs"); bc.ShortNames[0] != "bc" {
		t.Errorf("buildconfigs short names = %v", bc.ShortNames)
	}
}
