#!/usr/bin/env bash
# The whole test suite against throwaway PostgreSQL + Redis.
# Extra arguments go to pytest, e.g. `scripts/test.sh -x -k grants`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/bootstrap.sh dev
scripts/system-packages.sh
# shellcheck source=scripts/services.sh
source scripts/services.sh

echo "+ .venv/bin/python -m pytest $*"
# No `exec`: the EXIT trap from services.sh must run to stop the servers.
status=0
.venv/bin/python -m pytest "$@" || status=$?
exit "$status"
