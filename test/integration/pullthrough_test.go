package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/imagemeta"
	"github.com/gantry-dev/gantry/test/harness"
)

// A stream's image imported from another registry is pulled through the integrated registry
// from there, with the project's docker-registry secret, only where imports may reach (the
// standalone registry here allows loopback; the cluster's registry does not), and only the
// stream's images: other content of that registry stays out of reach.
func TestRegistryPullThrough(t *testing.T) {
	ctx := t.Context()
	const user, pass = "puller", "s3cret"
	backend := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="source"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"log in"}]}`, http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	defer src.Close()
	host := strings.TrimPrefix(src.URL, "http://")
	creds := remote.WithAuth(&authn.Basic{Username: user, Password: pass})
	img, other := testImage(t), testImage(t)
	if err := remote.Write(ref(t, host+"/lib/app:v1"), img, creds); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/lib/secret:v1"), other, creds); err != nil {
		t.Fatal(err)
	}
	dgst, _ := img.Digest()
	pullSpec := host + "/lib/app@" + dgst.String()

	// The stream's history names the other registry, as an import writes it.
	u := newRegistryUser(t, "pullthrough")
	ic := imageClient(t)
	manifest, _ := img.RawManifest()
	config, _ := img.RawConfigFile()
	mt, _ := img.MediaType()
	meta, err := imagemeta.Image(string(mt), manifest, config, pullSpec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.ImageV1().Images().Create(ctx, meta, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := ic.ImageV1().ImageStreams(u.project).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{
		Name: "ext", Annotations: map[string]string{imagev1.InsecureRepositoryAnnotation: "true"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Status.Tags = []imagev1.NamedTagEventList{{Tag: "v1", Items: []imagev1.TagEvent{{
		Created: metav1.Now(), DockerImageReference: pullSpec, Image: dgst.String(),
	}}}}
	if _, err := ic.ImageV1().ImageStreams(u.project).UpdateStatus(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	const addr = "127.0.0.1:15001"
	out := startStandaloneRegistry(t, addr, "--allowed-registries-for-import", "127.0.0.1:*")
	pull := func(ctx context.Context, registryHost string) error {
		pulled, err := remote.Image(ref(t, registryHost+"/"+u.project+"/ext:v1"), remote.WithContext(ctx), remote.WithAuth(u.auth()))
		if err != nil {
			return err
		}
		if d, _ := pulled.Digest(); d != dgst {
			return fmt.Errorf("pulled %s, want %s", d, dgst)
		}
		layers, err := pulled.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc) // the digest is checked at the end
			rc.Close()
			if err != nil {
				return err
			}
		}
		if _, err := pulled.ConfigFile(); err != nil {
			return err
		}
		return nil
	}

	// Without the project's credentials the other registry refuses.
	err = harness.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		_, err := remote.Head(ref(t, addr+"/"+u.project+"/nothing:v1"), remote.WithContext(ctx), remote.WithAuth(u.auth()))
		if err != nil && strings.Contains(err.Error(), "connection refused") {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("standalone registry not serving: %v\n%s", err, out)
	}
	if err := pull(ctx, addr); err == nil {
		t.Fatal("pulled through without the project's credentials for the other registry")
	}

	// With a docker-registry secret in the project, the image is pulled through.
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	if _, err := cluster.Client.CoreV1().Secrets(u.project).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "source-registry"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pull(ctx, addr); err != nil {
		t.Fatalf("pull through %s with the project's secret: %v\n%s", addr, err, out)
	}
	// By digest too.
	if _, err := remote.Image(ref(t, addr+"/"+u.project+"/ext@"+dgst.String()), remote.WithContext(ctx), remote.WithAuth(u.auth())); err != nil {
		t.Errorf("pull through by digest: %v", err)
	}

	// Content of the other registry that no image of the stream uses stays out of reach.
	otherLayers, _ := other.Layers()
	ld, _ := otherLayers[0].Digest()
	od, _ := other.Digest()
	for _, p := range []string{"/blobs/" + ld.String(), "/manifests/" + od.String()} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/"+u.project+"/ext"+p, nil)
		req.SetBasicAuth("unused", u.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s of an image outside the stream: %s, want 404", p, resp.Status)
		}
	}

	// Someone without pull rights on the stream gets nothing through it.
	stranger := newRegistryUser(t, "pullthrough-stranger")
	if _, err := remote.Image(ref(t, addr+"/"+u.project+"/ext:v1"), remote.WithContext(ctx), remote.WithAuth(stranger.auth())); err == nil {
		t.Error("a user without pull rights on the stream pulled through it")
	}

	// The cluster's registry has no allow-list: loopback registries are not reachable from it.
	if err := pull(ctx, harness.Registry); err == nil {
		t.Error("the cluster's registry pulled through from a loopback registry without an allow-list")
	}
}
