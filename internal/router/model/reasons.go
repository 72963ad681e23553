package model

// Reasons written to the Admitted=False condition of a route's ingress entry
// for this router. They are fixed strings: users and tools match on them.
const (
	// ReasonHostAlreadyClaimed: an older route holds the host and path, or
	// another namespace holds the host (or its subdomain, for wildcards).
	ReasonHostAlreadyClaimed = "HostAlreadyClaimed"
	// ReasonInvalidHost: the host is missing or is not a valid DNS name.
	ReasonInvalidHost = "InvalidHost"
	// ReasonInvalidPath: the path is malformed or set on a passthrough route.
	ReasonInvalidPath = "InvalidPath"
	// ReasonExtendedValidationFailed: the TLS configuration or material is
	// wrong (PEM that does not parse, a key that does not match its
	// certificate, a certificate that does not chain to caCertificate, a
	// field the termination does not allow).
	ReasonExtendedValidationFailed = "ExtendedValidationFailed"
	// ReasonRouteNotAdmitted: the router's policy refuses the route, such as a
	// wildcard route on a router that does not allow them.
	ReasonRouteNotAdmitted = "RouteNotAdmitted"
	// ReasonInvalidAnnotation: a router annotation has a value the router
	// cannot honour.
	ReasonInvalidAnnotation = "InvalidAnnotation"
	// ReasonInvalidRoute: another part of the spec is invalid (backends,
	// port, headers); the API server normally refuses these already.
	ReasonInvalidRoute = "InvalidRoute"
)
