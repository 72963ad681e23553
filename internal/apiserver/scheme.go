package apiserver

import (
	"reflect"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	authorizationv1 "github.com/openshift/api/authorization/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	oauthv1 "github.com/openshift/api/oauth/v1"
	projectv1 "github.com/openshift/api/project/v1"
	quotav1 "github.com/openshift/api/quota/v1"
	routev1 "github.com/openshift/api/route/v1"
	securityv1 "github.com/openshift/api/security/v1"
	templatev1 "github.com/openshift/api/template/v1"
	userv1 "github.com/openshift/api/user/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// installers register the versioned types of every OpenShift group Gantry serves.
var installers = []func(*runtime.Scheme) error{
	projectv1.Install, routev1.Install, imagev1.Install, buildv1.Install, appsv1.Install,
	templatev1.Install, userv1.Install, oauthv1.Install, securityv1.Install,
	authorizationv1.Install, quotav1.Install,
}

// GroupVersions are the API group versions served by the aggregated server.
var GroupVersions = []schema.GroupVersion{
	projectv1.GroupVersion, routev1.GroupVersion, imagev1.GroupVersion, buildv1.GroupVersion,
	appsv1.GroupVersion, templatev1.GroupVersion, userv1.GroupVersion, oauthv1.GroupVersion,
	securityv1.GroupVersion, authorizationv1.GroupVersion, quotav1.GroupVersion,
}

// NewScheme returns the scheme the server decodes, stores and encodes with.
//
// Gantry keeps no internal API types: the v1 types of openshift/api are also
// registered as each group's internal version, so conversion between the two
// is the identity (runtime.Scheme only sets the kind) and strategies,
// validation and storage all work on the wire types.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, install := range installers {
		if err := install(s); err != nil {
			panic(err)
		}
	}
	for _, gv := range GroupVersions {
		internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
		for kind, t := range s.KnownTypes(gv) {
			if !strings.HasPrefix(t.PkgPath(), "github.com/openshift/api/") {
				continue // meta types (ListOptions, WatchEvent...) have their own internal forms
			}
			obj := reflect.New(t).Interface().(runtime.Object)
			s.AddKnownTypeWithName(internal.WithKind(kind), obj)
			if err := s.AddConversionFunc(obj, obj, identity); err != nil {
				panic(err)
			}
		}
		if err := s.SetVersionPriority(gv); err != nil {
			panic(err)
		}
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	s.AddUnversionedTypes(unversioned, &metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{},
		&metav1.APIGroup{}, &metav1.APIResourceList{})
	return s
}

// identity converts an object to the same type: a deep copy.
func identity(in, out interface{}, _ conversion.Scope) error {
	reflect.ValueOf(out).Elem().Set(reflect.ValueOf(in.(runtime.Object).DeepCopyObject()).Elem())
	return nil
}

// newOpenAPIScheme holds only the versioned types, so OpenAPI definitions name
// each type by its real group, version and kind (never the internal version).
func newOpenAPIScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, install := range installers {
		if err := install(s); err != nil {
			panic(err)
		}
	}
	return s
}

var (
	// Scheme is shared by the server's codecs and storage.
	Scheme = NewScheme()
	// Codecs encode and decode with Scheme.
	Codecs = serializer.NewCodecFactory(Scheme)
)
