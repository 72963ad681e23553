#!/usr/bin/env bash
# Installs the Debian packages Gantry's node needs, when missing. Safe to run again.
set -euo pipefail
need=()
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || [ -x /usr/sbin/runc ] || need+=(runc)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || need+=(iptables)
command -v conntrack >/dev/null || [ -x /usr/sbin/conntrack ] || need+=(conntrack)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy) # the router's HAProxy data plane and bench/router
command -v wrk >/dev/null || need+=(wrk)                                         # bench/router's load generator
{ [ -x /usr/sbin/slapd ] && command -v ldapadd >/dev/null; } || need+=(slapd ldap-utils) # LDAP identity provider tests
command -v testssl >/dev/null || need+=(testssl.sh) # router TLS checks (internal/router/front)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "Installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
