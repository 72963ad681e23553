package user

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"testing"

	userv1 "github.com/openshift/api/user/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestNameValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fn    func(string, bool) []string
		name  string
		valid bool
	}{
		{ValidateUserName, "alice", true},
		{ValidateUserName, "alice@example.com", true},
		{ValidateUserName, "Bob Smith", true},
		{ValidateUserName, "", false},
		{ValidateUserName, "a/b", false},
		{ValidateUserName, "a%b", false},
		{ValidateUserName, "a:b", false},
		{ValidateUserName, ".", false},
		{ValidateUserName, "..", false},
		{ValidateUserName, "~", false},
		{ValidateGroupName, "devs", true},
		{ValidateGroupName, "system:authenticated", false},
		{ValidateIdentityName, "github:alice", true},
		{ValidateIdentityName, "github:", false},
		{ValidateIdentityName, ":alice", false},
		{ValidateIdentityName, "alice", false},
		{ValidateIdentityName, "a:b:c", false},
		{ValidateIdentityName, "ldap:uid=a/b", false},
	}
	for _, tc := range tests {
		if msgs := tc.fn(tc.name, false); (len(msgs) == 0) != tc.valid {
			t.Errorf("%q: messages %v, want valid=%v", tc.name, msgs, tc.valid)
		}
	}
}

func definition(t *testing.T, name string) resource.Definition {
	t.Helper()
	for _, d := range Group().Resources {
		if d.Resource == name {
			return d
		}
	}
	t.Fatalf("no %s", name)
	return resource.Definition{}
}

func TestUser(t *testing.T) {
	t.Parallel()
	d := definition(t, "users")
	u := &userv1.User{
		ObjectMeta: metav1.ObjectMeta{Name: "alice", UID: "u-1"},
		FullName:   "Alice Liddell",
		Identities: []string{"github:alice", "ldap:alice"},
		Groups:     []string{"ignored"},
	}
	d.PrepareForCreate(context.Background(), u)
	if u.Groups != nil {
		t.Errorf("deprecated groups kept: %v", u.Groups)
	}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), u), nil)
	resourcetest.AssertRow(t, d, u, "alice", "u-1", "Alice Liddell", "github:alice, ldap:alice")

	bad := u.DeepCopy()
	bad.Identities = []string{"github", "github:alice", ":x"}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), bad), []string{
		"FieldValueInvalid identities[0]", "FieldValueInvalid identities[2]",
	})
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	d := definition(t, "identities")
	id := &userv1.Identity{
		ObjectMeta:       metav1.ObjectMeta{Name: "github:alice"},
		ProviderName:     "github",
		ProviderUserName: "alice",
		User:             corev1.ObjectReference{Name: "alice", UID: "u-1"},
	}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), id), nil)
	resourcetest.AssertRow(t, d, id, "github:alice", "github", "alice", "alice", "u-1")

	unmapped := id.DeepCopy()
	unmapped.User = corev1.ObjectReference{}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), unmapped), nil)

	bad := &userv1.Identity{
		ObjectMeta:       metav1.ObjectMeta{Name: "github:bob"},
		ProviderName:     "git:hub",
		ProviderUserName: "",
		User:             corev1.ObjectReference{UID: "u-2"},
	}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), bad), []string{
		"FieldValueInvalid providerName",
		"FieldValueRequired providerUserName",
		"FieldValueRequired user.name",
	})

	mismatch := id.DeepCopy()
	mismatch.ProviderUserName = "al/ice"
	mismatch.User.UID = ""
	resourcetest.AssertErrors(t, d.Validate(context.Background(), mismatch), []string{
		"FieldValueInvalid providerUserName",
		"FieldValueInvalid metadata.name",
		"FieldValueRequired user.uid",
	})

	moved := id.DeepCopy()
	moved.ProviderName = "gitlab"
	resourcetest.AssertErrors(t, d.ValidateUpdate(context.Background(), moved, id), []string{
		"FieldValueInvalid metadata.name", "FieldValueForbidden providerName",
	})
}

func TestGroupResource(t *testing.T) {
	t.Parallel()
	d := definition(t, "groups")
	g := &userv1.Group{ObjectMeta: metav1.ObjectMeta{Name: "devs"}, Users: []string{"alice", "bob"}}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), g), nil)
	resourcetest.AssertRow(t, d, g, "devs", "alice, bob")

	g.Users = []string{"alice", "", "a:b", "~"}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), g), []string{
		"FieldValueRequired users[1]", "FieldValueInvalid users[2]", "FieldValueInvalid users[3]",
	})
}

func TestGroupDefinitions(t *testing.T) {
	t.Parallel()
	g := Group()
	s := runtime.NewScheme()
	if err := g.Install(s); err != nil {
		t.Fatal(err)
	}
	for _, d := range g.Resources {
		if d.Namespaced || d.ValidateName == nil {
			t.Errorf("%s: want cluster scoped with a name validator", d.Resource)
		}
		if _, _, err := s.ObjectKinds(d.NewList()); err != nil {
			t.Error(err)
		}
	}
}
