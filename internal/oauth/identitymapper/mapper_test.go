package identitymapper

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	userv1 "github.com/openshift/api/user/v1"
	"github.com/openshift/client-go/user/clientset/versioned/fake"
	userv1client "github.com/openshift/client-go/user/clientset/versioned/typed/user/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gantry-dev/gantry/internal/oauth/idp"
)

// newClient is the openshift client-go fake with what the fake lacks of the API server: UIDs
// and resourceVersions on create, optimistic concurrency on update (a stale resourceVersion is a
// Conflict), and the user name rule (no ':').
func newClient(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	objs = slices.Clone(objs)
	for i := range objs {
		objs[i] = objs[i].DeepCopyObject()
		m, _ := meta.Accessor(objs[i])
		if m.GetUID() == "" {
			m.SetUID(types.UID("preloaded-" + m.GetName()))
		}
		m.SetResourceVersion(strconv.Itoa(i + 1))
	}
	c := fake.NewSimpleClientset(objs...)
	var mu sync.Mutex
	rv := len(objs)
	next := func() string { mu.Lock(); defer mu.Unlock(); rv++; return strconv.Itoa(rv) }
	c.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj := a.(clienttesting.CreateAction).GetObject()
		m, _ := meta.Accessor(obj)
		if u, ok := obj.(*userv1.User); ok && strings.Contains(u.Name, ":") {
			return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: userv1.GroupName, Kind: "User"}, u.Name,
				field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), u.Name, `may not contain ":"`)})
		}
		m.SetUID(types.UID(fmt.Sprintf("uid-%s-%s", a.GetResource().Resource, m.GetName())))
		m.SetResourceVersion(next())
		return false, nil, nil
	})
	c.PrependReactor("update", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj := a.(clienttesting.UpdateAction).GetObject()
		m, _ := meta.Accessor(obj)
		stored, err := c.Tracker().Get(a.GetResource(), "", m.GetName())
		if err != nil {
			return true, nil, err
		}
		sm, _ := meta.Accessor(stored)
		if sm.GetResourceVersion() != m.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), m.GetName(), fmt.Errorf("resourceVersion %s is stale", m.GetResourceVersion()))
		}
		m.SetResourceVersion(next())
		return false, nil, nil
	})
	return c
}

func user(name string, identities ...string) *userv1.User {
	return &userv1.User{ObjectMeta: metav1.ObjectMeta{Name: name}, Identities: identities}
}

func identity(name, userName string, userUID types.UID) *userv1.Identity {
	provider, providerUser, _ := strings.Cut(name, ":")
	return &userv1.Identity{ObjectMeta: metav1.ObjectMeta{Name: name}, ProviderName: provider, ProviderUserName: providerUser,
		User: corev1.ObjectReference{Name: userName, UID: userUID}}
}

var alice = &idp.Identity{ProviderName: "corp", ProviderUserName: "a1234", PreferredUserName: "alice", Name: "Alice Liddell", Email: "alice@example.com"}

// users lists the stored users by name.
func users(t *testing.T, c *fake.Clientset) map[string]*userv1.User {
	t.Helper()
	l, err := c.UserV1().Users().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*userv1.User{}
	for i := range l.Items {
		m[l.Items[i].Name] = &l.Items[i]
	}
	return m
}

func identities(t *testing.T, c *fake.Clientset) map[string]*userv1.Identity {
	t.Helper()
	l, err := c.UserV1().Identities().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*userv1.Identity{}
	for i := range l.Items {
		m[l.Items[i].Name] = &l.Items[i]
	}
	return m
}

func TestFirstLoginCreatesUserAndIdentity(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"", idp.MappingClaim, idp.MappingGenerate, idp.MappingAdd} {
		t.Run("method "+method, func(t *testing.T) {
			t.Parallel()
			c := newClient(t)
			m := New(c.UserV1())
			name, uid, err := m.Map(context.Background(), alice, method)
			if err != nil {
				t.Fatal(err)
			}
			u := users(t, c)["alice"]
			if name != "alice" || u == nil || uid != string(u.UID) || uid == "" {
				t.Fatalf("mapped to %q %q; stored users %v", name, uid, users(t, c))
			}
			if u.FullName != "Alice Liddell" || !slices.Equal(u.Identities, []string{"corp:a1234"}) {
				t.Errorf("user %+v; want full name and the identity", u)
			}
			id := identities(t, c)["corp:a1234"]
			want := map[string]string{"name": "Alice Liddell", "email": "alice@example.com", "preferred_username": "alice"}
			if id == nil || id.ProviderName != "corp" || id.ProviderUserName != "a1234" || id.User.Name != "alice" || id.User.UID != u.UID || !equalMaps(id.Extra, want) {
				t.Errorf("identity %+v", id)
			}

			// The next login uses the mapping and writes nothing.
			c.ClearActions()
			name2, uid2, err := m.Map(context.Background(), alice, method)
			if err != nil || name2 != name || uid2 != uid {
				t.Errorf("second login: %q %q %v", name2, uid2, err)
			}
			for _, a := range c.Actions() {
				if a.GetVerb() != "get" {
					t.Errorf("second login wrote: %s %s", a.GetVerb(), a.GetResource().Resource)
				}
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestProviderUserNameWhenNoPreferredName(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	name, _, err := New(c.UserV1()).Map(context.Background(), &idp.Identity{ProviderName: "htpasswd", ProviderUserName: "bob"}, idp.MappingClaim)
	if err != nil || name != "bob" {
		t.Fatalf("%q %v", name, err)
	}
	if id := identities(t, c)["htpasswd:bob"]; id == nil || id.Extra != nil {
		t.Errorf("identity %+v; want no extra", id)
	}
}

func TestClaimRefusesExistingUsers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing *userv1.User
		want     string
	}{
		{"user with another identity", user("alice", "github:alice"), `user "alice" already exists with identities github:alice`},
		{"user without identities", user("alice"), `user "alice" already exists with no identities`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tc.existing)
			_, _, err := New(c.UserV1()).Map(context.Background(), alice, idp.MappingClaim)
			if !IsRefused(err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "oc create useridentitymapping corp:a1234 alice") {
				t.Errorf("err %v; want a refusal saying %q and how to map it", err, tc.want)
			}
			if len(identities(t, c)) != 0 {
				t.Errorf("identities created: %v", identities(t, c))
			}
			if u := users(t, c)["alice"]; !slices.Equal(u.Identities, tc.existing.Identities) {
				t.Errorf("existing user changed: %+v", u)
			}
		})
	}
}

func TestLoginCompletesAnInterruptedOne(t *testing.T) {
	t.Parallel()
	// A login stopped after creating the user, before the identity.
	c := newClient(t, user("alice", "corp:a1234"))
	name, uid, err := New(c.UserV1()).Map(context.Background(), alice, idp.MappingClaim)
	if err != nil || name != "alice" || uid != "preloaded-alice" {
		t.Fatalf("%q %q %v", name, uid, err)
	}
	if id := identities(t, c)["corp:a1234"]; id == nil || id.User.UID != "preloaded-alice" {
		t.Errorf("identity %+v", id)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	_, _, err := New(c.UserV1()).Map(context.Background(), alice, idp.MappingLookup)
	if !IsRefused(err) || !strings.Contains(err.Error(), "maps identities by lookup") {
		t.Errorf("unmapped identity: %v", err)
	}
	if len(users(t, c))+len(identities(t, c)) != 0 {
		t.Errorf("lookup created objects: %v %v", users(t, c), identities(t, c))
	}

	// What an administrator sets up.
	c = newClient(t, user("alice-admin-made", "corp:a1234"), identity("corp:a1234", "alice-admin-made", "preloaded-alice-admin-made"))
	name, uid, err := New(c.UserV1()).Map(context.Background(), alice, idp.MappingLookup)
	if err != nil || name != "alice-admin-made" || uid != "preloaded-alice-admin-made" {
		t.Errorf("mapped identity: %q %q %v", name, uid, err)
	}
}

func TestGeneratePicksAFreeName(t *testing.T) {
	t.Parallel()
	c := newClient(t, user("alice", "github:alice"), user("alice2", "gitlab:alice"))
	name, _, err := New(c.UserV1()).Map(context.Background(), alice, idp.MappingGenerate)
	if err != nil || name != "alice3" {
		t.Fatalf("%q %v; want alice3", name, err)
	}
	if u := users(t, c)["alice"]; !slices.Equal(u.Identities, []string{"github:alice"}) {
		t.Errorf("alice changed: %+v", u)
	}
	if id := identities(t, c)["corp:a1234"]; id == nil || id.User.Name != "alice3" {
		t.Errorf("identity %+v", id)
	}
}

func TestAddJoinsTheExistingUser(t *testing.T) {
	t.Parallel()
	existing := user("alice", "github:alice")
	existing.FullName = "Alice L."
	c := newClient(t, existing)
	name, uid, err := New(c.UserV1()).Map(context.Background(), alice, idp.MappingAdd)
	if err != nil || name != "alice" || uid != "preloaded-alice" {
		t.Fatalf("%q %q %v", name, uid, err)
	}
	u := users(t, c)["alice"]
	if !slices.Equal(u.Identities, []string{"github:alice", "corp:a1234"}) || u.FullName != "Alice L." {
		t.Errorf("user %+v; want both identities and the full name kept", u)
	}
}

func TestExistingIdentityMustBeSoundlyMapped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		objs []runtime.Object
		want string
	}{
		{"not mapped", []runtime.Object{identity("corp:a1234", "", "")}, "not mapped to a user"},
		{"user deleted", []runtime.Object{identity("corp:a1234", "alice", "old-uid")}, `mapped to user "alice", which no longer exists`},
		{"user deleted and created again", []runtime.Object{identity("corp:a1234", "alice", "old-uid"), user("alice", "corp:a1234")}, "deleted and created again"},
		{"user no longer lists it", []runtime.Object{identity("corp:a1234", "alice", "preloaded-alice"), user("alice", "github:alice")}, "does not list it"},
	}
	for _, tc := range tests {
		for _, method := range idp.MappingMethods {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				t.Parallel()
				c := newClient(t, tc.objs...)
				_, _, err := New(c.UserV1()).Map(context.Background(), alice, method)
				if !IsRefused(err) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err %v; want a refusal saying %q", err, tc.want)
				}
				for _, a := range c.Actions() {
					if a.GetVerb() != "get" {
						t.Errorf("refused login wrote: %s %s", a.GetVerb(), a.GetResource().Resource)
					}
				}
			})
		}
	}
}

func TestInvalidNamesAreRefused(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	m := New(c.UserV1())
	_, _, err := m.Map(context.Background(), &idp.Identity{ProviderName: "ldap", ProviderUserName: "ou=a/b"}, idp.MappingClaim)
	if !IsRefused(err) || !strings.Contains(err.Error(), "cannot be part of an identity name") {
		t.Errorf("provider user name with '/': %v", err)
	}
	if len(c.Actions()) != 0 {
		t.Errorf("API calls for an impossible identity: %v", c.Actions())
	}
	_, _, err = m.Map(context.Background(), &idp.Identity{ProviderName: "sso", ProviderUserName: "x1", PreferredUserName: "dom:alice"}, idp.MappingClaim)
	if !IsRefused(err) || !strings.Contains(err.Error(), `"dom:alice" is not a valid user name`) {
		t.Errorf("preferred name with ':': %v", err)
	}
	if _, _, err := m.Map(context.Background(), alice, "merge"); err == nil || !strings.Contains(err.Error(), `unknown mapping method "merge"`) {
		t.Errorf("unknown method: %v", err)
	}
}

// barrier holds the first n callers until all n have arrived.
type barrier struct {
	mu      sync.Mutex
	n       int
	arrived sync.WaitGroup
}

func newBarrier(n int) *barrier {
	b := &barrier{n: n}
	b.arrived.Add(n)
	return b
}

func (b *barrier) wait() {
	b.mu.Lock()
	first := b.n > 0
	b.n--
	b.mu.Unlock()
	if first {
		b.arrived.Done()
		b.arrived.Wait()
	}
}

// racingClient makes concurrent logins interleave: the first n reads of identities (or users)
// all return before any of them goes on, so every login acts on the same stale state.
type racingClient struct {
	userv1client.UserV1Interface
	identities, users *barrier
}

func (r racingClient) Identities() userv1client.IdentityInterface {
	return racingIdentities{r.UserV1Interface.Identities(), r.identities}
}

func (r racingClient) Users() userv1client.UserInterface {
	return racingUsers{r.UserV1Interface.Users(), r.users}
}

type racingIdentities struct {
	userv1client.IdentityInterface
	b *barrier
}

func (r racingIdentities) Get(ctx context.Context, name string, opts metav1.GetOptions) (*userv1.Identity, error) {
	id, err := r.IdentityInterface.Get(ctx, name, opts)
	if r.b != nil {
		r.b.wait()
	}
	return id, err
}

type racingUsers struct {
	userv1client.UserInterface
	b *barrier
}

func (r racingUsers) Get(ctx context.Context, name string, opts metav1.GetOptions) (*userv1.User, error) {
	u, err := r.UserInterface.Get(ctx, name, opts)
	if r.b != nil {
		r.b.wait()
	}
	return u, err
}

func TestConcurrentFirstLogins(t *testing.T) {
	t.Parallel()
	for _, method := range []string{idp.MappingClaim, idp.MappingGenerate, idp.MappingAdd} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			c := newClient(t)
			const n = 8
			m := New(racingClient{UserV1Interface: c.UserV1(), identities: newBarrier(n)})
			results := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					name, uid, err := m.Map(context.Background(), alice, method)
					results[i], errs[i] = name+"/"+uid, err
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil || results[i] != results[0] {
					t.Errorf("login %d: %q %v; login 0: %q", i, results[i], errs[i], results[0])
				}
			}
			if len(users(t, c)) != 1 || len(identities(t, c)) != 1 {
				t.Errorf("users %v identities %v; want one of each", users(t, c), identities(t, c))
			}
		})
	}
}

func TestConcurrentAddsKeepEveryIdentity(t *testing.T) {
	t.Parallel()
	c := newClient(t, user("alice", "github:alice"))
	const n = 4
	m := New(racingClient{UserV1Interface: c.UserV1(), users: newBarrier(n)})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = m.Map(context.Background(), &idp.Identity{ProviderName: fmt.Sprintf("p%d", i), ProviderUserName: "alice"}, idp.MappingAdd)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("login %d: %v", i, err)
		}
	}
	got := users(t, c)["alice"].Identities
	want := []string{"github:alice"}
	for i, err := range errs {
		if err == nil {
			want = append(want, fmt.Sprintf("p%d:alice", i))
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("identities of alice %v, want %v (an update was lost)", got, want)
	}
}
