# The two commands of the README: `make demo` and `make test`. Both set up what they need.
.PHONY: setup setup-test demo serve test fuzz lint bench clean messages

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

## Schemathesis at length (on demand, 120 examples an operation: over 20,000 requests; `make test` runs 30)
fuzz: setup-test
	DEMINE_FUZZ_EXAMPLES=$${DEMINE_FUZZ_EXAMPLES:-120} .venv/bin/python -m pytest -p no:cacheprovider tests/test_api_fuzz.py -s

lint: setup-test
	.venv/bin/ruff check .
	.venv/bin/mypy

bench: setup-test
	.venv/bin/python -m benchmarks.run

## Report catalogues: extract the labels (N_ in survey/reports, _ in the report templates,
## C_ vocabulary and units) and merge them into maps/reports/locale/{en,uk}; then translate
## the new empty msgstr in the uk .po (tests/test_reports_render.py fails until done)
messages: setup-test
	.venv/bin/pybabel extract -F maps/reports/babel.cfg -k N_ -k C_:1c,2 --no-location \
	  --sort-output --project demine --copyright-holder "demine contributors" \
	  -o maps/reports/locale/demine.pot .
	.venv/bin/pybabel update -D demine -i maps/reports/locale/demine.pot -d maps/reports/locale \
	  --no-fuzzy-matching --ignore-obsolete -w 100

clean:
	rm -rf .venv .demine .pytest_cache .hypothesis
