# Rampart's tasks. `make test` is what CI runs (through .ci/run).
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s

.PHONY: test vet race bench fuzz lint demo tidy

test: vet race

vet:
	$(GO) vet $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

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
