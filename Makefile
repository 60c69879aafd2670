# Two commands do all setup on a fresh machine (see README):
#   make demo   — virtualenv + install + a demo home + one pipeline run, then what happened
#   make test   — the whole suite (dbt build, Dagster, alerts, browser) — what CI runs
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SQLMESH_VENV := .venv-sqlmesh
DEMO_HOME ?= demo_home
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast lint dbt-parse sqlmesh-env browser lock clean bench docs docs-serve

$(VENV)/.installed: requirements/main.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/main.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

# dagster-dbt loads the manifest at import time: parse once as part of setup.
target/manifest.json: $(VENV)/.installed dbt_project.yml profiles.yml $(shell find models macros -type f 2>/dev/null)
	EXO_HOME=$(CURDIR)/build/parse_home $(BIN)/dbt parse --quiet --project-dir . --profiles-dir .
	@test -f $@

dbt-parse: target/manifest.json

setup: $(VENV)/.installed dbt-parse

# SQLMesh gets its own environment: sqlglot's compiled extension (pulled by dagster-dbt) crashes it.
$(SQLMESH_VENV)/.installed: requirements/sqlmesh.txt
	$(PY) -m venv $(SQLMESH_VENV)
	$(SQLMESH_VENV)/bin/pip install -q --disable-pip-version-check -r requirements/sqlmesh.txt
	touch $@

sqlmesh-env: $(SQLMESH_VENV)/.installed

demo: setup
	$(BIN)/exo --home $(DEMO_HOME) demo --force

# The dashboard is tested in a real browser: Debian's Chromium (installed when missing).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the dashboard browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup sqlmesh-env browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the unit layer: no dbt, no Dagster runs, no browser — seconds
test-fast: setup
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# dbt docs of the published snapshot (profiles.yml target `docs`: read-only, never the build file),
# in target/docs so the manifest dagster-dbt loads is left alone. DOCS_PORT for docs-serve.
DOCS_PORT ?= 8081
docs: setup
	EXO_HOME=$(abspath $(DEMO_HOME)) $(BIN)/dbt docs generate --quiet --target docs --project-dir . --profiles-dir . --target-path target/docs
	@echo "dbt docs of $(DEMO_HOME)/data/analytics.duckdb in target/docs; \`make docs-serve\` serves them on http://127.0.0.1:$(DOCS_PORT)"

docs-serve: docs
	EXO_HOME=$(abspath $(DEMO_HOME)) $(BIN)/dbt docs serve --target docs --project-dir . --profiles-dir . --target-path target/docs --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

# the import contract (.importlinter) and ruff; both also run inside `make test` (tests/unit/test_architecture.py)
lint: setup
	$(BIN)/lint-imports
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python scripts/bench_pipeline.py

lock:
	$(BIN)/pip freeze --exclude-editable > requirements/main.txt

clean:
	rm -rf $(VENV) $(SQLMESH_VENV) target logs build $(DEMO_HOME)
