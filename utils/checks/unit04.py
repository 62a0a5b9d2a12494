"""Self-checks for exercise 04: the VAE loss written by hand.

The student writes ``reparameterize(z_loc, z_scale, eps=None)``, ``gaussian_kl(z_loc, z_scale)`` and
``negative_elbo(vae, x, eps=None)`` (``vae`` a :class:`utils.vae.VAE`). Each check runs the student's
function on fixed inputs and compares it with the reference in :mod:`utils.vae`; a failure names what
differs, by how much, and the most likely cause. Every random number comes from a fixed seed, so a
check passes or fails the same way on every run, and pass lines carry no numbers.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import torch
from torch.distributions import Independent, Normal, kl_divergence

from . import SelfCheck
from ..data import fixed_binarization
from ..vae import VAE, evaluate, train_vae
from ..vae import gaussian_kl as reference_kl, negative_elbo as reference_negative_elbo

N, Z_DIM = 128, 2


def _inputs(seed: int = 0, n: int = N, z_dim: int = Z_DIM):
    """Fixed guide outputs: z_loc, z_scale (not 1, so variance and std differ) and noise eps."""
    gen = torch.Generator().manual_seed(seed)
    z_loc = torch.randn(n, z_dim, generator=gen)
    z_scale = 0.3 + 1.5 * torch.rand(n, z_dim, generator=gen)
    eps = torch.randn(n, z_dim, generator=gen)
    return z_loc, z_scale, eps


def _near(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-3) -> bool:
    """True when tensors of the same shape agree within ``tol`` (relative to |b| + 1)."""
    return a.shape == b.shape and bool(((a - b).abs() <= tol * (b.abs() + 1)).all())


def _hint(actual: torch.Tensor, candidates: dict[str, torch.Tensor], default: str) -> str:
    """The hint of the first typical mistake that reproduces ``actual``, else ``default``."""
    for hint, wrong in candidates.items():
        if _near(actual.detach(), wrong.detach()):
            return hint
    return default


def check_reparameterize(reparameterize: Callable) -> None:
    """z = z_loc + z_scale ⊙ eps on fixed inputs; gradients reach z_loc and z_scale; own noise."""
    z_loc, z_scale, eps = _inputs()
    with SelfCheck("reparameterize") as sc:
        z = sc.call(reparameterize, z_loc, z_scale, eps, what="reparameterize(z_loc, z_scale, eps) runs")
        sc.shape("z", z, (N, Z_DIM), hint="z has one entry per image and latent dimension, "
                 "like z_loc")
        hint = _hint(z, {
            "z_scale is the standard deviation; do not square it": z_loc + z_scale**2 * eps,
            "z_scale is already positive (a standard deviation), not a log-scale: "
            "do not exponentiate it": z_loc + z_scale.exp() * eps,
        }, "z = z_loc + z_scale * eps, with the eps you were given (draw new noise only when "
           "eps is None)")
        sc.close("z = z_loc + z_scale ⊙ eps on fixed inputs", z, z_loc + z_scale * eps, hint=hint)

        loc, scale = z_loc.clone().requires_grad_(), z_scale.clone().requires_grad_()
        z = sc.call(reparameterize, loc, scale, eps, what="reparameterize runs on inputs that need grad")
        sc.shape("z from inputs that need grad", z, (N, Z_DIM), quiet=True)
        if not z.requires_grad:
            sc.true("gradients flow from z back to z_loc and z_scale", False, "z has no gradient",
                    "compute z from z_loc and z_scale with torch operations; do not use .detach(), "
                    ".item(), NumPy, or Normal(...).sample() (use the formula, or .rsample())")
        else:
            grad_loc, grad_scale = torch.autograd.grad(z.sum(), (loc, scale), allow_unused=True)
            ok = (grad_loc is not None and grad_scale is not None
                  and _near(grad_loc, torch.ones_like(loc), 1e-5) and _near(grad_scale, eps, 1e-5))
            sc.true("gradients flow: ∂z/∂z_loc = 1 and ∂z/∂z_scale = eps", ok,
                    "the gradients differ from 1 and eps",
                    "z must be z_loc + z_scale * eps, computed with differentiable torch operations")

        with torch.random.fork_rng():
            torch.manual_seed(0)
            n = 200_000
            big_loc, big_scale = torch.tensor([1.5, -0.5]).expand(n, 2), torch.tensor([0.5, 2.0]).expand(n, 2)
            z = sc.call(reparameterize, big_loc, big_scale, what="reparameterize(z_loc, z_scale) "
                        "without eps runs")
        if isinstance(z, torch.Tensor) and z.shape == (n, 2) and z.is_floating_point():
            mean, std = z.mean(0), z.std(0)
            sc.true("without eps: samples have mean z_loc and standard deviation z_scale",
                    _near(mean, big_loc[0], 0.02) and _near(std, big_scale[0], 0.02),
                    f"sample mean {mean.tolist()} (expected [1.5, -0.5]), std {std.tolist()} "
                    f"(expected [0.5, 2.0])",
                    "when eps is None, draw it with torch.randn_like(z_loc)")
        else:
            sc.true("without eps: returns one sample per row of z_loc", False,
                    f"got {type(z).__name__} of shape {tuple(getattr(z, 'shape', ()))} and "
                    f"dtype {getattr(z, 'dtype', None)}",
                    "when eps is None, draw it with torch.randn_like(z_loc)")


def check_gaussian_kl(gaussian_kl: Callable) -> None:
    """KL(N(z_loc, z_scale²) ‖ N(0, I)) per image against torch.distributions, and its gradient."""
    z_loc, z_scale, _ = _inputs(1)
    q = Independent(Normal(z_loc, z_scale), 1)
    prior = Independent(Normal(torch.zeros_like(z_loc), torch.ones_like(z_scale)), 1)
    expected = kl_divergence(q, prior)
    with SelfCheck("gaussian_kl") as sc:
        kl = sc.call(gaussian_kl, z_loc, z_scale, what="gaussian_kl(z_loc, z_scale) runs")
        sc.shape("KL", kl, (N,), hint=f"expected one KL per image, shape ({N},): did you sum over "
                 "the latent dimension (and not over the batch)?")
        per_dim = 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log())
        hint = _hint(kl, {
            "you are missing the factor 1/2": 2 * expected,
            "log σ² = 2·log(z_scale): you used log(z_scale) where log σ² belongs":
                0.5 * (z_loc**2 + z_scale**2 - 1 - z_scale.log()).sum(-1),
            "z_scale is the standard deviation: the formula has σ² = z_scale²":
                0.5 * (z_loc**2 + z_scale - 1 - z_scale.log()).sum(-1),
            "the sign is flipped: a KL divergence is never negative": -expected,
            "sum over the latent dimension, do not average": per_dim.mean(-1),
        }, "KL = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)")
        value_ok = sc.close("matches torch.distributions.kl_divergence on fixed inputs", kl, expected,
                            hint=hint)
        zero = sc.call(gaussian_kl, torch.zeros(3, Z_DIM), torch.ones(3, Z_DIM),
                       what="gaussian_kl runs at the prior itself")
        sc.close("KL(N(0, I) ‖ N(0, I)) = 0", zero, torch.zeros(3),
                 hint="the KL of a distribution to itself is zero: check the −1 term")
        loc, scale = z_loc.clone().requires_grad_(), z_scale.clone().requires_grad_()
        kl = sc.call(gaussian_kl, loc, scale, what="gaussian_kl runs on inputs that need grad")
        ok = isinstance(kl, torch.Tensor) and kl.requires_grad
        if ok:
            grad_loc, grad_scale = torch.autograd.grad(kl.sum(), (loc, scale), allow_unused=True)
            ok = (grad_loc is not None and grad_scale is not None and _near(grad_loc, z_loc, 1e-4)
                  and _near(grad_scale, z_scale - 1 / z_scale, 1e-4))
        sc.true("differentiable: ∂KL/∂μ = μ and ∂KL/∂σ = σ − 1/σ", ok,
                "the gradient is missing or wrong",
                "use torch operations only (no .item(), NumPy or math.log on tensors)" if value_ok
                else "fix the value first (see above): the gradient follows from it")


def _small_vae(seed: int = 0, hidden_dim: int = 64) -> VAE:
    """A small reference VAE with fixed weights, its guide away from the prior (KL of a few nats)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        vae = VAE(Z_DIM, hidden_dim)
    with torch.no_grad():
        vae.encoder.loc.bias.fill_(0.8)
        vae.encoder.log_scale.bias.fill_(-1.0)
    return vae


def _binary_images(seed: int = 0, n: int = N) -> torch.Tensor:
    """Fixed binary 'images': each pixel on with a probability that varies over the image."""
    gen = torch.Generator().manual_seed(seed)
    probs = torch.rand(n, 784, generator=gen) ** 3
    return torch.bernoulli(probs, generator=gen)


def check_negative_elbo(negative_elbo: Callable) -> None:
    """−ELBO per image on fixed weights, images and noise; gradients reach encoder and decoder."""
    vae, x = _small_vae(), _binary_images()
    _, _, eps = _inputs(2)
    with torch.no_grad():
        expected = reference_negative_elbo(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        kl = reference_kl(z_loc, z_scale)
        log_px_z = kl - expected
    with SelfCheck("negative_elbo") as sc:
        with torch.no_grad():
            loss = sc.call(negative_elbo, vae, x, eps, what="negative_elbo(vae, x, eps) runs")
        sc.shape("loss", loss, (N,), hint=f"expected one −ELBO per image, shape ({N},): sum over "
                 "pixels and latent dimensions, but do not average over the batch (the training "
                 "loop does that)")
        hint = _hint(loss, {
            "you returned the ELBO; the loss is its negative, −log p(x|z) + KL": -expected,
            "the KL is added to the negative log-likelihood (−ELBO = −log p(x|z) + KL), "
            "not subtracted": -log_px_z - kl,
            "the KL term is missing": -log_px_z,
            "the reconstruction term is missing": kl,
            "the decoder outputs logits: use binary_cross_entropy_with_logits (or "
            "Bernoulli(logits=...)), not binary_cross_entropy on the logits or sigmoid twice": 
                kl + torch.nn.functional.binary_cross_entropy_with_logits(
                    vae.decoder(z_loc + z_scale * eps).sigmoid(), x, reduction="none").sum(-1).detach(),
        }, "−ELBO = KL(q(z|x) ‖ p(z)) − log p(x|z) with z = z_loc + z_scale * eps, summed over "
           "pixels; did you use the eps you were given?")
        value_ok = sc.close("matches the reference −ELBO on fixed weights, images and noise", loss,
                            expected, atol=1e-3, hint=hint)
        loss = sc.call(negative_elbo, vae, x, what="negative_elbo(vae, x) without eps runs")
        sc.shape("loss without eps", loss, (N,))
        names, params = zip(*vae.named_parameters())
        expected_grads = torch.autograd.grad(reference_negative_elbo(vae, x, eps).sum(), params)
        loss = sc.call(negative_elbo, vae, x, eps, quiet=True,
                       what="negative_elbo(vae, x, eps) runs with gradients on")
        sc.shape("loss with gradients on", loss, (N,), quiet=True)
        loss = loss.sum()
        grads = (torch.autograd.grad(loss, params, allow_unused=True) if loss.requires_grad
                 else [None] * len(params))
        wrong = [name for name, g, e in zip(names, grads, expected_grads)
                 if g is None or not torch.allclose(g, e, rtol=1e-3, atol=1e-4 * e.abs().max().item())]
        sc.true("gradients match the reference for every encoder and decoder parameter", not wrong,
                f"the gradient is missing or wrong for {', '.join(wrong[:3])}"
                f"{' ...' if len(wrong) > 3 else ''}",
                "build z with your reparameterize (not .sample() or .detach()) so that the "
                "reconstruction term's gradient reaches the encoder" if value_ok
                else "fix the value first (see above): the gradients follow from it")


def check_training_lowers_loss(negative_elbo: Callable, x: torch.Tensor, steps: int = 100,
                               seed: int = 0) -> None:
    """About ``steps`` Adam steps of lecture 04's loop (:func:`utils.vae.train_vae`, minibatches of
    64) on your loss must lower the reference −ELBO (:func:`utils.vae.evaluate`) of images ``x``."""
    epochs = max(1, math.ceil(steps / math.ceil(len(x) / 64)))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        vae = VAE(Z_DIM, 128).to(x.device)
        x_eval = fixed_binarization(x[:512], seed)

        def score() -> float:
            torch.manual_seed(seed)                      # the same ε before and after training
            return evaluate(vae, x_eval)

        before = score()
        with SelfCheck("training") as sc, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a diverging loss gets the hint below
            sc.call(train_vae, vae, x, None, epochs=epochs, batch_size=64, seed=seed,
                    loss_fn=negative_elbo, desc=None, what="Adam steps on your negative_elbo run")
            after = score()
            sc.true("a few Adam steps on your loss lower the −ELBO by more than 10%",
                    after < 0.9 * before,
                    f"the reference −ELBO went from {before:.1f} to {after:.1f} nats per image "
                    f"after {epochs} epoch(s) of {math.ceil(len(x) / 64)} steps",
                    "the optimizer minimises your loss, so it must be the *negative* ELBO, "
                    "and its gradient must reach both networks")
