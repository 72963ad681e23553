package registry

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	imagev1 "github.com/openshift/api/image/v1"
	"github.com/openshift/client-go/image/clientset/versioned/fake"
	imagev1listers "github.com/openshift/client-go/image/listers/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// noTags is the registry's own tag store of a repository that has none (tags live in streams).
type noTags struct{}

func (noTags) Get(context.Context, string) (v1.Descriptor, error) {
	return v1.Descriptor{}, errors.New("the registry's own tags were read")
}
func (noTags) Tag(context.Context, string, v1.Descriptor) error { return nil }
func (noTags) Untag(_ context.Context, tag string) error {
	return distribution.ErrTagUnknown{Tag: tag}
}
func (noTags) All(context.Context) ([]string, error) {
	return nil, errors.New("the registry's own tags were listed")
}
func (noTags) Lookup(context.Context, v1.Descriptor) ([]string, error) { return nil, nil }

// A tag deleted through the registry is gone for the very next read (HEAD, GET, the tag list),
// though the informer cache the reads start from still shows it: the OCI conformance suite's
// atomic tag delete found a HEAD answered 200 right after the delete was accepted.
func TestDeletedTagIsGoneBeforeTheCacheSeesIt(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const img1, img2 = "sha256:1111111111111111111111111111111111111111111111111111111111111111",
		"sha256:2222222222222222222222222222222222222222222222222222222222222222"
	stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: "s"}}
	stream.Status.Tags = []imagev1.NamedTagEventList{
		{Tag: "gone", Items: []imagev1.TagEvent{{Image: img1}}},
		{Tag: "kept", Items: []imagev1.TagEvent{{Image: img2}}},
	}
	// The cache: a copy of the stream that never sees the delete.
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := indexer.Add(stream.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	// The API: deleting an image stream tag removes it from the stream.
	client := fake.NewSimpleClientset(stream.DeepCopy())
	client.PrependReactor("delete", "imagestreamtags", func(a clienttesting.Action) (bool, runtime.Object, error) {
		st, err := client.Tracker().Get(imagev1.SchemeGroupVersion.WithResource("imagestreams"), "p", "s")
		if err != nil {
			return true, nil, err
		}
		s := st.(*imagev1.ImageStream).DeepCopy()
		s.Status.Tags = slices.DeleteFunc(s.Status.Tags, func(l imagev1.NamedTagEventList) bool {
			return "s:"+l.Tag == a.(clienttesting.DeleteAction).GetName()
		})
		return true, nil, client.Tracker().Update(imagev1.SchemeGroupVersion.WithResource("imagestreams"), s, "p")
	})
	s := &Streams{Images: client.ImageV1(), Lister: imagev1listers.NewImageStreamLister(indexer), Now: func() time.Time { return time.Unix(1000, 0) }}
	tags := &streamTags{TagService: noTags{}, r: &streamRepository{s: s, ns: "p", name: "s"}}
	head := context.WithValue(ctx, stateKey{}, &requestState{method: http.MethodHead})
	get := context.WithValue(ctx, stateKey{}, &requestState{method: http.MethodGet})

	if d, err := tags.Get(head, "gone"); err != nil || d.Digest.String() != img1 {
		t.Fatalf("HEAD before the delete: %v, %v; want %s", d.Digest, err, img1)
	}
	if err := tags.Untag(ctx, "gone"); err != nil {
		t.Fatalf("untag: %v", err)
	}
	for name, ctx := range map[string]context.Context{"HEAD": head, "GET": get} {
		var unknown distribution.ErrTagUnknown
		if d, err := tags.Get(ctx, "gone"); !errors.As(err, &unknown) {
			t.Errorf("%s of the deleted tag: %v, %v; want tag unknown", name, d.Digest, err)
		}
		if d, err := tags.Get(ctx, "kept"); err != nil || d.Digest.String() != img2 {
			t.Errorf("%s of the other tag: %v, %v; want %s", name, d.Digest, err, img2)
		}
	}
	if all, err := tags.All(get); err != nil || !slices.Equal(all, []string{"kept"}) {
		t.Errorf("tag list after the delete: %v, %v; want [kept]", all, err)
	}
}
