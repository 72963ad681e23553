package template

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	templatev1 "github.com/openshift/api/template/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

func templateInstances() resource.Definition {
	return resource.Definition{
		Resource:   "templateinstances",
		Singular:   "templateinstance",
		Kind:       "TemplateInstance",
		Namespaced: true,
		New:        func() runtime.Object { return &templatev1.TemplateInstance{} },
		NewList:    func() runtime.Object { return &templatev1.TemplateInstanceList{} },

		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			setRequester(ctx, obj.(*templatev1.TemplateInstance))
		},
		Validate: func(ctx context.Context, obj runtime.Object) field.ErrorList {
			ti := obj.(*templatev1.TemplateInstance)
			return append(validateTemplateInstance(ti), validateRequester(ctx, ti)...)
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateTemplateInstanceUpdate(obj.(*templatev1.TemplateInstance), old.(*templatev1.TemplateInstance))
		},
		HasStatus: true,

		Columns: templateInstanceColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			ti, ok := obj.(*templatev1.TemplateInstance)
			if !ok {
				return nil, fmt.Errorf("expected *v1.TemplateInstance, got %T", obj)
			}
			return []interface{}{ti.Name, ti.Spec.Template.Name, resource.Age(ti.CreationTimestamp)}, nil
		},
	}
}

// setRequester records the requesting user as the requester when the
// client names none; the template instance controller acts as that user.
func setRequester(ctx context.Context, ti *templatev1.TemplateInstance) {
	if ti.Spec.Requester != nil {
		return
	}
	if u, ok := request.UserFrom(ctx); ok {
		ti.Spec.Requester = requesterOf(u)
	}
}

func requesterOf(u user.Info) *templatev1.TemplateInstanceRequester {
	r := &templatev1.TemplateInstanceRequester{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	if extra := u.GetExtra(); len(extra) > 0 {
		r.Extra = make(map[string]templatev1.ExtraValue, len(extra))
		for k, v := range extra {
			r.Extra[k] = templatev1.ExtraValue(v)
		}
	}
	return r
}

// validateRequester refuses a requester other than the requesting user.
// The controller instantiates the template with the requester's rights, so
// naming someone else would be impersonation; OpenShift allows it to users
// with the "assign" permission on templateinstances, which Gantry does not
// check here.
func validateRequester(ctx context.Context, ti *templatev1.TemplateInstance) field.ErrorList {
	if ti.Spec.Requester == nil || ti.Spec.Requester.Username == "" {
		return nil // reported by validateTemplateInstance
	}
	u, ok := request.UserFrom(ctx)
	if !ok {
		return field.ErrorList{field.InternalError(field.NewPath("spec", "requester", "username"), fmt.Errorf("no user in the request context to check the requester against"))}
	}
	if ti.Spec.Requester.Username != u.GetName() {
		return field.ErrorList{field.Forbidden(field.NewPath("spec", "requester", "username"),
			fmt.Sprintf("must be your own user name %q (or be left unset): the template is instantiated with the requester's permissions", u.GetName()))}
	}
	return nil
}

func validateTemplateInstance(ti *templatev1.TemplateInstance) field.ErrorList {
	specPath := field.NewPath("spec")
	tmplPath := specPath.Child("template")
	errs := validateEmbeddedTemplateMeta(&ti.Spec.Template.ObjectMeta, tmplPath.Child("metadata"))
	errs = append(errs, validateTemplateBody(&ti.Spec.Template, tmplPath)...)
	if s := ti.Spec.Secret; s != nil {
		errs = append(errs, validateName(s.Name, specPath.Child("secret", "name"),
			"when spec.secret is set, the name of the secret holding parameter values", apivalidation.NameIsDNSSubdomain)...)
	}
	if ti.Spec.Requester == nil || ti.Spec.Requester.Username == "" {
		errs = append(errs, field.Required(specPath.Child("requester", "username"), "the user on whose behalf the template is instantiated is required"))
	}
	return errs
}

// validateEmbeddedTemplateMeta validates the metadata of the embedded
// template, whose name and namespace may be empty.
func validateEmbeddedTemplateMeta(meta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	m := meta.DeepCopy()
	if m.Name == "" {
		m.Name = "placeholder"
	}
	if m.Namespace == "" {
		m.Namespace = "placeholder"
	}
	return apivalidation.ValidateObjectMeta(m, true, apivalidation.NameIsDNSSubdomain, fldPath)
}

// validateTemplateInstanceUpdate keeps the spec immutable: an instance is
// one instantiation; a changed template needs a new instance. Objects are
// compared as JSON values, so re-serialized but equal objects (as clients
// such as the garbage collector send them) are no change.
func validateTemplateInstanceUpdate(ti, old *templatev1.TemplateInstance) field.ErrorList {
	if !specEqual(&ti.Spec, &old.Spec) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "is immutable after creation; create a new template instance to instantiate a changed template")}
	}
	return nil
}

func specEqual(a, b *templatev1.TemplateInstanceSpec) bool {
	if len(a.Template.Objects) != len(b.Template.Objects) {
		return false
	}
	for i := range a.Template.Objects {
		if !objectEqual(&a.Template.Objects[i], &b.Template.Objects[i]) {
			return false
		}
	}
	ac, bc := a.DeepCopy(), b.DeepCopy()
	ac.Template.Objects, bc.Template.Objects = nil, nil
	return apiequality.Semantic.DeepEqual(ac, bc)
}

func objectEqual(a, b *runtime.RawExtension) bool {
	av, aerr := jsonValue(a)
	bv, berr := jsonValue(b)
	if aerr != nil || berr != nil {
		return apiequality.Semantic.DeepEqual(a, b)
	}
	return reflect.DeepEqual(av, bv)
}

func jsonValue(r *runtime.RawExtension) (interface{}, error) {
	raw := r.Raw
	if len(raw) == 0 && r.Object != nil {
		var err error
		if raw, err = json.Marshal(r.Object); err != nil {
			return nil, err
		}
	}
	var v interface{}
	err := json.Unmarshal(raw, &v)
	return v, err
}

var templateInstanceColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Template", Type: "string", Description: "Name of the instantiated template."},
	resource.AgeColumn,
}
