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

.PHONY: lab test test-fast exercises execute sync
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

# The course's JupyterLab settings (jupyter-config/README.md): no news question, no update check,
# and the JupyterLab 3 MathJax extension that jupyterlab-rise pulls in turned off; also for RISE.
LAB_CONFIG := $(CURDIR)/jupyter-config
lab: $(VENV)/.installed  ## open the course in JupyterLab
	JUPYTER_CONFIG_PATH="$(LAB_CONFIG)$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))" \
	  $(PY) -m jupyter lab --notebook-dir=. $(ROOT_FLAG) \
	  --LabApp.app_settings_dir="$(LAB_CONFIG)/lab-settings" \
	  --RiseApp.app_settings_dir="$(LAB_CONFIG)/lab-settings" $(LAB_ARGS)

# -X warn_default_encoding: a text file opened without an explicit encoding fails the tests
# (pytest.ini turns the EncodingWarning into an error in our code; conftest.py does so in kernels).
# Two tiers (CONTRIBUTING.md, the test plan): `make test` runs everything (CI and the README run
# it); `make test-fast` the unit, file and static checks, those not marked `slow` (no notebook
# run, no JupyterLab, no deck or site build, no browser; under 2 minutes on 2 cores).
test: $(VENV)/.installed-dev  ## run the whole test suite (notebooks in smoke mode)
	$(PY) -X warn_default_encoding -m pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-dev  ## the unit, file and static checks only (no notebook, JupyterLab, build or browser)
	$(PY) -X warn_default_encoding -m pytest -m "not slow" $(PYTEST_ARGS)

# `make exercises` regenerates stale exercises and keeps any you edited (in the .ipynb or the .md).
# `make exercises EXERCISE_ARGS=--force` replaces edited ones too, first saving each edited file
# next to it as NN_topic.backup-YYYYmmdd-HHMMSS.<ipynb|md|py>.bak; EXERCISE_ARGS=--check only reports.
exercises: $(VENV)/.installed-dev  ## regenerate exercises/ from solutions/ (keeps your edits; EXERCISE_ARGS=--force backs them up, then replaces them)
	$(PY) -m tools.make_exercises $(EXERCISE_ARGS)

# A lecture's full run also writes the models it trains to checkpoints/<lecture>/ (their SHA-256 and
# configuration in its manifest.json), which class mode (LVM_CLASS_MODE=1) loads instead of training.
execute: $(VENV)/.installed-dev  ## run NB=path.ipynb top to bottom in full mode, in place (lectures also save their trained models to checkpoints/)
	env -u CI -u LVM_CLASS_MODE LVM_SAVE_CHECKPOINTS=1 $(PY) -m jupyter nbconvert --to notebook \
	  --execute --inplace --ExecutePreprocessor.timeout=3600 $(NB)
	$(PY) -m tools.progress_outputs $(NB)
	$(PY) -c "from utils.checkpoints import summary; print(summary())"

# The lectures' .ipynb carry the slide rule as `slideshow` metadata for RISE (their .md/.py twins
# filter it out): --apply-metadata rewrites it after a sync, since the rule follows the cells.
sync: $(VENV)/.installed-dev  ## bring every .ipynb/.md/.py triple in step (the newest wins)
	$(PY) -m jupytext --sync lectures/*.ipynb solutions/*.ipynb exercises/*.ipynb
	$(PY) -m tools.slides --apply-metadata lectures/*.ipynb

# Measured claims (lecture times and memory, step speed and threads, Pyro's cost, quality, CI
# time): prints a Markdown report and writes benchmarks/results.md. BENCH_ARGS="--quick" (< 3 min).
BENCH_ARGS ?=
.PHONY: benchmark device-check test-lowest
benchmark: $(VENV)/.installed-dev  ## measure the course (full run < 30 min; BENCH_ARGS=--quick < 3 min)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

slides: $(VENV)/.installed-dev  ## reveal.js decks of the lectures in build/slides/ (committed outputs, no run)
	$(PY) -m tools.slides

html: $(VENV)/.installed-dev  ## the course site in build/html/ (Sphinx + MyST-NB, committed outputs, no run, offline)
	$(PY) -m tools.site

serve: $(VENV)/.installed-dev  ## serve build/ (site in html/, decks in slides/) at http://127.0.0.1:$(PORT)/
	@echo "the course site: http://127.0.0.1:$(PORT)/html/index.html (decks: /slides/)"
	$(PY) -m http.server --bind 127.0.0.1 --directory build $(PORT)

# Every notebook as a script on the device present (CUDA, or LVM_DEVICE=mps/cpu), one report in
# benchmarks/results-<device>.md: status, ✗ lines, wall time, peak device memory per notebook.
# DEVICE_ARGS="--full-lectures" runs the lectures in full mode (full MNIST via LVM_DATA_DIR).
DEVICE_ARGS ?=
device-check: $(VENV)/.installed-dev  ## every notebook on the accelerator present; report in benchmarks/results-<device>.md
	$(PY) -m benchmarks.device_check $(DEVICE_ARGS)

# The oldest releases the course supports (requirements-lowest.txt = requirements.txt's lower
# bounds), in a venv of their own: the unit tests and every notebook in smoke mode. A one-off (not
# run by CI): torch 2.6 from the package index is a CUDA build of several GB.
LOWEST ?= .venv-lowest
LOWEST_TESTS ?= tests solutions --ignore=tests/test_browser.py \
  --ignore=tests/test_site_browser.py --ignore=tests/test_lab.py --ignore=tests/test_site.py \
  --ignore=tests/test_slides.py
test-lowest:  ## unit tests + every notebook (smoke) with the lowest supported versions (several GB; not in CI)
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/pip install -r requirements-lowest.txt
	$(LOWEST)/bin/pip install -r requirements-dev.txt -c requirements-lowest.txt
	$(LOWEST)/bin/python -X warn_default_encoding -m pytest $(LOWEST_TESTS)

# Would a student on a managed image (JupyterHub, Colab) have torch, numpy or matplotlib replaced?
# A venv holding torch 2.6, torchvision 0.21, numpy 2.0.2 and matplotlib 3.9, then pip's dry run
# of requirements.txt, read by tools.install_report (exit 1 if any of those would change).
MANAGED ?= .venv-managed
.PHONY: install-check
install-check:  ## would requirements.txt replace a managed image's torch/numpy/matplotlib? (several GB; not in CI)
	test -x $(MANAGED)/bin/python || $(PYTHON) -m venv $(MANAGED)
	$(MANAGED)/bin/pip install torch==2.6.0 torchvision==0.21.0 numpy==2.0.2 matplotlib==3.9.0
	$(MANAGED)/bin/pip install --dry-run --report $(MANAGED)/report.json -r requirements.txt
	$(PYTHON) -m tools.install_report $(MANAGED)/report.json
