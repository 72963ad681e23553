package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	projectv1 "github.com/openshift/api/project/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/test/harness"
)

// registryUser is a user with a token and a project of their own.
type registryUser struct {
	name, token, project string
}

func newRegistryUser(t *testing.T, name string) registryUser {
	t.Helper()
	ctx := t.Context()
	token, err := cluster.NewUser(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	u := registryUser{name: name, token: token, project: name + "-images"}
	if _, err := projects(t, cluster.TokenConfig(token)).ProjectV1().ProjectRequests().Create(ctx,
		&projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: u.project}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u registryUser) auth() authn.Authenticator {
	return &authn.Basic{Username: "unused", Password: u.token}
}

func imageClient(t *testing.T) imageclient.Interface {
	t.Helper()
	c, err := imageclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testImage is a random two-layer image with a configuration users would recognize.
func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"GREETING=hello"}
	cf.Config.Entrypoint = []string{"/bin/app"}
	cf.Config.Labels = map[string]string{"io.gantry.test": "yes"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// registryDo sends a raw registry request with a bearer token ("" for none).
func registryDo(t *testing.T, method, path, token string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+harness.Registry+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, b
}

// A push creates the image stream (looking up locally), records the Image with its metadata and
// the tag, emits an event, and the image pulls back by tag and by digest.
func TestRegistryPushRecordsImageStream(t *testing.T) {
	ctx := t.Context()
	alice := newRegistryUser(t, "reg-alice")
	img := testImage(t)
	dgst, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	repo := harness.Registry + "/" + alice.project + "/app"
	if err := remote.Write(ref(t, repo+":v1"), img, remote.WithContext(ctx), remote.WithAuth(alice.auth())); err != nil {
		t.Fatalf("push as the project's admin: %v", err)
	}

	ic := imageClient(t)
	is, err := ic.ImageV1().ImageStreams(alice.project).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the push did not create the image stream: %v", err)
	}
	if !is.Spec.LookupPolicy.Local {
		t.Error("a stream created by a push must resolve its tags in pods (lookupPolicy.local)")
	}
	if is.Status.DockerImageRepository != repo {
		t.Errorf("status.dockerImageRepository = %q, want %q", is.Status.DockerImageRepository, repo)
	}
	if len(is.Status.Tags) != 1 || is.Status.Tags[0].Tag != "v1" || len(is.Status.Tags[0].Items) != 1 || is.Status.Tags[0].Items[0].Image != dgst.String() {
		t.Fatalf("status tags = %+v, want v1 -> %s", is.Status.Tags, dgst)
	}
	if got, want := is.Status.Tags[0].Items[0].DockerImageReference, repo+"@"+dgst.String(); got != want {
		t.Errorf("tag event reference = %q, want %q", got, want)
	}

	image, err := ic.ImageV1().Images().Get(ctx, dgst.String(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no Image for the pushed manifest: %v", err)
	}
	if image.Annotations[imagev1.ManagedByOpenShiftAnnotation] != "true" {
		t.Errorf("image annotations = %v, want %s=true", image.Annotations, imagev1.ManagedByOpenShiftAnnotation)
	}
	layers, _ := img.Layers()
	if len(image.DockerImageLayers) != len(layers) {
		t.Errorf("image has %d layers recorded, the manifest %d", len(image.DockerImageLayers), len(layers))
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(image.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatalf("image metadata: %v (%s)", err, image.DockerImageMetadata.Raw)
	}
	if meta.Config == nil || strings.Join(meta.Config.Env, ",") != "GREETING=hello" || strings.Join(meta.Config.Entrypoint, " ") != "/bin/app" || meta.Config.Labels["io.gantry.test"] != "yes" {
		t.Errorf("image metadata config = %+v, want the pushed env, entrypoint and labels", meta.Config)
	}

	ist, err := ic.ImageV1().ImageStreamTags(alice.project).Get(ctx, "app:v1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("imagestreamtag app:v1: %v", err)
	}
	if ist.Image.Name != dgst.String() {
		t.Errorf("app:v1 image = %s, want %s", ist.Image.Name, dgst)
	}

	// A tag written from v1 takes v1's image at once, and the registry serves it.
	if _, err := ic.ImageV1().ImageStreamTags(alice.project).Create(ctx, &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: "app:latest"},
		Tag:        &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app:v1"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{repo + ":v1", repo + ":latest", repo + "@" + dgst.String()} {
		pulled, err := remote.Image(ref(t, r), remote.WithContext(ctx), remote.WithAuth(alice.auth()))
		if err != nil {
			t.Fatalf("pull %s: %v", r, err)
		}
		if d, _ := pulled.Digest(); d != dgst {
			t.Errorf("pull %s: digest %s, want %s", r, d, dgst)
		}
		for _, l := range mustLayers(t, pulled) {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatalf("pull %s layer: %v", r, err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("pull %s layer: %v", r, err)
			}
			rc.Close()
		}
	}
	tags, err := remote.List(ref(t, repo+":v1").Context(), remote.WithContext(ctx), remote.WithAuth(alice.auth()))
	if err != nil || strings.Join(tags, ",") != "latest,v1" {
		t.Errorf("tags/list = %v, %v; want [latest v1]", tags, err)
	}

	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := cluster.Client.CoreV1().Events(alice.project).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=app,reason=Pushed"})
		return err == nil && len(evs.Items) > 0, nil
	})
	if err != nil {
		t.Errorf("no Pushed event on the stream: %v", err)
	}
}

func mustLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// Pushes without the right are refused (401 without credentials or with a bad token, 403 with
// what is missing for a user without rights) and leave nothing behind: no stream, no blob.
func TestRegistryRefusesPushWithoutRights(t *testing.T) {
	ctx := t.Context()
	owner := newRegistryUser(t, "reg-owner")
	mallory := newRegistryUser(t, "reg-mallory")
	img := testImage(t)
	target := harness.Registry + "/" + owner.project + "/secret:v1"

	cases := []struct {
		name   string
		auth   authn.Authenticator
		status int
	}{
		{"anonymous", authn.Anonymous, http.StatusUnauthorized},
		{"bad token", &authn.Basic{Username: "x", Password: "sha256~not-a-real-token-at-all-xxxxxxxxxxxxxxxxxxxx"}, http.StatusUnauthorized},
		{"another project's user", mallory.auth(), http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := remote.Write(ref(t, target), img, remote.WithContext(ctx), remote.WithAuth(tc.auth))
			if err == nil {
				t.Fatal("push succeeded")
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.status)) && !strings.Contains(err.Error(), http.StatusText(tc.status)) {
				t.Errorf("push error = %v, want status %d", err, tc.status)
			}
		})
	}
	// The refusal says what is missing.
	resp, body := registryDo(t, http.MethodPost, "/v2/"+owner.project+"/secret/blobs/uploads/", mallory.token, nil, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "DENIED") || !strings.Contains(string(body), "imagestreams/layers") {
		t.Errorf("upload as another project's user: %s %s; want 403 DENIED naming imagestreams/layers", resp.Status, body)
	}
	resp, _ = registryDo(t, http.MethodGet, "/v2/", "", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("anonymous /v2/: %s, WWW-Authenticate %q; want 401 with a Basic challenge", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}

	if _, err := imageClient(t).ImageV1().ImageStreams(owner.project).Get(ctx, "secret", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused pushes left an image stream behind: %v", err)
	}
	layers := mustLayers(t, img)
	d, _ := layers[0].Digest()
	resp, _ = registryDo(t, http.MethodHead, "/v2/"+owner.project+"/secret/blobs/"+d.String(), owner.token, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a layer of a refused push is visible: HEAD %s", resp.Status)
	}
}

// Project isolation: another project's user cannot pull, list or mount a project's content
// until granted system:image-puller there; a pod of another project cannot pull it either.
func TestRegistryProjectIsolation(t *testing.T) {
	ctx := t.Context()
	a := newRegistryUser(t, "reg-iso-a")
	b := newRegistryUser(t, "reg-iso-b")
	img := testImage(t)
	src := harness.Registry + "/" + a.project + "/private"
	if err := remote.Write(ref(t, src+":v1"), img, remote.WithContext(ctx), remote.WithAuth(a.auth())); err != nil {
		t.Fatal(err)
	}
	layer := mustLayers(t, img)[0]
	ld, _ := layer.Digest()

	if _, err := remote.Image(ref(t, src+":v1"), remote.WithContext(ctx), remote.WithAuth(b.auth())); err == nil {
		t.Error("b pulled a's private image")
	}
	resp, _ := registryDo(t, http.MethodGet, "/v2/"+a.project+"/private/blobs/"+ld.String(), b.token, nil, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("b fetched a's blob: %s", resp.Status)
	}
	// Through b's own repository the blob does not exist: blobs are per repository.
	if err := remote.Write(ref(t, harness.Registry+"/"+b.project+"/mine:v1"), testImage(t), remote.WithContext(ctx), remote.WithAuth(b.auth())); err != nil {
		t.Fatal(err)
	}
	resp, _ = registryDo(t, http.MethodGet, "/v2/"+b.project+"/mine/blobs/"+ld.String(), b.token, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a's blob through b's repository: %s, want 404", resp.Status)
	}
	// A cross-repository mount needs pull on the source.
	resp, body := registryDo(t, http.MethodPost, "/v2/"+b.project+"/mine/blobs/uploads/?mount="+ld.String()+"&from="+a.project+"/private", b.token, nil, nil)
	if resp.StatusCode == http.StatusCreated {
		t.Errorf("b mounted a's blob: %s %s", resp.Status, body)
	}
	resp, _ = registryDo(t, http.MethodHead, "/v2/"+b.project+"/mine/blobs/"+ld.String(), b.token, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("after a refused mount, a's blob is in b's repository: %s", resp.Status)
	}

	// A pod of b's project cannot run a's image.
	digest, _ := img.Digest()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "borrow"},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "c", Image: src + "@" + digest.String()}},
			TerminationGracePeriodSeconds: ptr.To[int64](0),
		},
	}
	if _, err := cluster.Client.CoreV1().Pods(b.project).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := cluster.Client.CoreV1().Pods(b.project).Get(ctx, "borrow", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range p.Status.ContainerStatuses {
			if w := s.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") {
				return true, nil
			}
			if s.State.Running != nil || s.State.Terminated != nil {
				return false, fmt.Errorf("b's pod got a's image: %+v", s.State)
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("b's pod with a's image: %v", err)
	}

	// Granted system:image-puller in a's project, b pulls.
	grantPuller(t, a.project, b.name)
	// Denials are cached for a few seconds.
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := remote.Image(ref(t, src+":v1"), remote.WithContext(ctx), remote.WithAuth(b.auth()))
		return err == nil, nil
	})
	if err != nil {
		t.Errorf("b still cannot pull after being granted system:image-puller: %v", err)
	}
}

// startUpload opens a blob upload and returns its location path.
func startUpload(t *testing.T, repo, token string) string {
	t.Helper()
	resp, body := registryDo(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", token, nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %s %s", resp.Status, body)
	}
	loc := resp.Header.Get("Location")
	if i := strings.Index(loc, "/v2/"); i >= 0 {
		loc = loc[i:]
	}
	return loc
}

func withQuery(loc, q string) string {
	if strings.Contains(loc, "?") {
		return loc + "&" + q
	}
	return loc + "?" + q
}

// Bad requests get 4xx with a registry error, never a 500, and never a visible partial blob.
func TestRegistryBadInput(t *testing.T) {
	u := newRegistryUser(t, "reg-bad")
	repo := u.project + "/bad"
	content := bytes.Repeat([]byte("gantry"), 1000)
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256(content))

	check := func(what string, resp *http.Response, body []byte, want ...int) {
		t.Helper()
		for _, w := range want {
			if resp.StatusCode == w {
				return
			}
		}
		t.Errorf("%s: %s %s; want %v", what, resp.Status, body, want)
	}

	// Wrong digest on completion.
	loc := startUpload(t, repo, u.token)
	resp, body := registryDo(t, http.MethodPut, withQuery(loc, "digest=sha256:"+strings.Repeat("0", 64)), u.token, bytes.NewReader(content), map[string]string{"Content-Type": "application/octet-stream"})
	check("wrong digest", resp, body, http.StatusBadRequest)
	resp, _ = registryDo(t, http.MethodHead, "/v2/"+repo+"/blobs/"+sum, u.token, nil, nil)
	check("blob after a wrong-digest upload", resp, nil, http.StatusNotFound)

	// Invalid digest strings.
	for _, d := range []string{"sha256:xyz", "md5:abc", "sha256:" + strings.Repeat("a", 63), "%00", "sha256:" + strings.Repeat("A", 64)} {
		resp, body = registryDo(t, http.MethodGet, "/v2/"+repo+"/blobs/"+d, u.token, nil, nil)
		check("GET blob "+d, resp, body, http.StatusBadRequest, http.StatusNotFound)
	}

	// Out-of-order chunk and malformed ranges.
	loc = startUpload(t, repo, u.token)
	resp, body = registryDo(t, http.MethodPatch, loc, u.token, bytes.NewReader(content[:100]), map[string]string{"Content-Type": "application/octet-stream", "Content-Range": "500-599"})
	check("out-of-order chunk", resp, body, http.StatusRequestedRangeNotSatisfiable)
	for _, r := range []string{"abc", "10-5", "-1-20", "0-99999999999999999999"} {
		loc = startUpload(t, repo, u.token)
		resp, body = registryDo(t, http.MethodPatch, loc, u.token, bytes.NewReader(content[:100]), map[string]string{"Content-Type": "application/octet-stream", "Content-Range": r})
		check("Content-Range "+r, resp, body, http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable)
	}

	// An abandoned upload (the client died half way) is invisible, and the push restarts.
	loc = startUpload(t, repo, u.token)
	resp, body = registryDo(t, http.MethodPatch, loc, u.token, bytes.NewReader(content[:len(content)/2]), map[string]string{"Content-Type": "application/octet-stream"})
	check("first half", resp, body, http.StatusAccepted)
	resp, _ = registryDo(t, http.MethodHead, "/v2/"+repo+"/blobs/"+sum, u.token, nil, nil)
	check("half-uploaded blob", resp, nil, http.StatusNotFound)
	loc = startUpload(t, repo, u.token)
	resp, body = registryDo(t, http.MethodPut, withQuery(loc, "digest="+sum), u.token, bytes.NewReader(content), map[string]string{"Content-Type": "application/octet-stream"})
	check("restarted upload", resp, body, http.StatusCreated)
	resp, _ = registryDo(t, http.MethodHead, "/v2/"+repo+"/blobs/"+sum, u.token, nil, nil)
	check("completed blob", resp, nil, http.StatusOK)

	// A manifest over 4 MiB.
	big := bytes.Repeat([]byte(" "), 5<<20)
	resp, body = registryDo(t, http.MethodPut, "/v2/"+repo+"/manifests/big", u.token, bytes.NewReader(big), map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	check("5 MiB manifest", resp, body, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	resp, body = registryDo(t, http.MethodPut, "/v2/"+repo+"/manifests/junk", u.token, strings.NewReader("{not json"), map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	check("malformed manifest", resp, body, http.StatusBadRequest)

	// Huge page sizes are bounded; bad ones refused.
	resp, body = registryDo(t, http.MethodGet, "/v2/_catalog?n=1000000000", clusterRoleToken(t, "reg-catalog", "cluster-reader"), nil, nil)
	check("catalog n=1e9", resp, body, http.StatusOK, http.StatusBadRequest)
	resp, body = registryDo(t, http.MethodGet, "/v2/"+repo+"/tags/list?n=1000000000", u.token, nil, nil)
	check("tags n=1e9", resp, body, http.StatusOK, http.StatusNotFound)
	resp, body = registryDo(t, http.MethodGet, "/v2/"+repo+"/tags/list?n=-1", u.token, nil, nil)
	check("tags n=-1", resp, body, http.StatusBadRequest, http.StatusNotFound)

	// A reference that is neither a tag nor a digest (a case the OCI conformance suite found
	// answered 503).
	img := testImage(t)
	if err := remote.Write(ref(t, harness.Registry+"/"+repo+":ok"), img, remote.WithContext(t.Context()), remote.WithAuth(u.auth())); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	resp, body = registryDo(t, http.MethodPut, "/v2/"+repo+"/manifests/sha256:baddigeststring", u.token, bytes.NewReader(raw), map[string]string{"Content-Type": string(mt)})
	check("manifest put to a bad reference", resp, body, http.StatusBadRequest)

	// An index of indexes (no platforms: the conformance suite's nested index, once refused by
	// the image API) is stored and recorded.
	inner := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
	outer := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inner})
	if err := remote.WriteIndex(ref(t, harness.Registry+"/"+repo+":nested"), outer, remote.WithContext(t.Context()), remote.WithAuth(u.auth())); err != nil {
		t.Errorf("push an index of indexes: %v", err)
	}

	// Cases the OCI conformance suite found answered 500 by distribution: a sha512 blob read,
	// and a manifest with a foreign (non-distributable) layer.
	resp, body = registryDo(t, http.MethodGet, "/v2/"+repo+"/blobs/sha512:"+strings.Repeat("ab", 64), u.token, nil, nil)
	check("sha512 blob", resp, body, http.StatusNotFound)
	cfgDigest, _ := img.ConfigName()
	cfgRaw, _ := img.RawConfigFile()
	foreign := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"sha256:%s","size":10,"urls":["https://store.example.com/x"]}]}`,
		cfgDigest.String(), len(cfgRaw), strings.Repeat("1", 64))
	resp, body = registryDo(t, http.MethodPut, "/v2/"+repo+"/manifests/foreign", u.token, strings.NewReader(foreign), map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	check("foreign layer", resp, body, http.StatusBadRequest)

	// Repository names are <project>/<stream>.
	resp, body = registryDo(t, http.MethodGet, "/v2/"+u.project+"/a/b/tags/list", u.token, nil, nil)
	check("three-part name", resp, body, http.StatusBadRequest)
	if !strings.Contains(string(body), "names are") {
		t.Errorf("three-part name: %s; want the expected form named", body)
	}
}

// Deleting a tag is seen by the very next request: HEAD and GET of it are 404 and the tag list
// no longer has it, though the informer cache the registry reads tags from sees the delete a
// moment later. (The OCI conformance suite's atomic tag delete found a HEAD answered 200 right
// after the delete was accepted.)
func TestRegistryTagDeleteIsImmediate(t *testing.T) {
	ctx := t.Context()
	u := newRegistryUser(t, "reg-untag")
	pruner := clusterRoleToken(t, "reg-untagger", "system:image-pruner")
	repo := u.project + "/gone"
	img := testImage(t)
	mt, _ := img.MediaType()
	accept := map[string]string{"Accept": string(mt)}
	if err := remote.Write(ref(t, harness.Registry+"/"+repo+":kept"), img, remote.WithContext(ctx), remote.WithAuth(u.auth())); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		tag := fmt.Sprintf("t%d", i)
		if err := remote.Write(ref(t, harness.Registry+"/"+repo+":"+tag), img, remote.WithContext(ctx), remote.WithAuth(u.auth())); err != nil {
			t.Fatal(err)
		}
		path := "/v2/" + repo + "/manifests/" + tag
		if resp, body := registryDo(t, http.MethodHead, path, u.token, nil, accept); resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD %s after its push: %s %s", tag, resp.Status, body)
		}
		if resp, body := registryDo(t, http.MethodDelete, path, pruner, nil, nil); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("delete tag %s: %s %s", tag, resp.Status, body)
		}
		if resp, _ := registryDo(t, http.MethodHead, path, u.token, nil, accept); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD %s right after its delete: %s, want 404", tag, resp.Status)
		}
		if resp, body := registryDo(t, http.MethodGet, path, u.token, nil, accept); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s right after its delete: %s %.200s, want 404", tag, resp.Status, body)
		}
		resp, body := registryDo(t, http.MethodGet, "/v2/"+repo+"/tags/list", u.token, nil, nil)
		var list struct{ Tags []string }
		if err := json.Unmarshal(body, &list); resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("tag list: %s %s (%v)", resp.Status, body, err)
		}
		if slices.Contains(list.Tags, tag) || !slices.Contains(list.Tags, "kept") {
			t.Errorf("tag list right after deleting %s: %v, want kept and not %s", tag, list.Tags, tag)
		}
	}
	// The delete reached the stream.
	st, err := imageClient(t).ImageV1().ImageStreams(u.project).Get(ctx, "gone", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range st.Status.Tags {
		if tag.Tag != "kept" && len(tag.Items) > 0 {
			t.Errorf("stream still has tag %s (%s) after its delete", tag.Tag, tag.Items[0].Image)
		}
	}
}

// clusterRoleToken returns a token of a service account (default/<name>) bound to a cluster role.
func clusterRoleToken(t *testing.T, name, role string) string {
	t.Helper()
	ctx := t.Context()
	cs := cluster.Client
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test:" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: "default"}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// Image pruners delete blobs from storage through /admin/blobs; nobody else may.
func TestRegistryAdminDeletesBlobs(t *testing.T) {
	ctx := t.Context()
	u := newRegistryUser(t, "reg-prunee")
	img := testImage(t)
	repo := harness.Registry + "/" + u.project + "/old"
	if err := remote.Write(ref(t, repo+":v1"), img, remote.WithContext(ctx), remote.WithAuth(u.auth())); err != nil {
		t.Fatal(err)
	}
	ld, _ := mustLayers(t, img)[0].Digest()
	blobDir := filepath.Join(cluster.DataDir, "registry", "docker", "registry", "v2", "blobs", "sha256", ld.Hex[:2], ld.Hex)
	if _, err := os.Stat(blobDir); err != nil {
		t.Fatalf("pushed blob not in storage: %v", err)
	}
	resp, body := registryDo(t, http.MethodDelete, "/admin/blobs/"+ld.String(), u.token, nil, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a project admin deleted a blob from storage: %s %s", resp.Status, body)
	}
	resp, _ = registryDo(t, http.MethodDelete, "/admin/blobs/"+ld.String(), "", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous blob delete: %s, want 401", resp.Status)
	}
	pruner := clusterRoleToken(t, "reg-pruner", "system:image-pruner")
	resp, body = registryDo(t, http.MethodDelete, "/admin/blobs/not-a-digest", pruner, nil, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad digest: %s %s, want 400", resp.Status, body)
	}
	resp, body = registryDo(t, http.MethodDelete, "/admin/blobs/"+ld.String(), pruner, nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("pruner blob delete: %s %s", resp.Status, body)
	}
	if _, err := os.Stat(blobDir); !os.IsNotExist(err) {
		t.Errorf("blob still in storage after delete: %v", err)
	}
	resp, _ = registryDo(t, http.MethodDelete, "/admin/blobs/"+ld.String(), pruner, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("second delete: %s, want 404", resp.Status)
	}
}

// A tag written from another project's tag takes its image only when the writer may pull it;
// then the image pulls through the new stream (its content stays where it was pushed).
func TestRegistryTagAcrossProjects(t *testing.T) {
	ctx := t.Context()
	a := newRegistryUser(t, "reg-tag-a")
	b := newRegistryUser(t, "reg-tag-b")
	img := testImage(t)
	dgst, _ := img.Digest()
	if err := remote.Write(ref(t, harness.Registry+"/"+a.project+"/src:v1"), img, remote.WithContext(ctx), remote.WithAuth(a.auth())); err != nil {
		t.Fatal(err)
	}
	bc, err := imageclient.NewForConfig(cluster.TokenConfig(b.token))
	if err != nil {
		t.Fatal(err)
	}
	tagFrom := func(name string) error {
		_, err := bc.ImageV1().ImageStreamTags(b.project).Create(ctx, &imagev1.ImageStreamTag{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Tag:        &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: a.project, Name: "src:v1"}},
		}, metav1.CreateOptions{})
		return err
	}
	if err := tagFrom("stolen:v1"); err != nil {
		t.Fatal(err)
	}
	is, err := bc.ImageV1().ImageStreams(b.project).Get(ctx, "stolen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range is.Status.Tags {
		if len(st.Items) > 0 {
			t.Errorf("b tagged a's private image without pull rights: %+v", st.Items)
		}
		if len(st.Conditions) == 0 || st.Conditions[0].Reason != string(metav1.StatusReasonForbidden) {
			t.Errorf("tag conditions = %+v, want a Forbidden condition", st.Conditions)
		}
	}
	if _, err := remote.Image(ref(t, harness.Registry+"/"+b.project+"/stolen:v1"), remote.WithContext(ctx), remote.WithAuth(b.auth())); err == nil {
		t.Error("b pulled a's image through its own stream")
	}
	if _, err := remote.Image(ref(t, harness.Registry+"/"+b.project+"/stolen@"+dgst.String()), remote.WithContext(ctx), remote.WithAuth(b.auth())); err == nil {
		t.Error("b pulled a's image by digest through its own stream")
	}

	grantPuller(t, a.project, b.name)
	// The API caches access decisions for a few seconds: tag again until the grant shows.
	shared := ""
	for i := 0; shared == "" && i < 40; i++ {
		name := fmt.Sprintf("shared%d", i)
		if err := tagFrom(name + ":v1"); err != nil {
			t.Fatal(err)
		}
		ist, err := bc.ImageV1().ImageStreamTags(b.project).Get(ctx, name+":v1", metav1.GetOptions{})
		switch {
		case err == nil && ist.Image.Name == dgst.String():
			shared = name
		case err == nil || apierrors.IsNotFound(err):
			time.Sleep(time.Second)
		default:
			t.Fatal(err)
		}
	}
	if shared == "" {
		t.Fatal("b's tags from a's image never got the image after b was granted system:image-puller")
	}
	pulled, err := remote.Image(ref(t, harness.Registry+"/"+b.project+"/"+shared+":v1"), remote.WithContext(ctx), remote.WithAuth(b.auth()))
	if err != nil {
		t.Fatalf("pull the tagged image through b's stream: %v", err)
	}
	for _, l := range mustLayers(t, pulled) {
		rc, err := l.Compressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			t.Fatalf("pull a layer of the tagged image through b's stream: %v", err)
		}
	}
	// A blob of a's that no image of b's stream uses stays out of reach.
	other := testImage(t)
	if err := remote.Write(ref(t, harness.Registry+"/"+a.project+"/src:other"), other, remote.WithContext(ctx), remote.WithAuth(a.auth())); err != nil {
		t.Fatal(err)
	}
	od, _ := mustLayers(t, other)[0].Digest()
	resp, _ := registryDo(t, http.MethodGet, "/v2/"+b.project+"/"+shared+"/blobs/"+od.String(), b.token, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a blob of another image of a's through b's stream: %s, want 404", resp.Status)
	}
}

// The registry runs as a pod (`gantry registry` in Gantry's own image) with a service account
// bound to system:registry, as on a cluster Gantry did not start.
func TestRegistryAsPod(t *testing.T) {
	ctx := t.Context()
	cs := cluster.Client
	infra, err := imageClient(t).ImageV1().ImageStreams("gantry").Get(ctx, "gantry", metav1.GetOptions{})
	if err != nil || len(infra.Status.Tags) == 0 {
		t.Fatalf("Gantry's infra image stream: %v %+v", err, infra)
	}
	image := infra.Status.DockerImageRepository + ":" + infra.Status.Tags[0].Tag
	ns := "registry-pod"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "registry"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test:registry-pod"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:registry"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "registry", Namespace: ns}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "registry"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "registry",
			Containers: []corev1.Container{{
				Name: "registry", Image: image,
				Args:         []string{"registry", "--storage-dir", "/registry", "--hostname", "registry.registry-pod.svc:5000"},
				VolumeMounts: []corev1.VolumeMount{{Name: "storage", MountPath: "/registry"}},
			}},
			Volumes:                       []corev1.Volume{{Name: "storage", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "registry", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ip = p.Status.PodIP
		return p.Status.Phase == corev1.PodRunning && ip != "", nil
	})
	if err != nil {
		t.Fatalf("registry pod not running: %v", err)
	}
	u := newRegistryUser(t, "reg-pod-user")
	img := testImage(t)
	addr := ip + ":5000"
	err = harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		return remote.Write(ref(t, addr+"/"+u.project+"/app:v1"), img, remote.WithContext(ctx), remote.WithAuth(u.auth()))
	})
	if err != nil {
		logs, _ := cs.CoreV1().Pods(ns).GetLogs("registry", &corev1.PodLogOptions{}).DoRaw(ctx)
		t.Fatalf("push to the registry pod: %v\n%s", err, logs)
	}
	ist, err := imageClient(t).ImageV1().ImageStreamTags(u.project).Get(ctx, "app:v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ist.Image.DockerImageReference, "registry.registry-pod.svc:5000/"+u.project+"/app@") {
		t.Errorf("image reference %q, want the pod registry's host name", ist.Image.DockerImageReference)
	}
	if _, err := remote.Image(ref(t, addr+"/"+u.project+"/app:v1"), remote.WithContext(ctx), remote.WithAuth(authn.Anonymous)); err == nil {
		t.Error("anonymous pull of a private image from the registry pod")
	}
}

// grantPuller gives user the system:image-puller role in project.
func grantPuller(t *testing.T, project, user string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-pulls"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:image-puller"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if _, err := cluster.Client.RbacV1().RoleBindings(project).Create(t.Context(), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
