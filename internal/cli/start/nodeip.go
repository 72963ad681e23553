package start

import (
	"net"

	"github.com/gantry-dev/gantry/internal/node"
)

var ensureNodeIP = func(ip net.IP) (bool, error) { return node.EnsureNodeIP(ip) }
