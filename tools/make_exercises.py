"""Generate exercises/ from solutions/ (the single source of truth).

In a solution notebook:
- lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` become a stub that raises
  NotImplementedError (same indentation);
- cells tagged ``solution-only`` are dropped;
- cells tagged ``depends-on-solution`` (they call a stub) get the tag ``raises-exception``;
- outputs are removed.

Each exercise is three twins: ``exercises/NN_topic.ipynb``, its MyST Markdown twin
``exercises/NN_topic.md`` and its py:percent twin ``exercises/NN_topic.py``. The generator writes
all three and records in the notebook's metadata
(``lvm_course.cells_sha256``) a hash of the cells it wrote: their types, sources and tags.

**A student's edit.** A twin is *edited* when its cells (types, sources, tags) differ both from
what the generator would write now and from what it recorded last time. Only cells count:
outputs, execution counts and kernel metadata do not, so running an exercise is not editing it.
A twin that cannot be read, or whose notebook has no record, counts as edited unless it equals
what the generator would write now (when in doubt, keep it).

**What a run does**, exercise by exercise:
- *up to date* (all three twins hold the cells the generator would write, and the record): left
  alone, outputs included;
- *stale* (the solution changed) and no twin edited: all three twins are regenerated;
- *edited* (any twin): all three are kept, and the message names the edited twin(s).
  With ``--force`` each edited twin is first copied next to it, to
  ``NN_topic.backup-YYYYmmdd-HHMMSS.ipynb.bak`` (or ``.md.bak``, ``.py.bak``), then all three are
  regenerated and the output says ``overwrote X (your version saved as Y)``. The ``.bak`` ending
  keeps a backup out of jupytext pairing and out of every ``*.ipynb`` / ``*.md`` / ``*.py`` glob
  (the generator's, the tests').

Usage (from the repository root):
- ``python -m tools.make_exercises`` (``make exercises``): write stale exercises, keep edited ones;
- ``--force`` (``make exercises EXERCISE_ARGS=--force``): also regenerate edited exercises,
  backing up each edited twin first;
- ``--check`` (``make exercises EXERCISE_ARGS=--check``): write nothing, print each exercise as
  ``up to date``, ``STALE`` or ``EDITED`` (naming the edited twin); the exit status is 0 when every
  exercise is up to date and 1 otherwise.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import shutil
import sys
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
STUB = "{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(\"exercise: write this part\")"
DROPPED_TAGS = {"solution-only", "depends-on-solution", "nbval-check-output"}
TWIN_SUFFIXES = (".ipynb", ".md", ".py")
TEXT_FORMATS = {".md": "md:myst", ".py": "py:percent"}   # as in jupytext.toml
BACKUP_ENDING = ".bak"
FORCE_HINT = "make exercises EXERCISE_ARGS=--force"


def strip_solution(source: str, where: str = "cell") -> str:
    """Replace each BEGIN/END SOLUTION block of ``source`` by a stub."""
    out, indent = [], None
    for line in source.splitlines():
        begin = BEGIN.match(line)
        if begin and indent is None:
            indent = begin.group(1)
            out.append(STUB.format(indent=indent))
        elif END.match(line):
            if indent is None:
                raise ValueError(f"{where}: '# END SOLUTION' without a matching BEGIN")
            indent = None
        elif begin:
            raise ValueError(f"{where}: nested '# BEGIN SOLUTION'")
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise ValueError(f"{where}: '# BEGIN SOLUTION' without a matching END")
    return "\n".join(out)


def cells_digest(nb) -> str:
    """A hash of the cells' types, sources and tags (outputs ignored)."""
    cells = [(c.cell_type, c.source, sorted(c.metadata.get("tags", []))) for c in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def make_exercise(solution_path: Path):
    """The exercise notebook generated from one solution notebook."""
    nb = nbformat.read(solution_path, as_version=4)
    cells = []
    for i, cell in enumerate(nb.cells):
        tags = list(cell.metadata.get("tags", []))
        if "solution-only" in tags:
            continue
        new = copy.deepcopy(cell)
        kept = [t for t in tags if t not in DROPPED_TAGS]
        if cell.cell_type == "code":
            new.source = strip_solution(cell.source, f"{solution_path.name} cell {i}")
            new.outputs, new.execution_count = [], None
            if "depends-on-solution" in tags:
                kept.append("raises-exception")
        new.metadata.pop("tags", None)
        new.metadata.pop("execution", None)
        if kept:
            new.metadata["tags"] = kept
        cells.append(new)
    nb.cells = cells
    nb.metadata["lvm_course"] = {"generated_from": f"solutions/{solution_path.name}",
                                 "cells_sha256": cells_digest(nb)}
    return nb


def twins(solution_path: Path) -> list[Path]:
    """The exercise's three files: the notebook, its Markdown twin, its py:percent twin."""
    return [(EXERCISES / solution_path.name).with_suffix(s) for s in TWIN_SUFFIXES]


def shown(path: Path) -> str:
    """``path`` as the student sees it, relative to the repository root."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def twin_digest(path: Path) -> str | None:
    """The cells digest of a twin on disk, or None when it cannot be read as a notebook."""
    try:
        return cells_digest(jupytext.read(path))
    except Exception:  # a broken file is the student's too: treat it as edited, never as ours
        return None


def recorded_digest(notebook_path: Path) -> str | None:
    """The digest the generator recorded in the notebook when it last wrote it (None if none)."""
    try:
        nb = nbformat.read(notebook_path, as_version=4)
    except Exception:
        return None
    return nb.metadata.get("lvm_course", {}).get("cells_sha256")


def edited_twins(solution_path: Path, wanted=None) -> list[Path]:
    """The exercise's twins that hold a student's edits (see the module docstring for the rule)."""
    wanted = wanted if wanted is not None else make_exercise(solution_path)
    notebook = twins(solution_path)[0]
    generated = {wanted.metadata["lvm_course"]["cells_sha256"], recorded_digest(notebook)} - {None}
    return [p for p in twins(solution_path) if p.exists() and twin_digest(p) not in generated]


def is_up_to_date(solution_path: Path, wanted=None) -> bool:
    """True when all three twins hold the cells generated from ``solution_path`` (outputs
    ignored) and the notebook records them."""
    wanted = wanted if wanted is not None else make_exercise(solution_path)
    notebook = twins(solution_path)[0]
    if not all(p.exists() for p in twins(solution_path)):
        return False
    digest = wanted.metadata["lvm_course"]["cells_sha256"]
    try:
        recorded = nbformat.read(notebook, as_version=4).metadata.get("lvm_course")
    except Exception:
        return False
    return (recorded == wanted.metadata["lvm_course"]
            and all(twin_digest(p) == digest for p in twins(solution_path)))


def status(solution_path: Path) -> tuple[str, list[Path]]:
    """``("up to date" | "STALE" | "EDITED", edited twins)`` for one exercise."""
    wanted = make_exercise(solution_path)
    if is_up_to_date(solution_path, wanted):
        return "up to date", []
    edited = edited_twins(solution_path, wanted)
    return ("EDITED" if edited else "STALE"), edited


def backup_path(path: Path, stamp: str) -> Path:
    """A free name next to ``path``: ``NN_topic.backup-<stamp>.ipynb.bak`` (``-2``, … if taken)."""
    for n in range(1, 1000):
        tag = stamp if n == 1 else f"{stamp}-{n}"
        candidate = path.with_name(f"{path.stem}.backup-{tag}{path.suffix}{BACKUP_ENDING}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free backup name for {path}")


def back_up(path: Path, stamp: str) -> Path:
    """Copy ``path`` to a timestamped backup next to it; return the backup's path."""
    backup = backup_path(path, stamp)
    shutil.copy2(path, backup)
    return backup


def write_twins(nb, solution_path: Path) -> None:
    """Write the exercise notebook and its MyST Markdown and py:percent twins."""
    notebook, *text_twins = twins(solution_path)
    EXERCISES.mkdir(exist_ok=True)
    nbformat.write(nb, notebook)
    for twin in text_twins:
        jupytext.write(nb, twin, fmt=TEXT_FORMATS[twin.suffix])


def kept_message(edited: list[Path], solution_changed: bool) -> str:
    """Why an edited exercise was left alone, and how to proceed."""
    names = " and ".join(shown(p) for p in edited)
    if not solution_changed:
        return f"kept {names}: it has your edits, and its solution has not changed (nothing to do)"
    return (f"kept {names}: it has edits the generator did not make (yours?), and the exercise "
            f"generated from its solution has changed. To take the new version, run "
            f"`{FORCE_HINT}`: it first saves your version next to it as a {BACKUP_ENDING} file "
            f"and tells you where.")


def write_exercise(solution_path: Path, force: bool = False) -> str:
    """Bring one exercise up to date without losing a student's edit; return what happened."""
    wanted = make_exercise(solution_path)
    notebook = twins(solution_path)[0]
    if is_up_to_date(solution_path, wanted):
        return f"up to date: {shown(notebook)}"
    edited = edited_twins(solution_path, wanted)
    if edited and not force:
        changed = recorded_digest(notebook) != wanted.metadata["lvm_course"]["cells_sha256"]
        return kept_message(edited, changed)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    lines = [f"overwrote {shown(p)} (your version saved as {shown(back_up(p, stamp))})"
             for p in edited]
    write_twins(wanted, solution_path)
    return "\n".join(lines + [f"wrote {shown(notebook)} and its .md and .py twins"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; report each exercise (exit 1 unless all up to date)")
    parser.add_argument("--force", action="store_true",
                        help="also regenerate edited exercises (each edited file is backed up first)")
    args = parser.parse_args(argv)
    not_up_to_date = 0
    for solution in sorted(SOLUTIONS.glob("*.ipynb")):
        if args.check:
            state, edited = status(solution)
            not_up_to_date += state != "up to date"
            names = ", ".join(shown(p) for p in edited) or shown(twins(solution)[0])
            print(f"{state}: {names}")
        else:
            print(write_exercise(solution, force=args.force))
    return 1 if not_up_to_date else 0


if __name__ == "__main__":
    sys.exit(main())
