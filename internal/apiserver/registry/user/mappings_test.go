package user

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	userv1 "github.com/openshift/api/user/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/generic"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// The real storages satisfy MappingStore.
var (
	_ MappingStore = (*genericregistry.Store)(nil)
	_ MappingStore = (*generic.REST)(nil)
)

// fakeStore is an in-memory store running the resource's update validation, with resource
// versions, UID preconditions and unchanged updates writing nothing, as registry.Store does.
type fakeStore struct {
	mu   sync.Mutex
	def  resource.Definition
	objs map[string]runtime.Object
	rv   *int
	// beforeUpdate, when set, runs before an update of name reads the object (a concurrent writer
	// or a failure); a non-nil error fails the update.
	beforeUpdate func(name string, objs map[string]runtime.Object) error
	writes       int
}

func (f *fakeStore) Get(_ context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.objs[name]
	if !ok {
		return nil, apierrors.NewNotFound(userv1.Resource(f.def.Resource), name)
	}
	return obj.DeepCopyObject(), nil
}

func (f *fakeStore) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, _ rest.ValidateObjectUpdateFunc, _ bool, _ *metav1.UpdateOptions) (runtime.Object, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.beforeUpdate != nil {
		if err := f.beforeUpdate(name, f.objs); err != nil {
			return nil, false, err
		}
	}
	cur, ok := f.objs[name]
	if !ok {
		return nil, false, apierrors.NewNotFound(userv1.Resource(f.def.Resource), name)
	}
	cm, _ := meta.Accessor(cur)
	if p := objInfo.Preconditions(); p != nil && p.UID != nil && *p.UID != cm.GetUID() {
		return nil, false, apierrors.NewConflict(userv1.Resource(f.def.Resource), name, errors.New("Precondition failed: UID"))
	}
	next, err := objInfo.UpdatedObject(ctx, cur.DeepCopyObject())
	if err != nil {
		return nil, false, err
	}
	if apiequality.Semantic.DeepEqual(next, cur) {
		return cur.DeepCopyObject(), false, nil
	}
	if errs := f.def.ValidateUpdate(ctx, next, cur); len(errs) > 0 {
		return nil, false, apierrors.NewInvalid(schema.GroupKind{Group: userv1.GroupName, Kind: f.def.Kind}, name, errs)
	}
	*f.rv++
	nm, _ := meta.Accessor(next)
	nm.SetResourceVersion(strconv.Itoa(*f.rv))
	f.objs[name] = next.DeepCopyObject()
	f.writes++
	return next, false, nil
}

type fixture struct {
	users, identities *fakeStore
	rest              *MappingREST
	rv                int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	f.users = &fakeStore{def: userDefinition(), objs: map[string]runtime.Object{}, rv: &f.rv}
	f.identities = &fakeStore{def: identityDefinition(), objs: map[string]runtime.Object{}, rv: &f.rv}
	f.rest = NewMappingREST(f.users, f.identities)
	return f
}

// newUnmappedFixture holds user alice and identity htpasswd:alice, not mapped to each other.
func newUnmappedFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.addUser("alice")
	f.addIdentity("htpasswd:alice", "", "")
	return f
}

func (f *fixture) addUser(name string, identities ...string) *userv1.User {
	f.rv++
	u := &userv1.User{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), ResourceVersion: strconv.Itoa(f.rv)}, Identities: identities}
	f.users.objs[name] = u
	return u
}

func (f *fixture) addIdentity(name, userName string, userUID types.UID) *userv1.Identity {
	f.rv++
	provider, providerUser, _ := strings.Cut(name, ":")
	id := &userv1.Identity{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), ResourceVersion: strconv.Itoa(f.rv)},
		ProviderName: provider, ProviderUserName: providerUser, User: corev1.ObjectReference{Name: userName, UID: userUID}}
	f.identities.objs[name] = id
	return id
}

func (f *fixture) user(t *testing.T, name string) *userv1.User {
	t.Helper()
	obj, err := f.users.Get(context.Background(), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*userv1.User)
}

func (f *fixture) identity(t *testing.T, name string) *userv1.Identity {
	t.Helper()
	obj, err := f.identities.Get(context.Background(), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*userv1.Identity)
}

func mapping(identity, user string) *userv1.UserIdentityMapping {
	return &userv1.UserIdentityMapping{Identity: corev1.ObjectReference{Name: identity}, User: corev1.ObjectReference{Name: user}}
}

func put(m *userv1.UserIdentityMapping) rest.UpdatedObjectInfo {
	return rest.DefaultUpdatedObjectInfo(m)
}

// assertMapped checks the stored objects of a mapping from identity to user.
func (f *fixture) assertMapped(t *testing.T, identity, user string) {
	t.Helper()
	u, id := f.user(t, user), f.identity(t, identity)
	if id.User.Name != user || id.User.UID != u.UID || !slices.Contains(u.Identities, identity) {
		t.Errorf("identity %s points to %+v, user %s lists %v; want them linked", identity, id.User, user, u.Identities)
	}
	got, err := f.rest.Get(context.Background(), identity, &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get mapping: %v", err)
	}
	m := got.(*userv1.UserIdentityMapping)
	if m.Name != identity || m.Identity.Name != identity || m.Identity.UID != id.UID || m.User.Name != user || m.User.UID != u.UID || m.ResourceVersion != id.ResourceVersion {
		t.Errorf("mapping %+v does not match identity %+v and user %+v", m, id, u)
	}
}

// assertNoMapping checks that identity has no mapping (what: the situation, for the message).
func (f *fixture) assertNoMapping(t *testing.T, identity, what string) {
	t.Helper()
	if _, err := f.rest.Get(context.Background(), identity, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get in %s: %v, want NotFound", what, err)
	}
}

func TestMappingCreateGetDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.addUser("alice", "github:alice")
	f.addIdentity("htpasswd:alice", "", "")

	f.assertNoMapping(t, "htpasswd:alice", "an unmapped identity")
	// As `oc create useridentitymapping htpasswd:alice alice` sends it: no metadata.name.
	var admitted runtime.Object
	obj, err := f.rest.Create(ctx, mapping("htpasswd:alice", "alice"), func(_ context.Context, o runtime.Object) error { admitted = o; return nil }, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := obj.(*userv1.UserIdentityMapping); m.Name != "htpasswd:alice" || m.User.UID != "uid-alice" || m.Identity.UID != "uid-htpasswd:alice" {
		t.Errorf("created %+v", m)
	}
	if admitted == nil || admitted.(*userv1.UserIdentityMapping).Name != "htpasswd:alice" {
		t.Errorf("admission saw %+v", admitted)
	}
	f.assertMapped(t, "htpasswd:alice", "alice")
	if got := f.user(t, "alice").Identities; !slices.Equal(got, []string{"github:alice", "htpasswd:alice"}) {
		t.Errorf("alice lists %v", got)
	}

	if _, err := f.rest.Create(ctx, mapping("htpasswd:alice", "alice"), nil, &metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}

	if _, deleted, err := f.rest.Delete(ctx, "htpasswd:alice", nil, &metav1.DeleteOptions{}); err != nil || !deleted {
		t.Fatalf("delete: %v %v", deleted, err)
	}
	if id := f.identity(t, "htpasswd:alice"); id.User.Name != "" || id.User.UID != "" {
		t.Errorf("identity still points to %+v", id.User)
	}
	if got := f.user(t, "alice").Identities; !slices.Equal(got, []string{"github:alice"}) {
		t.Errorf("alice lists %v after the delete", got)
	}
	f.assertNoMapping(t, "htpasswd:alice", "a deleted mapping")
	if _, _, err := f.rest.Delete(ctx, "htpasswd:alice", nil, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
}

func TestMappingCreateRefusesBadRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newUnmappedFixture(t)
	tests := []struct {
		name string
		m    *userv1.UserIdentityMapping
		want []string
	}{
		{"unknown identity", mapping("htpasswd:nobody", "alice"), []string{"identity.name", "oc create identity htpasswd:nobody"}},
		{"unknown user", mapping("htpasswd:alice", "nobody"), []string{"user.name", "oc create user nobody"}},
		{"invalid fields", mapping("htpasswd", "a:b"), []string{`identity.name: Invalid value: "htpasswd"`, `user.name: Invalid value: "a:b"`}},
		{"empty", mapping("", ""), []string{"identity.name: Required", "user.name: Required"}},
		{"name is not the identity", &userv1.UserIdentityMapping{ObjectMeta: metav1.ObjectMeta{Name: "htpasswd:bob"}, Identity: corev1.ObjectReference{Name: "htpasswd:alice"}, User: corev1.ObjectReference{Name: "alice"}}, []string{"metadata.name"}},
	}
	for _, tc := range tests {
		_, err := f.rest.Create(ctx, tc.m, nil, &metav1.CreateOptions{})
		for _, w := range tc.want {
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want Invalid saying %q", tc.name, err, w)
			}
		}
	}
	if f.users.writes+f.identities.writes != 0 {
		t.Errorf("refused creates wrote %d objects", f.users.writes+f.identities.writes)
	}
	denied := errors.New("denied by admission")
	if _, err := f.rest.Create(ctx, mapping("htpasswd:alice", "alice"), func(context.Context, runtime.Object) error { return denied }, &metav1.CreateOptions{}); !errors.Is(err, denied) {
		t.Errorf("admission: %v", err)
	}
}

func TestMappingUpdateMovesTheIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.addUser("alice", "htpasswd:alice")
	f.addUser("bob", "github:bob")
	f.addIdentity("htpasswd:alice", "alice", "uid-alice")
	f.assertMapped(t, "htpasswd:alice", "alice")

	cur, _ := f.rest.Get(ctx, "htpasswd:alice", &metav1.GetOptions{})
	m := cur.(*userv1.UserIdentityMapping).DeepCopy()
	m.User = corev1.ObjectReference{Name: "bob"}
	obj, created, err := f.rest.Update(ctx, "htpasswd:alice", put(m), nil, nil, false, &metav1.UpdateOptions{})
	if err != nil || created {
		t.Fatalf("update: created=%v err=%v", created, err)
	}
	if got := obj.(*userv1.UserIdentityMapping).User; got.Name != "bob" || got.UID != "uid-bob" {
		t.Errorf("update answered user %+v", got)
	}
	f.assertMapped(t, "htpasswd:alice", "bob")
	if got := f.user(t, "alice").Identities; len(got) != 0 {
		t.Errorf("alice still lists %v", got)
	}
	if got := f.user(t, "bob").Identities; !slices.Equal(got, []string{"github:bob", "htpasswd:alice"}) {
		t.Errorf("bob lists %v", got)
	}

	// The same user again writes nothing.
	writes := f.users.writes + f.identities.writes
	again, _ := f.rest.Get(ctx, "htpasswd:alice", &metav1.GetOptions{})
	if _, _, err := f.rest.Update(ctx, "htpasswd:alice", put(again.(*userv1.UserIdentityMapping)), nil, nil, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if f.users.writes+f.identities.writes != writes {
		t.Error("an update to the same user wrote objects")
	}

	// A stale resourceVersion is a conflict.
	m.User.Name = "alice"
	if _, _, err := f.rest.Update(ctx, "htpasswd:alice", put(m), nil, nil, false, &metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: %v, want Conflict", err)
	}
	f.assertMapped(t, "htpasswd:alice", "bob")
}

func TestMappingUpdateCreatesAMissingMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newUnmappedFixture(t)
	var created bool
	var admitted bool
	m := mapping("htpasswd:alice", "alice")
	_, created, err := f.rest.Update(ctx, "htpasswd:alice", put(m), func(context.Context, runtime.Object) error { admitted = true; return nil }, nil, true, &metav1.UpdateOptions{})
	if err != nil || !created || !admitted {
		t.Fatalf("created=%v admitted=%v err=%v", created, admitted, err)
	}
	f.assertMapped(t, "htpasswd:alice", "alice")
	named := mapping("htpasswd:alice", "alice")
	named.Name = "htpasswd:alice"
	if _, _, err := f.rest.Update(ctx, "other:name", put(named), nil, nil, true, &metav1.UpdateOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("body named for another mapping: %v, want BadRequest", err)
	}
	if _, _, err := f.rest.Update(ctx, "other:name", put(mapping("htpasswd:alice", "alice")), nil, nil, true, &metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("body for another identity: %v, want Invalid metadata.name", err)
	}
}

func TestMappingRepairsABrokenIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	// alice was deleted and created again: the identity still has the old UID.
	f.addUser("alice", "htpasswd:alice")
	f.addIdentity("htpasswd:alice", "alice", "uid-of-the-deleted-alice")
	f.assertNoMapping(t, "htpasswd:alice", "a broken mapping")
	if _, _, err := f.rest.Delete(ctx, "htpasswd:alice", nil, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("delete of a broken mapping: %v, want NotFound", err)
	}
	if _, err := f.rest.Create(ctx, mapping("htpasswd:alice", "alice"), nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.assertMapped(t, "htpasswd:alice", "alice")
}

func TestMappingCreateIsReentrant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newUnmappedFixture(t)
	broken := errors.New("etcd went away")
	f.identities.beforeUpdate = func(string, map[string]runtime.Object) error { return broken }
	if _, err := f.rest.Create(ctx, mapping("htpasswd:alice", "alice"), nil, &metav1.CreateOptions{}); !errors.Is(err, broken) {
		t.Fatalf("create with a failing identity update: %v", err)
	}
	// Half done: the user lists the identity, the identity does not point to it: no mapping.
	if got := f.user(t, "alice").Identities; !slices.Equal(got, []string{"htpasswd:alice"}) {
		t.Errorf("alice lists %v", got)
	}
	f.assertNoMapping(t, "htpasswd:alice", "a half-done mapping")
	f.identities.beforeUpdate = nil
	if _, err := f.rest.Create(ctx, mapping("htpasswd:alice", "alice"), nil, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("second try: %v", err)
	}
	f.assertMapped(t, "htpasswd:alice", "alice")
	if got := f.user(t, "alice").Identities; !slices.Equal(got, []string{"htpasswd:alice"}) {
		t.Errorf("alice lists %v, want the identity once", got)
	}
}

func TestMappingRefusesAUserReplacedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newUnmappedFixture(t)
	// Between the mapping's read of alice and its write, alice is deleted and created again.
	f.users.beforeUpdate = func(name string, objs map[string]runtime.Object) error {
		u := objs[name].(*userv1.User).DeepCopy()
		u.UID = "uid-new-alice"
		objs[name] = u
		return nil
	}
	if _, err := f.rest.Create(ctx, mapping("htpasswd:alice", "alice"), nil, &metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("create: %v, want Conflict", err)
	}
	if id := f.identity(t, "htpasswd:alice"); id.User.Name != "" {
		t.Errorf("identity points to %+v", id.User)
	}
}

func TestMappingStorageMetadata(t *testing.T) {
	t.Parallel()
	r := NewMappingREST(nil, nil)
	if r.NamespaceScoped() || r.GetSingularName() != "useridentitymapping" {
		t.Errorf("scope %v, singular %q", r.NamespaceScoped(), r.GetSingularName())
	}
	if _, ok := r.New().(*userv1.UserIdentityMapping); !ok {
		t.Errorf("New() is a %T", r.New())
	}
}
