package images

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"k8s.io/klog/v2"
)

// layerMediaType is the media type of every layer built here: an uncompressed tar. The gantry
// binary is large and only ever travels over loopback, so compressing it would cost seconds of
// CPU at every start and save nothing. containerd (1.6 and later) unpacks uncompressed OCI layers.
const layerMediaType = types.OCIUncompressedLayer

// uncompressedLayer is a v1.Layer whose blob is an uncompressed tar: its digest is also its
// DiffID, and the compressed and uncompressed streams are the same bytes.
type uncompressedLayer struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

func (l *uncompressedLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *uncompressedLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *uncompressedLayer) Compressed() (io.ReadCloser, error)   { return l.open() }
func (l *uncompressedLayer) Uncompressed() (io.ReadCloser, error) { return l.open() }
func (l *uncompressedLayer) Size() (int64, error)                 { return l.size, nil }
func (l *uncompressedLayer) MediaType() (types.MediaType, error)  { return layerMediaType, nil }

// writeLayerTar writes a layer tar holding one executable file at name (a slash-separated path
// without leading slash) with size bytes read from r, preceded by entries for its parent
// directories. Every entry has fixed metadata (mtime at the Unix epoch, root owner, no user or
// group names), so the tar, and thus the layer digest, depends only on name and content.
func writeLayerTar(w io.Writer, name string, size int64, r io.Reader) error {
	epoch := time.Unix(0, 0)
	tw := tar.NewWriter(w)
	var dirs []string
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		dirs = append([]string{dir}, dirs...)
	}
	for _, dir := range dirs {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir,
			Name:     dir + "/",
			Mode:     0o755,
			ModTime:  epoch,
		}); err != nil {
			return fmt.Errorf("write tar entry %s: %w", dir, err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o755,
		Size:     size,
		ModTime:  epoch,
	}); err != nil {
		return fmt.Errorf("write tar entry %s: %w", name, err)
	}
	if _, err := io.Copy(tw, r); err != nil {
		return fmt.Errorf("write tar entry %s: %w", name, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write tar entry %s: %w", name, err)
	}
	return nil
}

// memoryLayer builds, in memory, the layer holding content as an executable at name.
func memoryLayer(name string, content []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := writeLayerTar(&buf, name, int64(len(content)), bytes.NewReader(content)); err != nil {
		return nil, err
	}
	blob := buf.Bytes()
	digest, size, err := v1.SHA256(bytes.NewReader(blob))
	if err != nil {
		return nil, fmt.Errorf("hash layer: %w", err)
	}
	return &uncompressedLayer{
		digest: digest,
		size:   size,
		open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
	}, nil
}

// cacheFormat is part of every cache key: change it when the layer tar layout changes, so that
// layers cached by an older Gantry are rebuilt.
const cacheFormat = "1"

// cachePrefix starts the name of every file the binary layer cache writes in the cache directory.
const cachePrefix = "gantry-layer-"

// cacheEntry is the metadata of a cached layer tar, stored next to it.
type cacheEntry struct {
	Digest v1.Hash `json:"digest"`
	Size   int64   `json:"size"`
}

// cachedBinaryLayer returns the layer holding the executable at bin as /usr/bin/gantry, backed by
// a tar file in cacheDir. The cache key is derived from bin's path and stat information: when a
// cached tar matches, only bin and the cache files are stat'ed and the small metadata file read;
// otherwise the tar is written and hashed once, and entries for other binaries are removed.
func cachedBinaryLayer(bin, cacheDir string) (v1.Layer, error) {
	fi, err := os.Stat(bin)
	if err != nil {
		return nil, fmt.Errorf("stat binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("binary %s: not a regular file", bin)
	}
	key := fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", cacheFormat, bin, fi.Size(), fi.ModTime().UnixNano())
	// Size and modification time alone miss a binary rebuilt to the same size by a tool that
	// fixes or preserves modification times (reproducible builds, cp -p): the inode changes when
	// a new file is renamed over the old one, the change time whenever the file is written.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key = fmt.Appendf(key, "\x00%d\x00%d\x00%d.%09d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
	}
	sum := sha256.Sum256(key)
	base := filepath.Join(cacheDir, cachePrefix+hex.EncodeToString(sum[:16]))
	tarPath, metaPath := base+".tar", base+".json"

	entry, err := readCacheEntry(tarPath, metaPath)
	if err != nil {
		klog.V(2).InfoS("Building binary layer", "binary", bin, "cache", tarPath, "reason", err)
		if entry, err = buildCacheEntry(bin, fi.Size(), tarPath, metaPath); err != nil {
			return nil, fmt.Errorf("build layer for %s: %w", bin, err)
		}
		klog.InfoS("Built binary layer", "binary", bin, "digest", entry.Digest, "size", entry.Size)
		removeStaleEntries(cacheDir, tarPath, metaPath)
	}
	return &uncompressedLayer{
		digest: entry.Digest,
		size:   entry.Size,
		open:   func() (io.ReadCloser, error) { return os.Open(tarPath) },
	}, nil
}

// readCacheEntry returns the metadata of the cached tar, or an error saying why it is unusable.
func readCacheEntry(tarPath, metaPath string) (cacheEntry, error) {
	var entry cacheEntry
	meta, err := os.ReadFile(metaPath)
	if err != nil {
		return entry, err
	}
	if err := json.Unmarshal(meta, &entry); err != nil {
		return entry, fmt.Errorf("parse %s: %w", metaPath, err)
	}
	fi, err := os.Stat(tarPath)
	if err != nil {
		return entry, err
	}
	if fi.Size() != entry.Size {
		return entry, fmt.Errorf("%s: size %d, want %d", tarPath, fi.Size(), entry.Size)
	}
	return entry, nil
}

// buildCacheEntry writes the layer tar of bin (size bytes long) to tarPath and its metadata to
// metaPath, each through a temporary file renamed into place, and returns the metadata.
func buildCacheEntry(bin string, size int64, tarPath, metaPath string) (cacheEntry, error) {
	var entry cacheEntry
	src, err := os.Open(bin)
	if err != nil {
		return entry, err
	}
	defer src.Close()

	h := sha256.New()
	counter := &countingWriter{}
	err = writeFileAtomic(tarPath, func(f *os.File) error {
		return writeLayerTar(io.MultiWriter(f, h, counter), BinaryPath[1:], size, io.LimitReader(src, size))
	})
	if err != nil {
		return entry, err
	}
	entry = cacheEntry{
		Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		Size:   counter.n,
	}
	meta, err := json.Marshal(entry)
	if err != nil {
		return entry, err
	}
	err = writeFileAtomic(metaPath, func(f *os.File) error {
		_, err := f.Write(meta)
		return err
	})
	return entry, err
}

// writeFileAtomic creates dst by calling write on a temporary file in the same directory, syncing
// it and renaming it to dst.
func writeFileAtomic(dst string, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), cachePrefix+"*.tmp")
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", dst, err), os.Remove(f.Name()))
	}
	return nil
}

// removeStaleEntries removes the cache files other than keep (layers of binaries that are no
// longer running, and temporary files left by an interrupted build), so that the cache holds one
// copy of the binary. Failures are only logged: a stale file wastes space, nothing else.
func removeStaleEntries(cacheDir string, keep ...string) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		klog.ErrorS(err, "List binary layer cache", "dir", cacheDir)
		return
	}
	for _, e := range entries {
		p := filepath.Join(cacheDir, e.Name())
		if !strings.HasPrefix(e.Name(), cachePrefix) || e.Type()&fs.ModeType != 0 || slices.Contains(keep, p) {
			continue
		}
		if err := os.Remove(p); err != nil {
			klog.ErrorS(err, "Remove stale binary layer cache file", "path", p)
		}
	}
}

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
