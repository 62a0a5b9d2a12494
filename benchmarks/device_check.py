"""Every notebook run as a script on the device present, one report: `make device-check`.

    python -m benchmarks.device_check [--full-lectures] [--device cuda|mps|cpu] [--only 05]

Each notebook's `.py` twin runs cell by cell in a fresh process (no Jupyter needed), from a
temporary copy of the repository, so nothing in the working tree changes. Lectures run in smoke
mode, or in full mode with --full-lectures (full MNIST from $LVM_DATA_DIR or data/); solutions and
exercises in smoke mode. An exercise's cells tagged `raises-exception` (those that call a function
the student has not written yet) may raise; any other error fails the notebook. For each notebook
the report gives: status, the number of ✗ lines (failed self-checks), wall time and peak memory on
the device (CUDA: torch.cuda.max_memory_allocated; mps: the driver's allocation at the end; CPU:
the process's peak resident memory). It is written to benchmarks/results-<device>.md with the
date, torch's version and the device's name, and printed.

A ✗ that shows on one device and not on another is a bug in a check's tolerance or in the
notebook's device handling: compare the report with the CPU's (`--device cpu`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("lectures", "solutions", "exercises")
CELL = re.compile(r"^# %%(.*)$")


def cells(script: str) -> list[tuple[str, bool]]:
    """The code cells of a py:percent script: (source, may_raise); markdown cells are left out."""
    out, header, lines = [], None, []

    def close():
        if header is not None and "[markdown]" not in header:
            out.append(("\n".join(lines), "raises-exception" in header))

    for line in script.splitlines():
        match = CELL.match(line)
        if match:
            close()
            header, lines = match.group(1), []
        elif header is not None:
            lines.append(line)
    close()
    return out


def run_child(script: Path, result_path: Path) -> None:
    """Run ``script``'s cells in one namespace (as a kernel would), then write the result."""
    import torch

    os.chdir(script.parent)
    namespace = {"__name__": "__main__", "__file__": str(script)}
    status = "ok"
    for number, (source, may_raise) in enumerate(cells(script.read_text(encoding="utf-8")), 1):
        try:
            exec(compile(source, f"{script.name} (cell {number})", "exec"), namespace)
        except Exception as error:        # noqa: BLE001 - the report names it
            if may_raise:
                continue
            status = f"cell {number}: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
            import traceback
            traceback.print_exc()
            break
    device = namespace.get("device")
    kind = getattr(device, "type", "cpu")
    if kind == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    elif kind == "mps":
        peak = torch.mps.driver_allocated_memory() / 2**20
    else:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    result_path.write_text(json.dumps({"status": status, "device": str(device), "peak_mib": peak}),
                           encoding="utf-8")


def run_notebook(root: Path, script: Path, smoke: bool, env: dict, timeout: int) -> dict:
    """One notebook in a fresh process; its status, ✗ count, wall time and peak memory."""
    env = dict(env, PYTHONPATH=str(root))
    if smoke:
        env["CI"] = "true"
    else:
        env.pop("CI", None)
    with tempfile.TemporaryDirectory() as tmp:
        result_path = Path(tmp) / "result.json"
        start = time.perf_counter()
        try:
            run = subprocess.run([sys.executable, "-m", "benchmarks.device_check", "--child",
                                  str(script), str(result_path)], cwd=root, env=env,
                                 capture_output=True, text=True, encoding="utf-8", timeout=timeout)
            output = run.stdout + run.stderr
        except subprocess.TimeoutExpired as error:
            output = (error.stdout or b"").decode("utf-8", "replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
            return {"status": f"timed out after {timeout} s", "crosses": output.count("\n✗"),
                    "seconds": time.perf_counter() - start, "peak_mib": float("nan"), "device": "?"}
        seconds = time.perf_counter() - start
        result = (json.loads(result_path.read_text(encoding="utf-8")) if result_path.exists()
                  else {"status": f"crashed (exit {run.returncode}): {output.strip().splitlines()[-1:]}",
                        "peak_mib": float("nan"), "device": "?"})
    crosses = [line for line in output.splitlines() if line.lstrip().startswith("✗")]
    return dict(result, crosses=len(crosses), cross_lines=crosses[:5], seconds=seconds)


def device_description(kind: str) -> str:
    import torch

    if kind == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    if kind == "mps":
        return f"Apple mps ({platform.machine()}, macOS {platform.mac_ver()[0]})"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def report(rows: list[dict], kind: str, full_lectures: bool) -> str:
    import torch

    lines = [f"# Device check: every notebook on {kind}", "",
             f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with "
             f"`python -m benchmarks.device_check{' --full-lectures' if full_lectures else ''}"
             f"{' --device ' + kind}`: torch {torch.__version__}, Python {platform.python_version()}, "
             f"{device_description(kind)}; torch threads "
             f"{os.environ.get('LVM_NUM_THREADS', 'from the start-up probe')}.",
             "Each notebook's `.py` twin ran cell by cell in a fresh process. Status `ok`: no "
             "error outside the cells that call an exercise's unwritten functions.", "",
             "| notebook | mode | device | status | ✗ lines | wall time | peak memory |",
             "|---|---|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['notebook']} | {r['mode']} | {r['device']} | {r['status']} | "
                     f"{r['crosses']} | {r['seconds']:.0f} s | {r['peak_mib']:,.0f} MiB |")
    failing = [r for r in rows if r["status"] != "ok" or r["crosses"]]
    lines += ["", f"{len(rows) - len(failing)} of {len(rows)} notebooks ran with no error and no ✗."]
    for r in failing:
        for cross in r.get("cross_lines", []):
            lines.append(f"- {r['notebook']}: `{cross.strip()[:200]}`")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-lectures", action="store_true", help="lectures in full mode")
    parser.add_argument("--device", choices=["cuda", "mps", "cpu"], default=None,
                        help="the device to check (default: what LVM_DEVICE=auto picks)")
    parser.add_argument("--only", default="", help="notebooks whose name contains this, e.g. 05")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per notebook")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(Path(args.child[0]), Path(args.child[1]))
        return 0
    from benchmarks.notebooks import repo_copy
    from utils.runtime import choose_device

    env = dict(os.environ, MPLBACKEND="Agg", TQDM_DISABLE="1")
    for var in ("LVM_STRICT_CHECKS", "LVM_SIMULATED_ACCELERATOR", "LVM_RESULTS_DIR"):
        env.pop(var, None)
    if args.device:
        env["LVM_DEVICE"] = args.device
        os.environ["LVM_DEVICE"] = args.device
    kind = choose_device()[0].type
    if env.get("LVM_DATA_DIR"):
        env["LVM_DATA_DIR"] = str(Path(env["LVM_DATA_DIR"]).resolve())
    rows = []
    with repo_copy() as root:
        for folder in FOLDERS:
            for script in sorted((root / folder).glob("[0-9][0-9]_*.py")):
                if args.only not in script.stem:
                    continue
                smoke = not (folder == "lectures" and args.full_lectures)
                row = run_notebook(root, script, smoke, env, args.timeout)
                row.update(notebook=f"{folder}/{script.stem}", mode="smoke" if smoke else "full")
                print(f"{row['notebook']:38} {row['mode']:5} {row['status'][:60]:60} "
                      f"✗ {row['crosses']}  {row['seconds']:6.0f} s  {row['peak_mib']:8,.0f} MiB",
                      flush=True)
                rows.append(row)
    text = report(rows, kind, args.full_lectures)
    suffix = "" if not args.only else f"-{args.only}"
    (REPO_ROOT / "benchmarks" / f"results-{kind}{suffix}.md").write_text(text, encoding="utf-8")
    print(text)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
