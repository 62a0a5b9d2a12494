"""Every lecture runs twice in one kernel with the same outputs (smoke mode; timings aside).

A student who runs a lecture top to bottom, then runs it all again without restarting the kernel,
must see what they saw the first time: a stale Pyro param store, a once-per-process message or a
global left over from the first run would change the second run's output. For each lecture one
kernel executes every cell, the text outputs are recorded, every cell is executed again in the
same kernel, and each code cell's test compares its two outputs, after removing only what
legitimately differs between runs (timings, progress-bar rates, memory addresses, temporary
paths, kernel ids, how the kernel cut a stream into messages). A difference is reported as a
short diff in the failing cell's test.

The suite's settings (smoke mode, strict self-checks, one torch thread) come from conftest.py
at the repository root, MNIST from $LVM_DATA_DIR as everywhere else; figures use ipykernel's
inline backend, as in JupyterLab (tests/_executions.py: kernel_env). `pytest tests/test_rerun.py
-k 05_` runs one lecture; the first test of a lecture runs it (twice), the others only compare.

This is the lecture's notebook run of the test plan (nbval does not run the lectures): the first
pass is also where a cell that raises, with strict self-checks, fails the suite. Each lecture's
tests form one pytest-xdist group (`rerun-NN_topic`), so that the lectures spread over both
workers (the root conftest.py starts the longest groups first).
"""
from __future__ import annotations

import copy
import difflib
import functools
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import _executions

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
CELL_TIMEOUT = _executions.CELL_TIMEOUT    # seconds, as nbval's --nbval-cell-timeout
TEXT_TYPES = ("text/plain", "text/markdown", "text/html", "text/latex")
MAX_LINES = 12              # diff lines shown per cell

ANSI = re.compile(r"\x1b\[[0-9;]*m")     # colours in tracebacks
_TMP = re.escape(tempfile.gettempdir().rstrip("/"))
# What legitimately differs between two runs of the same code: (pattern, replacement), in order.
NORMALISE = [
    (re.compile(r"\d+(?:\.\d+)?\s*(?:[kM]?it/s|s/it)"), "<rate>"),                  # tqdm rates
    (re.compile(r"\[\d+:\d\d(?::\d\d)?<(?:\d+:\d\d(?::\d\d)?|\?)"), "[<elapsed><<eta>"),  # tqdm
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*"                                # durations
                r"(?:ns|µs|us|ms|s|sec|secs|seconds?|min|mins|minutes?|h)(?!\w)"), "<time>"),
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x<addr>"),                             # addresses
    (re.compile(rf"(?:{_TMP}|/tmp|/var/folders)/[^\s'\"),\]:]+"), "<tmp>"),      # tmp paths
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"kernel-[\w-]+\.json"), "kernel-<id>.json"),                       # kernel ids
]


def normalise(text: str) -> str:
    """``text`` without what differs between two identical runs; carriage-return redraws (text
    progress bars) keep only their last state, since how many redraws happen depends on timing."""
    lines = [line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
             for line in text.split("\n")]
    text = "\n".join(lines)
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def cell_texts(cell) -> str:
    """A code cell's text outputs, one block per output, normalised. Consecutive stream outputs
    are joined first, stdout before stderr: how the kernel cuts a stream into messages, and how it
    interleaves the two streams, depends on timing."""
    parts, streams = [], {}

    def flush():
        parts.extend(f"[{name}]\n{streams[name]}" for name in ("stdout", "stderr")
                     if streams.get(name))
        streams.clear()

    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":
            streams[out["name"]] = streams.get(out["name"], "") + out["text"]
            continue
        flush()
        if kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            parts += [f"[{mime}]\n{data[mime]}" for mime in TEXT_TYPES if mime in data]
        elif kind == "error":
            parts.append(f"[error]\n{out['ename']}: {out['evalue']}")
    flush()
    return normalise("\n".join(parts))


def label(nb, index: int) -> str:
    """'cell 12 (code cell 7 of 20: `first line`)': where to look in the notebook."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first = next((line for line in nb.cells[index].source.splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    return f"cell {index} (code cell {code.index(index) + 1} of {len(code)}: `{first}`)"


@dataclass
class Rerun:
    """One lecture executed twice in one kernel: each run's normalised texts (None for cells that
    did not run), where a run stopped (cell index, message) and how long each run took."""
    nb: object
    texts: list[list[str | None]] = field(default_factory=list)
    stops: list[tuple[int, str] | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def run_all(client: NotebookClient, path: Path, source, result: Rerun) -> None:
    """Execute every cell of a fresh copy of ``source`` in the client's running kernel, once
    (one execution of ``path`` in the suite's count)."""
    _executions.record(path, _executions.RERUN_SECOND if result.stops else _executions.RERUN_FIRST)
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client.nb = nb
    client.reset_execution_trackers()                   # display ids of this run, not the last one
    stop, ran = None, set()
    start = time.perf_counter()
    for index, cell in enumerate(nb.cells):
        try:
            client.execute_cell(cell, index)
            ran.add(index)
        except Exception as err:    # an error in the cell; or a timeout, a dead kernel
            lines = [line for line in ANSI.sub("", str(err)).splitlines() if line.strip()]
            what = ("raised" if isinstance(err, CellExecutionError)
                    else f"lost its kernel ({type(err).__name__})")
            last = lines[-1] if lines else type(err).__name__
            stop = (index, f"{label(nb, index)} {what}: {last}")
            break
    result.seconds.append(time.perf_counter() - start)
    result.stops.append(stop)
    result.texts.append([cell_texts(c) if i in ran else None for i, c in enumerate(nb.cells)])


@functools.cache
def rerun(path: Path) -> Rerun:
    """``path`` executed top to bottom twice in one kernel (the second time only if the first got
    to the end); computed once, for the first of the lecture's tests."""
    source = NOTEBOOKS[path]                            # as collected: the test ids' cells
    result = Rerun(source)
    client = NotebookClient(source, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        with client.setup_kernel(env=_executions.kernel_env(inline_figures=True)):
            run_all(client, path, source, result)
            if result.stops[0] is None:
                run_all(client, path, source, result)
    except Exception as err:        # the kernel did not start (errors in cells are caught above)
        if result.stops:
            raise
        first = CODE_CELLS[path][0]
        result.stops.append((first, f"{label(source, first)} did not run: the kernel did not "
                                    f"start: {type(err).__name__}: {err}"))
    runs = ", ".join(f"{'first' if i == 0 else 'second'} run {s:.1f} s"
                     for i, s in enumerate(result.seconds))
    print(f"\n{path.name}: {runs} (smoke mode, one kernel)")
    return result


def diff(first: str, second: str) -> str:
    """A short unified diff of one cell's outputs in the two runs."""
    lines = list(difflib.unified_diff(first.splitlines(), second.splitlines(), "first run",
                                      "second run", lineterm="", n=1))[2:]
    shown = lines[:MAX_LINES] + ([f"... {len(lines) - MAX_LINES} more lines"]
                                 if len(lines) > MAX_LINES else [])
    return "\n    ".join(shown)


def code_cells(nb) -> list[int]:
    """Indices of the cells that execute (code cells with code in them)."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]


# One test per code cell, like nbval's: a failure names its cell in the test id. The kernel draws
# figures with ipykernel's inline backend, as JupyterLab's does (kernel_env(inline_figures=True):
# no MPLBACKEND): under conftest.py's Agg, figures pile up and a second run warns "More than 20
# figures have been opened", which no student sees. A lecture's tests share its run (rerun(path)),
# so they are one pytest-xdist group: the six lectures go to both workers, longest first.
NOTEBOOKS = {path: nbformat.read(path, as_version=4) for path in LECTURES}
CODE_CELLS = {path: code_cells(nb) for path, nb in NOTEBOOKS.items()}
CASES = [pytest.param(path, index, id=f"{path.stem}-cell{index:03d}",
                      marks=pytest.mark.xdist_group(f"rerun-{path.stem}"))
         for path, cells in CODE_CELLS.items() for index in cells]


@pytest.mark.slow
@pytest.mark.parametrize("path, index", CASES)
def test_cell_prints_the_same_when_the_lecture_runs_again_in_the_same_kernel(path, index):
    result = rerun(path)
    where = label(result.nb, index)
    for run, stop in zip(("first", "second"), result.stops):
        if stop is None:
            continue
        stopped_at, message = stop
        if index == stopped_at:
            if run == "first":
                pytest.fail(f"{path.name}, first run: {message}", pytrace=False)
            pytest.fail(f"{path.name} is not re-runnable: on the second run in the same kernel, "
                        f"{message}", pytrace=False)
        if index > stopped_at or run == "first":
            pytest.skip(f"not compared: the {run} run stopped at cell {stopped_at}")
    first, second = result.texts[0][index], result.texts[1][index]
    if first != second:
        pytest.fail(f"{path.name} {where}: the second run in the same kernel printed something "
                    f"else:\n    {diff(first, second)}", pytrace=False)


def test_only_what_differs_between_identical_runs_is_normalised_away():
    same = [("100%|##| 16/16 [00:03<00:00,  4.61it/s]", "100%|##| 16/16 [00:05<00:00,  3.02it/s]"),
            ("0%|  | 0/2 [00:00<?, ?it/s]\r50%|# | 1/2 [00:01<00:01, 1.2s/it]\r100%|##| 2/2",
             "0%|  | 0/2 [00:00<?, ?it/s]\r100%|##| 2/2"),
            ("trained in 12.3 s (450 ms per epoch)", "trained in 9.8 s (390 ms per epoch)"),
            ("<Figure at 0x7f3a2b1c9d90>", "<Figure at 0x7f11aa0c0d10>"),
            ("/tmp/ipykernel_4507/3201.py:6: RuntimeWarning",
             "/tmp/ipykernel_812/3201.py:6: RuntimeWarning"),
            ("kernel-3f2a9c1e-1b2c-4d5e-8f90-123456789abc.json",
             "kernel-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d.json")]
    for a, b in same:
        assert normalise(a) == normalise(b), (a, b)
    differ = [("test −ELBO 138.5 nats per image", "test −ELBO 138.9 nats per image"),
              ("decoder$$$net.2.weight 784 256", "decoder$$$net.0.weight 256 2"),
              ("epochs: 2", "epochs: 1"), ("/tmp/x.py:6: Warning", "/tmp/x.py:7: Warning")]
    for a, b in differ:
        assert normalise(a) != normalise(b), (a, b)
    streams = [{"output_type": "stream", "name": "stdout", "text": "✓ a\n"},
               {"output_type": "stream", "name": "stderr", "text": "warning\n"},
               {"output_type": "stream", "name": "stdout", "text": "✓ b\n"}]
    whole = [{"output_type": "stream", "name": "stdout", "text": "✓ a\n✓ b\n"},
             {"output_type": "stream", "name": "stderr", "text": "warning\n"}]
    assert cell_texts({"outputs": streams}) == cell_texts({"outputs": whole})
