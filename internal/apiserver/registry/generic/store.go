// Package generic turns a resource.Definition into etcd-backed REST storage
// (k8s.io/apiserver's registry.Store): create, get, list, watch, update,
// patch, delete and deletecollection with label and field selectors,
// optimistic concurrency, server-side tables, and a status subresource.
package generic

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// REST is the storage of one resource.
type REST struct {
	*genericregistry.Store
	def *resource.Definition
}

var (
	_ rest.ShortNamesProvider   = (*REST)(nil)
	_ rest.CategoriesProvider   = (*REST)(nil)
	_ rest.SingularNameProvider = (*REST)(nil)
)

// ShortNames are listed in discovery for kubectl (e.g. "is" for imagestreams).
func (r *REST) ShortNames() []string { return r.def.ShortNames }

// Categories are listed in discovery (e.g. "all").
func (r *REST) Categories() []string { return r.def.Categories }

// StatusREST serves the status subresource: updates change only the status.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher             = (*StatusREST)(nil)
	_ rest.ResetFieldsStrategy = (*StatusREST)(nil)
)

// New returns an empty object of the resource.
func (r *StatusREST) New() runtime.Object { return r.store.New() }

// Destroy is a no-op: the main storage owns the etcd client.
func (r *StatusREST) Destroy() {}

// Get returns the whole object.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update changes the status of an object and nothing else.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Subresources never create objects.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields lists the fields a status update leaves alone.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints the object like the main resource does.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// NewREST builds the storage of def in group gv. The returned StatusREST is
// nil unless def.HasStatus.
func NewREST(scheme *runtime.Scheme, gv schema.GroupVersion, def *resource.Definition, optsGetter generic.RESTOptionsGetter) (*REST, *StatusREST, error) {
	singular := def.Singular
	if singular == "" {
		singular = strings.ToLower(def.Kind)
	}
	gr := gv.WithResource(def.Resource).GroupResource()
	s := &strategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, def: def, gv: gv}
	store := &genericregistry.Store{
		NewFunc:                   def.New,
		NewListFunc:               def.NewList,
		DefaultQualifiedResource:  gr,
		SingularQualifiedResource: gv.WithResource(singular).GroupResource(),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            newTableConvertor(gr, def),
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: attrs(def)}); err != nil {
		return nil, nil, fmt.Errorf("storage for %s: %w", gr, err)
	}
	r := &REST{Store: store, def: def}
	if !def.HasStatus {
		return r, nil, nil
	}
	statusStore := *store
	st := &strategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, def: def, gv: gv, status: true}
	statusStore.UpdateStrategy = st
	statusStore.ResetFieldsStrategy = st
	return r, &StatusREST{store: &statusStore}, nil
}

// attrs gives the labels and selectable fields of an object.
func attrs(def *resource.Definition) storage.AttrFunc {
	return func(obj runtime.Object) (labels.Set, fields.Set, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil, err
		}
		fs := fields.Set{"metadata.name": m.GetName()}
		if def.Namespaced {
			fs["metadata.namespace"] = m.GetNamespace()
		}
		if def.Fields != nil {
			for k, v := range def.Fields(obj) {
				fs[k] = v
			}
		}
		return labels.Set(m.GetLabels()), fs, nil
	}
}

// strategy applies a Definition: defaulting, status handling, generation and
// validation. The same type serves the main resource and (status=true) the
// status subresource.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	def    *resource.Definition
	gv     schema.GroupVersion
	status bool
}

func (s *strategy) NamespaceScoped() bool { return s.def.Namespaced }

func (s *strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	if s.def.HasStatus {
		clearField(obj, "Status")
	}
	if hasField(obj, "Spec") {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetGeneration(1)
		}
	}
	if s.def.PrepareForCreate != nil {
		s.def.PrepareForCreate(ctx, obj)
	}
}

func (s *strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	if s.status {
		copyField(obj, old, "Spec")
		if m, err := meta.Accessor(obj); err == nil {
			if om, err := meta.Accessor(old); err == nil {
				m.SetLabels(om.GetLabels())
			}
		}
		return
	}
	if s.def.HasStatus {
		copyField(obj, old, "Status")
	}
	if hasField(obj, "Spec") {
		m, err1 := meta.Accessor(obj)
		om, err2 := meta.Accessor(old)
		if err1 == nil && err2 == nil {
			m.SetGeneration(om.GetGeneration())
			if !apiequality.Semantic.DeepEqual(fieldValue(obj, "Spec"), fieldValue(old, "Spec")) {
				m.SetGeneration(om.GetGeneration() + 1)
			}
		}
	}
	if s.def.PrepareForUpdate != nil {
		s.def.PrepareForUpdate(ctx, obj, old)
	}
}

func (s *strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	nameFn := s.def.ValidateName
	if nameFn == nil {
		nameFn = apivalidation.NameIsDNSSubdomain
	}
	errs := apivalidation.ValidateObjectMeta(metaOf(obj), s.def.Namespaced, nameFn, field.NewPath("metadata"))
	if s.def.Validate != nil {
		errs = append(errs, s.def.Validate(ctx, obj)...)
	}
	return errs
}

func (s *strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaUpdate(metaOf(obj), metaOf(old), field.NewPath("metadata"))
	switch {
	case s.status && s.def.ValidateStatusUpdate != nil:
		errs = append(errs, s.def.ValidateStatusUpdate(ctx, obj, old)...)
	case s.status:
	case s.def.ValidateUpdate != nil:
		errs = append(errs, s.def.ValidateUpdate(ctx, obj, old)...)
	case s.def.Validate != nil:
		errs = append(errs, s.def.Validate(ctx, obj)...)
	}
	return errs
}

func (s *strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (s *strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (s *strategy) Canonicalize(runtime.Object) {}

func (s *strategy) AllowCreateOnUpdate() bool { return s.def.AllowCreateOnUpdate && !s.status }

func (s *strategy) AllowUnconditionalUpdate() bool { return true }

// GetResetFields tells server-side apply which fields each endpoint ignores.
func (s *strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.def.HasStatus {
		return nil
	}
	set := fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
	if s.status {
		set = fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata", "labels"))
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{fieldpath.APIVersion(s.gv.String()): set}
}

// metaOf returns the embedded ObjectMeta (every openshift/api object has one).
func metaOf(obj runtime.Object) *metav1.ObjectMeta {
	return reflect.ValueOf(obj).Elem().FieldByName("ObjectMeta").Addr().Interface().(*metav1.ObjectMeta)
}

func hasField(obj runtime.Object, name string) bool {
	return reflect.ValueOf(obj).Elem().FieldByName(name).IsValid()
}

func fieldValue(obj runtime.Object, name string) interface{} {
	v := reflect.ValueOf(obj).Elem().FieldByName(name)
	if !v.IsValid() {
		return nil
	}
	return v.Interface()
}

func clearField(obj runtime.Object, name string) {
	v := reflect.ValueOf(obj).Elem().FieldByName(name)
	if v.IsValid() && v.CanSet() {
		v.Set(reflect.Zero(v.Type()))
	}
}

func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	sv := reflect.ValueOf(src).Elem().FieldByName(name)
	if d.IsValid() && sv.IsValid() && d.CanSet() {
		d.Set(sv)
	}
}

// SetDecorator sets the hook applied to every object the status
// subresource returns, as the main store's Decorator is.
func (r *StatusREST) SetDecorator(d func(runtime.Object)) { r.store.Decorator = d }
