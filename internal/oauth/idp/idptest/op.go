package idptest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"golang.org/x/crypto/bcrypt"
)

// OP is a real OpenID Connect provider on loopback TLS: ory/fosite's authorization code flow with
// PKCE and OpenID Connect, plus the endpoints fosite leaves to its user (a login by HTTP Basic
// authentication at the authorize endpoint, userinfo, JWKS and discovery). It knows one client.
type OP struct {
	// Issuer is https://127.0.0.1:<port>; the endpoints are under it.
	Issuer                                       string
	AuthorizeURL, TokenURL, UserInfoURL, JWKSURL string
	// CAFile trusts the server's certificate.
	CAFile                 string
	ClientID, ClientSecret string

	opts     OPOptions
	server   *httptest.Server
	provider fosite.OAuth2Provider
	key      *rsa.PrivateKey
	mu       sync.Mutex
	users    map[string]OPUser
}

// OPUser is a person the OP can log in.
type OPUser struct {
	Password string
	Subject  string
	// IDTokenClaims are added to the ID token (preferred_username, name, ...).
	IDTokenClaims map[string]any
	// UserInfoClaims are answered only by the userinfo endpoint, beside sub.
	UserInfoClaims map[string]any
}

// OPOptions make the OP misbehave in one way, to test the relying party's checks.
type OPOptions struct {
	// RedirectURIs registered for the client; required.
	RedirectURIs []string
	// NoDiscovery answers 404 at /.well-known/openid-configuration.
	NoDiscovery bool
	// DiscoveryIssuer, when set, is the issuer the discovery document claims.
	DiscoveryIssuer string
	// ForeignJWKS publishes a key that did not sign the ID tokens.
	ForeignJWKS bool
	// UserInfoSubject, when set, is the sub the userinfo endpoint answers.
	UserInfoSubject string
	// AuthorizedParty, when set, is put in the ID tokens' azp claim.
	AuthorizedParty string
}

const opKeyID = "idptest-1"

// StartOP starts the provider; it stops when the test ends.
func StartOP(t testing.TB, opts OPOptions) *OP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &OP{ClientID: "gantry", ClientSecret: "gantry-client-secret", opts: opts, key: key, users: map[string]OPUser{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", op.authorize)
	mux.HandleFunc("/token", op.token)
	mux.HandleFunc("/userinfo", op.userInfo)
	mux.HandleFunc("/jwks", op.jwks)
	mux.HandleFunc("/.well-known/openid-configuration", op.discovery)
	op.server = httptest.NewUnstartedServer(mux)
	// Handshakes refused on purpose (tests with a wrong CA) are not news.
	op.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	op.server.StartTLS()
	t.Cleanup(op.server.Close)

	op.Issuer = op.server.URL
	op.AuthorizeURL, op.TokenURL = op.Issuer+"/authorize", op.Issuer+"/token"
	op.UserInfoURL, op.JWKSURL = op.Issuer+"/userinfo", op.Issuer+"/jwks"
	op.CAFile = filepath.Join(t.TempDir(), "op-ca.crt")
	if err := os.WriteFile(op.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: op.server.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	secret, err := bcrypt.GenerateFromPassword([]byte(op.ClientSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	store := storage.NewMemoryStore()
	store.Clients[op.ClientID] = &fosite.DefaultClient{
		ID:            op.ClientID,
		Secret:        secret,
		RedirectURIs:  opts.RedirectURIs,
		GrantTypes:    []string{"authorization_code"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "profile", "email"},
	}
	global := make([]byte, 32)
	if _, err := rand.Read(global); err != nil {
		t.Fatal(err)
	}
	cfg := &fosite.Config{
		IDTokenIssuer:              op.Issuer,
		GlobalSecret:               global,
		AccessTokenLifespan:        time.Hour,
		AuthorizeCodeLifespan:      10 * time.Minute,
		IDTokenLifespan:            time.Hour,
		SendDebugMessagesToClients: true,
	}
	op.provider = compose.ComposeAllEnabled(cfg, store, key)
	return op
}

// AddUser lets login log in with u.Password.
func (op *OP) AddUser(login string, u OPUser) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.users[login] = u
}

func (op *OP) user(login string) (OPUser, bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	u, ok := op.users[login]
	return u, ok
}

// Login plays the browser: it opens authorizeURL at the OP with the person's credentials and
// returns where the OP redirects back to (the relying party's callback, with code and state, or
// with an error).
func (op *OP) Login(t testing.TB, authorizeURL, login, password string) *url.URL {
	t.Helper()
	client := op.server.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequest(http.MethodGet, authorizeURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(login, password)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("the OP answered the authorize request with %s, not a redirect:\n%s", resp.Status, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func (op *OP) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := op.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		op.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	login, password, ok := r.BasicAuth()
	u, known := op.user(login)
	if !ok || !known || u.Password != password {
		w.Header().Set("WWW-Authenticate", `Basic realm="idptest"`)
		http.Error(w, "log in", http.StatusUnauthorized)
		return
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	extra := maps.Clone(u.IDTokenClaims)
	if op.opts.AuthorizedParty != "" {
		if extra == nil {
			extra = map[string]any{}
		}
		extra["azp"] = op.opts.AuthorizedParty
	}
	now := time.Now().UTC()
	session := &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			Subject:     u.Subject,
			Issuer:      op.Issuer,
			AuthTime:    now,
			RequestedAt: now,
			Extra:       extra,
		},
		Headers:  &jwt.Headers{Extra: map[string]any{"kid": opKeyID}},
		Subject:  u.Subject,
		Username: login,
	}
	resp, err := op.provider.NewAuthorizeResponse(ctx, ar, session)
	if err != nil {
		op.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	op.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

func (op *OP) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := op.provider.NewAccessRequest(ctx, r, &openid.DefaultSession{})
	if err != nil {
		op.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := op.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		op.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	op.provider.WriteAccessResponse(ctx, w, ar, resp)
}

func (op *OP) userInfo(w http.ResponseWriter, r *http.Request) {
	_, ar, err := op.provider.IntrospectToken(r.Context(), fosite.AccessTokenFromRequest(r), fosite.AccessToken, &openid.DefaultSession{})
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	s, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok {
		http.Error(w, fmt.Sprintf("session is a %T", ar.GetSession()), http.StatusInternalServerError)
		return
	}
	u, _ := op.user(s.Username)
	claims := maps.Clone(u.UserInfoClaims)
	if claims == nil {
		claims = map[string]any{}
	}
	claims["sub"] = s.Subject
	if op.opts.UserInfoSubject != "" {
		claims["sub"] = op.opts.UserInfoSubject
	}
	writeJSON(w, claims)
}

func (op *OP) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := &op.key.PublicKey
	if op.opts.ForeignJWKS {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		pub = &other.PublicKey
	}
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: opKeyID, Algorithm: "RS256", Use: "sig"}}})
}

func (op *OP) discovery(w http.ResponseWriter, _ *http.Request) {
	if op.opts.NoDiscovery {
		http.NotFound(w, nil)
		return
	}
	issuer := op.Issuer
	if op.opts.DiscoveryIssuer != "" {
		issuer = op.opts.DiscoveryIssuer
	}
	writeJSON(w, map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                op.AuthorizeURL,
		"token_endpoint":                        op.TokenURL,
		"userinfo_endpoint":                     op.UserInfoURL,
		"jwks_uri":                              op.JWKSURL,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// WithNonce returns authorizeURL with its nonce replaced, as an attacker who copied a victim's
// authorize URL (its state and PKCE challenge) would send it to obtain a code for the victim's
// login but an ID token of the attacker's choosing.
func WithNonce(authorizeURL, nonce string) string {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return authorizeURL
	}
	q := u.Query()
	q.Set("nonce", nonce)
	u.RawQuery = q.Encode()
	return u.String()
}

// Error returns the OAuth error of a redirect back from the OP, or "".
func Error(callback *url.URL) string {
	return strings.TrimSpace(callback.Query().Get("error") + " " + callback.Query().Get("error_description"))
}
