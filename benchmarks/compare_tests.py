"""The test suite's time of this tree against an earlier commit's, one after the other on the same
machine, in the environment CI uses.

    python -m benchmarks.compare_tests 2b55928
    python -m benchmarks.compare_tests 2b55928 --rounds 2      # old, new, new, old

Each run is `python -m pytest` (the README's `make test` without the install) in a temporary copy
of its tree with this environment's .venv linked in, ../shared beside the copy when the
repository has it beside it (full MNIST, as in CI), and CI's settings from each tree's own
conftest. The copies' install inputs are dated 1970, so that `make lab` in a copy (the browser
tests) finds the linked .venv up to date and does not install that copy's ``utils`` into it; after
each run the benchmark stops if ``.venv`` imports another ``utils`` than before. Rounds alternate
the order (old first, then new first, ...) so that a drift in the machine's load does not favour
one side. Prints a Markdown table with pytest's own counts; the
ratio new/old is what a claim like "0.65× of that commit's test time" needs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from utils.data import data_dir

from . import notebooks
from .compare import export_commit
from .report import fmt_seconds, markdown_table


INSTALL_INPUTS = ("requirements.txt", "requirements-dev.txt", "pyproject.toml")   # the Makefile's


def never_reinstall(root: Path) -> None:
    """``root``'s install inputs dated 1970: `make` in ``root`` then finds a linked .venv up to
    date (git archive dates a commit's files at the commit, often after the last install)."""
    for name in INSTALL_INPUTS:
        if (root / name).exists():
            os.utime(root / name, (0, 0))


def installed_utils() -> Path:
    """The folder of the ``utils`` package that this environment imports outside any tree."""
    with tempfile.TemporaryDirectory() as neutral:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        out = subprocess.run([sys.executable, "-c", "import utils; print(utils.__file__)"],
                             cwd=neutral, env=env, capture_output=True, text=True, encoding="utf-8")
    return Path(out.stdout.strip()).resolve().parent if out.returncode == 0 else Path("(none)")


def run_suite(root: Path, args: list[str]) -> tuple[float, str, int]:
    """(seconds, 'N passed, ...', exit code) of pytest in ``root``."""
    never_reinstall(root)
    shared = notebooks.REPO_ROOT.parent / "shared"
    if shared.exists() and not (root.parent / "shared").exists():
        (root.parent / "shared").symlink_to(shared)
    if (notebooks.REPO_ROOT / ".venv").exists() and not (root / ".venv").exists():
        (root / ".venv").symlink_to(notebooks.REPO_ROOT / ".venv")
    env = notebooks.kernel_env(root, smoke=False, data_dir=data_dir())
    env["CI"] = "true"
    junit = root.parent / f"junit-{time.monotonic_ns()}.xml"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "warn_default_encoding", "-m", "pytest", *args,
                           f"--junitxml={junit}"], cwd=root, env=env, capture_output=True,
                          text=True, encoding="utf-8", errors="replace")
    seconds = time.perf_counter() - start
    summary = notebooks.junit_summary(junit) or f"exit code {proc.returncode}"
    executions = [line for line in proc.stdout.splitlines() if "notebook executions:" in line]
    if executions:
        summary += f"; {executions[-1].strip()}"
    return seconds, summary, proc.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the earlier commit")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each suite (orders alternate)")
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for both pytest runs")
    args = parser.parse_args(argv)
    loads, installed = [os.getloadavg()[0]], installed_utils()
    with tempfile.TemporaryDirectory(prefix="lvm-compare-tests-") as tmp, \
            notebooks.repo_copy() as new:
        old = export_commit(args.rev, Path(tmp))
        times = {"old": [], "new": []}
        rows = []
        for r in range(args.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for which in order:
                root = old if which == "old" else new
                print(f"  round {r + 1}: the suite of {args.rev if which == 'old' else 'this tree'}"
                      " ...", file=sys.stderr, flush=True)
                seconds, summary, code = run_suite(root, args.pytest_args)
                if installed_utils() != installed:
                    raise SystemExit(f"the suite in {root} installed its utils into .venv, which "
                                     f"now imports {installed_utils()}: repair it with `.venv/bin/"
                                     "python -m pip install -r requirements.txt`")
                loads.append(os.getloadavg()[0])
                print(f"    {seconds:.0f} s: {summary}", file=sys.stderr, flush=True)
                times[which].append(seconds)
                rows.append([str(r + 1), f"`{args.rev}`" if which == "old" else "this tree",
                             fmt_seconds(seconds), summary, str(code)])
                for cache in root.rglob("__pycache__"):
                    shutil.rmtree(cache, ignore_errors=True)
    ratio = sum(times["new"]) / sum(times["old"])
    print(f"The test suite (`python -m pytest`, CI=true, data from `{data_dir()}`), each tree in a "
          f"temporary copy, one after the other; {os.cpu_count()} cores, 1-minute load average "
          f"{min(loads):.1f}–{max(loads):.1f} between runs.\n")
    print(markdown_table(["round", "tree", "pytest wall time", "pytest's counts", "exit code"],
                         rows, align="llrll"))
    print(f"\nTotal this tree / total `{args.rev}`: **{ratio:.2f}×**.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
