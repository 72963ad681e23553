package oauth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
)

// Group and extra names the API sees on a request made with an OAuth token.
const (
	// AuthenticatedOAuthGroup is every user who authenticated with an OAuth token (OpenShift's
	// self-provisioner role is bound to it, so service accounts cannot request projects).
	AuthenticatedOAuthGroup = "system:authenticated:oauth"
	// ScopesExtra carries the token's scopes, as in OpenShift.
	ScopesExtra = "scopes.authorization.openshift.io"
)

// Authenticator turns an OAuth token into the user it was issued to.
type Authenticator struct {
	cache *cache
	now   func() time.Time
}

// AuthenticateToken returns the user a token stands for, or ok=false when the token is unknown,
// expired, revoked, or its user was deleted or replaced (a new user with the same name has another
// UID, so old tokens do not carry over).
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (info *authenticationv1.UserInfo, ok bool, err error) {
	if !IsToken(token) {
		return nil, false, nil
	}
	t, err := a.cache.token(ctx, ObjectName(token))
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if t.ExpiresIn > 0 && !a.now().Before(t.CreationTimestamp.Add(time.Duration(t.ExpiresIn)*time.Second)) {
		return nil, false, nil
	}
	u, err := a.cache.userByName(ctx, t.UserName)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if string(u.UID) != t.UserUID {
		return nil, false, nil
	}
	groups, err := a.cache.groupsOf(u.Name)
	if err != nil {
		return nil, false, err
	}
	groups = append(slices.Clone(u.Groups), groups...) // u.Groups: virtual groups set on the User (rarely used)
	groups = append(groups, AuthenticatedOAuthGroup)
	info = &authenticationv1.UserInfo{Username: u.Name, UID: string(u.UID), Groups: groups}
	if len(t.Scopes) > 0 {
		info.Extra = map[string]authenticationv1.ExtraValue{ScopesExtra: t.Scopes}
	}
	return info, true, nil
}

// WebhookUser is the common name of the client certificate kube-apiserver presents to the token-review
// webhook; no one else may ask it about tokens.
const WebhookUser = "system:gantry:kube-apiserver-token-webhook"

// TokenReviewHandler is kube-apiserver's token-review webhook (authentication.k8s.io/v1 TokenReview
// in, TokenReview out). Callers must present a client certificate from clientCAs with the common name
// WebhookUser.
func (a *Authenticator) TokenReviewHandler(clientCAs *x509.CertPool) http.Handler {
	return onlyClient(clientCAs, WebhookUser, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a TokenReview", http.StatusMethodNotAllowed)
			return
		}
		var review authenticationv1.TokenReview
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&review); err != nil {
			http.Error(w, "body is not a TokenReview: "+err.Error(), http.StatusBadRequest)
			return
		}
		out := authenticationv1.TokenReview{TypeMeta: review.TypeMeta}
		if out.APIVersion == "" {
			out.APIVersion, out.Kind = "authentication.k8s.io/v1", "TokenReview"
		}
		info, ok, err := a.AuthenticateToken(r.Context(), review.Spec.Token)
		switch {
		case err != nil:
			// Never the token itself in a log or an answer.
			klog.ErrorS(err, "Token review failed")
			out.Status.Error = "the OAuth server could not check the token; try again"
		case ok:
			out.Status.Authenticated = true
			out.Status.User = *info
			out.Status.Audiences = review.Spec.Audiences
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&out)
	}))
}

// onlyClient lets only the client certificate of commonName from cas reach next.
func onlyClient(cas *x509.CertPool, commonName string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !clientIs(r, cas, commonName) {
			http.Error(w, "this webhook answers only kube-apiserver's client certificate", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientIs verifies the request's client certificate against cas and its common name.
func clientIs(r *http.Request, cas *x509.CertPool, commonName string) bool {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || cas == nil {
		return false
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: cas, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return false
	}
	return leaf.Subject.CommonName == commonName
}
