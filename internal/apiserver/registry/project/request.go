package project

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	projectv1 "github.com/openshift/api/project/v1"
	templatev1 "github.com/openshift/api/template/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	templatereg "github.com/gantry-dev/gantry/internal/apiserver/registry/template"
)

// DefaultRequestMessage is what a user who may not request projects is told
// when the administrator configured no message.
const DefaultRequestMessage = "You may not request a new project via this API."

// Parameters of the project request template.
const (
	ParamName        = "PROJECT_NAME"
	ParamDisplayName = "PROJECT_DISPLAYNAME"
	ParamDescription = "PROJECT_DESCRIPTION"
	ParamAdminUser   = "PROJECT_ADMIN_USER"
	ParamRequester   = "PROJECT_REQUESTING_USER"
)

// TemplateGetter reads the administrator's project request template.
type TemplateGetter func(ctx context.Context, namespace, name string) (*templatev1.Template, error)

// RequestREST creates projects for the users allowed to request them, from
// the built-in template or one the administrator names.
type RequestREST struct {
	kube    kubernetes.Interface
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
	authz   authorizer.Authorizer
	// message is returned to users who may not request projects.
	message string
	// template is "namespace/name" of the administrator's template, or "".
	template    string
	getTemplate TemplateGetter
	// pullSecretWait bounds the wait for the default service account's pull secret (0: none).
	pullSecretWait time.Duration
}

var (
	_ rest.Creater              = (*RequestREST)(nil)
	_ rest.Lister               = (*RequestREST)(nil)
	_ rest.Scoper               = (*RequestREST)(nil)
	_ rest.SingularNameProvider = (*RequestREST)(nil)
)

// NewRequestREST returns the projectrequests storage.
func NewRequestREST(kube kubernetes.Interface, dyn dynamic.Interface, mapper meta.RESTMapper, authz authorizer.Authorizer,
	message, template string, getTemplate TemplateGetter) *RequestREST {
	if message == "" {
		message = DefaultRequestMessage
	}
	return &RequestREST{kube: kube, dynamic: dyn, mapper: mapper, authz: authz, message: message, template: template, getTemplate: getTemplate}
}

func (r *RequestREST) New() runtime.Object     { return &projectv1.ProjectRequest{} }
func (r *RequestREST) NewList() runtime.Object { return &metav1.Status{} }
func (r *RequestREST) Destroy()                {}
func (r *RequestREST) NamespaceScoped() bool   { return false }
func (r *RequestREST) GetSingularName() string { return "projectrequest" }
func (r *RequestREST) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return rest.NewDefaultTableConvertor(projectv1.Resource("projectrequests")).ConvertToTable(ctx, obj, opts)
}

// List tells the caller whether they may request projects: a Success status,
// or Forbidden with the administrator's message (what `oc` shows).
func (r *RequestREST) List(ctx context.Context, _ *metainternalversion.ListOptions) (runtime.Object, error) {
	if err := r.allowed(ctx); err != nil {
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

func (r *RequestREST) allowed(ctx context.Context) error {
	u, ok := request.UserFrom(ctx)
	if !ok {
		return apierrors.NewUnauthorized("no user in the request")
	}
	d, _, err := r.authz.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: "create", APIGroup: projectv1.GroupName, APIVersion: "v1", Resource: "projectrequests", ResourceRequest: true,
	})
	if err == nil && d == authorizer.DecisionAllow {
		return nil
	}
	forbidden := apierrors.NewForbidden(projectv1.Resource("projectrequests"), "", errors.New(r.message))
	forbidden.ErrStatus.Message = r.message
	return forbidden
}

// WithPullSecretWait makes each request wait up to d for the new project's default service
// account to get its registry pull secret. Pods take their service account's pull secrets when
// they are created: without the wait, a pod created right after `new-project` could not pull
// the project's own images.
func (r *RequestREST) WithPullSecretWait(d time.Duration) *RequestREST {
	r.pullSecretWait = d
	return r
}

// waitForPullSecret waits for the default service account of ns to have a pull secret. A
// timeout is not an error: the project exists and works, the secret comes later.
func (r *RequestREST) waitForPullSecret(ctx context.Context, ns string) {
	if r.pullSecretWait <= 0 {
		return
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, r.pullSecretWait, true, func(ctx context.Context) (bool, error) {
		sa, err := r.kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && len(sa.ImagePullSecrets) > 0, err
	})
	if err != nil {
		klog.InfoS("The new project's default service account has no pull secret yet; pods created now cannot pull the project's images until it has", "project", ns, "waited", r.pullSecretWait, "err", err)
	}
}

// Create makes the project: the namespace and every other object of the
// template (by default the admin role binding for the requester). If any
// object fails, the namespace is deleted again.
func (r *RequestREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if err := r.allowed(ctx); err != nil {
		return nil, err
	}
	req := obj.(*projectv1.ProjectRequest)
	if errs := ValidateProjectRequest(req); len(errs) > 0 {
		return nil, apierrors.NewInvalid(projectv1.GroupVersion.WithKind("ProjectRequest").GroupKind(), req.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj); err != nil {
			return nil, err
		}
	}
	u, _ := request.UserFrom(ctx)
	tmpl, err := r.loadTemplate(ctx)
	if err != nil {
		return nil, err
	}
	for i := range tmpl.Parameters {
		switch p := &tmpl.Parameters[i]; p.Name {
		case ParamName:
			p.Value = req.Name
		case ParamDisplayName:
			p.Value = req.DisplayName
		case ParamDescription:
			p.Value = req.Description
		case ParamAdminUser, ParamRequester:
			p.Value = u.GetName()
		}
	}
	if errs := templatereg.NewProcessor().Process(tmpl); len(errs) > 0 {
		return nil, apierrors.NewInternalError(fmt.Errorf("project request template %s: %v", r.templateName(), errs.ToAggregate()))
	}
	project, others, err := splitTemplate(tmpl)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("project request template %s: %w", r.templateName(), err))
	}
	project.Name = req.Name
	dryRun := options != nil && len(options.DryRun) > 0
	if dryRun {
		return project, nil
	}
	ns, err := r.kube.CoreV1().Namespaces().Create(ctx, ToNamespace(project), metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, apierrors.NewAlreadyExists(projectv1.Resource("projects"), req.Name)
		}
		return nil, err
	}
	for _, o := range others {
		if err := r.createInProject(ctx, ns.Name, o); err != nil {
			_ = r.kube.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), ns.Name, metav1.DeleteOptions{})
			return nil, apierrors.NewInternalError(fmt.Errorf("create %s %q of project %s (the project was removed again): %w",
				o.GetKind(), o.GetName(), req.Name, err))
		}
	}
	r.waitForPullSecret(ctx, ns.Name)
	return FromNamespace(ns), nil
}

func (r *RequestREST) templateName() string {
	if r.template == "" {
		return "(built-in)"
	}
	return r.template
}

func (r *RequestREST) loadTemplate(ctx context.Context) (*templatev1.Template, error) {
	if r.template == "" {
		return DefaultTemplate(), nil
	}
	ns, name, _ := strings.Cut(r.template, "/")
	t, err := r.getTemplate(ctx, ns, name)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("read project request template %s: %w", r.template, err))
	}
	return t.DeepCopy(), nil
}

// splitTemplate finds the Project among the processed objects.
func splitTemplate(t *templatev1.Template) (*projectv1.Project, []*unstructured.Unstructured, error) {
	var project *projectv1.Project
	var others []*unstructured.Unstructured
	for _, raw := range t.Objects {
		u, ok := raw.Object.(*unstructured.Unstructured)
		if !ok {
			return nil, nil, fmt.Errorf("unexpected object %T", raw.Object)
		}
		if u.GetKind() == "Project" && u.GroupVersionKind().Group == projectv1.GroupName {
			project = &projectv1.Project{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, project); err != nil {
				return nil, nil, err
			}
			continue
		}
		others = append(others, u)
	}
	if project == nil {
		return nil, nil, errors.New("the template has no Project object")
	}
	return project, others, nil
}

func (r *RequestREST) createInProject(ctx context.Context, ns string, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	mapping, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = r.dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		o.SetNamespace(ns)
		ri = r.dynamic.Resource(mapping.Resource).Namespace(ns)
	}
	_, err = ri.Create(ctx, o, metav1.CreateOptions{})
	return err
}

// DefaultTemplate is the built-in project request template: the project
// with its display name, description and requester, and the admin role for
// the requester. Administrators replace it with --project-request-template.
func DefaultTemplate() *templatev1.Template {
	project := &projectv1.Project{
		TypeMeta: metav1.TypeMeta{APIVersion: projectv1.GroupVersion.String(), Kind: "Project"},
		ObjectMeta: metav1.ObjectMeta{Name: "${" + ParamName + "}", Annotations: map[string]string{
			DisplayNameAnnotation: "${" + ParamDisplayName + "}",
			DescriptionAnnotation: "${" + ParamDescription + "}",
			RequesterAnnotation:   "${" + ParamRequester + "}",
		}},
	}
	admin := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: "admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "${" + ParamAdminUser + "}"}},
	}
	t := &templatev1.Template{
		ObjectMeta: metav1.ObjectMeta{Name: "project-request"},
		Parameters: []templatev1.Parameter{{Name: ParamName}, {Name: ParamDisplayName}, {Name: ParamDescription}, {Name: ParamAdminUser}, {Name: ParamRequester}},
	}
	for _, o := range []runtime.Object{project, admin} {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			panic(err)
		}
		t.Objects = append(t.Objects, runtime.RawExtension{Object: &unstructured.Unstructured{Object: u}})
	}
	return t
}
