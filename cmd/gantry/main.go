// Command gantry is the single binary of Gantry: server, node and client commands.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gantry-dev/gantry/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := cli.NewRoot(version).ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
