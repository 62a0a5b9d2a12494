"""Runtime settings decided once per notebook: smoke mode, device, seeds, threads."""
from __future__ import annotations

import json
import numbers
import os
import random
from pathlib import Path

import numpy as np
import torch

THREADS_ENV = "LVM_NUM_THREADS"
RESULTS_ENV = "LVM_RESULTS_DIR"
OFF_VALUES = ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """A setting from the environment: on when set to anything but empty, 0, false, no or off."""
    return os.environ.get(name, "").strip().lower() not in OFF_VALUES


def is_smoke_test() -> bool:
    """True in smoke mode: Pyro's convention, the ``CI`` environment variable is set (and on)."""
    return env_flag("CI")


def record(name: str, **values) -> None:
    """Write ``values`` (numbers, strings, lists) as JSON to $LVM_RESULTS_DIR/<name>.json when that
    variable is set (the benchmark sets it to read a lecture's results); otherwise do nothing."""
    folder = os.environ.get(RESULTS_ENV)
    if not folder:
        return
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2, sort_keys=True), encoding="utf-8")


def get_device() -> torch.device:
    """The best available device: cuda, then Apple's mps, then the cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, torch and (if installed) Pyro for reproducible runs."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
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
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if not raw:
            timings = probe_threads() if available_cores() > 1 else {1: 0.0}
            threads = min(timings, key=timings.get)
        else:
            try:
                threads = int(raw)
            except ValueError:
                raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}") from None
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise TypeError(f"the number of threads must be an int, got {threads!r}")
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"the number of threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    return threads


def setup(seed: int = 0, threads: int | None = None) -> tuple[torch.device, bool]:
    """Seed everything, pick the device and threads; print and return (device, smoke)."""
    set_seed(seed)
    device = get_device()
    n = set_threads(threads)
    smoke = is_smoke_test()
    mode = "on (CI is set: small data, few epochs)" if smoke else "off (full run)"
    print(f"smoke mode: {mode} | device: {device} | torch threads: {n} | seed: {seed}")
    return device, smoke
