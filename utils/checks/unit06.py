"""Self-checks for exercise 06: what the ELBO trades off.

The student writes four functions:

- ``rate_distortion(vae, x, eps=None) -> (D, R)``: the distortion −log p(x|z) of each image (N,)
  at z = z_loc + z_scale ⊙ eps and the rate of each image and latent dimension (N, z_dim), the KL
  of q(z_d|x) from p(z_d) in closed form (lecture 06 returns the rate summed over dimensions);
- ``active_units(vae, x, threshold=0.01) -> (count, variance)``: Var over the images x of each
  latent dimension's posterior mean under vae's encoder, and how many exceed the threshold (Burda
  et al., 2016; lecture 06 starts from the means);
- ``iwae_negative_bound(vae, x, k, eps=None) -> (loss (N,), weights (K, N))``:
  −[logsumexp_k log w_k − log K] with ``eps`` of shape (K, N, z_dim), and the normalised
  importance weights softmax_k log w_k (lecture 06 returns the loss only);
- ``free_bits_rate(z_loc, z_scale, lam) -> ()``: Σ_d max(λ, mean over the batch of KL_d)
  (Kingma et al., 2016), which lecture 06 does not write out.

Each check runs one function on fixed weights, images and noise and compares it with a reference:
:mod:`utils.tradeoffs` for the first three (the lecture's reusable copy), :func:`free_bits_rate`
below for the fourth. A check uses only the reference encoder and decoder (:class:`utils.vae.VAE`),
never another of the student's functions, so one mistake gives one ✗. A ✗ names what differed and
by how much, with one hint: the typical mistake that reproduces the student's numbers, when one
does. A check stops at its first ✗, so it gives at most one hint per function. Whatever the
student's function returns or raises, a check prints one line per check, never a traceback: a ✗
line has at most 120 characters (an error message of the student's is cut to fit), a ✓ line far
fewer, so that both read in a narrow notebook. Random numbers come from fixed seeds in a forked
generator: every run prints the same lines, and the caller's random state is left alone.

:func:`ready` lets a notebook cell that uses the student's functions skip itself with one line
while one of them is unfinished or wrong.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch.distributions import Normal
from torch.nn import functional as F

from . import ExerciseCheck, kind, make_ready, near, not_a_tensor, seeded
from ._common import X_DIM, noise, saturate, small_vae, sparse_images
from .. import tradeoffs
from ..vae import VAE

N, Z_DIM = 64, 4                            # the fixed batch and model of the checks
K = 5                                       # importance samples in the iwae check
LAM = 0.5                                   # free bits per latent dimension, in nats
MISTAKE_TOL = (1e-4, 1e-4)                  # a result reproduces a typical mistake within 1e-4·(|it| + 1)
NO_GRAD_HINT = "stay in torch: no .detach(), .item() or no_grad()"
SIGMOID_HINT = "use BCE with logits: BCE on sigmoid(logits) saturates"


class SelfCheck(ExerciseCheck):
    """The exercises' SelfCheck, with exercise 06's words for an unwritten function."""

    stub_hint = "replace the `raise NotImplementedError` with your code"


# ---- the reference free-bits rate (lecture 06 does not write it out) ----------------------------------
def free_bits_rate(z_loc: torch.Tensor, z_scale: torch.Tensor, lam: float) -> torch.Tensor:
    """The free-bits rate of a batch (Kingma et al., 2016), a 0-d tensor in nats per image:
    Σ_d max(λ, (1/N) Σ_n KL_nd), KL_nd = ½ (μ_nd² + σ_nd² − 1 − log σ_nd²). Each latent dimension
    pays at least λ nats; below that its KL has no gradient, so nothing pushes it to the prior."""
    return _kl(z_loc, z_scale).mean(0).clamp(min=lam).sum()


def _kl(z_loc: torch.Tensor, z_scale: torch.Tensor) -> torch.Tensor:
    """KL(N(z_loc, z_scale²) ‖ N(0, 1)) of each image and latent dimension, (N, z_dim)."""
    return 0.5 * (z_loc.pow(2) + z_scale.pow(2) - 1 - 2 * z_scale.log())


# ---- fixed inputs ------------------------------------------------------------------------------------
def _vae(seed: int = 0) -> VAE:
    """A small VAE with fixed weights: its guide sits away from the prior (a few nats of rate) and
    its decoder reacts to z, so the K importance weights of an image differ by several nats."""
    vae = small_vae(Z_DIM, [0.8, -0.6, 0.3, 1.0], -0.7, seed)
    with torch.no_grad():
        vae.decoder.net[0].weight.mul_(4.0)
    return vae


def _saturated(seed: int = 0) -> tuple[VAE, torch.Tensor]:
    """A small VAE whose decoder gives logits of about ±40 (first half of the pixels +40, second
    half −40) and binary images that contradict half of them: −log p of such a pixel is 40 nats,
    which BCE on sigmoid(logits) cannot give (1 − sigmoid(40) is 0 in float32; BCE clamps its log
    at −100)."""
    x = torch.zeros(N, X_DIM)
    x[:, ::2] = 1.0                                  # every other pixel on: half contradict the logits
    return saturate(_vae(seed)), x


_VARIANCES = [1.0, 0.3, 0.05, 0.02, 0.006, 0.003, 1e-5, 1e-6, 0.0]


def _activity_codes() -> torch.Tensor:
    """Posterior means (500, 9) whose per-dimension variances over the images (biased) are exactly
    _VARIANCES: 4 dimensions above 0.01, 2 above 0.1, 6 with a standard deviation above 0.01, and
    a last dimension constant at 0.5 (variance 0). Every dimension has a non-zero mean."""
    z = noise((500, len(_VARIANCES) - 1), 3, torch.float64)
    z = (z - z.mean(0)) / z.std(0, unbiased=False)
    z = z * torch.tensor(_VARIANCES[:-1], dtype=torch.float64).sqrt() + 0.3
    return torch.cat([z, torch.full((500, 1), 0.5, dtype=torch.float64)], 1).float()


def _free_bits_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """(z_loc, z_scale) of 64 images and 6 dimensions: dimensions 0-1 far from the prior (mean KL
    above λ), 2-3 at it, 4-5 at it except for 8 images (mean KL below λ, some images above it)."""
    gen = torch.Generator().manual_seed(4)
    z_loc = torch.randn(N, 6, generator=gen) * torch.tensor([1.5, 1.5, 0.05, 0.05, 0.05, 0.05])
    z_scale = torch.cat([0.3 + 0.5 * torch.rand(N, 2, generator=gen),
                         0.95 + 0.05 * torch.rand(N, 4, generator=gen)], 1)
    z_loc[:8, 4:] = 1.5
    return z_loc, z_scale


# ---- what the student's functions return -------------------------------------------------------------
def _shaped(sc: SelfCheck, what: str, name: str, value: torch.Tensor, shape: tuple[int, ...],
            hints: dict[tuple, str], default: str) -> None:
    """Stop with one ✗ line unless the tensor ``value`` has ``shape``; a wrong shape gets the hint
    of ``hints`` for it (else ``default``). ``name`` is "D has", say, or "weights have"."""
    got = tuple(value.shape)
    sc.require(what, got == shape, f"{name} shape {got}, not {shape}", hints.get(got, default))


def _rate_distortion(sc: SelfCheck, out: Any, what: str) -> tuple:
    """(D, R) when ``out`` is D, a float tensor of shape (N,), and R, of shape (N, z_dim) (the rate of
    each image and latent dimension); else one ✗ line, and the group stops. No pass line."""
    d, r = sc.unpack(what, out, ("D", "R"), "distortion, rate")
    _shaped(sc, what, "D has", d, (N,), {(N, X_DIM): "sum over the 784 pixels (dim -1)",
                                          (N, Z_DIM): "one D per image: did you swap D and R?",
                                          (): "do not sum or average over the batch"}, "see the docstring's shapes")
    _shaped(sc, what, "R has", r, (N, Z_DIM), {(N,): "R per latent dimension: do not sum over dim -1",
                                               (Z_DIM,): "R per image and dimension: do not average over images",
                                               (): "R per image and dimension: do not sum or average"},
            "see the docstring's shapes")
    return d, r


# ---- rate and distortion -----------------------------------------------------------------------------
def check_rate_distortion(rate_distortion: Callable) -> None:
    """D (N,) and R per image and dimension (N, z_dim) on fixed weights, images and noise, against
    utils.tradeoffs.rate_distortion; the given eps is used (two calls, same eps, same result); the
    right D at saturated logits (±40); its own noise, one ε per image, when eps is None; gradients
    of D + Σ_d R as the reference's."""
    vae, x, eps = _vae(), sparse_images(N), noise((N, Z_DIM), 1)
    with torch.no_grad():
        ref_d = tradeoffs.rate_distortion(vae, x, eps)[0]
        z_loc, z_scale = vae.encoder(x)
        z = z_loc + z_scale * eps
        logits = vae.decoder(z)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        ref_r = _kl(z_loc, z_scale)      # (N, z_dim)
        d_wrong = {
            "D = −log p(x|z) ≥ 0: you returned log p(x|z)": -ref_d,
            "sum over the 784 pixels, do not average": bce.mean(-1),
            "z = z_loc + z_scale * eps, not z = z_loc":
                F.binary_cross_entropy_with_logits(vae.decoder(z_loc), x, reduction="none").sum(-1),
            "z_scale is the std: do not square it":
                F.binary_cross_entropy_with_logits(vae.decoder(z_loc + z_scale**2 * eps), x,
                                                   reduction="none").sum(-1),
            "the decoder returns logits: no sigmoid before the BCE":
                F.binary_cross_entropy_with_logits(logits.sigmoid(), x, reduction="none").sum(-1),
        }
        r_wrong = {
            "flipped sign: a KL divergence is never negative": -ref_r,
            "z_scale is σ: σ² = z_scale**2, log σ² = 2·log z_scale":
                0.5 * (z_loc**2 + z_scale - 1 - z_scale.log()),
            "log σ² = 2·log(z_scale): you used log(z_scale)":
                0.5 * (z_loc**2 + z_scale**2 - 1 - z_scale.log()),
            "KL = ½ Σ (…): keep the factor ½": 2 * ref_r,
            "use the closed-form KL, not the one-sample estimate":
                Normal(z_loc, z_scale).log_prob(z) - Normal(0.0, 1.0).log_prob(z),
        }
        sat_vae, sat_x = _saturated()
        sat_d = tradeoffs.rate_distortion(sat_vae, sat_x, eps)[0]
    with SelfCheck("rate_distortion") as sc:
        with torch.no_grad(), seeded(10):
            out = sc.call(rate_distortion, vae, x.clone(), eps.clone(), what="it runs")
        d, r = _rate_distortion(sc, out, "returns (D, R)")
        sc.true("returns (D, R)", True, "")
        with torch.no_grad(), seeded(11):
            again = sc.call(rate_distortion, vae, x.clone(), eps.clone(), quiet=True, what="runs again")
        again = _rate_distortion(sc, again, "again: (D, R)")
        sc.true("same eps, same D", near(again[0], d, 1e-6, 1e-6), "two calls with the same eps gave different D",
                "use the given eps: draw noise only when eps is None")
        sc.close("D = −log p(x|z)", d, ref_d, 1e-4, 1e-5, "D: BCE with logits, reduction='none', .sum(-1)",
                 d_wrong, match=MISTAKE_TOL)
        sc.close("R per dimension", r, ref_r, 1e-5, 1e-5, "R_nd = ½ (z_loc² + z_scale² − 1 − log z_scale²)",
                 r_wrong, match=MISTAKE_TOL)
        with torch.no_grad():
            out = sc.call(rate_distortion, sat_vae, sat_x.clone(), eps.clone(), quiet=True,
                          what="runs at logits ±40")
        sc.close("D, logits ±40", _rate_distortion(sc, out, "at logits ±40: (D, R)")[0], sat_d, 1e-2, 1e-5,
                 SIGMOID_HINT)
        same = x[:1].expand(N, X_DIM).clone()            # N copies of one image
        with torch.no_grad(), seeded(0):
            out = sc.call(rate_distortion, vae, same, what="runs without eps",
                          hint="eps=None: eps = torch.randn_like(z_loc)")
        d = _rate_distortion(sc, out, "without eps: (D, R)")[0]
        sc.true("without eps: one ε per image", not near(d, d[:1].expand_as(d), 1e-6, 1e-6),
                f"{N} copies of one image got the same D", "draw one ε per image: eps = torch.randn_like(z_loc)")
        out = sc.call(rate_distortion, vae, x.clone(), eps.clone(), quiet=True, what="runs with gradients on")
        d, r = _rate_distortion(sc, out, "with gradients on: (D, R)")
        sc.gradients("gradients of D + Σ_d R", d + r.sum(-1), sum(tradeoffs.rate_distortion(vae, x, eps)),
                     dict(vae.named_parameters()), NO_GRAD_HINT)


# ---- active units ------------------------------------------------------------------------------------
def _count(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (int, 0-d tensor, NumPy scalar); else None."""
    if isinstance(value, (bool, str, bytes)):
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.dim() > 0:
            return None
        value = value.item()
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return None
    return int(as_float) if math.isfinite(as_float) and as_float == int(as_float) else None


def _units(sc: SelfCheck, out: Any, what: str, z_dim: int, n: int) -> tuple[int, torch.Tensor]:
    """(count, variance (z_dim,)) when ``out`` is that; else one ✗ line, and the group stops."""
    swapped = (isinstance(out, (tuple, list)) and len(out) == 2 and not_a_tensor("", out[1]) is not None
               and _count(out[1]) is not None and not_a_tensor("", out[0]) is None)
    sc.require(what, not swapped, "got (variance, count)", "swap them: `return count, variance`")
    count, variance = sc.unpack(what, out, ("count", "variance"), numbers=("count",),
                                hint="stay in torch: use z_loc.var(0)")
    _shaped(sc, what, "variance has", variance, (z_dim,), {(n,): "variance over the images: z_loc.var(0)",
                                                          (n, z_dim): "reduce over the images: z_loc.var(0)",
                                                          (): "reduce over the images (dim 0) only"},
            "one variance per latent dimension")
    sc.require(what, _count(count) is not None, f"count is {kind(count)}, not a whole number",
               "count = int((variance > threshold).sum())")
    return _count(count), variance


class _CodesEncoder(torch.nn.Module):
    """An encoder whose posterior means are the first columns of its input: the check's images
    carry the codes it wants (posterior std 0.5 everywhere)."""

    def __init__(self, z_dim: int):
        super().__init__()
        self.z_dim = z_dim
        self.scale = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_loc = x[:, :self.z_dim] * 1.0
        return z_loc, self.scale.expand_as(z_loc)


class _CodesVAE(torch.nn.Module):
    """A stand-in VAE for the active-units check: ``encoder(x)`` returns known posterior means."""

    def __init__(self, z_dim: int):
        super().__init__()
        self.encoder = _CodesEncoder(z_dim)


def check_active_units(active_units: Callable) -> None:
    """The variance over the images of each dimension's posterior mean (the encoder's z_loc, not a
    sample) and the number above the threshold, for a model whose encoder gives fixed codes built
    with known variances."""
    codes = _activity_codes()
    n, z_dim = codes.shape
    vae, x = _CodesVAE(z_dim), torch.cat([codes, torch.zeros(n, X_DIM - z_dim)], 1)
    expected = codes.double().var(0, unbiased=False)
    stated = torch.tensor(_VARIANCES, dtype=torch.float64)
    with SelfCheck("active_units") as sc:
        with seeded(0):
            out = sc.call(active_units, vae, x.clone(), what="it runs")
        count, variance = _units(sc, out, "(count, variance)", z_dim, n)
        sc.true("(count, variance)", True, "")
        # the biased (1/N) and the unbiased (1/(N − 1)) variance both pass: they differ by 0.2 %
        sc.close("variance over images", variance, expected, 1e-6, 3e-3,
                 "use the posterior means z_loc, not samples of z"    # σ² = 0.25 added: samples
                 if variance.detach().cpu().double().min() > 0.2 else
                 "A_d = Var over images of z_loc[:, d] (z_loc.var(0))", match=MISTAKE_TOL, mistakes={
                     "the variance, not the standard deviation: no sqrt": stated.sqrt(),
                     "subtract each dimension's mean over the images": codes.double().pow(2).mean(0)})
        sc.true("4 of 9 active at 0.01", count == 4, f"counted {count}", {
            2: "the threshold is 0.01 by default: use `threshold`",
            6: "you compared the standard deviation, not the variance",
            5: "you counted inactive dims: active means variance > threshold",
        }.get(count, "count = int((variance > threshold).sum())"))
        for threshold, active in ((0.04, 3), (0.0, 8)):
            out = sc.call(active_units, vae, x.clone(), threshold, quiet=True,
                          what=f"runs with threshold={threshold}")
            got = _units(sc, out, f"threshold={threshold:g}: (count, variance)", z_dim, n)[0]
            sc.true(f"threshold={threshold:g}: {active}{' of 9' if threshold == 0 else ''} active", got == active,
                    f"counted {got}", "use the `threshold` argument, not a fixed number" if got == 4 and threshold
                    else "active means variance > threshold: use >, not >=" if got == 9
                    else "count = int((variance > threshold).sum())")


# ---- the importance-weighted loss --------------------------------------------------------------------
def _iwae(sc: SelfCheck, out: Any, what: str, k: int = K) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss (N,), weights (k, N)) when ``out`` is that; else one ✗ line, and the group stops."""
    loss, weights = sc.unpack(what, out, ("the loss", "weights"), "loss, weights")
    _shaped(sc, what, "loss has", loss, (N,), {(): "do not sum or average over the batch",
                                                (K,): "logsumexp over the K samples (dim 0)",
                                                (K, N): "reduce over K: torch.logsumexp(log_w, 0)",
                                                (N, Z_DIM): "sum log p(z), log q(z|x) over dim -1",
                                                (K, N, Z_DIM): "sum log p(z), log q(z|x) over dim -1"},
            "one loss per image")
    _shaped(sc, what, "weights have", weights, (k, N), {}, "one weight per sample and image: (K, N)")
    return loss, weights


def check_iwae_negative_bound(iwae_negative_bound: Callable) -> None:
    """(−[logsumexp_k log w_k − log K] per image, normalised weights softmax_k log w_k (K, N)) with
    the reference encoder and decoder on fixed weights, images and noise (K = 5), against
    utils.tradeoffs.iwae_negative_bound; the right loss at saturated logits (±40); its own noise
    of shape (k, N, z_dim) when eps is None; gradients of the loss as the reference's."""
    vae, x, eps = _vae(), sparse_images(N, 1), noise((K, N, Z_DIM), 2)
    with torch.no_grad():
        expected = tradeoffs.iwae_negative_bound(vae, x, K, eps)
        z_loc, z_scale = vae.encoder(x)
        z = z_loc + z_scale * eps
        log_px = -F.binary_cross_entropy_with_logits(vae.decoder(z), x.expand(K, *x.shape),
                                                     reduction="none").sum(-1)
        log_pz = Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_qz = Normal(z_loc, z_scale).log_prob(z).sum(-1)
        log_w = log_px + log_pz - log_qz
        lse, log_k = torch.logsumexp(log_w, 0), math.log(K)
        wrong = {
            "logsumexp_k log w_k − log K, not the mean of log w_k": -log_w.mean(0),
            "subtract log K: the bound averages the K weights": -lse,
            "log K has the wrong sign: −(logsumexp − log K)": -(lse + log_k),
            "return the *negative* bound, a loss to minimise": lse - log_k,
            "log w misses + log p(z), the prior": -(torch.logsumexp(log_px - log_qz, 0) - log_k),
            "log w misses − log q(z|x), the guide": -(torch.logsumexp(log_px + log_pz, 0) - log_k),
            "log q(z|x) enters log w with a − sign":
                -(torch.logsumexp(log_px + log_pz + log_qz, 0) - log_k),
            "log p(z) enters log w with a + sign":
                -(torch.logsumexp(log_px - log_pz - log_qz, 0) - log_k),
            "Normal takes the std z_scale, not the variance":
                -(torch.logsumexp(log_px + log_pz - Normal(z_loc, z_scale**2).log_prob(z).sum(-1), 0)
                  - log_k),
            "no closed-form KL: log w already holds p(z) / q(z|x)":
                -(torch.logsumexp(log_px, 0) - log_k) + tradeoffs.rate_distortion(vae, x, eps[0])[1],
        }
        weights_wrong = {
            "normalise over the K samples (dim 0)": log_w.softmax(1),
            "normalise: the weights of an image sum to 1": log_w.exp(),
            "weights of the full log w = log p(x|z) + log p(z) − log q":
                (log_px + log_pz).softmax(0),
        }
        sat_vae, sat_x = _saturated()
        sat_expected = tradeoffs.iwae_negative_bound(sat_vae, sat_x, K, eps)
    with SelfCheck("iwae_negative_bound") as sc:
        with torch.no_grad():
            out = sc.call(iwae_negative_bound, vae, x.clone(), K, eps.clone(), what="it runs")
        loss, got_weights = _iwae(sc, out, "returns")
        sc.true("returns", True, "")
        sc.close(f"−L_K, K = {K}", loss, expected, 1e-4, 1e-5,
                 "exp(log w) underflows: use torch.logsumexp(log_w, 0)" if not torch.isfinite(loss).all()
                 else "z_k = z_loc + z_scale * eps[k] with the given eps", wrong, match=MISTAKE_TOL)
        sc.close("normalised weights", got_weights, log_w.softmax(0), 1e-5, 1e-4,
                 "w̃_k = softmax of log w_k over k", weights_wrong, match=MISTAKE_TOL)
        with torch.no_grad():
            out = sc.call(iwae_negative_bound, sat_vae, sat_x.clone(), K, eps.clone(), quiet=True,
                          what="runs at logits ±40")
        sc.close("−L_K, logits ±40", _iwae(sc, out, "at logits ±40")[0], sat_expected, 1e-2, 1e-5,
                 SIGMOID_HINT)
        with torch.no_grad(), seeded(0):
            out = sc.call(iwae_negative_bound, vae, x.clone(), 3, quiet=True, what="runs without eps, k=3",
                          hint="eps=None: eps = torch.randn(k, *z_loc.shape)")
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else kind(t) for t in out] \
            if isinstance(out, (tuple, list)) else [kind(out)]
        sc.true("without eps, k=3", shapes == [(N,), (3, N)] and not_a_tensor("", out[0]) is None,
                f"got {', '.join(map(str, shapes))}, not ({N},), (3, {N})",
                "eps=None: draw eps of shape (k, N, z_dim)")
        out = sc.call(iwae_negative_bound, vae, x.clone(), K, eps.clone(), quiet=True,
                      what="runs with gradients on")
        sc.gradients("gradients", _iwae(sc, out, "with gradients on")[0],
                     tradeoffs.iwae_negative_bound(vae, x, K, eps), dict(vae.named_parameters()), NO_GRAD_HINT)


# ---- free bits ---------------------------------------------------------------------------------------
def check_free_bits_rate(free_bits_rate_fn: Callable) -> None:
    """Σ_d max(λ, mean_n KL_nd) on fixed guide outputs against :func:`free_bits_rate`, with λ = 0.5
    and λ = 0.1; zero gradient for the dimensions under λ."""
    z_loc, z_scale = _free_bits_inputs()
    z_dim = z_loc.shape[1]
    per_dim = _kl(z_loc, z_scale)
    mean_kl = per_dim.mean(0)
    separately = "clamp each dimension's batch-mean KL separately"
    wrong = {
        "clamp the batch-mean KL, not each image's KL":
            per_dim.clamp(min=LAM).mean(0).sum(),
        separately: mean_kl.sum(),
        f"{separately} ": mean_kl.sum().clamp(min=LAM * z_dim),
        f" {separately}": per_dim.sum(1).clamp(min=LAM).mean(),
        "average over the batch (nats per image), do not sum": per_dim.sum(0).clamp(min=LAM).sum(),
        "clamp from below: max(λ, ·), .clamp(min=lam)": mean_kl.clamp(max=LAM).sum(),
        "sum over the latent dimensions, do not average": mean_kl.clamp(min=LAM).mean(),
        "z_scale is σ: σ² = z_scale**2, log σ² = 2·log z_scale":
            (0.5 * (z_loc**2 + z_scale - 1 - z_scale.log())).mean(0).clamp(min=LAM).sum(),
        "log σ² = 2·log(z_scale): you used log(z_scale)":
            (0.5 * (z_loc**2 + z_scale**2 - 1 - z_scale.log())).mean(0).clamp(min=LAM).sum(),
    }

    def rate(out: Any, what: str) -> torch.Tensor:
        """``out`` when it is a 0-d float tensor; else one ✗ line, and the group stops."""
        sc.require(what, not_a_tensor("", out) is None, *(not_a_tensor("", out) or ("", "")))
        sc.require(what, out.dim() == 0, f"got shape {tuple(out.shape)}", {
            (z_dim,): "sum the clamped values over the latent dimensions",
            (N,): "average over the batch (dim 0) before clamping",
            (N, z_dim): "mean over the batch, clamp at λ, sum over dimensions"}.get(tuple(out.shape),
                                                                                   "one number for the batch"))
        return out

    with SelfCheck("free_bits_rate") as sc:
        loc, scale = z_loc.clone().requires_grad_(), z_scale.clone().requires_grad_()
        out = rate(sc.call(free_bits_rate_fn, loc, scale, LAM, what="it runs"), "returns a 0-d tensor")
        sc.true("returns a 0-d tensor", True, "")
        sc.close(f"R_free at λ = {LAM}", out, free_bits_rate(z_loc, z_scale, LAM), 1e-5, 1e-5,
                 "R_free = Σ_d max(λ, mean_n KL_nd)", wrong, match=MISTAKE_TOL)
        sc.gradients("gradient 0 under λ", out, free_bits_rate(loc, scale, LAM), {"z_loc": loc, "z_scale": scale},
                     "use .clamp(min=lam), not Python's max or .item()")
        with torch.no_grad():
            out = sc.call(free_bits_rate_fn, z_loc.clone(), z_scale.clone(), 0.1, quiet=True,
                          what="runs with lam=0.1")
        sc.close("R_free at λ = 0.1", rate(out, "R_free at λ = 0.1"), free_bits_rate(z_loc, z_scale, 0.1),
                 1e-5, 1e-5, "use the `lam` argument, not a fixed number")


# ---- for the notebook's cells that use the student's functions ---------------------------------------
ready = make_ready({
    "rate_distortion": ("Part 1", check_rate_distortion),
    "active_units": ("Part 2", check_active_units),
    "iwae_negative_bound": ("Part 3", check_iwae_negative_bound),
    "free_bits_rate": ("Part 4", check_free_bits_rate),
})
