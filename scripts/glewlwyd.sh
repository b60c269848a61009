# Sourced by scripts that run the tests: the Glewlwyd tests need Debian's glewlwyd package (Glewlwyd 2.7, an
# OpenID provider written in C). Without it those tests are skipped, not failed.
if ! command -v glewlwyd >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "glewlwyd: installing glewlwyd with apt-get" >&2
    # Noninteractive: the package asks (through debconf/dbconfig-common) how to set up its own database.
    # The tests build their own sqlite database from the schema it ships and start their own server.
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq glewlwyd >/dev/null) >&2
  else
    echo "glewlwyd: glewlwyd is missing and cannot be installed (needs root and apt-get); install Debian's glewlwyd package and retry" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
