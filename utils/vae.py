"""The unit-04 VAE (MLP encoder/decoder, Bernoulli likelihood on logits), its loss, evaluation and
training loop: the one reusable copy, imported by units 03, 05 and 06, the checks and the benchmarks.
Lecture 04 writes the model, loss, evaluation and loop out in full and checks them equal to these;
lecture 03 does the same for :func:`reinforce_negative_elbo`.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .data import binarize, fixed_binarization, minibatches  # noqa: F401 (re-exported)
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
    return gaussian_kl(z_loc, z_scale) - log_likelihood(vae, x, z)


def _require_binary(x: torch.Tensor, name: str = "x") -> None:
    """The ELBO here is a Bernoulli likelihood: images must be 0/1 (binarize them first)."""
    if x.numel() and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name} must be binary (0/1 pixels) for a Bernoulli likelihood: binarize "
                         "it first, e.g. fixed_binarization(x, seed) for a validation or test set")


@torch.no_grad()
def evaluate(vae: VAE, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean −ELBO in nats per image over the binary images ``x`` (one ε per image from torch's
    global generator). The model's train/eval mode is left as it was."""
    _require_binary(x)
    if len(x) == 0:
        raise ValueError("evaluate needs at least one image, got an empty tensor")
    was_training = vae.training
    vae.eval()
    total = sum(negative_elbo(vae, xb).sum().item()
                for (xb,) in minibatches(x, batch_size=batch_size, shuffle=False))
    vae.train(was_training)
    return total / len(x)


def log_likelihood(vae: VAE, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p_θ(x|z) per image: Bernoulli on the decoder's logits, summed over pixels."""
    return -F.binary_cross_entropy_with_logits(vae.decoder(z), x, reduction="none").sum(-1)


def reinforce_negative_elbo(vae: VAE, x: torch.Tensor, eps: torch.Tensor | None = None,
                            baseline: float | torch.Tensor = 0.0) -> torch.Tensor:
    """−ELBO per image (the same value as :func:`negative_elbo`) whose encoder gradient is the
    score-function (REINFORCE) one, as lecture 03 writes it: z is held fixed (no path back to the
    encoder) and a zero-valued term (log p(x|z) − b)·(log q − stopgrad log q) carries the gradient."""
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn_like(z_loc)
    z = (z_loc + z_scale * eps).detach()
    log_px_z = log_likelihood(vae, x, z)
    log_q = torch.distributions.Normal(z_loc, z_scale).log_prob(z).sum(-1)
    score_term = (log_px_z.detach() - baseline) * (log_q - log_q.detach())
    return gaussian_kl(z_loc, z_scale) - log_px_z - score_term


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


def fit(step: Callable[[torch.Tensor], float], train_x: torch.Tensor, epochs: int, *,
        batch_size: int = 128, seed: int = 0, validate: Callable[[], float] | None = None,
        callback: Callable[[int, dict], None] | None = None,
        desc: str | None = "epochs") -> dict[str, list[float]]:
    """The course's training loop, shared by every unit.

    Each epoch visits ``train_x`` in minibatches shuffled by a generator seeded with ``seed``,
    binarizes every minibatch afresh (dynamic binarization, torch's global generator) and calls
    ``step(x)``, which takes one optimisation step and returns the batch's mean loss per image.
    After the epoch, ``validate()`` (if given) returns the validation loss and
    ``callback(epoch, history)`` (if given) runs, e.g. to redraw a live figure. A progress bar
    labelled ``desc`` shows the epochs (``desc=None``: no bar, e.g. inside a self-check).
    Random numbers: the minibatch order from its own generator, everything else (binarization,
    the ε inside ``step`` and ``validate``) from torch's global generator, in that order, so a
    loop written out with the same calls in the same order reproduces the history exactly.
    Returns {'train': [...], 'validation': [...]}, one value per epoch (nats per image).
    """
    if len(train_x) == 0:
        raise ValueError("train_x is empty: there is nothing to train on")
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"train": [], "validation": []}
    bar = progress(range(epochs), desc=desc) if desc is not None else range(epochs)
    for epoch in bar:
        total = 0.0
        for (xb,) in minibatches(train_x, batch_size=batch_size, generator=gen):
            total += float(step(binarize(xb))) * len(xb)
        history["train"].append(total / len(train_x))
        if validate is not None:
            history["validation"].append(validate())
        if not math.isfinite(history["train"][-1]):
            warnings.warn(f"training diverged: the loss is {history['train'][-1]} after epoch "
                          f"{epoch + 1}; try a smaller learning rate", RuntimeWarning, stacklevel=2)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: f"{v[-1]:.1f}" for k, v in history.items() if v})
        if callback is not None:
            callback(epoch, history)
    return history


def train_vae(vae: VAE, train_x: torch.Tensor, val_x: torch.Tensor | None = None,
              epochs: int = 20, batch_size: int = 128, max_lr: float = 3e-3,
              seed: int = 0, callback=None, loss_fn=None,
              desc: str | None = "epochs") -> dict[str, list[float]]:
    """Lecture 04's training: Adam with a one-cycle learning rate, through :func:`fit`.

    ``val_x`` is a *binary* validation set, binarized once (lecture 04 uses
    ``fixed_binarization(data.val_x, seed=1)``), scored with :func:`evaluate` after each epoch.
    ``loss_fn(vae, x)`` -> per-image loss (N,) replaces :func:`negative_elbo` for training (unit 03
    trains with the REINFORCE surrogate, an exercise with the student's own loss); validation always
    uses :func:`negative_elbo`. Returns {'train': [...], 'validation': [...]} in nats per image.
    """
    loss_fn = loss_fn or negative_elbo
    if val_x is not None:
        _require_binary(val_x, "val_x")
    steps = epochs * math.ceil(len(train_x) / batch_size)
    opt = torch.optim.Adam(vae.parameters(), lr=max_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=max(steps, 1))

    def step(x: torch.Tensor) -> float:
        loss = loss_fn(vae, x).mean()      # minimise −ELBO = maximise the ELBO
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    validate = (lambda: evaluate(vae, val_x)) if val_x is not None else None
    return fit(step, train_x, epochs, batch_size=batch_size, seed=seed, validate=validate,
               callback=callback, desc=desc)
