package security

import (
	"fmt"
	"regexp"
	"strings"

	securityv1 "github.com/openshift/api/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	runAsUserTypes = []string{
		string(securityv1.RunAsUserStrategyMustRunAs), string(securityv1.RunAsUserStrategyMustRunAsRange),
		string(securityv1.RunAsUserStrategyMustRunAsNonRoot), string(securityv1.RunAsUserStrategyRunAsAny),
	}
	seLinuxTypes            = []string{string(securityv1.SELinuxStrategyMustRunAs), string(securityv1.SELinuxStrategyRunAsAny)}
	fsGroupTypes            = []string{string(securityv1.FSGroupStrategyMustRunAs), string(securityv1.FSGroupStrategyRunAsAny)}
	supplementalGroupsTypes = []string{string(securityv1.SupplementalGroupsStrategyMustRunAs), string(securityv1.SupplementalGroupsStrategyRunAsAny)}
	namespaceLevels         = []string{string(securityv1.NamespaceLevelAllowHost), string(securityv1.NamespaceLevelRequirePod)}

	// sysctlPatternRegexp matches a sysctl name or a prefix pattern ending in *.
	sysctlPatternRegexp = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*([a-z0-9][-_a-z0-9]*)?[a-z0-9*]$`)
)

const sysctlMaxLength = 253

// validateSCC checks a security context constraints object.
func validateSCC(scc *securityv1.SecurityContextConstraints) field.ErrorList {
	var allErrs field.ErrorList
	if p := scc.Priority; p != nil && *p < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("priority"), *p, "must be greater than or equal to 0"))
	}
	allErrs = append(allErrs, validateRunAsUser(&scc.RunAsUser, field.NewPath("runAsUser"))...)
	allErrs = append(allErrs, validateType(string(scc.SELinuxContext.Type), seLinuxTypes, field.NewPath("seLinuxContext", "type"))...)
	allErrs = append(allErrs, validateType(string(scc.FSGroup.Type), fsGroupTypes, field.NewPath("fsGroup", "type"))...)
	allErrs = append(allErrs, validateRanges(scc.FSGroup.Ranges, field.NewPath("fsGroup", "ranges"))...)
	allErrs = append(allErrs, validateType(string(scc.SupplementalGroups.Type), supplementalGroupsTypes, field.NewPath("supplementalGroups", "type"))...)
	allErrs = append(allErrs, validateRanges(scc.SupplementalGroups.Ranges, field.NewPath("supplementalGroups", "ranges"))...)
	if scc.UserNamespaceLevel != "" && !contains(namespaceLevels, string(scc.UserNamespaceLevel)) {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("userNamespaceLevel"), scc.UserNamespaceLevel, namespaceLevels))
	}
	allErrs = append(allErrs, validateCapabilities(scc)...)
	if d, a := scc.DefaultAllowPrivilegeEscalation, scc.AllowPrivilegeEscalation; d != nil && a != nil && *d && !*a {
		allErrs = append(allErrs, field.Invalid(field.NewPath("defaultAllowPrivilegeEscalation"), *d, "may not be true when allowPrivilegeEscalation is false"))
	}
	allErrs = append(allErrs, validateVolumes(scc)...)
	allErrs = append(allErrs, validateSysctls(scc.AllowedUnsafeSysctls, field.NewPath("allowedUnsafeSysctls"))...)
	allErrs = append(allErrs, validateSysctls(scc.ForbiddenSysctls, field.NewPath("forbiddenSysctls"))...)
	return allErrs
}

func validateType(t string, supported []string, fldPath *field.Path) field.ErrorList {
	if t == "" {
		return field.ErrorList{field.Required(fldPath, fmt.Sprintf("must be one of %s", strings.Join(supported, ", ")))}
	}
	if !contains(supported, t) {
		return field.ErrorList{field.NotSupported(fldPath, t, supported)}
	}
	return nil
}

// validateRunAsUser checks the strategy type and its UID settings: a
// MustRunAs strategy needs a UID, MustRunAsRange a valid range.
func validateRunAsUser(r *securityv1.RunAsUserStrategyOptions, fldPath *field.Path) field.ErrorList {
	allErrs := validateType(string(r.Type), runAsUserTypes, fldPath.Child("type"))
	for _, v := range []struct {
		name string
		v    *int64
	}{{"uid", r.UID}, {"uidRangeMin", r.UIDRangeMin}, {"uidRangeMax", r.UIDRangeMax}} {
		if v.v != nil && *v.v < 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child(v.name), *v.v, "must be greater than or equal to 0"))
		}
	}
	if r.UIDRangeMin != nil && r.UIDRangeMax != nil && *r.UIDRangeMin > *r.UIDRangeMax {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("uidRangeMin"), *r.UIDRangeMin, fmt.Sprintf("must be less than or equal to uidRangeMax (%d)", *r.UIDRangeMax)))
	}
	switch r.Type {
	case securityv1.RunAsUserStrategyMustRunAs:
		if r.UID == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("uid"), "must be set when type is MustRunAs"))
		}
	case securityv1.RunAsUserStrategyMustRunAsRange:
		// Without a range the admission plugin takes the namespace's range.
		if (r.UIDRangeMin == nil) != (r.UIDRangeMax == nil) {
			allErrs = append(allErrs, field.Required(fldPath.Child("uidRangeMax"), "uidRangeMin and uidRangeMax must be set together"))
		}
	}
	return allErrs
}

func validateRanges(ranges []securityv1.IDRange, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, r := range ranges {
		p := fldPath.Index(i)
		if r.Min < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("min"), r.Min, "must be greater than or equal to 0"))
		}
		if r.Max < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("max"), r.Max, "must be greater than or equal to 0"))
		}
		if r.Min > r.Max {
			allErrs = append(allErrs, field.Invalid(p.Child("min"), r.Min, fmt.Sprintf("must be less than or equal to max (%d)", r.Max)))
		}
	}
	return allErrs
}

// validateCapabilities keeps added and allowed capabilities out of the
// required drops.
func validateCapabilities(scc *securityv1.SecurityContextConstraints) field.ErrorList {
	var allErrs field.ErrorList
	drops := map[corev1.Capability]bool{}
	for _, c := range scc.RequiredDropCapabilities {
		drops[c] = true
	}
	for _, list := range []struct {
		name string
		caps []corev1.Capability
	}{{"defaultAddCapabilities", scc.DefaultAddCapabilities}, {"allowedCapabilities", scc.AllowedCapabilities}} {
		for i, c := range list.caps {
			if drops[c] {
				allErrs = append(allErrs, field.Invalid(field.NewPath(list.name).Index(i), c, "may not also be listed in requiredDropCapabilities"))
			}
		}
	}
	for _, c := range scc.AllowedCapabilities {
		if c == securityv1.AllowAllCapabilities && len(scc.RequiredDropCapabilities) > 0 {
			allErrs = append(allErrs, field.Invalid(field.NewPath("requiredDropCapabilities"), scc.RequiredDropCapabilities, "must be empty when allowedCapabilities allows all (*)"))
		}
	}
	return allErrs
}

func validateVolumes(scc *securityv1.SecurityContextConstraints) field.ErrorList {
	var allErrs field.ErrorList
	allowsFlex := false
	for i, v := range scc.Volumes {
		switch {
		case v == "":
			allErrs = append(allErrs, field.Required(field.NewPath("volumes").Index(i), "must name a volume type"))
		case v == securityv1.FSTypeNone && len(scc.Volumes) > 1:
			allErrs = append(allErrs, field.Invalid(field.NewPath("volumes").Index(i), v, "none may not be combined with other volume types"))
		case v == securityv1.FSTypeFlexVolume || v == securityv1.FSTypeAll:
			allowsFlex = true
		}
	}
	if len(scc.AllowedFlexVolumes) > 0 && !allowsFlex {
		allErrs = append(allErrs, field.Invalid(field.NewPath("allowedFlexVolumes"), len(scc.AllowedFlexVolumes), "may only be set when volumes includes flexVolume or *"))
	}
	for i, f := range scc.AllowedFlexVolumes {
		if f.Driver == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("allowedFlexVolumes").Index(i).Child("driver"), "must name the flex volume driver"))
		}
	}
	return allErrs
}

func validateSysctls(sysctls []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, s := range sysctls {
		switch {
		case s == "":
			allErrs = append(allErrs, field.Required(fldPath.Index(i), "may not be empty"))
		case len(s) > sysctlMaxLength || !sysctlPatternRegexp.MatchString(s):
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), s, "must be a sysctl name (e.g. kernel.msgmax) or a prefix ending in *"))
		case s == "*" && len(sysctls) > 1:
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), s, "* may not be combined with other sysctls"))
		}
	}
	return allErrs
}

// validateRangeAllocation requires the range being allocated.
func validateRangeAllocation(r *securityv1.RangeAllocation) field.ErrorList {
	if r.Range == "" {
		return field.ErrorList{field.Required(field.NewPath("range"), "must give the range being allocated")}
	}
	return nil
}

// validateRangeAllocationUpdate keeps the range fixed: changing it would
// invalidate every allocation recorded in data.
func validateRangeAllocationUpdate(r, old *securityv1.RangeAllocation) field.ErrorList {
	allErrs := validateRangeAllocation(r)
	if old.Range != "" && r.Range != old.Range {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("range"), "may not be changed after creation"))
	}
	return allErrs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
