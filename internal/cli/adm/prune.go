package adm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned/typed/apps/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned/typed/build/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/internal/authz"
	pruneimages "github.com/gantry-dev/gantry/internal/prune/images"
)

// PruneImagesOptions are the options of `gantry adm prune images`.
type PruneImagesOptions struct {
	Confirm            bool
	KeepTagRevisions   int
	KeepYoungerThan    time.Duration
	PruneOverSizeLimit bool
	AllImages          bool
	RegistryURL        string
	ForceInsecure      bool
	CAFile             string
	IgnoreInvalidRefs  bool
	// Namespace (-n) limits pruning to that project's tag histories.
	Namespace string

	Config *rest.Config
	Kube   kubernetes.Interface
	Images imageclient.ImageV1Interface
	Apps   appsclient.AppsV1Interface
	Builds buildclient.BuildV1Interface
	// Now is the time ages are measured from (time.Now when zero).
	Now func() time.Time
	genericiooptions.IOStreams
}

func newPruneCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove older versions of resources from the server",
		Long:  "Remove what is no longer used: images (and their content in the integrated registry).",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	prune.AddCommand(newPruneImagesCommand(flags, streams))
	return prune
}

func newPruneImagesCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PruneImagesOptions{KeepTagRevisions: 3, KeepYoungerThan: 60 * time.Minute, AllImages: true, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Remove unreferenced images",
		Long: `Remove image stream tag revisions, images, and their content in the integrated registry,
by age and by use.

An image is kept while any of these names it: one of the newest --keep-tag-revisions revisions
of an image stream tag, a spec tag, a pod (its containers, init containers and container
statuses), a replication controller, replica set, deployment, stateful set, daemon set, job,
cron job, deployment config, build config or build (by digest, or by a tag: then the image the
tag points to now). Images, tag revisions and image streams younger than --keep-younger-than are
kept too.

Everything else is removed in this order, so that a failure midway never loses an image still in
use and running the command again finishes the work: the revisions are removed from the image
streams' tag histories, the manifests from the registry repositories, then the layers and image
configurations no remaining image uses (repository links first, then the data, so storage
shrinks at once), and last the Image objects.

With -n PROJECT only that project's image streams lose tag revisions (what its own objects do not
use); no image, manifest or blob is deleted, since other projects may use them.

Without --confirm this is a dry run: it prints what would be deleted and changes nothing.
Pruning needs the system:image-pruner cluster role (or cluster-admin) and a token for the
registry: the kubeconfig's, or, when the kubeconfig's user has a client certificate instead (the
local admin), a 10-minute token of the service account gantry/image-pruner.`,
		Example: `  # See what would be deleted if only images more than an hour old, and superseded by three
  # newer revisions of their tag, were pruned
  gantry adm prune images --keep-tag-revisions=3 --keep-younger-than=60m

  # Prune them
  gantry adm prune images --keep-tag-revisions=3 --keep-younger-than=60m --confirm

  # Prune the revisions exceeding the projects' openshift.io/Image size limits
  gantry adm prune images --prune-over-size-limit --confirm

  # Reach the registry at another address, over plain HTTP
  gantry adm prune images --registry-url=http://registry.example.com:5000 --confirm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(cmd, flags); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Confirm, "confirm", o.Confirm, "Delete for real. Without it, print what would be deleted and change nothing.")
	f.BoolVar(&o.AllImages, "all", o.AllImages, "Include images that were not pushed to the integrated registry (imported ones): only their API objects are deleted.")
	f.DurationVar(&o.KeepYoungerThan, "keep-younger-than", o.KeepYoungerThan, "Keep images, tag revisions and image streams younger than this.")
	f.IntVar(&o.KeepTagRevisions, "keep-tag-revisions", o.KeepTagRevisions, "Keep this many of the newest revisions of each image stream tag.")
	f.BoolVar(&o.PruneOverSizeLimit, "prune-over-size-limit", o.PruneOverSizeLimit, "Prune the tag revisions whose image exceeds the smallest openshift.io/Image storage limit of its project's LimitRanges, instead of pruning by revision and age. Cannot be combined with --keep-tag-revisions or --keep-younger-than.")
	f.StringVar(&o.RegistryURL, "registry-url", o.RegistryURL, "The registry's address, [http[s]://]host[:port] (default: the host of the image streams' status.dockerImageRepository, the integrated registry).")
	f.BoolVar(&o.ForceInsecure, "force-insecure", o.ForceInsecure, "Allow plain HTTP, or HTTPS with a certificate that cannot be verified, to the registry. Prefer --certificate-authority.")
	f.StringVar(&o.CAFile, "certificate-authority", o.CAFile, "A file with the certificate authority of the registry's HTTPS certificate.")
	f.BoolVar(&o.IgnoreInvalidRefs, "ignore-invalid-refs", o.IgnoreInvalidRefs, "Prune even if some objects have image references that cannot be parsed, as if they named no image (such an image may be deleted).")
	return cmd
}

// Complete builds the clients from the kubeconfig flags.
func (o *PruneImagesOptions) Complete(cmd *cobra.Command, flags *genericclioptions.ConfigFlags) error {
	if cmd.Flags().Changed("prune-over-size-limit") && o.PruneOverSizeLimit &&
		(cmd.Flags().Changed("keep-tag-revisions") || cmd.Flags().Changed("keep-younger-than")) {
		return errors.New("--prune-over-size-limit cannot be combined with --keep-tag-revisions or --keep-younger-than")
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to (%v)\nTry: sudo gantry start, or set --kubeconfig", err)
	}
	o.Config = cfg
	if f := cmd.Flags().Lookup("namespace"); f != nil && f.Changed {
		if o.Namespace, _, err = flags.ToRawKubeConfigLoader().Namespace(); err != nil {
			return err
		}
	}
	if o.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if o.Images, err = imageclient.NewForConfig(cfg); err != nil {
		return err
	}
	if o.Apps, err = appsclient.NewForConfig(cfg); err != nil {
		return err
	}
	o.Builds, err = buildclient.NewForConfig(cfg)
	return err
}

// Validate checks the flags.
func (o *PruneImagesOptions) Validate() error {
	if o.KeepTagRevisions < 0 {
		return errors.New("--keep-tag-revisions must be 0 or more")
	}
	if o.KeepYoungerThan < 0 {
		return errors.New("--keep-younger-than must be 0 or more")
	}
	if o.RegistryURL != "" {
		if err := pruneimages.ValidateRegistryURL(o.RegistryURL); err != nil {
			return fmt.Errorf("--registry-url: %w", err)
		}
	}
	if o.ForceInsecure && o.CAFile != "" {
		return errors.New("--certificate-authority cannot be combined with --force-insecure")
	}
	if o.CAFile != "" && strings.HasPrefix(o.RegistryURL, "http://") {
		return errors.New("--certificate-authority is for HTTPS, and --registry-url says http://")
	}
	return nil
}

// Run lists the cluster, plans, and prunes (or, without --confirm, prints the plan).
func (o *PruneImagesOptions) Run(ctx context.Context) error {
	in, notes, err := o.list(ctx)
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(o.ErrOut, n)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	host := pruneimages.RegistryHost(in.Streams, in.Images)
	plan, err := pruneimages.NewPlan(*in, pruneimages.Options{
		KeepTagRevisions: o.KeepTagRevisions, KeepYoungerThan: o.KeepYoungerThan, PruneOverSizeLimit: o.PruneOverSizeLimit,
		AllImages: o.AllImages, IgnoreInvalidRefs: o.IgnoreInvalidRefs, RegistryHost: host, Now: now(), Namespace: o.Namespace,
	})
	if err != nil {
		return fmt.Errorf("plan the pruning (nothing was changed): %w", err)
	}

	var api pruneimages.API
	var reg pruneimages.Registry
	if o.Namespace != "" {
		fmt.Fprintf(o.ErrOut, "Only the tag histories of project %s are pruned: no image is deleted, other projects may use them\n", o.Namespace)
	}
	if !o.Confirm {
		fmt.Fprintln(o.ErrOut, "Dry run enabled - no modifications will be made. Add --confirm to remove images")
	} else {
		if len(plan.Registry.Manifests)+len(plan.Registry.LayerLinks)+len(plan.Registry.Blobs) > 0 {
			addr := o.RegistryURL
			if addr == "" {
				addr = host
			}
			if addr == "" {
				return pruneimages.ErrNoRegistryHost
			}
			client, err := o.registry(ctx, addr)
			if err != nil {
				return err
			}
			reg = client
		}
		api = imageAPI{o.Images}
	}
	res := pruneimages.Run(ctx, plan, api, reg, o.Out, o.ErrOut)
	fmt.Fprintln(o.Out)
	fmt.Fprintln(o.Out, res.Summary(!o.Confirm))
	if n := len(res.Failures); n > 0 {
		return fmt.Errorf("%d deletions failed; what they protect was left in place\nTry: fix the cause above and run the command again", n)
	}
	return nil
}

// registry connects to the registry and checks, before anything changes, that it lets the token
// prune.
func (o *PruneImagesOptions) registry(ctx context.Context, addr string) (*pruneimages.RegistryClient, error) {
	token, err := o.token(ctx)
	if err != nil {
		return nil, err
	}
	c, err := pruneimages.NewRegistryClient(ctx, pruneimages.RegistryConfig{
		Address: addr, Token: token, CAFile: o.CAFile, Insecure: o.ForceInsecure || strings.HasPrefix(addr, "http://") || o.Config.Insecure,
	})
	if err != nil {
		return nil, err
	}
	if err := c.CheckAccess(ctx); err != nil {
		return nil, fmt.Errorf("%w (nothing was changed)\nTry: a user with the %s cluster role: gantry adm policy add-cluster-role-to-user %s USER", err, authz.ImagePruner, authz.ImagePruner)
	}
	return c, nil
}

// token is the kubeconfig's bearer token or, for a user authenticating with a client
// certificate, a short-lived token of the image pruner service account.
func (o *PruneImagesOptions) token(ctx context.Context) (string, error) {
	if o.Config.BearerToken != "" {
		return o.Config.BearerToken, nil
	}
	if f := o.Config.BearerTokenFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read the kubeconfig's token file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	expiry := int64(600)
	tr, err := o.Kube.CoreV1().ServiceAccounts(authz.ImagePrunerNamespace).CreateToken(ctx, authz.ImagePrunerServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("the registry needs a token and the kubeconfig's user has none (a client certificate?); "+
			"a token of service account %s/%s cannot be made either: %w\nTry: gantry login -u USER, as a user with the %s cluster role",
			authz.ImagePrunerNamespace, authz.ImagePrunerServiceAccount, err, authz.ImagePruner)
	}
	fmt.Fprintf(o.ErrOut, "The kubeconfig's user has no token: using a 10-minute token of service account %s/%s for the registry\n",
		authz.ImagePrunerNamespace, authz.ImagePrunerServiceAccount)
	return tr.Status.Token, nil
}

// list reads everything that may name an image, in every project. Kinds the cluster does not
// serve are skipped with a note; any other error stops before anything changes.
func (o *PruneImagesOptions) list(ctx context.Context) (*pruneimages.Inputs, []string, error) {
	in := &pruneimages.Inputs{}
	var notes []string
	ns := o.Namespace // "" lists every project; images are listed all the same
	all := metav1.ListOptions{}
	step := func(what string, err error) error {
		switch {
		case err == nil:
			return nil
		case apierrors.IsNotFound(err):
			notes = append(notes, fmt.Sprintf("Note: this cluster serves no %s; none are considered", what))
			return nil
		case apierrors.IsForbidden(err):
			where := "in all projects"
			if ns != "" {
				where = "in project " + ns
			}
			return fmt.Errorf("list %s %s (nothing was changed): %w\nTry: a user with the %s cluster role", what, where, err, authz.ImagePruner)
		}
		return fmt.Errorf("list %s (nothing was changed): %w", what, err)
	}
	core, apps, batch := o.Kube.CoreV1(), o.Kube.AppsV1(), o.Kube.BatchV1()
	steps := []struct {
		what string
		list func() error
	}{
		{"images", func() error {
			l, err := o.Images.Images().List(ctx, all)
			if err == nil {
				in.Images = l.Items
			}
			return err
		}},
		{"image streams", func() error {
			l, err := o.Images.ImageStreams(ns).List(ctx, all)
			if err == nil {
				in.Streams = l.Items
			}
			return err
		}},
		{"pods", func() error {
			l, err := core.Pods(ns).List(ctx, all)
			if err == nil {
				in.Pods = l.Items
			}
			return err
		}},
		{"replication controllers", func() error {
			l, err := core.ReplicationControllers(ns).List(ctx, all)
			if err == nil {
				in.RCs = l.Items
			}
			return err
		}},
		{"replica sets", func() error {
			l, err := apps.ReplicaSets(ns).List(ctx, all)
			if err == nil {
				in.ReplicaSets = l.Items
			}
			return err
		}},
		{"deployments", func() error {
			l, err := apps.Deployments(ns).List(ctx, all)
			if err == nil {
				in.Deployments = l.Items
			}
			return err
		}},
		{"stateful sets", func() error {
			l, err := apps.StatefulSets(ns).List(ctx, all)
			if err == nil {
				in.StatefulSets = l.Items
			}
			return err
		}},
		{"daemon sets", func() error {
			l, err := apps.DaemonSets(ns).List(ctx, all)
			if err == nil {
				in.DaemonSets = l.Items
			}
			return err
		}},
		{"jobs", func() error {
			l, err := batch.Jobs(ns).List(ctx, all)
			if err == nil {
				in.Jobs = l.Items
			}
			return err
		}},
		{"cron jobs", func() error {
			l, err := batch.CronJobs(ns).List(ctx, all)
			if err == nil {
				in.CronJobs = l.Items
			}
			return err
		}},
		{"deployment configs", func() error {
			l, err := o.Apps.DeploymentConfigs(ns).List(ctx, all)
			if err == nil {
				in.DeploymentConfigs = l.Items
			}
			return err
		}},
		{"build configs", func() error {
			l, err := o.Builds.BuildConfigs(ns).List(ctx, all)
			if err == nil {
				in.BuildConfigs = l.Items
			}
			return err
		}},
		{"builds", func() error {
			l, err := o.Builds.Builds(ns).List(ctx, all)
			if err == nil {
				in.Builds = l.Items
			}
			return err
		}},
	}
	if o.PruneOverSizeLimit {
		steps = append(steps, struct {
			what string
			list func() error
		}{"limit ranges", func() error {
			l, err := core.LimitRanges(ns).List(ctx, all)
			if err == nil {
				in.LimitRanges = l.Items
			}
			return err
		}})
	}
	for _, s := range steps {
		if err := step(s.what, s.list()); err != nil {
			return nil, nil, err
		}
	}
	return in, notes, nil
}

// imageAPI is pruneimages.API over the typed image client.
type imageAPI struct{ c imageclient.ImageV1Interface }

var _ pruneimages.API = imageAPI{}

func (a imageAPI) GetStream(ctx context.Context, ns, name string) (*imagev1.ImageStream, error) {
	return a.c.ImageStreams(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a imageAPI) UpdateStreamStatus(ctx context.Context, s *imagev1.ImageStream) error {
	_, err := a.c.ImageStreams(s.Namespace).UpdateStatus(ctx, s, metav1.UpdateOptions{})
	return err
}

func (a imageAPI) DeleteImage(ctx context.Context, name string) error {
	return a.c.Images().Delete(ctx, name, metav1.DeleteOptions{})
}
