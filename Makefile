# Cascade: two commands get you going: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install system-deps browser run serve test lint bench clean

# WeasyPrint needs Pango (and HarfBuzz's subsetter, else it warns at import); a fresh Debian machine may not have it, so install it (root) when missing.
system-deps:
	@if ! ldconfig -p | grep -q libpango-1.0.so.0 || ! ldconfig -p | grep -q libpangoft2-1.0.so.0 \
		|| ! ldconfig -p | grep -q libharfbuzz-subset.so.0; then \
		echo "Installing Pango and fonts for PDF rendering (Debian packages)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; \
	fi

# Browser tests drive Debian's Chromium through Playwright; no browser is ever downloaded.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium for the browser tests (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: system-deps $(STAMP)

run: install
	$(BIN)/cascade db upgrade
	$(BIN)/cascade demo
	CASCADE_DEMO=1 $(BIN)/cascade run --host $(HOST) --port $(PORT)

# Production-style serving on this machine: gunicorn web workers and outbox workers
# (settings from the environment: DATABASE_URL, CASCADE_WEB_WORKERS, ...; see the README).
serve: install
	$(BIN)/cascade db upgrade
	$(BIN)/cascade serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DATABASE_URL=sqlite:///$(CURDIR)/instance/alembic-check.db $(BIN)/cascade db upgrade
	DATABASE_URL=sqlite:///$(CURDIR)/instance/alembic-check.db $(BIN)/alembic check
	rm -f instance/alembic-check.db

# Two workers, one per core of the CI machine: each builds its own databases.
test: install browser lint
	$(BIN)/python -m pytest -n 2

# Five figures against bare baselines on PostgreSQL (BENCH_DATABASE_URL, default the local
# `test` database; each figure makes and drops databases of its own); writes bench/RESULTS.md.
# BENCH_QUICK=1 is a smoke run with small sizes.
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance/*.db instance/documents
