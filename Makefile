# Rathaus – the commands the README names. `make test` is what CI runs.
GO ?= go
FUZZTIME ?= 10s

.PHONY: test vet unit fuzz-smoke fuzz-long build demo bench

## test: everything CI checks – vet, all tests on SQLite and PostgreSQL, fuzz smoke
test: vet unit fuzz-smoke

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

## unit: the test suite; a throwaway PostgreSQL cluster is started when none is given
unit:
	scripts/with-postgres.sh $(GO) test -count=1 ./...

## fuzz-smoke: each fuzz target runs briefly from its committed seed corpus
fuzz-smoke:
	scripts/fuzz-smoke.sh $(FUZZTIME)

## fuzz-long: each fuzz target for 10 minutes (by hand; about two hours for all)
fuzz-long:
	scripts/fuzz-smoke.sh 10m

build:
	$(GO) build -o bin/rathaus ./cmd/rathaus

demo:
	$(GO) run ./cmd/rathaus demo

## bench: the benchmarks behind BENCHMARKS.md
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./internal/geo/
