package idp

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// AllowAll accepts any non-empty user name with any non-empty password: for trying Gantry out on
// a laptop, never for a shared cluster. The identity is the user name as typed.
type AllowAll struct{ providerName string }

var _ PasswordAuthenticator = (*AllowAll)(nil)

// NewAllowAll returns an AllowAll provider named providerName.
func NewAllowAll(providerName string) *AllowAll { return &AllowAll{providerName: providerName} }

func buildAllowAll(_ context.Context, p *Provider, _ runtime.Object, _ *field.Path) field.ErrorList {
	p.Password = NewAllowAll(p.Name)
	return nil
}

// AuthenticatePassword accepts any non-empty user name and password.
func (a *AllowAll) AuthenticatePassword(_ context.Context, username, password string) (*Identity, bool, error) {
	if strings.TrimSpace(username) == "" || password == "" {
		return nil, false, nil
	}
	return &Identity{ProviderName: a.providerName, ProviderUserName: username, PreferredUserName: username}, true, nil
}

// DenyAll refuses every login: a placeholder that keeps the login page up while no real provider
// is configured.
type DenyAll struct{}

var _ PasswordAuthenticator = DenyAll{}

func buildDenyAll(_ context.Context, p *Provider, _ runtime.Object, _ *field.Path) field.ErrorList {
	p.Password = DenyAll{}
	return nil
}

// AuthenticatePassword always answers "wrong credentials".
func (DenyAll) AuthenticatePassword(context.Context, string, string) (*Identity, bool, error) {
	return nil, false, nil
}
