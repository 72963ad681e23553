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
	sarAnswer, rarAnswer := authorizationv1.SubjectAccessReviewResponse{}, authorizationv1.ResourceAccessReviewResponse{}
	return map[string]rest.Storage{
		"subjectaccessreviews":       &subjectAccessREST{review{&authorizationv1.SubjectAccessReview{}, "subjectaccessreview", false, sarAnswer}, sar},
		"localsubjectaccessreviews":  &subjectAccessREST{review{&authorizationv1.LocalSubjectAccessReview{}, "localsubjectaccessreview", true, sarAnswer}, sar},
		"resourceaccessreviews":      &resourceAccessREST{review{&authorizationv1.ResourceAccessReview{}, "resourceaccessreview", false, rarAnswer}, eval},
		"localresourceaccessreviews": &resourceAccessREST{review{&authorizationv1.LocalResourceAccessReview{}, "localresourceaccessreview", true, rarAnswer}, eval},
		"selfsubjectrulesreviews":    &rulesREST{review{&authorizationv1.SelfSubjectRulesReview{}, "selfsubjectrulesreview", true, nil}, eval},
		"subjectrulesreviews":        &rulesREST{review{&authorizationv1.SubjectRulesReview{}, "subjectrulesreview", true, nil}, eval},
	}
}

var (
	_ rest.Creater              = (*subjectAccessREST)(nil)
	_ rest.Creater              = (*resourceAccessREST)(nil)
	_ rest.Creater              = (*rulesREST)(nil)
	_ rest.Scoper               = review{}
	_ rest.SingularNameProvider = review{}
	_ rest.StorageMetadata      = review{}
)

// review is what every review resource has: the kind clients post (an empty
// object of it), its singular name, its scope, and the kind of the answer
// when that is not the posted kind.
type review struct {
	kind       runtime.Object
	singular   string
	namespaced bool
	// answer is the type of the response for the API documentation; nil
	// when the posted object comes back, filled in.
	answer interface{}
}

func (r review) New() runtime.Object               { return r.kind.DeepCopyObject() }
func (review) Destroy()                            {}
func (r review) NamespaceScoped() bool             { return r.namespaced }
func (r review) GetSingularName() string           { return r.singular }
func (review) ProducesMIMETypes(string) []string   { return nil }
func (r review) ProducesObject(string) interface{} { return r.answer }

// admitAction completes and checks the action of an access review before it
// is answered: a local review's action gets the request's namespace, the
// action must name what to check, and admission sees the posted object.
func (r review) admitAction(ctx context.Context, obj runtime.Object, action authorizationv1.Action, kind string, createValidation rest.ValidateObjectFunc) (authorizationv1.Action, error) {
	if !action.IsNonResourceURL {
		// oc asks about OpenShift resources without their group, as OpenShift 3 allowed.
		action.Group = authz.ResolveLegacyGroup(action.Group, action.Resource)
	}
	if r.namespaced {
		var err error
		if action.Namespace, err = localNamespace(ctx, action.Namespace, kind); err != nil {
			return action, err
		}
	}
	if errs := validateAction(action); len(errs) > 0 {
		return action, apierrors.NewInvalid(authorizationv1.GroupVersion.WithKind(kind).GroupKind(), "", errs)
	}
	return action, admit(ctx, obj, createValidation)
}

// admit runs the create admission, if any, on a copy of the posted object.
func admit(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc) error {
	if createValidation == nil {
		return nil
	}
	return createValidation(ctx, obj.DeepCopyObject())
}

// synced refuses to answer from the RBAC caches before they have loaded.
func synced(eval *authz.Evaluator) error {
	if !eval.HasSynced() {
		return apierrors.NewServiceUnavailable(authz.ErrNotSynced.Error())
	}
	return nil
}

// subjectAccessREST serves subjectaccessreviews (cluster-scoped; the action
// names its namespace) and localsubjectaccessreviews (in the request's
// namespace).
type subjectAccessREST struct {
	review
	sar authorizationclient.SubjectAccessReviewInterface
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
	action, err := r.admitAction(ctx, obj, action, kind, createValidation)
	if err != nil {
		return nil, err
	}
	spec := k8sauthzv1.SubjectAccessReviewSpec{User: userName, Groups: groups}
	if userName != "" || len(groups) > 0 {
		if err := r.mayAskAboutOthers(ctx, action.Namespace, kind); err != nil {
			return nil, err
		}
	} else {
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

// mayAskAboutOthers checks that the caller may ask what another user or group may do: Kubernetes'
// right to create subjectaccessreviews (cluster-wide) or localsubjectaccessreviews (in the namespace,
// which a project's admin has). Anyone may ask about themselves (basic-user grants that).
func (r *subjectAccessREST) mayAskAboutOthers(ctx context.Context, namespace, kind string) error {
	u, ok := request.UserFrom(ctx)
	if !ok {
		return apierrors.NewBadRequest("the request has no user")
	}
	attrs := &k8sauthzv1.ResourceAttributes{Verb: "create", Group: k8sauthzv1.GroupName, Resource: "subjectaccessreviews"}
	if r.namespaced {
		attrs.Resource, attrs.Namespace = "localsubjectaccessreviews", namespace
	}
	spec := k8sauthzv1.SubjectAccessReviewSpec{User: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), ResourceAttributes: attrs}
	for k, v := range u.GetExtra() {
		if spec.Extra == nil {
			spec.Extra = map[string]k8sauthzv1.ExtraValue{}
		}
		spec.Extra[k] = v
	}
	resp, err := r.sar.Create(ctx, &k8sauthzv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("ask kube-apiserver: %w", err))
	}
	if !resp.Status.Allowed {
		gr := authorizationv1.Resource(strings.ToLower(kind) + "s")
		return apierrors.NewForbidden(gr, "", fmt.Errorf("%s may ask only about themselves (leave user and groups empty); asking about others needs the right to create %s.%s",
			u.GetName(), attrs.Resource, k8sauthzv1.GroupName))
	}
	return nil
}

// resourceAccessREST serves resourceaccessreviews (the action's namespace,
// or every namespace when it names none) and localresourceaccessreviews (the
// request's namespace).
type resourceAccessREST struct {
	review
	eval *authz.Evaluator
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
	action, err := r.admitAction(ctx, obj, action, kind, createValidation)
	if err != nil {
		return nil, err
	}
	if err := synced(r.eval); err != nil {
		return nil, err
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
	review
	eval *authz.Evaluator
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
	if err := admit(ctx, obj, createValidation); err != nil {
		return nil, err
	}
	if err := synced(r.eval); err != nil {
		return nil, err
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
