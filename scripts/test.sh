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

# The TypeScript SDK (client/js), when Node is here: its unit tests and its
# end-to-end tests against a herald binary built from this tree.
if command -v node >/dev/null && command -v npm >/dev/null; then
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$node_major" -lt 20 ]; then
    # Debian 12's own nodejs is 18; its tooling (vitest 4) needs 20.
    echo "== client/js NOT TESTED: Node $(node --version) is older than 20" >&2
  else
    echo "== client/js (npm test)"
    (cd client/js && npm ci --no-audit --no-fund --loglevel=error && npm test)
    # The demo chat and the admin page in a real browser: Debian's
    # Chromium (CHROMIUM overrides the path), driven by playwright-core.
    chromium_bin=${CHROMIUM:-/usr/bin/chromium}
    if [ -x "$chromium_bin" ]; then
      echo "== web (npm test: assets up to date, browser tests in Chromium)"
      (cd web && npm ci --no-audit --no-fund --loglevel=error && npm test)
    else
      echo "== web browser tests NOT RUN: no Chromium at $chromium_bin (apt-get install chromium)" >&2
    fi
  fi
else
  echo "== client/js skipped: node and npm are not installed"
fi

echo "== all tests passed"
