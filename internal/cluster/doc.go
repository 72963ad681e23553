// Package cluster runs the upstream Kubernetes components linked into the gantry binary.
//
// It is the only package that imports k8s.io/kubernetes, so that every other package's tests build
// without the Kubernetes tree. The control-plane components (kube-apiserver, kube-controller-manager,
// kube-scheduler) run inside the calling process: their command constructors install process-wide
// signal handlers, so this package parses their flags and calls their exported Run functions directly
// with the caller's context. The node components (kubelet, kube-proxy) own machine state that must be
// stopped before it is cleaned up, so they run as child processes of the same binary through the
// cobra commands returned here.
package cluster
