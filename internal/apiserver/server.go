// Package apiserver is Gantry's aggregated API server: it serves the OpenShift
// API groups (project, route, image, build, apps, template, user, oauth,
// security, authorization, quota) with the wire types of
// github.com/openshift/api, stores them in etcd, and is reached through
// kube-apiserver's aggregator, which authenticates users for it (front-proxy
// request headers) while authorization is delegated back to kube-apiserver
// with SubjectAccessReviews.
package apiserver

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	restful "github.com/emicklei/go-restful/v3"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/generic"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
	"github.com/gantry-dev/gantry/internal/router/model"
	"github.com/openshift/api/openapi/generated_openapi"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/versioning"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	registrygeneric "k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	basecompatibility "k8s.io/component-base/compatibility"
)

// Config configures the aggregated API server.
type Config struct {
	// BindAddress and Port are where the server listens (TLS).
	BindAddress net.IP
	Port        int
	// CertFile and KeyFile are the serving certificate; kube-apiserver
	// verifies it with the APIService's caBundle.
	CertFile, KeyFile string
	// Kubeconfig reaches kube-apiserver: delegated authentication and
	// authorization, namespaces for projects, informers for admission.
	Kubeconfig string
	// Etcd is where objects are stored, under EtcdPrefix (default /openshift.io).
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	EtcdPrefix                            string
	// Projects configures project self-service.
	Projects ProjectConfig
	// Images configures the image API: the integrated registry's name and
	// what imports may reach.
	Images ImageConfig
	// Routes configures the route API: the subdomain of generated hosts.
	Routes RouteConfig
	// Version is reported by /version.
	Version string
	// AdmissionConfigFile, when set, is the AdmissionConfiguration of the admission plugins (the
	// client certificate the webhook plugins present to Gantry's webhooks).
	AdmissionConfigFile string
}

// ProjectConfig configures projectrequests.
type ProjectConfig struct {
	// RequestMessage is shown to users who may not request projects.
	RequestMessage string
	// RequestTemplate is "namespace/name" of a Template used for new
	// projects instead of the built-in one.
	RequestTemplate string
	// PullSecretWait, when set, is how long a project request waits for the project's default
	// service account to get its registry pull secret (from Gantry's service-account
	// controller), so that pods created right after can pull the project's images.
	PullSecretWait time.Duration
}

// ImageConfig configures image streams and imports (OpenShift 3's
// imagePolicyConfig).
type ImageConfig struct {
	// InternalRegistryHostname is the host[:port] of the integrated registry
	// as nodes and pods pull from it; streams' status.dockerImageRepository
	// is <InternalRegistryHostname>/<namespace>/<name>. Empty: streams have
	// no integrated repository.
	InternalRegistryHostname string
	// ExternalRegistryHostname, when set, gives streams a
	// status.publicDockerImageRepository for users outside the cluster.
	ExternalRegistryHostname string
	// AllowedRegistriesForImport lists the registries imports may reach,
	// as host or host:port patterns where "*" matches one or more DNS labels
	// ("*.example.com", "registry.local:5000"). Empty allows every registry
	// on a public address; loopback, link-local, private and metadata
	// addresses are refused unless a pattern names them.
	AllowedRegistriesForImport []string
}

// RouteConfig configures routes (OpenShift 3's routingConfig).
type RouteConfig struct {
	// Subdomain, when set, gives a route created without spec.host the
	// host <name>-<namespace>.<Subdomain> (e.g. apps.10.0.0.5.nip.io), so
	// `expose svc/x` yields a reachable name without the user picking one.
	// Empty: routes keep the host they are created with, and a route
	// without one gets its host from the router that admits it.
	Subdomain string
}

// Server is a configured, not yet running, aggregated API server.
type Server struct {
	generic *genericapiserver.GenericAPIServer
}

// New builds the server: storage for every group, delegated authn/authz,
// OpenAPI, admission.
func New(cfg Config) (*Server, error) {
	if cfg.EtcdPrefix == "" {
		cfg.EtcdPrefix = "/openshift.io"
	}
	opts := genericoptions.NewRecommendedOptions(cfg.EtcdPrefix, storageCodec())
	opts.Etcd.StorageConfig.Transport.ServerList = cfg.EtcdServers
	opts.Etcd.StorageConfig.Transport.TrustedCAFile = cfg.EtcdCAFile
	opts.Etcd.StorageConfig.Transport.CertFile = cfg.EtcdCertFile
	opts.Etcd.StorageConfig.Transport.KeyFile = cfg.EtcdKeyFile
	opts.Etcd.StorageConfig.EncodeVersioner = schema.GroupVersions(GroupVersions)
	opts.SecureServing.BindAddress = cfg.BindAddress
	opts.SecureServing.BindPort = cfg.Port
	opts.SecureServing.ServerCert.CertKey.CertFile = cfg.CertFile
	opts.SecureServing.ServerCert.CertKey.KeyFile = cfg.KeyFile
	opts.Authentication.RemoteKubeConfigFile = cfg.Kubeconfig
	opts.Authentication.SkipInClusterLookup = false
	opts.Authorization.RemoteKubeConfigFile = cfg.Kubeconfig
	opts.Authorization.AlwaysAllowPaths = []string{"/healthz", "/readyz", "/livez"}
	opts.CoreAPI.CoreAPIKubeconfigPath = cfg.Kubeconfig
	opts.Admission.ConfigFile = cfg.AdmissionConfigFile
	if errs := opts.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("aggregated API server options: %v", errs)
	}

	c := genericapiserver.NewRecommendedConfig(Codecs)
	c.EffectiveVersion = basecompatibility.NewEffectiveVersionFromString("1.34", "", "")
	namer := openapinamer.NewDefinitionNamer(newOpenAPIScheme())
	c.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openAPIDefinitions(generated_openapi.GetOpenAPIDefinitions), namer)
	c.OpenAPIConfig.GetOperationIDAndTags = uniqueOperationIDs(c.OpenAPIConfig.GetOperationIDAndTags)
	c.OpenAPIConfig.Info.Title = "Gantry"
	c.OpenAPIConfig.Info.Version = cfg.Version
	c.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openAPIDefinitions(generated_openapi.GetOpenAPIDefinitions), namer)
	c.OpenAPIV3Config.GetOperationIDAndTags = uniqueOperationIDs(c.OpenAPIV3Config.GetOperationIDAndTags)
	c.OpenAPIV3Config.Info.Title = "Gantry"
	c.OpenAPIV3Config.Info.Version = cfg.Version
	if err := opts.ApplyTo(c); err != nil {
		return nil, fmt.Errorf("configure aggregated API server: %w", err)
	}

	restConfig, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", cfg.Kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, err
	}

	completed := c.Complete()
	gs, err := completed.New("gantry-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("create aggregated API server: %w", err)
	}
	env := &Env{
		Kube:       kube,
		Authorizer: c.Authorization.Authorizer,
		Projects:   cfg.Projects,
		Images:     cfg.Images,
		Routes:     cfg.Routes,
		Informers:  c.SharedInformerFactory,
		RESTConfig: restConfig,
		Stores:     map[schema.GroupResource]*generic.REST{},
		Status:     map[schema.GroupResource]*generic.StatusREST{},
	}
	if cfg.Routes.Subdomain != "" {
		if _, err := model.GenerateHost("route", "namespace", cfg.Routes.Subdomain); err != nil {
			return nil, fmt.Errorf("routing subdomain %q: %w", cfg.Routes.Subdomain, err)
		}
	}
	for _, g := range groups(env) {
		if err := install(gs, completed.RESTOptionsGetter, g, env); err != nil {
			return nil, err
		}
	}
	return &Server{generic: gs}, nil
}

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	return s.generic.PrepareRun().RunWithContext(ctx)
}

// storageCodec stores objects as protobuf in their group's v1 version
// (the same encoding openshift-apiserver uses), reading JSON too.
func storageCodec() runtime.Codec {
	info, ok := runtime.SerializerInfoForMediaType(Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		panic("protobuf serializer missing")
	}
	return versioning.NewDefaultingCodecForScheme(Scheme, info.Serializer, Codecs.UniversalDeserializer(),
		schema.GroupVersions(GroupVersions), runtime.InternalGroupVersioner)
}

// servedGroup is a group's persisted resources plus the REST storage that is
// not a plain Definition (virtual resources and subresources).
type servedGroup struct {
	resource.Group
	// Extra adds storage under "resource" or "resource/subresource" names.
	Extra func(env *Env, stores map[string]*generic.REST) (map[string]rest.Storage, error)
}

// install serves one group version.
func install(gs *genericapiserver.GenericAPIServer, optsGetter registrygeneric.RESTOptionsGetter, g servedGroup, env *Env) error {
	gv := g.GroupVersion
	storage := map[string]rest.Storage{}
	stores := map[string]*generic.REST{}
	for i := range g.Resources {
		def := &g.Resources[i]
		registerDefaults(def)
		r, status, err := generic.NewREST(Scheme, gv, def, optsGetter)
		if err != nil {
			return err
		}
		stores[def.Resource] = r
		env.Stores[gv.WithResource(def.Resource).GroupResource()] = r
		storage[def.Resource] = r
		if status != nil {
			storage[def.Resource+"/status"] = status
			env.Status[gv.WithResource(def.Resource).GroupResource()] = status
		}
	}
	if g.Extra != nil {
		extra, err := g.Extra(env, stores)
		if err != nil {
			return fmt.Errorf("storage for %s: %w", gv, err)
		}
		for k, v := range extra {
			storage[k] = v
		}
	}
	info := genericapiserver.NewDefaultAPIGroupInfo(gv.Group, Scheme, ParameterCodec, Codecs)
	info.PrioritizedVersions = []schema.GroupVersion{gv}
	info.VersionedResourcesStorageMap[gv.Version] = storage
	if err := gs.InstallAPIGroup(&info); err != nil {
		// The upstream error prints the whole group info: keep its reason.
		msg := err.Error()
		if i := strings.LastIndex(msg, "error in registering resource: "); i >= 0 {
			msg = msg[i:]
		}
		return fmt.Errorf("install %s: %s", gv, msg)
	}
	return nil
}

// ParameterCodec decodes query parameters.
var ParameterCodec = runtime.NewParameterCodec(Scheme)

// uniqueOperationIDs keeps OpenAPI operation IDs unique. Upstream derives
// them from the kind, and virtual resources reuse kinds (processedtemplates
// take and return Templates), so a second path with the same ID gets its
// resource name appended.
func uniqueOperationIDs(next func(*restful.Route) (string, []string, error)) func(*restful.Route) (string, []string, error) {
	var mu sync.Mutex
	paths := map[string]string{}
	return func(r *restful.Route) (string, []string, error) {
		id, tags, err := next(r)
		if err != nil {
			return id, tags, err
		}
		mu.Lock()
		defer mu.Unlock()
		if p, ok := paths[id]; ok && p != r.Path {
			id += "For" + resourceOfPath(r.Path)
		}
		paths[id] = r.Path
		return id, tags, nil
	}
}

// resourceOfPath is the last path segment that is not a parameter, capitalized.
func resourceOfPath(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if s := segs[i]; s != "" && !strings.HasPrefix(s, "{") {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return "Path"
}

// registerDefaults makes the scheme default the resource (and its lists)
// whenever a request body or a stored object is decoded.
func registerDefaults(def *resource.Definition) {
	if def.Default == nil {
		return
	}
	Scheme.AddTypeDefaultingFunc(def.New(), func(obj interface{}) { def.Default(obj.(runtime.Object)) })
	Scheme.AddTypeDefaultingFunc(def.NewList(), func(obj interface{}) {
		_ = meta.EachListItem(obj.(runtime.Object), func(item runtime.Object) error {
			def.Default(item)
			return nil
		})
	})
}
