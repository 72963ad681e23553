package login

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-dev/gantry/internal/oauth"
	"github.com/gantry-dev/gantry/internal/oauth/idp/idptest"
	projectv1 "github.com/openshift/api/project/v1"
	userv1 "github.com/openshift/api/user/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// fakeServer is an API server and OAuth server in one httptest TLS server: just what login, logout
// and whoami use (the OAuth discovery document, the challenging client's code grant with PKCE,
// users/~, projects, self-subject access reviews and useroauthaccesstokens).
type fakeServer struct {
	*httptest.Server
	t *testing.T

	mu        sync.Mutex
	passwords map[string]string   // user → password
	projects  map[string][]string // user → projects
	// selfProvisioners may create project requests.
	selfProvisioners map[string]bool
	tokens           map[string]string // token → user
	codes            map[string]code
	// deleted are the useroauthaccesstokens names deleted.
	deleted []string
	// noOAuth makes the server answer 404 for the OAuth metadata, as a cluster without OAuth.
	noOAuth bool
	// challenges counts the Basic challenges sent; authorizeWithoutCSRF the authorize requests
	// without X-CSRF-Token.
	challenges, authorizeWithoutCSRF int
}

type code struct{ user, challenge, redirect string }

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{
		t:                t,
		passwords:        map[string]string{"alice": "wonderland", "bob": "builder"},
		projects:         map[string][]string{},
		selfProvisioners: map[string]bool{"alice": true, "bob": true},
		tokens:           map[string]string{},
		codes:            map[string]code{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("HEAD /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", f.metadata)
	mux.HandleFunc("GET /oauth/authorize", f.authorize)
	mux.HandleFunc("POST /oauth/token", f.token)
	mux.HandleFunc("GET /oauth/token/implicit", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /apis/user.openshift.io/v1/users/{name}", f.user)
	mux.HandleFunc("GET /apis/project.openshift.io/v1/projects", f.listProjects)
	mux.HandleFunc("GET /apis/project.openshift.io/v1/projects/{name}", f.getProject)
	mux.HandleFunc("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews", f.review)
	mux.HandleFunc("DELETE /apis/oauth.openshift.io/v1/useroauthaccesstokens/{name}", f.deleteToken)
	f.Server = httptest.NewUnstartedServer(mux)
	f.Server.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	// Probes of an untrusted server end in handshake errors on purpose.
	f.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

// caFile writes the server's certificate (its own CA) to a file.
func (f *fakeServer) caFile(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a token for user, as the OAuth server would.
func (f *fakeServer) issue(user string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := oauth.TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	f.mu.Lock()
	f.tokens[token] = user
	f.mu.Unlock()
	return token
}

// locked runs fn with the server's state locked (the handlers run in other goroutines).
func (f *fakeServer) locked(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeServer) setProjects(user string, projects ...string) {
	f.mu.Lock()
	f.projects[user] = projects
	f.mu.Unlock()
}

func (f *fakeServer) metadata(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	noOAuth := f.noOAuth
	f.mu.Unlock()
	if noOAuth {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                           f.URL,
		"authorization_endpoint":           f.URL + "/oauth/authorize",
		"token_endpoint":                   f.URL + "/oauth/token",
		"response_types_supported":         []string{"code", "token"},
		"grant_types_supported":            []string{"authorization_code", "implicit"},
		"code_challenge_methods_supported": []string{"plain", "S256"},
	})
}

func (f *fakeServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != "openshift-challenging-client" || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "unexpected authorize request "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("X-CSRF-Token") == "" {
		// No Basic challenge for what could be a browser.
		f.authorizeWithoutCSRF++
		http.Error(w, "no X-CSRF-Token", http.StatusUnauthorized)
		return
	}
	user, password, ok := r.BasicAuth()
	if !ok || f.passwords[user] == "" || f.passwords[user] != password {
		f.challenges++
		w.Header().Set("WWW-Authenticate", `Basic realm="openshift"`)
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	c := rand.Text()
	f.codes[c] = code{user: user, challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	to, _ := url.Parse(q.Get("redirect_uri"))
	v := url.Values{"code": {c}, "state": {q.Get("state")}}
	to.RawQuery = v.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func (f *fakeServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	c, ok := f.codes[r.Form.Get("code")]
	delete(f.codes, r.Form.Get("code"))
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
	if !ok || r.Form.Get("grant_type") != "authorization_code" || c.redirect != r.Form.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": f.issue(c.user), "token_type": "Bearer", "expires_in": 86400})
}

// caller is the user of a request: its bearer token, or the common name of its client certificate.
func (f *fakeServer) caller(r *http.Request) (string, bool) {
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		f.mu.Lock()
		defer f.mu.Unlock()
		user, ok := f.tokens[token]
		return user, ok
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0].Subject.CommonName, true
	}
	return "", false
}

func (f *fakeServer) authenticated(w http.ResponseWriter, r *http.Request) (string, bool) {
	user, ok := f.caller(r)
	if !ok {
		writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
	}
	return user, ok
}

func (f *fakeServer) user(w http.ResponseWriter, r *http.Request) {
	user, ok := f.authenticated(w, r)
	if !ok {
		return
	}
	if r.PathValue("name") != "~" {
		http.Error(w, "only ~", http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, &userv1.User{TypeMeta: metav1.TypeMeta{Kind: "User", APIVersion: "user.openshift.io/v1"}, ObjectMeta: metav1.ObjectMeta{Name: user}})
}

func (f *fakeServer) listProjects(w http.ResponseWriter, r *http.Request) {
	user, ok := f.authenticated(w, r)
	if !ok {
		return
	}
	list := &projectv1.ProjectList{TypeMeta: metav1.TypeMeta{Kind: "ProjectList", APIVersion: "project.openshift.io/v1"}}
	f.mu.Lock()
	for _, p := range f.projects[user] {
		list.Items = append(list.Items, projectv1.Project{ObjectMeta: metav1.ObjectMeta{Name: p}})
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (f *fakeServer) getProject(w http.ResponseWriter, r *http.Request) {
	user, ok := f.authenticated(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.projects[user] {
		if p == r.PathValue("name") {
			writeJSON(w, http.StatusOK, &projectv1.Project{TypeMeta: metav1.TypeMeta{Kind: "Project", APIVersion: "project.openshift.io/v1"}, ObjectMeta: metav1.ObjectMeta{Name: p}})
			return
		}
	}
	writeStatus(w, http.StatusForbidden, metav1.StatusReasonForbidden, "")
}

func (f *fakeServer) review(w http.ResponseWriter, r *http.Request) {
	user, ok := f.authenticated(w, r)
	if !ok {
		return
	}
	// client-go sends Kubernetes' own types as protobuf.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var review authorizationv1.SelfSubjectAccessReview
	if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, &review); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a := review.Spec.ResourceAttributes
	f.mu.Lock()
	review.Status.Allowed = a != nil && a.Verb == "create" && a.Group == "project.openshift.io" && a.Resource == "projectrequests" && f.selfProvisioners[user]
	f.mu.Unlock()
	review.TypeMeta = metav1.TypeMeta{Kind: "SelfSubjectAccessReview", APIVersion: "authorization.k8s.io/v1"}
	writeJSON(w, http.StatusCreated, &review)
}

func (f *fakeServer) deleteToken(w http.ResponseWriter, r *http.Request) {
	user, ok := f.authenticated(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for token, owner := range f.tokens {
		if owner == user && oauth.ObjectName(token) == r.PathValue("name") {
			delete(f.tokens, token)
			f.deleted = append(f.deleted, r.PathValue("name"))
			writeStatus(w, http.StatusOK, "", "")
			return
		}
	}
	writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeStatus answers a Kubernetes Status: success for code 200, else a failure for reason.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	s := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
	if code != http.StatusOK {
		s.Status, s.Reason, s.Code, s.Message = metav1.StatusFailure, reason, int32(code), message
	}
	writeJSON(w, code, s)
}

// clientCert writes a client certificate for commonName, signed by a CA of its own that signed
// nothing of the fake server, and returns its files.
func clientCert(t *testing.T, dir, commonName string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, _ = idptest.NewCA(t, t.TempDir()).Issue(t, dir, commonName, false)
	return certFile, keyFile
}
