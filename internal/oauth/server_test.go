package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	oauthv1 "github.com/openshift/api/oauth/v1"
	userv1 "github.com/openshift/api/user/v1"
	oauthfake "github.com/openshift/client-go/oauth/clientset/versioned/fake"
	userfake "github.com/openshift/client-go/user/clientset/versioned/fake"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gantry-dev/gantry/internal/oauth/idp"
)

// passwords is a fake password provider for unit tests.
type passwords map[string]string

func (p passwords) AuthenticatePassword(_ context.Context, user, pass string) (*idp.Identity, bool, error) {
	if want, ok := p[user]; ok && pass != "" && want == pass {
		return &idp.Identity{ProviderUserName: user}, true, nil
	}
	return nil, false, nil
}

// mapper maps every identity to a user of the same name, creating it.
type mapper struct {
	users *userfake.Clientset
	mu    sync.Mutex
}

func (m *mapper) Map(ctx context.Context, id *idp.Identity, _ string) (string, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.users.UserV1().Users().Get(ctx, id.ProviderUserName, metav1.GetOptions{})
	if err != nil {
		u, err = m.users.UserV1().Users().Create(ctx, &userv1.User{ObjectMeta: metav1.ObjectMeta{Name: id.ProviderUserName}}, metav1.CreateOptions{})
		if err != nil {
			return "", "", err
		}
	}
	return u.Name, string(u.UID), nil
}

// stamp fills what the API server would on create: UID and creation time.
func stamp(f interface {
	PrependReactor(verb, resource string, reaction clienttesting.ReactionFunc)
}, now func() time.Time) {
	f.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj := a.(clienttesting.CreateAction).GetObject()
		m, err := meta.Accessor(obj)
		if err == nil {
			if m.GetUID() == "" {
				m.SetUID(types.UID("uid-" + m.GetName()))
			}
			m.SetCreationTimestamp(metav1.NewTime(now()))
		}
		return false, nil, nil
	})
}

type env struct {
	srv    *Server
	ts     *httptest.Server
	oauth  *oauthfake.Clientset
	users  *userfake.Clientset
	clock  *clock
	issuer string
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testRedirect = "https://app.example.com/cb"

func newEnv(t *testing.T, extraClients ...*oauthv1.OAuthClient) *env {
	t.Helper()
	e := &env{oauth: oauthfake.NewSimpleClientset(), users: userfake.NewSimpleClientset(), clock: &clock{t: time.Now().Truncate(time.Second)}}
	stamp(e.oauth, e.clock.now)
	stamp(e.users, e.clock.now)
	e.ts = httptest.NewUnstartedServer(nil)
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	e.issuer = e.ts.URL
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clients := append(BuiltinClients(e.issuer, "https://console.example.com/"),
		&oauthv1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Secret: "app-secret", RedirectURIs: []string{testRedirect}, GrantMethod: oauthv1.GrantHandlerPrompt})
	clients = append(clients, extraClients...)
	if err := EnsureClients(ctx, e.oauth.OauthV1().OAuthClients(), clients); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Issuer: e.issuer, OAuth: e.oauth, Users: e.users, Mapper: &mapper{users: e.users},
		Providers: []idp.Provider{{Name: "test", UseAsChallenger: true, UseAsLogin: true, MappingMethod: "claim",
			Password: passwords{"alice": "wonderland", "bob": "builder"}}},
		SessionHashKey: make32('h'), SessionBlockKey: make32('b'), Now: e.clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.cache.run(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts.Config.Handler = srv.Handler(nil, nil)
	return e
}

func make32(c byte) []byte { return []byte(strings.Repeat(string(c), 32)) }

// client does not follow redirects: the tests look at them.
func (e *env) client() *http.Client {
	c := e.ts.Client()
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func pkce() (verifier, challenge string) {
	verifier = strings.Repeat("v", 50)
	h := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(h[:])
}

func (e *env) authorizeURL(client, redirect string, extra url.Values) string {
	q := url.Values{"client_id": {client}, "response_type": {"code"}, "redirect_uri": {redirect}}
	for k, v := range extra {
		q[k] = v
	}
	return e.issuer + "/oauth/authorize?" + q.Encode()
}

func (e *env) challengeURL(extra url.Values) string {
	return e.authorizeURL(ChallengingClient, e.issuer+"/oauth/token/implicit", extra)
}

func get(t *testing.T, c *http.Client, u string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func basic(user, pass string) http.Header {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	r.Header.Set(csrfHeader, "1")
	return r.Header
}

// login runs the challenge flow as oc does and returns the code.
func (e *env) login(t *testing.T, user, pass, challenge string) string {
	t.Helper()
	resp := get(t, e.client(), e.challengeURL(url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"xyz"}}), basic(user, pass))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize as %s: %s, want 302", user, resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), e.issuer+"/oauth/token/implicit?") {
		t.Fatalf("redirected to %s, want the client's redirect URI", loc)
	}
	if loc.Query().Get("state") != "xyz" {
		t.Errorf("state = %q, want the one sent (xyz)", loc.Query().Get("state"))
	}
	return loc.Query().Get("code")
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error"`
}

func (e *env) exchange(t *testing.T, form url.Values) (int, tokenAnswer) {
	t.Helper()
	resp, err := e.client().PostForm(e.issuer+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a
}

func (e *env) codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {ChallengingClient},
		"redirect_uri": {e.issuer + "/oauth/token/implicit"}, "code_verifier": {verifier}, "client_secret": {""}}
}

func (e *env) review(t *testing.T, token string) (*authenticationv1.UserInfo, bool) {
	t.Helper()
	info, ok, err := e.srv.Authenticator().AuthenticateToken(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return info, ok
}

func TestChallengeLoginIssuesAWorkingToken(t *testing.T) {
	e := newEnv(t)
	verifier, challenge := pkce()
	code := e.login(t, "alice", "wonderland", challenge)
	status, tok := e.exchange(t, e.codeForm(code, verifier))
	if status != http.StatusOK || !IsToken(tok.AccessToken) {
		t.Fatalf("exchange: %d %+v, want a sha256~ token", status, tok)
	}
	if tok.ExpiresIn != 86400 {
		t.Errorf("expires_in = %d, want 86400 (24h default)", tok.ExpiresIn)
	}
	// Only the hash is stored.
	stored, err := e.oauth.OauthV1().OAuthAccessTokens().Get(context.Background(), ObjectName(tok.AccessToken), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("stored token: %v", err)
	}
	if strings.Contains(stored.String(), strings.TrimPrefix(tok.AccessToken, TokenPrefix)) {
		t.Error("the stored object contains the token itself")
	}
	info, ok := e.review(t, tok.AccessToken)
	if !ok || info.Username != "alice" || info.UID != "uid-alice" {
		t.Fatalf("token review = %+v %v, want alice", info, ok)
	}
	if !contains(info.Groups, AuthenticatedOAuthGroup) {
		t.Errorf("groups %v lack %s", info.Groups, AuthenticatedOAuthGroup)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestWrongPasswordGivesNoHint(t *testing.T) {
	e := newEnv(t)
	wrong := get(t, e.client(), e.challengeURL(nil), basic("alice", "nope"))
	unknown := get(t, e.client(), e.challengeURL(nil), basic("mallory", "nope"))
	for _, r := range []*http.Response{wrong, unknown} {
		if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Basic realm="openshift"` {
			t.Errorf("%s %q, want 401 with a Basic challenge", r.Status, r.Header.Get("WWW-Authenticate"))
		}
	}
	if wrong.ContentLength != unknown.ContentLength {
		t.Errorf("wrong password and unknown user answer differently (%d vs %d bytes)", wrong.ContentLength, unknown.ContentLength)
	}
	empty := get(t, e.client(), e.challengeURL(nil), basic("alice", ""))
	if empty.StatusCode != http.StatusUnauthorized {
		t.Errorf("empty password: %s, want 401", empty.Status)
	}
}

func TestBasicChallengeOnlyWithCSRFHeader(t *testing.T) {
	e := newEnv(t)
	without := get(t, e.client(), e.challengeURL(nil), nil)
	if without.StatusCode != http.StatusUnauthorized || without.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("without X-CSRF-Token: %s %q, want 401 and no challenge", without.Status, without.Header.Get("WWW-Authenticate"))
	}
	with := get(t, e.client(), e.challengeURL(nil), http.Header{csrfHeader: {"1"}})
	if with.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("with X-CSRF-Token: no challenge")
	}
}

func TestAuthorizationCodeWorksOnce(t *testing.T) {
	e := newEnv(t)
	verifier, challenge := pkce()
	code := e.login(t, "alice", "wonderland", challenge)

	// Not with another verifier, another client or another redirect URI: and those failures do not
	// spend the code.
	if s, _ := e.exchange(t, e.codeForm(code, strings.Repeat("w", 50))); s == http.StatusOK {
		t.Error("wrong PKCE verifier accepted")
	}
	other := e.codeForm(code, verifier)
	other.Set("client_id", "app")
	other.Set("client_secret", "app-secret")
	other.Set("redirect_uri", testRedirect)
	if s, _ := e.exchange(t, other); s == http.StatusOK {
		t.Error("code accepted for another client")
	}
	moved := e.codeForm(code, verifier)
	moved.Set("redirect_uri", e.issuer+"/oauth/token/implicit/x")
	if s, _ := e.exchange(t, moved); s == http.StatusOK {
		t.Error("code accepted with another redirect URI")
	}

	s, first := e.exchange(t, e.codeForm(code, verifier))
	if s != http.StatusOK {
		t.Fatalf("first exchange: %d %+v", s, first)
	}
	// The cache sees the token before the replay, as it would within milliseconds on a cluster.
	waitFor(t, func() bool { return len(e.srv.cache.issuedFrom(ObjectName(code))) == 1 })
	s, second := e.exchange(t, e.codeForm(code, verifier))
	if s == http.StatusOK || second.Error != "invalid_grant" {
		t.Fatalf("replayed code: %d %+v, want invalid_grant", s, second)
	}
	// Revoked: the cache sees the deletion shortly after.
	waitFor(t, func() bool { _, ok := e.review(t, first.AccessToken); return !ok })
}

func TestExpiredCodeAndTokenAreRefused(t *testing.T) {
	e := newEnv(t)
	verifier, challenge := pkce()
	code := e.login(t, "alice", "wonderland", challenge)
	e.clock.add(6 * time.Minute)
	if s, a := e.exchange(t, e.codeForm(code, verifier)); s == http.StatusOK {
		t.Fatalf("a code older than 5 minutes was exchanged: %+v", a)
	}
	code = e.login(t, "alice", "wonderland", challenge)
	_, tok := e.exchange(t, e.codeForm(code, verifier))
	if _, ok := e.review(t, tok.AccessToken); !ok {
		t.Fatal("fresh token refused")
	}
	e.clock.add(24*time.Hour + time.Second)
	if _, ok := e.review(t, tok.AccessToken); ok {
		t.Error("a token past its expiry is accepted")
	}
}

func TestRevokedTokenAndReplacedUserAreRefused(t *testing.T) {
	e := newEnv(t)
	verifier, challenge := pkce()
	_, tok := e.exchange(t, e.codeForm(e.login(t, "alice", "wonderland", challenge), verifier))
	ctx := context.Background()
	// A new user with the same name does not inherit the old one's tokens.
	if err := e.users.UserV1().Users().Delete(ctx, "alice", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.users.UserV1().Users().Create(ctx, &userv1.User{ObjectMeta: metav1.ObjectMeta{Name: "alice", UID: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok := e.review(t, tok.AccessToken); return !ok })

	_, tok = e.exchange(t, e.codeForm(e.login(t, "bob", "builder", challenge), verifier))
	if _, ok := e.review(t, tok.AccessToken); !ok {
		t.Fatal("bob's token refused")
	}
	if err := e.oauth.OauthV1().OAuthAccessTokens().Delete(ctx, ObjectName(tok.AccessToken), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok := e.review(t, tok.AccessToken); return !ok })
	for _, bad := range []string{"", "sha256~", "Bearer x", strings.Repeat("a", 50), "sha256~" + strings.Repeat("!", 43)} {
		if _, ok := e.review(t, bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met after 2s")
}

func TestRedirectURIAttacksAreRefused(t *testing.T) {
	e := newEnv(t)
	for _, uri := range []string{
		"https://evil.example.com/cb",
		"http://app.example.com/cb",
		"https://app.example.com:8443/cb",
		"https://app.example.com@evil.example.com/cb",
		"https://good@app.example.com/cb",
		"https://app.example.com/cb/../x",
		"https://app.example.com/cb/%2e%2e/x",
		"https://app.example.com/cb/%2E%2E/x",
		"https://app.example.com/cb-evil",
		"https://app.example.com/cbevil",
		"https://app.example.com\\@evil.example.com/cb",
		"https://app.example.com/cb\\..\\x",
		"https://app.example.com/cb#frag",
		"https://app.example.com/cb%23frag",
		"https://app.example.com/cb%2f..%2fx",
		"//evil.example.com/cb",
		"/cb",
		"https://app.example.com/cb\r\nLocation: https://evil",
	} {
		resp := get(t, e.client(), e.authorizeURL("app", uri, nil), nil)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %q: %s Location=%q, want 400 and no redirect", uri, resp.Status, resp.Header.Get("Location"))
		}
	}
	// A sub-path of the registered URI is fine (it goes to the login page).
	ok := get(t, e.client(), e.authorizeURL("app", testRedirect+"/sub", nil), nil)
	if ok.StatusCode != http.StatusFound || !strings.HasPrefix(ok.Header.Get("Location"), "/login?") {
		t.Errorf("sub-path: %s %s, want a redirect to /login", ok.Status, ok.Header.Get("Location"))
	}
	// Unknown client: no redirect either.
	unknown := get(t, e.client(), e.authorizeURL("nobody", testRedirect, nil), nil)
	if unknown.Header.Get("Location") != "" {
		t.Errorf("unknown client redirected to %s", unknown.Header.Get("Location"))
	}
}

func TestPagesSendSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/oauth/authorize", "/oauth/token", "/login", "/oauth/token/request", "/oauth/token/display", "/.well-known/oauth-authorization-server"} {
		resp := get(t, e.client(), e.issuer+path, nil)
		for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Pragma": "no-cache"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
			t.Errorf("%s: Cache-Control %q lacks no-store", path, resp.Header.Get("Cache-Control"))
		}
	}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browserLogin logs a browser in through the login form and returns its client (with the session).
func (e *env) browserLogin(t *testing.T, start string) (*http.Client, *http.Response) {
	t.Helper()
	c := e.client()
	resp := get(t, c, start, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %s, want a redirect to the login page", resp.Status)
	}
	loginURL := e.issuer + resp.Header.Get("Location")
	page, err := c.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, page)
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("login page has no CSRF field:\n%s", body)
	}
	then, _ := url.Parse(loginURL)
	form := url.Values{"username": {"alice"}, "password": {"wonderland"}, "then": {then.Query().Get("then")}}
	// Without the CSRF token: refused.
	if r, _ := c.PostForm(e.issuer+"/login/test", form); r.StatusCode != http.StatusForbidden {
		t.Errorf("login without CSRF token: %s, want 403", r.Status)
	}
	form.Set("csrf", m[1])
	form.Set("password", "bad")
	if r, _ := c.PostForm(e.issuer+"/login/test", form); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password on the form: %s, want 401", r.Status)
	}
	form.Set("password", "wonderland")
	r, err := c.PostForm(e.issuer+"/login/test", form)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/oauth/authorize?") {
		t.Fatalf("login: %s to %q, want back to /oauth/authorize", r.Status, r.Header.Get("Location"))
	}
	return c, get(t, c, e.issuer+r.Header.Get("Location"), nil)
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func TestPromptGrantNeedsApprovalWithCSRFToken(t *testing.T) {
	e := newEnv(t)
	c, resp := e.browserLogin(t, e.authorizeURL("app", testRedirect, url.Values{"state": {"s1"}}))
	// The approval page, not a code yet.
	page, err := c.Get(e.authorizeURL("app", testRedirect, url.Values{"state": {"s1"}}))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Authorize access") {
		t.Fatalf("after login: %s, want the approval page:\n%s", resp.Status, body)
	}
	then := regexp.MustCompile(`name="then" value="([^"]+)"`).FindStringSubmatch(body)
	form := url.Values{"then": {htmlUnescape(then[1])}, "approve": {"1"}}
	if r, _ := c.PostForm(e.issuer+"/oauth/authorize/approve", form); r.StatusCode != http.StatusForbidden {
		t.Errorf("approval without CSRF token: %s, want 403", r.Status)
	}
	form.Set("csrf", csrfInput.FindStringSubmatch(body)[1])
	r, err := c.PostForm(e.issuer+"/oauth/authorize/approve", form)
	if err != nil || r.StatusCode != http.StatusFound {
		t.Fatalf("approve: %v %v", r.Status, err)
	}
	final := get(t, c, e.issuer+r.Header.Get("Location"), nil)
	loc, _ := url.Parse(final.Header.Get("Location"))
	if final.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), testRedirect+"?") || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s1" {
		t.Fatalf("after approval: %s %s, want the redirect URI with a code and state s1", final.Status, loc)
	}
	status, tok := e.exchange(t, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {"app"}, "client_secret": {"app-secret"}, "redirect_uri": {testRedirect}})
	if status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("exchange: %d %+v", status, tok)
	}
	if status, _ := e.exchange(t, url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
		"client_id": {"app"}, "client_secret": {"wrong"}, "redirect_uri": {testRedirect}}); status == http.StatusOK {
		t.Error("wrong client secret accepted")
	}
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#39;", "'", "&quot;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

func TestTokenRequestPageShowsTokenAfterPost(t *testing.T) {
	e := newEnv(t)
	start := get(t, e.client(), e.issuer+"/oauth/token/request", nil)
	if !strings.HasPrefix(start.Header.Get("Location"), "/oauth/authorize?client_id="+BrowserClient) {
		t.Fatalf("/oauth/token/request redirects to %q, want the browser client's authorize URL", start.Header.Get("Location"))
	}
	c, resp := e.browserLogin(t, e.issuer+start.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize for the browser client: %s", resp.Status)
	}
	display, err := c.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, display)
	if strings.Contains(body, TokenPrefix) && !strings.Contains(body, `name="code"`) {
		t.Fatal("a GET of the display page spent the code")
	}
	code := regexp.MustCompile(`name="code" value="([^"]+)"`).FindStringSubmatch(body)
	form := url.Values{"code": {htmlUnescape(code[1])}, "csrf": {csrfInput.FindStringSubmatch(body)[1]}}
	r, err := c.PostForm(e.issuer+"/oauth/token/display", form)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, r)
	tok := regexp.MustCompile(`sha256~[A-Za-z0-9_-]{43}`).FindString(page)
	if r.StatusCode != http.StatusOK || tok == "" {
		t.Fatalf("display: %s without a token:\n%s", r.Status, page)
	}
	if info, ok := e.review(t, tok); !ok || info.Username != "alice" {
		t.Errorf("displayed token review: %+v %v", info, ok)
	}
}

func TestMetadataPointsAtTheServer(t *testing.T) {
	m := Metadata("https://10.0.0.1:8444/")
	if m.Issuer != "https://10.0.0.1:8444" || m.AuthorizationEndpoint != "https://10.0.0.1:8444/oauth/authorize" || m.TokenEndpoint != "https://10.0.0.1:8444/oauth/token" {
		t.Errorf("metadata = %+v", m)
	}
	if !contains(m.CodeChallengeMethodsSupported, "S256") {
		t.Error("S256 PKCE not advertised: oc would not use PKCE")
	}
}
