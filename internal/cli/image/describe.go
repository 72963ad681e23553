package image

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	"github.com/openshift/library-go/pkg/image/imageutil"
	"github.com/openshift/library-go/pkg/image/reference"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The describers print what `oc describe is` and `oc describe image` print (import-image shows
// both): a tab-aligned "Label:\tvalue" list, "<none>" for empty values, ages as Docker words them.

const none = "<none>"

func newTabWriter(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 1, '\t', 0) }

func field(w io.Writer, label string, v string) {
	if v == "" {
		v = none
	}
	lines := strings.Split(v, "\n")
	fmt.Fprintf(w, "%s:\t%s\n", label, lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "\t%s\n", l)
	}
}

func age(now, t time.Time) string { return units.HumanDuration(now.Sub(t)) + " ago" }

func mapField(w io.Writer, label string, m map[string]string) {
	if len(m) == 0 {
		field(w, label, "")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			field(w, label, k+"="+m[k])
			continue
		}
		fmt.Fprintf(w, "\t%s=%s\n", k, m[k])
	}
}

func describeMeta(w io.Writer, m metav1.ObjectMeta, now time.Time) {
	field(w, "Name", m.Name)
	if m.Namespace != "" {
		field(w, "Namespace", m.Namespace)
	}
	if !m.CreationTimestamp.IsZero() {
		field(w, "Created", age(now, m.CreationTimestamp.Time))
	}
	mapField(w, "Labels", m.Labels)
	annotations := map[string]string{}
	for k, v := range m.Annotations {
		annotations[k] = v
	}
	if d := annotations["description"]; d != "" {
		field(w, "Description", d)
		delete(annotations, "description")
	}
	mapField(w, "Annotations", annotations)
}

// describeStream prints an image stream as `oc describe is` does.
func describeStream(out io.Writer, s *imagev1.ImageStream, now time.Time) {
	w := newTabWriter(out)
	defer w.Flush()
	describeMeta(w, s.ObjectMeta, now)
	pull := s.Status.PublicDockerImageRepository
	if pull == "" {
		pull = s.Status.DockerImageRepository
	}
	field(w, "Docker Pull Spec", pull)
	field(w, "Image Lookup", fmt.Sprintf("local=%t", s.Spec.LookupPolicy.Local))
	describeStreamTags(w, s, now)
}

func describeStreamTags(w io.Writer, s *imagev1.ImageStream, now time.Time) {
	if len(s.Status.Tags) == 0 && len(s.Spec.Tags) == 0 {
		fmt.Fprintf(w, "Tags:\t%s\n", none)
		return
	}
	images := map[string]bool{}
	for _, l := range s.Status.Tags {
		for _, e := range l.Items {
			switch {
			case e.Image != "":
				images[e.Image] = true
			case e.DockerImageReference != "":
				images[e.DockerImageReference] = true
			}
		}
	}
	var tags []string
	for _, l := range s.Status.Tags {
		tags = append(tags, l.Tag)
	}
	// Tags that only follow another tag of the stream are listed with it: "v1 (prod)".
	followers := map[string][]string{}
	following := map[string]bool{}
	for _, t := range s.Spec.Tags {
		if target, _, multiple, err := followTagReference(s, t.Name); err == nil && multiple {
			following[t.Name] = true
			followers[target] = append(followers[target], t.Name)
		}
		if _, ok := imageutil.StatusHasTag(s, t.Name); !ok {
			tags = append(tags, t.Name)
		}
	}
	fmt.Fprintf(w, "Unique Images:\t%d\nTags:\t%d\n\n", len(images), len(tags))
	imageutil.PrioritizeTags(tags)
	first := true
	for _, tag := range tags {
		if following[tag] {
			continue
		}
		if !first {
			fmt.Fprintln(w)
		}
		first = false
		if f := followers[tag]; len(f) > 0 {
			imageutil.PrioritizeTags(f)
			fmt.Fprintf(w, "%s (%s)\n", tag, strings.Join(f, ", "))
		} else {
			fmt.Fprintf(w, "%s\n", tag)
		}
		describeTag(w, s, tag, now)
	}
}

func describeTag(w io.Writer, s *imagev1.ImageStream, tag string, now time.Time) {
	events, _ := imageutil.StatusHasTag(s, tag)
	spec, hasSpec := imageutil.SpecHasTag(s, tag)
	importing := false
	switch {
	case !hasSpec:
		fmt.Fprintf(w, "  no spec tag\n")
	case spec.From == nil:
		fmt.Fprintf(w, "  tag without source image\n")
	default:
		name := spec.From.Name
		if spec.From.Namespace != "" && spec.From.Namespace != s.Namespace {
			name = spec.From.Namespace + "/" + name
		}
		importing = !spec.Reference && spec.Generation != nil && *spec.Generation > observedGeneration(events)
		switch {
		case spec.Reference && spec.From.Kind == kindDockerImage:
			fmt.Fprintf(w, "  reference to registry %s\n", name)
		case spec.Reference && spec.From.Kind == kindImageStreamImage:
			fmt.Fprintf(w, "  reference to image %s\n", name)
		case spec.Reference && spec.From.Kind == kindImageStreamTag:
			fmt.Fprintf(w, "  reference to %s\n", name)
		case spec.Reference:
			fmt.Fprintf(w, "  reference to %s %s\n", spec.From.Kind, name)
		case spec.ImportPolicy.Scheduled && spec.From.Kind == kindDockerImage:
			fmt.Fprintf(w, "  updates automatically from registry %s\n", name)
		case spec.ImportPolicy.Scheduled && spec.From.Kind == kindImageStreamTag:
			fmt.Fprintf(w, "  updates automatically from %s\n", name)
		case spec.From.Kind == kindDockerImage || spec.From.Kind == kindImageStreamTag || spec.From.Kind == kindImageStreamImage:
			fmt.Fprintf(w, "  tagged from %s\n", name)
		default:
			fmt.Fprintf(w, "  updates from %s %s\n", spec.From.Kind, name)
		}
		if spec.ImportPolicy.Insecure {
			fmt.Fprintf(w, "    will use insecure HTTPS or HTTP connections\n")
		}
		if spec.ReferencePolicy.Type == imagev1.LocalTagReferencePolicy {
			fmt.Fprintf(w, "    prefer registry pullthrough when referencing this tag\n")
		}
	}
	fmt.Fprintln(w)
	if importing {
		fmt.Fprintf(w, "  ~ importing latest image ...\n")
	}
	for _, c := range events.Conditions {
		if c.Type == imagev1.ImportSuccess && c.Status == corev1.ConditionFalse {
			fmt.Fprintf(w, "  ! error: Import failed (%s): %s\n      %s\n", c.Reason, c.Message, age(now, c.LastTransitionTime.Time))
		}
	}
	for i, e := range events.Items {
		mark := "    "
		if i == 0 {
			mark = "  * "
		}
		fmt.Fprintf(w, "%s%s\n", mark, e.DockerImageReference)
		if ref, err := reference.Parse(e.DockerImageReference); e.Image != "" && err == nil && ref.ID != e.Image {
			fmt.Fprintf(w, "      %s\t%s\n", age(now, e.Created.Time), e.Image)
		} else {
			fmt.Fprintf(w, "      %s\n", age(now, e.Created.Time))
		}
	}
}

// observedGeneration is the newest spec generation the tag's status reflects.
func observedGeneration(l imagev1.NamedTagEventList) int64 {
	gen := int64(0)
	if len(l.Items) > 0 {
		gen = l.Items[0].Generation
	}
	for _, c := range l.Conditions {
		if c.Type == imagev1.ImportSuccess && c.Generation > gen {
			gen = c.Generation
		}
	}
	return gen
}

// describeImage prints an image as `oc describe image` does, named name (stream:tag).
func describeImage(out io.Writer, img *imagev1.Image, name string, now time.Time) {
	w := newTabWriter(out)
	defer w.Flush()
	img = img.DeepCopy()
	_ = imageutil.ImageWithMetadata(img) // without metadata the fields show <none>
	meta, _ := img.DockerImageMetadata.Object.(*docker10.DockerImage)
	if meta == nil {
		meta = &docker10.DockerImage{}
	}
	if name != "" {
		field(w, "Image Name", name)
	}
	field(w, "Docker Image", img.DockerImageReference)
	field(w, "Name", img.Name)
	if !img.CreationTimestamp.IsZero() {
		field(w, "Created", age(now, img.CreationTimestamp.Time))
	}
	if len(img.Labels) > 0 {
		mapField(w, "Labels", img.Labels)
	}
	if len(img.Annotations) > 0 {
		mapField(w, "Annotations", img.Annotations)
	}
	field(w, "Image Size", imageSize(img, meta))
	if !meta.Created.IsZero() {
		field(w, "Image Created", age(now, meta.Created.Time))
	} else {
		field(w, "Image Created", "")
	}
	field(w, "Author", meta.Author)
	field(w, "Arch", meta.Architecture)
	cfg := meta.Config
	if cfg == nil {
		cfg = &meta.ContainerConfig
		if len(cfg.Cmd)+len(cfg.Entrypoint)+len(cfg.Env) == 0 {
			return
		}
	}
	if len(cfg.Entrypoint) > 0 {
		field(w, "Entrypoint", strings.Join(cfg.Entrypoint, " "))
	}
	if len(cfg.Cmd) > 0 || len(cfg.Entrypoint) == 0 {
		field(w, "Command", strings.Join(cfg.Cmd, " "))
	}
	field(w, "Working Dir", cfg.WorkingDir)
	field(w, "User", cfg.User)
	ports := make([]string, 0, len(cfg.ExposedPorts))
	for p := range cfg.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	field(w, "Exposes Ports", strings.Join(ports, ", "))
	mapField(w, "Docker Labels", cfg.Labels)
	for i, env := range cfg.Env {
		if i == 0 {
			field(w, "Environment", env)
			continue
		}
		fmt.Fprintf(w, "\t%s\n", env)
	}
	volumes := make([]string, 0, len(cfg.Volumes))
	for v := range cfg.Volumes {
		volumes = append(volumes, v)
	}
	sort.Strings(volumes)
	for i, v := range volumes {
		if i == 0 {
			field(w, "Volumes", v)
			continue
		}
		fmt.Fprintf(w, "\t%s\n", v)
	}
}

// imageSize is the size oc's describer prints: the total, with the first and the last
// non-empty layer when there are several.
func imageSize(img *imagev1.Image, meta *docker10.DockerImage) string {
	size := units.HumanSize(float64(meta.Size))
	layers := img.DockerImageLayers
	if len(layers) < 2 {
		return size
	}
	var info []string
	if layers[0].LayerSize > 0 {
		info = append(info, "first layer "+units.HumanSize(float64(layers[0].LayerSize)))
	}
	for i := len(layers) - 1; i > 0; i-- {
		if layers[i].LayerSize > 0 {
			info = append(info, "last binary layer "+units.HumanSize(float64(layers[i].LayerSize)))
			break
		}
	}
	if len(info) == 0 {
		return size
	}
	return fmt.Sprintf("%s (%s)", size, strings.Join(info, ", "))
}
