package registry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestReviewCacheOneReviewForConcurrentMisses(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := newReviewCache[bool](clock.now, 10)
	var calls atomic.Int32
	release := make(chan struct{})
	fetch := func(context.Context) (bool, time.Duration, error) {
		calls.Add(1)
		<-release
		return true, 10 * time.Second, nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := c.get(t.Context(), "k", fetch); !ok || err != nil {
				t.Errorf("get = %v, %v; want true", ok, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the eight requests reach the cache
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("8 concurrent misses sent %d reviews, want 1", n)
	}
}

func TestReviewCacheRenewsAheadAndNeverServesExpired(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := newReviewCache[bool](clock.now, 10)
	answer := atomic.Bool{}
	answer.Store(true)
	var calls atomic.Int32
	renewed := make(chan struct{}, 10)
	fetch := func(context.Context) (bool, time.Duration, error) {
		calls.Add(1)
		defer func() { renewed <- struct{}{} }()
		return answer.Load(), 10 * time.Second, nil
	}
	if ok, _ := c.get(t.Context(), "k", fetch); !ok {
		t.Fatal("first answer not used")
	}
	<-renewed

	// Access revoked; within the first three quarters the cached answer stands, no review.
	answer.Store(false)
	clock.add(5 * time.Second)
	if ok, _ := c.get(t.Context(), "k", fetch); !ok || calls.Load() != 1 {
		t.Fatalf("at half its life: ok=%v after %d reviews, want the cached true after 1", ok, calls.Load())
	}
	// In the last quarter: still the cached answer at once, and a review in the background.
	clock.add(3 * time.Second)
	if ok, _ := c.get(t.Context(), "k", fetch); !ok {
		t.Fatal("in the last quarter of its life the cached answer was not used")
	}
	select {
	case <-renewed:
	case <-time.After(5 * time.Second):
		t.Fatal("no background review in the last quarter of the answer's life")
	}
	// The renewed answer (revoked) is what the next request gets.
	if ok, _ := c.get(t.Context(), "k", fetch); ok {
		t.Error("the renewed answer was not used")
	}

	// A failing review past expiry is an error, never the stale answer.
	failing := func(context.Context) (bool, time.Duration, error) { return false, 0, errors.New("down") }
	c2 := newReviewCache[bool](clock.now, 10)
	if _, err := c2.get(t.Context(), "k", func(context.Context) (bool, time.Duration, error) { return true, 10 * time.Second, nil }); err != nil {
		t.Fatal(err)
	}
	clock.add(11 * time.Second)
	if ok, err := c2.get(t.Context(), "k", failing); err == nil || ok {
		t.Errorf("past expiry with the API down: ok=%v err=%v, want an error", ok, err)
	}
}

func TestReviewCacheBounded(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := newReviewCache[bool](clock.now, 3)
	for _, k := range []string{"a", "b", "c", "d"} {
		if _, err := c.get(t.Context(), k, func(context.Context) (bool, time.Duration, error) { return true, time.Minute, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n > 3 {
		t.Errorf("cache holds %d entries, limit 3", n)
	}
}

func streamWithTag(rv, tag string, images ...string) *imagev1.ImageStream {
	s := &imagev1.ImageStream{}
	s.ResourceVersion = rv
	l := imagev1.NamedTagEventList{Tag: tag}
	for _, i := range images {
		l.Items = append(l.Items, imagev1.TagEvent{Image: i})
	}
	s.Status.Tags = append(s.Status.Tags, l)
	return s
}

func TestRecentTagsCoverTheCacheLag(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	var r recentTags
	r.put("p/s:v1", "sha256:new", "10", now)

	// The cache is still the version the push was made over: the recorded image wins.
	if got := r.resolve("p/s:v1", streamWithTag("10", "v1", "sha256:old"), "v1", now.Add(time.Second)); got != "sha256:new" {
		t.Errorf("before the cache saw the push: %q, want sha256:new", got)
	}
	// Once the cache shows a later version, it is the truth: here the tag moved on and the
	// pushed revision was pruned from its history.
	if got := r.resolve("p/s:v1", streamWithTag("12", "v1", "sha256:later"), "v1", now.Add(2*time.Second)); got != "sha256:later" {
		t.Errorf("after the cache moved on: %q, want the cache's sha256:later", got)
	}
	if _, ok := r.m["p/s:v1"]; ok {
		t.Error("a write the cache has moved past is still remembered")
	}
	if got := r.resolve("p/s:v1", streamWithTag("10", "v1", "sha256:old"), "v1", now.Add(3*time.Second)); got != "sha256:old" {
		t.Errorf("a forgotten write came back: %q", got)
	}
	// A push to a stream the cache did not have yet.
	r.put("p/n:v1", "sha256:x", "", now)
	if got := r.resolve("p/n:v1", &imagev1.ImageStream{}, "v1", now); got != "sha256:x" {
		t.Errorf("new stream: %q, want sha256:x", got)
	}
	// Remembered writes expire.
	r.put("p/s:v2", "sha256:x", "10", now)
	if got := r.resolve("p/s:v2", streamWithTag("10", "v3"), "v2", now.Add(recentTagTTL+time.Second)); got != "" {
		t.Errorf("after %s: %q, want nothing", recentTagTTL, got)
	}
	// Other tags are the cache's.
	if got := r.resolve("p/s:v3", streamWithTag("10", "v3", "sha256:c"), "v3", now); got != "sha256:c" {
		t.Errorf("unrelated tag: %q", got)
	}
}

// A tag deleted here is not served from a cache that still shows it (the OCI conformance suite
// found a HEAD answered 200 right after the tag's delete was accepted).
func TestRecentTagsCoverTheCacheLagAfterADelete(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	var r recentTags
	r.put("p/s:v1", "sha256:a", "10", now)
	r.deleted("p/s:v1", "10", now.Add(time.Second))

	stale := streamWithTag("10", "v1", "sha256:a")
	if img := r.resolve("p/s:v1", stale, "v1", now.Add(2*time.Second)); img != "" {
		t.Errorf("cache still showing the deleted tag: %q, want it gone", img)
	}
	if !r.behind("p/s", stale, now.Add(2*time.Second)) {
		t.Error("a cache still showing a tag deleted here is not behind")
	}
	if r.behind("p/other", stale, now.Add(2*time.Second)) {
		t.Error("another repository's cache is behind a delete in p/s")
	}
	// Once the cache shows a later version, it is the truth again and the delete forgotten.
	if img := r.resolve("p/s:v1", streamWithTag("11", "v2", "sha256:z"), "v1", now.Add(3*time.Second)); img != "" {
		t.Errorf("after the cache saw the delete: %q, want nothing", img)
	}
	if _, ok := r.m["p/s:v1"]; ok {
		t.Error("a delete the cache has seen is still remembered")
	}
	// A push after the delete is served as any push.
	r.deleted("p/s:v2", "10", now)
	r.put("p/s:v2", "sha256:b", "10", now.Add(time.Second))
	if img := r.resolve("p/s:v2", streamWithTag("10", "v2", "sha256:old"), "v2", now.Add(2*time.Second)); img != "sha256:b" {
		t.Errorf("pushed again after the delete: %q, want sha256:b", img)
	}
	// Remembered deletes expire.
	r.deleted("p/s:v3", "10", now)
	if img := r.resolve("p/s:v3", streamWithTag("10", "v3", "sha256:c"), "v3", now.Add(recentTagTTL+time.Second)); img != "sha256:c" {
		t.Errorf("after %s: %q, want the cache's sha256:c", recentTagTTL, img)
	}
}
