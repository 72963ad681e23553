// Command occompat runs hack/oc-compat.sh, the checks of the real `oc` client, against a cluster of
// its own: it takes the machine lock the tests share, starts `gantry start` in a temporary data
// directory, pushes an image to the project oc-compat-images (for the checks of tags of a real
// image), runs the script with the given oc binary as the cluster admin (and, with the admin
// password the cluster printed, through `oc login`), prints the script's table and stops the cluster.
//
// oc is not part of this repository: build it beside the project from a clone of
// github.com/openshift/oc (go build -mod=vendor ./cmd/oc). Run as root, from the repository root:
//
//	make build && go run ./hack/occompat -gantry $PWD/bin/gantry -oc /path/to/oc
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/test/harness"
)

func main() {
	gantry := flag.String("gantry", "", "the gantry binary to start (default $GANTRY_BIN, else bin/gantry)")
	oc := flag.String("oc", "", "the oc binary to check (required)")
	script := flag.String("script", "hack/oc-compat.sh", "the checks to run")
	timeout := flag.Duration("timeout", 20*time.Minute, "give up after this long (the cluster is stopped)")
	flag.Parse()
	if err := run(*gantry, *oc, *script, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// adminPassword finds the password `gantry start` printed for the admin user, if it did.
var adminPassword = regexp.MustCompile(`Created user "admin" with password "([^"]+)"`)

func run(gantry, oc, script string, timeout time.Duration) error {
	if oc == "" {
		return errors.New("no oc binary given\nTry: -oc /path/to/oc (build it from a clone of github.com/openshift/oc)")
	}
	ocPath, err := filepath.Abs(oc)
	if err != nil {
		return err
	}
	if _, err := os.Stat(ocPath); err != nil {
		return fmt.Errorf("oc binary: %w", err)
	}
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("checks: %w\nTry: run it from the repository root", err)
	}
	if gantry == "" {
		gantry = os.Getenv("GANTRY_BIN")
	}
	if gantry == "" {
		gantry = "bin/gantry"
	}
	bin, err := filepath.Abs(gantry)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("gantry binary: %w\nTry: make build", err)
	}
	os.Setenv("GANTRY_BIN", bin)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c, stopCluster, err := harness.StartLocked(ctx, "gantry-oc-compat-", logf)
	if err != nil {
		return fmt.Errorf("start a cluster: %w", err)
	}
	defer stopCluster()

	// A pushed image for the checks of tags of a real image (the script runs without a container engine).
	const imageProject = "oc-compat-images"
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: imageProject}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create project %s: %w", imageProject, err)
	}
	logf("pushing %s/echo:v1", imageProject)
	if _, err := harness.PushEchoImage(ctx, c, imageProject, "v1"); err != nil {
		return fmt.Errorf("push an image to %s: %w", imageProject, err)
	}

	version, _ := exec.Command(ocPath, "version", "--client").CombinedOutput()
	logf("oc: %s", version)
	cmd := exec.CommandContext(ctx, "bash", script, ocPath, c.DataDir)
	cmd.Env = append(os.Environ(), "OC_COMPAT_IMAGE="+imageProject+"/echo:v1")
	if m := adminPassword.FindStringSubmatch(c.Output()); m != nil {
		cmd.Env = append(cmd.Env, "OC_USER=admin", "OC_PASSWORD="+m[1])
	} else {
		logf("no admin password in gantry start's output: oc login is not checked")
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	logf("running %s %s %s", script, ocPath, c.DataDir)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run %s: %w", script, err)
	}
	return nil
}
