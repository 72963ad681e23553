package image

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// recordingResponder keeps what a Connecter's handler answered.
type recordingResponder struct {
	code int
	obj  runtime.Object
	err  error
}

func (r *recordingResponder) Object(code int, obj runtime.Object) { r.code, r.obj = code, obj }
func (r *recordingResponder) Error(err error)                     { r.err = err }

func (e *importEnv) notify(t *testing.T, stream, body string) *recordingResponder {
	t.Helper()
	n, err := NewNotificationsREST(e.streams, e.rest)
	if err != nil {
		t.Fatal(err)
	}
	resp := &recordingResponder{}
	h, err := n.(*notificationsREST).Connect(e.ctx, stream, nil, resp)
	if err != nil {
		t.Fatal(err)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/notifications", bytes.NewBufferString(body)))
	return resp
}

func TestNotifications(t *testing.T) {
	e := newImportEnv(t, nil, nil)
	d1 := e.push(t, "team/app:1", importTestImage(t, "amd64"))
	tagFrom := func(name, from string) imagev1.TagReference {
		return imagev1.TagReference{Name: name, From: &corev1.ObjectReference{Kind: "DockerImage", Name: from},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: true}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}}
	}
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
		tagFrom("one", e.host+"/team/app:1"),
		tagFrom("other", e.host+"/team/other:1"),
		tagFrom("pinned", e.host+"/team/app@"+d1),
	}}}
	if _, err := e.streams.Create(e.ctx, s, nil, nil); err != nil {
		t.Fatal(err)
	}

	// A registry's push notification imports the tags following that repository:tag.
	resp := e.notify(t, "app", `{"events":[{"action":"pull","target":{"repository":"team/other","tag":"1"}},
		{"action":"push","target":{"repository":"team/app","tag":"1","digest":"`+d1+`"},"request":{"host":"`+e.host+`"}}]}`)
	if resp.err != nil {
		t.Fatal(resp.err)
	}
	isi, ok := resp.obj.(*imagev1.ImageStreamImport)
	if !ok || len(isi.Spec.Images) != 1 || isi.Spec.Images[0].To.Name != "one" || isi.Status.Images[0].Status.Status != metav1.StatusSuccess {
		t.Fatalf("answer %+v", resp.obj)
	}
	got := e.stream(t, "app")
	if ev := latestEvent(got, "one"); ev == nil || ev.Image != d1 {
		t.Errorf("tag one after the notification: %+v", ev)
	}
	if latestEvent(got, "other") != nil || latestEvent(got, "pinned") != nil {
		t.Errorf("tags not named by the notification were imported: %+v", got.Status.Tags)
	}

	// Another registry's push of the same path, or another tag, imports nothing.
	resp = e.notify(t, "app", `{"events":[{"action":"push","target":{"repository":"team/app","tag":"1"},"request":{"host":"elsewhere.example.com"}},
		{"action":"push","target":{"repository":"team/app","tag":"2"},"request":{"host":"`+e.host+`"}}]}`)
	if st, ok := resp.obj.(*metav1.Status); !ok || !strings.Contains(st.Message, "nothing imported") || !strings.Contains(st.Message, "elsewhere.example.com/team/app:1") {
		t.Errorf("unmatched notification: %+v %v", resp.obj, resp.err)
	}

	for body, want := range map[string]func(error) bool{
		`not json`:             apierrors.IsBadRequest,
		`{"something":"else"}`: apierrors.IsBadRequest,
		`{"events":[]}` + strings.Repeat(" ", maxNotificationSize): apierrors.IsRequestEntityTooLargeError,
	} {
		if resp := e.notify(t, "app", body); !want(resp.err) {
			t.Errorf("body %.30q: %v", body, resp.err)
		}
	}
	if resp := e.notify(t, "missing", `{"events":[]}`); !apierrors.IsNotFound(resp.err) {
		t.Errorf("missing stream: %v", resp.err)
	}
	// The import runs as the caller: without the right to update the stream, nothing is imported.
	e.denied["update"] = true
	if resp := e.notify(t, "app", `{"events":[{"action":"push","target":{"repository":"team/app","tag":"1"}}]}`); !apierrors.IsForbidden(resp.err) {
		t.Errorf("notification from a user who may not update the stream: %v", resp.err)
	}
}

func TestNotificationMatches(t *testing.T) {
	tag := func(from string) imagev1.TagReference {
		return imagev1.TagReference{Name: "t", From: &corev1.ObjectReference{Kind: "DockerImage", Name: from}}
	}
	for _, tc := range []struct {
		p    pushed
		from string
		want bool
	}{
		{pushed{host: "docker.io", repository: "nginx", tag: "1.25"}, "nginx:1.25", true},
		{pushed{host: "docker.io", repository: "library/nginx", tag: "1.25"}, "docker.io/nginx:1.25", true},
		{pushed{host: "docker.io", repository: "team/app", tag: "latest"}, "docker.io/team/app", true},
		{pushed{host: "docker.io", repository: "team/app"}, "index.docker.io/team/app:v2", true},
		{pushed{host: "quay.io", repository: "team/app", tag: "1"}, "docker.io/team/app:1", false},
		{pushed{repository: "team/app", tag: "1"}, "quay.io/team/app:1", true},
		{pushed{host: "quay.io", repository: "team/app", tag: "1"}, "quay.io/team/app:2", false},
		{pushed{host: "quay.io", repository: "team/app", tag: "1"}, "quay.io/team/application:1", false},
	} {
		if got := tc.p.matches(tag(tc.from)); got != tc.want {
			t.Errorf("%+v vs %s: %v, want %v", tc.p, tc.from, got, tc.want)
		}
	}
	ref := tag("quay.io/team/app:1")
	ref.Reference = true
	if (pushed{repository: "team/app"}).matches(ref) {
		t.Error("a reference tag matched")
	}
	hub, err := parseNotification([]byte(`{"push_data":{"tag":"v3"},"repository":{"repo_name":"team/app"}}`))
	if err != nil || len(hub) != 1 || hub[0] != (pushed{host: "docker.io", repository: "team/app", tag: "v3"}) {
		t.Errorf("docker hub webhook: %+v %v", hub, err)
	}
}
