#!/usr/bin/env bash
# Idempotent environment setup.
#   scripts/bootstrap.sh        what running needs (requirements.txt): `make run`
#   scripts/bootstrap.sh dev    also tests and tooling (requirements-dev.txt): `make test`,
#                               `make lint`, `make bench` and CI
# (STIMULANS_BOOTSTRAP=dev does the same as the argument.)
# Creates .venv if missing and (re)installs a requirements file only when it (or a file it
# includes) is newer than its stamp, so a second run takes well under a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

which=${1:-${STIMULANS_BOOTSTRAP:-runtime}}
case "$which" in
    runtime) file=requirements.txt stamp=.venv/.requirements-stamp ;;
    dev) file=requirements-dev.txt stamp=.venv/.requirements-dev-stamp ;;
    *) echo "bootstrap: unknown set '$which' (runtime or dev)" >&2; exit 2 ;;
esac

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv (${PYTHON:-python3} -m venv)"
    "${PYTHON:-python3}" -m venv .venv
fi

# The dev file includes requirements.txt: a change to either installs it again.
stale=0
[ -f "$stamp" ] || stale=1
for f in requirements.txt "$file"; do
    if [ "$f" -nt "$stamp" ]; then stale=1; fi
done

if [ "$stale" = 1 ]; then
    echo "bootstrap: installing $file into .venv"
    .venv/bin/python -m pip install --disable-pip-version-check -q -r "$file"
    touch "$stamp"
    # Installing the dev file installed requirements.txt too.
    if [ "$which" = dev ]; then touch .venv/.requirements-stamp; fi
else
    echo "bootstrap: .venv is up to date with $file"
fi
