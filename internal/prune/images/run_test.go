package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fakeCluster is API and Registry at once: it records every call in order, holds the streams,
// and fails the calls named in fail.
type fakeCluster struct {
	streams map[string]*imagev1.ImageStream
	calls   []string
	fail    map[string]error // call -> error
}

func newFake(in Inputs) *fakeCluster {
	f := &fakeCluster{streams: map[string]*imagev1.ImageStream{}, fail: map[string]error{}}
	for i := range in.Streams {
		s := in.Streams[i].DeepCopy()
		f.streams[s.Namespace+"/"+s.Name] = s
	}
	return f
}

func (f *fakeCluster) call(c string) error {
	f.calls = append(f.calls, c)
	return f.fail[c]
}

func (f *fakeCluster) GetStream(_ context.Context, ns, name string) (*imagev1.ImageStream, error) {
	s, ok := f.streams[ns+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: "image.openshift.io", Resource: "imagestreams"}, name)
	}
	return s.DeepCopy(), nil
}

func (f *fakeCluster) UpdateStreamStatus(_ context.Context, s *imagev1.ImageStream) error {
	if err := f.call("stream " + s.Namespace + "/" + s.Name); err != nil {
		return err
	}
	f.streams[s.Namespace+"/"+s.Name] = s.DeepCopy()
	return nil
}

func (f *fakeCluster) DeleteImage(_ context.Context, name string) error {
	return f.call("image " + name)
}

func (f *fakeCluster) DeleteManifest(_ context.Context, repo, digest string) error {
	return f.call("manifest " + repo + " " + digest)
}

func (f *fakeCluster) DeleteLayerLink(_ context.Context, repo, digest string) error {
	return f.call("link " + repo + " " + digest)
}

func (f *fakeCluster) DeleteBlob(_ context.Context, digest string) error {
	return f.call("blob " + digest)
}

// kinds returns the kind of each call, in order, with consecutive repeats folded.
func kinds(calls []string) []string {
	var out []string
	for _, c := range calls {
		k, _, _ := strings.Cut(c, " ")
		if len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return out
}

func runPlan(t *testing.T, in Inputs, f *fakeCluster) (Result, string, string) {
	t.Helper()
	plan, err := NewPlan(in, defaults())
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	var res Result
	if f == nil {
		res = Run(t.Context(), plan, nil, nil, &out, &errOut)
	} else {
		res = Run(t.Context(), plan, f, f, &out, &errOut)
	}
	return res, out.String(), errOut.String()
}

func TestRunDeletesInOrder(t *testing.T) {
	t.Parallel()
	in := base()
	f := newFake(in)
	res, out, errOut := runPlan(t, in, f)
	if errOut != "" || len(res.Failures) > 0 {
		t.Fatalf("failures: %v\n%s", res.Failures, errOut)
	}
	if got, want := kinds(f.calls), []string{"stream", "manifest", "link", "blob", "image"}; !slices.Equal(got, want) {
		t.Errorf("call order %v, want %v:\n%s", got, want, strings.Join(f.calls, "\n"))
	}
	for _, img := range []string{"a", "b"} {
		if !slices.Contains(f.calls, "image "+dg(img)) || !slices.Contains(f.calls, "manifest p/app "+dg(img)) {
			t.Errorf("image %s or its manifest not deleted: %v", img, f.calls)
		}
	}
	if slices.Contains(f.calls, "blob "+dg("s")) || slices.Contains(f.calls, "image "+dg("c")) {
		t.Errorf("deleted the shared layer or the current image: %v", f.calls)
	}
	if h := f.streams["p/app"].Status.Tags[0].Items; len(h) != 1 || h[0].Image != dg("c") {
		t.Errorf("history after pruning: %v", h)
	}
	if res.Images != 2 || res.Streams != 1 || res.Manifests != 2 || res.Blobs != 6 || res.BlobBytes != 2200 {
		t.Errorf("result %+v", res)
	}
	for _, w := range []string{"Updating istags p/app: latest", "Deleting registry repository manifest data ...", "Deleting blobs ...",
		"Deleting images from server ...", dg("1"), "1000 B"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if s := res.Summary(false); s != "Summary: Deleted 2 images, 1 image stream update, 2 manifests, 4 layer links and 6 blobs (2.1 KiB freed)." {
		t.Errorf("summary %q", s)
	}
}

func TestRunDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	in := base()
	res, out, _ := runPlan(t, in, nil)
	if res.Images != 2 || res.Blobs != 6 {
		t.Errorf("dry run result %+v, want what a real run deletes", res)
	}
	if !strings.Contains(out, dg("a")) || !strings.Contains(out, "Updating istags p/app: latest") {
		t.Errorf("dry run output does not say what would go:\n%s", out)
	}
	if s := res.Summary(true); !strings.HasPrefix(s, "Summary: Would delete 2 images") || !strings.Contains(s, "to free") {
		t.Errorf("dry run summary %q", s)
	}
	if h := in.Streams[0].Status.Tags[0].Items; len(h) != 3 {
		t.Errorf("the dry run changed the listed stream: %v", h)
	}
}

func TestRunKeepsWhatAFailedStepProtects(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name      string
		fail      string
		keptImage string // short name whose Image and blobs must stay
		keptBlobs []string
	}{
		{"a stream that cannot be updated keeps the images it names", "stream p/app", "", []string{"a", "b", "1", "2"}},
		{"a manifest that cannot be deleted keeps its image and blobs", "manifest p/app " + dg("a"), "a", []string{"a", "1", "fa"}},
		{"a layer link that cannot be deleted keeps the blob and its image", "link p/app " + dg("2"), "b", []string{"2"}},
		{"a blob that cannot be deleted keeps the images using it", "blob " + dg("1"), "a", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := base()
			f := newFake(in)
			f.fail[tt.fail] = boom
			res, _, errOut := runPlan(t, in, f)
			if len(res.Failures) != 1 || !strings.Contains(errOut, "boom") {
				t.Fatalf("failures %v, stderr %q: want the one failure reported", res.Failures, errOut)
			}
			if tt.keptImage != "" && slices.Contains(f.calls, "image "+dg(tt.keptImage)) {
				t.Errorf("deleted image %s: %v", tt.keptImage, f.calls)
			}
			for _, b := range tt.keptBlobs {
				if slices.Contains(f.calls, "blob "+dg(b)) {
					t.Errorf("deleted blob %s: %v", b, f.calls)
				}
			}
			if tt.fail == "stream p/app" {
				for _, c := range f.calls[1:] {
					t.Errorf("after the stream failed: %s", c)
				}
			}
		})
	}
}

func TestRunCountsWhatIsAlreadyGoneAsDone(t *testing.T) {
	t.Parallel()
	in := base()
	f := newFake(in)
	f.fail["manifest p/app "+dg("a")] = fmt.Errorf("DELETE: %w", ErrNotFound)
	f.fail["blob "+dg("1")] = fmt.Errorf("DELETE: %w", ErrNotFound)
	res, _, errOut := runPlan(t, in, f)
	if len(res.Failures) > 0 || errOut != "" {
		t.Fatalf("failures %v: %s", res.Failures, errOut)
	}
	if !slices.Contains(f.calls, "image "+dg("a")) {
		t.Errorf("image a not deleted after its manifest was found gone: %v", f.calls)
	}
}

func TestRunInOneProjectOnlyTrimsItsStreams(t *testing.T) {
	t.Parallel()
	in := base()
	opts := defaults()
	opts.Namespace = "p"
	plan, err := NewPlan(in, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(in)
	var out, errOut bytes.Buffer
	res := Run(t.Context(), plan, f, f, &out, &errOut)
	if !slices.Equal(f.calls, []string{"stream p/app"}) || res.Images != 0 || res.Blobs != 0 {
		t.Errorf("calls %v, result %+v: want only the stream's history trimmed", f.calls, res)
	}
}

func TestRunKeepsAnImageTaggedAgainSinceTheListing(t *testing.T) {
	t.Parallel()
	in := base()
	f := newFake(in)
	// Between the listing and the update, someone tags a (to be pruned) as p/app:pinned.
	f.streams["p/app"].Status.Tags = append(f.streams["p/app"].Status.Tags, imagev1.NamedTagEventList{
		Tag: "pinned", Items: []imagev1.TagEvent{{Image: dg("a"), Created: ago(0)}},
	})
	res, _, errOut := runPlan(t, in, f)
	if len(res.Failures) > 0 {
		t.Fatalf("failures: %v\n%s", res.Failures, errOut)
	}
	if slices.Contains(f.calls, "image "+dg("a")) || slices.Contains(f.calls, "manifest p/app "+dg("a")) {
		t.Errorf("pruned the image tagged again meanwhile: %v", f.calls)
	}
	if !slices.Contains(f.calls, "image "+dg("b")) {
		t.Errorf("b was not pruned: %v", f.calls)
	}
	var pinned []imagev1.TagEvent
	for _, tag := range f.streams["p/app"].Status.Tags {
		if tag.Tag == "pinned" {
			pinned = tag.Items
		}
	}
	if len(pinned) != 1 {
		t.Errorf("the new tag lost its revision: %v", f.streams["p/app"].Status.Tags)
	}
}

func TestHumanSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{-1: "-", 0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
