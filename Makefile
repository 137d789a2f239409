# The companion's two commands: `make figures` (rebuild everything) and `make test`.
# Both create the virtual environment .venv when it is missing or when the pins changed.

PYTHON ?= python3.11
PROFILE ?= default
NOTEBOOK ?=
SET ?=
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.DEFAULT_GOAL := figures
.PHONY: figures test lab lab-exercises book exercises clean distclean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 15

$(STAMP): pyproject.toml requirements.lock
	@echo "setting up $(VENV) (first run, or the pins changed) ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

figures: $(STAMP)  ## rebuild every figure, table and the claims scoreboard (PROFILE=smoke|default|full, NOTEBOOK=name, SET="name=value ..."; a dotted name such as jcra_recipe.train.steps sets a value of the profile's section); default publishes to figures/, smoke to build/figures-smoke/, full to figures-full/
	@$(PY) -m companion.run --profile $(PROFILE) $(if $(NOTEBOOK),--only $(NOTEBOOK),) $(foreach s,$(SET),--set $(s))

test: $(STAMP)  ## lint (ruff), then unit tests, property tests and nbval over every notebook (smoke profile)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

lab: $(STAMP)  ## JupyterLab on 127.0.0.1 at the repository root (notebooks/, figures/, build/book/); hand runs write to build/scratch/
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --no-browser --notebook-dir . $(ROOT_FLAG)

lab-exercises: exercises  ## JupyterLab on the student copies in build/exercises/ (built by `make exercises`)
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --no-browser --notebook-dir build/exercises $(ROOT_FLAG)

book: $(STAMP)  ## the reading companion of the last `make figures` (same PROFILE) as HTML: build/book/ (default), build/book-<profile>/
	$(PY) -m companion.book --profile $(PROFILE)

exercises: $(STAMP)  ## student copies of notebooks/exercises/ (solutions removed, checks kept) in build/exercises/
	$(PY) -m companion.exercises strip --out build/exercises

clean:  ## remove generated figures and build artefacts (keeps .venv)
	rm -rf figures figures-full build

distclean: clean  ## also remove the virtual environment
	rm -rf $(VENV)
