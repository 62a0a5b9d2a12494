"""Lecture run times of this tree against an earlier commit, side by side on the same machine.

    python -m benchmarks.compare cc6ddf4                      # every lecture the commit has
    python -m benchmarks.compare cc6ddf4 02_autoencoders --rounds 2
    python -m benchmarks.compare cc6ddf4 --save-outputs      # and keep this tree's executed runs

For each lecture, the commit's version and this tree's version are executed **at the same time**
(full mode, a fresh kernel each, each on ``--threads`` torch threads, default 1), so both see the
same machine and the same load; the ratio new/old is what a claim like "not slower than before"
needs. Each run is a student's "run all" in a temporary copy (``notebooks.execute_notebook``), so
neither tree changes. Prints a Markdown table. With ``--save-outputs`` this tree's lectures also
write their trained models (``LVM_SAVE_CHECKPOINTS``), and each of its runs that ended without
error is copied back into the working tree with its figures and checkpoints
(``notebooks.save_outputs``; with several rounds, the last such run), so that the committed outputs
and the checkpoints come from the measured run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from utils.data import data_dir
from utils.runtime import THREADS_ENV

from . import notebooks
from .report import fmt_seconds, markdown_table


def export_commit(rev: str, dest: Path) -> Path:
    """The tree of ``rev`` (git archive) unpacked in ``dest``; returns its root."""
    archive = dest / "old.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", rev], cwd=notebooks.REPO_ROOT, stdout=out, check=True)
    root = dest / "old"
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root


def execute_in_subprocess(root: Path, stem: str, threads: int, save: bool = False) -> dict:
    """Run lectures/<stem>.ipynb of ``root`` in its own process (environments stay separate);
    with ``save``, the executed notebook and the checkpoints it writes stay in ``root``."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.compare", "--execute", str(root), stem,
                           "--threads", str(threads)] + (["--save-outputs"] if save else []),
                          cwd=notebooks.REPO_ROOT,
                          capture_output=True, text=True, encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        return {"seconds": float("nan"), "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def execute_one(root: Path, stem: str, threads: int, save: bool = False) -> None:
    """(In the child process.) Full mode, MNIST from the course's data folder, ``root``'s utils;
    with ``save``, checkpoints written to ``root`` and the executed notebook saved in place."""
    env = notebooks.kernel_env(root, smoke=False, data_dir=data_dir(), save_checkpoints=save)
    env[THREADS_ENV] = str(threads)
    path = root / "lectures" / f"{stem}.ipynb"
    run = notebooks.execute_notebook(path, env, save_to=path if save else None)
    print(json.dumps({"seconds": run.seconds, "peak_rss": run.peak_rss, "error": run.error}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the earlier commit (or a root folder with --execute)")
    parser.add_argument("lectures", nargs="*", help="lecture stems (default: every one in both trees)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each kernel")
    parser.add_argument("--rounds", type=int, default=1, help="side-by-side runs of each lecture")
    parser.add_argument("--save-outputs", action="store_true",
                        help="copy this tree's executed lectures, their figures and the checkpoints "
                             "they trained back into the working tree (lectures/, images/, "
                             "checkpoints/), from each lecture's last run without error")
    parser.add_argument("--execute", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.execute:
        execute_one(Path(args.rev), args.lectures[0], args.threads, save=args.save_outputs)
        return 0
    with tempfile.TemporaryDirectory(prefix="lvm-compare-") as tmp, notebooks.repo_copy() as new:
        old = export_commit(args.rev, Path(tmp))
        stems = args.lectures or sorted(p.stem for p in (old / "lectures").glob("*.ipynb")
                                        if (new / "lectures" / p.name).exists())
        rows, totals = [], {}
        for stem in stems:
            for r in range(args.rounds):
                print(f"  {stem}, round {r + 1}: {args.rev} and this tree at once ...",
                      file=sys.stderr, flush=True)
                with ThreadPoolExecutor(2) as pool:
                    then, now = pool.map(lambda root: execute_in_subprocess(
                        root, stem, args.threads, save=args.save_outputs and root == new), (old, new))
                ratio = now["seconds"] / then["seconds"]
                errors = "; ".join(f"{which}: {run['error']}" for which, run in
                                   (("old", then), ("new", now)) if run.get("error"))
                print(f"    {then['seconds']:.0f} s then, {now['seconds']:.0f} s now ({ratio:.2f}×)"
                      + (f" ERRORS {errors}" if errors else ""), file=sys.stderr, flush=True)
                if args.save_outputs and not now.get("error"):
                    notebooks.save_outputs(new / "lectures" / f"{stem}.ipynb", new,
                                           log=lambda m: print(m, file=sys.stderr, flush=True))
                rows.append([f"`{stem}`", str(r + 1), fmt_seconds(then["seconds"]),
                             fmt_seconds(now["seconds"]), f"{ratio:.2f}×", errors or "ok"])
                before, after = totals.get(r, (0.0, 0.0))
                totals[r] = (before + then["seconds"], after + now["seconds"])
        if len(stems) > 1:
            for r, (then_total, now_total) in totals.items():
                rows.append([f"**all {len(stems)}**", str(r + 1), fmt_seconds(then_total),
                             fmt_seconds(now_total), f"**{now_total / then_total:.2f}×**", ""])
    print(f"Full mode, {args.threads} torch thread(s) per kernel, both versions of each lecture "
          f"executed at the same time; data from `{data_dir()}`.\n")
    print(markdown_table([f"lecture", "round", f"at {args.rev}", "this tree", "ratio", "status"],
                         rows, align="lrrrrl"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
