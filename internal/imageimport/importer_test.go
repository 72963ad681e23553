package imageimport

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testRegistry is go-containerregistry's in-memory registry on a loopback port, optionally
// behind a wrapper (basic auth, counting, ...).
func testRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// testImage is a random image with the metadata a user sees.
func testImage(t *testing.T, arch string) ggcrv1.Image {
	t.Helper()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Env = []string{"GREETING=hello"}
	cf.Config.Entrypoint = []string{"/bin/app"}
	cf.Config.Labels = map[string]string{"arch": arch}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func push(t *testing.T, ref string, img ggcrv1.Image, opts ...remote.Option) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func newImporter(t *testing.T, o Options) *Importer {
	t.Helper()
	im, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(im.Close)
	return im
}

func isiFor(insecure bool, mode imagev1.ImportModeType, refs ...string) *imagev1.ImageStreamImport {
	isi := &imagev1.ImageStreamImport{}
	for _, r := range refs {
		isi.Spec.Images = append(isi.Spec.Images, imagev1.ImageImportSpec{
			From:         corev1.ObjectReference{Kind: "DockerImage", Name: r},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: insecure, ImportMode: mode},
		})
	}
	return isi
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func wantFailure(t *testing.T, st metav1.Status, reason metav1.StatusReason, parts ...string) {
	t.Helper()
	if st.Status != metav1.StatusFailure || st.Reason != reason {
		t.Errorf("status = %+v, want a %s failure", st, reason)
		return
	}
	for _, p := range parts {
		if !strings.Contains(st.Message, p) {
			t.Errorf("message %q does not say %q", st.Message, p)
		}
	}
}

func TestImportImage(t *testing.T) {
	host := testRegistry(t, nil)
	img := testImage(t, "amd64")
	dgst := push(t, host+"/team/app:1.0", img)
	im := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}})

	isi := isiFor(true, "", host+"/team/app:1.0", host+"/team/app@"+dgst, host+"/team/app:missing", host+"/team/nothing:1")
	im.Import(ctx(t), isi, nil, nil)
	st := isi.Status.Images[0]
	if st.Status.Status != metav1.StatusSuccess || st.Image == nil {
		t.Fatalf("import by tag: %+v", st.Status)
	}
	if st.Tag != "1.0" || st.Image.Name != dgst || st.Image.DockerImageReference != host+"/team/app@"+dgst {
		t.Errorf("tag %q, image %s, reference %s", st.Tag, st.Image.Name, st.Image.DockerImageReference)
	}
	if len(st.Image.DockerImageLayers) != 2 || st.Image.DockerImageManifestMediaType == "" {
		t.Errorf("layers %+v, media type %q", st.Image.DockerImageLayers, st.Image.DockerImageManifestMediaType)
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(st.Image.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Config.Env[0] != "GREETING=hello" || meta.Config.Entrypoint[0] != "/bin/app" || meta.Architecture != "amd64" || meta.Size <= 0 {
		t.Errorf("metadata = %+v", meta)
	}
	if by := isi.Status.Images[1]; by.Status.Status != metav1.StatusSuccess || by.Image.Name != dgst || by.Tag != "" {
		t.Errorf("import by digest: %+v tag %q", by.Status, by.Tag)
	}
	wantFailure(t, isi.Status.Images[2].Status, metav1.StatusReasonNotFound, host+"/team/app:missing", "not found")
	wantFailure(t, isi.Status.Images[3].Status, metav1.StatusReasonNotFound, "not found")

	// Without importPolicy.insecure, a plain HTTP registry is not used.
	plain := isiFor(false, "", host+"/team/app:1.0")
	im.Import(ctx(t), plain, nil, nil)
	wantFailure(t, plain.Status.Images[0].Status, metav1.StatusReasonInternalError, "plain HTTP", "--insecure")

	// Invalid pull specs fail alone.
	bad := isiFor(true, "", "UPPER/Case::x", host+"/team/app:1.0")
	bad.Spec.Images = append(bad.Spec.Images, imagev1.ImageImportSpec{From: corev1.ObjectReference{Kind: "ImageStreamTag", Name: "x:y"}})
	im.Import(ctx(t), bad, nil, nil)
	wantFailure(t, bad.Status.Images[0].Status, metav1.StatusReasonInvalid, "UPPER/Case::x")
	wantFailure(t, bad.Status.Images[2].Status, metav1.StatusReasonInvalid, "only DockerImage")
	if bad.Status.Images[1].Status.Status != metav1.StatusSuccess {
		t.Errorf("a good image next to bad ones: %+v", bad.Status.Images[1].Status)
	}
}

// basicAuth wraps a registry with a login.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func dockerConfigSecret(name, host, user, pass string) corev1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth))},
	}
}

func TestImportWithCredentials(t *testing.T) {
	host := testRegistry(t, basicAuth("robot", "s3cret"))
	dgst := push(t, host+"/private/app:v1", testImage(t, "amd64"), remote.WithAuth(&authn.Basic{Username: "robot", Password: "s3cret"}))
	im := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}})

	anon := isiFor(true, "", host+"/private/app:v1")
	im.Import(ctx(t), anon, nil, nil)
	wantFailure(t, anon.Status.Images[0].Status, metav1.StatusReasonUnauthorized, "docker-registry secret", host)

	good := isiFor(true, "", host+"/private/app:v1")
	kc := Keychain([]corev1.Secret{dockerConfigSecret("pull", host, "robot", "s3cret")})
	im.Import(ctx(t), good, nil, kc)
	if st := good.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image.Name != dgst {
		t.Fatalf("import with a dockerconfigjson secret: %+v", st.Status)
	}

	wrong := isiFor(true, "", host+"/private/app:v1")
	im.Import(ctx(t), wrong, nil, Keychain([]corev1.Secret{dockerConfigSecret("pull", host, "robot", "wrong")}))
	wantFailure(t, wrong.Status.Images[0].Status, metav1.StatusReasonUnauthorized)

	// Secrets are read once, when a registry is contacted; an error reading them fails the import.
	var loads atomic.Int32
	lazy := LazyKeychain(func() ([]corev1.Secret, error) {
		loads.Add(1)
		return []corev1.Secret{dockerConfigSecret("pull", host, "robot", "s3cret")}, nil
	})
	two := isiFor(true, "", host+"/private/app:v1", host+"/private/app@"+dgst)
	im.Import(ctx(t), two, nil, lazy)
	if two.Status.Images[0].Status.Status != metav1.StatusSuccess || two.Status.Images[1].Status.Status != metav1.StatusSuccess || loads.Load() != 1 {
		t.Errorf("lazy keychain: %+v %+v, %d loads", two.Status.Images[0].Status, two.Status.Images[1].Status, loads.Load())
	}
	failing := isiFor(true, "", host+"/private/app:v1")
	im.Import(ctx(t), failing, nil, LazyKeychain(func() ([]corev1.Secret, error) { return nil, fmt.Errorf("secrets are forbidden") }))
	wantFailure(t, failing.Status.Images[0].Status, metav1.StatusReasonInternalError, "secrets are forbidden")
}

// A public image imports although the project's secret for its registry is stale.
func TestStaleSecretFallsBackToAnonymous(t *testing.T) {
	host := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, _, ok := r.BasicAuth(); ok {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	dgst := push(t, host+"/public/app:1", testImage(t, "amd64"))
	im := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}})
	isi := isiFor(true, "", host+"/public/app:1")
	im.Import(ctx(t), isi, nil, Keychain([]corev1.Secret{dockerConfigSecret("old", host, "someone", "expired")}))
	if st := isi.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image.Name != dgst {
		t.Fatalf("public image with a stale secret: %+v", st.Status)
	}
}

func testIndex(t *testing.T, host, repo string) (index, amd, arm string) {
	t.Helper()
	amdImg, armImg := testImage(t, "amd64"), testImage(t, "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: armImg, Descriptor: ggcrv1.Descriptor{Platform: &ggcrv1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: amdImg, Descriptor: ggcrv1.Descriptor{Platform: &ggcrv1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	r, _ := name.ParseReference(host + "/" + repo)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	a, _ := amdImg.Digest()
	b, _ := armImg.Digest()
	return d.String(), a.String(), b.String()
}

func TestImportIndex(t *testing.T) {
	host := testRegistry(t, nil)
	index, amd, arm := testIndex(t, host, "multi/app:1")
	im := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}})

	legacy := isiFor(true, imagev1.ImportModeLegacy, host+"/multi/app:1")
	im.Import(ctx(t), legacy, nil, nil)
	st := legacy.Status.Images[0]
	if st.Status.Status != metav1.StatusSuccess || st.Image.Name != amd || len(st.Manifests) != 0 || st.Image.DockerImageReference != host+"/multi/app@"+amd {
		t.Fatalf("legacy import of an index: %+v image %+v", st.Status, st.Image)
	}

	// The tag's preferred platform wins over linux/amd64.
	prefer := isiFor(true, imagev1.ImportModeLegacy, host+"/multi/app:1")
	prefer.Spec.Images[0].To = &corev1.LocalObjectReference{Name: "arm"}
	stream := &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "arm", Annotations: map[string]string{imagev1.ImporterPreferArchAnnotation: "arm64"}}}}}
	im.Import(ctx(t), prefer, stream, nil)
	if st := prefer.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image.Name != arm {
		t.Errorf("preferred arm64: %+v", st.Status)
	}

	keep := isiFor(true, imagev1.ImportModePreserveOriginal, host+"/multi/app:1")
	im.Import(ctx(t), keep, nil, nil)
	st = keep.Status.Images[0]
	if st.Status.Status != metav1.StatusSuccess || st.Image.Name != index || st.Image.DockerImageReference != host+"/multi/app@"+index {
		t.Fatalf("preserved index: %+v", st.Status)
	}
	if len(st.Image.DockerImageManifests) != 2 || len(st.Image.DockerImageLayers) != 0 || st.Image.DockerImageManifests[0].Variant != "v8" {
		t.Errorf("index image manifests %+v", st.Image.DockerImageManifests)
	}
	if len(st.Manifests) != 2 || st.Manifests[0].Name != arm || st.Manifests[1].Name != amd || len(st.Manifests[1].DockerImageLayers) != 2 ||
		st.Manifests[1].DockerImageReference != host+"/multi/app@"+amd {
		t.Errorf("index children = %+v", st.Manifests)
	}
}

func TestImportRepository(t *testing.T) {
	host := testRegistry(t, nil)
	img := testImage(t, "amd64")
	tags := []string{"latest", "1.0", "1.1", "2.0", "v3.1", "edge"}
	for i := 0; i < 60; i++ {
		tags = append(tags, fmt.Sprintf("build-%02d", i))
	}
	for _, tag := range tags {
		push(t, host+"/repo/app:"+tag, img)
	}
	im := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}})
	isi := &imagev1.ImageStreamImport{Spec: imagev1.ImageStreamImportSpec{Repository: &imagev1.RepositoryImportSpec{
		From: corev1.ObjectReference{Kind: "DockerImage", Name: host + "/repo/app"}, ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
	}}}
	im.Import(ctx(t), isi, nil, nil)
	st := isi.Status.Repository
	if st == nil || st.Status.Status != metav1.StatusSuccess {
		t.Fatalf("repository import: %+v", st)
	}
	if len(st.Images) != DefaultMaxRepositoryTags || len(st.AdditionalTags) != len(tags)-DefaultMaxRepositoryTags {
		t.Fatalf("%d images, %d additional tags", len(st.Images), len(st.AdditionalTags))
	}
	// latest first, then versions newest first, then the others by name.
	var first []string
	for _, i := range st.Images[:7] {
		first = append(first, i.Tag)
	}
	if got := strings.Join(first, ","); got != "latest,v3.1,2.0,1.1,1.0,build-00,build-01" {
		t.Errorf("order = %s", got)
	}
	if st.AdditionalTags[len(st.AdditionalTags)-1] != "edge" {
		t.Errorf("additional tags = %v", st.AdditionalTags)
	}
	for _, i := range st.Images {
		if i.Status.Status != metav1.StatusSuccess || i.Image == nil || !strings.HasPrefix(i.Image.DockerImageReference, host+"/repo/app@sha256:") {
			t.Errorf("tag %s: %+v", i.Tag, i.Status)
		}
	}

	missing := &imagev1.ImageStreamImport{Spec: imagev1.ImageStreamImportSpec{Repository: &imagev1.RepositoryImportSpec{
		From: corev1.ObjectReference{Kind: "DockerImage", Name: host + "/repo/none"}, ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
	}}}
	im.Import(ctx(t), missing, nil, nil)
	wantFailure(t, missing.Status.Repository.Status, metav1.StatusReasonNotFound)

	tagged := &imagev1.ImageStreamImport{Spec: imagev1.ImageStreamImportSpec{Repository: &imagev1.RepositoryImportSpec{
		From: corev1.ObjectReference{Kind: "DockerImage", Name: host + "/repo/app:1.0"},
	}}}
	im.Import(ctx(t), tagged, nil, nil)
	wantFailure(t, tagged.Status.Repository.Status, metav1.StatusReasonInvalid, "names a tag")
}

func TestRefusedRegistries(t *testing.T) {
	var hits atomic.Int32
	host := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); h.ServeHTTP(w, r) })
	})
	push(t, host+"/team/app:1", testImage(t, "amd64"))
	hits.Store(0)
	_, port, _ := strings.Cut(host, ":")

	open := newImporter(t, Options{})
	isi := isiFor(true, "", host+"/team/app:1", "169.254.169.254/latest/meta-data:1", "localhost:"+port+"/team/app:1")
	im := isi.Spec.Images
	im[1].ImportPolicy.Insecure = false
	open.Import(ctx(t), isi, nil, nil)
	wantFailure(t, isi.Status.Images[0].Status, metav1.StatusReasonForbidden, host, "loopback", "--allowed-registries-for-import")
	wantFailure(t, isi.Status.Images[1].Status, metav1.StatusReasonForbidden, "169.254.169.254", "metadata")
	// A name resolving to loopback is refused when connecting.
	wantFailure(t, isi.Status.Images[2].Status, metav1.StatusReasonForbidden, "localhost:"+port, "resolves to a loopback address", "--allowed-registries-for-import")
	if hits.Load() != 0 {
		t.Errorf("the refused registry got %d requests", hits.Load())
	}

	// With an allow-list, unlisted registries are refused even on public addresses.
	listed := newImporter(t, Options{AllowedRegistries: []string{"registry.example.com"}})
	other := isiFor(false, "", "quay.io/team/app:1")
	listed.Import(ctx(t), other, nil, nil)
	wantFailure(t, other.Status.Images[0].Status, metav1.StatusReasonForbidden, "quay.io", "not on the allow-list (registry.example.com)")

	// The integrated registry is refused unless listed.
	integrated := newImporter(t, Options{IntegratedRegistries: []string{"registry.gantry.example:5000"}})
	self := isiFor(false, "", "registry.gantry.example:5000/demo/app:1")
	integrated.Import(ctx(t), self, nil, nil)
	wantFailure(t, self.Status.Images[0].Status, metav1.StatusReasonForbidden, "integrated registry")
}

// A registry on an allowed address cannot redirect the import to a refused one.
func TestRedirectToLoopbackRefused(t *testing.T) {
	inner := testRegistry(t, nil)
	push(t, inner+"/team/app:1", testImage(t, "amd64"))
	_, innerPort, _ := strings.Cut(inner, ":")
	front := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/") {
				http.Redirect(w, r, "http://localhost:"+innerPort+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	// The front registry serves the manifest; its configuration blob is a redirect.
	push(t, front+"/team/app:1", testImage(t, "amd64"))
	im := newImporter(t, Options{AllowedRegistries: []string{front}})
	isi := isiFor(true, "", front+"/team/app:1")
	im.Import(ctx(t), isi, nil, nil)
	wantFailure(t, isi.Status.Images[0].Status, metav1.StatusReasonForbidden, "localhost:"+innerPort, "loopback")
}

func TestBounds(t *testing.T) {
	big := strings.Repeat(" ", int(MaxManifestSize)+10)
	var inFlight, maxInFlight atomic.Int32
	var mu sync.Mutex
	host := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/huge/app/manifests/1"):
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				io.WriteString(w, `{"schemaVersion":2`+big+`}`)
				return
			case strings.HasSuffix(r.URL.Path, "/hang/app/manifests/1"):
				<-r.Context().Done()
				return
			case strings.Contains(r.URL.Path, "/manifests/"):
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				mu.Lock()
				if n > maxInFlight.Load() {
					maxInFlight.Store(n)
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // lets fetches overlap if they may
			}
			h.ServeHTTP(w, r)
		})
	})
	img := testImage(t, "amd64")
	var refs []string
	for i := 0; i < 6; i++ {
		push(t, fmt.Sprintf("%s/many/app%d:1", host, i), img)
		refs = append(refs, fmt.Sprintf("%s/many/app%d:1", host, i))
	}
	im := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}, MaxConcurrent: 1, RequestTimeout: 2 * time.Second})
	isi := isiFor(true, "", append(refs, host+"/huge/app:1", host+"/hang/app:1")...)
	maxInFlight.Store(0)
	im.Import(ctx(t), isi, nil, nil)
	for i := range refs {
		if isi.Status.Images[i].Status.Status != metav1.StatusSuccess {
			t.Errorf("%s: %+v", refs[i], isi.Status.Images[i].Status)
		}
	}
	if maxInFlight.Load() != 1 {
		t.Errorf("%d manifest fetches ran at once with MaxConcurrent 1", maxInFlight.Load())
	}
	wantFailure(t, isi.Status.Images[len(refs)].Status, metav1.StatusReasonInternalError, "larger than 4 MiB")
	wantFailure(t, isi.Status.Images[len(refs)+1].Status, metav1.StatusReasonInternalError, "did not answer", "within 2s")
}

func TestUnsupportedManifest(t *testing.T) {
	host := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
				io.WriteString(w, `{"schemaVersion":1,"name":"old/app","tag":"1","fsLayers":[]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	im := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}})
	isi := isiFor(true, "", host+"/old/app:1")
	im.Import(ctx(t), isi, nil, nil)
	wantFailure(t, isi.Status.Images[0].Status, metav1.StatusReasonUnsupportedMediaType, "schema 1")
}

func TestKeychain(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	secrets := []corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "b-hub"}, Type: corev1.SecretTypeDockercfg,
			Data: map[string][]byte{corev1.DockerConfigKey: []byte(`{"https://index.docker.io/v1/":{"auth":"` + enc("hubuser:hubpass") + `"}}`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a-corp"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.corp.example:5000":{"username":"corp","password":"pw"},"registry.corp.example:5000/team":{"username":"team","password":"tpw"}}}`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "broken"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "opaque"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"auths": []byte(`{}`)}},
	}
	kc := Keychain(secrets)
	user := func(ref string) string {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(r.Context())
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Username
	}
	for ref, want := range map[string]string{
		"nginx:1":                                      "hubuser",
		"docker.io/library/nginx:1":                    "hubuser",
		"registry.corp.example:5000/app:1":             "corp",
		"registry.corp.example:5000/team/app:1":        "team",
		"registry.corp.example:5000/teammate/app:1":    "corp",
		"registry.corp.example/app:1":                  "",
		"quay.io/someone/app:1":                        "",
		"registry.corp.example:5000/team/nested/app:1": "team",
	} {
		if got := user(ref); got != want {
			t.Errorf("%s: user %q, want %q", ref, got, want)
		}
	}
}

// A TLS registry: verified against the given authorities, or unverified with insecure.
func TestImportTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	ref, _ := name.ParseReference(host + "/tls/app:1")
	img := testImage(t, "amd64")
	if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	dgst, _ := img.Digest()

	untrusted := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}})
	isi := isiFor(false, "", host+"/tls/app:1")
	untrusted.Import(ctx(t), isi, nil, nil)
	wantFailure(t, isi.Status.Images[0].Status, metav1.StatusReasonInternalError, "certificate is not trusted", "--insecure")

	insecure := isiFor(true, "", host+"/tls/app:1")
	untrusted.Import(ctx(t), insecure, nil, nil)
	if st := insecure.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image.Name != dgst.String() {
		t.Errorf("insecure import over unverified TLS: %+v", st.Status)
	}

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	trusted := newImporter(t, Options{AllowedRegistries: []string{"127.0.0.1:*"}, RootCAs: pool})
	secure := isiFor(false, "", host+"/tls/app:1")
	trusted.Import(ctx(t), secure, nil, nil)
	if st := secure.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image.Name != dgst.String() {
		t.Errorf("verified TLS import: %+v", st.Status)
	}
}
