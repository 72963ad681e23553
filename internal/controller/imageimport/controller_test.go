package imageimport

import (
	"context"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imagefake "github.com/openshift/client-go/image/clientset/versioned/fake"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

// testController is the controller over a fake image client whose imagestreamimports answer
// with respond; streams are put into the informer's cache directly.
type testController struct {
	c        *controller
	recorder *record.FakeRecorder
	imports  []*imagev1.ImageStreamImport
	respond  func(isi *imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error)
	indexer  interface{ Add(interface{}) error }
	now      time.Time
}

func newTestController(t *testing.T) *testController {
	t.Helper()
	client := imagefake.NewSimpleClientset()
	tc := &testController{recorder: record.NewFakeRecorder(100), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	client.PrependReactor("create", "imagestreamimports", func(a clienttesting.Action) (bool, runtime.Object, error) {
		isi := a.(clienttesting.CreateAction).GetObject().(*imagev1.ImageStreamImport)
		tc.imports = append(tc.imports, isi.DeepCopy())
		out, err := tc.respond(isi.DeepCopy())
		return true, out, err
	})
	factory := imageinformers.NewSharedInformerFactory(client, 0)
	tc.c = newController(client, factory, tc.recorder, Options{ScheduledImportInterval: time.Hour})
	tc.c.now = func() time.Time { return tc.now }
	tc.c.jitter = func(time.Duration) time.Duration { return 0 }
	tc.indexer = factory.Image().V1().ImageStreams().Informer().GetIndexer()
	t.Cleanup(tc.c.queue.ShutDown)
	return tc
}

func (tc *testController) sync(t *testing.T, s *imagev1.ImageStream) error {
	t.Helper()
	if err := tc.indexer.Add(s); err != nil {
		t.Fatal(err)
	}
	return tc.c.sync(context.Background(), s.Namespace+"/"+s.Name)
}

func (tc *testController) events() []string {
	var out []string
	for {
		select {
		case e := <-tc.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func gen(g int64) *int64 { return &g }

func dockerTag(name, from string, g int64) imagev1.TagReference {
	return imagev1.TagReference{Name: name, From: &corev1.ObjectReference{Kind: "DockerImage", Name: from}, Generation: gen(g),
		ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}}
}

func event(tag, image string, g int64) imagev1.NamedTagEventList {
	return imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{{Image: image, DockerImageReference: "quay.io/x@" + image, Generation: g}}}
}

// succeed answers an import with every image imported as sha256:<tag> and the stream showing it.
func succeed(before *imagev1.ImageStream) func(*imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
	return func(isi *imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
		after := before.DeepCopy()
		for _, im := range isi.Spec.Images {
			image := "sha256:" + im.To.Name
			isi.Status.Images = append(isi.Status.Images, imagev1.ImageImportStatus{
				Status: metav1.Status{Status: metav1.StatusSuccess}, Image: &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: image}}, Tag: im.To.Name})
			replaced := false
			for i := range after.Status.Tags {
				if after.Status.Tags[i].Tag == im.To.Name {
					after.Status.Tags[i], replaced = event(im.To.Name, image, 9), true
				}
			}
			if !replaced {
				after.Status.Tags = append(after.Status.Tags, event(im.To.Name, image, 9))
			}
		}
		isi.Status.Import = after
		return isi, nil
	}
}

func stream() *imagev1.ImageStream {
	return &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "app", ResourceVersion: "42", UID: "uid-app"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			dockerTag("new", "quay.io/team/app:new", 2),
			dockerTag("done", "quay.io/team/app:done", 1),
			{Name: "follows", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "done"}, Generation: gen(2)},
			func() imagev1.TagReference {
				t := dockerTag("ref", "quay.io/team/app:ref", 2)
				t.Reference = true
				return t
			}(),
			dockerTag("failed", "quay.io/team/app:failed", 3),
		}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			event("new", "sha256:old", 1),
			event("done", "sha256:done", 1),
			{Tag: "failed", Conditions: []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "NotFound", Generation: 3}}},
		}},
	}
}

func TestImportsNewerSpecTags(t *testing.T) {
	tc := newTestController(t)
	s := stream()
	tc.respond = succeed(s)
	if err := tc.sync(t, s); err != nil {
		t.Fatal(err)
	}
	if len(tc.imports) != 1 {
		t.Fatalf("%d imports, want 1", len(tc.imports))
	}
	isi := tc.imports[0]
	if !isi.Spec.Import || isi.Name != "app" || isi.ResourceVersion != "42" || isi.UID != "uid-app" || isi.Spec.Repository != nil {
		t.Errorf("import %+v", isi.ObjectMeta)
	}
	if len(isi.Spec.Images) != 1 || isi.Spec.Images[0].To.Name != "new" || isi.Spec.Images[0].From.Name != "quay.io/team/app:new" ||
		isi.Spec.Images[0].ReferencePolicy.Type != imagev1.SourceTagReferencePolicy {
		t.Errorf("imported %+v, want only tag new", isi.Spec.Images)
	}
	ev := tc.events()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal Imported Imported app:new from quay.io/team/app:new: image sha256:new") {
		t.Errorf("events %q", ev)
	}

	// The informer may still show the old stream: the same generation is not imported again.
	if err := tc.sync(t, s); err != nil || len(tc.imports) != 1 {
		t.Errorf("a second sync of the same generation imported again (%d imports, %v)", len(tc.imports), err)
	}
	// A new generation of the tag is.
	s2 := s.DeepCopy()
	s2.Spec.Tags[0].Generation = gen(5)
	if err := tc.sync(t, s2); err != nil || len(tc.imports) != 2 {
		t.Errorf("a new generation was not imported (%d imports, %v)", len(tc.imports), err)
	}
}

func TestImportFailures(t *testing.T) {
	tc := newTestController(t)
	s := stream()
	tc.respond = func(isi *imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
		isi.Status.Images = []imagev1.ImageImportStatus{{Status: metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonUnauthorized, Message: "you may not have access"}}}
		isi.Status.Import = s
		return isi, nil
	}
	if err := tc.sync(t, s); err != nil {
		t.Fatalf("a failed image fails the sync: %v", err)
	}
	if ev := tc.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning ImportFailed Import of app:new from quay.io/team/app:new failed: you may not have access") {
		t.Errorf("events %q", ev)
	}

	// A failed request is retried (an error for the queue's backoff), with a warning.
	tc2 := newTestController(t)
	tc2.respond = func(*imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
		return nil, apierrors.NewInternalError(errString("etcd is down"))
	}
	if err := tc2.sync(t, stream()); err == nil {
		t.Fatal("a failed import request is not retried")
	}
	if ev := tc2.events(); len(ev) != 1 || !strings.Contains(ev[0], "Warning ImportFailed Import of app:new failed") || !strings.Contains(ev[0], "etcd is down") {
		t.Errorf("events %q", ev)
	}
	if err := tc2.sync(t, stream()); err == nil || len(tc2.imports) != 2 {
		t.Errorf("the retry did not import again: %d imports", len(tc2.imports))
	}

	// A stream changed meanwhile conflicts: retried, no event.
	tc3 := newTestController(t)
	tc3.respond = func(*imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
		return nil, apierrors.NewConflict(imagev1.Resource("imagestreams"), "app", errString("changed"))
	}
	if err := tc3.sync(t, stream()); !apierrors.IsConflict(err) || len(tc3.events()) != 0 {
		t.Errorf("conflict: %v, events %v", err, tc3.events())
	}
	// A stream deleted meanwhile is dropped.
	tc3.respond = func(*imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
		return nil, apierrors.NewNotFound(imagev1.Resource("imagestreams"), "app")
	}
	if err := tc3.sync(t, stream()); err != nil {
		t.Errorf("deleted stream: %v", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestScheduledImports(t *testing.T) {
	tc := newTestController(t)
	s := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "app", ResourceVersion: "7"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			func() imagev1.TagReference {
				t := dockerTag("watched", "quay.io/team/app:latest", 1)
				t.ImportPolicy.Scheduled = true
				return t
			}(),
			func() imagev1.TagReference {
				t := dockerTag("pinned", "quay.io/team/app@sha256:"+strings.Repeat("a", 64), 1)
				t.ImportPolicy.Scheduled = true
				return t
			}(),
			dockerTag("plain", "quay.io/team/app:1", 1),
		}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			event("watched", "sha256:watched", 1), event("pinned", "sha256:pinned", 1), event("plain", "sha256:plain", 1),
		}},
	}
	tc.respond = succeed(s)
	start := tc.now
	if err := tc.sync(t, s); err != nil || len(tc.imports) != 0 {
		t.Fatalf("an up-to-date stream was imported (%d imports, %v)", len(tc.imports), err)
	}
	if next := tc.c.next["demo/app"]; !next.Equal(start.Add(time.Hour)) {
		t.Errorf("next scheduled import at %v, want %v", next, start.Add(time.Hour))
	}
	tc.now = start.Add(59 * time.Minute)
	if err := tc.sync(t, s); err != nil || len(tc.imports) != 0 {
		t.Fatalf("imported before its time (%d imports)", len(tc.imports))
	}
	tc.now = start.Add(time.Hour)
	if err := tc.sync(t, s); err != nil || len(tc.imports) != 1 {
		t.Fatalf("the scheduled import did not run (%d imports, %v)", len(tc.imports), err)
	}
	// Only the scheduled tag; a tag pinned to a digest was imported already.
	if im := tc.imports[0].Spec.Images; len(im) != 1 || im[0].To.Name != "watched" || !im[0].ImportPolicy.Scheduled {
		t.Errorf("scheduled import of %+v", im)
	}
	if next := tc.c.next["demo/app"]; !next.Equal(start.Add(2 * time.Hour)) {
		t.Errorf("next scheduled import at %v, want %v", next, start.Add(2*time.Hour))
	}
	// The same image again: no event.
	tc.respond = func(isi *imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
		isi.Status.Images = []imagev1.ImageImportStatus{{Status: metav1.Status{Status: metav1.StatusSuccess}, Image: &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:watched"}}}}
		isi.Status.Import = s
		return isi, nil
	}
	tc.events()
	tc.now = start.Add(2 * time.Hour)
	if err := tc.sync(t, s); err != nil || len(tc.imports) != 2 {
		t.Fatalf("second scheduled import: %d imports, %v", len(tc.imports), err)
	}
	if ev := tc.events(); len(ev) != 0 {
		t.Errorf("an unchanged image made events %q", ev)
	}

	// A failed scheduled import stays due and is retried by the queue's backoff.
	tc.respond = func(*imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
		return nil, apierrors.NewServiceUnavailable("apiserver restarting")
	}
	tc.now = start.Add(3 * time.Hour)
	if err := tc.sync(t, s); err == nil {
		t.Fatal("a failed scheduled import is not retried")
	}
	if next := tc.c.next["demo/app"]; next.After(tc.now) {
		t.Errorf("a failed scheduled import was rescheduled to %v", next)
	}

	// Without scheduled tags, nothing is scheduled; a deleted stream is forgotten.
	plain := s.DeepCopy()
	plain.Spec.Tags = plain.Spec.Tags[2:]
	if err := tc.sync(t, plain); err != nil {
		t.Fatal(err)
	}
	if _, ok := tc.c.next["demo/app"]; ok {
		t.Error("a stream without scheduled tags stays scheduled")
	}
	if err := tc.c.sync(context.Background(), "demo/gone"); err != nil {
		t.Errorf("deleted stream: %v", err)
	}
}

func TestRepositoryImport(t *testing.T) {
	tc := newTestController(t)
	s := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "mirror", Annotations: map[string]string{imagev1.InsecureRepositoryAnnotation: "true"}},
		Spec:       imagev1.ImageStreamSpec{DockerImageRepository: "registry.example.com/team/app"},
	}
	tc.respond = func(isi *imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
		after := s.DeepCopy()
		after.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] = "now"
		after.Status.Tags = []imagev1.NamedTagEventList{event("1", "sha256:one", 2)}
		isi.Status.Repository = &imagev1.RepositoryImportStatus{Status: metav1.Status{Status: metav1.StatusSuccess}, Images: []imagev1.ImageImportStatus{
			{Tag: "1", Status: metav1.Status{Status: metav1.StatusSuccess}, Image: &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:one"}}},
			{Tag: "2", Status: metav1.Status{Status: metav1.StatusFailure, Message: "manifest unknown"}},
		}}
		isi.Status.Import = after
		return isi, nil
	}
	if err := tc.sync(t, s); err != nil {
		t.Fatal(err)
	}
	if len(tc.imports) != 1 || tc.imports[0].Spec.Repository == nil || tc.imports[0].Spec.Repository.From.Name != "registry.example.com/team/app" ||
		!tc.imports[0].Spec.Repository.ImportPolicy.Insecure {
		t.Fatalf("imports %+v", tc.imports)
	}
	ev := tc.events()
	if len(ev) != 2 || !strings.Contains(ev[0], "Imported mirror:1 from registry.example.com/team/app:1") || !strings.Contains(ev[1], "ImportFailed Import of mirror:2") {
		t.Errorf("events %q", ev)
	}
	checked := s.DeepCopy()
	checked.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] = "now"
	if err := tc.sync(t, checked); err != nil || len(tc.imports) != 1 {
		t.Errorf("a checked repository was imported again")
	}
}
