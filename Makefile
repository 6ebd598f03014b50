# The two commands of the README: `make dev` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: dev test lint typecheck pytest install migration bench clean

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
test: install lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy .

pytest:
	$(BIN)/pytest -q $(PYTEST_ARGS)

## Benchmarks against raw Temporal / SQL / SMTP baselines measured in the same run; writes BENCHMARKS.md.
bench: install
	$(BIN)/python -m bench.run

## Regenerates the single initial migration from the tables (before the first release only).
migration: install
	rm -f migrations/versions/0001_initial.py /tmp/appraisal-migration.db
	$(BIN)/python -c "from core.migrate import autogenerate; autogenerate('sqlite:////tmp/appraisal-migration.db', 'initial schema', '0001')"
	@mv migrations/versions/0001_initial_schema.py migrations/versions/0001_initial.py
	$(BIN)/ruff format migrations/versions
	rm -f /tmp/appraisal-migration.db

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
