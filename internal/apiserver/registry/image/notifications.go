package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	imageref "github.com/openshift/library-go/pkg/image/reference"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
)

// imagestreams/notifications (POST) is the seed's "image repository webhook" without a secret in
// the URL: another registry (or a CI job) announces pushed images with a token, like any API
// call — distribution's notification endpoints, Harbor and Quay can send one in a header — and
// the spec tags of the stream that import from the pushed repository:tag are imported at once
// (an imagestreamimport as the caller, so it needs `create imagestreams/notifications` and the
// right to update the stream). Bodies understood: distribution's notification envelope
// ({"events": [{"action": "push", "target": {"repository", "tag"}, "request": {"host"}}]}) and
// Docker Hub's webhook ({"push_data": {"tag"}, "repository": {"repo_name"}}).

// maxNotificationSize bounds a notification body.
const maxNotificationSize = 1 << 20

// NewNotificationsREST returns the imagestreams/notifications storage; imports is the
// imagestreamimports storage (NewImportsREST or NewImportREST) the announced images go through.
func NewNotificationsREST(streams Store, imports rest.Storage) (rest.Storage, error) {
	ir, ok := imports.(*importREST)
	if !ok {
		return nil, fmt.Errorf("imagestreams/notifications needs the imagestreamimports storage, got %T", imports)
	}
	return &notificationsREST{streams: streams, imports: ir}, nil
}

type notificationsREST struct {
	streams Store
	imports *importREST
}

var (
	_ rest.Storage   = (*notificationsREST)(nil)
	_ rest.Connecter = (*notificationsREST)(nil)
)

func (r *notificationsREST) New() runtime.Object { return &imagev1.ImageStreamImport{} }
func (r *notificationsREST) Destroy()            {}
func (r *notificationsREST) ConnectMethods() []string {
	return []string{http.MethodPost}
}
func (r *notificationsREST) NewConnectOptions() (runtime.Object, bool, string) {
	return nil, false, ""
}

// pushed is one announced image: repository path, tag ("" for any), registry host ("" for any).
type pushed struct {
	host, repository, tag string
}

// parseNotification reads a distribution envelope or a Docker Hub webhook.
func parseNotification(body []byte) ([]pushed, error) {
	var n struct {
		Events []struct {
			Action string `json:"action"`
			Target struct {
				Repository string `json:"repository"`
				Tag        string `json:"tag"`
			} `json:"target"`
			Request struct {
				Host string `json:"host"`
			} `json:"request"`
		} `json:"events"`
		PushData *struct {
			Tag string `json:"tag"`
		} `json:"push_data"`
		Repository *struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("the notification is not JSON: %v", err)
	}
	var out []pushed
	switch {
	case n.Events != nil:
		for _, e := range n.Events {
			if e.Action == "push" && e.Target.Repository != "" {
				out = append(out, pushed{host: e.Request.Host, repository: e.Target.Repository, tag: e.Target.Tag})
			}
		}
	case n.Repository != nil && n.Repository.RepoName != "":
		p := pushed{host: "docker.io", repository: n.Repository.RepoName}
		if n.PushData != nil {
			p.tag = n.PushData.Tag
		}
		out = append(out, p)
	default:
		return nil, fmt.Errorf(`the notification is neither a registry notification ({"events": [...]}) nor a Docker Hub webhook ({"repository": {"repo_name": ...}, "push_data": {...}})`)
	}
	return out, nil
}

// normalizeRepo names a repository path and host the same way for both sides: Docker Hub's
// official images live under library/.
func normalizeRepo(host, repo string) (string, string) {
	host = strings.ToLower(host)
	switch host {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		if host != "" {
			host = "docker.io"
		}
		if !strings.Contains(repo, "/") {
			repo = "library/" + repo
		}
	}
	return host, repo
}

// matches reports whether a spec tag imports what p announces.
func (p pushed) matches(t imagev1.TagReference) bool {
	if t.From == nil || t.From.Kind != "DockerImage" || t.Reference {
		return false
	}
	ref, err := imageref.Parse(t.From.Name)
	if err != nil || ref.ID != "" {
		return false // a tag pinned to a digest never changes
	}
	registry := ref.Registry
	if registry == "" {
		registry = "docker.io"
	}
	host, repo := normalizeRepo(registry, ref.RepositoryName())
	phost, prepo := normalizeRepo(p.host, p.repository)
	tag := ref.Tag
	if tag == "" {
		tag = imagev1.DefaultImageTag
	}
	return repo == prepo && (phost == "" || phost == host) && (p.tag == "" || p.tag == tag)
}

// Connect imports the stream's spec tags that a notification names.
func (r *notificationsREST) Connect(ctx context.Context, name string, _ runtime.Object, responder rest.Responder) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, maxNotificationSize+1))
		if err != nil {
			responder.Error(apierrors.NewBadRequest(fmt.Sprintf("read the notification: %v", err)))
			return
		}
		if len(body) > maxNotificationSize {
			responder.Error(apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("a notification may be at most %d KiB", maxNotificationSize>>10)))
			return
		}
		events, err := parseNotification(body)
		if err != nil {
			responder.Error(apierrors.NewBadRequest(err.Error()))
			return
		}
		obj, err := r.streams.Get(ctx, name, &metav1.GetOptions{})
		if err != nil {
			responder.Error(err)
			return
		}
		s := obj.(*imagev1.ImageStream)
		var tags []imagev1.TagReference
		for _, t := range s.Spec.Tags {
			for _, p := range events {
				if p.matches(t) {
					tags = append(tags, t)
					break
				}
			}
		}
		if len(tags) == 0 {
			var names []string
			for _, p := range events {
				names = append(names, strings.TrimPrefix(p.host+"/", "/")+p.repository+":"+p.tag)
			}
			sort.Strings(names)
			responder.Object(http.StatusOK, &metav1.Status{Status: metav1.StatusSuccess, Message: fmt.Sprintf(
				"no spec tag of image stream %s/%s imports from %s: nothing imported", s.Namespace, s.Name, strings.Join(names, ", "))})
			return
		}
		isi := &imagev1.ImageStreamImport{
			ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace},
			Spec:       imagev1.ImageStreamImportSpec{Import: true},
		}
		for _, t := range tags {
			isi.Spec.Images = append(isi.Spec.Images, imagev1.ImageImportSpec{
				From: corev1.ObjectReference{Kind: "DockerImage", Name: t.From.Name}, To: &corev1.LocalObjectReference{Name: t.Name},
				ImportPolicy: t.ImportPolicy, ReferencePolicy: t.ReferencePolicy,
			})
		}
		out, err := r.imports.Create(ctx, isi, nil, &metav1.CreateOptions{})
		if err != nil {
			responder.Error(err)
			return
		}
		responder.Object(http.StatusOK, out)
	}), nil
}
