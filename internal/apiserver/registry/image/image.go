// Package image holds the strategy pieces of image.openshift.io/v1 for
// Gantry's aggregated API server: defaulting, validation, table output and
// selectable fields of the persisted resources images and imagestreams.
// The rules follow OpenShift's image validation; resolving registry host
// names and tracking tags across streams are left to the registry.
package image

import (
	imagev1 "github.com/openshift/api/image/v1"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// Group returns the image.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: imagev1.GroupVersion,
		Install:      imagev1.Install,
		Resources:    []resource.Definition{images(), imageStreams()},
	}
}
