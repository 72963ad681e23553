package registry

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/registry/auth"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

type fakeAuthn map[string]user.Info

func (f fakeAuthn) AuthenticateToken(_ context.Context, token string) (user.Info, bool, error) {
	u, ok := f[token]
	return u, ok, nil
}

// fakeAuthz allows "<user> <verb> <ns>/<resource>/<sub>" strings.
type fakeAuthz map[string]bool

func (f fakeAuthz) Allowed(_ context.Context, u user.Info, a authorizationv1.ResourceAttributes) (bool, error) {
	return f[u.GetName()+" "+a.Verb+" "+a.Namespace+"/"+a.Resource+"/"+a.Subresource], nil
}

func TestCredentials(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		header, token string
		present, err  bool
	}{
		{"", "", false, false},
		{"Bearer tok", "tok", true, false},
		{"bearer tok", "tok", true, false},
		{basic("anything:tok"), "tok", true, false},
		{basic("user:"), "", true, true},
		{basic("nocolon"), "", true, true},
		{"Basic !!!", "", true, true},
		{"Bearer ", "", true, true},
		{"Digest x", "", true, true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/v2/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		token, present, err := credentials(r)
		if token != tc.token || present != tc.present || (err != nil) != tc.err {
			t.Errorf("%q: got %q %v %v", tc.header, token, present, err)
		}
	}
}

func TestAttributesFor(t *testing.T) {
	repo := func(name, action string) auth.Access {
		return auth.Access{Resource: auth.Resource{Type: "repository", Name: name}, Action: action}
	}
	cases := []struct {
		access auth.Access
		want   authorizationv1.ResourceAttributes
		err    string
	}{
		{repo("p/s", "pull"), authorizationv1.ResourceAttributes{Namespace: "p", Name: "s", Verb: "get", Group: "image.openshift.io", Resource: "imagestreams", Subresource: "layers"}, ""},
		{repo("p/s", "push"), authorizationv1.ResourceAttributes{Namespace: "p", Name: "s", Verb: "update", Group: "image.openshift.io", Resource: "imagestreams", Subresource: "layers"}, ""},
		{repo("p/s", "delete"), authorizationv1.ResourceAttributes{Verb: "delete", Group: "image.openshift.io", Resource: "images"}, ""},
		{auth.Access{Resource: auth.Resource{Type: "registry", Name: "catalog"}, Action: "*"}, authorizationv1.ResourceAttributes{Verb: "list", Group: "image.openshift.io", Resource: "imagestreams"}, ""},
		{repo("s", "pull"), authorizationv1.ResourceAttributes{}, "<project>/<image stream>"},
		{repo("p/a/b", "pull"), authorizationv1.ResourceAttributes{}, "<project>/<image stream>"},
		{repo("Bad_NS/s", "pull"), authorizationv1.ResourceAttributes{}, "not a project name"},
		{repo("p/s", "fly"), authorizationv1.ResourceAttributes{}, "unknown action"},
	}
	for _, tc := range cases {
		got, err := attributesFor(tc.access)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want %q", tc.access, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %+v, %v; want %+v", tc.access, got, err, tc.want)
		}
	}
}

// The access controller answers 401 with a challenge to anonymous and bad tokens, 403 DENIED
// with what is missing to authenticated users, and grants what RBAC allows.
func TestAccessController(t *testing.T) {
	ac := &accessController{
		authn: fakeAuthn{"alice-token": &user.DefaultInfo{Name: "alice"}},
		authz: fakeAuthz{"alice get p/imagestreams/layers": true, user.Anonymous + " get public/imagestreams/layers": true},
		realm: "test",
	}
	pull := func(repo string) auth.Access {
		return auth.Access{Resource: auth.Resource{Type: "repository", Name: repo}, Action: "pull"}
	}
	push := func(repo string) auth.Access {
		return auth.Access{Resource: auth.Resource{Type: "repository", Name: repo}, Action: "push"}
	}
	cases := []struct {
		name     string
		token    string
		access   []auth.Access
		status   int
		contains string
	}{
		{"alice pulls", "alice-token", []auth.Access{pull("p/s")}, 0, ""},
		{"alice pushes", "alice-token", []auth.Access{pull("p/s"), push("p/s")}, http.StatusForbidden, "update imagestreams/layers in project p"},
		{"alice elsewhere", "alice-token", []auth.Access{pull("q/s")}, http.StatusForbidden, "system:image-puller"},
		{"anonymous public", "", []auth.Access{pull("public/s")}, 0, ""},
		{"anonymous private", "", []auth.Access{pull("p/s")}, http.StatusUnauthorized, "authentication required"},
		{"anonymous base", "", nil, http.StatusUnauthorized, "authentication required"},
		{"alice base", "alice-token", nil, 0, ""},
		{"bad token", "nope", []auth.Access{pull("public/s")}, http.StatusUnauthorized, "not valid"},
		{"bad name", "alice-token", []auth.Access{pull("x")}, http.StatusBadRequest, "NAME_INVALID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var grant *auth.Grant
			var err error
			h := withState(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				grant, err = ac.Authorized(r, tc.access...)
				if ch, ok := err.(auth.Challenge); ok {
					ch.SetHeaders(r, w)
					// What distribution writes next must not reach the client.
					w.WriteHeader(http.StatusTeapot)
					_, _ = w.Write([]byte("distribution's own body"))
				}
			}), nil)
			r := httptest.NewRequest(http.MethodGet, "/v2/", nil)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if tc.status == 0 {
				if err != nil || grant == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.contains) || strings.Contains(w.Body.String(), "distribution's own body") {
				t.Errorf("got %d %s; want %d containing %q", w.Code, w.Body, tc.status, tc.contains)
			}
			if tc.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") != `Basic realm="test"` {
				t.Errorf("challenge = %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}
