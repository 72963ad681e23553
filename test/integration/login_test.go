package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oauthclient "github.com/openshift/client-go/oauth/clientset/versioned"
	userclient "github.com/openshift/client-go/user/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gantry-dev/gantry/internal/cli/login/ptytest"
	"github.com/gantry-dev/gantry/internal/oauth"
	"github.com/gantry-dev/gantry/test/harness"
)

// person is someone using the gantry binary on this machine: their own home directory (so their
// own ~/.kube/config) and a local Gantry data directory (GANTRY_DATA_DIR).
type person struct {
	t       *testing.T
	bin     string
	home    string
	dataDir string
}

func newPerson(t *testing.T, dataDir string) *person {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	return &person{t: t, bin: bin, home: t.TempDir(), dataDir: dataDir}
}

func (p *person) kubeconfigPath() string { return filepath.Join(p.home, ".kube", "config") }

func (p *person) kubeconfig() *clientcmdapi.Config {
	p.t.Helper()
	kc, err := clientcmd.LoadFromFile(p.kubeconfigPath())
	if err != nil {
		p.t.Fatal(err)
	}
	return kc
}

type cliResult struct {
	out, errOut string
	err         error
}

func (r cliResult) String() string { return "stdout:\n" + r.out + "stderr:\n" + r.errOut }

// gantry runs the binary with stdin (a string, or a terminal's *os.File).
func (p *person) gantry(stdin any, args ...string) cliResult {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "KUBECONFIG" && k != "HOME" && k != "GANTRY_DATA_DIR" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+p.home, "GANTRY_DATA_DIR="+p.dataDir)
	switch in := stdin.(type) {
	case string:
		cmd.Stdin = strings.NewReader(in)
	case *os.File:
		cmd.Stdin = in
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return cliResult{out: out.String(), errOut: errOut.String(), err: err}
}

func (p *person) ok(stdin any, args ...string) cliResult {
	p.t.Helper()
	r := p.gantry(stdin, args...)
	if r.err != nil {
		p.t.Fatalf("gantry %s: %v\n%s", strings.Join(args, " "), r.err, r)
	}
	return r
}

func (p *person) fails(stdin any, args ...string) cliResult {
	p.t.Helper()
	r := p.gantry(stdin, args...)
	if r.err == nil {
		p.t.Fatalf("gantry %s succeeded, want a failure\n%s", strings.Join(args, " "), r)
	}
	return r
}

// addUsers sets htpasswd passwords for new users.
func addUsers(t *testing.T, passwords map[string]string) {
	t.Helper()
	for name, pass := range passwords {
		if err := cluster.AddUser(name, pass); err != nil {
			t.Fatal(err)
		}
	}
}

// The whole session of oc's login, whoami, project and logout, against the real OAuth server, with
// the kubeconfig in the person's home directory as nothing else configured.
func TestLoginWhoamiLogout(t *testing.T) {
	addUsers(t, map[string]string{"login-alice": "alice-secret-1", "login-bob": "bob-secret-1"})
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), "login-alice-shop", metav1.DeleteOptions{})
	})
	server := cluster.Config.Host
	clusterNick := strings.ReplaceAll(strings.TrimPrefix(server, "https://"), ".", "-") // 10-127-0-1:6443
	p := newPerson(t, cluster.DataDir)

	// Without a kubeconfig, client commands use the local cluster's admin credentials.
	if got := p.ok("", "whoami").out; got != "system:admin\n" {
		t.Fatalf("whoami before login = %q, want system:admin (the local admin kubeconfig)", got)
	}

	r := p.ok("", "login", server, "-u", "login-alice", "-p", "alice-secret-1")
	wantContains(t, r.out, "Login successful.\n\n",
		"You don't have any projects. You can try to create a new project, by running\n\n    gantry new-project <projectname>\n",
		"Welcome! See 'gantry help' to get started.")
	st, err := os.Stat(p.kubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("~/.kube/config mode %v, want 0600", st.Mode().Perm())
	}
	kc := p.kubeconfig()
	aliceUser := "login-alice/" + clusterNick
	if c := kc.Clusters[clusterNick]; c == nil || c.Server != server || len(c.CertificateAuthorityData) == 0 {
		t.Errorf("cluster %s = %+v, want %s with the local cluster's CA", clusterNick, c, server)
	}
	if a := kc.AuthInfos[aliceUser]; a == nil || !strings.HasPrefix(a.Token, "sha256~") {
		t.Fatalf("user %s = %+v, want an OAuth token", aliceUser, a)
	}
	if want := "/" + clusterNick + "/login-alice"; kc.CurrentContext != want {
		t.Errorf("current-context %q, want %q", kc.CurrentContext, want)
	}

	// From now on every command acts as alice, not as the local admin.
	if got := p.ok("", "whoami").out; got != "login-alice\n" {
		t.Fatalf("whoami after login = %q, want login-alice", got)
	}
	wantContains(t, p.ok("", "new-project", "login-alice-shop").out, `Now using project "login-alice-shop" on server "`+server+`"`)
	shopContext := "login-alice-shop/" + clusterNick + "/login-alice"
	if got := p.ok("", "whoami", "--show-context").out; got != shopContext+"\n" {
		t.Errorf("whoami --show-context = %q, want %q (oc's name)", got, shopContext)
	}
	if got := p.ok("", "whoami", "--show-server").out; got != server+"\n" {
		t.Errorf("whoami --show-server = %q", got)
	}
	if r := p.ok("", "projects"); !strings.Contains(r.out, "login-alice-shop") || strings.Contains(r.out, "kube-system") {
		t.Errorf("alice's projects:\n%s", r.out)
	}
	wantContains(t, p.ok("", "get", "pods").errOut, "No resources found in login-alice-shop namespace.")

	// whoami -t prints the token, which works on the API by itself.
	aliceToken := strings.TrimSpace(p.ok("", "whoami", "-t").out)
	if u, err := userclient.NewForConfigOrDie(cluster.TokenConfig(aliceToken)).UserV1().Users().Get(t.Context(), "~", metav1.GetOptions{}); err != nil || u.Name != "login-alice" {
		t.Errorf("users/~ with whoami -t's token = %v, %v", u, err)
	}

	// Wrong credentials: the same answer whether the user exists or not, and nothing written.
	before, _ := os.ReadFile(p.kubeconfigPath())
	for _, creds := range [][]string{{"-u", "login-alice", "-p", "wrong"}, {"-u", "login-nobody", "-p", "alice-secret-1"}} {
		r := p.fails("", append([]string{"login"}, creds...)...)
		if r.errOut != "error: Login failed (401 Unauthorized)\nVerify you have provided the correct credentials.\n" {
			t.Errorf("login %v: stderr %q", creds, r.errOut)
		}
	}
	if after, _ := os.ReadFile(p.kubeconfigPath()); !bytes.Equal(before, after) {
		t.Error("a failed login changed the kubeconfig")
	}

	// Bob logs in on the same server (the current context's), the password on the input.
	r = p.ok("bob-secret-1\n", "login", "-u", "login-bob")
	wantContains(t, r.out, "Login successful.")
	kc = p.kubeconfig()
	bobContext := "/" + clusterNick + "/login-bob"
	if kc.CurrentContext != bobContext || kc.Contexts[shopContext] == nil || kc.AuthInfos[aliceUser].Token != aliceToken {
		t.Fatalf("after bob's login: current %q, contexts %v: want %s current and alice's context and token kept", kc.CurrentContext, keys(kc.Contexts), bobContext)
	}
	bobToken := kc.AuthInfos["login-bob/"+clusterNick].Token

	// Logout revokes bob's token on the server and removes it from the kubeconfig.
	if got := p.ok("", "logout").out; got != `Logged "login-bob" out on "`+server+`"`+"\n" {
		t.Errorf("logout printed %q", got)
	}
	admin := oauthclient.NewForConfigOrDie(cluster.Config)
	if _, err := admin.OauthV1().OAuthAccessTokens().Get(t.Context(), oauth.ObjectName(bobToken), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("bob's token object after logout: %v, want NotFound", err)
	}
	if err := harness.Eventually(t.Context(), 30*time.Second, func(ctx context.Context) error {
		_, err := userclient.NewForConfigOrDie(cluster.TokenConfig(bobToken)).UserV1().Users().Get(ctx, "~", metav1.GetOptions{})
		if !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("bob's token after logout: %v, want 401", err)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if a := p.kubeconfig().AuthInfos["login-bob/"+clusterNick]; a == nil || a.Token != "" {
		t.Errorf("bob's kubeconfig user after logout: %+v, want it without a token", a)
	}
	wantContains(t, p.fails("", "whoami", "-t").errOut, "no token is in use")

	// Alice again, without a password: her token in the kubeconfig still works.
	r = p.ok("", "login", "-u", "login-alice")
	wantContains(t, r.out, `Logged into "`+server+`" as "login-alice" using existing credentials.`, `Using project "login-alice-shop".`)
	if got := p.kubeconfig().CurrentContext; got != shopContext {
		t.Errorf("current-context %q, want %q", got, shopContext)
	}

	// The local administrator, from the local cluster's admin kubeconfig.
	r = p.ok("", "login", "-u", "system:admin")
	wantContains(t, r.out, `as "system:admin" using existing credentials.`)
	if got := p.ok("", "whoami").out; got != "system:admin\n" {
		t.Errorf("whoami as the admin = %q", got)
	}
	wantContains(t, p.fails("", "logout").errOut, "must have a token in order to log out")
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Prompts on a real terminal: the password without echo, and whether to skip an untrusted
// certificate (here no local CA is known: GANTRY_DATA_DIR is empty).
func TestLoginPromptsOnATerminal(t *testing.T) {
	addUsers(t, map[string]string{"login-carol": "carol-secret-1"})
	server := cluster.Config.Host
	p := newPerson(t, t.TempDir())

	r := p.fails("", "login", server, "-u", "login-carol", "-p", "carol-secret-1")
	wantContains(t, r.errOut, "certificate signed by an unknown authority", "--certificate-authority", "--insecure-skip-tls-verify")

	term := ptytest.Open(t)
	done := make(chan cliResult, 1)
	go func() { done <- p.gantry(term.Slave, "login", server, "-u", "login-carol") }()
	term.Type(t, "y\n") // Use insecure connections?
	term.WaitEcho(t, false)
	term.Type(t, "carol-secret-1\n")
	var res cliResult
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("login did not finish; the terminal shows:\n%s", term.Shown())
	}
	if res.err != nil {
		t.Fatalf("login on a terminal: %v\n%s\nterminal:\n%s", res.err, res, term.Shown())
	}
	wantContains(t, res.out, "Use insecure connections? (y/n): ", "Username: login-carol\nPassword: ", "Login successful.")
	wantContains(t, res.errOut, "WARNING: Using insecure TLS client config")
	if strings.Contains(term.Shown(), "carol-secret-1") {
		t.Errorf("the terminal echoed the password:\n%s", term.Shown())
	}
	if got := p.ok("", "whoami").out; got != "login-carol\n" {
		t.Errorf("whoami = %q", got)
	}

	// With the CA given, the same server is trusted.
	q := newPerson(t, t.TempDir())
	q.ok("carol-secret-1\n", "login", server, "-u", "login-carol", "--certificate-authority", filepath.Join(cluster.DataDir, "pki", "ca.crt"))
	if c := q.kubeconfig().Clusters[strings.ReplaceAll(strings.TrimPrefix(server, "https://"), ".", "-")]; c == nil || c.InsecureSkipTLSVerify || c.CertificateAuthority == "" {
		t.Errorf("cluster after --certificate-authority: %+v", c)
	}
	if got := q.ok("", "whoami").out; got != "login-carol\n" {
		t.Errorf("whoami = %q", got)
	}
}
