// Package security holds the strategy pieces of the security.openshift.io/v1
// resources served by Gantry: security context constraints and the range
// allocations that hand out UID/MCS ranges to namespaces, both cluster scoped.
package security

import (
	"context"
	"fmt"
	"strings"

	securityv1 "github.com/openshift/api/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// Group returns the security.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: securityv1.GroupVersion,
		Install:      securityv1.Install,
		Resources:    []resource.Definition{sccDefinition(), rangeAllocationDefinition()},
	}
}

func sccDefinition() resource.Definition {
	return resource.Definition{
		Resource:   "securitycontextconstraints",
		Singular:   "securitycontextconstraints",
		Kind:       "SecurityContextConstraints",
		ShortNames: []string{"scc"},
		New:        func() runtime.Object { return &securityv1.SecurityContextConstraints{} },
		NewList:    func() runtime.Object { return &securityv1.SecurityContextConstraintsList{} },
		Default:    func(obj runtime.Object) { defaultSCC(obj.(*securityv1.SecurityContextConstraints)) },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateSCC(obj.(*securityv1.SecurityContextConstraints))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateSCC(obj.(*securityv1.SecurityContextConstraints))
		},
		Columns: sccColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			return sccRow(obj.(*securityv1.SecurityContextConstraints)), nil
		},
	}
}

func rangeAllocationDefinition() resource.Definition {
	return resource.Definition{
		Resource: "rangeallocations",
		Singular: "rangeallocation",
		Kind:     "RangeAllocation",
		New:      func() runtime.Object { return &securityv1.RangeAllocation{} },
		NewList:  func() runtime.Object { return &securityv1.RangeAllocationList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateRangeAllocation(obj.(*securityv1.RangeAllocation))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateRangeAllocationUpdate(obj.(*securityv1.RangeAllocation), old.(*securityv1.RangeAllocation))
		},
		Columns: []metav1.TableColumnDefinition{
			resource.NameColumn,
			{Name: "Range", Type: "string", Description: "The range the allocation hands out."},
			{Name: "Allocated", Type: "string", Description: "Size of the allocation bitmap."},
			resource.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			r := obj.(*securityv1.RangeAllocation)
			return []interface{}{r.Name, r.Range, fmt.Sprintf("%d bytes", len(r.Data)), resource.Age(r.CreationTimestamp)}, nil
		},
	}
}

// defaultSCC gives the group strategies their OpenShift default, RunAsAny.
func defaultSCC(scc *securityv1.SecurityContextConstraints) {
	if scc.FSGroup.Type == "" {
		scc.FSGroup.Type = securityv1.FSGroupStrategyRunAsAny
	}
	if scc.SupplementalGroups.Type == "" {
		scc.SupplementalGroups.Type = securityv1.SupplementalGroupsStrategyRunAsAny
	}
}

var sccColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Priv", Type: "boolean", Description: "Whether privileged containers are allowed."},
	{Name: "Caps", Type: "string", Description: "The capabilities containers may add."},
	{Name: "SELinux", Type: "string", Description: "The SELinux context strategy."},
	{Name: "RunAsUser", Type: "string", Description: "The run-as-user strategy."},
	{Name: "FSGroup", Type: "string", Description: "The fsGroup strategy."},
	{Name: "SupGroup", Type: "string", Description: "The supplemental groups strategy."},
	{Name: "Priority", Type: "string", Description: "The priority when several constraints match (higher first)."},
	{Name: "ReadOnlyRootFS", Type: "boolean", Description: "Whether containers must use a read-only root file system."},
	{Name: "Volumes", Type: "string", Description: "The volume types pods may use."},
}

func sccRow(scc *securityv1.SecurityContextConstraints) []interface{} {
	caps := "<no value>"
	if len(scc.AllowedCapabilities) != 0 {
		names := make([]string, len(scc.AllowedCapabilities))
		for i, c := range scc.AllowedCapabilities {
			names[i] = string(c)
		}
		caps = strings.Join(names, ",")
	}
	priority := "<none>"
	if scc.Priority != nil {
		priority = fmt.Sprintf("%d", *scc.Priority)
	}
	volumes := make([]string, len(scc.Volumes))
	for i, v := range scc.Volumes {
		volumes[i] = string(v)
	}
	return []interface{}{
		scc.Name, scc.AllowPrivilegedContainer, caps,
		string(scc.SELinuxContext.Type), string(scc.RunAsUser.Type), string(scc.FSGroup.Type), string(scc.SupplementalGroups.Type),
		priority, scc.ReadOnlyRootFilesystem, strings.Join(volumes, ","),
	}
}
