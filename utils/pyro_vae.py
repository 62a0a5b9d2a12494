"""The unit-04 VAE as a Pyro model and guide, and its SVI training: the one reusable copy.

Lecture 05 writes ``PyroVAE``, ``OneCycleAdam`` and ``train_svi`` out and checks them equal
to these (same weights and noise: the same trace and loss; same seeds: the same history); the unit-05
self-checks, the unit-05 exercise, the benchmarks and later units import them from here.
"""
from __future__ import annotations

import contextlib

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, TraceMeanField_ELBO
from pyro.optim.clipped_adam import ClippedAdam
from torch import nn

from . import _validate as check
from .vae import _check_training, adam, fit_model


class PyroVAE(nn.Module):
    """p(z) = N(0, I), p(x | z) = Bernoulli(logits = decoder(z)) as ``model``; the amortized
    q(z | x) = N(z_loc(x), diag z_scale(x)²) as ``guide``; one ``pyro.plate`` over the batch."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, z_dim: int):
        super().__init__()
        for name, module in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(module, nn.Module):
                raise check.ArgumentTypeError(f"{name} must be a torch module (pyro.module registers "
                                              f"its parameters), got {check.describe(module)}")
        self.encoder, self.decoder, self.z_dim = encoder, decoder, check.count(z_dim, "z_dim")

    def model(self, x: torch.Tensor) -> None:
        check.images(x, "x")
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0]):
            z_loc = x.new_zeros(x.shape[0], self.z_dim)
            z_scale = x.new_ones(x.shape[0], self.z_dim)
            z = pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=self.decoder(z)).to_event(1), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        check.images(x, "x")
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0]):
            z_loc, z_scale = self.encoder(x)
            pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))


def one_cycle_clipped_adam(max_lr: float, total_steps: int, batch_size: int):
    """ClippedAdam (gradient entries clamped at 100 per image, so a healthy run is never clipped)
    under unit 04's one-cycle learning-rate schedule."""
    max_lr = check.positive_number(max_lr, "max_lr")
    total_steps = check.count(total_steps, "total_steps")
    batch_size = check.count(batch_size, "batch_size")
    return pyro.optim.OneCycleLR({
        "optimizer": ClippedAdam, "optim_args": {"lr": max_lr, "clip_norm": 100.0 * batch_size},
        "max_lr": max_lr, "total_steps": total_steps})


class OneCycleAdam(pyro.optim.PyroOptim):
    """One torch Adam over every parameter that SVI steps, fused as :func:`utils.vae.train_vae`'s
    (:func:`utils.vae.adam`), under unit 04's one-cycle learning-rate schedule; ``.step()`` advances
    the schedule by one batch. So SVI takes the hand-written loop's optimizer step.

    ``pyro.optim`` wrappers (``pyro.optim.OneCycleLR`` around ``ClippedAdam``, as in
    :func:`one_cycle_clipped_adam`) build one optimizer and one scheduler per parameter tensor and
    step them one after the other; ``ClippedAdam`` makes several passes over each tensor, where
    torch's fused Adam makes one. This wrapper builds its one optimizer on the first ``svi.step``,
    over the parameters that step saw (ordered by their names in the param store), and refuses a
    later step over other parameters."""

    def __init__(self, max_lr: float, total_steps: int):
        self.max_lr = check.positive_number(max_lr, "max_lr")
        self.total_steps = check.count(total_steps, "total_steps")
        super().__init__(torch.optim.Adam, {"lr": self.max_lr})
        self.optimizer = self.schedule = None
        self.params: tuple[torch.Tensor, ...] = ()

    def __call__(self, params, *args, **kwargs) -> None:
        """One Adam step over ``params`` (what ``svi.step`` passes: the parameters it traced)."""
        store = pyro.get_param_store()
        params = tuple(sorted(params, key=store.param_name))
        if self.optimizer is None:
            self.params = params
            self.optimizer = adam(params, self.max_lr, fused=True)
            self.schedule = torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=self.max_lr, total_steps=self.total_steps)
        elif len(params) != len(self.params) or any(p is not q for p, q in zip(params, self.params)):
            raise RuntimeError("this step traced other parameters than the first step did: build "
                               "a new OneCycleAdam (and SVI) after pyro.clear_param_store()")
        self.optimizer.step(*args, **kwargs)
        # svi.step then sets every .grad to a new tensor of zeros, which the next backward adds to;
        # with no .grad it skips that, and the next backward writes the gradient (the same numbers)
        self.optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        """Advance the one-cycle schedule by one batch (after ``svi.step``)."""
        if self.schedule is not None:
            self.schedule.step()


def train_svi(vae: PyroVAE, train_x: torch.Tensor, val_x: torch.Tensor | None = None,
              epochs: int = 20, elbo=None, batch_size: int = 128, max_lr: float = 3e-3,
              seed: int = 0, callback=None, desc: str = "epochs",
              validate_every_step: bool = False, optimizer=None) -> dict[str, list[float]]:
    """SVI with ``elbo`` (default ``TraceMeanField_ELBO()``) and :class:`OneCycleAdam` through the
    course's loop (:func:`utils.vae.fit`): the same minibatch order, binarization, optimizer,
    schedule and validation as :func:`utils.vae.train_vae`. Clears Pyro's param store first, so a
    re-run starts afresh. ``val_x`` is a binary validation set. Returns −ELBO in nats per image per epoch.
    Every argument is checked before the param store is touched.

    Pyro's validation (``pyro.enable_validation(True)``, as unit 05 sets it) checks the run's first
    step: a wrong shape, support or argument of the model or the guide fails there, at once. The
    later steps only repeat those checks on new batches of the same shape, so they run without them
    (validation off for ``svi.step`` only, then restored; the numbers are the same either way).
    ``validate_every_step=True`` keeps Pyro's setting for every step. ``optimizer(max_lr,
    total_steps)`` makes another ``pyro.optim`` optimizer with a ``.step()`` that advances its
    schedule (the benchmark passes one around :func:`one_cycle_clipped_adam`)."""
    epochs, batch_size, max_lr = _check_training(vae, train_x, val_x, epochs, batch_size, max_lr,
                                                 seed)
    if not isinstance(validate_every_step, bool):
        raise check.ArgumentTypeError(f"validate_every_step must be True or False, got "
                                      f"{check.describe(validate_every_step)}")
    if optimizer is not None:
        optimizer = check.function(optimizer, "optimizer", "OneCycleAdam")
    pyro.clear_param_store()
    steps = epochs * -(-len(train_x) // batch_size)
    optimizer = (optimizer or OneCycleAdam)(max_lr, steps)
    svi = SVI(vae.model, vae.guide, optimizer, loss=elbo or TraceMeanField_ELBO())

    steps_taken = 0

    def step(x: torch.Tensor) -> float:
        nonlocal steps_taken
        as_set = validate_every_step or steps_taken == 0
        with contextlib.nullcontext() if as_set else pyro.validation_enabled(False):
            loss = svi.step(x) / len(x)    # svi.step returns the loss summed over the batch
        steps_taken += 1
        optimizer.step()                   # advance the one-cycle schedule
        return loss

    return fit_model(vae, step, train_x, val_x, epochs, batch_size=batch_size, seed=seed,
                     callback=callback, desc=desc)
