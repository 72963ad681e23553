package oauth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
)

// Cookies of the OAuth server. The session cookie is signed and encrypted; the CSRF cookie is a
// random value that every form posts back (double submit) and no other site can read or set.
const (
	sessionCookie = "gantry_oauth_session"
	csrfCookie    = "gantry_oauth_csrf"
	stateCookie   = "gantry_oauth_state"
	csrfField     = "csrf"
)

// session is who logged in to this browser, for SessionMaxAge.
type session struct {
	UserName, UserUID string
	Expires           int64
}

// redirectState ties an external login (OpenID Connect) to the browser that started it.
type redirectState struct {
	State, Provider, Then string
	Expires               int64
}

type sessions struct {
	codec  *securecookie.SecureCookie
	maxAge time.Duration
	now    func() time.Time
}

// newSessions uses hashKey (32+ bytes) to sign and blockKey (32 bytes) to encrypt cookies.
func newSessions(hashKey, blockKey []byte, maxAge time.Duration, now func() time.Time) *sessions {
	c := securecookie.New(hashKey, blockKey)
	c.MaxAge(int(maxAge / time.Second))
	return &sessions{codec: c, maxAge: maxAge, now: now}
}

func (s *sessions) cookie(name, value string, maxAge time.Duration, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		Secure: true, HttpOnly: true, SameSite: sameSite}
}

func (s *sessions) set(w http.ResponseWriter, sess session) error {
	sess.Expires = s.now().Add(s.maxAge).Unix()
	v, err := s.codec.Encode(sessionCookie, sess)
	if err != nil {
		return err
	}
	// Lax: the browser sends it on the top-level redirect from an application to /oauth/authorize.
	http.SetCookie(w, s.cookie(sessionCookie, v, s.maxAge, http.SameSiteLaxMode))
	return nil
}

func (s *sessions) get(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	var sess session
	if err := s.codec.Decode(sessionCookie, c.Value, &sess); err != nil || s.now().Unix() >= sess.Expires || sess.UserName == "" {
		return session{}, false
	}
	return sess, true
}

func (s *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie(sessionCookie, "", -time.Second, http.SameSiteLaxMode))
}

func (s *sessions) setState(w http.ResponseWriter, st redirectState) error {
	st.Expires = s.now().Add(10 * time.Minute).Unix()
	v, err := s.codec.Encode(stateCookie, st)
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(stateCookie, v, 10*time.Minute, http.SameSiteLaxMode))
	return nil
}

// takeState returns the external-login state of this browser and forgets it (a state works once).
func (s *sessions) takeState(w http.ResponseWriter, r *http.Request) (redirectState, bool) {
	c, err := r.Cookie(stateCookie)
	if err != nil {
		return redirectState{}, false
	}
	http.SetCookie(w, s.cookie(stateCookie, "", -time.Second, http.SameSiteLaxMode))
	var st redirectState
	if err := s.codec.Decode(stateCookie, c.Value, &st); err != nil || s.now().Unix() >= st.Expires {
		return redirectState{}, false
	}
	return st, true
}

// csrfToken returns this browser's CSRF token, setting the cookie when it has none.
func (s *sessions) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomString(32)
	http.SetCookie(w, s.cookie(csrfCookie, v, 0, http.SameSiteStrictMode))
	return v
}

// checkCSRF tells whether a form post carries this browser's CSRF token.
func (s *sessions) checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) == 1
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
