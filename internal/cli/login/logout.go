package login

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gantry-dev/gantry/internal/oauth"
	oauthclient "github.com/openshift/client-go/oauth/clientset/versioned/typed/oauth/v1"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// LogoutOptions are the options of `gantry logout`.
type LogoutOptions struct {
	Flags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewCommandLogout returns `gantry logout`.
func NewCommandLogout(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &LogoutOptions{Flags: flags, IOStreams: streams}
	return &cobra.Command{
		Use:   "logout",
		Short: "End the current server session",
		Long: `End the current session: the token of the current kubeconfig user is revoked on the server
and removed from the kubeconfig. The other entries of the kubeconfig stay.

Credentials that are not tokens (client certificates) cannot be revoked by logout: remove them from
the kubeconfig yourself if you no longer want them (gantry config delete-user NAME).`,
		Example: `  # Log out
  gantry logout`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context())
		},
	}
}

// Run revokes the current token and removes it from the kubeconfig.
func (o *LogoutOptions) Run(ctx context.Context) error {
	cfg, err := sessionConfig(o.Flags)
	if err != nil {
		return err
	}
	loader := o.Flags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return fmt.Errorf("read the kubeconfig: %w", err)
	}
	token := cfg.BearerToken
	if token == "" {
		return fmt.Errorf("you must have a token in order to log out: the current kubeconfig user (context %q) has none, it authenticates another way (a client certificate?)\nTry: gantry whoami, to see who you are", raw.CurrentContext)
	}

	name := ""
	me, err := whoAmI(ctx, cfg)
	switch {
	case err == nil:
		name = me.Name
	case apierrors.IsUnauthorized(err):
		// Expired or already revoked: only the kubeconfig still holds it.
		if c := raw.Contexts[raw.CurrentContext]; c != nil {
			name, _, _ = strings.Cut(c.AuthInfo, "/")
		}
	default:
		return fmt.Errorf("reach %s to revoke the token: %w\nThe token stays in the kubeconfig; try again once the server answers", cfg.Host, err)
	}

	if err == nil {
		if !strings.HasPrefix(token, oauth.TokenPrefix) {
			fmt.Fprintf(o.ErrOut, "WARNING: the token is not one Gantry's OAuth server issued: it is removed from the kubeconfig but cannot be revoked on the server.\n")
		} else {
			client, cerr := oauthclient.NewForConfig(cfg)
			if cerr != nil {
				return cerr
			}
			if derr := client.UserOAuthAccessTokens().Delete(ctx, oauth.ObjectName(token), metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
				return fmt.Errorf("revoke the token on %s: %w\nThe token stays in the kubeconfig", cfg.Host, derr)
			}
		}
	}

	var users []string
	for _, n := range sortedKeys(raw.AuthInfos) {
		if a := raw.AuthInfos[n]; a.Token == token {
			a.Token = ""
			users = append(users, n)
		}
	}
	if len(users) == 0 {
		return errors.New("the token was revoked on the server, but it was not in the kubeconfig (was it given with --token?): nothing to remove there")
	}
	if err := writeConfig(loader.ConfigAccess(), &raw, users...); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Logged %q out on %q\n", name, cfg.Host)
	return nil
}
