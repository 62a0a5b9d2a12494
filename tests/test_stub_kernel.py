"""What a student sees in a notebook, through a real kernel (nbclient runs a small notebook), when a
cell calls an exercise function that is still the course's stub, names one whose cell has not run
yet, or hits an unrelated error.

IPython discards what a ``set_custom_exc`` handler returns (8.x and 9.x alike), so a handler that
only returned its line left the cell failed with no output at all: these tests read the outputs
the kernel sends, not the handler's return value. The kernel runs as a student's does, without
strict self-checks (tests/_executions.py: execute, which counts each run as a synthetic notebook).
"""
from __future__ import annotations

import functools
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

import _executions

ROOT = Path(__file__).resolve().parent.parent
SKIP = "\u23ed"
pytestmark = pytest.mark.slow           # kernels (make test-fast leaves them out)

STUB = 'def ppca_mle(x, z_dim):\n    # YOUR CODE HERE\n    raise NotImplementedError("exercise: write this part")'
CELLS = {
    "import": "from utils.checks import unit01\nimport torch",
    "define stub": STUB,
    "call stub": "print('before')\nppca_mle(torch.zeros(3, 2), 1)",
    "check stub": "unit01.check_ppca_mle(ppca_mle)",
    "bare stub": "def helper():\n    raise NotImplementedError",
    "call bare stub": "helper()",
    "torch dtype": "def centre(x):\n    return x - x.float().mean()\n\ncentre(torch.tensor([True, False]))",
    "torch in check": "def pca(x, z_dim):\n    return x.bool() - 1, None\n\nunit01.check_pca(pca)",
    "check before def": "unit01.check_ppca_posterior(ppca_posterior)",
    "other name": "undefined_variable_of_the_student + 1",
    "fine": "print('still running')",
}


def _notebook(cells: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"name": name})
                for name, source in cells.items()]
    return nb


def _run(nb: nbformat.NotebookNode, allow_errors: bool) -> nbformat.NotebookNode:
    """``nb`` run in a fresh kernel started at the repository root, as a student runs it."""
    return _executions.execute(nb, Path(__file__), _executions.SYNTHETIC, folder=ROOT,
                               strict=False, allow_errors=allow_errors, timeout=300)


@functools.lru_cache(maxsize=None)
def _executed() -> dict[str, list]:
    """Outputs of each cell of CELLS, run top to bottom in one kernel, errors kept."""
    nb = _run(_notebook(CELLS), allow_errors=True)
    return {cell.metadata["name"]: cell.outputs for cell in nb.cells}


def _errors(outputs) -> list:
    return [out for out in outputs if out.output_type == "error"]


def _text(outputs) -> str:
    return "\n".join(out.text if out.output_type == "stream" else "\n".join(out.get("traceback", []))
                     for out in outputs)


def test_calling_a_stub_shows_one_line_naming_the_function():
    outputs = _executed()["call stub"]
    errors = _errors(outputs)
    assert len(errors) == 1, outputs
    assert errors[0].traceback == [
        f"{SKIP} `ppca_mle` is not written yet: replace its `raise NotImplementedError` with your "
        "code, run that cell, then this one"]
    assert errors[0].ename == "NotImplementedError"
    assert outputs[0].output_type == "stream" and outputs[0].text == "before\n"   # order kept


def test_a_bare_raise_not_implemented_error_is_a_stub_too():
    (error,) = _errors(_executed()["call bare stub"])
    assert error.traceback[0].startswith(f"{SKIP} `helper` is not written yet")


def test_a_check_of_a_stub_says_not_implemented_in_one_line_without_error():
    outputs = _executed()["check stub"]
    assert not _errors(outputs)
    lines = _text(outputs).splitlines()
    assert len(lines) == 1 and "not implemented yet" in lines[0], lines


def test_torchs_not_implemented_error_shows_its_traceback_not_not_written_yet():
    outputs = _executed()["torch dtype"]
    (error,) = _errors(outputs)
    text = "\n".join(error.traceback)
    assert error.ename == "NotImplementedError"
    assert "not written yet" not in text and SKIP not in text
    assert "Subtraction" in text and "centre" in text and len(error.traceback) > 1


def test_torchs_not_implemented_error_in_a_check_is_a_bug_not_an_unwritten_function():
    outputs = _executed()["torch in check"]
    assert not _errors(outputs)
    text = _text(outputs)
    assert "not implemented yet" not in text and "raised NotImplementedError: Subtraction" in text
    assert all(len(line) <= 120 for line in text.splitlines()), text


def test_a_check_run_before_its_function_cell_names_the_cell_to_run():
    (error,) = _errors(_executed()["check before def"])
    assert error.traceback == [f"{SKIP} `ppca_posterior` is not defined yet: run the cell that "
                               "defines it (Part 3) first, then this one"]


def test_any_other_name_error_keeps_its_usual_traceback():
    (error,) = _errors(_executed()["other name"])
    text = "\n".join(error.traceback)
    assert error.ename == "NameError" and "undefined_variable_of_the_student" in text
    assert SKIP not in text and len(error.traceback) > 1


def test_the_handler_stays_installed_after_each_kind_of_error():
    assert _text(_executed()["fine"]) == "still running\n"


def test_run_all_stops_at_a_stub_with_its_line_shown():
    """"Run All" (nbclient without allow_errors) stops at the first failing cell, and that cell
    shows the line; a cell tagged raises-exception (the exercises' check and use cells) lets the
    run go on."""
    cells = {name: CELLS[name] for name in ("import", "define stub", "call stub", "fine")}
    nb = _notebook(cells)
    with pytest.raises(CellExecutionError):
        _run(nb, allow_errors=False)
    called, after = nb.cells[2], nb.cells[3]
    assert _errors(called.outputs)[0].traceback[0].startswith(f"{SKIP} `ppca_mle` is not written yet")
    assert not after.outputs

    nb = _notebook(cells)
    nb.cells[2].metadata["tags"] = ["raises-exception"]
    _run(nb, allow_errors=False)
    assert _text(nb.cells[3].outputs) == "still running\n"
