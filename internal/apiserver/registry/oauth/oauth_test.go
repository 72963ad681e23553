package oauth

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"strings"
	"testing"
	"time"

	oauthv1 "github.com/openshift/api/oauth/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

var ctx = context.Background()

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

const tokenName = "sha256~abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

func TestTokenName(t *testing.T) {
	t.Parallel()
	for name, valid := range map[string]bool{
		tokenName:                           true,
		strings.Repeat("a", 32):             true,
		strings.Repeat("a", 31):             false,
		"sha256~" + strings.Repeat("a", 31): false,
		strings.Repeat("a", 31) + "/":       false,
	} {
		if msgs := ValidateTokenName(name, false); (len(msgs) == 0) != valid {
			t.Errorf("%q: %v, want valid=%v", name, msgs, valid)
		}
	}
	if msgs := ValidateTokenName("short-", true); len(msgs) != 0 {
		t.Errorf("generateName prefix rejected: %v", msgs)
	}
}

func int32p(v int32) *int32 { return &v }

func TestClient(t *testing.T) {
	t.Parallel()
	d := definition(t, "oauthclients")
	c := &oauthv1.OAuthClient{
		ObjectMeta:   metav1.ObjectMeta{Name: "console"},
		Secret:       "hunter2",
		RedirectURIs: []string{"https://console.example.com/auth/callback", "http://localhost:8080/"},
		GrantMethod:  oauthv1.GrantHandlerAuto,
		ScopeRestrictions: []oauthv1.ScopeRestriction{
			{ExactValues: []string{"user:info"}},
			{ClusterRole: &oauthv1.ClusterRoleScopeRestriction{RoleNames: []string{"view"}, Namespaces: []string{"*"}}},
		},
		AccessTokenMaxAgeSeconds: int32p(86400),
	}
	resourcetest.AssertErrors(t, d.Validate(ctx, c), nil)
	resourcetest.AssertRow(t, d, c, "console", "<set>", false, "24h0m0s", "https://console.example.com/auth/callback,http://localhost:8080/")

	bad := &oauthv1.OAuthClient{
		ObjectMeta:                          metav1.ObjectMeta{Name: "bad"},
		RedirectURIs:                        []string{"https://x/cb#frag", "", "https://x/a/../b", "http://[::1"},
		AdditionalSecrets:                   []string{""},
		GrantMethod:                         "deny",
		ScopeRestrictions:                   []oauthv1.ScopeRestriction{{}, {ClusterRole: &oauthv1.ClusterRoleScopeRestriction{}}},
		AccessTokenMaxAgeSeconds:            int32p(-1),
		AccessTokenInactivityTimeoutSeconds: int32p(60),
	}
	resourcetest.AssertErrors(t, d.Validate(ctx, bad), []string{
		"FieldValueInvalid redirectURIs[0]",
		"FieldValueInvalid redirectURIs[1]",
		"FieldValueInvalid redirectURIs[2]",
		"FieldValueInvalid redirectURIs[3]",
		"FieldValueRequired additionalSecrets[0]",
		"FieldValueNotSupported grantMethod",
		"FieldValueRequired scopeRestrictions[0].literals",
		"FieldValueRequired scopeRestrictions[1].clusterRole.roleNames",
		"FieldValueRequired scopeRestrictions[1].clusterRole.namespaces",
		"FieldValueInvalid accessTokenMaxAgeSeconds",
		"FieldValueInvalid accessTokenInactivityTimeoutSeconds",
	})
	resourcetest.AssertRow(t, d, bad, "bad", "<none>", false, "unexpiring", "https://x/cb#frag,,https://x/a/../b,http://[::1")
	noGrant := c.DeepCopy()
	noGrant.GrantMethod = ""
	noGrant.AccessTokenMaxAgeSeconds = nil
	resourcetest.AssertErrors(t, d.Validate(ctx, noGrant), []string{"FieldValueRequired grantMethod"})
	resourcetest.AssertRow(t, d, noGrant, "console", "<set>", false, "default", "https://console.example.com/auth/callback,http://localhost:8080/")
}

func validAccessToken() *oauthv1.OAuthAccessToken {
	return &oauthv1.OAuthAccessToken{
		ObjectMeta:  metav1.ObjectMeta{Name: tokenName, CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))},
		ClientName:  "openshift-browser-client",
		ExpiresIn:   86400,
		Scopes:      []string{"user:full"},
		RedirectURI: "https://oauth.example.com/oauth/token/display",
		UserName:    "alice",
		UserUID:     "u-1",
	}
}

func TestAccessToken(t *testing.T) {
	t.Parallel()
	d := definition(t, "oauthaccesstokens")
	tok := validAccessToken()
	resourcetest.AssertErrors(t, d.Validate(ctx, tok), nil)
	resourcetest.AssertRow(t, d, tok, tokenName, "alice", "openshift-browser-client", "60m", "in 23h", "https://oauth.example.com/oauth/token/display", "user:full")

	sa := validAccessToken()
	sa.ClientName = "system:serviceaccount:app:robot"
	sa.UserName = "kube:admin"
	sa.RedirectURI = ""
	sa.Scopes = []string{"user:info", "role:view:app"}
	resourcetest.AssertErrors(t, d.Validate(ctx, sa), nil)

	bad := &oauthv1.OAuthAccessToken{
		ObjectMeta:               metav1.ObjectMeta{Name: tokenName},
		ClientName:               "system:serviceaccount:app",
		ExpiresIn:                -1,
		Scopes:                   nil,
		RedirectURI:              "https://x/#f",
		UserName:                 "a:b",
		InactivityTimeoutSeconds: -5,
	}
	resourcetest.AssertErrors(t, d.Validate(ctx, bad), []string{
		"FieldValueInvalid clientName",
		"FieldValueInvalid userName",
		"FieldValueRequired userUID",
		"FieldValueRequired scopes",
		"FieldValueInvalid redirectURI",
		"FieldValueInvalid expiresIn",
		"FieldValueInvalid inactivityTimeoutSeconds",
	})

	old := validAccessToken()
	old.InactivityTimeoutSeconds = 600
	grown := old.DeepCopy()
	grown.InactivityTimeoutSeconds = 900
	grown.Labels = map[string]string{"x": "y"}
	resourcetest.AssertErrors(t, d.ValidateUpdate(ctx, grown, old), nil)
	changed := old.DeepCopy()
	changed.InactivityTimeoutSeconds = 300
	changed.Scopes = []string{"user:info"}
	changed.UserUID = "u-2"
	resourcetest.AssertErrors(t, d.ValidateUpdate(ctx, changed, old), []string{
		"FieldValueInvalid inactivityTimeoutSeconds", "FieldValueForbidden scopes", "FieldValueForbidden userUID",
	})
	if f := d.Fields(tok); f["userName"] != "alice" || f["clientName"] != "openshift-browser-client" {
		t.Errorf("fields = %v", f)
	}
}

func TestExpires(t *testing.T) {
	t.Parallel()
	now := time.Now()
	created := metav1.NewTime(now.Add(-2 * time.Hour))
	for _, tc := range []struct {
		created   metav1.Time
		expiresIn int64
		want      string
	}{
		{created, 0, "never"},
		{created, 3600, "expired"},
		{created, 3 * 3600, "in 60m"},
		{metav1.Time{}, 600, "in 10m"},
	} {
		if got := expires(tc.created, tc.expiresIn, now); got != tc.want {
			t.Errorf("expires(%v, %d) = %q, want %q", tc.created, tc.expiresIn, got, tc.want)
		}
	}
}

func TestAuthorizeToken(t *testing.T) {
	t.Parallel()
	d := definition(t, "oauthauthorizetokens")
	tok := &oauthv1.OAuthAuthorizeToken{
		ObjectMeta:          metav1.ObjectMeta{Name: tokenName},
		ClientName:          "console",
		ExpiresIn:           300,
		Scopes:              []string{"user:full"},
		RedirectURI:         "https://console.example.com/auth/callback",
		UserName:            "alice",
		UserUID:             "u-1",
		CodeChallenge:       strings.Repeat("x", 43),
		CodeChallengeMethod: "S256",
	}
	resourcetest.AssertErrors(t, d.Validate(ctx, tok), nil)
	resourcetest.AssertRow(t, d, tok, tokenName, "alice", "console", "<unknown>", "in 5m", "https://console.example.com/auth/callback", "user:full")

	bad := tok.DeepCopy()
	bad.RedirectURI = ""
	bad.ExpiresIn = 0
	bad.CodeChallenge = "short"
	bad.CodeChallengeMethod = "MD5"
	bad.Scopes = []string{"nonsense"}
	resourcetest.AssertErrors(t, d.Validate(ctx, bad), []string{
		"FieldValueInvalid redirectURI",
		"FieldValueInvalid expiresIn",
		"FieldValueInvalid codeChallenge",
		"FieldValueNotSupported codeChallengeMethod",
		"FieldValueInvalid scopes[0]",
	})

	changed := tok.DeepCopy()
	changed.State = "other"
	resourcetest.AssertErrors(t, d.ValidateUpdate(ctx, changed, tok), []string{"FieldValueForbidden state"})
}

func TestClientAuthorization(t *testing.T) {
	t.Parallel()
	d := definition(t, "oauthclientauthorizations")
	a := &oauthv1.OAuthClientAuthorization{
		ObjectMeta: metav1.ObjectMeta{Name: "alice:console"},
		ClientName: "console",
		UserName:   "alice",
		UserUID:    "u-1",
		Scopes:     []string{"user:info", "user:check-access"},
	}
	resourcetest.AssertErrors(t, d.Validate(ctx, a), nil)
	resourcetest.AssertRow(t, d, a, "alice:console", "alice", "console", "user:info,user:check-access")

	bad := a.DeepCopy()
	bad.Name = "bob:console"
	bad.UserUID = ""
	bad.Scopes = nil
	resourcetest.AssertErrors(t, d.Validate(ctx, bad), []string{
		"FieldValueInvalid metadata.name", "FieldValueRequired userUID", "FieldValueRequired scopes",
	})
	moved := a.DeepCopy()
	moved.ClientName = "other"
	resourcetest.AssertErrors(t, d.ValidateUpdate(ctx, moved, a), []string{"FieldValueInvalid metadata.name", "FieldValueForbidden clientName"})

	for name, valid := range map[string]bool{"alice:console": true, "alice:": false, ":console": false, "alice": false} {
		if msgs := ValidateClientAuthorizationName(name, false); (len(msgs) == 0) != valid {
			t.Errorf("%q: %v, want valid=%v", name, msgs, valid)
		}
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	g := Group()
	s := runtime.NewScheme()
	if err := g.Install(s); err != nil {
		t.Fatal(err)
	}
	if len(g.Resources) != 4 {
		t.Fatalf("%d resources", len(g.Resources))
	}
	for _, d := range g.Resources {
		if d.Namespaced {
			t.Errorf("%s is namespaced", d.Resource)
		}
		if _, _, err := s.ObjectKinds(d.New()); err != nil {
			t.Error(err)
		}
	}
}
