"""Each lecture's py:percent twin runs as a plain script, without Jupyter (`python 01_lvm_pca.py`).

Smoke mode (CI=1, set by conftest.py), the Agg backend and one torch thread, from lectures/ as a
student would run it. Live figures, progress bars and widgets must degrade to static output or
text: the script exits 0 and prints no traceback. Cost, measured on the 2-core machine while other
jobs shared it: 389 s for the six one after the other (01: 30 s, 02: 19 s, 03: 36 s, 04: 25 s,
05: 135 s, 06: 144 s), and 858 s in a busier moment (pytest --durations); this comes on top of
the nbval run of the same lectures. `-k "not test_scripts"` leaves them out.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "lectures").glob("[0-9]*.py"))


def _run_as_script(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CI="1", MPLBACKEND="Agg", LVM_NUM_THREADS="1")
    env.pop("LVM_RESULTS_DIR", None)
    return subprocess.run([sys.executable, path.name], cwd=path.parent, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=1800)


def test_every_lecture_has_a_script_twin():
    assert [p.stem for p in LECTURES] == \
        [p.stem for p in sorted((ROOT / "lectures").glob("[0-9]*.ipynb"))]


@pytest.mark.parametrize("path", LECTURES, ids=[p.name for p in LECTURES])
def test_lecture_runs_as_a_plain_script_in_smoke_mode(path):
    proc = _run_as_script(path)
    tail = (proc.stdout[-1500:] + "\n--- stderr ---\n" + proc.stderr[-3000:])
    assert proc.returncode == 0, f"exit code {proc.returncode}:\n{tail}"
    assert "Traceback" not in proc.stdout + proc.stderr, tail
    assert "smoke mode: on" in proc.stdout, f"setup line missing:\n{tail}"
