package apiserver

import (
	"context"
	"fmt"

	appsreg "github.com/gantry-dev/gantry/internal/apiserver/registry/apps"
	authzreg "github.com/gantry-dev/gantry/internal/apiserver/registry/authorization"
	buildreg "github.com/gantry-dev/gantry/internal/apiserver/registry/build"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/generic"
	imagereg "github.com/gantry-dev/gantry/internal/apiserver/registry/image"
	oauthreg "github.com/gantry-dev/gantry/internal/apiserver/registry/oauth"
	projectreg "github.com/gantry-dev/gantry/internal/apiserver/registry/project"
	quotareg "github.com/gantry-dev/gantry/internal/apiserver/registry/quota"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
	routereg "github.com/gantry-dev/gantry/internal/apiserver/registry/route"
	securityreg "github.com/gantry-dev/gantry/internal/apiserver/registry/security"
	templatereg "github.com/gantry-dev/gantry/internal/apiserver/registry/template"
	userreg "github.com/gantry-dev/gantry/internal/apiserver/registry/user"
	"github.com/gantry-dev/gantry/internal/authz"
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	projectv1 "github.com/openshift/api/project/v1"
	securityv1 "github.com/openshift/api/security/v1"
	templatev1 "github.com/openshift/api/template/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// Capabilities that complete registered endpoints later; named in 501 answers.
const (
	withBuilds      = "the builds capability"
	withDeployments = "the deployments capability"
	withIdentity    = "the identity and access capability"
	withSecurity    = "the security constraints capability"
	withImages      = "the images capability"
)

// groups lists what the server serves. The project group comes last: its
// request template is read from the template storage.
func groups(env *Env) []servedGroup {
	return []servedGroup{
		{Group: routereg.Group(routereg.Options{Subdomain: env.Routes.Subdomain, Access: routereg.AuthorizerAccess(env.Authorizer)})},
		{Group: imagereg.Group(), Extra: imageExtra},
		{Group: buildreg.Group(), Extra: buildExtra},
		{Group: appsreg.Group(), Extra: appsExtra},
		{Group: templatereg.Group(), Extra: templateExtra},
		{Group: userreg.Group(), Extra: userExtra},
		{Group: oauthreg.Group(), Extra: oauthExtra},
		{Group: securityreg.Group(), Extra: securityExtra},
		{Group: authzreg.Group(), Extra: authorizationExtra},
		{Group: quotareg.Group()},
		{Group: resource.Group{GroupVersion: projectv1.GroupVersion, Install: projectv1.Install}, Extra: projectExtra},
	}
}

func later(gr string, newObj func() runtime.Object, feature string) *notImplemented {
	return &notImplemented{newObj: newObj, gr: schema.ParseGroupResource(gr), feature: feature}
}

func imageExtra(env *Env, stores map[string]*generic.REST) (map[string]rest.Storage, error) {
	decorate := imagereg.RepositoryDecorator(env.Images.InternalRegistryHostname, env.Images.ExternalRegistryHostname)
	stores["imagestreams"].Store.Decorator = decorate
	status := env.Status[imagev1.Resource("imagestreams")]
	status.SetDecorator(decorate)
	v := imagereg.Virtual(stores["imagestreams"], status, stores["images"], env.Authorizer)
	v["imagestreams"] = imagereg.NewStreamsREST(stores["imagestreams"], status, stores["images"], env.Authorizer)
	imports, err := imagereg.NewImportsREST(stores["imagestreams"], status, stores["images"], env.Authorizer, env.Kube, imagereg.ImportOptions{
		AllowedRegistries:        env.Images.AllowedRegistriesForImport,
		InternalRegistryHostname: env.Images.InternalRegistryHostname,
		ExternalRegistryHostname: env.Images.ExternalRegistryHostname,
	})
	if err != nil {
		return nil, err
	}
	v["imagestreamimports"] = imports
	var secrets imagereg.SecretsFunc
	if env.Kube != nil {
		secrets = imagereg.KubeSecrets(env.Kube)
	}
	v["imagestreams/secrets"] = imagereg.NewSecretsREST(stores["imagestreams"], secrets)
	if v["imagestreams/notifications"], err = imagereg.NewNotificationsREST(stores["imagestreams"], imports); err != nil {
		return nil, err
	}
	return v, nil
}

func buildExtra(*Env, map[string]*generic.REST) (map[string]rest.Storage, error) {
	return map[string]rest.Storage{
		"buildconfigs/instantiate":       later("buildconfigs.build.openshift.io/instantiate", func() runtime.Object { return &buildv1.BuildRequest{} }, withBuilds),
		"buildconfigs/instantiatebinary": later("buildconfigs.build.openshift.io/instantiatebinary", func() runtime.Object { return &buildv1.BinaryBuildRequestOptions{} }, withBuilds),
		"buildconfigs/webhooks":          later("buildconfigs.build.openshift.io/webhooks", func() runtime.Object { return &buildv1.Build{} }, withBuilds),
		"builds/clone":                   later("builds.build.openshift.io/clone", func() runtime.Object { return &buildv1.BuildRequest{} }, withBuilds),
		"builds/log":                     later("builds.build.openshift.io/log", func() runtime.Object { return &buildv1.BuildLog{} }, withBuilds),
		"builds/details":                 later("builds.build.openshift.io/details", func() runtime.Object { return &buildv1.Build{} }, withBuilds),
	}, nil
}

func appsExtra(_ *Env, stores map[string]*generic.REST) (map[string]rest.Storage, error) {
	return map[string]rest.Storage{
		"deploymentconfigs/scale":       &scaleREST{store: stores["deploymentconfigs"].Store},
		"deploymentconfigs/rollback":    later("deploymentconfigs.apps.openshift.io/rollback", func() runtime.Object { return &appsv1.DeploymentConfigRollback{} }, withDeployments),
		"deploymentconfigs/instantiate": later("deploymentconfigs.apps.openshift.io/instantiate", func() runtime.Object { return &appsv1.DeploymentRequest{} }, withDeployments),
		"deploymentconfigs/log":         later("deploymentconfigs.apps.openshift.io/log", func() runtime.Object { return &appsv1.DeploymentLog{} }, withDeployments),
	}, nil
}

func templateExtra(_ *Env, stores map[string]*generic.REST) (map[string]rest.Storage, error) {
	return map[string]rest.Storage{"processedtemplates": &templatereg.ProcessREST{}}, nil
}

func userExtra(_ *Env, stores map[string]*generic.REST) (map[string]rest.Storage, error) {
	return map[string]rest.Storage{
		"users":                &usersREST{REST: stores["users"]},
		"useridentitymappings": userreg.NewMappingREST(stores["users"], stores["identities"]),
	}, nil
}

func oauthExtra(_ *Env, stores map[string]*generic.REST) (map[string]rest.Storage, error) {
	return map[string]rest.Storage{"useroauthaccesstokens": &oauthreg.UserTokensREST{Tokens: stores["oauthaccesstokens"]}}, nil
}

func securityExtra(*Env, map[string]*generic.REST) (map[string]rest.Storage, error) {
	return map[string]rest.Storage{
		"podsecuritypolicysubjectreviews":     later("podsecuritypolicysubjectreviews.security.openshift.io", func() runtime.Object { return &securityv1.PodSecurityPolicySubjectReview{} }, withSecurity),
		"podsecuritypolicyselfsubjectreviews": later("podsecuritypolicyselfsubjectreviews.security.openshift.io", func() runtime.Object { return &securityv1.PodSecurityPolicySelfSubjectReview{} }, withSecurity),
		"podsecuritypolicyreviews":            later("podsecuritypolicyreviews.security.openshift.io", func() runtime.Object { return &securityv1.PodSecurityPolicyReview{} }, withSecurity),
	}, nil
}

func authorizationExtra(env *Env, _ map[string]*generic.REST) (map[string]rest.Storage, error) {
	return authzreg.Reviews(env.Kube.AuthorizationV1().SubjectAccessReviews(), authz.NewEvaluator(env.Informers.Rbac().V1())), nil
}

func projectExtra(env *Env, _ map[string]*generic.REST) (map[string]rest.Storage, error) {
	dyn, err := dynamic.NewForConfig(env.RESTConfig)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Kube.Discovery()))
	templates := env.Stores[templatev1.Resource("templates")]
	getTemplate := func(ctx context.Context, ns, name string) (*templatev1.Template, error) {
		obj, err := templates.Get(request.WithNamespace(ctx, ns), name, &metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		t, ok := obj.(*templatev1.Template)
		if !ok {
			return nil, fmt.Errorf("%s/%s is a %T", ns, name, obj)
		}
		return t, nil
	}
	return map[string]rest.Storage{
		"projects":        projectreg.NewREST(env.Kube, env.Authorizer),
		"projectrequests": projectreg.NewRequestREST(env.Kube, dyn, mapper, env.Authorizer, env.Projects.RequestMessage, env.Projects.RequestTemplate, getTemplate).WithPullSecretWait(env.Projects.PullSecretWait),
	}, nil
}
