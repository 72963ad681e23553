package authorization

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	k8sauthzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/gantry-dev/gantry/internal/authz"
)

// Reviews returns the authorization.openshift.io review resources, keyed by
// resource name:
//   - subjectaccessreviews and localsubjectaccessreviews ("may this user do
//     this?") are answered by Kubernetes' SubjectAccessReview, so the answer
//     is kube-apiserver's own decision;
//   - resourceaccessreviews and localresourceaccessreviews ("who may do
//     this?") and selfsubjectrulesreviews and subjectrulesreviews ("what may
//     this user do here?") are evaluated from the RBAC objects by eval.
//
// Callers need RBAC permission to create the review resource itself; the
// questions are read-only.
func Reviews(sar authorizationclient.SubjectAccessReviewInterface, eval *authz.Evaluator) map[string]rest.Storage {
	return map[string]rest.Storage{
		"subjectaccessreviews":       &subjectAccessREST{sar: sar},
		"localsubjectaccessreviews":  &subjectAccessREST{sar: sar, local: true},
		"resourceaccessreviews":      &resourceAccessREST{eval: eval},
		"localresourceaccessreviews": &resourceAccessREST{eval: eval, local: true},
		"selfsubjectrulesreviews":    &rulesREST{eval: eval, self: true},
		"subjectrulesreviews":        &rulesREST{eval: eval},
	}
}

var (
	_ rest.Creater              = (*subjectAccessREST)(nil)
	_ rest.Scoper               = (*subjectAccessREST)(nil)
	_ rest.SingularNameProvider = (*subjectAccessREST)(nil)
	_ rest.StorageMetadata      = (*subjectAccessREST)(nil)
	_ rest.Creater              = (*resourceAccessREST)(nil)
	_ rest.Scoper               = (*resourceAccessREST)(nil)
	_ rest.SingularNameProvider = (*resourceAccessREST)(nil)
	_ rest.StorageMetadata      = (*resourceAccessREST)(nil)
	_ rest.Creater              = (*rulesREST)(nil)
	_ rest.Scoper               = (*rulesREST)(nil)
	_ rest.SingularNameProvider = (*rulesREST)(nil)
)

// subjectAccessREST serves subjectaccessreviews (cluster-scoped; the action
// names its namespace) and localsubjectaccessreviews (in the request's
// namespace).
type subjectAccessREST struct {
	sar   authorizationclient.SubjectAccessReviewInterface
	local bool
}

func (r *subjectAccessREST) New() runtime.Object {
	if r.local {
		return &authorizationv1.LocalSubjectAccessReview{}
	}
	return &authorizationv1.SubjectAccessReview{}
}
func (r *subjectAccessREST) Destroy()              {}
func (r *subjectAccessREST) NamespaceScoped() bool { return r.local }
func (r *subjectAccessREST) GetSingularName() string {
	if r.local {
		return "localsubjectaccessreview"
	}
	return "subjectaccessreview"
}
func (r *subjectAccessREST) ProducesMIMETypes(string) []string { return nil }
func (r *subjectAccessREST) ProducesObject(string) interface{} {
	return authorizationv1.SubjectAccessReviewResponse{}
}

func (r *subjectAccessREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	var action authorizationv1.Action
	var userName string
	var groups, scopes []string
	var kind string
	switch o := obj.(type) {
	case *authorizationv1.SubjectAccessReview:
		action, userName, groups, scopes, kind = o.Action, o.User, o.GroupsSlice, o.Scopes, "SubjectAccessReview"
	case *authorizationv1.LocalSubjectAccessReview:
		action, userName, groups, scopes, kind = o.Action, o.User, o.GroupsSlice, o.Scopes, "LocalSubjectAccessReview"
	default:
		return nil, apierrors.NewBadRequest("expected a SubjectAccessReview or LocalSubjectAccessReview")
	}
	if r.local {
		var err error
		if action.Namespace, err = localNamespace(ctx, action.Namespace, kind); err != nil {
			return nil, err
		}
	}
	if errs := validateAction(action); len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.GroupVersion.WithKind(kind).GroupKind(), "", errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	spec := k8sauthzv1.SubjectAccessReviewSpec{User: userName, Groups: groups}
	if userName == "" && len(groups) == 0 {
		// No subject: the question is about the caller.
		u, ok := request.UserFrom(ctx)
		if !ok {
			return nil, apierrors.NewBadRequest("the review names no user or groups and the request has no user")
		}
		spec.User, spec.Groups, spec.UID = u.GetName(), u.GetGroups(), u.GetUID()
		for k, v := range u.GetExtra() {
			if spec.Extra == nil {
				spec.Extra = map[string]k8sauthzv1.ExtraValue{}
			}
			spec.Extra[k] = v
		}
	}
	if len(scopes) > 0 {
		if spec.Extra == nil {
			spec.Extra = map[string]k8sauthzv1.ExtraValue{}
		}
		spec.Extra[authorizationv1.ScopesKey] = scopes
	}
	if action.IsNonResourceURL {
		spec.NonResourceAttributes = &k8sauthzv1.NonResourceAttributes{Path: action.Path, Verb: action.Verb}
	} else {
		res, sub := splitResource(action.Resource)
		spec.ResourceAttributes = &k8sauthzv1.ResourceAttributes{
			Namespace: action.Namespace, Verb: action.Verb, Group: action.Group, Version: action.Version,
			Resource: res, Subresource: sub, Name: action.ResourceName,
		}
	}
	resp, err := r.sar.Create(ctx, &k8sauthzv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		if _, ok := err.(apierrors.APIStatus); ok {
			return nil, err
		}
		return nil, apierrors.NewInternalError(fmt.Errorf("ask kube-apiserver: %w", err))
	}
	return &authorizationv1.SubjectAccessReviewResponse{
		Namespace:       action.Namespace,
		Allowed:         resp.Status.Allowed,
		Reason:          resp.Status.Reason,
		EvaluationError: resp.Status.EvaluationError,
	}, nil
}

// resourceAccessREST serves resourceaccessreviews (the action's namespace,
// or every namespace when it names none) and localresourceaccessreviews (the
// request's namespace).
type resourceAccessREST struct {
	eval  *authz.Evaluator
	local bool
}

func (r *resourceAccessREST) New() runtime.Object {
	if r.local {
		return &authorizationv1.LocalResourceAccessReview{}
	}
	return &authorizationv1.ResourceAccessReview{}
}
func (r *resourceAccessREST) Destroy()              {}
func (r *resourceAccessREST) NamespaceScoped() bool { return r.local }
func (r *resourceAccessREST) GetSingularName() string {
	if r.local {
		return "localresourceaccessreview"
	}
	return "resourceaccessreview"
}
func (r *resourceAccessREST) ProducesMIMETypes(string) []string { return nil }
func (r *resourceAccessREST) ProducesObject(string) interface{} {
	return authorizationv1.ResourceAccessReviewResponse{}
}

func (r *resourceAccessREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	var action authorizationv1.Action
	var kind string
	switch o := obj.(type) {
	case *authorizationv1.ResourceAccessReview:
		action, kind = o.Action, "ResourceAccessReview"
	case *authorizationv1.LocalResourceAccessReview:
		action, kind = o.Action, "LocalResourceAccessReview"
	default:
		return nil, apierrors.NewBadRequest("expected a ResourceAccessReview or LocalResourceAccessReview")
	}
	if r.local {
		var err error
		if action.Namespace, err = localNamespace(ctx, action.Namespace, kind); err != nil {
			return nil, err
		}
	}
	if errs := validateAction(action); len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.GroupVersion.WithKind(kind).GroupKind(), "", errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if !r.eval.HasSynced() {
		return nil, apierrors.NewServiceUnavailable(authz.ErrNotSynced.Error())
	}
	users, groups, err := r.eval.WhoCan(requestOf(action))
	resp := &authorizationv1.ResourceAccessReviewResponse{Namespace: action.Namespace, UsersSlice: users, GroupsSlice: groups}
	if err != nil {
		resp.EvaluationError = err.Error()
	}
	return resp, nil
}

// rulesREST serves selfsubjectrulesreviews (the caller's rules) and
// subjectrulesreviews (a named user's or groups' rules), both in the
// request's namespace.
type rulesREST struct {
	eval *authz.Evaluator
	self bool
}

func (r *rulesREST) New() runtime.Object {
	if r.self {
		return &authorizationv1.SelfSubjectRulesReview{}
	}
	return &authorizationv1.SubjectRulesReview{}
}
func (r *rulesREST) Destroy()              {}
func (r *rulesREST) NamespaceScoped() bool { return true }
func (r *rulesREST) GetSingularName() string {
	if r.self {
		return "selfsubjectrulesreview"
	}
	return "subjectrulesreview"
}

func (r *rulesREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	ns, ok := request.NamespaceFrom(ctx)
	if !ok || ns == "" {
		return nil, apierrors.NewBadRequest("a rules review is asked in a namespace: POST it under /namespaces/NAME/")
	}
	var subject user.Info
	var status *authorizationv1.SubjectRulesReviewStatus
	switch o := obj.(type) {
	case *authorizationv1.SelfSubjectRulesReview:
		u, ok := request.UserFrom(ctx)
		if !ok {
			return nil, apierrors.NewBadRequest("the request has no user")
		}
		o = o.DeepCopy()
		obj, subject, status = o, u, &o.Status
	case *authorizationv1.SubjectRulesReview:
		if o.Spec.User == "" && len(o.Spec.Groups) == 0 {
			return nil, apierrors.NewInvalid(authorizationv1.GroupVersion.WithKind("SubjectRulesReview").GroupKind(), "",
				field.ErrorList{field.Required(field.NewPath("spec", "user"), "name a user or at least one group")})
		}
		o = o.DeepCopy()
		obj, subject, status = o, &user.DefaultInfo{Name: o.Spec.User, Groups: o.Spec.Groups}, &o.Status
	default:
		return nil, apierrors.NewBadRequest("expected a SelfSubjectRulesReview or SubjectRulesReview")
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if !r.eval.HasSynced() {
		return nil, apierrors.NewServiceUnavailable(authz.ErrNotSynced.Error())
	}
	rules, err := r.eval.RulesFor(subject, ns)
	status.Rules = convertRules(rules)
	status.EvaluationError = ""
	if err != nil {
		status.EvaluationError = err.Error()
	}
	return obj, nil
}

// localNamespace is the request's namespace, which the action may repeat but
// not contradict.
func localNamespace(ctx context.Context, actionNS, kind string) (string, error) {
	ns, ok := request.NamespaceFrom(ctx)
	if !ok || ns == "" {
		return "", apierrors.NewBadRequest("a " + kind + " is asked in a namespace: POST it under /namespaces/NAME/")
	}
	if actionNS != "" && actionNS != ns {
		return "", apierrors.NewInvalid(authorizationv1.GroupVersion.WithKind(kind).GroupKind(), "", field.ErrorList{
			field.Invalid(field.NewPath("namespace"), actionNS, "must be empty or the namespace of the request, "+ns)})
	}
	return ns, nil
}

func validateAction(a authorizationv1.Action) field.ErrorList {
	var errs field.ErrorList
	if a.Verb == "" {
		errs = append(errs, field.Required(field.NewPath("verb"), "name the verb to check, such as get, list or create"))
	}
	if a.IsNonResourceURL {
		if a.Path == "" {
			errs = append(errs, field.Required(field.NewPath("path"), "a non-resource URL check needs the path"))
		}
	} else if a.Resource == "" {
		errs = append(errs, field.Required(field.NewPath("resource"), "name the resource to check, such as pods"))
	}
	return errs
}

func splitResource(r string) (string, string) {
	if i := strings.Index(r, "/"); i >= 0 {
		return r[:i], r[i+1:]
	}
	return r, ""
}

func requestOf(a authorizationv1.Action) authz.Request {
	return authz.Request{
		Namespace: a.Namespace, Verb: a.Verb, Group: a.Group, Resource: a.Resource, Name: a.ResourceName,
		NonResourceURL: a.IsNonResourceURL, Path: a.Path,
	}
}

func convertRules(in []rbacv1.PolicyRule) []authorizationv1.PolicyRule {
	out := make([]authorizationv1.PolicyRule, 0, len(in))
	for _, r := range in {
		out = append(out, authorizationv1.PolicyRule{
			Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources,
			ResourceNames: r.ResourceNames, NonResourceURLsSlice: r.NonResourceURLs,
		})
	}
	return out
}
