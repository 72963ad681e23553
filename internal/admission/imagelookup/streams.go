package imagelookup

import (
	"context"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	imagelisters "github.com/openshift/client-go/image/listers/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CachedStreams reads image streams from an informer's lister, and from the API when asked for
// a fresh copy (a stream pushed a moment ago may not be in the cache yet).
type CachedStreams struct {
	Lister imagelisters.ImageStreamLister
	// Synced reports whether the lister has been filled; until then every read goes to the API.
	Synced func() bool
	Client imageclient.ImageStreamsGetter
}

// Get returns the stream; a cached copy when fresh is false and the cache is filled.
func (c *CachedStreams) Get(ctx context.Context, namespace, name string, fresh bool) (*imagev1.ImageStream, error) {
	if !fresh && c.Lister != nil && (c.Synced == nil || c.Synced()) {
		return c.Lister.ImageStreams(namespace).Get(name)
	}
	return c.Client.ImageStreams(namespace).Get(ctx, name, metav1.GetOptions{})
}

var _ Streams = (*CachedStreams)(nil)
