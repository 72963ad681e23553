package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	routev1 "github.com/openshift/api/route/v1"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/gantry-dev/gantry/test/harness"
)

// Every write the API acknowledged is still there after the server is
// killed with SIGKILL and started again on the same data directory; a blob
// upload cut off by the kill is nowhere visible, and the push works again.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	c, err := harness.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := routeclient.NewForConfig(c.Config)
	if err != nil {
		c.Stop()
		t.Fatal(err)
	}
	const n = 50
	var last *routev1.Route
	for i := range n {
		r := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r%d", i)},
			Spec: routev1.RouteSpec{To: routev1.RouteTargetReference{Kind: "Service", Name: "svc"}}}
		if last, err = rc.RouteV1().Routes("default").Create(ctx, r, metav1.CreateOptions{}); err != nil {
			c.Stop()
			t.Fatal(err)
		}
	}
	// The node's router writes each route's status meanwhile, so the update
	// retries on a fresh read as any client must.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := rc.RouteV1().Routes("default").Get(ctx, last.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Path = "/acknowledged"
		_, err = rc.RouteV1().Routes("default").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		c.Stop()
		t.Fatal(err)
	}
	upload := startPartialUpload(t, c)
	c.Kill()

	c, err = harness.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if left := harness.Leftovers(dir); len(left) > 0 {
			t.Errorf("the stopped cluster left behind: %v", left)
		}
	}()
	if rc, err = routeclient.NewForConfig(c.Config); err != nil {
		t.Fatal(err)
	}
	list, err := rc.RouteV1().Routes("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != n {
		t.Errorf("%d routes after kill -9 and restart, want %d", len(list.Items), n)
	}
	got, err := rc.RouteV1().Routes("default").Get(ctx, last.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Path != "/acknowledged" {
		t.Errorf("the acknowledged update was lost: path %q", got.Spec.Path)
	}
	upload.checkAfterRestart(t, c)
}

// partialUpload is a blob upload of an image's layer that got half of the layer before the
// server died.
type partialUpload struct {
	img      v1.Image
	layer    digest.Digest
	location string
}

const crashRepo = "default/crash"

func registryURL(path string) string { return "http://" + harness.Registry + path }

func startPartialUpload(t *testing.T, c *harness.Cluster) *partialUpload {
	t.Helper()
	ctx := t.Context()
	token, err := c.RegistryToken(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	layer, err := random.Layer(1<<20, types.OCIUncompressedLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	ld, _ := layer.Digest()
	rc, _ := layer.Compressed()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, url string, body []byte, hdr map[string]string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := do(http.MethodPost, registryURL("/v2/"+crashRepo+"/blobs/uploads/"), nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start an upload: %s", resp.Status)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = registryURL(loc)
	}
	half := data[:len(data)/2]
	resp = do(http.MethodPatch, loc, half, map[string]string{
		"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("0-%d", len(half)-1),
	})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("send half the layer: %s", resp.Status)
	}
	loc = resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = registryURL(loc)
	}
	return &partialUpload{img: img, layer: digest.Digest(ld.String()), location: loc}
}

func (u *partialUpload) checkAfterRestart(t *testing.T, c *harness.Cluster) {
	t.Helper()
	ctx := t.Context()
	token, err := c.RegistryToken(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	head := func(url string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := head(registryURL("/v2/" + crashRepo + "/blobs/" + u.layer.String())); code != http.StatusNotFound {
		t.Errorf("HEAD of the half-uploaded layer after kill -9: %d, want 404 (a partial blob is visible)", code)
	}
	// The cut-off upload cannot be completed into a blob with the wrong content.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, u.location+"&digest="+u.layer.String(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("completing the cut-off upload after the restart: %s, want a 4xx", resp.Status)
		}
	}
	// Pushing again works, and the image pulls back whole.
	ref, err := name.ParseReference(harness.Registry+"/"+crashRepo+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, u.img, remote.WithContext(ctx), remote.WithAuth(&authn.Bearer{Token: token})); err != nil {
		t.Fatalf("push again after the crash: %v", err)
	}
	pulled, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuth(&authn.Bearer{Token: token}))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := u.img.Digest()
	if got, _ := pulled.Digest(); got != want {
		t.Errorf("pulled %s, want %s", got, want)
	}
	layers, err := pulled.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %v %d", err, len(layers))
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Errorf("read the layer pushed again: %v", err)
	}
}
