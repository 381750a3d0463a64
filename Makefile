# jetwebhooks — every target a developer or CI needs.
GO        ?= go
CODEGEN   := $(GO) run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen
BIN       := bin/jetwebhooks
GEN_PKGS  := models apiserver apiclient

FUZZTIME  ?= 30s

BENCHCOUNT ?= 1

.PHONY: generate build run test test-race lint check-generated check-tidy contract fuzz bench bench-go screenshots

generate: ## regenerate gen/ from openapi.yaml
	@for p in $(GEN_PKGS); do $(CODEGEN) -config gen/$$p/cfg.yaml openapi.yaml || exit 1; done

build:
	$(GO) build -o $(BIN) ./cmd/jetwebhooks

run: build ## run the service on the embedded SQLite default
	$(BIN) serve --addr 127.0.0.1:8080 --db ./data/jetwebhooks.db --egress-allow 127.0.0.0/8,::1/128

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
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./server/api ./server/store/... ./server/delivery ./signature

# Screenshots of the customer portal for the README, taken by its browser test
# in headless Chromium (apt-get install chromium).
screenshots:
	mkdir -p docs/portal
	JETWEBHOOKS_TEST_BROWSER=required JETWEBHOOKS_PORTAL_SCREENSHOTS=$(CURDIR)/docs/portal $(GO) test -count=1 -run '^TestBrowserScreenshots$$' ./server/portal/
