// Package idp holds Gantry's identity providers: the ways a person proves who they are to the OAuth
// server (seed 004, "Identity Providers"). Each provider turns credentials or a request into an
// Identity; the OAuth server then maps the Identity to a User (see Mapper) and issues tokens.
package idp

import (
	"context"
	"net/http"
)

// Identity is what a provider asserts about a person.
type Identity struct {
	// ProviderName is the name of the provider in the configuration ("htpasswd", "ldap", ...).
	ProviderName string
	// ProviderUserName is the person's stable name at the provider: the htpasswd user, the LDAP
	// entry's id attribute, the OIDC `sub` claim.
	ProviderUserName string
	// PreferredUserName, Name and Email are optional and fill the Identity's extra fields and a new
	// User's name (PreferredUserName) and full name (Name).
	PreferredUserName, Name, Email string
}

// PasswordAuthenticator checks a user name and password (htpasswd, LDAP, allow-all, deny-all).
// ok is false, with a nil error, when the credentials are wrong: callers must answer the same way
// whether the user exists or not.
type PasswordAuthenticator interface {
	AuthenticatePassword(ctx context.Context, username, password string) (id *Identity, ok bool, err error)
}

// RequestAuthenticator finds an identity in the request itself (request-header from an
// authenticating proxy). ok is false when the request carries none.
type RequestAuthenticator interface {
	AuthenticateRequest(r *http.Request) (id *Identity, ok bool, err error)
}

// RedirectAuthenticator sends the browser to an external login (OpenID Connect) and finishes the
// login when the browser comes back to callbackURL.
type RedirectAuthenticator interface {
	// AuthorizeURL is where to send the browser; state must come back unchanged to the callback.
	AuthorizeURL(state, callbackURL string) (string, error)
	// HandleCallback checks the callback request (state already checked by the caller) and returns the
	// identity.
	HandleCallback(ctx context.Context, r *http.Request, callbackURL string) (*Identity, error)
}

// Provider is one configured identity provider. Exactly one of Password, Request and Redirect is set.
type Provider struct {
	Name string
	// UseAsChallenger: the provider answers WWW-Authenticate challenges (oc login -u/-p).
	UseAsChallenger bool
	// UseAsLogin: the provider appears on the browser login page.
	UseAsLogin bool
	// MappingMethod is claim (default), lookup, generate or add (seed 004, "Identity Providers").
	MappingMethod string

	Password PasswordAuthenticator
	Request  RequestAuthenticator
	Redirect RedirectAuthenticator
	// ChallengeURL and LoginURL, for request-header providers, are where unauthenticated
	// challenging and browser clients are sent (with ${url} and ${query} substituted).
	ChallengeURL, LoginURL string
}

// Mapper maps an identity to a user, creating the User and Identity objects as its mapping method
// says. It returns the user's name and UID.
type Mapper interface {
	Map(ctx context.Context, id *Identity, mappingMethod string) (userName, userUID string, err error)
}
