// Package watch is the router's control plane: it watches routes, services,
// EndpointSlices and (with a namespace selector) namespaces through shared
// informers, and turns every change into a new model.Table handed whole to
// each data plane.
//
// Informer handlers only mark what changed and wake the rebuild loop; they
// never run a build or call a data plane, so a slow data plane cannot stall
// the watch. The loop coalesces bursts: it rebuilds at once when it has been
// idle, and otherwise at most once per MinInterval, so a create after a quiet
// spell is served after one build, while a flood of status writes or
// endpoint changes costs a few builds a second rather than one per event.
//
// Rebuilds are incremental where it pays at 10,000 routes: a change of
// endpoints or services alone keeps the previous Snapshot (routes are only
// rebuilt when routes or namespaces changed, and the model.Builder reuses
// the admission of every unchanged route version), and only the services
// that changed are merged again from their EndpointSlices. The Endpoints of
// a Table hold only the services admitted routes send traffic to.
//
// The informer caches hold what Trim keeps of each object, when the
// factories are created with it as their transform (the router's are):
// no managedFields, and of services, EndpointSlices and namespaces only
// the fields the router reads. BenchmarkHeapPerRoute10000 measures the
// heap this saves.
//
// The status changes each route build yields go to a StatusSink (the
// status package's Writer), which is level-based: each Sync replaces what is
// still to be written.
package watch
