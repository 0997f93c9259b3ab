# The two commands a newcomer needs: `make run` (the main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint fuzz install venv313 bench bench-runtime clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# A second, small environment: Python 3.13 with Django 6, where the Django storage tests and the
# Django stack tests run too (tests/contrib/test_django_storage_port.py, tests/stacks; the package
# list matches tests/stacks/conftest.py). Skipped with a message when no Python 3.13 exists.
PYTHON313 ?= $(shell PYENV_VERSION=3.13.0 pyenv which python 2>/dev/null || command -v python3.13 2>/dev/null)
VENV313   := .venv313
$(VENV313)/.installed: pyproject.toml
	@if [ -z "$(PYTHON313)" ]; then echo "no Python 3.13: the Django 6 run is skipped"; exit 0; fi; \
	$(PYTHON313) -m venv $(VENV313) && \
	$(VENV313)/bin/python -m pip install --quiet -e . 'django>=6.1' 'django-vite>=3.0' \
	  'inertia-django>=1.0' 'uvicorn>=0.29' 'brotli>=1.1' 'zstandard>=0.22' && \
	touch $@

venv313: $(VENV313)/.installed

# Main job: the demo on http://127.0.0.1:8000 (PORT=8001 make run for another port).
PORT ?= 8000
run: install
	$(BIN)/skewguard demo --port $(PORT)

# Lint, format check and strict typing of the package: CI fails on any regression.
lint: install
	$(BIN)/python -m pip install --quiet 'ruff>=0.6' 'mypy>=1.11'
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

# Whole test suite. In CI (CI=true) missing system tools are installed first;
# pytest's "no tests collected" (exit 5) counts as a failure.
test: install venv313 lint
	bash scripts/ensure-tools.sh
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

# The property-based fuzz suite with many more examples than the default run (FUZZ_EXAMPLES=...).
FUZZ_EXAMPLES ?= 5000
fuzz: install
	SKEWGUARD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz -q

# Benchmarks (by hand, not in the test suite); figures go to docs/benchmarks.md.
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/build.py

bench-runtime: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/runtime.py

clean:
	rm -rf $(VENV) $(VENV313) examples/dist bench/.work tests/fixtures/npm/node_modules
