"""Self-checks for exercise 04: the VAE loss written by hand, and a continuous-Bernoulli decoder.

The student writes ``reparameterize`` and ``gaussian_kl`` (of the log-variance ℓ = log σ²),
``negative_elbo(vae, x, eps=None)`` (``vae`` a :class:`utils.vae.VAE`, its encoder returns σ),
``cb_log_norm`` and ``cb_negative_elbo``. A function built on others is checked with the references
of those (one mistake, one ✗); the losses must stay exact at logits ±40.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch.distributions import ContinuousBernoulli, Independent, Normal, kl_divergence
from torch.nn import functional as F

from . import ExerciseCheck as SelfCheck, make_ready, near, number, passes, seeded, with_references
from ._common import SATURATED, generator, grads, saturate, small_vae, sparse_images
from ..data import fixed_binarization
from ..vae import VAE, evaluate, log_likelihood, train_vae
from ..vae import gaussian_kl as reference_kl, negative_elbo as reference_negative_elbo

N, Z_DIM = 128, 2
TOL = 1e-3     # a loss within TOL·(|reference| + 1); a typical mistake matched so too
BCE_RULE = "use BCE with logits: no sigmoid (it rounds to 1)"


def _inputs(seed: int = 0, n: int = N, z_dim: int = Z_DIM):
    """Fixed guide outputs z_loc, z_scale (not 1, so variance and std differ) and noise eps."""
    gen = generator(seed)
    z_loc = torch.randn(n, z_dim, generator=gen)
    z_scale = 0.3 + 1.5 * torch.rand(n, z_dim, generator=gen)
    return z_loc, z_scale, torch.randn(n, z_dim, generator=gen)


def _small_vae(seed: int = 0) -> VAE:
    return small_vae(Z_DIM, 0.8, -1.0, seed)


def _grey_images(seed: int = 0, n: int = N) -> torch.Tensor:
    """Fixed grey levels in [0, 1], with exact 0s and 1s as in MNIST."""
    gen = generator(seed)
    return (1.4 * torch.rand(n, 784, generator=gen) ** 3 - 0.2).clamp(0, 1)


# ---- Part 1 · reparameterize -------------------------------------------------------------------
def reference_reparameterize(z_loc: torch.Tensor, z_log_var: torch.Tensor,
                             eps: torch.Tensor | None = None) -> torch.Tensor:
    """z = z_loc + σ ⊙ eps with σ = exp(z_log_var / 2)."""
    if eps is None:
        eps = torch.randn_like(z_loc)
    return z_loc + torch.exp(0.5 * z_log_var) * eps


def check_reparameterize(reparameterize: Callable) -> None:
    """z = z_loc + exp(z_log_var / 2) ⊙ eps; its gradients; its own noise when eps is None."""
    z_loc, z_scale, eps = _inputs()
    z_log_var = 2 * z_scale.log()
    with SelfCheck("reparameterize") as sc:
        z = sc.call(reparameterize, z_loc, z_log_var, eps,
                    what="reparameterize(z_loc, z_log_var, eps) runs")
        sc.shape("z", z, (N, Z_DIM), hint="one entry per image and latent dimension, like z_loc")
        sc.close("z = z_loc + exp(z_log_var / 2) ⊙ eps", z, z_loc + z_scale * eps, 1e-5, 1e-5,
                 "z = z_loc + exp(z_log_var / 2) * eps, with the eps given", match=(TOL, TOL),
                 mistakes={"z_log_var is log σ², not σ: σ = exp(z_log_var / 2)":
                           z_loc + z_log_var * eps,
                           "exp(z_log_var) is the variance: σ = exp(z_log_var / 2)":
                           z_loc + z_log_var.exp() * eps})
        inputs = z_loc.clone().requires_grad_(), z_log_var.clone().requires_grad_()
        z = sc.call(reparameterize, *inputs, eps, quiet=True,
                    what="reparameterize runs on inputs that need grad")
        sc.shape("z from inputs that need grad", z, (N, Z_DIM), quiet=True)
        sc.true("gradients reach z_loc, z_log_var", z.requires_grad, "z has no gradient",
                "no .detach(), .item(), NumPy or .sample()")
        grad_loc, grad_log_var = grads(z, inputs)
        sc.true("∂z/∂z_loc = 1 and ∂z/∂z_log_var = σ·eps/2",
                near(grad_loc, torch.ones_like(z_loc), 1e-5, 1e-5)
                and near(grad_log_var, 0.5 * z_scale * eps, 1e-5, 1e-5), "wrong gradients",
                "z = z_loc + torch.exp(z_log_var / 2) * eps, in torch")
        n, big_loc, big_std = 200_000, torch.tensor([1.5, -0.5]), torch.tensor([0.5, 2.0])
        with seeded(0):
            z = sc.call(reparameterize, big_loc.expand(n, 2), (2 * big_std.log()).expand(n, 2),
                        what="reparameterize(z_loc, z_log_var) without eps runs")
        sc.require("own noise when eps is None",
                   isinstance(z, torch.Tensor) and z.shape == (n, 2) and z.is_floating_point(),
                   f"got shape {tuple(getattr(z, 'shape', ()))}",
                   "draw eps = torch.randn_like(z_loc)")
        mean, std = z.mean(0), z.std(0)
        sc.true("own noise when eps is None",
                near(mean, big_loc, 0.02, 0.02) and near(std, big_std, 0.02, 0.02),
                f"mean {[round(v, 2) for v in mean.tolist()]}, "
                f"std {[round(v, 2) for v in std.tolist()]}", "draw eps = torch.randn_like(z_loc)")


# ---- Part 2 · gaussian_kl ----------------------------------------------------------------------
def reference_gaussian_kl(z_loc: torch.Tensor, z_log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(z_loc, diag exp(z_log_var)) ‖ N(0, I)) per image: ½ Σ_j (μ_j² + e^ℓ_j − 1 − ℓ_j)."""
    return 0.5 * (z_loc.pow(2) + z_log_var.exp() - 1 - z_log_var).sum(-1)


def check_gaussian_kl(gaussian_kl: Callable) -> None:
    """KL(N(z_loc, exp(z_log_var)) ‖ N(0, I)) per image; 0 at the prior; its gradient."""
    z_loc, z_scale, _ = _inputs(1)
    z_log_var = 2 * z_scale.log()
    expected = kl_divergence(Independent(Normal(z_loc, z_scale), 1), Independent(
        Normal(torch.zeros_like(z_loc), torch.ones_like(z_scale)), 1))
    per_dim = 0.5 * (z_loc**2 + z_log_var.exp() - 1 - z_log_var)
    with SelfCheck("gaussian_kl") as sc:
        kl = sc.call(gaussian_kl, z_loc, z_log_var, what="gaussian_kl(z_loc, z_log_var) runs")
        sc.shape("KL", kl, (N,), hint="sum over the latent dimension, not over the batch")
        bad = ~torch.isfinite(kl.detach().cpu())
        sc.close("KL vs torch.distributions", kl, expected, 1e-4, 1e-4,
                 "z_log_var can be < 0: σ² = exp(z_log_var)" if bool((z_log_var[bad] < 0).any())
                 else "KL = ½ Σ_j (μ_j² + exp(ℓ_j) − 1 − ℓ_j), ℓ = z_log_var", match=(TOL, TOL),
                 mistakes={
                     "you are missing the factor 1/2": 2 * expected,
                     "log σ² is z_log_var itself: no factor 2": (per_dim - 0.5 * z_log_var).sum(-1),
                     "z_log_var is log σ², not log σ: σ² = exp(z_log_var)":
                         0.5 * (z_loc**2 + (2 * z_log_var).exp() - 1 - 2 * z_log_var).sum(-1),
                     "a sign is flipped: a KL is never negative": -expected,
                     "sum over the latent dimension, do not average": per_dim.mean(-1)})
        zero = sc.call(gaussian_kl, torch.zeros(3, Z_DIM), torch.zeros(3, Z_DIM), quiet=True,
                       what="gaussian_kl runs at the prior itself")
        sc.shape("KL at the prior", zero, (3,), quiet=True)
        sc.close("KL(N(0, I) ‖ N(0, I)) = 0", zero, torch.zeros(3), 1e-5, 1e-5, "check the −1 term")
        inputs = z_loc.clone().requires_grad_(), z_log_var.clone().requires_grad_()
        got = grads(sc.call(gaussian_kl, *inputs, quiet=True,
                            what="gaussian_kl runs on inputs that need grad"), inputs)
        sc.true("∂KL/∂μ = μ, ∂KL/∂ℓ = (e^ℓ − 1)/2", got is not None
                and near(got[0], z_loc, 1e-4, 1e-4)
                and near(got[1], 0.5 * (z_log_var.exp() - 1), 1e-4, 1e-4),
                "missing or wrong", "torch ops only (no .item(), NumPy, math)")


# ---- Part 3 · negative_elbo --------------------------------------------------------------------
def _check_loss(sc: SelfCheck, loss_fn: Callable, reference: Callable, vae: VAE,
                x: torch.Tensor, eps: torch.Tensor, hint: str, mistakes: dict,
                saturated_x: torch.Tensor, saturated_mistakes: dict, saturated_hint: str,
                distribution: str = "Bernoulli") -> None:
    """A loss per image on fixed weights, images and noise (``hint``, or that of the typical
    mistake among ``mistakes`` it reproduces); it runs without eps; its gradients; and its value
    where the decoder saturates (logits ±40, images ``saturated_x``), with ``saturated_hint`` or
    that of a mistake among ``saturated_mistakes`` (hint → loss function)."""
    probs = ("Bernoulli on logits", "probs outside [0, 1]",   # torch's message: a tensor dump
             f"the decoder returns logits: {distribution}(logits=...)")
    with torch.no_grad():
        loss = sc.call(loss_fn, vae, x, eps, what=f"{sc.name}(vae, x, eps) runs",
                       explain=lambda err: probs if isinstance(err, ValueError)
                       and "parameter probs" in str(err) else None)
    sc.shape("loss", loss, (N,), hint="sum over pixels, not over the batch")
    with torch.no_grad():
        expected = reference(vae, x, eps)
    sc.close("−ELBO value", loss, expected, TOL, TOL, hint, mistakes, unit=" nats")
    loss = sc.call(loss_fn, vae, x, what="it runs without eps")
    sc.shape("loss without eps", loss, (N,), quiet=True)
    loss = sc.call(loss_fn, vae, x, eps, quiet=True, what="it runs with gradients on")
    sc.shape("loss with gradients on", loss, (N,), quiet=True)
    sc.gradients("all gradients", loss, reference(vae, x, eps), dict(vae.named_parameters()),
                 "build z with reparameterize, not .detach()")
    vae, (_, _, eps) = saturate(_small_vae(), seed=7), _inputs(4)
    with torch.no_grad():
        expected = reference(vae, saturated_x, eps)
        loss = sc.call(loss_fn, vae, saturated_x, eps, quiet=True,
                       what="it runs on saturated logits")
        sc.shape("loss on saturated logits", loss, (N,), quiet=True)
        wrong = {h: fn(vae, saturated_x, eps) for h, fn in saturated_mistakes.items()}
    sc.close(f"exact at saturated logits (±{SATURATED:.0f})", loss, expected, TOL, TOL,
             saturated_hint, wrong, unit=" nats")


def _loss_with(log_px: Callable) -> Callable:
    """The −ELBO of a typical mistake: ``log_px(logits, x)``, the log-likelihood of each pixel."""
    def loss(vae, x, eps):
        z_loc, z_scale = vae.encoder(x)
        return reference_kl(z_loc, z_scale) - log_px(vae.decoder(z_loc + z_scale * eps), x).sum(-1)
    return loss


def _bce_of_sigmoid(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return -F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none")


NEGATIVE_ELBO_REFERENCES = dict(reparameterize=reference_reparameterize,
                                gaussian_kl=reference_gaussian_kl)


def check_negative_elbo(negative_elbo: Callable) -> None:
    """−ELBO per image, its gradients, exact at logits ±40; with the reference ``reparameterize``
    and ``gaussian_kl`` (their own checks test yours)."""
    vae, x = _small_vae(), sparse_images(N)
    _, _, eps = _inputs(2)
    with torch.no_grad():
        expected = reference_negative_elbo(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        kl = reference_kl(z_loc, z_scale)
        log_px_z = kl - expected
        logits = vae.decoder(z_loc + z_scale * eps)
        scale_as_log_var = reference_gaussian_kl(z_loc, z_scale) - log_likelihood(
            vae, x, reference_reparameterize(z_loc, z_scale, eps))
    with SelfCheck("negative_elbo") as sc:
        _check_loss(sc, with_references(negative_elbo, **NEGATIVE_ELBO_REFERENCES),
                    reference_negative_elbo, vae, x, eps,
                    "KL − log p(x|z), z_log_var = 2·log(z_scale), eps given", {
                        "you returned the ELBO; the loss is −ELBO": -expected,
                        "add the KL: −ELBO = −log p(x|z) + KL": -log_px_z - kl,
                        "the KL term is missing": -log_px_z,
                        "the reconstruction term is missing": kl,
                        "pass z_log_var = 2·log(z_scale), not z_scale": scale_as_log_var,
                        "decoder gives logits: use BCE *with_logits*":
                            kl + F.binary_cross_entropy_with_logits(
                                logits.sigmoid(), x, reduction="none").sum(-1)},
                    sparse_images(N, 5), {BCE_RULE: _loss_with(_bce_of_sigmoid)}, BCE_RULE)


# ---- Part 5 · a continuous-Bernoulli decoder ---------------------------------------------------
def reference_cb_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """log C of the continuous Bernoulli with λ = sigmoid(f) (Loaiza-Ganem & Cunningham, 2019):
    C = 2 artanh(1 − 2λ) / (1 − 2λ) = f / tanh(f / 2), log 2 + f²/12 − f⁴/720 near 0 (where it is
    0/0). Exact for every logit, in the logits' dtype (torch's ContinuousBernoulli clamps λ)."""
    small = logits.abs() < 1e-2
    safe = torch.where(small, torch.ones_like(logits), logits)
    taylor = math.log(2.0) + logits**2 / 12 - logits**4 / 720
    return torch.where(small, taylor, torch.log(safe / torch.tanh(safe / 2)))


def reference_cb_negative_elbo(vae: VAE, x: torch.Tensor,
                               eps: torch.Tensor | None = None) -> torch.Tensor:
    """−ELBO per image under a continuous-Bernoulli decoder (grey levels x in [0, 1]), nats."""
    z_loc, z_scale = vae.encoder(x)
    logits = vae.decoder(reference_reparameterize(z_loc, 2 * z_scale.log(), eps))
    log_px_z = (-F.binary_cross_entropy_with_logits(logits, x, reduction="none")
                + reference_cb_log_norm(logits)).sum(-1)
    return reference_kl(z_loc, z_scale) - log_px_z


CB_LOGITS = torch.tensor([-30.0, -8.0, -2.0, -0.3, -1e-4, 0.0, 1e-6, 1e-3, 0.05, 0.7, 3.0, 12.0,
                          30.0])
TAYLOR_LOGITS = torch.tensor([1e-4, 2e-4], dtype=torch.float64)   # in any Taylor branch to 2e-4


def check_cb_log_norm(cb_log_norm: Callable) -> None:
    """log C on logits −30 … 30, 0 included; its f² term near 0 (float64); a finite gradient."""
    f = CB_LOGITS.clone()
    expected = reference_cb_log_norm(f)
    with SelfCheck("cb_log_norm") as sc:
        out = sc.call(cb_log_norm, f.clone(), what="cb_log_norm(logits) runs")
        sc.shape("log C", out, tuple(f.shape), hint="one value per logit, the shape of logits")
        out = out.detach().to("cpu", torch.float32)
        finite = torch.isfinite(out)
        if not finite.any():
            sc.require("finite everywhere", False, "NaN or inf at every logit",
                       "C = f / tanh(f/2) > 0: check the signs inside the log")
        elif not finite.all():
            if finite[f.abs() >= 1e-2].all():
                where, hint = ("near logits = 0",
                               "at 0 it is 0/0: use its limit, log 2, for small |f|")
            elif finite[f.abs() <= 10].all():
                where, hint = "at large |logits|", "λ rounds to 0 or 1: use 1 − 2λ = −tanh(f/2)"
            else:
                where, hint = (f"at {int((~finite).sum())} of {len(f)} logits",
                               "C = f / tanh(f/2) > 0 for every f")
            sc.require("finite everywhere", False, f"NaN or inf {where}", hint)
        sc.close("log C, logits −30 … 30", out, expected, 1e-4, 1e-4,
                 "C = 2·artanh(1 − 2λ) / (1 − 2λ), λ = sigmoid(f)", match=(TOL, TOL), mistakes={
                     "a sign is flipped: log C ≥ log 2 > 0": -expected,
                     "return log C, not C": expected.exp()})
        # near 0, log C = log 2 + f²/12 − …: in float64, where the f² term shows, through
        # log C(2f) − log C(f) (a float32 log 2 cancels); no line unless it returns float64
        f = TAYLOR_LOGITS.clone()
        out = sc.call(cb_log_norm, f, quiet=True, what="cb_log_norm runs on float64 logits")
        if isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == f.shape:
            step, expected = out[1] - out[0], (f[1]**2 - f[0]**2) / 12
            sc.close("log 2 + f²/12 near 0 (float64)", step, expected, 1e-3 * expected.item(),
                     0.0, "near 0, log C = log 2 + f²/12 − f⁴/720 + …", mistakes={
                         "log 2 + f²/12, a plus: C is least at f = 0": (-expected, "it falls"),
                         "near 0 add the f²/12 term: log 2 + f²/12": (0 * expected,
                                                                      "it stays flat")})
        g = CB_LOGITS.clone().requires_grad_()
        got = grads(sc.call(cb_log_norm, g, quiet=True,
                            what="cb_log_norm runs on logits that need grad"), (g,))
        sc.true("finite gradient at 0", got is not None and got[0] is not None
                and bool(torch.isfinite(got[0]).all()), "NaN or missing",
                "torch.where: feed the formula a safe f (e.g. 1) near 0")


def check_cb_negative_elbo(cb_negative_elbo: Callable) -> None:
    """−ELBO per image under the continuous Bernoulli, also at logits ±40; with the reference
    ``reparameterize``, ``gaussian_kl`` and ``cb_log_norm``."""
    vae, x = _small_vae(), _grey_images()
    _, _, eps = _inputs(3)
    with torch.no_grad():
        expected = reference_cb_negative_elbo(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(z_loc + z_scale * eps)
        log_norm = reference_cb_log_norm(logits).sum(-1)
        try:   # torch clamps probs outside [0, 1] here instead of raising: a silent mistake
            probs_for_logits = _loss_with(lambda f, x: ContinuousBernoulli(probs=f).log_prob(x))(
                vae, x, eps)
        except ValueError:
            probs_for_logits = None
        binarized = torch.bernoulli(x, generator=generator(0))
    with SelfCheck("cb_negative_elbo") as sc:
        _check_loss(sc, with_references(cb_negative_elbo, cb_log_norm=reference_cb_log_norm,
                                        **NEGATIVE_ELBO_REFERENCES),
                    reference_cb_negative_elbo, vae, x, eps,
                    "KL − Σ_i [x f − log(1 + e^f) + log C(f)]", {
                        "add log C: log p(x|z) = Σ [x f − log(1 + e^f) + log C]":
                            expected + log_norm,
                        "log C is added to log p(x|z), not subtracted": expected + 2 * log_norm,
                        "you returned the ELBO; the loss is −ELBO": -expected,
                        "decoder gives logits: ContinuousBernoulli(logits=...)": probs_for_logits,
                        "use the grey levels x as they are: do not binarize":
                            reference_cb_negative_elbo(vae, binarized, eps)},
                    _grey_images(5), {
                        BCE_RULE: _loss_with(lambda f, x: _bce_of_sigmoid(f, x)
                                             + reference_cb_log_norm(f)),
                        "torch's CB clamps λ: use your cb_log_norm":
                            _loss_with(lambda f, x: ContinuousBernoulli(logits=f).log_prob(x))},
                    "x f − log(1 + e^f) + log C(f), all from the logits f",
                    distribution="ContinuousBernoulli")


# ---- the training check ------------------------------------------------------------------------
def check_training_lowers_loss(negative_elbo: Callable, x: torch.Tensor, steps: int = 100,
                               seed: int = 0) -> None:
    """About ``steps`` Adam steps of :func:`utils.vae.train_vae` on your loss lower the −ELBO of
    ``x``; run once your loss, and the functions of yours it uses, pass their checks."""
    epochs = max(1, math.ceil(steps / math.ceil(len(x) / 64)))
    env = getattr(negative_elbo, "__globals__", {})
    used = set(getattr(getattr(negative_elbo, "__code__", None), "co_names", ()))
    with seeded(seed):
        vae = VAE(Z_DIM, 128).to(x.device)
        x_eval = fixed_binarization(x[:512], seed)

        def score() -> float:
            torch.manual_seed(seed)                      # the same ε before and after training
            return evaluate(vae, x_eval)

        with SelfCheck("training") as sc:
            for name, check in (("reparameterize", check_reparameterize),
                                ("gaussian_kl", check_gaussian_kl)):
                fn = env.get(name)
                if name in used and callable(fn) and fn not in (reference_reparameterize,
                                                                reference_gaussian_kl):
                    sc.require("not run", passes(check, fn), f"fix `{name}` first",
                               "its own check says what is wrong")
            sc.require("not run", passes(check_negative_elbo, negative_elbo),
                       "fix `negative_elbo` first", "its own check says what is wrong")
            before = score()
            sc.call(train_vae, vae, x, None, epochs=epochs, batch_size=64, seed=seed,
                    loss_fn=negative_elbo, desc=None, what="Adam steps on your negative_elbo run")
            after = score()
            sc.true("Adam steps lower the −ELBO by > 10%", after < 0.9 * before,
                    f"{number(before)} → {number(after)} nats per image",
                    "minimise −ELBO; gradients must reach both nets")


ready = make_ready({
    "reparameterize": ("Part 1", check_reparameterize),
    "gaussian_kl": ("Part 2", check_gaussian_kl),
    "negative_elbo": ("Part 3", check_negative_elbo),
    "cb_log_norm": ("Part 5", check_cb_log_norm),
    "cb_negative_elbo": ("Part 5", check_cb_negative_elbo),
})
