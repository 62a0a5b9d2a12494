"""Runtime settings decided once per notebook: smoke mode, device, seeds, threads."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

THREADS_ENV = "LVM_NUM_THREADS"


def is_smoke_test() -> bool:
    """True in smoke mode: Pyro's convention, the ``CI`` environment variable is set."""
    return "CI" in os.environ


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
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        import pyro
    except ImportError:
        return
    pyro.set_rng_seed(seed)


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads``, else $LVM_NUM_THREADS, else 1.

    Small MLPs run fastest on one CPU thread (thread hand-offs cost more than
    they save), so one thread is the default; set LVM_NUM_THREADS to override.
    """
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "1")
        try:
            threads = int(raw)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}") from None
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
