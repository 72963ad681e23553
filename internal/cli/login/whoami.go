package login

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// WhoAmIOptions are the options of `gantry whoami`.
type WhoAmIOptions struct {
	Flags                              *genericclioptions.ConfigFlags
	ShowToken, ShowContext, ShowServer bool
	genericiooptions.IOStreams
}

// NewCommandWhoAmI returns `gantry whoami`.
func NewCommandWhoAmI(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WhoAmIOptions{Flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Return information about the current session",
		Long: `Show information about the current session: by default the name of the user the server
knows the credentials as; with a flag, the token, the context or the server in use.`,
		Example: `  # Display the current user
  gantry whoami

  # Use the current token with another tool
  curl -H "Authorization: Bearer $(gantry whoami -t)" "$(gantry whoami --show-server)/apis/user.openshift.io/v1/users/~"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.ShowToken, "show-token", "t", false, "Print the token the current session uses (an error if it uses none)")
	cmd.Flags().BoolVarP(&o.ShowContext, "show-context", "c", false, "Print the name of the current context")
	cmd.Flags().BoolVar(&o.ShowServer, "show-server", false, "Print the URL of the current server")
	return cmd
}

// sessionConfig is the client configuration of the current session, or an error saying there is
// none (rather than client-go's fallback to http://localhost:8080).
func sessionConfig(flags *genericclioptions.ConfigFlags) (*rest.Config, error) {
	loader := flags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read the kubeconfig: %w", err)
	}
	if raw.CurrentContext == "" && ptr.Deref(flags.Context, "") == "" && ptr.Deref(flags.APIServer, "") == "" {
		return nil, fmt.Errorf("no session: the kubeconfig (%s) has no current context\nTry: gantry login https://HOST:6443 -u USER", loader.ConfigAccess().GetDefaultFilename())
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no session (%v)\nTry: gantry login", err)
	}
	return cfg, nil
}

// Run prints what was asked.
func (o *WhoAmIOptions) Run(ctx context.Context) error {
	loader := o.Flags.ToRawKubeConfigLoader()
	if o.ShowContext {
		raw, err := loader.RawConfig()
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("read the kubeconfig: %w", err)
		}
		current := raw.CurrentContext
		if c := o.Flags.Context; c != nil && *c != "" {
			current = *c
		}
		if current == "" {
			return errors.New("no context has been set\nTry: gantry login")
		}
		fmt.Fprintln(o.Out, current)
		return nil
	}
	cfg, err := sessionConfig(o.Flags)
	if err != nil {
		return err
	}
	switch {
	case o.ShowToken:
		if cfg.BearerToken == "" {
			return errors.New("no token is in use for this session: the current kubeconfig user authenticates another way (a client certificate?)\nTry: gantry login -u USER, to get a token")
		}
		fmt.Fprintln(o.Out, cfg.BearerToken)
	case o.ShowServer:
		fmt.Fprintln(o.Out, cfg.Host)
	default:
		me, err := whoAmI(ctx, cfg)
		if err != nil {
			if apierrors.IsUnauthorized(err) {
				return fmt.Errorf("%s does not accept the credentials of the current session (401 Unauthorized): the token may have expired or been revoked\nTry: gantry login", cfg.Host)
			}
			return fmt.Errorf("ask %s who you are: %w", cfg.Host, err)
		}
		fmt.Fprintln(o.Out, me.Name)
	}
	return nil
}
