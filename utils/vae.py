"""The unit-04 VAE (MLP encoder/decoder, Bernoulli likelihood on logits), reused by units 03 and
05 and by the benchmarks. Lecture 04 writes this model out in full and checks that it matches.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .data import binarize, minibatches
from .plots import progress


class Encoder(nn.Module):
    """q_φ(z|x) = N(z_loc(x), diag z_scale(x)²): an MLP from pixels to the guide's parameters."""

    def __init__(self, z_dim: int = 2, hidden_dim: int = 256, x_dim: int = 784):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(x_dim, hidden_dim), nn.ReLU(),
                                  nn.Linear(hidden_dim, hidden_dim), nn.ReLU())
        self.loc = nn.Linear(hidden_dim, z_dim)
        self.log_scale = nn.Linear(hidden_dim, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.loc(h), self.log_scale(h).exp()


class Decoder(nn.Module):
    """p_θ(x|z) = Bernoulli(logits = f_θ(z)): an MLP from codes to pixel logits."""

    def __init__(self, z_dim: int = 2, hidden_dim: int = 256, x_dim: int = 784):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, x_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class VAE(nn.Module):
    """Encoder and decoder together; ``negative_elbo`` is the training loss."""

    def __init__(self, z_dim: int = 2, hidden_dim: int = 256):
        super().__init__()
        self.z_dim = z_dim
        self.encoder = Encoder(z_dim, hidden_dim)
        self.decoder = Decoder(z_dim, hidden_dim)


def gaussian_kl(z_loc: torch.Tensor, z_scale: torch.Tensor) -> torch.Tensor:
    """KL(N(z_loc, z_scale²) ‖ N(0, I)) per image, summed over the latent dimension."""
    return 0.5 * (z_loc.pow(2) + z_scale.pow(2) - 1 - 2 * z_scale.log()).sum(-1)


def negative_elbo(vae: VAE, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """−ELBO per image in nats (shape (N,)), one reparameterized sample z = μ + σ ⊙ ε."""
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn_like(z_loc)
    z = z_loc + z_scale * eps
    logits = vae.decoder(z)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    return gaussian_kl(z_loc, z_scale) - log_px_z


@torch.no_grad()
def evaluate(vae: VAE, x: torch.Tensor, batch_size: int = 1000,
             generator: torch.Generator | None = None) -> float:
    """Mean −ELBO in nats per image over ``x`` (binarized with ``generator``)."""
    vae.eval()
    total = 0.0
    for (xb,) in minibatches(x, batch_size=batch_size, shuffle=False):
        total += negative_elbo(vae, binarize(xb, generator)).sum().item()
    vae.train()
    return total / len(x)


@torch.no_grad()
def iwae_log_px(vae: VAE, x: torch.Tensor, k: int = 100,
                batch_size: int | None = None) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) with ``k`` samples, per image (nats), shape (N,).

    log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x) (Burda et al., 2016): a lower bound on
    log p(x) in expectation that tightens as ``k`` grows; k = 1 is the ELBO. ``x`` must be binary.
    By default ``batch_size`` keeps k × batch_size at about 5,000 decoded images per batch (fast on a
    CPU: the tensors stay small enough for the cache).
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    batch_size = batch_size or max(1, 5_000 // k)
    out = []
    for (xb,) in minibatches(x, batch_size=batch_size, shuffle=False):
        z_loc, z_scale = vae.encoder(xb)
        q = torch.distributions.Normal(z_loc, z_scale)
        z = q.sample((k,))                                   # (k, B, z_dim)
        logits = vae.decoder(z)
        log_px_z = -F.binary_cross_entropy_with_logits(
            logits, xb.expand_as(logits), reduction="none").sum(-1)
        log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_w = log_px_z + log_pz - q.log_prob(z).sum(-1)
        out.append(torch.logsumexp(log_w, 0) - math.log(k))
    return torch.cat(out)


def train_vae(vae: VAE, train_x: torch.Tensor, val_x: torch.Tensor | None = None,
              epochs: int = 20, batch_size: int = 128, max_lr: float = 3e-3,
              seed: int = 0, callback=None, loss_fn=None) -> dict[str, list[float]]:
    """Adam with a one-cycle learning rate on dynamically binarized batches (lecture 04's loop).

    Returns {'train': [...], 'validation': [...]}: −ELBO in nats per image per epoch.
    ``callback(epoch, history)`` runs after each epoch (e.g. to redraw a live figure).
    ``loss_fn(vae, x)`` -> per-image loss (N,) replaces :func:`negative_elbo` for training (an
    exercise trains with the student's own loss); validation always uses :func:`negative_elbo`.
    Lecture 04 trains both of its models with epochs=25 and the other defaults.
    """
    loss_fn = loss_fn or negative_elbo
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * math.ceil(len(train_x) / batch_size)
    opt = torch.optim.Adam(vae.parameters(), lr=max_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=steps)
    history = {"train": [], "validation": []}
    for epoch in progress(range(epochs), desc="epochs"):
        total = 0.0
        for (xb,) in minibatches(train_x, batch_size=batch_size, generator=gen):
            loss = loss_fn(vae, binarize(xb)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(xb)
        history["train"].append(total / len(train_x))
        if val_x is not None:
            history["validation"].append(evaluate(vae, val_x))
        if callback is not None:
            callback(epoch, history)
    return history
