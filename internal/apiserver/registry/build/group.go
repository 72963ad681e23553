// Package build holds the strategy pieces of the build.openshift.io/v1
// resources served by Gantry: buildconfigs and builds. It defaults,
// validates and tabulates objects the way OpenShift's build API does; the
// generic registry in internal/apiserver turns the definitions into storage.
package build

import (
	"context"

	buildv1 "github.com/openshift/api/build/v1"
	"github.com/openshift/library-go/pkg/build/naming"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// Default history limits applied on create, as OpenShift's build.openshift.io
// group does (the legacy API did not set them).
const (
	DefaultSuccessfulBuildsHistoryLimit int32 = 5
	DefaultFailedBuildsHistoryLimit     int32 = 5
)

// Group returns the build.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: buildv1.GroupVersion,
		Install:      buildv1.Install,
		Resources:    []resource.Definition{buildConfigDefinition(), buildDefinition()},
	}
}

func buildConfigDefinition() resource.Definition {
	return resource.Definition{
		Resource:   "buildconfigs",
		Singular:   "buildconfig",
		Kind:       "BuildConfig",
		ShortNames: []string{"bc"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &buildv1.BuildConfig{} },
		NewList:    func() runtime.Object { return &buildv1.BuildConfigList{} },
		Default:    func(obj runtime.Object) { defaultBuildConfig(obj.(*buildv1.BuildConfig)) },
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			prepareBuildConfigForCreate(obj.(*buildv1.BuildConfig))
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			prepareBuildConfigForUpdate(obj.(*buildv1.BuildConfig), old.(*buildv1.BuildConfig))
		},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateBuildConfig(obj.(*buildv1.BuildConfig))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateBuildConfig(obj.(*buildv1.BuildConfig))
		},
		HasStatus: true,
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateBuildConfigStatusUpdate(obj.(*buildv1.BuildConfig), old.(*buildv1.BuildConfig))
		},
		Columns: buildConfigColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			return buildConfigRow(obj.(*buildv1.BuildConfig)), nil
		},
	}
}

func buildDefinition() resource.Definition {
	return resource.Definition{
		Resource:   "builds",
		Singular:   "build",
		Kind:       "Build",
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &buildv1.Build{} },
		NewList:    func() runtime.Object { return &buildv1.BuildList{} },
		Default:    func(obj runtime.Object) { defaultBuild(obj.(*buildv1.Build)) },
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			prepareBuildForCreate(obj.(*buildv1.Build))
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			prepareBuildForUpdate(obj.(*buildv1.Build), old.(*buildv1.Build))
		},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateBuild(obj.(*buildv1.Build))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateBuildUpdate(obj.(*buildv1.Build), old.(*buildv1.Build))
		},
		HasStatus: true,
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateBuildStatusUpdate(obj.(*buildv1.Build), old.(*buildv1.Build))
		},
		Columns: buildColumns,
		Row:     func(obj runtime.Object) ([]interface{}, error) { return buildRow(obj.(*buildv1.Build)), nil },
		Fields:  func(obj runtime.Object) fields.Set { return buildFields(obj.(*buildv1.Build)) },
	}
}

// prepareBuildConfigForCreate starts the generation and sets the history
// limits that OpenShift's group API sets on create.
func prepareBuildConfigForCreate(bc *buildv1.BuildConfig) {
	bc.Generation = 1
	if bc.Spec.SuccessfulBuildsHistoryLimit == nil {
		v := DefaultSuccessfulBuildsHistoryLimit
		bc.Spec.SuccessfulBuildsHistoryLimit = &v
	}
	if bc.Spec.FailedBuildsHistoryLimit == nil {
		v := DefaultFailedBuildsHistoryLimit
		bc.Spec.FailedBuildsHistoryLimit = &v
	}
}

// prepareBuildConfigForUpdate bumps the generation when the spec changes.
func prepareBuildConfigForUpdate(bc, old *buildv1.BuildConfig) {
	bc.Generation = old.Generation
	if !apiequality.Semantic.DeepEqual(bc.Spec, old.Spec) {
		bc.Generation = old.Generation + 1
	}
}

// prepareBuildForCreate starts the generation and puts a new build in phase New.
func prepareBuildForCreate(b *buildv1.Build) {
	b.Generation = 1
	if b.Status.Phase == "" {
		b.Status.Phase = buildv1.BuildPhaseNew
	}
}

// prepareBuildForUpdate bumps the generation when the spec changes (which
// validation then rejects, except for the push secret).
func prepareBuildForUpdate(b, old *buildv1.Build) {
	b.Generation = old.Generation
	if !apiequality.Semantic.DeepEqual(b.Spec, old.Spec) {
		b.Generation = old.Generation + 1
	}
}

// buildFields are the selectable fields OpenShift offers for builds.
func buildFields(b *buildv1.Build) fields.Set {
	return fields.Set{
		"status":  string(b.Status.Phase),
		"podName": naming.GetPodName(b.Name, "build"),
	}
}
