// Package apps holds the strategy pieces of the apps.openshift.io/v1
// deploymentconfigs resource served by Gantry: OpenShift's v1 defaulting,
// validation of the spec and the `oc get dc` table.
package apps

import (
	"context"

	appsv1 "github.com/openshift/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// Group returns the apps.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: appsv1.GroupVersion,
		Install:      appsv1.Install,
		Resources:    []resource.Definition{deploymentConfigDefinition()},
	}
}

func deploymentConfigDefinition() resource.Definition {
	return resource.Definition{
		Resource:   "deploymentconfigs",
		Singular:   "deploymentconfig",
		Kind:       "DeploymentConfig",
		ShortNames: []string{"dc"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.DeploymentConfig{} },
		NewList:    func() runtime.Object { return &appsv1.DeploymentConfigList{} },
		Default:    func(obj runtime.Object) { defaultDeploymentConfig(obj.(*appsv1.DeploymentConfig)) },
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			prepareForCreate(obj.(*appsv1.DeploymentConfig))
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			prepareForUpdate(obj.(*appsv1.DeploymentConfig), old.(*appsv1.DeploymentConfig))
		},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateDeploymentConfig(obj.(*appsv1.DeploymentConfig))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateDeploymentConfig(obj.(*appsv1.DeploymentConfig))
		},
		HasStatus: true,
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateStatusUpdate(obj.(*appsv1.DeploymentConfig), old.(*appsv1.DeploymentConfig))
		},
		Columns: columns,
		Row:     func(obj runtime.Object) ([]interface{}, error) { return row(obj.(*appsv1.DeploymentConfig)), nil },
	}
}

// prepareForCreate starts the generation, clears the image a trigger last
// fired for (the trigger controller owns it) and applies the defaults that
// OpenShift's group API applies on create only.
func prepareForCreate(dc *appsv1.DeploymentConfig) {
	dc.Generation = 1
	for i := range dc.Spec.Triggers {
		if p := dc.Spec.Triggers[i].ImageChangeParams; p != nil {
			p.LastTriggeredImage = ""
		}
	}
	if dc.Spec.RevisionHistoryLimit == nil {
		v := DefaultRevisionHistoryLimit
		dc.Spec.RevisionHistoryLimit = &v
	}
	defaultTriggerNamespaces(dc)
}

// prepareForUpdate defaults trigger namespaces and then sets the generation:
// bumped only when the (defaulted) spec changed. It runs after the generic
// registry's own generation handling, so it decides with the final spec.
func prepareForUpdate(dc, old *appsv1.DeploymentConfig) {
	defaultTriggerNamespaces(dc)
	dc.Generation = old.Generation
	if !apiequality.Semantic.DeepEqual(dc.Spec, old.Spec) {
		dc.Generation = old.Generation + 1
	}
}
