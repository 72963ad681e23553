package image

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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gantry-dev/gantry/internal/imageimport"
)

// importEnv is imagestreamimports over fake stores, importing with the real importer from
// go-containerregistry's registry on a loopback port (allowed by the importer's allow-list).
type importEnv struct {
	data    *fakeData
	streams *fakeStore
	images  *fakeStore
	rest    *importREST
	host    string
	ctx     context.Context
	denied  map[string]bool // verbs the user may not use on imagestreams
}

func newImportEnv(t *testing.T, wrap func(http.Handler) http.Handler, secrets SecretsFunc, allowed ...string) *importEnv {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if allowed == nil {
		allowed = []string{"127.0.0.1:*"}
	}
	im, err := imageimport.New(imageimport.Options{AllowedRegistries: allowed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(im.Close)
	d := &fakeData{objs: map[string]runtime.Object{}}
	e := &importEnv{
		data:    d,
		streams: &fakeStore{d: d, def: imageStreams()},
		images:  &fakeStore{d: d, def: images()},
		host:    strings.TrimPrefix(srv.URL, "http://"),
		denied:  map[string]bool{},
	}
	authz := authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		if a.GetResource() == "imagestreams" && a.GetNamespace() == "demo" && a.GetUser().GetName() == "alice" && !e.denied[a.GetVerb()] {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "", nil
	})
	status := &fakeStore{d: d, def: imageStreams(), status: true}
	e.rest = NewImportREST(e.streams, status, e.images, authz, im, secrets).(*importREST)
	e.ctx = request.WithUser(request.WithNamespace(context.Background(), "demo"), &user.DefaultInfo{Name: "alice"})
	return e
}

func (e *importEnv) push(t *testing.T, repo string, img ggcrv1.Image, opts ...remote.Option) string {
	t.Helper()
	ref, err := name.ParseReference(e.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func importTestImage(t *testing.T, arch string) ggcrv1.Image {
	t.Helper()
	img, err := random.Image(128, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Env = []string{"APP=demo"}
	cf.Config.Labels = map[string]string{"io.k8s.display-name": "demo"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func (e *importEnv) stream(t *testing.T, name string) *imagev1.ImageStream {
	t.Helper()
	obj, err := e.streams.Get(e.ctx, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*imagev1.ImageStream)
}

func (e *importEnv) image(t *testing.T, name string) *imagev1.Image {
	t.Helper()
	obj, err := e.images.Get(context.Background(), name, nil)
	if err != nil {
		t.Fatalf("image %s: %v", name, err)
	}
	return obj.(*imagev1.Image)
}

func (e *importEnv) create(t *testing.T, isi *imagev1.ImageStreamImport) *imagev1.ImageStreamImport {
	t.Helper()
	out, err := e.rest.Create(e.ctx, isi, noValidation, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return out.(*imagev1.ImageStreamImport)
}

var noValidation = func(context.Context, runtime.Object) error { return nil }

func importOf(stream string, confirm bool, images ...imagev1.ImageImportSpec) *imagev1.ImageStreamImport {
	return &imagev1.ImageStreamImport{ObjectMeta: metav1.ObjectMeta{Name: stream}, Spec: imagev1.ImageStreamImportSpec{Import: confirm, Images: images}}
}

func spec(from, to string) imagev1.ImageImportSpec {
	s := imagev1.ImageImportSpec{From: corev1.ObjectReference{Kind: "DockerImage", Name: from}, ImportPolicy: imagev1.TagImportPolicy{Insecure: true}}
	if to != "" {
		s.To = &corev1.LocalObjectReference{Name: to}
	}
	return s
}

func TestImportDryRun(t *testing.T) {
	e := newImportEnv(t, nil, nil)
	dgst := e.push(t, "team/app:1", importTestImage(t, "amd64"))
	e.denied["create"], e.denied["update"] = true, true // looking needs no right to write

	out := e.create(t, importOf("app", false, spec(e.host+"/team/app:1", "1")))
	st := out.Status.Images[0]
	if st.Status.Status != metav1.StatusSuccess || st.Image == nil || st.Image.Name != dgst || st.Image.DockerImageManifest != "" {
		t.Fatalf("dry run status %+v", st)
	}
	if out.Status.Import != nil || len(e.data.objs) != 0 {
		t.Errorf("a dry run stored %d objects (import %v)", len(e.data.objs), out.Status.Import)
	}

	// includeManifest returns the manifest.
	withManifest := spec(e.host+"/team/app:1", "1")
	withManifest.IncludeManifest = true
	out = e.create(t, importOf("app", false, withManifest))
	if m := out.Status.Images[0].Image.DockerImageManifest; !strings.Contains(m, `"layers"`) || out.Status.Images[0].Image.DockerImageConfig == "" {
		t.Errorf("includeManifest: manifest %q", m)
	}

	// A server-side dry run of a confirmed import stores nothing either.
	if _, err := e.rest.Create(e.ctx, importOf("app", true, spec(e.host+"/team/app:1", "1")), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if len(e.data.objs) != 0 {
		t.Errorf("a server-side dry run stored %d objects", len(e.data.objs))
	}
}

func TestImportCreatesStream(t *testing.T) {
	e := newImportEnv(t, nil, nil)
	dgst := e.push(t, "team/app:1", importTestImage(t, "amd64"))
	ok := spec(e.host+"/team/app:1", "1")
	ok.ReferencePolicy.Type = imagev1.LocalTagReferencePolicy
	ok.ImportPolicy.Scheduled = true
	out := e.create(t, importOf("app", true, ok, spec(e.host+"/team/app:nope", "2")))

	if out.Status.Images[0].Status.Status != metav1.StatusSuccess || out.Status.Images[1].Status.Reason != metav1.StatusReasonNotFound {
		t.Fatalf("statuses %+v / %+v", out.Status.Images[0].Status, out.Status.Images[1].Status)
	}
	s := e.stream(t, "app")
	if !s.Spec.LookupPolicy.Local || s.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] == "" {
		t.Errorf("created stream %+v", s.ObjectMeta)
	}
	if out.Status.Import == nil || out.Status.Import.Name != "app" || len(out.Status.Import.Status.Tags) != 2 {
		t.Errorf("status.import = %+v", out.Status.Import)
	}
	i := specTagIndex(s, "1")
	if i < 0 {
		t.Fatalf("no spec tag 1: %+v", s.Spec.Tags)
	}
	tag := s.Spec.Tags[i]
	if tag.From.Kind != "DockerImage" || tag.From.Name != e.host+"/team/app:1" || !tag.ImportPolicy.Scheduled || !tag.ImportPolicy.Insecure ||
		tag.ReferencePolicy.Type != imagev1.LocalTagReferencePolicy || tag.Generation == nil {
		t.Errorf("spec tag %+v", tag)
	}
	ev := latestEvent(s, "1")
	if ev == nil || ev.Image != dgst || ev.DockerImageReference != e.host+"/team/app@"+dgst || ev.Generation != *tag.Generation {
		t.Errorf("tag event %+v (spec generation %d)", ev, *tag.Generation)
	}
	img := e.image(t, dgst)
	var meta docker10.DockerImage
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Config.Env[0] != "APP=demo" || len(img.DockerImageLayers) != 2 || img.DockerImageManifest != "" || img.DockerImageConfig != "" {
		t.Errorf("stored image %+v, metadata %+v", img, meta)
	}

	// The failed tag has a spec tag and a condition, and no image.
	j := specTagIndex(s, "2")
	if j < 0 || latestEvent(s, "2") != nil {
		t.Fatalf("failed tag: spec %d, event %+v", j, latestEvent(s, "2"))
	}
	conds := s.Status.Tags[statusTagIndex(s, "2")].Conditions
	if len(conds) != 1 || conds[0].Type != imagev1.ImportSuccess || conds[0].Status != corev1.ConditionFalse || conds[0].Reason != "NotFound" ||
		conds[0].Generation != *s.Spec.Tags[j].Generation || !strings.Contains(conds[0].Message, "not found") {
		t.Errorf("conditions %+v", conds)
	}

	// The same failure again keeps the condition (and when it started); a success clears it.
	e.create(t, importOf("app", true, spec(e.host+"/team/app:nope", "2")))
	s = e.stream(t, "app")
	if again := s.Status.Tags[statusTagIndex(s, "2")].Conditions; len(again) != 1 || !again[0].LastTransitionTime.Equal(&conds[0].LastTransitionTime) {
		t.Errorf("a repeated failure rewrote the condition: %+v, was %+v", again, conds)
	}
	dgst2 := e.push(t, "team/app:nope", importTestImage(t, "amd64"))
	e.create(t, importOf("app", true, spec(e.host+"/team/app:nope", "2")))
	s = e.stream(t, "app")
	if ev := latestEvent(s, "2"); ev == nil || ev.Image != dgst2 || len(s.Status.Tags[statusTagIndex(s, "2")].Conditions) != 0 {
		t.Errorf("tag 2 after success: %+v", s.Status.Tags[statusTagIndex(s, "2")])
	}
}

func TestImportIntoExistingStream(t *testing.T) {
	e := newImportEnv(t, nil, nil)
	d1 := e.push(t, "team/app:1", importTestImage(t, "amd64"))
	existing := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			{Name: "latest", From: &corev1.ObjectReference{Kind: "DockerImage", Name: e.host + "/team/app:1"}, ImportPolicy: imagev1.TagImportPolicy{Insecure: true}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}},
			{Name: "stable", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "latest"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}},
		}},
	}
	if _, err := e.streams.Create(e.ctx, existing, nil, nil); err != nil {
		t.Fatal(err)
	}
	s := e.stream(t, "app")
	gen := *s.Spec.Tags[0].Generation

	// What the import controller sends: the spec tag as it is, with the stream's version.
	isi := importOf("app", true, spec(e.host+"/team/app:1", "latest"))
	isi.ResourceVersion, isi.UID = s.ResourceVersion, s.UID
	e.create(t, isi)
	s = e.stream(t, "app")
	if *s.Spec.Tags[0].Generation != gen || s.Spec.LookupPolicy.Local {
		t.Errorf("an import of the spec tag as it is changed the spec: %+v (lookup %v)", s.Spec.Tags[0], s.Spec.LookupPolicy)
	}
	if ev := latestEvent(s, "latest"); ev == nil || ev.Image != d1 || ev.Generation != gen {
		t.Errorf("latest event %+v, want generation %d", ev, gen)
	}
	if ev := latestEvent(s, "stable"); ev == nil || ev.Image != d1 {
		t.Errorf("the tag following latest did not follow: %+v", ev)
	}

	// A stale resourceVersion conflicts, another stream's UID is NotFound.
	stale := importOf("app", true, spec(e.host+"/team/app:1", "latest"))
	stale.ResourceVersion = "1"
	if _, err := e.rest.Create(e.ctx, stale, nil, nil); !apierrors.IsConflict(err) {
		t.Errorf("stale resourceVersion: %v", err)
	}
	other := importOf("app", true, spec(e.host+"/team/app:1", "latest"))
	other.UID = "someone-else"
	if _, err := e.rest.Create(e.ctx, other, nil, nil); !apierrors.IsNotFound(err) {
		t.Errorf("other UID: %v", err)
	}
	missing := importOf("gone", true, spec(e.host+"/team/app:1", "latest"))
	missing.ResourceVersion = "5"
	if _, err := e.rest.Create(e.ctx, missing, nil, nil); !apierrors.IsNotFound(err) {
		t.Errorf("a versioned import of a missing stream: %v", err)
	}

	// Importing another source into the tag points the spec tag there, with a new generation.
	d2 := e.push(t, "team/app:2", importTestImage(t, "amd64"))
	e.create(t, importOf("app", true, spec(e.host+"/team/app:2", "latest")))
	s = e.stream(t, "app")
	if s.Spec.Tags[0].From.Name != e.host+"/team/app:2" || *s.Spec.Tags[0].Generation <= gen {
		t.Errorf("spec tag after a new source: %+v", s.Spec.Tags[0])
	}
	if got := history(s, "latest"); !equalStrings(got, []string{d2, d1}) || latestEvent(s, "latest").Generation != *s.Spec.Tags[0].Generation {
		t.Errorf("latest history %v, newest %+v", got, latestEvent(s, "latest"))
	}
}

func TestImportAuthorization(t *testing.T) {
	e := newImportEnv(t, nil, nil)
	e.push(t, "team/app:1", importTestImage(t, "amd64"))
	e.denied["create"] = true
	_, err := e.rest.Create(e.ctx, importOf("app", true, spec(e.host+"/team/app:1", "1")), nil, nil)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "alice may not create image streams in project demo") {
		t.Fatalf("import without the right to create streams: %v", err)
	}
	if len(e.data.objs) != 0 {
		t.Errorf("a refused import stored %d objects", len(e.data.objs))
	}
	delete(e.denied, "create")
	e.create(t, importOf("app", true, spec(e.host+"/team/app:1", "1")))
	e.denied["update"] = true
	if _, err := e.rest.Create(e.ctx, importOf("app", true, spec(e.host+"/team/app:1", "2")), nil, nil); !apierrors.IsForbidden(err) {
		t.Errorf("import into an existing stream without update: %v", err)
	}
	anonymous := request.WithNamespace(context.Background(), "demo")
	if _, err := e.rest.Create(anonymous, importOf("app", true, spec(e.host+"/team/app:1", "2")), nil, nil); !apierrors.IsForbidden(err) {
		t.Errorf("import without a user: %v", err)
	}
}

func TestImportInvalid(t *testing.T) {
	e := newImportEnv(t, nil, nil)
	many := importOf("app", false)
	for i := 0; i <= MaxImportImages; i++ {
		many.Spec.Images = append(many.Spec.Images, spec("registry.example.com/x:1", ""))
	}
	badKind := spec("x:1", "1")
	badKind.From.Kind = "ImageStreamTag"
	badMode := spec("x:1", "3")
	badMode.ImportPolicy.ImportMode = "Sometimes"
	for name, tc := range map[string]struct {
		isi  *imagev1.ImageStreamImport
		want []string
	}{
		"nothing to import": {importOf("app", true), []string{"spec.images"}},
		"bad stream name":   {importOf("App", false, spec("x:1", "")), []string{"metadata.name"}},
		"bad kind":          {importOf("app", false, badKind), []string{"spec.images[0].from.kind"}},
		"bad pull spec":     {importOf("app", false, spec("a:b:c:d", "")), []string{"spec.images[0].from.name"}},
		"bad tag":           {importOf("app", false, spec("x:1", "no tag!")), []string{"spec.images[0].to.name"}},
		"duplicate tag":     {importOf("app", false, spec("x:1", "1"), spec("y:1", "1")), []string{"spec.images[1].to.name"}},
		"bad mode":          {importOf("app", false, badMode), []string{"spec.images[0].importPolicy.importMode"}},
		"too many":          {many, []string{"spec.images"}},
		"repository with a tag": {&imagev1.ImageStreamImport{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: imagev1.ImageStreamImportSpec{
			Repository: &imagev1.RepositoryImportSpec{From: corev1.ObjectReference{Kind: "DockerImage", Name: "registry.example.com/x:1"}}}}, []string{"spec.repository.from.name"}},
	} {
		_, err := e.rest.Create(e.ctx, tc.isi, nil, nil)
		if got := invalidFields(t, err); !equalStrings(got, tc.want) {
			t.Errorf("%s: invalid fields %v, want %v", name, got, tc.want)
		}
	}
	other := importOf("app", false, spec("x:1", ""))
	other.Namespace = "elsewhere"
	if _, err := e.rest.Create(e.ctx, other, nil, nil); !apierrors.IsBadRequest(err) {
		t.Errorf("namespace mismatch: %v", err)
	}
}

func TestImportCredentialsFromSecrets(t *testing.T) {
	auth := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "robot" || p != "pw" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	// The secret is read from the namespace through a (fake) Kubernetes client.
	var host string
	kube := fake.NewSimpleClientset()
	e := newImportEnv(t, auth, KubeSecrets(kube))
	host = e.host
	dgst := e.push(t, "private/app:1", importTestImage(t, "amd64"), remote.WithAuth(&authn.Basic{Username: "robot", Password: "pw"}))

	out := e.create(t, importOf("app", false, spec(host+"/private/app:1", "1")))
	if st := out.Status.Images[0].Status; st.Reason != metav1.StatusReasonUnauthorized || !strings.Contains(st.Message, "docker-registry secret for "+host) {
		t.Fatalf("without a secret: %+v", st)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "registry-login", Namespace: "demo"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`,
			host, base64.StdEncoding.EncodeToString([]byte("robot:pw"))))},
	}
	if _, err := kube.CoreV1().Secrets("demo").Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out = e.create(t, importOf("app", true, spec(host+"/private/app:1", "1")))
	if st := out.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image.Name != dgst {
		t.Fatalf("with the project's secret: %+v", st.Status)
	}
	// Another project's secret is not used.
	otherNS := request.WithUser(request.WithNamespace(context.Background(), "other"), &user.DefaultInfo{Name: "bob"})
	res, err := e.rest.Create(otherNS, importOf("app", false, spec(host+"/private/app:1", "1")), nil, nil)
	if err != nil || res.(*imagev1.ImageStreamImport).Status.Images[0].Status.Reason != metav1.StatusReasonUnauthorized {
		t.Errorf("import from another project: %v %+v", err, res)
	}
}

func TestImportIndexModes(t *testing.T) {
	e := newImportEnv(t, nil, nil)
	amd, arm := importTestImage(t, "amd64"), importTestImage(t, "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: ggcrv1.Descriptor{Platform: &ggcrv1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: ggcrv1.Descriptor{Platform: &ggcrv1.Platform{OS: "linux", Architecture: "amd64"}}})
	ref, _ := name.ParseReference(e.host + "/multi/app:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	amdDigest, _ := amd.Digest()
	armDigest, _ := arm.Digest()

	legacy := spec(e.host+"/multi/app:1", "legacy")
	keep := spec(e.host+"/multi/app:1", "multi")
	keep.ImportPolicy.ImportMode = imagev1.ImportModePreserveOriginal
	out := e.create(t, importOf("app", true, legacy, keep))
	if out.Status.Images[0].Image.Name != amdDigest.String() || out.Status.Images[1].Image.Name != idxDigest.String() || len(out.Status.Images[1].Manifests) != 2 {
		t.Fatalf("statuses %+v / %+v", out.Status.Images[0].Status, out.Status.Images[1].Status)
	}
	s := e.stream(t, "app")
	if ev := latestEvent(s, "legacy"); ev.Image != amdDigest.String() {
		t.Errorf("legacy tag event %+v", ev)
	}
	if ev := latestEvent(s, "multi"); ev.Image != idxDigest.String() || ev.DockerImageReference != e.host+"/multi/app@"+idxDigest.String() {
		t.Errorf("multi tag event %+v", ev)
	}
	if s.Spec.Tags[specTagIndex(s, "multi")].ImportPolicy.ImportMode != imagev1.ImportModePreserveOriginal {
		t.Errorf("multi spec tag %+v", s.Spec.Tags[specTagIndex(s, "multi")])
	}
	if img := e.image(t, idxDigest.String()); len(img.DockerImageManifests) != 2 {
		t.Errorf("stored index %+v", img)
	}
	for _, d := range []ggcrv1.Hash{amdDigest, armDigest} {
		if img := e.image(t, d.String()); len(img.DockerImageLayers) != 2 {
			t.Errorf("stored platform image %s: %+v", d, img)
		}
	}
}

func TestImportRepositoryTags(t *testing.T) {
	e := newImportEnv(t, nil, nil)
	img := importTestImage(t, "amd64")
	for i := 0; i < 55; i++ {
		e.push(t, fmt.Sprintf("repo/app:1.%d", i), img)
	}
	e.push(t, "repo/app:latest", img)
	isi := &imagev1.ImageStreamImport{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: imagev1.ImageStreamImportSpec{Import: true,
		Repository: &imagev1.RepositoryImportSpec{From: corev1.ObjectReference{Kind: "DockerImage", Name: e.host + "/repo/app"}, ImportPolicy: imagev1.TagImportPolicy{Insecure: true}}}}
	out := e.create(t, isi)
	if out.Status.Repository.Status.Status != metav1.StatusSuccess || len(out.Status.Repository.Images) != 50 || len(out.Status.Repository.AdditionalTags) != 6 {
		t.Fatalf("repository status: %+v, %d images, additional %v", out.Status.Repository.Status, len(out.Status.Repository.Images), out.Status.Repository.AdditionalTags)
	}
	s := e.stream(t, "app")
	if len(s.Spec.Tags) != 50 || len(s.Status.Tags) != 50 || s.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] == "" {
		t.Fatalf("%d spec tags, %d status tags, annotations %v", len(s.Spec.Tags), len(s.Status.Tags), s.Annotations)
	}
	// The newest versions are imported: latest, 1.54 ... 1.6.
	if specTagIndex(s, "latest") < 0 || specTagIndex(s, "1.54") < 0 || specTagIndex(s, "1.5") >= 0 {
		t.Errorf("imported tags: %v", out.Status.Repository.AdditionalTags)
	}
	if from := s.Spec.Tags[specTagIndex(s, "1.54")].From.Name; from != e.host+"/repo/app:1.54" {
		t.Errorf("spec tag 1.54 from %s", from)
	}
}

func TestImportRefusedRegistry(t *testing.T) {
	e := newImportEnv(t, nil, nil, "registry.example.com")
	e.push(t, "team/app:1", importTestImage(t, "amd64"))
	out := e.create(t, importOf("app", true, spec(e.host+"/team/app:1", "1"), spec("169.254.169.254/x:1", "meta")))
	for i, want := range []string{"not on the allow-list", "not on the allow-list"} {
		st := out.Status.Images[i].Status
		if st.Reason != metav1.StatusReasonForbidden || !strings.Contains(st.Message, want) || !strings.Contains(st.Message, "--allowed-registries-for-import") {
			t.Errorf("image %d: %+v", i, st)
		}
	}
	s := e.stream(t, "app")
	if c := s.Status.Tags[statusTagIndex(s, "1")].Conditions; len(c) != 1 || c[0].Reason != "Forbidden" {
		t.Errorf("conditions of a refused tag: %+v", c)
	}

	open := newImportEnv(t, nil, nil)
	open.rest.importer = mustImporter(t, imageimport.Options{})
	open.push(t, "team/app:1", importTestImage(t, "amd64"))
	out = open.create(t, importOf("app", false, spec(open.host+"/team/app:1", "1")))
	if st := out.Status.Images[0].Status; st.Reason != metav1.StatusReasonForbidden || !strings.Contains(st.Message, "loopback") {
		t.Errorf("loopback without an allow-list: %+v", st)
	}
}

func mustImporter(t *testing.T, o imageimport.Options) *imageimport.Importer {
	t.Helper()
	im, err := imageimport.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(im.Close)
	return im
}
