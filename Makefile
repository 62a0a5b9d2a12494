# Two commands for students: `make lab` opens the course, `make test` runs every test.
# Both create .venv when needed: `make lab` installs requirements.txt (the course), every other
# target requirements-dev.txt (the course + tests, site and slide builds, benchmarks).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LAB_ARGS ?=
PYTEST_ARGS ?=
NB ?=
EXERCISE_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test exercises execute sync
.PHONY: slides html serve
PORT ?= 8000

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

lab: $(VENV)/.installed  ## open the course in JupyterLab
	$(PY) -m jupyter lab --notebook-dir=. $(ROOT_FLAG) $(LAB_ARGS)

# -X warn_default_encoding: a text file opened without an explicit encoding fails the tests
# (pytest.ini turns the EncodingWarning into an error in our code; conftest.py does so in kernels).
test: $(VENV)/.installed-dev  ## run the whole test suite (notebooks in smoke mode)
	$(PY) -X warn_default_encoding -m pytest $(PYTEST_ARGS)

# `make exercises` regenerates stale exercises and keeps any you edited (in the .ipynb or the .md).
# `make exercises EXERCISE_ARGS=--force` replaces edited ones too, first saving each edited file
# next to it as NN_topic.backup-YYYYmmdd-HHMMSS.<ipynb|md>.bak; EXERCISE_ARGS=--check only reports.
exercises: $(VENV)/.installed-dev  ## regenerate exercises/ from solutions/ (keeps your edits; EXERCISE_ARGS=--force backs them up, then replaces them)
	$(PY) -m tools.make_exercises $(EXERCISE_ARGS)

execute: $(VENV)/.installed-dev  ## run NB=path.ipynb top to bottom in full mode, in place
	env -u CI $(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=3600 $(NB)
	$(PY) -m tools.progress_outputs $(NB)

# The lectures' .ipynb carry the slide rule as `slideshow` metadata for RISE (their .md/.py twins
# filter it out): --apply-metadata rewrites it after a sync, since the rule follows the cells.
sync: $(VENV)/.installed-dev  ## bring every .ipynb/.md/.py triple in step (the newest wins)
	$(PY) -m jupytext --sync lectures/*.ipynb solutions/*.ipynb exercises/*.ipynb
	$(PY) -m tools.slides --apply-metadata lectures/*.ipynb

# Measured claims (lecture times and memory, step speed and threads, Pyro's cost, quality, CI
# time): prints a Markdown report and writes benchmarks/results.md. BENCH_ARGS="--quick" (< 3 min).
BENCH_ARGS ?=
.PHONY: benchmark
benchmark: $(VENV)/.installed-dev  ## measure the course (full run < 30 min; BENCH_ARGS=--quick < 3 min)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

slides: $(VENV)/.installed-dev  ## reveal.js decks of the lectures in build/slides/ (committed outputs, no run)
	$(PY) -m tools.slides

html: $(VENV)/.installed-dev  ## the course site in build/html/ (Sphinx + MyST-NB, committed outputs, no run, offline)
	$(PY) -m tools.site

serve: $(VENV)/.installed-dev  ## serve build/ (site in html/, decks in slides/) at http://127.0.0.1:$(PORT)/
	@echo "the course site: http://127.0.0.1:$(PORT)/html/index.html (decks: /slides/, after make slides)"
	$(PY) -m http.server --bind 127.0.0.1 --directory build $(PORT)
