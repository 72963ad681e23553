package authz

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
	"k8s.io/klog/v2"
)

// Reconcile makes the cluster's policy match Gantry's defaults, as
// kube-apiserver does for its own roles on every start:
//   - missing roles and bindings are created;
//   - Gantry's roles get their default rules back (extra rules an
//     administrator added are removed, missing ones restored);
//   - bindings only gain the default subjects; subjects an administrator
//     added stay;
//   - objects annotated rbac.authorization.kubernetes.io/autoupdate=false are
//     left as they are.
func Reconcile(ctx context.Context, kube kubernetes.Interface) error {
	roles := clusterRoleClient{ctx: ctx, c: kube.RbacV1().ClusterRoles()}
	for _, role := range ClusterRoles() {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			res, err := (&reconciliation.ReconcileRoleOptions{
				Role:                   reconciliation.ClusterRoleRuleOwner{ClusterRole: role.DeepCopy()},
				Confirm:                true,
				RemoveExtraPermissions: true,
				Client:                 roles,
			}).Run()
			if err != nil {
				return err
			}
			logResult("clusterrole", role.Name, res.Operation, res.Protected)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reconcile clusterrole %s: %w", role.Name, err)
		}
	}
	bindings := clusterRoleBindingClient{ctx: ctx, c: kube.RbacV1().ClusterRoleBindings()}
	for _, b := range ClusterRoleBindings() {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			res, err := (&reconciliation.ReconcileRoleBindingOptions{
				RoleBinding:         reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: b.DeepCopy()},
				Confirm:             true,
				RemoveExtraSubjects: false,
				Client:              bindings,
			}).Run()
			if err != nil {
				return err
			}
			logResult("clusterrolebinding", b.Name, res.Operation, res.Protected)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reconcile clusterrolebinding %s: %w", b.Name, err)
		}
	}
	return nil
}

func logResult(kind, name string, op reconciliation.ReconcileOperation, protected bool) {
	switch {
	case protected && op != reconciliation.ReconcileNone:
		klog.InfoS("Left a changed default policy object alone: it is annotated "+rbacv1.AutoUpdateAnnotationKey+"=false", "kind", kind, "name", name)
	case op != reconciliation.ReconcileNone:
		klog.InfoS("Reconciled default policy", "kind", kind, "name", name, "operation", op)
	}
}

// clusterRoleClient is reconciliation's RuleOwnerModifier with a context.
type clusterRoleClient struct {
	ctx context.Context
	c   rbacclient.ClusterRoleInterface
}

func (c clusterRoleClient) Get(_, name string) (reconciliation.RuleOwner, error) {
	r, err := c.c.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: r}, nil
}

func (c clusterRoleClient) Create(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	r, err := c.c.Create(c.ctx, in.(reconciliation.ClusterRoleRuleOwner).ClusterRole, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: r}, nil
}

func (c clusterRoleClient) Update(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	r, err := c.c.Update(c.ctx, in.(reconciliation.ClusterRoleRuleOwner).ClusterRole, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: r}, nil
}

// clusterRoleBindingClient is reconciliation's RoleBindingModifier with a context.
type clusterRoleBindingClient struct {
	ctx context.Context
	c   rbacclient.ClusterRoleBindingInterface
}

func (c clusterRoleBindingClient) Get(_, name string) (reconciliation.RoleBinding, error) {
	b, err := c.c.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: b}, nil
}

func (c clusterRoleBindingClient) Create(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	b, err := c.c.Create(c.ctx, in.(reconciliation.ClusterRoleBindingAdapter).ClusterRoleBinding, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: b}, nil
}

func (c clusterRoleBindingClient) Update(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	b, err := c.c.Update(c.ctx, in.(reconciliation.ClusterRoleBindingAdapter).ClusterRoleBinding, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: b}, nil
}

// Delete is used by reconciliation when a binding's roleRef changed (it
// cannot be updated); the binding is then recreated.
func (c clusterRoleBindingClient) Delete(_, name string, uid types.UID) error {
	return c.c.Delete(c.ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
}
