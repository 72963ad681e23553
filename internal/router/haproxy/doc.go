// Package haproxy is the HAProxy data plane of Gantry's router: the
// comparison point for Gantry's own proxy and an option for users who want
// OpenShift 3's router as it was (`gantry router --backend=haproxy`).
//
// It drives Debian's haproxy 2.6 the way OpenShift's template router does.
// A model.Table is turned into a view (backends, servers, host maps, TLS
// files) and rendered with text/template into haproxy.cfg: frontend public
// for plain HTTP, public_ssl (TCP) that sends passthrough SNI names to their
// backends and everything else through a unix socket to fe_sni (edge and
// reencrypt, certificates from a crt-list) or fe_no_sni (the default
// certificate), one backend per route with a server per endpoint. Hosts are
// looked up in map files in one of two modes: OpenShift's regex map
// (map_reg over `base`, os_http_be.map style), whose cost grows with the
// route count, and an exact map (map_str on host+path, then map_beg for
// path prefixes), which does not.
//
// haproxy runs as a child in master-worker mode (-W -S). Reloads are
// expensive (0.5-1.6 s at 10,000 routes on the dev VM) and were the
// OpenShift router's biggest operational problem, so the data plane reloads
// only when the rendered configuration changes: a route added or removed,
// or one whose backend settings change. Endpoint changes go through the
// runtime API instead: every backend has pre-allocated server slots (a
// multiple of Options.SlotStep per service) that are re-pointed with `set
// server ADDR addr/port/weight/state`, and a route whose host or path
// changes only gets its map entries replaced (prepare/add/commit map), both
// without a reload. Reloads are seamless: the stats socket has `expose-fd
// listeners`, so the new worker takes the listening sockets over and no
// connection is refused.
package haproxy
