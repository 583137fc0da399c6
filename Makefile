# Kalix: `make run` starts everything, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

export PYTHONWARNINGS := ignore::UserWarning:platformdirs.api
SCENARIO ?= live
MAKE_STARTED := $(shell date +%s.%N)

.PHONY: run test bench setup venv lint stop clean-data

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV)/.installed

setup: venv
	DEBUG=$${DEBUG:-1} $(PY) manage.py prepare

run: setup
	DEBUG=$${DEBUG:-1} KALIX_MAKE_STARTED=$(MAKE_STARTED) $(PY) scripts/run.py

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	DEBUG=$${DEBUG:-1} $(PY) -m bench $(SCENARIO)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

stop: venv
	$(PY) -c "from pathlib import Path; from kalix_site.embedded_db import stop; print('stopped' if stop(Path('.')) else 'not running')"

clean-data: stop
	rm -rf .data
