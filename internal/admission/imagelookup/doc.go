// Package imagelookup is the mutating admission webhook that resolves image stream names in
// pods and pod templates, as OpenShift's image policy admission does for lookupPolicy.local.
//
// A container image that is a bare name — "myapp", "myapp:v1" or "myapp@sha256:..." — and names
// an image stream of the object's own project is rewritten to the pull spec of that stream's
// tag (or image) when the stream has spec.lookupPolicy.local, or when the object or its pod
// template is annotated alpha.image.policy.openshift.io/resolve-names: "*". The pull spec is
// the tag's current dockerImageReference pinned to its digest, or, for a tag with referencePolicy
// Local, the stream's repository in the integrated registry with the digest. References with a
// registry host or any "/" are never rewritten, and an image that does not resolve is left as
// it is.
//
// Handler serves the webhook (AdmissionReview in, JSON patch out); ParseWorkload and
// PodSpecImages say where each kind keeps its images; Resolve and StreamReference are the
// resolution itself, over the Streams interface (CachedStreams: an informer with a live read on
// a miss).
package imagelookup
