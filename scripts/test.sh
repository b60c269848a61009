#!/usr/bin/env bash
# Runs every test on a fresh machine that has only Node (20+) and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
. scripts/servers.sh
pnpm install --frozen-lockfile
pnpm test
