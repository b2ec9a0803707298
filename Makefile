# The two commands of the README: `make demo` and `make test`. Both set up what they need.
.PHONY: setup setup-test demo serve test lint bench clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

## Load the demo programme and serve it at http://127.0.0.1:8000
demo: setup
	.venv/bin/demine demo
	.venv/bin/demine serve

serve: setup
	.venv/bin/demine serve

## The whole test suite against real PostgreSQL + PostGIS and headless Chromium
test: setup-test
	.venv/bin/python -m pytest

lint: setup-test
	.venv/bin/ruff check .
	.venv/bin/mypy

bench: setup-test
	.venv/bin/python -m benchmarks.run

clean:
	rm -rf .venv .demine .pytest_cache .hypothesis
