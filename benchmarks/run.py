"""One command that measures the course; prints a Markdown report and writes it to a file.

    python -m benchmarks.run              # full run: every measurement, lectures in full mode
    python -m benchmarks.run --quick      # under 3 minutes: smoke-mode lectures, fewer rounds
    python -m benchmarks.run --class-mode # only the lectures in class mode (LVM_CLASS_MODE=1),
                                          # each against the 2-minute target
    python -m benchmarks.run --lectures 07 --skip threads,floor,pyro,tests
                                          # only lecture 07 (full and class mode), into
                                          # benchmarks/results-07.md

Torch runs with the course's default number of threads (``utils.runtime.set_threads()``: the
fastest count in a short probe at start-up, unless LVM_NUM_THREADS says otherwise), here and in the lectures it executes.
Comparisons are measured side by side in the same run, interleaved, and reported as ratios with
median (min–max) over rounds. Quality comes from the lectures' own runs: they record their
numbers (``utils.runtime.record``) in the folder the benchmark gives them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars from train_vae in this process

import torch  # noqa: E402

from utils.data import data_dir, load_mnist  # noqa: E402
from utils.runtime import THREADS_ENV, available_cores, set_threads  # noqa: E402

from . import measure, notebooks  # noqa: E402
from .report import (BATCHING_CONCLUSION, fmt_mib, fmt_seconds, markdown_table,  # noqa: E402
                     quality_section, ratio_spread, read_lecture_results, spread, target_verdict)

DEFAULT_OUT = {"full": Path(__file__).resolve().parent / "results.md",
               "quick": Path(__file__).resolve().parent / "results-quick.md",
               "class": Path(__file__).resolve().parent / "results-class-mode.md"}
SECTIONS = ("threads", "floor", "pyro", "lectures", "class", "tests")                # as measured
REPORT_ORDER = ("lectures", "class", "threads", "floor", "pyro", "quality", "tests")  # as reported
CLASS_MODE_TARGET = 120  # seconds: in class mode every lecture runs top to bottom within 2 minutes
RECORDING_LECTURES = ("04_vae_pytorch", "05_vae_pyro", "03_gradient_estimators", "06_elbo_tradeoffs",
                      "07_discrete_latents")
PYRO_TARGET = 1.3        # an SVI step at most 1.3x the hand-written step
SETTINGS = {
    # interleaved rounds x steps per round for each timing; tests: pytest arguments (None = not run)
    "full": dict(threads=(15, 25), floor=(15, 25), pyro=(15, 20), tests=[], class_mode=True),
    "quick": dict(threads=(6, 15), floor=(6, 15), pyro=(6, 10), tests=None, class_mode=False),
    "class": dict(threads=(6, 15), floor=(6, 15), pyro=(6, 10), tests=None, class_mode=True),
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine_header(mode: str, data, started: dt.datetime, threads: int) -> str:
    """One paragraph stating where, when and how the numbers were measured."""
    import pyro

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    gpu = "a CUDA GPU present but not used" if torch.cuda.is_available() else "no GPU"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    sizes = f"{len(data.train_x):,} train / {len(data.val_x):,} validation / {len(data.test_x):,} test"
    what = {"full": "**full mode** (lectures in full mode, CI unset)",
            "quick": "**quick mode** (lectures in *smoke* mode, CI=true, so their times and quality "
                     "are not comparable with full-mode numbers; fewer timing rounds)",
            "class": "**class mode only** (every lecture in class mode, LVM_CLASS_MODE=1: its "
                     "trained models loaded from `checkpoints/`, not trained)"}[mode]
    why = (f"{THREADS_ENV}={os.environ[THREADS_ENV]}" if os.environ.get(THREADS_ENV, "").strip()
           else "the course's default: the fastest count in `utils.runtime.probe_threads` at start-up")
    flag = {"full": "", "quick": " --quick", "class": " --class-mode"}[mode]
    return (f"Measured by `python -m benchmarks.run{flag}` on "
            f"{started:%Y-%m-%d %H:%M} UTC in {what}. Machine: {available_cores()} CPU cores "
            f"({cpu}), {gpu}, load average {load} at the start (the machine may be shared, so "
            f"absolute times are noisy; every comparison is measured side by side in this run). "
            f"torch {torch.__version__.split('+')[0]} on the CPU with **{threads} thread"
            f"{'s' if threads != 1 else ''}** ({why}), here (each executed lecture probes its own "
            f"count at start-up and prints it); pyro "
            f"{pyro.__version__}, Python {platform.python_version()}. Data: {data.source} "
            f"({sizes} images) from `{data_dir()}`.")


def ms(times: list[float]) -> str:
    return spread([1000 * t for t in times]).fmt(2, " ms")


def timing_table(intro: str, times: dict, labels: dict, reference, ratio: str,
                 rounds: tuple[int, int], speed_up: bool = False) -> str:
    """``intro``, the rounds' description, and a table: per contender its label, ms per step and
    its time over the reference's, per round (``speed_up``: the reference's over its own)."""
    repeats, block = rounds
    rows = []
    for name, label in labels.items():
        pair = (times[reference], times[name]) if speed_up else (times[name], times[reference])
        rows.append([label, ms(times[name]),
                     "1×" if name == reference else ratio_spread(*pair).fmt(2, "×")])
    return (f"{intro} Milliseconds per training step (batch {measure.BATCH_SIZE}), median "
            f"(min–max) over {repeats} rounds of {block} steps of each, interleaved in rotating "
            f"order; ratios taken per round. A round of `train_vae` or `train_svi` is one call over "
            f"that many batches, its set-up (optimizer, schedule, Pyro's param store) included.\n\n"
            + markdown_table(["per training step", "ms per step", ratio], rows, "lrr"))


def section_threads(data, cfg) -> tuple[str, list]:
    counts = list(range(1, available_cores() + 1))
    th = measure.thread_scaling(data.train_x, *cfg["threads"], counts)
    md = timing_table(
        f"**Torch threads**: `train_vae`'s step (`utils.vae.VAE`, z_dim 2, Adam + one-cycle) with "
        f"each number of torch threads up to the {counts[-1]} available cores.",
        th, {n: f"{n} thread{'s' if n > 1 else ''}" for n in counts}, 1,
        "speed-up over 1 thread", cfg["threads"], speed_up=True)
    if len(counts) == 1:
        return md, [["course default threads vs 1 thread", "–", "one core: nothing to compare"]]
    best = min(counts, key=lambda n: spread(th[n]).median)
    default = torch.get_num_threads()
    gain = ratio_spread(th[1], th[default]) if default in th else None
    verdict = (f"fastest: {best} thread{'s' if best > 1 else ''}; "
               + ("supports the default" if best == default else
                  f"the default ({default}) is not the fastest here"))
    return md, [[f"training step, {default} threads (the default) vs 1 thread: speed-up",
                 gain.fmt(2, "×") if gain else "–", verdict]]


def section_floor(data, cfg) -> tuple[str, list]:
    fl = measure.compute_floor(data.train_x, *cfg["floor"])
    md = timing_table(
        "**How close to the machine's limit**: the unit-04 VAE (z_dim 2).", fl,
        {"floor": "compute floor: −ELBO, backward, Adam + one-cycle on one pre-made binarized batch",
         "course": "course step (`train_vae`): next in-memory slice + `binarize` + the same step"},
        "floor", "ratio to the floor", cfg["floor"])
    overhead = ratio_spread(fl["course"], fl["floor"])
    return md + "\n\n" + BATCHING_CONCLUSION, [
        ["course training step vs the compute floor (overhead; no fixed target)",
         overhead.fmt(2, "×"), f"{100 * (overhead.median - 1):+.0f}% over the floor"]]


def section_pyro(data, cfg) -> tuple[str, list]:
    py = measure.pyro_cost(data.train_x, *cfg["pyro"])
    md = timing_table(
        "**Pyro's cost**: `utils.pyro_vae.train_svi` with `utils.pyro_vae.PyroVAE` against "
        "`utils.vae.train_vae`, the same Encoder/Decoder (z_dim 2), each step as the course takes "
        "it (next slice, `binarize`, the step), Pyro's validation on the first step of a run, as "
        "lecture 05 trains.", py,
        {"hand-written": "hand-written: `train_vae` (`negative_elbo`, fused Adam + one-cycle, as "
                         "lectures 04 and 05 train)",
         "TraceMeanField_ELBO": "Pyro: `train_svi` with `TraceMeanField_ELBO` and `OneCycleAdam` "
                                "(the same fused Adam + one-cycle; as lecture 05 trains)",
         "Trace_ELBO": "Pyro: `train_svi` with `Trace_ELBO` and `OneCycleAdam`",
         "TraceMeanField_ELBO, ClippedAdam per tensor": "Pyro: `train_svi` with "
             "`TraceMeanField_ELBO` and `pyro.optim.OneCycleLR` around `ClippedAdam` (one "
             "optimizer and schedule per parameter tensor; lecture 05 before 2026-12-05)"},
        "hand-written", "ratio to hand-written", cfg["pyro"])
    targets = []
    for name, what in (("TraceMeanField_ELBO", "Pyro SVI step, as lecture 05 trains "
                                               "(`TraceMeanField_ELBO`)"),
                       ("Trace_ELBO", "… with `Trace_ELBO`")):
        cost = ratio_spread(py[name], py["hand-written"])
        targets.append([f"{what} ≤ {PYRO_TARGET:g}× the hand-written step", cost.fmt(2, "×"),
                        target_verdict(cost.median, PYRO_TARGET, False)])
    return md, targets


def section_lectures(runs: list, mode: str) -> str:
    rows = [[f"`lectures/{r.name}.ipynb`", fmt_seconds(r.seconds), fmt_mib(r.peak_rss),
             ("ok" if r.error is None else f"error: {r.error}") + (f" ({r.note})" if r.note else "")]
            for r in runs]
    if runs:
        rows.append(["**whole course**", f"**{fmt_seconds(sum(r.seconds for r in runs))}**",
                     f"{fmt_mib(max(r.peak_rss for r in runs))} (largest)",
                     f"{sum(r.error is None for r in runs)} of {len(runs)} ok"])
    kind = "full mode (CI unset)" if mode == "full" else "**smoke mode** (CI=true)"
    return (f"**Lectures**, each executed top to bottom as a student's \"run all\" (nbclient, a "
            f"fresh kernel, {kind}, kernel start included) in a temporary copy of the repository; "
            f"memory is the peak RSS of the kernel's process tree, sampled every 0.1 s.\n\n"
            + markdown_table(["lecture", "wall time", "peak memory", "status"], rows, "lrrl"))


def section_class(runs: list) -> tuple[str, list]:
    """Each lecture in class mode against the 2-minute target, with the load it ran under."""
    limit = fmt_seconds(CLASS_MODE_TARGET)
    rows = [[f"`lectures/{r.name}.ipynb`", fmt_seconds(r.seconds), fmt_mib(r.peak_rss),
             "–" if r.load is None else f"{r.load:.1f}",
             (("met" if r.seconds <= CLASS_MODE_TARGET else "missed") if r.error is None else
              f"error: {r.error}") + (f" ({r.note})" if r.note else "")] for r in runs]
    md = (f"**Class mode** (`LVM_CLASS_MODE=1`): each lecture executed top to bottom as an "
          f"instructor's live \"run all\" (nbclient, a fresh kernel, full MNIST, kernel start "
          f"included) in a temporary copy of the repository, its trained models loaded from the "
          f"committed `checkpoints/` (float16 copies of the full run's weights, checked against "
          f"their SHA-256) instead of trained, its slowest evaluations lightened (each lecture "
          f"prints what it shortened). Target: at most {limit} per lecture on the course's 2-core "
          f"machine. The load average (1 minute) at each lecture's start says how busy the machine "
          f"was.\n\n" + markdown_table(["lecture", "wall time", "peak memory", "load at start",
                                         f"≤ {limit}"], rows, "lrrrl"))
    if not runs:
        return md, []
    slowest = max(runs, key=lambda r: r.seconds)
    ok = all(r.error is None for r in runs)
    verdict = (("met" if slowest.seconds <= CLASS_MODE_TARGET else "missed")
               + f" (slowest: {slowest.name}, {fmt_seconds(slowest.seconds)})"
               + ("" if ok else f"; {sum(r.error is not None for r in runs)} lecture(s) failed"))
    return md, [[f"class mode: every lecture within {limit}", fmt_seconds(slowest.seconds), verdict]]


def section_tests(cfg) -> str:
    if cfg["tests"] is None:
        return ("**CI cost**: not measured in quick mode (the test suite executes every notebook "
                "in smoke mode); run the full benchmark for it.")
    tr = notebooks.run_test_suite(data_dir(), cfg["tests"], log=log)
    return ("**CI cost**: the README's test command (`make test`, i.e. `python -m pytest`: unit "
            "tests, then every notebook in smoke mode, each run once per guarantee (CONTRIBUTING.md, "
            "the test plan), on 2 workers), install excluded, run in a temporary copy of the "
            "repository with the environment CI uses (full MNIST through LVM_DATA_DIR when the "
            "shared data folder is beside it).\n\n"
            + markdown_table(["command", "wall time", "result"],
                             [[f"`{tr.command}`", fmt_seconds(tr.seconds), tr.summary]], "lrl"))


def render(header: str, sections: dict[str, str], targets: list, took: float | None) -> str:
    """The report: header, targets, then the sections measured so far in REPORT_ORDER."""
    parts = [header]
    if targets:
        parts.append("**Targets and decisions**\n\n" + markdown_table(
            ["what", "measured: median (min–max)", "verdict"], targets, "lrl"))
    parts += [sections[name] for name in REPORT_ORDER if name in sections]
    if took is None:
        parts.append("*Partial results: the run had not finished when this was written.*")
    else:
        parts.append(f"The whole benchmark took {fmt_seconds(took)}. Reproduce with `make "
                     f"benchmark` (full), `make benchmark BENCH_ARGS=--quick` or `make benchmark "
                     f"BENCH_ARGS=--class-mode` (the lectures in class mode only).")
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke-mode lectures and fewer rounds: under 3 minutes")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the Markdown report (default benchmarks/results.md, "
                             "or benchmarks/results-quick.md with --quick)")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out: "
                        + ",".join(SECTIONS))
    parser.add_argument("--class-mode", action="store_true",
                        help="only execute every lecture in class mode (LVM_CLASS_MODE=1: trained "
                             "models loaded from checkpoints/) and report its wall time against "
                             "the 2-minute target")
    parser.add_argument("--save-outputs", action="store_true",
                        help="full mode: copy each lecture executed without error, its figures "
                             "and the models it trained back into lectures/, images/ and "
                             "checkpoints/ (the committed outputs and the checkpoints then come "
                             "from the timed run)")
    parser.add_argument("--lectures", default="",
                        help="comma-separated lecture numbers to run (e.g. 07); default: every "
                             "lecture. The report then goes to benchmarks/results-<numbers>.md "
                             "unless --out says otherwise")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.lectures.split(",") if s.strip()]
    numbers = {p.name[:2] for p in (Path(__file__).resolve().parent.parent / "lectures").glob("[0-9]*.ipynb")}
    if set(only) - numbers:
        parser.error(f"--lectures {args.lectures}: no lecture numbered {', '.join(sorted(set(only) - numbers))}; "
                     f"the lectures are {', '.join(sorted(numbers))}")
    if args.quick and args.class_mode:
        parser.error("--quick and --class-mode are two different runs: choose one")
    mode = "quick" if args.quick else "class" if args.class_mode else "full"
    if args.save_outputs and mode != "full":
        parser.error("--save-outputs needs a full run: smoke-mode and class-mode outputs are never "
                     "committed")
    out = args.out or (DEFAULT_OUT[mode].with_name(f"results-{'-'.join(only)}.md") if only
                       else DEFAULT_OUT[mode])
    cfg = SETTINGS[mode]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(SECTIONS):
        parser.error(f"unknown sections in --skip: {', '.join(sorted(skip - set(SECTIONS)))}")
    if mode == "class":
        skip |= set(SECTIONS) - {"class"}
    if not cfg["class_mode"]:
        skip.add("class")

    t_start = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    threads = set_threads()
    data = load_mnist()
    if not data.source.startswith("full MNIST"):
        log(f"The benchmark measures on full MNIST (its claims are about it), but only the "
            f"{data.source} was found. Put MNIST's raw files in {data_dir() / 'MNIST' / 'raw'} "
            f"(torchvision downloads them there when online), or set LVM_DATA_DIR to the folder "
            f"that holds MNIST/raw/, then run again.")
        return 2
    log(f"benchmark ({mode} mode): {data}, torch threads {threads}")
    header = machine_header(mode, data, started, threads)
    sections: dict[str, str] = {}
    targets: list = []

    def write(took: float | None = None) -> str:
        body = render(header, sections, targets, took)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"# Benchmark results\n\n{body}\n", encoding="utf-8")
        return body

    steps = [("threads", "training step across torch thread counts", section_threads),
             ("floor", "training step vs the compute floor", section_floor),
             ("pyro", "Pyro SVI step vs hand-written step", section_pyro)]
    for name, what, fn in steps:
        if name not in skip:
            log(f"{what} ...")
            sections[name], new_targets = fn(data, cfg)
            targets.extend(new_targets)
            write()

    if "lectures" not in skip:
        log("lectures ...")
        with tempfile.TemporaryDirectory(prefix="lvm-results-") as results_dir:
            runs = notebooks.run_lectures(smoke=(mode == "quick"), data_dir=data_dir(),
                                          results_dir=Path(results_dir), log=log,
                                          save=args.save_outputs, only=only)
            results = {n: read_lecture_results(Path(results_dir), n) for n in RECORDING_LECTURES}
        sections["lectures"] = section_lectures(runs, mode)
        sections["quality"] = quality_section(results, only)
        write()

    if "class" not in skip:
        log("lectures in class mode ...")
        runs = notebooks.run_lectures(smoke=False, data_dir=data_dir(), log=log, class_mode=True,
                                      only=only)
        sections["class"], new_targets = section_class(runs)
        targets.extend(new_targets)
        write()

    if "tests" not in skip:
        log("test suite ...")
        sections["tests"] = section_tests(cfg)

    body = write(took=time.perf_counter() - t_start)
    print(body)
    log(f"wrote {out}; the benchmark took {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
