#!/usr/bin/env bash
# Idempotent environment setup, shared by `make run` and `make test`.
# Creates .venv if missing and (re)installs requirements.txt only when it is
# newer than the stamp file, so a second run takes well under a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stamp=.venv/.requirements-stamp

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv (${PYTHON:-python3} -m venv)"
    "${PYTHON:-python3}" -m venv .venv
fi

if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    echo "bootstrap: installing requirements.txt into .venv"
    .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
    touch "$stamp"
else
    echo "bootstrap: .venv is up to date with requirements.txt"
fi
