package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
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
)

const importImageLong = `Import the latest image information from a tag in another registry.

Image streams let you control which images your builds and applications roll out. This
command fetches the newest version of an image from its registry and updates the image
stream tag if it changed. Running it again does not create duplicate entries. Only the
image metadata is copied, not the image contents.

Without --from, the tag's existing source is imported again (with --all, every external
tag of the stream, or the whole spec.dockerImageRepository). A stream that does not exist
yet needs --from (or a pull spec as the argument) and --confirm. To change a tag's source,
use 'gantry tag'.

The registry must be one the cluster may import from: loopback, private addresses and the
integrated registry are refused unless the administrator allows them
(gantry start --allowed-registries-for-import).`

const importImageExample = `  # Import the external tags of the stream "mystream" again
  gantry import-image mystream

  # Create the stream nginx with tag 1.25 from Docker Hub
  gantry import-image nginx:1.25 --from=docker.io/library/nginx:1.25 --confirm

  # The same, naming the stream after the pull spec
  gantry import-image docker.io/library/nginx:1.25 --confirm

  # Import every tag of a repository (the most recent ones) into the stream "busybox"
  gantry import-image busybox --from=docker.io/library/busybox --all --confirm

  # Only look at the image, without changing the stream
  gantry import-image nginx:1.25 --from=docker.io/library/nginx:1.25 --dry-run`

// ImportImageOptions are the options of `gantry import-image`.
type ImportImageOptions struct {
	Client    imagev1client.ImageV1Interface
	Namespace string

	Target          string // STREAM[:TAG], or a pull spec for a new stream
	From            string
	Confirm         bool
	All             bool
	Scheduled       bool
	Insecure        bool
	InsecureSet     bool   // --insecure was given (it then wins over the stream's annotation)
	ReferencePolicy string // "" when not given: existing tags keep theirs
	DryRun          bool

	// ProgressAfter is how long an import runs before "Importing ..." is printed on ErrOut.
	ProgressAfter time.Duration
	// Now is the clock of the printed ages.
	Now func() time.Time

	name, tag string

	genericiooptions.IOStreams
}

// NewCommandImportImage returns `gantry import-image`.
func NewCommandImportImage(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ImportImageOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "import-image IMAGESTREAM[:TAG]",
		Short:   "Import images from another registry",
		Long:    importImageLong,
		Example: importImageExample,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.InsecureSet = cmd.Flags().Changed("insecure")
			if err := o.Complete(flags, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.From, "from", "", "The image repository (or pull spec) to import from")
	cmd.Flags().BoolVar(&o.Confirm, "confirm", false, "Create the image stream, or change what it imports from")
	cmd.Flags().BoolVar(&o.All, "all", false, "Import all tags of the source (the whole repository with --from)")
	cmd.Flags().StringVar(&o.ReferencePolicy, "reference-policy", "", "How pods pull the imported images: 'source' (from their registry, the default for new tags) or 'local' (through the integrated registry)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Fetch information about the images without creating or changing the image stream")
	cmd.Flags().BoolVar(&o.Scheduled, "scheduled", false, "Import the images again periodically")
	cmd.Flags().BoolVar(&o.Insecure, "insecure", false, "The registry serves plain HTTP or has a certificate that cannot be verified (wins over the stream's insecure annotation)")
	return cmd
}

// Complete builds the image client and the project from the kubeconfig flags.
func (o *ImportImageOptions) Complete(flags *genericclioptions.ConfigFlags, args []string) error {
	if len(args) > 0 {
		o.Target = args[0]
	}
	client, ns, err := imageClient(flags)
	if err != nil {
		return err
	}
	o.Client, o.Namespace = client, ns
	return nil
}

// Validate reads STREAM[:TAG] and checks the flags.
func (o *ImportImageOptions) Validate() error {
	if o.Target == "" {
		return errors.New("you must specify the name of an image stream\nTry: gantry import-image STREAM[:TAG]")
	}
	ref, err := reference.Parse(o.Target)
	switch {
	case err != nil:
		return fmt.Errorf("the image name must be a valid Docker image pull spec or reference to an image stream (e.g. myregistry/myteam/image:tag), not %q", o.Target)
	case ref.ID != "":
		return fmt.Errorf("to import images by ID, use the 'tag' command\nTry: gantry tag --source=docker %s %s:TAG", o.Target, ref.Name)
	case ref.Tag != "" && o.All:
		return fmt.Errorf("cannot specify a tag %q as well as --all", o.Target)
	case ref.Tag == "" && !o.All:
		ref.Tag = imagev1.DefaultImageTag
	}
	o.name, o.tag = ref.Name, ref.Tag
	switch o.ReferencePolicy {
	case "", SourceReferencePolicy, LocalReferencePolicy:
	default:
		return fmt.Errorf("reference policy must be set to 'source' or 'local' (not %q)", o.ReferencePolicy)
	}
	if o.From != "" {
		from, err := reference.Parse(o.From)
		if err != nil {
			return fmt.Errorf("--from %q is not an image pull spec (%v)\nTry: --from=registry.example.com/team/app:1", o.From, err)
		}
		if o.All && (from.Tag != "" || from.ID != "") {
			return fmt.Errorf("--from %q names a tag or digest, but --all imports a whole repository\nTry: --from=%s --all", o.From, from.AsRepository().Exact())
		}
	}
	return nil
}

// Run creates the import, prints the result as oc does, and fails when an image could not be
// imported.
func (o *ImportImageOptions) Run(ctx context.Context) error {
	var (
		stream *imagev1.ImageStream
		result *imagev1.ImageStreamImport
	)
	// The import is made for the stream version read: if the stream changes meanwhile, the
	// server refuses it and it is built again from the new version.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var isi *imagev1.ImageStreamImport
		var err error
		if stream, isi, err = o.importRequest(ctx); err != nil {
			return err
		}
		result, err = o.create(ctx, isi)
		return err
	})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("import into %s/%s: the image stream kept changing while images were imported: %w\nTry: gantry import-image again", o.Namespace, o.name, err)
	}
	if err != nil {
		return err
	}
	return o.print(stream, result)
}

// create posts the import, telling the user on ErrOut when it takes a while.
func (o *ImportImageOptions) create(ctx context.Context, isi *imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
	after := o.ProgressAfter
	if after == 0 {
		after = 2 * time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		timer := time.NewTimer(after)
		defer timer.Stop()
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-timer.C:
			}
			if n == 0 {
				fmt.Fprintf(o.ErrOut, "Importing %s into %s/%s ...\n", describeSources(isi), o.Namespace, isi.Name)
			} else {
				fmt.Fprintf(o.ErrOut, "Still importing (%s) ...\n", time.Since(start).Round(time.Second))
			}
			timer.Reset(10 * time.Second)
		}
	}()
	result, err := o.Client.ImageStreamImports(o.Namespace).Create(ctx, isi, metav1.CreateOptions{})
	close(done)
	<-finished
	if apierrors.IsConflict(err) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("import into %s/%s: %w%s", o.Namespace, isi.Name, err, hint(err, o.Namespace))
	}
	return result, nil
}

func describeSources(isi *imagev1.ImageStreamImport) string {
	if r := isi.Spec.Repository; r != nil {
		return "the repository " + r.From.Name
	}
	var names []string
	for _, im := range isi.Spec.Images {
		names = append(names, im.From.Name)
	}
	return strings.Join(names, ", ")
}

// importRequest reads the stream and builds the import, as oc does.
func (o *ImportImageOptions) importRequest(ctx context.Context) (*imagev1.ImageStream, *imagev1.ImageStreamImport, error) {
	stream, err := o.Client.ImageStreams(o.Namespace).Get(ctx, o.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if !o.Confirm {
			from := o.From
			if from == "" {
				from = "<pull spec>"
			}
			return nil, nil, fmt.Errorf("no image stream named %q exists, pass --confirm to create and import\nTry: gantry import-image %s --from=%s --confirm", o.name, o.Target, from)
		}
		stream, isi := o.newStream()
		return stream, isi, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read image stream %s/%s: %w%s", o.Namespace, o.name, err, hint(err, o.Namespace))
	}
	var isi *imagev1.ImageStreamImport
	if o.All {
		isi, err = o.importAll(stream)
	} else {
		isi, err = o.importTag(stream)
	}
	return stream, isi, err
}

func (o *ImportImageOptions) referencePolicy() imagev1.TagReferencePolicy {
	switch o.ReferencePolicy {
	case SourceReferencePolicy:
		return imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}
	case LocalReferencePolicy:
		return imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}
	}
	return imagev1.TagReferencePolicy{}
}

// newStream is the import that creates the stream: from --from, or the argument itself.
func (o *ImportImageOptions) newStream() (*imagev1.ImageStream, *imagev1.ImageStreamImport) {
	from := o.From
	if from == "" {
		from = o.Target
	}
	stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: o.name, Namespace: o.Namespace}}
	if o.All {
		stream.Spec.DockerImageRepository = from
		return stream, o.importRepository(stream, from)
	}
	return stream, o.importTags(stream, map[string]string{o.tag: from})
}

// importAll imports every external tag of the stream, or a whole repository.
func (o *ImportImageOptions) importAll(stream *imagev1.ImageStream) (*imagev1.ImageStreamImport, error) {
	from := o.From
	if from == "" {
		if stream.Spec.DockerImageRepository == "" {
			tags := map[string]string{}
			for _, t := range stream.Spec.Tags {
				if t.From != nil && t.From.Kind == kindDockerImage {
					tags[t.Name] = t.From.Name
				}
			}
			if len(tags) == 0 {
				return nil, fmt.Errorf("image stream does not have tags pointing to external docker images\nTry: gantry import-image %s --from=REPOSITORY --all --confirm", o.name)
			}
			return o.importTags(stream, tags), nil
		}
		from = stream.Spec.DockerImageRepository
	}
	if from != stream.Spec.DockerImageRepository && !o.Confirm {
		if stream.Spec.DockerImageRepository == "" {
			return nil, fmt.Errorf("the image stream does not currently import an entire Docker repository, pass --confirm to update\nTry: gantry import-image %s --from=%s --all --confirm", o.name, from)
		}
		return nil, fmt.Errorf("the image stream has a different import spec %q, pass --confirm to update\nTry: gantry import-image %s --from=%s --all --confirm", stream.Spec.DockerImageRepository, o.name, from)
	}
	return o.importRepository(stream, from), nil
}

// importTag imports one tag: its existing external source (following tags of the same stream
// that point at it), or --from for a new tag.
func (o *ImportImageOptions) importTag(stream *imagev1.ImageStream) (*imagev1.ImageStreamImport, error) {
	from, tag := o.From, o.tag
	final, existing, multiple, err := followTagReference(stream, tag)
	switch {
	case errors.Is(err, errInvalidReference):
		return nil, fmt.Errorf("tag %q points to an invalid imagestreamtag", tag)
	case errors.Is(err, errCrossStreamReference):
		return nil, fmt.Errorf("tag %q points to an imagestreamtag from another ImageStream", tag)
	case errors.Is(err, errCircularReference):
		return nil, fmt.Errorf("tag %q on the image stream is a reference to same tag", tag)
	case errors.Is(err, errNotFoundReference):
		if from == "" && tag == imagev1.DefaultImageTag {
			from = stream.Spec.DockerImageRepository
		}
		if from == "" {
			return nil, fmt.Errorf("the tag %q does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag\nTry: gantry tag --source=docker <pull spec> %s:%s", tag, o.name, tag)
		}
	case existing.From != nil && existing.From.Kind != kindDockerImage:
		return nil, fmt.Errorf("tag %q points to existing %s %q, it cannot be re-imported", tag, existing.From.Kind, existing.From.Name)
	case existing.From == nil:
		return nil, fmt.Errorf("tag %q already exists - you must use the 'tag' command if you want to change the source to %q", tag, from)
	case from != "" && from != existing.From.Name:
		if multiple {
			return nil, fmt.Errorf("the tag %q points to the tag %q which points to %q - use the 'tag' command if you want to change the source to %q", tag, final, existing.From.Name, from)
		}
		return nil, fmt.Errorf("the tag %q points to %q - use the 'tag' command if you want to change the source to %q", tag, existing.From.Name, from)
	default:
		from, tag = existing.From.Name, final
	}
	return o.importTags(stream, map[string]string{tag: from}), nil
}

// newImport is the import of stream, made for its current version.
func (o *ImportImageOptions) newImport(stream *imagev1.ImageStream) (*imagev1.ImageStreamImport, bool) {
	isi := &imagev1.ImageStreamImport{
		ObjectMeta: metav1.ObjectMeta{Name: stream.Name, Namespace: o.Namespace, ResourceVersion: stream.ResourceVersion},
		Spec:       imagev1.ImageStreamImportSpec{Import: !o.DryRun},
	}
	insecure := stream.Annotations[imagev1.InsecureRepositoryAnnotation] == "true"
	if o.InsecureSet {
		insecure = o.Insecure
	}
	return isi, insecure
}

func (o *ImportImageOptions) importRepository(stream *imagev1.ImageStream, from string) *imagev1.ImageStreamImport {
	isi, insecure := o.newImport(stream)
	isi.Spec.Repository = &imagev1.RepositoryImportSpec{
		From:            corev1.ObjectReference{Kind: kindDockerImage, Name: from},
		ImportPolicy:    imagev1.TagImportPolicy{Insecure: insecure, Scheduled: o.Scheduled},
		ReferencePolicy: o.referencePolicy(),
	}
	return isi
}

// importTags imports tag → from; existing tags keep their insecure and scheduled policies.
func (o *ImportImageOptions) importTags(stream *imagev1.ImageStream, tags map[string]string) *imagev1.ImageStreamImport {
	isi, streamInsecure := o.newImport(stream)
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, tag := range names {
		insecure, scheduled := streamInsecure, o.Scheduled
		if old, ok := imageutil.SpecHasTag(stream, tag); ok {
			insecure = insecure || old.ImportPolicy.Insecure
			scheduled = scheduled || old.ImportPolicy.Scheduled
		}
		isi.Spec.Images = append(isi.Spec.Images, imagev1.ImageImportSpec{
			From:            corev1.ObjectReference{Kind: kindDockerImage, Name: tags[tag]},
			To:              &corev1.LocalObjectReference{Name: tag},
			ImportPolicy:    imagev1.TagImportPolicy{Insecure: insecure, Scheduled: scheduled},
			ReferencePolicy: o.referencePolicy(),
		})
	}
	return isi
}

var (
	errNotFoundReference    = errors.New("no such tag")
	errInvalidReference     = errors.New("invalid tag reference")
	errCrossStreamReference = errors.New("reference to another image stream")
	errCircularReference    = errors.New("circular tag reference")
)

// followTagReference follows spec tags that point at other tags of the same stream down to the
// tag with the source: it returns that tag, its spec, and whether a reference was followed.
func followTagReference(stream *imagev1.ImageStream, tag string) (string, *imagev1.TagReference, bool, error) {
	seen := map[string]bool{}
	multiple := false
	for {
		if seen[tag] {
			return tag, nil, multiple, errCircularReference
		}
		seen[tag] = true
		ref, ok := imageutil.SpecHasTag(stream, tag)
		if !ok {
			return tag, nil, multiple, errNotFoundReference
		}
		if ref.From == nil || ref.From.Kind != kindImageStreamTag {
			return tag, &ref, multiple, nil
		}
		if ref.From.Namespace != "" && ref.From.Namespace != stream.Namespace {
			return tag, nil, multiple, errCrossStreamReference
		}
		next := ref.From.Name
		if strings.Contains(next, ":") {
			name, t, ok := imageutil.SplitImageStreamTag(next)
			if !ok {
				return tag, nil, multiple, errInvalidReference
			}
			if name != stream.Name {
				return tag, nil, multiple, errCrossStreamReference
			}
			next = t
		}
		tag, multiple = next, true
	}
}

// print writes oc's summary: the stream and each imported image. Images that could not be
// imported make the error returned.
func (o *ImportImageOptions) print(stream *imagev1.ImageStream, result *imagev1.ImageStreamImport) error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var failures []string
	var buf bytes.Buffer
	if result.Status.Import != nil {
		describeStream(&buf, result.Status.Import, now())
		buf.WriteString("\n")
	}
	if r := result.Status.Repository; r != nil {
		if r.Status.Status == metav1.StatusFailure {
			failures = append(failures, fmt.Sprintf("repository %s failed: %s", result.Spec.Repository.From.Name, statusMessage(r.Status)))
		}
		for _, im := range r.Images {
			if im.Image == nil {
				failures = append(failures, fmt.Sprintf("repository tag %s failed: %s", im.Tag, statusMessage(im.Status)))
				continue
			}
			describeImage(&buf, im.Image, imageutil.JoinImageStreamTag(stream.Name, im.Tag), now())
			buf.WriteString("\n")
		}
	}
	for i, im := range result.Status.Images {
		tag := im.Tag
		if tag == "" && i < len(result.Spec.Images) && result.Spec.Images[i].To != nil {
			tag = result.Spec.Images[i].To.Name
		}
		if im.Image == nil || im.Status.Status == metav1.StatusFailure {
			failures = append(failures, fmt.Sprintf("tag %s failed: %s", tag, statusMessage(im.Status)))
			continue
		}
		describeImage(&buf, im.Image, imageutil.JoinImageStreamTag(stream.Name, tag), now())
		buf.WriteString("\n")
	}
	if r := result.Status.Repository; r != nil && len(r.AdditionalTags) > 0 {
		fmt.Fprintf(&buf, "info: The remote repository contained %d additional tags which were not imported: %s\n", len(r.AdditionalTags), strings.Join(r.AdditionalTags, ", "))
	}

	message := "imported"
	if len(failures) > 0 {
		message = "imported with errors"
	}
	if o.DryRun {
		message += " (dry run)"
	}
	fmt.Fprintf(o.Out, "imagestream.image.openshift.io/%s %s\n\n", stream.Name, message)
	_, _ = o.Out.Write(buf.Bytes())
	if len(failures) == 0 {
		return nil
	}
	return importError{failures: failures, reasons: failureReasons(result)}
}

func statusMessage(st metav1.Status) string {
	if st.Message != "" {
		return st.Message
	}
	if st.Reason != "" {
		return string(st.Reason)
	}
	return "the import failed for an unknown reason"
}

func failureReasons(result *imagev1.ImageStreamImport) map[metav1.StatusReason]bool {
	reasons := map[metav1.StatusReason]bool{}
	add := func(st metav1.Status) {
		if st.Status == metav1.StatusFailure {
			reasons[st.Reason] = true
		}
	}
	for _, im := range result.Status.Images {
		add(im.Status)
	}
	if r := result.Status.Repository; r != nil {
		add(r.Status)
		for _, im := range r.Images {
			add(im.Status)
		}
	}
	return reasons
}

// importError is the failure of one or more images of an import: one "error:" line each (the
// first one is prefixed by main), and a hint when the user can act.
type importError struct {
	failures []string
	reasons  map[metav1.StatusReason]bool
}

func (e importError) Error() string {
	msg := strings.Join(e.failures, "\nerror: ")
	switch {
	case e.reasons[metav1.StatusReasonUnauthorized]:
		msg += "\nTry: give the project a pull secret for the registry (gantry create secret docker-registry NAME --docker-server=HOST --docker-username=USER --docker-password=PASSWORD)"
	case e.reasons[metav1.StatusReasonNotFound]:
		msg += "\nTry: check the repository and tag exist in the registry, then gantry tag --source=docker PULLSPEC STREAM:TAG to change the source"
	}
	return msg
}
