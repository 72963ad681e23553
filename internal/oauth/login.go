package oauth

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/oauth/idp"
)

// loginProviders are the providers shown to browsers.
func (s *Server) loginProviders() []idp.Provider {
	var out []idp.Provider
	for _, p := range s.cfg.Providers {
		if p.UseAsLogin {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) provider(name string) (idp.Provider, bool) {
	for _, p := range s.loginProviders() {
		if p.Name == name {
			return p, true
		}
	}
	return idp.Provider{}, false
}

// redirectToLogin sends a browser from /oauth/authorize to the login page, which brings it back.
func (s *Server) redirectToLogin(w http.ResponseWriter, r *http.Request) {
	then := url.Values{"then": {"/oauth/authorize?" + r.Form.Encode()}}
	http.Redirect(w, r, "/login?"+then.Encode(), http.StatusFound)
}

// login is /login (the list of providers, or the only one) and /login/{provider}.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	then := r.FormValue("then")
	if _, ok := localAuthorizeURL(then); !ok {
		s.pages.error(w, http.StatusBadRequest, "Start from the application you want to log in to.",
			"this page is reached from /oauth/authorize (then= must be an /oauth/authorize URL of this server)")
		return
	}
	name := r.PathValue("provider")
	providers := s.loginProviders()
	if name == "" {
		switch len(providers) {
		case 0:
			s.pages.error(w, http.StatusForbidden, "No identity provider accepts browser logins.", "ask an administrator to set useAsLogin on one")
			return
		case 1:
			name = providers[0].Name
		default:
			s.pages.selectProvider(w, providers, then)
			return
		}
	}
	p, ok := s.provider(name)
	if !ok {
		s.pages.error(w, http.StatusNotFound, "There is no such identity provider.", "choose one on the login page")
		return
	}
	switch {
	case p.Password != nil:
		s.passwordLogin(w, r, p, then)
	case p.Redirect != nil:
		state := randomString(24)
		if err := s.sessions.setState(w, redirectState{State: state, Provider: p.Name, Then: then}); err != nil {
			s.pages.error(w, http.StatusInternalServerError, "The login could not start.", err.Error())
			return
		}
		to, err := p.Redirect.AuthorizeURL(state, s.callbackURL(p.Name))
		if err != nil {
			s.pages.error(w, http.StatusInternalServerError, "The login could not start.", err.Error())
			return
		}
		http.Redirect(w, r, to, http.StatusFound)
	case p.Request != nil && p.LoginURL != "":
		thenURL, _ := localAuthorizeURL(then)
		http.Redirect(w, r, idp.ExpandRedirectURL(p.LoginURL, s.external(thenURL)), http.StatusFound)
	default:
		s.pages.error(w, http.StatusForbidden, "This identity provider has no login page.", "ask an administrator to set its loginURL")
	}
}

func (s *Server) callbackURL(provider string) string {
	return s.cfg.Issuer + "/oauth2callback/" + url.PathEscape(provider)
}

// passwordLogin shows the login form, and checks what it posts.
func (s *Server) passwordLogin(w http.ResponseWriter, r *http.Request, p idp.Provider, then string) {
	csrf := s.sessions.csrfToken(w, r)
	if r.Method == http.MethodGet {
		s.pages.login(w, http.StatusOK, p.Name, then, csrf, "")
		return
	}
	if !s.sessions.checkCSRF(r) {
		s.pages.login(w, http.StatusForbidden, p.Name, then, csrf, "The form has expired. Please try again.")
		return
	}
	user, pass := r.PostFormValue("username"), r.PostFormValue("password")
	id, ok, err := p.Password.AuthenticatePassword(r.Context(), user, pass)
	if err != nil {
		klog.ErrorS(err, "Identity provider failed", "provider", p.Name)
		s.pages.login(w, http.StatusServiceUnavailable, p.Name, then, csrf, "The identity provider could not be reached. Please try again later.")
		return
	}
	if !ok {
		klog.V(2).InfoS("Login failed", "provider", p.Name, "user", user)
		s.pages.login(w, http.StatusUnauthorized, p.Name, then, csrf, "Invalid login or password. Please try again.")
		return
	}
	s.finishLogin(w, r, p, id, then)
}

func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, p idp.Provider, id *idp.Identity, then string) {
	g, err := s.mapIdentity(r.Context(), p, id)
	if err != nil {
		s.pages.error(w, http.StatusForbidden, errNotMapped, errNotMappedDetail)
		return
	}
	if err := s.sessions.set(w, session{UserName: g.UserName, UserUID: g.UserUID}); err != nil {
		s.pages.error(w, http.StatusInternalServerError, "The login could not be saved.", err.Error())
		return
	}
	klog.InfoS("Logged in", "provider", p.Name, "user", g.UserName)
	http.Redirect(w, r, then, http.StatusFound)
}

// callback is where an external provider (OpenID Connect) sends the browser back.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	p, ok := s.provider(r.PathValue("provider"))
	if !ok || p.Redirect == nil {
		s.pages.error(w, http.StatusNotFound, "There is no such identity provider.", "start again from the login page")
		return
	}
	st, ok := s.sessions.takeState(w, r)
	got := r.URL.Query().Get("state")
	if !ok || st.Provider != p.Name || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(st.State)) != 1 {
		s.pages.error(w, http.StatusBadRequest, "This login did not start in this browser, or it expired.", "start again from the application")
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		s.pages.error(w, http.StatusUnauthorized, "The identity provider refused the login.", strings.TrimSpace(e+" "+r.URL.Query().Get("error_description")))
		return
	}
	id, err := p.Redirect.HandleCallback(r.Context(), r, s.callbackURL(p.Name))
	if err != nil {
		klog.InfoS("External login failed", "provider", p.Name, "err", err)
		s.pages.error(w, http.StatusUnauthorized, "The identity provider's answer was not accepted.", err.Error())
		return
	}
	s.finishLogin(w, r, p, id, st.Then)
}

// logout ends the browser's session with the OAuth server (tokens already issued stay valid until
// they expire or are deleted: `gantry logout` deletes a CLI's token).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.sessions.clear(w)
	s.pages.message(w, http.StatusOK, "You are logged out.", "Close this window, or log in again from your application.")
}

// tokenRequest starts the browser flow whose end, /oauth/token/display, shows a token to paste into a
// command line.
func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request) {
	q := url.Values{
		"client_id":     {BrowserClient},
		"response_type": {"code"},
		"redirect_uri":  {s.cfg.Issuer + "/oauth/token/display"},
	}
	http.Redirect(w, r, "/oauth/authorize?"+q.Encode(), http.StatusFound)
}

// tokenDisplay receives the browser client's code. A GET only shows a button: following a link (or a
// prefetch) must not spend the code; the POST exchanges it and shows the token.
func (s *Server) tokenDisplay(w http.ResponseWriter, r *http.Request) {
	csrf := s.sessions.csrfToken(w, r)
	if e := r.FormValue("error"); e != "" {
		s.pages.error(w, http.StatusBadRequest, "No token was issued.", e+" "+r.FormValue("error_description"))
		return
	}
	code := r.FormValue("code")
	if code == "" {
		s.pages.message(w, http.StatusOK, "Request a token", "Open /oauth/token/request to get a token for the command line.")
		return
	}
	if r.Method != http.MethodPost {
		s.pages.displayForm(w, code, csrf)
		return
	}
	if !s.sessions.checkCSRF(r) {
		s.pages.error(w, http.StatusForbidden, "The form has expired or did not come from this server.", "request a new token")
		return
	}
	c, err := s.store.GetClient(BrowserClient)
	if err != nil {
		s.pages.error(w, http.StatusInternalServerError, "The browser client is missing.", err.Error())
		return
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {s.cfg.Issuer + "/oauth/token/display"},
		"client_id":     {BrowserClient},
		"client_secret": {c.GetSecret()},
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		s.pages.error(w, http.StatusInternalServerError, "The token could not be issued.", err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := s.exchange(req)
	defer resp.Close()
	tok, _ := resp.Output["access_token"].(string)
	if resp.IsError || tok == "" {
		desc, _ := resp.Output["error_description"].(string)
		s.pages.error(w, http.StatusBadRequest, "No token was issued: the code is used or expired.", strings.TrimSpace(desc+" Request a new token."))
		return
	}
	s.pages.display(w, tok, s.apiServerURL())
}

// apiServerURL is where the token is used, for the commands the display page suggests.
func (s *Server) apiServerURL() string {
	if s.cfg.APIServerURL != "" {
		return s.cfg.APIServerURL
	}
	return s.cfg.Issuer
}

// implicit is the redirect target of the challenging client: oc reads the code from the redirect and
// never loads this page, but a person who does learns what happened.
func (s *Server) implicit(w http.ResponseWriter, r *http.Request) {
	s.pages.message(w, http.StatusOK, "Your login is complete.",
		"The command line that started it has its token. You can close this window.")
}
