"""Self-checks for exercise 06: what the ELBO trades off.

The student writes ``rate_distortion(vae, x, eps=None) -> (D (N,), R (N, z_dim))``,
``active_units(vae, x, threshold=0.01) -> (count, variance (z_dim,))``,
``iwae_negative_bound(vae, x, k, eps=None) -> (loss (N,), weights (K, N))`` and
``free_bits_rate(z_loc, z_scale, lam) -> ()``. Each check compares one of them on fixed inputs
with :mod:`utils.tradeoffs` or :func:`free_bits_rate`, with the reference networks only.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch.distributions import Normal
from torch.nn import functional as F

from . import kind, make_ready, near, not_a_tensor, seeded
from ._common import (X_DIM, SelfCheck, generator, noise, saturate, shaped, small_vae,
                      sparse_images)
from .. import tradeoffs
from ..vae import VAE

N, Z_DIM = 64, 4                 # the fixed batch and model of the checks
K = 5                            # importance samples in the iwae check
LAM = 0.5                        # free bits per latent dimension, in nats
MISTAKE_TOL = (1e-4, 1e-4)       # a result reproduces a typical mistake within 1e-4·(|it| + 1)
NO_GRAD_HINT = "stay in torch: no .detach(), .item() or no_grad()"
SIGMOID_HINT = "use BCE with logits: BCE on sigmoid(logits) saturates"


def free_bits_rate(z_loc: torch.Tensor, z_scale: torch.Tensor, lam: float) -> torch.Tensor:
    """The reference free-bits rate, a 0-d tensor in nats per image: Σ_d max(λ, mean_n KL_nd)."""
    return _kl(z_loc, z_scale).mean(0).clamp(min=lam).sum()


def _kl(z_loc: torch.Tensor, z_scale: torch.Tensor) -> torch.Tensor:
    """KL(N(z_loc, z_scale²) ‖ N(0, 1)) of each image and latent dimension, (N, z_dim)."""
    return 0.5 * (z_loc.pow(2) + z_scale.pow(2) - 1 - 2 * z_scale.log())


def _kl_mistakes(z_loc: torch.Tensor, z_scale: torch.Tensor) -> dict[str, torch.Tensor]:
    """The typical mistakes of the closed-form KL per image and dimension, by hint."""
    return {"z_scale is σ: σ² = z_scale**2, log σ² = 2·log z_scale":
            0.5 * (z_loc**2 + z_scale - 1 - z_scale.log()),
            "log σ² = 2·log(z_scale): you used log(z_scale)":
            0.5 * (z_loc**2 + z_scale**2 - 1 - z_scale.log())}


# ---- fixed inputs ------------------------------------------------------------------------------
def _vae(seed: int = 0) -> VAE:
    """A small VAE: a few nats of rate, a decoder that reacts to z (importance weights differ)."""
    vae = small_vae(Z_DIM, [0.8, -0.6, 0.3, 1.0], -0.7, seed)
    with torch.no_grad():
        vae.decoder.net[0].weight.mul_(4.0)
    return vae


def _saturated(seed: int = 0) -> tuple[VAE, torch.Tensor]:
    """A VAE with logits ±40 and images that contradict half of them (40 nats a pixel)."""
    x = torch.zeros(N, X_DIM)
    x[:, ::2] = 1.0
    return saturate(_vae(seed)), x


class _CodesVAE(torch.nn.Module):
    """A stand-in VAE: its posterior means are the first z_dim columns of x, its std 0.5."""

    def __init__(self, z_dim: int):
        super().__init__()
        self.z_dim, self.scale = z_dim, torch.nn.Parameter(torch.tensor(0.5))

    def encoder(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_loc = x[:, :self.z_dim] * 1.0
        return z_loc, self.scale.expand_as(z_loc)


# ---- what the student's functions return -------------------------------------------------------
def _rate_distortion(sc: SelfCheck, out: Any, what: str) -> tuple:
    """(D (N,), R (N, z_dim)) from the student's result; else one ✗ line."""
    d, r = sc.unpack(what, out, ("D", "R"), "distortion, rate")
    shaped(sc, what, "D has", d, (N,), {(N, X_DIM): "sum over the 784 pixels (dim -1)",
                                         (N, Z_DIM): "one D per image: did you swap D and R?",
                                         (): "do not sum or average over the batch"},
            "see the docstring's shapes")
    shaped(sc, what, "R has", r, (N, Z_DIM), {
        (N,): "R per latent dimension: do not sum over dim -1",
        (Z_DIM,): "R per image and dimension: do not average over images",
        (): "R per image and dimension: do not sum or average"}, "see the docstring's shapes")
    return d, r


def _count(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (int, 0-d tensor, NumPy scalar); else None."""
    if isinstance(value, (bool, str, bytes)) or (isinstance(value, torch.Tensor)
                                                 and value.dim() > 0):
        return None
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return None
    return int(as_float) if math.isfinite(as_float) and as_float == int(as_float) else None


def _units(sc: SelfCheck, out: Any, what: str, z_dim: int, n: int) -> tuple[int, torch.Tensor]:
    """(count, variance (z_dim,)) from the student's result; else one ✗ line."""
    swapped = (isinstance(out, (tuple, list)) and len(out) == 2 and _count(out[1]) is not None
               and not_a_tensor("", out[1]) is not None and not_a_tensor("", out[0]) is None)
    sc.require(what, not swapped, "got (variance, count)", "swap them: `return count, variance`")
    count, variance = sc.unpack(what, out, ("count", "variance"), numbers=("count",),
                                hint="stay in torch: use z_loc.var(0)")
    shaped(sc, what, "variance has", variance, (z_dim,), {
        (n,): "variance over the images: z_loc.var(0)",
        (n, z_dim): "reduce over the images: z_loc.var(0)",
        (): "reduce over the images (dim 0) only"}, "one variance per latent dimension")
    sc.require(what, _count(count) is not None, f"count is {kind(count)}, not a whole number",
               "count = int((variance > threshold).sum())")
    return _count(count), variance


def _iwae(sc: SelfCheck, out: Any, what: str, k: int = K) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss (N,), weights (k, N)) from the student's result; else one ✗ line."""
    loss, weights = sc.unpack(what, out, ("the loss", "weights"), "loss, weights")
    shaped(sc, what, "loss has", loss, (N,), {
        (): "do not sum or average over the batch", (K,): "logsumexp over the K samples (dim 0)",
        (K, N): "reduce over K: torch.logsumexp(log_w, 0)",
        (N, Z_DIM): "sum log p(z), log q(z|x) over dim -1",
        (K, N, Z_DIM): "sum log p(z), log q(z|x) over dim -1"}, "one loss per image")
    shaped(sc, what, "weights have", weights, (k, N), {},
            "one weight per sample and image: (K, N)")
    return loss, weights


# ---- the checks --------------------------------------------------------------------------------
def check_rate_distortion(rate_distortion: Callable) -> None:
    """D (N,), R (N, z_dim); the given eps used; logits ±40; one ε per image; the gradients."""
    vae, x, eps = _vae(), sparse_images(N), noise((N, Z_DIM), 1)

    def distortion(logits):
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)

    with torch.no_grad():
        ref_d = tradeoffs.rate_distortion(vae, x, eps)[0]
        z_loc, z_scale = vae.encoder(x)
        z = z_loc + z_scale * eps
        ref_r = _kl(z_loc, z_scale)
        d_wrong = {
            "D = −log p(x|z) ≥ 0: you returned log p(x|z)": -ref_d,
            "sum over the 784 pixels, do not average": distortion(vae.decoder(z)) / X_DIM,
            "z = z_loc + z_scale * eps, not z = z_loc": distortion(vae.decoder(z_loc)),
            "z_scale is the std: do not square it":
                distortion(vae.decoder(z_loc + z_scale**2 * eps)),
            "the decoder returns logits: no sigmoid before the BCE":
                distortion(vae.decoder(z).sigmoid())}
        r_wrong = {"flipped sign: a KL divergence is never negative": -ref_r,
                   **_kl_mistakes(z_loc, z_scale), "KL = ½ Σ (…): keep the factor ½": 2 * ref_r,
                   "use the closed-form KL, not the one-sample estimate":
                       Normal(z_loc, z_scale).log_prob(z) - Normal(0.0, 1.0).log_prob(z)}
        sat_vae, sat_x = _saturated()
        sat_d = tradeoffs.rate_distortion(sat_vae, sat_x, eps)[0]
    with SelfCheck("rate_distortion") as sc:
        with torch.no_grad(), seeded(10):
            out = sc.call(rate_distortion, vae, x.clone(), eps.clone(), what="it runs")
        d, r = _rate_distortion(sc, out, "returns (D, R)")
        sc.true("returns (D, R)", True, "")
        with torch.no_grad(), seeded(11):
            again = sc.call(rate_distortion, vae, x.clone(), eps.clone(), quiet=True,
                            what="runs again")
        again = _rate_distortion(sc, again, "again: (D, R)")
        sc.true("same eps, same D", near(again[0], d, 1e-6, 1e-6),
                "two calls with the same eps gave different D",
                "use the given eps: draw noise only when eps is None")
        sc.close("D = −log p(x|z)", d, ref_d, 1e-4, 1e-5,
                 "D: BCE with logits, reduction='none', .sum(-1)", d_wrong, match=MISTAKE_TOL)
        sc.close("R per dimension", r, ref_r, 1e-5, 1e-5,
                 "R_nd = ½ (z_loc² + z_scale² − 1 − log z_scale²)", r_wrong, match=MISTAKE_TOL)
        with torch.no_grad():
            out = sc.call(rate_distortion, sat_vae, sat_x.clone(), eps.clone(), quiet=True,
                          what="runs at logits ±40")
        sc.close("D, logits ±40", _rate_distortion(sc, out, "at logits ±40: (D, R)")[0], sat_d,
                 1e-2, 1e-5, SIGMOID_HINT)
        same = x[:1].expand(N, X_DIM).clone()            # N copies of one image
        with torch.no_grad(), seeded(0):
            out = sc.call(rate_distortion, vae, same, what="runs without eps",
                          hint="eps=None: eps = torch.randn_like(z_loc)")
        d = _rate_distortion(sc, out, "without eps: (D, R)")[0]
        sc.true("without eps: one ε per image", not near(d, d[:1].expand_as(d), 1e-6, 1e-6),
                f"{N} copies of one image got the same D",
                "draw one ε per image: eps = torch.randn_like(z_loc)")
        out = sc.call(rate_distortion, vae, x.clone(), eps.clone(), quiet=True,
                      what="runs with gradients on")
        d, r = _rate_distortion(sc, out, "with gradients on: (D, R)")
        sc.gradients("gradients of D + Σ_d R", d + r.sum(-1),
                     sum(tradeoffs.rate_distortion(vae, x, eps)), dict(vae.named_parameters()),
                     NO_GRAD_HINT)


def check_active_units(active_units: Callable) -> None:
    """Var over the images of each dimension's posterior mean, and the count above a threshold,
    for a stand-in model whose posterior means have known variances."""
    variances = [1.0, 0.3, 0.05, 0.02, 0.006, 0.003, 1e-5, 1e-6, 0.0]
    z = noise((500, len(variances) - 1), 3, torch.float64)       # exactly these (biased) variances
    z = (z - z.mean(0)) / z.std(0, unbiased=False)
    z = z * torch.tensor(variances[:-1], dtype=torch.float64).sqrt() + 0.3
    codes = torch.cat([z, torch.full((500, 1), 0.5, dtype=torch.float64)], 1).float()
    n, z_dim = codes.shape
    vae, x = _CodesVAE(z_dim), torch.cat([codes, torch.zeros(n, X_DIM - z_dim)], 1)
    expected = codes.double().var(0, unbiased=False)
    with SelfCheck("active_units") as sc:
        with seeded(0):
            out = sc.call(active_units, vae, x.clone(), what="it runs")
        count, variance = _units(sc, out, "(count, variance)", z_dim, n)
        sc.true("(count, variance)", True, "")
        # the biased (1/N) and the unbiased (1/(N − 1)) variance both pass: they differ by 0.2 %
        sc.close("variance over images", variance, expected, 1e-6, 3e-3,
                 "use the posterior means z_loc, not samples of z"    # σ² = 0.25 added: samples
                 if variance.detach().cpu().double().min() > 0.2 else
                 "A_d = Var over images of z_loc[:, d] (z_loc.var(0))", match=MISTAKE_TOL,
                 mistakes={"the variance, not the standard deviation: no sqrt":
                           torch.tensor(variances, dtype=torch.float64).sqrt(),
                           "subtract each dimension's mean over the images":
                           codes.double().pow(2).mean(0)})
        sc.true("4 of 9 active at 0.01", count == 4, f"counted {count}", {
            2: "the threshold is 0.01 by default: use `threshold`",
            6: "you compared the standard deviation, not the variance",
            5: "you counted inactive dims: active means variance > threshold",
        }.get(count, "count = int((variance > threshold).sum())"))
        for threshold, active in ((0.04, 3), (0.0, 8)):
            out = sc.call(active_units, vae, x.clone(), threshold, quiet=True,
                          what=f"runs with threshold={threshold}")
            got = _units(sc, out, f"threshold={threshold:g}: (count, variance)", z_dim, n)[0]
            sc.true(f"threshold={threshold:g}: {active}{' of 9' if threshold == 0 else ''} active",
                    got == active, f"counted {got}",
                    "use the `threshold` argument, not a fixed number" if got == 4 and threshold
                    else "active means variance > threshold: use >, not >=" if got == 9
                    else "count = int((variance > threshold).sum())")


def check_iwae_negative_bound(iwae_negative_bound: Callable) -> None:
    """(−[logsumexp_k log w_k − log K] (N,), softmax_k log w_k (K, N)) for K = 5; at logits ±40;
    noise (k, N, z_dim) without eps; the gradients."""
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

        def loss(log_w):   # −L_K of these log-weights
            return -(torch.logsumexp(log_w, 0) - math.log(K))

        wrong = {
            "logsumexp_k log w_k − log K, not the mean of log w_k": -log_w.mean(0),
            "subtract log K: the bound averages the K weights": -torch.logsumexp(log_w, 0),
            "log K has the wrong sign: −(logsumexp − log K)": loss(log_w) - 2 * math.log(K),
            "return the *negative* bound, a loss to minimise": -loss(log_w),
            "log w misses + log p(z), the prior": loss(log_px - log_qz),
            "log w misses − log q(z|x), the guide": loss(log_px + log_pz),
            "log q(z|x) enters log w with a − sign": loss(log_px + log_pz + log_qz),
            "log p(z) enters log w with a + sign": loss(log_px - log_pz - log_qz),
            "Normal takes the std z_scale, not the variance":
                loss(log_px + log_pz - Normal(z_loc, z_scale**2).log_prob(z).sum(-1)),
            "no closed-form KL: log w already holds p(z) / q(z|x)":
                loss(log_px) + tradeoffs.rate_distortion(vae, x, eps[0])[1]}
        weights_wrong = {
            "normalise over the K samples (dim 0)": log_w.softmax(1),
            "normalise: the weights of an image sum to 1": log_w.exp(),
            "weights of the full log w = log p(x|z) + log p(z) − log q":
                (log_px + log_pz).softmax(0)}
        sat_vae, sat_x = _saturated()
        sat_expected = tradeoffs.iwae_negative_bound(sat_vae, sat_x, K, eps)
    with SelfCheck("iwae_negative_bound") as sc:
        with torch.no_grad():
            out = sc.call(iwae_negative_bound, vae, x.clone(), K, eps.clone(), what="it runs")
        got, weights = _iwae(sc, out, "returns")
        sc.true("returns", True, "")
        sc.close(f"−L_K, K = {K}", got, expected, 1e-4, 1e-5,
                 "exp(log w) underflows: use torch.logsumexp(log_w, 0)"
                 if not torch.isfinite(got).all()
                 else "z_k = z_loc + z_scale * eps[k] with the given eps", wrong, match=MISTAKE_TOL)
        sc.close("normalised weights", weights, log_w.softmax(0), 1e-5, 1e-4,
                 "w̃_k = softmax of log w_k over k", weights_wrong, match=MISTAKE_TOL)
        with torch.no_grad():
            out = sc.call(iwae_negative_bound, sat_vae, sat_x.clone(), K, eps.clone(), quiet=True,
                          what="runs at logits ±40")
        sc.close("−L_K, logits ±40", _iwae(sc, out, "at logits ±40")[0], sat_expected, 1e-2, 1e-5,
                 SIGMOID_HINT)
        with torch.no_grad(), seeded(0):
            out = sc.call(iwae_negative_bound, vae, x.clone(), 3, quiet=True,
                          what="runs without eps, k=3",
                          hint="eps=None: eps = torch.randn(k, *z_loc.shape)")
        shapes = ([tuple(t.shape) if isinstance(t, torch.Tensor) else kind(t) for t in out]
                  if isinstance(out, (tuple, list)) else [kind(out)])
        sc.true("without eps, k=3", shapes == [(N,), (3, N)] and not_a_tensor("", out[0]) is None,
                f"got {', '.join(map(str, shapes))}, not ({N},), (3, {N})",
                "eps=None: draw eps of shape (k, N, z_dim)")
        out = sc.call(iwae_negative_bound, vae, x.clone(), K, eps.clone(), quiet=True,
                      what="runs with gradients on")
        sc.gradients("gradients", _iwae(sc, out, "with gradients on")[0],
                     tradeoffs.iwae_negative_bound(vae, x, K, eps), dict(vae.named_parameters()),
                     NO_GRAD_HINT)


def check_free_bits_rate(free_bits_rate_fn: Callable) -> None:
    """Σ_d max(λ, mean_n KL_nd) at λ = 0.5 and 0.1; a zero gradient for the dimensions under λ."""
    gen = generator(4)   # dimensions 0-1 above λ, 2-3 at the prior, 4-5 too but for 8 images
    z_loc = torch.randn(N, 6, generator=gen) * torch.tensor([1.5, 1.5, 0.05, 0.05, 0.05, 0.05])
    z_scale = torch.cat([0.3 + 0.5 * torch.rand(N, 2, generator=gen),
                         0.95 + 0.05 * torch.rand(N, 4, generator=gen)], 1)
    z_loc[:8, 4:] = 1.5
    z_dim = z_loc.shape[1]
    per_dim = _kl(z_loc, z_scale)
    mean_kl = per_dim.mean(0)
    separately = "clamp each dimension's batch-mean KL separately"
    wrong = {
        "clamp the batch-mean KL, not each image's KL": per_dim.clamp(min=LAM).mean(0).sum(),
        separately: mean_kl.sum(),
        f"{separately} ": mean_kl.sum().clamp(min=LAM * z_dim),
        f" {separately}": per_dim.sum(1).clamp(min=LAM).mean(),
        "average over the batch (nats per image), do not sum": per_dim.sum(0).clamp(min=LAM).sum(),
        "clamp from below: max(λ, ·), .clamp(min=lam)": mean_kl.clamp(max=LAM).sum(),
        "sum over the latent dimensions, do not average": mean_kl.clamp(min=LAM).mean(),
        **{hint: kl.mean(0).clamp(min=LAM).sum()
           for hint, kl in _kl_mistakes(z_loc, z_scale).items()}}

    def rate(out: Any, what: str) -> torch.Tensor:
        """``out`` when it is a 0-d float tensor; else one ✗ line, and the group stops."""
        sc.require(what, not_a_tensor("", out) is None, *(not_a_tensor("", out) or ("", "")))
        sc.require(what, out.dim() == 0, f"got shape {tuple(out.shape)}", {
            (z_dim,): "sum the clamped values over the latent dimensions",
            (N,): "average over the batch (dim 0) before clamping",
            (N, z_dim): "mean over the batch, clamp at λ, sum over dimensions"}.get(
                tuple(out.shape), "one number for the batch"))
        return out

    with SelfCheck("free_bits_rate") as sc:
        loc, scale = z_loc.clone().requires_grad_(), z_scale.clone().requires_grad_()
        out = rate(sc.call(free_bits_rate_fn, loc, scale, LAM, what="it runs"),
                   "returns a 0-d tensor")
        sc.true("returns a 0-d tensor", True, "")
        sc.close(f"R_free at λ = {LAM}", out, free_bits_rate(z_loc, z_scale, LAM), 1e-5, 1e-5,
                 "R_free = Σ_d max(λ, mean_n KL_nd)", wrong, match=MISTAKE_TOL)
        sc.gradients("gradient 0 under λ", out, free_bits_rate(loc, scale, LAM),
                     {"z_loc": loc, "z_scale": scale},
                     "use .clamp(min=lam), not Python's max or .item()")
        with torch.no_grad():
            out = sc.call(free_bits_rate_fn, z_loc.clone(), z_scale.clone(), 0.1, quiet=True,
                          what="runs with lam=0.1")
        sc.close("R_free at λ = 0.1", rate(out, "R_free at λ = 0.1"),
                 free_bits_rate(z_loc, z_scale, 0.1), 1e-5, 1e-5,
                 "use the `lam` argument, not a fixed number")


ready = make_ready({
    "rate_distortion": ("Part 1", check_rate_distortion),
    "active_units": ("Part 2", check_active_units),
    "iwae_negative_bound": ("Part 3", check_iwae_negative_bound),
    "free_bits_rate": ("Part 4", check_free_bits_rate),
})
