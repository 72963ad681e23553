package idp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	osinv1 "github.com/openshift/api/osin/v1"
	"golang.org/x/oauth2"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
)

// OpenID logs people in with an external OpenID Connect provider (OP) by the authorization code
// flow. The configuration is OpenShift 3's OpenIDIdentityProvider: the authorize, token and
// optional userInfo URLs are given, there is no issuer field. How the ID token is checked:
//
//   - The token endpoint is called over TLS verified with `ca` (or the system roots), with the
//     client secret, and the code is bound to this login by PKCE (S256).
//   - The authorize request carries a nonce derived from the login's state with a key that lives
//     only in this process (HMAC-SHA256), so no other login's ID token is accepted: the ID token's
//     nonce must match the state that came back to the callback.
//   - Signature: the ID token names its issuer (iss). When that issuer publishes OpenID discovery
//     (<iss>/.well-known/openid-configuration, same CA) whose issuer is exactly iss, the signature
//     is checked against the keys at its jwks_uri with the algorithms it lists, and the provider
//     is remembered. When it does not, the signature is not checked: the ID token came straight
//     from the configured token endpoint over verified TLS, which OpenID Connect Core 1.0 §3.1.3.7
//     (6) allows in place of a signature check. Unsigned ("alg": "none") tokens are refused either
//     way.
//   - Always: aud must contain clientID (and azp, if present, must be clientID), exp must be in
//     the future, at_hash (if present) must match the access token.
//   - With a userInfo URL, its claims are fetched with the access token; its sub must equal the ID
//     token's sub (§5.3.2), and its claims fill the claims the ID token lacks.
//
// The identity is the first non-empty claim of claims.id (usually sub); preferredUsername, name
// and email come from their claim lists.
type OpenID struct {
	providerName string
	clientID     string
	clientSecret string
	endpoint     oauth2.Endpoint
	userInfoURL  string
	scopes       []string
	extraParams  map[string]string
	claims       osinv1.OpenIDClaims
	client       *http.Client
	// key binds the nonce and the PKCE verifier to a login's state.
	key []byte
	now func() time.Time

	mu        sync.Mutex
	verifiers map[string]*oidc.IDTokenVerifier // by issuer, for issuers with discovery
}

var _ RedirectAuthenticator = (*OpenID)(nil)

// reservedAuthorizeParameters are set by the flow and may not come from extraAuthorizeParameters.
var reservedAuthorizeParameters = []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"}

// idTokenAlgorithms are the signing algorithms accepted when no discovery document lists them.
var idTokenAlgorithms = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

const openIDTimeout = 30 * time.Second

func buildOpenID(_ context.Context, p *Provider, obj runtime.Object, fld *field.Path) field.ErrorList {
	cfg := obj.(*osinv1.OpenIDIdentityProvider)
	pf := fld.Child("provider")
	var errs field.ErrorList
	if p.UseAsChallenger {
		errs = append(errs, field.Invalid(fld.Child("challenge"), true, "an OpenID Connect provider cannot answer WWW-Authenticate challenges (oc login -u/-p); set challenge: false, and get a token from /oauth/token/request in a browser"))
	}
	o := &OpenID{
		providerName: p.Name,
		clientID:     cfg.ClientID,
		userInfoURL:  cfg.URLs.UserInfo,
		scopes:       []string{oidc.ScopeOpenID},
		extraParams:  cfg.ExtraAuthorizeParameters,
		claims:       cfg.Claims,
		verifiers:    map[string]*oidc.IDTokenVerifier{},
		key:          make([]byte, 32),
		now:          time.Now,
	}
	if _, err := rand.Read(o.key); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	if cfg.ClientID == "" {
		errs = append(errs, field.Required(pf.Child("clientID"), "must be the client ID registered with the OpenID provider"))
	}
	secret, err := ResolveStringSource(cfg.ClientSecret)
	switch {
	case err != nil:
		errs = append(errs, field.Invalid(pf.Child("clientSecret"), "", err.Error()))
	case secret == "":
		errs = append(errs, field.Required(pf.Child("clientSecret"), "must be the client secret registered with the OpenID provider (value, env or file)"))
	}
	o.clientSecret = secret
	if _, ferr := parseHTTPSURL(cfg.URLs.Authorize, pf.Child("urls", "authorize")); ferr != nil {
		errs = append(errs, ferr)
	}
	if _, ferr := parseHTTPSURL(cfg.URLs.Token, pf.Child("urls", "token")); ferr != nil {
		errs = append(errs, ferr)
	}
	if cfg.URLs.UserInfo != "" {
		if _, ferr := parseHTTPSURL(cfg.URLs.UserInfo, pf.Child("urls", "userInfo")); ferr != nil {
			errs = append(errs, ferr)
		}
	}
	o.endpoint = oauth2.Endpoint{AuthURL: cfg.URLs.Authorize, TokenURL: cfg.URLs.Token}
	if len(cfg.Claims.ID) == 0 {
		errs = append(errs, field.Required(pf.Child("claims", "id"), "must list the claims that identify a user (usually [sub])"))
	}
	for i, s := range cfg.ExtraScopes {
		switch {
		case s == "" || strings.ContainsAny(s, " \t\r\n\"\\"):
			errs = append(errs, field.Invalid(pf.Child("extraScopes").Index(i), s, "must be one scope name without spaces"))
		case s != oidc.ScopeOpenID:
			o.scopes = append(o.scopes, s)
		}
	}
	for k := range cfg.ExtraAuthorizeParameters {
		for _, r := range reservedAuthorizeParameters {
			if strings.EqualFold(k, r) {
				errs = append(errs, field.Invalid(pf.Child("extraAuthorizeParameters").Key(k), cfg.ExtraAuthorizeParameters[k], "is set by the login flow and cannot be configured"))
			}
		}
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CA != "" {
		pool, err := loadCA(cfg.CA)
		if err != nil {
			errs = append(errs, field.Invalid(pf.Child("ca"), cfg.CA, err.Error()))
		}
		tlsConfig.RootCAs = pool
	}
	o.client = &http.Client{
		Timeout:   openIDTimeout,
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true},
	}
	p.Redirect = o
	return errs
}

// derive returns a value bound to state for purpose ("nonce", "pkce"): 43 URL-safe characters,
// a valid PKCE verifier.
func (o *OpenID) derive(purpose, state string) string {
	m := hmac.New(sha256.New, o.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (o *OpenID) oauth2Config(callbackURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.clientID, ClientSecret: o.clientSecret, Endpoint: o.endpoint, RedirectURL: callbackURL, Scopes: o.scopes}
}

// AuthorizeURL is the OP's authorize URL for this login: code flow, the openid scope and the extra
// scopes, state, a nonce and a PKCE challenge bound to state, and extraAuthorizeParameters.
func (o *OpenID) AuthorizeURL(state, callbackURL string) (string, error) {
	if state == "" {
		return "", errors.New("an OpenID Connect login needs a state")
	}
	if callbackURL == "" {
		return "", errors.New("an OpenID Connect login needs a callback URL")
	}
	keys := make([]string, 0, len(o.extraParams))
	for k := range o.extraParams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	opts := []oauth2.AuthCodeOption{oidc.Nonce(o.derive("nonce", state)), oauth2.S256ChallengeOption(o.derive("pkce", state))}
	for _, k := range keys {
		opts = append(opts, oauth2.SetAuthURLParam(k, o.extraParams[k]))
	}
	return o.oauth2Config(callbackURL).AuthCodeURL(state, opts...), nil
}

// HandleCallback exchanges the code of the callback request for tokens, checks the ID token (see
// OpenID) and returns the identity its claims describe.
func (o *OpenID) HandleCallback(ctx context.Context, r *http.Request, callbackURL string) (*Identity, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		msg := e
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		return nil, fmt.Errorf("identity provider %q refused the login: %s", o.providerName, msg)
	}
	code, state := q.Get("code"), q.Get("state")
	if code == "" || state == "" {
		return nil, fmt.Errorf("identity provider %q: the callback has no code or no state", o.providerName)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.client)
	tok, err := o.oauth2Config(callbackURL).Exchange(ctx, code, oauth2.VerifierOption(o.derive("pkce", state)))
	if err != nil {
		return nil, fmt.Errorf("identity provider %q: exchange the code at %s: %w", o.providerName, o.endpoint.TokenURL, err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, fmt.Errorf("identity provider %q: the token response has no id_token (is the openid scope allowed for client %q?)", o.providerName, o.clientID)
	}
	idToken, err := o.verify(ctx, rawID)
	if err != nil {
		return nil, fmt.Errorf("identity provider %q: %w", o.providerName, err)
	}
	if idToken.Nonce != o.derive("nonce", state) {
		return nil, fmt.Errorf("identity provider %q: the ID token's nonce does not belong to this login", o.providerName)
	}
	claims, err := decodeClaims(idToken.Claims)
	if err != nil {
		return nil, fmt.Errorf("identity provider %q: ID token claims: %w", o.providerName, err)
	}
	if azp, ok := claims["azp"]; ok && azp != o.clientID {
		return nil, fmt.Errorf("identity provider %q: the ID token was issued to %v (azp), not to client %q", o.providerName, azp, o.clientID)
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("identity provider %q: %w", o.providerName, err)
		}
	}
	if o.userInfoURL != "" {
		info, err := o.userInfo(ctx, tok.AccessToken)
		if err != nil {
			return nil, fmt.Errorf("identity provider %q: userinfo %s: %w", o.providerName, o.userInfoURL, err)
		}
		if info["sub"] != idToken.Subject {
			return nil, fmt.Errorf("identity provider %q: userinfo is about subject %v, the ID token about %q", o.providerName, info["sub"], idToken.Subject)
		}
		for k, v := range info {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	id := firstClaim(claims, o.claims.ID)
	if id == "" {
		return nil, fmt.Errorf("identity provider %q: the login has none of the id claims %v", o.providerName, o.claims.ID)
	}
	return &Identity{
		ProviderName:      o.providerName,
		ProviderUserName:  id,
		PreferredUserName: firstClaim(claims, o.claims.PreferredUsername),
		Name:              firstClaim(claims, o.claims.Name),
		Email:             firstClaim(claims, o.claims.Email),
	}, nil
}

// verify checks the ID token: with the issuer's keys when it has discovery, else without a
// signature check (see OpenID).
func (o *OpenID) verify(ctx context.Context, raw string) (*oidc.IDToken, error) {
	header, payload, err := splitJWT(raw)
	if err != nil {
		return nil, fmt.Errorf("ID token: %w", err)
	}
	if strings.EqualFold(header.Alg, "none") || header.Alg == "" {
		return nil, errors.New("the ID token is not signed (alg none)")
	}
	if payload.Issuer == "" {
		return nil, errors.New("the ID token has no issuer (iss)")
	}
	v, err := o.verifier(ctx, payload.Issuer)
	if err != nil {
		return nil, err
	}
	t, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("ID token: %w", err)
	}
	return t, nil
}

// verifier returns the verifier for issuer: with its keys when its discovery document is
// available, else one that checks iss, aud and exp only.
func (o *OpenID) verifier(ctx context.Context, issuer string) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	v, ok := o.verifiers[issuer]
	o.mu.Unlock()
	if ok {
		return v, nil
	}
	cfg := &oidc.Config{ClientID: o.clientID, Now: func() time.Time { return o.now() }}
	doc, err := o.discover(ctx, issuer)
	if err != nil {
		klog.V(2).InfoS("OpenID provider has no usable discovery document; ID token signatures are not checked, the token endpoint's TLS is trusted instead", "provider", o.providerName, "issuer", issuer, "reason", err.Error())
		cfg.InsecureSkipSignatureCheck = true
		cfg.SupportedSigningAlgs = idTokenAlgorithms
		return oidc.NewVerifier(issuer, &oidc.StaticKeySet{}, cfg), nil
	}
	if doc.Issuer != issuer {
		return nil, fmt.Errorf("the discovery document of issuer %q names issuer %q", issuer, doc.Issuer)
	}
	if doc.JWKSURL == "" {
		return nil, fmt.Errorf("the discovery document of issuer %q has no jwks_uri", issuer)
	}
	pc := oidc.ProviderConfig{IssuerURL: issuer, AuthURL: doc.AuthURL, TokenURL: doc.TokenURL, UserInfoURL: doc.UserInfoURL, JWKSURL: doc.JWKSURL, Algorithms: doc.Algorithms}
	if len(pc.Algorithms) == 0 {
		pc.Algorithms = []string{oidc.RS256}
	}
	// The provider keeps the client of this context (not the context) for fetching keys.
	v = pc.NewProvider(oidc.ClientContext(context.Background(), o.client)).Verifier(cfg)
	o.mu.Lock()
	o.verifiers[issuer] = v
	o.mu.Unlock()
	return v, nil
}

type discoveryDoc struct {
	Issuer      string   `json:"issuer"`
	AuthURL     string   `json:"authorization_endpoint"`
	TokenURL    string   `json:"token_endpoint"`
	UserInfoURL string   `json:"userinfo_endpoint"`
	JWKSURL     string   `json:"jwks_uri"`
	Algorithms  []string `json:"id_token_signing_alg_values_supported"`
}

// discover fetches the OpenID discovery document of issuer. An error means there is none to use.
func (o *OpenID) discover(ctx context.Context, issuer string) (*discoveryDoc, error) {
	resp, body, err := o.get(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	doc := &discoveryDoc{}
	if err := json.Unmarshal(body, doc); err != nil {
		return nil, fmt.Errorf("not a discovery document: %w", err)
	}
	return doc, nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
}

type jwtPayload struct {
	Issuer string `json:"iss"`
}

// splitJWT reads the header and the issuer of a JWS in compact form, without checking anything.
func splitJWT(raw string) (*jwtHeader, *jwtPayload, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not a signed JWT (want three dot-separated parts)")
	}
	h, p := &jwtHeader{}, &jwtPayload{}
	for i, v := range []any{h, p} {
		data, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, fmt.Errorf("malformed JWT: %w", err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			return nil, nil, fmt.Errorf("malformed JWT: %w", err)
		}
	}
	return h, p, nil
}

// userInfo fetches the userinfo claims with the access token.
func (o *OpenID) userInfo(ctx context.Context, accessToken string) (map[string]any, error) {
	resp, body, err := o.get(ctx, o.userInfoURL, http.Header{"Authorization": {"Bearer " + accessToken}, "Accept": {"application/json"}})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/jwt" {
		return nil, errors.New("the provider answers with a signed or encrypted JWT, which is not supported; configure it to answer JSON")
	}
	return decodeClaims(func(v any) error { return json.Unmarshal(body, v) })
}

// get sends a GET with header to the provider over its client and returns the response with at
// most 1 MiB of its body (the body is read and closed).
func (o *OpenID) get(ctx context.Context, url string, header http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// decodeClaims reads claims keeping numbers exact.
func decodeClaims(into func(any) error) (map[string]any, error) {
	var raw json.RawMessage
	if err := into(&raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	claims := map[string]any{}
	if err := dec.Decode(&claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// firstClaim returns the first of names whose claim is a non-empty string or a number.
func firstClaim(claims map[string]any, names []string) string {
	for _, n := range names {
		switch v := claims[n].(type) {
		case string:
			if v != "" {
				return v
			}
		case json.Number:
			return v.String()
		}
	}
	return ""
}
