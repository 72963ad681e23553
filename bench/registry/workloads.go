package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
)

// bigResult is one run of workload (a) on one registry.
type bigResult struct {
	target     string
	bytes      int64 // layer bytes pushed and pulled
	push, pull phase
}

// smallResult is one run of workload (b) on one registry.
type smallResult struct {
	target           string
	n                int
	push, pull       phase         // all n images
	pushP50, pushP99 time.Duration // per image
	pullP50, pullP99 time.Duration
}

func parse(ref string) (name.Reference, error) {
	return name.ParseReference(ref, name.Insecure)
}

// big pushes one image of layers layers of layerSize bytes each (random, made before the clock
// starts) to <project>/<stream>:v1, then pulls it back: manifest, configuration and every layer
// read to the end, the layers concurrently (as many at once as the push uploads, 4), digests
// checked by the client as it reads.
func big(ctx context.Context, t *target, stream string, layers, layerSize int) (bigResult, error) {
	res := bigResult{target: t.name}
	src := newSource()
	ls := make([]v1.Layer, layers)
	for i := range ls {
		var err error
		if ls[i], err = src.layer(layerSize); err != nil {
			return res, err
		}
		res.bytes += int64(layerSize)
	}
	img, err := image(stream, ls...)
	if err != nil {
		return res, err
	}
	want, _ := img.Digest()
	ref, err := parse(t.repo(stream) + ":v1")
	if err != nil {
		return res, err
	}

	m := t.begin()
	if err := remote.Write(ref, img, t.options(ctx)...); err != nil {
		return res, fmt.Errorf("push %s: %w", ref, err)
	}
	res.push = m.end()
	if t.recorded != nil {
		if err := t.recorded(ctx, map[string]pushed{ref.String(): {stream: stream, tag: "v1", digest: want.String()}}); err != nil {
			return res, err
		}
	}

	m = t.begin()
	n, err := pull(ctx, t, ref, want, true)
	if err != nil {
		return res, err
	}
	res.pull = m.end()
	if n != res.bytes {
		return res, fmt.Errorf("pull %s: read %d layer bytes, pushed %d", ref, n, res.bytes)
	}
	return res, nil
}

// pull fetches ref's manifest (checking it is the image want), its configuration and every layer,
// read to the end (the client checks each blob's digest once read); concurrent reads the layers
// 4 at a time. It returns the layer bytes read.
func pull(ctx context.Context, t *target, ref name.Reference, want v1.Hash, concurrent bool) (int64, error) {
	img, err := remote.Image(ref, t.options(ctx)...)
	if err != nil {
		return 0, fmt.Errorf("pull %s: %w", ref, err)
	}
	if got, err := img.Digest(); err != nil || got != want {
		return 0, fmt.Errorf("pull %s: manifest %s (%v), pushed %s", ref, got, err, want)
	}
	if _, err := img.RawConfigFile(); err != nil {
		return 0, fmt.Errorf("pull %s: configuration: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return 0, fmt.Errorf("pull %s: %w", ref, err)
	}
	read := func(l v1.Layer) (int64, error) {
		d, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			return 0, fmt.Errorf("pull %s: layer %s: %w", ref, d, err)
		}
		defer rc.Close()
		n, err := io.Copy(io.Discard, rc)
		if err != nil {
			return n, fmt.Errorf("pull %s: layer %s: %w", ref, d, err)
		}
		return n, nil
	}
	var total int64
	if !concurrent {
		for _, l := range layers {
			n, err := read(l)
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	}
	sizes := make([]int64, len(layers))
	errs := make([]error, len(layers))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, l := range layers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sizes[i], errs[i] = read(l)
		}()
	}
	wg.Wait()
	for i := range layers {
		if errs[i] != nil {
			return 0, errs[i]
		}
		total += sizes[i]
	}
	return total, nil
}

// small pushes n images of one layerSize-byte layer each (random, made before the clock starts) as
// <project>/<prefix>-<i mod streams>:t<i>, concurrency at a time, then pulls them all the same way
// (manifest by tag, configuration, layer).
func small(ctx context.Context, t *target, prefix string, n, streams, layerSize, concurrency int) (smallResult, error) {
	res := smallResult{target: t.name, n: n}
	src := newSource()
	imgs := make([]v1.Image, n)
	refs := make([]name.Reference, n)
	digests := make([]v1.Hash, n)
	want := map[string]pushed{}
	for i := range imgs {
		l, err := src.layer(layerSize)
		if err != nil {
			return res, err
		}
		stream, tag := fmt.Sprintf("%s-%d", prefix, i%streams), fmt.Sprintf("t%d", i)
		if imgs[i], err = image(stream+":"+tag, l); err != nil {
			return res, err
		}
		if refs[i], err = parse(t.repo(stream) + ":" + tag); err != nil {
			return res, err
		}
		digests[i], _ = imgs[i].Digest()
		want[refs[i].String()] = pushed{stream: stream, tag: tag, digest: digests[i].String()}
	}

	m := t.begin()
	lat, err := pool(ctx, n, concurrency, func(ctx context.Context, i int) error {
		if err := remote.Write(refs[i], imgs[i], t.options(ctx)...); err != nil {
			return fmt.Errorf("push %s: %w", refs[i], err)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.push = m.end()
	res.pushP50, res.pushP99 = benchutil.Percentile(lat, 0.50), benchutil.Percentile(lat, 0.99)
	if t.recorded != nil {
		if err := t.recorded(ctx, want); err != nil {
			return res, err
		}
	}

	m = t.begin()
	lat, err = pool(ctx, n, concurrency, func(ctx context.Context, i int) error {
		got, err := pull(ctx, t, refs[i], digests[i], false)
		if err == nil && got != int64(layerSize) {
			err = fmt.Errorf("pull %s: read %d layer bytes, pushed %d", refs[i], got, layerSize)
		}
		return err
	})
	if err != nil {
		return res, err
	}
	res.pull = m.end()
	res.pullP50, res.pullP99 = benchutil.Percentile(lat, 0.50), benchutil.Percentile(lat, 0.99)
	return res, nil
}

// pool runs do(0..n-1) on concurrency workers and returns the sorted latencies. The first error
// stops it.
func pool(ctx context.Context, n, concurrency int, do func(ctx context.Context, i int) error) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lat := make([]time.Duration, n)
	next := make(chan int)
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				err := do(ctx, i)
				lat[i] = time.Since(t)
				if err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.Sort(lat)
	return lat, nil
}
