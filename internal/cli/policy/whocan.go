package policy

import (
	"context"
	"fmt"
	"io"
	"strings"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	authorizationclient "github.com/openshift/client-go/authorization/clientset/versioned/typed/authorization/v1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// WhoCanOptions are the options of `gantry policy who-can`.
type WhoCanOptions struct {
	Verb         string
	Resource     schema.GroupResource
	ResourceName string
	// Namespace is the project asked about; AllNamespaces asks about the
	// whole cluster (only cluster-wide grants count then).
	Namespace     string
	AllNamespaces bool

	Client authorizationclient.AuthorizationV1Interface
	genericiooptions.IOStreams
}

func newWhoCanCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WhoCanOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "who-can VERB RESOURCE[.GROUP][/SUBRESOURCE] [NAME]",
		Short: "List who may perform an action on a resource",
		Long: `List the users and groups that may perform VERB on RESOURCE in the current
project (or, with --all-namespaces, in every project), from the role bindings.

Asking needs the right to create localresourceaccessreviews in the project
(project admins have it) or resourceaccessreviews (cluster readers have it).`,
		Example: `  # Who may delete pods in the current project?
  gantry policy who-can delete pods

  # Who may edit the route "web" in project shop?
  gantry policy who-can update routes web -n shop

  # Who may list nodes?
  gantry policy who-can list nodes --all-namespaces

  # Who may pull images from the image streams of the current project?
  gantry policy who-can get imagestreams/layers`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := flags.ToRESTConfig()
			if err != nil {
				return noCluster(err)
			}
			if o.Client, err = authorizationclient.NewForConfig(cfg); err != nil {
				return err
			}
			if o.Namespace, _, err = flags.ToRawKubeConfigLoader().Namespace(); err != nil {
				return err
			}
			o.Verb = args[0]
			if len(args) == 3 {
				o.ResourceName = args[2]
			}
			mapper, err := flags.ToRESTMapper()
			if err != nil {
				return err
			}
			o.Resource = resourceFor(mapper, args[1], o.ErrOut)
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Ask about every project: only cluster-wide grants count")
	return cmd
}

// resourceFor resolves RESOURCE[.GROUP][/SUBRESOURCE] ("pods", "dc",
// "routes.route.openshift.io", "is/layers") to a group and resource through
// discovery, as oc does: the subresource is not looked up but kept on the
// resolved resource ("imagestreams/layers" in image.openshift.io). An
// unknown resource is used as given, with a warning.
func resourceFor(mapper meta.RESTMapper, arg string, errOut io.Writer) schema.GroupResource {
	resource, sub, hasSub := strings.Cut(strings.ToLower(arg), "/")
	gr := lookupResource(mapper, resource, errOut)
	if hasSub {
		gr.Resource += "/" + sub
	}
	return gr
}

func lookupResource(mapper meta.RESTMapper, arg string, errOut io.Writer) schema.GroupResource {
	full, gr := schema.ParseResourceArg(arg)
	if full != nil {
		if gvr, err := mapper.ResourceFor(*full); err == nil {
			return gvr.GroupResource()
		}
	}
	gvr, err := mapper.ResourceFor(gr.WithVersion(""))
	if err != nil {
		if gr.Group == "" {
			fmt.Fprintf(errOut, "Warning: the server doesn't have a resource type '%s'\n", gr.Resource)
		} else {
			fmt.Fprintf(errOut, "Warning: the server doesn't have a resource type '%s' in group '%s'\n", gr.Resource, gr.Group)
		}
		return gr
	}
	return gvr.GroupResource()
}

// Run asks the review API and prints the answer as oc does.
func (o *WhoCanOptions) Run(ctx context.Context) error {
	action := authorizationv1.Action{Verb: o.Verb, Group: o.Resource.Group, Resource: o.Resource.Resource, ResourceName: o.ResourceName}
	var resp *authorizationv1.ResourceAccessReviewResponse
	var err error
	if o.AllNamespaces {
		resp, err = o.Client.ResourceAccessReviews().Create(ctx, &authorizationv1.ResourceAccessReview{Action: action}, metav1.CreateOptions{})
	} else {
		resp, err = o.Client.LocalResourceAccessReviews(o.Namespace).Create(ctx, &authorizationv1.LocalResourceAccessReview{Action: action}, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("ask who can %s %s: %w", o.Verb, o.Resource, err)
	}
	printWhoCan(o.Out, o.Verb, o.Resource, resp)
	return nil
}

func printWhoCan(w io.Writer, verb string, res schema.GroupResource, resp *authorizationv1.ResourceAccessReviewResponse) {
	ns := resp.Namespace
	if ns == "" {
		ns = "<all>"
	}
	fmt.Fprintf(w, "\nNamespace: %s\n", ns)
	fmt.Fprintf(w, "Verb:      %s\n", verb)
	fmt.Fprintf(w, "Resource:  %s\n", res.String())
	list := func(label string, names []string) {
		if len(names) == 0 {
			fmt.Fprintf(w, "\n%s none\n", label)
			return
		}
		fmt.Fprintf(w, "\n%s %s\n", label, strings.Join(names, "\n        "))
	}
	list("Users: ", resp.UsersSlice)
	list("Groups:", resp.GroupsSlice)
	if resp.EvaluationError != "" {
		fmt.Fprintf(w, "\nError during evaluation, results may not be complete: %s\n", resp.EvaluationError)
	}
}
