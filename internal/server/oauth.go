package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	oauthv1 "github.com/openshift/api/oauth/v1"
	osinv1 "github.com/openshift/api/osin/v1"
	oauthclientset "github.com/openshift/client-go/oauth/clientset/versioned"
	userclientset "github.com/openshift/client-go/user/clientset/versioned"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/authz"
	"github.com/gantry-dev/gantry/internal/oauth"
	"github.com/gantry-dev/gantry/internal/oauth/identitymapper"
	"github.com/gantry-dev/gantry/internal/oauth/idp"
)

// AdminUser is the user of the default htpasswd file; it is a cluster administrator.
const AdminUser = "admin"

func (c *Config) oauthDir() string { return filepath.Join(c.DataDir, "oauth") }

// HTPasswdFile is the default identity provider's file in a data directory.
func HTPasswdFile(dataDir string) string { return filepath.Join(dataDir, "oauth", "htpasswd") }

func (c *Config) sessionSecretsFile() string { return filepath.Join(c.oauthDir(), "session-secrets") }

// oauthSetup is the OAuth configuration and its identity providers, checked before anything starts.
type oauthSetup struct {
	config    *osinv1.OAuthConfig
	providers []idp.Provider
}

// prepareOAuth creates the session secrets and, without an OAuth configuration file, the htpasswd file
// with the admin user, then loads the configuration and builds the identity providers, so that a
// mistake in them stops `gantry start` before any component runs. It returns the admin password when
// it made one: it is shown once and stored only as a bcrypt hash.
func (c *Config) prepareOAuth() (adminPassword string, setup *oauthSetup, err error) {
	if adminPassword, err = c.prepareOAuthFiles(); err != nil {
		return "", nil, err
	}
	oc, err := c.oauthConfig()
	if err != nil {
		return "", nil, err
	}
	providers, err := idp.New(context.Background(), oc.IdentityProviders)
	if err != nil {
		if c.OAuthConfigFile != "" {
			err = fmt.Errorf("--oauth-config %s: %w", c.OAuthConfigFile, err)
		}
		return "", nil, err
	}
	return adminPassword, &oauthSetup{config: oc, providers: providers}, nil
}

func (c *Config) prepareOAuthFiles() (adminPassword string, err error) {
	if err := os.MkdirAll(c.oauthDir(), 0o700); err != nil {
		return "", err
	}
	if _, err := os.Stat(c.sessionSecretsFile()); errors.Is(err, fs.ErrNotExist) {
		b := make([]byte, 64)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		if err := os.WriteFile(c.sessionSecretsFile(), b, 0o600); err != nil {
			return "", err
		}
	}
	if c.OAuthConfigFile != "" {
		return "", nil
	}
	path := HTPasswdFile(c.DataDir)
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	adminPassword = idp.GeneratePassword()
	if err := idp.WriteHTPasswd(path, AdminUser, adminPassword); err != nil {
		return "", err
	}
	return adminPassword, nil
}

// oauthConfig is the configuration file's, or the default: the data directory's htpasswd file for
// both the login page and challenges.
func (c *Config) oauthConfig() (*osinv1.OAuthConfig, error) {
	if c.OAuthConfigFile != "" {
		return idp.LoadConfig(c.OAuthConfigFile)
	}
	return &osinv1.OAuthConfig{IdentityProviders: []osinv1.IdentityProvider{{
		Name: "htpasswd", UseAsChallenger: true, UseAsLogin: true, MappingMethod: "claim",
		Provider: runtime.RawExtension{Object: &osinv1.HTPasswdPasswordIdentityProvider{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "HTPasswdPasswordIdentityProvider"},
			File:     HTPasswdFile(c.DataDir),
		}},
	}}}, nil
}

// OAuth runs the OAuth server on the node IP.
func (m *machine) OAuth(ctx context.Context, ready func()) error {
	oc, providers := m.oauth.config, m.oauth.providers
	rc, err := m.cfg.restConfig("oauth-server")
	if err != nil {
		return err
	}
	// Each login makes about nine API calls: at client-go's defaults that, not bcrypt, would cap logins.
	rc.QPS, rc.Burst = 500, 1000
	oauthAPI, err := oauthclientset.NewForConfig(rc)
	if err != nil {
		return err
	}
	users, err := userclientset.NewForConfig(rc)
	if err != nil {
		return err
	}
	secrets, err := os.ReadFile(m.cfg.sessionSecretsFile())
	if err != nil {
		return err
	}
	if len(secrets) < 64 {
		return fmt.Errorf("%s is too short: remove it and restart to create new session secrets", m.cfg.sessionSecretsFile())
	}
	cfg := oauth.Config{
		Issuer:          m.cfg.OAuthURL(),
		APIServerURL:    m.cfg.APIServerURL(),
		Providers:       providers,
		Mapper:          identitymapper.New(users.UserV1()),
		OAuth:           oauthAPI,
		Users:           users,
		SessionHashKey:  secrets[:32],
		SessionBlockKey: secrets[32:64],
	}
	if t := oc.TokenConfig; t.AccessTokenMaxAgeSeconds > 0 {
		cfg.AccessTokenMaxAge = time.Duration(t.AccessTokenMaxAgeSeconds) * time.Second
	}
	if t := oc.TokenConfig; t.AuthorizeTokenMaxAgeSeconds > 0 {
		cfg.AuthorizeTokenMaxAge = time.Duration(t.AuthorizeTokenMaxAgeSeconds) * time.Second
	}
	if s := oc.SessionConfig; s != nil && s.SessionMaxAgeSeconds > 0 {
		cfg.SessionMaxAge = time.Duration(s.SessionMaxAgeSeconds) * time.Second
	}
	if g := oc.GrantConfig.Method; g != "" {
		cfg.GrantMethod = oauthv1.GrantHandlerType(g)
	}
	srv, err := oauth.New(cfg)
	if err != nil {
		return err
	}
	clients := oauth.BuiltinClients(m.cfg.OAuthURL(), m.cfg.ConsoleURL())
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := oauth.EnsureClients(ctx, oauthAPI.OauthV1().OAuthClients(), clients); err != nil {
			klog.V(2).InfoS("Creating the built-in OAuth clients will retry", "err", err)
			return false, nil
		}
		return true, nil
	}); err != nil {
		return fmt.Errorf("create the built-in OAuth clients: %w", err)
	}
	if m.cfg.OAuthConfigFile == "" {
		if err := m.bindAdmin(ctx); err != nil {
			return err
		}
	}
	// kube-apiserver's authorization webhook is served here too: it needs the same caller check.
	kube, err := m.client("oauth-server")
	if err != nil {
		return err
	}
	rbac := informers.NewSharedInformerFactory(kube, 10*time.Minute)
	evaluator := authz.NewEvaluator(rbac.Rbac().V1())
	rbac.Start(ctx.Done())
	defer rbac.Shutdown()
	addr := net.JoinHostPort(m.cfg.NodeIP.String(), fmt.Sprint(OAuthPort))
	return srv.Run(ctx, oauth.ServeOptions{
		Address: addr, CertFile: m.certs.OAuthServing.CertFile, KeyFile: m.certs.OAuthServing.KeyFile,
		ClientCAFile:         m.certs.CA.CertFile,
		AuthorizationWebhook: authz.ProjectWebhook{Evaluator: evaluator},
	}, ready)
}

// bindAdmin makes the default htpasswd file's admin user a cluster administrator.
func (m *machine) bindAdmin(ctx context.Context) error {
	cs, err := m.client("admin")
	if err != nil {
		return err
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry-admin", Labels: map[string]string{"app.kubernetes.io/managed-by": "gantry"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: AdminUser}},
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
