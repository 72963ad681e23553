// Package resource describes a persisted API resource of Gantry's aggregated
// API server: its names, its Go types from github.com/openshift/api, and the
// strategy pieces that differ between resources (defaulting, validation,
// table columns, selectable fields). The generic registry turns a Definition
// into etcd-backed REST storage with watch, selectors, optimistic concurrency
// and an optional status subresource, so adding a resource is one Definition.
package resource

import (
	"time"

	"context"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Group is one API group version served by Gantry.
type Group struct {
	GroupVersion schema.GroupVersion
	// Install registers the group's versioned types in a scheme
	// (the Install function of the openshift/api package).
	Install func(*runtime.Scheme) error
	// Resources are the persisted resources of the group.
	Resources []Definition
}

// Definition describes one persisted resource.
type Definition struct {
	// Resource is the plural lower-case name used in URLs ("routes").
	Resource string
	// Singular is the singular name ("route"); derived from Kind when empty.
	Singular   string
	Kind       string
	ShortNames []string
	// Categories such as "all" make `get all` include the resource.
	Categories []string
	Namespaced bool

	New     func() runtime.Object
	NewList func() runtime.Object

	// ValidateName checks metadata.name (and generateName prefixes);
	// nil means a DNS-1123 subdomain.
	ValidateName apivalidation.ValidateNameFunc

	// Default fills unset fields. It runs on every decoded request body and
	// on objects read from storage, as Kubernetes defaulting does.
	Default func(obj runtime.Object)

	// PrepareForCreate and PrepareForUpdate normalize an object before
	// validation (e.g. bump a generation, drop fields clients may not set).
	// The generic registry already clears status on create and keeps the
	// stored status on update when HasStatus is set.
	PrepareForCreate func(ctx context.Context, obj runtime.Object)
	PrepareForUpdate func(ctx context.Context, obj, old runtime.Object)

	// Validate and ValidateUpdate return every invalid field with its path.
	// Object metadata is validated by the generic registry first.
	Validate       func(ctx context.Context, obj runtime.Object) field.ErrorList
	ValidateUpdate func(ctx context.Context, obj, old runtime.Object) field.ErrorList

	// HasStatus serves a status subresource: the object has Spec and Status
	// fields; updates of the main resource keep the stored status and
	// updates through /status keep the stored spec.
	HasStatus bool
	// ValidateStatusUpdate validates an update through /status (optional).
	ValidateStatusUpdate func(ctx context.Context, obj, old runtime.Object) field.ErrorList

	// Columns and Row give the server-side table output of `get`
	// (NAME and AGE are not added automatically; include them).
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object) ([]interface{}, error)

	// Fields adds selectable fields (field selectors) beyond metadata.name
	// and metadata.namespace, which are always available.
	Fields func(obj runtime.Object) fields.Set

	// AllowCreateOnUpdate lets PUT create a missing object.
	AllowCreateOnUpdate bool
}

// NameColumn and AgeColumn are the usual first and last table columns.
var (
	NameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."}
	AgeColumn  = metav1.TableColumnDefinition{Name: "Age", Type: "date", Description: "Time since the object was created."}
)

// Age renders a creation timestamp the way kubectl's AGE column does.
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
