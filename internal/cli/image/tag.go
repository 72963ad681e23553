package image

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imagev1client "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	"github.com/openshift/library-go/pkg/image/imageutil"
	"github.com/openshift/library-go/pkg/image/reference"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Source kinds of a spec tag's from.
const (
	kindImageStreamTag   = "ImageStreamTag"
	kindImageStreamImage = "ImageStreamImage"
	kindDockerImage      = "DockerImage"
)

// Reference policies, as --reference-policy names them.
const (
	SourceReferencePolicy = "source"
	LocalReferencePolicy  = "local"
)

// sourceKinds maps the values of --source (any case) to kinds.
var sourceKinds = map[string]string{
	"imagestreamtag":   kindImageStreamTag,
	"istag":            kindImageStreamTag,
	"imagestreamimage": kindImageStreamImage,
	"isimage":          kindImageStreamImage,
	"docker":           kindDockerImage,
	"dockerimage":      kindDockerImage,
}

const tagLong = `Tag existing images into image streams.

The tag command takes an existing tag or image of an image stream, or the pull spec of
an image in another registry, and makes it the image of a tag in one or more image
streams (created when they do not exist). It is like 'docker tag', for image streams.

SOURCE is stream:tag, stream@sha256:..., project/stream:tag, or a pull spec such as
docker.io/library/nginx:1.25 (a SOURCE naming a registry is taken as one; otherwise say
--source=docker). A tag taken from another tag gets the image that tag points at now;
with --alias it follows the tag instead (within one image stream).

Pass --insecure if the external registry has no valid HTTPS certificate or serves plain
HTTP, and --scheduled to have the server check the tag for new images regularly and import
them (external images only). With --reference the tag only points at its source and is
never imported. -d deletes the tags named (their spec and their history).`

const tagExample = `  # Tag the current image of ruby:2.0 of project openshift as ruby:tip of project yourproject
  gantry tag openshift/ruby:2.0 yourproject/ruby:tip

  # Tag a specific image
  gantry tag ruby@sha256:6b646fa6bf5e5e4c7fa41056c27910e679c03ebe7f93e361e6515a9da7e258cc ruby:tip

  # Make prod follow v1 of the same stream
  gantry tag --alias echo:v1 echo:prod

  # Tag an image of another registry, and check it for updates every 15 minutes
  gantry tag --source=docker docker.io/library/nginx:1.25 nginx:1.25 --scheduled

  # Tag an image of another registry and pull it through the integrated registry
  gantry tag docker.io/library/nginx:1.25 nginx:1.25 --reference-policy=local

  # Remove tags
  gantry tag -d ruby:tip nginx:1.25`

// TagOptions are the options of `gantry tag`.
type TagOptions struct {
	Client    imagev1client.ImageV1Interface
	Namespace string // -n, or the current project

	SourceKind      string // --source, as given
	Delete          bool
	Alias           bool
	Reference       bool
	Scheduled       bool
	Insecure        bool
	ReferencePolicy string

	// From the arguments (Complete).
	sourceArg string
	source    reference.DockerImageReference
	kind      string
	dests     []destination

	genericiooptions.IOStreams
}

// destination is one DEST argument.
type destination struct {
	arg                    string // as given
	namespace, stream, tag string
}

func (d destination) nameAndTag() string { return d.stream + ":" + d.tag }

// NewCommandTag returns `gantry tag`.
func NewCommandTag(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &TagOptions{IOStreams: streams, ReferencePolicy: SourceReferencePolicy}
	cmd := &cobra.Command{
		Use:     "tag [--source=SOURCETYPE] SOURCE DEST [DEST ...]",
		Short:   "Tag existing images into image streams",
		Long:    tagLong,
		Example: tagExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(flags, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.SourceKind, "source", "", "The kind of SOURCE when it cannot be guessed: 'imagestreamtag', 'istag', 'imagestreamimage', 'isimage' or 'docker'")
	cmd.Flags().BoolVarP(&o.Delete, "delete", "d", false, "Delete the tags named")
	cmd.Flags().BoolVar(&o.Alias, "alias", false, "Make the tag follow SOURCE when SOURCE changes (within one image stream)")
	cmd.Flags().BoolVar(&o.Reference, "reference", false, "Only point at SOURCE: the tag is never imported")
	cmd.Flags().BoolVar(&o.Scheduled, "scheduled", false, "Import the external image again periodically (external images only)")
	cmd.Flags().BoolVar(&o.Insecure, "insecure", false, "The external registry serves plain HTTP or has a certificate that cannot be verified")
	cmd.Flags().StringVar(&o.ReferencePolicy, "reference-policy", SourceReferencePolicy, "How pods pull the image: 'source' (from its registry) or 'local' (through the integrated registry)")
	return cmd
}

// Complete builds the image client and the project from the kubeconfig flags, then reads the
// arguments.
func (o *TagOptions) Complete(flags *genericclioptions.ConfigFlags, args []string) error {
	if err := checkArgs(args, o.Delete); err != nil {
		return err
	}
	client, ns, err := imageClient(flags)
	if err != nil {
		return err
	}
	o.Client, o.Namespace = client, ns
	return o.CompleteArgs(args)
}

func checkArgs(args []string, deleting bool) error {
	if len(args) < 2 && (len(args) < 1 || !deleting) {
		return errors.New("you must specify a source and at least one destination or one or more tags to delete\n" +
			"Try: gantry tag SOURCE STREAM:TAG, or gantry tag -d STREAM:TAG")
	}
	return nil
}

// imageClient returns the image client and the namespace of the kubeconfig flags.
func imageClient(flags *genericclioptions.ConfigFlags) (imagev1client.ImageV1Interface, string, error) {
	loader := flags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("read the kubeconfig: %w", err)
	}
	if raw.CurrentContext == "" && ptr.Deref(flags.Context, "") == "" && ptr.Deref(flags.APIServer, "") == "" {
		return nil, "", fmt.Errorf("no cluster to talk to: the kubeconfig (%s) has no current context\nTry: gantry login https://HOST:6443, or sudo gantry start", loader.ConfigAccess().GetDefaultFilename())
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no cluster to talk to (%v)\nTry: gantry login, or set --kubeconfig", err)
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("read the current project: %w", err)
	}
	c, err := imageclient.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	return c.ImageV1(), ns, nil
}

// CompleteArgs reads SOURCE (unless deleting) and the destinations.
func (o *TagOptions) CompleteArgs(args []string) error {
	if err := checkArgs(args, o.Delete); err != nil {
		return err
	}
	if !o.Delete {
		if err := o.completeSource(args[0]); err != nil {
			return err
		}
		args = args[1:]
	}
	o.dests = nil
	for _, arg := range args {
		d, err := parseDestination(o.Namespace, arg)
		if err != nil {
			return err
		}
		o.dests = append(o.dests, d)
	}
	return nil
}

func (o *TagOptions) completeSource(arg string) error {
	kind := ""
	if o.SourceKind != "" {
		k, ok := sourceKinds[strings.ToLower(o.SourceKind)]
		if !ok {
			valid := make([]string, 0, len(sourceKinds))
			for v := range sourceKinds {
				valid = append(valid, v)
			}
			sort.Strings(valid)
			return fmt.Errorf("invalid source %q; valid values are %s", o.SourceKind, strings.Join(valid, ", "))
		}
		kind = k
	}
	ref, err := reference.Parse(arg)
	if err != nil {
		return fmt.Errorf("invalid SOURCE %q: %v\nTry: stream:tag, stream@sha256:<digest>, project/stream:tag, or a pull spec such as docker.io/library/nginx:1.25", arg, err)
	}
	switch kind {
	case kindImageStreamTag, kindImageStreamImage:
		if ref.Registry != "" {
			return fmt.Errorf("server in SOURCE is only allowed when providing a Docker image\nTry: gantry tag --source=docker %s ...", arg)
		}
		if kind == kindImageStreamTag && ref.Tag == "" {
			return fmt.Errorf("--source=ImageStreamTag requires a valid <name>:<tag> in SOURCE (not %q)", arg)
		}
		if kind == kindImageStreamImage && ref.ID == "" {
			return fmt.Errorf("--source=ImageStreamImage requires a valid <name>@<id> in SOURCE (not %q)", arg)
		}
	case "":
		// Guess as oc does: a registry means an external image, then a digest, then a tag.
		switch {
		case ref.Registry != "":
			kind = kindDockerImage
		case ref.ID != "":
			kind = kindImageStreamImage
		case ref.Tag != "":
			kind = kindImageStreamTag
		default:
			kind = kindDockerImage
		}
	}
	o.sourceArg, o.source, o.kind = arg, ref, kind
	return nil
}

// parseDestination reads [project/]stream:tag.
func parseDestination(defaultNamespace, arg string) (destination, error) {
	d := destination{arg: arg, namespace: defaultNamespace}
	nameAndTag := arg
	if strings.Contains(arg, "/") {
		parts := strings.Split(arg, "/")
		if len(parts) != 2 {
			return d, fmt.Errorf("invalid image stream %q\nTry: [project/]stream:tag", arg)
		}
		if parts[0] == "" {
			return d, fmt.Errorf("invalid namespace %q for image stream %q", parts[0], arg)
		}
		if parts[1] == "" {
			return d, fmt.Errorf("invalid name %q for image stream %q", parts[1], arg)
		}
		d.namespace, nameAndTag = parts[0], parts[1]
	}
	name, tag, ok := imageutil.SplitImageStreamTag(nameAndTag)
	if !ok || name == "" || strings.Contains(tag, ":") || strings.Contains(nameAndTag, "@") {
		return d, fmt.Errorf("%q must be of the form <stream_name>:<tag>\nTry: %s:latest", nameAndTag, strings.SplitN(strings.SplitN(nameAndTag, "@", 2)[0], ":", 2)[0])
	}
	d.stream, d.tag = name, tag
	return d, nil
}

// Validate checks that the flags fit together, as oc does.
func (o *TagOptions) Validate() error {
	if o.Delete && o.Alias {
		return errors.New("--alias and --delete may not be both specified")
	}
	if o.ReferencePolicy != SourceReferencePolicy && o.ReferencePolicy != LocalReferencePolicy {
		return fmt.Errorf("reference policy must be set to 'source' or 'local' (not %q)", o.ReferencePolicy)
	}
	if len(o.dests) == 0 {
		return errors.New("at least a destination is required\nTry: gantry tag SOURCE STREAM:TAG")
	}
	if o.Delete {
		if o.SourceKind != "" {
			return errors.New("cannot specify a source kind when deleting")
		}
		if o.Scheduled || o.Insecure {
			return errors.New("cannot set flags for importing images when deleting a tag")
		}
		return nil
	}
	if o.kind == "" {
		return errors.New("a source kind is required")
	}
	if o.kind != kindDockerImage && (o.Scheduled || o.Insecure) {
		return fmt.Errorf("only Docker images can have importing flags set (%s is an image stream %s)\nTry: --source=docker, if it is the pull spec of an external image",
			o.sourceArg, strings.TrimPrefix(strings.ToLower(o.kind), "imagestream"))
	}
	if o.Alias {
		if o.Scheduled || o.Insecure {
			return errors.New("cannot set a Docker image tag as an alias and also set import flags")
		}
		srcNS := o.source.Namespace
		if srcNS == "" {
			srcNS = o.Namespace
		}
		for _, d := range o.dests {
			if d.namespace != srcNS || d.stream != o.source.Name {
				return fmt.Errorf("cannot set alias across different Image Streams (%s is not in %s/%s)\nTry: gantry tag %s %s, without --alias, to copy the image the tag points at now",
					d.arg, srcNS, o.source.Name, o.sourceArg, d.arg)
			}
		}
	}
	return nil
}

// Run resolves the source (an image stream tag becomes the image it points at, unless --alias)
// and writes or deletes each destination tag.
func (o *TagOptions) Run(ctx context.Context) error {
	if o.Delete {
		for _, d := range o.dests {
			if err := o.deleteTag(ctx, d); err != nil {
				return err
			}
		}
		return nil
	}
	ref, kind := o.source, o.kind
	if kind == kindImageStreamTag && !o.Alias {
		var err error
		if ref, kind, err = o.resolveTag(ctx); err != nil {
			return err
		}
	}
	for _, d := range o.dests {
		if err := o.setTag(ctx, d, ref, kind); err != nil {
			return err
		}
	}
	return nil
}

// resolveTag finds the image the source tag points at now.
func (o *TagOptions) resolveTag(ctx context.Context) (reference.DockerImageReference, string, error) {
	ref := o.source
	ns := ref.Namespace
	if ns == "" {
		ns = o.Namespace
	}
	is, err := o.Client.ImageStreams(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ref, "", fmt.Errorf("source %s: image stream %s does not exist in project %s\nTry: gantry get imagestreams -n %s", o.sourceArg, ref.Name, ns, ns)
	}
	if err != nil {
		return ref, "", fmt.Errorf("source %s: %w%s", o.sourceArg, err, hint(err, ns))
	}
	event := imageutil.LatestTaggedImage(is, ref.Tag)
	if event == nil {
		return ref, "", fmt.Errorf("%q is not currently pointing to an image, cannot use it as the source of a tag\nTry: gantry describe imagestream %s -n %s", o.sourceArg, ref.Name, ns)
	}
	if event.Image == "" {
		img, err := reference.Parse(event.DockerImageReference)
		if err != nil {
			return ref, "", fmt.Errorf("the image stream tag %q has an invalid pull spec and cannot be used to tag: %v", o.sourceArg, err)
		}
		return img, kindDockerImage, nil
	}
	ref.ID, ref.Tag = event.Image, ""
	return ref, kindImageStreamImage, nil
}

// tagReference is the spec tag written for d from ref.
func (o *TagOptions) tagReference(d destination, ref reference.DockerImageReference, kind string) *imagev1.TagReference {
	policy := imagev1.SourceTagReferencePolicy
	if o.ReferencePolicy == LocalReferencePolicy {
		policy = imagev1.LocalTagReferencePolicy
	}
	t := &imagev1.TagReference{
		Reference:       o.Reference,
		ImportPolicy:    imagev1.TagImportPolicy{Insecure: o.Insecure, Scheduled: o.Scheduled},
		ReferencePolicy: imagev1.TagReferencePolicy{Type: policy},
		From:            &corev1.ObjectReference{Kind: kind},
	}
	if kind == kindDockerImage {
		t.From.Name = ref.Exact()
		gen := int64(0) // import it now
		t.Generation = &gen
		return t
	}
	t.From.Name = ref.NameString()
	t.From.Namespace = ref.Namespace
	if ref.Namespace == "" && d.namespace != o.Namespace {
		t.From.Namespace = o.Namespace
	}
	return t
}

// message is what oc prints once a tag is set.
func (o *TagOptions) message(d destination, ref reference.DockerImageReference) string {
	name := d.nameAndTag()
	if d.namespace != o.Namespace {
		name = d.namespace + "/" + name
	}
	switch {
	case o.Alias:
		return fmt.Sprintf("Tag %s set up to track %s.", name, ref.Exact())
	case o.Scheduled:
		return fmt.Sprintf("Tag %s set to import %s periodically.", name, ref.Exact())
	default:
		return fmt.Sprintf("Tag %s set to %s.", name, ref.Exact())
	}
}

// setTag writes the spec tag of d through the imagestreamtags API, which creates the stream and
// the tag when missing.
func (o *TagOptions) setTag(ctx context.Context, d destination, ref reference.DockerImageReference, kind string) error {
	ist := &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: d.nameAndTag(), Namespace: d.namespace},
		Tag:        o.tagReference(d, ref, kind),
	}
	tags := o.Client.ImageStreamTags(d.namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		_, err := tags.Update(ctx, ist, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			_, err = tags.Create(ctx, ist, metav1.CreateOptions{})
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("tag %s/%s: %w%s", d.namespace, d.nameAndTag(), err, hint(err, d.namespace))
	}
	fmt.Fprintln(o.Out, o.message(d, ref))
	return nil
}

// deleteTag removes the spec tag and the history of d.
func (o *TagOptions) deleteTag(ctx context.Context, d destination) error {
	err := o.Client.ImageStreamTags(d.namespace).Delete(ctx, d.nameAndTag(), metav1.DeleteOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("delete tag %s/%s: the tag does not exist\nTry: gantry get imagestreamtags -n %s", d.namespace, d.nameAndTag(), d.namespace)
	case err != nil:
		return fmt.Errorf("delete tag %s/%s: %w%s", d.namespace, d.nameAndTag(), err, hint(err, d.namespace))
	}
	fmt.Fprintf(o.Out, "Deleted tag %s/%s.\n", d.namespace, d.nameAndTag())
	return nil
}

// hint is the "Try:" line for an API error the user can act on (empty for others).
func hint(err error, namespace string) string {
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("\nTry: ask an admin of project %s for the edit role (gantry policy add-role-to-user edit $(gantry whoami) -n %s)", namespace, namespace)
	case apierrors.IsUnauthorized(err):
		return "\nTry: gantry login"
	}
	return ""
}
