package registry

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"
	imagev1client "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/imageimport"

	imageclientset "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ClusterOptions configure ClusterAuth.
type ClusterOptions struct {
	// Hostname is the registry's host[:port] in the images' pull specs.
	Hostname string
	// AllowedRegistries limits pull-through from other registries as imports are limited
	// (empty: any registry on a public address).
	AllowedRegistries []string
	// ImageAPIHost, when set, is the URL of Gantry's OpenShift API server, reached directly
	// for image.openshift.io requests rather than through kube-apiserver's aggregation (one hop
	// less for every push). It must accept rc's credentials and trust rc's certificate
	// authority.
	ImageAPIHost string
}

// ClusterAuth returns the Auth of a registry serving a Gantry cluster: tokens and access checked
// with kube-apiserver, pushes recorded as the identity of rc (which needs the system:registry
// role), image streams read from an informer cache that runs until stop is closed. Images
// imported from other registries are pulled through from there.
func ClusterAuth(rc *rest.Config, o ClusterOptions, stop <-chan struct{}) (*Auth, error) {
	hostname := o.Hostname
	rc = rest.CopyConfig(rc)
	// Every push and every pull asks the API (cached briefly): no client-side throttling.
	rc.QPS, rc.Burst = 500, 1000
	// Reviews, mappings and the stream watch are smaller and cheaper to encode in protobuf.
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	irc := rc
	if o.ImageAPIHost != "" {
		irc = rest.CopyConfig(rc)
		irc.Host = o.ImageAPIHost
	}
	images, err := imageclientset.NewForConfig(irc)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	informers := imageinformers.NewSharedInformerFactory(images, 0)
	lister := informers.Image().V1().ImageStreams().Lister()
	informers.Start(stop)
	im, err := imageimport.New(imageimport.Options{AllowedRegistries: o.AllowedRegistries, IntegratedRegistries: []string{hostname}})
	if err != nil {
		return nil, fmt.Errorf("registry pull-through: %w", err)
	}
	ka := NewKubeAuth(kube)
	return &Auth{
		Authenticator: ka,
		Authorizer:    ka,
		Streams: &Streams{
			Images: images.ImageV1(), Lister: lister, Events: kube.CoreV1(), Hostname: hostname,
			Remote: &importRemote{im: im, images: images.ImageV1()},
		},
	}, nil
}

// importRemote fetches with the importer's rules and the credentials imagestreams/secrets gives.
type importRemote struct {
	im     *imageimport.Importer
	images imagev1client.ImageV1Interface
}

var _ Remote = (*importRemote)(nil)

func (r *importRemote) keychain(ctx context.Context, namespace, name string) authn.Keychain {
	return imageimport.LazyKeychain(func() ([]corev1.Secret, error) {
		l, err := r.images.ImageStreams(namespace).Secrets(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read the registry secrets of %s/%s: %w", namespace, name, err)
		}
		return l.Items, nil
	})
}

func (r *importRemote) FetchManifest(ctx context.Context, namespace, name, pullSpec string, insecure bool) (string, []byte, error) {
	return r.im.FetchManifest(ctx, pullSpec, insecure, r.keychain(ctx, namespace, name))
}

func (r *importRemote) OpenBlob(ctx context.Context, namespace, name, repository string, dgst digest.Digest, insecure bool) (io.ReadCloser, int64, error) {
	return r.im.OpenBlob(ctx, repository, dgst, insecure, r.keychain(ctx, namespace, name))
}
