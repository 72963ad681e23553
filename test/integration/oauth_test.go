package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	oauthv1 "github.com/openshift/api/oauth/v1"
	projectv1 "github.com/openshift/api/project/v1"
	userv1 "github.com/openshift/api/user/v1"
	authorizationclient "github.com/openshift/client-go/authorization/clientset/versioned"
	oauthclient "github.com/openshift/client-go/oauth/clientset/versioned"
	userclient "github.com/openshift/client-go/user/clientset/versioned"
	"github.com/openshift/library-go/pkg/oauth/oauthdiscovery"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/internal/oauth"
	"github.com/gantry-dev/gantry/test/harness"
)

// newUser logs a new htpasswd user in and returns its token; each test uses its own names.
func newUser(t *testing.T, name string) string {
	t.Helper()
	tok, err := cluster.NewUser(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func whoami(ctx context.Context, c *rest.Config) (*userv1.User, error) {
	uc, err := userclient.NewForConfig(c)
	if err != nil {
		return nil, err
	}
	return uc.UserV1().Users().Get(ctx, "~", metav1.GetOptions{})
}

func TestOAuthMetadataIsServedAnonymouslyByTheAPIServer(t *testing.T) {
	rt, err := rest.TransportFor(cluster.AnonymousConfig())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Get(cluster.Config.Host + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m oauthdiscovery.OauthAuthorizationServerMetadata
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %v", resp.Status, err)
	}
	if !strings.HasSuffix(m.AuthorizationEndpoint, ":8444/oauth/authorize") || m.TokenEndpoint != m.Issuer+"/oauth/token" {
		t.Errorf("metadata = %+v, want the OAuth server on port 8444", m)
	}
}

func TestOneTokenWorksOnKubernetesAndOpenShiftAPIs(t *testing.T) {
	tok := newUser(t, "oauth-alice")
	cfg := cluster.TokenConfig(tok)
	u, err := whoami(t.Context(), cfg)
	if err != nil || u.Name != "oauth-alice" || len(u.Identities) != 1 || u.Identities[0] != "htpasswd:oauth-alice" {
		t.Fatalf("users/~ with the token = %+v, %v; want oauth-alice with identity htpasswd:oauth-alice", u, err)
	}
	// OAuth users may request projects and become their admins, on the Kubernetes API too.
	pc := projects(t, cfg)
	if _, err := pc.ProjectV1().ProjectRequests().Create(t.Context(), &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "oauth-alice-p"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("project request with a token: %v", err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), "oauth-alice-p", metav1.DeleteOptions{})
	})
	kc := kubernetes.NewForConfigOrDie(cfg)
	if err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := kc.CoreV1().ConfigMaps("oauth-alice-p").List(ctx, metav1.ListOptions{})
		return err
	}); err != nil {
		t.Fatalf("list configmaps in her project with the token: %v", err)
	}
	// Authenticated, but not allowed elsewhere: 403, not 401.
	_, err = kc.CoreV1().Secrets("kube-system").List(t.Context(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("list kube-system secrets: %v, want Forbidden", err)
	}
}

func TestWrongPasswordIsRefusedWithoutHint(t *testing.T) {
	if err := cluster.AddUser("oauth-carol", "right-password"); err != nil {
		t.Fatal(err)
	}
	_, wrong := cluster.Login("oauth-carol", "wrong-password")
	_, unknown := cluster.Login("oauth-nobody", "wrong-password")
	for _, err := range []error{wrong, unknown} {
		if !apierrors.IsUnauthorized(errors.Unwrap(err)) {
			t.Errorf("login: %v, want 401 Unauthorized", err)
		}
	}
	if strings.ReplaceAll(wrong.Error(), "oauth-carol", "X") != strings.ReplaceAll(unknown.Error(), "oauth-nobody", "X") {
		t.Errorf("a wrong password and an unknown user answer differently:\n%v\n%v", wrong, unknown)
	}
}

func TestRevokedAndExpiredTokensStopWorking(t *testing.T) {
	tok := newUser(t, "oauth-dave")
	cfg := cluster.TokenConfig(tok)
	if _, err := whoami(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	// The user deletes the token through useroauthaccesstokens, as `gantry logout` does.
	oc := oauthclient.NewForConfigOrDie(cfg)
	mine, err := oc.OauthV1().UserOAuthAccessTokens().List(t.Context(), metav1.ListOptions{})
	if err != nil || len(mine.Items) != 1 || mine.Items[0].Name != oauth.ObjectName(tok) {
		t.Fatalf("useroauthaccesstokens = %+v, %v; want exactly the caller's token", mine, err)
	}
	if err := oc.OauthV1().UserOAuthAccessTokens().Delete(t.Context(), oauth.ObjectName(tok), metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete own token: %v", err)
	}
	// The API caches a positive answer for at most 10 seconds.
	if err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		if _, err := whoami(ctx, cfg); !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("revoked token: %v, want 401", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A token past its expiry: made by the administrator with a one-second lifetime.
	u, err := whoami(t.Context(), cluster.TokenConfig(newUser(t, "oauth-dave")))
	if err != nil {
		t.Fatal(err)
	}
	short, _ := oauth.NewToken()
	admin := oauthclient.NewForConfigOrDie(cluster.Config)
	if _, err := admin.OauthV1().OAuthAccessTokens().Create(t.Context(), &oauthv1.OAuthAccessToken{
		ObjectMeta: metav1.ObjectMeta{Name: oauth.ObjectName(short)}, ClientName: oauth.ChallengingClient,
		UserName: u.Name, UserUID: string(u.UID), ExpiresIn: 1, Scopes: []string{"user:full"},
		RedirectURI: "https://127.0.0.1/cb",
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		if _, err := whoami(ctx, cluster.TokenConfig(short)); !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("expired token: %v, want 401", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestUsersSeeOnlyTheirOwnTokens(t *testing.T) {
	erin := cluster.TokenConfig(newUser(t, "oauth-erin"))
	frank := newUser(t, "oauth-frank")
	oc := oauthclient.NewForConfigOrDie(erin)
	_, err := oc.OauthV1().UserOAuthAccessTokens().Get(t.Context(), oauth.ObjectName(frank), metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("erin gets frank's token: %v, want NotFound", err)
	}
	if err := oc.OauthV1().UserOAuthAccessTokens().Delete(t.Context(), oauth.ObjectName(frank), metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("erin deletes frank's token: %v, want NotFound", err)
	}
	if _, err := oc.OauthV1().OAuthAccessTokens().List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("erin lists all tokens: %v, want Forbidden", err)
	}
	if _, err := whoami(t.Context(), cluster.TokenConfig(frank)); err != nil {
		t.Errorf("frank's token stopped working: %v", err)
	}
	// What the real `oc logout` does: delete oauthaccesstokens/<its name>; a user may (only the
	// holder of a token knows that name).
	fc := oauthclient.NewForConfigOrDie(cluster.TokenConfig(frank))
	if err := fc.OauthV1().OAuthAccessTokens().Delete(t.Context(), oauth.ObjectName(frank), metav1.DeleteOptions{}); err != nil {
		t.Errorf("frank deletes his token as oc logout does: %v", err)
	}
}

func TestGroupMembershipComesFromGroups(t *testing.T) {
	tok := newUser(t, "oauth-gina")
	ctx := t.Context()
	uc := userclient.NewForConfigOrDie(cluster.Config)
	if _, err := uc.UserV1().Groups().Create(ctx, &userv1.Group{ObjectMeta: metav1.ObjectMeta{Name: "oauth-readers"}, Users: []string{"oauth-gina"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uc.UserV1().Groups().Delete(context.Background(), "oauth-readers", metav1.DeleteOptions{}) })
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "readers-view", Namespace: "default"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "oauth-readers"}},
	}
	if _, err := cluster.Client.RbacV1().RoleBindings("default").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.RbacV1().RoleBindings("default").Delete(context.Background(), "readers-view", metav1.DeleteOptions{})
	})
	kc := kubernetes.NewForConfigOrDie(cluster.TokenConfig(tok))
	if err := harness.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		_, err := kc.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		return err
	}); err != nil {
		t.Fatalf("a member of a group bound to view cannot read: %v", err)
	}
}

func TestTokensInQueryStringsAreNotAccepted(t *testing.T) {
	tok := newUser(t, "oauth-hank")
	rt, err := rest.TransportFor(cluster.AnonymousConfig())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Get(cluster.Config.Host + "/apis/user.openshift.io/v1/users/~?access_token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "oauth-hank") {
		t.Errorf("a token in the query string authenticated the request: %s %s", resp.Status, body)
	}
}

func TestAnonymousRequestsAreSystemAnonymous(t *testing.T) {
	_, err := whoami(t.Context(), cluster.AnonymousConfig())
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "system:anonymous") {
		t.Errorf("anonymous users/~: %v, want Forbidden for system:anonymous", err)
	}
}

func TestTokensNeverAppearInLogs(t *testing.T) {
	tok := newUser(t, "oauth-ivy")
	// Use it, fail with it, revoke it: every path that might log.
	_, _ = whoami(t.Context(), cluster.TokenConfig(tok))
	_, _ = whoami(t.Context(), cluster.TokenConfig(tok+"x"))
	secret := strings.TrimPrefix(tok, oauth.TokenPrefix)
	err := filepath.Walk(filepath.Join(cluster.DataDir, "logs"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s contains a token", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cluster.Output(), secret) {
		t.Error("gantry start's output contains a token")
	}
}

// oauthServer is a client of the real OAuth server that does not follow redirects.
func oauthServer(t *testing.T) (*http.Client, string) {
	t.Helper()
	rt, err := rest.TransportFor(cluster.AnonymousConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(cluster.Config.Host + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m oauthdiscovery.OauthAuthorizationServerMetadata
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return c, m.Issuer
}

func TestOAuthServerRefusesForeignRedirectsAndSendsSafeHeaders(t *testing.T) {
	c, issuer := oauthServer(t)
	for _, redirect := range []string{
		"https://evil.example.com/oauth/token/implicit",
		issuer + "/oauth/token/implicit/../../evil",
		issuer + "/oauth/token/implicit/%2e%2e/evil",
		issuer + "/oauth/token/implicit-evil",
		strings.Replace(issuer, "https://", "https://user@", 1) + "/oauth/token/implicit",
		strings.Replace(issuer, "https://", "http://", 1) + "/oauth/token/implicit",
	} {
		u := issuer + "/oauth/authorize?" + (url.Values{"client_id": {"openshift-challenging-client"}, "response_type": {"code"}, "redirect_uri": {redirect}}).Encode()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %s: %s Location %q, want 400 without a redirect", redirect, resp.Status, resp.Header.Get("Location"))
		}
		for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if resp.Header.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), v)
			}
		}
	}
	// The token-review webhook answers only kube-apiserver's certificate.
	resp, err := c.Post(issuer+"/tokenreview", "application/json", strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("token review without kube-apiserver's certificate: %s, want 403", resp.Status)
	}
}

// oc login asks "may I list and create projectrequests?" with personal subject access reviews; every
// user may ask about themselves, not about others.
func TestUsersMayAskAboutThemselvesOnly(t *testing.T) {
	cfg := cluster.TokenConfig(newUser(t, "oauth-jill"))
	ac := authorizationclient.NewForConfigOrDie(cfg)
	resp, err := ac.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), &authorizationv1.SubjectAccessReview{
		Action: authorizationv1.Action{Namespace: "default", Verb: "create", Resource: "projectrequests"}}, metav1.CreateOptions{})
	if err != nil || !resp.Allowed {
		t.Fatalf("may I create projectrequests: %+v %v, want allowed (self-provisioner)", resp, err)
	}
	_, err = ac.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), &authorizationv1.SubjectAccessReview{
		Action: authorizationv1.Action{Namespace: "default", Verb: "get", Resource: "secrets"}, User: "admin"}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("asking about admin: %v, want Forbidden", err)
	}
}
