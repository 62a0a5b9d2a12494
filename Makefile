# Two commands for students: `make lab` opens the course, `make test` runs every test.
# Both create .venv and install requirements.txt first when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LAB_ARGS ?=
PYTEST_ARGS ?=
NB ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test exercises execute sync
.PHONY: slides html serve
PORT ?= 8000

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is needed; found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt
	touch $@

lab: $(VENV)/.installed  ## open the course in JupyterLab
	$(PY) -m jupyter lab --notebook-dir=. $(ROOT_FLAG) $(LAB_ARGS)

test: $(VENV)/.installed  ## run the whole test suite (notebooks in smoke mode)
	$(PY) -m pytest $(PYTEST_ARGS)

exercises: $(VENV)/.installed  ## regenerate exercises/ from solutions/ (never overwrites your edits)
	$(PY) -m utils.make_exercises

execute: $(VENV)/.installed  ## run NB=path.ipynb top to bottom in full mode, in place
	env -u CI $(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=3600 $(NB)

sync: $(VENV)/.installed  ## bring every .ipynb/.md pair in step (newer side wins)
	$(PY) -m jupytext --sync lectures/*.ipynb solutions/*.ipynb exercises/*.ipynb

# Measured claims (lecture times and memory, speed, Pyro's cost, quality, CI time): prints a
# Markdown table and writes benchmarks/results.md. BENCH_ARGS="--quick" (< 3 min), "--update-readme".
BENCH_ARGS ?=
.PHONY: benchmark
benchmark: $(VENV)/.installed  ## measure the course (full run < 30 min; BENCH_ARGS=--quick < 3 min)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

slides: $(VENV)/.installed  ## reveal.js decks of the lectures in build/slides/ (committed outputs, no run)
	$(PY) -m utils.export slides

html: $(VENV)/.installed  ## every notebook as a web page in build/html/ (+ the decks it links; no run)
	$(PY) -m utils.export all

serve: $(VENV)/.installed  ## serve build/ at http://127.0.0.1:$(PORT)/ (after make slides / make html)
	$(PY) -m http.server --bind 127.0.0.1 --directory build $(PORT)
