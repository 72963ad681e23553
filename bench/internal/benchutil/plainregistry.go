package benchutil

import (
	"context"
	"fmt"
	"os"

	"github.com/gantry-dev/gantry/internal/registry"
)

// StartPlainRegistry runs a plain registry in this process: Gantry's registry package without
// Config.Auth, which is distribution's handlers.NewApp with the same storage configuration as the
// integrated registry (filesystem driver, in-memory blob descriptor cache, no redirects, deletes
// enabled), no authentication and no image stream hooks, served on 127.0.0.1 and a free port. Its
// storage is a new temporary directory; stop ends it and removes the directory.
func StartPlainRegistry() (addr string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "gantry-bench-plain-registry-")
	if err != nil {
		return "", nil, err
	}
	r, err := registry.New(registry.Config{Addr: "127.0.0.1:0", RootDir: dir})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("start the plain registry: %w", err)
	}
	return r.Addr(), func() {
		cancel()
		if err := <-done; err != nil {
			Logf("stop the plain registry: %v", err)
		}
		os.RemoveAll(dir)
	}, nil
}
