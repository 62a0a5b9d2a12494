"""One command that measures the course; prints a Markdown report and writes it to a file.

    python -m benchmarks.run                    # full run (< 30 min here): every measurement
    python -m benchmarks.run --quick            # < 3 min: smoke-mode lectures, fewer steps
    python -m benchmarks.run --update-readme    # also put the report between the README markers
    python -m benchmarks.run --resume           # finish an interrupted run, keeping its sections

Torch runs with one thread (the course's default on a CPU). Comparisons are measured side by side
in the same run, alternating, and reported as ratios with min/median/max over repeats.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars from train_vae in this process

import torch  # noqa: E402

from utils.data import data_dir, load_mnist  # noqa: E402
from utils.runtime import set_threads  # noqa: E402

from . import measure, notebooks  # noqa: E402
from .report import (END_MARKER, START_MARKER, fmt_mib, fmt_seconds, markdown_table,  # noqa: E402
                     parse_quality_table, parse_variance_ratios, ratio_spread,
                     replace_between_markers, spread, target_verdict)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = {"full": Path(__file__).resolve().parent / "results.md",
               "quick": Path(__file__).resolve().parent / "results-quick.md"}
SECTIONS = ("lectures", "throughput", "floor", "pyro", "quality", "variance", "tests")
ORDER = ("lectures", "throughput", "floor", "pyro", "quality", "tests")   # in the report
THREADS = 1
SPEEDUP_TARGET = 2.0     # the course's batching at least 2x faster than the tutorial DataLoader
PYRO_TARGET = 1.4        # an SVI step at most 1.4x the hand-written step
SETTINGS = {
    # tp: throughput repeats (even: each contender goes first equally often) and steps per timed
    # run (None = whole epochs); floor/pyro: interleaved rounds x steps per block; tests: pytest
    # arguments (None = not run). Quality and variance settings are read from lectures 04 and 03.
    "full": dict(tp_repeats=6, tp_steps=None, floor_repeats=15, floor_block=25,
                 pyro_repeats=15, pyro_block=20, tests=[]),
    "quick": dict(tp_repeats=4, tp_steps=25, floor_repeats=6, floor_block=15,
                  pyro_repeats=6, pyro_block=10, tests=None),
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def lecture_constant(name: str, pattern: str, default: int) -> int:
    """An integer a lecture's Markdown source sets (first match of ``pattern``), else ``default``:
    the benchmark follows the lectures' settings instead of copying them."""
    path = ROOT / "lectures" / f"{name}.md"
    m = re.search(pattern, path.read_text() if path.exists() else "", re.M)
    return int(m.group(1)) if m else default


def lecture04_settings() -> tuple[int, int]:
    """(full-mode epochs, IWAE K) as lecture 04 sets them."""
    return (lecture_constant("04_vae_pytorch", r"^EPOCHS\s*=\s*1 if SMOKE else (\d+)", 25),
            lecture_constant("04_vae_pytorch", r"^K\s*=\s*(\d+)", 100))


def lecture03_settings(smoke: bool) -> tuple[int, int, int | None]:
    """(z_dim, gradient draws per estimator, data subset) of lecture 03's VAE variance study."""
    name = "03_gradient_estimators"
    z_dim = lecture_constant(name, r"^z_dim\s*=\s*(\d+)", 2)
    if smoke:
        return (z_dim, lecture_constant(name, r"^R_vae\s*=\s*(\d+) if SMOKE", 40),
                lecture_constant(name, r"load_mnist\(subset=(\d+) if SMOKE", 2000))
    return z_dim, lecture_constant(name, r"^R_vae\s*=.*else (\d+)", 400), None


def machine_header(mode: str, data, started: dt.datetime) -> str:
    """One paragraph stating where, when and how the numbers were measured."""
    import pyro

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = "a CUDA GPU present but not used" if torch.cuda.is_available() else "no GPU"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    sizes = f"{len(data.train_x):,} train / {len(data.val_x):,} validation / {len(data.test_x):,} test"
    what = ("**full mode** (lectures in full mode, CI unset; whole epochs)" if mode == "full" else
            "**quick mode** (lectures in *smoke* mode, CI=true; a few steps per timing, scaled to "
            "an epoch; quality from the smoke runs: not comparable with full-mode numbers)")
    return (f"Measured by `python -m benchmarks.run{' --quick' if mode == 'quick' else ''}` on "
            f"{started:%Y-%m-%d %H:%M} UTC in {what}. Machine: {cores} CPU cores ({cpu}), {gpu}, "
            f"load average {load} at the start (the machine is shared, so absolute times are noisy; "
            f"every comparison is measured side by side in this run). torch "
            f"{torch.__version__.split('+')[0]} on the CPU with **{THREADS} thread** (set by the "
            f"benchmark, as the course does), pyro {pyro.__version__}, Python "
            f"{platform.python_version()}. Data: {data.source} ({sizes} images) from `{data_dir()}`.")


def section_throughput(data, cfg) -> tuple[str, list]:
    tp = measure.throughput(data, cfg["tp_repeats"], cfg["tp_steps"], log=log)
    speedup = ratio_spread(tp.tutorial, tp.course)
    feed = ratio_spread(tp.feed_tutorial, tp.feed_course)
    how = (f"whole epochs of {tp.steps_per_epoch} steps" if not cfg["tp_steps"] else
           f"{tp.measured_steps} steps per run, scaled to an epoch of {tp.steps_per_epoch} steps")
    rows = [["course: in-memory tensors, `minibatches` + `binarize`",
             spread(tp.course).fmt(2, " s"), "1×", spread(tp.feed_course).fmt(2, " s")],
            ["usual tutorial: torchvision `MNIST` + per-sample `ToTensor()` + "
             "`DataLoader(shuffle=True)`, each batch binarized",
             spread(tp.tutorial).fmt(2, " s"), speedup.fmt(2, "×"),
             spread(tp.feed_tutorial).fmt(2, " s") + f" ({feed.fmt(1, '×')})"]]
    md = (f"**Training throughput**: the unit-04 VAE (`utils.vae.VAE`, z_dim 2, hidden 256, Adam) "
          f"on the same {len(data.train_x):,} training images in batches of {measure.BATCH_SIZE}; "
          f"seconds per epoch, median (min–max) over {len(tp.course)} repeats alternating which "
          f"goes first ({how}). The ratio is tutorial / course per repeat. The last column times "
          f"producing the batches alone, without training ({tp.feed_steps} batches per run, scaled "
          f"to an epoch).\n\n"
          + markdown_table(["feeding the batches", "training, s per epoch", "tutorial / course",
                            "batches alone, s per epoch"], rows, "lrrr"))
    targets = [[f"course batching ≥ {SPEEDUP_TARGET:g}× faster than the tutorial DataLoader "
                f"(training epoch)", speedup.fmt(2, "×"),
                target_verdict(speedup.median, SPEEDUP_TARGET, True)]]
    return md, targets


def section_floor(data, cfg) -> tuple[str, list]:
    fl = measure.compute_floor(data, cfg["floor_repeats"], cfg["floor_block"])
    labels = {"floor": "compute floor: forward + backward + Adam on a pre-made binarized batch",
              "course": "course step: next in-memory slice + `binarize` + the same step",
              "tutorial": "tutorial step: next DataLoader batch + binarize + the same step"}
    rows = [[label, spread([1000 * t for t in fl[name]]).fmt(2, " ms"),
             "1×" if name == "floor" else ratio_spread(fl[name], fl["floor"]).fmt(2, "×")]
            for name, label in labels.items()]
    overhead = ratio_spread(fl["course"], fl["floor"])
    md = (f"**How close to the machine's limit**: milliseconds per training step (batch "
          f"{measure.BATCH_SIZE}, same model), median (min–max) over {len(fl['floor'])} rounds of "
          f"{cfg['floor_block']} steps of each, interleaved in rotating order; the ratio to the "
          f"floor is taken per round.\n\n"
          + markdown_table(["per training step", "ms per step", "ratio to the floor"], rows, "lrr"))
    ceiling = ratio_spread(fl["tutorial"], fl["floor"])
    targets = [["course training step vs the compute floor (overhead; no fixed target)",
                overhead.fmt(2, "×"), f"{100 * (overhead.median - 1):+.0f}% over the floor"],
               ["ceiling for any batching speed-up: tutorial step / compute floor (free batches)",
                ceiling.fmt(2, "×"),
                f"{'below' if ceiling.median < SPEEDUP_TARGET else 'above'} the "
                f"{SPEEDUP_TARGET:g}× throughput target: "
                + ("no way of feeding batches can reach it with this model"
                   if ceiling.median < SPEEDUP_TARGET else "reachable in principle")]]
    return md, targets


def section_pyro(data, cfg) -> tuple[str, list]:
    py = measure.pyro_cost(data, cfg["pyro_repeats"], cfg["pyro_block"])
    labels = {"hand-written": "hand-written: `negative_elbo` + Adam + one-cycle (`train_vae`'s step)",
              "Trace_ELBO": "Pyro `svi.step`, `Trace_ELBO`, ClippedAdam + one-cycle",
              "TraceMeanField_ELBO": "Pyro `svi.step`, `TraceMeanField_ELBO` (lecture 05's "
                                     "training loss), ClippedAdam + one-cycle",
              "Trace_ELBO, validation off": "Pyro `svi.step`, `Trace_ELBO`, with "
                                            "`pyro.enable_validation(False)`"}
    rows = [[label, spread([1000 * t for t in py[name]]).fmt(2, " ms"),
             "1×" if name == "hand-written" else
             ratio_spread(py[name], py["hand-written"]).fmt(2, "×")]
            for name, label in labels.items()]
    cost = ratio_spread(py["Trace_ELBO"], py["hand-written"])
    cost_mf = ratio_spread(py["TraceMeanField_ELBO"], py["hand-written"])
    md = (f"**Pyro's cost**: milliseconds per training step on the same binarized batch of "
          f"{measure.BATCH_SIZE}, the same `utils.vae` Encoder/Decoder (z_dim 2). The model and "
          f"guide (`benchmarks/pyro_vae.py`) mirror lecture 05's (`pyro.plate`, "
          f"`Normal(...).to_event(1)`, `Bernoulli(logits=...).to_event(1)`), with Pyro's "
          f"validation on as the lecture sets it. Median (min–max) over {len(py['hand-written'])} "
          f"interleaved rounds of {cfg['pyro_block']} steps; ratios per round.\n\n"
          + markdown_table(["per training step", "ms per step", "ratio to hand-written"], rows, "lrr"))
    targets = [[f"Pyro SVI step (`Trace_ELBO`) ≤ {PYRO_TARGET:g}× the hand-written step",
                cost.fmt(2, "×"), target_verdict(cost.median, PYRO_TARGET, False)],
               ["… with `TraceMeanField_ELBO`, as lecture 05 trains", cost_mf.fmt(2, "×"),
                target_verdict(cost_mf.median, PYRO_TARGET, False)]]
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


def section_quality(data, mode: str, lecture_text: dict) -> tuple[str, list]:
    """The quality table: lecture 04's printed numbers from this run, else trained here."""
    epochs, k = lecture04_settings()
    parsed = parse_quality_table(lecture_text.get("04_vae_pytorch", ""))
    if len(parsed) >= 2:
        source = ("read from lecture 04's own printed table, executed in this run (its settings: "
                  f"batch {measure.BATCH_SIZE}, one-cycle Adam peaking at 3e-3, seed 0; test set "
                  "binarized once with a fixed seed)")
        quality = [measure.Quality(q["z_dim"], q["epochs"], q["seconds"], q["neg_elbo"],
                                   q["neg_log_px"], q["k"] or k, "lecture 04") for q in parsed]
    else:
        why = ("lecture 04 was not executed in this run" if "04_vae_pytorch" not in lecture_text
               else "lecture 04's table could not be read from its output")
        subset = (lecture_constant("04_vae_pytorch", r"load_mnist\(subset=(\d+) if SMOKE", 2000)
                  if mode == "quick" else None)
        qdata = load_mnist(subset=subset) if subset else data
        q_epochs = 1 if mode == "quick" else epochs
        log(f"quality: {why}; training directly ({q_epochs} epochs) ...")
        quality = measure.quality_direct(qdata, (2, 20), q_epochs, k, log=log)
        source = (f"trained here with lecture 04's loop, settings and seeds ({why}); "
                  f"{len(qdata.train_x):,} training images")
    k_used = quality[0].k
    rows = [[f"VAE, z_dim = {q.z_dim}", q.epochs, fmt_seconds(q.seconds), f"{q.neg_elbo:.2f}",
             f"{q.neg_log_px:.2f}", f"{q.neg_elbo - q.neg_log_px:.2f}"] for q in quality]
    return (markdown_table(["model", "epochs", "training time", "test −ELBO",
                            f"test −log p(x), IWAE K = {k_used}", "gap"], rows, "lrrrrr")
            + f"\n\nNumbers {source}. −log p(x) is the importance-weighted estimate "
              f"(`iwae_log_px`, K = {k_used} samples per image), a tighter bound than the ELBO."), []


def variance_note(v: dict, lecture_text: dict) -> str:
    printed = parse_variance_ratios(lecture_text.get("03_gradient_estimators", ""))
    parts = []
    for r in v["ratios"]:
        echo = (f"; lecture 03 printed {printed[r['name']]:,.0f}× in this run"
                if r["name"] in printed else "")
        parts.append(f"{r['name']}: median **{r['median']:,.0f}×** (10%–90% of parameters: "
                     f"{r['q10']:,.0f}×–{r['q90']:,.0f}×{echo})")
    return (f"**REINFORCE vs pathwise** on the VAE encoder, lecture 03's study with its seeds "
            f"(z_dim {v['z_dim']}, trained one epoch, one fixed minibatch of {v['batch']}, "
            f"{v['repeats']} gradient draws per estimator; {fmt_seconds(v['seconds'])}): "
            f"Var_REINFORCE / Var_pathwise per encoder parameter, over the {v['active']:,} of "
            f"{v['params']:,} parameters with a nonzero pathwise variance. " + "; ".join(parts) + ".")


def section_tests(cfg) -> tuple[str, list]:
    if cfg["tests"] is None:
        return ("**CI cost**: not measured in quick mode (the test suite executes every notebook "
                "in smoke mode); run the full benchmark for it."), []
    tr = notebooks.run_test_suite(data_dir(), cfg["tests"], log=log)
    return ("**CI cost**: the README's test command (`make test`, i.e. `python -m pytest`: unit "
            "tests, then every notebook through nbval in smoke mode, on 2 workers), install "
            "excluded, run in a temporary copy of the repository with the environment CI uses "
            "(`../shared` beside it).\n\n"
            + markdown_table(["command", "wall time", "result"],
                             [[f"`{tr.command}`", fmt_seconds(tr.seconds), tr.summary]], "lrl")), []


class State:
    """What is measured so far, saved after every step to a JSON file in the temporary directory,
    so that ``--resume`` finishes an interrupted run (on a shared machine processes get killed)
    instead of starting over. Removed when a run completes."""

    def __init__(self, path: Path, fresh: dict):
        self.path = path
        self.d = fresh

    @classmethod
    def open(cls, mode: str, resume: bool, fresh: dict) -> "State":
        path = Path(tempfile.gettempdir()) / f"lvm-benchmark-{mode}.json"
        if resume and path.exists():
            d = json.loads(path.read_text())
            if d.get("mode") == mode:
                d["resumed"].append(dt.datetime.now(dt.timezone.utc).strftime("%H:%M"))
                log(f"resuming the run started {d['started']} UTC from {path}")
                return cls(path, d)
        return cls(path, fresh)

    def save(self) -> None:
        self.path.write_text(json.dumps(self.d))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke-mode lectures and fewer steps: under 3 minutes")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the Markdown report (default benchmarks/results.md, "
                             "or benchmarks/results-quick.md with --quick)")
    parser.add_argument("--update-readme", action="store_true",
                        help="replace the text between the BENCHMARK markers in README.md")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out: "
                        + ",".join(SECTIONS))
    parser.add_argument("--resume", action="store_true",
                        help="finish an interrupted run of the same mode (keeps what it measured)")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    args.out = args.out or DEFAULT_OUT[mode]
    cfg = SETTINGS[mode]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(SECTIONS):
        parser.error(f"unknown sections in --skip: {', '.join(sorted(skip - set(SECTIONS)))}")

    t_start = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    set_threads(THREADS)
    data = load_mnist()
    if not data.source.startswith("full MNIST"):
        log(f"The benchmark measures on full MNIST (its claims are about it, and the tutorial "
            f"DataLoader it compares with reads torchvision's files), but only the {data.source} "
            f"was found. Put MNIST's raw files in {data_dir() / 'MNIST' / 'raw'} (torchvision "
            f"downloads them there when online), or set LVM_DATA_DIR to the folder that holds "
            f"MNIST/raw/, then run again.")
        return 2
    log(f"benchmark ({mode} mode): {data}, torch threads {torch.get_num_threads()}")
    state = State.open(mode, args.resume, {
        "mode": mode, "started": f"{started:%Y-%m-%d %H:%M}", "resumed": [], "elapsed": 0.0,
        "header": machine_header(mode, data, started),   # now: the load average at the start
        "sections": {}, "variance": None, "lectures": {}})
    sections = state.d["sections"]
    elapsed_before = state.d["elapsed"]

    def save() -> None:
        state.d["elapsed"] = elapsed_before + time.perf_counter() - t_start
        state.save()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"# Benchmark results\n\n{render(done=False)}\n")

    def render(done: bool) -> str:
        parts = [state.d["header"]]
        targets = [t for name in ORDER if name in sections for t in sections[name]["targets"]]
        if targets:
            parts.append("**Targets**\n\n" + markdown_table(
                ["target", "measured: median (min–max)", "verdict"], targets, "lrl"))
        parts += [sections[name]["md"] for name in ORDER if name in sections]
        if not done:
            parts.append("*Partial results: the run had not finished when this was written.*")
            return "\n\n".join(parts)
        took = f"The whole benchmark took {fmt_seconds(state.d['elapsed'])}"
        if state.d["resumed"]:
            took += (f" of measuring (it was interrupted and resumed with `--resume` at "
                     f"{', '.join(state.d['resumed'])} UTC; each section was measured in one go)")
        parts.append(took + ". Reproduce with `make benchmark` (full, under 30 minutes here) or "
                     "`make benchmark BENCH_ARGS=--quick` (under 3 minutes).")
        return "\n\n".join(parts)

    steps = [("throughput", "training throughput: course batching vs torchvision DataLoader",
              lambda: section_throughput(data, cfg)),
             ("floor", "time per step vs the compute floor", lambda: section_floor(data, cfg)),
             ("pyro", "Pyro SVI step vs hand-written step", lambda: section_pyro(data, cfg))]
    for name, what, fn in steps:
        if name in skip:
            continue
        if name in sections:
            log(f"{what}: kept from the interrupted run")
            continue
        log(f"{what} ...")
        md, targets = fn()
        sections[name] = {"md": md, "targets": targets}
        save()

    if "variance" not in skip and state.d["variance"] is None:
        log("REINFORCE vs pathwise: encoder-gradient variance ...")
        z_dim, repeats, subset = lecture03_settings(smoke=(mode == "quick"))
        vdata = load_mnist(subset=subset) if subset else data
        v = measure.gradient_variance_ratio(vdata, repeats, z_dim)
        log(f"    {v.seconds:.1f} s: " + ", ".join(f"{r.name} median {r.median:.0f}"
                                               for r in v.ratios))
        state.d["variance"] = dataclasses.asdict(v)
        save()

    lecture_text: dict[str, str] = {}
    if "lectures" not in skip:
        log("lectures ...")
        done = {n: notebooks.NotebookRun(**r) for n, r in state.d["lectures"].items()}

        def keep(run):
            state.d["lectures"][run.name] = dataclasses.asdict(run)
            save()
        runs = notebooks.run_lectures(smoke=(mode == "quick"), data_dir=data_dir(), done=done,
                                      on_run=keep, log=log)
        lecture_text = {r.name: r.text for r in runs}
        sections["lectures"] = {"md": section_lectures(runs, mode), "targets": []}
        save()

    notes = []
    if "quality" not in skip:
        notes.append(section_quality(data, mode, lecture_text)[0])
    if "variance" not in skip and state.d["variance"] is not None:
        notes.append(variance_note(state.d["variance"], lecture_text))
    if notes:
        sections["quality"] = {"md": "**Quality** of the unit-04 VAE, nats per image (lower is "
                                     "better).\n\n" + "\n\n".join(notes), "targets": []}
        save()

    if "tests" not in skip and "tests" not in sections:
        log("test suite ...")
        md, targets = section_tests(cfg)
        sections["tests"] = {"md": md, "targets": targets}
        save()

    save()
    body = render(done=True)
    print(body)
    args.out.write_text(f"# Benchmark results\n\n{body}\n")
    log(f"wrote {args.out}")
    if args.update_readme:
        readme = ROOT / "README.md"
        readme.write_text(replace_between_markers(readme.read_text(), body, START_MARKER, END_MARKER))
        log(f"updated {readme} between {START_MARKER} and {END_MARKER}")
    state.remove()
    log(f"benchmark took {time.perf_counter() - t_start:.0f} s"
        + (f" ({state.d['elapsed']:.0f} s with the interrupted part)" if state.d["resumed"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
