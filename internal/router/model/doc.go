// Package model is the pure part of Gantry's router: it turns the routes and
// namespaces a router watches into an immutable Snapshot the data plane
// serves from, and into the status each route should carry for this router.
//
// Nothing here touches the network or the API server. A Builder takes the
// whole current set of routes and namespace labels (level-based, as a watcher
// sees them) and runs every route through a chain of small admission steps:
//
//   - shard: the route's labels must match the router's route selector and
//     its namespace's labels the namespace selector. A route that does not
//     match is not this router's; it is neither admitted nor rejected (a
//     stale status entry of this router is removed).
//   - host: a route without spec.host gets <name>-<namespace>.<suffix> when
//     the router has a default subdomain (GenerateHost, the same function the
//     API server calls), otherwise it is rejected with InvalidHost.
//   - validation: OpenShift's own route validation from library-go; host
//     errors become InvalidHost, path errors (including a path on a
//     passthrough route) InvalidPath, TLS structure errors (such as a
//     destinationCACertificate on an edge route) ExtendedValidationFailed.
//   - wildcard: wildcardPolicy Subdomain is refused with RouteNotAdmitted
//     unless the router allows wildcard routes.
//   - tls: certificate and key must parse and match, caCertificate and
//     destinationCACertificate must parse, and the certificate must chain to
//     caCertificate when one is given (ExtendedValidationFailed).
//   - annotations: the haproxy.router.openshift.io/* and
//     router.openshift.io/cookie_name annotations the data plane honours are
//     parsed; a bad value rejects the route with InvalidAnnotation.
//   - claims: among the routes that passed, the oldest (creationTimestamp,
//     then name, then namespace) wins a host and path. A namespace that holds
//     a host keeps it: a route of another namespace cannot take it, and with
//     wildcardPolicy Subdomain the claim covers the whole subdomain
//     (HostAlreadyClaimed).
//
// Invalid routes never claim a host, so a broken route cannot block a good
// one. The Snapshot maps exact hosts, and wildcard subdomains separately, to
// their routes sorted most specific path first; each route carries its
// termination, TLS material ready for a tls.Config, weighted backends and
// parsed options. Build also returns the status changes (admitted or not,
// reason, message) that differ from what the routes already carry for this
// router, for the status writer.
package model
