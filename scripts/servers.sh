# Sourced by scripts that run the tests: the real servers the tests start themselves, from Debian's packages.
#   redis-server                  required: the @tokenkit/redis tests and the fleet demo need it
#   glewlwyd                      Glewlwyd 2.7, an OpenID provider in C
#   python3-django-oauth-toolkit  Django OAuth Toolkit 1.7 (password grant, rotating refresh tokens), for /usr/bin/python3
# Nothing is started here. Missing packages are installed in one apt-get run when we are root; otherwise the
# authorization servers' tests are skipped by name (they show as skipped in the summary), except under CI, which
# must run them. Without apt-get (macOS: `brew install redis`), install redis-server yourself.
tk_missing=()
command -v redis-server >/dev/null 2>&1 || tk_missing+=(redis-server)
command -v glewlwyd >/dev/null 2>&1 || tk_missing+=(glewlwyd)
/usr/bin/python3 -c 'import oauth2_provider, django, jwcrypto' >/dev/null 2>&1 || tk_missing+=(python3-django-oauth-toolkit)
if [ ${#tk_missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "servers: installing ${tk_missing[*]} with apt-get" >&2
    # Noninteractive: glewlwyd's package asks (debconf) how to set up a database of its own; the tests make theirs.
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tk_missing[@]}" >/dev/null) >&2 ||
      echo "servers: apt-get could not install ${tk_missing[*]}" >&2
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "servers: redis-server is missing and could not be installed (needs root and apt-get)." >&2
    echo "         Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) and retry." >&2
    return 1 2>/dev/null || exit 1
  fi
  tk_still=()
  command -v glewlwyd >/dev/null 2>&1 || tk_still+=(glewlwyd)
  /usr/bin/python3 -c 'import oauth2_provider, django, jwcrypto' >/dev/null 2>&1 || tk_still+=(python3-django-oauth-toolkit)
  if [ ${#tk_still[@]} -gt 0 ]; then
    echo "servers: ${tk_still[*]} missing: their real-server tests will be skipped (sudo apt-get install ${tk_still[*]})." >&2
    if [ "${CI:-}" = true ]; then
      echo "servers: CI must run every real-server test" >&2
      return 1 2>/dev/null || exit 1
    fi
  fi
fi
