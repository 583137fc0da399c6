# Kalix: `make run` starts everything, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check
# pip-tools writes this into the compiled files' header, and no machine-specific index or link.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make requirements" $(VENV)/bin/pip-compile --quiet --strip-extras \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host

export PYTHONWARNINGS := ignore::UserWarning:platformdirs.api
SCENARIO ?= live
MAKE_STARTED := $(shell date +%s.%N)

.PHONY: run test test-fast bench setup venv venv-dev requirements lint stop clean-data

# Runtime requirements for `make run`; development ones (tests, benchmarks, lint) on top for the rest.
$(VENV)/.installed-runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

venv: $(VENV)/.installed-runtime

venv-dev: $(VENV)/.installed-dev

setup: venv
	DEBUG=$${DEBUG:-1} $(PY) manage.py prepare

run: setup
	DEBUG=$${DEBUG:-1} KALIX_MAKE_STARTED=$(MAKE_STARTED) $(PY) scripts/run.py

# The whole suite, browser and cluster tests included (what CI runs): on TEST_WORKERS pytest-xdist workers,
# each with a test database of its own (most tests wait on clusters, browsers and servers, not the CPU),
# then the few tests marked `exclusive` (they restart the database server) alone. Exit status 5 of the
# second run is "no test selected" (PYTEST_ARGS naming other tests).
TEST_WORKERS ?= 4
test: venv-dev
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not exclusive" $(PYTEST_ARGS)
	$(PY) -m pytest -p no:xdist -m exclusive $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The quick local loop: everything but the tests that drive Chromium or start django-q2 clusters.
test-fast: venv-dev
	$(PY) -m pytest -m "not browser and not cluster" $(PYTEST_ARGS)

bench: venv-dev
	DEBUG=$${DEBUG:-1} $(PY) -m bench $(SCENARIO)

lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# After editing requirements.in or requirements-dev.in: pin them again (existing pins are kept where
# they still fit; `make requirements PIP_COMPILE_ARGS=--upgrade` moves every pin to the newest).
requirements: venv-dev
	$(PIP_COMPILE) $(PIP_COMPILE_ARGS) -o requirements.txt requirements.in
	$(PIP_COMPILE) $(PIP_COMPILE_ARGS) -o requirements-dev.txt requirements-dev.in

stop: venv
	$(PY) -c "from pathlib import Path; from kalix_site.embedded_db import stop; print('stopped' if stop(Path('.')) else 'not running')"

clean-data: stop
	rm -rf .data
