"""The unit-04 VAE as a Pyro model and guide, timed against the hand-written loop.

``PyroVAE`` and ``one_cycle_clipped_adam`` mirror lectures/05_vae_pyro.md (sections 1 and 4): the
same ``utils.vae`` Encoder/Decoder, p(z) = N(0, I), Bernoulli on logits, one ``pyro.plate`` over the
batch, ``.to_event(1)`` on the latent and pixel dimensions; ClippedAdam (entries clamped at 100 per
image) under unit 04's one-cycle schedule. Keep them in step with the lecture.
"""
from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.optim.clipped_adam import ClippedAdam
from torch import nn


class PyroVAE(nn.Module):
    """A VAE as a Pyro model p(x, z) and guide q(z | x) around any encoder and decoder."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, z_dim: int):
        super().__init__()
        self.encoder, self.decoder, self.z_dim = encoder, decoder, z_dim

    def model(self, x: torch.Tensor) -> None:
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0]):
            z_loc = x.new_zeros(x.shape[0], self.z_dim)
            z_scale = x.new_ones(x.shape[0], self.z_dim)
            z = pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))
            logits = self.decoder(z)
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(1), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0]):
            z_loc, z_scale = self.encoder(x)
            pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))


def one_cycle_clipped_adam(max_lr: float, total_steps: int, batch_size: int):
    """ClippedAdam (gradient entries clamped at 100 per image) under a one-cycle schedule."""
    return pyro.optim.OneCycleLR({
        "optimizer": ClippedAdam, "optim_args": {"lr": max_lr, "clip_norm": 100.0 * batch_size},
        "max_lr": max_lr, "total_steps": total_steps})
