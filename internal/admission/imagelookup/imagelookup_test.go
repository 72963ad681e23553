package imagelookup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	imagev1 "github.com/openshift/api/image/v1"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

const (
	digestV1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digestV2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	digestEx = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	regRepo  = "127.0.0.1:5000/proj/echo"
)

// fakeStreams holds a cache and the API's streams; it counts the reads of each.
type fakeStreams struct {
	cache, api map[string]*imagev1.ImageStream // "namespace/name"
	err        error
	cached     int
	live       int
}

func (f *fakeStreams) Get(_ context.Context, ns, name string, fresh bool) (*imagev1.ImageStream, error) {
	if f.err != nil {
		return nil, f.err
	}
	m := f.cache
	if fresh {
		m, f.live = f.api, f.live+1
	} else {
		f.cached++
	}
	if s, ok := m[ns+"/"+name]; ok {
		return s.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: "image.openshift.io", Resource: "imagestreams"}, name)
}

func both(streams ...*imagev1.ImageStream) *fakeStreams {
	m := map[string]*imagev1.ImageStream{}
	for _, s := range streams {
		m[s.Namespace+"/"+s.Name] = s
	}
	return &fakeStreams{cache: m, api: m}
}

// stream is proj/echo as a push leaves it: lookupPolicy.local, tags v1 (two images in its
// history) and latest, and "ext" imported from another registry with referencePolicy Local.
func stream() *imagev1.ImageStream {
	return &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "echo"},
		Spec: imagev1.ImageStreamSpec{
			LookupPolicy: imagev1.ImageLookupPolicy{Local: true},
			Tags: []imagev1.TagReference{
				{Name: "ext", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy},
					From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/acme/echo:1"}},
				{Name: "src", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
					From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/acme/echo:1"}},
			},
		},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository: regRepo,
			Tags: []imagev1.NamedTagEventList{
				{Tag: "v1", Items: []imagev1.TagEvent{
					{DockerImageReference: regRepo + "@" + digestV2, Image: digestV2},
					{DockerImageReference: regRepo + "@" + digestV1, Image: digestV1},
				}},
				{Tag: "latest", Items: []imagev1.TagEvent{{DockerImageReference: regRepo + "@" + digestV1, Image: digestV1}}},
				{Tag: "ext", Items: []imagev1.TagEvent{{DockerImageReference: "quay.io/acme/echo@" + digestEx, Image: digestEx}}},
				{Tag: "src", Items: []imagev1.TagEvent{{DockerImageReference: "quay.io/acme/echo:1", Image: digestEx}}},
				{Tag: "empty"},
			},
		},
	}
}

func withoutLookup(s *imagev1.ImageStream) *imagev1.ImageStream {
	s.Spec.LookupPolicy.Local = false
	return s
}

func TestParseLocalName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want LocalName
		ok   bool
	}{
		{"echo", LocalName{Stream: "echo", Tag: "latest"}, true},
		{"echo:v1", LocalName{Stream: "echo", Tag: "v1"}, true},
		{"echo@" + digestV1, LocalName{Stream: "echo", Digest: digestV1}, true},
		{"echo:v1@" + digestV1, LocalName{Stream: "echo", Tag: "v1", Digest: digestV1}, true},
		{"", LocalName{}, false},
		{"echo:", LocalName{}, false},
		{"echo@sha256", LocalName{}, false},
		{"Echo:v1", LocalName{}, false},
		{"proj/echo:v1", LocalName{}, false},
		{"localhost/echo", LocalName{}, false},
		{"registry.example.com/echo:v1", LocalName{}, false},
		{"127.0.0.1:5000/proj/echo:v1", LocalName{}, false},
		{"host:5000/echo", LocalName{}, false},
	} {
		got, ok := ParseLocalName(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseLocalName(%q) = %+v, %t; want %+v, %t", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	other := stream()
	other.Namespace = "other"
	other.Name = "theirs"
	for _, c := range []struct {
		name    string
		streams *fakeStreams
		ns      string
		image   string
		force   bool
		want    string // "" means unchanged
	}{
		{"tag", both(stream()), "proj", "echo:v1", false, regRepo + "@" + digestV2},
		{"no tag means latest", both(stream()), "proj", "echo", false, regRepo + "@" + digestV1},
		{"digest of an older image", both(stream()), "proj", "echo@" + digestV1, false, regRepo + "@" + digestV1},
		{"tag and digest: the digest wins", both(stream()), "proj", "echo:latest@" + digestV2, false, regRepo + "@" + digestV2},
		{"referencePolicy Local: the integrated registry", both(stream()), "proj", "echo:ext", false, regRepo + "@" + digestEx},
		{"referencePolicy Source: the source pinned to its digest", both(stream()), "proj", "echo:src", false, "quay.io/acme/echo@" + digestEx},
		{"digest of a Local tag's image", both(stream()), "proj", "echo@" + digestEx, false, regRepo + "@" + digestEx},
		{"missing tag", both(stream()), "proj", "echo:v9", false, ""},
		{"tag without images", both(stream()), "proj", "echo:empty", false, ""},
		{"unknown digest", both(stream()), "proj", "echo@" + strings.Replace(digestV1, "1", "9", -1), false, ""},
		{"missing stream", both(stream()), "proj", "nginx:1.25", false, ""},
		{"stream of another project", both(other), "proj", "theirs:v1", false, ""},
		{"another project by path", both(stream()), "other", "proj/echo:v1", false, ""},
		{"host-qualified", both(stream()), "proj", "127.0.0.1:5000/proj/echo:v1", false, ""},
		{"localhost", both(stream()), "proj", "localhost/echo:v1", false, ""},
		{"host-qualified even when forced", both(stream()), "proj", "quay.io/echo:v1", true, ""},
		{"lookupPolicy.local false", both(withoutLookup(stream())), "proj", "echo:v1", false, ""},
		{"lookupPolicy.local false, resolve-names", both(withoutLookup(stream())), "proj", "echo:v1", true, regRepo + "@" + digestV2},
		{"just pushed: only the API has it", &fakeStreams{cache: map[string]*imagev1.ImageStream{}, api: both(stream()).api}, "proj", "echo:v1", false, regRepo + "@" + digestV2},
		{"just pushed tag: the cache has an older stream", &fakeStreams{
			cache: map[string]*imagev1.ImageStream{"proj/echo": func() *imagev1.ImageStream { s := stream(); s.Status.Tags = s.Status.Tags[1:]; return s }()},
			api:   both(stream()).api}, "proj", "echo:v1", false, regRepo + "@" + digestV2},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, changed, err := Resolve(t.Context(), c.streams, c.ns, c.image, c.force)
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if want == "" {
				want = c.image
			}
			if got != want || changed != (c.want != "") {
				t.Errorf("Resolve(%q) = %q, %t; want %q, %t", c.image, got, changed, want, c.want != "")
			}
		})
	}
}

func TestResolveReadsTheCacheFirst(t *testing.T) {
	t.Parallel()
	f := both(stream())
	if _, _, err := Resolve(t.Context(), f, "proj", "echo:v1", false); err != nil {
		t.Fatal(err)
	}
	if f.cached != 1 || f.live != 0 {
		t.Errorf("a cached stream took %d cached and %d API reads, want 1 and 0", f.cached, f.live)
	}
}

func TestResolveReportsUnreadableStreams(t *testing.T) {
	t.Parallel()
	f := &fakeStreams{err: errors.New("connection refused")}
	_, _, err := Resolve(t.Context(), f, "proj", "echo:v1", false)
	if err == nil || !strings.Contains(err.Error(), "proj/echo") {
		t.Fatalf("Resolve with the API down = %v, want an error naming the stream", err)
	}
	// A reference that cannot name a stream needs no read.
	if _, changed, err := Resolve(t.Context(), f, "proj", "quay.io/acme/echo:1", false); err != nil || changed {
		t.Errorf("host-qualified with the API down = %t, %v; want unchanged, nil", changed, err)
	}
}

func podSpec(image string) corev1.PodSpec {
	return corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "init:v1"}},
		Containers:     []corev1.Container{{Name: "app", Image: image}, {Name: "side", Image: "busybox"}},
	}
}

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: podSpec(image)}
}

// workloads returns one object of every kind, its image "echo:v1", and the JSON pointer of its
// pod spec.
func workloads() []struct {
	gvk  schema.GroupVersionKind
	obj  runtime.Object
	spec string
} {
	tm := template("echo:v1")
	pod := &corev1.Pod{Spec: podSpec("echo:v1")}
	pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "echo:latest"}}}
	return []struct {
		gvk  schema.GroupVersionKind
		obj  runtime.Object
		spec string
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, pod, "/spec"},
		{schema.GroupVersionKind{Version: "v1", Kind: "ReplicationController"}, &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &tm}}, "/spec/template/spec"},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, &kappsv1.Deployment{Spec: kappsv1.DeploymentSpec{Template: tm}}, "/spec/template/spec"},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, &kappsv1.ReplicaSet{Spec: kappsv1.ReplicaSetSpec{Template: tm}}, "/spec/template/spec"},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, &kappsv1.StatefulSet{Spec: kappsv1.StatefulSetSpec{Template: tm}}, "/spec/template/spec"},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, &kappsv1.DaemonSet{Spec: kappsv1.DaemonSetSpec{Template: tm}}, "/spec/template/spec"},
		{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, &batchv1.Job{Spec: batchv1.JobSpec{Template: tm}}, "/spec/template/spec"},
		{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}, &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tm}}}}, "/spec/jobTemplate/spec/template/spec"},
		{schema.GroupVersionKind{Group: "apps.openshift.io", Version: "v1", Kind: "DeploymentConfig"}, &appsv1.DeploymentConfig{Spec: appsv1.DeploymentConfigSpec{Template: &tm}}, "/spec/template/spec"},
	}
}

func TestParseWorkloadFindsEveryImage(t *testing.T) {
	t.Parallel()
	for _, w := range workloads() {
		t.Run(w.gvk.Kind, func(t *testing.T) {
			raw, _ := json.Marshal(w.obj)
			got, err := ParseWorkload(w.gvk, raw)
			if err != nil {
				t.Fatal(err)
			}
			want := []ImageField{
				{Path: w.spec + "/initContainers/0/image", List: "initContainers", Container: "init", Image: "init:v1"},
				{Path: w.spec + "/containers/0/image", List: "containers", Container: "app", Image: "echo:v1"},
				{Path: w.spec + "/containers/1/image", List: "containers", Container: "side", Image: "busybox"},
			}
			if w.gvk.Kind == "Pod" {
				want = append(want, ImageField{Path: "/spec/ephemeralContainers/0/image", List: "ephemeralContainers", Container: "debug", Image: "echo:latest"})
			}
			if !slices.Equal(got.Images, want) {
				t.Errorf("images = %+v\nwant %+v", got.Images, want)
			}
			if got.ResolveAll || got.Controller != "" {
				t.Errorf("ResolveAll %t, Controller %q; want false, empty", got.ResolveAll, got.Controller)
			}
		})
	}
}

func TestParseWorkloadWithoutTemplate(t *testing.T) {
	t.Parallel()
	raw, _ := json.Marshal(&appsv1.DeploymentConfig{})
	w, err := ParseWorkload(schema.GroupVersionKind{Group: "apps.openshift.io", Version: "v1", Kind: "DeploymentConfig"}, raw)
	if err != nil || len(w.Images) != 0 {
		t.Errorf("a DeploymentConfig without a template = %+v, %v; want no images", w, err)
	}
	if _, err := ParseWorkload(schema.GroupVersionKind{Version: "v1", Kind: "Service"}, []byte(`{}`)); err == nil {
		t.Error("a Service parsed without error")
	}
}

func TestResolveNamesAnnotation(t *testing.T) {
	t.Parallel()
	gvk := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	onObject := &kappsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{ResolveNamesAnnotation: "*"}}, Spec: kappsv1.DeploymentSpec{Template: template("echo:v1")}}
	onTemplate := &kappsv1.Deployment{Spec: kappsv1.DeploymentSpec{Template: template("echo:v1")}}
	onTemplate.Spec.Template.Annotations = map[string]string{ResolveNamesAnnotation: "*"}
	other := &kappsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{ResolveNamesAnnotation: "echo"}}, Spec: kappsv1.DeploymentSpec{Template: template("echo:v1")}}
	for name, c := range map[string]struct {
		obj  *kappsv1.Deployment
		want bool
	}{"object": {onObject, true}, "template": {onTemplate, true}, "not *": {other, false}} {
		raw, _ := json.Marshal(c.obj)
		w, err := ParseWorkload(gvk, raw)
		if err != nil || w.ResolveAll != c.want {
			t.Errorf("%s: ResolveAll = %v (%v), want %t", name, w.ResolveAll, err, c.want)
		}
	}
}

// review runs the handler on a request for obj (and old, for an update) and applies the
// returned patch to obj's JSON, as kube-apiserver does.
func review(t *testing.T, h *Handler, op admissionv1.Operation, gvk schema.GroupVersionKind, obj, old runtime.Object) (*admissionv1.AdmissionResponse, []byte) {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{
		UID: "1", Operation: op, Namespace: "proj", Object: runtime.RawExtension{Raw: raw},
		Kind: metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
	}
	if old != nil {
		req.OldObject.Raw, _ = json.Marshal(old)
	}
	resp := h.Review(t.Context(), req)
	if !resp.Allowed || resp.Patch == nil {
		return resp, raw
	}
	if *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patch type %s", *resp.PatchType)
	}
	p, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("decode patch %s: %v", resp.Patch, err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("apply patch %s: %v", resp.Patch, err)
	}
	return resp, out
}

func TestEveryKindIsRewrittenOnCreate(t *testing.T) {
	t.Parallel()
	h := &Handler{Streams: both(stream())}
	for _, w := range workloads() {
		t.Run(w.gvk.Kind, func(t *testing.T) {
			resp, out := review(t, h, admissionv1.Create, w.gvk, w.obj, nil)
			if !resp.Allowed {
				t.Fatalf("refused: %v", resp.Result)
			}
			got, err := ParseWorkload(w.gvk, out)
			if err != nil {
				t.Fatal(err)
			}
			images := map[string]string{}
			for _, f := range got.Images {
				images[f.Container] = f.Image
			}
			want := map[string]string{"init": "init:v1", "app": regRepo + "@" + digestV2, "side": "busybox"}
			if w.gvk.Kind == "Pod" {
				want["debug"] = regRepo + "@" + digestV1
			}
			if fmt.Sprint(images) != fmt.Sprint(want) {
				t.Errorf("images after the patch = %v, want %v", images, want)
			}
		})
	}
}

func TestUpdateRewritesOnlyChangedImages(t *testing.T) {
	t.Parallel()
	h := &Handler{Streams: both(stream())}
	gvk := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	old := &kappsv1.Deployment{Spec: kappsv1.DeploymentSpec{Template: template("echo:v1")}}
	// Same images, other change (a label): untouched, even though echo:v1 would resolve.
	scaled := old.DeepCopy()
	scaled.Spec.Replicas = ptr.To[int32](3)
	if resp, _ := review(t, h, admissionv1.Update, gvk, scaled, old); !resp.Allowed || resp.Patch != nil {
		t.Errorf("update without an image change: allowed %t, patch %s; want allowed without a patch", resp.Allowed, resp.Patch)
	}
	// The app image changed to echo:latest: only it is rewritten; the sidecar is as it was.
	changed := old.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "echo:latest"
	resp, out := review(t, h, admissionv1.Update, gvk, changed, old)
	var got kappsv1.Deployment
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if img := got.Spec.Template.Spec.Containers[0].Image; img != regRepo+"@"+digestV1 {
		t.Errorf("changed image = %q, want %s; patch %s", img, regRepo+"@"+digestV1, resp.Patch)
	}
	var ops []PatchOp
	_ = json.Unmarshal(resp.Patch, &ops)
	if len(ops) != 1 {
		t.Errorf("patch %s, want one operation", resp.Patch)
	}
}

func TestControllerOwnedReplicaSetsAreLeftAlone(t *testing.T) {
	t.Parallel()
	h := &Handler{Streams: both(stream())}
	owned := &kappsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "d", UID: "u", Controller: ptr.To(true)}}},
		Spec:       kappsv1.ReplicaSetSpec{Template: template("echo:v1")},
	}
	if resp, _ := review(t, h, admissionv1.Create, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, owned, nil); resp.Patch != nil {
		t.Errorf("a Deployment's ReplicaSet was patched: %s", resp.Patch)
	}
	// Its pods are resolved: no controller compares a pod's images with its template.
	pod := &corev1.Pod{ObjectMeta: owned.ObjectMeta, Spec: podSpec("echo:v1")}
	pod.OwnerReferences[0].Kind = "ReplicaSet"
	if resp, _ := review(t, h, admissionv1.Create, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, pod, nil); resp.Patch == nil {
		t.Error("a ReplicaSet's pod was not resolved")
	}
}

func TestHandlerLeavesOtherRequestsAlone(t *testing.T) {
	t.Parallel()
	h := &Handler{Streams: both(stream())}
	pod := &corev1.Pod{Spec: podSpec("echo:v1")}
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	raw, _ := json.Marshal(pod)
	for name, req := range map[string]*admissionv1.AdmissionRequest{
		"delete":             {Operation: admissionv1.Delete, Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, OldObject: runtime.RawExtension{Raw: raw}},
		"status subresource": {Operation: admissionv1.Update, SubResource: "status", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Object: runtime.RawExtension{Raw: raw}, OldObject: runtime.RawExtension{Raw: raw}},
		"other kind":         {Operation: admissionv1.Create, Kind: metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, Object: runtime.RawExtension{Raw: []byte(`{"data":{"image":"echo:v1"}}`)}},
		"undecodable":        {Operation: admissionv1.Create, Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Object: runtime.RawExtension{Raw: []byte(`{"spec":7}`)}},
	} {
		req.Namespace = "proj"
		if resp := h.Review(t.Context(), req); !resp.Allowed || resp.Patch != nil {
			t.Errorf("%s: allowed %t, patch %s; want allowed, no patch", name, resp.Allowed, resp.Patch)
		}
	}
	// Ephemeral containers are added through a subresource: they resolve too.
	dbg := pod.DeepCopy()
	dbg.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "echo:v1"}}}
	resp, _ := review(t, h, admissionv1.Update, gvk, dbg, pod)
	if string(resp.Patch) != `[{"op":"replace","path":"/spec/ephemeralContainers/0/image","value":"`+regRepo+"@"+digestV2+`"}]` {
		t.Errorf("ephemeral container patch = %s", resp.Patch)
	}
}

func TestHandlerRefusesWhenStreamsCannotBeRead(t *testing.T) {
	t.Parallel()
	h := &Handler{Streams: &fakeStreams{err: errors.New("connection refused")}}
	resp, _ := review(t, h, admissionv1.Create, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, &corev1.Pod{Spec: podSpec("echo:v1")}, nil)
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, `resolve image "init:v1" of container "init": read image stream proj/init`) || !strings.Contains(resp.Result.Message, "Try:") {
		t.Errorf("with the API down: %+v; want a refusal naming the stream with a hint", resp)
	}
}
