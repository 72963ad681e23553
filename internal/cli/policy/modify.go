package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	authorizationclient "github.com/openshift/client-go/authorization/clientset/versioned/typed/authorization/v1"
	userclient "github.com/openshift/client-go/user/clientset/versioned/typed/user/v1"
	"github.com/openshift/library-go/pkg/authorization/authorizationutil"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"

	"github.com/gantry-dev/gantry/internal/authz"
)

// RoleOptions are the options of the commands that add a role to, or remove
// it from, users, groups and service accounts: in a project (a RoleBinding to
// a ClusterRole, or to a Role with --role-namespace) or cluster-wide (a
// ClusterRoleBinding).
type RoleOptions struct {
	// Cluster is set for the `adm policy ...-cluster-role-...` commands.
	Cluster bool
	// RoleName is the role to bind; RoleNamespace, when set, names a Role in
	// the project instead of a ClusterRole.
	RoleName, RoleNamespace string
	// BindingName is --rolebinding-name: the binding to change or create.
	BindingName string
	// Namespace is the project whose bindings change (not for Cluster).
	Namespace string
	// Users (including system:serviceaccount:NS:NAME), Groups, and
	// ServiceAccounts (-z, in Namespace).
	Users, Groups, ServiceAccounts []string

	RBAC       rbacclient.RbacV1Interface
	UserClient userclient.UserV1Interface // for "not found" warnings; may be nil
	// Reviews asks whether the caller may run who-can, to suggest it only
	// then; may be nil (no suggestion).
	Reviews authorizationclient.AuthorizationV1Interface
	genericiooptions.IOStreams
}

// complete reads the clients and the namespace from the kubeconfig flags.
func (o *RoleOptions) complete(flags *genericclioptions.ConfigFlags) error {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return noCluster(err)
	}
	if o.RBAC, err = rbacclient.NewForConfig(cfg); err != nil {
		return err
	}
	if o.UserClient, err = userclient.NewForConfig(cfg); err != nil {
		return err
	}
	if o.Reviews, err = authorizationclient.NewForConfig(cfg); err != nil {
		return err
	}
	o.Namespace, _, err = flags.ToRawKubeConfigLoader().Namespace()
	return err
}

func noCluster(err error) error {
	return fmt.Errorf("no cluster to talk to (%v)\nTry: sudo gantry start, or set --kubeconfig", err)
}

// Validate checks the arguments before anything is changed.
func (o *RoleOptions) Validate() error {
	if o.RoleName == "" {
		return errors.New("name the role to bind, such as view, edit or admin")
	}
	if len(o.Users) == 0 && len(o.Groups) == 0 && len(o.ServiceAccounts) == 0 {
		return errors.New("name at least one user, group or service account (-z NAME)")
	}
	for _, sa := range o.ServiceAccounts {
		if strings.HasPrefix(sa, "system:serviceaccount:") {
			return fmt.Errorf("-z takes the short name of a service account in the project (%q)\nTry: pass %s as a user instead", sa, sa)
		}
		if errs := validation.IsDNS1123Subdomain(sa); len(errs) > 0 {
			return fmt.Errorf("%q is not a valid service account name: %s", sa, strings.Join(errs, "; "))
		}
	}
	if o.BindingName != "" {
		if errs := path.IsValidPathSegmentName(o.BindingName); len(errs) > 0 {
			return fmt.Errorf("%q is not a valid binding name: %s", o.BindingName, strings.Join(errs, "; "))
		}
	}
	if o.Cluster {
		if o.RoleNamespace != "" {
			return errors.New("a cluster role binding can only refer to a cluster role: drop --role-namespace")
		}
		return nil
	}
	if o.Namespace == "" {
		return errors.New("no project selected\nTry: -n PROJECT, or gantry project PROJECT")
	}
	if o.RoleNamespace != "" && o.RoleNamespace != o.Namespace {
		return fmt.Errorf("a role binding in project %q cannot refer to a role in project %q", o.Namespace, o.RoleNamespace)
	}
	return nil
}

func (o *RoleOptions) roleKind() string {
	if o.RoleNamespace != "" {
		return "Role"
	}
	return "ClusterRole"
}

// subjects are the bindings' subjects the options name.
func (o *RoleOptions) subjects() []rbacv1.Subject {
	s := authorizationutil.BuildRBACSubjects(o.Users, o.Groups)
	for _, sa := range o.ServiceAccounts {
		s = append(s, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: o.Namespace, Name: sa})
	}
	return s
}

// targets are the names as given, for messages.
func (o *RoleOptions) targets() []string {
	return slices.Concat(o.Users, o.Groups, o.ServiceAccounts)
}

// message is oc's: `clusterrole.rbac.authorization.k8s.io/edit added: "alice"`.
func (o *RoleOptions) message(op string) string {
	t := o.targets()
	who := fmt.Sprintf("%q", t)
	if len(t) == 1 {
		who = fmt.Sprintf("%q", t[0])
	}
	return fmt.Sprintf("%s.rbac.authorization.k8s.io/%s %s: %s", strings.ToLower(o.roleKind()), o.RoleName, op, who)
}

// bindingClient hides the difference between role bindings and cluster
// role bindings.
type bindingClient interface {
	list(ctx context.Context) ([]binding, error)
	get(ctx context.Context, name string) (binding, error)
	create(ctx context.Context, b binding) error
	update(ctx context.Context, b binding) error
	delete(ctx context.Context, b binding) error
}

type binding struct {
	name        string
	roleRef     rbacv1.RoleRef
	subjects    []rbacv1.Subject
	annotations map[string]string
	obj         interface{} // the RoleBinding or ClusterRoleBinding read
}

func (o *RoleOptions) bindings() bindingClient {
	if o.Cluster {
		return clusterBindings{o.RBAC.ClusterRoleBindings()}
	}
	return roleBindings{o.RBAC.RoleBindings(o.Namespace), o.Namespace}
}

func (o *RoleOptions) forRole(b binding) bool {
	return b.roleRef.Name == o.RoleName && b.roleRef.Kind == o.roleKind()
}

// AddRole binds the role to the subjects. With --rolebinding-name that
// binding gets them (and is created if missing); otherwise, unless a
// binding of the role already holds them all, a new binding named after the
// role is created, as oc does.
func (o *RoleOptions) AddRole(ctx context.Context) error {
	if err := o.Validate(); err != nil {
		return err
	}
	c := o.bindings()
	want := o.subjects()
	var b binding
	exists := false
	if o.BindingName != "" {
		cur, err := c.get(ctx, o.BindingName)
		switch {
		case apierrors.IsNotFound(err):
			b = binding{name: o.BindingName}
		case err != nil:
			return o.explain(ctx, err)
		default:
			if !o.forRole(cur) {
				return fmt.Errorf("binding %s is for %s %q, not %s %q\nTry: another --rolebinding-name, or none",
					o.BindingName, strings.ToLower(cur.roleRef.Kind), cur.roleRef.Name, strings.ToLower(o.roleKind()), o.RoleName)
			}
			b, exists = cur, true
		}
	} else {
		all, err := c.list(ctx)
		if err != nil {
			return o.explain(ctx, err)
		}
		for _, cur := range all {
			if o.forRole(cur) && len(addSubjects(cur.subjects, want)) == len(cur.subjects) {
				fmt.Fprintln(o.Out, o.message("added"))
				return nil
			}
		}
		b = binding{name: uniqueName(o.RoleName, all)}
	}
	o.warnMissing(ctx, want, b.subjects)
	b.roleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: o.roleKind(), Name: o.RoleName}
	b.subjects = addSubjects(b.subjects, want)
	var err error
	if exists {
		err = c.update(ctx, b)
	} else {
		err = c.create(ctx, b)
		if apierrors.IsAlreadyExists(err) && o.BindingName == "" {
			return o.AddRole(ctx) // someone made a binding of that name meanwhile
		}
	}
	if err != nil {
		return o.explain(ctx, err)
	}
	fmt.Fprintln(o.Out, o.message("added"))
	return nil
}

// RemoveRole takes the subjects out of the role's bindings (or of
// --rolebinding-name). A binding left without subjects is deleted, as oc
// does, unless it is annotated autoupdate=false or is a default binding that
// gantry start restores: such a binding is kept and, when the removal would
// otherwise be undone on the next start, annotated autoupdate=false in the
// same update.
func (o *RoleOptions) RemoveRole(ctx context.Context) error {
	if err := o.Validate(); err != nil {
		return err
	}
	c := o.bindings()
	var candidates []binding
	if o.BindingName != "" {
		cur, err := c.get(ctx, o.BindingName)
		if err != nil {
			return o.explain(ctx, err)
		}
		if !o.forRole(cur) {
			return fmt.Errorf("binding %s is for %s %q, not %s %q", o.BindingName,
				strings.ToLower(cur.roleRef.Kind), cur.roleRef.Name, strings.ToLower(o.roleKind()), o.RoleName)
		}
		candidates = []binding{cur}
	} else {
		all, err := c.list(ctx)
		if err != nil {
			return o.explain(ctx, err)
		}
		for _, b := range all {
			if o.forRole(b) {
				candidates = append(candidates, b)
			}
		}
		if len(candidates) == 0 {
			kind := "RoleBinding"
			if o.Cluster {
				kind = "ClusterRoleBinding"
			}
			return fmt.Errorf("unable to locate any %s for %s %q", kind, o.roleKind(), o.RoleName)
		}
	}
	remove := o.subjects()
	found := 0
	for _, b := range candidates {
		kept := slices.DeleteFunc(slices.Clone(b.subjects), func(s rbacv1.Subject) bool {
			return slices.ContainsFunc(remove, func(r rbacv1.Subject) bool { return sameSubject(s, r) })
		})
		if len(kept) == len(b.subjects) {
			continue
		}
		found += len(b.subjects) - len(kept)
		freeze := o.restoredOnStart(b, kept)
		b.subjects = kept
		var err error
		switch {
		case freeze:
			b.annotations = maps.Clone(b.annotations)
			if b.annotations == nil {
				b.annotations = map[string]string{}
			}
			b.annotations[rbacv1.AutoUpdateAnnotationKey] = "false"
			err = c.update(ctx, b)
		case len(kept) == 0 && b.annotations[rbacv1.AutoUpdateAnnotationKey] != "false":
			err = c.delete(ctx, b)
		default:
			err = c.update(ctx, b)
		}
		if err != nil {
			return o.explain(ctx, err)
		}
		if freeze {
			how := ""
			if len(b.subjects) == 0 {
				how = " without subjects"
			}
			res := bindingResource(o.Cluster)
			fmt.Fprintf(o.ErrOut, "Note: %s/%s is a default binding that gantry start restores; it was kept%s and annotated %s=false so that your change lasts.\n"+
				"To have its default subjects back: gantry annotate %s %s %s=true --overwrite, then restart gantry\n",
				res, b.name, how, rbacv1.AutoUpdateAnnotationKey, res, b.name, rbacv1.AutoUpdateAnnotationKey)
		}
	}
	if found == 0 {
		return fmt.Errorf("unable to find target %v: no binding of %s %q names them", o.targets(), strings.ToLower(o.roleKind()), o.RoleName)
	}
	fmt.Fprintln(o.Out, o.message("removed"))
	return nil
}

// restoredOnStart says whether gantry start would undo taking b's subjects
// down to kept: b is not annotated autoupdate=false, and is either one of
// Gantry's default cluster role bindings losing a default subject (or all
// its subjects), or a binding annotated autoupdate=true (kube-apiserver's own
// defaults, whose default subjects Gantry does not know).
func (o *RoleOptions) restoredOnStart(b binding, kept []rbacv1.Subject) bool {
	switch b.annotations[rbacv1.AutoUpdateAnnotationKey] {
	case "false":
		return false
	case "true":
		if !o.Cluster || !isGantryDefault(b.name) {
			return true
		}
	}
	if !o.Cluster {
		return false
	}
	for _, d := range authz.ClusterRoleBindings() {
		if d.Name != b.name {
			continue
		}
		if len(kept) == 0 {
			return true // deleted, it would come back with its default subjects
		}
		for _, s := range d.Subjects {
			if slices.ContainsFunc(b.subjects, func(h rbacv1.Subject) bool { return sameSubject(h, s) }) &&
				!slices.ContainsFunc(kept, func(h rbacv1.Subject) bool { return sameSubject(h, s) }) {
				return true
			}
		}
		return false
	}
	return false
}

func isGantryDefault(name string) bool {
	return slices.ContainsFunc(authz.ClusterRoleBindings(), func(d rbacv1.ClusterRoleBinding) bool { return d.Name == name })
}

func bindingResource(cluster bool) string {
	if cluster {
		return "clusterrolebinding.rbac"
	}
	return "rolebinding.rbac"
}

// explain adds what to do to the errors a person can act on.
func (o *RoleOptions) explain(ctx context.Context, err error) error {
	switch {
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "attempting to grant RBAC permissions not currently held"):
		return fmt.Errorf("%w\nTry: only roles whose permissions you hold yourself can be granted; ask a cluster administrator", err)
	case apierrors.IsForbidden(err) && o.Cluster:
		return fmt.Errorf("%w\nTry: cluster roles are granted by cluster administrators", err)
	case apierrors.IsForbidden(err):
		hint := fmt.Sprintf("project roles are granted and revoked by the project's admins: ask an admin of project %s", o.Namespace)
		if o.mayRunWhoCan(ctx) {
			hint += fmt.Sprintf(" (gantry policy who-can create rolebindings -n %s lists who may)", o.Namespace)
		}
		return fmt.Errorf("%w\nTry: %s", err, hint)
	}
	return err
}

// mayRunWhoCan asks, with a review about the caller (which everyone may
// ask), whether `gantry policy who-can ... -n NAMESPACE` would be allowed.
func (o *RoleOptions) mayRunWhoCan(ctx context.Context) bool {
	if o.Reviews == nil {
		return false
	}
	resp, err := o.Reviews.SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Action: authorizationv1.Action{
		Namespace: o.Namespace, Verb: "create", Group: authorizationv1.GroupName, Resource: "localresourceaccessreviews",
	}}, metav1.CreateOptions{})
	return err == nil && resp.Allowed
}

// warnMissing says which new subjects do not exist (yet), as oc does; the
// binding is made anyway (users appear on first login).
func (o *RoleOptions) warnMissing(ctx context.Context, want, have []rbacv1.Subject) {
	if o.UserClient == nil {
		return
	}
	for _, s := range want {
		if slices.ContainsFunc(have, func(h rbacv1.Subject) bool { return sameSubject(h, s) }) {
			continue
		}
		var err error
		switch s.Kind {
		case rbacv1.UserKind:
			_, err = o.UserClient.Users().Get(ctx, s.Name, metav1.GetOptions{})
		case rbacv1.GroupKind:
			if strings.HasPrefix(s.Name, "system:") {
				continue // virtual groups are never stored
			}
			_, err = o.UserClient.Groups().Get(ctx, s.Name, metav1.GetOptions{})
		default:
			continue
		}
		if apierrors.IsNotFound(err) {
			fmt.Fprintf(o.ErrOut, "Warning: %s '%s' not found\n", s.Kind, s.Name)
		}
	}
}

func sameSubject(a, b rbacv1.Subject) bool {
	return a.Kind == b.Kind && a.Name == b.Name && a.Namespace == b.Namespace
}

// addSubjects returns have followed by the subjects of want it lacks.
func addSubjects(have, want []rbacv1.Subject) []rbacv1.Subject {
	out := slices.Clone(have)
	for _, w := range want {
		if !slices.ContainsFunc(out, func(h rbacv1.Subject) bool { return sameSubject(h, w) }) {
			out = append(out, w)
		}
	}
	return out
}

// uniqueName is the role's name, or NAME-0, NAME-1, ... if taken.
func uniqueName(role string, existing []binding) string {
	taken := func(n string) bool {
		return slices.ContainsFunc(existing, func(b binding) bool { return b.name == n })
	}
	if !taken(role) {
		return role
	}
	for i := 0; ; i++ {
		if n := fmt.Sprintf("%s-%d", role, i); !taken(n) {
			return n
		}
	}
}

type roleBindings struct {
	c  rbacclient.RoleBindingInterface
	ns string
}

func (r roleBindings) list(ctx context.Context) ([]binding, error) {
	l, err := r.c.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []binding
	for i := range l.Items {
		out = append(out, fromRoleBinding(&l.Items[i]))
	}
	return out, nil
}

func (r roleBindings) get(ctx context.Context, name string) (binding, error) {
	b, err := r.c.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return binding{}, err
	}
	return fromRoleBinding(b), nil
}

func fromRoleBinding(b *rbacv1.RoleBinding) binding {
	return binding{name: b.Name, roleRef: b.RoleRef, subjects: b.Subjects, annotations: b.Annotations, obj: b}
}

func (r roleBindings) create(ctx context.Context, b binding) error {
	_, err := r.c.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: b.name, Namespace: r.ns}, RoleRef: b.roleRef, Subjects: b.subjects}, metav1.CreateOptions{})
	return err
}

func (r roleBindings) update(ctx context.Context, b binding) error {
	rb := b.obj.(*rbacv1.RoleBinding).DeepCopy()
	rb.Subjects, rb.Annotations = b.subjects, b.annotations
	_, err := r.c.Update(ctx, rb, metav1.UpdateOptions{})
	return err
}

func (r roleBindings) delete(ctx context.Context, b binding) error {
	rb := b.obj.(*rbacv1.RoleBinding)
	return r.c.Delete(ctx, b.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &rb.UID, ResourceVersion: &rb.ResourceVersion}})
}

type clusterBindings struct {
	c rbacclient.ClusterRoleBindingInterface
}

func (r clusterBindings) list(ctx context.Context) ([]binding, error) {
	l, err := r.c.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []binding
	for i := range l.Items {
		out = append(out, fromClusterRoleBinding(&l.Items[i]))
	}
	return out, nil
}

func (r clusterBindings) get(ctx context.Context, name string) (binding, error) {
	b, err := r.c.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return binding{}, err
	}
	return fromClusterRoleBinding(b), nil
}

func fromClusterRoleBinding(b *rbacv1.ClusterRoleBinding) binding {
	return binding{name: b.Name, roleRef: b.RoleRef, subjects: b.Subjects, annotations: b.Annotations, obj: b}
}

func (r clusterBindings) create(ctx context.Context, b binding) error {
	_, err := r.c.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: b.name}, RoleRef: b.roleRef, Subjects: b.subjects}, metav1.CreateOptions{})
	return err
}

func (r clusterBindings) update(ctx context.Context, b binding) error {
	crb := b.obj.(*rbacv1.ClusterRoleBinding).DeepCopy()
	crb.Subjects, crb.Annotations = b.subjects, b.annotations
	_, err := r.c.Update(ctx, crb, metav1.UpdateOptions{})
	return err
}

func (r clusterBindings) delete(ctx context.Context, b binding) error {
	crb := b.obj.(*rbacv1.ClusterRoleBinding)
	return r.c.Delete(ctx, b.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &crb.UID, ResourceVersion: &crb.ResourceVersion}})
}
