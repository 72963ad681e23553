package build

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/openshift/library-go/pkg/image/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	kindImageStreamTag   = "ImageStreamTag"
	kindImageStreamImage = "ImageStreamImage"
	kindDockerImage      = "DockerImage"
)

// The kinds of image reference each place accepts.
var (
	builderImageKinds = []string{kindImageStreamTag, kindImageStreamImage, kindDockerImage}
	imageSourceKinds  = builderImageKinds
	outputKinds       = []string{kindImageStreamTag, kindDockerImage}
	triggerKinds      = []string{kindImageStreamTag}
)

var (
	// imageStreamNameRegexp is one repository path component of a
	// container image name, which an image stream name must be.
	imageStreamNameRegexp = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$`)
	tagRegexp             = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// validateImageReference checks an image reference of one of the allowed kinds.
func validateImageReference(ref *corev1.ObjectReference, kinds []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	namePath := fldPath.Child("name")
	switch ref.Kind {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("kind"), fmt.Sprintf("must be one of %s", strings.Join(kinds, ", "))))
	case kindImageStreamTag, kindImageStreamImage, kindDockerImage:
		if !contains(kinds, ref.Kind) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), ref.Kind, kinds))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), ref.Kind, kinds))
	}

	switch ref.Kind {
	case kindImageStreamTag:
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, "must give an image stream tag as <name>:<tag>"))
		} else if msg := imageStreamTagProblem(ref.Name); msg != "" {
			allErrs = append(allErrs, field.Invalid(namePath, ref.Name, msg))
		}
		allErrs = append(allErrs, validateRefNamespace(ref.Namespace, fldPath.Child("namespace"))...)
	case kindImageStreamImage:
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, "must give an image stream image as <name>@<id>"))
		} else if parts := strings.SplitN(ref.Name, "@", 2); len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			allErrs = append(allErrs, field.Invalid(namePath, ref.Name, "must be an image stream image in the form <name>@<id>"))
		}
		allErrs = append(allErrs, validateRefNamespace(ref.Namespace, fldPath.Child("namespace"))...)
	case kindDockerImage:
		if ref.Namespace != "" {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("namespace"), "may not be set for a DockerImage reference"))
		}
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, "must give a container image pull spec"))
		} else if _, err := reference.Parse(ref.Name); err != nil {
			allErrs = append(allErrs, field.Invalid(namePath, ref.Name, fmt.Sprintf("must be a valid container image pull spec: %v", err)))
		}
	}
	return allErrs
}

// imageStreamTagProblem describes what is wrong with an image stream tag
// name, or returns "".
func imageStreamTagProblem(istag string) string {
	parts := strings.Split(istag, ":")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "must be an image stream tag in the form <name>:<tag>"
	}
	if !imageStreamNameRegexp.MatchString(parts[0]) {
		return fmt.Sprintf("image stream name %q must consist of lower-case letters, digits and the separators '.', '_', '__' or '-'", parts[0])
	}
	if !tagRegexp.MatchString(parts[1]) {
		return fmt.Sprintf("tag %q must start with a letter, digit or '_' and contain at most 128 letters, digits, '_', '.' or '-'", parts[1])
	}
	return ""
}

func validateRefNamespace(ns string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if ns == "" {
		return nil
	}
	for _, msg := range validation.IsDNS1123Label(ns) {
		allErrs = append(allErrs, field.Invalid(fldPath, ns, msg))
	}
	return allErrs
}
