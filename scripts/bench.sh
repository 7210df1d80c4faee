#!/usr/bin/env bash
# The allocation benchmark against a throwaway PostgreSQL (and Redis).
# Extra arguments go to bench/allocation_bench.py, e.g. `scripts/bench.sh --repeat 3`.
# The figures are a report, not a test: the script exits 0 even when a target is missed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/bootstrap.sh
# shellcheck source=scripts/services.sh
source scripts/services.sh

echo "+ .venv/bin/python bench/allocation_bench.py $*"
# No `exec`: the EXIT trap from services.sh must run to stop the servers.
status=0
.venv/bin/python bench/allocation_bench.py "$@" || status=$?
exit "$status"
