package images

import (
	"archive/tar"
	"io"
	"os"
	"strings"
	"testing"
)

// The test binary itself is an ELF executable: its runtime layer holds its interpreter and
// libraries when it is dynamically linked, and nothing when static; a non-ELF file needs none.
func TestRuntimeLayer(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files, err := runtimeFiles(exe)
	if err != nil {
		t.Fatal(err)
	}
	l, err := runtimeLayer(exe)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		if l != nil {
			t.Fatal("a static executable got a runtime layer")
		}
		return
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	names := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names["/"+strings.TrimSuffix(h.Name, "/")] = true
	}
	for _, f := range files {
		if !names[f] {
			t.Errorf("runtime layer lacks %s (has %v)", f, names)
		}
	}
	script := t.TempDir() + "/script"
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if l, err := runtimeLayer(script); l != nil || err != nil {
		t.Errorf("a non-ELF file: %v %v", l, err)
	}
}
