// Package oauth is Gantry's OAuth server (seed 004, "Authentication" and "OAuth"): it logs people in
// through the configured identity providers, maps their identities to users, issues OAuth tokens
// stored as oauth.openshift.io objects, and is kube-apiserver's token-review webhook so that one token
// works on every API. The protocol is github.com/openshift/osin's, the library OpenShift's own OAuth
// server uses.
package oauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	oauthv1 "github.com/openshift/api/oauth/v1"
	oauthclientset "github.com/openshift/client-go/oauth/clientset/versioned"
	userclientset "github.com/openshift/client-go/user/clientset/versioned"
	"github.com/openshift/library-go/pkg/oauth/oauthdiscovery"
	"github.com/openshift/osin"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/oauth/idp"
)

// Config configures the OAuth server.
type Config struct {
	// Issuer is the server's external URL (https://host:port, no path): the base of every endpoint
	// and of the built-in clients' redirect URIs.
	Issuer string
	// APIServerURL is the API the tokens are for (shown on the token display page).
	APIServerURL string
	// Providers are the identity providers, in the order the login page lists them.
	Providers []idp.Provider
	// Mapper maps identities to users.
	Mapper idp.Mapper
	// OAuth and Users reach the oauth.openshift.io and user.openshift.io APIs with the rights to
	// manage tokens, clients, users and identities.
	OAuth oauthclientset.Interface
	Users userclientset.Interface
	// AccessTokenMaxAge (default 24h) and AuthorizeTokenMaxAge (default 5m) bound token lifetimes; an
	// OAuthClient's accessTokenMaxAgeSeconds overrides the first.
	AccessTokenMaxAge, AuthorizeTokenMaxAge time.Duration
	// SessionMaxAge is how long a browser stays logged in to the OAuth server (default 5m).
	SessionMaxAge time.Duration
	// SessionHashKey and SessionBlockKey sign and encrypt the session cookies (32 bytes each).
	SessionHashKey, SessionBlockKey []byte
	// GrantMethod applies to clients that set none: auto (default) or prompt.
	GrantMethod oauthv1.GrantHandlerType
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Server is the OAuth server.
type Server struct {
	cfg      Config
	osin     *osin.Server
	store    *storage
	cache    *cache
	sessions *sessions
	auth     *Authenticator
	pages    *pages
}

// New builds the server; Run starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Issuer == "" || cfg.OAuth == nil || cfg.Users == nil || cfg.Mapper == nil {
		return nil, errors.New("OAuth server: Issuer, OAuth, Users and Mapper are required")
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if cfg.AccessTokenMaxAge == 0 {
		cfg.AccessTokenMaxAge = 24 * time.Hour
	}
	if cfg.AuthorizeTokenMaxAge == 0 {
		cfg.AuthorizeTokenMaxAge = 5 * time.Minute
	}
	if cfg.SessionMaxAge == 0 {
		cfg.SessionMaxAge = 5 * time.Minute
	}
	if cfg.GrantMethod == "" {
		cfg.GrantMethod = oauthv1.GrantHandlerAuto
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.SessionHashKey) < 32 || len(cfg.SessionBlockKey) != 32 {
		return nil, errors.New("OAuth server: session keys must be 32 bytes")
	}
	c, err := newCache(cfg.OAuth, cfg.Users)
	if err != nil {
		return nil, err
	}
	store := &storage{api: cfg.OAuth.OauthV1(), tokens: c, timeout: 10 * time.Second}
	oc := osin.NewServerConfig()
	oc.AuthorizationExpiration = int32(cfg.AuthorizeTokenMaxAge / time.Second)
	oc.AccessExpiration = int32(cfg.AccessTokenMaxAge / time.Second)
	oc.TokenType = "Bearer"
	oc.AllowedAuthorizeTypes = osin.AllowedAuthorizeType{osin.CODE, osin.TOKEN}
	oc.AllowedAccessTypes = osin.AllowedAccessType{osin.AUTHORIZATION_CODE}
	oc.AllowClientSecretInParams = true
	oc.ErrorStatusCode = http.StatusBadRequest
	oc.RedirectUriSeparator = uriSeparator
	o := osin.NewServer(oc, store)
	o.AuthorizeTokenGen, o.AccessTokenGen = tokenGen{}, tokenGen{}
	o.Now = cfg.Now
	o.Logger = osinLogger{}
	s := &Server{
		cfg: cfg, osin: o, store: store, cache: c,
		sessions: newSessions(cfg.SessionHashKey, cfg.SessionBlockKey, cfg.SessionMaxAge, cfg.Now),
		auth:     &Authenticator{cache: c, now: cfg.Now},
		pages:    newPages(),
	}
	return s, nil
}

// Authenticator is the server's token authenticator.
func (s *Server) Authenticator() *Authenticator { return s.auth }

// Handler serves the OAuth endpoints. webhookCAs verifies the client certificate of kube-apiserver
// on its webhooks: the token review, and authz (an authorization webhook) when not nil. Without
// webhookCAs, there are no webhooks.
func (s *Server) Handler(webhookCAs *x509.CertPool, authz http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/authorize", s.authorize)
	mux.HandleFunc("/oauth/authorize/approve", s.approve)
	mux.HandleFunc("/oauth/token", s.token)
	mux.HandleFunc("/oauth/token/implicit", s.implicit)
	mux.HandleFunc("/oauth/token/request", s.tokenRequest)
	mux.HandleFunc("/oauth/token/display", s.tokenDisplay)
	mux.HandleFunc("/login", s.login)
	mux.HandleFunc("/login/{provider}", s.login)
	mux.HandleFunc("/oauth2callback/{provider}", s.callback)
	mux.HandleFunc("/logout", s.logout)
	mux.Handle("/.well-known/oauth-authorization-server", MetadataHandler(s.cfg.Issuer))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	if webhookCAs != nil {
		mux.Handle("/tokenreview", s.auth.TokenReviewHandler(webhookCAs))
		if authz != nil {
			mux.Handle("/subjectaccessreview", onlyClient(webhookCAs, WebhookUser, authz))
		}
	}
	return secureHeaders(mux)
}

// secureHeaders marks every answer as private and not to be framed, sniffed or leaked in a Referer
// (tokens and codes travel in URLs of these pages).
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
		h.Set("Pragma", "no-cache")
		h.Set("Expires", "0")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-XSS-Protection", "1; mode=block")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// Metadata is the RFC 8414 document kube-apiserver serves at /.well-known/oauth-authorization-server,
// where oc and gantry login find the OAuth server.
func Metadata(issuer string) oauthdiscovery.OauthAuthorizationServerMetadata {
	issuer = strings.TrimRight(issuer, "/")
	return oauthdiscovery.OauthAuthorizationServerMetadata{
		Issuer:                        issuer,
		AuthorizationEndpoint:         oauthdiscovery.OpenShiftOAuthAuthorizeURL(issuer),
		TokenEndpoint:                 oauthdiscovery.OpenShiftOAuthTokenURL(issuer),
		ScopesSupported:               []string{"user:full", "user:info", "user:check-access", "user:list-projects", "user:list-scoped-projects"},
		ResponseTypesSupported:        []string{"code", "token"},
		GrantTypesSupported:           []string{"authorization_code", "implicit"},
		CodeChallengeMethodsSupported: []string{osin.PKCE_PLAIN, osin.PKCE_S256},
	}
}

// MetadataHandler serves Metadata(issuer) as JSON.
func MetadataHandler(issuer string) http.Handler {
	body, _ := json.MarshalIndent(Metadata(issuer), "", "  ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// ServeOptions is where and how Run listens.
type ServeOptions struct {
	Address           string // host:port
	CertFile, KeyFile string
	// ClientCAFile verifies kube-apiserver's certificate on the webhooks.
	ClientCAFile string
	// AuthorizationWebhook, if set, is served at /subjectaccessreview to kube-apiserver.
	AuthorizationWebhook http.Handler
}

// Run waits for the caches, then serves until ctx is done; ready is called once it listens.
func (s *Server) Run(ctx context.Context, o ServeOptions, ready func()) error {
	var cas *x509.CertPool
	if o.ClientCAFile != "" {
		pem, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return err
		}
		cas = x509.NewCertPool()
		if !cas.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", o.ClientCAFile)
		}
	}
	if err := s.cache.run(ctx); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Address)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: s.Handler(cas, o.AuthorizationWebhook),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			// Certificates are checked by the handlers that use them: the token-review webhook and
			// request-header identity providers, each against its own CA.
			ClientAuth: tls.RequestClientCert,
		},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	klog.InfoS("OAuth server listening", "issuer", s.cfg.Issuer, "address", o.Address)
	if ready != nil {
		ready()
	}
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type tokenGen struct{}

func (tokenGen) GenerateAuthorizeToken(*osin.AuthorizeData) (string, error) { return NewToken() }
func (tokenGen) GenerateAccessToken(*osin.AccessData, bool) (string, string, error) {
	t, err := NewToken()
	return t, "", err
}

// osinLogger keeps osin's debug lines at a high verbosity; they never include tokens.
type osinLogger struct{}

func (osinLogger) Printf(format string, v ...interface{}) { klog.V(4).Infof("osin: "+format, v...) }
