package registry

import (
	"fmt"

	imageclientset "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ClusterAuth returns the Auth of a registry serving a Gantry cluster: tokens and access checked
// with kube-apiserver, pushes recorded as the identity of rc (which needs the system:registry
// role), image streams read from an informer cache that runs until stop is closed. hostname is
// the registry's host[:port] in the images' pull specs.
func ClusterAuth(rc *rest.Config, hostname string, stop <-chan struct{}) (*Auth, error) {
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
	images, err := imageclientset.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	informers := imageinformers.NewSharedInformerFactory(images, 0)
	lister := informers.Image().V1().ImageStreams().Lister()
	informers.Start(stop)
	ka := NewKubeAuth(kube)
	return &Auth{
		Authenticator: ka,
		Authorizer:    ka,
		Streams:       &Streams{Images: images.ImageV1(), Lister: lister, Events: kube.CoreV1(), Hostname: hostname},
	}, nil
}
