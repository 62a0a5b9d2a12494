"""Self-checks for exercise 04: the VAE loss written by hand, and a continuous-Bernoulli decoder.

The student writes ``reparameterize(z_loc, z_log_var, eps=None)`` and ``gaussian_kl(z_loc, z_log_var)``
(the guide parameterised by its log-variance ℓ = log σ², as many VAE codes do; the lecture uses σ),
``negative_elbo(vae, x, eps=None)`` (``vae`` a :class:`utils.vae.VAE`, whose encoder returns σ), and,
for grey-level images, ``cb_log_norm(logits)`` and ``cb_negative_elbo(vae, x, eps=None)``. Each check runs the student's
function on fixed inputs and compares it with a reference; a failure names what differs, by how much,
and the most likely cause, in one line of at most 120 characters. A function built on others is
checked with the *reference* versions of those injected in its place (so one mistake gives one ✗, in
the check of the function that has it), and the training check first asks that every function it
uses passes its own check. Every random number comes from a fixed seed, so a check passes or fails
the same way on every run, and pass lines carry no numbers. The losses must stay exact where the
decoder saturates (logits ±40), the rule of exercise 02: BCE on sigmoid(logits) is not the loss.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch.distributions import ContinuousBernoulli, Independent, Normal, kl_divergence
from torch.nn import functional as F

from . import ExerciseCheck as SelfCheck, make_ready, near, number, passes, seeded, with_references
from ._common import SATURATED, saturate, small_vae, sparse_images
from ..data import fixed_binarization
from ..vae import VAE, evaluate, train_vae
from ..vae import gaussian_kl as reference_kl, negative_elbo as reference_negative_elbo

N, Z_DIM = 128, 2
TOL = 1e-3     # a loss within TOL·(|reference| + 1), atol = rtol = TOL; a typical mistake matched so too


def _inputs(seed: int = 0, n: int = N, z_dim: int = Z_DIM):
    """Fixed guide outputs: z_loc, z_scale (not 1, so variance and std differ) and noise eps."""
    gen = torch.Generator().manual_seed(seed)
    z_loc = torch.randn(n, z_dim, generator=gen)
    z_scale = 0.3 + 1.5 * torch.rand(n, z_dim, generator=gen)
    eps = torch.randn(n, z_dim, generator=gen)
    return z_loc, z_scale, eps


def _logits_as_probs(sc: SelfCheck, fn: Callable, *args, distribution: str = "Bernoulli") -> None:
    """Stop with one line when ``fn(*args)`` fails because it gave the decoder's logits to a
    distribution as probabilities (torch's validation message is a tensor dump)."""
    try:
        with torch.no_grad():
            fn(*args)
    except ValueError as err:
        message = str(err)
        sc.require("Bernoulli on logits", "parameter probs" not in message, "probs outside [0, 1]",
                   f"the decoder returns logits: {distribution}(logits=...)")
    except Exception:   # any other error: sc.call reports it
        pass


# ---- Part 1 · reparameterize --------------------------------------------------------------------
def reference_reparameterize(z_loc: torch.Tensor, z_log_var: torch.Tensor,
                             eps: torch.Tensor | None = None) -> torch.Tensor:
    """z = z_loc + σ ⊙ eps with σ = exp(z_log_var / 2): the guide parameterised by its log-variance."""
    if eps is None:
        eps = torch.randn_like(z_loc)
    return z_loc + torch.exp(0.5 * z_log_var) * eps


def check_reparameterize(reparameterize: Callable) -> None:
    """z = z_loc + exp(z_log_var / 2) ⊙ eps on fixed inputs; gradients reach z_loc and z_log_var;
    own noise when eps is None."""
    z_loc, z_scale, eps = _inputs()
    z_log_var = 2 * z_scale.log()
    with SelfCheck("reparameterize") as sc:
        z = sc.call(reparameterize, z_loc, z_log_var, eps,
                    what="reparameterize(z_loc, z_log_var, eps) runs")
        sc.shape("z", z, (N, Z_DIM), hint="one entry per image and latent dimension, like z_loc")
        sc.close("z = z_loc + exp(z_log_var / 2) ⊙ eps", z, z_loc + z_scale * eps, 1e-5, 1e-5,
                 "z = z_loc + exp(z_log_var / 2) * eps, with the eps given", match=(TOL, TOL), mistakes={
                     "z_log_var is log σ², not σ: σ = exp(z_log_var / 2)": z_loc + z_log_var * eps,
                     "exp(z_log_var) is the variance: σ = exp(z_log_var / 2)": z_loc + z_log_var.exp() * eps})

        loc, log_var = z_loc.clone().requires_grad_(), z_log_var.clone().requires_grad_()
        z = sc.call(reparameterize, loc, log_var, eps, what="reparameterize runs on inputs that need grad",
                    quiet=True)
        sc.shape("z from inputs that need grad", z, (N, Z_DIM), quiet=True)
        sc.true("gradients reach z_loc, z_log_var", z.requires_grad, "z has no gradient",
                "no .detach(), .item(), NumPy or .sample()")
        grad_loc, grad_log_var = torch.autograd.grad(z.sum(), (loc, log_var), allow_unused=True)
        sc.true("∂z/∂z_loc = 1 and ∂z/∂z_log_var = σ·eps/2",
                near(grad_loc, torch.ones_like(loc), 1e-5, 1e-5)
                and near(grad_log_var, 0.5 * z_scale * eps, 1e-5, 1e-5), "wrong gradients",
                "z = z_loc + torch.exp(z_log_var / 2) * eps, in torch")

        with seeded(0):
            n = 200_000
            big_loc = torch.tensor([1.5, -0.5]).expand(n, 2)
            big_std = torch.tensor([0.5, 2.0])
            z = sc.call(reparameterize, big_loc, (2 * big_std.log()).expand(n, 2),
                        what="reparameterize(z_loc, z_log_var) without eps runs")
        sc.require("own noise when eps is None",
                   isinstance(z, torch.Tensor) and z.shape == (n, 2) and z.is_floating_point(),
                   f"got shape {tuple(getattr(z, 'shape', ()))}", "draw eps = torch.randn_like(z_loc)")
        mean, std = z.mean(0), z.std(0)
        sc.true("own noise when eps is None",
                near(mean, big_loc[0], 0.02, 0.02) and near(std, big_std, 0.02, 0.02),
                f"mean {[round(v, 2) for v in mean.tolist()]}, std {[round(v, 2) for v in std.tolist()]}",
                "draw eps = torch.randn_like(z_loc)")


# ---- Part 2 · gaussian_kl -----------------------------------------------------------------------
def reference_gaussian_kl(z_loc: torch.Tensor, z_log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(z_loc, diag exp(z_log_var)) ‖ N(0, I)) per image: ½ Σ_j (μ_j² + e^ℓ_j − 1 − ℓ_j)."""
    return 0.5 * (z_loc.pow(2) + z_log_var.exp() - 1 - z_log_var).sum(-1)


def check_gaussian_kl(gaussian_kl: Callable) -> None:
    """KL(N(z_loc, exp(z_log_var)) ‖ N(0, I)) per image against torch.distributions, and its
    gradient."""
    z_loc, z_scale, _ = _inputs(1)
    z_log_var = 2 * z_scale.log()
    q = Independent(Normal(z_loc, z_scale), 1)
    prior = Independent(Normal(torch.zeros_like(z_loc), torch.ones_like(z_scale)), 1)
    expected = kl_divergence(q, prior)
    with SelfCheck("gaussian_kl") as sc:
        kl = sc.call(gaussian_kl, z_loc, z_log_var, what="gaussian_kl(z_loc, z_log_var) runs")
        sc.shape("KL", kl, (N,), hint="sum over the latent dimension, not over the batch")
        per_dim = 0.5 * (z_loc**2 + z_log_var.exp() - 1 - z_log_var)
        nan_where_negative = (isinstance(kl, torch.Tensor) and kl.shape == (N,)
                              and not torch.isfinite(kl.detach()).all()
                              and bool((z_log_var[~torch.isfinite(kl.detach().cpu())] < 0).any()))
        sc.close("KL vs torch.distributions", kl, expected, 1e-4, 1e-4,
                 "z_log_var can be < 0: σ² = exp(z_log_var)" if nan_where_negative
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
        loc, log_var = z_loc.clone().requires_grad_(), z_log_var.clone().requires_grad_()
        kl = sc.call(gaussian_kl, loc, log_var, what="gaussian_kl runs on inputs that need grad", quiet=True)
        ok = isinstance(kl, torch.Tensor) and kl.requires_grad
        if ok:
            grad_loc, grad_log_var = torch.autograd.grad(kl.sum(), (loc, log_var), allow_unused=True)
            ok = near(grad_loc, z_loc, 1e-4, 1e-4) and near(grad_log_var, 0.5 * (z_log_var.exp() - 1), 1e-4, 1e-4)
        sc.true("∂KL/∂μ = μ, ∂KL/∂ℓ = (e^ℓ − 1)/2", ok, "missing or wrong",
                "torch ops only (no .item(), NumPy, math)")


# ---- Part 3 · negative_elbo ---------------------------------------------------------------------
def _small_vae(seed: int = 0) -> VAE:
    """A small reference VAE with fixed weights, its guide away from the prior (KL of a few nats)."""
    return small_vae(Z_DIM, 0.8, -1.0, seed)


def _grey_images(seed: int = 0, n: int = N) -> torch.Tensor:
    """Fixed grey-level 'images' in [0, 1], with exact 0s and 1s as in MNIST."""
    gen = torch.Generator().manual_seed(seed)
    x = (1.4 * torch.rand(n, 784, generator=gen) ** 3 - 0.2).clamp(0, 1)
    return x


def _check_loss(sc: SelfCheck, loss_fn: Callable, loss: torch.Tensor, vae: VAE, x: torch.Tensor,
                eps: torch.Tensor, expected: torch.Tensor, reference: Callable, hint: str,
                mistakes: dict) -> None:
    """The loss's value ``loss`` on fixed inputs (``hint``, or that of the typical mistake among
    ``mistakes`` that it reproduces, when it differs), that ``loss_fn`` runs without eps, and its
    gradient for every parameter against ``reference``'s."""
    sc.close("−ELBO value", loss, expected, TOL, TOL, hint, mistakes, unit=" nats")
    loss = sc.call(loss_fn, vae, x, what="it runs without eps")
    sc.shape("loss without eps", loss, (N,), quiet=True)
    loss = sc.call(loss_fn, vae, x, eps, quiet=True, what="it runs with gradients on")
    sc.shape("loss with gradients on", loss, (N,), quiet=True)
    sc.gradients("all gradients", loss, reference(vae, x, eps), dict(vae.named_parameters()),
                 "build z with reparameterize, not .detach()")


def _check_saturated(sc: SelfCheck, loss_fn: Callable, reference: Callable, x: torch.Tensor,
                     candidates: dict, hint: str) -> None:
    """The loss stays exact where the decoder saturates (logits ±40), the rule of exercise 02's
    reconstruction loss: BCE on sigmoid(logits) is no longer the log-likelihood there (sigmoid
    rounds to 1, and torch clamps log 0 to −100), and torch's ContinuousBernoulli clamps λ.
    ``hint`` when it does not, or that of the typical mistake among ``candidates`` it reproduces."""
    vae, (_, _, eps) = saturate(_small_vae(), seed=7), _inputs(4)
    with torch.no_grad():
        expected = reference(vae, x, eps)
        loss = sc.call(loss_fn, vae, x, eps, quiet=True, what="it runs on saturated logits")
        sc.shape("loss on saturated logits", loss, (N,), quiet=True)
        wrong = {h: fn(vae, x, eps) for h, fn in candidates.items()}
    sc.close(f"exact at saturated logits (±{SATURATED:.0f})", loss, expected, TOL, TOL, hint, wrong,
             unit=" nats")


def _bce_of_sigmoid(log_norm: Callable | None = None) -> Callable:
    """The typical mistake: −ELBO with F.binary_cross_entropy on sigmoid(logits) (plus log C)."""
    def loss(vae, x, eps):
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(z_loc + z_scale * eps)
        rec = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none")
        extra = log_norm(logits) if log_norm is not None else 0.0
        return reference_kl(z_loc, z_scale) + (rec - extra).sum(-1)
    return loss


NEGATIVE_ELBO_REFERENCES = dict(reparameterize=reference_reparameterize, gaussian_kl=reference_gaussian_kl)
BCE_RULE = "use BCE with logits: no sigmoid (it rounds to 1)"


def check_negative_elbo(negative_elbo: Callable) -> None:
    """−ELBO per image on fixed weights, images and noise; gradients reach encoder and decoder; exact
    where the decoder saturates. Your ``reparameterize`` and ``gaussian_kl`` are replaced by the
    references here (their own checks test them), so this check tests ``negative_elbo`` alone."""
    vae, x = _small_vae(), sparse_images(N)
    _, _, eps = _inputs(2)
    loss_fn = with_references(negative_elbo, **NEGATIVE_ELBO_REFERENCES)
    with torch.no_grad():
        expected = reference_negative_elbo(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        kl = reference_kl(z_loc, z_scale)
        log_px_z = kl - expected
        logits = vae.decoder(z_loc + z_scale * eps)
        scale_as_log_var = (reference_gaussian_kl(z_loc, z_scale) + F.binary_cross_entropy_with_logits(
            vae.decoder(reference_reparameterize(z_loc, z_scale, eps)), x, reduction="none").sum(-1))
    with SelfCheck("negative_elbo") as sc:
        _logits_as_probs(sc, loss_fn, vae, x, eps)
        with torch.no_grad():
            loss = sc.call(loss_fn, vae, x, eps, what="negative_elbo(vae, x, eps) runs")
        sc.shape("loss", loss, (N,), hint="sum over pixels, not over the batch")
        _check_loss(sc, loss_fn, loss, vae, x, eps, expected, reference_negative_elbo,
                    "KL − log p(x|z), z_log_var = 2·log(z_scale), eps given", {
                        "you returned the ELBO; the loss is −ELBO": -expected,
                        "add the KL: −ELBO = −log p(x|z) + KL": -log_px_z - kl,
                        "the KL term is missing": -log_px_z,
                        "the reconstruction term is missing": kl,
                        "pass z_log_var = 2·log(z_scale), not z_scale": scale_as_log_var,
                        "decoder gives logits: use BCE *with_logits*": kl + F.binary_cross_entropy_with_logits(
                            logits.sigmoid(), x, reduction="none").sum(-1)})
        _check_saturated(sc, loss_fn, reference_negative_elbo, sparse_images(N, 5),
                         {BCE_RULE: _bce_of_sigmoid()}, BCE_RULE)


# ---- Part 5 · a continuous-Bernoulli decoder ----------------------------------------------------
def reference_cb_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """log C(λ) of the continuous Bernoulli with λ = sigmoid(logits) (Loaiza-Ganem & Cunningham,
    2019): C = 2 artanh(1 − 2λ) / (1 − 2λ) = f / tanh(f / 2) in the logit f, log 2 at f = 0
    (a Taylor expansion near 0, where the formula is 0/0). Exact for every logit, in the logits'
    dtype: unlike torch's ContinuousBernoulli, which clamps λ away from 0 and 1."""
    small = logits.abs() < 1e-2
    safe = torch.where(small, torch.ones_like(logits), logits)
    taylor = math.log(2.0) + logits**2 / 12 - logits**4 / 720
    return torch.where(small, taylor, torch.log(safe / torch.tanh(safe / 2)))


def reference_cb_negative_elbo(vae: VAE, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """−ELBO per image under a continuous-Bernoulli decoder (grey levels x in [0, 1]), nats."""
    z_loc, z_scale = vae.encoder(x)
    logits = vae.decoder(reference_reparameterize(z_loc, 2 * z_scale.log(), eps))
    log_px_z = (-F.binary_cross_entropy_with_logits(logits, x, reduction="none")
                + reference_cb_log_norm(logits)).sum(-1)
    return reference_kl(z_loc, z_scale) - log_px_z


CB_LOGITS = torch.tensor([-30.0, -8.0, -2.0, -0.3, -1e-4, 0.0, 1e-6, 1e-3, 0.05, 0.7, 3.0, 12.0, 30.0])
TAYLOR_LOGITS = torch.tensor([1e-4, 2e-4], dtype=torch.float64)   # inside any Taylor branch up to 2e-4


def _check_taylor(sc: SelfCheck, cb_log_norm: Callable) -> None:
    """Near 0, log C = log 2 + f²/12 − …: compared in float64, where its f² term is visible, through
    the difference log C(2f) − log C(f) = f²/4 (a constant such as a float32 log 2 cancels). No line
    when the function does not return float64 for float64 logits."""
    f = TAYLOR_LOGITS.clone()
    out = sc.call(cb_log_norm, f, quiet=True, what="cb_log_norm runs on float64 logits")
    if not isinstance(out, torch.Tensor) or out.dtype != torch.float64 or out.shape != f.shape:
        return
    step, expected = out[1] - out[0], (f[1]**2 - f[0]**2) / 12
    sc.close("log 2 + f²/12 near 0 (float64)", step, expected, 1e-3 * expected.item(), 0.0,
             "near 0, log C = log 2 + f²/12 − f⁴/720 + …", mistakes={
                 "log 2 + f²/12, a plus: C is least at f = 0": (-expected, "it falls"),
                 "near 0 add the f²/12 term: log 2 + f²/12": (0 * expected, "it stays flat")})


def check_cb_log_norm(cb_log_norm: Callable) -> None:
    """log C on logits from −30 to 30, 0 and tiny ones included; its f² term near 0 (in float64);
    finite gradient, also at 0."""
    f = CB_LOGITS.clone()
    expected = reference_cb_log_norm(f)
    with SelfCheck("cb_log_norm") as sc:
        out = sc.call(cb_log_norm, f.clone(), what="cb_log_norm(logits) runs")
        sc.shape("log C", out, tuple(f.shape), hint="one value per logit, the shape of logits")
        out = out.detach().to("cpu", torch.float32)
        finite = torch.isfinite(out)
        at_zero, large = f.abs() < 1e-2, f.abs() > 10
        if not finite.any():
            sc.require("finite everywhere", False, "NaN or inf at every logit",
                       "C = f / tanh(f/2) > 0: check the signs inside the log")
        elif not finite.all():
            if finite[~at_zero].all():
                where, hint = "near logits = 0", "at 0 it is 0/0: use its limit, log 2, for small |f|"
            elif finite[~large].all():
                where, hint = "at large |logits|", "λ rounds to 0 or 1: use 1 − 2λ = −tanh(f/2)"
            else:
                where, hint = f"at {int((~finite).sum())} of {len(f)} logits", "C = f / tanh(f/2) > 0 for every f"
            sc.require("finite everywhere", False, f"NaN or inf {where}", hint)
        sc.close("log C, logits −30 … 30", out, expected, 1e-4, 1e-4,
                 "C = 2·artanh(1 − 2λ) / (1 − 2λ), λ = sigmoid(f)", match=(TOL, TOL), mistakes={
                     "a sign is flipped: log C ≥ log 2 > 0": -expected,
                     "return log C, not C": expected.exp()})
        _check_taylor(sc, cb_log_norm)
        g = f.clone().requires_grad_()
        out = sc.call(cb_log_norm, g, quiet=True, what="cb_log_norm runs on logits that need grad")
        ok = isinstance(out, torch.Tensor) and out.requires_grad
        if ok:
            (grad,) = torch.autograd.grad(out.sum(), g, allow_unused=True)
            ok = grad is not None and bool(torch.isfinite(grad).all())
        sc.true("finite gradient at 0", ok, "NaN or missing",
                "torch.where: feed the formula a safe f (e.g. 1) near 0")


def _torch_cb(vae, x, eps):
    """The typical shortcut: torch's ContinuousBernoulli(logits=...).log_prob, whose log C is off
    where |logits| > 15 (it clamps λ)."""
    z_loc, z_scale = vae.encoder(x)
    logits = vae.decoder(z_loc + z_scale * eps)
    return reference_kl(z_loc, z_scale) - ContinuousBernoulli(logits=logits).log_prob(x).sum(-1)


def check_cb_negative_elbo(cb_negative_elbo: Callable) -> None:
    """−ELBO per image under the continuous Bernoulli, on fixed weights, grey images and noise, against
    the course's exact reference (``reference_cb_negative_elbo``, log C = log(f / tanh(f/2)) for every
    logit), also where the decoder saturates; with your ``reparameterize``, ``gaussian_kl`` and
    ``cb_log_norm`` replaced by the references."""
    vae, x = _small_vae(), _grey_images()
    _, _, eps = _inputs(3)
    loss_fn = with_references(cb_negative_elbo, cb_log_norm=reference_cb_log_norm,
                               **NEGATIVE_ELBO_REFERENCES)
    with torch.no_grad():
        expected = reference_cb_negative_elbo(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(z_loc + z_scale * eps)
        log_norm = reference_cb_log_norm(logits).sum(-1)
        try:   # torch clamps probs outside [0, 1] here instead of raising: a silent mistake
            probs_for_logits = reference_kl(z_loc, z_scale) - ContinuousBernoulli(probs=logits).log_prob(x).sum(-1)
        except ValueError:
            probs_for_logits = None
    with SelfCheck("cb_negative_elbo") as sc:
        _logits_as_probs(sc, loss_fn, vae, x, eps, distribution="ContinuousBernoulli")
        with torch.no_grad():
            loss = sc.call(loss_fn, vae, x, eps, what="cb_negative_elbo(vae, x, eps) runs")
        sc.shape("loss", loss, (N,), hint="sum over pixels, not over the batch")
        _check_loss(sc, loss_fn, loss, vae, x, eps, expected, reference_cb_negative_elbo,
                    "KL − Σ_i [x f − log(1 + e^f) + log C(f)]", {
                        "add log C: log p(x|z) = Σ [x f − log(1 + e^f) + log C]": expected + log_norm,
                        "log C is added to log p(x|z), not subtracted": expected + 2 * log_norm,
                        "you returned the ELBO; the loss is −ELBO": -expected,
                        "decoder gives logits: ContinuousBernoulli(logits=...)": probs_for_logits,
                        "use the grey levels x as they are: do not binarize": reference_cb_negative_elbo(
                            vae, torch.bernoulli(x, generator=torch.Generator().manual_seed(0)), eps)})
        _check_saturated(sc, loss_fn, reference_cb_negative_elbo, _grey_images(5),
                         {BCE_RULE: _bce_of_sigmoid(reference_cb_log_norm),
                          "torch's CB clamps λ: use your cb_log_norm": _torch_cb},
                         "x f − log(1 + e^f) + log C(f), all from the logits f")


# ---- the training check -------------------------------------------------------------------------
def _prerequisites(sc: SelfCheck, negative_elbo: Callable, what: str) -> None:
    """Stop with one line unless ``negative_elbo`` and the functions of the student's that it uses
    (looked up among its globals) pass their checks."""
    env = getattr(negative_elbo, "__globals__", {})
    used = set(getattr(getattr(negative_elbo, "__code__", None), "co_names", ()))
    for name, check in (("reparameterize", check_reparameterize), ("gaussian_kl", check_gaussian_kl)):
        fn = env.get(name)
        if name in used and callable(fn) and fn not in (reference_reparameterize, reference_gaussian_kl):
            sc.require(what, passes(check, fn), f"fix `{name}` first", "its own check says what is wrong")
    sc.require(what, passes(check_negative_elbo, negative_elbo), "fix `negative_elbo` first",
               "its own check says what is wrong")


def check_training_lowers_loss(negative_elbo: Callable, x: torch.Tensor, steps: int = 100,
                               seed: int = 0) -> None:
    """About ``steps`` Adam steps of lecture 04's loop (:func:`utils.vae.train_vae`, minibatches of
    64) on your loss must lower the reference −ELBO (:func:`utils.vae.evaluate`) of images ``x``.
    It runs only when your loss, and the functions of yours it uses, pass their checks."""
    epochs = max(1, math.ceil(steps / math.ceil(len(x) / 64)))
    with seeded(seed):
        vae = VAE(Z_DIM, 128).to(x.device)
        x_eval = fixed_binarization(x[:512], seed)

        def score() -> float:
            torch.manual_seed(seed)                      # the same ε before and after training
            return evaluate(vae, x_eval)

        with SelfCheck("training") as sc:
            _prerequisites(sc, negative_elbo, "not run")
            before = score()
            sc.call(train_vae, vae, x, None, epochs=epochs, batch_size=64, seed=seed,
                    loss_fn=negative_elbo, desc=None, what="Adam steps on your negative_elbo run")
            after = score()
            sc.true("Adam steps lower the −ELBO by > 10%", after < 0.9 * before,
                    f"{number(before)} → {number(after)} nats per image",
                    "minimise −ELBO; gradients must reach both nets")


# ---- for the notebook's cells that use the student's functions ---------------------------------
ready = make_ready({
    "reparameterize": ("Part 1", check_reparameterize),
    "gaussian_kl": ("Part 2", check_gaussian_kl),
    "negative_elbo": ("Part 3", check_negative_elbo),
    "cb_log_norm": ("Part 5", check_cb_log_norm),
    "cb_negative_elbo": ("Part 5", check_cb_negative_elbo),
})
