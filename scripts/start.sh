#!/usr/bin/env bash
# Install Sistem 48 into .venv and run the whole system with the demo PBX and modem on
# http://127.0.0.1:8048/ (embedded SQLite and broker under ./var, no servers needed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q && $SUDO apt-get install -y -q python3-venv
fi
# sox decodes voicemail audio (GSM/WAV49) for transcription.
if ! command -v sox >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends sox
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q '.[demo]'
exec .venv/bin/sistem48 up "$@"
