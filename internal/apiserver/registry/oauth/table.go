package oauth

import (
	"strings"
	"time"

	oauthv1 "github.com/openshift/api/oauth/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

var clientColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Secret", Type: "string", Description: "Whether the client has a secret (the secret itself is never shown)."},
	{Name: "WWW-Challenge", Type: "boolean", Description: "Whether the client is answered with WWW-Authenticate challenges."},
	{Name: "Token-Max-Age", Type: "string", Description: "The maximum age of access tokens granted to the client."},
	{Name: "Redirect URIs", Type: "string", Description: "The URIs the client may be redirected to."},
}

var tokenColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "User Name", Type: "string", Description: "The user the token was issued to."},
	{Name: "Client Name", Type: "string", Description: "The OAuth client the token was issued to."},
	{Name: "Created", Type: "date", Description: "Time since the token was created."},
	{Name: "Expires", Type: "string", Description: "When the token expires."},
	{Name: "Redirect URI", Type: "string", Description: "The redirect URI of the grant."},
	{Name: "Scopes", Type: "string", Description: "The scopes the token grants."},
}

var clientAuthorizationColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "User Name", Type: "string", Description: "The user who authorized the client."},
	{Name: "Client Name", Type: "string", Description: "The authorized OAuth client."},
	{Name: "Scopes", Type: "string", Description: "The scopes granted to the client."},
}

func clientRow(c *oauthv1.OAuthClient) []interface{} {
	secret := "<none>"
	if c.Secret != "" {
		secret = "<set>"
	}
	maxAge := "default"
	if s := c.AccessTokenMaxAgeSeconds; s != nil {
		maxAge = "unexpiring"
		if *s > 0 {
			maxAge = (time.Duration(*s) * time.Second).String()
		}
	}
	return []interface{}{c.Name, secret, c.RespondWithChallenges, maxAge, strings.Join(c.RedirectURIs, ",")}
}

func tokenRow(meta *metav1.ObjectMeta, userName, clientName string, expiresIn int64, redirectURI string, scopes []string) []interface{} {
	return []interface{}{meta.Name, userName, clientName, resource.Age(meta.CreationTimestamp),
		expires(meta.CreationTimestamp, expiresIn, time.Now()), redirectURI, strings.Join(scopes, ",")}
}

// expires renders a token's expiry: "never", "expired" or "in <duration>".
func expires(created metav1.Time, expiresIn int64, now time.Time) string {
	if expiresIn <= 0 {
		return "never"
	}
	lifetime := time.Duration(expiresIn) * time.Second
	if created.IsZero() {
		return "in " + duration.HumanDuration(lifetime)
	}
	left := created.Add(lifetime).Sub(now).Round(time.Second)
	if left <= 0 {
		return "expired"
	}
	return "in " + duration.HumanDuration(left)
}

func clientAuthorizationRow(a *oauthv1.OAuthClientAuthorization) []interface{} {
	return []interface{}{a.Name, a.UserName, a.ClientName, strings.Join(a.Scopes, ",")}
}
