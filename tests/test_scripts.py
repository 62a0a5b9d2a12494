"""Each lecture's py:percent twin runs as a plain script, without Jupyter (`python 01_lvm_pca.py`).

Smoke mode (CI=1, set by conftest.py), the Agg backend and one torch thread, from lectures/ as a
student would run it. Live figures, progress bars and widgets must degrade to static output or
text: the script exits 0 and prints no traceback. Cost, measured on the 2-core machine while other
jobs shared it: 389 s for the six one after the other (01: 30 s, 02: 19 s, 03: 36 s, 04: 25 s,
05: 135 s, 06: 144 s), and 858 s in a busier moment (pytest --durations). This is the lecture's
script run of the test plan (tests/_executions.py counts it); each script is a pytest-xdist group
of its own (`script-NN_topic`), so that it can run on the other worker than the lecture's re-run
test. `-k "not test_scripts"` leaves them out.
"""
from pathlib import Path

import pytest

import _executions

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "lectures").glob("[0-9]*.py"))


def test_every_lecture_has_a_script_twin():
    assert [p.stem for p in LECTURES] == \
        [p.stem for p in sorted((ROOT / "lectures").glob("[0-9]*.ipynb"))]


@pytest.mark.slow
@pytest.mark.parametrize("path", [pytest.param(p, id=p.name,
                                               marks=pytest.mark.xdist_group(f"script-{p.stem}"))
                                  for p in LECTURES])
def test_lecture_runs_as_a_plain_script_in_smoke_mode(path):
    proc = _executions.run_script(path)
    tail = (proc.stdout[-1500:] + "\n--- stderr ---\n" + proc.stderr[-3000:])
    assert proc.returncode == 0, f"exit code {proc.returncode}:\n{tail}"
    assert "Traceback" not in proc.stdout + proc.stderr, tail
    assert "smoke mode: on" in proc.stdout, f"setup line missing:\n{tail}"
