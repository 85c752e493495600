# Self-documenting Makefile: `make` or `make help` lists the targets.
# Every target creates the virtual environment .venv/ first if it is missing.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The exact versions a class installs (all packages, for Python 3.11+ on Linux, macOS and
# Windows); pyproject.toml keeps the ranges. `make lock` regenerates it.
LOCK   := requirements.lock
# uv installs the lock in parallel (much faster than pip); it comes from PyPI into .venv.
# Where it cannot be installed or fails, plain pip installs the same lock. INSTALLER=pip
# skips uv. uv compiles the packages' bytecode at install, as pip does: without it, where
# PYTHONDONTWRITEBYTECODE is set (CI machines, containers), every kernel and test process
# compiled pandas, scikit-learn and Evidently again (make test: 16 instead of 10 CPU minutes).
UV_VERSION ?= 0.13.9
UV     := $(VENV)/bin/uv
INSTALLER ?= uv
# JupyterLab refuses to run as root without --allow-root (containers, CI machines).
LAB_ROOT_FLAG := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

.DEFAULT_GOAL := help
.PHONY: help install lock demo test test-fast lab monitor bench lint report clean clean-data

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ] && $(PY) -m pip install --quiet "uv==$(UV_VERSION)" \
	        && $(UV) pip install --python $(PY) --compile-bytecode -r $(LOCK) \
	        && $(UV) pip install --python $(PY) -e .; then \
	    echo "installed $(LOCK) and the project with uv"; \
	else \
	    echo "installing $(LOCK) and the project with pip (slower)"; \
	    $(PY) -m pip install --quiet --upgrade pip \
	        && $(PY) -m pip install --quiet -r $(LOCK) && $(PY) -m pip install --quiet -e .; \
	fi
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (fti)" >/dev/null
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project, its dev tools and S3 support (locked)

lock: ## Regenerate requirements.lock from pyproject.toml (LOCK_FLAGS=--upgrade: newest versions)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) pip compile pyproject.toml --extra dev --extra s3 --universal --python-version 3.11 \
	    --custom-compile-command "make lock" $(LOCK_FLAGS) --quiet -o $(LOCK)

demo: $(STAMP) ## Run the whole story: backfill, train, replay June 2013, monitor, retrain, report
	$(PY) -m fti demo

test: $(STAMP) ## Run the whole test suite (unit, data, runner, chain, every notebook), 3 workers
	$(PY) -m pytest -n 3

test-fast: $(STAMP) ## Run the unit tests only (no notebooks, no real-data runs)
	$(PY) -m pytest -m "not slow"

lab: $(STAMP) ## Open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=. $(LAB_ROOT_FLAG) notebooks/

monitor: $(STAMP) ## Open the monitoring dashboard: Evidently UI on localhost (after make demo)
	$(PY) -m fti monitor

bench: $(STAMP) ## Run the benchmarks and print their figures
	$(PY) benchmarks/run.py

lint: $(STAMP) ## Check style with ruff
	$(VENV)/bin/ruff check lib tests benchmarks notebooks

report: $(STAMP) ## Rebuild reports/index.html from what is in reports/ and data/
	$(PY) -m fti report

clean: ## Remove the virtual environment and caches (keeps data/ and reports/)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-data: ## Delete everything generated in data/ and reports/ (keeps their READMEs)
	find data reports -mindepth 1 ! -name README.md -prune -exec rm -rf {} +
