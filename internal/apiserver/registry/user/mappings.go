package user

import (
	"context"
	"fmt"
	"slices"

	userv1 "github.com/openshift/api/user/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"
)

// MappingStore is the part of a registry store the mappings use; generic.REST (and
// k8s.io/apiserver's registry.Store) satisfy it.
type MappingStore interface {
	Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error)
	Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error)
}

// MappingREST serves useridentitymappings (seed 004, 4.10.8.3): a virtual resource named like the
// identity it maps, made of an Identity and the User it points to. It has no storage of its own:
//
//   - get NAME returns the mapping when identity NAME points to a user that exists with the same
//     UID and lists the identity; otherwise the mapping does not exist (NotFound).
//   - create (and update, which may also create) points the identity to user.name: the new user
//     gets the identity in its identities, then the identity gets the user's name and UID, then
//     the previous user, if any, loses the identity. Each step is re-entrant: a request that fails
//     halfway can be sent again. Mapping to the user already mapped changes nothing.
//   - delete removes the identity from its user, then clears the identity's user.
//
// The identity and the user must exist; an unknown one is an Invalid error on identity.name or
// user.name. Every write goes through the stores' optimistic concurrency with the UID read as
// precondition, so a user deleted and created again meanwhile is a Conflict, never a wrong link.
type MappingREST struct {
	users, identities MappingStore
}

var (
	_ rest.Storage              = (*MappingREST)(nil)
	_ rest.Scoper               = (*MappingREST)(nil)
	_ rest.SingularNameProvider = (*MappingREST)(nil)
	_ rest.Getter               = (*MappingREST)(nil)
	_ rest.Creater              = (*MappingREST)(nil)
	_ rest.Updater              = (*MappingREST)(nil)
	_ rest.GracefulDeleter      = (*MappingREST)(nil)
	_ rest.TableConvertor       = (*MappingREST)(nil)
)

var (
	mappingResource = userv1.Resource("useridentitymappings")
	mappingKind     = schema.GroupKind{Group: userv1.GroupName, Kind: "UserIdentityMapping"}
)

// NewMappingREST returns the storage of useridentitymappings over the users and identities stores.
func NewMappingREST(users, identities MappingStore) *MappingREST {
	return &MappingREST{users: users, identities: identities}
}

func (r *MappingREST) New() runtime.Object     { return &userv1.UserIdentityMapping{} }
func (r *MappingREST) Destroy()                {}
func (r *MappingREST) NamespaceScoped() bool   { return false }
func (r *MappingREST) GetSingularName() string { return "useridentitymapping" }

// ConvertToTable prints name, identity and user.
func (r *MappingREST) ConvertToTable(ctx context.Context, obj, opts runtime.Object) (*metav1.Table, error) {
	return rest.NewDefaultTableConvertor(mappingResource).ConvertToTable(ctx, obj, opts)
}

// related is what a mapping is made of.
type related struct {
	identity *userv1.Identity
	// user is the user the identity points to, if it exists (even when the mapping is broken).
	user    *userv1.User
	mapping *userv1.UserIdentityMapping
	// identityErr is the error reading the identity; mappingErr is NotFound when there is no
	// sound mapping.
	identityErr, mappingErr error
}

func (r *MappingREST) related(ctx context.Context, name string) (*related, error) {
	rel := &related{}
	obj, err := r.identities.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		rel.identityErr, rel.mappingErr = err, apierrors.NewNotFound(mappingResource, name)
		return rel, nil
	}
	id, ok := obj.(*userv1.Identity)
	if !ok {
		return nil, fmt.Errorf("identity storage returned %T", obj)
	}
	rel.identity = id
	if id.User.Name == "" {
		rel.mappingErr = apierrors.NewNotFound(mappingResource, name)
		return rel, nil
	}
	obj, err = r.users.Get(ctx, id.User.Name, &metav1.GetOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		rel.mappingErr = apierrors.NewNotFound(mappingResource, name)
		return rel, nil
	}
	u, ok := obj.(*userv1.User)
	if !ok {
		return nil, fmt.Errorf("user storage returned %T", obj)
	}
	rel.user = u
	if u.UID != id.User.UID || !slices.Contains(u.Identities, id.Name) {
		rel.mappingErr = apierrors.NewNotFound(mappingResource, name)
		return rel, nil
	}
	rel.mapping = mappingFor(u, id)
	return rel, nil
}

func mappingFor(u *userv1.User, id *userv1.Identity) *userv1.UserIdentityMapping {
	return &userv1.UserIdentityMapping{
		ObjectMeta: metav1.ObjectMeta{Name: id.Name, UID: id.UID, ResourceVersion: id.ResourceVersion, CreationTimestamp: id.CreationTimestamp},
		Identity:   corev1.ObjectReference{Name: id.Name, UID: id.UID},
		User:       corev1.ObjectReference{Name: u.Name, UID: u.UID},
	}
}

// Get returns the mapping of identity name.
func (r *MappingREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	rel, err := r.related(ctx, name)
	if err != nil {
		return nil, err
	}
	if rel.mappingErr != nil {
		return nil, rel.mappingErr
	}
	return rel.mapping, nil
}

// validateMapping checks a mapping a client sent.
func validateMapping(m *userv1.UserIdentityMapping) field.ErrorList {
	errs := validateReference(field.NewPath("identity", "name"), m.Identity.Name, ValidateIdentityName,
		"must name the identity to map (<providerName>:<providerUserName>)")
	if m.Identity.Name != "" && m.Name != m.Identity.Name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), m.Name, fmt.Sprintf("must be the identity's name %q", m.Identity.Name)))
	}
	return append(errs, validateReference(field.NewPath("user", "name"), m.User.Name, ValidateUserName,
		"must name the user to map the identity to")...)
}

// validateReference checks the name of an object a mapping refers to: required (missing says
// what to name), and valid as validate says.
func validateReference(fld *field.Path, name string, validate func(string, bool) []string, missing string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fld, missing)}
	}
	var errs field.ErrorList
	for _, msg := range validate(name, false) {
		errs = append(errs, field.Invalid(fld, name, msg))
	}
	return errs
}

// Create maps an identity that has no mapping yet.
func (r *MappingREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	m, ok := obj.(*userv1.UserIdentityMapping)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected a UserIdentityMapping, got %T", obj))
	}
	if m.ResourceVersion != "" {
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	// oc create useridentitymapping sends no name: the mapping is named after its identity.
	if m.Name == "" {
		m.Name = m.Identity.Name
	}
	if errs := validateMapping(m); len(errs) > 0 {
		return nil, apierrors.NewInvalid(mappingKind, m.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, m.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	out, _, err := r.createOrUpdate(ctx, m, true)
	return out, err
}

// Update points the identity to another user, or maps it if it has no mapping.
func (r *MappingREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, _ *metav1.UpdateOptions) (runtime.Object, bool, error) {
	rel, err := r.related(ctx, name)
	if err != nil {
		return nil, false, err
	}
	var old runtime.Object = &userv1.UserIdentityMapping{}
	if rel.mapping != nil {
		old = rel.mapping
	}
	obj, err := objInfo.UpdatedObject(ctx, old.DeepCopyObject())
	if err != nil {
		return nil, false, err
	}
	m, ok := obj.(*userv1.UserIdentityMapping)
	if !ok {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("expected a UserIdentityMapping, got %T", obj))
	}
	if m.Name == "" {
		m.Name = name
	}
	if m.Name != name {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the name in the body (%q) does not match the name in the URL (%q)", m.Name, name))
	}
	if errs := validateMapping(m); len(errs) > 0 {
		return nil, false, apierrors.NewInvalid(mappingKind, m.Name, errs)
	}
	if rel.mapping == nil {
		if createValidation != nil {
			if err := createValidation(ctx, m.DeepCopyObject()); err != nil {
				return nil, false, err
			}
		}
	} else if updateValidation != nil {
		if err := updateValidation(ctx, m.DeepCopyObject(), rel.mapping.DeepCopyObject()); err != nil {
			return nil, false, err
		}
	}
	return r.createOrUpdate(ctx, m, false)
}

func (r *MappingREST) createOrUpdate(ctx context.Context, m *userv1.UserIdentityMapping, forceCreate bool) (runtime.Object, bool, error) {
	rel, err := r.related(ctx, m.Name)
	if err != nil {
		return nil, false, err
	}
	if forceCreate && rel.mapping != nil {
		return nil, false, apierrors.NewAlreadyExists(mappingResource, m.Name)
	}
	creating := rel.mapping == nil
	if creating {
		if m.ResourceVersion != "" {
			return nil, false, apierrors.NewNotFound(mappingResource, m.Name)
		}
	} else {
		if m.ResourceVersion != "" && m.ResourceVersion != rel.mapping.ResourceVersion {
			return nil, false, apierrors.NewConflict(mappingResource, m.Name, fmt.Errorf("the mapping changed (resourceVersion %s, not %s); read it again", rel.mapping.ResourceVersion, m.ResourceVersion))
		}
		if m.User.Name == rel.mapping.User.Name {
			return rel.mapping, false, nil
		}
	}
	if rel.identity == nil {
		return nil, false, apierrors.NewInvalid(mappingKind, m.Name, field.ErrorList{
			field.Invalid(field.NewPath("identity", "name"), m.Identity.Name, "the identity does not exist; create it first (oc create identity "+m.Identity.Name+")"),
		})
	}
	obj, err := r.users.Get(ctx, m.User.Name, &metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, apierrors.NewInvalid(mappingKind, m.Name, field.ErrorList{
			field.Invalid(field.NewPath("user", "name"), m.User.Name, "the user does not exist; create it first (oc create user "+m.User.Name+")"),
		})
	}
	if err != nil {
		return nil, false, err
	}
	newUser, ok := obj.(*userv1.User)
	if !ok {
		return nil, false, fmt.Errorf("user storage returned %T", obj)
	}
	identityName := rel.identity.Name

	// 1. The new user lists the identity. If a later step fails, sending the request again works.
	newUser, err = updateUser(ctx, r.users, newUser.Name, newUser.UID, func(u *userv1.User) bool {
		if slices.Contains(u.Identities, identityName) {
			return false
		}
		u.Identities = append(u.Identities, identityName)
		return true
	})
	if err != nil {
		return nil, false, err
	}
	// 2. The identity points to it: from here on, the identity logs in as the new user.
	identity, err := updateIdentity(ctx, r.identities, identityName, rel.identity.UID, func(id *userv1.Identity) bool {
		if id.User.Name == newUser.Name && id.User.UID == newUser.UID {
			return false
		}
		id.User = corev1.ObjectReference{Name: newUser.Name, UID: newUser.UID}
		return true
	})
	if err != nil {
		return nil, false, err
	}
	// 3. The previous user forgets the identity. The mapping has already moved: a failure here
	// only leaves a stale entry in that user's identities, which never logs anyone in.
	if old := rel.user; old != nil && old.Name != newUser.Name {
		if _, err := updateUser(ctx, r.users, old.Name, old.UID, removeIdentity(identityName)); err != nil {
			klog.FromContext(ctx).Error(err, "Remove the identity from the user it was mapped to before", "identity", identityName, "user", old.Name)
		}
	}
	return mappingFor(newUser, identity), creating, nil
}

func removeIdentity(identityName string) func(*userv1.User) bool {
	return func(u *userv1.User) bool {
		i := slices.Index(u.Identities, identityName)
		if i < 0 {
			return false
		}
		u.Identities = slices.Delete(u.Identities, i, i+1)
		return true
	}
}

// Delete unmaps the identity: its user forgets it, then it forgets its user.
func (r *MappingREST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, _ *metav1.DeleteOptions) (runtime.Object, bool, error) {
	rel, err := r.related(ctx, name)
	if err != nil {
		return nil, false, err
	}
	if rel.mappingErr != nil {
		return nil, false, rel.mappingErr
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, rel.mapping.DeepCopyObject()); err != nil {
			return nil, false, err
		}
	}
	if _, err := updateUser(ctx, r.users, rel.user.Name, rel.user.UID, removeIdentity(name)); err != nil {
		return nil, false, err
	}
	// The mapping no longer exists (the user does not list the identity); clearing the
	// identity's user is tidying up.
	if _, err := updateIdentity(ctx, r.identities, name, rel.identity.UID, func(id *userv1.Identity) bool {
		if id.User.Name == "" && id.User.UID == "" {
			return false
		}
		id.User = corev1.ObjectReference{}
		return true
	}); err != nil {
		klog.FromContext(ctx).Error(err, "Clear the user of an unmapped identity", "identity", name)
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, true, nil
}

func updateUser(ctx context.Context, s MappingStore, name string, uid types.UID, mutate func(*userv1.User) bool) (*userv1.User, error) {
	return update(ctx, s, name, uid, mutate)
}

func updateIdentity(ctx context.Context, s MappingStore, name string, uid types.UID, mutate func(*userv1.Identity) bool) (*userv1.Identity, error) {
	return update(ctx, s, name, uid, mutate)
}

// update applies mutate to the stored object named name, which must still have uid. The store
// calls it with the current object on every attempt; mutate returns false when nothing changes.
func update[T interface {
	runtime.Object
	*userv1.User | *userv1.Identity
}](ctx context.Context, s MappingStore, name string, uid types.UID, mutate func(T) bool) (T, error) {
	var zero T
	info := &mappingUpdate{uid: uid, fn: func(old runtime.Object) (runtime.Object, error) {
		cur, ok := old.(T)
		if !ok {
			return nil, fmt.Errorf("storage of %s returned %T", name, old)
		}
		next := cur.DeepCopyObject().(T)
		if !mutate(next) {
			return cur, nil // the store writes nothing for an unchanged object
		}
		return next, nil
	}}
	obj, _, err := s.Update(ctx, name, info, rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return zero, apierrors.NewConflict(mappingResource, name, fmt.Errorf("%s was deleted meanwhile; read the mapping again: %w", name, err))
		}
		return zero, err // a Conflict when it was replaced (another UID) meanwhile
	}
	out, ok := obj.(T)
	if !ok {
		return zero, fmt.Errorf("storage of %s returned %T", name, obj)
	}
	return out, nil
}

// mappingUpdate is a rest.UpdatedObjectInfo with a UID precondition.
type mappingUpdate struct {
	uid types.UID
	fn  func(old runtime.Object) (runtime.Object, error)
}

func (u *mappingUpdate) Preconditions() *metav1.Preconditions {
	return &metav1.Preconditions{UID: &u.uid}
}

func (u *mappingUpdate) UpdatedObject(_ context.Context, old runtime.Object) (runtime.Object, error) {
	return u.fn(old)
}
