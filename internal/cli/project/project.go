// Package project implements the project verbs: `gantry new-project`,
// `gantry project` and `gantry projects`, which behave as `oc`'s do: a
// project is requested through projectrequests, and switching project
// selects a kubeconfig context named namespace/server/user.
package project

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"

	projectv1 "github.com/openshift/api/project/v1"
	projectclient "github.com/openshift/client-go/project/clientset/versioned"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	displayNameAnnotation = "openshift.io/display-name"
	descriptionAnnotation = "openshift.io/description"
)

// session is the kubeconfig and clients of one invocation.
type session struct {
	flags   *genericclioptions.ConfigFlags
	raw     clientcmdapi.Config
	client  projectclient.Interface
	server  string
	current string // namespace of the current context
}

func newSession(flags *genericclioptions.ConfigFlags) (*session, error) {
	loader := flags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	rc, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to talk to (%v)\nTry: sudo gantry start, or set --kubeconfig", err)
	}
	client, err := projectclient.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, err
	}
	return &session{flags: flags, raw: raw, client: client, server: rc.Host, current: ns}, nil
}

// use makes project the namespace of a context for the current cluster and
// user, named as oc names it, and selects it.
func (s *session) use(project string) error {
	cfg := s.raw.DeepCopy()
	cur := cfg.Contexts[cfg.CurrentContext]
	if cur == nil {
		return errors.New("the kubeconfig has no current context\nTry: gantry kubectl config use-context NAME")
	}
	name := ContextName(project, s.server, cur.AuthInfo)
	ctx := cur.DeepCopy()
	ctx.Namespace = project
	cfg.Contexts[name] = ctx
	cfg.CurrentContext = name
	return clientcmd.ModifyConfig(s.flags.ToRawKubeConfigLoader().ConfigAccess(), *cfg, true)
}

// ClusterNickname is oc's name for the kubeconfig cluster of a server URL:
// host:port with the dots of the host turned into dashes (10-127-0-1:6443),
// the port defaulted from the scheme when the URL has none.
func ClusterNickname(server string) string {
	host := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		host = u.Host
		if u.Port() == "" {
			port := "443"
			if u.Scheme == "http" {
				port = "80"
			}
			host = net.JoinHostPort(u.Hostname(), port)
		}
	}
	return strings.ReplaceAll(host, ".", "-")
}

// ContextName is oc's name for a kubeconfig context: project/cluster/user,
// with the cluster as ClusterNickname names it. user may be a kubeconfig
// user nickname ("alice/10-127-0-1:6443", as gantry login and oc login name
// them): only the part before the first "/" is used.
func ContextName(project, server, user string) string {
	user, _, _ = strings.Cut(user, "/")
	return project + "/" + ClusterNickname(server) + "/" + user
}

// NewProjectOptions are the options of `new-project`.
type NewProjectOptions struct {
	Flags       *genericclioptions.ConfigFlags
	Name        string
	DisplayName string
	Description string
	SkipConfig  bool
	genericiooptions.IOStreams
}

// NewCommandNewProject returns `gantry new-project`.
func NewCommandNewProject(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &NewProjectOptions{Flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "new-project NAME [--display-name=DISPLAYNAME] [--description=DESCRIPTION]",
		Short: "Request a new project",
		Long: `Create a new project for yourself and switch to it.

You become the project's administrator. If you may not create projects, the
message your administrator configured tells you how to get one.`,
		Example: `  # Create a project and switch to it
  gantry new-project web-team-dev --display-name="Web Team Development" --description="Development project for the web team."`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.DisplayName, "display-name", "", "Project display name")
	cmd.Flags().StringVar(&o.Description, "description", "", "Project description")
	cmd.Flags().BoolVar(&o.SkipConfig, "skip-config-write", false, "Do not switch the kubeconfig to the new project")
	return cmd
}

// Run requests the project and switches to it.
func (o *NewProjectOptions) Run(ctx context.Context) error {
	s, err := newSession(o.Flags)
	if err != nil {
		return err
	}
	req := &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: o.Name}, DisplayName: o.DisplayName, Description: o.Description}
	if _, err := s.client.ProjectV1().ProjectRequests().Create(ctx, req, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("project %q already exists\nTry: gantry project %s, or choose another name", o.Name, o.Name)
		}
		if apierrors.IsForbidden(err) {
			// The administrator's message says how to get a project.
			if lerr := s.client.ProjectV1().RESTClient().Get().Resource("projectrequests").Do(ctx).Error(); lerr != nil {
				var status apierrors.APIStatus
				if errors.As(lerr, &status) && apierrors.IsForbidden(lerr) {
					return fmt.Errorf("you may not create project %q: %s", o.Name, status.Status().Message)
				}
			}
		}
		return err
	}
	if o.SkipConfig {
		fmt.Fprintf(o.Out, "Created project %q on server %q.\n", o.Name, s.server)
		return nil
	}
	if err := s.use(o.Name); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Now using project %q on server %q.\n", o.Name, s.server)
	return nil
}

// NewCommandProject returns `gantry project [NAME]`.
func NewCommandProject(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var short bool
	cmd := &cobra.Command{
		Use:   "project [NAME]",
		Short: "Switch to another project, or show the current one",
		Example: `  # Show the current project
  gantry project

  # Switch to the project "myapp"
  gantry project myapp`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(flags)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				if short {
					fmt.Fprintln(streams.Out, s.current)
					return nil
				}
				fmt.Fprintf(streams.Out, "Using project %q on server %q.\n", s.current, s.server)
				return nil
			}
			name := args[0]
			if _, err := s.client.ProjectV1().Projects().Get(cmd.Context(), name, metav1.GetOptions{}); err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
					return fmt.Errorf("you are not a member of project %q (or it does not exist)\nTry: gantry projects, to see the projects you can use", name)
				}
				return err
			}
			if err := s.use(name); err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Now using project %q on server %q.\n", name, s.server)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&short, "short", "q", false, "Print only the project name")
	return cmd
}

// NewCommandProjects returns `gantry projects`.
func NewCommandProjects(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var short bool
	cmd := &cobra.Command{
		Use:   "projects",
		Short: "List the projects you can use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(flags)
			if err != nil {
				return err
			}
			list, err := s.client.ProjectV1().Projects().List(cmd.Context(), metav1.ListOptions{})
			if err != nil {
				return err
			}
			printProjects(streams.Out, list.Items, s.current, s.server, short)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&short, "short", "q", false, "Print only project names")
	return cmd
}

func printProjects(w io.Writer, projects []projectv1.Project, current, server string, short bool) {
	sort.Slice(projects, func(i, j int) bool { return projects[i].Name < projects[j].Name })
	if short {
		for _, p := range projects {
			fmt.Fprintln(w, p.Name)
		}
		return
	}
	if len(projects) == 0 {
		fmt.Fprintln(w, "You are not a member of any projects. You can request a project to be created with the 'new-project' command.")
		return
	}
	fmt.Fprint(w, "You have access to the following projects and can switch between them with 'gantry project <projectname>':\n\n")
	for _, p := range projects {
		mark := "   "
		if p.Name == current {
			mark = "  *"
		}
		line := p.Name
		if d := p.Annotations[displayNameAnnotation]; d != "" && d != p.Name {
			line += " - " + d
		}
		fmt.Fprintf(w, "%s %s\n", mark, line)
	}
	fmt.Fprintf(w, "\nUsing project %q on server %q.\n", current, server)
}
