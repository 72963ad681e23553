// Package authorization holds the strategy pieces of the persisted
// authorization.openshift.io/v1 resource served by Gantry: role binding
// restrictions, which limit the subjects role bindings in a namespace may
// name. (Roles and bindings themselves are served by Kubernetes RBAC.)
package authorization

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// maxSubjectsShown is how many subjects the table lists before "+ N more".
const maxSubjectsShown = 3

// Group returns the authorization.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: authorizationv1.GroupVersion,
		Install:      authorizationv1.Install,
		Resources:    []resource.Definition{roleBindingRestrictionDefinition()},
	}
}

func roleBindingRestrictionDefinition() resource.Definition {
	return resource.Definition{
		Resource:   "rolebindingrestrictions",
		Singular:   "rolebindingrestriction",
		Kind:       "RoleBindingRestriction",
		Namespaced: true,
		New:        func() runtime.Object { return &authorizationv1.RoleBindingRestriction{} },
		NewList:    func() runtime.Object { return &authorizationv1.RoleBindingRestrictionList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateSpec(&obj.(*authorizationv1.RoleBindingRestriction).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateSpec(&obj.(*authorizationv1.RoleBindingRestriction).Spec, field.NewPath("spec"))
		},
		Columns: []metav1.TableColumnDefinition{
			resource.NameColumn,
			{Name: "Subject Type", Type: "string", Description: "The kind of subject the restriction matches."},
			{Name: "Subjects", Type: "string", Description: "The subjects role bindings may name."},
			resource.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			r := obj.(*authorizationv1.RoleBindingRestriction)
			kind, subjects := describe(&r.Spec)
			return []interface{}{r.Name, kind, subjects, resource.Age(r.CreationTimestamp)}, nil
		},
	}
}

// validateSpec requires exactly one restriction and checks it.
func validateSpec(spec *authorizationv1.RoleBindingRestrictionSpec, fldPath *field.Path) field.ErrorList {
	const exactlyOne = "exactly one of userrestriction, grouprestriction or serviceaccountrestriction must be set"
	var allErrs field.ErrorList
	var set []string
	if spec.UserRestriction != nil {
		set = append(set, "userrestriction")
	}
	if spec.GroupRestriction != nil {
		set = append(set, "grouprestriction")
	}
	if spec.ServiceAccountRestriction != nil {
		set = append(set, "serviceaccountrestriction")
	}
	switch len(set) {
	case 0:
		allErrs = append(allErrs, field.Required(fldPath.Child("userrestriction"), exactlyOne))
	case 1:
	default:
		for _, name := range set[1:] {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), fmt.Sprintf("may not be set together with %s; %s", set[0], exactlyOne)))
		}
	}
	if r := spec.UserRestriction; r != nil {
		p := fldPath.Child("userrestriction")
		if len(r.Users) == 0 && len(r.Groups) == 0 && len(r.Selectors) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("users"), "must give at least one user, group or label selector"))
		}
		allErrs = append(allErrs, validateNames(r.Users, p.Child("users"))...)
		allErrs = append(allErrs, validateNames(r.Groups, p.Child("groups"))...)
		allErrs = append(allErrs, validateSelectors(r.Selectors, p.Child("labels"))...)
	}
	if r := spec.GroupRestriction; r != nil {
		p := fldPath.Child("grouprestriction")
		if len(r.Groups) == 0 && len(r.Selectors) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("groups"), "must give at least one group or label selector"))
		}
		allErrs = append(allErrs, validateNames(r.Groups, p.Child("groups"))...)
		allErrs = append(allErrs, validateSelectors(r.Selectors, p.Child("labels"))...)
	}
	if r := spec.ServiceAccountRestriction; r != nil {
		p := fldPath.Child("serviceaccountrestriction")
		if len(r.ServiceAccounts) == 0 && len(r.Namespaces) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("serviceaccounts"), "must give at least one service account or namespace"))
		}
		for i, sa := range r.ServiceAccounts {
			sp := p.Child("serviceaccounts").Index(i)
			if sa.Name == "" {
				allErrs = append(allErrs, field.Required(sp.Child("name"), "must name the service account"))
			}
			if sa.Namespace != "" {
				for _, msg := range validation.IsDNS1123Label(sa.Namespace) {
					allErrs = append(allErrs, field.Invalid(sp.Child("namespace"), sa.Namespace, msg))
				}
			}
		}
		for i, ns := range r.Namespaces {
			for _, msg := range validation.IsDNS1123Label(ns) {
				allErrs = append(allErrs, field.Invalid(p.Child("namespaces").Index(i), ns, msg))
			}
		}
	}
	return allErrs
}

func validateNames(names []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, n := range names {
		if n == "" {
			allErrs = append(allErrs, field.Required(fldPath.Index(i), "may not be empty"))
		}
	}
	return allErrs
}

func validateSelectors(selectors []metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i := range selectors {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(&selectors[i], metav1validation.LabelSelectorValidationOptions{}, fldPath.Index(i))...)
	}
	return allErrs
}

// describe renders the restriction kind and its subjects as oc does.
func describe(spec *authorizationv1.RoleBindingRestrictionSpec) (string, string) {
	var kind string
	var subjects []string
	switch {
	case spec.UserRestriction != nil:
		kind = "User"
		subjects = append(subjects, spec.UserRestriction.Users...)
		for _, g := range spec.UserRestriction.Groups {
			subjects = append(subjects, fmt.Sprintf("group(%s)", g))
		}
		for i := range spec.UserRestriction.Selectors {
			subjects = append(subjects, metav1.FormatLabelSelector(&spec.UserRestriction.Selectors[i]))
		}
	case spec.GroupRestriction != nil:
		kind = "Group"
		subjects = append(subjects, spec.GroupRestriction.Groups...)
		for i := range spec.GroupRestriction.Selectors {
			subjects = append(subjects, metav1.FormatLabelSelector(&spec.GroupRestriction.Selectors[i]))
		}
	case spec.ServiceAccountRestriction != nil:
		kind = "ServiceAccount"
		for _, sa := range spec.ServiceAccountRestriction.ServiceAccounts {
			subjects = append(subjects, fmt.Sprintf("%s/%s", sa.Namespace, sa.Name))
		}
		for _, ns := range spec.ServiceAccountRestriction.Namespaces {
			subjects = append(subjects, fmt.Sprintf("%s/*", ns))
		}
	}
	if len(subjects) > maxSubjectsShown {
		return kind, fmt.Sprintf("%s + %d more...", strings.Join(subjects[:maxSubjectsShown], ", "), len(subjects)-maxSubjectsShown)
	}
	return kind, strings.Join(subjects, ", ")
}
