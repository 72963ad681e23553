# Gantry. `make help` lists the targets.

GO        ?= go
BIN       := bin/gantry
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
KUBE_VERSION := v1.34.10
# Kubernetes reads its own version from these variables; without them nodes report v0.0.0.
LDFLAGS := -X main.version=$(VERSION) \
	$(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version, \
	  -X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=34 -X $(p).gitTreeState=clean)
DATA_DIR  ?= /var/lib/gantry

.DEFAULT_GOAL := build

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install what Gantry and its tests need from Debian (containerd, runc, CNI plugins, iptables, slapd)
	@hack/install-deps.sh

.PHONY: build
build: ## Build bin/gantry
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gantry

.PHONY: run
run: deps build ## Run an all-in-one cluster on this machine (as root; data in DATA_DIR)
	$(BIN) start --data-dir $(DATA_DIR)

.PHONY: unit
unit: ## Unit tests (no root, no cluster; the packages linking Kubernetes have none, and a race build of it takes 20 minutes)
	$(GO) test -race $$($(GO) list ./internal/... | grep -v -e '/internal/cluster$$' -e '/internal/cli$$' -e '/internal/cli/start$$')

.PHONY: integration
integration: deps build ## Integration and end-to-end tests against a real cluster (root)
	GANTRY_BIN=$(CURDIR)/$(BIN) $(GO) test -p 1 -count=1 -timeout 30m ./test/...

.PHONY: test
test: deps vet unit integration ## Everything CI runs (installs what it needs first): vet, unit, integration and e2e tests

.PHONY: vet
vet: ## go vet and gofmt
	@test -z "$$(gofmt -l cmd internal test bench)" || { gofmt -l cmd internal test bench; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

.PHONY: bench
bench: deps build ## Benchmarks (bench/startup, bench/api, bench/auth, bench/registry, bench/router), results in bench/results/
	$(GO) run ./bench/startup -gantry $(CURDIR)/$(BIN) -runs 3
	$(GO) run ./bench/api -gantry $(CURDIR)/$(BIN) -n 1000,10000 -concurrency 16
	$(GO) run ./bench/auth -gantry $(CURDIR)/$(BIN)
	$(GO) run ./bench/registry -gantry $(CURDIR)/$(BIN)
	$(GO) run ./bench/router -gantry $(CURDIR)/$(BIN)

.PHONY: clean
clean: ## Remove build output (never the Go build cache)
	rm -rf bin
