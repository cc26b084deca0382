#!/usr/bin/env bash
# The whole test suite: formatting, vet, every Go test under the race
# detector (real servers: the node under test runs in-process or as a child
# process), and a short run of every fuzz target.
#
# Usage: scripts/test.sh            everything
#        FUZZTIME=2000000x scripts/test.sh   fuzz longer
set -euo pipefail
cd "$(dirname "$0")/.."

# A count, not a duration: Go 1.26's fuzz coordinator can fail a run that
# found nothing with "context deadline exceeded" when a duration ends
# (go.dev/issue/75804, fixed in Go 1.27).
fuzztime=${FUZZTIME:-50000x}

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt wants to change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...

echo "== fuzz ($fuzztime each)"
# Every Fuzz* function in the module, one at a time (go test -fuzz takes
# one target per run).
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "-- $dir $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir" > /tmp/herald-fuzz.log 2>&1 || { cat /tmp/herald-fuzz.log; exit 1; }
  done
done

echo "== all tests passed"
