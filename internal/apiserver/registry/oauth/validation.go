package oauth

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	oauthv1 "github.com/openshift/api/oauth/v1"
	"github.com/openshift/library-go/pkg/authorization/scopemetadata"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/user"
)

const (
	// MinTokenLength is the shortest token name accepted, so that tokens
	// (whose names are the secret, or its hash) cannot be guessed.
	MinTokenLength = 32
	// HashedTokenPrefix marks the names of tokens stored in hashed form.
	HashedTokenPrefix = "sha256~"
	// MinimumInactivityTimeoutSeconds is the smallest non-zero access token
	// inactivity timeout a client may ask for.
	MinimumInactivityTimeoutSeconds = 5 * 60

	bootstrapUser        = "kube:admin"
	serviceAccountPrefix = "system:serviceaccount:"
)

var (
	supportedGrantMethods         = []string{string(oauthv1.GrantHandlerAuto), string(oauthv1.GrantHandlerPrompt)}
	supportedCodeChallengeMethods = []string{"plain", "S256"}
	codeChallengeRegexp           = regexp.MustCompile(`^[a-zA-Z0-9._~-]{43,128}$`)
	errNegative                   = "must be greater than or equal to 0"
	immutableAfterCreation        = "may not be changed after creation"
)

// ValidateTokenName checks a token name: a path segment of at least
// MinTokenLength characters (not counting the sha256~ prefix of hashed names).
func ValidateTokenName(name string, prefix bool) []string {
	if msgs := path.ValidatePathSegmentName(name, prefix); len(msgs) != 0 || prefix {
		return msgs
	}
	if len(strings.TrimPrefix(name, HashedTokenPrefix)) < MinTokenLength {
		return []string{fmt.Sprintf("must be at least %d characters long (after the %s prefix of hashed tokens)", MinTokenLength, HashedTokenPrefix)}
	}
	return nil
}

// ValidateClientAuthorizationName checks the <userName>:<clientName> form.
func ValidateClientAuthorizationName(name string, prefix bool) []string {
	if msgs := path.ValidatePathSegmentName(name, prefix); len(msgs) != 0 || prefix {
		return msgs
	}
	if i := strings.Index(name, ":"); i <= 0 || i == len(name)-1 {
		return []string{"must be in the form <userName>:<clientName>"}
	}
	return nil
}

// redirectURIProblem describes what is wrong with a redirect URI, or
// returns "": it must parse, have no fragment and no . or .. path segments.
func redirectURIProblem(uri string) string {
	u, err := url.Parse(uri)
	switch {
	case uri == "":
		return "may not be empty"
	case err != nil:
		return fmt.Sprintf("must be a valid URL: %v", err)
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return "may not contain a fragment (#...)"
	}
	for _, s := range strings.Split(u.Path, "/") {
		if s == "." || s == ".." {
			return fmt.Sprintf("may not contain a path segment %q", s)
		}
	}
	return ""
}

func validateClient(c *oauthv1.OAuthClient) field.ErrorList {
	var allErrs field.ErrorList
	for i, uri := range c.RedirectURIs {
		if msg := redirectURIProblem(uri); msg != "" {
			allErrs = append(allErrs, field.Invalid(field.NewPath("redirectURIs").Index(i), uri, msg))
		}
	}
	for i, s := range c.AdditionalSecrets {
		if s == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("additionalSecrets").Index(i), "may not be empty"))
		}
	}
	for i := range c.ScopeRestrictions {
		allErrs = append(allErrs, validateScopeRestriction(&c.ScopeRestrictions[i], field.NewPath("scopeRestrictions").Index(i))...)
	}
	if v := c.AccessTokenMaxAgeSeconds; v != nil && *v < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("accessTokenMaxAgeSeconds"), *v, errNegative+" (0 means tokens do not expire)"))
	}
	if v := c.AccessTokenInactivityTimeoutSeconds; v != nil && (*v < 0 || (*v > 0 && *v < MinimumInactivityTimeoutSeconds)) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("accessTokenInactivityTimeoutSeconds"), *v,
			fmt.Sprintf("must be 0 (no timeout) or at least %d seconds", MinimumInactivityTimeoutSeconds)))
	}
	switch c.GrantMethod {
	case oauthv1.GrantHandlerAuto, oauthv1.GrantHandlerPrompt:
	case "":
		allErrs = append(allErrs, field.Required(field.NewPath("grantMethod"), "must be auto or prompt"))
	default:
		allErrs = append(allErrs, field.NotSupported(field.NewPath("grantMethod"), c.GrantMethod, supportedGrantMethods))
	}
	return allErrs
}

func validateScopeRestriction(r *oauthv1.ScopeRestriction, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case len(r.ExactValues) > 0 && r.ClusterRole != nil:
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("clusterRole"), "may not be set together with literals; give exactly one"))
	case len(r.ExactValues) == 0 && r.ClusterRole == nil:
		allErrs = append(allErrs, field.Required(fldPath.Child("literals"), "must give literals or clusterRole"))
	}
	for i, l := range r.ExactValues {
		if l == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("literals").Index(i), "may not be empty"))
		}
	}
	if cr := r.ClusterRole; cr != nil {
		if len(cr.RoleNames) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("clusterRole", "roleNames"), "must list at least one role name (or * for any)"))
		}
		if len(cr.Namespaces) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("clusterRole", "namespaces"), "must list at least one namespace (or * for any)"))
		}
	}
	return allErrs
}

// tokenFields are the fields access and authorize tokens share.
type tokenFields struct {
	clientName, userName, userUID, redirectURI string
	scopes                                     []string
}

func validateTokenFields(t tokenFields, redirectRequired bool) field.ErrorList {
	allErrs := validateClientName(t.clientName, field.NewPath("clientName"))
	allErrs = append(allErrs, validateUserNameField(t.userName, field.NewPath("userName"))...)
	if t.userUID == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("userUID"), "must give the UID of the user the token was issued to"))
	}
	allErrs = append(allErrs, scopemetadata.ValidateScopes(t.scopes, field.NewPath("scopes"))...)
	if t.redirectURI != "" || redirectRequired {
		if msg := redirectURIProblem(t.redirectURI); msg != "" {
			allErrs = append(allErrs, field.Invalid(field.NewPath("redirectURI"), t.redirectURI, msg))
		}
	}
	return allErrs
}

func validateAccessToken(t *oauthv1.OAuthAccessToken) field.ErrorList {
	allErrs := validateTokenFields(tokenFields{t.ClientName, t.UserName, t.UserUID, t.RedirectURI, t.Scopes}, false)
	if t.ExpiresIn < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("expiresIn"), t.ExpiresIn, errNegative+" (0 means the token does not expire)"))
	}
	if t.InactivityTimeoutSeconds < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("inactivityTimeoutSeconds"), t.InactivityTimeoutSeconds, errNegative))
	}
	return allErrs
}

// validateAccessTokenUpdate allows only the inactivity timeout to change:
// it may grow (several servers extend it concurrently) or drop to 0, but a
// token without a timeout may not get one.
func validateAccessTokenUpdate(t, old *oauthv1.OAuthAccessToken) field.ErrorList {
	allErrs := validateAccessToken(t)
	p := field.NewPath("inactivityTimeoutSeconds")
	switch {
	case old.InactivityTimeoutSeconds == 0 && t.InactivityTimeoutSeconds != 0:
		allErrs = append(allErrs, field.Invalid(p, t.InactivityTimeoutSeconds, "may not be set on a token created without an inactivity timeout"))
	case t.InactivityTimeoutSeconds > 0 && t.InactivityTimeoutSeconds < old.InactivityTimeoutSeconds:
		allErrs = append(allErrs, field.Invalid(p, t.InactivityTimeoutSeconds, fmt.Sprintf("may not be decreased below the current %d (except to 0)", old.InactivityTimeoutSeconds)))
	}
	for _, c := range []struct {
		name     string
		new, old interface{}
	}{
		{"clientName", t.ClientName, old.ClientName},
		{"expiresIn", t.ExpiresIn, old.ExpiresIn},
		{"scopes", t.Scopes, old.Scopes},
		{"redirectURI", t.RedirectURI, old.RedirectURI},
		{"userName", t.UserName, old.UserName},
		{"userUID", t.UserUID, old.UserUID},
		{"authorizeToken", t.AuthorizeToken, old.AuthorizeToken},
		{"refreshToken", t.RefreshToken, old.RefreshToken},
	} {
		allErrs = append(allErrs, immutable(c.new, c.old, field.NewPath(c.name))...)
	}
	return allErrs
}

func validateAuthorizeToken(t *oauthv1.OAuthAuthorizeToken) field.ErrorList {
	allErrs := validateTokenFields(tokenFields{t.ClientName, t.UserName, t.UserUID, t.RedirectURI, t.Scopes}, true)
	if t.ExpiresIn <= 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("expiresIn"), t.ExpiresIn, "must be greater than 0; authorize codes are short-lived"))
	}
	if t.CodeChallenge != "" || t.CodeChallengeMethod != "" {
		switch {
		case t.CodeChallenge == "":
			allErrs = append(allErrs, field.Required(field.NewPath("codeChallenge"), "must be set when codeChallengeMethod is set"))
		case !codeChallengeRegexp.MatchString(t.CodeChallenge):
			allErrs = append(allErrs, field.Invalid(field.NewPath("codeChallenge"), t.CodeChallenge, "must be 43-128 characters of [a-zA-Z0-9._~-]"))
		}
		switch t.CodeChallengeMethod {
		case "plain", "S256":
		case "":
			allErrs = append(allErrs, field.Required(field.NewPath("codeChallengeMethod"), "must be set when codeChallenge is set"))
		default:
			allErrs = append(allErrs, field.NotSupported(field.NewPath("codeChallengeMethod"), t.CodeChallengeMethod, supportedCodeChallengeMethods))
		}
	}
	return allErrs
}

// validateAuthorizeTokenUpdate keeps every field but metadata unchanged.
func validateAuthorizeTokenUpdate(t, old *oauthv1.OAuthAuthorizeToken) field.ErrorList {
	allErrs := validateAuthorizeToken(t)
	for _, c := range []struct {
		name     string
		new, old interface{}
	}{
		{"clientName", t.ClientName, old.ClientName},
		{"expiresIn", t.ExpiresIn, old.ExpiresIn},
		{"scopes", t.Scopes, old.Scopes},
		{"redirectURI", t.RedirectURI, old.RedirectURI},
		{"state", t.State, old.State},
		{"userName", t.UserName, old.UserName},
		{"userUID", t.UserUID, old.UserUID},
		{"codeChallenge", t.CodeChallenge, old.CodeChallenge},
		{"codeChallengeMethod", t.CodeChallengeMethod, old.CodeChallengeMethod},
	} {
		allErrs = append(allErrs, immutable(c.new, c.old, field.NewPath(c.name))...)
	}
	return allErrs
}

func validateClientAuthorization(a *oauthv1.OAuthClientAuthorization) field.ErrorList {
	allErrs := validateClientName(a.ClientName, field.NewPath("clientName"))
	allErrs = append(allErrs, validateUserNameField(a.UserName, field.NewPath("userName"))...)
	if a.UserUID == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("userUID"), "must give the UID of the user who granted the authorization"))
	}
	allErrs = append(allErrs, scopemetadata.ValidateScopes(a.Scopes, field.NewPath("scopes"))...)
	if a.UserName != "" && a.ClientName != "" {
		if want := a.UserName + ":" + a.ClientName; a.Name != want {
			allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), a.Name, fmt.Sprintf("must be %q (<userName>:<clientName>)", want)))
		}
	}
	return allErrs
}

func validateClientAuthorizationUpdate(a, old *oauthv1.OAuthClientAuthorization) field.ErrorList {
	allErrs := validateClientAuthorization(a)
	allErrs = append(allErrs, immutable(a.ClientName, old.ClientName, field.NewPath("clientName"))...)
	allErrs = append(allErrs, immutable(a.UserName, old.UserName, field.NewPath("userName"))...)
	allErrs = append(allErrs, immutable(a.UserUID, old.UserUID, field.NewPath("userUID"))...)
	return allErrs
}

// validateClientName accepts an OAuth client name or a service account
// user name (system:serviceaccount:<namespace>:<name>), which service
// accounts use as OAuth clients.
func validateClientName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "must name the OAuth client")}
	}
	var msgs []string
	if rest, ok := strings.CutPrefix(name, serviceAccountPrefix); ok {
		parts := strings.Split(rest, ":")
		if len(parts) != 2 {
			msgs = []string{"must be system:serviceaccount:<namespace>:<name> for a service account client"}
		} else {
			msgs = append(apivalidation.ValidateNamespaceName(parts[0], false), apivalidation.NameIsDNSSubdomain(parts[1], false)...)
		}
	} else {
		msgs = apivalidation.NameIsDNSSubdomain(name, false)
	}
	if len(msgs) != 0 {
		return field.ErrorList{field.Invalid(fldPath, name, strings.Join(msgs, ", "))}
	}
	return nil
}

func validateUserNameField(name string, fldPath *field.Path) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(fldPath, "must name the user")}
	case name == bootstrapUser:
		return nil
	}
	if msgs := user.ValidateUserName(name, false); len(msgs) != 0 {
		return field.ErrorList{field.Invalid(fldPath, name, strings.Join(msgs, ", "))}
	}
	return nil
}

func immutable(newV, oldV interface{}, fldPath *field.Path) field.ErrorList {
	if msgs := apivalidation.ValidateImmutableField(newV, oldV, fldPath); len(msgs) != 0 {
		return field.ErrorList{field.Forbidden(fldPath, immutableAfterCreation)}
	}
	return nil
}
