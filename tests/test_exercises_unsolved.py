"""An unsolved exercise runs top to bottom as a student first meets it: one short line per cell
that cannot run yet, never a traceback wall, an empty figure or a progress bar stuck at 0%; and
every cell that is not meant to fail runs as cleanly as strict self-checks demand.

Each exercise notebook (as generated, every function still `raise NotImplementedError`) is executed
once, in one kernel, the way a student runs it: smoke mode, but without the suite's strict
self-checks (a student's failed check prints its ✗ lines and the notebook goes on). This is the
exercise's only run in the test plan (nbval does not run the exercises). Then, cell by cell:
- an error output is allowed only as the course's one-line "⏭ `f` is not written yet" message,
  and only in a cell tagged `raises-exception` (the exercise's check and use cells);
- a cell not tagged `raises-exception` prints no ✗ line either: with strict self-checks (nbval's
  run of the exercises, before the test plan) a failed self-check, an error inside a check and a
  ✗ line too long to fit all raise, so such a cell would have failed; without them each is a ✗
  line instead, which is what is looked for;
- a cell that skipped or failed (it printed a ⏭ line or raised) shows nothing else: no figure,
  no widget, no progress bar, at most two lines of text;
- every self-check line of a not-yet-written function says so in one short line, without a hint
  that blames code the student has not written.
An exercise's tests share its run, so they are one pytest-xdist group (`exercise-NN_topic`).
"""
from __future__ import annotations

import functools
from pathlib import Path

import nbformat
import pytest

import _executions

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = sorted((ROOT / "exercises").glob("[0-9]*.ipynb"))
SKIP, FAIL = "\u23ed", "\u2717"
EXPECTED = "raises-exception"   # the tag of a cell that may fail (nbval's, and JupyterLab's Run All)
MAX_LINE = 120        # characters: readable in a narrow notebook
FIGURE_TYPES = ("image/png", "image/svg+xml", "application/vnd.jupyter.widget-view+json")
PARAMS = [pytest.param(p, id=p.stem, marks=pytest.mark.xdist_group(f"exercise-{p.stem}"))
          for p in EXERCISES]
pytestmark = pytest.mark.slow


@functools.lru_cache(maxsize=None)
def executed(path: Path) -> nbformat.NotebookNode:
    """The exercise at ``path`` run top to bottom in a fresh kernel, as a student runs it (strict
    self-checks off), errors kept, not raised."""
    nb = nbformat.read(path, as_version=4)
    return _executions.execute(nb, path, _executions.EXERCISE, strict=False, allow_errors=True)


def _text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.traceback)
    return str(output.get("data", {}).get("text/plain", ""))


def _cells(path: Path):
    """(index, source, outputs) of each code cell of the executed exercise."""
    nb = executed(path)
    return [(i, cell.source, cell.outputs) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code"]


def _first_line(source: str) -> str:
    return repr(next((line for line in source.splitlines() if line.strip()), "")[:50])


@pytest.mark.parametrize("path", PARAMS)
def test_an_unsolved_exercise_raises_no_traceback_only_one_line_messages(path):
    walls = []
    for i, source, outputs in _cells(path):
        for out in outputs:
            if out.output_type != "error":
                continue
            lines = [line for line in out.traceback if line.strip()]
            if len(lines) != 1 or not lines[0].startswith(SKIP):
                walls.append(f"cell {i} ({_first_line(source)}): {out.ename}, "
                             f"{len(lines)} traceback lines")
    assert not walls, "\n".join(walls)


@pytest.mark.parametrize("path", PARAMS)
def test_a_cell_not_tagged_raises_exception_runs_cleanly_as_under_strict_checks(path):
    """No error and no ✗ line outside the cells tagged `raises-exception` (see the docstring at
    the top: a ✗ line here is an exception with strict self-checks)."""
    nb = executed(path)
    unclean = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or EXPECTED in cell.metadata.get("tags", []):
            continue
        errors = [f"{out.ename}: {out.evalue}"[:100] for out in cell.outputs
                  if out.output_type == "error"]
        failed = [line[:100] for out in cell.outputs for line in _text(out).splitlines()
                  if line.lstrip().startswith(FAIL)]
        if errors or failed:
            unclean.append(f"cell {i} ({_first_line(cell.source)}), not tagged {EXPECTED}: "
                           f"{errors + failed}")
    assert not unclean, "\n".join(unclean)


@pytest.mark.parametrize("path", PARAMS)
def test_a_cell_that_cannot_run_yet_shows_one_short_line_and_nothing_else(path):
    noisy = []
    for i, source, outputs in _cells(path):
        text = "\n".join(_text(out) for out in outputs)
        if SKIP not in text:
            continue
        lines = [line for line in text.splitlines() if line.strip()]
        shown = [t for out in outputs for t in out.get("data", {}) if t in FIGURE_TYPES]
        if shown or len(lines) > 2 or any(len(line) > MAX_LINE for line in lines):
            noisy.append(f"cell {i} ({_first_line(source)}): {len(lines)} lines, "
                         f"{shown or 'no figure'}: {lines[:3]}")
    assert not noisy, "\n".join(noisy)


@pytest.mark.parametrize("path", PARAMS)
def test_a_check_of_an_unwritten_function_says_so_in_short_lines(path):
    long_lines = []
    for i, _, outputs in _cells(path):
        for line in "\n".join(_text(out) for out in outputs).splitlines():
            if line.startswith(FAIL) and len(line) > MAX_LINE:
                long_lines.append(f"cell {i}: {len(line)} characters: {line[:80]}…")
    assert not long_lines, "\n".join(long_lines)
    said = "\n".join(_text(out) for _, _, outputs in _cells(path) for out in outputs)
    assert "not implemented yet" in said or "not written yet" in said, (
        "no check reported a function as not written: is this exercise really unsolved?")
