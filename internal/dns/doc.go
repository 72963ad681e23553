// Package dns is the cluster DNS server that runs inside the gantry master.
//
// It answers from the services and EndpointSlices that client-go informers
// keep in memory, and is authoritative for the cluster domain (cluster.local
// unless configured otherwise). With the default domain it serves:
//
//	<service>.<namespace>.svc.cluster.local
//	    A/AAAA: the service's cluster IPs; for a headless service (clusterIP
//	    None) the addresses of its ready endpoints; for an ExternalName
//	    service a CNAME to the external name.
//	<anything>.<service>.<namespace>.svc.cluster.local
//	    wildcard: resolves like the service itself.
//	<endpoint>.<service>.<namespace>.svc.cluster.local
//	    for a headless service, the address of the ready endpoint whose
//	    hostname is <endpoint> or, without a hostname, whose address written
//	    with dashes (10-1-2-3) is <endpoint>. It takes precedence over the
//	    wildcard.
//	_<port>._<proto>.<service>.<namespace>.svc.cluster.local
//	    SRV: the named port, targeting the service name, or for a headless
//	    service each endpoint's name, with the targets' addresses in the
//	    additional section. An SRV query on the service name itself returns
//	    all its ports.
//	<service>.<namespace>.endpoints.cluster.local
//	    A/AAAA: the addresses of all ready endpoints of the service.
//	<a-b-c-d>.<namespace>.pod.cluster.local
//	    A: the address a.b.c.d (IPv6 addresses with dashes for colons).
//	<reversed cluster IP>.in-addr.arpa (and ip6.arpa)
//	    PTR: <service>.<namespace>.svc.cluster.local.
//
// Any other name in the domain, such as <namespace>.cluster.local, does not
// exist (NXDOMAIN); an existing name without records of the asked type gets
// an empty NOERROR answer. Both carry the domain's SOA in the authority
// section. Names outside the domain, and reverse names of addresses that are
// not cluster IPs, are forwarded to the configured upstream resolvers; when
// there are none or none answers in time, the reply is SERVFAIL.
package dns
