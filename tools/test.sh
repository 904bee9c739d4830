#!/usr/bin/env bash
# The test command (README.md, .ci/run): set-up, type check, every jest suite, and a closing
# "N passed, N failed" line that CI reads.
#
#   bash tools/test.sh [unit|build|e2e]... [jest arguments]
#
# With no lane: every lane (what `npm test` and CI run). The lanes are jest projects, defined in
# jest.config.js: unit (*.unit.test.ts), build (every other test under libs/, apps/, plugins/),
# e2e (e2e/). The unit lane alone needs no root and no network: it skips the set-up (apt-get,
# npm install, tsc -b; its tests run the TypeScript sources) and the type check.
set -euo pipefail
cd "$(dirname "$0")/.."
lanes=()
while [ $# -gt 0 ] && [[ "$1" =~ ^(unit|build|e2e)$ ]]; do
  lanes+=("$1")
  shift
done
select=()
for l in "${lanes[@]}"; do select+=(--selectProjects "$l"); done
if [ "${lanes[*]}" != unit ]; then
  bash tools/setup.sh
  npx tsc -p tsconfig.json --noEmit
fi
results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
npx jest --ci --json --outputFile="$results" "${select[@]}" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("no tests ran"); process.exit(1); }
' "$results" || status=1
exit $status
