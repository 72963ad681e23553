// Package template holds the strategy pieces of template.openshift.io/v1 for
// Gantry's aggregated API server: validation, table output and requester
// handling of templates, templateinstances and brokertemplateinstances.
// Validation is OpenShift's, extended to catch at creation what would
// otherwise only fail when a template is processed (unknown generators,
// malformed expressions, objects without kind or apiVersion, duplicate
// parameters).
package template

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"regexp"
	"strings"

	templatev1 "github.com/openshift/api/template/v1"
	"github.com/openshift/library-go/pkg/template/generator"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// Group returns the template.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: templatev1.GroupVersion,
		Install:      templatev1.Install,
		Resources:    []resource.Definition{templates(), templateInstances(), brokerTemplateInstances()},
	}
}

func templates() resource.Definition {
	return resource.Definition{
		Resource:   "templates",
		Singular:   "template",
		Kind:       "Template",
		Namespaced: true,
		New:        func() runtime.Object { return &templatev1.Template{} },
		NewList:    func() runtime.Object { return &templatev1.TemplateList{} },

		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateTemplateBody(obj.(*templatev1.Template), nil)
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateTemplateBody(obj.(*templatev1.Template), nil)
		},

		Columns: templateColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			t, ok := obj.(*templatev1.Template)
			if !ok {
				return nil, fmt.Errorf("expected *v1.Template, got %T", obj)
			}
			return templateRow(t), nil
		},
	}
}

// ExpressionGenerator is the only parameter generator templates may name.
const ExpressionGenerator = "expression"

var parameterNameRE = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)

// validateTemplateBody checks parameters, objects and object labels of a
// template; fldPath is where the template sits (nil for a Template).
func validateTemplateBody(t *templatev1.Template, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	seen := map[string]bool{}
	for i := range t.Parameters {
		p := &t.Parameters[i]
		pp := fldPath.Child("parameters").Index(i)
		errs = append(errs, validateParameter(p, pp)...)
		if p.Name != "" && seen[p.Name] {
			errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
		}
		seen[p.Name] = true
	}
	for i := range t.Objects {
		errs = append(errs, validateObject(&t.Objects[i], fldPath.Child("objects").Index(i))...)
	}
	errs = append(errs, validateObjectLabels(t.ObjectLabels, fldPath.Child("labels"))...)
	return errs
}

func validateParameter(p *templatev1.Parameter, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	switch {
	case p.Name == "":
		errs = append(errs, field.Required(fldPath.Child("name"), "a parameter name of letters, digits and '_' is required"))
	case !parameterNameRE.MatchString(p.Name):
		errs = append(errs, field.Invalid(fldPath.Child("name"), p.Name, fmt.Sprintf("must consist of letters, digits and '_' only (regex %q), as in 'DATABASE_USER'", parameterNameRE.String())))
	}
	switch p.Generate {
	case "":
	case ExpressionGenerator:
		if p.Value != "" {
			// A set value wins over the generator, which never runs.
			break
		}
		if p.From == "" {
			errs = append(errs, field.Required(fldPath.Child("from"), "the expression to generate the value from, such as \"[a-zA-Z0-9]{16}\", is required when generate is \"expression\""))
		} else if err := checkExpression(p.From); err != nil {
			errs = append(errs, field.Invalid(fldPath.Child("from"), p.From, fmt.Sprintf("must be a valid generator expression such as \"[a-zA-Z0-9]{16}\": %v", err)))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("generate"), p.Generate, []string{ExpressionGenerator}))
	}
	return errs
}

// checkExpression runs the expression generator once, as processing will.
// The generator panics on some expressions (an empty character range such
// as [a-a]), which is reported as an error here rather than crashing later.
func checkExpression(expr string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the expression yields no characters to choose from")
		}
	}()
	_, err = generator.NewExpressionValueGenerator(rand.New(rand.NewSource(1))).GenerateValue(expr)
	return err
}

// typeMeta is what every template object needs to be created.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

func validateObject(obj *runtime.RawExtension, fldPath *field.Path) field.ErrorList {
	var tm typeMeta
	// Decoded request bodies keep the object's JSON in Raw (Object is then
	// only a *runtime.Unknown wrapper without a kind): prefer Raw.
	switch {
	case len(obj.Raw) > 0 && string(obj.Raw) != "null":
		if err := json.Unmarshal(obj.Raw, &tm); err != nil {
			return field.ErrorList{field.Invalid(fldPath, "<object>", fmt.Sprintf("must be a JSON object with apiVersion and kind: %v", err))}
		}
	case obj.Object != nil:
		gvk := obj.Object.GetObjectKind().GroupVersionKind()
		tm = typeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}
	default:
		return field.ErrorList{field.Required(fldPath, "each template object must be a Kubernetes object with apiVersion and kind")}
	}
	errs := field.ErrorList{}
	if tm.APIVersion == "" || tm.APIVersion == "/" {
		errs = append(errs, field.Required(fldPath.Child("apiVersion"), "the API version of the object, such as \"v1\" or \"apps/v1\", is required"))
	}
	if tm.Kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), "the kind of the object, such as \"Service\", is required"))
	}
	return errs
}

// validateObjectLabels checks the labels processing adds to every object.
// Keys and values holding a ${PARAMETER} reference are checked only after
// substitution, by the API that creates the objects.
func validateObjectLabels(labels map[string]string, fldPath *field.Path) field.ErrorList {
	errs := field.ErrorList{}
	for k, v := range labels {
		if !hasParameterReference(k) {
			for _, msg := range validation.IsQualifiedName(k) {
				errs = append(errs, field.Invalid(fldPath, k, "label key "+msg))
			}
		}
		if !hasParameterReference(v) {
			for _, msg := range validation.IsValidLabelValue(v) {
				errs = append(errs, field.Invalid(fldPath.Key(k), v, "label value "+msg))
			}
		}
	}
	return errs
}

func hasParameterReference(s string) bool { return strings.Contains(s, "${") }

var templateColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Description", Type: "string", Description: "First line of the template's description annotation."},
	{Name: "Parameters", Type: "string", Description: "Number of parameters, and how many are blank or generated."},
	{Name: "Objects", Type: "integer", Description: "Number of objects in the template."},
}

// descriptionWidth is the widest DESCRIPTION cell, as in oc.
const descriptionWidth = 80

func templateRow(t *templatev1.Template) []interface{} {
	return []interface{}{t.Name, description(t.Annotations["description"]), parameterSummary(t.Parameters), int64(len(t.Objects))}
}

func description(d string) string {
	if first, _, more := strings.Cut(d, "\n"); more {
		d = first + "..."
	}
	if len(d) > descriptionWidth {
		d = strings.TrimSpace(d[:descriptionWidth-3]) + "..."
	}
	return d
}

// parameterSummary renders "N (M blank)", "N (M generated)" or "N (all set)".
func parameterSummary(params []templatev1.Parameter) string {
	blank, generated := 0, 0
	for _, p := range params {
		switch {
		case p.Value != "":
		case p.Generate != "":
			generated++
		default:
			blank++
		}
	}
	switch {
	case blank > 0:
		return fmt.Sprintf("%d (%d blank)", len(params), blank)
	case generated > 0:
		return fmt.Sprintf("%d (%d generated)", len(params), generated)
	default:
		return fmt.Sprintf("%d (all set)", len(params))
	}
}
