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

test: $(VENV)/.installed-dev  ## run the whole test suite (notebooks in smoke mode)
	$(PY) -m pytest $(PYTEST_ARGS)

# `make exercises` regenerates stale exercises and keeps any you edited (in the .ipynb or the .md).
# `make exercises EXERCISE_ARGS=--force` replaces edited ones too, first saving each edited file
# next to it as NN_topic.backup-YYYYmmdd-HHMMSS.<ipynb|md>.bak; EXERCISE_ARGS=--check only reports.
exercises: $(VENV)/.installed-dev  ## regenerate exercises/ from solutions/ (keeps your edits; EXERCISE_ARGS=--force backs them up, then replaces them)
	$(PY) -m tools.make_exercises $(EXERCISE_ARGS)

execute: $(VENV)/.installed-dev  ## run NB=path.ipynb top to bottom in full mode, in place
	env -u CI $(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=3600 $(NB)

sync: $(VENV)/.installed-dev  ## bring every .ipynb/.md pair in step (newer side wins)
	$(PY) -m jupytext --sync lectures/*.ipynb solutions/*.ipynb exercises/*.ipynb

# Measured claims (lecture times and memory, step speed and threads, Pyro's cost, quality, CI
# time): prints a Markdown report and writes benchmarks/results.md. BENCH_ARGS="--quick" (< 3 min).
BENCH_ARGS ?=
.PHONY: benchmark
benchmark: $(VENV)/.installed-dev  ## measure the course (full run < 30 min; BENCH_ARGS=--quick < 3 min)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

slides: $(VENV)/.installed-dev  ## reveal.js decks of the lectures in build/slides/ (committed outputs, no run)
	$(PY) -m tools.export slides

html: $(VENV)/.installed-dev  ## every notebook as a web page in build/html/ (+ the decks it links; no run)
	$(PY) -m tools.export all

serve: $(VENV)/.installed-dev  ## serve build/ at http://127.0.0.1:$(PORT)/ (after make slides / make html)
	$(PY) -m http.server --bind 127.0.0.1 --directory build $(PORT)
