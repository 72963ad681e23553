package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/internal/controller/imageimport"
	"github.com/gantry-dev/gantry/test/harness"
)

// importAPIServerPort is the port of the openshift-apiserver startImportAPIServer runs.
const importAPIServerPort = 18444

// startImportAPIServer runs `gantry openshift-apiserver` beside the test cluster (its
// kube-apiserver and etcd, another port and etcd prefix) with imports allowed from 127.0.0.1,
// which the test cluster, rightly, refuses. It returns an image client of that server.
func startImportAPIServer(t *testing.T) imageclient.Interface {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(cluster.DataDir, "pki")
	const port = importAPIServerPort
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "openshift-apiserver",
		"--kubeconfig", cluster.Kubeconfig,
		"--etcd-servers", "https://127.0.0.1:2379",
		"--etcd-cafile", filepath.Join(pki, "etcd", "ca.crt"),
		"--etcd-certfile", filepath.Join(pki, "etcd", "openshift-apiserver-client.crt"),
		"--etcd-keyfile", filepath.Join(pki, "etcd", "openshift-apiserver-client.key"),
		"--etcd-prefix", "/imageimport-test",
		"--bind-address", harness.NodeIP, "--secure-port", fmt.Sprint(port),
		"--tls-cert-file", filepath.Join(pki, "openshift-apiserver-serving.crt"),
		"--tls-private-key-file", filepath.Join(pki, "openshift-apiserver-serving.key"),
		"--allowed-registries-for-import", "127.0.0.1:*")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("openshift-apiserver with imports from 127.0.0.1:\n%s", out)
		}
	})
	c := rest.CopyConfig(cluster.Config)
	c.Host = fmt.Sprintf("https://%s:%d", harness.NodeIP, port)
	images, err := imageclient.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	err = harness.Eventually(t.Context(), time.Minute, func(ctx context.Context) error {
		_, err := images.ImageV1().ImageStreams("default").List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("the openshift-apiserver with imports from 127.0.0.1 did not serve: %v\n%s", err, out)
	}
	return images
}

// An external registry (go-containerregistry's, in this process on 127.0.0.1) imported from:
// through the API (stream, spec and status tag, Image with its metadata), and by the import
// controller for a spec tag added by an update. The test cluster itself, without an allow-list,
// refuses the loopback registry: through the API and in its own import controller.
func TestImageImport(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img1, img2 := testImage(t), testImage(t)
	if err := remote.Write(ref(t, host+"/team/app:1"), img1); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/team/app:2"), img2); err != nil {
		t.Fatal(err)
	}
	d1, _ := img1.Digest()
	d2, _ := img2.Digest()
	ctx := t.Context()
	ns := "import-it"
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cluster.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})

	t.Run("refused without the allow-list", func(t *testing.T) {
		main := imageClient(t)
		isi := &imagev1.ImageStreamImport{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: imagev1.ImageStreamImportSpec{Images: []imagev1.ImageImportSpec{{
			From: corev1.ObjectReference{Kind: "DockerImage", Name: host + "/team/app:1"}, ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
		}}}}
		out, err := main.ImageV1().ImageStreamImports(ns).Create(ctx, isi, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := out.Status.Images[0].Status
		if st.Reason != metav1.StatusReasonForbidden || !strings.Contains(st.Message, host) || !strings.Contains(st.Message, "--allowed-registries-for-import") {
			t.Errorf("import from loopback: %+v", st)
		}
		// The cluster's import controller tries a spec tag from there and records the refusal.
		s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "refused"}, Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
			Name: "1", From: &corev1.ObjectReference{Kind: "DockerImage", Name: host + "/team/app:1"}, ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
		}}}}
		if _, err := main.ImageV1().ImageStreams(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err = harness.Eventually(ctx, 2*time.Minute, func(ctx context.Context) error {
			s, err := main.ImageV1().ImageStreams(ns).Get(ctx, "refused", metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, l := range s.Status.Tags {
				if l.Tag == "1" && len(l.Conditions) == 1 && l.Conditions[0].Reason == "Forbidden" && len(l.Items) == 0 {
					return nil
				}
			}
			return fmt.Errorf("tag 1 has no Forbidden condition: %+v", s.Status.Tags)
		})
		if err != nil {
			t.Fatal(err)
		}
		waitEvent(t, ns, "refused", imageimport.ReasonImportFailed, "--allowed-registries-for-import")
	})

	images := startImportAPIServer(t)

	t.Run("import through the API", func(t *testing.T) {
		isi := &imagev1.ImageStreamImport{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: imagev1.ImageStreamImportSpec{Import: true, Images: []imagev1.ImageImportSpec{{
			From: corev1.ObjectReference{Kind: "DockerImage", Name: host + "/team/app:1"}, To: &corev1.LocalObjectReference{Name: "1"},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
		}}}}
		out, err := images.ImageV1().ImageStreamImports(ns).Create(ctx, isi, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := out.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image == nil || st.Image.Name != d1.String() {
			t.Fatalf("import status %+v", st.Status)
		}
		s, err := images.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !s.Spec.LookupPolicy.Local || len(s.Spec.Tags) != 1 || s.Spec.Tags[0].From.Name != host+"/team/app:1" || !s.Spec.Tags[0].ImportPolicy.Insecure {
			t.Errorf("stream spec %+v", s.Spec)
		}
		if len(s.Status.Tags) != 1 || len(s.Status.Tags[0].Items) != 1 || s.Status.Tags[0].Items[0].DockerImageReference != host+"/team/app@"+d1.String() ||
			s.Status.Tags[0].Items[0].Generation != *s.Spec.Tags[0].Generation {
			t.Errorf("stream status %+v", s.Status.Tags)
		}
		ist, err := images.ImageV1().ImageStreamTags(ns).Get(ctx, "app:1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ist.Image.DockerImageReference != host+"/team/app@"+d1.String() || len(ist.Image.DockerImageLayers) != 2 || ist.Image.DockerImageLayers[0].LayerSize <= 0 {
			t.Errorf("image stream tag image %+v", ist.Image)
		}
		var meta docker10.DockerImage
		if err := json.Unmarshal(ist.Image.DockerImageMetadata.Raw, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Architecture != "amd64" || meta.Config == nil || meta.Config.Env[0] != "GREETING=hello" || meta.Config.Entrypoint[0] != "/bin/app" ||
			meta.Config.Labels["io.gantry.test"] != "yes" || meta.Size <= 0 {
			t.Errorf("image metadata %+v", meta)
		}
	})

	t.Run("a spec tag imported by the controller", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- imageimport.Run(cctx, cluster.Client, images, imageimport.Options{Workers: 2}) }()
		defer func() {
			cancel()
			if err := <-done; err != nil && cctx.Err() == nil {
				t.Errorf("controller: %v", err)
			}
		}()
		s, err := images.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// What `gantry tag <registry>/team/app:2 app:2` writes.
		s.Spec.Tags = append(s.Spec.Tags, imagev1.TagReference{Name: "2", From: &corev1.ObjectReference{Kind: "DockerImage", Name: host + "/team/app:2"},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: true}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}})
		if _, err := images.ImageV1().ImageStreams(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		err = harness.Eventually(ctx, 2*time.Minute, func(ctx context.Context) error {
			ist, err := images.ImageV1().ImageStreamTags(ns).Get(ctx, "app:2", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if ist.Image.Name != d2.String() || ist.Image.DockerImageReference != host+"/team/app@"+d2.String() {
				return fmt.Errorf("app:2 is %s (%s)", ist.Image.Name, ist.Image.DockerImageReference)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		waitEvent(t, ns, "app", imageimport.ReasonImported, "app:2 from "+host+"/team/app:2: image "+d2.String())
	})

	t.Run("a registry notification", func(t *testing.T) { testImportNotification(t, images, ns, host) })
}

// Another registry announces a push (distribution's notification, sent with a token): the
// stream's tag following that repository:tag gets the new image at once.
func testImportNotification(t *testing.T, images imageclient.Interface, ns, host string) {
	newer := testImage(t)
	if err := remote.Write(ref(t, host+"/team/app:1"), newer); err != nil {
		t.Fatal(err)
	}
	d, _ := newer.Digest()
	body := fmt.Sprintf(`{"events":[{"action":"push","target":{"repository":"team/app","tag":"1","digest":%q},"request":{"host":%q}}]}`, d, host)
	raw, err := images.ImageV1().RESTClient().Post().Namespace(ns).Resource("imagestreams").Name("app").SubResource("notifications").
		SetHeader("Content-Type", "application/json").Body([]byte(body)).Do(t.Context()).Raw()
	if err != nil {
		t.Fatalf("notification: %v\n%s", err, raw)
	}
	ist, err := images.ImageV1().ImageStreamTags(ns).Get(t.Context(), "app:1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ist.Image.Name != d.String() {
		t.Errorf("app:1 is %s after the notification, want the pushed %s (answer %s)", ist.Image.Name, d, raw)
	}
}

// waitEvent waits for an event on image stream name with reason, its message containing text.
func waitEvent(t *testing.T, ns, name, reason, text string) {
	t.Helper()
	err := harness.Eventually(t.Context(), time.Minute, func(ctx context.Context) error {
		l, err := cluster.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.Set{
			"involvedObject.name": name, "involvedObject.kind": "ImageStream", "reason": reason}.String()})
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range l.Items {
			if strings.Contains(e.Message, text) {
				return nil
			}
			seen = append(seen, e.Message)
		}
		return fmt.Errorf("no %s event on %s saying %q; events: %q", reason, name, text, seen)
	})
	if err != nil {
		t.Error(err)
	}
}
