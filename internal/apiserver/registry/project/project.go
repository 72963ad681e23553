// Package project serves project.openshift.io/v1: projects, a view of the
// namespaces a caller may access, and projectrequests, the self-service way
// to create one (seed 004, 3.9 "Projects and Users").
package project

import (
	"context"
	"fmt"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"
)

// Annotations OpenShift puts on a project's namespace.
const (
	DisplayNameAnnotation = "openshift.io/display-name"
	DescriptionAnnotation = "openshift.io/description"
	RequesterAnnotation   = "openshift.io/requester"
)

// REST serves projects from the namespaces of kube-apiserver.
type REST struct {
	kube  kubernetes.Interface
	authz authorizer.Authorizer
}

var (
	_ rest.Getter               = (*REST)(nil)
	_ rest.Lister               = (*REST)(nil)
	_ rest.Watcher              = (*REST)(nil)
	_ rest.Creater              = (*REST)(nil)
	_ rest.Updater              = (*REST)(nil)
	_ rest.GracefulDeleter      = (*REST)(nil)
	_ rest.Scoper               = (*REST)(nil)
	_ rest.SingularNameProvider = (*REST)(nil)
	_ rest.TableConvertor       = (*REST)(nil)
)

// NewREST returns the projects storage.
func NewREST(kube kubernetes.Interface, authz authorizer.Authorizer) *REST {
	return &REST{kube: kube, authz: authz}
}

func (r *REST) New() runtime.Object     { return &projectv1.Project{} }
func (r *REST) NewList() runtime.Object { return &projectv1.ProjectList{} }
func (r *REST) Destroy()                {}
func (r *REST) NamespaceScoped() bool   { return false }
func (r *REST) GetSingularName() string { return "project" }
func (r *REST) ShortNames() []string    { return nil }
func (r *REST) Categories() []string    { return nil }
func (r *REST) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return projectTable(obj)
}

// Get returns a project the caller may see. Any other name is Forbidden,
// whether it exists or not, so names of other tenants' projects do not leak.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	u, ok := request.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no user in the request")
	}
	if !r.seesAll(ctx, u) && !r.canSee(ctx, u, name) {
		return nil, apierrors.NewForbidden(projectv1.Resource("projects"), name,
			fmt.Errorf("user %q cannot get project %q: an admin of the project can add you with a role binding (view, edit or admin)", u.GetName(), name))
	}
	ns, err := r.kube.CoreV1().Namespaces().Get(ctx, name, *options)
	if err != nil {
		return nil, err
	}
	return FromNamespace(ns), nil
}

// List returns the projects the caller may access.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	u, ok := request.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no user in the request")
	}
	namespaces, err := r.kube.CoreV1().Namespaces().List(ctx, listOptions(options))
	if err != nil {
		return nil, err
	}
	all := r.seesAll(ctx, u)
	list := &projectv1.ProjectList{ListMeta: namespaces.ListMeta}
	for i := range namespaces.Items {
		ns := &namespaces.Items[i]
		if all || r.canSee(ctx, u, ns.Name) {
			list.Items = append(list.Items, *FromNamespace(ns))
		}
	}
	return list, nil
}

// Watch follows the namespaces the caller may access.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	u, ok := request.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no user in the request")
	}
	w, err := r.kube.CoreV1().Namespaces().Watch(ctx, listOptions(options))
	if err != nil {
		return nil, err
	}
	all := r.seesAll(ctx, u)
	return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
		ns, ok := e.Object.(*corev1.Namespace)
		if !ok {
			return e, e.Type == watch.Error || e.Type == watch.Bookmark
		}
		if e.Type == watch.Bookmark {
			// A bookmark names no namespace; it carries the resource version and, after the
			// initial events of a watch-list (client-go 0.35 lists this way), the annotation that
			// ends them: clients wait for it.
			e.Object = FromNamespace(ns)
			return e, true
		}
		if !all && !r.canSee(ctx, u, ns.Name) {
			return e, false
		}
		e.Object = FromNamespace(ns)
		return e, true
	}), nil
}

// Create makes the namespace of a project directly (an administrator's
// operation; users go through projectrequests).
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	p := obj.(*projectv1.Project)
	if errs := ValidateProject(p); len(errs) > 0 {
		return nil, apierrors.NewInvalid(projectv1.GroupVersion.WithKind("Project").GroupKind(), p.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj); err != nil {
			return nil, err
		}
	}
	ns, err := r.kube.CoreV1().Namespaces().Create(ctx, ToNamespace(p), metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return FromNamespace(ns), nil
}

// Update changes a project's labels, annotations (display name,
// description) and finalizers.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, _ *metav1.UpdateOptions) (runtime.Object, bool, error) {
	ns, err := r.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	old := FromNamespace(ns)
	obj, err := objInfo.UpdatedObject(ctx, old)
	if err != nil {
		return nil, false, err
	}
	p := obj.(*projectv1.Project)
	if errs := ValidateProjectUpdate(p, old); len(errs) > 0 {
		return nil, false, apierrors.NewInvalid(projectv1.GroupVersion.WithKind("Project").GroupKind(), name, errs)
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, p, old); err != nil {
			return nil, false, err
		}
	}
	updated := ns.DeepCopy()
	updated.Labels = p.Labels
	updated.Annotations = p.Annotations
	updated.ResourceVersion = p.ResourceVersion
	updated.Spec.Finalizers = p.Spec.Finalizers
	ns, err = r.kube.CoreV1().Namespaces().Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		return nil, false, err
	}
	return FromNamespace(ns), false, nil
}

// Delete deletes the project's namespace and with it everything in it.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if deleteValidation != nil {
		ns, err := r.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, false, err
		}
		if err := deleteValidation(ctx, FromNamespace(ns)); err != nil {
			return nil, false, err
		}
	}
	if err := r.kube.CoreV1().Namespaces().Delete(ctx, name, *options); err != nil {
		return nil, false, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, false, nil
}

// seesAll reports whether the caller may list every namespace.
func (r *REST) seesAll(ctx context.Context, u user.Info) bool {
	d, _, err := r.authz.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: "list", Resource: "namespaces", ResourceRequest: true,
	})
	return err == nil && d == authorizer.DecisionAllow
}

// canSee reports whether the caller may get the namespace ns, which is what
// a role binding in the project (view, edit, admin) grants.
func (r *REST) canSee(ctx context.Context, u user.Info, ns string) bool {
	d, _, err := r.authz.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: "get", Namespace: ns, Resource: "namespaces", Name: ns, ResourceRequest: true,
	})
	return err == nil && d == authorizer.DecisionAllow
}

func listOptions(o *metainternalversion.ListOptions) metav1.ListOptions {
	var out metav1.ListOptions
	if o == nil {
		return out
	}
	if o.LabelSelector != nil {
		out.LabelSelector = o.LabelSelector.String()
	}
	if o.FieldSelector != nil {
		out.FieldSelector = o.FieldSelector.String()
	}
	out.ResourceVersion = o.ResourceVersion
	out.ResourceVersionMatch = o.ResourceVersionMatch
	out.TimeoutSeconds = o.TimeoutSeconds
	out.Limit = o.Limit
	out.Continue = o.Continue
	out.AllowWatchBookmarks = o.AllowWatchBookmarks
	out.SendInitialEvents = o.SendInitialEvents
	return out
}

// FromNamespace presents a namespace as a project.
func FromNamespace(ns *corev1.Namespace) *projectv1.Project {
	p := &projectv1.Project{ObjectMeta: *ns.ObjectMeta.DeepCopy()}
	p.Spec.Finalizers = ns.Spec.Finalizers
	p.Status.Phase = ns.Status.Phase
	p.Status.Conditions = ns.Status.Conditions
	return p
}

// ToNamespace is the namespace behind a project.
func ToNamespace(p *projectv1.Project) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: *p.ObjectMeta.DeepCopy()}
	ns.Spec.Finalizers = p.Spec.Finalizers
	return ns
}

func projectTable(obj runtime.Object) (*metav1.Table, error) {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		resource.NameColumn,
		{Name: "Display Name", Type: "string", Description: "The project's openshift.io/display-name annotation."},
		{Name: "Status", Type: "string", Description: "Active, or Terminating while the project is deleted."},
	}}
	row := func(p *projectv1.Project) {
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []interface{}{p.Name, p.Annotations[DisplayNameAnnotation], string(p.Status.Phase)},
			Object: runtime.RawExtension{Object: p},
		})
	}
	switch o := obj.(type) {
	case *projectv1.Project:
		row(o)
		t.ResourceVersion = o.ResourceVersion
	case *projectv1.ProjectList:
		for i := range o.Items {
			row(&o.Items[i])
		}
		t.ResourceVersion = o.ResourceVersion
		t.Continue = o.Continue
	default:
		return nil, fmt.Errorf("cannot print %T as a project table", obj)
	}
	return t, nil
}
