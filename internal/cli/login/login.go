package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	userv1 "github.com/openshift/api/user/v1"
	projectclient "github.com/openshift/client-go/project/clientset/versioned/typed/project/v1"
	userclient "github.com/openshift/client-go/user/clientset/versioned/typed/user/v1"
	"github.com/openshift/library-go/pkg/oauth/tokenrequest"
	"github.com/openshift/library-go/pkg/oauth/tokenrequest/challengehandlers"
	"github.com/spf13/cobra"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/internal/cli/kubectl"
	"github.com/gantry-dev/gantry/internal/server"
)

// projectListLimit is how many projects login lists before it only counts them (as oc).
const projectListLimit = 50

// LoginOptions are the options of `gantry login`.
type LoginOptions struct {
	// Flags are the kubeconfig flags login honours: --kubeconfig, --server, --token,
	// --certificate-authority, --insecure-skip-tls-verify, --namespace and --request-timeout.
	Flags *genericclioptions.ConfigFlags
	// DataDir is the data directory of a local `gantry start` (its CA is trusted when it verifies
	// the server, and its admin credentials are used by `login -u system:admin`).
	DataDir string

	Server             string
	Username, Password string
	Token              string
	CAFile             string
	Insecure           bool

	genericiooptions.IOStreams

	starting  *clientcmdapi.Config
	access    clientcmd.ConfigAccess
	namespace string // the current namespace of the kubeconfig, preferred among the user's projects
	timeout   time.Duration
	prompt    *prompter

	config  *rest.Config // the server, its trust and, once logged in, the credentials
	user    string
	project string
}

// loginFlags are the kubeconfig flags that make sense for login (oc login honours the same).
func loginFlags() *genericclioptions.ConfigFlags {
	f := genericclioptions.NewConfigFlags(false)
	f.CacheDir, f.ClusterName, f.AuthInfoName, f.Context = nil, nil, nil, nil
	f.Impersonate, f.ImpersonateUID, f.ImpersonateGroup = nil, nil, nil
	f.Username, f.Password = nil, nil // -u and -p are login's own
	f.CertFile, f.KeyFile, f.TLSServerName, f.DisableCompression = nil, nil, nil, nil
	return f
}

// NewCommandLogin returns `gantry login`. dataDir is where a local `gantry start` keeps its data
// ($GANTRY_DATA_DIR overrides it).
func NewCommandLogin(dataDir string, streams genericiooptions.IOStreams) *cobra.Command {
	o := &LoginOptions{Flags: loginFlags(), IOStreams: streams, DataDir: dataDir}
	cmd := &cobra.Command{
		Use:   "login [URL]",
		Short: "Log in to a server",
		Long: `Log in to a Gantry server and save the login in your kubeconfig ($KUBECONFIG or ~/.kube/config).

With -u, login asks the server's OAuth server for a token with your user name and password; the
password is asked without echo when -p is not given, or read from the input when it is not a
terminal. With --token, login checks and saves a token you already have (from the token request page
of the OAuth server, for example). Without either, it reuses a token the kubeconfig holds for the
server.

The server is the URL argument, or the current context's. When the server's certificate is not
trusted, login uses --certificate-authority, else the CA of a local 'gantry start' if it verifies the
server, else asks on a terminal whether to connect insecurely.

After login, every gantry command (get, new-project, ...) acts as you, in the project login chose.
The kubeconfig gets oc's names: cluster HOST:PORT (dots as dashes), user NAME/CLUSTER and context
PROJECT/CLUSTER/NAME. Logging in as someone else adds a context and keeps the others.`,
		Example: `  # Log in to the local cluster as admin (the password is asked)
  gantry login https://10.127.0.1:6443 -u admin

  # Log in with a password from a script
  echo "$PASSWORD" | gantry login https://10.127.0.1:6443 -u alice

  # Log in with a token, trusting the server's CA
  gantry login https://gantry.example.com:6443 --token=sha256~... --certificate-authority=ca.crt

  # Use the local cluster's admin credentials again (run as root)
  sudo gantry login -u system:admin`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Username, "username", "u", "", "User name to log in as")
	cmd.Flags().StringVarP(&o.Password, "password", "p", "", "Password (asked without echo, or read from the input, when not given)")
	o.Flags.AddFlags(cmd.Flags())
	return cmd
}

// Complete fills the options from the flags, the argument and the kubeconfig.
func (o *LoginOptions) Complete(args []string) error {
	if d := os.Getenv(kubectl.DataDirEnv); d != "" {
		o.DataDir = d
	}
	o.Token = ptr.Deref(o.Flags.BearerToken, "")
	o.CAFile = ptr.Deref(o.Flags.CAFile, "")
	o.Insecure = ptr.Deref(o.Flags.Insecure, false)
	o.prompt = newPrompter(o.In, o.Out)
	if t := ptr.Deref(o.Flags.Timeout, ""); t != "" {
		d, err := clientcmd.ParseTimeout(t)
		if err != nil {
			return err
		}
		o.timeout = d
	}

	loader := o.Flags.ToRawKubeConfigLoader()
	o.access = loader.ConfigAccess()
	raw, err := loader.RawConfig()
	if err != nil {
		if !os.IsNotExist(errors.Unwrap(err)) && !os.IsNotExist(err) {
			return fmt.Errorf("read the kubeconfig: %w", err)
		}
		raw = *clientcmdapi.NewConfig()
	}
	o.starting = &raw
	o.namespace, _, _ = loader.Namespace()

	server := ptr.Deref(o.Flags.APIServer, "")
	switch {
	case server != "" && len(args) == 1:
		return errors.New("give the server either as the argument or with --server, not both")
	case len(args) == 1:
		server = args[0]
	case server == "":
		server = o.currentServer()
	}
	if server == "" {
		return fmt.Errorf("no server to log in to: the kubeconfig (%s) has no current context\nTry: gantry login https://HOST:6443 -u USER", o.access.GetDefaultFilename())
	}
	if o.Server, err = normalizeServer(server); err != nil {
		return err
	}
	return nil
}

// currentServer is the server of the kubeconfig's current context, else that of the local
// cluster's admin kubeconfig when it is readable.
func (o *LoginOptions) currentServer() string {
	if c := o.starting.Contexts[o.starting.CurrentContext]; c != nil {
		if cl := o.starting.Clusters[c.Cluster]; cl != nil {
			return cl.Server
		}
	}
	if admin, err := clientcmd.LoadFromFile(server.AdminKubeconfig(o.DataDir)); err == nil {
		if c := admin.Contexts[admin.CurrentContext]; c != nil {
			if cl := admin.Clusters[c.Cluster]; cl != nil {
				return cl.Server
			}
		}
	}
	return ""
}

// Validate checks that the options fit together.
func (o *LoginOptions) Validate() error {
	if o.Token != "" && (o.Username != "" || o.Password != "") {
		return errors.New("--token and --username/--password are two ways to log in: give one")
	}
	if o.Password != "" && o.Username == "" {
		return errors.New("--password needs --username (-u)")
	}
	if o.Insecure && o.CAFile != "" {
		return errors.New("--insecure-skip-tls-verify and --certificate-authority contradict each other: give one")
	}
	return nil
}

// Run logs in, chooses the project and saves the kubeconfig.
func (o *LoginOptions) Run(ctx context.Context) error {
	if err := o.authenticate(ctx); err != nil {
		return err
	}
	if err := o.chooseProject(ctx); err != nil {
		return err
	}
	_, statErr := os.Stat(o.access.GetDefaultFilename())
	merged := mergeConfig(o.starting, loginConfig(o.project, o.user, o.config))
	if err := writeConfig(o.access, merged, userNickname(o.user, o.config.Host)); err != nil {
		return err
	}
	if os.IsNotExist(statErr) {
		fmt.Fprintln(o.Out, "Welcome! See 'gantry help' to get started.")
	}
	return nil
}

// authenticate settles the server and gets credentials: the token given, credentials the
// kubeconfig already holds for the user, or a new token from the OAuth server.
func (o *LoginOptions) authenticate(ctx context.Context) error {
	cfg, err := o.connect()
	if err != nil {
		return err
	}
	if cfg.Insecure {
		fmt.Fprint(o.ErrOut, "WARNING: Using insecure TLS client config: the server's certificate is not checked.\n\n")
	}
	o.config = cfg

	if o.Token != "" {
		withToken := rest.CopyConfig(cfg)
		withToken.BearerToken = o.Token
		me, err := whoAmI(ctx, withToken)
		if err != nil {
			if apierrors.IsUnauthorized(err) {
				return errors.New("the token provided is invalid or expired (401 Unauthorized)\nTry: get a new token from the OAuth server's token request page, or log in with -u USER")
			}
			return fmt.Errorf("check the token: %w", err)
		}
		o.user, o.config = me.Name, withToken
		fmt.Fprintf(o.Out, "Logged into %q as %q using the token provided.\n\n", cfg.Host, o.user)
		return nil
	}

	if o.Password == "" {
		if existing, name := o.existingCredentials(ctx, cfg); existing != nil {
			o.user, o.config = name, existing
			fmt.Fprintf(o.Out, "Logged into %q as %q using existing credentials.\n\n", cfg.Host, o.user)
			return nil
		}
	}

	token, err := o.requestToken(cfg)
	if err != nil {
		return err
	}
	withToken := rest.CopyConfig(cfg)
	withToken.BearerToken = token
	me, err := whoAmI(ctx, withToken)
	if err != nil {
		return fmt.Errorf("the server issued a token but does not accept it: %w", err)
	}
	o.user, o.config = me.Name, withToken
	fmt.Fprint(o.Out, "Login successful.\n\n")
	return nil
}

// errLoginFailed is what a refused password gets, whether or not the user exists.
var errLoginFailed = errors.New("Login failed (401 Unauthorized)\nVerify you have provided the correct credentials.")

// tokenRequestURL finds the OAuth server's token request page in library-go's message.
var tokenRequestURL = regexp.MustCompile(`https?://\S+/request`)

// requestToken gets a token from the OAuth server the API server names in its
// /.well-known/oauth-authorization-server, answering its Basic challenge with the user name and
// password (asking for what is missing).
func (o *LoginOptions) requestToken(cfg *rest.Config) (string, error) {
	for attempt := 0; ; attempt++ {
		out := io.Writer(io.Discard)
		if o.prompt.interactive() {
			out = o.Out
		}
		handler := challengehandlers.NewBasicChallengeHandler(cfg.Host, "", o.In, out, o.prompt, o.Username, o.Password)
		token, err := tokenrequest.RequestTokenWithChallengeHandlers(rest.CopyConfig(cfg), handler)
		if err == nil {
			return token, nil
		}
		if o.prompt.err != nil {
			return "", o.prompt.err
		}
		var status apierrors.APIStatus
		if !apierrors.IsUnauthorized(err) || !errors.As(err, &status) {
			return "", tokenRequestError(cfg.Host, err)
		}
		if status.Status().Message != tokenrequest.BasicAuthNoUsernameMessage {
			return "", errLoginFailed
		}
		// The server wants a user name and password, and none was given.
		if attempt == 0 && o.prompt.interactive() {
			name, err := o.prompt.askString("Username: ")
			if err != nil || name == "" {
				return "", errors.New("no user name given\nTry: gantry login -u USER")
			}
			o.Username = name
			continue
		}
		page := ""
		if d := status.Status().Details; d != nil {
			for _, c := range d.Causes {
				if u := tokenRequestURL.FindString(c.Message); u != "" {
					page = " (get one at " + u + ")"
				}
			}
		}
		return "", fmt.Errorf("the server asks for a user name and password, and -u was not given\nTry: gantry login -u USER, or gantry login --token TOKEN%s", page)
	}
}

// tokenRequestError explains why no token could be had.
func tokenRequestError(server string, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return fmt.Errorf("log in to %s: %s", server, status.Status().Message)
	}
	if strings.Contains(err.Error(), "/.well-known/oauth-authorization-server: unexpected response status 404") {
		return fmt.Errorf("%s does not offer OAuth login (no /.well-known/oauth-authorization-server)\nTry: gantry login --token TOKEN", server)
	}
	return fmt.Errorf("log in to %s: %w", server, err)
}

// existingCredentials looks for credentials of o.Username for the server in the kubeconfig (and in
// the local cluster's admin kubeconfig, for system:admin): those the server recognises as that user.
func (o *LoginOptions) existingCredentials(ctx context.Context, cfg *rest.Config) (*rest.Config, string) {
	if o.Username == "" {
		return nil, ""
	}
	sources := []*clientcmdapi.Config{o.starting}
	if admin, err := clientcmd.LoadFromFile(server.AdminKubeconfig(o.DataDir)); err == nil {
		sources = append(sources, admin)
	}
	for _, kc := range sources {
		for _, name := range sortedKeys(kc.Contexts) {
			c := kc.Contexts[name]
			if cl := kc.Clusters[c.Cluster]; cl == nil || cl.Server != cfg.Host {
				continue
			}
			if a := kc.AuthInfos[c.AuthInfo]; a == nil || (a.Token == "" && a.TokenFile == "" && a.ClientCertificate == "" && len(a.ClientCertificateData) == 0) {
				continue
			}
			cc, err := clientcmd.NewNonInteractiveClientConfig(*kc, name, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
			if err != nil {
				continue
			}
			me, err := whoAmI(ctx, cc)
			if err != nil || me.Name != o.Username {
				continue
			}
			creds := rest.CopyConfig(cfg)
			creds.BearerToken, creds.BearerTokenFile = cc.BearerToken, ""
			creds.CertFile, creds.CertData = cc.CertFile, cc.CertData
			creds.KeyFile, creds.KeyData = cc.KeyFile, cc.KeyData
			return creds, me.Name
		}
	}
	return nil, ""
}

// whoAmI asks the server whose credentials cfg holds (users/~).
func whoAmI(ctx context.Context, cfg *rest.Config) (*userv1.User, error) {
	c, err := userclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return c.Users().Get(ctx, "~", metav1.GetOptions{})
}

// chooseProject lists the user's projects, prints them as oc does, and picks the one to use: the
// current namespace if it is one of them, else "default", else the first.
func (o *LoginOptions) chooseProject(ctx context.Context) error {
	client, err := projectclient.NewForConfig(o.config)
	if err != nil {
		return err
	}
	list, err := client.Projects().List(ctx, metav1.ListOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			fmt.Fprintf(o.ErrOut, "WARNING: could not list your projects: %v\n", err)
		}
		o.project = metav1.NamespaceDefault
		fmt.Fprint(o.Out, "Using \"default\" namespace. You can switch namespaces with:\n\n    gantry project <projectname>\n")
		return nil
	}
	names := map[string]bool{}
	for _, p := range list.Items {
		names[p.Name] = true
	}
	// A project just created may not be listed yet: a direct get finds it.
	if o.namespace != "" && !names[o.namespace] {
		if _, err := client.Projects().Get(ctx, o.namespace, metav1.GetOptions{}); err == nil {
			names[o.namespace] = true
		}
	}
	sorted := sortedKeys(names)
	switch len(sorted) {
	case 0:
		o.project = ""
		if o.canRequestProjects(ctx) {
			fmt.Fprint(o.Out, "You don't have any projects. You can try to create a new project, by running\n\n    gantry new-project <projectname>\n\n")
		} else {
			fmt.Fprint(o.Out, "You don't have any projects. Contact your system administrator to request a project.\n")
		}
	case 1:
		o.project = sorted[0]
		fmt.Fprintf(o.Out, "You have one project on this server: %q\n\nUsing project %q.\n", o.project, o.project)
	default:
		o.project = sorted[0]
		switch {
		case names[o.namespace]:
			o.project = o.namespace
		case names[metav1.NamespaceDefault]:
			o.project = metav1.NamespaceDefault
		}
		if len(sorted) > projectListLimit {
			fmt.Fprintf(o.Out, "You have access to %d projects, the list has been suppressed. You can list all projects with 'gantry projects'\n\n", len(sorted))
		} else {
			fmt.Fprint(o.Out, "You have access to the following projects and can switch between them with 'gantry project <projectname>':\n\n")
			for _, p := range sorted {
				mark := "   "
				if p == o.project {
					mark = "  *"
				}
				fmt.Fprintf(o.Out, "%s %s\n", mark, p)
			}
			fmt.Fprintln(o.Out)
		}
		fmt.Fprintf(o.Out, "Using project %q.\n", o.project)
	}
	return nil
}

// canRequestProjects tells whether the user may create project requests (self-provisioning).
func (o *LoginOptions) canRequestProjects(ctx context.Context) bool {
	c, err := authorizationclient.NewForConfig(o.config)
	if err != nil {
		return false
	}
	review, err := c.SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: "create", Group: "project.openshift.io", Resource: "projectrequests",
		}},
	}, metav1.CreateOptions{})
	return err == nil && review.Status.Allowed
}
