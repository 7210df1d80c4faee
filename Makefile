.PHONY: run test lint migrations-check bench

run:
	scripts/run.sh

test:
	scripts/test.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

migrations-check:
	.venv/bin/python manage.py makemigrations --check --dry-run

bench:
	scripts/bench.sh
