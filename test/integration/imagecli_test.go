package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/images"
	"github.com/gantry-dev/gantry/test/harness"
)

// `gantry tag` and `gantry import-image` as a user types them, against the test cluster: tags
// copied and tracking within a pushed stream, into another project, deleted, from an external
// pull spec; an import the cluster refuses (its own registry) fails with the refusal; an import
// from an allowed registry (through an openshift-apiserver that allows 127.0.0.1) prints the
// stream and the image.
func TestImageCLI(t *testing.T) {
	ctx := t.Context()
	ns, other := "imagecli", "imagecli-other"
	for _, n := range []string{ns, other} {
		if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer cluster.Client.CoreV1().Namespaces().Delete(context.Background(), n, metav1.DeleteOptions{})
	}
	if _, err := harness.PushEchoImage(ctx, cluster, ns, "v1"); err != nil {
		t.Fatal(err)
	}
	cli := newCLI(t)
	istags := imageClient(t).ImageV1().ImageStreamTags(ns)
	imageOf := func(ns, name string) string {
		t.Helper()
		ist, err := imageClient(t).ImageV1().ImageStreamTags(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("image stream tag %s/%s: %v", ns, name, err)
		}
		return ist.Image.Name
	}
	v1 := imageOf(ns, "echo:v1")

	wantOutput(t, cli.run("", "tag", "-n", ns, "echo:v1", "echo:prod"), "Tag echo:prod set to echo@"+v1+".\n")
	wantOutput(t, cli.run("", "tag", "-n", ns, "--alias", "echo:v1", "echo:latest"), "Tag echo:latest set up to track echo:v1.\n")
	wantOutput(t, cli.run("", "tag", "-n", ns, "echo:v1", other+"/copy:v1"), "Tag "+other+"/copy:v1 set to echo@"+v1+".\n")
	for _, tag := range []struct{ ns, name string }{{ns, "echo:prod"}, {ns, "echo:latest"}, {other, "copy:v1"}} {
		if got := imageOf(tag.ns, tag.name); got != v1 {
			t.Errorf("%s/%s is image %s, want echo:v1's %s", tag.ns, tag.name, got, v1)
		}
	}

	// A new image on v1: the alias follows it, the copy keeps the image it was given.
	token, err := cluster.RegistryToken(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.Push(ctx, testImage(t), harness.Registry+"/"+ns+"/echo:v1", &authn.Bearer{Token: token}); err != nil {
		t.Fatal(err)
	}
	v1b := imageOf(ns, "echo:v1")
	if v1b == v1 {
		t.Fatalf("the second push did not change echo:v1 (%s)", v1)
	}
	if got := imageOf(ns, "echo:latest"); got != v1b {
		t.Errorf("echo:latest (--alias of echo:v1) is %s, want the new %s", got, v1b)
	}
	if got := imageOf(ns, "echo:prod"); got != v1 {
		t.Errorf("echo:prod (a copy of echo:v1) is %s, want the first image %s", got, v1)
	}

	wantOutput(t, cli.run("", "tag", "-n", ns, "-d", "echo:prod"), "Deleted tag "+ns+"/echo:prod.\n")
	if _, err := istags.Get(ctx, "echo:prod", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("echo:prod after tag -d: %v", err)
	}
	out, err := cli.try("", "tag", "-n", ns, "-d", "echo:prod")
	wantFailure(t, out, err, "error: delete tag "+ns+"/echo:prod: the tag does not exist\nTry: gantry get imagestreamtags -n "+ns+"\n")

	wantOutput(t, cli.run("", "tag", "-n", ns, "--source=docker", "registry.example.com/team/app:1", "ext:1"),
		"Tag ext:1 set to registry.example.com/team/app:1.\n")
	s, err := imageClient(t).ImageV1().ImageStreams(ns).Get(ctx, "ext", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Spec.Tags) != 1 || s.Spec.Tags[0].Name != "1" || s.Spec.Tags[0].From == nil ||
		*s.Spec.Tags[0].From != (corev1.ObjectReference{Kind: "DockerImage", Name: "registry.example.com/team/app:1"}) {
		t.Errorf("ext spec tags %+v", s.Spec.Tags)
	}

	out, err = cli.try("", "tag", "-n", ns, "--alias", "echo:v1", "ext:v1")
	wantFailure(t, out, err, "error: cannot set alias across different Image Streams")

	// The cluster refuses to import from its own registry: the user sees why, and exit code 1.
	out, err = cli.try("", "import-image", "-n", ns, "mirror:v1", "--from="+harness.Registry+"/"+ns+"/echo:v1", "--confirm", "--insecure")
	t.Logf("gantry import-image mirror:v1 (refused):\n%s", out)
	wantFailure(t, out, err, "imagestream.image.openshift.io/mirror imported with errors", "! error: Import failed (Forbidden)",
		"error: tag v1 failed: ", harness.Registry, "--allowed-registries-for-import")
	out, err = cli.try("", "import-image", "-n", ns, "nothere", "--from=quay.io/team/app:1")
	wantFailure(t, out, err, `error: no image stream named "nothere" exists, pass --confirm to create and import`)
	out, err = cli.try("", "import-image", "-n", ns, "echo:v2")
	wantFailure(t, out, err, `error: the tag "v2" does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag`)

	t.Run("import from an allowed registry", func(t *testing.T) { testImportImageCLI(t, cli, ns) })
}

func testImportImageCLI(t *testing.T, cli *gantryCLI, ns string) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := testImage(t)
	if err := remote.Write(ref(t, host+"/team/app:1"), img); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/team/app:2"), testImage(t)); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	startImportAPIServer(t)
	server := fmt.Sprintf("--server=https://%s:%d", harness.NodeIP, importAPIServerPort)

	out := cli.run("", "import-image", server, "-n", ns, "app:1", "--from="+host+"/team/app:1", "--confirm", "--insecure")
	t.Logf("gantry import-image app:1 --from=%s/team/app:1 --confirm --insecure:\n%s", host, out)
	wantContains(t, out, "imagestream.image.openshift.io/app imported\n\n", "Name:\t\t\tapp\n", "Namespace:\t\t"+ns+"\n",
		"Image Lookup:\t\tlocal=true\n", "1\n  tagged from "+host+"/team/app:1\n    will use insecure HTTPS or HTTP connections\n",
		"  * "+host+"/team/app@"+digest.String()+"\n",
		"Image Name:\tapp:1\n", "Docker Image:\t"+host+"/team/app@"+digest.String()+"\n", "Name:\t\t"+digest.String()+"\n",
		"Arch:\t\tamd64\n", "Environment:\tGREETING=hello\n")
	// Again, from the tag's own source.
	wantContains(t, cli.run("", "import-image", server, "-n", ns, "app:1"), "imagestream.image.openshift.io/app imported\n", "Image Name:\tapp:1\n")
	// A whole repository.
	out = cli.run("", "import-image", server, "-n", ns, "repo", "--from="+host+"/team/app", "--all", "--confirm", "--insecure")
	wantContains(t, out, "imagestream.image.openshift.io/repo imported\n", "Image Name:\trepo:1\n", "Image Name:\trepo:2\n")
}

func wantOutput(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// wantFailure checks that the command exited with code 1 and said what was expected.
func wantFailure(t *testing.T, out string, err error, want ...string) {
	t.Helper()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit: %v, want exit code 1\n%s", err, out)
	}
	wantContains(t, out, want...)
}
