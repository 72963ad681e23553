package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// TokenPrefix starts every token and authorization code Gantry issues, as in OpenShift 4: the API
// stores only the SHA-256 of a token, under the object name ObjectName(token).
const TokenPrefix = "sha256~"

// NewToken returns a new random token: TokenPrefix and 256 random bits in base64url.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// ObjectName is the name of the OAuthAccessToken or OAuthAuthorizeToken that stores token: the
// secret itself never reaches etcd, so reading the API does not reveal usable tokens.
func ObjectName(token string) string {
	h := sha256.Sum256([]byte(strings.TrimPrefix(token, TokenPrefix)))
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(h[:])
}

// IsToken tells whether s has the shape of a token Gantry issued (so that other bearer tokens, such
// as service-account JWTs, are not looked up).
func IsToken(s string) bool {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || len(rest) != 43 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
