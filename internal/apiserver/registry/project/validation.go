package project

import (
	"strings"

	projectv1 "github.com/openshift/api/project/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateName checks a project name: a DNS-1123 label of 2 to 63
// characters (seed 004: "The maximum name length is 63 characters").
func ValidateName(name string, prefix bool) []string {
	errs := apimachineryvalidation.ValidateNamespaceName(name, prefix)
	if !prefix && len(name) < 2 {
		errs = append(errs, "must be at least 2 characters long")
	}
	return errs
}

// ValidateProject checks a project created directly by an administrator.
func ValidateProject(p *projectv1.Project) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&p.ObjectMeta, false, ValidateName, field.NewPath("metadata"))
	errs = append(errs, validateAnnotations(p.Annotations, field.NewPath("metadata", "annotations"))...)
	return errs
}

// ValidateProjectUpdate checks an update of a project.
func ValidateProjectUpdate(p, old *projectv1.Project) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, validateAnnotations(p.Annotations, field.NewPath("metadata", "annotations"))...)
	return errs
}

// reservedPrefixes are kept for the platform's own projects.
var reservedPrefixes = []string{"openshift-", "kube-", "gantry-"}

// ValidateProjectRequest checks a self-service project request.
func ValidateProjectRequest(r *projectv1.ProjectRequest) field.ErrorList {
	name := field.NewPath("metadata", "name")
	var errs field.ErrorList
	if r.Name == "" {
		errs = append(errs, field.Required(name, "a project name is required, e.g. my-project"))
	} else {
		for _, msg := range ValidateName(r.Name, false) {
			errs = append(errs, field.Invalid(name, r.Name, msg))
		}
		for _, p := range reservedPrefixes {
			if strings.HasPrefix(r.Name, p) {
				errs = append(errs, field.Forbidden(name, "names starting with "+p+" are reserved for the platform"))
			}
		}
		if r.Name == "openshift" || r.Name == "default" || r.Name == "kubernetes" {
			errs = append(errs, field.Forbidden(name, r.Name+" is reserved for the platform"))
		}
	}
	if strings.ContainsAny(r.DisplayName, "\n\r\x00") {
		errs = append(errs, field.Invalid(field.NewPath("displayName"), r.DisplayName, "must be a single line"))
	}
	if len(r.DisplayName) > 1024 {
		errs = append(errs, field.TooLong(field.NewPath("displayName"), r.DisplayName, 1024))
	}
	if len(r.Description) > 64*1024 {
		errs = append(errs, field.TooLong(field.NewPath("description"), "", 64*1024))
	}
	return errs
}

func validateAnnotations(a map[string]string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if d := a[DisplayNameAnnotation]; strings.ContainsAny(d, "\n\r\x00") {
		errs = append(errs, field.Invalid(path.Key(DisplayNameAnnotation), d, "must be a single line"))
	}
	return errs
}
