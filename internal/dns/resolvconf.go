package dns

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/miekg/dns"
)

// UpstreamsFromResolvConf reads the nameservers of a resolv.conf-format file
// as host:53 addresses, skipping those whose IP is one of exclude, such as
// the DNS server's own listen addresses.
func UpstreamsFromResolvConf(path string, exclude ...string) ([]string, error) {
	conf, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read resolv.conf: %w", err)
	}
	var excluded []netip.Addr
	for _, ip := range exclude {
		if addr, err := netip.ParseAddr(ip); err == nil {
			excluded = append(excluded, addr.Unmap())
		}
	}
	var upstreams []string
	for _, server := range conf.Servers {
		if addr, err := netip.ParseAddr(server); err == nil && slices.Contains(excluded, addr.Unmap()) {
			continue
		}
		upstreams = append(upstreams, net.JoinHostPort(server, conf.Port))
	}
	return upstreams, nil
}
