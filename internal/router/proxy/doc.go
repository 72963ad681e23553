// Package proxy is Gantry's own HTTP data plane: the http.Handler the
// router's listeners (internal/router/front) serve every HTTP request with,
// whether it arrived as plain HTTP/1.1, h2c, or TLS terminated by the front
// for an edge or reencrypt route. Passthrough connections never reach it
// over TLS; the front forwards them undecrypted.
//
// The watcher hands the proxy whole model.Tables (Update). Update compiles a
// Table into an immutable state (routes by exact host and by wildcard
// subdomain, each with its weighted endpoints, policies and metrics) and
// swaps it in with one atomic store, so a request never waits for an update
// and an update never waits for traffic. What must outlive a swap lives
// outside the state and is carried over by identity: endpoints (their
// backend connection pool, in-flight count for leastconn, passive health)
// by address and TLS identity, and per-route round-robin positions and rate
// limit counters by namespace/name. An endpoint that leaves the Table keeps
// serving the requests already on it; its idle connections are closed.
//
// Requests are matched as OpenShift's HAProxy template router matches them:
// plain HTTP sees plain routes and TLS routes whose
// insecureEdgeTerminationPolicy is Allow or Redirect; TLS sees edge and
// reencrypt routes. Anything else, or a route without ready endpoints, gets
// the same small 503 page that names nothing of any tenant.
//
// The hot path avoids work per request that the Table can do once: host
// lookup is an exact map; HSTS and sticky cookie values are built once.
// Backends are reached through the package's own HTTP/1.1 transport
// (transport.go, wire_*.go) rather than http.Transport: per endpoint a
// stack of persistent connections with their own buffers; the request
// head is written straight from the client's request (target as received,
// hop-by-hop headers skipped, forwarding headers appended) without copying
// or modifying it; the response head is read into one string whose
// substrings become the client's header values; bodies are framed as RFC
// 9112 says and copied with pooled buffers; the route timeout is the
// connection's deadline, so there is no per-request goroutine, context or
// timer (a request body is the exception: it is copied by a goroutine so a
// backend that answers early cannot deadlock the exchange).
// docs/dev/router-proxy.md records what that costs per request.
package proxy
