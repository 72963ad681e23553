package image

import (
	"context"
	"sync"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// streamBatcher groups concurrent changes to one image stream's status into one write.
//
// Pushes to one stream come in bursts (a build pushing many tags, a CI pushing images at once),
// each recording its tag through an ImageStreamMapping. Written one at a time, every write but
// one conflicts with the others and is retried, and each costs an etcd write: mappings to one
// stream top out at a few hundred per second whatever the concurrency. Grouped, the changes
// waiting while a write is under way go out together in the next write, every one applied to
// the freshly read stream as before, so none is lost and each caller learns its own outcome.
type streamBatcher struct {
	mu      sync.Mutex
	streams map[string]*streamQueue // by namespace/name
}

type streamQueue struct {
	waiting []*streamChange
	writing bool
}

// streamChange is one caller's change and, once written, its outcome.
type streamChange struct {
	mutate func(*imagev1.ImageStream) (bool, error)
	err    error
	done   chan struct{}
}

// batchWriteTimeout bounds one grouped write; it does not end with the request that started it,
// since it carries other requests' changes too.
const batchWriteTimeout = 30 * time.Second

// update applies mutate to stream name of ctx's namespace with the store, in a write shared with
// the changes of other callers waiting at the same time. It returns when the write carrying the
// change is done, with that write's error, or mutate's own.
func (g *streamBatcher) update(ctx context.Context, store StatusStore, name string, mutate func(*imagev1.ImageStream) (bool, error)) error {
	ns, _ := request.NamespaceFrom(ctx)
	key := ns + "/" + name
	c := &streamChange{mutate: mutate, done: make(chan struct{})}
	g.mu.Lock()
	if g.streams == nil {
		g.streams = map[string]*streamQueue{}
	}
	q := g.streams[key]
	if q == nil {
		q = &streamQueue{}
		g.streams[key] = q
	}
	q.waiting = append(q.waiting, c)
	lead := !q.writing
	q.writing = true
	g.mu.Unlock()

	if lead {
		// This caller writes until nobody is waiting, then hands the stream back.
		wctx := context.WithoutCancel(ctx)
		for {
			g.mu.Lock()
			batch := q.waiting
			q.waiting = nil
			if len(batch) == 0 {
				q.writing = false
				delete(g.streams, key)
				g.mu.Unlock()
				break
			}
			g.mu.Unlock()
			g.write(wctx, store, name, batch)
		}
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		// The change may still be written; the caller has gone.
		return ctx.Err()
	}
}

// write applies the batch's changes in order to the current stream, in one update. A change
// whose mutate fails gets its error and the others are written; a mutate must leave the stream
// as it found it when it fails.
func (g *streamBatcher) write(ctx context.Context, store StatusStore, name string, batch []*streamChange) {
	ctx, cancel := context.WithTimeout(ctx, batchWriteTimeout)
	defer cancel()
	errs := make([]error, len(batch))
	_, err := updateStream(ctx, store, name, func(s *imagev1.ImageStream) (bool, error) {
		changed := false
		for i, c := range batch {
			// Every attempt starts from the freshly read stream.
			ok, err := c.mutate(s)
			errs[i] = err
			changed = changed || (ok && err == nil)
		}
		return changed, nil
	})
	for i, c := range batch {
		c.err = errs[i]
		if c.err == nil {
			c.err = err
		}
		close(c.done)
	}
}
