package authz

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/klog/v2"
)

// ProjectGroup is the API group of projects.
const ProjectGroup = "project.openshift.io"

// projectVerbs are what a project's own roles may do to the project itself.
var projectVerbs = []string{"get", "update", "patch", "delete"}

// ProjectWebhook is kube-apiserver's authorization webhook, asked after RBAC said no. It allows one
// thing RBAC cannot express: a request on projects.openshift.io/projects/NAME — cluster-scoped as the
// API sees it — that the caller's roles in namespace NAME allow. So a project's admin may read,
// change and delete the project, as in OpenShift, without any right on other projects. Everything
// else gets no opinion (denied).
type ProjectWebhook struct {
	Evaluator *Evaluator
}

// Decide answers one SubjectAccessReview.
func (p ProjectWebhook) Decide(spec authorizationv1.SubjectAccessReviewSpec) authorizationv1.SubjectAccessReviewStatus {
	a := spec.ResourceAttributes
	if a == nil || a.Group != ProjectGroup || a.Resource != "projects" || a.Subresource != "" || a.Name == "" ||
		a.Namespace != "" || !slices.Contains(projectVerbs, a.Verb) {
		// No reason: kube-apiserver appends it to every denial message.
		return authorizationv1.SubjectAccessReviewStatus{}
	}
	if !p.Evaluator.HasSynced() {
		return authorizationv1.SubjectAccessReviewStatus{EvaluationError: ErrNotSynced.Error()}
	}
	u := &user.DefaultInfo{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	rules, err := p.Evaluator.RulesFor(u, a.Name)
	req := Request{Namespace: a.Name, Verb: a.Verb, Group: ProjectGroup, Resource: "projects", Name: a.Name}
	for _, r := range rules {
		if RuleAllows(r, req) {
			return authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "allowed by the caller's roles in project " + a.Name}
		}
	}
	st := authorizationv1.SubjectAccessReviewStatus{Reason: "the caller's roles in project " + a.Name + " do not allow " + a.Verb}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

// ServeHTTP takes a SubjectAccessReview (authorization.k8s.io/v1) and answers it. The caller must be
// authenticated by the server it is mounted on (kube-apiserver's client certificate).
func (p ProjectWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a SubjectAccessReview", http.StatusMethodNotAllowed)
		return
	}
	var review authorizationv1.SubjectAccessReview
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&review); err != nil {
		http.Error(w, "body is not a SubjectAccessReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	out := authorizationv1.SubjectAccessReview{TypeMeta: review.TypeMeta, Status: p.Decide(review.Spec)}
	if out.APIVersion == "" {
		out.APIVersion, out.Kind = "authorization.k8s.io/v1", "SubjectAccessReview"
	}
	if out.Status.Allowed {
		klog.V(3).InfoS("Project request allowed by the caller's project roles", "user", review.Spec.User, "verb", review.Spec.ResourceAttributes.Verb, "project", review.Spec.ResourceAttributes.Name)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&out)
}
