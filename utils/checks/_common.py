"""Fixed inputs that several units' checks share, each from a seeded generator of its own (the
same numbers on every run; the caller's random state is left alone)."""
from __future__ import annotations

import torch
from torch import nn

from . import ExerciseCheck, seeded
from ..vae import VAE

X_DIM = 784
SATURATED = 40.0   # |logits| of a decoder sure of every pixel: sigmoid rounds to 1 in float32,
                   # BCE on sigmoid(logits) is not the loss, torch's ContinuousBernoulli clamps λ


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def noise(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(shape, generator=generator(seed), dtype=dtype)


def grads(out, inputs, flat: bool = False):
    """d out.sum() / d ``inputs`` (None where unused), or None when ``out`` carries no gradient;
    ``flat``: one flat tensor, zeros where unused."""
    if not (isinstance(out, torch.Tensor) and out.requires_grad):
        return None
    got = torch.autograd.grad(out.sum(), inputs, allow_unused=True, retain_graph=True,
                              materialize_grads=flat)
    return torch.cat([g.flatten() for g in got]) if flat else got


def binary_images(n: int, seed: int = 0, p: float = 0.3) -> torch.Tensor:
    """(n, 784) binary stand-in images: each pixel on with probability ``p``."""
    return torch.bernoulli(torch.full((n, X_DIM), p), generator=generator(seed))


def sparse_images(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 784) binary stand-in images, mostly off as in MNIST (p = uniform cubed)."""
    gen = generator(seed)
    return torch.bernoulli(torch.rand(n, X_DIM, generator=gen) ** 3, generator=gen)


def small_vae(z_dim: int, loc_bias, log_scale_bias: float, seed: int = 0,
              hidden_dim: int = 64) -> VAE:
    """A small :class:`utils.vae.VAE` with fixed weights, its guide moved away from the prior by
    the biases of its output layers (a KL of a few nats)."""
    with seeded(seed):
        vae = VAE(z_dim, hidden_dim)
    with torch.no_grad():
        vae.encoder.loc.bias.copy_(torch.as_tensor(loc_bias, dtype=torch.float32).expand(z_dim))
        vae.encoder.log_scale.bias.fill_(log_scale_bias)
    return vae


def saturate(vae: nn.Module, seed: int | None = None) -> nn.Module | None:
    """``vae``, changed in place, with logits ±SATURATED nearly whatever z: a random sign per pixel
    (``seed``), or (None) + for the first half of the pixels. None without a linear layer."""
    layers = [m for m in vae.decoder.modules() if isinstance(m, nn.Linear)]
    if not layers:
        return None
    n = layers[-1].out_features
    signs = (torch.where(torch.rand(n, generator=generator(seed)) < 0.5, -1.0, 1.0)
             if seed is not None else torch.cat([torch.ones(n // 2), -torch.ones(n - n // 2)]))
    with torch.no_grad():
        layers[-1].weight.mul_(0.01)
        layers[-1].bias.copy_(SATURATED * signs.to(layers[-1].bias.device))
    return vae


class SelfCheck(ExerciseCheck):
    """The exercises' SelfCheck (units 06 and 07), with their words for an unwritten function."""

    stub_hint = "replace the `raise NotImplementedError` with your code"


def shaped(sc: SelfCheck, what: str, name: str, value: torch.Tensor, shape: tuple[int, ...],
           hints: dict[tuple, str], default: str) -> None:
    """Stop with one ✗ line (its hint by the wrong shape) unless ``value`` has ``shape``."""
    got = tuple(value.shape)
    sc.require(what, got == shape, f"{name} shape {got}, not {shape}", hints.get(got, default))
