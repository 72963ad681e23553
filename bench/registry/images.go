package main

import (
	"archive/tar"
	"bytes"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The benchmark's images are OCI image manifests whose layers are uncompressed tar archives
// (application/vnd.oci.image.layer.v1.tar) of one file of random bytes: nobody compresses or
// decompresses anything, so the client spends its CPU on the transfer and the registries' work,
// and random bytes would not compress anyway.

// tarOverhead is what a one-file tar archive adds to its file: a 512-byte header and the 1024-byte
// end-of-archive marker (the file is a whole number of 512-byte blocks, so it needs no padding).
const tarOverhead = 512 + 1024

// source makes random bytes fast (ChaCha8 from a random seed); its content is distinct per call.
type source struct{ r *rand.ChaCha8 }

func newSource() source {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails on Linux
	return source{rand.NewChaCha8(seed)}
}

// layer is an uncompressed tar layer of exactly size bytes (a multiple of 512, at least 2048)
// holding one file of random content; its digest is computed here, before anything is timed.
func (s source) layer(size int) (v1.Layer, error) {
	if size%512 != 0 || size < tarOverhead+512 {
		return nil, fmt.Errorf("layer size %d: want a multiple of 512 of at least %d", size, tarOverhead+512)
	}
	content := make([]byte, size-tarOverhead)
	_, _ = s.r.Read(content)
	var b bytes.Buffer
	b.Grow(size)
	tw := tar.NewWriter(&b)
	hdr := &tar.Header{Name: "data", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if b.Len() != size {
		return nil, fmt.Errorf("layer is %d bytes, want %d", b.Len(), size)
	}
	l := static.NewLayer(b.Bytes(), types.OCIUncompressedLayer)
	if _, err := l.Digest(); err != nil {
		return nil, err
	}
	return l, nil
}

// image is an OCI image of the given layers whose configuration carries id (so configurations
// differ too). Its manifest and digests are computed here, before anything is timed.
func image(id string, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		OS: "linux", Architecture: "amd64",
		Config: v1.Config{Labels: map[string]string{"dev.gantry.bench": id}},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		return nil, err
	}
	if _, err := img.Digest(); err != nil {
		return nil, err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return nil, err
	}
	return img, nil
}
