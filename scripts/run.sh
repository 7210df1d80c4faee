#!/usr/bin/env bash
# Set up and run the product on its embedded defaults (DEBUG=1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/bootstrap.sh
scripts/system-packages.sh
export DEBUG=1

run() { echo "+ $*"; "$@"; }
run .venv/bin/python manage.py migrate --noinput
run .venv/bin/python manage.py load_demo
echo "+ .venv/bin/python manage.py runserver ${HOST:-127.0.0.1}:${PORT:-8000}"
exec .venv/bin/python manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}"
