// Package imagemeta turns a registry manifest (and its image configuration) into the Image object
// of image.openshift.io/v1, with the metadata users see in `describe` and that builds and
// deployments read: layers, environment, entrypoint, labels, ports, architecture.
package imagemeta

import (
	"bytes"
	"encoding/json"
	"fmt"

	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func isIndex(mediaType string) bool {
	return mediaType == string(types.OCIImageIndex) || mediaType == string(types.DockerManifestList)
}

func isManifest(mediaType string) bool {
	return mediaType == string(types.OCIManifestSchema1) || mediaType == string(types.DockerManifestSchema2)
}

// IsPlatformImage reports whether an index entry is an image to run: it names a platform, and
// not the "unknown/unknown" one under which builders attach attestations. Only these entries
// are recorded in an index's Image (as OpenShift does); the others are no image to run.
func IsPlatformImage(d ggcrv1.Descriptor) bool {
	p := d.Platform
	return p != nil && p.Architecture != "" && p.OS != "" && p.Architecture != "unknown" && p.OS != "unknown"
}

// ConfigDigest returns the config descriptor digest of a single-image manifest ("" for an index).
func ConfigDigest(mediaType string, manifest []byte) (string, error) {
	switch {
	case isIndex(mediaType):
		return "", nil
	case isManifest(mediaType):
		m, err := ggcrv1.ParseManifest(bytes.NewReader(manifest))
		if err != nil {
			return "", fmt.Errorf("parse %s manifest: %w", mediaType, err)
		}
		return m.Config.Digest.String(), nil
	}
	return "", fmt.Errorf("unsupported manifest media type %q: want an OCI or Docker schema 2 image manifest or index", mediaType)
}

// Image builds the Image object for a manifest. Its name is the manifest's digest; ref is its pull
// spec (e.g. "host/ns/stream@sha256:..."). config is the raw image configuration (nil for an
// index); its digest must match the manifest's config descriptor.
func Image(mediaType string, manifest, config []byte, ref string) (*imagev1.Image, error) {
	img := &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: digest.FromBytes(manifest).String()},
		DockerImageReference:         ref,
		DockerImageManifestMediaType: mediaType,
		DockerImageMetadataVersion:   "1.0",
	}
	switch {
	case isIndex(mediaType):
		idx, err := ggcrv1.ParseIndexManifest(bytes.NewReader(manifest))
		if err != nil {
			return nil, fmt.Errorf("parse %s index: %w", mediaType, err)
		}
		// Only the platform images of an index are recorded, as OpenShift does: entries without
		// a platform (nested indexes, artifacts, attestations) are no image to run.
		for _, m := range idx.Manifests {
			if !IsPlatformImage(m) {
				continue
			}
			p := m.Platform
			img.DockerImageManifests = append(img.DockerImageManifests, imagev1.ImageManifest{
				Digest: m.Digest.String(), MediaType: string(m.MediaType), ManifestSize: m.Size,
				Architecture: p.Architecture, OS: p.OS, Variant: p.Variant,
			})
		}
		return img, nil
	case isManifest(mediaType):
	default:
		return nil, fmt.Errorf("unsupported manifest media type %q: want an OCI or Docker schema 2 image manifest or index", mediaType)
	}
	m, err := ggcrv1.ParseManifest(bytes.NewReader(manifest))
	if err != nil {
		return nil, fmt.Errorf("parse %s manifest: %w", mediaType, err)
	}
	if config == nil {
		return nil, fmt.Errorf("image %s: no image configuration given", img.Name)
	}
	if got := digest.FromBytes(config).String(); got != m.Config.Digest.String() {
		return nil, fmt.Errorf("image %s: the configuration has digest %s, the manifest names %s", img.Name, got, m.Config.Digest)
	}
	cf, err := ggcrv1.ParseConfigFile(bytes.NewReader(config))
	if err != nil {
		return nil, fmt.Errorf("image %s: parse the image configuration: %w", img.Name, err)
	}
	// Size is what a pull downloads: the configuration and each distinct layer once (an image may
	// list the same layer twice, e.g. two identical empty layers).
	size := m.Config.Size
	seen := map[ggcrv1.Hash]bool{}
	for _, l := range m.Layers {
		img.DockerImageLayers = append(img.DockerImageLayers, imagev1.ImageLayer{Name: l.Digest.String(), LayerSize: l.Size, MediaType: string(l.MediaType)})
		if !seen[l.Digest] {
			seen[l.Digest] = true
			size += l.Size
		}
	}
	// The configuration of images built by docker also holds the container the image was
	// committed from; go-containerregistry's ConfigFile drops it, OpenShift shows it.
	var legacy struct {
		Container       string         `json:"container,omitempty"`
		ContainerConfig *ggcrv1.Config `json:"container_config,omitempty"`
	}
	if err := json.Unmarshal(config, &legacy); err != nil {
		return nil, fmt.Errorf("image %s: parse the image configuration: %w", img.Name, err)
	}
	meta := docker10.DockerImage{
		TypeMeta:      metav1.TypeMeta{Kind: "DockerImage", APIVersion: "image.openshift.io/1.0"},
		ID:            m.Config.Digest.String(),
		Created:       metav1.NewTime(cf.Created.Time),
		Architecture:  cf.Architecture,
		Author:        cf.Author,
		DockerVersion: cf.DockerVersion,
		Container:     legacy.Container,
		Size:          size,
		Config:        dockerConfig(cf.Config),
	}
	if legacy.ContainerConfig != nil {
		meta.ContainerConfig = *dockerConfig(*legacy.ContainerConfig)
	}
	raw, err := json.Marshal(&meta)
	if err != nil {
		return nil, err
	}
	img.DockerImageMetadata = runtime.RawExtension{Raw: raw}
	return img, nil
}

func dockerConfig(c ggcrv1.Config) *docker10.DockerConfig {
	dc := &docker10.DockerConfig{
		Hostname: c.Hostname, Domainname: c.Domainname, User: c.User,
		Tty: c.Tty, OpenStdin: c.OpenStdin, StdinOnce: c.StdinOnce,
		Env: c.Env, Cmd: c.Cmd, Image: c.Image, WorkingDir: c.WorkingDir,
		Entrypoint: c.Entrypoint, NetworkDisabled: c.NetworkDisabled, OnBuild: c.OnBuild,
		Labels: c.Labels,
	}
	if len(c.ExposedPorts) > 0 {
		dc.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			dc.ExposedPorts[p] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		dc.Volumes = map[string]struct{}{}
		for v := range c.Volumes {
			dc.Volumes[v] = struct{}{}
		}
	}
	return dc
}
