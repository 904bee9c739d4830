#!/usr/bin/env bash
# The test command (README.md, .ci/run): set-up, type check, every jest suite, and a closing
# "N passed, N failed" line that CI reads.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
npx tsc -p tsconfig.json --noEmit
results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
npx jest --ci --json --outputFile="$results" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("no tests ran"); process.exit(1); }
' "$results" || status=1
exit $status
