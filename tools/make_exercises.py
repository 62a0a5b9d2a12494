"""Generate exercises/ from solutions/ (the single source of truth).

In a solution notebook:
- lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` become a stub that raises
  NotImplementedError (same indentation);
- cells tagged ``solution-only`` are dropped;
- cells tagged ``depends-on-solution`` (they call a stub) get the tag ``raises-exception``;
- outputs are removed.

Usage: ``python -m tools.make_exercises`` (write), ``--check`` (fail if out of date),
``--force`` (also overwrite exercises a student has edited).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
STUB = "{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(\"exercise: write this part\")"
DROPPED_TAGS = {"solution-only", "depends-on-solution", "nbval-check-output"}


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


def student_edited(path: Path) -> bool:
    """True when the exercise at ``path`` differs from what the generator last wrote there."""
    nb = nbformat.read(path, as_version=4)
    recorded = nb.metadata.get("lvm_course", {}).get("cells_sha256")
    return recorded != cells_digest(nb)


def is_up_to_date(solution_path: Path) -> bool:
    """True when the committed exercise equals the one generated from ``solution_path``."""
    target = EXERCISES / solution_path.name
    if not target.exists():
        return False
    current = nbformat.read(target, as_version=4)
    wanted = make_exercise(solution_path)
    return (cells_digest(current) == cells_digest(wanted)
            and all(c.get("outputs", []) == [] for c in current.cells)
            and current.metadata.get("lvm_course") == wanted.metadata["lvm_course"])


def write_exercise(solution_path: Path, force: bool = False) -> str:
    """Write the exercise (.ipynb and .md) unless a student edited it; return what happened."""
    target = EXERCISES / solution_path.name
    if target.exists() and student_edited(target) and not force:
        return (f"skipped {target.relative_to(ROOT)}: it has edits that the generator did not "
                f"make (yours?). Rename it to keep your work, or pass --force to overwrite.")
    nb = make_exercise(solution_path)
    EXERCISES.mkdir(exist_ok=True)
    nbformat.write(nb, target)
    jupytext.write(nb, target.with_suffix(".md"), fmt="md:myst")
    return f"wrote {target.relative_to(ROOT)} and its .md twin"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale exercises")
    parser.add_argument("--force", action="store_true", help="overwrite edited exercises too")
    args = parser.parse_args(argv)
    stale = 0
    for solution in sorted(SOLUTIONS.glob("*.ipynb")):
        if args.check:
            ok = is_up_to_date(solution)
            stale += not ok
            print(f"{'up to date' if ok else 'STALE'}: exercises/{solution.name}")
        else:
            print(write_exercise(solution, force=args.force))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
