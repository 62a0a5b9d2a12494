"""Every lecture keeps the course's shape (CONTRIBUTING.md, "Conventions every notebook follows"), measured by tools.lecture_style."""
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
