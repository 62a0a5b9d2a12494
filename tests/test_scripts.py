"""Every lecture's py:percent twin runs as a plain script, without Jupyter (`python 04_vae_pytorch.py`).

What differs between a lecture run in a kernel and the same code run as a script is only what
reaches Jupyter: live figures (`utils.plots.LiveFigure`'s display handles), `display`, widgets and
progress bars must degrade to static output or text, and a magic (`%time`) or `get_ipython()` would
fail. The code itself runs in the lecture's re-run test (tests/test_rerun.py, in a kernel).

So one lecture runs as a script, `SCRIPT_RUN` (smoke mode, the Agg backend, one torch thread, from
lectures/ as a student would run it): it exits 0 and prints no traceback. It is the lecture that
uses every Jupyter-facing feature, and the static tests below hold every other lecture to that:
its twin compiles, holds no magic or shell escape, and uses no Jupyter-facing name
(`JUPYTER_FACING`, or an import from IPython, ipywidgets or tqdm) that `SCRIPT_RUN` does not. A
lecture that needs a new one fails here until the script run covers it (move `SCRIPT_RUN`, or
add the feature to it). This is the script run of the test plan (CONTRIBUTING.md; counted by
tests/_executions.py), a pytest-xdist group of its own (`script-NN_topic`).
"""
import ast
import re
from pathlib import Path

import pytest

import _executions

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "lectures").glob("[0-9]*.py"))
SCRIPT_RUN = "04_vae_pytorch"   # live figures, display, a widget and progress bars, all of them
# Names whose behaviour depends on a Jupyter front end (utils.plots.LiveFigure: a display handle).
JUPYTER_FACING = {"display", "LiveFigure", "clear_output", "update_display", "HTML", "Markdown",
                  "interactive", "interact", "get_ipython"}
JUPYTER_MODULES = ("IPython", "ipywidgets", "tqdm")
# jupytext writes a magic or shell escape of a cell as a comment: `# %time`, `# !pip` (not `# %%`)
MAGIC = re.compile(r"^# (?:%{1,2}(?!%)[A-Za-z]|!\S)", re.M)


def code_cells(text: str) -> str:
    """The script's code cells only (its Markdown cells are comments too: `# ![figure](...)`)."""
    cells = re.split(r"^# %%(?![%\w])(.*)$", text, flags=re.M)
    return "\n".join(body for head, body in zip(cells[1::2], cells[2::2]) if "[markdown]" not in head)


def jupyter_facing(path: Path) -> set[str]:
    """The Jupyter-facing names the script uses and the Jupyter modules it imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=path.name)):
        if isinstance(node, ast.Name) and node.id in JUPYTER_FACING:
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in JUPYTER_FACING:
            found.add(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found |= {f"import {m}" for m in modules if m.split(".")[0] in JUPYTER_MODULES}
    return found


def test_every_lecture_has_a_script_twin():
    assert [p.stem for p in LECTURES] == \
        [p.stem for p in sorted((ROOT / "lectures").glob("[0-9]*.ipynb"))]
    assert SCRIPT_RUN in [p.stem for p in LECTURES]


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_lecture_script_compiles_and_holds_no_magic_or_shell_escape(path):
    text = path.read_text(encoding="utf-8")
    compile(text, path.name, "exec")
    found = MAGIC.findall(code_cells(text))
    assert not found, f"{path.name}: magics or shell escapes {found}"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_lecture_uses_only_jupyter_features_that_the_script_run_covers(path):
    extra = jupyter_facing(path) - jupyter_facing(ROOT / "lectures" / f"{SCRIPT_RUN}.py")
    assert not extra, (f"{path.name} uses {sorted(extra)}, which the script run ({SCRIPT_RUN}) "
                       "does not: make the script run cover it (tests/test_scripts.py)")


def test_the_static_check_sees_what_a_script_run_would_trip_on():
    assert MAGIC.findall(code_cells("# %%\nx = 1\n# %% [markdown]\n# ![a figure](f.png)\n")) == []
    assert len(MAGIC.findall(code_cells("# %%\n# %time f()\n# %%timeit\n# !pip install x\n"))) == 3
    (tmp := ROOT / "test-artifacts" / "facing_probe.py").parent.mkdir(exist_ok=True)
    tmp.write_text("from IPython.display import display\nimport ipywidgets as w\n"
                   "live = LiveFigure()\ndisplay(w.interactive(f))\n", encoding="utf-8")
    try:
        assert jupyter_facing(tmp) == {"import IPython.display", "import ipywidgets", "LiveFigure",
                                       "display", "interactive"}
    finally:
        tmp.unlink()


@pytest.mark.slow
@pytest.mark.xdist_group(f"script-{SCRIPT_RUN}")
def test_lecture_runs_as_a_plain_script_in_smoke_mode():
    path = ROOT / "lectures" / f"{SCRIPT_RUN}.py"
    proc = _executions.run_script(path)
    tail = (proc.stdout[-1500:] + "\n--- stderr ---\n" + proc.stderr[-3000:])
    assert proc.returncode == 0, f"exit code {proc.returncode}:\n{tail}"
    assert "Traceback" not in proc.stdout + proc.stderr, tail
    assert "smoke mode: on" in proc.stdout, f"setup line missing:\n{tail}"
