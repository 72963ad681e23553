#!/usr/bin/env bash
# Runs the real `oc` client against a running `gantry start` and prints a
# markdown table of which commands work (for docs/compatibility.md).
#
#   [OC_USER=admin OC_PASSWORD=...] [OC_COMPAT_LOG=file] hack/oc-compat.sh /path/to/oc [data-dir]
#
# OC_COMPAT_LOG gets the whole output of every check that fails.
# With OC_PASSWORD (e.g. the admin password gantry start printed), it also
# checks oc login/whoami/logout against Gantry's OAuth server. Run as root
# against a cluster with the default htpasswd file, it also adds a user and
# checks what a developer without any role does: log in, request a project,
# grant a role in it, delete it, log out (and the token stops working).
#
# oc is not part of this repository: build it beside the project from a clone
# of github.com/openshift/oc (go build -mod=vendor ./cmd/oc).
set -u
OC=${1:?usage: hack/oc-compat.sh /path/to/oc [data-dir]}
DATA=${2:-/var/lib/gantry}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export KUBECONFIG=$WORK/kubeconfig
cp "$DATA/kubeconfig/admin.kubeconfig" "$KUBECONFIG"
P=oc-compat-$$

cat >"$WORK/objects.yaml" <<'EOF'
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web}
spec:
  to: {kind: Service, name: web}
  tls: {termination: edge}
---
apiVersion: image.openshift.io/v1
kind: ImageStream
metadata: {name: ruby}
spec:
  tags:
  - name: "3.3"
    from: {kind: DockerImage, name: registry.example.com/ruby:3.3}
---
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: web}
spec:
  source: {git: {uri: https://example.com/web.git}}
  strategy: {type: Source, sourceStrategy: {from: {kind: ImageStreamTag, name: "ruby:3.3"}}}
  output: {to: {kind: ImageStreamTag, name: "web:latest"}}
---
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: web}
spec:
  replicas: 1
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.example.com/web:1}]
---
apiVersion: template.openshift.io/v1
kind: Template
metadata: {name: hello}
parameters:
- {name: NAME, value: hello}
objects:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: "${NAME}"}
  data: {greeting: hi}
EOF

echo "| Command | Result |"
echo "|---|---|"
check() {
  local label=$1; shift
  if out=$("$@" 2>&1); then
    echo "| \`$label\` | works |"
  else
    echo "| \`$label\` | fails: $(echo "$out" | grep -v '^$' | head -1 | cut -c1-150 | tr '|' '/') |"
    if [ -n "${OC_COMPAT_LOG:-}" ]; then printf '## %s\n%s\n\n' "$label" "$out" >>"$OC_COMPAT_LOG"; fi
  fi
}
# expect PATTERN CMD...: CMD succeeds and prints a line matching the extended regular expression.
expect() {
  local pattern=$1 out; shift
  out=$("$@" 2>&1) || { echo "$out"; return 1; }
  echo "$out" | grep -Eq -- "$pattern" || { echo "no line matches '$pattern' in: $(echo "$out" | tr '\n' ' ')"; return 1; }
}
# expect_any PATTERN CMD...: CMD prints a line matching PATTERN, whatever its exit code (for refusals).
expect_any() {
  local pattern=$1 out; shift
  out=$("$@" 2>&1)
  echo "$out" | grep -Eq -- "$pattern" || { echo "no line matches '$pattern' in: $(echo "$out" | tr '\n' ' ')"; return 1; }
}
check "oc version" "$OC" version
check "oc api-resources (OpenShift groups listed)" bash -c "'$OC' api-resources | grep -q route.openshift.io && '$OC' api-resources | grep -q project.openshift.io"
check "oc new-project $P" "$OC" new-project "$P" --display-name=Compat --description=test
check "oc projects" "$OC" projects
check "oc project $P" "$OC" project "$P"
check "oc status" "$OC" status
check "oc create -f (route, imagestream, buildconfig, deploymentconfig, template)" "$OC" create -f "$WORK/objects.yaml"
for r in routes imagestreams buildconfigs deploymentconfigs templates; do
  check "oc get $r" "$OC" get "$r"
done
check "oc describe route web" "$OC" describe route web
check "oc describe is ruby" "$OC" describe is ruby
check "oc describe bc web" "$OC" describe bc web
check "oc describe dc web" "$OC" describe dc web
check "oc describe template hello" "$OC" describe template hello
check "oc get istag" "$OC" get istag
check "oc process hello" "$OC" process hello
check "oc process hello | oc create -f -" bash -c "'$OC' process hello -p NAME=hello2 | '$OC' create -f -"
check "oc scale dc/web --replicas=2" "$OC" scale dc/web --replicas=2
check "oc label route web a=b" "$OC" label route web a=b
check "oc annotate route web a=b" "$OC" annotate route web a=b
check "oc edit (EDITOR=true) route web" env EDITOR=true "$OC" edit route web
check "oc apply --server-side --force-conflicts -f (objects changed by scale/label/edit)" "$OC" apply --server-side --force-conflicts -f "$WORK/objects.yaml"
check "oc explain route.spec" "$OC" explain route.spec
check "oc delete route web" "$OC" delete route web
check "oc whoami" "$OC" whoami

# Image commands. Nothing is pushed (no container engine needed); with OC_COMPAT_IMAGE=project/stream:tag,
# an image already in the integrated registry (hack/occompat pushes one with test/harness), tags of
# a real image and a pruning run that removes it are checked too.
check "oc create imagestream app" "$OC" create imagestream app
check "oc tag --source=docker registry.example.com/x:1 app:1" expect 'Tag app:1 set to registry.example.com/x:1.' "$OC" tag --source=docker registry.example.com/x:1 app:1
check "oc tag --source=docker --reference registry.example.com/x:2 app:2" expect 'Tag app:2 set to registry.example.com/x:2.' "$OC" tag --source=docker --reference registry.example.com/x:2 app:2
check "oc tag app:2 app:prod (a reference tag as the source)" expect 'Tag app:prod set to registry.example.com/x:2.' "$OC" tag app:2 app:prod
check "oc tag -d app:prod" expect "Deleted tag $P/app:prod." "$OC" tag -d app:prod
check "oc tag --alias app:2 app:latest" expect 'Tag app:latest set up to track app:2.' "$OC" tag --alias app:2 app:latest
if [ -n "${OC_COMPAT_IMAGE:-}" ]; then
  check "oc tag $OC_COMPAT_IMAGE app:pushed (another project's image)" expect 'Tag app:pushed set to .*@sha256:' "$OC" tag "$OC_COMPAT_IMAGE" app:pushed
  check "oc tag app:pushed app:prod" expect 'Tag app:prod set to app@sha256:' "$OC" tag app:pushed app:prod
  check "oc get istag shows app:prod with its image" expect '^app:prod .*@sha256:' "$OC" get istag
  check "oc describe istag app:prod" expect 'Image Size:' "$OC" describe istag app:prod
  check "oc get isimage app@DIGEST" expect '^app@sha256:' bash -c "'$OC' get isimage \"app@\$('$OC' get istag app:prod -o jsonpath='{.image.metadata.name}')\""
  check "oc describe isimage app@DIGEST" expect 'Docker Image:' bash -c "'$OC' describe isimage \"app@\$('$OC' get istag app:prod -o jsonpath='{.image.metadata.name}')\""
fi
check "oc get istag" "$OC" get istag
check "oc describe is app" expect 'registry.example.com/x:1' "$OC" describe is app
check "oc get is app -o yaml shows status.dockerImageRepository" expect "dockerImageRepository: 127.0.0.1:5000/$P/app" "$OC" get is app -o yaml
check "oc import-image from a refused registry prints the refusal" expect_any 'is not allowed: it is the integrated registry' "$OC" import-image refused:1 --from=127.0.0.1:5000/$P/app:1 --confirm
check "oc import-image --from=... --dry-run (refused registry)" expect_any 'is not allowed' "$OC" import-image refused:1 --from=127.0.0.1:5000/$P/app:1 --confirm --dry-run
check "oc import-image of a new stream without --confirm is refused" expect_any 'pass --confirm to create and import' "$OC" import-image nosuch --from=registry.example.com/x:1
check "oc set image-lookup app" expect 'image lookup updated' "$OC" set image-lookup app
check "oc get is app: spec.lookupPolicy.local is true" expect '^true$' "$OC" get is app -o jsonpath='{.spec.lookupPolicy.local}'
check "oc set image-lookup --list" expect '^app +true' "$OC" set image-lookup --list
check "oc set image-lookup app --enabled=false" expect 'image lookup updated' "$OC" set image-lookup app --enabled=false
check "oc set image-lookup deploy/web (annotates the template)" expect 'image lookup updated' bash -c "'$OC' create deployment web --image=app:1 >/dev/null && '$OC' set image-lookup deploy/web"
check "oc set image-lookup deploy/web --list" expect 'web +true' "$OC" set image-lookup deploy/web --list
# oc adm prune images needs a token (oc refuses a client certificate, as against OpenShift): the
# service account gantry/image-pruner has the system:image-pruner role in every Gantry cluster.
check "oc adm prune images with the admin's client certificate (oc asks for a token)" expect_any 'you must use a client config with a token' "$OC" adm prune images
PRUNER=$("$OC" create token image-pruner -n gantry 2>&1)
cp "$KUBECONFIG" "$WORK/pruner.kubeconfig"
KUBECONFIG=$WORK/pruner.kubeconfig "$OC" config set-credentials image-pruner --token="$PRUNER" >/dev/null
KUBECONFIG=$WORK/pruner.kubeconfig "$OC" config set-context --current --user=image-pruner >/dev/null
prune() { KUBECONFIG=$WORK/pruner.kubeconfig "$OC" adm prune images "$@"; }
check "oc adm prune images (dry run, as gantry/image-pruner)" expect 'Dry run enabled - no modifications will be made' prune
if [ -n "${OC_COMPAT_IMAGE:-}" ]; then
  DIGEST=$("$OC" get istag app:prod -o jsonpath='{.image.metadata.name}')
  MANIFEST=$(find "$DATA/registry" -path "*/blobs/sha256/*/${DIGEST#sha256:}/data" 2>/dev/null | head -1)
  "$OC" tag -d app:prod app:pushed "$OC_COMPAT_IMAGE" >/dev/null
  check "oc adm prune images --keep-younger-than=0s --confirm (an untagged image and its blobs)" expect 'deleted 1 image object.*deleted [1-9][0-9]* blob' prune --keep-younger-than=0s --confirm
  check "oc get image DIGEST after pruning: NotFound" expect_any 'NotFound|not found' "$OC" get image "$DIGEST"
  # The registry serves a digest only through a stream whose history has it, so only its storage
  # shows whether the manifest itself is gone (with the default filesystem storage).
  check "the pruned manifest is gone from the registry's storage" bash -c "[ -n '$MANIFEST' ] || { echo 'the manifest was not found in $DATA/registry before pruning'; exit 1; }; [ ! -e '$MANIFEST' ] || { echo 'still there: $MANIFEST'; exit 1; }"
fi
check "oc delete project $P" "$OC" delete project "$P"

if [ -n "${OC_PASSWORD:-}" ]; then
  SERVER=$(KUBECONFIG="$DATA/kubeconfig/admin.kubeconfig" "$OC" whoami --show-server)
  export KUBECONFIG=$WORK/login-kubeconfig
  U=${OC_USER:-admin}
  check "oc login -u $U -p ***" "$OC" login "$SERVER" -u "$U" -p "$OC_PASSWORD" --certificate-authority="$DATA/pki/ca.crt"
  check "oc whoami (after login)" bash -c "[ \"\$('$OC' whoami)\" = '$U' ]"
  check "oc whoami -t" bash -c "'$OC' whoami -t | grep -q '^sha256~'"
  check "oc logout" "$OC" logout
  check "oc login with a wrong password fails (401)" bash -c "! '$OC' login '$SERVER' -u '$U' -p wrong-password 2>&1 | grep -q successful"
fi

HTPASSWD=$DATA/oauth/htpasswd
if [ -w "$HTPASSWD" ] && command -v openssl >/dev/null; then
  SERVER=$(KUBECONFIG="$DATA/kubeconfig/admin.kubeconfig" "$OC" whoami --show-server)
  export KUBECONFIG=$WORK/dev-kubeconfig
  DEV=oc-compat-dev-$$ DEVPASS=$(openssl rand -hex 12) DP=oc-compat-dev-$$
  echo "$DEV:$(openssl passwd -apr1 "$DEVPASS")" >>"$HTPASSWD"
  check "oc login -u $DEV (a developer without projects)" "$OC" login "$SERVER" -u "$DEV" -p "$DEVPASS" --certificate-authority="$DATA/ca.crt"
  check "oc new-project $DP (as the developer)" "$OC" new-project "$DP"
  check "oc policy add-role-to-user view bob -n $DP" "$OC" policy add-role-to-user view bob -n "$DP"
  check "oc get rolebindings -n $DP" "$OC" get rolebindings -n "$DP"
  check "oc delete project $DP (as its admin)" "$OC" delete project "$DP"
  TOKEN=$("$OC" whoami -t)
  check "oc logout (as the developer)" "$OC" logout
  sleep 11 # kube-apiserver caches a token's review for 10 s
  check "the token no longer works after oc logout" bash -c "! curl -sf --cacert '$DATA/ca.crt' -H 'Authorization: Bearer $TOKEN' '$SERVER/apis/user.openshift.io/v1/users/~' >/dev/null"
  sed -i "/^$DEV:/d" "$HTPASSWD"
fi
