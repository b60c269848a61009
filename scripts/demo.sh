#!/usr/bin/env bash
# Runs the demo on a fresh machine that has only Node (20+) and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
pnpm install --frozen-lockfile
pnpm demo
