package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
)

// API is what Run changes through the image API.
type API interface {
	GetStream(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error)
	// UpdateStreamStatus writes the stream's status (imagestreams/status).
	UpdateStreamStatus(ctx context.Context, s *imagev1.ImageStream) error
	DeleteImage(ctx context.Context, name string) error
}

// Registry is what Run deletes in the integrated registry. A deletion of something that is
// already gone returns an error wrapping ErrNotFound, which Run counts as done.
type Registry interface {
	DeleteManifest(ctx context.Context, repo, digest string) error
	DeleteLayerLink(ctx context.Context, repo, digest string) error
	DeleteBlob(ctx context.Context, digest string) error
}

// ErrNotFound says that what was to be deleted is not there (any more).
var ErrNotFound = errors.New("not found")

// Result counts what Run deleted (or, in a dry run, would delete).
type Result struct {
	Streams, Images, Manifests, LayerLinks, Blobs int
	// BlobBytes is the size of the deleted blobs whose size is known.
	BlobBytes int64
	// Failures are the deletions that failed; what depends on them was left in place.
	Failures []error
}

// Run carries out the plan in OpenShift's order: stream tag histories, registry manifests,
// layer links and blobs, Image objects. With api and reg nil it is a dry run: it prints what it
// would delete and changes nothing. It prints what it deletes to out, as `oc adm prune images`
// does, and each failure to errOut; an image whose stream, manifest, link or blob could not be
// removed keeps its blobs and its Image object, so that a later run finishes the work.
func Run(ctx context.Context, plan *Plan, api API, reg Registry, out, errOut io.Writer) Result {
	var res Result
	dry := api == nil
	fail := func(err error) {
		res.Failures = append(res.Failures, err)
		fmt.Fprintln(errOut, err)
	}
	pruning := slices.Clone(plan.Prune)
	drop := func(names ...string) {
		pruning = slices.DeleteFunc(pruning, func(n string) bool { return slices.Contains(names, n) })
	}

	// 1. Tag histories: once no stream names an image, nothing can pull it by tag any more.
	for _, sc := range plan.Streams {
		updated, deleted := sc.Updated, sc.Deleted
		var last *imagev1.ImageStream // as last read, before trimming
		err := error(nil)
		if !dry {
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				s, err := api.GetStream(ctx, sc.Namespace, sc.Name)
				if err != nil {
					return err
				}
				last = s.DeepCopy()
				// Tagged again since the listing: in use, not to be pruned.
				drop(sc.Retagged(s, pruning)...)
				if updated, deleted = plan.Trim(s, pruning); len(updated)+len(deleted) == 0 {
					return nil
				}
				return api.UpdateStreamStatus(ctx, s)
			})
		}
		switch {
		case apierrors.IsNotFound(err):
			continue // deleted meanwhile: it names nothing any more
		case err != nil:
			// Whatever this stream still names stays, with its content.
			drop(sc.names...)
			if last != nil {
				drop(plan.InStream(last, pruning)...)
			}
			fail(fmt.Errorf("update image stream %s/%s to remove pruned images from its tags: %w", sc.Namespace, sc.Name, err))
			continue
		}
		if len(updated) > 0 {
			fmt.Fprintf(out, "Updating istags %s/%s: %s\n", sc.Namespace, sc.Name, strings.Join(updated, ", "))
		}
		if len(deleted) > 0 {
			fmt.Fprintf(out, "Deleting istags %s/%s: %s\n", sc.Namespace, sc.Name, strings.Join(deleted, ", "))
		}
		if len(updated)+len(deleted) > 0 {
			res.Streams++
		}
	}

	if plan.opts.Namespace != "" {
		return res // only the project's tag histories
	}

	// 2. Manifests, in every repository holding them.
	rp := plan.RegistryFor(pruning)
	t := newTable(out, "Deleting registry repository manifest data ...", "REPO\tIMAGE")
	for _, m := range rp.Manifests {
		t.row(m.Repo + "\t" + m.Digest)
		if !dry {
			if err := reg.DeleteManifest(ctx, m.Repo, m.Digest); err != nil && !errors.Is(err, ErrNotFound) {
				drop(m.Digest)
				fail(fmt.Errorf("delete manifest %s from repository %s: %w", m.Digest, m.Repo, err))
				continue
			}
		}
		res.Manifests++
	}
	t.flush()

	// 3. Blobs no remaining image uses: first their links in each repository (so that no
	// repository claims a blob whose data is gone), then their data.
	rp = plan.RegistryFor(pruning)
	var failedBlobs []string
	t = newTable(out, "Deleting registry repository layer links ...", "REPO\tLAYER LINK")
	for _, l := range rp.LayerLinks {
		t.row(l.Repo + "\t" + l.Digest)
		if !dry {
			if err := reg.DeleteLayerLink(ctx, l.Repo, l.Digest); err != nil && !errors.Is(err, ErrNotFound) {
				failedBlobs = append(failedBlobs, l.Digest)
				fail(fmt.Errorf("delete layer link %s from repository %s: %w", l.Digest, l.Repo, err))
				continue
			}
		}
		res.LayerLinks++
	}
	t.flush()
	t = newTable(out, "Deleting blobs ...", "BLOB\tSIZE")
	for _, b := range rp.Blobs {
		if slices.Contains(failedBlobs, b.Digest) {
			drop(plan.UsersOf(b.Digest, pruning)...)
			continue
		}
		t.row(b.Digest + "\t" + HumanSize(b.Size))
		if !dry {
			if err := reg.DeleteBlob(ctx, b.Digest); err != nil && !errors.Is(err, ErrNotFound) {
				drop(plan.UsersOf(b.Digest, pruning)...)
				fail(fmt.Errorf("delete blob %s from the registry storage: %w", b.Digest, err))
				continue
			}
		}
		res.Blobs++
		if b.Size > 0 {
			res.BlobBytes += b.Size
		}
	}
	t.flush()

	// 4. The Image objects.
	t = newTable(out, "Deleting images from server ...", "IMAGE")
	for _, name := range pruning {
		t.row(name)
		if !dry {
			if err := api.DeleteImage(ctx, name); err != nil && !apierrors.IsNotFound(err) {
				fail(fmt.Errorf("delete image %s from the server: %w", name, err))
				continue
			}
		}
		res.Images++
	}
	t.flush()
	return res
}

// Summary is the last line of the command's output.
func (r Result) Summary(dry bool) string {
	verb := "Deleted"
	if dry {
		verb = "Would delete"
	}
	s := fmt.Sprintf("%s %s, %s, %s, %s and %s (%s freed)", verb, count(r.Images, "image"), count(r.Streams, "image stream update"),
		count(r.Manifests, "manifest"), count(r.LayerLinks, "layer link"), count(r.Blobs, "blob"), HumanSize(r.BlobBytes))
	if dry {
		s = strings.Replace(s, "freed", "to free", 1)
	}
	if len(r.Failures) > 0 {
		s += fmt.Sprintf("; %d deletions failed", len(r.Failures))
	}
	return "Summary: " + s + "."
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// HumanSize prints a byte count as oc does (1.5 MiB); "-" for an unknown size.
func HumanSize(n int64) string {
	if n < 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// table prints a titled, aligned section, only when it has rows.
type table struct {
	out           io.Writer
	title, header string
	tw            *tabwriter.Writer
}

func newTable(out io.Writer, title, header string) *table {
	return &table{out: out, title: title, header: header}
}

func (t *table) row(r string) {
	if t.tw == nil {
		fmt.Fprintf(t.out, "\n%s\n", t.title)
		t.tw = tabwriter.NewWriter(t.out, 10, 4, 3, ' ', 0)
		fmt.Fprintln(t.tw, t.header)
	}
	fmt.Fprintln(t.tw, r)
}

func (t *table) flush() {
	if t.tw != nil {
		_ = t.tw.Flush()
	}
}
