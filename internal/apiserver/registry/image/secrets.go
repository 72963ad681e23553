package image

import (
	"context"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
)

// secretsREST serves imagestreams/{name}/secrets: the docker-registry secrets of the stream's
// project, which the integrated registry uses to fetch the stream's imported images from their
// registries (pull-through) without being allowed to read every secret. As in OpenShift, only
// the system:registry role may get it.
type secretsREST struct {
	streams Store
	secrets SecretsFunc
}

var (
	_ rest.Storage = (*secretsREST)(nil)
	_ rest.Getter  = (*secretsREST)(nil)
)

// NewSecretsREST returns the imagestreams/secrets storage, reading secrets with secrets.
func NewSecretsREST(streams Store, secrets SecretsFunc) rest.Storage {
	return &secretsREST{streams: streams, secrets: secrets}
}

func (r *secretsREST) New() runtime.Object { return &imagev1.SecretList{} }
func (r *secretsREST) Destroy()            {}

// Get lists the docker-registry secrets of the project of stream name.
func (r *secretsREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns, err := requestNamespace(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := r.streams.Get(ctx, name, &metav1.GetOptions{}); err != nil {
		return nil, err
	}
	out := &imagev1.SecretList{}
	if r.secrets == nil {
		return out, nil
	}
	secrets, err := r.secrets(ctx, ns)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out.Items = secrets
	return out, nil
}
