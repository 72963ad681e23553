package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gantry-dev/gantry/test/harness"
)

// blobFile is where the registry stores a blob's data.
func blobFile(d v1.Hash) string {
	return filepath.Join(cluster.DataDir, "registry", "docker", "registry", "v2", "blobs", "sha256", d.Hex[:2], d.Hex, "data")
}

func pruneCLI(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"adm", "prune", "images", "--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Three images pushed to one tag, the middle one run by a pod: pruning with one revision kept
// removes the oldest one (its Image, its manifest, its own layer's and configuration's data on
// disk) and keeps the pod's and the tag's images, which still pull; the layer the pruned image
// shared with the kept one stays. The dry run before changes nothing.
func TestPruneImages(t *testing.T) {
	ctx := t.Context()
	cs := cluster.Client
	ns := "prune-images"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := cluster.RegistryToken(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	auth := remote.WithAuth(&authn.Bearer{Token: token})
	repo := harness.Registry + "/" + ns + "/echo"

	// old: a shared layer and its own; running: the echo binary; current: the shared layer and its own.
	shared, err := random.Layer(4096, "application/vnd.oci.image.layer.v1.tar")
	if err != nil {
		t.Fatal(err)
	}
	withShared := func() v1.Image {
		img, err := random.Image(2048, 1)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, shared); err != nil {
			t.Fatal(err)
		}
		return img
	}
	old := withShared()
	if err := remote.Write(ref(t, repo+":latest"), old, remote.WithContext(ctx), auth); err != nil {
		t.Fatal(err)
	}
	running, err := harness.PushEchoImage(ctx, cluster, ns, "latest")
	if err != nil {
		t.Fatal(err)
	}
	digest := func(img v1.Image) v1.Hash {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	runningImg, err := remote.Image(ref(t, running), remote.WithContext(ctx), auth)
	if err != nil {
		t.Fatal(err)
	}
	runningDigest := digest(runningImg)
	current := withShared()
	if err := remote.Write(ref(t, repo+":latest"), current, remote.WithContext(ctx), auth); err != nil {
		t.Fatal(err)
	}
	oldDigest, currentDigest := digest(old), digest(current)
	oldOwn, _ := mustLayers(t, old)[0].Digest()
	sharedDigest, _ := shared.Digest()
	oldConfig, err := old.ConfigName()
	if err != nil {
		t.Fatal(err)
	}

	// moved:v1 was pushed twice (the registry's own tag link names the second push, y), then set
	// to the first push, x: pruning y's manifest must not take the tag with it.
	movedRepo := harness.Registry + "/" + ns + "/moved"
	x, y := withShared(), withShared()
	for _, p := range []struct {
		tag string
		img v1.Image
	}{{"pin", x}, {"v1", y}} {
		if err := remote.Write(ref(t, movedRepo+":"+p.tag), p.img, remote.WithContext(ctx), auth); err != nil {
			t.Fatal(err)
		}
	}
	xDigest, yDigest := digest(x), digest(y)
	ist, err := imageClient(t).ImageV1().ImageStreamTags(ns).Get(ctx, "moved:v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ist.Tag = &imagev1.TagReference{Name: "v1", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "moved:pin"}}
	if _, err := imageClient(t).ImageV1().ImageStreamTags(ns).Update(ctx, ist, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		ist, err := imageClient(t).ImageV1().ImageStreamTags(ns).Get(ctx, "moved:v1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ist.Image.Name != xDigest.String() {
			return fmt.Errorf("moved:v1 is %s, want %s", ist.Image.Name, xDigest)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "old-echo"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "echo", Image: repo + "@" + runningDigest.String(), Args: []string{"serve"},
		}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, 3*time.Minute, func(ctx context.Context) error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "old-echo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod is %s: %s", p.Status.Phase, podSummary(ctx, ns))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	images := imageClient(t).ImageV1()
	history := func() []string {
		t.Helper()
		s, err := images.ImageStreams(ns).Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tag := range s.Status.Tags {
			for _, ev := range tag.Items {
				out = append(out, tag.Tag+"="+ev.Image)
			}
		}
		return out
	}
	manifestStatus := func(d v1.Hash) int {
		resp, _ := registryDo(t, http.MethodGet, "/v2/"+ns+"/echo/manifests/"+d.String(), token,
			nil, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"})
		return resp.StatusCode
	}
	if h := history(); len(h) != 3 {
		t.Fatalf("latest's history before pruning: %v, want three revisions", h)
	}

	// The dry run prints the old image and changes nothing.
	out, err := pruneCLI(t, cluster.Kubeconfig, "--keep-tag-revisions=1", "--keep-younger-than=0s")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	wantContains(t, out, "Dry run enabled - no modifications will be made. Add --confirm to remove images",
		"Updating istags "+ns+"/echo: latest", oldDigest.String(), "Deleting blobs", oldOwn.String(), "Would delete")
	if strings.Contains(out, "\n"+runningDigest.String()) || strings.Contains(out, "\n"+currentDigest.String()) {
		t.Errorf("the dry run would delete a kept image:\n%s", out)
	}
	if _, err := images.Images().Get(ctx, oldDigest.String(), metav1.GetOptions{}); err != nil {
		t.Errorf("the dry run deleted the old image: %v", err)
	}
	if h := history(); len(h) != 3 {
		t.Errorf("the dry run changed the history: %v", h)
	}
	if s := manifestStatus(oldDigest); s != http.StatusOK {
		t.Errorf("after the dry run the old manifest answers %d", s)
	}
	if _, err := os.Stat(blobFile(oldOwn)); err != nil {
		t.Errorf("after the dry run the old layer is gone from storage: %v", err)
	}

	// A user who may read everything but not prune gets the registry's refusal before anything
	// changes.
	reader := clusterRoleToken(t, "prune-reader", "cluster-reader")
	out, err = pruneCLI(t, tokenKubeconfig(t, reader), "--keep-tag-revisions=1", "--keep-younger-than=0s", "--confirm")
	if err == nil {
		t.Fatalf("a cluster reader pruned:\n%s", out)
	}
	wantContains(t, out, "the registry refused (403)", "may not delete", "system:image-pruner", "nothing was changed")
	if h := history(); len(h) != 3 {
		t.Errorf("the refused run changed the history: %v", h)
	}

	// As the admin (a client certificate: the pruner service account's token goes to the registry).
	out, err = pruneCLI(t, cluster.Kubeconfig, "--keep-tag-revisions=1", "--keep-younger-than=0s", "--confirm")
	if err != nil {
		t.Fatalf("prune: %v\n%s", err, out)
	}
	wantContains(t, out, "Updating istags "+ns+"/echo: latest", "Deleting registry repository manifest data",
		ns+"/echo", "Deleting blobs", oldOwn.String(), "Deleting images from server", oldDigest.String(), "Summary: Deleted")
	t.Logf("prune output:\n%s", out)

	if _, err := images.Images().Get(ctx, oldDigest.String(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the old image is still there: %v", err)
	}
	if s := manifestStatus(oldDigest); s != http.StatusNotFound {
		t.Errorf("the old manifest answers %d, want 404", s)
	}
	for what, d := range map[string]v1.Hash{"its own layer": oldOwn, "its configuration": oldConfig, "its manifest": oldDigest} {
		if _, err := os.Stat(blobFile(d)); !os.IsNotExist(err) {
			t.Errorf("the old image's %s (%s) is still in storage: %v", what, d, err)
		}
	}
	if _, err := os.Stat(blobFile(sharedDigest)); err != nil {
		t.Errorf("the layer shared with the current image is gone: %v", err)
	}
	want := []string{"latest=" + currentDigest.String(), "latest=" + runningDigest.String()}
	if h := history(); strings.Join(h, " ") != strings.Join(want, " ") {
		t.Errorf("latest's history after pruning: %v, want %v", h, want)
	}
	for _, d := range []v1.Hash{runningDigest, currentDigest} {
		if _, err := images.Images().Get(ctx, d.String(), metav1.GetOptions{}); err != nil {
			t.Errorf("kept image %s: %v", d, err)
		}
		img, err := remote.Image(ref(t, repo+"@"+d.String()), remote.WithContext(ctx), auth)
		if err != nil {
			t.Errorf("pull kept image %s: %v", d, err)
			continue
		}
		for _, l := range mustLayers(t, img) {
			rc, err := l.Compressed()
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if err != nil {
				t.Errorf("pull a layer of kept image %s: %v", d, err)
			}
		}
	}
	if _, err := remote.Image(ref(t, repo+":latest"), remote.WithContext(ctx), auth); err != nil {
		t.Errorf("pull %s:latest after pruning: %v", repo, err)
	}

	if _, err := images.Images().Get(ctx, yDigest.String(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the superseded revision of moved:v1 is still there: %v", err)
	}
	if ist, err := images.ImageStreamTags(ns).Get(ctx, "moved:v1", metav1.GetOptions{}); err != nil {
		t.Errorf("moved:v1 is gone after pruning its old revision: %v", err)
	} else if ist.Image.Name != xDigest.String() {
		t.Errorf("moved:v1 is at %s after pruning, want %s", ist.Image.Name, xDigest)
	}
	if _, err := remote.Image(ref(t, movedRepo+":v1"), remote.WithContext(ctx), auth); err != nil {
		t.Errorf("pull moved:v1 after pruning: %v", err)
	}

	// Nothing is left to prune here: a second run deletes nothing of this project.
	out, err = pruneCLI(t, cluster.Kubeconfig, "--keep-tag-revisions=1", "--keep-younger-than=0s", "--confirm")
	if err != nil {
		t.Fatalf("second prune: %v\n%s", err, out)
	}
	if strings.Contains(out, ns+"/echo") {
		t.Errorf("the second run changed %s/echo again:\n%s", ns, out)
	}
}

// tokenKubeconfig writes a kubeconfig for the cluster with a bearer token.
func tokenKubeconfig(t *testing.T, token string) string {
	t.Helper()
	cfg := cluster.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}
