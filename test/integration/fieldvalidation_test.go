package integration

import (
	"strings"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// warnings collects the Warning headers of responses.
type warnings struct{ got []string }

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) { w.got = append(w.got, text) }

// Unknown fields are handled as kube-apiserver handles them: dropped with a
// warning by default, refused with fieldValidation=Strict.
func TestUnknownFieldsAreHandledAsKubeAPIServerDoes(t *testing.T) {
	ns := testNamespace(t, "faults-unknown")
	body := `{"apiVersion":"route.openshift.io/v1","kind":"Route","metadata":{"name":"%s"},"spec":{"to":{"kind":"Service","name":"s"},"hots":"typo.example.com"}}`

	c := rest.CopyConfig(cluster.Config)
	w := &warnings{}
	c.WarningHandler = w
	rc := routes(t)
	client, err := rest.RESTClientFor(restConfigFor(c))
	if err != nil {
		t.Fatal(err)
	}
	err = client.Post().AbsPath("/apis/route.openshift.io/v1/namespaces", ns, "routes").
		Param("fieldValidation", "Strict").Body([]byte(strings.Replace(body, "%s", "strict", 1))).
		SetHeader("Content-Type", "application/json").Do(t.Context()).Error()
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `unknown field "spec.hots"`) {
		t.Errorf("strict create with an unknown field: %v, want 400 naming spec.hots", err)
	}
	var created routev1.Route
	err = client.Post().AbsPath("/apis/route.openshift.io/v1/namespaces", ns, "routes").
		Body([]byte(strings.Replace(body, "%s", "lenient", 1))).
		SetHeader("Content-Type", "application/json").Do(t.Context()).Into(&created)
	if err != nil {
		t.Fatalf("default create with an unknown field: %v", err)
	}
	if !strings.Contains(strings.Join(w.got, "\n"), `unknown field "spec.hots"`) {
		t.Errorf("warnings %q, want one naming spec.hots", w.got)
	}
	if _, err := rc.RouteV1().Routes(ns).Get(t.Context(), "strict", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the strict request created its route: %v", err)
	}
}

func restConfigFor(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.GroupVersion = &routev1.GroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = routeCodecs
	return c
}

var routeCodecs = func() runtime.NegotiatedSerializer {
	s := runtime.NewScheme()
	_ = routev1.Install(s)
	return serializer.NewCodecFactory(s).WithoutConversion()
}()
