package image

import (
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	"github.com/openshift/client-go/image/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
)

const (
	imgA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	imgB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// tagFlags are the flags of one run of `gantry tag`.
type tagFlags struct {
	source                                        string
	delete, alias, reference, scheduled, insecure bool
	policy                                        string
}

func runTag(t *testing.T, objects []runtime.Object, f tagFlags, args ...string) (*fake.Clientset, string, error) {
	t.Helper()
	cs := fakeServer(t, objects...)
	streams, out, _ := testStreams()
	policy := f.policy
	if policy == "" {
		policy = SourceReferencePolicy
	}
	o := &TagOptions{
		Client: cs.ImageV1(), Namespace: "dev", SourceKind: f.source, Delete: f.delete, Alias: f.alias,
		Reference: f.reference, Scheduled: f.scheduled, Insecure: f.insecure, ReferencePolicy: policy, IOStreams: streams,
	}
	err := o.CompleteArgs(args)
	if err == nil {
		err = o.Validate()
	}
	if err == nil {
		err = o.Run(t.Context())
	}
	return cs, out.String(), err
}

func TestTagWritesSpecTags(t *testing.T) {
	echo := stream("dev", "echo", map[string]string{"v1": imgA})
	shared := stream("shared", "base", map[string]string{"1": imgB})
	pulled := stream("dev", "pulled", nil)
	pulled.Status.Tags = []imagev1.NamedTagEventList{{Tag: "ext", Items: []imagev1.TagEvent{{DockerImageReference: "quay.io/team/app:3"}}}}
	objects := []runtime.Object{echo, shared, pulled}

	cases := []struct {
		name   string
		flags  tagFlags
		args   []string
		out    string
		ns     string // of the destination stream (dev if empty)
		stream string
		tag    string
		want   imagev1.TagReference
	}{
		{
			name: "a tag is resolved to the image it points at",
			args: []string{"echo:v1", "echo:prod"}, stream: "echo", tag: "prod",
			out:  "Tag echo:prod set to echo@" + imgA + ".\n",
			want: imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "echo@" + imgA}},
		},
		{
			name:  "an alias tracks its source tag",
			flags: tagFlags{alias: true}, args: []string{"echo:v1", "echo:prod"}, stream: "echo", tag: "prod",
			out:  "Tag echo:prod set up to track echo:v1.\n",
			want: imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "echo:v1"}},
		},
		{
			name: "into another project the source names its project",
			args: []string{"echo:v1", "prod/echo:live"}, ns: "prod", stream: "echo", tag: "live",
			out:  "Tag prod/echo:live set to echo@" + imgA + ".\n",
			want: imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "echo@" + imgA, Namespace: "dev"}},
		},
		{
			name: "a source in another project is read there",
			args: []string{"shared/base:1", "app:base"}, stream: "app", tag: "base",
			out:  "Tag app:base set to shared/base@" + imgB + ".\n",
			want: imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "base@" + imgB, Namespace: "shared"}},
		},
		{
			name: "an image by digest",
			args: []string{"echo@" + imgB, "echo:pinned"}, stream: "echo", tag: "pinned",
			out:  "Tag echo:pinned set to echo@" + imgB + ".\n",
			want: imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "echo@" + imgB}},
		},
		{
			name: "a tag pulled by reference becomes its pull spec",
			args: []string{"pulled:ext", "pulled:copy"}, stream: "pulled", tag: "copy",
			out:  "Tag pulled:copy set to quay.io/team/app:3.\n",
			want: imagev1.TagReference{From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/team/app:3"}, Generation: new(int64)},
		},
		{
			name: "a pull spec naming a registry is an external image",
			args: []string{"docker.io/library/nginx:1.25", "web:nginx"}, stream: "web", tag: "nginx",
			out:  "Tag web:nginx set to docker.io/library/nginx:1.25.\n",
			want: imagev1.TagReference{From: &corev1.ObjectReference{Kind: "DockerImage", Name: "docker.io/library/nginx:1.25"}, Generation: new(int64)},
		},
		{
			name:  "--source=docker for a pull spec without a registry",
			flags: tagFlags{source: "docker"}, args: []string{"nginx:1.25", "web:nginx"}, stream: "web", tag: "nginx",
			out:  "Tag web:nginx set to nginx:1.25.\n",
			want: imagev1.TagReference{From: &corev1.ObjectReference{Kind: "DockerImage", Name: "nginx:1.25"}, Generation: new(int64)},
		},
		{
			name:  "scheduled, insecure and local",
			flags: tagFlags{scheduled: true, insecure: true, policy: "local"},
			args:  []string{"registry.example.com:5000/team/app:2", "app:2"}, stream: "app", tag: "2",
			out: "Tag app:2 set to import registry.example.com:5000/team/app:2 periodically.\n",
			want: imagev1.TagReference{
				From:         &corev1.ObjectReference{Kind: "DockerImage", Name: "registry.example.com:5000/team/app:2"},
				ImportPolicy: imagev1.TagImportPolicy{Scheduled: true, Insecure: true}, Generation: new(int64),
				ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy},
			},
		},
		{
			name:  "--reference",
			flags: tagFlags{reference: true, source: "istag", alias: true}, args: []string{"echo:v1", "echo:ref"}, stream: "echo", tag: "ref",
			out:  "Tag echo:ref set up to track echo:v1.\n",
			want: imagev1.TagReference{Reference: true, From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "echo:v1"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs, out, err := runTag(t, objects, c.flags, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if out != c.out {
				t.Errorf("output %q, want %q", out, c.out)
			}
			ns := c.ns
			if ns == "" {
				ns = "dev"
			}
			obj, err := cs.Tracker().Get(streamsGVR, ns, c.stream)
			if err != nil {
				t.Fatalf("stream %s/%s: %v", ns, c.stream, err)
			}
			got := specTag(obj.(*imagev1.ImageStream), c.tag)
			if got == nil {
				t.Fatalf("no spec tag %s in %+v", c.tag, obj)
			}
			want := c.want
			want.Name = c.tag
			if want.ReferencePolicy.Type == "" {
				want.ReferencePolicy.Type = imagev1.SourceTagReferencePolicy
			}
			if !equalTagRef(*got, want) {
				t.Errorf("spec tag\n got %+v from %+v\nwant %+v from %+v", *got, got.From, want, want.From)
			}
		})
	}
}

func equalTagRef(a, b imagev1.TagReference) bool {
	genA, genB := int64(-1), int64(-1)
	if a.Generation != nil {
		genA = *a.Generation
	}
	if b.Generation != nil {
		genB = *b.Generation
	}
	return a.Name == b.Name && a.Reference == b.Reference && genA == genB && a.ImportPolicy == b.ImportPolicy &&
		a.ReferencePolicy == b.ReferencePolicy && (a.From == nil) == (b.From == nil) && (a.From == nil || *a.From == *b.From)
}

func TestTagSeveralDestinationsAndExistingTags(t *testing.T) {
	echo := stream("dev", "echo", map[string]string{"v1": imgA, "v2": imgB},
		imagev1.TagReference{Name: "prod", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "echo@" + imgA}})
	cs, out, err := runTag(t, []runtime.Object{echo}, tagFlags{}, "echo:v2", "echo:prod", "echo:stage", "other:v2")
	if err != nil {
		t.Fatal(err)
	}
	want := "Tag echo:prod set to echo@" + imgB + ".\nTag echo:stage set to echo@" + imgB + ".\nTag other:v2 set to echo@" + imgB + ".\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	tracker := cs.Tracker()
	obj, _ := tracker.Get(streamsGVR, "dev", "echo")
	s := obj.(*imagev1.ImageStream)
	if len(s.Spec.Tags) != 2 || specTag(s, "prod").From.Name != "echo@"+imgB || specTag(s, "stage") == nil {
		t.Errorf("echo spec tags %+v", s.Spec.Tags)
	}
	if _, err := tracker.Get(streamsGVR, "dev", "other"); err != nil {
		t.Errorf("stream other not created: %v", err)
	}
}

func TestTagDelete(t *testing.T) {
	echo := stream("dev", "echo", map[string]string{"v1": imgA, "v2": imgB},
		imagev1.TagReference{Name: "v1"}, imagev1.TagReference{Name: "v2"})
	cs, out, err := runTag(t, []runtime.Object{echo}, tagFlags{delete: true}, "echo:v1")
	if err != nil {
		t.Fatal(err)
	}
	if out != "Deleted tag dev/echo:v1.\n" {
		t.Errorf("output %q", out)
	}
	obj, _ := cs.Tracker().Get(streamsGVR, "dev", "echo")
	s := obj.(*imagev1.ImageStream)
	if len(s.Spec.Tags) != 1 || s.Spec.Tags[0].Name != "v2" || len(s.Status.Tags) != 1 || s.Status.Tags[0].Tag != "v2" {
		t.Errorf("after delete: spec %+v status %+v", s.Spec.Tags, s.Status.Tags)
	}
}

func TestTagErrors(t *testing.T) {
	echo := stream("dev", "echo", map[string]string{"v1": imgA}, imagev1.TagReference{Name: "empty"})
	objects := []runtime.Object{echo}
	cases := []struct {
		name  string
		flags tagFlags
		args  []string
		want  []string
	}{
		{"no destination", tagFlags{}, []string{"echo:v1"}, []string{"you must specify a source and at least one destination", "Try: gantry tag SOURCE STREAM:TAG"}},
		{"no tag in the destination", tagFlags{}, []string{"echo:v1", "echo"}, []string{`"echo" must be of the form <stream_name>:<tag>`, "Try: echo:latest"}},
		{"too many slashes in the destination", tagFlags{}, []string{"echo:v1", "a/b/c:d"}, []string{`invalid image stream "a/b/c:d"`}},
		{"a bad source", tagFlags{}, []string{"Echo:V1", "echo:prod"}, []string{`invalid SOURCE "Echo:V1"`, "Try: stream:tag"}},
		{"an unknown --source", tagFlags{source: "git"}, []string{"echo:v1", "echo:prod"}, []string{`invalid source "git"; valid values are docker, dockerimage, imagestreamimage, imagestreamtag, isimage, istag`}},
		{"a registry with --source=istag", tagFlags{source: "istag"}, []string{"quay.io/a/b:1", "echo:prod"}, []string{"server in SOURCE is only allowed when providing a Docker image", "Try: gantry tag --source=docker"}},
		{"--source=isimage without a digest", tagFlags{source: "isimage"}, []string{"echo:v1", "echo:prod"}, []string{"--source=ImageStreamImage requires a valid <name>@<id>"}},
		{"import flags on an image stream tag", tagFlags{scheduled: true}, []string{"echo:v1", "echo:prod"}, []string{"only Docker images can have importing flags set", "Try: --source=docker"}},
		{"an alias into another stream", tagFlags{alias: true}, []string{"echo:v1", "other:prod"}, []string{"cannot set alias across different Image Streams", "Try: gantry tag echo:v1 other:prod, without --alias"}},
		{"an alias into another project", tagFlags{alias: true}, []string{"echo:v1", "prod/echo:prod"}, []string{"cannot set alias across different Image Streams"}},
		{"--alias with --delete", tagFlags{alias: true, delete: true}, []string{"echo:v1"}, []string{"--alias and --delete may not be both specified"}},
		{"import flags with --delete", tagFlags{insecure: true, delete: true}, []string{"echo:v1"}, []string{"cannot set flags for importing images when deleting a tag"}},
		{"a bad reference policy", tagFlags{policy: "pullthrough"}, []string{"echo:v1", "echo:prod"}, []string{"reference policy must be set to 'source' or 'local'"}},
		{"a source tag without an image", tagFlags{}, []string{"echo:empty", "echo:prod"}, []string{`"echo:empty" is not currently pointing to an image, cannot use it as the source of a tag`, "Try: gantry describe imagestream echo -n dev"}},
		{"a source stream that does not exist", tagFlags{}, []string{"nope:v1", "echo:prod"}, []string{"source nope:v1: image stream nope does not exist in project dev", "Try: gantry get imagestreams -n dev"}},
		{"deleting a tag that does not exist", tagFlags{delete: true}, []string{"echo:v9"}, []string{"delete tag dev/echo:v9: the tag does not exist", "Try: gantry get imagestreamtags -n dev"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, out, err := runTag(t, objects, c.flags, c.args...)
			if err == nil {
				t.Fatalf("no error; output %q", out)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if out != "" {
				t.Errorf("output %q on error", out)
			}
		})
	}
}

func TestTagForbiddenSaysWhatToAskFor(t *testing.T) {
	cs := fakeServer(t)
	forbid := func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(imagev1.Resource("imagestreamtags"), "web:1", nil)
	}
	cs.PrependReactor("update", "imagestreamtags", forbid)
	cs.PrependReactor("create", "imagestreamtags", forbid)
	streams, out, _ := testStreams()
	o := &TagOptions{Client: cs.ImageV1(), Namespace: "dev", ReferencePolicy: SourceReferencePolicy, IOStreams: streams}
	if err := o.CompleteArgs([]string{"quay.io/team/web:1", "web:1"}); err != nil {
		t.Fatal(err)
	}
	err := o.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "tag dev/web:1: ") || !strings.Contains(err.Error(), "Try: ask an admin of project dev for the edit role") {
		t.Errorf("error %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("output %q", out)
	}
}
