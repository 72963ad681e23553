package oauth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"

	oauthv1 "github.com/openshift/api/oauth/v1"
	oauthclient "github.com/openshift/client-go/oauth/clientset/versioned/typed/oauth/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The clients every OpenShift cluster has (seed 004, "OAuth Clients").
const (
	// ChallengingClient is what `oc login` and `gantry login` use: it receives WWW-Authenticate
	// challenges and its code is read from the redirect, never followed.
	ChallengingClient = "openshift-challenging-client"
	// BrowserClient serves /oauth/token/request: a person gets a token to paste into a CLI.
	BrowserClient = "openshift-browser-client"
	// WebConsoleClient is the web console's client.
	WebConsoleClient = "openshift-web-console"
)

// uriSeparator joins a client's redirect URIs for osin; a space cannot occur in a valid URI.
const uriSeparator = " "

// client is an OAuthClient as osin sees it.
type client struct{ *oauthv1.OAuthClient }

func (c client) GetId() string            { return c.Name }
func (c client) GetSecret() string        { return c.Secret }
func (c client) GetRedirectUri() string   { return strings.Join(c.RedirectURIs, uriSeparator) }
func (c client) GetUserData() interface{} { return nil }

// ClientSecretMatches compares in constant time against the secret and the additional secrets (used
// while rotating). A client without a secret is public: it must present none.
func (c client) ClientSecretMatches(secret string) bool {
	if c.Secret == "" {
		return secret == ""
	}
	ok := subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1
	for _, s := range c.AdditionalSecrets {
		ok = subtle.ConstantTimeCompare([]byte(s), []byte(secret)) == 1 || ok
	}
	return ok
}

// BuiltinClients are the OAuthClients `gantry start` keeps: issuer is the OAuth server's URL and
// consoleURL the web console's.
func BuiltinClients(issuer, consoleURL string) []*oauthv1.OAuthClient {
	issuer = strings.TrimRight(issuer, "/")
	return []*oauthv1.OAuthClient{
		{
			ObjectMeta:            metav1.ObjectMeta{Name: ChallengingClient},
			RespondWithChallenges: true,
			RedirectURIs:          []string{issuer + "/oauth/token/implicit"},
			GrantMethod:           oauthv1.GrantHandlerAuto,
		},
		{
			ObjectMeta:   metav1.ObjectMeta{Name: BrowserClient},
			RedirectURIs: []string{issuer + "/oauth/token/display"},
			GrantMethod:  oauthv1.GrantHandlerAuto,
		},
		{
			ObjectMeta:   metav1.ObjectMeta{Name: WebConsoleClient},
			RedirectURIs: []string{consoleURL},
			GrantMethod:  oauthv1.GrantHandlerAuto,
		},
	}
}

// EnsureClients creates the built-in clients or brings their redirect URIs, challenge setting and
// grant method back to Gantry's; a secret already set is kept. The browser client gets a random
// secret (it is a confidential client: only this server exchanges its codes).
func EnsureClients(ctx context.Context, c oauthclient.OAuthClientInterface, want []*oauthv1.OAuthClient) error {
	for _, w := range want {
		cur, err := c.Get(ctx, w.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if w.Name == BrowserClient && w.Secret == "" {
				if w.Secret, err = NewToken(); err != nil {
					return err
				}
			}
			if _, err := c.Create(ctx, w, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create OAuth client %s: %w", w.Name, err)
			}
		case err != nil:
			return fmt.Errorf("get OAuth client %s: %w", w.Name, err)
		default:
			upd := cur.DeepCopy()
			upd.RedirectURIs, upd.RespondWithChallenges, upd.GrantMethod = w.RedirectURIs, w.RespondWithChallenges, w.GrantMethod
			if w.Name == BrowserClient && upd.Secret == "" {
				if upd.Secret, err = NewToken(); err != nil {
					return err
				}
			}
			if _, err := c.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update OAuth client %s: %w", w.Name, err)
			}
		}
	}
	return nil
}
