package imagelookup

import (
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	imagefake "github.com/openshift/client-go/image/clientset/versioned/fake"
	imagelisters "github.com/openshift/client-go/image/listers/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestCachedStreamsReadTheAPIWhenAskedOrNotSynced(t *testing.T) {
	t.Parallel()
	cached := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "echo", ResourceVersion: "1"}}
	live := cached.DeepCopy()
	live.ResourceVersion = "2"
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := indexer.Add(cached); err != nil {
		t.Fatal(err)
	}
	synced := true
	c := &CachedStreams{
		Lister: imagelisters.NewImageStreamLister(indexer),
		Synced: func() bool { return synced },
		Client: imagefake.NewSimpleClientset(live).ImageV1(),
	}
	for _, tc := range []struct {
		fresh, synced bool
		want          string
	}{{false, true, "1"}, {true, true, "2"}, {false, false, "2"}} {
		synced = tc.synced
		s, err := c.Get(t.Context(), "proj", "echo", tc.fresh)
		if err != nil || s.ResourceVersion != tc.want {
			t.Errorf("fresh %t, synced %t: version %v (%v), want %s", tc.fresh, tc.synced, s, err, tc.want)
		}
	}
	synced = true
	if _, err := c.Get(t.Context(), "proj", "nope", false); !apierrors.IsNotFound(err) {
		t.Errorf("a missing stream: %v, want NotFound", err)
	}
}
