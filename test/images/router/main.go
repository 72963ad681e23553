// Command router is `gantry router` alone, built static for the image the integration tests run as
// a pod: the same command (internal/cli/router), without the rest of the gantry binary, which links
// the whole control plane and glibc.
package main

import (
	"os"

	"github.com/gantry-dev/gantry/internal/cli/router"
)

func main() {
	if err := router.NewCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
