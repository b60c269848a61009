#!/usr/bin/env bash
# Runs every test on a fresh machine that has only Node (20+) and npm: every package, even when one fails, then
# one summary. The full output is kept in a log file, named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
. scripts/servers.sh
mkdir -p .tmp
log=.tmp/test.log
echo "installing the workspace (pnpm install --frozen-lockfile)..."
pnpm install --frozen-lockfile --reporter=append-only >"$log" 2>&1 || { cat "$log"; exit 1; }
echo "building and testing every package against real local servers (a few minutes)..."
# --continue: one failing package does not cancel the others; tests are never replayed from turbo's cache.
status=0
pnpm exec turbo run test --continue --log-order=grouped --output-logs=full >>"$log" 2>&1 || status=$?
node scripts/test-summary.ts "$log" || status=1
echo "full output: $log"
exit "$status"
