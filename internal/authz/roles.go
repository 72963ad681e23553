package authz

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// Names of the roles Gantry adds. admin, edit, view and cluster-admin are
// Kubernetes' own; Gantry extends the first three through aggregation.
const (
	BasicUser             = "basic-user"
	SelfProvisioner       = "self-provisioner"
	ClusterReader         = "cluster-reader"
	ClusterStatus         = "cluster-status"
	PublicInfoViewer      = "system:openshift:public-info-viewer"
	TokenManager          = "system:openshift:useroauthaccesstoken-manager"
	TokenDeleter          = "system:oauth-token-deleter"
	ImagePuller           = "system:image-puller"
	ImagePusher           = "system:image-pusher"
	ImageBuilder          = "system:image-builder"
	ImagePruner           = "system:image-pruner"
	Deployer              = "system:deployer"
	Registry              = "system:registry"
	Router                = "system:router"
	AggregateToView       = "gantry:openshift:aggregate-to-view"
	AggregateToEdit       = "gantry:openshift:aggregate-to-edit"
	AggregateToAdmin      = "gantry:openshift:aggregate-to-admin"
	AggregateToClusterRdr = "gantry:openshift:aggregate-to-cluster-reader"

	// ImagePrunerNamespace/ImagePrunerServiceAccount is the service account bound to
	// system:image-pruner at every start. `gantry adm prune images` uses a short-lived token of
	// it for the registry when the kubeconfig's user has no token (the local admin's client
	// certificate), as OpenShift 4 runs its pruner as openshift-image-registry/pruner.
	ImagePrunerNamespace      = "gantry"
	ImagePrunerServiceAccount = "image-pruner"

	// RegistryGroup is the group of the integrated registry's identity; it
	// is bound to system:registry. A registry run as a pod gets that role by
	// adding its service account to the binding.
	RegistryGroup = "system:gantry:registries"

	// OAuthGroup is the virtual group of users who authenticated with a token
	// from Gantry's OAuth server (as OpenShift's system:authenticated:oauth).
	OAuthGroup = "system:authenticated:oauth"

	// aggregateToClusterReader is the label that adds a role's rules to
	// cluster-reader, as in OpenShift.
	aggregateToClusterReader = "rbac.authorization.k8s.io/aggregate-to-cluster-reader"
	aggregateToPrefix        = "rbac.authorization.k8s.io/aggregate-to-"
	managedBy                = "app.kubernetes.io/managed-by"
)

// API groups the rules name.
const (
	core          = ""
	apps          = "apps"
	batch         = "batch"
	rbac          = rbacv1.GroupName
	discovery     = "discovery.k8s.io"
	storage       = "storage.k8s.io"
	k8sAuthz      = "authorization.k8s.io"
	routeGroup    = "route.openshift.io"
	imageGroup    = "image.openshift.io"
	buildGroup    = "build.openshift.io"
	appsOSGroup   = "apps.openshift.io"
	templateGroup = "template.openshift.io"
	projectGroup  = "project.openshift.io"
	userGroup     = "user.openshift.io"
	oauthGroup    = "oauth.openshift.io"
	authzGroup    = "authorization.openshift.io"
	quotaGroup    = "quota.openshift.io"
	securityGroup = "security.openshift.io"
)

var (
	read      = []string{"get", "list", "watch"}
	write     = []string{"create", "update", "patch", "delete", "deletecollection"}
	readWrite = append(append([]string{}, read...), write...)
)

func rule(verbs []string, group string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{group}, Resources: resources}
}

func named(r rbacv1.PolicyRule, names ...string) rbacv1.PolicyRule {
	r.ResourceNames = names
	return r
}

func urls(verbs []string, paths ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: paths}
}

func verbs(v ...string) []string { return v }

func clusterRole(name string, labels map[string]string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
	l := map[string]string{managedBy: "gantry"}
	for k, v := range labels {
		l[k] = v
	}
	return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: autoUpdate()}, Rules: rules}
}

// autoUpdate marks an object as reconciled on start, as Kubernetes marks its
// own; an administrator opts an object out by setting the annotation to "false".
func autoUpdate() map[string]string {
	return map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"}
}

func aggregatedTo(role string) map[string]string {
	return map[string]string{aggregateToPrefix + role: "true"}
}

// ClusterRoles returns the cluster roles Gantry keeps, with their default
// rules. Each call returns fresh objects.
func ClusterRoles() []rbacv1.ClusterRole {
	roles := []rbacv1.ClusterRole{
		// view: read the OpenShift resources of a project. Never secrets,
		// roles or bindings (Kubernetes' view already excludes them).
		clusterRole(AggregateToView, aggregatedTo("view"),
			rule(read, routeGroup, "routes", "routes/status"),
			rule(read, imageGroup, "imagestreams", "imagestreams/status", "imagestreamtags", "imagestreamimages", "imagetags"),
			rule(read, buildGroup, "buildconfigs", "builds", "builds/log"),
			rule(read, appsOSGroup, "deploymentconfigs", "deploymentconfigs/scale", "deploymentconfigs/log", "deploymentconfigs/status"),
			rule(read, templateGroup, "templates", "templateinstances"),
			rule(verbs("get"), projectGroup, "projects"),
			rule(read, quotaGroup, "appliedclusterresourcequotas"),
		),
		// edit: change them, push and pull images, start builds and
		// deployments. Not roles, bindings or quota.
		clusterRole(AggregateToEdit, aggregatedTo("edit"),
			rule(write, routeGroup, "routes"),
			rule(verbs("create", "update"), routeGroup, "routes/custom-host"),
			rule(write, imageGroup, "imagestreams", "imagestreamtags", "imagetags"),
			rule(verbs("create"), imageGroup, "imagestreammappings", "imagestreamimports", "imagestreams/notifications"),
			rule(verbs("get", "update"), imageGroup, "imagestreams/layers"),
			rule(verbs("get"), imageGroup, "imagestreams/secrets"),
			rule(write, buildGroup, "buildconfigs", "builds"),
			rule(readWrite, buildGroup, "buildconfigs/webhooks"),
			rule(verbs("create"), buildGroup, "buildconfigs/instantiate", "buildconfigs/instantiatebinary", "builds/clone"),
			rule(write, appsOSGroup, "deploymentconfigs"),
			rule(verbs("update", "patch"), appsOSGroup, "deploymentconfigs/scale"),
			rule(verbs("create"), appsOSGroup, "deploymentconfigs/rollback", "deploymentconfigs/instantiate", "deploymentconfigrollbacks"),
			rule(write, templateGroup, "templates", "templateinstances"),
			rule(verbs("create"), templateGroup, "processedtemplates"),
		),
		// admin: also the project itself, route status (an admin may run a
		// router), and who-can / can-i questions about the project.
		clusterRole(AggregateToAdmin, aggregatedTo("admin"),
			rule(verbs("update", "patch", "delete"), projectGroup, "projects"),
			rule(verbs("update", "patch"), routeGroup, "routes/status"),
			rule(verbs("create"), authzGroup, "localresourceaccessreviews", "localsubjectaccessreviews"),
			rule(read, authzGroup, "rolebindingrestrictions"),
		),
		// cluster-reader: everything view sees, in every project, plus the
		// cluster-scoped objects. Still no secrets and no OAuth tokens.
		{
			ObjectMeta: metav1.ObjectMeta{Name: ClusterReader, Labels: map[string]string{managedBy: "gantry"}, Annotations: autoUpdate()},
			AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
				{MatchLabels: map[string]string{aggregateToClusterReader: "true"}},
				{MatchLabels: map[string]string{aggregateToPrefix + "view": "true"}},
			}},
		},
		clusterRole(AggregateToClusterRdr, map[string]string{aggregateToClusterReader: "true"},
			rule(read, core, "namespaces", "namespaces/status", "nodes", "nodes/status", "persistentvolumes",
				"persistentvolumes/status", "componentstatuses", "serviceaccounts", "events", "limitranges",
				"resourcequotas", "resourcequotas/status", "podtemplates"),
			rule(read, rbac, "clusterroles", "clusterrolebindings", "roles", "rolebindings"),
			rule(read, storage, "storageclasses", "volumeattachments", "csidrivers", "csinodes"),
			rule(read, discovery, "endpointslices"),
			rule(read, "apiextensions.k8s.io", "customresourcedefinitions"),
			rule(read, "apiregistration.k8s.io", "apiservices"),
			rule(read, "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "validatingwebhookconfigurations"),
			rule(read, "scheduling.k8s.io", "priorityclasses"),
			rule(read, "networking.k8s.io", "ingressclasses"),
			rule(read, "node.k8s.io", "runtimeclasses"),
			rule(read, userGroup, "users", "groups", "identities"),
			rule(read, oauthGroup, "oauthclientauthorizations"),
			rule(read, imageGroup, "images"),
			rule(read, buildGroup, "builds/details"),
			rule(read, projectGroup, "projects"),
			rule(verbs("list"), projectGroup, "projectrequests"),
			rule(read, quotaGroup, "clusterresourcequotas", "clusterresourcequotas/status"),
			rule(read, securityGroup, "securitycontextconstraints"),
			rule(read, templateGroup, "brokertemplateinstances"),
			rule(read, authzGroup, "rolebindingrestrictions"),
			rule(verbs("create"), authzGroup, "resourceaccessreviews", "localresourceaccessreviews", "subjectaccessreviews",
				"localsubjectaccessreviews", "selfsubjectrulesreviews", "subjectrulesreviews"),
			urls(verbs("get"), "*"),
		),
		// basic-user: who am I, which projects are mine, what may I do.
		clusterRole(BasicUser, nil,
			named(rule(verbs("get"), userGroup, "users"), "~"),
			rule(verbs("list"), projectGroup, "projectrequests"),
			// get too: the project storage filters what each caller sees.
			rule(read, projectGroup, "projects"),
			rule(verbs("create"), authzGroup, "selfsubjectrulesreviews"),
			// Personal access reviews (no user or groups named: "may I...?"), which oc login and
			// oc new-project ask; the review storage demands more to ask about someone else.
			rule(verbs("create"), authzGroup, "subjectaccessreviews", "localsubjectaccessreviews"),
			rule(verbs("create"), k8sAuthz, "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule(read, rbac, "clusterroles"),
			rule(verbs("get", "list"), storage, "storageclasses"),
		),
		clusterRole(SelfProvisioner, nil,
			rule(verbs("create"), projectGroup, "projectrequests"),
		),
		clusterRole(ClusterStatus, nil,
			urls(verbs("get"), "/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*",
				"/version", "/version/*", "/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*",
				"/.well-known", "/.well-known/*"),
		),
		// Anyone, even without credentials, may read the OAuth server
		// metadata (/.well-known/oauth-authorization-server) and the version.
		clusterRole(PublicInfoViewer, nil,
			urls(verbs("get"), "/.well-known", "/.well-known/*", "/version", "/version/", "/healthz", "/livez", "/readyz"),
		),
		// Every user lists and revokes their own tokens; the resource only
		// ever shows the caller's.
		clusterRole(TokenManager, nil,
			rule(verbs("get", "list", "watch", "delete"), oauthGroup, "useroauthaccesstokens"),
		),
		// `oc logout` deletes oauthaccesstokens/<sha256~hash of its token>, as in OpenShift: only
		// the holder of a token knows its object name (listing tokens is for administrators).
		clusterRole(TokenDeleter, nil,
			rule(verbs("delete"), oauthGroup, "oauthaccesstokens", "oauthauthorizetokens"),
		),
		clusterRole(ImagePuller, nil,
			rule(verbs("get"), imageGroup, "imagestreams/layers"),
		),
		clusterRole(ImagePusher, nil,
			rule(verbs("get", "update"), imageGroup, "imagestreams/layers"),
		),
		// The builder service account: push the output image (creating its
		// image stream if needed) and record what it built.
		clusterRole(ImageBuilder, nil,
			rule(verbs("get", "update"), imageGroup, "imagestreams/layers"),
			rule(verbs("create"), imageGroup, "imagestreams"),
			rule(verbs("get"), buildGroup, "builds"),
			rule(verbs("update"), buildGroup, "builds/details"),
		),
		// The deployer service account: run a deployment's replication
		// controllers and hook pods, and tag images from hooks.
		clusterRole(Deployer, nil,
			rule(verbs("get", "list", "watch", "update", "patch", "delete"), core, "replicationcontrollers"),
			rule(verbs("get", "update", "patch"), core, "replicationcontrollers/scale"),
			rule(verbs("get", "list", "watch", "create"), core, "pods"),
			rule(verbs("get"), core, "pods/log"),
			rule(verbs("create", "list"), core, "events"),
			rule(verbs("create", "update"), imageGroup, "imagestreamtags", "imagetags"),
		),
		// `adm prune images`: find what is still used, delete the rest.
		clusterRole(ImagePruner, nil,
			rule(verbs("get", "list"), core, "pods", "replicationcontrollers", "namespaces"),
			rule(verbs("list"), core, "limitranges"),
			rule(verbs("list"), apps, "daemonsets", "deployments", "replicasets", "statefulsets"),
			rule(verbs("list"), batch, "jobs", "cronjobs"),
			rule(verbs("get", "list"), buildGroup, "buildconfigs", "builds"),
			rule(verbs("get", "list"), appsOSGroup, "deploymentconfigs"),
			rule(verbs("get", "list", "watch"), imageGroup, "images", "imagestreams"),
			rule(verbs("delete"), imageGroup, "images"),
			rule(verbs("update"), imageGroup, "imagestreams/status"),
		),
		// The integrated registry records pushed images in image streams.
		// It creates a pushed-to stream itself, after checking that the pusher
		// may create image streams.
		clusterRole(Registry, nil,
			// It checks tokens and access with kube-apiserver (as system:auth-delegator).
			rule(verbs("create"), "authentication.k8s.io", "tokenreviews"),
			rule(verbs("create"), "authorization.k8s.io", "subjectaccessreviews"),
			rule(verbs("list"), core, "limitranges", "resourcequotas"),
			rule(verbs("create", "patch"), core, "events"),
			rule(verbs("get", "create", "delete"), imageGroup, "images"),
			rule(verbs("list", "watch"), imageGroup, "images", "imagestreams"),
			rule(verbs("get", "delete"), imageGroup, "imagestreamtags"),
			rule(verbs("get"), imageGroup, "imagestreamimages", "imagestreams/secrets"),
			rule(verbs("get", "create", "update"), imageGroup, "imagestreams"),
			rule(verbs("create"), imageGroup, "imagestreammappings"),
		),
		// The router watches routes and their endpoints and reports admission.
		clusterRole(Router, nil,
			rule(verbs("list", "watch"), core, "endpoints", "services"),
			rule(verbs("list", "watch"), discovery, "endpointslices"),
			rule(verbs("list", "watch"), routeGroup, "routes"),
			rule(verbs("update"), routeGroup, "routes/status"),
		),
	}
	return roles
}

func clusterRoleBinding(name, role string, groups ...string) rbacv1.ClusterRoleBinding {
	b := rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{managedBy: "gantry"}, Annotations: autoUpdate()},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
	}
	for _, g := range groups {
		b.Subjects = append(b.Subjects, rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: g})
	}
	return b
}

// ClusterRoleBindings returns the cluster-wide bindings Gantry keeps.
// Reconcile only ever adds their subjects: an administrator who wants fewer
// (say, no self-provisioning) empties the binding and annotates it
// rbac.authorization.kubernetes.io/autoupdate=false.
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	return []rbacv1.ClusterRoleBinding{
		clusterRoleBinding("basic-users", BasicUser, user.AllAuthenticated),
		clusterRoleBinding("self-provisioners", SelfProvisioner, OAuthGroup),
		// Not to system:unauthenticated: discovery stays behind a login, as in
		// Kubernetes; anonymous callers get only the public info below.
		clusterRoleBinding("cluster-status-binding", ClusterStatus, user.AllAuthenticated),
		clusterRoleBinding(PublicInfoViewer, PublicInfoViewer, user.AllAuthenticated, user.AllUnauthenticated),
		clusterRoleBinding(TokenManager, TokenManager, user.AllAuthenticated),
		clusterRoleBinding(TokenDeleter, TokenDeleter, user.AllAuthenticated),
		clusterRoleBinding(Registry, Registry, RegistryGroup),
	}
}
