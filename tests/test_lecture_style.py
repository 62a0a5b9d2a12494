"""Every lecture keeps the course's shape (CONTRIBUTING.md, "Lecture shape"), measured by
tools.lecture_style; CONTRIBUTING states the rules the tool measures; and every notebook draws
with the one course figure style (utils.plots.STYLE), never its own."""
import re
from pathlib import Path

import pytest

from tools import lecture_style

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "lectures").glob("[0-9]*.md"))


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_lecture_has_short_cells_prose_before_code_takeaways_and_one_heading_style(path):
    report = lecture_style.check(path)
    assert not report.problems, "\n".join(report.problems)


def test_the_style_check_flags_a_long_cell_a_timer_and_a_missing_takeaway(tmp_path):
    import jupytext
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    long_cell = "\n".join(f"x{i} = {i}" for i in range(30))
    nb = new_notebook(cells=[new_markdown_cell("# 99 · Bad\n\n## 1 · Section\n\nWhy."),
                             new_code_cell(long_cell),
                             new_code_cell("import time\nt = time.perf_counter()")])
    bad = tmp_path / "99_bad.md"
    jupytext.write(nb, bad, fmt="md:myst")
    problems = "\n".join(lecture_style.check(bad).problems)
    assert "30 non-blank lines" in problems
    assert "times itself" in problems
    assert "Takeaway" in problems
    assert "no prose" in problems


def test_the_style_check_accepts_a_well_shaped_section(tmp_path):
    import jupytext
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[new_markdown_cell("# 99 · Good\n\n## 1 · Section\n\nWhy."),
                             new_code_cell("x = 1"),
                             new_markdown_cell("**Takeaway.** One sentence.")])
    good = tmp_path / "99_good.md"
    jupytext.write(nb, good, fmt="md:myst")
    assert lecture_style.check(good).problems == []


def _contributing_section(title: str) -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_contributing_states_the_rules_the_style_check_measures():
    rules = " ".join(_contributing_section("Lecture shape").split())     # lines joined
    assert "python -m tools.lecture_style" in rules
    assert f"median code cell has at most {lecture_style.MEDIAN_MAX} non-blank lines" in rules
    assert f"no code cell more than {lecture_style.CELL_MAX}" in rules
    assert "`## N · Title`" in rules
    for heading in lecture_style.OTHER_HEADINGS:
        assert f"`{heading}`" in rules, heading
    assert f"`{lecture_style.TAKEAWAY}`" in rules
    for timer in ("time.perf_counter", "time.time", "time.monotonic", "%time"):
        assert timer in rules, timer
    assert "save_figure" in rules


FIGURE_STYLE = re.compile(r"rcParams|plt\.style\.use|matplotlib\.rc\(|mpl\.rc\(|use_course_style")


@pytest.mark.parametrize("folder", ["lectures", "exercises", "solutions"])
def test_no_notebook_changes_the_course_figure_style(folder):
    """utils.plots applies STYLE on import; a notebook that sets rcParams of its own draws its
    figures unlike the others' (exercises and solutions 04 and 06 once set font.size 11)."""
    found = [f"{path.name}: {line.strip()}" for path in sorted((ROOT / folder).glob("[0-9]*.py"))
             for line in path.read_text(encoding="utf-8").splitlines()
             if FIGURE_STYLE.search(line)]
    assert not found, "\n".join(found)
