package images

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const host = "127.0.0.1:5000"

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

// dg makes a digest from a short name: dg("a") = sha256:aaaa...
func dg(s string) string { return "sha256:" + strings.Repeat(s, 64/len(s)) }

// image is a managed image of repository repo, two days old, with a config "f<name>" and the
// given layers (1000 bytes each; the config 100).
func image(name, repo string, layers ...string) imagev1.Image {
	img := imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: dg(name), CreationTimestamp: ago(48 * time.Hour),
			Annotations: map[string]string{imagev1.ManagedByOpenShiftAnnotation: "true"}},
		DockerImageReference:         host + "/" + repo + "@" + dg(name),
		DockerImageManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
	}
	size := int64(100)
	for _, l := range layers {
		img.DockerImageLayers = append(img.DockerImageLayers, imagev1.ImageLayer{Name: dg(l), LayerSize: 1000})
		size += 1000
	}
	raw, _ := json.Marshal(docker10.DockerImage{ID: dg("f" + name), Size: size})
	img.DockerImageMetadata = runtime.RawExtension{Raw: raw}
	return img
}

// stream is ns/name with tags "tag=img1,img2,..." (newest first), two days old, events a day old.
func stream(ns, name string, tags ...string) imagev1.ImageStream {
	s := imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: ago(48 * time.Hour)},
		Status:     imagev1.ImageStreamStatus{DockerImageRepository: host + "/" + ns + "/" + name},
	}
	for _, t := range tags {
		tag, imgs, _ := strings.Cut(t, "=")
		l := imagev1.NamedTagEventList{Tag: tag}
		for _, i := range strings.Split(imgs, ",") {
			l.Items = append(l.Items, imagev1.TagEvent{Image: dg(i), Created: ago(24 * time.Hour),
				DockerImageReference: host + "/" + ns + "/" + name + "@" + dg(i)})
		}
		s.Status.Tags = append(s.Status.Tags, l)
	}
	return s
}

func podSpec(images ...string) corev1.PodSpec {
	var spec corev1.PodSpec
	for i, img := range images {
		spec.Containers = append(spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	return spec
}

func tmpl(images ...string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: podSpec(images...)}
}

func meta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

func istag(name string) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "ImageStreamTag", Name: name}
}

func defaults() Options {
	return Options{KeepTagRevisions: 1, KeepYoungerThan: time.Hour, AllImages: true, RegistryHost: host, Now: now}
}

// base: p/app:latest has revisions c (newest), b, a; images a, b, c share layer "s".
func base() Inputs {
	return Inputs{
		Images:  []imagev1.Image{image("a", "p/app", "s", "1"), image("b", "p/app", "s", "2"), image("c", "p/app", "s", "3")},
		Streams: []imagev1.ImageStream{stream("p", "app", "latest=c,b,a")},
	}
}

func names(short ...string) []string {
	var out []string
	for _, s := range short {
		out = append(out, dg(s))
	}
	slices.Sort(out)
	return out
}

func TestPlanKeeps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Inputs, *Options)
		prune  []string // short names
	}{
		{"only the newest revision with --keep-tag-revisions=1", nil, []string{"a", "b"}},
		{"two revisions with --keep-tag-revisions=2", func(_ *Inputs, o *Options) { o.KeepTagRevisions = 2 }, []string{"a"}},
		{"nothing tagged with --keep-tag-revisions=0 and no other referrer", func(_ *Inputs, o *Options) { o.KeepTagRevisions = 0 }, []string{"a", "b", "c"}},
		{"an image younger than --keep-younger-than", func(in *Inputs, _ *Options) {
			in.Images[0].CreationTimestamp = ago(30 * time.Minute)
		}, []string{"b"}},
		{"a revision tagged less than --keep-younger-than ago", func(in *Inputs, _ *Options) {
			in.Streams[0].Status.Tags[0].Items[2].Created = ago(10 * time.Minute)
		}, []string{"b"}},
		{"every revision of a stream younger than --keep-younger-than", func(in *Inputs, _ *Options) {
			in.Streams[0].CreationTimestamp = ago(time.Minute)
		}, nil},
		{"everything old enough with --keep-younger-than=0", func(in *Inputs, o *Options) {
			o.KeepYoungerThan = 0
			in.Images[0].CreationTimestamp = ago(time.Second)
		}, []string{"a", "b"}},
		{"a pod's container by digest", func(in *Inputs, _ *Options) {
			in.Pods = []corev1.Pod{{ObjectMeta: meta("q", "x"), Spec: podSpec(host + "/p/app@" + dg("a"))}}
		}, []string{"b"}},
		{"a pod's init container", func(in *Inputs, _ *Options) {
			in.Pods = []corev1.Pod{{ObjectMeta: meta("q", "x"), Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i", Image: "elsewhere.io/p/app@" + dg("a")}}}}}
		}, []string{"b"}},
		{"a pod's container status image ID", func(in *Inputs, _ *Options) {
			in.Pods = []corev1.Pod{{ObjectMeta: meta("q", "x"), Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ImageID: host + "/p/app@" + dg("b")}}}}}
		}, []string{"a"}},
		{"a pod's container status image ID given as the configuration's digest", func(in *Inputs, _ *Options) {
			in.Pods = []corev1.Pod{{ObjectMeta: meta("q", "x"), Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ImageID: "docker-pullable://" + dg("fb")}}}}}
		}, []string{"a"}},
		{"a pod naming an image stream tag: the image it points to now", func(in *Inputs, o *Options) {
			o.KeepTagRevisions = 0
			in.Pods = []corev1.Pod{{ObjectMeta: meta("q", "x"), Spec: podSpec(host + "/p/app:latest")}}
		}, []string{"a", "b"}},
		{"a pod naming a tag of its own project by stream name (local lookup)", func(in *Inputs, o *Options) {
			o.KeepTagRevisions = 0
			in.Pods = []corev1.Pod{{ObjectMeta: meta("p", "x"), Spec: podSpec("app")}}
		}, []string{"a", "b"}},
		{"a replication controller", func(in *Inputs, _ *Options) {
			tp := tmpl("p/app@" + dg("a"))
			in.RCs = []corev1.ReplicationController{{ObjectMeta: meta("q", "x"), Spec: corev1.ReplicationControllerSpec{Template: &tp}}}
		}, []string{"b"}},
		{"a replica set", func(in *Inputs, _ *Options) {
			in.ReplicaSets = []kappsv1.ReplicaSet{{ObjectMeta: meta("q", "x"), Spec: kappsv1.ReplicaSetSpec{Template: tmpl(host + "/p/app@" + dg("a"))}}}
		}, []string{"b"}},
		{"a deployment", func(in *Inputs, _ *Options) {
			in.Deployments = []kappsv1.Deployment{{ObjectMeta: meta("q", "x"), Spec: kappsv1.DeploymentSpec{Template: tmpl(host + "/p/app@" + dg("b"))}}}
		}, []string{"a"}},
		{"a stateful set", func(in *Inputs, _ *Options) {
			in.StatefulSets = []kappsv1.StatefulSet{{ObjectMeta: meta("q", "x"), Spec: kappsv1.StatefulSetSpec{Template: tmpl(host + "/p/app@" + dg("b"))}}}
		}, []string{"a"}},
		{"a daemon set", func(in *Inputs, _ *Options) {
			in.DaemonSets = []kappsv1.DaemonSet{{ObjectMeta: meta("q", "x"), Spec: kappsv1.DaemonSetSpec{Template: tmpl(host + "/p/app@" + dg("b"))}}}
		}, []string{"a"}},
		{"a job", func(in *Inputs, _ *Options) {
			in.Jobs = []batchv1.Job{{ObjectMeta: meta("q", "x"), Spec: batchv1.JobSpec{Template: tmpl(host + "/p/app@" + dg("b"))}}}
		}, []string{"a"}},
		{"a cron job", func(in *Inputs, _ *Options) {
			in.CronJobs = []batchv1.CronJob{{ObjectMeta: meta("q", "x"), Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl(host + "/p/app@" + dg("b"))}}}}}
		}, []string{"a"}},
		{"a deployment config's template", func(in *Inputs, _ *Options) {
			tp := tmpl(host + "/p/app@" + dg("a"))
			in.DeploymentConfigs = []appsv1.DeploymentConfig{{ObjectMeta: meta("q", "x"), Spec: appsv1.DeploymentConfigSpec{Template: &tp}}}
		}, []string{"b"}},
		{"a deployment config's image change trigger (an istag of its project)", func(in *Inputs, o *Options) {
			o.KeepTagRevisions = 0
			in.DeploymentConfigs = []appsv1.DeploymentConfig{{ObjectMeta: meta("p", "x"), Spec: appsv1.DeploymentConfigSpec{Triggers: []appsv1.DeploymentTriggerPolicy{{
				Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{From: istag("app:latest")},
			}}}}}
		}, []string{"a", "b"}},
		{"a build config's strategy from (an istag of another project)", func(in *Inputs, o *Options) {
			o.KeepTagRevisions = 0
			from := istag("app:latest")
			from.Namespace = "p"
			in.BuildConfigs = []buildv1.BuildConfig{{ObjectMeta: meta("q", "x"), Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
				Strategy: buildv1.BuildStrategy{SourceStrategy: &buildv1.SourceBuildStrategy{From: from}},
			}}}}
		}, []string{"a", "b"}},
		{"a build's docker strategy from an image stream image", func(in *Inputs, _ *Options) {
			in.Builds = []buildv1.Build{{ObjectMeta: meta("p", "x"), Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
				Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "app@" + dg("a")}}},
			}}}}
		}, []string{"b"}},
		{"a build's output digest", func(in *Inputs, _ *Options) {
			in.Builds = []buildv1.Build{{ObjectMeta: meta("p", "x"), Status: buildv1.BuildStatus{Output: buildv1.BuildStatusOutput{To: &buildv1.BuildStatusOutputTo{ImageDigest: dg("b")}}}}}
		}, []string{"a"}},
		{"a build config's source image by DockerImage digest", func(in *Inputs, _ *Options) {
			in.BuildConfigs = []buildv1.BuildConfig{{ObjectMeta: meta("p", "x"), Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
				Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}},
				Source:   buildv1.BuildSource{Images: []buildv1.ImageSource{{From: corev1.ObjectReference{Kind: "DockerImage", Name: host + "/p/app@" + dg("a")}}}},
			}}}}
		}, []string{"b"}},
		{"a spec tag from an image stream image", func(in *Inputs, _ *Options) {
			in.Streams[0].Spec.Tags = []imagev1.TagReference{{Name: "pinned", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "app@" + dg("a")}}}
		}, []string{"b"}},
		{"a revision of another stream (tagged across streams)", func(in *Inputs, _ *Options) {
			s := stream("q", "copy", "v1=b")
			s.Status.Tags[0].Items[0].DockerImageReference = host + "/p/app@" + dg("b")
			in.Streams = append(in.Streams, s)
		}, []string{"a"}},
		{"images not in the integrated registry with --all=false", func(in *Inputs, o *Options) {
			o.AllImages = false
			delete(in.Images[0].Annotations, imagev1.ManagedByOpenShiftAnnotation)
		}, []string{"b"}},
		{"a pod of a project whose stream has the tag name does not keep another project's tag", func(in *Inputs, o *Options) {
			o.KeepTagRevisions = 0
			in.Pods = []corev1.Pod{{ObjectMeta: meta("q", "x"), Spec: podSpec("app:latest")}}
		}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, opts := base(), defaults()
			if tt.mutate != nil {
				tt.mutate(&in, &opts)
			}
			plan, err := NewPlan(in, opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := names(tt.prune...); !slices.Equal(plan.Prune, want) {
				t.Errorf("prune %v, want %v; kept: %v", plan.Prune, want, plan.Kept)
			}
		})
	}
}

func TestPlanKeepsByLimitRange(t *testing.T) {
	t.Parallel()
	in, opts := base(), defaults()
	opts.PruneOverSizeLimit = true
	opts.KeepTagRevisions = 0
	in.Images[1] = image("b", "p/app", "s", "2", "x", "y") // 4100 bytes
	in.LimitRanges = []corev1.LimitRange{{ObjectMeta: meta("p", "limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: imagev1.LimitTypeImage, Max: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("3000")},
	}}}}}
	plan, err := NewPlan(in, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := names("b"); !slices.Equal(plan.Prune, want) {
		t.Errorf("prune %v, want only the image over the limit %v", plan.Prune, want)
	}
}

func TestPlanTrimsTagHistory(t *testing.T) {
	t.Parallel()
	in := base()
	in.Streams = append(in.Streams, stream("p", "old", "v1=a", "v2=c,a"))
	plan, err := NewPlan(in, defaults())
	if err != nil {
		t.Fatal(err)
	}
	want := []StreamChange{
		{Namespace: "p", Name: "app", Updated: []string{"latest"}},
		// v1=a is its only revision: a is kept as the newest revision of v1.
	}
	if len(plan.Streams) != 1 || plan.Streams[0].Name != "app" || !slices.Equal(plan.Streams[0].Updated, want[0].Updated) || len(plan.Streams[0].Deleted) > 0 {
		t.Fatalf("stream changes %+v, want %+v", plan.Streams, want)
	}
	if want := names("b"); !slices.Equal(plan.Prune, want) {
		t.Fatalf("prune %v, want %v", plan.Prune, want)
	}
	s := in.Streams[0].DeepCopy()
	updated, deleted := plan.Trim(s, plan.Prune)
	if !slices.Equal(updated, []string{"latest"}) || deleted != nil {
		t.Errorf("trim: updated %v deleted %v", updated, deleted)
	}
	var got []string
	for _, ev := range s.Status.Tags[0].Items {
		got = append(got, ev.Image)
	}
	if want := []string{dg("c"), dg("a")}; !slices.Equal(got, want) {
		t.Errorf("latest's history after trimming: %v, want %v", got, want)
	}

	// With no revision kept and nothing else naming the images, tags lose all their history.
	opts := defaults()
	opts.KeepTagRevisions = 0
	plan, err = NewPlan(in, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range plan.Streams {
		if len(sc.Updated) > 0 || len(sc.Deleted) == 0 {
			t.Errorf("%s: updated %v deleted %v, want every tag deleted", sc.Name, sc.Updated, sc.Deleted)
		}
	}
}

func TestPlanTrimsRevisionsOfMissingImages(t *testing.T) {
	t.Parallel()
	in := base()
	in.Streams[0] = stream("p", "app", "latest=c,gone,b")
	in.Streams[0].Status.Tags[0].Items[1].Created = ago(2 * time.Hour)
	in.Images = in.Images[1:] // b, c
	plan, err := NewPlan(in, defaults())
	if err != nil {
		t.Fatal(err)
	}
	s := in.Streams[0].DeepCopy()
	plan.Trim(s, plan.Prune)
	if n := len(s.Status.Tags[0].Items); n != 1 {
		t.Errorf("latest keeps %d revisions, want 1 (b is pruned, the image 'gone' no longer exists)", n)
	}
}

// A reference tag (`oc tag --reference`, never imported) has an event with only a pull spec: it is
// not a revision of a missing image, and trimming the stream for other images keeps it.
func TestPlanKeepsReferenceTagEvents(t *testing.T) {
	t.Parallel()
	in := base()
	in.Streams[0] = stream("p", "app", "latest=c,gone,b")
	in.Streams[0].Status.Tags = append(in.Streams[0].Status.Tags, imagev1.NamedTagEventList{Tag: "ext",
		Items: []imagev1.TagEvent{{DockerImageReference: "registry.example.com/x:2", Created: ago(24 * time.Hour)}}})
	in.Images = in.Images[1:] // b, c
	plan, err := NewPlan(in, defaults())
	if err != nil {
		t.Fatal(err)
	}
	s := in.Streams[0].DeepCopy()
	updated, deleted := plan.Trim(s, plan.Prune)
	if slices.Contains(updated, "ext") || slices.Contains(deleted, "ext") {
		t.Errorf("trim changed the reference tag: updated %v deleted %v", updated, deleted)
	}
	if len(s.Status.Tags) != 2 || s.Status.Tags[1].Tag != "ext" || len(s.Status.Tags[1].Items) != 1 {
		t.Errorf("status tags after trimming: %+v, want ext kept", s.Status.Tags)
	}
}

func TestPlanRegistry(t *testing.T) {
	t.Parallel()
	in := base()
	// b is also pushed to q/other, and shares layer "2" with the kept image d there.
	in.Images = append(in.Images, image("d", "q/other", "2", "4"))
	in.Streams = append(in.Streams, stream("q", "other", "latest=d,b"))
	plan, err := NewPlan(in, defaults())
	if err != nil {
		t.Fatal(err)
	}
	rp := plan.Registry
	wantManifests := []RepoDigest{{"p/app", dg("a")}, {"p/app", dg("b")}, {"q/other", dg("b")}}
	if !slices.Equal(rp.Manifests, wantManifests) {
		t.Errorf("manifests %v, want %v", rp.Manifests, wantManifests)
	}
	var blobs []string
	var bytes int64
	for _, b := range rp.Blobs {
		blobs = append(blobs, b.Digest)
		if b.Size > 0 {
			bytes += b.Size
		}
	}
	// a's layer "1", the configs and manifests of a and b. Not the shared layer "s" (c keeps it),
	// not layer "2" (d keeps it).
	wantBlobs := names("1", "fa", "fb", "a", "b")
	if !slices.Equal(blobs, wantBlobs) {
		t.Errorf("blobs %v, want %v", blobs, wantBlobs)
	}
	if bytes != 1000+100+100 {
		t.Errorf("bytes freed %d, want 1200 (a layer and two configurations)", bytes)
	}
	wantLinks := []RepoDigest{{"p/app", dg("1")}, {"p/app", dg("fa")}, {"p/app", dg("fb")}, {"q/other", dg("fb")}}
	if !slices.Equal(rp.LayerLinks, wantLinks) {
		t.Errorf("layer links %v, want %v", rp.LayerLinks, wantLinks)
	}
	if !slices.Equal(rp.Images, names("a", "b")) {
		t.Errorf("images %v", rp.Images)
	}
}

func TestPlanImportedImagesLoseOnlyTheirAPIObject(t *testing.T) {
	t.Parallel()
	in := base()
	ext := image("e", "p/app", "9")
	ext.Annotations = nil
	ext.DockerImageReference = "quay.io/x/y@" + dg("e")
	in.Images = append(in.Images, ext)
	in.Streams[0].Status.Tags[0].Items = append(in.Streams[0].Status.Tags[0].Items, imagev1.TagEvent{Image: dg("e"), Created: ago(24 * time.Hour), DockerImageReference: ext.DockerImageReference})
	plan, err := NewPlan(in, defaults())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(plan.Prune, dg("e")) {
		t.Fatalf("the imported image is not pruned: %v", plan.Kept[dg("e")])
	}
	for _, b := range plan.Registry.Blobs {
		if b.Digest == dg("9") || b.Digest == dg("e") {
			t.Errorf("the imported image's blob %s would be deleted from the integrated registry", b.Digest)
		}
	}
	for _, m := range plan.Registry.Manifests {
		if m.Digest == dg("e") {
			t.Errorf("the imported image's manifest would be deleted from %s", m.Repo)
		}
	}
}

func TestPlanKeepsImagesOfKeptManifestLists(t *testing.T) {
	t.Parallel()
	in := base()
	idx := image("i", "p/app")
	idx.DockerImageMetadata = runtime.RawExtension{}
	idx.DockerImageManifests = []imagev1.ImageManifest{{Digest: dg("a")}, {Digest: dg("b")}}
	in.Images = append(in.Images, idx)
	in.Streams = append(in.Streams, stream("p", "multi", "latest=i"))
	plan, err := NewPlan(in, defaults())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Prune) != 0 {
		t.Errorf("prune %v, want nothing: a and b are the images of the kept list i", plan.Prune)
	}
}

func TestPlanRefusesBadReferences(t *testing.T) {
	t.Parallel()
	in, opts := base(), defaults()
	in.Pods = []corev1.Pod{{ObjectMeta: meta("q", "broken"), Spec: podSpec("Not A Reference!")}}
	_, err := NewPlan(in, opts)
	if err == nil || !strings.Contains(err.Error(), "pod q/broken") || !strings.Contains(err.Error(), "--ignore-invalid-refs") {
		t.Fatalf("err = %v, want the bad reference of pod q/broken and the hint", err)
	}
	opts.IgnoreInvalidRefs = true
	plan, err := NewPlan(in, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Prune, names("a", "b")) {
		t.Errorf("prune %v with --ignore-invalid-refs", plan.Prune)
	}
}

func TestRegistryHost(t *testing.T) {
	t.Parallel()
	in := base()
	if got := RegistryHost(in.Streams, in.Images); got != host {
		t.Errorf("from streams: %q", got)
	}
	if got := RegistryHost(nil, in.Images); got != host {
		t.Errorf("from images: %q", got)
	}
	if got := RegistryHost(nil, nil); got != "" {
		t.Errorf("from nothing: %q", got)
	}
}
