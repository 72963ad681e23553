package registry

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/klog/v2"
)

// reviewCache caches the answers of token and access reviews for a short while, so that a
// registry serving many requests of the same user asks kube-apiserver about once per lifetime
// instead of once per request.
//
// An answer is never used after it expires, so a revoked token or role stops working within
// its lifetime. Two things keep reviews off the requests' path:
//   - concurrent misses of one key share one review (a burst of requests of one client, whose
//     cached answer just expired, waits for one review rather than sending one each);
//   - an answer in the last quarter of its lifetime is used, and renewed in the background,
//     so a busy client finds a fresh answer instead of waiting for a review every lifetime.
type reviewCache[V any] struct {
	now   func() time.Time
	limit int

	mu      sync.Mutex
	entries map[string]*cacheEntry[V]
	flight  singleflight.Group
}

type cacheEntry[V any] struct {
	v                V
	renewAt, expires time.Time
	renewing         bool
}

// fetchFunc reviews a key: the answer, and how long it may be used.
type fetchFunc[V any] func(ctx context.Context) (V, time.Duration, error)

func newReviewCache[V any](now func() time.Time, limit int) *reviewCache[V] {
	return &reviewCache[V]{now: now, limit: limit, entries: map[string]*cacheEntry[V]{}}
}

// get returns key's answer: cached, or from fetch.
func (c *reviewCache[V]) get(ctx context.Context, key string, fetch fetchFunc[V]) (V, error) {
	now := c.now()
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		v := e.v
		if !now.Before(e.renewAt) && !e.renewing {
			e.renewing = true
			go c.renew(context.WithoutCancel(ctx), key, fetch)
		}
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	v, err, _ := c.flight.Do(key, func() (any, error) { return c.fetch(ctx, key, fetch) })
	if err != nil {
		var zero V
		return zero, err
	}
	return v.(V), nil
}

func (c *reviewCache[V]) renew(ctx context.Context, key string, fetch fetchFunc[V]) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err, _ := c.flight.Do(key, func() (any, error) { return c.fetch(ctx, key, fetch) }); err != nil {
		klog.V(2).InfoS("Renewing a cached registry review failed; it is reviewed again when it expires", "err", err)
		c.mu.Lock()
		if e, ok := c.entries[key]; ok {
			e.renewing = false
		}
		c.mu.Unlock()
	}
}

func (c *reviewCache[V]) fetch(ctx context.Context, key string, fetch fetchFunc[V]) (V, error) {
	start := c.now()
	v, ttl, err := fetch(ctx)
	if err != nil {
		return v, err
	}
	// The lifetime counts from when the review was asked for: an answer is never older than ttl.
	e := &cacheEntry[V]{v: v, renewAt: start.Add(ttl * 3 / 4), expires: start.Add(ttl)}
	c.mu.Lock()
	if len(c.entries) >= c.limit {
		c.entries = map[string]*cacheEntry[V]{}
	}
	c.entries[key] = e
	c.mu.Unlock()
	return v, nil
}
