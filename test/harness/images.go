package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/gantry-dev/gantry/internal/images"
)

// PushEchoImage compiles test/images/echo as a static binary, builds a one-layer image of it (entrypoint
// /echo) and pushes it to the cluster's registry under test/echo:tag. It returns the image reference.
func PushEchoImage(ctx context.Context, tag string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "gantry-echo-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "echo")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./test/images/echo")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build echo: %v\n%s", err, out)
	}
	img, err := images.FromBinary(bin)
	if err != nil {
		return "", err
	}
	ref := Registry + "/test/echo:" + tag
	return ref, images.Push(ctx, img, ref)
}
