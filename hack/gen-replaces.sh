#!/usr/bin/env bash
# Prints the replace block go.mod needs for k8s.io/kubernetes: upstream's go.mod points every staging
# module at ./staging, which a dependent module cannot use; we point each at its published v0 version.
set -euo pipefail
kver=${1:-v1.34.10}
sver=v0.${kver#v1.}
mod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$kver.mod
[ -f "$mod" ] || go mod download -json "k8s.io/kubernetes@$kver" >/dev/null
echo "replace ("
grep '=> ./staging' "$mod" | awk -v v="$sver" '{print "\t" $1 " => " $1 " " v}'
echo ")"
