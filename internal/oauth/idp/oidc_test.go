package idp

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	osinv1 "github.com/openshift/api/osin/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/internal/oauth/idp/idptest"
)

const oidcCallback = "https://gantry.test/oauth2callback/corp-sso"

// startOP starts a real OpenID provider knowing alice.
func startOP(t *testing.T, opts idptest.OPOptions) *idptest.OP {
	t.Helper()
	opts.RedirectURIs = []string{oidcCallback}
	op := idptest.StartOP(t, opts)
	op.AddUser("alice", idptest.OPUser{
		Password:       "alice-password",
		Subject:        "0f6c1e2a-alice",
		IDTokenClaims:  map[string]any{"preferred_username": "alice", "name": "Alice Liddell"},
		UserInfoClaims: map[string]any{"email": "alice@example.com", "name": "Not Preferred"},
	})
	return op
}

// openIDConfig is the provider stanza for op.
func openIDConfig(op *idptest.OP, userInfo bool) *osinv1.OpenIDIdentityProvider {
	cfg := &osinv1.OpenIDIdentityProvider{
		CA:           op.CAFile,
		ClientID:     op.ClientID,
		ClientSecret: configv1.StringSource{StringSourceSpec: configv1.StringSourceSpec{Value: op.ClientSecret}},
		ExtraScopes:  []string{"profile", "email"},
		URLs:         osinv1.OpenIDURLs{Authorize: op.AuthorizeURL, Token: op.TokenURL},
		Claims: osinv1.OpenIDClaims{
			ID: []string{"sub"}, PreferredUsername: []string{"preferred_username", "email"},
			Name: []string{"name"}, Email: []string{"email"},
		},
	}
	if userInfo {
		cfg.URLs.UserInfo = op.UserInfoURL
	}
	return cfg
}

func openIDProvider(t *testing.T, cfg *osinv1.OpenIDIdentityProvider) *OpenID {
	t.Helper()
	ps, err := New(context.Background(), []osinv1.IdentityProvider{{Name: "corp-sso", UseAsLogin: true, Provider: runtime.RawExtension{Object: cfg}}})
	if err != nil {
		t.Fatal(err)
	}
	return ps[0].Redirect.(*OpenID)
}

// login runs the whole flow for alice with state and returns the identity or the error.
func login(t *testing.T, op *idptest.OP, p *OpenID, state string) (*Identity, error) {
	t.Helper()
	authorize, err := p.AuthorizeURL(state, oidcCallback)
	if err != nil {
		t.Fatal(err)
	}
	back := op.Login(t, authorize, "alice", "alice-password")
	return p.HandleCallback(context.Background(), httptest.NewRequest("GET", back.String(), nil), oidcCallback)
}

func TestOpenIDLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     idptest.OPOptions
		userInfo bool
		want     Identity
	}{
		{
			name: "discovery, signature checked, userinfo fills the email", userInfo: true,
			want: Identity{ProviderName: "corp-sso", ProviderUserName: "0f6c1e2a-alice", PreferredUserName: "alice", Name: "Alice Liddell", Email: "alice@example.com"},
		},
		{
			name: "claims from the ID token only",
			want: Identity{ProviderName: "corp-sso", ProviderUserName: "0f6c1e2a-alice", PreferredUserName: "alice", Name: "Alice Liddell"},
		},
		{
			name: "no discovery: the token endpoint's TLS is trusted", opts: idptest.OPOptions{NoDiscovery: true}, userInfo: true,
			want: Identity{ProviderName: "corp-sso", ProviderUserName: "0f6c1e2a-alice", PreferredUserName: "alice", Name: "Alice Liddell", Email: "alice@example.com"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op := startOP(t, tc.opts)
			p := openIDProvider(t, openIDConfig(op, tc.userInfo))
			id, err := login(t, op, p, "state-0123456789")
			if err != nil {
				t.Fatal(err)
			}
			if *id != tc.want {
				t.Errorf("identity %+v, want %+v", *id, tc.want)
			}
		})
	}
}

func TestOpenIDAuthorizeURL(t *testing.T) {
	t.Parallel()
	op := startOP(t, idptest.OPOptions{})
	cfg := openIDConfig(op, false)
	cfg.ExtraAuthorizeParameters = map[string]string{"prompt": "login", "hd": "example.com"}
	p := openIDProvider(t, cfg)
	raw, err := p.AuthorizeURL("state-A-0123456789", oidcCallback)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": op.ClientID, "redirect_uri": oidcCallback, "state": "state-A-0123456789",
		"scope": "openid profile email", "code_challenge_method": "S256", "prompt": "login", "hd": "example.com",
	} {
		if q.Get(k) != want {
			t.Errorf("%s=%q, want %q (URL %s)", k, q.Get(k), want, raw)
		}
	}
	other, _ := p.AuthorizeURL("state-B-0123456789", oidcCallback)
	ou, _ := url.Parse(other)
	if q.Get("nonce") == "" || q.Get("nonce") == ou.Query().Get("nonce") || q.Get("code_challenge") == ou.Query().Get("code_challenge") {
		t.Errorf("nonce and PKCE challenge must differ per state: %q %q", raw, other)
	}
	if _, err := p.AuthorizeURL("", oidcCallback); err == nil {
		t.Error("empty state accepted")
	}
}

func TestOpenIDRefusals(t *testing.T) {
	t.Parallel()

	t.Run("callback with another login's state", func(t *testing.T) {
		t.Parallel()
		op := startOP(t, idptest.OPOptions{})
		p := openIDProvider(t, openIDConfig(op, false))
		authorize, _ := p.AuthorizeURL("state-A-0123456789", oidcCallback)
		back := op.Login(t, authorize, "alice", "alice-password")
		q := back.Query()
		q.Set("state", "state-B-0123456789")
		back.RawQuery = q.Encode()
		_, err := p.HandleCallback(context.Background(), httptest.NewRequest("GET", back.String(), nil), oidcCallback)
		if err == nil || !strings.Contains(err.Error(), "exchange the code") {
			t.Errorf("err %v; want the code exchange refused (PKCE verifier of another state)", err)
		}
	})

	t.Run("ID token with another login's nonce", func(t *testing.T) {
		t.Parallel()
		op := startOP(t, idptest.OPOptions{})
		p := openIDProvider(t, openIDConfig(op, false))
		authorize, _ := p.AuthorizeURL("state-A-0123456789", oidcCallback)
		// A code obtained with the login's state and PKCE challenge but another nonce.
		back := op.Login(t, idptest.WithNonce(authorize, "attacker-nonce-0123456789"), "alice", "alice-password")
		_, err := p.HandleCallback(context.Background(), httptest.NewRequest("GET", back.String(), nil), oidcCallback)
		if err == nil || !strings.Contains(err.Error(), "nonce does not belong to this login") {
			t.Errorf("err %v; want the nonce refused", err)
		}
	})

	t.Run("code used twice", func(t *testing.T) {
		t.Parallel()
		op := startOP(t, idptest.OPOptions{})
		p := openIDProvider(t, openIDConfig(op, false))
		authorize, _ := p.AuthorizeURL("state-A-0123456789", oidcCallback)
		back := op.Login(t, authorize, "alice", "alice-password")
		if _, err := p.HandleCallback(context.Background(), httptest.NewRequest("GET", back.String(), nil), oidcCallback); err != nil {
			t.Fatal(err)
		}
		if _, err := p.HandleCallback(context.Background(), httptest.NewRequest("GET", back.String(), nil), oidcCallback); err == nil {
			t.Error("the code worked twice")
		}
	})

	// Whole logins the checks of the ID token, the userinfo and TLS refuse.
	for _, tc := range []struct {
		name     string
		opts     idptest.OPOptions
		userInfo bool
		// configure, when set, changes the provider stanza; later moves the provider's clock.
		configure func(t *testing.T, cfg *osinv1.OpenIDIdentityProvider)
		later     time.Duration
		want      string
	}{
		{name: "signature by a key the issuer does not publish", opts: idptest.OPOptions{ForeignJWKS: true}, want: "verify signature"},
		{name: "discovery names another issuer", opts: idptest.OPOptions{DiscoveryIssuer: "https://elsewhere.example.com"}, want: `names issuer "https://elsewhere.example.com"`},
		{name: "userinfo about another subject", opts: idptest.OPOptions{UserInfoSubject: "someone-else"}, userInfo: true, want: "userinfo is about subject someone-else"},
		{name: "ID token issued to another party", opts: idptest.OPOptions{AuthorizedParty: "other-client"}, want: "issued to other-client (azp)"},
		{name: "expired ID token", later: 2 * time.Hour /* fosite's ID tokens live an hour */, want: "expired"},
		{name: "wrong CA", configure: func(t *testing.T, cfg *osinv1.OpenIDIdentityProvider) {
			cfg.CA = idptest.NewCA(t, t.TempDir()).File
		}, want: "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op := startOP(t, tc.opts)
			cfg := openIDConfig(op, tc.userInfo)
			if tc.configure != nil {
				tc.configure(t, cfg)
			}
			p := openIDProvider(t, cfg)
			if tc.later != 0 {
				p.now = func() time.Time { return time.Now().Add(tc.later) }
			}
			if _, err := login(t, op, p, "state-0123456789"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v; want an error saying %q", err, tc.want)
			}
		})
	}

	t.Run("the OP refuses", func(t *testing.T) {
		t.Parallel()
		op := startOP(t, idptest.OPOptions{})
		p := openIDProvider(t, openIDConfig(op, false))
		req := httptest.NewRequest("GET", oidcCallback+"?error=access_denied&error_description=The+user+said+no&state=s", nil)
		if _, err := p.HandleCallback(context.Background(), req, oidcCallback); err == nil || !strings.Contains(err.Error(), "access_denied: The user said no") {
			t.Errorf("err %v", err)
		}
	})
}

func TestOpenIDConfigErrors(t *testing.T) {
	t.Parallel()
	cfg := &osinv1.OpenIDIdentityProvider{
		URLs:                     osinv1.OpenIDURLs{Authorize: "http://op.example.com/auth", UserInfo: "https://user:pw@op.example.com/ui"},
		ExtraScopes:              []string{"has space"},
		ExtraAuthorizeParameters: map[string]string{"state": "x", "Redirect_URI": "y"},
		CA:                       "/nonexistent",
	}
	_, err := New(context.Background(), []osinv1.IdentityProvider{{Name: "sso", UseAsChallenger: true, Provider: runtime.RawExtension{Object: cfg}}})
	for _, want := range []string{
		"identityProviders[sso].challenge", "provider.clientID: Required", "provider.clientSecret: Required",
		"provider.urls.authorize: Invalid value", "provider.urls.token: Required", "provider.urls.userInfo: Invalid value",
		"provider.claims.id: Required", "provider.extraScopes[0]", "provider.extraAuthorizeParameters[state]",
		"provider.extraAuthorizeParameters[Redirect_URI]", "provider.ca",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\ndoes not say %q", err, want)
		}
	}
}
