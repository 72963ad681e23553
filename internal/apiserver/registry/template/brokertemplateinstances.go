package template

import (
	"context"
	"fmt"
	"regexp"

	templatev1 "github.com/openshift/api/template/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

func brokerTemplateInstances() resource.Definition {
	return resource.Definition{
		Resource: "brokertemplateinstances",
		Singular: "brokertemplateinstance",
		Kind:     "BrokerTemplateInstance",
		New:      func() runtime.Object { return &templatev1.BrokerTemplateInstance{} },
		NewList:  func() runtime.Object { return &templatev1.BrokerTemplateInstanceList{} },

		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateBrokerTemplateInstance(obj.(*templatev1.BrokerTemplateInstance))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateBrokerTemplateInstance(obj.(*templatev1.BrokerTemplateInstance))
		},

		Columns: brokerTemplateInstanceColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			b, ok := obj.(*templatev1.BrokerTemplateInstance)
			if !ok {
				return nil, fmt.Errorf("expected *v1.BrokerTemplateInstance, got %T", obj)
			}
			ref := b.Spec.TemplateInstance
			return []interface{}{b.Name, ref.Namespace + "/" + ref.Name, resource.Age(b.CreationTimestamp)}, nil
		},
	}
}

var uuidRE = regexp.MustCompile(`^(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func validateBrokerTemplateInstance(b *templatev1.BrokerTemplateInstance) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := validateReference(&b.Spec.TemplateInstance, specPath.Child("templateInstance"), "TemplateInstance")
	errs = append(errs, validateReference(&b.Spec.Secret, specPath.Child("secret"), "Secret")...)
	for i, id := range b.Spec.BindingIDs {
		if !uuidRE.MatchString(id) {
			errs = append(errs, field.Invalid(specPath.Child("bindingIDs").Index(i), id, "must be a UUID such as 123e4567-e89b-12d3-a456-426614174000"))
		}
	}
	return errs
}

// validateReference checks a reference to a namespaced object of kind kind.
func validateReference(ref *corev1.ObjectReference, fldPath *field.Path, kind string) field.ErrorList {
	errs := field.ErrorList{}
	switch ref.Kind {
	case kind:
	case "":
		errs = append(errs, field.Required(fldPath.Child("kind"), fmt.Sprintf("must be %q", kind)))
	default:
		errs = append(errs, field.Invalid(fldPath.Child("kind"), ref.Kind, fmt.Sprintf("must be %q", kind)))
	}
	errs = append(errs, validateName(ref.Name, fldPath.Child("name"), "the name of the "+kind, apivalidation.NameIsDNSSubdomain)...)
	errs = append(errs, validateName(ref.Namespace, fldPath.Child("namespace"), "the namespace of the "+kind, apivalidation.ValidateNamespaceName)...)
	return errs
}

// validateName requires name and checks it with fn.
func validateName(name string, fldPath *field.Path, what string, fn apivalidation.ValidateNameFunc) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, what+" is required")}
	}
	errs := field.ErrorList{}
	for _, msg := range fn(name, false) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	return errs
}

var brokerTemplateInstanceColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Template Instance", Type: "string", Description: "Namespace and name of the template instance."},
	resource.AgeColumn,
}
