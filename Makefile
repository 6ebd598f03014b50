# The two commands of the README: `make dev` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: dev test test-fast lint typecheck pytest install browser office migration bench chaos clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

## Starts the whole embedded stack (Temporal dev server + UI, SMTP sink, worker, API) with demo data.
dev: install
	$(BIN)/appraisal dev --demo

## ruff, mypy and the whole test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL).
test: install browser office lint typecheck pytest

## Debian's Chromium for the one real-browser test (Playwright drives it; nothing is downloaded).
browser:
	@command -v chromium >/dev/null 2>&1 || test -x "$${APPRAISAL_CHROMIUM:-/nonexistent}" || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is needed for the browser test: sudo apt-get install -y chromium" >&2; exit 1; fi; }

## LibreOffice (DOCX → PDF of the reports) and poppler (their first page as PNG in the tests).
office:
	@{ command -v soffice && command -v pdftoppm; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libreoffice-writer-nogui libreoffice-calc-nogui poppler-utils >/dev/null; \
	  else echo "LibreOffice is needed for the report tests: sudo apt-get install -y libreoffice-writer-nogui libreoffice-calc-nogui poppler-utils" >&2; exit 1; fi; }

## The inner loop: ruff, mypy and the tests that need no Temporal server and no browser.
test-fast: install lint typecheck
	$(BIN)/pytest -q -m "not temporal and not browser" $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy .

pytest:
	$(BIN)/pytest -q $(PYTEST_ARGS)

## Benchmarks against raw Temporal / SQL / SMTP baselines measured in the same run; writes BENCHMARKS.md.
## The full sizes of issue 13 (cycle start and reminders at 1,000 and 5,000 units, 10/50/200 HTTP
## clients on SQLite and PostgreSQL); a quiet machine and PostgreSQL on 127.0.0.1 are assumed
## (BENCH_POSTGRES_URL to use another; BENCH_ARGS="--databases sqlite" without one).
bench: install
	$(BIN)/python -m bench.run --units 500 --larger 1000,5000 $(BENCH_ARGS)

## Fault tests (issue 13) at full size: worker SIGKILLs, dev server restart, SMTP down, API restart.
chaos: install
	CHAOS_FULL=1 $(BIN)/pytest -q -s tests/workflows/test_chaos_smtp.py tests/workflows/test_chaos_api.py tests/workflows/test_chaos_worker.py tests/workflows/test_chaos_devserver.py $(PYTEST_ARGS)

## Regenerates the single initial migration from the tables (before the first release only).
migration: install
	rm -f migrations/versions/0001_initial.py /tmp/appraisal-migration.db
	$(BIN)/python -c "from core.migrate import autogenerate; autogenerate('sqlite:////tmp/appraisal-migration.db', 'initial schema', '0001')"
	@mv migrations/versions/0001_initial_schema.py migrations/versions/0001_initial.py
	$(BIN)/ruff format migrations/versions
	rm -f /tmp/appraisal-migration.db

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
