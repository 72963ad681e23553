// Package policy implements `gantry policy` (project roles and who-can) and
// the cluster-role verbs `gantry adm policy` reuses, with oc's arguments and
// messages: roles are bound with RoleBindings (ClusterRoleBindings for the
// cluster verbs), users may be service accounts as system:serviceaccount:NS:NAME
// or -z NAME, and Kubernetes refuses any binding of permissions the caller
// does not hold.
package policy

import (
	"fmt"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCommand returns `gantry policy`. setup runs before any subcommand (the
// root passes one that picks the local admin kubeconfig when none is set).
func NewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, setup func()) *cobra.Command {
	return NewGroupCommand("policy", "Manage who may do what in a project",
		`Grant and revoke project roles, and see who may act on a resource.

Roles (view, edit, admin, or any cluster role) are granted to users, groups and
service accounts with role bindings in the current project. You can only grant
permissions you hold yourself.`,
		flags, setup,
		newRoleCommand(flags, streams, roleVerb{use: "add-role-to-user", add: true, users: true}),
		newRoleCommand(flags, streams, roleVerb{use: "remove-role-from-user", users: true}),
		newRoleCommand(flags, streams, roleVerb{use: "add-role-to-group", add: true}),
		newRoleCommand(flags, streams, roleVerb{use: "remove-role-from-group"}),
		newWhoCanCommand(flags, streams),
	)
}

// NewGroupCommand returns a command that only holds subcommands (alone, it
// prints its help), such as `gantry policy` and `gantry adm`. With flags, the
// kubeconfig flags reach every subcommand; setup, if any, runs before any of
// them (a nested group passes nil for both and inherits its parent's).
func NewGroupCommand(use, short, long string, flags *genericclioptions.ConfigFlags, setup func(), subcommands ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	if setup != nil {
		cmd.PersistentPreRun = func(*cobra.Command, []string) { setup() }
	}
	if flags != nil {
		flags.AddFlags(cmd.PersistentFlags())
	}
	cmd.AddCommand(subcommands...)
	return cmd
}

// NewClusterRoleCommands returns add-cluster-role-to-user,
// remove-cluster-role-from-user, add-cluster-role-to-group and
// remove-cluster-role-from-group, for `gantry adm policy`.
func NewClusterRoleCommands(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) []*cobra.Command {
	return []*cobra.Command{
		newRoleCommand(flags, streams, roleVerb{use: "add-cluster-role-to-user", cluster: true, add: true, users: true}),
		newRoleCommand(flags, streams, roleVerb{use: "remove-cluster-role-from-user", cluster: true, users: true}),
		newRoleCommand(flags, streams, roleVerb{use: "add-cluster-role-to-group", cluster: true, add: true}),
		newRoleCommand(flags, streams, roleVerb{use: "remove-cluster-role-from-group", cluster: true}),
	}
}

// roleVerb is one of the eight role commands.
type roleVerb struct {
	use                 string
	cluster, add, users bool
}

func (v roleVerb) texts() (use, short, long, example string) {
	who, whom := "GROUP [GROUP...]", "groups"
	if v.users {
		who, whom = "(USER | -z SERVICEACCOUNT) [USER...]", "users or service accounts"
	}
	where, binding := "in the current project", "a role binding of the project"
	if v.cluster {
		where, binding = "in every project and cluster-wide", "a cluster role binding"
	}
	use = v.use + " ROLE " + who
	if v.add {
		short = "Add a role to " + whom + " " + where
		long = "Grant ROLE to " + whom + " " + where + ".\n\nThis creates " + binding + " of the role naming them (or, with\n" +
			"--rolebinding-name, adds them to that binding). Users and groups need not exist yet.\n" +
			"Kubernetes refuses to grant permissions you do not hold yourself."
	} else {
		short = "Remove a role from " + whom + " " + where
		long = "Take " + whom + " out of every binding of ROLE " + where + " (or only out of\n" +
			"--rolebinding-name). A binding left empty is deleted."
		if v.cluster {
			long += "\n\nThe default bindings that gantry start restores (self-provisioners, basic-users,\n" +
				"...) are never deleted: when their default subjects are removed, they are annotated\n" +
				rbacv1.AutoUpdateAnnotationKey + "=false in the same change so that it\n" +
				"lasts. Annotate them =true and restart gantry to have their default subjects back."
		}
	}
	cmdName := "gantry policy " + v.use
	if v.cluster {
		cmdName = "gantry adm policy " + v.use
	}
	switch {
	case v.cluster && v.users:
		example = "  # Let alice read everything in the cluster\n  " + cmdName + " cluster-reader alice"
	case v.cluster:
		example = "  # Let the ops group administer the cluster\n  " + cmdName + " cluster-admin ops"
	case v.users:
		example = "  # Let alice view the current project\n  " + cmdName + " view alice\n\n" +
			"  # Let the project's robot service account edit it\n  " + cmdName + " edit -z robot"
	default:
		example = "  # Let the developers group edit project web\n  " + cmdName + " edit developers -n web"
	}
	return use, short, long, example
}

func newRoleCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, v roleVerb) *cobra.Command {
	o := &RoleOptions{Cluster: v.cluster, IOStreams: streams}
	use, short, long, example := v.texts()
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || (!v.users && len(args) < 2) {
				return fmt.Errorf("name the role and who gets it\nUsage: %s", cmd.UseLine())
			}
			o.RoleName = args[0]
			if v.users {
				o.Users = args[1:]
			} else {
				o.Groups = args[1:]
			}
			if err := o.complete(flags); err != nil {
				return err
			}
			if v.add {
				return o.AddRole(cmd.Context())
			}
			return o.RemoveRole(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.BindingName, "rolebinding-name", "", "Name of the binding to change (or create); by default a binding named after the role")
	if !v.cluster {
		cmd.Flags().StringVar(&o.RoleNamespace, "role-namespace", "", "Bind the Role of this project rather than the cluster role of that name (must be the current project)")
	}
	if v.users {
		cmd.Flags().StringSliceVarP(&o.ServiceAccounts, "serviceaccount", "z", nil, "Service account of the current project to use as a user")
	}
	return cmd
}
