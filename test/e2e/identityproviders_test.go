package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	userv1 "github.com/openshift/api/user/v1"
	userclient "github.com/openshift/client-go/user/clientset/versioned"
	"github.com/openshift/library-go/pkg/oauth/oauthdiscovery"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/internal/oauth"
	"github.com/gantry-dev/gantry/internal/oauth/idp"
	"github.com/gantry-dev/gantry/internal/oauth/idp/idptest"
	"github.com/gantry-dev/gantry/internal/server"
	"github.com/gantry-dev/gantry/test/harness"
)

// directory is the LDAP directory of TestIdentityProviders: bob, and another person whose user name
// at the directory (and so preferred user name) is ann, like the htpasswd user ann.
const directory = `
dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: uid=bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@example.com
userPassword: bob-ldap-password

dn: uid=ann,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: ann
cn: Ann Other
sn: Other
userPassword: ann-ldap-password
`

const (
	bobDN = "uid=bob,ou=people,dc=example,dc=com"
	annDN = "uid=ann,ou=people,dc=example,dc=com"
	// doraSubject is dora's subject at the OpenID provider.
	doraSubject = "dora-5f2c81"
	// proxyURL is where the request-header provider would send unauthenticated browsers; nothing
	// needs to listen there.
	proxyURL = "https://127.0.0.1:9"
)

// Every kind of identity provider works through `gantry start --oauth-config` the way a person
// meets it: htpasswd, LDAP against a real slapd, OpenID Connect against a real provider, and an
// authenticating proxy (request-header); identities map to users by claim; a bad configuration
// is refused at start.
//
// The proxy is a login provider only: as in OpenShift 3, a request-header provider that answers
// challenges (it redirects oc to its challengeURL) cannot be configured beside password providers
// that answer them with a Basic challenge, since oc sends no password before it is challenged. That
// mix is one of the bad configurations.
func TestIdentityProviders(t *testing.T) {
	ctx := t.Context()
	t.Run("bad configurations are refused at start", testBadOAuthConfigs)

	cfgDir := t.TempDir()
	issuer := fmt.Sprintf("https://%s:%d", harness.NodeIP, server.OAuthPort)

	annPassword := idp.GeneratePassword()
	if err := idp.WriteHTPasswd(filepath.Join(cfgDir, "users.htpasswd"), "ann", annPassword); err != nil {
		t.Fatal(err)
	}
	slapd := idptest.StartSlapd(t, directory, idptest.SlapdOptions{})
	writeFile(t, filepath.Join(cfgDir, "ldap-bind-password"), idptest.SearchPassword+"\n")
	op := idptest.StartOP(t, idptest.OPOptions{RedirectURIs: []string{issuer + "/oauth2callback/sso"}})
	op.AddUser("dora", idptest.OPUser{
		Password: "dora-op-password", Subject: doraSubject,
		IDTokenClaims: map[string]any{"preferred_username": "dora", "name": "Dora Explorer", "email": "dora@example.com"},
	})
	proxyCA := idptest.NewCA(t, t.TempDir())
	otherCA := idptest.NewCA(t, t.TempDir())
	certDir := t.TempDir()
	_, _, proxyCert := proxyCA.Issue(t, certDir, "proxy", false)
	_, _, intruderCert := proxyCA.Issue(t, certDir, "intruder", false)
	_, _, foreignProxyCert := otherCA.Issue(t, t.TempDir(), "proxy", false)

	// A master-config.yaml with the oauthConfig stanza; relative file names are the config
	// directory's. The other keys of a master-config are ignored.
	config := fmt.Sprintf(`apiVersion: v1
kind: MasterConfig
oauthConfig:
  identityProviders:
  - name: htpasswd
    challenge: true
    login: true
    mappingMethod: claim
    provider:
      apiVersion: v1
      kind: HTPasswdPasswordIdentityProvider
      file: users.htpasswd
  - name: ldap
    challenge: true
    login: true
    mappingMethod: claim
    provider:
      apiVersion: v1
      kind: LDAPPasswordIdentityProvider
      url: %q
      bindDN: %q
      bindPassword: {file: ldap-bind-password}
      ca: %q
      attributes: {id: [dn], preferredUsername: [uid], name: [cn], email: [mail]}
  - name: sso
    challenge: false
    login: true
    provider:
      apiVersion: v1
      kind: OpenIDIdentityProvider
      clientID: %q
      clientSecret: %q
      ca: %q
      urls: {authorize: %q, token: %q, userInfo: %q}
      claims: {id: [sub], preferredUsername: [preferred_username], name: [name], email: [email]}
  - name: proxy
    challenge: false
    login: true
    provider:
      apiVersion: v1
      kind: RequestHeaderIdentityProvider
      loginURL: %q
      clientCA: %q
      clientCommonNames: [proxy]
      headers: [X-Remote-User]
`, slapd.URL+"/ou=people,dc=example,dc=com?uid", idptest.SearchDN, slapd.CA.File,
		op.ClientID, op.ClientSecret, op.CAFile, op.AuthorizeURL, op.TokenURL, op.UserInfoURL,
		proxyURL+"/login?then=${url}", proxyCA.File)
	configFile := filepath.Join(cfgDir, "master-config.yaml")
	writeFile(t, configFile, config)

	dir := t.TempDir()
	c, err := harness.Start(ctx, dir, "--oauth-config", configFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if left := harness.Leftovers(dir); len(left) > 0 {
			t.Errorf("the stopped cluster left behind: %v", left)
		}
	}()
	if got := discoveredIssuer(t, c); got != issuer {
		t.Fatalf("the OAuth metadata names issuer %q; the OpenID provider was given the callback under %q", got, issuer)
	}
	tlsConfig, err := rest.TLSConfigFor(c.AnonymousConfig())
	if err != nil {
		t.Fatal(err)
	}
	admin := userclient.NewForConfigOrDie(c.Config).UserV1()

	t.Run("ldap: bob logs in as oc does", func(t *testing.T) {
		tok, err := c.Login("bob", "bob-ldap-password")
		if err != nil {
			t.Fatalf("%v\n%s", err, slapd.Output())
		}
		u := mustWhoami(t, c, tok)
		if u.Name != "bob" || !slices.Equal(u.Identities, []string{"ldap:" + bobDN}) || u.FullName != "Bob Builder" {
			t.Errorf("users/~ = %s %q %v; want bob \"Bob Builder\" [ldap:%s]", u.Name, u.FullName, u.Identities, bobDN)
		}
		id, err := admin.Identities().Get(t.Context(), "ldap:"+bobDN, metav1.GetOptions{})
		if err != nil || id.User.Name != "bob" || id.Extra["email"] != "bob@example.com" {
			t.Errorf("identity ldap:%s = %+v, %v; want it mapped to bob with his email", bobDN, id, err)
		}
		_, err = c.Login("bob", "not-bobs-password")
		if !apierrors.IsUnauthorized(errors.Unwrap(err)) {
			t.Errorf("bob with a wrong LDAP password: %v, want 401 Unauthorized", err)
		}
	})

	t.Run("ldap: a person claiming an existing user name is refused without details", func(t *testing.T) {
		annTok, err := c.Login("ann", annPassword)
		if err != nil {
			t.Fatal(err)
		}
		if u := mustWhoami(t, c, annTok); u.Name != "ann" || !slices.Equal(u.Identities, []string{"htpasswd:ann"}) {
			t.Fatalf("htpasswd ann is %s %v, want ann [htpasswd:ann]", u.Name, u.Identities)
		}

		// As oc does.
		if tok, err := c.Login("ann", "ann-ldap-password"); err == nil {
			u, _ := whoami(t.Context(), c.TokenConfig(tok))
			t.Fatalf("the LDAP person ann logged in and got a token of %v", u)
		} else if leaks := mappingDetails(err.Error()); len(leaks) > 0 {
			t.Errorf("the refusal tells the person %q: %v", leaks, err)
		}
		// The same challenge by hand, to see the whole answer.
		resp, body := send(t, tlsConfig, challengeRequest(t, issuer, func(r *http.Request) {
			r.SetBasicAuth("ann", "ann-ldap-password")
			r.Header.Set("X-CSRF-Token", "1")
		}))
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("challenge with ann's LDAP password: %s %s, want 401 or 403\n%s", resp.Status, resp.Header.Get("Location"), body)
		}
		if leaks := mappingDetails(body); len(leaks) > 0 {
			t.Errorf("the refused challenge tells the person %q:\n%s", leaks, body)
		}
		// And on the browser login page of the ldap provider.
		b := newBrowser(t, tlsConfig, issuer)
		form := b.follow(b.follow(issuer+"/oauth/token/request").link(t, "ldap"))
		if form.status != http.StatusOK || form.url.Path != "/login/ldap" {
			t.Fatalf("the ldap link leads to %s (%d), want the login form at /login/ldap:\n%s", form.url, form.status, form.body)
		}
		refused := b.post(issuer+"/login/ldap", url.Values{
			"then": {form.field(t, "then")}, "csrf": {form.field(t, "csrf")},
			"username": {"ann"}, "password": {"ann-ldap-password"},
		})
		if refused.status != http.StatusUnauthorized && refused.status != http.StatusForbidden {
			t.Errorf("browser login of the LDAP person ann: %d %s, want 401 or 403\n%s", refused.status, refused.location(), refused.body)
		}
		if leaks := mappingDetails(refused.body); len(leaks) > 0 {
			t.Errorf("the refused browser login tells the person %q:\n%s", leaks, refused.body)
		}
		if p := b.follow(issuer + "/oauth/token/request"); p.url.Path != "/login" {
			t.Errorf("after the refusal the browser is logged in: /oauth/token/request leads to %s", p.url)
		}

		// Nothing changed for the existing ann.
		if _, err := admin.Identities().Get(t.Context(), "ldap:"+annDN, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("identity ldap:%s after the refusal: %v, want NotFound", annDN, err)
		}
		if u, err := admin.Users().Get(t.Context(), "ann", metav1.GetOptions{}); err != nil || !slices.Equal(u.Identities, []string{"htpasswd:ann"}) {
			t.Errorf("user ann after the refusal: %+v, %v; want only identity htpasswd:ann", u, err)
		}
		if u := mustWhoami(t, c, annTok); u.Name != "ann" {
			t.Errorf("ann's token now says %s", u.Name)
		}
	})

	t.Run("openid connect: a browser gets a token at /oauth/token/request", func(t *testing.T) {
		// Someone else's browser cannot finish dora's login, and does not spend it.
		b := newBrowser(t, tlsConfig, issuer)
		back := b.startOpenIDLogin(t, op)
		mallory := newBrowser(t, tlsConfig, issuer)
		if p := mallory.follow(back.String()); p.status != http.StatusBadRequest || p.url.Path != "/oauth2callback/sso" {
			t.Errorf("another browser at dora's callback: %d at %s, want 400 at the callback\n%s", p.status, p.url, p.body)
		}
		if p := mallory.follow(issuer + "/oauth/token/request"); p.url.Path != "/login" {
			t.Errorf("the other browser is logged in after dora's callback: /oauth/token/request leads to %s", p.url)
		}

		display := b.follow(back.String())
		if display.status != http.StatusOK || display.url.Path != "/oauth/token/display" {
			t.Fatalf("the callback ends at %s (%d), want /oauth/token/display:\n%s", display.url, display.status, display.body)
		}
		shown := b.post(issuer+"/oauth/token/display", url.Values{"code": {display.field(t, "code")}, "csrf": {display.field(t, "csrf")}})
		tok := tokenPattern.FindString(shown.body)
		if shown.status != http.StatusOK || tok == "" {
			t.Fatalf("POST /oauth/token/display: %d without a token:\n%s", shown.status, shown.body)
		}
		u := mustWhoami(t, c, tok)
		if u.Name != "dora" || !slices.Equal(u.Identities, []string{"sso:" + doraSubject}) || u.FullName != "Dora Explorer" {
			t.Errorf("users/~ = %s %q %v; want dora \"Dora Explorer\" [sso:%s]", u.Name, u.FullName, u.Identities, doraSubject)
		}
	})

	t.Run("openid connect: a callback with a wrong state is refused", func(t *testing.T) {
		b := newBrowser(t, tlsConfig, issuer)
		back := b.startOpenIDLogin(t, op)
		q := back.Query()
		if q.Get("state") == "" || q.Get("code") == "" {
			t.Fatalf("the OP came back without code and state: %s", back)
		}
		q.Set("state", q.Get("state")+"x")
		forged := *back
		forged.RawQuery = q.Encode()
		p := b.follow(forged.String())
		if p.status != http.StatusBadRequest || p.url.Path != "/oauth2callback/sso" {
			t.Errorf("callback with a wrong state: %d at %s, want 400 at the callback\n%s", p.status, p.url, p.body)
		}
		if tok := tokenPattern.FindString(p.body); tok != "" {
			t.Errorf("a callback with a wrong state showed a token")
		}
		if p := b.follow(issuer + "/oauth/token/request"); p.url.Path != "/login" {
			t.Errorf("the browser is logged in after a callback with a wrong state: /oauth/token/request leads to %s", p.url)
		}
	})

	t.Run("request-header: only the proxy's certificate makes the header count", func(t *testing.T) {
		carl := http.Header{"X-Remote-User": {"carl"}}
		for _, tc := range []struct {
			name  string
			certs []tls.Certificate
		}{
			{"no client certificate", nil},
			{"certificate of another CA with CN proxy", []tls.Certificate{foreignProxyCert}},
			{"certificate of the proxy CA with another CN", []tls.Certificate{intruderCert}},
		} {
			b := newBrowser(t, withCerts(tlsConfig, tc.certs), issuer)
			b.header = carl
			p := b.follow(issuer + "/oauth/token/request")
			if strings.Contains(p.location(), "code=") || p.url.Query().Get("code") != "" {
				t.Errorf("%s: X-Remote-User: carl got a code: %s %s", tc.name, p.url, p.location())
			} else if p.status != http.StatusOK || p.url.Path != "/login" {
				t.Errorf("%s: /oauth/token/request ends at %s (%d) Location %q, want the login page\n%s", tc.name, p.url, p.status, p.location(), p.body)
			}
		}
		// A browser that did not come through the proxy is sent to the proxy's loginURL, with the
		// authorize request to come back to.
		b := newBrowser(t, tlsConfig, issuer)
		toProxy := b.follow(b.follow(issuer+"/oauth/token/request").link(t, "proxy"))
		back, err := url.Parse(toProxy.location())
		if err == nil {
			back, err = url.Parse(back.Query().Get("then"))
		}
		if toProxy.status != http.StatusFound || !strings.HasPrefix(toProxy.location(), proxyURL+"/login?then=") || err != nil ||
			back.Scheme+"://"+back.Host+back.Path != issuer+"/oauth/authorize" || back.Query().Get("client_id") != oauth.BrowserClient {
			t.Errorf("/login/proxy: %d Location %q, want a redirect to %s/login?then=<this authorize request under %s>", toProxy.status, toProxy.location(), proxyURL, issuer)
		}
		// The proxy does not answer challenges here: oc's client gets no code from the header.
		resp, body := send(t, withCerts(tlsConfig, []tls.Certificate{proxyCert}), challengeRequest(t, issuer, func(r *http.Request) {
			r.Header.Set("X-Remote-User", "carl")
			r.Header.Set("X-CSRF-Token", "1")
		}))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the challenging client with the proxy's certificate: %s Location %q, want 401 (the proxy is not a challenger)\n%s", resp.Status, resp.Header.Get("Location"), body)
		}
		if _, err := admin.Users().Get(t.Context(), "carl", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("user carl after requests the proxy provider must refuse: %v, want NotFound", err)
		}

		b = newBrowser(t, withCerts(tlsConfig, []tls.Certificate{proxyCert}), issuer)
		b.header = carl
		display := b.follow(issuer + "/oauth/token/request")
		if display.status != http.StatusOK || display.url.Path != "/oauth/token/display" {
			t.Fatalf("the proxy with X-Remote-User: carl: /oauth/token/request ends at %s (%d) Location %q, want /oauth/token/display\n%s", display.url, display.status, display.location(), display.body)
		}
		shown := b.post(issuer+"/oauth/token/display", url.Values{"code": {display.field(t, "code")}, "csrf": {display.field(t, "csrf")}})
		tok := tokenPattern.FindString(shown.body)
		if shown.status != http.StatusOK || tok == "" {
			t.Fatalf("POST /oauth/token/display: %d without a token:\n%s", shown.status, shown.body)
		}
		if u := mustWhoami(t, c, tok); u.Name != "carl" || !slices.Equal(u.Identities, []string{"proxy:carl"}) {
			t.Errorf("users/~ = %s %v; want carl [proxy:carl]", u.Name, u.Identities)
		}
	})
}

// testBadOAuthConfigs starts gantry with broken --oauth-config files: each start must fail before
// the cluster starts, naming the provider and the field, and leave nothing behind.
func testBadOAuthConfigs(t *testing.T) {
	cases := []struct {
		name string
		// config is the file's content; dir holds an htpasswd file users.htpasswd and a CA ca.crt.
		config string
		wants  []string
	}{
		{"unknown kind", `identityProviders:
- name: corp
  challenge: true
  login: true
  provider: {apiVersion: v1, kind: KerberosIdentityProvider}
`, []string{"identityProviders[corp].provider.kind", "KerberosIdentityProvider", "HTPasswdPasswordIdentityProvider"}},
		{"missing htpasswd file", `identityProviders:
- name: local
  challenge: true
  login: true
  provider: {apiVersion: v1, kind: HTPasswdPasswordIdentityProvider, file: missing.htpasswd}
`, []string{"identityProviders[local].provider.file", "missing.htpasswd"}},
		// OpenShift 3 refuses this: "cannot mix providers that redirect clients requesting auth
		// challenges with providers issuing challenges to those clients".
		{"request-header challenger beside a password challenger", `identityProviders:
- name: local
  challenge: true
  login: true
  provider: {apiVersion: v1, kind: HTPasswdPasswordIdentityProvider, file: users.htpasswd}
- name: proxy
  challenge: true
  login: true
  provider:
    apiVersion: v1
    kind: RequestHeaderIdentityProvider
    challengeURL: "https://127.0.0.1:9/challenge?then=${url}"
    loginURL: "https://127.0.0.1:9/login?then=${url}"
    clientCA: ca.crt
    headers: [X-Remote-User]
`, []string{"identityProviders", "challenge", "proxy", "local"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfgDir := t.TempDir()
			idptest.NewCA(t, cfgDir)
			if err := idp.WriteHTPasswd(filepath.Join(cfgDir, "users.htpasswd"), "someone", idp.GeneratePassword()); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(cfgDir, "oauth.yaml")
			writeFile(t, file, tc.config)
			dir := shortTempDir(t)
			c, err := harness.Start(t.Context(), dir, "--oauth-config", file)
			if err == nil {
				stopErr := c.Stop()
				t.Fatalf("gantry start accepted the configuration (stop: %v):\n%s", stopErr, c.Output())
			}
			out := err.Error()
			if !strings.Contains(out, "gantry start exited (exit status") {
				t.Fatalf("gantry start with a bad --oauth-config: want a non-zero exit, got %v", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "etcd ready") {
				t.Errorf("the bad --oauth-config was noticed only after the cluster started; it must be refused before anything starts:\n%s", out)
			}
			if left := harness.Leftovers(dir); len(left) > 0 {
				t.Errorf("a refused start left behind: %v", left)
			}
		})
	}
}

// shortTempDir is a data directory whose socket paths stay within the 104 characters of a unix
// socket address (a subtest's t.TempDir is too long for containerd's).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gantry-idp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// discoveredIssuer reads the OAuth metadata from kube-apiserver without credentials, as oc does.
func discoveredIssuer(t *testing.T, c *harness.Cluster) string {
	t.Helper()
	rt, err := rest.TransportFor(c.AnonymousConfig())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Get(c.Config.Host + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m oauthdiscovery.OauthAuthorizationServerMetadata
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("OAuth metadata: %s, %v", resp.Status, err)
	}
	return m.Issuer
}

func whoami(ctx context.Context, cfg *rest.Config) (*userv1.User, error) {
	uc, err := userclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return uc.UserV1().Users().Get(ctx, "~", metav1.GetOptions{})
}

func mustWhoami(t *testing.T, c *harness.Cluster, token string) *userv1.User {
	t.Helper()
	u, err := whoami(t.Context(), c.TokenConfig(token))
	if err != nil {
		t.Fatalf("users/~ with the token: %v", err)
	}
	return u
}

// mappingDetails lists what a refused login reveals about the user it would have taken over, or
// about the mapping rules: the person is only to learn that the login was refused.
func mappingDetails(s string) []string {
	var found []string
	for _, d := range []string{"htpasswd:ann", "already exists", annDN, "useridentitymapping", "mappingMethod", "claim"} {
		if strings.Contains(s, d) || strings.Contains(s, html.EscapeString(d)) {
			found = append(found, d)
		}
	}
	return found
}

var tokenPattern = regexp.MustCompile(regexp.QuoteMeta(oauth.TokenPrefix) + `[A-Za-z0-9_-]{43}`)

// challengeRequest is oc's first request to /oauth/authorize (the challenging client, code flow),
// changed by edit.
func challengeRequest(t *testing.T, issuer string, edit func(*http.Request)) *http.Request {
	t.Helper()
	q := url.Values{"client_id": {oauth.ChallengingClient}, "response_type": {"code"}, "redirect_uri": {issuer + "/oauth/token/implicit"}}
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, issuer+"/oauth/authorize?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	edit(r)
	return r
}

func withCerts(base *tls.Config, certs []tls.Certificate) *tls.Config {
	c := base.Clone()
	c.Certificates = certs
	return c
}

// send makes one request without following redirects, on a new connection.
func send(t *testing.T, tlsConfig *tls.Config, r *http.Request) (*http.Response, string) {
	t.Helper()
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// browser is a person's web browser at the OAuth server: it keeps cookies and follows redirects
// while they stay on the OAuth server.
type browser struct {
	t      *testing.T
	client *http.Client
	issuer *url.URL
	// header is added to every request (an authenticating proxy's headers).
	header http.Header
}

func newBrowser(t *testing.T, tlsConfig *tls.Config, issuer string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	iu, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, issuer: iu, client: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{TLSClientConfig: tlsConfig},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is one answer of the OAuth server.
type page struct {
	url    *url.URL
	status int
	header http.Header
	body   string
}

func (p page) location() string { return p.header.Get("Location") }

var (
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	loginLink   = regexp.MustCompile(`<a href="(/login/[^"?]+\?[^"]*)">([^<]*)</a>`)
)

// field is the value of a hidden form field of the page.
func (p page) field(t *testing.T, name string) string {
	t.Helper()
	for _, m := range hiddenField.FindAllStringSubmatch(p.body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	t.Fatalf("%s has no hidden field %q:\n%s", p.url, name, p.body)
	return ""
}

// link is the absolute URL of the provider selection page's link to provider; the page must be
// the selection page of several providers.
func (p page) link(t *testing.T, provider string) string {
	t.Helper()
	if p.status != http.StatusOK || p.url.Path != "/login" {
		t.Fatalf("want the provider selection page at /login, got %s (%d):\n%s", p.url, p.status, p.body)
	}
	links := map[string]string{}
	var names []string
	for _, m := range loginLink.FindAllStringSubmatch(p.body, -1) {
		links[m[2]] = html.UnescapeString(m[1])
		names = append(names, m[2])
	}
	if want := []string{"htpasswd", "ldap", "sso", "proxy"}; !slices.Equal(names, want) {
		t.Errorf("the selection page lists %v, want the login providers %v in order", names, want)
	}
	href, ok := links[provider]
	if !ok {
		t.Fatalf("the selection page has no link to %s:\n%s", provider, p.body)
	}
	u, err := p.url.Parse(href)
	if err != nil {
		t.Fatalf("link to %s: %v", provider, err)
	}
	return u.String()
}

func (b *browser) do(r *http.Request) page {
	b.t.Helper()
	for k, v := range b.header {
		r.Header[k] = v
	}
	resp, err := b.client.Do(r)
	if err != nil {
		b.t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	return page{url: r.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// follow opens u and follows redirects within the OAuth server; it returns the last answer (a page,
// or a redirect to another server).
func (b *browser) follow(u string) page {
	b.t.Helper()
	for range 20 {
		r, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, u, nil)
		if err != nil {
			b.t.Fatal(err)
		}
		p := b.do(r)
		if p.status < 300 || p.status > 399 {
			return p
		}
		next, err := p.url.Parse(p.location())
		if err != nil || next.Host != b.issuer.Host {
			return p
		}
		u = next.String()
	}
	b.t.Fatalf("more than 20 redirects from %s", u)
	return page{}
}

// post submits a form and follows nothing.
func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	r, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// startOpenIDLogin goes from /oauth/token/request through the provider selection page to the
// OpenID provider, where dora logs in; it returns the callback URL the provider sends her back to.
func (b *browser) startOpenIDLogin(t *testing.T, op *idptest.OP) *url.URL {
	t.Helper()
	toOP := b.follow(b.follow(b.issuer.String()+"/oauth/token/request").link(t, "sso"))
	if toOP.status != http.StatusFound || !strings.HasPrefix(toOP.location(), op.AuthorizeURL+"?") {
		t.Fatalf("/login/sso answers %d Location %q, want a redirect to the OpenID provider %s\n%s", toOP.status, toOP.location(), op.AuthorizeURL, toOP.body)
	}
	back := op.Login(t, toOP.location(), "dora", "dora-op-password")
	if e := idptest.Error(back); e != "" {
		t.Fatalf("the OpenID provider refused the login: %s", e)
	}
	if want := b.issuer.String() + "/oauth2callback/sso"; back.Scheme+"://"+back.Host+back.Path != want {
		t.Fatalf("the OpenID provider sends the browser back to %s, want %s", back, want)
	}
	return back
}
