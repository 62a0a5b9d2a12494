"""The test plan's bookkeeping (tests/_executions.py): what conftest.py prints and what fails a run;
and the outputs of a run, read as JupyterLab shows them."""
import nbformat
import pytest

import _executions as ex


def plan(units: int) -> list[tuple[str, str]]:
    """One whole run of the plan for `units` units: 2 re-run passes, 1 exercise, 1 solution each,
    and the one lecture run as a script."""
    runs = [("lectures/04_x.py", ex.SCRIPT)]
    for n in range(1, units + 1):
        runs += [(f"lectures/{n:02d}_x.ipynb", ex.RERUN_FIRST), (f"lectures/{n:02d}_x.ipynb", ex.RERUN_SECOND),
                 (f"exercises/{n:02d}_x.ipynb", ex.EXERCISE), (f"solutions/{n:02d}_x.ipynb", ex.SOLUTION)]
    return runs


def test_seven_units_fit_the_plan_and_are_counted_by_folder():
    lines, broken = ex.summary(plan(7))
    assert lines[0].startswith("notebook executions: 29 (lectures: 15, exercises: 7, solutions: 7")
    assert broken == []


def test_more_executions_than_the_ceiling_break_the_plan():
    assert ex.summary(plan(8))[1] == [f"33 notebook executions, more than the test plan's {ex.MAX_EXECUTIONS}"]


def test_a_notebook_run_twice_for_one_guarantee_breaks_the_plan():
    broken = ex.summary(plan(1) + [("exercises/01_x.ipynb", ex.EXERCISE)])[1]
    assert broken == [f"exercises/01_x.ipynb ({ex.EXERCISE}): 2 runs"]


def test_what_is_not_a_course_notebook_is_listed_apart_and_not_counted():
    lines, broken = ex.summary(plan(1) + [("tests/test_lab.py", ex.LAB), ("tests/test_stub_kernel.py", ex.SYNTHETIC),
                                          ("tests/test_stub_kernel.py", ex.SYNTHETIC)])
    assert lines[0].startswith("notebook executions: 5 ") and broken == []
    assert lines[-1] == (f"  besides: 1 × {ex.LAB} (tests/test_lab.py), "
                         f"2 × {ex.SYNTHETIC} (tests/test_stub_kernel.py)")


def _stream(name: str, text: str):
    return nbformat.v4.new_output("stream", name=name, text=text)


@pytest.mark.parametrize("outputs, expected", [
    ([_stream("stdout", "still running"), _stream("stdout", "\n")],
     [("stdout", "still running\n")]),
    ([_stream("stdout", "a\n"), _stream("stderr", "w\n"), _stream("stdout", "b\n")],
     [("stdout", "a\n"), ("stderr", "w\n"), ("stdout", "b\n")]),
    ([_stream("stdout", "a\n"), nbformat.v4.new_output("error", ename="E", evalue="", traceback=[]),
      _stream("stdout", "b\n")],
     [("stdout", "a\n"), ("error", None), ("stdout", "b\n")]),
])
def test_a_print_sent_in_several_messages_reads_as_one_stream(outputs, expected):
    merged = ex.merged_streams(outputs)
    assert [(out.get("name", out.output_type), out.get("text")) for out in merged] == expected
