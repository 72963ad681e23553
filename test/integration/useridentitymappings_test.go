package integration

import (
	"context"
	"slices"
	"testing"

	userv1 "github.com/openshift/api/user/v1"
	userclient "github.com/openshift/client-go/user/clientset/versioned"
	userv1client "github.com/openshift/client-go/user/clientset/versioned/typed/user/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUserIdentityMappings drives useridentitymappings as a cluster admin does with
// `oc create useridentitymapping`, `oc get` and `oc delete`: a mapping links an identity and a
// user by writing both objects.
func TestUserIdentityMappings(t *testing.T) {
	ctx := t.Context()
	c := clientset(t, cluster.Config, userclient.NewForConfig).UserV1()
	const idName = "uim-idp:alice"
	for _, u := range []string{"uim-alice", "uim-bob"} {
		if _, err := c.Users().Create(ctx, &userv1.User{ObjectMeta: metav1.ObjectMeta{Name: u}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Users().Delete(context.Background(), u, metav1.DeleteOptions{}) })
	}
	identity, err := c.Identities().Create(ctx, &userv1.Identity{ObjectMeta: metav1.ObjectMeta{Name: idName}, ProviderName: "uim-idp", ProviderUserName: "alice"}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Identities().Delete(context.Background(), idName, metav1.DeleteOptions{}) })

	if _, err := c.UserIdentityMappings().Get(ctx, idName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("mapping of an unmapped identity: %v, want NotFound", err)
	}

	// Create, as oc sends it: no metadata.name.
	m, err := c.UserIdentityMappings().Create(ctx, &userv1.UserIdentityMapping{
		Identity: corev1.ObjectReference{Name: idName}, User: corev1.ObjectReference{Name: "uim-alice"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := c.Users().Get(ctx, "uim-alice", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != idName || m.Identity.UID != identity.UID || m.User.Name != "uim-alice" || m.User.UID != alice.UID {
		t.Errorf("created mapping %+v; identity UID %s, user UID %s", m, identity.UID, alice.UID)
	}
	assertLinked(t, c, idName, "uim-alice")

	if _, err := c.UserIdentityMappings().Create(ctx, &userv1.UserIdentityMapping{
		Identity: corev1.ObjectReference{Name: idName}, User: corev1.ObjectReference{Name: "uim-bob"},
	}, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	if _, err := c.UserIdentityMappings().Create(ctx, &userv1.UserIdentityMapping{
		Identity: corev1.ObjectReference{Name: "uim-idp:nobody"}, User: corev1.ObjectReference{Name: "uim-bob"},
	}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("mapping of a missing identity: %v, want Invalid", err)
	}

	// Update: the identity moves to bob, and alice forgets it.
	m, err = c.UserIdentityMappings().Get(ctx, idName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.User = corev1.ObjectReference{Name: "uim-bob"}
	if _, err := c.UserIdentityMappings().Update(ctx, m, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	assertLinked(t, c, idName, "uim-bob")
	if alice, err := c.Users().Get(ctx, "uim-alice", metav1.GetOptions{}); err != nil || slices.Contains(alice.Identities, idName) {
		t.Errorf("alice after the move: %+v %v", alice, err)
	}
	// The mapping read before the move is stale now.
	m.User = corev1.ObjectReference{Name: "uim-alice"}
	if _, err := c.UserIdentityMappings().Update(ctx, m, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: %v, want Conflict", err)
	}

	// Delete unlinks both.
	if err := c.UserIdentityMappings().Delete(ctx, idName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UserIdentityMappings().Get(ctx, idName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v, want NotFound", err)
	}
	id, err := c.Identities().Get(ctx, idName, metav1.GetOptions{})
	if err != nil || id.User.Name != "" || id.User.UID != "" {
		t.Errorf("identity after delete: %+v %v; want no user", id, err)
	}
	bob, err := c.Users().Get(ctx, "uim-bob", metav1.GetOptions{})
	if err != nil || slices.Contains(bob.Identities, idName) {
		t.Errorf("bob after delete: %+v %v", bob, err)
	}
}

// assertLinked checks that the identity and the user point to each other and the mapping says so.
func assertLinked(t *testing.T, c userv1client.UserV1Interface, identity, user string) {
	t.Helper()
	ctx := t.Context()
	u, err := c.Users().Get(ctx, user, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Identities().Get(ctx, identity, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if id.User.Name != user || id.User.UID != u.UID || !slices.Contains(u.Identities, identity) {
		t.Errorf("identity %s points to %+v and user %s lists %v; want them linked", identity, id.User, user, u.Identities)
	}
	m, err := c.UserIdentityMappings().Get(ctx, identity, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get mapping %s: %v", identity, err)
	}
	if m.Identity.Name != identity || m.Identity.UID != id.UID || m.User.Name != user || m.User.UID != u.UID {
		t.Errorf("mapping %+v; want identity %s (%s) and user %s (%s)", m, identity, id.UID, user, u.UID)
	}
}
