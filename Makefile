# Rampart's tasks. `make test` is what CI runs (through .ci/run).
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s

.PHONY: test vet race benchtools bench fuzz lint demo chaos e2e

test: vet race benchtools

vet:
	$(GO) vet $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

# The bench module: its benchmarks compile and pass vet, and the tests of its
# commands (benchratio's) pass. No benchmark runs. It needs the bench module's
# own dependencies (the peer libraries) downloadable, as `make bench` does.
benchtools:
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./cmd/...

# Benchmarks of Rampart side by side with its peers (a separate module, so that the
# peers stay out of our go.mod). Results and commands are recorded in docs/benchmarks.md.
BENCH     ?= .
bench:
	cd bench && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count 1 ./... | tee /tmp/rampart-bench.txt
	cd bench && $(GO) run ./cmd/benchtable < /tmp/rampart-bench.txt

# Each fuzz target runs for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff

demo:
	$(GO) run ./cmd/rampart demo

# The failure rehearsal of the reference service: load, provider outages, latency
# spikes and a restart; fails if any payment, reservation or e-mail is missing or doubled.
CHAOS_DURATION ?= 60s
chaos:
	$(GO) run ./cmd/customers chaos -duration $(CHAOS_DURATION)

# The dashboard in real headless Chromium (installs Debian's chromium if missing).
e2e:
	@command -v chromium >/dev/null || (apt-get update >/dev/null && apt-get install -y chromium >/dev/null)
	RAMPART_BROWSER=1 RAMPART_SCREENSHOT=/tmp/dashboard.png $(GO) test -count=1 -run TestDashboardInChromium -v ./internal/customers/wiring/
