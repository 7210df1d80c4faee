#!/usr/bin/env bash
# The benchmarks against a throwaway PostgreSQL (and Redis).
#   scripts/bench.sh [ARGS]          the allocation benchmark; ARGS go to bench/allocation_bench.py,
#                                    e.g. `scripts/bench.sh --repeat 3`
#   scripts/bench.sh portal [ARGS]   the portal benchmark (gunicorn); ARGS go to bench/portal_bench.py
#   scripts/bench.sh load [ARGS]     the load benchmark (gunicorn under locust); ARGS go to
#                                    bench/load_bench.py. Installs bench/requirements.txt first.
#   scripts/bench.sh scale [ARGS]    the scale benchmark (a city's five years, the officials' bulk
#                                    actions); ARGS go to bench/scale_bench.py
# The figures are a report, not a test: the script exits 0 even when a target is missed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench=bench/allocation_bench.py
if [ "${1:-}" = portal ]; then
    bench=bench/portal_bench.py
    shift
elif [ "${1:-}" = load ]; then
    bench=bench/load_bench.py
    shift
elif [ "${1:-}" = scale ]; then
    bench=bench/scale_bench.py
    shift
fi

scripts/bootstrap.sh dev
scripts/system-packages.sh
# shellcheck source=scripts/services.sh
source scripts/services.sh
# The servers run without DEBUG: their static files come from STATIC_ROOT, as in production.
.venv/bin/python manage.py collectstatic --noinput -v0

echo "+ .venv/bin/python $bench $*"
# No `exec`: the EXIT trap from services.sh must run to stop the servers.
status=0
# The benchmarks' own tooling (locust), never a runtime dependency: installed into .venv only
# for the load benchmark, and again only when bench/requirements.txt changes.
if [ "$bench" = bench/load_bench.py ]; then
    stamp=.venv/.bench-requirements-stamp
    if [ ! -f "$stamp" ] || [ bench/requirements.txt -nt "$stamp" ]; then
        echo "bench: installing bench/requirements.txt into .venv"
        .venv/bin/python -m pip install --disable-pip-version-check -q -r bench/requirements.txt
        touch "$stamp"
    fi
fi
.venv/bin/python "$bench" "$@" || status=$?

# --- The reporting benchmark (bench/reporting_bench.py; see bench/README.md) ----------------
# The decision report and the letters through real workers, and a 100 000-row xlsx export,
# each against its floor; it runs after the allocation benchmark (`make bench`). Its
# arguments go in BENCH_REPORTING_ARGS, e.g. "--only xlsx"; BENCH_REPORTING=0 skips it.
if [ "${BENCH_REPORTING:-1}" != 0 ] && [ "$bench" = bench/allocation_bench.py ]; then
    echo "+ .venv/bin/python bench/reporting_bench.py ${BENCH_REPORTING_ARGS:-}"
    # shellcheck disable=SC2086 # the arguments are separate words on purpose
    .venv/bin/python bench/reporting_bench.py ${BENCH_REPORTING_ARGS:-} || status=$?
fi
exit "$status"
