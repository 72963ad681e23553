package build

import (
	buildv1 "github.com/openshift/api/build/v1"
)

// defaultBuildConfig applies OpenShift's build.openshift.io/v1 defaults.
func defaultBuildConfig(bc *buildv1.BuildConfig) {
	if bc.Spec.RunPolicy == "" {
		bc.Spec.RunPolicy = buildv1.BuildRunPolicySerial
	}
	for i := range bc.Spec.Triggers {
		defaultTrigger(&bc.Spec.Triggers[i])
	}
	defaultCommonSpec(&bc.Spec.CommonSpec)
}

// defaultBuild applies OpenShift's build.openshift.io/v1 defaults.
func defaultBuild(b *buildv1.Build) {
	defaultCommonSpec(&b.Spec.CommonSpec)
}

func defaultCommonSpec(spec *buildv1.CommonSpec) {
	defaultSource(&spec.Source)
	defaultStrategy(&spec.Strategy)
}

// defaultSource gives a Binary source its (empty) binary struct and, like
// OpenShift's round trip through its internal types, fills an empty type
// from the inputs that are set.
func defaultSource(src *buildv1.BuildSource) {
	if src.Type == "" {
		src.Type = inferredSourceType(src)
	}
	if src.Type == buildv1.BuildSourceBinary && src.Binary == nil {
		src.Binary = &buildv1.BinaryBuildSource{}
	}
}

// inferredSourceType is the source type OpenShift reports for the inputs
// set: Git and Binary win over a Dockerfile they are combined with.
func inferredSourceType(src *buildv1.BuildSource) buildv1.BuildSourceType {
	switch {
	case src.Git != nil:
		return buildv1.BuildSourceGit
	case src.Binary != nil:
		return buildv1.BuildSourceBinary
	case src.Dockerfile != nil:
		return buildv1.BuildSourceDockerfile
	case len(src.Images) > 0:
		return buildv1.BuildSourceImage
	default:
		return buildv1.BuildSourceNone
	}
}

// defaultStrategy fills an empty strategy type when exactly one strategy is
// set, gives the Docker strategy its (empty) struct and defaults the kind of
// the builder image references to ImageStreamTag.
func defaultStrategy(s *buildv1.BuildStrategy) {
	if s.Type == "" {
		if set := setStrategies(s); len(set) == 1 {
			s.Type = set[0]
		}
	}
	if s.Type == buildv1.DockerBuildStrategyType && s.DockerStrategy == nil {
		s.DockerStrategy = &buildv1.DockerBuildStrategy{}
	}
	if s.SourceStrategy != nil && s.SourceStrategy.From.Kind == "" {
		s.SourceStrategy.From.Kind = kindImageStreamTag
	}
	if s.DockerStrategy != nil && s.DockerStrategy.From != nil && s.DockerStrategy.From.Kind == "" {
		s.DockerStrategy.From.Kind = kindImageStreamTag
	}
	if s.CustomStrategy != nil && s.CustomStrategy.From.Kind == "" {
		s.CustomStrategy.From.Kind = kindImageStreamTag
	}
}

// setStrategies lists the types of the strategy structs that are set.
func setStrategies(s *buildv1.BuildStrategy) []buildv1.BuildStrategyType {
	var set []buildv1.BuildStrategyType
	if s.SourceStrategy != nil {
		set = append(set, buildv1.SourceBuildStrategyType)
	}
	if s.DockerStrategy != nil {
		set = append(set, buildv1.DockerBuildStrategyType)
	}
	if s.CustomStrategy != nil {
		set = append(set, buildv1.CustomBuildStrategyType)
	}
	if s.JenkinsPipelineStrategy != nil {
		set = append(set, buildv1.JenkinsPipelineBuildStrategyType)
	}
	return set
}

// defaultTrigger maps the deprecated lower-case trigger types to the current
// ones (as OpenShift's conversion does) and gives an ImageChange trigger its
// struct.
func defaultTrigger(t *buildv1.BuildTriggerPolicy) {
	switch t.Type {
	case buildv1.GitHubWebHookBuildTriggerTypeDeprecated:
		t.Type = buildv1.GitHubWebHookBuildTriggerType
	case buildv1.GenericWebHookBuildTriggerTypeDeprecated:
		t.Type = buildv1.GenericWebHookBuildTriggerType
	case buildv1.ImageChangeBuildTriggerTypeDeprecated:
		t.Type = buildv1.ImageChangeBuildTriggerType
	}
	if t.Type == buildv1.ImageChangeBuildTriggerType && t.ImageChange == nil {
		t.ImageChange = &buildv1.ImageChangeTrigger{}
	}
}
