#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time (default 5s each),
# starting from the seed corpus committed in testdata/fuzz/. A crash fails
# the run and leaves the failing input in testdata/fuzz/ to commit with the fix.
set -euo pipefail
fuzztime=${1:-5s}
cd "$(dirname "$0")/.."
found=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/' || true)
  for t in $targets; do
    found=$((found + 1))
    echo "fuzz $pkg $t ($fuzztime)"
    go test -run='^$' -fuzz="^${t}\$" -fuzztime="$fuzztime" -fuzzminimizetime=2s "$pkg"
  done
done
echo "fuzz-smoke: $found target(s)"
