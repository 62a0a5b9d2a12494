"""Test-suite settings (repository root, so they hold for `pytest solutions/X.ipynb` too).

These variables are set before nbval starts any kernel, so every kernel inherits them.

Also the test plan's machinery (CONTRIBUTING.md, "The test plan"): the test run's shared folder,
the `slow` marker of nbval's solution cells, the pytest-xdist groups and their order (the longest
first, over both workers), and the count of notebook executions printed at the end
(tests/_executions.py).
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("CI", "true")            # smoke mode (Pyro's convention)
os.environ["LVM_STRICT_CHECKS"] = "1"          # a failed self-check raises
os.environ.setdefault("LVM_NUM_THREADS", "1")  # small models run fastest on one thread
os.environ.setdefault("MPLBACKEND", "Agg")
# Every notebook computes on a simulated accelerator (utils/_simulated_device.py): a CPU device
# that refuses what CUDA and mps refuse, so device bugs fail here although CI has no GPU.
os.environ.setdefault("LVM_SIMULATED_ACCELERATOR", "1")

ROOT = Path(__file__).resolve().parent
if str(ROOT / "tests") not in sys.path:         # the tests' helpers, for `pytest solutions/` too
    sys.path.insert(0, str(ROOT / "tests"))
import _executions  # noqa: E402


def _our_modules() -> list[str]:
    """The modules the course's own code runs as in a kernel or script: utils.* and __main__."""
    names = ["__main__"]
    for folder, _, files in os.walk(ROOT / "utils"):
        package = os.path.relpath(folder, ROOT).replace(os.sep, ".")
        names += [package if f == "__init__.py" else f"{package}.{f[:-3]}"
                  for f in sorted(files) if f.endswith(".py")]
    return names


# Text files opened without an explicit encoding: kernels, scripts and pytest-xdist workers warn
# (EncodingWarning, as `make test`'s `-X warn_default_encoding` does for this process); the
# warning is an error in the course's own code (notebook cells, utils) and silent in third-party
# packages (torch opens /proc/self/maps at import), so no kernel prints it. pytest.ini holds the
# same rule for the tests themselves. With -W/PYTHONWARNINGS the last matching entry wins.
os.environ["PYTHONWARNDEFAULTENCODING"] = "1"
os.environ["PYTHONWARNINGS"] = ",".join(
    [os.environ.get("PYTHONWARNINGS", ""), "ignore::EncodingWarning"]
    + [f"error::EncodingWarning:{m}" for m in _our_modules()]).lstrip(",")


# ---- the test run's folder: executions counted, the one build of the decks and the site -------

def _is_controller(config) -> bool:
    """True in the process that runs the session: pytest-xdist's controller, or pytest alone."""
    return not hasattr(config, "workerinput")


def pytest_configure(config):
    if _is_controller(config):   # the workers (started later) inherit the variable
        folder = tempfile.mkdtemp(prefix="lvm-test-run-")
        os.environ[_executions.RUN_DIR_ENV] = folder
        config._lvm_run_dir = folder


def pytest_unconfigure(config):
    folder = getattr(config, "_lvm_run_dir", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(_executions.RUN_DIR_ENV, None)


# ---- pytest-xdist: one group per notebook run, the longest first -------------------------------
# A group's tests run on one worker, one after the other: a lecture's re-run test (its tests
# share one kernel's run), its script, an exercise's run, a solution's nbval cells, the tests
# that share the JupyterLab (`xdist_group` marks in the test files; nbval's cells by notebook);
# any other test file is one group, as with --dist loadfile. pytest-xdist's own --dist loadgroup
# passes groups to the controller by renaming each test (nodeid + "@group"), which pytest 9.2
# silently undoes (pytest-dev/pytest-xdist#1386: every group split over both workers, so each
# worker ran the lecture again). So each worker writes every test's group into the run's folder
# as it collects, and the controller's scheduler (make_scheduler below) reads them.

# Seconds each long group took in the full run of 2026-12-05 07:05 (two workers, on the 2-core
# machine, otherwise idle; pytest --durations, summed per group): the groups start longest first,
# so that neither worker is left with a long run at the end. A group not listed (each under 10 s)
# keeps its place after these. A lecture's re-run test and its script are separate groups, so
# they can run at the same time on both workers.
LONG_GROUPS = {
    "jupyterlab": 308, "tests/test_site_browser.py": 156,
    "rerun-05_vae_pyro": 58, "rerun-07_discrete_latents": 48, "rerun-06_elbo_tradeoffs": 43,
    "rerun-03_gradient_estimators": 41, "rerun-04_vae_pytorch": 29, "rerun-01_lvm_pca": 23,
    "solution-07_discrete_latents": 19, "rerun-02_autoencoders": 17,
    "exercise-07_discrete_latents": 14, "script-04_vae_pytorch": 14,
    "tests/test_stub_kernel.py": 11, "tests/test_discrete.py": 10,
}
# Fixtures that read the test run's one build of the decks and the site (tests/_browser.py:
# built_course): a test that uses one is `slow`, as are nbval's cells (the solutions' run).
BUILD_FIXTURES = {"decks", "build"}       # tests/test_slides.py, tests/test_site.py


def _group(item) -> str:
    """The item's group: its `xdist_group` mark, a solution's nbval cells one group per
    notebook, any other test its file."""
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    if type(item).__name__ == "IPyNbCell":                    # nbval: a notebook's cells
        return f"solution-{item.path.stem}"
    return item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)    # before -m selects (slow)
def pytest_collection_modifyitems(config, items):
    order = {}
    for item in items:
        if (type(item).__name__ == "IPyNbCell"
                or BUILD_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)
        order.setdefault(_group(item), len(order))
    # the longest groups first, the others in collection order; each group's tests in order
    items.sort(key=lambda item: (-LONG_GROUPS.get(_group(item), 0), order[_group(item)]))


@pytest.hookimpl(tryfirst=True)    # before pytest-xdist's worker reports its collection
def pytest_collection_finish(session):
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    folder = os.environ.get(_executions.RUN_DIR_ENV)
    if worker and folder:
        groups = Path(folder) / "groups" / f"{worker}.json"
        groups.parent.mkdir(parents=True, exist_ok=True)
        groups.write_text(json.dumps({item.nodeid: _group(item) for item in session.items}),
                          encoding="utf-8")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup: pytest-xdist's scheduler by scope (a scope's tests go to one worker,
    scopes in collection order with --no-loadscope-reorder), each test's scope its group as the
    workers wrote it (else its file)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    folder = Path(config._lvm_run_dir) / "groups"

    class GroupScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:         # every worker wrote its file before it reported
                self.groups = {}
                for path in sorted(folder.glob("*.json")):
                    self.groups.update(json.loads(path.read_text(encoding="utf-8")))
            return self.groups.get(nodeid) or nodeid.split("::")[0]

    return GroupScheduling(config, log)


# ---- every notebook execution counted (tests/_executions.py) ----------------------------------

def _must_be_slow(item, before: int) -> None:
    """`make test-fast` runs what is not marked `slow`: a test that executes a notebook must be."""
    if _executions.count() > before and item.get_closest_marker("slow") is None:
        raise AssertionError(f"{item.nodeid} executes a notebook (tests/_executions.py) but is not "
                             "marked `slow`: `make test-fast` would run it")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """nbval starts a notebook's kernel at its first cell's setup: one execution, counted here."""
    if type(item).__name__ == "IPyNbCell" and not getattr(item.parent, "_lvm_counted", False):
        item.parent._lvm_counted = True
        _executions.record(item.path, _executions.SOLUTION if item.path.parent.name == "solutions"
                           else "nbval")
    before = _executions.count()
    result = yield
    _must_be_slow(item, before)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    before = _executions.count()
    result = yield
    _must_be_slow(item, before)
    return result


def pytest_terminal_summary(terminalreporter, config):
    folder = getattr(config, "_lvm_run_dir", None)
    if folder:
        lines, twice = _executions.summary(_executions.recorded(folder))
        for line in lines:
            terminalreporter.write_line(line)
        for line in twice:
            terminalreporter.write_line(f"  against the test plan (one run per guarantee, at most "
                                        f"{_executions.MAX_EXECUTIONS}; this fails the run): {line}",
                                        red=True)


def pytest_sessionfinish(session, exitstatus):
    """A notebook run twice for one guarantee, or more executions than the test plan's ceiling,
    fails the run."""
    folder = getattr(session.config, "_lvm_run_dir", None)
    if folder and exitstatus == pytest.ExitCode.OK:
        if _executions.summary(_executions.recorded(folder))[1]:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
