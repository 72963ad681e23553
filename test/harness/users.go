package harness

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/openshift/library-go/pkg/oauth/tokenrequest"
	"github.com/openshift/library-go/pkg/oauth/tokenrequest/challengehandlers"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/internal/oauth/idp"
	"github.com/gantry-dev/gantry/internal/server"
)

// AddUser sets a user's password in the cluster's default htpasswd file (the OAuth server rereads
// it). The user exists once it logs in.
func (c *Cluster) AddUser(name, password string) error {
	return idp.WriteHTPasswd(server.HTPasswdFile(c.DataDir), name, password)
}

// Login logs in as oc does (the challenging client, Basic challenge, code flow with PKCE) and returns
// the token.
func (c *Cluster) Login(name, password string) (string, error) {
	cfg := c.AnonymousConfig()
	h := challengehandlers.NewBasicChallengeHandler(cfg.Host, "", strings.NewReader(""), io.Discard, nil, name, password)
	tok, err := tokenrequest.RequestTokenWithChallengeHandlers(cfg, h)
	if err != nil {
		return "", fmt.Errorf("log in as %s: %w", name, err)
	}
	return tok, nil
}

// AnonymousConfig reaches kube-apiserver with the cluster's CA and no credentials.
func (c *Cluster) AnonymousConfig() *rest.Config {
	return &rest.Config{Host: c.Config.Host, TLSClientConfig: rest.TLSClientConfig{CAFile: c.Config.CAFile, CAData: c.Config.CAData}, QPS: 50, Burst: 100}
}

// TokenConfig reaches kube-apiserver with a bearer token.
func (c *Cluster) TokenConfig(token string) *rest.Config {
	cfg := c.AnonymousConfig()
	cfg.BearerToken = token
	return cfg
}

// NewUser adds a user with a random password, logs it in and returns its token.
func (c *Cluster) NewUser(ctx context.Context, name string) (string, error) {
	pass := idp.GeneratePassword()
	if err := c.AddUser(name, pass); err != nil {
		return "", err
	}
	return c.Login(name, pass)
}
