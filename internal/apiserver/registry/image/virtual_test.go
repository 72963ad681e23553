package image

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/generic"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// The real storages satisfy the interfaces Virtual takes.
var (
	_ Store       = (*genericregistry.Store)(nil)
	_ Store       = (*generic.REST)(nil)
	_ StatusStore = (*generic.StatusREST)(nil)
)

// fakeData is the shared content of the fake stores: objects by
// namespace/name with a global resourceVersion counter.
type fakeData struct {
	mu   sync.Mutex
	objs map[string]runtime.Object
	rv   int
	// beforeUpdate, when set, runs (under the lock) before an update reads
	// the stored object, to simulate a concurrent writer.
	beforeUpdate func(objs map[string]runtime.Object, next func() string)
	// updates counts Update calls.
	updates int
	// updateDelay, when set, is how long each Update takes (outside the lock).
	updateDelay time.Duration
}

func (d *fakeData) nextRV() string { d.rv++; return strconv.Itoa(d.rv) }

// fakeStore is an in-memory registry store running a Definition's
// strategy: create clears status, main updates keep the stored status and
// status updates keep the stored spec, stale resourceVersions conflict.
type fakeStore struct {
	d      *fakeData
	def    resource.Definition
	status bool
}

func (f *fakeStore) gr() schema.GroupResource { return imagev1.Resource(f.def.Resource) }

func (f *fakeStore) key(ctx context.Context, name string) string {
	return request.NamespaceValue(ctx) + "/" + name
}

func (f *fakeStore) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	obj, ok := f.d.objs[f.key(ctx, name)]
	if !ok {
		return nil, apierrors.NewNotFound(f.gr(), name)
	}
	return obj.DeepCopyObject(), nil
}

func (f *fakeStore) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	obj = obj.DeepCopyObject()
	m, _ := meta.Accessor(obj)
	if m.GetResourceVersion() != "" {
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if f.def.Namespaced {
		m.SetNamespace(request.NamespaceValue(ctx))
	} else if request.NamespaceValue(ctx) != "" {
		return nil, fmt.Errorf("cluster-scoped %s created with namespace %q", f.def.Resource, request.NamespaceValue(ctx))
	}
	key := f.key(ctx, m.GetName())
	if _, ok := f.d.objs[key]; ok {
		return nil, apierrors.NewAlreadyExists(f.gr(), m.GetName())
	}
	if s, ok := obj.(*imagev1.ImageStream); ok {
		s.Status = imagev1.ImageStreamStatus{}
	}
	if f.def.PrepareForCreate != nil {
		f.def.PrepareForCreate(ctx, obj)
	}
	if errs := f.def.Validate(ctx, obj); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: imagev1.GroupName, Kind: f.def.Kind}, m.GetName(), errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj); err != nil {
			return nil, err
		}
	}
	m.SetResourceVersion(f.d.nextRV())
	m.SetCreationTimestamp(metav1.Now())
	m.SetUID(types.UID("uid-" + m.GetName()))
	f.d.objs[key] = obj
	return obj.DeepCopyObject(), nil
}

func (f *fakeStore) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, _ *metav1.UpdateOptions) (runtime.Object, bool, error) {
	f.d.mu.Lock()
	delay := f.d.updateDelay
	f.d.mu.Unlock()
	time.Sleep(delay) // an etcd write takes a while: concurrent callers pile up meanwhile
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	f.d.updates++
	if f.d.beforeUpdate != nil {
		f.d.beforeUpdate(f.d.objs, f.d.nextRV)
		f.d.beforeUpdate = nil
	}
	key := f.key(ctx, name)
	old, ok := f.d.objs[key]
	if !ok {
		return nil, false, apierrors.NewNotFound(f.gr(), name)
	}
	obj, err := objInfo.UpdatedObject(ctx, old.DeepCopyObject())
	if err != nil {
		return nil, false, err
	}
	m, _ := meta.Accessor(obj)
	om, _ := meta.Accessor(old)
	if rv := m.GetResourceVersion(); rv != "" && rv != om.GetResourceVersion() {
		return nil, false, apierrors.NewConflict(f.gr(), name, fmt.Errorf("stale resourceVersion %s", rv))
	}
	if s, ok := obj.(*imagev1.ImageStream); ok {
		o := old.(*imagev1.ImageStream)
		if f.status {
			s.Spec = o.Spec
			if es := f.def.ValidateStatusUpdate(ctx, s, o); len(es) > 0 {
				return nil, false, apierrors.NewInvalid(schema.GroupKind{Group: imagev1.GroupName, Kind: f.def.Kind}, name, es)
			}
		} else {
			s.Status = o.Status
			f.def.PrepareForUpdate(ctx, s, o)
			if es := f.def.ValidateUpdate(ctx, s, o); len(es) > 0 {
				return nil, false, apierrors.NewInvalid(schema.GroupKind{Group: imagev1.GroupName, Kind: f.def.Kind}, name, es)
			}
		}
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, obj, old); err != nil {
			return nil, false, err
		}
	}
	m.SetResourceVersion(f.d.nextRV())
	f.d.objs[key] = obj
	return obj.DeepCopyObject(), false, nil
}

func (f *fakeStore) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if options != nil && options.FieldSelector != nil && !options.FieldSelector.Empty() {
		return nil, fmt.Errorf("unexpected field selector %s on %s", options.FieldSelector, f.def.Resource)
	}
	sel := labels.Everything()
	if options != nil && options.LabelSelector != nil {
		sel = options.LabelSelector
	}
	ns := request.NamespaceValue(ctx)
	list := &imagev1.ImageStreamList{}
	list.ResourceVersion = strconv.Itoa(f.d.rv)
	for _, obj := range f.d.objs {
		s, ok := obj.(*imagev1.ImageStream)
		if !ok || (ns != "" && s.Namespace != ns) || !sel.Matches(labels.Set(s.Labels)) {
			continue
		}
		list.Items = append(list.Items, *s.DeepCopy())
	}
	return list, nil
}

var _ Store = (*fakeStore)(nil)

// testEnv is a Virtual over fake stores holding one image stream demo/ruby.
type testEnv struct {
	data    *fakeData
	streams *fakeStore
	images  *fakeStore
	mapping *mappingREST
	tags    *tagREST
	isimage *streamImageREST
	ctx     context.Context
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	d := &fakeData{objs: map[string]runtime.Object{}}
	streams := &fakeStore{d: d, def: imageStreams()}
	status := &fakeStore{d: d, def: imageStreams(), status: true}
	images := &fakeStore{d: d, def: images()}
	v := Virtual(streams, status, images, nil)
	if len(v) != 3 {
		t.Fatalf("Virtual returned %d storages", len(v))
	}
	e := &testEnv{
		data: d, streams: streams, images: images,
		mapping: v["imagestreammappings"].(*mappingREST),
		tags:    v["imagestreamtags"].(*tagREST),
		isimage: v["imagestreamimages"].(*streamImageREST),
		ctx:     request.WithNamespace(context.Background(), "demo"),
	}
	s := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "ruby", Labels: map[string]string{"app": "ruby"}},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			{Name: "stable", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "latest"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}},
			{Name: "annotated", Annotations: map[string]string{"description": "the annotated tag"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}},
		}},
	}
	if _, err := streams.Create(e.ctx, s, nil, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *testEnv) stream(t *testing.T) *imagev1.ImageStream {
	t.Helper()
	obj, err := e.streams.Get(e.ctx, "ruby", nil)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*imagev1.ImageStream)
}

func digestOf(b string) string { return "sha256:" + b + strings.Repeat("0", 64-len(b)) }

func mappingFor(stream, tag, dgst string) *imagev1.ImageStreamMapping {
	return &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Name: stream},
		Tag:        tag,
		Image: imagev1.Image{
			ObjectMeta:           metav1.ObjectMeta{Name: dgst},
			DockerImageReference: "registry.example.com/demo/" + stream + "@" + dgst,
			DockerImageLayers:    []imagev1.ImageLayer{{Name: digestOf("1a"), LayerSize: 42}},
		},
	}
}

func (e *testEnv) mapTag(t *testing.T, tag, dgst string) {
	t.Helper()
	out, err := e.mapping.Create(e.ctx, mappingFor("ruby", tag, dgst), nil, nil)
	if err != nil {
		t.Fatalf("mapping %s -> %s: %v", tag, dgst, err)
	}
	if st, ok := out.(*metav1.Status); !ok || st.Status != metav1.StatusSuccess {
		t.Fatalf("mapping returned %#v, want a Success status", out)
	}
}

func history(s *imagev1.ImageStream, tag string) []string {
	var out []string
	if i := statusTagIndex(s, tag); i >= 0 {
		for _, e := range s.Status.Tags[i].Items {
			out = append(out, e.Image)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// invalidFields returns the field paths of a 422 error's causes.
func invalidFields(t *testing.T, err error) []string {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want a 422 Invalid error", err)
	}
	var out []string
	for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
		out = append(out, c.Field)
	}
	return out
}

// Concurrent mappings to one stream are written together: every tag is recorded, with fewer
// writes than mappings.
func TestConcurrentMappingsShareWrites(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.data.mu.Lock()
	e.data.updateDelay = 20 * time.Millisecond
	e.data.updates = 0
	e.data.mu.Unlock()
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.mapTag(t, fmt.Sprintf("t%d", i), digestOf(fmt.Sprintf("c%d", i)))
		}()
	}
	wg.Wait()
	s := e.stream(t)
	for i := range n {
		if h := history(s, fmt.Sprintf("t%d", i)); len(h) != 1 || h[0] != digestOf(fmt.Sprintf("c%d", i)) {
			t.Errorf("tag t%d: history %v, want its one image", i, h)
		}
	}
	e.data.mu.Lock()
	updates := e.data.updates
	e.data.mu.Unlock()
	if updates >= n {
		t.Errorf("%d concurrent mappings took %d stream writes, want them grouped into fewer", n, updates)
	}
}

func TestMapping(t *testing.T) {
	t.Parallel()
	d1, d2 := digestOf("d1"), digestOf("d2")
	tests := []struct {
		name    string
		run     func(t *testing.T, e *testEnv)
		latest  []string
		stable  []string
		wantErr func(error) bool
	}{
		{
			name:   "first mapping creates the image and the tag event, and follows tracking tags",
			run:    func(t *testing.T, e *testEnv) { e.mapTag(t, "latest", d1) },
			latest: []string{d1}, stable: []string{d1},
		},
		{
			name: "second mapping puts the new image first",
			run: func(t *testing.T, e *testEnv) {
				e.mapTag(t, "latest", d1)
				e.mapTag(t, "latest", d2)
			},
			latest: []string{d2, d1}, stable: []string{d2, d1},
		},
		{
			name: "mapping the newest image again changes nothing",
			run: func(t *testing.T, e *testEnv) {
				e.mapTag(t, "latest", d1)
				e.mapTag(t, "latest", d1)
			},
			latest: []string{d1}, stable: []string{d1},
		},
		{
			name: "an existing image is fine",
			run: func(t *testing.T, e *testEnv) {
				img := mappingFor("ruby", "", d1).Image
				if _, err := e.images.Create(context.Background(), &img, nil, nil); err != nil {
					t.Fatal(err)
				}
				e.mapTag(t, "latest", d1)
			},
			latest: []string{d1}, stable: []string{d1},
		},
		{
			name: "a concurrent tag change is kept",
			run: func(t *testing.T, e *testEnv) {
				e.mapTag(t, "latest", d1)
				// Another writer adds an event between the mapping's read and its update.
				e.data.beforeUpdate = func(objs map[string]runtime.Object, next func() string) {
					s := objs["demo/ruby"].(*imagev1.ImageStream)
					addTagEvent(s, "other", imagev1.TagEvent{Image: d1, DockerImageReference: "registry.example.com/x@" + d1})
					s.ResourceVersion = next()
				}
				e.mapTag(t, "latest", d2)
				if got := history(e.stream(t), "other"); !equalStrings(got, []string{d1}) {
					t.Errorf("concurrent event lost: other = %v", got)
				}
			},
			latest: []string{d2, d1}, stable: []string{d2, d1},
		},
		{
			name: "missing stream is NotFound",
			run: func(t *testing.T, e *testEnv) {
				_, err := e.mapping.Create(e.ctx, mappingFor("nope", "latest", d1), nil, nil)
				if !apierrors.IsNotFound(err) {
					t.Errorf("got %v, want NotFound", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			tt.run(t, e)
			s := e.stream(t)
			if got := history(s, "latest"); !equalStrings(got, tt.latest) {
				t.Errorf("latest history = %v, want %v", got, tt.latest)
			}
			if got := history(s, "stable"); !equalStrings(got, tt.stable) {
				t.Errorf("stable history = %v, want %v", got, tt.stable)
			}
			if len(tt.latest) > 0 {
				ev := latestEvent(s, "latest")
				if ev.Generation != s.Generation || ev.Created.IsZero() || ev.DockerImageReference != "registry.example.com/demo/ruby@"+tt.latest[0] {
					t.Errorf("newest event = %+v (stream generation %d)", ev, s.Generation)
				}
				for _, dg := range tt.latest {
					if _, err := e.images.Get(context.Background(), dg, nil); err != nil {
						t.Errorf("image %s: %v", dg, err)
					}
				}
			}
		})
	}
}

func TestMappingInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*imagev1.ImageStreamMapping)
		want   []string
	}{
		{name: "bad tag", mutate: func(m *imagev1.ImageStreamMapping) { m.Tag = "bad tag!" }, want: []string{"tag"}},
		{name: "no tag", mutate: func(m *imagev1.ImageStreamMapping) { m.Tag = "" }, want: []string{"tag"}},
		{name: "bad stream name", mutate: func(m *imagev1.ImageStreamMapping) { m.Name = "Ruby" }, want: []string{"metadata.name"}},
		{name: "image name not a digest", mutate: func(m *imagev1.ImageStreamMapping) { m.Image.Name = "latest" }, want: []string{"image.metadata.name"}},
		{name: "no image reference", mutate: func(m *imagev1.ImageStreamMapping) { m.Image.DockerImageReference = "" }, want: []string{"image.dockerImageReference"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			m := mappingFor("ruby", "latest", digestOf("d1"))
			tt.mutate(m)
			_, err := e.mapping.Create(e.ctx, m, nil, nil)
			if got := invalidFields(t, err); !equalStrings(got, tt.want) {
				t.Errorf("invalid fields = %v, want %v", got, tt.want)
			}
		})
	}
	e := newTestEnv(t)
	m := mappingFor("ruby", "latest", digestOf("d1"))
	m.Namespace = "other"
	if _, err := e.mapping.Create(e.ctx, m, nil, nil); !apierrors.IsBadRequest(err) {
		t.Errorf("namespace mismatch: got %v, want BadRequest", err)
	}
}

func TestTagGet(t *testing.T) {
	t.Parallel()
	d1, gone := digestOf("d1"), digestOf("ee")
	e := newTestEnv(t)
	e.mapTag(t, "latest", d1)
	e.mapTag(t, "annotated", d1)
	// A tag whose image object is missing.
	if _, err := updateStream(e.ctx, &fakeStore{d: e.data, def: imageStreams(), status: true}, "ruby", func(s *imagev1.ImageStream) (bool, error) {
		return addTagEvent(s, "orphan", imagev1.TagEvent{Image: gone, DockerImageReference: "quay.io/x/y@" + gone}), nil
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		check   func(t *testing.T, ist *imagev1.ImageStreamTag)
		wantErr func(error) bool
		msg     string
	}{
		{name: "ruby:latest", check: func(t *testing.T, ist *imagev1.ImageStreamTag) {
			if ist.Image.Name != d1 || len(ist.Image.DockerImageLayers) != 1 || ist.Image.DockerImageReference != "registry.example.com/demo/ruby@"+d1 {
				t.Errorf("image = %+v", ist.Image)
			}
			if ist.Tag != nil || ist.Namespace != "demo" || ist.Labels["app"] != "ruby" || ist.Generation != 1 || ist.ResourceVersion == "" {
				t.Errorf("tag = %+v", ist)
			}
		}},
		{name: "ruby:annotated", check: func(t *testing.T, ist *imagev1.ImageStreamTag) {
			if ist.Tag == nil || ist.Tag.Name != "annotated" || ist.Annotations["description"] == "" || ist.Image.Annotations["description"] == "" {
				t.Errorf("spec tag or annotations missing: %+v", ist)
			}
		}},
		{name: "ruby:orphan", check: func(t *testing.T, ist *imagev1.ImageStreamTag) {
			if ist.Image.Name != gone || ist.Image.DockerImageReference != "quay.io/x/y@"+gone {
				t.Errorf("image of a missing image object = %+v", ist.Image)
			}
		}},
		{name: "ruby:nope", wantErr: apierrors.IsNotFound, msg: `"ruby:nope" not found`},
		{name: "ruby:stable-missing", wantErr: apierrors.IsNotFound},
		{name: "nope:latest", wantErr: apierrors.IsNotFound},
		{name: "ruby", wantErr: apierrors.IsBadRequest},
		{name: "ruby:a:b", wantErr: apierrors.IsBadRequest},
		{name: "Ruby:latest", wantErr: apierrors.IsBadRequest},
		{name: "ruby:bad tag", wantErr: apierrors.IsBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj, err := e.tags.Get(e.ctx, tt.name, &metav1.GetOptions{})
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("got %v, %v", obj, err)
				}
				if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("message %q does not contain %q", err, tt.msg)
				}
				if apierrors.IsNotFound(err) && strings.HasPrefix(tt.name, "ruby:") {
					if d := err.(apierrors.APIStatus).Status().Details; d.Group != imagev1.GroupName || d.Kind != "imagestreamtags" {
						t.Errorf("NotFound details = %+v", d)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, obj.(*imagev1.ImageStreamTag))
		})
	}
}

func TestTagList(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mapTag(t, "latest", digestOf("d1"))
	other := request.WithNamespace(context.Background(), "other")
	if _, err := e.streams.Create(other, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "ruby"}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts *metainternalversion.ListOptions
		want []string
	}{
		{name: "all", want: []string{"ruby:latest", "ruby:stable"}},
		{name: "field selector", opts: &metainternalversion.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "ruby:stable")}, want: []string{"ruby:stable"}},
		{name: "label selector", opts: &metainternalversion.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{"app": "other"})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj, err := e.tags.List(e.ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ist := range obj.(*imagev1.ImageStreamTagList).Items {
				got = append(got, ist.Name)
			}
			if !equalStrings(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
		})
	}
	obj, _ := e.tags.List(e.ctx, nil)
	table, err := e.tags.ConvertToTable(e.ctx, obj, nil)
	if err != nil || len(table.Rows) != 2 || len(table.ColumnDefinitions) != 3 || table.Rows[0].Cells[1] != "registry.example.com/demo/ruby@"+digestOf("d1") {
		t.Errorf("table = %+v, %v", table, err)
	}
	if cells := table.Rows[0].Cells; !strings.HasSuffix(cells[2].(string), " ago") {
		t.Errorf("UPDATED cell = %v", cells[2])
	}
}

func istag(name string, from string) *imagev1.ImageStreamTag {
	return &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Tag:        &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "DockerImage", Name: from}},
	}
}

func TestTagCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		obj        *imagev1.ImageStreamTag
		wantErr    func(error) bool
		wantFields []string
	}{
		{name: "new tag of an existing stream", obj: istag("ruby:3.3", "docker.io/library/ruby:3.3")},
		{name: "tag of a new stream", obj: istag("python:3", "docker.io/library/python:3")},
		{name: "existing spec tag", obj: istag("ruby:stable", "docker.io/library/ruby:3.3"), wantErr: apierrors.IsAlreadyExists},
		{name: "bad name", obj: istag("ruby", "docker.io/library/ruby"), wantFields: []string{"metadata.name"}},
		{name: "no tag", obj: &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: "ruby:x"}}, wantFields: []string{"tag"}},
		{name: "bad from", obj: istag("ruby:x", "Not A Ref"), wantFields: []string{"tag.from.name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			obj, err := e.tags.Create(e.ctx, tt.obj, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			switch {
			case tt.wantFields != nil:
				if got := invalidFields(t, err); !equalStrings(got, tt.wantFields) {
					t.Errorf("invalid fields = %v, want %v", got, tt.wantFields)
				}
				return
			case tt.wantErr != nil:
				if !tt.wantErr(err) {
					t.Errorf("got %v, %v", obj, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			ist := obj.(*imagev1.ImageStreamTag)
			streamName, tag, _ := splitStreamTag(tt.obj.Name)
			if ist.Name != tt.obj.Name || ist.Tag == nil || ist.Tag.Name != tag || ist.Tag.ReferencePolicy.Type != imagev1.SourceTagReferencePolicy {
				t.Errorf("created tag = %+v", ist)
			}
			s, err := e.streams.Get(e.ctx, streamName, nil)
			if err != nil {
				t.Fatal(err)
			}
			st := s.(*imagev1.ImageStream)
			i := specTagIndex(st, tag)
			if i < 0 || st.Spec.Tags[i].From.Name != tt.obj.Tag.From.Name || st.Spec.Tags[i].Generation == nil || *st.Spec.Tags[i].Generation != st.Generation {
				t.Errorf("stream spec tags = %+v (generation %d)", st.Spec.Tags, st.Generation)
			}
		})
	}
}

func TestTagUpdate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cur, err := e.tags.Get(e.ctx, "ruby:stable", nil)
	if !apierrors.IsNotFound(err) {
		t.Fatalf("stable has no image yet: got %v, %v", cur, err)
	}
	e.mapTag(t, "latest", digestOf("d1"))
	obj, err := e.tags.Get(e.ctx, "ruby:stable", nil)
	if err != nil {
		t.Fatal(err)
	}
	stale := obj.(*imagev1.ImageStreamTag)
	ist := stale.DeepCopy()
	ist.Tag.From = &corev1.ObjectReference{Kind: "DockerImage", Name: "docker.io/library/ruby:3.4"}
	out, created, err := e.tags.Update(e.ctx, "ruby:stable", rest.DefaultUpdatedObjectInfo(ist), nil, nil, false, nil)
	if err != nil || created || out.(*imagev1.ImageStreamTag).Tag.From.Name != "docker.io/library/ruby:3.4" {
		t.Fatalf("update = %+v, %v, %v", out, created, err)
	}
	if _, _, err := e.tags.Update(e.ctx, "ruby:stable", rest.DefaultUpdatedObjectInfo(stale), nil, nil, false, nil); !apierrors.IsConflict(err) {
		t.Errorf("stale resourceVersion: got %v, want Conflict", err)
	}
	blind := istag("ruby:new", "docker.io/library/ruby:4")
	if _, created, err := e.tags.Update(e.ctx, "ruby:new", rest.DefaultUpdatedObjectInfo(blind), nil, nil, false, nil); err != nil || !created {
		t.Errorf("creating update: created=%v, %v", created, err)
	}
	if i := specTagIndex(e.stream(t), "new"); i < 0 {
		t.Error("update did not add the spec tag")
	}
	if _, _, err := e.tags.Update(e.ctx, "ruby:x", rest.DefaultUpdatedObjectInfo(istag("ruby:y", "a/b")), nil, nil, false, nil); !apierrors.IsInvalid(err) {
		t.Errorf("name mismatch: got %v, want Invalid", err)
	}
}

func TestTagDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		wantErr func(error) bool
	}{
		{name: "ruby:stable"},                              // spec and status
		{name: "ruby:latest"},                              // status only
		{name: "ruby:annotated"},                           // spec only
		{name: "ruby:nope", wantErr: apierrors.IsNotFound}, // neither
		{name: "nope:latest", wantErr: apierrors.IsNotFound},
		{name: "ruby@latest", wantErr: apierrors.IsBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			e.mapTag(t, "latest", digestOf("d1"))
			obj, deleted, err := e.tags.Delete(e.ctx, tt.name, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{})
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Errorf("got %v, %v", obj, err)
				}
				return
			}
			if err != nil || !deleted || obj.(*metav1.Status).Status != metav1.StatusSuccess {
				t.Fatalf("delete = %v, %v, %v", obj, deleted, err)
			}
			_, tag, _ := splitStreamTag(tt.name)
			s := e.stream(t)
			if specTagIndex(s, tag) >= 0 || statusTagIndex(s, tag) >= 0 {
				t.Errorf("tag %s still in stream: spec %+v status %+v", tag, s.Spec.Tags, s.Status.Tags)
			}
			if tag != "latest" && statusTagIndex(s, "latest") < 0 {
				t.Error("delete removed another tag")
			}
		})
	}
}

func TestStreamImage(t *testing.T) {
	t.Parallel()
	d1, d2 := digestOf("abcdef01"), digestOf("abcdef02")
	e := newTestEnv(t)
	e.mapTag(t, "latest", d1)
	e.mapTag(t, "latest", d2)
	tests := []struct {
		name    string
		want    string
		wantErr func(error) bool
	}{
		{name: "ruby@" + d1, want: d1},
		{name: "ruby@" + d2, want: d2},
		{name: "ruby@abcdef01", want: d1},
		{name: "ruby@sha256:abcdef02", want: d2},
		{name: "ruby@abcdef0", wantErr: apierrors.IsConflict},
		{name: "ruby@fff", wantErr: apierrors.IsNotFound},
		{name: "nope@" + d1, wantErr: apierrors.IsNotFound},
		{name: "ruby", wantErr: apierrors.IsBadRequest},
		{name: "ruby@", wantErr: apierrors.IsBadRequest},
		{name: "ruby@a@b", wantErr: apierrors.IsBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj, err := e.isimage.Get(e.ctx, tt.name, &metav1.GetOptions{})
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Errorf("got %v, %v", obj, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			isi := obj.(*imagev1.ImageStreamImage)
			if isi.Name != tt.name || isi.Namespace != "demo" || isi.Image.Name != tt.want || len(isi.Image.DockerImageLayers) != 1 {
				t.Errorf("got %+v", isi)
			}
		})
	}
}

func TestVirtualMeta(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for name, s := range map[string]rest.Storage{"imagestreammapping": e.mapping, "imagestreamtag": e.tags, "imagestreamimage": e.isimage} {
		if !s.(rest.Scoper).NamespaceScoped() || s.(rest.SingularNameProvider).GetSingularName() != name {
			t.Errorf("%s: wrong scope or singular name", name)
		}
		if _, ok := s.(rest.TableConvertor); !ok {
			t.Errorf("%s: no table convertor", name)
		}
		s.Destroy()
	}
	if _, err := e.tags.ConvertToTable(e.ctx, &imagev1.Image{}, nil); err == nil {
		t.Error("tag table accepted an image")
	}
	now := time.Now()
	ist := &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: "ruby:latest", CreationTimestamp: metav1.NewTime(now.Add(-5 * time.Minute))}}
	table, err := tagTable(ist, &metav1.TableOptions{NoHeaders: true}, now)
	if err != nil || table.ColumnDefinitions != nil || table.Rows[0].Cells[2] != "5m ago" {
		t.Errorf("table = %+v, %v", table, err)
	}
}

// `oc tag --reference registry.example.com/app:1 ruby:ref` then `oc tag ruby:ref ruby:copy`: oc reads
// the stream and copies the source tag's newest event, so a reference tag (never imported) must
// have an event naming its pull spec, as OpenShift records one; an alias of it follows that pull
// spec; the tag is still not an image stream tag (Get is NotFound, as in OpenShift).
func TestReferenceTagHasPullSpecEvent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ref := istag("ruby:ref", "registry.example.com/app:1")
	ref.Tag.Reference = true
	if _, err := e.tags.Create(e.ctx, ref, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := e.stream(t)
	ev := latestEvent(s, "ref")
	if ev == nil || ev.DockerImageReference != "registry.example.com/app:1" || ev.Image != "" {
		t.Fatalf("reference tag event = %+v, want the pull spec and no image (status %+v)", ev, s.Status.Tags)
	}
	if i := specTagIndex(s, "ref"); ev.Generation != *s.Spec.Tags[i].Generation {
		t.Errorf("event generation %d, spec tag generation %d", ev.Generation, *s.Spec.Tags[i].Generation)
	}
	if _, err := e.tags.Get(e.ctx, "ruby:ref", nil); !apierrors.IsNotFound(err) {
		t.Errorf("get of a reference tag: %v, want NotFound", err)
	}

	alias := &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: "ruby:alias"},
		Tag: &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "ruby:ref"}}}
	if _, err := e.tags.Create(e.ctx, alias, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := latestEvent(e.stream(t), "alias"); ev == nil || ev.DockerImageReference != "registry.example.com/app:1" {
		t.Errorf("alias of the reference tag: event %+v, want registry.example.com/app:1", ev)
	}

	// Pointing the reference elsewhere makes the new pull spec the newest event (OpenShift collapses
	// two events of the same image, here none, into one).
	ref2 := istag("ruby:ref", "registry.example.com/app:2")
	ref2.Tag.Reference = true
	if _, _, err := e.tags.Update(e.ctx, "ruby:ref", rest.DefaultUpdatedObjectInfo(ref2), nil, nil, false, nil); err != nil {
		t.Fatal(err)
	}
	s = e.stream(t)
	if ev := latestEvent(s, "ref"); ev == nil || ev.DockerImageReference != "registry.example.com/app:2" {
		t.Errorf("after retagging: newest event %+v, want registry.example.com/app:2", ev)
	}

	// A tag that is imported (not a reference) gets no event until the import controller imports it.
	if _, err := e.tags.Create(e.ctx, istag("ruby:imported", "registry.example.com/app:1"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := latestEvent(e.stream(t), "imported"); ev != nil {
		t.Errorf("imported tag has event %+v before any import", ev)
	}
}
