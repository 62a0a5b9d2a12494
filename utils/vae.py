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

from . import _validate as check
from .data import binarize, fixed_binarization, minibatches  # noqa: F401 (re-exported)
from .progress import progress


def _sizes(z_dim, hidden_dim, x_dim) -> tuple[int, int, int]:
    """The three layer sizes of an encoder or a decoder, as ints (NumPy ints accepted)."""
    return (check.count(z_dim, "z_dim"), check.count(hidden_dim, "hidden_dim"),
            check.count(x_dim, "x_dim"))


class Encoder(nn.Module):
    """q_φ(z|x) = N(z_loc(x), diag z_scale(x)²): an MLP from pixels to the guide's parameters."""

    def __init__(self, z_dim: int = 2, hidden_dim: int = 256, x_dim: int = 784):
        super().__init__()
        z_dim, hidden_dim, x_dim = _sizes(z_dim, hidden_dim, x_dim)
        self.x_dim = x_dim
        self.body = nn.Sequential(nn.Linear(x_dim, hidden_dim), nn.ReLU(),
                                  nn.Linear(hidden_dim, hidden_dim), nn.ReLU())
        self.loc = nn.Linear(hidden_dim, z_dim)
        self.log_scale = nn.Linear(hidden_dim, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check.images(x, "x", like=self)
        if x.shape[1] != self.x_dim:
            raise ValueError(f"x has {x.shape[1]} pixels per image but this encoder takes "
                             f"{self.x_dim}: pass images of shape (N, {self.x_dim})")
        h = self.body(x)
        return self.loc(h), self.log_scale(h).exp()


class Decoder(nn.Module):
    """p_θ(x|z) = Bernoulli(logits = f_θ(z)): an MLP from codes to pixel logits."""

    def __init__(self, z_dim: int = 2, hidden_dim: int = 256, x_dim: int = 784):
        super().__init__()
        z_dim, hidden_dim, x_dim = _sizes(z_dim, hidden_dim, x_dim)
        self.z_dim = z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, x_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = check.tensor(z, "z")
        if z.shape[-1:] != (self.z_dim,):
            raise ValueError(f"this decoder takes codes of z_dim={self.z_dim} numbers (the last "
                             f"dimension), got z of shape {tuple(z.shape)}: pass codes of that "
                             "size, or the decoder of a model with the codes' z_dim")
        check.same_dtype_and_device(z, "z", self)
        return self.net(z)


class VAE(nn.Module):
    """Encoder and decoder together; ``negative_elbo`` is the training loss."""

    def __init__(self, z_dim: int = 2, hidden_dim: int = 256):
        super().__init__()
        self.z_dim = check.count(z_dim, "z_dim")
        self.encoder = Encoder(z_dim, hidden_dim)
        self.decoder = Decoder(z_dim, hidden_dim)


def gaussian_kl(z_loc: torch.Tensor, z_scale: torch.Tensor) -> torch.Tensor:
    """KL(N(z_loc, z_scale²) ‖ N(0, I)) per image, summed over the latent dimension."""
    _same_shape(check.tensor(z_scale, "z_scale"), check.tensor(z_loc, "z_loc"), "z_scale", "z_loc")
    return 0.5 * (z_loc.pow(2) + z_scale.pow(2) - 1 - 2 * z_scale.log()).sum(-1)


def negative_elbo(vae: VAE, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """−ELBO per image in nats (shape (N,)), one reparameterized sample z = μ + σ ⊙ ε.

    It runs every training step, so it checks only what costs nothing (shapes, dtypes, devices) and
    the range of the first image; :func:`evaluate` and :func:`train_vae` check all of their data."""
    z_loc, z_scale, eps = _encode(vae, x, eps)
    z = z_loc + z_scale * eps
    return gaussian_kl(z_loc, z_scale) - log_likelihood(vae, x, z)


def _encode(vae: VAE, x: torch.Tensor, eps: torch.Tensor | None):
    """Check a loss's arguments (O(1), plus the first image's range), run the encoder and return
    (z_loc, z_scale, eps), drawing ε ~ N(0, I) when ``eps`` is None."""
    check.has_parts(vae, "vae", "encoder", "decoder")
    check.images(x, "x", like=vae)
    check.first_image_in_unit_interval(x, "x")
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        return z_loc, z_scale, torch.randn_like(z_loc)
    _same_shape(check.tensor(eps, "eps"), z_loc, "eps", "z_loc")
    return z_loc, z_scale, eps


def _same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """O(1): ``a`` has the shape of ``b``."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} must have the shape of {name_b}, {tuple(b.shape)} (one row per "
                         f"image), got {tuple(a.shape)}")


def _binary_images(x: torch.Tensor, name: str, vae: VAE) -> torch.Tensor:
    """Check (one scan) that ``x`` is a non-empty batch of binary images for ``vae``."""
    check.images(x, name, like=vae)
    check.binary(x, name)
    return x


@torch.no_grad()
def evaluate(vae: VAE, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean −ELBO in nats per image over the binary images ``x`` (one ε per image from torch's
    global generator). The model's train/eval mode is left as it was."""
    check.has_parts(vae, "vae", "encoder", "decoder")
    x = _binary_images(x, "x", vae)
    batch_size = check.count(batch_size, "batch_size")
    was_training = getattr(vae, "training", None)
    if was_training is not None:
        vae.eval()
    try:
        total = sum(negative_elbo(vae, xb).sum().item()
                    for (xb,) in minibatches(x, batch_size=batch_size, shuffle=False))
    finally:
        if was_training is not None:
            vae.train(was_training)
    return total / len(x)


def log_likelihood(vae: VAE, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p_θ(x|z) per image: Bernoulli on the decoder's logits, summed over pixels."""
    x, z = check.tensor(x, "x"), check.tensor(z, "z")
    if x.shape[:-1] != z.shape[:-1]:
        raise ValueError(f"x and z must hold one image and one code per row: x has shape "
                         f"{tuple(x.shape)} but z has shape {tuple(z.shape)}")
    return -F.binary_cross_entropy_with_logits(vae.decoder(z), x, reduction="none").sum(-1)


def reinforce_negative_elbo(vae: VAE, x: torch.Tensor, eps: torch.Tensor | None = None,
                            baseline: float | torch.Tensor = 0.0) -> torch.Tensor:
    """−ELBO per image (the same value as :func:`negative_elbo`) whose encoder gradient is the
    score-function (REINFORCE) one, as lecture 03 writes it: z is held fixed (no path back to the
    encoder) and a zero-valued term (log p(x|z) − b)·(log q − stopgrad log q) carries the gradient."""
    if not isinstance(baseline, (int, float, torch.Tensor)) or isinstance(baseline, bool):
        raise check.ArgumentTypeError(f"baseline must be a number or a tensor, got "
                                      f"{check.describe(baseline)}")
    z_loc, z_scale, eps = _encode(vae, x, eps)
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
    check.has_parts(vae, "vae", "encoder", "decoder")
    x = _binary_images(x, "x", vae)
    k = check.count(k, "k")
    batch_size = max(1, 5_000 // k) if batch_size is None else check.count(batch_size, "batch_size")
    out = []
    for (xb,) in minibatches(x, batch_size=batch_size, shuffle=False):
        z_loc, z_scale = vae.encoder(xb)
        q = torch.distributions.Normal(z_loc, z_scale)
        z = q.sample((k,))                                   # (k, B, z_dim)
        log_w = log_importance_weights(vae, xb, z_loc, z_scale, z)
        out.append(torch.logsumexp(log_w, 0) - math.log(k))
    return torch.cat(out)


def log_importance_weights(vae: VAE, x: torch.Tensor, z_loc: torch.Tensor, z_scale: torch.Tensor,
                           z: torch.Tensor) -> torch.Tensor:
    """log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x) for K codes per image, z of shape
    (K, N, z_dim) drawn from q = N(z_loc, z_scale²): shape (K, N). Shared by :func:`iwae_log_px`
    (evaluation) and ``utils.tradeoffs.iwae_negative_bound`` (training, unit 06)."""
    logits = vae.decoder(z)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
    log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    return log_px_z + log_pz - torch.distributions.Normal(z_loc, z_scale).log_prob(z).sum(-1)


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
    ``train_x`` is checked once (intensities in [0, 1], no NaN). If a step's loss or the validation
    loss is NaN or infinite, a RuntimeWarning says so and training stops there.
    """
    check.function(step, "step", "a function of x that takes one step and returns loss.item()")
    train_x = check.float_tensor(train_x, "train_x")
    check.unit_interval(train_x, "train_x")
    epochs, batch_size = check.count(epochs, "epochs"), check.count(batch_size, "batch_size")
    seed = check.count(seed, "seed", minimum=0)
    for name, fn, example in (("validate", validate, "lambda: evaluate(vae, val_x)"),
                              ("callback", callback, "lambda epoch, history: None")):
        if fn is not None:
            check.function(fn, name, example)
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"train": [], "validation": []}
    bar = progress(range(epochs), desc=desc) if desc is not None else range(epochs)
    for epoch in bar:
        history["train"].append(_epoch(step, train_x, batch_size, gen, epoch))
        if not math.isfinite(history["train"][-1]):          # diverged: _epoch has warned
            if validate is not None:
                history["validation"].append(math.nan)
            break
        if validate is not None:
            history["validation"].append(validate())
            if not math.isfinite(history["validation"][-1]):
                _warn_diverged(f"the validation loss is {history['validation'][-1]} after epoch "
                               f"{epoch + 1}")
                break
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: f"{v[-1]:.1f}" for k, v in history.items() if v})
        if callback is not None:
            callback(epoch, history)
    return history


def _epoch(step: Callable[[torch.Tensor], float], train_x: torch.Tensor, batch_size: int,
           gen: torch.Generator, epoch: int) -> float:
    """One pass of ``step`` over ``train_x``: the image-weighted mean loss, or the first loss that
    is NaN or infinite, after a warning that training diverged."""
    total = 0.0
    for i, (xb,) in enumerate(minibatches(train_x, batch_size=batch_size, generator=gen), 1):
        loss = _as_float(step(binarize(xb)))
        if not math.isfinite(loss):
            _warn_diverged(f"the loss became {loss} at step {i} of epoch {epoch + 1}")
            return loss
        total += loss * len(xb)
    return total / len(train_x)


def _warn_diverged(what: str, stopped: bool = True, rate: str = "max_lr",
                   stacklevel: int = 4) -> None:
    """One RuntimeWarning: training diverged (``what`` happened), and what to try (``rate``: the
    learning rate's argument; ``stacklevel``: where the student called the training function)."""
    warnings.warn(f"training diverged: {what}{', so training stopped there' if stopped else ''}. "
                  f"Try a smaller learning rate ({rate}), and look for a log(0) or a division by "
                  "zero in the loss", RuntimeWarning, stacklevel=stacklevel)


def _as_float(loss) -> float:
    """The loss a training step returned, as a float (a number or a one-element tensor)."""
    try:
        return float(loss)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"step(x) must return the minibatch's mean loss as a number, got "
                        f"{check.describe(loss)}: end the step with `return loss.item()`") from None


def _check_training(vae: nn.Module, train_x: torch.Tensor, val_x: torch.Tensor | None, epochs: int,
                    batch_size: int, max_lr: float, seed: int) -> tuple[int, int, float]:
    """Check the arguments of :func:`train_vae` and ``utils.pyro_vae.train_svi`` before any work
    (``train_x``'s values are checked by :func:`fit`); return (epochs, batch_size, max_lr)."""
    if not isinstance(vae, nn.Module) or next(vae.parameters(), None) is None:
        raise check.ArgumentTypeError(f"vae must be a torch module with parameters to train (e.g. "
                                      f"a utils.vae.VAE), got {check.describe(vae)}")
    check.has_parts(vae, "vae", "encoder", "decoder")
    check.images(train_x, "train_x", like=vae)
    if val_x is not None:
        _binary_images(val_x, "val_x", vae)
    check.count(seed, "seed", minimum=0)
    return (check.count(epochs, "epochs"), check.count(batch_size, "batch_size"),
            check.positive_number(max_lr, "max_lr"))


def _per_image(loss, n: int) -> torch.Tensor:
    """O(1): a training loss is a tensor of one value per image, shape (n,)."""
    if not isinstance(loss, torch.Tensor) or loss.shape != (n,):
        raise ValueError(f"loss_fn(vae, x) must return one loss per image, a tensor of shape "
                         f"({n},), got {check.describe(loss)}: sum over pixels and latent "
                         "dimensions, not over images")
    return loss


def adam(params, lr: float, fused: bool = False) -> torch.optim.Adam:
    """torch's Adam as lecture 04 makes it, ``torch.optim.Adam(params, lr=lr)``. On the CPU, where
    torch's default steps one parameter tensor at a time, ``foreach=True`` computes the same numbers
    bit for bit (tests/test_vae.py checks it) in fewer Python calls; elsewhere torch's default is
    kept. ``fused=True``: torch's fused Adam, one pass over each parameter tensor: the same algorithm
    with its own rounding, so not bit for bit the default's. On the course's 2-core CPU (one torch
    thread) its step took 0.65 ms against the default's 2.4 ms for the unit-04 VAE, and the whole
    course step (``train_vae``, batch 128) 0.81× the default's, interleaved rounds."""
    params = list(params)
    if fused:
        return torch.optim.Adam(params, lr=lr, fused=True)
    on_cpu = all(p.device.type == "cpu" for p in params)
    return torch.optim.Adam(params, lr=lr, **({"foreach": True} if on_cpu else {}))


def train_vae(vae: VAE, train_x: torch.Tensor, val_x: torch.Tensor | None = None,
              epochs: int = 20, batch_size: int = 128, max_lr: float = 3e-3,
              seed: int = 0, callback=None, loss_fn=None,
              desc: str | None = "epochs", fused: bool = True) -> dict[str, list[float]]:
    """Lecture 04's training: Adam with a one-cycle learning rate, through :func:`fit`.

    ``val_x`` is a *binary* validation set, binarized once (lecture 04 uses
    ``fixed_binarization(data.val_x, seed=1)``), scored with :func:`evaluate` after each epoch.
    ``loss_fn(vae, x)`` -> per-image loss (N,) replaces :func:`negative_elbo` for training (unit 03
    trains with the REINFORCE surrogate, an exercise with the student's own loss); validation always
    uses :func:`negative_elbo`. Returns {'train': [...], 'validation': [...]} in nats per image.
    A loss that becomes NaN or infinite stops training with a RuntimeWarning (see :func:`fit`).
    It steps with torch's fused Adam (``fused=True``, see :func:`adam`), as lecture 04's ``train``
    does: faster, the same algorithm up to rounding; ``fused=False`` gives torch's default Adam.
    """
    epochs, batch_size, max_lr = _check_training(vae, train_x, val_x, epochs, batch_size, max_lr,
                                                 seed)
    loss_fn = check.function(loss_fn or negative_elbo, "loss_fn",
                             "lambda vae, x: negative_elbo(vae, x)")
    if not isinstance(fused, bool):
        raise check.ArgumentTypeError(f"fused must be True or False, got {check.describe(fused)}")
    steps = epochs * math.ceil(len(train_x) / batch_size)
    opt = adam(vae.parameters(), max_lr, fused=fused)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=steps)

    def step(x: torch.Tensor) -> float:
        loss = _per_image(loss_fn(vae, x), len(x)).mean()   # minimise −ELBO = maximise the ELBO
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    return fit_model(vae, step, train_x, val_x, epochs, batch_size=batch_size, seed=seed,
                     callback=callback, desc=desc)


def fit_model(vae: nn.Module, step: Callable[[torch.Tensor], float], train_x: torch.Tensor,
              val_x: torch.Tensor | None, epochs: int, **fit_kwargs) -> dict[str, list[float]]:
    """:func:`fit` for a VAE (the loop of :func:`train_vae` and ``utils.pyro_vae.train_svi``):
    validation with :func:`evaluate` on ``val_x`` (if given), and a warning if training ends with
    NaN or infinite parameters (a last diverging step leaves them without a non-finite loss)."""
    validate = (lambda: evaluate(vae, val_x)) if val_x is not None else None
    history = fit(step, train_x, epochs, validate=validate, **fit_kwargs)
    finite_history = all(math.isfinite(v) for v in history["train"] + history["validation"])
    if finite_history and not all(bool(torch.isfinite(p).all()) for p in vae.parameters()):
        _warn_diverged("the model's parameters are NaN or infinite after the last step",
                       stopped=False)
    return history
