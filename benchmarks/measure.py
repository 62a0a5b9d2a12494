"""In-process timings of the unit-04 training step, all through the course's own code
(``utils.vae.train_vae``, ``utils.pyro_vae.train_svi``): the step against its compute floor, the
step across torch thread counts, Pyro's SVI step against the hand-written one (and with fused
Adam), and the step's cost per image across batch sizes.

Every contender is a function ``run(steps)`` that takes ``steps`` training steps; contenders are
timed in interleaved rounds, the order rotated every round, so drifts in machine load hit them alike.
"""
from __future__ import annotations

import copy
import time
from typing import Callable

import torch

from utils.data import fixed_binarization
from utils.runtime import set_threads
from utils.vae import VAE, negative_elbo, train_vae

BATCH_SIZE = 128    # utils.vae.train_vae's default, the batch size lecture 04 trains with
Run = Callable[[int], object]


def per_step(run: Run, steps: int) -> float:
    """Seconds per step of ``run(steps)``."""
    t0 = time.perf_counter()
    run(steps)
    return (time.perf_counter() - t0) / steps


def interleaved(contenders: dict, repeats: int, block: int,
                warmup: int = 5) -> dict[object, list[float]]:
    """Seconds per step of each contender: one warm-up call, then ``repeats`` rounds of ``block``
    steps each, the order rotated every round."""
    names = list(contenders)
    for name in names:
        per_step(contenders[name], warmup)
    times = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(per_step(contenders[name], block))
    return times


def fresh_vae(z_dim: int = 2, seed: int = 0) -> VAE:
    """The unit-04 VAE as lecture 04 initialises it."""
    torch.manual_seed(seed)
    return VAE(z_dim=z_dim)


def course_steps(vae: VAE, train_x: torch.Tensor, batch_size: int = BATCH_SIZE,
                 fused: bool = True) -> Run:
    """Training steps exactly as the course takes them: ``train_vae`` for one epoch over the first
    ``steps`` × ``batch_size`` images (shuffled slices, ``binarize``, −ELBO, Adam + one-cycle;
    torch's fused Adam as ``train_vae`` uses it; ``fused=False``: torch's default Adam)."""
    return lambda steps: train_vae(vae, train_x[:steps * batch_size], epochs=1,
                                   batch_size=batch_size, fused=fused)


def floor_steps(vae: VAE, x: torch.Tensor, max_lr: float = 3e-3) -> Run:
    """The compute floor: the same −ELBO, backward, Adam and one-cycle step, on one pre-made
    binarized batch ``x`` (no slicing, no binarizing)."""
    opt = torch.optim.Adam(vae.parameters(), lr=max_lr, fused=True)     # as train_vae steps
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=10**7)

    def run(steps: int) -> None:
        for _ in range(steps):
            opt.zero_grad()
            negative_elbo(vae, x).mean().backward()
            opt.step()
            sched.step()
    return run


def compute_floor(train_x: torch.Tensor, repeats: int, block: int) -> dict[str, list[float]]:
    """Seconds per step: the floor against the course's step, one model."""
    vae = fresh_vae()
    fixed = fixed_binarization(train_x[:BATCH_SIZE], seed=0)
    return interleaved({"floor": floor_steps(vae, fixed), "course": course_steps(vae, train_x)},
                       repeats, block)


def thread_scaling(train_x: torch.Tensor, repeats: int, block: int,
                   counts: list[int]) -> dict[int, list[float]]:
    """Seconds per course training step with each number of torch threads in ``counts`` (one
    model each, initialised alike); torch's setting is restored afterwards."""
    def with_threads(n: int) -> Run:
        run = course_steps(fresh_vae(), train_x)

        def go(steps: int) -> None:
            set_threads(n)
            run(steps)
        return go

    before = torch.get_num_threads()
    try:
        return interleaved({n: with_threads(n) for n in counts}, repeats, block)
    finally:
        set_threads(before)


def pyro_cost(train_x: torch.Tensor, repeats: int, block: int,
              extra: bool = False) -> dict[str, list[float]]:
    """Seconds per step, the same encoder/decoder weights at the start: ``train_vae``'s step (fused
    Adam + one-cycle) against ``train_svi``'s (``OneCycleAdam``: the same optimizer and schedule,
    as lecture 05 trains; Pyro's validation on, as lecture 05 sets it, so ``train_svi`` validates
    the first step of each call) with ``TraceMeanField_ELBO`` (lecture 05's loss), with
    ``Trace_ELBO``, and with ``TraceMeanField_ELBO`` under Pyro's own wrapper, one ``ClippedAdam``
    and one ``OneCycleLR`` per parameter tensor (``one_cycle_clipped_adam``, how lecture 05 trained
    before). ``extra``: also that, validated at every step, and the hand-written step with torch's
    default Adam (``fused=False``)."""
    import pyro
    from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

    from utils.pyro_vae import PyroVAE, one_cycle_clipped_adam, train_svi

    hand = fresh_vae()
    pv = PyroVAE(copy.deepcopy(hand.encoder), copy.deepcopy(hand.decoder), hand.z_dim)

    def clipped(max_lr: float, steps: int):
        return one_cycle_clipped_adam(max_lr, steps, BATCH_SIZE)

    def svi_steps(elbo: type, **options) -> Run:
        def run(steps: int) -> None:
            with pyro.validation_enabled(True):
                train_svi(pv, train_x[:steps * BATCH_SIZE], epochs=1, elbo=elbo(), **options)
        return run

    contenders = {"hand-written": course_steps(hand, train_x),
                  "TraceMeanField_ELBO": svi_steps(TraceMeanField_ELBO),
                  "Trace_ELBO": svi_steps(Trace_ELBO),
                  "TraceMeanField_ELBO, ClippedAdam per tensor": svi_steps(TraceMeanField_ELBO,
                                                                           optimizer=clipped)}
    if extra:
        contenders["TraceMeanField_ELBO, ClippedAdam per tensor, every step validated"] = \
            svi_steps(TraceMeanField_ELBO, optimizer=clipped, validate_every_step=True)
        contenders["hand-written, default Adam"] = course_steps(copy.deepcopy(hand), train_x,
                                                                fused=False)
    return interleaved(contenders, repeats, block)


def batch_cost(train_x: torch.Tensor, repeats: int, block: int,
               sizes: tuple[int, ...] = (128, 256, 512)) -> dict[int, list[float]]:
    """Seconds per 128 images of the course's step (``train_vae``, z_dim 2) at each batch size in
    ``sizes``: ``block`` × 128 images per round, interleaved. A larger batch spreads each step's
    fixed cost (Python, the optimizer's pass over the weights) over more images, but takes fewer
    steps per epoch, which the quality of a run notices (measure that separately)."""
    def at(size: int) -> Run:
        run = course_steps(fresh_vae(), train_x, batch_size=size)
        return lambda units: run(max(1, units * BATCH_SIZE // size))
    return interleaved({size: at(size) for size in sizes}, repeats, block)
