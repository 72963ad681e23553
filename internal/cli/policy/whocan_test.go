package policy

import (
	"bytes"
	"testing"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	authorizationfake "github.com/openshift/client-go/authorization/clientset/versioned/fake"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/restmapper"
	clienttesting "k8s.io/client-go/testing"
)

// discovery serves pods (with the log subresource), deployments in apps,
// routes and image streams ("is"), as Gantry's API servers do.
var discovery = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods", Kind: "Pod", Namespaced: true, ShortNames: []string{"po"}},
		{Name: "pods/log", Kind: "Pod", Namespaced: true},
	}},
	{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "deployments", Kind: "Deployment", Namespaced: true, ShortNames: []string{"deploy"}}}},
	{GroupVersion: "route.openshift.io/v1", APIResources: []metav1.APIResource{{Name: "routes", Kind: "Route", Namespaced: true}}},
	{GroupVersion: "image.openshift.io/v1", APIResources: []metav1.APIResource{
		{Name: "imagestreams", Kind: "ImageStream", Namespaced: true, ShortNames: []string{"is"}},
		{Name: "imagestreams/layers", Kind: "ImageStreamLayers", Namespaced: true},
	}},
}

// testMapper resolves names as `gantry policy who-can` does, short names included.
func testMapper(t *testing.T) meta.RESTMapper {
	t.Helper()
	disc := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: discovery}}
	groups, err := restmapper.GetAPIGroupResources(disc)
	if err != nil {
		t.Fatal(err)
	}
	return restmapper.NewShortcutExpander(restmapper.NewDiscoveryRESTMapper(groups), disc, nil)
}

func TestResourceFor(t *testing.T) {
	t.Parallel()
	mapper := testMapper(t)
	tests := []struct {
		arg         string
		want        schema.GroupResource
		wantWarning string
	}{
		{"pods", schema.GroupResource{Resource: "pods"}, ""},
		{"po", schema.GroupResource{Resource: "pods"}, ""},
		{"pods/log", schema.GroupResource{Resource: "pods/log"}, ""},
		{"routes", schema.GroupResource{Group: "route.openshift.io", Resource: "routes"}, ""},
		{"Routes.route.openshift.io", schema.GroupResource{Group: "route.openshift.io", Resource: "routes"}, ""},
		{"deployments.v1.apps", schema.GroupResource{Group: "apps", Resource: "deployments"}, ""},
		{"deploy.apps", schema.GroupResource{Group: "apps", Resource: "deployments"}, ""},
		{"imagestreams/layers", schema.GroupResource{Group: "image.openshift.io", Resource: "imagestreams/layers"}, ""},
		{"is/layers", schema.GroupResource{Group: "image.openshift.io", Resource: "imagestreams/layers"}, ""},
		{"imagestreams.image.openshift.io/layers", schema.GroupResource{Group: "image.openshift.io", Resource: "imagestreams/layers"}, ""},
		{"widgets/status", schema.GroupResource{Resource: "widgets/status"}, "Warning: the server doesn't have a resource type 'widgets'\n"},
		{"widgets.example.com", schema.GroupResource{Group: "example.com", Resource: "widgets"}, "Warning: the server doesn't have a resource type 'widgets' in group 'example.com'\n"},
	}
	for _, tc := range tests {
		var warn bytes.Buffer
		if got := resourceFor(mapper, tc.arg, &warn); got != tc.want || warn.String() != tc.wantWarning {
			t.Errorf("resourceFor(%q) = %#v, warning %q; want %#v, %q", tc.arg, got, warn.String(), tc.want, tc.wantWarning)
		}
	}
}

func TestWhoCanAsksAboutTheSubresourceInItsGroup(t *testing.T) {
	t.Parallel()
	client := authorizationfake.NewSimpleClientset()
	var asked []authorizationv1.Action
	client.PrependReactor("create", "localresourceaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		asked = append(asked, a.(clienttesting.CreateAction).GetObject().(*authorizationv1.LocalResourceAccessReview).Action)
		return true, &authorizationv1.ResourceAccessReviewResponse{Namespace: "web", UsersSlice: []string{"alice"}}, nil
	})
	mapper := testMapper(t)
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	o := &WhoCanOptions{Verb: "get", Namespace: "web", Client: client.AuthorizationV1(), IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: errOut}}
	o.Resource = resourceFor(mapper, "is/layers", errOut)
	if err := o.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() > 0 {
		t.Errorf("warnings: %s", errOut)
	}
	if len(asked) != 1 || asked[0].Group != "image.openshift.io" || asked[0].Resource != "imagestreams/layers" || asked[0].Verb != "get" {
		t.Errorf("asked %+v, want get imagestreams/layers in image.openshift.io", asked)
	}
	want := "\nNamespace: web\nVerb:      get\nResource:  imagestreams/layers.image.openshift.io\n\nUsers:  alice\n\nGroups: none\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}
