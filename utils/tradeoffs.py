"""What the ELBO trades off (unit 06): the rate/distortion split, the β-weighted loss, KL warm-up,
active units, the importance-weighted bound as a training loss, the split of the rate into
information and the aggregate posterior's KL, and the cost of a training step. The one reusable copy: lecture 06
writes each out and checks it equal to these; the unit-06 self-checks and the benchmarks import them.
Every function works on :class:`utils.vae.VAE` and binary images, in nats per image.
"""
from __future__ import annotations

import math
import statistics
import time
from typing import Callable

import torch

from ._validate import count
from .vae import VAE, adam, gaussian_kl, log_importance_weights, log_likelihood


def rate_distortion(vae: VAE, x: torch.Tensor,
                    eps: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(distortion D, rate R) per image, each of shape (N,), with D + R = −ELBO:
    D = −log p(x|z) at one reparameterized z = μ + σ ⊙ ε (a one-sample estimate of E_q[−log p(x|z)])
    and R = KL(q(z|x) ‖ p(z)) in closed form (Alemi et al., 2018)."""
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn_like(z_loc)
    _require_noise_shape(eps, tuple(z_loc.shape), "(N, z_dim): one row per image")
    z = z_loc + z_scale * eps
    return -log_likelihood(vae, x, z), gaussian_kl(z_loc, z_scale)


def _require_noise_shape(eps: torch.Tensor, shape: tuple, meaning: str) -> None:
    """A clear error when the given noise ``eps`` does not have the shape the samples need."""
    if tuple(eps.shape) != shape:
        raise ValueError(f"eps must have shape {shape} {meaning}, got {tuple(eps.shape)}")


def beta_negative_elbo(vae: VAE, x: torch.Tensor, beta: float,
                       eps: torch.Tensor | None = None) -> torch.Tensor:
    """D + β R per image (Higgins et al., 2017): β = 1 is the −ELBO, β < 1 buys reconstructions with
    rate, β > 1 pushes the posterior towards the prior."""
    distortion, rate = rate_distortion(vae, x, eps)
    return distortion + beta * rate


class KLWarmup:
    """A training loss for :func:`utils.vae.train_vae`: D + β R with β rising linearly from 0 to 1
    over the first ``warmup_steps`` calls, then 1 (Bowman et al., 2016; Sønderby et al., 2016).
    Each call is one training step; ``beta`` is the weight the next call will use."""

    def __init__(self, warmup_steps: int):
        self.warmup_steps, self.steps_taken = count(warmup_steps, "warmup_steps"), 0

    @property
    def beta(self) -> float:
        return min(1.0, self.steps_taken / self.warmup_steps)

    def __call__(self, vae: VAE, x: torch.Tensor) -> torch.Tensor:
        loss = beta_negative_elbo(vae, x, self.beta)
        self.steps_taken += 1
        return loss


def iwae_negative_bound(vae: VAE, x: torch.Tensor, k: int,
                        eps: torch.Tensor | None = None) -> torch.Tensor:
    """The negative importance-weighted bound per image (N,), as a training loss (Burda et al., 2016):
    −[logsumexp_k log w_k − log K], log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x), with K
    reparameterized z_k = μ + σ ⊙ ε_k (``eps`` of shape (K, N, z_dim)). K = 1 is the −ELBO with a
    Monte Carlo KL; the bound tightens (in expectation) as K grows."""
    k = count(k, "k")
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn((k, *z_loc.shape), dtype=z_loc.dtype, device=z_loc.device)
    _require_noise_shape(eps, (k, *z_loc.shape), "(K, N, z_dim): K samples per image")
    z = z_loc + z_scale * eps                                    # (K, N, z_dim)
    log_w = log_importance_weights(vae, x, z_loc, z_scale, z)
    return -(torch.logsumexp(log_w, 0) - math.log(k))


def active_units(z_loc: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """(number of active latent dimensions, Var_x(E_q[z_d | x]) per dimension) from the posterior
    means ``z_loc`` (N, z_dim): dimension d is active when the variance over images of its posterior
    mean exceeds ``threshold`` (Burda et al., 2016 use 0.01)."""
    if z_loc.dim() != 2 or len(z_loc) < 2:
        raise ValueError(f"z_loc must be (N, z_dim) posterior means of at least 2 images, "
                         f"got shape {tuple(z_loc.shape)}")
    variance = z_loc.var(0, unbiased=False)
    return int((variance > threshold).sum()), variance


def information_terms(z_loc: torch.Tensor, z_scale: torch.Tensor,
                      z: torch.Tensor, chunk: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """The rate split in two, per image, for the N posteriors q(z|x_n) = N(z_loc, z_scale²) (N, z_dim)
    and one code z_m ~ q(z|x_m) for each of the first M ≤ N images (z: (M, z_dim)):
    (log q(z_m|x_m) − log q(z_m), log q(z_m) − log p(z_m)), shape (M,) each, where
    q(z) = (1/N) Σ_n q(z|x_n) is the aggregate posterior of all N images and p(z) = N(0, I).
    Their means estimate the mutual information I_q(X; Z) between the image (one of N, equally
    likely) and its code, at most log N because q(z) ≥ q(z|x_m) / N, and KL(q(z) ‖ p(z)); their sum
    averages to the mean rate: R̄ = I_q(X; Z) + KL(q(z) ‖ p(z)) (Hoffman & Johnson, 2016).
    Float64 on the CPU; log q(z_m|x_n) for all n comes from one matrix product per ``chunk`` codes."""
    z_loc, z_scale, z = (t.detach().cpu().double() for t in (z_loc, z_scale, z))
    if z_loc.dim() != 2 or z_scale.shape != z_loc.shape:
        raise ValueError(f"z_loc and z_scale must both have shape (N, z_dim), got "
                         f"{tuple(z_loc.shape)} and {tuple(z_scale.shape)}")
    if z.dim() != 2 or z.shape[1] != z_loc.shape[1] or len(z) > len(z_loc):
        raise ValueError(f"z must hold one code of the first M <= {len(z_loc)} images, shape "
                         f"(M, {z_loc.shape[1]}), got {tuple(z.shape)}")
    n, z_dim = z_loc.shape
    precision = z_scale.pow(-2)                                           # (N, z_dim)
    # log q(z|x_n) = −½ Σ_d z_d² / σ_nd² + Σ_d z_d μ_nd / σ_nd² + offset_n
    weights = torch.cat([-0.5 * precision, z_loc * precision], 1).T      # (2 z_dim, N)
    offset = (-0.5 * (z_loc.pow(2) * precision).sum(-1) - z_scale.log().sum(-1)
              - 0.5 * z_dim * math.log(2 * math.pi))                      # (N,)
    log_q_aggregate = torch.cat([
        torch.logsumexp(torch.addmm(offset, torch.cat([zc.pow(2), zc], 1), weights), 1)
        for zc in z.split(count(chunk, "chunk"))]) - math.log(n)
    normal = torch.distributions.Normal
    log_q_own = normal(z_loc[:len(z)], z_scale[:len(z)]).log_prob(z).sum(-1)
    log_prior = normal(0.0, 1.0).log_prob(z).sum(-1)
    return log_q_own - log_q_aggregate, log_q_aggregate - log_prior


def seconds_per_step(losses: dict[str, Callable], make_model: Callable[[], torch.nn.Module],
                     x: torch.Tensor, steps: int = 5, rounds: int = 7) -> dict[str, list[float]]:
    """Wall time of one training step (binarize the minibatch ``x``, loss, backward, Adam step),
    in seconds, for each ``losses[name](model, x)`` (a per-image loss) on its own fresh model from
    ``make_model()``. After one untimed step each, ``rounds`` rounds time ``steps`` steps of every
    loss in turn, so that a change of machine load falls on all of them alike; returns, for each
    name, the mean time per step in each round (take the median; compare within a round).

    Measured once per process for the same names, minibatch shape, device, counts and threads: a
    later call (a notebook run again in the same kernel) returns the first measurement, so that
    what is derived from it repeats exactly. The global random state is left as it was."""
    steps, rounds = count(steps, "steps"), count(rounds, "rounds")
    key = (tuple(losses), tuple(x.shape), str(x.device), steps, rounds, torch.get_num_threads())
    if key not in _STEP_TIMES:
        devices = [x.device.index or 0] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            _STEP_TIMES[key] = _time_steps(losses, make_model, x, steps, rounds)
    return {name: list(t) for name, t in _STEP_TIMES[key].items()}


_STEP_TIMES: dict[tuple, dict[str, list[float]]] = {}


def _time_steps(losses, make_model, x, steps, rounds) -> dict[str, list[float]]:
    models = {name: make_model() for name in losses}
    optimizers = {name: adam(models[name].parameters(), 1e-3, fused=True) for name in losses}  # as train_vae

    def step(name: str) -> None:
        loss = losses[name](models[name], torch.bernoulli(x)).mean()
        optimizers[name].zero_grad()
        loss.backward()
        optimizers[name].step()

    def synchronize() -> None:
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)

    for name in losses:
        step(name)
    times: dict[str, list[float]] = {name: [] for name in losses}
    for _ in range(rounds):
        for name in losses:
            synchronize()
            start = time.perf_counter()
            for _ in range(steps):
                step(name)
            synchronize()
            times[name].append((time.perf_counter() - start) / steps)
    return times


def median_ratio(times: dict[str, list[float]], slow: str, fast: str) -> tuple[float, float, float]:
    """(median, min, max) over rounds of times[slow] / times[fast], each ratio within one round."""
    ratios = [a / b for a, b in zip(times[slow], times[fast])]
    return statistics.median(ratios), min(ratios), max(ratios)
