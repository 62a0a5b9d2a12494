"""The course's shape rules for lectures, measured: the rules are written in CONTRIBUTING.md, section
"Lecture shape" (tests/test_lecture_style.py holds that section and this module to the same numbers).

    python -m tools.lecture_style                 # a table per lecture; exit 1 if a rule is broken
    python -m tools.lecture_style lectures/03_gradient_estimators.md

Rules: code cells of median <= 12 and at most 25 non-blank lines; every code cell follows prose
(a Markdown cell); section headings ``## N · Title`` (besides
``## Summary`` and ``## Pointers``); each numbered section ends with a one-sentence takeaway
(a Markdown line starting ``**Takeaway.**``); no notebook timers (``time.perf_counter``,
``time.time``, ``%time``); figures reach images/ only through ``save_figure``.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
MEDIAN_MAX, CELL_MAX = 12, 25
HEADING = re.compile(r"^## (\d+) · \S")
OTHER_HEADINGS = ("## Summary", "## Pointers")
TAKEAWAY = "**Takeaway.**"
TIMERS = re.compile(r"\btime\.(perf_counter|time|monotonic)\(|^\s*%%?time", re.M)
SAVEFIG = re.compile(r"\.savefig\(")


@dataclass
class Report:
    name: str
    sizes: list[int] = field(default_factory=list)
    without_prose: list[int] = field(default_factory=list)   # code-cell numbers (1-based)
    problems: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.sizes) if self.sizes else 0


def non_blank(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip())


def check(path: Path) -> Report:
    nb = jupytext.read(path)
    rep = Report(path.stem)
    previous = None
    sections: list[tuple[str, list]] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    if not (HEADING.match(line) or line.strip() in OTHER_HEADINGS):
                        rep.problems.append(f"heading not in the form '## N · Title': {line!r}")
                    sections.append((line, []))
        if sections:
            sections[-1][1].append(cell)
        if cell.cell_type == "code":
            rep.sizes.append(non_blank(cell.source))
            number = len(rep.sizes)
            if previous == "code":
                rep.without_prose.append(number)
            if TIMERS.search(cell.source):
                rep.problems.append(f"code cell {number} times itself (the benchmark measures run time)")
            if SAVEFIG.search(cell.source):
                rep.problems.append(f"code cell {number} calls savefig: use utils.plots.save_figure")
        previous = cell.cell_type
    for heading, cells in sections:
        if HEADING.match(heading):
            prose = [c for c in cells if c.cell_type == "markdown"]
            last = prose[-1].source if prose else ""
            if not any(line.startswith(TAKEAWAY) for line in last.splitlines()):
                rep.problems.append(f"section {heading[3:]!r} does not end with a '{TAKEAWAY}' line")
    if rep.median > MEDIAN_MAX:
        rep.problems.append(f"median code cell {rep.median} non-blank lines (at most {MEDIAN_MAX})")
    for i, n in enumerate(rep.sizes, 1):
        if n > CELL_MAX:
            rep.problems.append(f"code cell {i} has {n} non-blank lines (at most {CELL_MAX})")
    if rep.without_prose:
        rep.problems.append(f"code cells {rep.without_prose} follow another code cell with no prose")
    return rep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "lectures").glob("[0-9]*.md"))
    bad = 0
    print(f"{'lecture':28} {'cells':>5} {'median':>6} {'max':>4} {'no prose':>8}")
    for path in paths:
        rep = check(path)
        print(f"{rep.name:28} {len(rep.sizes):5} {rep.median:6} {max(rep.sizes, default=0):4} "
              f"{len(rep.without_prose):8}")
        for problem in rep.problems:
            print(f"    {problem}")
        bad += bool(rep.problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
