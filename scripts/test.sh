#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian/Ubuntu machine, then run lint, types and the
# whole test suite (unit, integration, e2e) on SQLite and PostgreSQL. The tests start their own
# PostgreSQL cluster and redis-server on free loopback ports, so only the binaries are needed.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: database and broker servers for the tests' own instances, sox for voicemail
# audio, Chromium for the browser tests, poppler for PDF checks, dovecot for the IMAP tests,
# docker-compose to validate the compose file, espeak-ng for generated speech in the demo.
APT_PACKAGES=(postgresql redis-server sox chromium poppler-utils dovecot-imapd docker-compose espeak-ng)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts these services on install; the tests use their own instances, never these.

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (strict)"
.venv/bin/mypy .
echo "== pytest"
set +e
# Two workers (the suite is one core's work, and this machine class has two); a file stays on one
# worker, so its module fixtures are built once. Each worker starts its own private servers.
S48_TEST_STRICT=1 .venv/bin/python -m pytest -n "${S48_TEST_WORKERS:-2}" --dist loadfile "$@"
status=$?
set -e
if [ $status -eq 5 ]; then
  echo "no tests were collected: that is a failure" >&2
  exit 1
fi
exit $status
