package login

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gantry-dev/gantry/internal/cli/login/ptytest"
	"github.com/gantry-dev/gantry/internal/oauth"
	"github.com/gantry-dev/gantry/internal/server"
)

// env is one person's machine: a kubeconfig, maybe a local Gantry data directory, and the fake
// server.
type env struct {
	t          *testing.T
	srv        *fakeServer
	kubeconfig string
	dataDir    string
	// cluster is the oc-style kubeconfig name of the fake server: 127-0-0-1:PORT.
	cluster string
}

func newEnv(t *testing.T) *env {
	t.Parallel()
	srv := newFakeServer(t)
	dir := t.TempDir()
	u, _ := url.Parse(srv.URL)
	return &env{
		t: t, srv: srv,
		kubeconfig: filepath.Join(dir, "home", ".kube", "config"),
		dataDir:    filepath.Join(dir, "gantry"),
		cluster:    strings.ReplaceAll(u.Host, ".", "-"),
	}
}

type result struct {
	out, errOut string
	err         error
}

func (r result) String() string { return "stdout:\n" + r.out + "stderr:\n" + r.errOut }

// run runs gantry login, logout or whoami with the env's kubeconfig and data directory.
func (e *env) run(in io.Reader, args ...string) result {
	e.t.Helper()
	var out, errOut bytes.Buffer
	if in == nil {
		in = strings.NewReader("")
	}
	streams := genericiooptions.IOStreams{In: in, Out: &out, ErrOut: &errOut}
	flags := genericclioptions.NewConfigFlags(true)
	var cmdArgs []string
	switch args[0] {
	case "login":
		cmd := NewCommandLogin(e.dataDir, streams)
		cmdArgs = append(args[1:], "--kubeconfig", e.kubeconfig)
		return e.execute(cmd, cmdArgs, &out, &errOut)
	case "logout":
		cmd := NewCommandLogout(flags, streams)
		flags.AddFlags(cmd.Flags())
		return e.execute(cmd, append(args[1:], "--kubeconfig", e.kubeconfig), &out, &errOut)
	case "whoami":
		cmd := NewCommandWhoAmI(flags, streams)
		flags.AddFlags(cmd.Flags())
		return e.execute(cmd, append(args[1:], "--kubeconfig", e.kubeconfig), &out, &errOut)
	}
	e.t.Fatalf("unknown command %q", args[0])
	return result{}
}

func (e *env) execute(cmd *cobra.Command, args []string, out, errOut *bytes.Buffer) result {
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	err := cmd.Execute()
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

// ok runs a command that must succeed.
func (e *env) ok(in io.Reader, args ...string) result {
	e.t.Helper()
	r := e.run(in, args...)
	if r.err != nil {
		e.t.Fatalf("gantry %s: %v\n%s", strings.Join(args, " "), r.err, r)
	}
	return r
}

// fails runs a command that must fail with an error containing each of want.
func (e *env) fails(in io.Reader, args []string, want ...string) result {
	e.t.Helper()
	r := e.run(in, args...)
	if r.err == nil {
		e.t.Fatalf("gantry %s succeeded, want an error\n%s", strings.Join(args, " "), r)
	}
	for _, w := range want {
		if !strings.Contains(r.err.Error(), w) {
			e.t.Errorf("gantry %s: error %q lacks %q", strings.Join(args, " "), r.err, w)
		}
	}
	return r
}

func (e *env) config() *clientcmdapi.Config {
	e.t.Helper()
	kc, err := clientcmd.LoadFromFile(e.kubeconfig)
	if err != nil {
		e.t.Fatal(err)
	}
	return kc
}

// trustCA makes the local Gantry data directory hold the fake server's CA, where gantry start keeps
// it: in the private pki directory and the copy every user can read.
func (e *env) trustCA() {
	e.srv.caFile(e.t, server.CAFile(e.dataDir))
	e.srv.caFile(e.t, server.PublicCAFile(e.dataDir))
}

func contains(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q:\n%s", w, text)
		}
	}
}

func TestLoginWithPasswordWritesOcStyleKubeconfig(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.srv.setProjects("alice", "web", "shop")

	r := e.ok(nil, "login", e.srv.URL, "-u", "alice", "-p", "wonderland")
	contains(t, r.out, "Login successful.\n\n",
		"You have access to the following projects and can switch between them with 'gantry project <projectname>':\n\n  * shop\n    web\n\nUsing project \"shop\".\n",
		"Welcome! See 'gantry help' to get started.")
	if r.errOut != "" {
		t.Errorf("stderr: %s", r.errOut)
	}

	kc := e.config()
	userNick, ctxNick := "alice/"+e.cluster, "shop/"+e.cluster+"/alice"
	if kc.CurrentContext != ctxNick {
		t.Errorf("current-context %q, want %q", kc.CurrentContext, ctxNick)
	}
	ctx := kc.Contexts[ctxNick]
	if ctx == nil || ctx.Cluster != e.cluster || ctx.AuthInfo != userNick || ctx.Namespace != "shop" {
		t.Fatalf("context %s = %+v, want cluster %s, user %s, namespace shop", ctxNick, ctx, e.cluster, userNick)
	}
	cluster := kc.Clusters[e.cluster]
	if cluster == nil || cluster.Server != e.srv.URL || len(cluster.CertificateAuthorityData) == 0 || cluster.InsecureSkipTLSVerify {
		t.Fatalf("cluster %s = %+v, want the server with the local CA's data", e.cluster, cluster)
	}
	token := kc.AuthInfos[userNick].Token
	if !strings.HasPrefix(token, "sha256~") {
		t.Fatalf("user %s has token %q, want the one the OAuth server issued", userNick, token)
	}
	st, err := os.Stat(e.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600", st.Mode().Perm())
	}

	// The kubeconfig works on its own: whoami asks the server.
	if out := e.ok(nil, "whoami").out; out != "alice\n" {
		t.Errorf("whoami: %q", out)
	}
	if out := e.ok(nil, "whoami", "-t").out; out != token+"\n" {
		t.Errorf("whoami -t: %q, want the saved token", out)
	}
	if out := e.ok(nil, "whoami", "--show-server").out; out != e.srv.URL+"\n" {
		t.Errorf("whoami --show-server: %q", out)
	}
	if out := e.ok(nil, "whoami", "-c").out; out != ctxNick+"\n" {
		t.Errorf("whoami --show-context: %q", out)
	}
	e.srv.locked(func() {
		if e.srv.authorizeWithoutCSRF != 0 {
			t.Errorf("%d authorize requests without X-CSRF-Token", e.srv.authorizeWithoutCSRF)
		}
	})
}

func TestLoginAsAnotherUserKeepsTheOthers(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.srv.setProjects("alice", "shop", "default")
	e.srv.setProjects("bob", "tools")

	r := e.ok(nil, "login", e.srv.URL, "-u", "alice", "-p", "wonderland")
	contains(t, r.out, "  * default\n    shop\n", `Using project "default".`)
	r = e.ok(nil, "login", "-u", "bob", "-p", "builder") // the server of the current context
	contains(t, r.out, "Login successful.", "You have one project on this server: \"tools\"\n\nUsing project \"tools\".")
	if strings.Contains(r.out, "Welcome") {
		t.Errorf("second login welcomes again:\n%s", r.out)
	}
	kc := e.config()
	alice, bob := "default/"+e.cluster+"/alice", "tools/"+e.cluster+"/bob"
	if kc.Contexts[alice] == nil || kc.Contexts[bob] == nil || kc.CurrentContext != bob {
		t.Fatalf("contexts %v, current %q: want %s kept and %s current", sortedKeys(kc.Contexts), kc.CurrentContext, alice, bob)
	}
	if kc.AuthInfos["alice/"+e.cluster].Token == "" || kc.AuthInfos["bob/"+e.cluster].Token == "" {
		t.Fatal("a user lost its token")
	}
	if got := e.ok(nil, "whoami").out; got != "bob\n" {
		t.Errorf("whoami after the second login: %q", got)
	}

	// Back to alice without a password: the kubeconfig's token is still good, and her context is
	// the current one again (not a copy).
	var tokens int
	e.srv.locked(func() { tokens = len(e.srv.tokens) })
	r = e.ok(strings.NewReader(""), "login", "-u", "alice")
	contains(t, r.out, `Logged into "`+e.srv.URL+`" as "alice" using existing credentials.`)
	e.srv.locked(func() {
		if len(e.srv.tokens) != tokens {
			t.Errorf("a new token was issued although the kubeconfig had one")
		}
	})
	kc = e.config()
	if kc.CurrentContext != alice || len(kc.Contexts) != 2 {
		t.Errorf("contexts %v, current %q: want %s current again", sortedKeys(kc.Contexts), kc.CurrentContext, alice)
	}
}

func TestLoginRefusesWrongCredentialsAlike(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	for _, creds := range [][]string{{"-u", "alice", "-p", "wrong"}, {"-u", "nobody", "-p", "wonderland"}} {
		r := e.fails(nil, append([]string{"login", e.srv.URL}, creds...))
		if r.err.Error() != "Login failed (401 Unauthorized)\nVerify you have provided the correct credentials." {
			t.Errorf("%v: error %q", creds, r.err)
		}
	}
	if _, err := os.Stat(e.kubeconfig); !os.IsNotExist(err) {
		t.Errorf("a failed login wrote the kubeconfig (%v)", err)
	}
	e.srv.locked(func() {
		if e.srv.challenges < 2 {
			t.Errorf("%d Basic challenges: login did not answer the server's challenge", e.srv.challenges)
		}
	})
}

func TestLoginWithoutProjects(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	r := e.ok(nil, "login", e.srv.URL, "-u", "alice", "-p", "wonderland")
	contains(t, r.out, "You don't have any projects. You can try to create a new project, by running\n\n    gantry new-project <projectname>\n")
	if kc := e.config(); kc.CurrentContext != "/"+e.cluster+"/alice" || kc.Contexts[kc.CurrentContext].Namespace != "" {
		t.Errorf("current context %q, want /%s/alice without a namespace (as oc)", kc.CurrentContext, e.cluster)
	}

	e.srv.locked(func() { e.srv.selfProvisioners["bob"] = false })
	r = e.ok(nil, "login", e.srv.URL, "-u", "bob", "-p", "builder")
	contains(t, r.out, "You don't have any projects. Contact your system administrator to request a project.")
}

func TestLoginReadsThePasswordFromTheInput(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	r := e.ok(strings.NewReader("wonderland\n"), "login", e.srv.URL, "-u", "alice")
	contains(t, r.out, "Login successful.")
	if strings.Contains(r.out, "Password") || strings.Contains(r.out, "Authentication required") {
		t.Errorf("prompts printed although the input is not a terminal:\n%s", r.out)
	}
	e.fails(strings.NewReader(""), []string{"login", e.srv.URL, "-u", "bob"}, "no password", "-p")
}

func TestLoginAsksThePasswordWithoutEcho(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	term := ptytest.Open(t)
	done := make(chan result, 1)
	go func() { done <- e.run(term.Slave, "login", e.srv.URL, "-u", "alice") }()
	term.WaitEcho(t, false)
	term.Type(t, "wonderland\n")
	r := <-done
	if r.err != nil {
		t.Fatalf("login: %v\n%s", r.err, r)
	}
	contains(t, r.out, "Authentication required for "+e.srv.URL+" (openshift)\nUsername: alice\nPassword: \n", "Login successful.")
	if shown := term.Shown(); strings.Contains(shown, "wonderland") {
		t.Errorf("the terminal echoed the password: %q", shown)
	}
}

func TestLoginAsksTheUserNameOnATerminal(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.fails(nil, []string{"login", e.srv.URL}, "-u was not given", "gantry login -u USER", "--token")

	term := ptytest.Open(t)
	done := make(chan result, 1)
	go func() { done <- e.run(term.Slave, "login", e.srv.URL) }()
	term.Type(t, "alice\n") // echoed: a user name is no secret
	term.WaitEcho(t, false)
	term.Type(t, "wonderland\n")
	r := <-done
	if r.err != nil {
		t.Fatalf("login: %v\n%s", r.err, r)
	}
	contains(t, r.out, "Username: ", "Login successful.")
	if got := e.ok(nil, "whoami").out; got != "alice\n" {
		t.Errorf("whoami: %q", got)
	}
}

func TestLoginWithAToken(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.srv.setProjects("bob", "tools")
	token := e.srv.issue("bob")
	r := e.ok(nil, "login", e.srv.URL, "--token", token)
	contains(t, r.out, `Logged into "`+e.srv.URL+`" as "bob" using the token provided.`, `Using project "tools".`)
	if got := e.config().AuthInfos["bob/"+e.cluster].Token; got != token {
		t.Errorf("saved token %q, want the one given", got)
	}
	e.fails(nil, []string{"login", e.srv.URL, "--token", "sha256~not-a-token"}, "token provided is invalid or expired")
	e.fails(nil, []string{"login", e.srv.URL, "--token", token, "-u", "bob"}, "give one")
}

func TestLoginTrustsTheServer(t *testing.T) {
	t.Run("untrusted without a terminal", func(t *testing.T) {
		e := newEnv(t)
		e.fails(nil, []string{"login", e.srv.URL, "-u", "alice", "-p", "wonderland"},
			"signed by an unknown authority", "--certificate-authority", "--insecure-skip-tls-verify")
	})
	t.Run("--certificate-authority", func(t *testing.T) {
		e := newEnv(t)
		ca := e.srv.caFile(t, filepath.Join(t.TempDir(), "ca.crt"))
		e.ok(nil, "login", e.srv.URL, "-u", "alice", "-p", "wonderland", "--certificate-authority", ca)
		c := e.config().Clusters[e.cluster]
		if c.CertificateAuthority != ca || c.InsecureSkipTLSVerify {
			t.Errorf("cluster %+v, want certificate-authority %s", c, ca)
		}
		// Next time the kubeconfig's CA is enough.
		e.ok(nil, "login", "-u", "alice", "-p", "wonderland")
		e.ok(nil, "whoami")
	})
	t.Run("--certificate-authority that did not sign it", func(t *testing.T) {
		e := newEnv(t)
		ca, _ := clientCert(t, t.TempDir(), "another-ca")
		e.trustCA() // not used: the CA given wins
		e.fails(nil, []string{"login", e.srv.URL, "-u", "alice", "-p", "wonderland", "--certificate-authority", ca},
			"not signed by --certificate-authority "+ca)
	})
	t.Run("--insecure-skip-tls-verify", func(t *testing.T) {
		e := newEnv(t)
		r := e.ok(nil, "login", e.srv.URL, "-u", "alice", "-p", "wonderland", "--insecure-skip-tls-verify")
		contains(t, r.errOut, "WARNING: Using insecure TLS client config")
		if c := e.config().Clusters[e.cluster]; !c.InsecureSkipTLSVerify {
			t.Errorf("cluster %+v, want insecure-skip-tls-verify", c)
		}
		// The kubeconfig remembers the choice.
		e.ok(nil, "login", "-u", "alice", "-p", "wonderland")
	})
	t.Run("asked on a terminal", func(t *testing.T) {
		e := newEnv(t)
		term := ptytest.Open(t)
		term.Type(t, "maybe\ny\n")
		r := e.run(term.Slave, "login", e.srv.URL, "-u", "alice", "-p", "wonderland")
		if r.err != nil {
			t.Fatalf("login: %v\n%s", r.err, r)
		}
		contains(t, r.out, "The server uses a certificate signed by an unknown authority.", "Use insecure connections? (y/n): ", "Login successful.")
		if c := e.config().Clusters[e.cluster]; !c.InsecureSkipTLSVerify {
			t.Errorf("cluster %+v, want insecure-skip-tls-verify", c)
		}
	})
	t.Run("refused on a terminal", func(t *testing.T) {
		e := newEnv(t)
		term := ptytest.Open(t)
		term.Type(t, "n\n")
		e.fails(term.Slave, []string{"login", e.srv.URL, "-u", "alice", "-p", "wonderland"}, "--certificate-authority")
	})
	t.Run("a CA in the kubeconfig that no longer verifies it", func(t *testing.T) {
		// The local cluster was recreated with a new CA: its CA replaces the kubeconfig's.
		e := newEnv(t)
		oldCA, _ := clientCert(t, t.TempDir(), "old-ca")
		kc := clientcmdapi.NewConfig()
		kc.Clusters["old"] = &clientcmdapi.Cluster{Server: e.srv.URL, CertificateAuthority: oldCA}
		if err := os.MkdirAll(filepath.Dir(e.kubeconfig), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := clientcmd.WriteToFile(*kc, e.kubeconfig); err != nil {
			t.Fatal(err)
		}
		e.trustCA()
		e.ok(nil, "login", e.srv.URL, "-u", "alice", "-p", "wonderland")
		e.ok(nil, "whoami")
	})
}

func TestLoginErrors(t *testing.T) {
	e := newEnv(t)
	e.fails(nil, []string{"login", "https://127.0.0.1:1", "-u", "alice", "-p", "x"}, "cannot reach https://127.0.0.1:1", "Try:")
	e.fails(nil, []string{"login", "-u", "alice", "-p", "x"}, "no server to log in to", "gantry login https://HOST:6443")
	e.fails(nil, []string{"login", "ftp://example.com"}, "scheme must be https")
	e.fails(nil, []string{"login", e.srv.URL, "-p", "x"}, "--password needs --username")
	e.fails(nil, []string{"login", e.srv.URL, "--insecure-skip-tls-verify", "--certificate-authority", "x"}, "give one")
	e.fails(nil, []string{"login", e.srv.URL, "--certificate-authority", "/nonexistent/ca.crt"}, "read --certificate-authority")
}

func TestLoginToAServerWithoutOAuth(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.srv.locked(func() { e.srv.noOAuth = true })
	e.fails(nil, []string{"login", e.srv.URL, "-u", "alice", "-p", "wonderland"}, "does not offer OAuth login", "--token")
	// A token still works.
	e.ok(nil, "login", e.srv.URL, "--token", e.srv.issue("alice"))
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.srv.setProjects("alice", "shop")
	e.ok(nil, "login", e.srv.URL, "-u", "alice", "-p", "wonderland")
	token := strings.TrimSpace(e.ok(nil, "whoami", "-t").out)

	r := e.ok(nil, "logout")
	if r.out != `Logged "alice" out on "`+e.srv.URL+`"`+"\n" {
		t.Errorf("logout printed %q", r.out)
	}
	e.srv.locked(func() {
		if len(e.srv.deleted) != 1 || e.srv.deleted[0] != oauth.ObjectName(token) {
			t.Errorf("deleted tokens %v, want [%s]", e.srv.deleted, oauth.ObjectName(token))
		}
	})
	kc := e.config()
	if a := kc.AuthInfos["alice/"+e.cluster]; a == nil || a.Token != "" {
		t.Errorf("user after logout: %+v, want it kept without its token", a)
	}
	if kc.Contexts["shop/"+e.cluster+"/alice"] == nil {
		t.Error("logout removed the context")
	}
	e.fails(nil, []string{"whoami", "-t"}, "no token is in use")
	e.fails(nil, []string{"logout"}, "must have a token in order to log out")
}

func TestLogoutOfAnExpiredToken(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.ok(nil, "login", e.srv.URL, "-u", "alice", "-p", "wonderland")
	e.srv.locked(func() { clear(e.srv.tokens) }) // expired
	e.fails(nil, []string{"whoami"}, "401 Unauthorized", "gantry login")
	r := e.ok(nil, "logout")
	contains(t, r.out, `Logged "alice" out`)
	if a := e.config().AuthInfos["alice/"+e.cluster]; a.Token != "" {
		t.Error("the expired token stays in the kubeconfig")
	}
}

// The local cluster's admin kubeconfig (client certificate) is what `login -u system:admin` uses,
// and its server is the default one.
func TestLoginAsTheLocalAdmin(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	certFile, keyFile := clientCert(t, t.TempDir(), "system:admin")
	admin := clientcmdapi.NewConfig()
	admin.Clusters["gantry"] = &clientcmdapi.Cluster{Server: e.srv.URL, CertificateAuthority: server.CAFile(e.dataDir)}
	admin.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
	admin.Contexts["gantry"] = &clientcmdapi.Context{Cluster: "gantry", AuthInfo: "admin", Namespace: "default"}
	admin.CurrentContext = "gantry"
	if err := clientcmd.WriteToFile(*admin, server.AdminKubeconfig(e.dataDir)); err != nil {
		t.Fatal(err)
	}
	e.srv.setProjects("system:admin", "default", "kube-system")

	r := e.ok(nil, "login", "-u", "system:admin")
	contains(t, r.out, `Logged into "`+e.srv.URL+`" as "system:admin" using existing credentials.`, `Using project "default".`)
	a := e.config().AuthInfos["system:admin/"+e.cluster]
	if a == nil || a.ClientCertificate != certFile || a.ClientKey != keyFile || a.Token != "" {
		t.Fatalf("user system:admin/%s = %+v, want the admin's client certificate", e.cluster, a)
	}
	if got := e.ok(nil, "whoami").out; got != "system:admin\n" {
		t.Errorf("whoami: %q", got)
	}
	e.fails(nil, []string{"logout"}, "must have a token", "client certificate")
	e.fails(nil, []string{"whoami", "-t"}, "no token is in use")
}

func TestNormalizeServer(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10.127.0.1":               "https://10.127.0.1:6443",
		"10.127.0.1:6443":          "https://10.127.0.1:6443",
		"https://10.127.0.1:6443/": "https://10.127.0.1:6443",
		"https://api.example.com":  "https://api.example.com:443",
		"http://api.example.com":   "http://api.example.com:80",
		"[::1]":                    "https://[::1]:6443",
	} {
		if got, err := normalizeServer(in); err != nil || got != want {
			t.Errorf("normalizeServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"https://", "host:99999", "tcp://host:1", "https://host:0"} {
		if got, err := normalizeServer(bad); err == nil {
			t.Errorf("normalizeServer(%q) = %q, want an error", bad, got)
		}
	}
}

func TestTokenObjectName(t *testing.T) {
	t.Parallel()
	// sha256("abc") in base64url, the name the OAuth server stores the token "sha256~abc" under.
	if got, want := oauth.ObjectName("sha256~abc"), "sha256~ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"; got != want {
		t.Errorf("tokenObjectName = %q, want %q", got, want)
	}
}

func TestNoSession(t *testing.T) {
	e := newEnv(t)
	e.fails(nil, []string{"whoami"}, "no session", "gantry login")
	e.fails(nil, []string{"logout"}, "no session", "gantry login")
}
