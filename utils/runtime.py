"""Runtime settings decided once per notebook: smoke mode, class mode, device, seeds, threads."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch

from ._validate import count, describe

THREADS_ENV = "LVM_NUM_THREADS"
RESULTS_ENV = "LVM_RESULTS_DIR"
CLASS_MODE_ENV = "LVM_CLASS_MODE"                # on: lectures load their trained models
SAVE_CHECKPOINTS_ENV = "LVM_SAVE_CHECKPOINTS"    # on: a full-mode run writes them
CHECKPOINT_DIR_ENV = "LVM_CHECKPOINT_DIR"        # where they live (default checkpoints/)
OFF_VALUES = ("", "0", "false", "no", "off")
REPO_ROOT = Path(__file__).resolve().parent.parent


def env_flag(name: str) -> bool:
    """A setting from the environment: on when set to anything but empty, 0, false, no or off."""
    if not isinstance(name, str):
        raise TypeError(f"the name of an environment variable must be a str, got {describe(name)}")
    return os.environ.get(name, "").strip().lower() not in OFF_VALUES


def is_smoke_test() -> bool:
    """True in smoke mode: Pyro's convention, the ``CI`` environment variable is set (and on)."""
    return env_flag("CI")


def is_class_mode() -> bool:
    """True in class mode ($LVM_CLASS_MODE on): each lecture loads the models that its committed
    full-mode run trained (``checkpoints/``, :mod:`utils.checkpoints`) instead of training them, and
    lightens its slowest evaluations, so that an instructor can run every cell live. Off by default:
    students train. Class mode is the full-mode lecture, so it is refused in smoke mode (``CI``) and
    together with $LVM_SAVE_CHECKPOINTS (which saves what a run trains), in one sentence each."""
    if not env_flag(CLASS_MODE_ENV):
        return False
    if is_smoke_test():
        raise ValueError(f"{CLASS_MODE_ENV} and CI are both set, but class mode loads the models of "
                         f"the full-mode lecture and smoke mode trains small ones: unset CI for "
                         f"class mode, or unset {CLASS_MODE_ENV} for a smoke run")
    if env_flag(SAVE_CHECKPOINTS_ENV):
        raise ValueError(f"{CLASS_MODE_ENV} and {SAVE_CHECKPOINTS_ENV} are both set, but class mode "
                         f"loads checkpoints and never trains, so it has nothing to save: unset one "
                         f"of them")
    return True


def saves_checkpoints() -> bool:
    """True when $LVM_SAVE_CHECKPOINTS is on: a full-mode run writes each model it trains to
    ``checkpoints/`` for class mode (`make execute` sets it; smoke-mode runs never write)."""
    return env_flag(SAVE_CHECKPOINTS_ENV)


def checkpoint_dir() -> Path:
    """Where the trained models live: $LVM_CHECKPOINT_DIR if set (a relative path is taken relative
    to the repository root), else ``checkpoints/`` at the repository root."""
    env = os.environ.get(CHECKPOINT_DIR_ENV, "").strip()
    if not env:
        return REPO_ROOT / "checkpoints"
    path = Path(env).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def record(name: str, **values) -> None:
    """Write ``values`` (numbers, strings, lists) as JSON to $LVM_RESULTS_DIR/<name>.json when that
    variable is set (the benchmark sets it to read a lecture's results); otherwise do nothing.
    The arguments are checked either way, so a lecture's mistake shows in every run."""
    if not isinstance(name, str) or not name or Path(name).name != name or "\\" in name:
        raise ValueError(f"record needs a plain name such as '04_vae', got {name!r}: no folders")
    text = _as_json(values)
    folder = os.environ.get(RESULTS_ENV)
    if not folder:
        return
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _as_json(values: dict) -> str:
    """``values`` as JSON text; a value JSON cannot store is named, with what to pass instead."""
    try:
        return json.dumps(values, indent=2, sort_keys=True)
    except (TypeError, ValueError):
        for key, value in values.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise TypeError(f"record cannot store {key}={describe(value)}: pass numbers "
                                "(tensor.item()), strings or lists (tensor.tolist())") from None
        raise


DEVICE_ENV = "LVM_DEVICE"
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def choose_device() -> tuple[torch.device, str]:
    """The course device and why, from $LVM_DEVICE (``auto`` when unset or empty).

    ``auto`` picks CUDA when torch sees a CUDA GPU (the course was run there, every notebook, with
    the same checks as on the CPU), else the CPU. It never picks Apple's ``mps``: the course has
    not been run there (no float64, gaps in torch and Pyro, and models this small gain little on
    it); ``LVM_DEVICE=mps`` asks for it. ``cpu``, ``cuda`` and ``mps`` are taken as asked, or
    refused in one sentence when that device is not available here."""
    if _simulated():
        from ._simulated_device import SIMULATED_DEVICE
        return SIMULATED_DEVICE, "LVM_SIMULATED_ACCELERATOR is set: a CPU device that acts like an accelerator (tests)"
    raw = os.environ.get(DEVICE_ENV, "").strip()
    choice = raw.lower() or "auto"
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"{DEVICE_ENV}={raw!r} is not a device the course knows: set it to one of "
                         f"{', '.join(DEVICE_CHOICES)} (or unset it for auto)")
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), "auto: a CUDA GPU is available"
        why = "auto: no CUDA GPU"
        if _mps_available():
            why += "; Apple's mps is used only on request (LVM_DEVICE=mps)"
        return torch.device("cpu"), why
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}[choice]
    if not available:
        raise ValueError(f"{DEVICE_ENV}={raw} asks for {choice}, which this torch cannot use here "
                         f"(torch {torch.__version__}): set {DEVICE_ENV}=cpu, or unset it for auto")
    return torch.device(choice), f"{DEVICE_ENV}={choice}"


def get_device() -> torch.device:
    """The course device: see :func:`choose_device`."""
    return choose_device()[0]


def _simulated() -> bool:
    return env_flag("LVM_SIMULATED_ACCELERATOR")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, torch and (if installed) Pyro for reproducible runs."""
    seed = count(seed, "seed", minimum=0, maximum=2**32 - 1)     # NumPy's range
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        import pyro
    except ImportError:
        return
    pyro.set_rng_seed(seed)


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def probe_threads(candidates: list[int] | None = None, steps: int = 4, rounds: int = 3) -> dict[int, float]:
    """Milliseconds per training step of a unit-04-sized MLP (784-256-256-2, batch 128, forward and
    backward) for each thread count in ``candidates`` (default 1, 2, 4, … up to every available
    core), interleaved over ``rounds``; the median of each. Takes well under a second here."""
    import statistics
    import time

    cores = available_cores()
    if candidates is None:
        candidates = sorted({1, cores} | {2 ** i for i in range(1, 8) if 2 ** i < cores})
    if isinstance(candidates, (str, bytes)) or not hasattr(candidates, "__iter__"):
        raise TypeError(f"candidates must be a list of thread counts, e.g. [1, 2], "
                        f"got {describe(candidates)}")
    candidates = [count(n, "each candidate thread count") for n in candidates]
    if not candidates:
        raise ValueError("candidates is empty: give at least one thread count, e.g. [1, 2]")
    steps, rounds = count(steps, "steps"), count(rounds, "rounds")
    before = torch.get_num_threads()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(128, 784, generator=gen)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 2), torch.nn.Linear(2, 784))
    times: dict[int, list[float]] = {n: [] for n in candidates}
    try:
        for r in range(rounds):
            for n in candidates[r % len(candidates):] + candidates[:r % len(candidates)]:
                torch.set_num_threads(n)
                net(x).square().mean().backward()                    # warm-up at this count
                start = time.perf_counter()
                for _ in range(steps):
                    net(x).square().mean().backward()
                times[n].append((time.perf_counter() - start) / steps * 1e3)
    finally:
        torch.set_num_threads(before)
    return {n: statistics.median(v) for n, v in times.items()}


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads``, else $LVM_NUM_THREADS, else the fastest count
    found by :func:`probe_threads` on this machine, now.

    Why a probe: on the course's 2-core reference machine, 2 threads ran the unit-04 training step
    faster than 1 when the machine was otherwise idle (``make benchmark``, "threads" section), but
    several times slower when other programs kept the cores busy. The probe picks whichever is
    faster at the time (with one core there is nothing to probe). LVM_NUM_THREADS fixes the number
    (the test suite uses 1, since it runs two notebooks at a time on two cores).
    """
    cores = available_cores()
    if threads is not None:
        threads = _at_most(count(threads, "threads"), cores, "threads")
    elif os.environ.get(THREADS_ENV, "").strip():
        threads = _at_most(_threads_from_env(), cores, THREADS_ENV)
    else:
        timings = probe_threads() if cores > 1 else {1: 0.0}
        threads = min(timings, key=timings.get)
    torch.set_num_threads(threads)
    return threads


def _threads_from_env() -> int:
    """$LVM_NUM_THREADS as a positive int, or a message naming the setting and its value."""
    raw = os.environ[THREADS_ENV].strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}: set it to a "
                         "thread count such as 1, or unset it to pick the fastest count")
    return int(raw)


def _at_most(threads: int, cores: int, source: str) -> int:
    """``threads`` if this process has that many cores; else say so, naming where it came from."""
    if threads > cores:
        raise ValueError(f"{source}={threads} asks for more threads than the {cores} core(s) this "
                         f"process may run on: use at most {cores} (more only slow torch down)")
    return threads


_runs = 0  # how many times setup() ran in this process: a notebook's "run all" is one run


def run_number() -> int:
    """Which run of a notebook this is in the current kernel (0 before the first setup())."""
    return _runs


def setup(seed: int = 0, threads: int | None = None) -> tuple[torch.device, bool]:
    """Seed everything, pick the device and threads; print and return (device, smoke).
    Each call starts a new run of the notebook (see :func:`run_number`)."""
    global _runs
    class_mode = is_class_mode()                   # first: a conflicting setting stops the run here
    _runs += 1
    set_seed(seed)
    device, why = choose_device()
    if _simulated():
        from ._simulated_device import activate
        activate()
    n = set_threads(threads)
    smoke = is_smoke_test()
    mode = "on (CI is set: small data, few epochs)" if smoke else "off (full run)"
    line = f"smoke mode: {mode} | device: {device} ({why}) | torch threads: {n} | seed: {seed}"
    if class_mode:
        line += f" | class mode: on ({CLASS_MODE_ENV}: trained models are loaded, not trained)"
    print(line)
    return device, smoke
