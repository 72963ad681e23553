package images

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// libraryDirs are where the dynamic loader of a Debian x86-64 system finds shared libraries.
var libraryDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// runtimeLayer returns a layer holding what the dynamically linked executable bin needs to start
// in an otherwise empty image: its ELF interpreter and the shared libraries it (and they) import,
// copied from this machine at their usual paths. A static executable needs none: nil, nil.
// A file that is not ELF (tests package stand-ins) needs none either.
func runtimeLayer(bin string) (v1.Layer, error) {
	if !isELF(bin) {
		return nil, nil
	}
	files, err := runtimeFiles(bin)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeFilesTar(&buf, files); err != nil {
		return nil, err
	}
	blob := buf.Bytes()
	digest, size, err := v1.SHA256(bytes.NewReader(blob))
	if err != nil {
		return nil, fmt.Errorf("hash runtime layer: %w", err)
	}
	return &uncompressedLayer{digest: digest, size: size, open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}}, nil
}

// runtimeFiles lists the absolute paths of bin's interpreter and shared libraries, transitively.
func runtimeFiles(bin string) ([]string, error) {
	seen := map[string]bool{}
	var files []string
	queue := []string{bin}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		f, err := elf.Open(cur)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", cur, err)
		}
		interp := ""
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b, err := io.ReadAll(p.Open())
				if err != nil {
					f.Close()
					return nil, fmt.Errorf("read the interpreter of %s: %w", cur, err)
				}
				interp = strings.TrimRight(string(b), "\x00")
			}
		}
		libs, err := f.ImportedLibraries()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read the libraries of %s: %w", cur, err)
		}
		if interp != "" && !seen[interp] {
			seen[interp] = true
			files = append(files, interp)
		}
		for _, lib := range libs {
			p, err := findLibrary(lib)
			if err != nil {
				return nil, fmt.Errorf("%s needs %s: %w", cur, lib, err)
			}
			if !seen[p] {
				seen[p] = true
				files = append(files, p)
				queue = append(queue, p)
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

func findLibrary(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range libraryDirs {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %s", strings.Join(libraryDirs, ", "))
}

// writeFilesTar writes a layer tar holding each file's content (symbolic links followed) at its
// own path, with parent directories and fixed metadata, so the digest depends on content only.
func writeFilesTar(w io.Writer, files []string) error {
	epoch := time.Unix(0, 0)
	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	for _, file := range files {
		name := strings.TrimPrefix(path.Clean(file), "/")
		var parents []string
		for dir := path.Dir(name); dir != "." && !dirs[dir]; dir = path.Dir(dir) {
			parents = append([]string{dir}, parents...)
		}
		for _, dir := range parents {
			dirs[dir] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return fmt.Errorf("write tar entry %s: %w", dir, err)
			}
		}
		content, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(content)), ModTime: epoch}); err != nil {
			return fmt.Errorf("write tar entry %s: %w", name, err)
		}
		if _, err := tw.Write(content); err != nil {
			return fmt.Errorf("write tar entry %s: %w", name, err)
		}
	}
	return tw.Close()
}

func isELF(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == elf.ELFMAG
}
