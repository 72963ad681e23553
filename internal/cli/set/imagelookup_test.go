package set

import (
	"bytes"
	"context"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	imagefake "github.com/openshift/client-go/image/clientset/versioned/fake"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/gantry-dev/gantry/internal/admission/imagelookup"
)

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	cronjobs    = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configmaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

type fixture struct {
	o      *ImageLookupOptions
	out    *bytes.Buffer
	images *imagefake.Clientset
	dyn    *dynamicfake.FakeDynamicClient
}

func obj(apiVersion, kind, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": "proj"}}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	images := imagefake.NewSimpleClientset(
		&imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "mysql"}},
		&imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "echo"}, Spec: imagev1.ImageStreamSpec{LookupPolicy: imagev1.ImageLookupPolicy{Local: true}}},
	)
	tmpl := map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "mysql:8"}}}}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		deployments: "DeploymentList", cronjobs: "CronJobList", pods: "PodList", configmaps: "ConfigMapList",
	},
		obj("apps/v1", "Deployment", "web", tmpl),
		obj("batch/v1", "CronJob", "nightly", map[string]any{"jobTemplate": map[string]any{"spec": tmpl}}),
		obj("v1", "Pod", "one", map[string]any{"containers": []any{map[string]any{"name": "a", "image": "mysql"}}}),
		obj("v1", "ConfigMap", "conf", nil),
	)
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"}, {Group: "batch", Version: "v1", Kind: "CronJob"},
		{Version: "v1", Kind: "Pod"}, {Version: "v1", Kind: "ConfigMap"}, {Group: "image.openshift.io", Version: "v1", Kind: "ImageStream"},
	} {
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	out := &bytes.Buffer{}
	return &fixture{
		o: &ImageLookupOptions{Enabled: true, Namespace: "proj", Images: images.ImageV1(), Dynamic: dyn, Mapper: mapper,
			IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: out}},
		out: out, images: images, dyn: dyn,
	}
}

// run runs the command with args and flags set by opts; it returns the output.
func (f *fixture) run(t *testing.T, opts func(*ImageLookupOptions), args ...string) (string, error) {
	t.Helper()
	f.out.Reset()
	o := *f.o
	o.Args = args
	if opts != nil {
		opts(&o)
	}
	if err := o.Validate(); err != nil {
		return f.out.String(), err
	}
	err := o.Run(context.Background())
	return f.out.String(), err
}

func (f *fixture) local(t *testing.T, name string) bool {
	t.Helper()
	s, err := f.images.ImageV1().ImageStreams("proj").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Spec.LookupPolicy.Local
}

func (f *fixture) annotation(t *testing.T, gvr schema.GroupVersionResource, name string, path ...string) (string, bool) {
	t.Helper()
	u, err := f.dyn.Resource(gvr).Namespace("proj").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ := unstructured.NestedStringMap(u.Object, path...)
	v, ok := m[imagelookup.ResolveNamesAnnotation]
	return v, ok
}

func TestListsStreamsWithoutArguments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out, err := f.run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "NAME   LOCAL\necho   true\nmysql  false\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestEnablesAndDisablesStreamLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out, err := f.run(t, nil, "mysql")
	if err != nil || out != "imagestream.image.openshift.io/mysql image lookup updated\n" || !f.local(t, "mysql") {
		t.Fatalf("set image-lookup mysql: %q, %v; local %t", out, err, f.local(t, "mysql"))
	}
	// Again: nothing changes, nothing is printed (as oc).
	if out, err := f.run(t, nil, "mysql"); err != nil || out != "" {
		t.Errorf("second run: %q, %v; want no output", out, err)
	}
	out, err = f.run(t, func(o *ImageLookupOptions) { o.Enabled = false }, "mysql", "imagestream/echo")
	if err != nil || f.local(t, "mysql") || f.local(t, "echo") {
		t.Fatalf("--enabled=false: %q, %v", out, err)
	}
	if !strings.Contains(out, "imagestream.image.openshift.io/echo image lookup updated") {
		t.Errorf("output %q", out)
	}
}

func TestAllStreams(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.run(t, func(o *ImageLookupOptions) { o.All = true }, "mysql"); err == nil {
		t.Error("--all with a name was accepted")
	}
	out, err := f.run(t, func(o *ImageLookupOptions) { o.All = true })
	if err != nil || out != "imagestream.image.openshift.io/mysql image lookup updated\n" || !f.local(t, "mysql") {
		t.Errorf("--all: %q, %v", out, err)
	}
}

func TestAnnotatesPodTemplates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out, err := f.run(t, nil, "deployment/web", "cronjob/nightly", "pod/one")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deployment.apps/web image lookup updated", "cronjob.batch/nightly image lookup updated", "pod/one image lookup updated"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, c := range []struct {
		gvr  schema.GroupVersionResource
		name string
		path []string
	}{
		{deployments, "web", []string{"spec", "template", "metadata", "annotations"}},
		{cronjobs, "nightly", []string{"spec", "jobTemplate", "spec", "template", "metadata", "annotations"}},
		{pods, "one", []string{"metadata", "annotations"}},
	} {
		if v, _ := f.annotation(t, c.gvr, c.name, c.path...); v != "*" {
			t.Errorf("%s/%s: annotation %q at %v, want *", c.gvr.Resource, c.name, v, c.path)
		}
	}
	out, err = f.run(t, func(o *ImageLookupOptions) { o.List = true }, "deployment/web", "mysql")
	if err != nil || out != "NAME             LOCAL\ndeployments/web  true\nmysql            false\n" {
		t.Errorf("--list: %q, %v", out, err)
	}
	if out, err = f.run(t, func(o *ImageLookupOptions) { o.Enabled = false }, "deployment/web"); err != nil || out != "deployment.apps/web image lookup updated\n" {
		t.Errorf("--enabled=false: %q, %v", out, err)
	}
	if _, ok := f.annotation(t, deployments, "web", "spec", "template", "metadata", "annotations"); ok {
		t.Error("the annotation is still there after --enabled=false")
	}
	if out, err = f.run(t, func(o *ImageLookupOptions) { o.Enabled = false }, "deployment/web"); err != nil || out != "" {
		t.Errorf("--enabled=false again: %q, %v; want no output", out, err)
	}
}

func TestRefusesWhatItCannotChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"configmap/conf"}, "configmap/conf does not support altering image lookup"},
		{[]string{"nosuch"}, "image stream \"nosuch\" not found in project proj\nTry: "},
		{[]string{"deployment/gone"}, "deployment.apps/gone not found in project proj"},
		{[]string{"widgets/x"}, "the server has no resource type \"widgets\""},
		{[]string{"deploy/"}, "neither an image stream name nor TYPE/NAME"},
	} {
		if _, err := f.run(t, nil, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	f.o.Namespace = ""
	if _, err := f.run(t, nil, "mysql"); err == nil || !strings.Contains(err.Error(), "Try: -n PROJECT") {
		t.Errorf("no project: %v", err)
	}
}
