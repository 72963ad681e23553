package idp

import (
	"context"
	"testing"
)

// passwordCase is what the shared password suite needs to know about a provider.
type passwordCase struct {
	user, password string
	// want is the identity the good login yields.
	want Identity
	// unknownUser is a user the provider does not know.
	unknownUser string
}

// testPasswordAuthenticator is the suite every PasswordAuthenticator that checks passwords
// passes: the right password logs in, and every wrong login answers ok=false with no error, the
// same whether the user exists or not, including injection attempts in the user name.
func testPasswordAuthenticator(t *testing.T, a PasswordAuthenticator, c passwordCase) {
	t.Helper()
	ctx := context.Background()
	id, ok, err := a.AuthenticatePassword(ctx, c.user, c.password)
	if err != nil || !ok || id == nil {
		t.Fatalf("good login %q: ok=%v err=%v", c.user, ok, err)
	}
	if *id != c.want {
		t.Errorf("good login %q: identity %+v, want %+v", c.user, *id, c.want)
	}
	refused := []struct{ name, user, password string }{
		{"wrong password", c.user, c.password + "x"},
		{"password prefix", c.user, c.password[:len(c.password)-1]},
		{"empty password", c.user, ""},
		{"unknown user", c.unknownUser, c.password},
		{"empty user", "", c.password},
		{"wildcard user", "*", c.password},
		{"filter injection", ")(uid=*", c.password},
		{"filter injection with a known user", c.user + ")(|(uid=*", c.password},
		{"user prefix wildcard", c.user[:1] + "*", c.password},
	}
	for _, r := range refused {
		id, ok, err := a.AuthenticatePassword(ctx, r.user, r.password)
		if ok || id != nil || err != nil {
			t.Errorf("%s (%q): ok=%v identity=%+v err=%v; want refused without an error", r.name, r.user, ok, id, err)
		}
	}
}
