package apiserver

import (
	"context"
	"net/http"
	"strings"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/generic"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Env is what storage beyond plain Definitions needs: clients of
// kube-apiserver, the authorizer, and the stores of other resources.
type Env struct {
	Kube       kubernetes.Interface
	Authorizer authorizer.Authorizer
	Projects   ProjectConfig
	Images     ImageConfig
	Routes     RouteConfig
	Informers  informers.SharedInformerFactory
	RESTConfig *restclient.Config
	// Stores holds every generic store installed so far, by group resource.
	Stores map[schema.GroupResource]*generic.REST
	// Status holds the status subresource storage, by group resource.
	Status map[schema.GroupResource]*generic.StatusREST
}

// notImplemented is a registered subresource whose behavior arrives with a
// later capability. It answers 501 with what is missing, so clients see the
// endpoint exists (discovery, `oc`) and get a clear error.
type notImplemented struct {
	newObj  func() runtime.Object
	gr      schema.GroupResource
	feature string
}

var (
	_ rest.Creater         = (*notImplemented)(nil)
	_ rest.Getter          = (*notImplemented)(nil)
	_ rest.StorageMetadata = (*notImplemented)(nil)
)

func (n *notImplemented) New() runtime.Object { return n.newObj() }

// GetSingularName is the resource name without its plural "s".
func (n *notImplemented) GetSingularName() string { return strings.TrimSuffix(n.gr.Resource, "s") }
func (n *notImplemented) Destroy()                {}
func (n *notImplemented) NamespaceScoped() bool {
	return true
}
func (n *notImplemented) ProducesMIMETypes(string) []string { return nil }
func (n *notImplemented) ProducesObject(string) interface{} { return nil }

func (n *notImplemented) err() error {
	return &notImplementedError{metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotImplemented, Reason: "NotImplemented",
		Message: n.gr.String() + " is not available yet: it arrives with " + n.feature,
	}}
}

func (n *notImplemented) Create(context.Context, runtime.Object, rest.ValidateObjectFunc, *metav1.CreateOptions) (runtime.Object, error) {
	return nil, n.err()
}

func (n *notImplemented) Get(context.Context, string, *metav1.GetOptions) (runtime.Object, error) {
	return nil, n.err()
}

type notImplementedError struct{ status metav1.Status }

func (e *notImplementedError) Error() string         { return e.status.Message }
func (e *notImplementedError) Status() metav1.Status { return e.status }

// openAPIDefinitions adds the few Kubernetes types the server references that
// openshift/api's generated definitions lack (the Scale subresource, /version).
func openAPIDefinitions(defs common.GetOpenAPIDefinitions) common.GetOpenAPIDefinitions {
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		m := defs(ref)
		str := spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"}}}
		i32 := spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"integer"}, Format: "int32"}}
		m["k8s.io/api/extensions/v1beta1.Scale"] = common.OpenAPIDefinition{Schema: spec.Schema{SchemaProps: spec.SchemaProps{
			Description: "Scale represents a scaling request for a resource.",
			Type:        []string{"object"},
			Properties: map[string]spec.Schema{
				"apiVersion": str,
				"kind":       str,
				"metadata":   {SchemaProps: spec.SchemaProps{Ref: ref("k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta")}},
				"spec":       {SchemaProps: spec.SchemaProps{Type: []string{"object"}, Properties: map[string]spec.Schema{"replicas": i32}}},
				"status": {SchemaProps: spec.SchemaProps{Type: []string{"object"}, Properties: map[string]spec.Schema{
					"replicas": i32, "targetSelector": str,
					"selector": {SchemaProps: spec.SchemaProps{Type: []string{"object"}, AdditionalProperties: &spec.SchemaOrBool{Allows: true, Schema: &str}}},
				}}},
			},
		}}, Dependencies: []string{"k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"}}
		info := map[string]spec.Schema{}
		for _, f := range []string{"major", "minor", "emulationMajor", "emulationMinor", "minCompatibilityMajor",
			"minCompatibilityMinor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"} {
			info[f] = spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"}}}
		}
		m["k8s.io/apimachinery/pkg/version.Info"] = common.OpenAPIDefinition{Schema: spec.Schema{SchemaProps: spec.SchemaProps{
			Description: "Info contains versioning information.", Type: []string{"object"}, Properties: info,
		}}}
		return m
	}
}
