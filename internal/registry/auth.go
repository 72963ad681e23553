package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/auth"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/authentication/user"
)

// Authentication and authorization of registry requests.
//
// A request carries a Gantry token either as a bearer token or as the
// password of Basic credentials (any user name), the way `docker login -u
// unused -p $(gantry whoami -t)` and the node's pull secrets send it. No
// credentials at all means system:anonymous. Every repository is
// <project>/<image stream>, and what a user may do with it is what RBAC lets
// them do with the stream's layers, as in OpenShift:
//
//	pull    get    imagestreams/layers  in the project
//	push    update imagestreams/layers  in the project
//	delete  delete images               cluster-wide (image pruners)
//	catalog list   imagestreams         cluster-wide
//
// A refused anonymous request is answered 401 with a challenge, so clients
// send credentials; a refused authenticated one is 403 DENIED with what is
// missing.

// Authenticator turns a token into a user; ok is false for a token that is
// not valid (unknown, expired, revoked).
type Authenticator interface {
	AuthenticateToken(ctx context.Context, token string) (u user.Info, ok bool, err error)
}

// Authorizer says whether a user may do what attrs describe.
type Authorizer interface {
	Allowed(ctx context.Context, u user.Info, attrs authorizationv1.ResourceAttributes) (bool, error)
}

var anonymous = &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}

// requestState travels in the request's context from the outer handler to
// the access controller and the repository middleware: who is asking, and
// the response writer a refusal is written to.
type requestState struct {
	w      *sealedWriter
	method string
	user   user.Info
	token  string // the caller's credential, "" for anonymous
}

type stateKey struct{}

// isHead tells whether the request is a HEAD.
func isHead(ctx context.Context) bool {
	s := stateFrom(ctx)
	return s != nil && s.method == http.MethodHead
}

// pulling tells whether the request reads (GET or HEAD): content fetched from other registries
// (pull-through) serves reads only, never a push's checks.
func pulling(ctx context.Context) bool {
	s := stateFrom(ctx)
	return s != nil && (s.method == http.MethodGet || s.method == http.MethodHead)
}

func stateFrom(ctx context.Context) *requestState {
	s, _ := ctx.Value(stateKey{}).(*requestState)
	return s
}

// userFrom is the authenticated user of a request that passed the access
// controller (nil outside one).
func userFrom(ctx context.Context) user.Info {
	if s := stateFrom(ctx); s != nil {
		return s.user
	}
	return nil
}

// sealedWriter lets a refusal written by the access controller be the whole
// response: distribution answers every access-controller error with its own
// 401 body afterwards, which a sealed writer drops.
type sealedWriter struct {
	http.ResponseWriter
	sealed bool
}

func (w *sealedWriter) WriteHeader(code int) {
	if !w.sealed {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *sealedWriter) Write(p []byte) (int, error) {
	if w.sealed {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *sealedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.sealed {
		f.Flush()
	}
}

func (w *sealedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessController is distribution's auth.AccessController for Gantry.
type accessController struct {
	authn Authenticator
	authz Authorizer
	realm string
}

var registerAuthOnce sync.Once

// authName is the access controller's name in distribution's registry of
// them; the controller itself travels in the configuration's parameters.
const authName = "gantry"

func registerAccessController() {
	registerAuthOnce.Do(func() {
		_ = auth.Register(authName, func(options map[string]interface{}) (auth.AccessController, error) {
			ac, ok := options["controller"].(*accessController)
			if !ok {
				return nil, fmt.Errorf("registry auth %q: no controller in the configuration", authName)
			}
			return ac, nil
		})
	})
}

// credentials extracts the token of a request: a bearer token, or the
// password of Basic credentials.
func credentials(r *http.Request) (token string, present bool, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, nil
	}
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "bearer":
		if value == "" {
			return "", true, fmt.Errorf("empty bearer token")
		}
		return value, true, nil
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return "", true, fmt.Errorf("malformed Basic credentials")
		}
		_, password, ok := strings.Cut(string(raw), ":")
		if !ok || password == "" {
			return "", true, fmt.Errorf("Basic credentials without a password: use a Gantry token (gantry whoami -t) as the password")
		}
		return password, true, nil
	default:
		return "", true, fmt.Errorf("unsupported authorization scheme %q: use Basic (token as password) or Bearer", scheme)
	}
}

// Authorized implements auth.AccessController.
func (ac *accessController) Authorized(r *http.Request, access ...auth.Access) (*auth.Grant, error) {
	ctx := r.Context()
	st := stateFrom(ctx)
	if st == nil {
		return nil, fmt.Errorf("registry request outside Gantry's handler")
	}
	if st.user == nil {
		u, token, refusal := ac.authenticate(r)
		if refusal != nil {
			return nil, refusal
		}
		st.user, st.token = u, token
	}
	u := st.user
	if len(access) == 0 && u.GetName() == user.Anonymous {
		// The base endpoint: `docker login` checks credentials here.
		return nil, ac.challenge(errcode.ErrorCodeUnauthorized.WithMessage("authentication required: log in with a Gantry token as the password (gantry whoami -t)"))
	}
	grant := &auth.Grant{User: auth.UserInfo{Name: u.GetName()}}
	attrs := make([]authorizationv1.ResourceAttributes, len(access))
	for i, a := range access {
		var err error
		if attrs[i], err = attributesFor(a); err != nil {
			return nil, &refusal{err: errcode.ErrorCodeNameInvalid.WithMessage(err.Error())}
		}
	}
	// A push asks for pull and push at once: check them together, so a first push to a stream
	// waits for one review rather than one after the other.
	type answer struct {
		ok  bool
		err error
	}
	answers := make([]answer, len(access))
	var wg sync.WaitGroup
	for i := range access {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := ac.authz.Allowed(ctx, u, attrs[i])
			answers[i] = answer{ok, err}
		}()
	}
	wg.Wait()
	for i, a := range access {
		if err := answers[i].err; err != nil {
			return nil, &refusal{err: errcode.ErrorCodeUnavailable.WithMessage("cannot check access: " + err.Error())}
		}
		if !answers[i].ok {
			return nil, ac.denied(u, a, attrs[i])
		}
		grant.Resources = append(grant.Resources, a.Resource)
	}
	return grant, nil
}

// authenticate resolves the request's credentials to a user. A request
// without credentials is anonymous; bad credentials are refused with a
// challenge.
func (ac *accessController) authenticate(r *http.Request) (user.Info, string, error) {
	token, present, err := credentials(r)
	if err != nil {
		return nil, "", ac.challenge(errcode.ErrorCodeUnauthorized.WithMessage(err.Error()))
	}
	if !present {
		return anonymous, "", nil
	}
	u, ok, err := ac.authn.AuthenticateToken(r.Context(), token)
	if err != nil {
		return nil, "", &refusal{err: errcode.ErrorCodeUnavailable.WithMessage("cannot check the token: " + err.Error())}
	}
	if !ok {
		return nil, "", ac.challenge(errcode.ErrorCodeUnauthorized.WithMessage("the token is not valid (expired or revoked?): log in again and use `gantry whoami -t` as the password"))
	}
	return u, token, nil
}

// attributesFor maps a distribution access to the RBAC check that governs it.
func attributesFor(a auth.Access) (authorizationv1.ResourceAttributes, error) {
	switch a.Type {
	case "registry":
		if a.Name == "catalog" {
			return authorizationv1.ResourceAttributes{Verb: "list", Group: "image.openshift.io", Resource: "imagestreams"}, nil
		}
		return authorizationv1.ResourceAttributes{}, fmt.Errorf("unknown registry resource %q", a.Name)
	case "admin":
		return authorizationv1.ResourceAttributes{Verb: "delete", Group: "image.openshift.io", Resource: "images"}, nil
	case "repository":
	default:
		return authorizationv1.ResourceAttributes{}, fmt.Errorf("unknown resource type %q", a.Type)
	}
	ns, name, err := splitRepository(a.Name)
	if err != nil {
		return authorizationv1.ResourceAttributes{}, err
	}
	switch a.Action {
	case "pull":
		return authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Group: "image.openshift.io", Resource: "imagestreams", Subresource: "layers", Name: name}, nil
	case "push":
		return authorizationv1.ResourceAttributes{Namespace: ns, Verb: "update", Group: "image.openshift.io", Resource: "imagestreams", Subresource: "layers", Name: name}, nil
	case "delete":
		return authorizationv1.ResourceAttributes{Verb: "delete", Group: "image.openshift.io", Resource: "images"}, nil
	}
	return authorizationv1.ResourceAttributes{}, fmt.Errorf("unknown action %q on %s", a.Action, a.Name)
}

// splitRepository splits <project>/<stream>, refusing anything else.
func splitRepository(repo string) (ns, name string, err error) {
	parts := strings.Split(repo, "/")
	if len(parts) != 2 {
		return "", "", fmt.Errorf("repository %q: names are <project>/<image stream>, e.g. myproject/myapp", repo)
	}
	ns, name = parts[0], parts[1]
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return "", "", fmt.Errorf("repository %q: %q is not a project name: %s", repo, ns, strings.Join(errs, "; "))
	}
	if len(name) > 63 {
		return "", "", fmt.Errorf("repository %q: image stream names have at most 63 characters", repo)
	}
	return ns, name, nil
}

func (ac *accessController) denied(u user.Info, a auth.Access, attrs authorizationv1.ResourceAttributes) error {
	what := attrs.Verb + " " + attrs.Resource
	if attrs.Subresource != "" {
		what += "/" + attrs.Subresource
	}
	where := "cluster-wide"
	if attrs.Namespace != "" {
		where = "in project " + attrs.Namespace
	}
	hint := ""
	switch a.Action {
	case "pull":
		hint = " (the system:image-puller role gives it: gantry policy add-role-to-user system:image-puller <user> -n " + attrs.Namespace + ")"
	case "push":
		hint = " (the edit or system:image-pusher role gives it)"
	case "delete", "*":
		hint = " (the system:image-pruner cluster role gives it)"
	}
	msg := fmt.Sprintf("%s may not %s %s: that needs %s %s%s", u.GetName(), a.Action, a.Name, what, where, hint)
	if u.GetName() == user.Anonymous {
		return ac.challenge(errcode.ErrorCodeUnauthorized.WithMessage("authentication required to " + a.Action + " " + a.Name))
	}
	return &refusal{err: errcode.ErrorCodeDenied.WithMessage(msg)}
}

// refusal is an answer the access controller writes itself (through the
// Challenge interface, the only way distribution lets it set the response).
type refusal struct {
	err       errcode.Error // its code gives the status
	challenge string        // WWW-Authenticate value, for 401
}

func (ac *accessController) challenge(err errcode.Error) *refusal {
	return &refusal{err: err, challenge: fmt.Sprintf("Basic realm=%q", ac.realm)}
}

func (e *refusal) Error() string { return e.err.Error() }

// SetHeaders writes the whole refusal and seals the writer, so
// distribution's generic 401 that follows is dropped.
func (e *refusal) SetHeaders(r *http.Request, w http.ResponseWriter) {
	if e.challenge != "" {
		w.Header().Set("WWW-Authenticate", e.challenge)
	}
	_ = errcode.ServeJSON(w, e.err)
	if st := stateFrom(r.Context()); st != nil {
		st.w.sealed = true
	}
}
