package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	oauthv1 "github.com/openshift/api/oauth/v1"
	"github.com/openshift/library-go/pkg/authorization/scopemetadata"
	"github.com/openshift/osin"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/oauth/idp"
)

// csrfHeader must be on a request before the server answers it with a Basic challenge: a web page
// cannot set it on a cross-site request, so no site can make a browser show a password prompt for
// this server (seed 004, "OAuth": "X-CSRF-Token").
const csrfHeader = "X-CSRF-Token"

// redirectURIProblem rejects redirect URIs that osin's prefix check would accept but a browser or a
// server could read differently: user info, backslashes, dot segments (also percent-encoded),
// encoded slashes, fragments and control characters.
func redirectURIProblem(raw string) string {
	if raw == "" {
		return ""
	}
	lower := strings.ToLower(raw)
	switch {
	case strings.ContainsAny(raw, "\\#") || strings.Contains(lower, "%5c") || strings.Contains(lower, "%23"):
		return "may not contain a backslash or a fragment"
	case strings.Contains(lower, "%2e") || strings.Contains(lower, "%2f") || strings.Contains(lower, "%00"):
		return "may not contain encoded dots, slashes or NUL in its path"
	}
	for _, c := range raw {
		if c < 0x20 || c == 0x7f {
			return "may not contain control characters"
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a URL"
	}
	if u.User != nil {
		return "may not contain user information (user@host)"
	}
	if !u.IsAbs() || u.Host == "" {
		return "must be an absolute URL"
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "may not contain . or .. path segments"
		}
	}
	return ""
}

// authorize is /oauth/authorize: it checks the client and redirect URI, finds out who the person is
// (a session, a challenge for clients that receive them, or a login page), asks for approval when the
// client's grant method says so, and redirects back with a code (or, in the implicit flow, a token).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.pages.error(w, http.StatusBadRequest, "The request is malformed.", err.Error())
		return
	}
	if len(r.Form["redirect_uri"]) > 1 || len(r.Form["client_id"]) > 1 || len(r.Form["response_type"]) > 1 {
		s.pages.error(w, http.StatusBadRequest, "The request is malformed.", "client_id, response_type and redirect_uri may each appear once")
		return
	}
	if msg := redirectURIProblem(r.Form.Get("redirect_uri")); msg != "" {
		// Never redirect to a URI that failed the check: answer here.
		s.pages.error(w, http.StatusBadRequest, "The redirect URI is not allowed.", "redirect_uri "+msg)
		return
	}
	resp := s.osin.NewResponse()
	defer resp.Close()
	ar := s.osin.HandleAuthorizeRequest(resp, r)
	if ar == nil {
		s.writeOsin(w, r, resp)
		return
	}
	cl := ar.Client.(client)
	if cl.GrantMethod == oauthv1.GrantHandlerDeny {
		resp.SetErrorState(osin.E_ACCESS_DENIED, "this client may not be granted access", ar.State)
		s.writeOsin(w, r, resp)
		return
	}
	if ar.Scope == "" {
		ar.Scope = userFull
	}
	if msg := scopeProblem(cl, strings.Fields(ar.Scope)); msg != "" {
		resp.SetErrorState(osin.E_INVALID_SCOPE, msg, ar.State)
		s.writeOsin(w, r, resp)
		return
	}

	g, done := s.authenticate(w, r, cl)
	if done {
		return
	}
	switch s.grantMethod(cl) {
	case oauthv1.GrantHandlerPrompt:
		ok, err := s.granted(r.Context(), g, cl.Name, strings.Fields(ar.Scope))
		if err != nil {
			resp.SetErrorState(osin.E_SERVER_ERROR, "", ar.State)
			resp.InternalError = err
			s.writeOsin(w, r, resp)
			return
		}
		if !ok {
			s.pages.approve(w, r, s.sessions.csrfToken(w, r), cl.Name, strings.Fields(ar.Scope), "/oauth/authorize?"+r.Form.Encode())
			return
		}
	}
	ar.Authorized = true
	ar.UserData = g
	if ar.Type == osin.TOKEN {
		ar.Expiration = s.expiration(cl)
	}
	s.osin.FinishAuthorizeRequest(resp, r, ar)
	s.writeOsin(w, r, resp)
}

// userFull is the scope of a token that can do all its user can; the default.
const userFull = "user:full"

// scopeProblem checks requested scopes. The API does not restrict a token to its scopes yet, so a
// narrower scope (user:info, role:...) would give a false sense of safety: only user:full is issued.
func scopeProblem(c client, scopes []string) string {
	if errs := scopemetadata.ValidateScopes(scopes, field.NewPath("scope")); len(errs) > 0 {
		return errs.ToAggregate().Error()
	}
	if err := scopemetadata.ValidateScopeRestrictions(c.OAuthClient, scopes...); err != nil {
		return err.Error()
	}
	for _, sc := range scopes {
		if sc != userFull {
			return fmt.Sprintf("scope %q is not supported yet: Gantry issues only %s tokens", sc, userFull)
		}
	}
	return ""
}

func (s *Server) grantMethod(c client) oauthv1.GrantHandlerType {
	if c.GrantMethod != "" {
		return c.GrantMethod
	}
	return s.cfg.GrantMethod
}

// expiration is a client's token lifetime in seconds: its own maximum age if set (0: never expire).
func (s *Server) expiration(c client) int32 {
	if c.AccessTokenMaxAgeSeconds != nil {
		return *c.AccessTokenMaxAgeSeconds
	}
	return s.osin.Config.AccessExpiration
}

// authenticate finds the user of an authorize request. done is true when it has answered the request
// itself (a challenge, a redirect to a login page, an error).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, cl client) (g grant, done bool) {
	if sess, ok := s.sessions.get(r); ok {
		return grant{UserName: sess.UserName, UserUID: sess.UserUID}, false
	}
	// An authenticating proxy in front of this server (request-header providers).
	for _, p := range s.cfg.Providers {
		if p.Request == nil || !(cl.RespondWithChallenges && p.UseAsChallenger || !cl.RespondWithChallenges && p.UseAsLogin) {
			continue
		}
		id, ok, err := p.Request.AuthenticateRequest(r)
		if err != nil {
			klog.ErrorS(err, "Request-header identity provider failed", "provider", p.Name)
		}
		if ok {
			if g, err := s.mapIdentity(r.Context(), p, id); err == nil {
				return g, false
			} else {
				s.pages.error(w, http.StatusForbidden, errNotMapped, errNotMappedDetail)
				return grant{}, true
			}
		}
	}
	if cl.RespondWithChallenges {
		return s.challenge(w, r)
	}
	// A browser: send it to the login page, which comes back here.
	s.redirectToLogin(w, r)
	return grant{}, true
}

// challenge answers a client that receives challenges (oc login): with Basic credentials it checks
// them against the challenging password providers; without, it asks for them, or sends the client to
// a request-header provider's challenge URL.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request) (grant, bool) {
	var passwords []idp.Provider
	for _, p := range s.cfg.Providers {
		if p.UseAsChallenger && p.Password != nil {
			passwords = append(passwords, p)
		}
	}
	if user, pass, ok := r.BasicAuth(); ok && len(passwords) > 0 {
		for _, p := range passwords {
			id, ok, err := p.Password.AuthenticatePassword(r.Context(), user, pass)
			if err != nil {
				klog.ErrorS(err, "Identity provider failed", "provider", p.Name)
				continue
			}
			if !ok {
				continue
			}
			g, err := s.mapIdentity(r.Context(), p, id)
			if err != nil {
				s.unauthorized(w, r, errNotMapped+" "+errNotMappedDetail)
				return grant{}, true
			}
			return g, false
		}
		klog.V(2).InfoS("Login failed", "provider", "challenge", "user", user)
		s.unauthorized(w, r, "")
		return grant{}, true
	}
	for _, p := range s.cfg.Providers {
		if p.UseAsChallenger && p.Request != nil && p.ChallengeURL != "" {
			http.Redirect(w, r, idp.ExpandRedirectURL(p.ChallengeURL, s.external(r.URL)), http.StatusFound)
			return grant{}, true
		}
	}
	s.unauthorized(w, r, "")
	return grant{}, true
}

// unauthorized is 401 with a Basic challenge, which is only sent to requests with an X-CSRF-Token
// header. It never says whether the user exists.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, detail string) {
	msg := "Login failed: the user name or password is not valid."
	if r.Header.Get(csrfHeader) != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="openshift"`)
	} else {
		msg = "A non-empty X-CSRF-Token header is required to receive basic-auth challenges."
	}
	if detail != "" {
		msg = detail
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = fmt.Fprintln(w, msg)
}

// external is u (a request URL of this server) as an absolute URL under the issuer.
func (s *Server) external(u *url.URL) *url.URL {
	out, err := url.Parse(s.cfg.Issuer + u.RequestURI())
	if err != nil {
		return u
	}
	return out
}

// What a person sees when their identity is not mapped to a user; the reason (which may name other
// users) goes only to the log.
const (
	errNotMapped       = "Your identity could not be mapped to a user."
	errNotMappedDetail = "Ask an administrator: the reason is in the OAuth server's log."
)

// mapIdentity turns an identity into the grant of its user.
func (s *Server) mapIdentity(ctx context.Context, p idp.Provider, id *idp.Identity) (grant, error) {
	if id.ProviderName == "" {
		id.ProviderName = p.Name
	}
	name, uid, err := s.cfg.Mapper.Map(ctx, id, p.MappingMethod)
	if err != nil {
		klog.InfoS("Identity not mapped to a user", "provider", p.Name, "identity", id.ProviderUserName, "err", err)
		return grant{}, err
	}
	return grant{UserName: name, UserUID: uid}, nil
}

// granted tells whether user already approved these scopes for the client.
func (s *Server) granted(ctx context.Context, g grant, clientName string, scopes []string) (bool, error) {
	a, err := s.cfg.OAuth.OauthV1().OAuthClientAuthorizations().Get(ctx, g.UserName+":"+clientName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if a.UserUID != g.UserUID {
		return false, nil
	}
	have := map[string]bool{}
	for _, sc := range a.Scopes {
		have[sc] = true
	}
	for _, sc := range scopes {
		if !have[sc] {
			return false, nil
		}
	}
	return true, nil
}

// approve is the form behind the approval page: it records the grant (OAuthClientAuthorization) and
// goes back to /oauth/authorize, or denies.
func (s *Server) approve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if !s.sessions.checkCSRF(r) {
		s.pages.error(w, http.StatusForbidden, "The form has expired or did not come from this server.", "go back and try again")
		return
	}
	sess, ok := s.sessions.get(r)
	if !ok {
		s.pages.error(w, http.StatusUnauthorized, "Your session has expired.", "go back and log in again")
		return
	}
	then := r.PostFormValue("then")
	thenURL, ok := localAuthorizeURL(then)
	if !ok {
		s.pages.error(w, http.StatusBadRequest, "The request is malformed.", "then must be an /oauth/authorize URL of this server")
		return
	}
	q := thenURL.Query()
	clientName := q.Get("client_id")
	if r.PostFormValue("approve") == "" {
		// Denied: back to the client with access_denied, through osin's checks of the redirect URI.
		resp := s.osin.NewResponse()
		defer resp.Close()
		req := r.Clone(r.Context())
		req.Method, req.URL, req.Form, req.PostForm = http.MethodGet, thenURL, nil, nil
		if ar := s.osin.HandleAuthorizeRequest(resp, req); ar != nil {
			resp.SetErrorState(osin.E_ACCESS_DENIED, "the user denied the request", ar.State)
		}
		s.writeOsin(w, req, resp)
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{userFull}
	}
	ctx := r.Context()
	api := s.cfg.OAuth.OauthV1().OAuthClientAuthorizations()
	name := sess.UserName + ":" + clientName
	cur, err := api.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = api.Create(ctx, &oauthv1.OAuthClientAuthorization{
			ObjectMeta: metav1.ObjectMeta{Name: name}, ClientName: clientName,
			UserName: sess.UserName, UserUID: sess.UserUID, Scopes: scopes,
		}, metav1.CreateOptions{})
	case err == nil:
		upd := cur.DeepCopy()
		upd.UserUID = sess.UserUID
		upd.Scopes = mergeScopes(upd.Scopes, scopes)
		_, err = api.Update(ctx, upd, metav1.UpdateOptions{})
	}
	if err != nil {
		s.pages.error(w, http.StatusInternalServerError, "The approval could not be saved.", err.Error())
		return
	}
	http.Redirect(w, r, thenURL.RequestURI(), http.StatusFound)
}

func mergeScopes(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// localAuthorizeURL accepts only a path of this server's /oauth/authorize, so that a login or approval
// form cannot be used to redirect anywhere else.
func localAuthorizeURL(then string) (*url.URL, bool) {
	u, err := url.Parse(then)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != "/oauth/authorize" ||
		strings.HasPrefix(then, "//") || strings.Contains(then, "\\") {
		return nil, false
	}
	return u, true
}

// token is /oauth/token: it exchanges an authorization code (with its PKCE verifier) for an access
// token. A code works once; using it again revokes the token it gave.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	resp := s.exchange(r)
	defer resp.Close()
	s.writeOsin(w, r, resp)
}

// exchange runs a token request; the caller closes the response.
func (s *Server) exchange(r *http.Request) *osin.Response {
	resp := s.osin.NewResponse()
	ar := s.osin.HandleAccessRequest(resp, r)
	if ar != nil {
		if err := s.store.consumeAuthorize(ar.Code); err != nil {
			if errors.Is(err, errCodeReplayed) {
				s.store.revokeIssuedFrom(r.Context(), ObjectName(ar.Code))
				resp.SetError(osin.E_INVALID_GRANT, "the authorization code was already used")
			} else {
				resp.SetError(osin.E_SERVER_ERROR, "")
				resp.InternalError = err
			}
		} else {
			ar.Authorized = true
			ar.GenerateRefresh = false
			if c, ok := ar.Client.(client); ok {
				ar.Expiration = s.expiration(c)
			}
			// osin deletes the code again after saving the token: RemoveAuthorize ignores NotFound.
			s.osin.FinishAccessRequest(resp, r, ar)
		}
	}
	return resp
}

// writeOsin writes an osin response: a redirect (with the code, token or error) or JSON.
func (s *Server) writeOsin(w http.ResponseWriter, r *http.Request, resp *osin.Response) {
	if resp.InternalError != nil {
		klog.ErrorS(resp.InternalError, "OAuth request failed", "path", r.URL.Path, "error", resp.Output["error"])
	}
	if resp.Type == osin.REDIRECT {
		loc, err := resp.GetRedirectUrl()
		if err != nil {
			s.pages.error(w, http.StatusBadRequest, "The redirect URI is not valid.", err.Error())
			return
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusFound)
		return
	}
	if resp.IsError && resp.ErrorStatusCode == 0 {
		resp.ErrorStatusCode = http.StatusBadRequest
	}
	_ = osin.OutputJSON(resp, w, r)
}
