# jetwebhooks — every target a developer or CI needs.
GO        ?= go
CODEGEN   := $(GO) run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen
BIN       := bin/jetwebhooks
GEN_PKGS  := models apiserver apiclient

FUZZTIME  ?= 30s

BENCHCOUNT ?= 1

.PHONY: cli-docs check-cli-docs generate build run test test-race lint check-generated check-tidy contract fuzz bench bench-go screenshots

generate: ## regenerate gen/ from openapi.yaml
	@for p in $(GEN_PKGS); do $(CODEGEN) -config gen/$$p/cfg.yaml openapi.yaml || exit 1; done

# jetwebhooks version reports VERSION (git describe), plus the commit Go
# records itself; override with make build VERSION=v1.2.3.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null)

build:
	@echo "building $(BIN) (the first build can take a few minutes)…"
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/jetwebhooks

# make run PORT=9000, or make run ADDR=0.0.0.0:8080 (ADDR wins).
PORT      ?= 8080
ADDR      ?= 127.0.0.1:$(PORT)

run: build ## run the service on the embedded SQLite default
	$(BIN) serve --addr $(ADDR) --db ./data/jetwebhooks.db --egress-allow 127.0.0.0/8,::1/128

# The CLI reference, docs/cli.md, generated from the cobra command tree;
# check-cli-docs fails when it is stale (run make cli-docs and commit).
cli-docs:
	$(GO) run ./cmd/jetwebhooks docs > docs/cli.md.tmp && mv docs/cli.md.tmp docs/cli.md

check-cli-docs: cli-docs
	@git diff --exit-code -- docs/cli.md || (echo "docs/cli.md is stale: run make cli-docs and commit"; exit 1)
	@test -z "$$(git status --porcelain -- docs/cli.md)" || (echo "docs/cli.md is not committed: run make cli-docs and commit"; exit 1)

test:
	$(GO) vet ./...
	@if [ -z "$$JETWEBHOOKS_TEST_POSTGRES" ]; then \
		echo "NOTE: PostgreSQL tests skipped: set JETWEBHOOKS_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them."; fi
	JETWEBHOOKS_PGTEST_QUIET=1 $(GO) test -count=1 ./...

# The spec checked with the tools other languages use (Redocly lint; a
# TypeScript client generated, type-checked and run against a live server).
# Needs Node.js and npm; versions are pinned in contract/package-lock.json.
contract:
	contract/run.sh

# The whole suite under the race detector: the engine, the group-commit writer
# and the caches are concurrent. PostgreSQL tests run when JETWEBHOOKS_TEST_POSTGRES is set.
test-race:
	JETWEBHOOKS_PGTEST_QUIET=1 $(GO) test -race -count=1 ./...

# gofmt, go vet and staticcheck (pinned in go.mod through tools.go).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck ./...

# go.mod and go.sum say exactly what the code imports (direct dependencies not
# marked indirect, nothing missing or left over).
check-tidy:
	$(GO) mod tidy -diff

check-generated: generate
	@git diff --exit-code -- gen || (echo "gen/ is stale: run make generate and commit"; exit 1)
	@test -z "$$(git status --porcelain -- gen)" || (git status --porcelain -- gen; echo "gen/ has untracked or changed files"; exit 1)

# Every Go fuzz target in the tree, each for FUZZTIME (CI runs a short pass).
fuzz:
	@set -e; for spec in $$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./gen/' | while read f; do \
		for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do echo "$$(dirname $$f):$$fn"; done; done); do \
		pkg=$${spec%%:*}; fn=$${spec##*:}; echo "== $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) >/tmp/jetwebhooks-fuzz.log 2>&1 || { cat /tmp/jetwebhooks-fuzz.log; exit 1; }; \
		grep -o 'elapsed: [^,]*, execs: [0-9]*' /tmp/jetwebhooks-fuzz.log | tail -n 1; \
	done

# End-to-end delivery benchmark, in process on SQLite (jetwebhooks bench --help for
# PostgreSQL, fan-out, receiver latency, the memory run and --target).
bench:
	$(GO) run ./cmd/jetwebhooks bench --events 20000 --rate 0
	$(GO) run ./cmd/jetwebhooks bench --events 10000 --rate 1000

# Go benchmarks of the hot paths; the PostgreSQL ones run when JETWEBHOOKS_TEST_POSTGRES
# is set. Compare runs with BENCHCOUNT=6 and benchstat (golang.org/x/perf/cmd/benchstat).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./internal/api ./server/store/... ./internal/delivery ./signature

# Screenshots of the customer portal for the README, taken by its browser test
# in headless Chromium (apt-get install chromium).
screenshots:
	mkdir -p docs/portal
	JETWEBHOOKS_TEST_BROWSER=required JETWEBHOOKS_PORTAL_SCREENSHOTS=$(CURDIR)/docs/portal $(GO) test -count=1 -run '^TestBrowserScreenshots$$' ./internal/portal/
