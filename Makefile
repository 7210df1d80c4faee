.PHONY: run test lint migrations-check bench

run:
	scripts/run.sh

test:
	scripts/test.sh

lint:
	scripts/bootstrap.sh dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

migrations-check:
	DEBUG=1 .venv/bin/python manage.py makemigrations --check --dry-run

bench:
	scripts/bench.sh
