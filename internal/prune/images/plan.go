package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Inputs are the cluster's objects the pruner looks at: every image, every stream, and every
// object that may name an image. Lists must be complete, or images still in use may be pruned.
type Inputs struct {
	Images            []imagev1.Image
	Streams           []imagev1.ImageStream
	Pods              []corev1.Pod
	RCs               []corev1.ReplicationController
	ReplicaSets       []kappsv1.ReplicaSet
	Deployments       []kappsv1.Deployment
	StatefulSets      []kappsv1.StatefulSet
	DaemonSets        []kappsv1.DaemonSet
	Jobs              []batchv1.Job
	CronJobs          []batchv1.CronJob
	DeploymentConfigs []appsv1.DeploymentConfig
	BuildConfigs      []buildv1.BuildConfig
	Builds            []buildv1.Build
	// LimitRanges are read only with PruneOverSizeLimit.
	LimitRanges []corev1.LimitRange
}

// Options are the pruning policy (the command's flags).
type Options struct {
	// KeepTagRevisions is how many of the newest revisions of each tag are kept.
	KeepTagRevisions int
	// KeepYoungerThan keeps images, tag revisions and streams created less than this long ago.
	KeepYoungerThan time.Duration
	// PruneOverSizeLimit prunes, instead, the tag revisions whose image exceeds an
	// openshift.io/Image storage limit of the stream's project; KeepTagRevisions and
	// KeepYoungerThan are then ignored.
	PruneOverSizeLimit bool
	// AllImages makes images not pushed to the integrated registry candidates too (only their
	// API objects are deleted).
	AllImages bool
	// IgnoreInvalidRefs drops image references that cannot be parsed instead of refusing to plan.
	IgnoreInvalidRefs bool
	// RegistryHost is the integrated registry's host as pull specs name it (127.0.0.1:5000): a
	// pruned image's manifest is deleted from the repositories of this host its pull specs name.
	RegistryHost string
	// Now is the time ages are measured from.
	Now time.Time
	// Namespace, when set, limits pruning to the tag histories of that project's streams (the
	// inputs then hold only that project's objects): no image, manifest or blob is deleted, since
	// other projects may use them (as `oc adm prune images -n`).
	Namespace string
}

// Plan is what pruning removes, in order.
type Plan struct {
	// Streams are the image streams whose status tag history loses revisions.
	Streams []StreamChange
	// Prune are the names of the images to delete, sorted.
	Prune []string
	// Kept says why each kept image is kept.
	Kept map[string]string
	// Registry is what goes from the integrated registry, then the Image objects.
	Registry RegistryPlan

	images map[string]*imageInfo
	refs   map[string][]string // image name -> repositories of RegistryHost its pull specs name
	opts   Options
	cutoff time.Time
}

// StreamChange is one stream's trimmed status: Updated tags lose some revisions, Deleted tags lose
// them all (and disappear from status).
type StreamChange struct {
	Namespace, Name  string
	Updated, Deleted []string

	names  []string        // the pruned images the listed stream names
	listed map[string]bool // "tag@image" of every revision listed
}

// RepoDigest names a manifest or a layer link in a repository (<project>/<stream>).
type RepoDigest struct {
	Repo, Digest string
}

// Blob is a blob to delete from storage. Size is -1 when the image API does not record it (a
// manifest's own size).
type Blob struct {
	Digest string
	Kind   string // "layer", "config" or "manifest"
	Size   int64
}

// RegistryPlan are the registry deletions and the Image objects to delete for a set of images.
type RegistryPlan struct {
	Manifests  []RepoDigest
	LayerLinks []RepoDigest
	Blobs      []Blob
	Images     []string
}

// BadReferenceError lists the objects whose image references cannot be parsed. Nothing is pruned
// until they are fixed, deleted, or ignored with --ignore-invalid-refs.
type BadReferenceError struct {
	Refs []string // "pod p/x: image "A:B:C": <why>"
}

func (e *BadReferenceError) Error() string {
	return fmt.Sprintf("%d image references cannot be parsed, so pruning could delete an image they name:\n  %s\n"+
		"Try: fix or delete these objects, or add --ignore-invalid-refs to prune as if they named no image",
		len(e.Refs), strings.Join(e.Refs, "\n  "))
}

type imageInfo struct {
	img     *imagev1.Image
	config  string // config blob digest ("" for a manifest list)
	cfgSize int64  // -1 when unknown
	size    int64  // metadata size (for --prune-over-size-limit)
	managed bool
}

func (i *imageInfo) blobs() []Blob {
	b := []Blob{{Digest: i.img.Name, Kind: "manifest", Size: -1}}
	if i.config != "" {
		b = append(b, Blob{Digest: i.config, Kind: "config", Size: i.cfgSize})
	}
	seen := map[string]bool{}
	for _, l := range i.img.DockerImageLayers {
		if !seen[l.Name] {
			seen[l.Name] = true
			b = append(b, Blob{Digest: l.Name, Kind: "layer", Size: l.LayerSize})
		}
	}
	return b
}

func newImageInfo(img *imagev1.Image) *imageInfo {
	info := &imageInfo{img: img, cfgSize: -1, managed: img.Annotations[imagev1.ManagedByOpenShiftAnnotation] == "true"}
	var meta docker10.DockerImage
	if len(img.DockerImageMetadata.Raw) > 0 && json.Unmarshal(img.DockerImageMetadata.Raw, &meta) == nil {
		info.size = meta.Size
		if len(img.DockerImageManifests) == 0 && strings.Contains(meta.ID, ":") {
			info.config = meta.ID
			// The recorded size is the configuration's plus each distinct layer's.
			rest := meta.Size
			seen := map[string]bool{}
			for _, l := range img.DockerImageLayers {
				if !seen[l.Name] {
					seen[l.Name] = true
					rest -= l.LayerSize
				}
			}
			if rest > 0 {
				info.cfgSize = rest
			}
		}
	}
	if info.config == "" && img.DockerImageMetadata.Object != nil {
		if m, ok := img.DockerImageMetadata.Object.(*docker10.DockerImage); ok && len(img.DockerImageManifests) == 0 {
			info.config, info.size = m.ID, m.Size
		}
	}
	return info
}

// planner holds the indexes NewPlan builds.
type planner struct {
	in     *Inputs
	opts   Options
	cutoff time.Time // objects created after it are young
	images map[string]*imageInfo
	byConf map[string][]string          // config digest -> images
	istags map[string]string            // "ns/stream:tag" -> current image
	kept   map[string]string            // image -> reason
	bad    []string                     // unparsable references
	limits map[string]resource.Quantity // namespace -> smallest openshift.io/Image storage max
}

// NewPlan decides what to prune. It fails only on unparsable references (a BadReferenceError),
// unless opts.IgnoreInvalidRefs.
func NewPlan(in Inputs, opts Options) (*Plan, error) {
	p := &planner{
		in: &in, opts: opts, cutoff: opts.Now.Add(-opts.KeepYoungerThan),
		images: map[string]*imageInfo{}, byConf: map[string][]string{}, istags: map[string]string{},
		kept: map[string]string{},
	}
	if opts.PruneOverSizeLimit {
		p.cutoff = opts.Now
		p.limits = imageLimits(in.LimitRanges)
	}
	for i := range in.Images {
		info := newImageInfo(&in.Images[i])
		p.images[info.img.Name] = info
		if info.config != "" {
			p.byConf[info.config] = append(p.byConf[info.config], info.img.Name)
		}
	}
	for _, s := range in.Streams {
		for _, t := range s.Status.Tags {
			if len(t.Items) > 0 {
				p.istags[s.Namespace+"/"+s.Name+":"+t.Tag] = t.Items[0].Image
			}
		}
	}
	p.keepByStreams()
	p.keepByReferrers()
	p.keepByAge()
	if len(p.bad) > 0 && !opts.IgnoreInvalidRefs {
		sort.Strings(p.bad)
		return nil, &BadReferenceError{Refs: p.bad}
	}
	p.keepIndexChildren()

	plan := &Plan{Kept: p.kept, images: p.images, opts: opts, cutoff: p.cutoff, refs: map[string][]string{}}
	prune := map[string]bool{}
	for name := range p.images {
		if _, ok := p.kept[name]; !ok {
			plan.Prune = append(plan.Prune, name)
			prune[name] = true
		}
	}
	sort.Strings(plan.Prune)
	for _, s := range in.Streams {
		if _, updated, deleted := TrimHistory(s.Status.Tags, prune, p.images, p.cutoff); len(updated)+len(deleted) > 0 {
			listed := map[string]bool{}
			for _, t := range s.Status.Tags {
				for _, ev := range t.Items {
					listed[t.Tag+"@"+ev.Image] = true
				}
			}
			plan.Streams = append(plan.Streams, StreamChange{Namespace: s.Namespace, Name: s.Name, Updated: updated, Deleted: deleted,
				names: plan.InStream(&s, plan.Prune), listed: listed})
		}
	}
	if opts.Namespace != "" {
		return plan, nil
	}
	plan.collectRepos(in.Streams)
	plan.Registry = plan.RegistryFor(plan.Prune)
	return plan, nil
}

func (p *planner) keep(image, why string) {
	if _, ok := p.images[image]; !ok {
		return
	}
	if _, ok := p.kept[image]; !ok {
		p.kept[image] = why
	}
}

func (p *planner) young(t time.Time) bool { return t.After(p.cutoff) }

// keepByStreams keeps the revisions the policy keeps, and what spec tags name.
func (p *planner) keepByStreams() {
	for _, s := range p.in.Streams {
		streamYoung := !p.opts.PruneOverSizeLimit && p.young(s.CreationTimestamp.Time)
		for _, t := range s.Status.Tags {
			for i, ev := range t.Items {
				info := p.images[ev.Image]
				if info == nil {
					continue
				}
				where := fmt.Sprintf("revision %d of istag %s/%s:%s", i+1, s.Namespace, s.Name, t.Tag)
				switch {
				case p.opts.PruneOverSizeLimit:
					if !p.exceedsLimit(s.Namespace, info) {
						p.keep(ev.Image, where+" (within the project's image size limit)")
					}
				case i < p.opts.KeepTagRevisions:
					p.keep(ev.Image, where)
				case streamYoung:
					p.keep(ev.Image, where+" (the stream is younger than "+p.opts.KeepYoungerThan.String()+")")
				case p.young(ev.Created.Time):
					p.keep(ev.Image, where+" (tagged less than "+p.opts.KeepYoungerThan.String()+" ago)")
				}
			}
		}
		for _, t := range s.Spec.Tags {
			if t.From != nil {
				p.keepObjectRef(s.Namespace, fmt.Sprintf("spec tag %s of image stream %s/%s", t.Name, s.Namespace, s.Name), *t.From)
			}
		}
	}
}

func imageLimits(lrs []corev1.LimitRange) map[string]resource.Quantity {
	out := map[string]resource.Quantity{}
	for _, lr := range lrs {
		for _, l := range lr.Spec.Limits {
			if l.Type != imagev1.LimitTypeImage {
				continue
			}
			q, ok := l.Max[corev1.ResourceStorage]
			if !ok {
				continue
			}
			if cur, ok := out[lr.Namespace]; !ok || q.Cmp(cur) < 0 {
				out[lr.Namespace] = q
			}
		}
	}
	return out
}

func (p *planner) exceedsLimit(ns string, info *imageInfo) bool {
	limit, ok := p.limits[ns]
	return ok && limit.CmpInt64(info.size) < 0
}

// keepByAge keeps images younger than the threshold, and, with --all=false, images that are
// not in the integrated registry.
func (p *planner) keepByAge() {
	for name, info := range p.images {
		if !p.opts.AllImages && !info.managed {
			p.keep(name, "not in the integrated registry (--all=false)")
		}
		if !p.opts.PruneOverSizeLimit && p.young(info.img.CreationTimestamp.Time) {
			p.keep(name, "younger than "+p.opts.KeepYoungerThan.String())
		}
	}
}

// keepIndexChildren keeps the images of kept manifest lists.
func (p *planner) keepIndexChildren() {
	queue := make([]string, 0, len(p.kept))
	for name := range p.kept {
		queue = append(queue, name)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, m := range p.images[name].img.DockerImageManifests {
			if _, ok := p.kept[m.Digest]; !ok && p.images[m.Digest] != nil {
				p.kept[m.Digest] = "an image of manifest list " + name
				queue = append(queue, m.Digest)
			}
		}
	}
}

// keepByReferrers keeps what pods, workloads and builds name.
func (p *planner) keepByReferrers() {
	in := p.in
	for _, o := range in.Pods {
		who := "pod " + o.Namespace + "/" + o.Name
		p.keepPodSpec(o.Namespace, who, &o.Spec)
		for _, st := range slices.Concat(o.Status.InitContainerStatuses, o.Status.ContainerStatuses, o.Status.EphemeralContainerStatuses) {
			p.keepPullSpec(o.Namespace, who+" (status of container "+st.Name+")", st.ImageID)
		}
	}
	for _, o := range in.RCs {
		if o.Spec.Template != nil {
			p.keepPodSpec(o.Namespace, "replication controller "+o.Namespace+"/"+o.Name, &o.Spec.Template.Spec)
		}
	}
	for _, o := range in.ReplicaSets {
		p.keepPodSpec(o.Namespace, "replica set "+o.Namespace+"/"+o.Name, &o.Spec.Template.Spec)
	}
	for _, o := range in.Deployments {
		p.keepPodSpec(o.Namespace, "deployment "+o.Namespace+"/"+o.Name, &o.Spec.Template.Spec)
	}
	for _, o := range in.StatefulSets {
		p.keepPodSpec(o.Namespace, "stateful set "+o.Namespace+"/"+o.Name, &o.Spec.Template.Spec)
	}
	for _, o := range in.DaemonSets {
		p.keepPodSpec(o.Namespace, "daemon set "+o.Namespace+"/"+o.Name, &o.Spec.Template.Spec)
	}
	for _, o := range in.Jobs {
		p.keepPodSpec(o.Namespace, "job "+o.Namespace+"/"+o.Name, &o.Spec.Template.Spec)
	}
	for _, o := range in.CronJobs {
		p.keepPodSpec(o.Namespace, "cron job "+o.Namespace+"/"+o.Name, &o.Spec.JobTemplate.Spec.Template.Spec)
	}
	for _, o := range in.DeploymentConfigs {
		who := "deployment config " + o.Namespace + "/" + o.Name
		if o.Spec.Template != nil {
			p.keepPodSpec(o.Namespace, who, &o.Spec.Template.Spec)
		}
		for _, t := range o.Spec.Triggers {
			if t.ImageChangeParams != nil {
				p.keepObjectRef(o.Namespace, who+" (trigger)", t.ImageChangeParams.From)
				p.keepPullSpec(o.Namespace, who+" (last triggered image)", t.ImageChangeParams.LastTriggeredImage)
			}
		}
	}
	for _, o := range in.BuildConfigs {
		who := "build config " + o.Namespace + "/" + o.Name
		p.keepBuildSpec(o.Namespace, who, &o.Spec.CommonSpec)
		for _, t := range o.Spec.Triggers {
			if ic := t.ImageChange; ic != nil {
				if ic.From != nil {
					p.keepObjectRef(o.Namespace, who+" (trigger)", *ic.From)
				}
				p.keepPullSpec(o.Namespace, who+" (last triggered image)", ic.LastTriggeredImageID)
			}
		}
	}
	for _, o := range in.Builds {
		who := "build " + o.Namespace + "/" + o.Name
		p.keepBuildSpec(o.Namespace, who, &o.Spec.CommonSpec)
		if out := o.Status.Output.To; out != nil && out.ImageDigest != "" {
			p.keep(out.ImageDigest, who+" (output)")
		}
		for _, c := range o.Spec.TriggeredBy {
			if c.ImageChangeBuild != nil {
				p.keepPullSpec(o.Namespace, who+" (triggering image)", c.ImageChangeBuild.ImageID)
			}
		}
	}
}

func (p *planner) keepPodSpec(ns, who string, spec *corev1.PodSpec) {
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		p.keepPullSpec(ns, who+" (container "+c.Name+")", c.Image)
	}
	for _, c := range spec.EphemeralContainers {
		p.keepPullSpec(ns, who+" (ephemeral container "+c.Name+")", c.Image)
	}
}

func (p *planner) keepBuildSpec(ns, who string, spec *buildv1.CommonSpec) {
	s := spec.Strategy
	switch {
	case s.SourceStrategy != nil:
		p.keepObjectRef(ns, who+" (strategy from)", s.SourceStrategy.From)
	case s.DockerStrategy != nil && s.DockerStrategy.From != nil:
		p.keepObjectRef(ns, who+" (strategy from)", *s.DockerStrategy.From)
	case s.CustomStrategy != nil:
		p.keepObjectRef(ns, who+" (strategy from)", s.CustomStrategy.From)
	}
	if spec.Output.To != nil {
		p.keepObjectRef(ns, who+" (output)", *spec.Output.To)
	}
	for _, src := range spec.Source.Images {
		p.keepObjectRef(ns, who+" (source image)", src.From)
	}
}

// keepObjectRef keeps the image an ObjectReference of kind DockerImage, ImageStreamImage or
// ImageStreamTag names; other kinds name no image.
func (p *planner) keepObjectRef(ns, who string, ref corev1.ObjectReference) {
	if ref.Namespace != "" {
		ns = ref.Namespace
	}
	switch ref.Kind {
	case "DockerImage":
		p.keepPullSpec(ns, who, ref.Name)
	case "ImageStreamImage":
		_, id, ok := strings.Cut(ref.Name, "@")
		if !ok || id == "" {
			p.bad = append(p.bad, fmt.Sprintf("%s: ImageStreamImage %q is not <stream>@<digest>", who, ref.Name))
			return
		}
		p.keep(id, who)
	case "ImageStreamTag":
		name, tag, ok := strings.Cut(ref.Name, ":")
		if !ok || name == "" || tag == "" || strings.Contains(tag, ":") {
			p.bad = append(p.bad, fmt.Sprintf("%s: ImageStreamTag %q is not <stream>:<tag>", who, ref.Name))
			return
		}
		p.keepTag(ns, name, tag, who)
	}
}

func (p *planner) keepTag(ns, stream, tag, who string) {
	if img, ok := p.istags[ns+"/"+stream+":"+tag]; ok {
		p.keep(img, who+" (through istag "+ns+"/"+stream+":"+tag+")")
	}
}

// keepPullSpec keeps the image a pull spec names: by digest the image with that digest, by tag
// what the image stream tag of that project and name points to now (whatever the registry host,
// as OpenShift does: a pull spec of another registry with the same path keeps an image too many,
// never one too few). A one-component name (`myapp:v1`, resolved through the stream's local
// lookup policy) is looked up in the referrer's project.
func (p *planner) keepPullSpec(ns, who, spec string) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return
	}
	// Container runtimes report image IDs as docker-pullable://<pull spec>, or as the bare
	// digest of the image or of its configuration.
	if i := strings.Index(spec, "://"); i >= 0 {
		spec = spec[i+3:]
	}
	if strings.HasPrefix(spec, "sha256:") {
		p.keep(spec, who)
		for _, img := range p.byConf[spec] {
			p.keep(img, who)
		}
		return
	}
	ref, err := imageref.Parse(spec)
	if err != nil {
		p.bad = append(p.bad, fmt.Sprintf("%s: image %q: %v", who, spec, err))
		return
	}
	if ref.ID != "" {
		p.keep(ref.ID, who)
		return
	}
	if ref.Name == "" {
		return
	}
	tag := ref.Tag
	if tag == "" {
		tag = "latest"
	}
	refNS := ref.Namespace
	if refNS == "" {
		refNS = ns
	}
	p.keepTag(refNS, ref.Name, tag, who)
}

// TrimHistory removes from a stream's status tags the revisions of pruned images, and those of
// images that no longer exist when older than cutoff. It returns the new tags and which tags lost
// some revisions (updated) or all of them (deleted, no longer in the result).
func TrimHistory(tags []imagev1.NamedTagEventList, prune map[string]bool, exists map[string]*imageInfo, cutoff time.Time) (out []imagev1.NamedTagEventList, updated, deleted []string) {
	for _, t := range tags {
		items := make([]imagev1.TagEvent, 0, len(t.Items))
		for _, ev := range t.Items {
			// An event without an image is a reference tag's pull spec (never imported): not a
			// revision of any image, so never trimmed.
			gone := ev.Image != "" && exists[ev.Image] == nil && !ev.Created.After(cutoff)
			if prune[ev.Image] || gone {
				continue
			}
			items = append(items, ev)
		}
		switch {
		case len(items) == len(t.Items):
			out = append(out, t)
		case len(items) == 0:
			deleted = append(deleted, t.Tag)
		default:
			updated = append(updated, t.Tag)
			nt := *t.DeepCopy()
			nt.Items = items
			out = append(out, nt)
		}
	}
	return out, updated, deleted
}

// Trim removes the revisions of the images of names (the plan's, or what is left of them) from
// a freshly read stream's status tags.
func (p *Plan) Trim(s *imagev1.ImageStream, names []string) (updated, deleted []string) {
	prune := map[string]bool{}
	for _, name := range names {
		prune[name] = true
	}
	s.Status.Tags, updated, deleted = TrimHistory(s.Status.Tags, prune, p.images, p.cutoff)
	return updated, deleted
}

// collectRepos records, for each image of the integrated registry, the repositories its pull specs
// (the image's own and its tag events') name: the repositories holding its manifest.
func (p *Plan) collectRepos(streams []imagev1.ImageStream) {
	add := func(image, spec string) {
		if p.opts.RegistryHost == "" {
			return
		}
		ref, err := imageref.Parse(spec)
		if err != nil || ref.Registry != p.opts.RegistryHost || ref.Namespace == "" || ref.Name == "" {
			return
		}
		repo := ref.Namespace + "/" + ref.Name
		if !slices.Contains(p.refs[image], repo) {
			p.refs[image] = append(p.refs[image], repo)
		}
	}
	for name, info := range p.images {
		add(name, info.img.DockerImageReference)
	}
	for _, s := range streams {
		for _, t := range s.Status.Tags {
			for _, ev := range t.Items {
				add(ev.Image, ev.DockerImageReference)
			}
		}
	}
	for _, repos := range p.refs {
		sort.Strings(repos)
	}
}

// RegistryFor computes the registry deletions for pruning the named images (a subset of
// p.Prune, after failures): their manifests in every repository holding them, and the blobs (with
// their repository layer links) that no other image uses.
func (p *Plan) RegistryFor(prune []string) RegistryPlan {
	pruning := map[string]bool{}
	for _, name := range prune {
		pruning[name] = true
	}
	used := map[string]bool{}
	for name, info := range p.images {
		if pruning[name] {
			continue
		}
		for _, b := range info.blobs() {
			used[b.Digest] = true
		}
	}
	var rp RegistryPlan
	blobs := map[string]Blob{}
	links := map[RepoDigest]bool{}
	for _, name := range prune {
		info := p.images[name]
		if info == nil {
			continue
		}
		rp.Images = append(rp.Images, name)
		if !info.managed {
			continue // only the API object: the registry holds nothing of it
		}
		for _, repo := range p.refs[name] {
			rp.Manifests = append(rp.Manifests, RepoDigest{Repo: repo, Digest: name})
		}
		for _, b := range info.blobs() {
			if used[b.Digest] {
				continue
			}
			if old, ok := blobs[b.Digest]; !ok || old.Size < b.Size {
				blobs[b.Digest] = b
			}
			if b.Kind == "manifest" {
				continue // its repository link went with the manifest
			}
			for _, repo := range p.refs[name] {
				links[RepoDigest{Repo: repo, Digest: b.Digest}] = true
			}
		}
	}
	for l := range links {
		rp.LayerLinks = append(rp.LayerLinks, l)
	}
	for _, b := range blobs {
		rp.Blobs = append(rp.Blobs, b)
	}
	sortRD := func(s []RepoDigest) {
		sort.Slice(s, func(i, j int) bool {
			if s[i].Repo != s[j].Repo {
				return s[i].Repo < s[j].Repo
			}
			return s[i].Digest < s[j].Digest
		})
	}
	sortRD(rp.Manifests)
	sortRD(rp.LayerLinks)
	sort.Slice(rp.Blobs, func(i, j int) bool { return rp.Blobs[i].Digest < rp.Blobs[j].Digest })
	return rp
}

// Retagged returns the images of names that a freshly read stream has tagged since it was listed:
// someone uses them again, so they must not be pruned.
func (sc StreamChange) Retagged(s *imagev1.ImageStream, names []string) []string {
	var out []string
	for _, t := range s.Status.Tags {
		for _, ev := range t.Items {
			if !sc.listed[t.Tag+"@"+ev.Image] && slices.Contains(names, ev.Image) && !slices.Contains(out, ev.Image) {
				out = append(out, ev.Image)
			}
		}
	}
	return out
}

// UsersOf returns the images of names whose manifest, configuration or layers include blob.
func (p *Plan) UsersOf(blob string, names []string) []string {
	var out []string
	for _, name := range names {
		if info := p.images[name]; info != nil {
			for _, b := range info.blobs() {
				if b.Digest == blob {
					out = append(out, name)
					break
				}
			}
		}
	}
	return out
}

// InStream returns the images of names that the stream's status tags name.
func (p *Plan) InStream(s *imagev1.ImageStream, names []string) []string {
	var out []string
	for _, t := range s.Status.Tags {
		for _, ev := range t.Items {
			if slices.Contains(names, ev.Image) && !slices.Contains(out, ev.Image) {
				out = append(out, ev.Image)
			}
		}
	}
	return out
}

// ErrNoRegistryHost is returned when managed images are to be pruned but no stream says where the
// integrated registry is.
var ErrNoRegistryHost = errors.New("cannot tell the integrated registry's host: no image stream has status.dockerImageRepository\nTry: --registry-url")

// RegistryHost returns the integrated registry's host as the streams' status.dockerImageRepository
// names it, else as a managed image's pull spec names it; "" when nothing says.
func RegistryHost(streams []imagev1.ImageStream, images []imagev1.Image) string {
	for _, s := range streams {
		if r := s.Status.DockerImageRepository; r != "" {
			if ref, err := imageref.Parse(r); err == nil && ref.Registry != "" {
				return ref.Registry
			}
		}
	}
	for _, img := range images {
		if img.Annotations[imagev1.ManagedByOpenShiftAnnotation] == "true" {
			if ref, err := imageref.Parse(img.DockerImageReference); err == nil && ref.Registry != "" {
				return ref.Registry
			}
		}
	}
	return ""
}
