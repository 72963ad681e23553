package model

import (
	"fmt"
	"strings"
)

// claims decides host ownership among routes taken oldest first. A
// namespace holds an exact host through its oldest admitted route on it,
// and a subdomain through its oldest wildcard route; within a namespace,
// each host (or wildcard subdomain) and path goes to the oldest route.
type claims struct {
	hostNS   map[string]string         // exact host → namespace holding it
	domainNS map[string]string         // wildcard subdomain → namespace holding it
	inDomain map[string]map[string]int // subdomain → namespaces holding exact hosts directly under it
	paths    map[string]*candidate     // host or *.subdomain, NUL, path → route holding it
}

func newClaims() *claims {
	return &claims{hostNS: map[string]string{}, domainNS: map[string]string{}, inDomain: map[string]map[string]int{}, paths: map[string]*candidate{}}
}

// claim admits c (older routes have been offered already) or rejects it
// with HostAlreadyClaimed.
func (cl *claims) claim(c *candidate) *rejection {
	ns := c.route.Namespace
	var key, shown string
	if c.wildcard {
		if holder, ok := cl.domainNS[c.domain]; ok && holder != ns {
			return otherNamespace("*."+c.domain, c)
		}
		for holder := range cl.inDomain[c.domain] {
			if holder != ns {
				return &rejection{ReasonHostAlreadyClaimed, fmt.Sprintf("a route in another namespace holds a host under %s and is older than %s/%s; a wildcard route claims the whole subdomain", c.domain, ns, c.route.Name)}
			}
		}
		key, shown = "*."+c.domain, "*."+c.domain
	} else {
		if holder, ok := cl.hostNS[c.host]; ok && holder != ns {
			return otherNamespace(c.host, c)
		}
		parent := parentDomain(c.host)
		if holder, ok := cl.domainNS[parent]; ok && holder != ns {
			return &rejection{ReasonHostAlreadyClaimed, fmt.Sprintf("a wildcard route in another namespace holds *.%s and is older than %s/%s", parent, ns, c.route.Name)}
		}
		key, shown = c.host, c.host
	}
	pathKey := key + "\x00" + c.claimPath
	if holder, ok := cl.paths[pathKey]; ok {
		where := shown
		if c.claimPath != "" {
			where += " path " + c.claimPath
		}
		return &rejection{ReasonHostAlreadyClaimed, fmt.Sprintf("route %s/%s already exposes %s and is older", holder.route.Namespace, holder.route.Name, where)}
	}
	cl.paths[pathKey] = c
	if c.wildcard {
		cl.domainNS[c.domain] = ns
	} else {
		cl.hostNS[c.host] = ns
		if parent := parentDomain(c.host); parent != "" {
			m := cl.inDomain[parent]
			if m == nil {
				m = map[string]int{}
				cl.inDomain[parent] = m
			}
			m[ns]++
		}
	}
	return nil
}

func otherNamespace(host string, c *candidate) *rejection {
	return &rejection{ReasonHostAlreadyClaimed, fmt.Sprintf("a route in another namespace holds host %s and is older than %s/%s", host, c.route.Namespace, c.route.Name)}
}

// parentDomain is the host without its first label.
func parentDomain(host string) string {
	if i := strings.IndexByte(host, '.'); i >= 0 {
		return host[i+1:]
	}
	return ""
}
