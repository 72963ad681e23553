package authz

import "strings"

// legacyGroups maps the resources OpenShift 3 served without an API group (/oapi/v1) to the group
// that serves them now. Clients still ask about them without a group — `oc login` asks "may I create
// projectrequests?" with group "" — and OpenShift's roles covered both spellings.
var legacyGroups = map[string]string{
	"projects": "project.openshift.io", "projectrequests": "project.openshift.io",
	"routes":       "route.openshift.io",
	"buildconfigs": "build.openshift.io", "builds": "build.openshift.io",
	"deploymentconfigs": "apps.openshift.io",
	"images":            "image.openshift.io", "imagestreams": "image.openshift.io", "imagestreamtags": "image.openshift.io",
	"imagestreamimages": "image.openshift.io", "imagestreammappings": "image.openshift.io", "imagestreamimports": "image.openshift.io",
	"templates": "template.openshift.io", "processedtemplates": "template.openshift.io",
	"users": "user.openshift.io", "groups": "user.openshift.io", "identities": "user.openshift.io",
	"useridentitymappings": "user.openshift.io",
	"oauthclients":         "oauth.openshift.io", "oauthaccesstokens": "oauth.openshift.io",
	"oauthauthorizetokens": "oauth.openshift.io", "oauthclientauthorizations": "oauth.openshift.io",
	"rolebindingrestrictions": "authorization.openshift.io", "subjectaccessreviews": "authorization.openshift.io",
	"localsubjectaccessreviews": "authorization.openshift.io", "resourceaccessreviews": "authorization.openshift.io",
	"localresourceaccessreviews": "authorization.openshift.io", "selfsubjectrulesreviews": "authorization.openshift.io",
	"subjectrulesreviews":        "authorization.openshift.io",
	"securitycontextconstraints": "security.openshift.io",
}

// ResolveLegacyGroup returns the API group of a resource (possibly "resource/subresource") asked about
// with group: group itself when set or when the resource is not an OpenShift 3 legacy one, else the
// group that serves it.
func ResolveLegacyGroup(group, resource string) string {
	if group != "" {
		return group
	}
	r, _, _ := strings.Cut(resource, "/")
	if g, ok := legacyGroups[r]; ok {
		return g
	}
	return group
}
