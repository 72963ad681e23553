package adm

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	appsfake "github.com/openshift/client-go/apps/clientset/versioned/fake"
	buildfake "github.com/openshift/client-go/build/clientset/versioned/fake"
	imagefake "github.com/openshift/client-go/image/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

func pruneFixture(now time.Time) (*imagefake.Clientset, *kubefake.Clientset) {
	old := metav1.NewTime(now.Add(-48 * time.Hour))
	img := func(d string) *imagev1.Image {
		raw, _ := json.Marshal(docker10.DockerImage{ID: "sha256:" + strings.Repeat("c", 64), Size: 10})
		return &imagev1.Image{
			ObjectMeta:           metav1.ObjectMeta{Name: d, CreationTimestamp: old, Annotations: map[string]string{imagev1.ManagedByOpenShiftAnnotation: "true"}},
			DockerImageReference: "127.0.0.1:5000/p/app@" + d, DockerImageMetadata: runtime.RawExtension{Raw: raw},
		}
	}
	a, b := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: "app", CreationTimestamp: old},
		Status: imagev1.ImageStreamStatus{DockerImageRepository: "127.0.0.1:5000/p/app", Tags: []imagev1.NamedTagEventList{{
			Tag: "latest", Items: []imagev1.TagEvent{{Image: b, Created: old}, {Image: a, Created: old}},
		}}},
	}
	return imagefake.NewClientset(img(a), img(b), stream), kubefake.NewClientset()
}

func TestPruneImagesDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	now := time.Now()
	images, kube := pruneFixture(now)
	var out, errOut bytes.Buffer
	o := &PruneImagesOptions{
		KeepTagRevisions: 1, KeepYoungerThan: time.Hour, AllImages: true,
		Config: &rest.Config{}, Kube: kube, Images: images.ImageV1(),
		Apps: appsfake.NewClientset().AppsV1(), Builds: buildfake.NewClientset().BuildV1(),
		Now:       func() time.Time { return now },
		IOStreams: genericiooptions.IOStreams{Out: &out, ErrOut: &errOut},
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(t.Context()); err != nil {
		t.Fatalf("dry run: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "Dry run enabled - no modifications will be made. Add --confirm to remove images") {
		t.Errorf("stderr lacks oc's dry-run notice: %q", errOut.String())
	}
	for _, w := range []string{"Updating istags p/app: latest", "sha256:" + strings.Repeat("a", 64), "Summary: Would delete 1 image,"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	for _, a := range append(images.Actions(), kube.Actions()...) {
		if a.GetVerb() != "list" {
			t.Errorf("the dry run did %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	if len(images.Actions()) == 0 {
		t.Error("the dry run listed no images")
	}
}

func TestPruneImagesFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--keep-tag-revisions=-1"}, "--keep-tag-revisions must be 0 or more"},
		{[]string{"--keep-younger-than=-1m"}, "--keep-younger-than must be 0 or more"},
		{[]string{"--prune-over-size-limit", "--keep-tag-revisions=2"}, "cannot be combined"},
		{[]string{"--registry-url=ftp://x"}, "the scheme must be http or https"},
		{[]string{"--registry-url=x:5000/path"}, "no path or query"},
		{[]string{"--force-insecure", "--certificate-authority=/ca.crt"}, "cannot be combined with --force-insecure"},
	} {
		cmd := NewCommand(genericclioptions.NewConfigFlags(true), genericiooptions.NewTestIOStreamsDiscard(), func() {})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs(append([]string{"prune", "images", "--server", "https://127.0.0.1:1"}, tt.args...))
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
	// The defaults are oc's.
	cmd := NewCommand(genericclioptions.NewConfigFlags(true), genericiooptions.NewTestIOStreamsDiscard(), func() {})
	images, _, err := cmd.Find([]string{"prune", "images"})
	if err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"keep-tag-revisions": "3", "keep-younger-than": "1h0m0s", "all": "true", "confirm": "false", "prune-over-size-limit": "false"} {
		if got := images.Flag(flag).DefValue; got != want {
			t.Errorf("--%s defaults to %s, want %s", flag, got, want)
		}
	}
}
