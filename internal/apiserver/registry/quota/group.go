// Package quota holds the strategy pieces of the quota.openshift.io/v1
// clusterresourcequotas resource served by Gantry: a resource quota shared
// by the projects its selector picks, validated as OpenShift does.
package quota

import (
	"context"
	"fmt"
	"sort"
	"strings"

	quotav1 "github.com/openshift/api/quota/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

var supportedScopes = []string{
	string(corev1.ResourceQuotaScopeTerminating),
	string(corev1.ResourceQuotaScopeNotTerminating),
	string(corev1.ResourceQuotaScopeBestEffort),
	string(corev1.ResourceQuotaScopeNotBestEffort),
	string(corev1.ResourceQuotaScopePriorityClass),
	string(corev1.ResourceQuotaScopeCrossNamespacePodAffinity),
	string(corev1.ResourceQuotaScopeVolumeAttributesClass),
}

// Group returns the quota.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: quotav1.GroupVersion,
		Install:      quotav1.Install,
		Resources:    []resource.Definition{clusterResourceQuotaDefinition()},
	}
}

func clusterResourceQuotaDefinition() resource.Definition {
	return resource.Definition{
		Resource: "clusterresourcequotas",
		Singular: "clusterresourcequota",
		Kind:     "ClusterResourceQuota",
		New:      func() runtime.Object { return &quotav1.ClusterResourceQuota{} },
		NewList:  func() runtime.Object { return &quotav1.ClusterResourceQuotaList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateSpec(&obj.(*quotav1.ClusterResourceQuota).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateSpec(&obj.(*quotav1.ClusterResourceQuota).Spec, field.NewPath("spec"))
		},
		HasStatus: true,
		ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateStatus(&obj.(*quotav1.ClusterResourceQuota).Status, field.NewPath("status"))
		},
		Columns: []metav1.TableColumnDefinition{
			resource.NameColumn,
			{Name: "Labels Selector", Type: "string", Description: "The label selector picking the projects sharing the quota."},
			{Name: "Annotations Selector", Type: "string", Description: "The annotations picking the projects sharing the quota."},
			resource.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			q := obj.(*quotav1.ClusterResourceQuota)
			return []interface{}{q.Name, metav1.FormatLabelSelector(q.Spec.Selector.LabelSelector),
				formatMap(q.Spec.Selector.AnnotationSelector), resource.Age(q.CreationTimestamp)}, nil
		},
	}
}

// validateSpec requires a selector that restricts the projects (labels or
// annotations) and a valid quota.
func validateSpec(spec *quotav1.ClusterResourceQuotaSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	selPath := fldPath.Child("selector")
	ls := spec.Selector.LabelSelector
	hasLabels := ls != nil && len(ls.MatchLabels)+len(ls.MatchExpressions) > 0
	if !hasLabels && len(spec.Selector.AnnotationSelector) == 0 {
		allErrs = append(allErrs, field.Required(selPath, "must restrict the selected projects with labels or annotations"))
	}
	if ls != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(ls, metav1validation.LabelSelectorValidationOptions{}, selPath.Child("labels"))...)
		if !hasLabels {
			allErrs = append(allErrs, field.Invalid(selPath.Child("labels"), metav1.FormatLabelSelector(ls), "must have matchLabels or matchExpressions when set; an empty selector selects every project"))
		}
	}
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(spec.Selector.AnnotationSelector, selPath.Child("annotations"))...)

	quotaPath := fldPath.Child("quota")
	allErrs = append(allErrs, validateResourceList(spec.Quota.Hard, quotaPath.Child("hard"))...)
	for i, s := range spec.Quota.Scopes {
		if !contains(supportedScopes, string(s)) {
			allErrs = append(allErrs, field.NotSupported(quotaPath.Child("scopes").Index(i), s, supportedScopes))
		}
	}
	if ss := spec.Quota.ScopeSelector; ss != nil {
		for i, req := range ss.MatchExpressions {
			if !contains(supportedScopes, string(req.ScopeName)) {
				allErrs = append(allErrs, field.NotSupported(quotaPath.Child("scopeSelector", "matchExpressions").Index(i).Child("scopeName"), req.ScopeName, supportedScopes))
			}
		}
	}
	return allErrs
}

// validateStatus checks the totals and per-namespace usage the quota
// controller writes.
func validateStatus(status *quotav1.ClusterResourceQuotaStatus, fldPath *field.Path) field.ErrorList {
	totalPath := fldPath.Child("total")
	allErrs := validateResourceList(status.Total.Hard, totalPath.Child("hard"))
	allErrs = append(allErrs, validateResourceList(status.Total.Used, totalPath.Child("used"))...)
	for i, ns := range status.Namespaces {
		p := fldPath.Child("namespaces").Index(i)
		if ns.Namespace == "" {
			allErrs = append(allErrs, field.Required(p.Child("namespace"), "must name the namespace"))
		}
		allErrs = append(allErrs, validateResourceList(ns.Status.Hard, p.Child("status", "hard"))...)
		allErrs = append(allErrs, validateResourceList(ns.Status.Used, p.Child("status", "used"))...)
	}
	return allErrs
}

// validateResourceList checks resource names and that no quantity is negative.
func validateResourceList(list corev1.ResourceList, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := make([]string, 0, len(list))
	for n := range list {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		p := fldPath.Key(n)
		for _, msg := range validation.IsQualifiedName(n) {
			allErrs = append(allErrs, field.Invalid(p, n, "resource name "+msg))
		}
		if q := list[corev1.ResourceName(n)]; q.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
	}
	return allErrs
}

func formatMap(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%s", k, m[k])
	}
	return strings.Join(parts, ",")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
