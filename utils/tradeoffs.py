"""What the ELBO trades off (unit 06): the rate/distortion split, the β-weighted loss, KL warm-up,
active units and the importance-weighted bound as a training loss. The one reusable copy: lecture 06
writes each out and checks it equal to these; the unit-06 self-checks and the benchmarks import them.
Every function works on :class:`utils.vae.VAE` and binary images, in nats per image.
"""
from __future__ import annotations

import math

import torch

from ._validate import count
from .data import minibatches
from .vae import VAE, gaussian_kl, log_importance_weights, log_likelihood


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


@torch.no_grad()
def posterior_means(vae: VAE, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """E_q[z | x] = z_loc(x) for every image, (N, z_dim)."""
    return torch.cat([vae.encoder(xb)[0] for (xb,) in minibatches(x, batch_size=batch_size,
                                                                   shuffle=False)])


def active_units(z_loc: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """(number of active latent dimensions, Var_x(E_q[z_d | x]) per dimension) from the posterior
    means ``z_loc`` (N, z_dim): dimension d is active when the variance over images of its posterior
    mean exceeds ``threshold`` (Burda et al., 2016 use 0.01)."""
    if z_loc.dim() != 2 or len(z_loc) < 2:
        raise ValueError(f"z_loc must be (N, z_dim) posterior means of at least 2 images, "
                         f"got shape {tuple(z_loc.shape)}")
    variance = z_loc.var(0, unbiased=False)
    return int((variance > threshold).sum()), variance
