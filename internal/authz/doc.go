// Package authz is Gantry's authorization policy on top of Kubernetes RBAC
// (seed 004, "Authorization"; DESIGN D4).
//
//   - roles.go: OpenShift's default cluster roles (admin, edit and view extended
//     to the OpenShift resources through aggregation labels, basic-user,
//     self-provisioner, cluster-reader, cluster-status, the system roles that
//     builds, deployments, the registry and the router need) and their
//     cluster-wide bindings.
//   - reconcile.go: Reconcile brings them back on every start: missing roles
//     are created, the rules of Gantry's roles return to their defaults, and
//     bindings only gain subjects (an administrator's additions stay). Objects
//     annotated rbac.authorization.kubernetes.io/autoupdate=false are left alone.
//   - evaluate.go: Evaluator answers "who may do this" and "what may this user
//     do here" from the RBAC objects, as the authorization.openshift.io review
//     APIs need.
//
// Only internal/cluster imports k8s.io/kubernetes; the rule matching here is
// written against k8s.io/api/rbac/v1.
package authz
