#!/usr/bin/env bash
# Runs the vitest suites of @tokenkit/core (and @tokenkit/fetch, once packages/fetch/src exists) under Node 22,
# Node 24, Bun and Deno: the same test files against the same local servers (test-utils' node:http servers and
# oidc-provider run inside the runtime under test too, except on Bun the HTTPS servers of the mutual-TLS tests:
# Bun's node:https server cannot read a client certificate, oven-sh/bun#16834, so test-utils' startMtlsStack runs
# them in a Node child process, `node` from PATH, and Bun's clients present their certificates to it). Each runtime
# is a binary from an npm package, installed into the toolchain cache folder on first use:
#   Node 22  node-<os>-<cpu>@22             <cache>/runtimes/node22
#   Node 24  the toolchain's node when it is 24, else node-<os>-<cpu>@24 in <cache>/runtimes/node24
#   Bun      @oven/bun-<os>-<cpu>[-musl][-baseline]@1                   <cache>/runtimes/bun
#   Deno     @deno/<os>-<cpu>[-glibc]@2                                 <cache>/runtimes/deno
# A runtime with no package for this OS and CPU is skipped with a message. Prints one line per runtime and ends
# with "runtimes: N passed, N failed, N skipped" (tests, all runtimes); exits non-zero on any failure.
#   bash scripts/runtimes.sh              # all four
#   bash scripts/runtimes.sh bun deno     # some of them
#   TOKENKIT_RUNTIME_PACKAGES="core fetch ky axios got" bash scripts/runtimes.sh   # more packages, by hand
# Logs and vitest's JSON reports: .tmp/runtimes/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The user's own global npmrc (a registry or cafile set there), read with the toolchain's Node off PATH: npm derives
# the global config's path from the node that runs it, and the toolchain's Node has none.
rt_toolchain_bin="${TOKENKIT_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenkit/toolchain}/node_modules/.bin"
rt_path_without_toolchain=$(tr ':' '\n' <<<"$PATH" | grep -vxF "$rt_toolchain_bin" | paste -sd: -)
rt_globalconfig=$(PATH=$rt_path_without_toolchain npm config get globalconfig 2>/dev/null || true)
. scripts/toolchain.sh
rt_dir="$tk_cache/runtimes"
out="$root/.tmp/runtimes"
mkdir -p "$out"
vitest="$root/node_modules/vitest/vitest.mjs"
# One hung runtime must not eat CI's budget; a whole suite takes well under a minute on a quiet machine.
timeout_s="${TOKENKIT_RUNTIME_TIMEOUT:-600}"

rt_os=unsupported rt_cpu=unsupported rt_musl=false rt_avx2=true
case "$(uname -s)" in Linux) rt_os=linux ;; Darwin) rt_os=darwin ;; esac
case "$(uname -m)" in x86_64 | amd64) rt_cpu=x64 ;; arm64 | aarch64) rt_cpu=arm64 ;; esac
if [ "$rt_os" = linux ]; then
  { ldd --version 2>&1 || true; } | grep -qi musl && rt_musl=true
  [ "$rt_cpu" = x64 ] && ! grep -qw avx2 /proc/cpuinfo 2>/dev/null && rt_avx2=false
elif [ "$rt_os" = darwin ] && [ "$rt_cpu" = x64 ]; then
  sysctl -n machdep.cpu.leaf7_features 2>/dev/null | grep -qw AVX2 || rt_avx2=false
fi

# A runtime's name for people (no associative array: macOS still ships bash 3.2).
label() {
  case "$1" in node22) echo 'Node 22' ;; node24) echo 'Node 24' ;; bun) echo Bun ;; deno) echo Deno ;; *) return 1 ;; esac
}

# rt_install DIR PACKAGE: npm install PACKAGE into $rt_dir/DIR (its own prefix, so Node 22 and 24 never clash).
rt_install() {
  echo "runtimes: installing $2 into $rt_dir/$1" >&2
  npm install --prefix "$rt_dir/$1" ${rt_globalconfig:+--globalconfig="$rt_globalconfig"} \
    --no-audit --no-fund --loglevel=error "$2" >&2
}

# rt_binary NAME: sets rt_bin (the runtime's executable) and rt_why (why there is none); installs on first use.
rt_binary() {
  rt_bin='' rt_why=''
  local pkg='' dir="$1" path=''
  case "$1" in
    node22 | node24)
      if [ "$1" = node24 ] && [ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ]; then
        rt_bin=$(command -v node)
        return
      fi
      [ "$rt_os" != unsupported ] && [ "$rt_cpu" != unsupported ] && pkg="node-$rt_os-$rt_cpu@${1#node}"
      path=node_modules/.bin/node
      ;;
    bun)
      local cpu=$rt_cpu
      [ "$cpu" = arm64 ] && cpu=aarch64
      if [ "$rt_os" = linux ] && [ "$rt_cpu" != unsupported ]; then
        pkg="bun-linux-$cpu"
        [ "$rt_musl" = true ] && pkg="$pkg-musl"
      elif [ "$rt_os" = darwin ] && [ "$rt_cpu" != unsupported ]; then
        pkg="bun-darwin-$cpu"
      fi
      # x64 CPUs without AVX2 need Bun's baseline build (there is none for arm64).
      [ -n "$pkg" ] && [ "$rt_cpu" = x64 ] && [ "$rt_avx2" = false ] && pkg="$pkg-baseline"
      [ -n "$pkg" ] && path="node_modules/@oven/$pkg/bin/bun" && pkg="@oven/$pkg@1"
      ;;
    deno)
      if [ "$rt_os" = linux ] && [ "$rt_cpu" != unsupported ] && [ "$rt_musl" = false ]; then
        pkg="linux-$rt_cpu-glibc"
      elif [ "$rt_os" = darwin ] && [ "$rt_cpu" != unsupported ]; then
        pkg="darwin-$rt_cpu"
      fi
      [ -n "$pkg" ] && path="node_modules/@deno/$pkg/deno" && pkg="@deno/$pkg@2"
      ;;
  esac
  if [ -z "$pkg" ]; then
    local libc=''
    [ "$rt_musl" = true ] && libc=' (musl)'
    rt_why="no $(label "$1") package on the npm registry for $(uname -s) $(uname -m)$libc"
    return
  fi
  if ! [ -x "$rt_dir/$dir/$path" ] || ! "$rt_dir/$dir/$path" --version >/dev/null 2>&1; then
    rt_install "$dir" "$pkg" || { rt_why="npm could not install $pkg"; return; }
  fi
  if "$rt_dir/$dir/$path" --version >/dev/null 2>&1; then
    rt_bin="$rt_dir/$dir/$path"
  else
    rt_why="$pkg installed but does not run here"
  fi
}

# Tests that cannot pass on a runtime for a reason outside tokenkit, each with that reason. They are left out by
# name (vitest -t) and counted as skipped. A pattern is a regex on vitest's full test name ("describe > test").
# runtime|package|pattern|reason
known=(
  "deno|core|.*without secrets > connection reset|Deno's fetch rejects a reset connection with a bare TypeError 'fetch failed' (no ECONNRESET code anywhere in its cause chain): the error is still TokenEndpointError code 'network', its message just says 'failed: fetch failed'"
  "bun|fetch|tokenInterceptor > |Bun answers import 'undici' with its own built-in stand-in, which has no Agent.compose: the undici interceptor needs the real undici (the contract suite passes on Bun with undici installed under another name, undici-7.0)"
  "bun|fetch|adapter contract: tokenInterceptor \\(undici, |(the same: Bun's built-in 'undici')"
  "bun|fetch|.*around node-fetch 2 > \\(node-fetch on its own|Bun answers require('node-fetch') with its own fetch, which does not keep Authorization on a cross-port redirect as node-fetch 2 does (withTokens around it is tested and passes)"
  "deno|fetch|tokenInterceptor > Node's own fetch|Deno's fetch is not undici and ignores a dispatcher: the undici interceptor covers undici.request/undici.fetch there, not the global fetch"
  "deno|fetch|tokenInterceptor > on the global dispatcher|(the same: undici's global dispatcher does not reach Deno's fetch)"
)

# TOKENKIT_RUNTIME_PACKAGES="core fetch ky" tries other packages too (by hand: CI runs core and fetch).
packages=()
for pkg in ${TOKENKIT_RUNTIME_PACKAGES:-core fetch}; do [ -d "packages/$pkg/src" ] && packages+=("$pkg"); done
[ ${#packages[@]} -gt 0 ] ||
  { echo "runtimes: none of the packages '${TOKENKIT_RUNTIME_PACKAGES:-core fetch}' exists" >&2; exit 2; }

selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=(node22 node24 bun deno)
for runtime in "${selected[@]}"; do
  label "$runtime" >/dev/null || { echo "runtimes: unknown runtime '$runtime' (node22, node24, bun, deno)" >&2; exit 2; }
done

# The fetch tests import @tokenkit/core as published (its dist): build both (a turbo cache hit after `pnpm build`).
# TOKENKIT_RUNTIMES_BUILD=0 takes the dist folders as they are (a shared checkout where someone else is building).
if [ "${TOKENKIT_RUNTIMES_BUILD:-1}" != 0 ]; then
  filters=()
  for pkg in "${packages[@]}"; do filters+=("--filter=@tokenkit/$pkg"); done
  pnpm exec turbo run build "${filters[@]}" --output-logs=errors-only >"$out/build.log" 2>&1 ||
    { cat "$out/build.log"; echo "runtimes: the build failed" >&2; exit 1; }
fi

# rt_vitest RUNTIME PACKAGE: one vitest run of the package's tests under RUNTIME ($rt_bin); writes its JSON report.
rt_vitest() {
  local runtime=$1 pkg=$2 pattern='' entry
  local -a run
  for entry in "${known[@]}"; do
    IFS='|' read -r k_rt k_pkg k_pattern _ <<<"$entry"
    [ "$k_rt" = "$runtime" ] && [ "$k_pkg" = "$pkg" ] && pattern="${pattern:+$pattern|}$k_pattern"
  done
  case "$runtime" in
    # node runs vitest's forks pool on itself (process.execPath); PATH for anything a test spawns as `node`.
    node*) run=(env PATH="$(dirname "$rt_bin"):$PATH" "$rt_bin" "$vitest" run) ;;
    # Bun: the forks pool fails (Bun's child_process channel has no unref()); worker threads work.
    bun) run=(env DO_NOT_TRACK=1 "$rt_bin" --bun --no-install "$vitest" run --pool=threads) ;;
    # Deno: threads run the tests but fail at teardown (worker parentPort.removeAllListeners is not implemented);
    # forks work. The workspace's node_modules as it is, nothing fetched, no update check.
    deno) run=(env DENO_DIR="$rt_dir/deno/cache" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1
      "$rt_bin" run -A --node-modules-dir=manual --cached-only "$vitest" run --pool=forks) ;;
  esac
  run+=(--reporter=dot --reporter=json --outputFile.json="$out/$runtime-$pkg.json")
  [ -n "$pattern" ] && run+=(-t "^(?!(?:$pattern))")
  rm -f "$out/$runtime-$pkg.json"
  local -a bound=()
  command -v timeout >/dev/null 2>&1 && bound=(timeout --kill-after=10 "$timeout_s")
  (cd "packages/$pkg" && ${bound[@]+"${bound[@]}"} "${run[@]}") >"$out/$runtime-$pkg.log" 2>&1
}

# rt_count RUNTIME PACKAGE STATUS: "passed failed skipped" from the JSON report, then any failure's name. A run
# that exited non-zero without a failed test (a crash, an unhandled error, a timeout) or ran no test is a failure.
rt_count() {
  node -e '
    const [file, status, log] = process.argv.slice(1);
    let r;
    try { r = JSON.parse(require("node:fs").readFileSync(file, "utf8")); } catch {
      console.log(`0 1 0\n  vitest wrote no report (exit ${status}${status === "124" ? ": timed out" : ""}): see ${log}`);
      process.exit(0);
    }
    let failed = r.numFailedTests;
    const lines = [];
    for (const f of r.testResults) {
      const first = (text) => (text ?? "").split("\n")[0].slice(0, 200);
      for (const t of f.assertionResults) if (t.status === "failed") lines.push(`  FAIL ${t.fullName}: ${first(t.failureMessages[0])}`);
      // A file that failed on its own (an import error, a failing hook) has no failed test to count.
      if (f.status === "failed" && !f.assertionResults.some((t) => t.status === "failed")) {
        failed++;
        lines.push(`  FAIL ${f.name}: ${first(f.message)}`);
      }
    }
    if (status !== "0" && failed === 0) {
      failed = 1;
      lines.push(`  vitest exited ${status}${status === "124" ? " (timed out)" : ""} with no failed test (an unhandled error?): see ${log}`);
    }
    if (r.numPassedTests === 0 && failed === 0) { failed = 1; lines.push(`  no test ran: see ${log}`); }
    console.log(`${r.numPassedTests} ${failed} ${r.numPendingTests + r.numTodoTests}`);
    for (const line of lines.slice(0, 20)) console.log(line);
    if (lines.length > 20) console.log(`  ... ${lines.length - 20} more: see ${log}`);
  ' "$out/$1-$2.json" "$3" "$out/$1-$2.log"
}

total_passed=0 total_failed=0 total_skipped=0 summary=() ran=()
run_started=$(date +%s)
for runtime in "${selected[@]}"; do
  rt_binary "$runtime"
  if [ -z "$rt_bin" ]; then
    summary+=("$(label "$runtime"): not run: $rt_why")
    [[ "$rt_why" == 'no '* ]] || total_failed=$((total_failed + 1))
    echo "runtimes: $(label "$runtime"): not run: $rt_why" >&2
    continue
  fi
  ran+=("$runtime")
  version=$("$rt_bin" --version 2>&1 | head -1)
  version=${version#deno } version=${version%% *}
  started=$(date +%s)
  passed=0 failed=0 skipped=0
  for pkg in "${packages[@]}"; do
    pkg_started=$(date +%s)
    status=0
    rt_vitest "$runtime" "$pkg" || status=$?
    report=$(rt_count "$runtime" "$pkg" "$status")
    read -r p f s <<<"$(head -1 <<<"$report")"
    echo "runtimes: $(label "$runtime") ($version), @tokenkit/$pkg: $p passed, $f failed, $s skipped" \
      "($(($(date +%s) - pkg_started)) s)"
    tail -n +2 <<<"$report"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  done
  took=$(($(date +%s) - started))
  summary+=("$(label "$runtime") ($version): $passed passed, $failed failed, $skipped skipped ($took s)")
  total_passed=$((total_passed + passed)) total_failed=$((total_failed + failed)) total_skipped=$((total_skipped + skipped))
done

left_out=()
for entry in "${known[@]}"; do
  IFS='|' read -r k_rt k_pkg k_pattern k_why <<<"$entry"
  [[ " ${ran[*]:-} " == *" $k_rt "* ]] && [[ " ${packages[*]} " == *" $k_pkg "* ]] || continue
  left_out+=("  $(label "$k_rt"), $k_pkg, /$k_pattern/: $k_why")
done
if [ ${#left_out[@]} -gt 0 ]; then
  echo
  echo "left out by name (counted as skipped), and why:"
  printf '%s\n' "${left_out[@]}"
fi
echo
printf '%s\n' "${summary[@]}"
echo "($(($(date +%s) - run_started)) s in all; logs and vitest's JSON reports in .tmp/runtimes/)"
echo "runtimes: $total_passed passed, $total_failed failed, $total_skipped skipped"
[ "$total_failed" -eq 0 ]
