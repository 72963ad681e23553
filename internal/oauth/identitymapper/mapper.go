// Package identitymapper maps the identity a provider asserted at login to a Gantry user, creating
// the User and Identity objects (user.openshift.io/v1) as the provider's mapping method says
// (seed 004, 4.10.8; OpenShift 3's mappingMethod):
//
//   - An Identity object named <provider>:<providerUserName> that exists must be mapped to a user
//     that still exists with the same UID and lists the identity; then that user logs in. An
//     identity that is not mapped, or mapped to a deleted (or deleted and re-created) user, is
//     refused, whatever the method.
//   - With no Identity object yet, the user name is the identity's preferred user name, else its
//     provider user name:
//     claim (default): create the user; if a user of that name already exists without this
//     identity (even with no identity at all) the login is refused, so an identity cannot take
//     over an account made for someone else.
//     lookup: refuse; an administrator creates users, identities and mappings.
//     generate: create the user, or name2, name3, ... when the name is taken by a user without
//     this identity.
//     add: create the user, or add the identity to the existing user of that name.
//     Then the Identity is created pointing to the user.
//
// The user is written before the identity, so a login interrupted between the two is completed by
// the next one. Concurrent first logins are safe: creations that lose a race (AlreadyExists) and
// stale updates (Conflict) start the mapping again.
package identitymapper

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	userv1 "github.com/openshift/api/user/v1"
	userv1client "github.com/openshift/client-go/user/clientset/versioned/typed/user/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/oauth/idp"
)

// Keys of Identity.extra, as OpenShift names them.
const (
	ExtraName              = "name"
	ExtraEmail             = "email"
	ExtraPreferredUsername = "preferred_username"
)

const (
	// attempts bounds how often a mapping restarts after losing a race.
	attempts = 5
	// generateLimit bounds the names generate tries (name, name2, ... name100).
	generateLimit = 100
)

// Mapper maps identities through the user.openshift.io API.
type Mapper struct {
	client userv1client.UserV1Interface
}

var _ idp.Mapper = (*Mapper)(nil)

// New returns a Mapper using client.
func New(client userv1client.UserV1Interface) idp.Mapper {
	return &Mapper{client: client}
}

// RefusedError means the login is refused by the mapping rules (not by a failure): the identity is
// not mapped, is mapped to a user that is gone, or its user name is taken. Reason is written for
// the administrator; tell the person logging in only that the login was refused.
type RefusedError struct {
	Identity string
	Reason   string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("identity %q cannot log in: %s", e.Identity, e.Reason)
}

// IsRefused reports whether err is a RefusedError.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// Map returns the user the identity logs in as, creating objects as mappingMethod says.
func (m *Mapper) Map(ctx context.Context, id *idp.Identity, mappingMethod string) (string, string, error) {
	if id == nil || id.ProviderName == "" || id.ProviderUserName == "" {
		return "", "", errors.New("map identity: the identity has no provider name or provider user name")
	}
	if mappingMethod == "" {
		mappingMethod = idp.MappingClaim
	}
	if !slices.Contains(idp.MappingMethods, mappingMethod) {
		return "", "", fmt.Errorf("map identity: unknown mapping method %q (want one of %s)", mappingMethod, strings.Join(idp.MappingMethods, ", "))
	}
	name := id.ProviderName + ":" + id.ProviderUserName
	if msgs := path.ValidatePathSegmentName(name, false); len(msgs) > 0 || strings.Count(name, ":") != 1 {
		return "", "", &RefusedError{Identity: name, Reason: fmt.Sprintf("the provider user name %q cannot be part of an identity name <provider>:<user> (it may not contain '/', '%%' or ':'); configure the provider's id attributes or claims", id.ProviderUserName)}
	}
	var err error
	for range attempts {
		var u *userv1.User
		u, err = m.mapOnce(ctx, id, name, mappingMethod)
		if err == nil {
			return u.Name, string(u.UID), nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			return "", "", err
		}
	}
	return "", "", fmt.Errorf("map identity %q: concurrent changes kept conflicting after %d attempts: %w", name, attempts, err)
}

func (m *Mapper) mapOnce(ctx context.Context, id *idp.Identity, name, method string) (*userv1.User, error) {
	identity, err := m.client.Identities().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return m.mappedUser(ctx, identity)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("read identity %q: %w", name, err)
	case method == idp.MappingLookup:
		return nil, &RefusedError{Identity: name, Reason: fmt.Sprintf("the provider maps identities by lookup and no identity %q exists; an administrator creates the user, the identity and the mapping (oc create user NAME; oc create identity %s; oc create useridentitymapping %s NAME)", name, name, name)}
	}

	preferred := id.PreferredUserName
	if preferred == "" {
		preferred = id.ProviderUserName
	}
	var u *userv1.User
	switch method {
	case idp.MappingClaim:
		u, err = m.claim(ctx, preferred, name, id)
	case idp.MappingAdd:
		u, err = m.add(ctx, preferred, name, id)
	case idp.MappingGenerate:
		u, err = m.generate(ctx, preferred, name, id)
	}
	if err != nil {
		return nil, err
	}
	identity = &userv1.Identity{
		ObjectMeta:       metav1.ObjectMeta{Name: name},
		ProviderName:     id.ProviderName,
		ProviderUserName: id.ProviderUserName,
		Extra:            extra(id),
		User:             corev1.ObjectReference{Name: u.Name, UID: u.UID},
	}
	if _, err := m.client.Identities().Create(ctx, identity, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, err // another login created it: map again through it
		}
		return nil, fmt.Errorf("create identity %q: %w", name, err)
	}
	return u, nil
}

// mappedUser is the user an existing identity is mapped to, if the mapping is sound.
func (m *Mapper) mappedUser(ctx context.Context, identity *userv1.Identity) (*userv1.User, error) {
	name := identity.Name
	if identity.User.Name == "" {
		return nil, &RefusedError{Identity: name, Reason: fmt.Sprintf("the identity exists but is not mapped to a user; an administrator can map it (oc create useridentitymapping %s USER) or delete it (oc delete identity %s)", name, name)}
	}
	u, err := m.client.Users().Get(ctx, identity.User.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, &RefusedError{Identity: name, Reason: fmt.Sprintf("it is mapped to user %q, which no longer exists; an administrator must delete the identity (oc delete identity %s) or map it to another user", identity.User.Name, name)}
	case err != nil:
		return nil, fmt.Errorf("read user %q of identity %q: %w", identity.User.Name, name, err)
	case u.UID != identity.User.UID:
		return nil, &RefusedError{Identity: name, Reason: fmt.Sprintf("it is mapped to an earlier user named %q (UID %s, now %s) that was deleted and created again; an administrator must delete the identity (oc delete identity %s) or map it again (oc create useridentitymapping %s %s)", u.Name, identity.User.UID, u.UID, name, name, u.Name)}
	case !slices.Contains(u.Identities, name):
		return nil, &RefusedError{Identity: name, Reason: fmt.Sprintf("user %q does not list it among its identities; an administrator can map it again (oc create useridentitymapping %s %s)", u.Name, name, u.Name)}
	}
	return u, nil
}

// newUser is the user created for identity name.
func newUser(userName, identityName string, id *idp.Identity) *userv1.User {
	return &userv1.User{ObjectMeta: metav1.ObjectMeta{Name: userName}, FullName: id.Name, Identities: []string{identityName}}
}

func (m *Mapper) createUser(ctx context.Context, userName, identityName string, id *idp.Identity) (*userv1.User, error) {
	u, err := m.client.Users().Create(ctx, newUser(userName, identityName, id), metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil, err
	case apierrors.IsInvalid(err):
		return nil, &RefusedError{Identity: identityName, Reason: fmt.Sprintf("%q is not a valid user name (%v); configure the provider's preferred user name attributes or claims, or map the identity by lookup", userName, err)}
	case err != nil:
		return nil, fmt.Errorf("create user %q for identity %q: %w", userName, identityName, err)
	}
	return u, nil
}

// userFor is what every mapping method does first with user userName: create it when there is
// none, or take it when it already lists the identity (a login that stopped between the user and
// the identity); done is true then, or err is set. Otherwise u is the existing user, which does
// not list the identity, for the method to decide.
func (m *Mapper) userFor(ctx context.Context, userName, identityName string, id *idp.Identity) (u *userv1.User, done bool, err error) {
	u, err = m.client.Users().Get(ctx, userName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		u, err = m.createUser(ctx, userName, identityName, id)
		return u, true, err
	case err != nil:
		return nil, true, fmt.Errorf("read user %q: %w", userName, err)
	case slices.Contains(u.Identities, identityName):
		return u, true, nil
	}
	return u, false, nil
}

// claim creates the user, or takes the existing user only when it already lists the identity.
func (m *Mapper) claim(ctx context.Context, userName, identityName string, id *idp.Identity) (*userv1.User, error) {
	u, done, err := m.userFor(ctx, userName, identityName, id)
	if done {
		return u, err
	}
	has := "no identities"
	if len(u.Identities) > 0 {
		has = "identities " + strings.Join(u.Identities, ", ")
	}
	return nil, &RefusedError{Identity: identityName, Reason: fmt.Sprintf("user %q already exists with %s and the provider's mapping method claim does not take over existing users; an administrator can map the identity to it (oc create useridentitymapping %s %s), or set the provider's mappingMethod to add or generate", userName, has, identityName, userName)}
}

// add creates the user, or adds the identity to the existing one.
func (m *Mapper) add(ctx context.Context, userName, identityName string, id *idp.Identity) (*userv1.User, error) {
	u, done, err := m.userFor(ctx, userName, identityName, id)
	if done {
		return u, err
	}
	u = u.DeepCopy()
	u.Identities = append(u.Identities, identityName)
	if len(u.Identities) == 1 && u.FullName == "" {
		u.FullName = id.Name
	}
	updated, err := m.client.Users().Update(ctx, u, metav1.UpdateOptions{})
	switch {
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		return nil, apierrors.NewConflict(userv1.Resource("users"), userName, err) // read again
	case err != nil:
		return nil, fmt.Errorf("add identity %q to user %q: %w", identityName, userName, err)
	}
	return updated, nil
}

// generate creates a user named userName, or userName2, userName3, ... for the first free name.
func (m *Mapper) generate(ctx context.Context, userName, identityName string, id *idp.Identity) (*userv1.User, error) {
	for i := range generateLimit {
		candidate := userName
		if i > 0 {
			candidate += strconv.Itoa(i + 1)
		}
		u, done, err := m.userFor(ctx, candidate, identityName, id)
		switch {
		case apierrors.IsAlreadyExists(err):
			continue // created meanwhile: try the next name
		case done:
			return u, err
		}
	}
	return nil, &RefusedError{Identity: identityName, Reason: fmt.Sprintf("the names %s to %s%d are all taken", userName, userName, generateLimit)}
}

func extra(id *idp.Identity) map[string]string {
	e := map[string]string{}
	for k, v := range map[string]string{ExtraName: id.Name, ExtraEmail: id.Email, ExtraPreferredUsername: id.PreferredUserName} {
		if v != "" {
			e[k] = v
		}
	}
	if len(e) == 0 {
		return nil
	}
	return e
}
