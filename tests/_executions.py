"""Every notebook the test suite executes goes through here, and is counted.

The test plan (CONTRIBUTING.md) runs each notebook once per guarantee: a lecture twice in one
kernel (tests/test_rerun.py), an exercise once (tests/test_exercises_unsolved.py), a solution once
(nbval over solutions/), and one lecture once more as a script (tests/test_scripts.py). Each top-to-bottom
pass is one execution, written here as one line (the notebook, the kind of run) into the test
run's folder (``$LVM_TEST_RUN_DIR``, made by the root conftest.py and shared by the pytest-xdist
workers); at the end conftest.py prints the sum, `notebook executions: N (...)`, and fails the
run if a notebook ran twice for one guarantee or the run exceeds MAX_EXECUTIONS.

Also here: the environment a notebook's kernel gets (:func:`kernel_env`: the suite's settings
from conftest.py, with or without strict self-checks, passed to the kernel rather than set in
this process), one run in a fresh kernel (:func:`execute`) and a lecture run as a script
(:func:`run_script`).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR_ENV = "LVM_TEST_RUN_DIR"   # the test run's shared folder (root conftest.py makes it)
CELL_TIMEOUT = 900                 # seconds a cell may take, as nbval's --nbval-cell-timeout
COURSE = ("lectures", "exercises", "solutions")
MAX_EXECUTIONS = 30                # the test plan's ceiling for one whole run (CONTRIBUTING.md)

# The kinds of run, and what each counts as in the summary.
RERUN_FIRST, RERUN_SECOND = "re-run test, pass 1", "re-run test, pass 2"
SCRIPT, EXERCISE, SOLUTION = "script", "unsolved exercise", "nbval"
SYNTHETIC = "synthetic notebook"          # a few cells written by a test, not a course notebook
PARTIAL = "first cells in JupyterLab"     # a browser test runs a lecture's first cells
# Not notebook executions, but once per run too (tests/_browser.py), so counted the same way:
LAB = "JupyterLab start"                  # `make lab`, shared by the lab, browser and RISE tests
BUILD = "decks and site build"            # `make html` (tools.site), shared by the deck and site tests


def _label(path: Path | str) -> str:
    """``path`` relative to the repository (a relative one is taken as it is)."""
    path = Path(path)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(ROOT).as_posix()
        except ValueError:
            pass
    return path.as_posix()


_count = 0       # executions in this process (conftest.py: a test that executes one is `slow`)


def count() -> int:
    return _count


def record(path: Path | str, kind: str) -> None:
    """Count one execution of ``path`` (a notebook, a script, or the test file that wrote a
    synthetic notebook) as ``kind``: one line in this process's file of the run's folder."""
    global _count
    _count += 1
    folder = os.environ.get(RUN_DIR_ENV)
    if not folder:                      # outside pytest (a helper imported by hand): not counted
        return
    log = Path(folder) / "executions" / f"{os.getpid()}.tsv"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"{_label(path)}\t{kind}\n")


def recorded(folder: Path | str) -> list[tuple[str, str]]:
    """Every (notebook, kind) counted in the run whose folder is ``folder``, all processes."""
    lines = []
    for log in sorted((Path(folder) / "executions").glob("*.tsv")):
        lines += [tuple(line.split("\t", 1)) for line in
                  log.read_text(encoding="utf-8").splitlines() if "\t" in line]
    return lines


def summary(records: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The lines conftest.py prints at the end of the run, and what breaks the test plan: a
    notebook that ran more than once for one guarantee (the same notebook and kind of run twice),
    or more course notebook executions than the plan's ceiling, MAX_EXECUTIONS."""
    course = [(path, kind) for path, kind in records
              if path.split("/")[0] in COURSE and kind != PARTIAL]
    folders = Counter(path.split("/")[0] for path, _ in course)
    kinds = Counter(kind for _, kind in course)
    lines = [f"notebook executions: {len(course)} (lectures: {folders['lectures']}, exercises: "
             f"{folders['exercises']}, solutions: {folders['solutions']}; re-run passes counted "
             "separately)"]
    if kinds:
        lines.append("  by kind: " + ", ".join(f"{kind}: {n}" for kind, n in sorted(kinds.items())))
    others = Counter(f"{kind} ({path})" for path, kind in records if (path, kind) not in course)
    if others:
        lines.append("  besides: " + ", ".join(f"{n} × {what}" for what, n in sorted(others.items())))
    twice = sorted(f"{path} ({kind}): {n} runs" for (path, kind), n in Counter(records).items()
                   if n > 1 and kind != SYNTHETIC)
    if len(course) > MAX_EXECUTIONS:
        twice.append(f"{len(course)} notebook executions, more than the test plan's {MAX_EXECUTIONS}")
    return lines, twice


def kernel_env(*, strict: bool = True, inline_figures: bool = False) -> dict[str, str]:
    """The environment of a notebook's kernel: the suite's (smoke mode, one thread, the simulated
    accelerator, $LVM_DATA_DIR; conftest.py), with strict self-checks on or, as a student runs a
    notebook, off. ``inline_figures``: no MPLBACKEND, so that ipykernel draws figures with its
    inline backend, as in JupyterLab (each cell's figures are closed once shown)."""
    env = dict(os.environ)
    env["LVM_STRICT_CHECKS"] = "1" if strict else "0"
    if inline_figures:
        env.pop("MPLBACKEND", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def execute(nb: nbformat.NotebookNode, path: Path, kind: str, *, folder: Path | None = None,
            strict: bool = True, allow_errors: bool = False,
            timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Run ``nb`` (read from ``path``, or written by the test file ``path``) top to bottom in a
    fresh kernel started in ``folder`` (default: ``path``'s folder), in place; counted once.
    ``allow_errors``: an error output does not stop the run (the outputs keep it)."""
    record(path, kind)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder or Path(path).parent)}}
                   ).execute(env=kernel_env(strict=strict))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merged_streams(cell.outputs)
    return nb


def merged_streams(outputs: list) -> list:
    """``outputs`` with each run of consecutive stream outputs of one name (stdout, stderr) merged
    into one, as JupyterLab shows them: the kernel may send one ``print`` in several messages
    (``still running`` then its newline), depending on timing."""
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (out.output_type == "stream" and last is not None and last.output_type == "stream"
                and last.name == out.name):
            last.text += out.text
        else:
            merged.append(out)
    return merged


def run_script(path: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    """``python NN_topic.py`` from the lecture's folder, as a student runs it (smoke mode, Agg,
    one thread; strict self-checks, as in every run of the suite); counted once."""
    record(path, SCRIPT)
    env = dict(os.environ, CI="1", MPLBACKEND="Agg", LVM_NUM_THREADS="1")
    env.pop("LVM_RESULTS_DIR", None)
    return subprocess.run([sys.executable, path.name], cwd=path.parent, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=timeout)
