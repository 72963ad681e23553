package image

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// importServer answers imagestreamimports as Gantry does, for one image per pull spec in images
// (a pull spec missing from it fails with reason Forbidden), and records the requests.
type importServer struct {
	mu       sync.Mutex
	requests []*imagev1.ImageStreamImport
	delay    time.Duration
}

func (s *importServer) react(images map[string]*imagev1.Image) clienttesting.ReactionFunc {
	return func(action clienttesting.Action) (bool, runtime.Object, error) {
		isi := action.(clienttesting.CreateAction).GetObject().(*imagev1.ImageStreamImport).DeepCopy()
		s.mu.Lock()
		s.requests = append(s.requests, isi.DeepCopy())
		s.mu.Unlock()
		time.Sleep(s.delay)
		status := func(from string) imagev1.ImageImportStatus {
			if img, ok := images[from]; ok {
				return imagev1.ImageImportStatus{Status: metav1.Status{Status: metav1.StatusSuccess}, Image: img}
			}
			return imagev1.ImageImportStatus{Status: metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden,
				Message: "registry " + strings.Split(from, "/")[0] + " is not allowed for import: ask the cluster administrator to add it to --allowed-registries-for-import"}}
		}
		for _, im := range isi.Spec.Images {
			st := status(im.From.Name)
			if im.To != nil {
				st.Tag = im.To.Name
			}
			isi.Status.Images = append(isi.Status.Images, st)
		}
		if r := isi.Spec.Repository; r != nil {
			isi.Status.Repository = &imagev1.RepositoryImportStatus{Status: metav1.Status{Status: metav1.StatusSuccess}}
			for _, tag := range []string{"1", "2"} {
				st := status(r.From.Name + ":" + tag)
				st.Tag = tag
				isi.Status.Repository.Images = append(isi.Status.Repository.Images, st)
			}
		}
		if isi.Spec.Import {
			result := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: isi.Name, Namespace: isi.Namespace, CreationTimestamp: metav1.NewTime(testNow.Add(-time.Hour))},
				Spec:   imagev1.ImageStreamSpec{LookupPolicy: imagev1.ImageLookupPolicy{Local: true}},
				Status: imagev1.ImageStreamStatus{DockerImageRepository: "127.0.0.1:5000/" + isi.Namespace + "/" + isi.Name}}
			for i, im := range isi.Spec.Images {
				gen := int64(2)
				result.Spec.Tags = append(result.Spec.Tags, imagev1.TagReference{Name: im.To.Name, From: &im.From, ImportPolicy: im.ImportPolicy, Generation: &gen})
				st := isi.Status.Images[i]
				l := imagev1.NamedTagEventList{Tag: im.To.Name}
				if st.Image != nil {
					l.Items = []imagev1.TagEvent{{Created: metav1.NewTime(testNow.Add(-time.Second)), DockerImageReference: st.Image.DockerImageReference, Image: st.Image.Name, Generation: 2}}
				} else {
					l.Conditions = []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: string(st.Status.Reason),
						Message: st.Status.Message, Generation: 2, LastTransitionTime: metav1.NewTime(testNow.Add(-time.Second))}}
				}
				result.Status.Tags = append(result.Status.Tags, l)
			}
			isi.Status.Import = result
		}
		return true, isi, nil
	}
}

func testImportImage(t *testing.T, ref, digest string) *imagev1.Image {
	t.Helper()
	meta := docker10.DockerImage{
		Created: metav1.NewTime(testNow.Add(-48 * time.Hour)), Architecture: "amd64", Size: 3 << 20,
		Config: &docker10.DockerConfig{Entrypoint: []string{"/bin/app"}, Cmd: []string{"serve"}, Env: []string{"PATH=/bin", "GREETING=hello"},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}}, Labels: map[string]string{"io.gantry.test": "yes"}, WorkingDir: "/srv"},
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digest, CreationTimestamp: metav1.NewTime(testNow.Add(-time.Second))},
		DockerImageReference: ref + "@" + digest,
		DockerImageMetadata:  runtime.RawExtension{Raw: raw},
		DockerImageLayers:    []imagev1.ImageLayer{{Name: "sha256:l1", LayerSize: 2 << 20}, {Name: "sha256:l2", LayerSize: 1 << 20}},
	}
}

type importFlags struct {
	from                                           string
	confirm, all, scheduled, insecure, insecureSet bool
	policy                                         string
	dryRun                                         bool
}

func runImport(t *testing.T, srv *importServer, images map[string]*imagev1.Image, objects []runtime.Object, f importFlags, target string) (string, string, error) {
	t.Helper()
	cs := fakeServer(t, objects...)
	cs.PrependReactor("create", "imagestreamimports", srv.react(images))
	streams, out, errOut := testStreams()
	o := &ImportImageOptions{
		Client: cs.ImageV1(), Namespace: "dev", Target: target, From: f.from, Confirm: f.confirm, All: f.all, Scheduled: f.scheduled,
		Insecure: f.insecure, InsecureSet: f.insecureSet, ReferencePolicy: f.policy, DryRun: f.dryRun,
		ProgressAfter: 50 * time.Millisecond, Now: func() time.Time { return testNow }, IOStreams: streams,
	}
	err := o.Validate()
	if err == nil {
		err = o.Run(t.Context())
	}
	return out.String(), errOut.String(), err
}

func dockerTag(name, from string, policy imagev1.TagImportPolicy) imagev1.TagReference {
	return imagev1.TagReference{Name: name, From: &corev1.ObjectReference{Kind: "DockerImage", Name: from}, ImportPolicy: policy}
}

func TestImportImageBuildsTheRequest(t *testing.T) {
	existing := stream("dev", "app", nil,
		dockerTag("1", "quay.io/team/app:1", imagev1.TagImportPolicy{Insecure: true}),
		dockerTag("2", "quay.io/team/app:2", imagev1.TagImportPolicy{Scheduled: true}),
		imagev1.TagReference{Name: "stable", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "1"}},
		imagev1.TagReference{Name: "copied", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "app@" + imgA}},
	)
	repo := stream("dev", "mirror", nil)
	repo.Spec.DockerImageRepository = "quay.io/team/mirror"
	insecureStream := stream("dev", "plain", nil, dockerTag("latest", "10.0.0.5:5000/plain", imagev1.TagImportPolicy{}))
	insecureStream.Annotations = map[string]string{imagev1.InsecureRepositoryAnnotation: "true"}
	objects := []runtime.Object{existing, repo, insecureStream}

	type image struct {
		from, to            string
		insecure, scheduled bool
		policy              imagev1.TagReferencePolicyType
	}
	cases := []struct {
		name       string
		target     string
		flags      importFlags
		images     []image
		repository string
		repoPolicy imagev1.TagImportPolicy
		rv         string
		noImport   bool
	}{
		{name: "an existing tag is imported from its source, keeping its policy", target: "app:1",
			images: []image{{from: "quay.io/team/app:1", to: "1", insecure: true}}, rv: "7"},
		{name: "the default tag is latest, here following a tag", target: "app:stable",
			images: []image{{from: "quay.io/team/app:1", to: "1", insecure: true}}, rv: "7"},
		{name: "--scheduled and --reference-policy", target: "app:1", flags: importFlags{scheduled: true, policy: "local"},
			images: []image{{from: "quay.io/team/app:1", to: "1", insecure: true, scheduled: true, policy: imagev1.LocalTagReferencePolicy}}, rv: "7"},
		{name: "--all imports every external tag", target: "app", flags: importFlags{all: true},
			images: []image{{from: "quay.io/team/app:1", to: "1", insecure: true}, {from: "quay.io/team/app:2", to: "2", scheduled: true}}, rv: "7"},
		{name: "--all imports spec.dockerImageRepository", target: "mirror", flags: importFlags{all: true}, repository: "quay.io/team/mirror", rv: "7"},
		{name: "latest comes from spec.dockerImageRepository", target: "mirror", images: []image{{from: "quay.io/team/mirror", to: "latest"}}, rv: "7"},
		{name: "a new stream from --from", target: "web:1.25", flags: importFlags{from: "docker.io/library/nginx:1.25", confirm: true},
			images: []image{{from: "docker.io/library/nginx:1.25", to: "1.25"}}},
		{name: "a new stream named after the pull spec", target: "docker.io/library/nginx:1.25", flags: importFlags{confirm: true, insecure: true, insecureSet: true},
			images: []image{{from: "docker.io/library/nginx:1.25", to: "1.25", insecure: true}}},
		{name: "a new stream from a whole repository", target: "busybox", flags: importFlags{from: "docker.io/library/busybox", all: true, confirm: true, scheduled: true},
			repository: "docker.io/library/busybox", repoPolicy: imagev1.TagImportPolicy{Scheduled: true}},
		{name: "the stream's insecure annotation", target: "plain", images: []image{{from: "10.0.0.5:5000/plain", to: "latest", insecure: true}}, rv: "7"},
		{name: "--insecure=false wins over the annotation", target: "plain", flags: importFlags{insecureSet: true},
			images: []image{{from: "10.0.0.5:5000/plain", to: "latest"}}, rv: "7"},
		{name: "--dry-run", target: "app:1", flags: importFlags{dryRun: true},
			images: []image{{from: "quay.io/team/app:1", to: "1", insecure: true}}, rv: "7", noImport: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := &importServer{}
			_, _, _ = runImport(t, srv, nil, objects, c.flags, c.target)
			if len(srv.requests) != 1 {
				t.Fatalf("%d imports, want 1", len(srv.requests))
			}
			isi := srv.requests[0]
			if isi.Spec.Import == c.noImport || isi.ResourceVersion != c.rv || isi.Namespace != "dev" {
				t.Errorf("import=%t resourceVersion=%q namespace=%q", isi.Spec.Import, isi.ResourceVersion, isi.Namespace)
			}
			if len(isi.Spec.Images) != len(c.images) {
				t.Fatalf("images %+v, want %+v", isi.Spec.Images, c.images)
			}
			for i, want := range c.images {
				got := isi.Spec.Images[i]
				if got.From.Kind != "DockerImage" || got.From.Name != want.from || got.To == nil || got.To.Name != want.to ||
					got.ImportPolicy.Insecure != want.insecure || got.ImportPolicy.Scheduled != want.scheduled || got.ReferencePolicy.Type != want.policy {
					t.Errorf("image %d: %+v to %+v, want %+v", i, got, got.To, want)
				}
			}
			switch r := isi.Spec.Repository; {
			case c.repository == "" && r != nil:
				t.Errorf("repository %+v, want none", r)
			case c.repository != "" && (r == nil || r.From.Name != c.repository || r.ImportPolicy != c.repoPolicy):
				t.Errorf("repository %+v, want %s %+v", r, c.repository, c.repoPolicy)
			}
		})
	}
}

func TestImportImageRefusals(t *testing.T) {
	existing := stream("dev", "app", nil,
		dockerTag("1", "quay.io/team/app:1", imagev1.TagImportPolicy{}),
		imagev1.TagReference{Name: "copied", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "app@" + imgA}},
		imagev1.TagReference{Name: "loop", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "loop2"}},
		imagev1.TagReference{Name: "loop2", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app:loop"}},
		imagev1.TagReference{Name: "elsewhere", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "other:1"}},
		imagev1.TagReference{Name: "pushed"},
	)
	objects := []runtime.Object{existing, stream("dev", "local", map[string]string{"v1": imgA}, imagev1.TagReference{Name: "v1"})}
	cases := []struct {
		name   string
		target string
		flags  importFlags
		want   string
	}{
		{"no stream", "", importFlags{}, "you must specify the name of an image stream"},
		{"a digest", "app@" + imgA, importFlags{}, "to import images by ID, use the 'tag' command"},
		{"a tag with --all", "app:1", importFlags{all: true}, `cannot specify a tag "app:1" as well as --all`},
		{"a bad name", "App", importFlags{}, "the image name must be a valid Docker image pull spec"},
		{"a bad reference policy", "app:1", importFlags{policy: "remote"}, "reference policy must be set to 'source' or 'local'"},
		{"a tagged --from with --all", "app", importFlags{all: true, from: "quay.io/team/app:1"}, "--all imports a whole repository\nTry: --from=quay.io/team/app --all"},
		{"a missing stream", "web", importFlags{from: "docker.io/library/nginx"},
			"no image stream named \"web\" exists, pass --confirm to create and import\nTry: gantry import-image web --from=docker.io/library/nginx --confirm"},
		{"a missing tag", "app:9", importFlags{},
			`the tag "9" does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag`},
		{"a tag from an image stream image", "app:copied", importFlags{}, `tag "copied" points to existing ImageStreamImage "app@` + imgA + `", it cannot be re-imported`},
		{"a pushed tag", "app:pushed", importFlags{from: "quay.io/x/y:1"}, `tag "pushed" already exists - you must use the 'tag' command if you want to change the source to "quay.io/x/y:1"`},
		{"another source", "app:1", importFlags{from: "quay.io/team/app:9"}, `the tag "1" points to "quay.io/team/app:1" - use the 'tag' command if you want to change the source to "quay.io/team/app:9"`},
		{"a loop", "app:loop", importFlags{}, `tag "loop" on the image stream is a reference to same tag`},
		{"another stream", "app:elsewhere", importFlags{}, `tag "elsewhere" points to an imagestreamtag from another ImageStream`},
		{"--all without external tags", "local", importFlags{all: true}, "image stream does not have tags pointing to external docker images"},
		{"--all with another repository", "app", importFlags{all: true, from: "quay.io/team/other"},
			"the image stream does not currently import an entire Docker repository, pass --confirm to update"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := &importServer{}
			out, _, err := runImport(t, srv, nil, objects, c.flags, c.target)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if len(srv.requests) != 0 || out != "" {
				t.Errorf("%d imports made, output %q", len(srv.requests), out)
			}
		})
	}
}

func TestImportImagePrintsTheStreamAndImages(t *testing.T) {
	srv := &importServer{}
	img := testImportImage(t, "docker.io/library/nginx", imgA)
	out, errOut, err := runImport(t, srv, map[string]*imagev1.Image{"docker.io/library/nginx:1.25": img}, nil,
		importFlags{from: "docker.io/library/nginx:1.25", confirm: true}, "web:1.25")
	if err != nil {
		t.Fatal(err)
	}
	want := "imagestream.image.openshift.io/web imported\n\n" +
		"Name:\t\t\tweb\n" +
		"Namespace:\t\tdev\n" +
		"Created:\t\tAbout an hour ago\n" +
		"Labels:\t\t\t<none>\n" +
		"Annotations:\t\t<none>\n" +
		"Docker Pull Spec:\t127.0.0.1:5000/dev/web\n" +
		"Image Lookup:\t\tlocal=true\n" +
		"Unique Images:\t\t1\n" +
		"Tags:\t\t\t1\n" +
		"\n" +
		"1.25\n" +
		"  tagged from docker.io/library/nginx:1.25\n" +
		"\n" +
		"  * docker.io/library/nginx@" + imgA + "\n" +
		"      1 second ago\n" +
		"\n" +
		"Image Name:\tweb:1.25\n" +
		"Docker Image:\tdocker.io/library/nginx@" + imgA + "\n" +
		"Name:\t\t" + imgA + "\n" +
		"Created:\t1 second ago\n" +
		"Image Size:\t3.146MB (first layer 2.097MB, last binary layer 1.049MB)\n" +
		"Image Created:\t2 days ago\n" +
		"Author:\t\t<none>\n" +
		"Arch:\t\tamd64\n" +
		"Entrypoint:\t/bin/app\n" +
		"Command:\tserve\n" +
		"Working Dir:\t/srv\n" +
		"User:\t\t<none>\n" +
		"Exposes Ports:\t8080/tcp\n" +
		"Docker Labels:\tio.gantry.test=yes\n" +
		"Environment:\tPATH=/bin\n" +
		"\t\tGREETING=hello\n" +
		"\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if errOut != "" {
		t.Errorf("stderr %q for a quick import", errOut)
	}
}

func TestImportImageFailureIsAnError(t *testing.T) {
	srv := &importServer{}
	out, _, err := runImport(t, srv, nil, nil, importFlags{from: "127.0.0.1:5000/dev/echo:v1", confirm: true}, "echo:v1")
	if err == nil {
		t.Fatalf("no error; output %s", out)
	}
	want := "tag v1 failed: registry 127.0.0.1:5000 is not allowed for import: ask the cluster administrator to add it to --allowed-registries-for-import"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	wantContains := []string{"imagestream.image.openshift.io/echo imported with errors\n",
		"  ! error: Import failed (Forbidden): registry 127.0.0.1:5000 is not allowed for import"}
	for _, w := range wantContains {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestImportImageRepositoryAndDryRun(t *testing.T) {
	srv := &importServer{}
	images := map[string]*imagev1.Image{"quay.io/team/mirror:1": testImportImage(t, "quay.io/team/mirror", imgA)}
	out, _, err := runImport(t, srv, images, nil, importFlags{from: "quay.io/team/mirror", all: true, confirm: true, dryRun: true}, "mirror")
	if err == nil || err.Error() != "repository tag 2 failed: registry quay.io is not allowed for import: ask the cluster administrator to add it to --allowed-registries-for-import" {
		t.Errorf("error %v", err)
	}
	if !strings.HasPrefix(out, "imagestream.image.openshift.io/mirror imported with errors (dry run)\n\nImage Name:\tmirror:1\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestImportImageTellsAboutSlowImports(t *testing.T) {
	srv := &importServer{delay: 300 * time.Millisecond}
	images := map[string]*imagev1.Image{"quay.io/team/app:1": testImportImage(t, "quay.io/team/app", imgA)}
	_, errOut, err := runImport(t, srv, images, nil, importFlags{from: "quay.io/team/app:1", confirm: true}, "app:1")
	if err != nil {
		t.Fatal(err)
	}
	if errOut != "Importing quay.io/team/app:1 into dev/app ...\n" {
		t.Errorf("stderr %q", errOut)
	}
}

func TestImportImageRetriesWhenTheStreamChanged(t *testing.T) {
	existing := stream("dev", "app", nil, dockerTag("1", "quay.io/team/app:1", imagev1.TagImportPolicy{}))
	cs := fakeServer(t, existing)
	srv := &importServer{}
	answer := srv.react(map[string]*imagev1.Image{"quay.io/team/app:1": testImportImage(t, "quay.io/team/app", imgA)})
	calls := 0
	cs.PrependReactor("create", "imagestreamimports", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if calls++; calls == 1 {
			return true, nil, apierrors.NewConflict(imagev1.Resource("imagestreams"), "app", nil)
		}
		return answer(a)
	})
	streams, out, _ := testStreams()
	o := &ImportImageOptions{Client: cs.ImageV1(), Namespace: "dev", Target: "app:1", Now: func() time.Time { return testNow }, IOStreams: streams}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || !strings.HasPrefix(out.String(), "imagestream.image.openshift.io/app imported\n") {
		t.Errorf("%d imports; output %s", calls, out)
	}
}
