package authz

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	rbacinformers "k8s.io/client-go/informers/rbac/v1"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
)

// Request is the action a review asks about.
type Request struct {
	// Namespace is empty for a cluster-wide question: then only cluster role
	// bindings count, and the answer holds in every namespace.
	Namespace string
	Verb      string
	Group     string
	// Resource may carry its subresource after a slash ("builds/details");
	// Subresource may also be given on its own.
	Resource    string
	Subresource string
	Name        string
	// NonResourceURL requests are about Path ("/healthz"); only cluster role
	// bindings grant them.
	NonResourceURL bool
	Path           string
}

// resource is the resource and subresource as RBAC rules name them.
func (r Request) resource() (resource, sub string) {
	resource, sub = r.Resource, r.Subresource
	if i := strings.Index(resource, "/"); i >= 0 && sub == "" {
		resource, sub = resource[:i], resource[i+1:]
	}
	return resource, sub
}

// RuleAllows says whether an RBAC rule grants the request, with Kubernetes'
// matching: "*" wildcards for verbs, groups and resources, "*/sub" for a
// subresource of every resource, resource names only for named requests, and
// trailing-"*" prefixes for non-resource URLs.
func RuleAllows(r rbacv1.PolicyRule, req Request) bool {
	if !matches(r.Verbs, req.Verb) {
		return false
	}
	if req.NonResourceURL {
		for _, u := range r.NonResourceURLs {
			if u == rbacv1.NonResourceAll || u == req.Path ||
				(strings.HasSuffix(u, "*") && strings.HasPrefix(req.Path, strings.TrimSuffix(u, "*"))) {
				return true
			}
		}
		return false
	}
	if !matches(r.APIGroups, req.Group) {
		return false
	}
	resource, sub := req.resource()
	combined := resource
	if sub != "" {
		combined = resource + "/" + sub
	}
	ok := false
	for _, res := range r.Resources {
		if res == rbacv1.ResourceAll || res == combined || (sub != "" && res == "*/"+sub) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	return len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, req.Name)
}

func matches(values []string, v string) bool {
	return slices.Contains(values, "*") || slices.Contains(values, v)
}

// AppliesTo says whether a binding's subject names the user, one of its
// groups, or (for service accounts) system:serviceaccount:NS:NAME.
func AppliesTo(s rbacv1.Subject, u user.Info) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.GetName() == s.Name
	case rbacv1.GroupKind:
		return slices.Contains(u.GetGroups(), s.Name)
	case rbacv1.ServiceAccountKind:
		return s.Namespace != "" && u.GetName() == serviceaccount.MakeUsername(s.Namespace, s.Name)
	}
	return false
}

// Evaluator reads RBAC objects from informer caches and answers review
// questions the way kube-apiserver's RBAC authorizer decides.
type Evaluator struct {
	clusterRoles    rbaclisters.ClusterRoleLister
	clusterBindings rbaclisters.ClusterRoleBindingLister
	roles           rbaclisters.RoleLister
	bindings        rbaclisters.RoleBindingLister
	synced          []cache.InformerSynced
}

// NewEvaluator registers the RBAC informers it needs with f; the caller
// starts f.
func NewEvaluator(f rbacinformers.Interface) *Evaluator {
	e := &Evaluator{
		clusterRoles:    f.ClusterRoles().Lister(),
		clusterBindings: f.ClusterRoleBindings().Lister(),
		roles:           f.Roles().Lister(),
		bindings:        f.RoleBindings().Lister(),
	}
	e.synced = []cache.InformerSynced{
		f.ClusterRoles().Informer().HasSynced, f.ClusterRoleBindings().Informer().HasSynced,
		f.Roles().Informer().HasSynced, f.RoleBindings().Informer().HasSynced,
	}
	return e
}

// NewEvaluatorFromListers is an Evaluator over the given listers, which are
// taken as synced.
func NewEvaluatorFromListers(cr rbaclisters.ClusterRoleLister, crb rbaclisters.ClusterRoleBindingLister, r rbaclisters.RoleLister, rb rbaclisters.RoleBindingLister) *Evaluator {
	return &Evaluator{clusterRoles: cr, clusterBindings: crb, roles: r, bindings: rb}
}

// ErrNotSynced means the RBAC caches are still loading; the question should be
// asked again shortly.
var ErrNotSynced = errors.New("the authorization caches are still loading; try again in a few seconds")

// HasSynced says whether the caches are loaded.
func (e *Evaluator) HasSynced() bool {
	for _, s := range e.synced {
		if !s() {
			return false
		}
	}
	return true
}

// binding is a role binding or cluster role binding, reduced to what
// evaluation needs.
type binding struct {
	namespace string // "" for cluster role bindings
	name      string
	roleRef   rbacv1.RoleRef
	subjects  []rbacv1.Subject
}

func (e *Evaluator) bindingsFor(namespace string) ([]binding, error) {
	crbs, err := e.clusterBindings.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []binding
	for _, b := range crbs {
		out = append(out, binding{name: b.Name, roleRef: b.RoleRef, subjects: b.Subjects})
	}
	if namespace == "" {
		return out, nil
	}
	rbs, err := e.bindings.RoleBindings(namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, b := range rbs {
		out = append(out, binding{namespace: namespace, name: b.Name, roleRef: b.RoleRef, subjects: b.Subjects})
	}
	return out, nil
}

// rules returns the rules of the role a binding refers to.
func (e *Evaluator) rules(b binding) ([]rbacv1.PolicyRule, error) {
	switch b.roleRef.Kind {
	case "ClusterRole":
		r, err := e.clusterRoles.Get(b.roleRef.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	case "Role":
		if b.namespace == "" {
			return nil, fmt.Errorf("cluster role binding %s refers to a Role", b.name)
		}
		r, err := e.roles.Roles(b.namespace).Get(b.roleRef.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	}
	return nil, fmt.Errorf("binding %s refers to an unknown kind %q", b.name, b.roleRef.Kind)
}

// describeBinding names a binding in evaluation errors.
func describeBinding(b binding) string {
	if b.namespace == "" {
		return "clusterrolebinding " + b.name
	}
	return "rolebinding " + b.namespace + "/" + b.name
}

// WhoCan lists the users and groups that the bindings allow to do req,
// sorted and without duplicates. Service accounts are listed as users
// (system:serviceaccount:NS:NAME). A binding whose role is missing grants
// nothing; it is reported in the error, which does not stop the evaluation
// (the lists are still the answer for the other bindings).
func (e *Evaluator) WhoCan(req Request) (users, groups []string, err error) {
	bindings, err := e.bindingsFor(req.Namespace)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	userSet, groupSet := map[string]bool{}, map[string]bool{}
	for _, b := range bindings {
		if req.NonResourceURL && b.namespace != "" {
			continue // role bindings never grant non-resource URLs
		}
		rules, err := e.rules(b)
		if err != nil {
			errs = append(errs, evalError(b, err))
			continue
		}
		if !slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool { return RuleAllows(r, req) }) {
			continue
		}
		for _, s := range b.subjects {
			switch s.Kind {
			case rbacv1.UserKind:
				userSet[s.Name] = true
			case rbacv1.GroupKind:
				groupSet[s.Name] = true
			case rbacv1.ServiceAccountKind:
				if s.Namespace != "" {
					userSet[serviceaccount.MakeUsername(s.Namespace, s.Name)] = true
				}
			}
		}
	}
	return sortedKeys(userSet), sortedKeys(groupSet), errors.Join(errs...)
}

// RulesFor lists the rules that apply to u in namespace (cluster role
// bindings, then the namespace's role bindings). As with WhoCan, the error
// names bindings whose roles are missing; the rules are still returned.
func (e *Evaluator) RulesFor(u user.Info, namespace string) ([]rbacv1.PolicyRule, error) {
	bindings, err := e.bindingsFor(namespace)
	if err != nil {
		return nil, err
	}
	var errs []error
	var out []rbacv1.PolicyRule
	for _, b := range bindings {
		if !slices.ContainsFunc(b.subjects, func(s rbacv1.Subject) bool { return AppliesTo(s, u) }) {
			continue
		}
		rules, err := e.rules(b)
		if err != nil {
			errs = append(errs, evalError(b, err))
			continue
		}
		for _, r := range rules {
			if b.namespace != "" && len(r.NonResourceURLs) > 0 {
				continue
			}
			out = append(out, *r.DeepCopy())
		}
	}
	return out, errors.Join(errs...)
}

func evalError(b binding, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s refers to %s %q, which does not exist", describeBinding(b), strings.ToLower(b.roleRef.Kind), b.roleRef.Name)
	}
	return fmt.Errorf("%s: %w", describeBinding(b), err)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
