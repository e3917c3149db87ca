# Parley — `make run` serves the app, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run dev test bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Parley needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/gunicorn --config python:webapp.gunicorn_conf wsgi:app

dev: $(VENV)/.installed
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi run --debug

# The several-instances tests run with the PostgreSQL pass (they need it).
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m 'not instances'
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "--- again on PostgreSQL ($$TEST_DATABASE_URL), with several instances"; \
		$(BIN)/pytest --db=postgres -m 'not browser'; \
	fi

bench: $(VENV)/.installed-test
	$(BIN)/python tests/bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
