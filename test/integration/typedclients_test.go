package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	authorizationv1 "github.com/openshift/api/authorization/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	oauthv1 "github.com/openshift/api/oauth/v1"
	quotav1 "github.com/openshift/api/quota/v1"
	routev1 "github.com/openshift/api/route/v1"
	securityv1 "github.com/openshift/api/security/v1"
	templatev1 "github.com/openshift/api/template/v1"
	userv1 "github.com/openshift/api/user/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	authorizationclient "github.com/openshift/client-go/authorization/clientset/versioned"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	oauthclient "github.com/openshift/client-go/oauth/clientset/versioned"
	quotaclient "github.com/openshift/client-go/quota/clientset/versioned"
	routeclient "github.com/openshift/client-go/route/clientset/versioned"
	securityclient "github.com/openshift/client-go/security/clientset/versioned"
	templateclient "github.com/openshift/client-go/template/clientset/versioned"
	userclient "github.com/openshift/client-go/user/clientset/versioned"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/test/harness"
)

// This file is the compatibility acceptance suite of the OpenShift API
// groups: it drives every persisted resource with the typed clients of
// github.com/openshift/client-go, as oc and controllers written against
// OpenShift do, and checks what a user of those clients would notice.

// typedObject is what every openshift/api object pointer is.
type typedObject interface {
	runtime.Object
	metav1.Object
}

// crudClient is the part of a generated typed client every persisted
// resource has.
type crudClient[T typedObject, L runtime.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// statusClient is implemented by the typed clients of resources with a
// status subresource.
type statusClient[T typedObject] interface {
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// resourceCase describes one persisted resource to the generic CRUD run.
type resourceCase[T typedObject, L runtime.Object] struct {
	namespaced bool
	client     func(ns string) crudClient[T, L]
	// newObj returns valid object number i (0 or 1) to create in ns.
	newObj func(ns string, i int) T
	// mutate makes a valid change through Update that a user would see;
	// mutated tells whether an object shows it.
	mutate  func(T)
	mutated func(T) bool
	// specChange is a spec change tried through UpdateStatus, which must
	// ignore it (default: mutate).
	specChange func(T)
	// rejected, when set, is a change Update must refuse as Invalid.
	rejected func(T)
	// setStatus makes a valid status change; statusSet tells whether an
	// object shows it. Set them exactly for the resources with a status
	// subresource: for the others, UpdateStatus must be 404 NotFound.
	setStatus func(T)
	statusSet func(T) bool
}

// typedCase is one row of the suite.
type typedCase struct {
	name string
	run  func(t *testing.T, c *typedClients, ns string)
}

// crud turns a resourceCase into a row that runs the whole CRUD sequence.
func crud[T typedObject, L runtime.Object](name string, rc resourceCase[T, L]) typedCase {
	return typedCase{name: name, run: func(t *testing.T, _ *typedClients, ns string) { rc.run(t, name, ns) }}
}

// typedClients holds one clientset per API group, all as the cluster admin.
type typedClients struct {
	route         routeclient.Interface
	image         imageclient.Interface
	build         buildclient.Interface
	apps          appsclient.Interface
	template      templateclient.Interface
	user          userclient.Interface
	oauth         oauthclient.Interface
	security      securityclient.Interface
	authorization authorizationclient.Interface
	quota         quotaclient.Interface
	// me is the user name the cluster admin's requests run as.
	me string
}

func newTypedClients(t *testing.T) *typedClients {
	t.Helper()
	// The suite makes many requests; client-side throttling (5 QPS by
	// default) would only slow it down.
	config := rest.CopyConfig(cluster.Config)
	config.QPS, config.Burst = 100, 200
	review, err := cluster.Client.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("who am I: %v", err)
	}
	return &typedClients{
		route:         clientset(t, config, routeclient.NewForConfig),
		image:         clientset(t, config, imageclient.NewForConfig),
		build:         clientset(t, config, buildclient.NewForConfig),
		apps:          clientset(t, config, appsclient.NewForConfig),
		template:      clientset(t, config, templateclient.NewForConfig),
		user:          clientset(t, config, userclient.NewForConfig),
		oauth:         clientset(t, config, oauthclient.NewForConfig),
		security:      clientset(t, config, securityclient.NewForConfig),
		authorization: clientset(t, config, authorizationclient.NewForConfig),
		quota:         clientset(t, config, quotaclient.NewForConfig),
		me:            review.Status.UserInfo.Username,
	}
}

func clientset[C any](t *testing.T, config *rest.Config, newForConfig func(*rest.Config) (C, error)) C {
	t.Helper()
	c, err := newForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTypedClients(t *testing.T) {
	c := newTypedClients(t)
	ns := testNamespace(t, "typed-clients")
	for _, tc := range typedCases(c) {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, c, ns) })
	}
}

// imageName is a valid image name: the sha256 digest of seed.
func imageName(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// tokenName is a valid OAuth token name (at least 32 characters).
func tokenName(kind string, i int) string {
	return fmt.Sprintf("typed-%s-%d-%s", kind, i, strings.Repeat("x", 32))
}

func typedCases(c *typedClients) []typedCase {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	gitSource := func(ref string) buildv1.BuildSource {
		return buildv1.BuildSource{Type: buildv1.BuildSourceGit, Git: &buildv1.GitBuildSource{URI: "https://github.com/sclorg/ruby-ex.git", Ref: ref}}
	}
	commonSpec := func() buildv1.CommonSpec {
		return buildv1.CommonSpec{
			Source: gitSource("main"),
			Strategy: buildv1.BuildStrategy{
				Type:           buildv1.SourceBuildStrategyType,
				SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: "openshift", Name: "ruby:3.1"}},
			},
			Output: buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "ruby-ex:latest"}},
		}
	}
	configMap := func(name string) runtime.RawExtension {
		return runtime.RawExtension{Raw: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},"data":{"greeting":"${GREETING}"}}`)}
	}

	return []typedCase{
		crud("routes", resourceCase[*routev1.Route, *routev1.RouteList]{
			namespaced: true,
			client:     func(ns string) crudClient[*routev1.Route, *routev1.RouteList] { return c.route.RouteV1().Routes(ns) },
			newObj: func(_ string, i int) *routev1.Route {
				return &routev1.Route{
					// Not served by the node's router, whose status writes would
					// change the resource versions this test checks.
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Labels: map[string]string{unroutedLabel: ""}},
					Spec: routev1.RouteSpec{
						Host: fmt.Sprintf("web-%d.typed.example.com", i),
						Path: "/v1",
						To:   routev1.RouteTargetReference{Kind: "Service", Name: "web"},
					},
				}
			},
			mutate:  func(r *routev1.Route) { r.Spec.Path = "/v2" },
			mutated: func(r *routev1.Route) bool { return r.Spec.Path == "/v2" },
			// The entry of a router that does not run: the node's router
			// ("default") takes its own entry off the routes it does not
			// serve, which would race with the checks.
			setStatus: func(r *routev1.Route) {
				r.Status.Ingress = []routev1.RouteIngress{{
					Host: r.Spec.Host, RouterName: "typed-test", WildcardPolicy: routev1.WildcardPolicyNone,
					Conditions: []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: corev1.ConditionTrue, LastTransitionTime: &now}},
				}}
			},
			statusSet: func(r *routev1.Route) bool {
				return len(r.Status.Ingress) == 1 && r.Status.Ingress[0].RouterName == "typed-test" &&
					len(r.Status.Ingress[0].Conditions) == 1 && r.Status.Ingress[0].Conditions[0].Type == routev1.RouteAdmitted
			},
		}),

		crud("images", resourceCase[*imagev1.Image, *imagev1.ImageList]{
			client: func(string) crudClient[*imagev1.Image, *imagev1.ImageList] { return c.image.ImageV1().Images() },
			newObj: func(ns string, i int) *imagev1.Image {
				name := imageName(fmt.Sprintf("typed-image-%d", i))
				return &imagev1.Image{
					ObjectMeta:           metav1.ObjectMeta{Name: name},
					DockerImageReference: "registry.example.com/" + ns + "/app@" + name,
					DockerImageLayers:    []imagev1.ImageLayer{{Name: imageName("layer"), LayerSize: 10, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}},
				}
			},
			mutate: func(img *imagev1.Image) {
				img.DockerImageReference = "registry.example.com/moved/app@" + img.Name
			},
			mutated: func(img *imagev1.Image) bool {
				return strings.HasPrefix(img.DockerImageReference, "registry.example.com/moved/app@")
			},
		}),

		crud("imagestreams", resourceCase[*imagev1.ImageStream, *imagev1.ImageStreamList]{
			namespaced: true,
			client: func(ns string) crudClient[*imagev1.ImageStream, *imagev1.ImageStreamList] {
				return c.image.ImageV1().ImageStreams(ns)
			},
			newObj: func(ns string, i int) *imagev1.ImageStream {
				return &imagev1.ImageStream{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i)},
					Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
						// A reference tag: the import controller leaves it alone, so the status
						// stays the test's own.
						Name: "latest", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "registry.example.com/" + ns + "/app:1"}, Reference: true,
					}}},
				}
			},
			mutate: func(s *imagev1.ImageStream) {
				// From a tag without an image: a tag from a tag with one would take it into the
				// status at once (tag tracking), which this generic update check does not expect.
				s.Spec.Tags = append(s.Spec.Tags, imagev1.TagReference{Name: "stable", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "candidate"}})
			},
			mutated: func(s *imagev1.ImageStream) bool {
				return slices.ContainsFunc(s.Spec.Tags, func(t imagev1.TagReference) bool { return t.Name == "stable" })
			},
			setStatus: func(s *imagev1.ImageStream) {
				s.Status.DockerImageRepository = "registry.example.com/" + s.Namespace + "/" + s.Name
				s.Status.Tags = []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{{
					Created: now, DockerImageReference: "registry.example.com/" + s.Namespace + "/app@" + imageName("typed-image-0"),
					Image: imageName("typed-image-0"), Generation: s.Generation,
				}}}}
			},
			statusSet: func(s *imagev1.ImageStream) bool {
				return len(s.Status.Tags) == 1 && s.Status.Tags[0].Tag == "latest" && len(s.Status.Tags[0].Items) == 1 &&
					s.Status.Tags[0].Items[0].Image == imageName("typed-image-0")
			},
		}),

		{name: "imagestreammappings+imagestreamtags+imagestreamimages", run: testImageStreamMapping},
		{name: "imagestreamtags create and delete", run: testImageStreamTagCreateDelete},

		crud("buildconfigs", resourceCase[*buildv1.BuildConfig, *buildv1.BuildConfigList]{
			namespaced: true,
			client: func(ns string) crudClient[*buildv1.BuildConfig, *buildv1.BuildConfigList] {
				return c.build.BuildV1().BuildConfigs(ns)
			},
			newObj: func(_ string, i int) *buildv1.BuildConfig {
				return &buildv1.BuildConfig{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ruby-%d", i)},
					Spec:       buildv1.BuildConfigSpec{RunPolicy: buildv1.BuildRunPolicySerial, CommonSpec: commonSpec()},
				}
			},
			mutate: func(bc *buildv1.BuildConfig) { bc.Spec.Source.Git.Ref = "release" },
			mutated: func(bc *buildv1.BuildConfig) bool {
				return bc.Spec.Source.Git != nil && bc.Spec.Source.Git.Ref == "release"
			},
			setStatus: func(bc *buildv1.BuildConfig) { bc.Status.LastVersion = 2 },
			statusSet: func(bc *buildv1.BuildConfig) bool { return bc.Status.LastVersion == 2 },
		}),

		crud("builds", resourceCase[*buildv1.Build, *buildv1.BuildList]{
			namespaced: true,
			client:     func(ns string) crudClient[*buildv1.Build, *buildv1.BuildList] { return c.build.BuildV1().Builds(ns) },
			newObj: func(_ string, i int) *buildv1.Build {
				return &buildv1.Build{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ruby-%d", i)}, Spec: buildv1.BuildSpec{CommonSpec: commonSpec()}}
			},
			// The push secret is the one part of a build's spec that may change.
			mutate: func(b *buildv1.Build) { b.Spec.Output.PushSecret = &corev1.LocalObjectReference{Name: "push-secret"} },
			mutated: func(b *buildv1.Build) bool {
				return b.Spec.Output.PushSecret != nil && b.Spec.Output.PushSecret.Name == "push-secret"
			},
			rejected: func(b *buildv1.Build) { b.Spec.Source = gitSource("other") },
			setStatus: func(b *buildv1.Build) {
				b.Status.Phase = buildv1.BuildPhaseRunning
				b.Status.Message = "building"
			},
			statusSet: func(b *buildv1.Build) bool {
				return b.Status.Phase == buildv1.BuildPhaseRunning && b.Status.Message == "building"
			},
		}),

		crud("deploymentconfigs", resourceCase[*appsv1.DeploymentConfig, *appsv1.DeploymentConfigList]{
			namespaced: true,
			client: func(ns string) crudClient[*appsv1.DeploymentConfig, *appsv1.DeploymentConfigList] {
				return c.apps.AppsV1().DeploymentConfigs(ns)
			},
			newObj:  func(_ string, i int) *appsv1.DeploymentConfig { return newDC(fmt.Sprintf("frontend-%d", i)) },
			mutate:  func(dc *appsv1.DeploymentConfig) { dc.Spec.Replicas = 3 },
			mutated: func(dc *appsv1.DeploymentConfig) bool { return dc.Spec.Replicas == 3 },
			setStatus: func(dc *appsv1.DeploymentConfig) {
				dc.Status.LatestVersion = 1
				dc.Status.ObservedGeneration = dc.Generation
				dc.Status.Replicas = 1
				dc.Status.AvailableReplicas = 1
			},
			statusSet: func(dc *appsv1.DeploymentConfig) bool {
				return dc.Status.LatestVersion == 1 && dc.Status.Replicas == 1 && dc.Status.AvailableReplicas == 1
			},
		}),
		{name: "deploymentconfigs scale", run: testDeploymentConfigScale},

		crud("templates", resourceCase[*templatev1.Template, *templatev1.TemplateList]{
			namespaced: true,
			client: func(ns string) crudClient[*templatev1.Template, *templatev1.TemplateList] {
				return c.template.TemplateV1().Templates(ns)
			},
			newObj: func(_ string, i int) *templatev1.Template {
				return &templatev1.Template{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("greeter-%d", i)},
					Message:    "hello",
					Objects:    []runtime.RawExtension{configMap("greeting")},
					Parameters: []templatev1.Parameter{{Name: "GREETING", Value: "hello"}},
				}
			},
			mutate: func(tm *templatev1.Template) {
				tm.Parameters = append(tm.Parameters, templatev1.Parameter{Name: "PASSWORD", Generate: "expression", From: "[a-z]{8}"})
			},
			mutated: func(tm *templatev1.Template) bool {
				return len(tm.Parameters) == 2 && tm.Parameters[1].Name == "PASSWORD"
			},
		}),
		{name: "processedtemplates", run: testProcessedTemplates},

		crud("templateinstances", resourceCase[*templatev1.TemplateInstance, *templatev1.TemplateInstanceList]{
			namespaced: true,
			client: func(ns string) crudClient[*templatev1.TemplateInstance, *templatev1.TemplateInstanceList] {
				return c.template.TemplateV1().TemplateInstances(ns)
			},
			newObj: func(_ string, i int) *templatev1.TemplateInstance {
				return &templatev1.TemplateInstance{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("greeter-%d", i)},
					Spec: templatev1.TemplateInstanceSpec{
						Template: templatev1.Template{
							ObjectMeta: metav1.ObjectMeta{Name: "greeter"},
							Objects:    []runtime.RawExtension{configMap(fmt.Sprintf("greeting-%d", i))},
							Parameters: []templatev1.Parameter{{Name: "GREETING", Value: "hello"}},
						},
						Requester: &templatev1.TemplateInstanceRequester{Username: c.me},
					},
				}
			},
			// The spec of a template instance is immutable.
			mutate: func(ti *templatev1.TemplateInstance) {
				metav1.SetMetaDataAnnotation(&ti.ObjectMeta, "typed-clients/note", "changed")
			},
			mutated: func(ti *templatev1.TemplateInstance) bool {
				return ti.Annotations["typed-clients/note"] == "changed"
			},
			specChange: func(ti *templatev1.TemplateInstance) { ti.Spec.Template.Message = "changed" },
			rejected:   func(ti *templatev1.TemplateInstance) { ti.Spec.Template.Message = "changed" },
			setStatus: func(ti *templatev1.TemplateInstance) {
				ti.Status.Conditions = []templatev1.TemplateInstanceCondition{{
					Type: templatev1.TemplateInstanceReady, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "Created", Message: "all objects exist",
				}}
			},
			statusSet: func(ti *templatev1.TemplateInstance) bool {
				return len(ti.Status.Conditions) == 1 && ti.Status.Conditions[0].Type == templatev1.TemplateInstanceReady &&
					ti.Status.Conditions[0].Status == corev1.ConditionTrue
			},
		}),

		crud("brokertemplateinstances", resourceCase[*templatev1.BrokerTemplateInstance, *templatev1.BrokerTemplateInstanceList]{
			client: func(string) crudClient[*templatev1.BrokerTemplateInstance, *templatev1.BrokerTemplateInstanceList] {
				return c.template.TemplateV1().BrokerTemplateInstances()
			},
			newObj: func(ns string, i int) *templatev1.BrokerTemplateInstance {
				return &templatev1.BrokerTemplateInstance{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("typed-bti-%d", i)},
					Spec: templatev1.BrokerTemplateInstanceSpec{
						TemplateInstance: corev1.ObjectReference{Kind: "TemplateInstance", Namespace: ns, Name: fmt.Sprintf("greeter-%d", i)},
						Secret:           corev1.ObjectReference{Kind: "Secret", Namespace: ns, Name: fmt.Sprintf("greeter-%d", i)},
					},
				}
			},
			mutate: func(b *templatev1.BrokerTemplateInstance) {
				b.Spec.BindingIDs = []string{"123e4567-e89b-12d3-a456-426614174000"}
			},
			mutated: func(b *templatev1.BrokerTemplateInstance) bool { return len(b.Spec.BindingIDs) == 1 },
		}),

		crud("users", resourceCase[*userv1.User, *userv1.UserList]{
			client: func(string) crudClient[*userv1.User, *userv1.UserList] { return c.user.UserV1().Users() },
			newObj: func(_ string, i int) *userv1.User {
				return &userv1.User{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("typed-user-%d", i)}, FullName: "Typed User"}
			},
			mutate:  func(u *userv1.User) { u.FullName = "Renamed User" },
			mutated: func(u *userv1.User) bool { return u.FullName == "Renamed User" },
		}),

		crud("identities", resourceCase[*userv1.Identity, *userv1.IdentityList]{
			client: func(string) crudClient[*userv1.Identity, *userv1.IdentityList] { return c.user.UserV1().Identities() },
			newObj: func(_ string, i int) *userv1.Identity {
				return &userv1.Identity{
					ObjectMeta:       metav1.ObjectMeta{Name: fmt.Sprintf("typed-idp:person-%d", i)},
					ProviderName:     "typed-idp",
					ProviderUserName: fmt.Sprintf("person-%d", i),
				}
			},
			mutate:   func(id *userv1.Identity) { id.Extra = map[string]string{"email": "person@example.com"} },
			mutated:  func(id *userv1.Identity) bool { return id.Extra["email"] == "person@example.com" },
			rejected: func(id *userv1.Identity) { id.ProviderName = "other-idp" },
		}),

		crud("groups", resourceCase[*userv1.Group, *userv1.GroupList]{
			client: func(string) crudClient[*userv1.Group, *userv1.GroupList] { return c.user.UserV1().Groups() },
			newObj: func(_ string, i int) *userv1.Group {
				return &userv1.Group{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("typed-group-%d", i)}, Users: userv1.OptionalNames{"alice"}}
			},
			mutate:  func(g *userv1.Group) { g.Users = append(g.Users, "bob") },
			mutated: func(g *userv1.Group) bool { return slices.Equal(g.Users, userv1.OptionalNames{"alice", "bob"}) },
		}),

		crud("oauthclients", resourceCase[*oauthv1.OAuthClient, *oauthv1.OAuthClientList]{
			client: func(string) crudClient[*oauthv1.OAuthClient, *oauthv1.OAuthClientList] {
				return c.oauth.OauthV1().OAuthClients()
			},
			newObj: func(_ string, i int) *oauthv1.OAuthClient {
				return &oauthv1.OAuthClient{
					ObjectMeta:   metav1.ObjectMeta{Name: fmt.Sprintf("typed-client-%d", i)},
					Secret:       "hunter2",
					RedirectURIs: []string{"https://console.example.com/auth/callback"},
					GrantMethod:  oauthv1.GrantHandlerAuto,
				}
			},
			mutate:   func(o *oauthv1.OAuthClient) { o.GrantMethod = oauthv1.GrantHandlerPrompt },
			mutated:  func(o *oauthv1.OAuthClient) bool { return o.GrantMethod == oauthv1.GrantHandlerPrompt },
			rejected: func(o *oauthv1.OAuthClient) { o.GrantMethod = "deny" },
		}),

		crud("oauthaccesstokens", resourceCase[*oauthv1.OAuthAccessToken, *oauthv1.OAuthAccessTokenList]{
			client: func(string) crudClient[*oauthv1.OAuthAccessToken, *oauthv1.OAuthAccessTokenList] {
				return c.oauth.OauthV1().OAuthAccessTokens()
			},
			newObj: func(_ string, i int) *oauthv1.OAuthAccessToken {
				return &oauthv1.OAuthAccessToken{
					ObjectMeta:               metav1.ObjectMeta{Name: tokenName("access", i)},
					ClientName:               "typed-client-0",
					ExpiresIn:                86400,
					Scopes:                   []string{"user:info"},
					UserName:                 "alice",
					UserUID:                  "u-1",
					InactivityTimeoutSeconds: 600,
				}
			},
			// The inactivity timeout is what the OAuth server updates on use.
			mutate:   func(tok *oauthv1.OAuthAccessToken) { tok.InactivityTimeoutSeconds = 900 },
			mutated:  func(tok *oauthv1.OAuthAccessToken) bool { return tok.InactivityTimeoutSeconds == 900 },
			rejected: func(tok *oauthv1.OAuthAccessToken) { tok.UserName = "mallory" },
		}),

		crud("oauthauthorizetokens", resourceCase[*oauthv1.OAuthAuthorizeToken, *oauthv1.OAuthAuthorizeTokenList]{
			client: func(string) crudClient[*oauthv1.OAuthAuthorizeToken, *oauthv1.OAuthAuthorizeTokenList] {
				return c.oauth.OauthV1().OAuthAuthorizeTokens()
			},
			newObj: func(_ string, i int) *oauthv1.OAuthAuthorizeToken {
				return &oauthv1.OAuthAuthorizeToken{
					ObjectMeta:  metav1.ObjectMeta{Name: tokenName("authorize", i)},
					ClientName:  "typed-client-0",
					ExpiresIn:   600,
					Scopes:      []string{"user:info"},
					RedirectURI: "https://console.example.com/auth/callback",
					UserName:    "alice",
					UserUID:     "u-1",
				}
			},
			// Every field of an authorize token is immutable: only metadata changes.
			mutate: func(tok *oauthv1.OAuthAuthorizeToken) {
				metav1.SetMetaDataAnnotation(&tok.ObjectMeta, "typed-clients/note", "changed")
			},
			mutated:  func(tok *oauthv1.OAuthAuthorizeToken) bool { return tok.Annotations["typed-clients/note"] == "changed" },
			rejected: func(tok *oauthv1.OAuthAuthorizeToken) { tok.Scopes = []string{"user:full"} },
		}),

		crud("oauthclientauthorizations", resourceCase[*oauthv1.OAuthClientAuthorization, *oauthv1.OAuthClientAuthorizationList]{
			client: func(string) crudClient[*oauthv1.OAuthClientAuthorization, *oauthv1.OAuthClientAuthorizationList] {
				return c.oauth.OauthV1().OAuthClientAuthorizations()
			},
			newObj: func(_ string, i int) *oauthv1.OAuthClientAuthorization {
				user := fmt.Sprintf("person-%d", i)
				return &oauthv1.OAuthClientAuthorization{
					ObjectMeta: metav1.ObjectMeta{Name: user + ":typed-client-0"},
					ClientName: "typed-client-0",
					UserName:   user,
					UserUID:    "u-" + user,
					Scopes:     []string{"user:info"},
				}
			},
			mutate: func(a *oauthv1.OAuthClientAuthorization) { a.Scopes = append(a.Scopes, "user:check-access") },
			mutated: func(a *oauthv1.OAuthClientAuthorization) bool {
				return slices.Equal(a.Scopes, []string{"user:info", "user:check-access"})
			},
			rejected: func(a *oauthv1.OAuthClientAuthorization) { a.UserUID = "someone-else" },
		}),

		crud("securitycontextconstraints", resourceCase[*securityv1.SecurityContextConstraints, *securityv1.SecurityContextConstraintsList]{
			client: func(string) crudClient[*securityv1.SecurityContextConstraints, *securityv1.SecurityContextConstraintsList] {
				return c.security.SecurityV1().SecurityContextConstraints()
			},
			newObj: func(_ string, i int) *securityv1.SecurityContextConstraints {
				return &securityv1.SecurityContextConstraints{
					ObjectMeta:               metav1.ObjectMeta{Name: fmt.Sprintf("typed-scc-%d", i)},
					RequiredDropCapabilities: []corev1.Capability{"KILL", "MKNOD"},
					RunAsUser:                securityv1.RunAsUserStrategyOptions{Type: securityv1.RunAsUserStrategyMustRunAsRange},
					SELinuxContext:           securityv1.SELinuxContextStrategyOptions{Type: securityv1.SELinuxStrategyMustRunAs},
					Volumes:                  []securityv1.FSType{"configMap", "emptyDir", "secret"},
				}
			},
			mutate:   func(s *securityv1.SecurityContextConstraints) { s.Priority = ptr.To[int32](5) },
			mutated:  func(s *securityv1.SecurityContextConstraints) bool { return s.Priority != nil && *s.Priority == 5 },
			rejected: func(s *securityv1.SecurityContextConstraints) { s.Priority = ptr.To[int32](-1) },
		}),

		crud("rangeallocations", resourceCase[*securityv1.RangeAllocation, *securityv1.RangeAllocationList]{
			client: func(string) crudClient[*securityv1.RangeAllocation, *securityv1.RangeAllocationList] {
				return c.security.SecurityV1().RangeAllocations()
			},
			newObj: func(_ string, i int) *securityv1.RangeAllocation {
				return &securityv1.RangeAllocation{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("typed-range-%d", i)},
					Range:      "1000000000-1999999999/10000",
					Data:       []byte{1},
				}
			},
			mutate:   func(r *securityv1.RangeAllocation) { r.Data = []byte{1, 2, 3} },
			mutated:  func(r *securityv1.RangeAllocation) bool { return len(r.Data) == 3 },
			rejected: func(r *securityv1.RangeAllocation) { r.Range = "0-10/1" },
		}),

		crud("rolebindingrestrictions", resourceCase[*authorizationv1.RoleBindingRestriction, *authorizationv1.RoleBindingRestrictionList]{
			namespaced: true,
			client: func(ns string) crudClient[*authorizationv1.RoleBindingRestriction, *authorizationv1.RoleBindingRestrictionList] {
				return c.authorization.AuthorizationV1().RoleBindingRestrictions(ns)
			},
			newObj: func(_ string, i int) *authorizationv1.RoleBindingRestriction {
				return &authorizationv1.RoleBindingRestriction{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("only-alice-%d", i)},
					Spec:       authorizationv1.RoleBindingRestrictionSpec{UserRestriction: &authorizationv1.UserRestriction{Users: []string{"alice"}}},
				}
			},
			mutate: func(r *authorizationv1.RoleBindingRestriction) {
				r.Spec.UserRestriction.Users = append(r.Spec.UserRestriction.Users, "bob")
			},
			mutated: func(r *authorizationv1.RoleBindingRestriction) bool {
				return r.Spec.UserRestriction != nil && slices.Equal(r.Spec.UserRestriction.Users, []string{"alice", "bob"})
			},
			rejected: func(r *authorizationv1.RoleBindingRestriction) {
				r.Spec.GroupRestriction = &authorizationv1.GroupRestriction{Groups: []string{"devs"}}
			},
		}),

		crud("clusterresourcequotas", resourceCase[*quotav1.ClusterResourceQuota, *quotav1.ClusterResourceQuotaList]{
			client: func(string) crudClient[*quotav1.ClusterResourceQuota, *quotav1.ClusterResourceQuotaList] {
				return c.quota.QuotaV1().ClusterResourceQuotas()
			},
			newObj: func(_ string, i int) *quotav1.ClusterResourceQuota {
				return &quotav1.ClusterResourceQuota{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("typed-quota-%d", i)},
					Spec: quotav1.ClusterResourceQuotaSpec{
						Selector: quotav1.ClusterResourceQuotaSelector{AnnotationSelector: map[string]string{"openshift.io/requester": fmt.Sprintf("typed-%d", i)}},
						Quota:    corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: apiresource.MustParse("10")}},
					},
				}
			},
			mutate: func(q *quotav1.ClusterResourceQuota) {
				q.Spec.Quota.Hard[corev1.ResourcePods] = apiresource.MustParse("20")
			},
			mutated: func(q *quotav1.ClusterResourceQuota) bool {
				v := q.Spec.Quota.Hard[corev1.ResourcePods]
				return v.Cmp(apiresource.MustParse("20")) == 0
			},
			rejected: func(q *quotav1.ClusterResourceQuota) { q.Spec.Selector = quotav1.ClusterResourceQuotaSelector{} },
			setStatus: func(q *quotav1.ClusterResourceQuota) {
				q.Status.Total = corev1.ResourceQuotaStatus{
					Hard: corev1.ResourceList{corev1.ResourcePods: apiresource.MustParse("10")},
					Used: corev1.ResourceList{corev1.ResourcePods: apiresource.MustParse("1")},
				}
			},
			statusSet: func(q *quotav1.ClusterResourceQuota) bool {
				v := q.Status.Total.Used[corev1.ResourcePods]
				return v.Cmp(apiresource.MustParse("1")) == 0
			},
		}),
	}
}

func newDC(name string) *appsv1.DeploymentConfig {
	return &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 1,
			Selector: map[string]string{"app": name},
			Triggers: appsv1.DeploymentTriggerPolicies{{Type: appsv1.DeploymentTriggerOnConfigChange}},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example.com/demo/web:1"}}},
			},
		},
	}
}

// run drives one resource through create, get, list, watch, status
// update, update, merge patch and delete.
func (rc resourceCase[T, L]) run(t *testing.T, name, ns string) {
	ctx := t.Context()
	clientNS := ns
	if !rc.namespaced {
		clientNS = ""
	}
	c := rc.client(clientNS)
	sel := "typed-clients=" + name

	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w, err := c.Watch(wctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	events := &eventReader{w: w}

	// Create two objects; only the first carries pick=yes.
	var objs [2]T
	for i := range objs {
		obj := rc.newObj(ns, i)
		labels := map[string]string{"typed-clients": name}
		if i == 0 {
			labels["pick"] = "yes"
		}
		for k, v := range obj.GetLabels() {
			labels[k] = v
		}
		obj.SetLabels(labels)
		created, err := c.Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create %s: %v", obj.GetName(), err)
		}
		t.Cleanup(func() { _ = c.Delete(context.Background(), created.GetName(), metav1.DeleteOptions{}) })
		if created.GetUID() == "" || created.GetResourceVersion() == "" || created.GetCreationTimestamp().Time.IsZero() {
			t.Errorf("create %s answered without uid, resourceVersion or creationTimestamp: %+v", obj.GetName(), created)
		}
		objs[i] = created
	}
	first := objs[0]
	hasSpec := fieldOf(first, "Spec").IsValid()
	if hasSpec && first.GetGeneration() != 1 {
		t.Errorf("generation after create = %d, want 1", first.GetGeneration())
	}
	events.expect(t, watch.Added, first.GetName())
	events.expect(t, watch.Added, objs[1].GetName())

	// Get.
	got, err := c.Get(ctx, first.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.GetUID() != first.GetUID() || got.GetResourceVersion() != first.GetResourceVersion() {
		t.Errorf("get: uid %s resourceVersion %s, want %s %s as created", got.GetUID(), got.GetResourceVersion(), first.GetUID(), first.GetResourceVersion())
	}

	// List with label selectors.
	if names := listNames(t, c, sel+",pick=yes"); !slices.Equal(names, []string{first.GetName()}) {
		t.Errorf("list %s,pick=yes = %v, want [%s]", sel, names, first.GetName())
	}
	if names := listNames(t, c, sel); len(names) != 2 {
		t.Errorf("list %s = %v, want both objects", sel, names)
	}

	// Status subresource: status changes persist, spec changes are ignored.
	// (Every generated client has UpdateStatus underneath; the typed
	// interfaces offer it for the resources with a status subresource.)
	sc, ok := any(c).(statusClient[T])
	if !ok {
		t.Fatalf("%T has no UpdateStatus", c)
	}
	hasStatus := rc.setStatus != nil
	if hasStatus {
		cur := get(t, c, first.GetName())
		before := cur.DeepCopyObject().(T)
		rc.setStatus(cur)
		specChange := rc.specChange
		if specChange == nil {
			specChange = rc.mutate
		}
		specChange(cur)
		updated, err := sc.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update status: %v", err)
		}
		stored := get(t, c, first.GetName())
		for what, o := range map[string]T{"UpdateStatus answer": updated, "stored object": stored} {
			if !rc.statusSet(o) {
				t.Errorf("%s does not show the status change: status %s", what, dump(fieldOf(o, "Status").Interface()))
			}
			if spec := fieldOf(o, "Spec").Interface(); !apiequality.Semantic.DeepEqual(spec, fieldOf(before, "Spec").Interface()) {
				t.Errorf("%s: UpdateStatus changed the spec:\n got  %s\n want %s", what, dump(spec), dump(fieldOf(before, "Spec").Interface()))
			}
			if o.GetGeneration() != before.GetGeneration() {
				t.Errorf("%s: generation %d after UpdateStatus, want %d", what, o.GetGeneration(), before.GetGeneration())
			}
		}
		events.expect(t, watch.Modified, first.GetName())
	} else if _, err := sc.UpdateStatus(ctx, get(t, c, first.GetName()), metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("update status of a resource without a status subresource: %v, want 404 NotFound", err)
	}

	// Update: the change shows, status is left alone, generation follows spec.
	cur := get(t, c, first.GetName())
	before := cur.DeepCopyObject().(T)
	rc.mutate(cur)
	specChanged := hasSpec && !apiequality.Semantic.DeepEqual(fieldOf(cur, "Spec").Interface(), fieldOf(before, "Spec").Interface())
	if hasStatus {
		status := fieldOf(cur, "Status")
		status.Set(reflect.Zero(status.Type()))
	}
	updated, err := c.Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	stored := get(t, c, first.GetName())
	for what, o := range map[string]T{"Update answer": updated, "stored object": stored} {
		if !rc.mutated(o) {
			t.Errorf("%s does not show the update: %s", what, dump(o))
		}
		if hasStatus && !apiequality.Semantic.DeepEqual(fieldOf(o, "Status").Interface(), fieldOf(before, "Status").Interface()) {
			t.Errorf("%s: Update changed the status:\n got  %s\n want %s", what, dump(fieldOf(o, "Status").Interface()), dump(fieldOf(before, "Status").Interface()))
		}
		if hasSpec {
			want := before.GetGeneration()
			if specChanged {
				want++
			}
			if o.GetGeneration() != want {
				t.Errorf("%s: generation %d after an update (spec changed: %v), want %d", what, o.GetGeneration(), specChanged, want)
			}
		}
		if o.GetResourceVersion() == before.GetResourceVersion() {
			t.Errorf("%s: resourceVersion unchanged by the update", what)
		}
	}
	events.expect(t, watch.Modified, first.GetName())

	// Merge patch of metadata: applied, no generation bump.
	patch := []byte(`{"metadata":{"labels":{"patched":"yes"},"annotations":{"typed-clients/patched":"yes"}}}`)
	patched, err := c.Patch(ctx, first.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch: %v", err)
	}
	stored = get(t, c, first.GetName())
	for what, o := range map[string]T{"Patch answer": patched, "stored object": stored} {
		if o.GetLabels()["patched"] != "yes" || o.GetLabels()["typed-clients"] != name || o.GetAnnotations()["typed-clients/patched"] != "yes" {
			t.Errorf("%s: labels %v annotations %v after the merge patch", what, o.GetLabels(), o.GetAnnotations())
		}
		if !rc.mutated(o) {
			t.Errorf("%s lost the earlier update", what)
		}
		if hasSpec && o.GetGeneration() != updated.GetGeneration() {
			t.Errorf("%s: generation %d after a metadata-only patch, want %d", what, o.GetGeneration(), updated.GetGeneration())
		}
	}
	if names := listNames(t, c, sel+",patched=yes"); !slices.Equal(names, []string{first.GetName()}) {
		t.Errorf("list %s,patched=yes = %v, want [%s]", sel, names, first.GetName())
	}
	events.expect(t, watch.Modified, first.GetName())

	// A change validation forbids.
	if rc.rejected != nil {
		cur := get(t, c, first.GetName())
		rc.rejected(cur)
		if _, err := c.Update(ctx, cur, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("forbidden update: %v, want 422 Invalid", err)
		}
	}

	// Delete.
	if err := c.Delete(ctx, first.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := harness.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		_, err := c.Get(ctx, first.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("get after delete: %v, want 404 NotFound", err)
	}); err != nil {
		t.Error(err)
	}
	events.expect(t, watch.Deleted, first.GetName())
	if names := listNames(t, c, sel); !slices.Equal(names, []string{objs[1].GetName()}) {
		t.Errorf("list after delete = %v, want [%s]", names, objs[1].GetName())
	}
	if err := c.Delete(ctx, objs[1].GetName(), metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete %s: %v", objs[1].GetName(), err)
	}
}

func get[T typedObject, L runtime.Object](t *testing.T, c crudClient[T, L], name string) T {
	t.Helper()
	o, err := c.Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return o
}

func listNames[T typedObject, L runtime.Object](t *testing.T, c crudClient[T, L], selector string) []string {
	t.Helper()
	l, err := c.List(t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list %s: %v", selector, err)
	}
	items, err := meta.ExtractList(l)
	if err != nil {
		t.Fatalf("list %s: %v", selector, err)
	}
	names := []string{}
	for _, item := range items {
		m, err := meta.Accessor(item)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, m.GetName())
	}
	slices.Sort(names)
	return names
}

// fieldOf returns the named top-level field of an API object, or the zero
// Value when it has none.
func fieldOf(obj runtime.Object, name string) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByName(name)
}

func dump(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// eventReader reads a watch in the test's goroutine.
type eventReader struct {
	w    watch.Interface
	seen []string
}

// expect reads events until one of type typ for the object name arrives,
// skipping others (such as events of other objects).
func (r *eventReader) expect(t *testing.T, typ watch.EventType, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		select {
		case e, ok := <-r.w.ResultChan():
			if !ok {
				t.Errorf("watch closed before %s %s; events so far: %v", typ, name, r.seen)
				return
			}
			if e.Type == watch.Error {
				t.Errorf("watch error before %s %s: %v", typ, name, apierrors.FromObject(e.Object))
				return
			}
			m, err := meta.Accessor(e.Object)
			if err != nil {
				t.Errorf("%s event with %T: %v", e.Type, e.Object, err)
				continue
			}
			r.seen = append(r.seen, string(e.Type)+" "+m.GetName())
			if e.Type == typ && m.GetName() == name {
				return
			}
		case <-ctx.Done():
			t.Errorf("no %s event for %s within 30s; events so far: %v", typ, name, r.seen)
			return
		}
	}
}

// testImageStreamMapping pushes an image to a tag through an image stream
// mapping, then reads it back as an image stream tag and an image stream image.
func testImageStreamMapping(t *testing.T, c *typedClients, ns string) {
	ctx := t.Context()
	images := c.image.ImageV1()
	if _, err := images.ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "pushed"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	digest := imageName("typed-pushed")
	t.Cleanup(func() { _ = images.Images().Delete(context.Background(), digest, metav1.DeleteOptions{}) })
	ref := "registry.example.com/" + ns + "/pushed@" + digest
	status, err := images.ImageStreamMappings(ns).Create(ctx, &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Name: "pushed"},
		Tag:        "v1",
		Image: imagev1.Image{
			ObjectMeta:           metav1.ObjectMeta{Name: digest},
			DockerImageReference: ref,
			DockerImageLayers:    []imagev1.ImageLayer{{Name: imageName("layer"), LayerSize: 10, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create imagestreammapping: %v", err)
	}
	if status.Status != metav1.StatusSuccess {
		t.Errorf("imagestreammapping answer %+v, want a Success status", status)
	}

	img, err := images.Images().Get(ctx, digest, metav1.GetOptions{})
	if err != nil {
		t.Errorf("the mapping did not create the image: %v", err)
	} else if img.DockerImageReference != ref {
		t.Errorf("image reference %q, want %q", img.DockerImageReference, ref)
	}
	s, err := images.ImageStreams(ns).Get(ctx, "pushed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Status.Tags) != 1 || s.Status.Tags[0].Tag != "v1" || len(s.Status.Tags[0].Items) != 1 || s.Status.Tags[0].Items[0].Image != digest {
		t.Errorf("stream status after the mapping: %s", dump(s.Status))
	}

	ist, err := images.ImageStreamTags(ns).Get(ctx, "pushed:v1", metav1.GetOptions{})
	switch {
	case err != nil:
		t.Errorf("get imagestreamtag pushed:v1: %v", err)
	case ist.Name != "pushed:v1" || ist.Image.Name != digest || ist.Image.DockerImageReference != ref:
		t.Errorf("imagestreamtag pushed:v1 = name %q image %q ref %q, want image %s ref %s", ist.Name, ist.Image.Name, ist.Image.DockerImageReference, digest, ref)
	}
	tags, err := images.ImageStreamTags(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("list imagestreamtags: %v", err)
	} else if !slices.ContainsFunc(tags.Items, func(i imagev1.ImageStreamTag) bool { return i.Name == "pushed:v1" }) {
		t.Errorf("imagestreamtags list lacks pushed:v1: %d items", len(tags.Items))
	}

	for _, id := range []string{digest, strings.TrimPrefix(digest, "sha256:")[:12]} {
		isi, err := images.ImageStreamImages(ns).Get(ctx, "pushed@"+id, metav1.GetOptions{})
		switch {
		case err != nil:
			t.Errorf("get imagestreamimage pushed@%s: %v", id, err)
		case isi.Image.Name != digest || isi.Name != "pushed@"+id:
			t.Errorf("imagestreamimage pushed@%s = name %q image %q, want image %s", id, isi.Name, isi.Image.Name, digest)
		}
	}
}

// testImageStreamTagCreateDelete adds and removes a spec tag through an
// image stream tag.
func testImageStreamTagCreateDelete(t *testing.T, c *typedClients, ns string) {
	ctx := t.Context()
	images := c.image.ImageV1()
	from := "registry.example.com/" + ns + "/tagged:1"
	created, err := images.ImageStreamTags(ns).Create(ctx, &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: "tagged:latest"},
		Tag:        &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "DockerImage", Name: from}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create imagestreamtag: %v", err)
	}
	if created.Name != "tagged:latest" || created.Tag == nil || created.Tag.From == nil || created.Tag.From.Name != from {
		t.Errorf("create answer: %s", dump(created))
	}
	s, err := images.ImageStreams(ns).Get(ctx, "tagged", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the image stream tag did not create its stream: %v", err)
	}
	if len(s.Spec.Tags) != 1 || s.Spec.Tags[0].Name != "latest" || s.Spec.Tags[0].From == nil || s.Spec.Tags[0].From.Name != from {
		t.Errorf("stream spec tags after create: %s", dump(s.Spec.Tags))
	}
	if _, err := images.ImageStreamTags(ns).Create(ctx, &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: "tagged:latest"},
		Tag:        &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "DockerImage", Name: from}},
	}, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create of tagged:latest: %v, want 409 AlreadyExists", err)
	}

	if err := images.ImageStreamTags(ns).Delete(ctx, "tagged:latest", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete imagestreamtag: %v", err)
	}
	s, err = images.ImageStreams(ns).Get(ctx, "tagged", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Spec.Tags) != 0 {
		t.Errorf("stream spec tags after delete: %s", dump(s.Spec.Tags))
	}
	if _, err := images.ImageStreamTags(ns).Get(ctx, "tagged:latest", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v, want 404 NotFound", err)
	}
}

// testDeploymentConfigScale scales a deployment config through its scale
// subresource, as `oc scale` does.
func testDeploymentConfigScale(t *testing.T, c *typedClients, ns string) {
	ctx := t.Context()
	dcs := c.apps.AppsV1().DeploymentConfigs(ns)
	dc, err := dcs.Create(ctx, newDC("scaled"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale, err := dcs.GetScale(ctx, "scaled", metav1.GetOptions{})
	if err != nil {
		raw, rawErr := c.apps.AppsV1().RESTClient().Get().Namespace(ns).Resource("deploymentconfigs").Name("scaled").SubResource("scale").DoRaw(ctx)
		t.Errorf("get scale: %v (the server answered %s %v)", err, raw, rawErr)
		scale = &extensionsv1beta1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "scaled", Namespace: ns, ResourceVersion: dc.ResourceVersion}}
	} else {
		if scale.Name != "scaled" || scale.Spec.Replicas != 1 {
			t.Errorf("scale = name %q replicas %d, want scaled 1", scale.Name, scale.Spec.Replicas)
		}
		if scale.Status.Selector["app"] != "scaled" {
			t.Errorf("scale status selector %v, want app=scaled", scale.Status.Selector)
		}
	}
	scale.Spec.Replicas = 4
	updated, err := dcs.UpdateScale(ctx, "scaled", scale, metav1.UpdateOptions{})
	if err != nil {
		t.Errorf("update scale: %v", err)
	} else if updated.Spec.Replicas != 4 {
		t.Errorf("update scale answered replicas %d, want 4", updated.Spec.Replicas)
	}
	dc, err = dcs.Get(ctx, "scaled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dc.Spec.Replicas != 4 || dc.Generation != 2 {
		t.Errorf("deployment config after scaling: replicas %d generation %d, want 4 and 2", dc.Spec.Replicas, dc.Generation)
	}
	// A stale resourceVersion is a conflict.
	stale := &extensionsv1beta1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "scaled", Namespace: ns, ResourceVersion: scale.ResourceVersion}, Spec: extensionsv1beta1.ScaleSpec{Replicas: 2}}
	if _, err := dcs.UpdateScale(ctx, "scaled", stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update scale with a stale resourceVersion: %v, want 409 Conflict", err)
	}
}

// testProcessedTemplates processes a template as `oc process` does.
func testProcessedTemplates(t *testing.T, c *typedClients, ns string) {
	tmpl := &templatev1.Template{
		ObjectMeta: metav1.ObjectMeta{Name: "greeter"},
		Objects: []runtime.RawExtension{{Raw: []byte(
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"${NAME}"},"data":{"greeting":"${GREETING}"}}`)}},
		Parameters: []templatev1.Parameter{
			{Name: "NAME", Generate: "expression", From: "[a-z]{8}"},
			{Name: "GREETING", Value: "hello"},
		},
	}
	var out templatev1.Template
	err := c.template.TemplateV1().RESTClient().Post().Namespace(ns).Resource("processedtemplates").
		Body(tmpl).Do(t.Context()).Into(&out)
	if err != nil {
		t.Fatalf("process: %v", err)
	}
	if len(out.Objects) != 1 {
		t.Fatalf("processed template has %d objects, want 1", len(out.Objects))
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(out.Objects[0].Raw, &cm); err != nil {
		t.Fatalf("processed object %s: %v", out.Objects[0].Raw, err)
	}
	if !regexp.MustCompile(`^[a-z]{8}$`).MatchString(cm.Name) || cm.Data["greeting"] != "hello" {
		t.Errorf("processed object: %s", out.Objects[0].Raw)
	}
	if len(out.Parameters) != 2 || out.Parameters[0].Value != cm.Name {
		t.Errorf("processed parameters %s, want NAME's generated value %q", dump(out.Parameters), cm.Name)
	}
	// An invalid template is a 422 naming the field.
	bad := tmpl.DeepCopy()
	bad.Parameters[1].Name = "not valid"
	err = c.template.TemplateV1().RESTClient().Post().Namespace(ns).Resource("processedtemplates").Body(bad).Do(t.Context()).Error()
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 {
		t.Errorf("process an invalid template: %v, want 422 Invalid with causes", err)
	}
}
