"""Lectures executed headless (as a student's "run all") and the test suite timed, both in a
temporary copy of the repository so that nothing in the working tree changes: notebooks that save
figures write them into the copy's images/, and committed notebooks are never touched."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from utils.runtime import CHECKPOINT_DIR_ENV, CLASS_MODE_ENV, RESULTS_ENV, SAVE_CHECKPOINTS_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
# Not copied: the environment, git, data, build output and caches.
SKIP = {".venv", ".git", "data", "build", "test-artifacts", "__pycache__", ".ipynb_checkpoints",
        ".pytest_cache", "lvm_course_utils.egg-info"}


@contextlib.contextmanager
def repo_copy(link_venv: bool = False):
    """A temporary copy of the repository (mtimes kept); yields its root, removes it after.

    With ``link_venv`` the copy's .venv is a symlink to the real one, so `make` targets in the
    copy (e.g. `make lab` in the test suite) find it installed and never reinstall.
    """
    with tempfile.TemporaryDirectory(prefix="lvm-bench-") as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(REPO_ROOT, root, ignore=lambda d, names: [n for n in names if n in SKIP],
                        copy_function=shutil.copy2)
        if link_venv and (REPO_ROOT / ".venv").exists():
            (root / ".venv").symlink_to(REPO_ROOT / ".venv")
        yield root


def kernel_env(root: Path, smoke: bool, data_dir: Path, results_dir: Path | None = None,
               class_mode: bool = False, save_checkpoints: bool = False) -> dict[str, str]:
    """The environment of a student's run: full mode (CI unset) or smoke mode (CI=true), MNIST
    from ``data_dir``, ``utils`` imported from ``root``, and, with ``results_dir``, the folder
    where lectures write their results (``utils.runtime.record``). Torch's threads are left to
    the course's default (each kernel's start-up probe, unless LVM_NUM_THREADS is set for the benchmark).
    ``class_mode``: the lectures load their trained models from ``root``'s checkpoints/ instead of
    training ($LVM_CLASS_MODE); ``save_checkpoints``: a full-mode run writes them there
    ($LVM_SAVE_CHECKPOINTS). Neither setting, nor a checkpoint folder, leaks in from this shell."""
    env = dict(os.environ)
    for var in ("CI", "LVM_STRICT_CHECKS", "MPLBACKEND", "TQDM_DISABLE", "PYTEST_CURRENT_TEST",
                RESULTS_ENV, CLASS_MODE_ENV, SAVE_CHECKPOINTS_ENV, CHECKPOINT_DIR_ENV):
        env.pop(var, None)
    if smoke:
        env["CI"] = "true"
    if class_mode:
        env[CLASS_MODE_ENV] = "1"
    if save_checkpoints:
        env[SAVE_CHECKPOINTS_ENV] = "1"
    if results_dir is not None:
        env[RESULTS_ENV] = str(results_dir)
    env["LVM_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return env


@contextlib.contextmanager
def environ(env: dict[str, str]):
    """Temporarily replace os.environ (kernels started inside inherit it)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class PeakRSS:
    """Polls the summed RSS of this process's descendants (the kernel's process tree)."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class NotebookRun:
    name: str
    seconds: float
    peak_rss: int
    error: str | None = None
    kernel_lost: bool = False  # the kernel died or timed out (not an error in a cell)
    note: str = ""
    load: float | None = None  # the machine's 1-minute load average when the run started


def execute_notebook(path: Path, env: dict[str, str], timeout: int = 3600,
                     save_to: Path | None = None) -> NotebookRun:
    """Run ``path`` top to bottom in a fresh kernel (its folder as working directory); time the
    whole run, kernel start included, and the peak RSS of the kernel's process tree. With
    ``save_to``, the executed notebook is written there when every cell ran without error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    error, lost = None, False
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with environ(env), PeakRSS() as mem:
        t0 = time.perf_counter()
        try:
            client.execute()
        except CellExecutionError as err:
            error = str(err).strip().splitlines()[-1][:200] if str(err).strip() else "cell error"
        except Exception as err:  # timeouts, dead kernels: report, keep going
            error, lost = f"{type(err).__name__}: {err}"[:200], True
        seconds = time.perf_counter() - t0
    if save_to is not None and error is None:
        from tools.progress_outputs import finalize_progress
        finalize_progress(nb)              # progress bars saved at their final state
        nbformat.write(nb, save_to)
    return NotebookRun(path.stem, seconds, mem.peak, error, lost, load=load)


def save_outputs(path: Path, root: Path, log=print) -> None:
    """Copy the executed lecture ``path`` (in the copy at ``root``), the figures it saved and the
    checkpoints it wrote (checkpoints/<lecture>/, replacing that folder) back into the working
    tree: the committed outputs and the models class mode loads then come from the very run that
    was timed."""
    shutil.copy2(path, REPO_ROOT / "lectures" / path.name)
    prefix = path.stem.split("_")[0] + "_"
    figures = sorted((root / "images").glob(f"{prefix}*.png"))
    for figure in figures:
        shutil.copy2(figure, REPO_ROOT / "images" / figure.name)
    saved = ""
    written = root / "checkpoints" / path.stem
    if (written / "manifest.json").exists():
        target = REPO_ROOT / "checkpoints" / path.stem
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(written, target, ignore=shutil.ignore_patterns(".*.tmp"))
        files = [f for f in target.iterdir() if f.suffix == ".pt"]
        saved = (f", and {len(files)} checkpoint(s), {sum(f.stat().st_size for f in files) / 1e6:.1f} "
                 f"MB, into checkpoints/{path.stem}/")
    log(f"    saved lectures/{path.name} and {len(figures)} figure(s) {prefix}*.png into the working "
        f"tree{saved}")


def run_lectures(smoke: bool, data_dir: Path, results_dir: Path | None = None,
                 log=print, save: bool = False, class_mode: bool = False,
                 only: Sequence[str] | None = None) -> list[NotebookRun]:
    """Every lectures/*.ipynb (or those whose name starts with one of ``only``: "07") executed in
    a temporary copy of the repository, in order, writing
    their results to ``results_dir``. A lecture whose kernel was lost (killed from outside, timed
    out) is executed once more; an error in a cell is reported as it is. With ``save`` (full mode),
    the lectures also write their trained models to the copy's checkpoints/, and each lecture that
    ran without error is copied back with its figures and checkpoints (:func:`save_outputs`).
    With ``class_mode`` they load the copy's committed checkpoints instead of training (the
    instructor's live run; nothing is copied back)."""
    if class_mode and (smoke or save):
        raise ValueError("class mode runs the full-mode lectures from their checkpoints and its "
                         "outputs are never committed: pass neither smoke=True nor save=True with it")
    runs = []
    mode = "smoke" if smoke else "class" if class_mode else "full"
    with repo_copy() as root:
        env = kernel_env(root, smoke, data_dir, results_dir, class_mode=class_mode,
                         save_checkpoints=save)
        for path in sorted((root / "lectures").glob("*.ipynb")):
            if only and not path.name.startswith(tuple(only)):
                continue
            log(f"  executing {path.name} ({mode} mode) ...")
            run = execute_notebook(path, env, save_to=path if save else None)
            log(f"    {run.seconds:.1f} s, peak RSS {run.peak_rss / 2**20:.0f} MiB"
                + (f", ERROR: {run.error}" if run.error else ""))
            if run.kernel_lost:
                log(f"  the kernel was lost after {run.seconds:.0f} s; executing {path.name} again ...")
                first = run
                run = execute_notebook(path, env, save_to=path if save else None)
                run.note = f"run twice: the first kernel was lost after {first.seconds:.0f} s"
                log(f"    {run.seconds:.1f} s, peak RSS {run.peak_rss / 2**20:.0f} MiB"
                    + (f", ERROR: {run.error}" if run.error else ""))
            if save and run.error is None:
                save_outputs(path, root, log)
            runs.append(run)
    return runs


@dataclass
class TestRun:
    command: str
    seconds: float
    returncode: int
    summary: str


def junit_summary(path: Path) -> str:
    """'570 passed, 2 failed, 4 skipped' from pytest's JUnit XML report ('' if there is none)."""
    import xml.etree.ElementTree as ET

    if not path.exists():
        return ""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    count = {k: sum(int(s.get(k, 0)) for s in suites)
             for k in ("tests", "failures", "errors", "skipped")}
    parts = [(count["tests"] - count["failures"] - count["errors"] - count["skipped"], "passed"),
             (count["failures"], "failed"), (count["skipped"], "skipped"),
             (count["errors"], "errors")]
    return ", ".join(f"{n} {what}" for n, what in parts if n or what == "passed")


def run_test_suite(data_dir: Path, args: list[str] | None = None, log=print) -> TestRun:
    """Time `python -m pytest [args]` (the README's `make test` without the install) in a
    temporary copy of the repository, in the environment CI uses (its conftest sets smoke mode;
    full MNIST in ../shared beside the copy when the repository has it beside it). The counts
    come from pytest's JUnit XML report."""
    args = list(args or [])
    with repo_copy(link_venv=True) as root:
        if (REPO_ROOT.parent / "shared").exists():      # ../shared beside the copy, as in CI
            (root.parent / "shared").symlink_to(REPO_ROOT.parent / "shared")
        env = kernel_env(root, smoke=False, data_dir=data_dir)  # tests/conftest.py sets CI
        junit = root.parent / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", *args, f"--junitxml={junit}"]
        log(f"  running {' '.join(['python', '-m', 'pytest', *args])} in a copy of the repository ...")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True,
                              encoding="utf-8", errors="replace")
        seconds = time.perf_counter() - t0
        summary = junit_summary(junit) or f"exit code {proc.returncode}"
    log(f"    {seconds:.1f} s: {summary}")
    failed = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    for line in failed:
        log(f"    {line[:200]}")
    return TestRun(" ".join(["python -m pytest", *args]).strip(), seconds, proc.returncode, summary)
