# Sourced by scripts that run the tests: the redis tests need redis-server.
if ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "redis: installing redis-server with apt-get" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) >&2
    # Debian's package starts nothing here; the tests start their own servers.
  else
    echo "redis: redis-server is missing and cannot be installed (needs root and apt-get); install it and retry" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
