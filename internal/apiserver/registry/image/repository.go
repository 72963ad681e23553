package image

import (
	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RepositoryDecorator returns a store decorator that fills
// status.dockerImageRepository (and publicDockerImageRepository) of image
// streams with their repository in the integrated registry,
// <host>/<namespace>/<name>, on every read, as OpenShift does: the registry
// name is configuration, not stored state, so changing it changes every
// stream at once. An empty internal host leaves streams as stored.
func RepositoryDecorator(internal, public string) func(runtime.Object) {
	decorate := func(s *imagev1.ImageStream) {
		if internal != "" {
			s.Status.DockerImageRepository = internal + "/" + s.Namespace + "/" + s.Name
		}
		if public != "" {
			s.Status.PublicDockerImageRepository = public + "/" + s.Namespace + "/" + s.Name
		}
	}
	return func(obj runtime.Object) {
		switch o := obj.(type) {
		case *imagev1.ImageStream:
			decorate(o)
		case *imagev1.ImageStreamList:
			for i := range o.Items {
				decorate(&o.Items[i])
			}
		}
	}
}
