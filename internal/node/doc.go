// Package node prepares and cleans up the machine side of a Gantry node: containerd's configuration and
// child process, the CNI bridge network, the kubelet's and kube-proxy's configuration files, the node's
// address, and everything a stop must take away again (pod sandboxes, containerd shims, mounts,
// iptables chains, network links).
package node
