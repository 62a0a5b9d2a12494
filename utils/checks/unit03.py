"""Self-checks for exercise 03: REINFORCE, pathwise and baseline estimators, the VAE surrogate.

An estimator ``(f, mu, sigma, eps (R, S)) -> (R, 2)`` gives R estimates of S samples each of
(d/dmu, d/dsigma) E_{N(mu, sigma²)}[f(z)]; the checks compare them with exact answers (gradients,
variances by integration or enumeration) on fixed seeds, within 4 standard errors.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch.distributions import Normal

from . import ExerciseCheck as SelfCheck, first_match, make_ready, number, passes, seeded
from ._common import binary_images, generator, grads, noise
from ..vae import VAE, gaussian_kl, log_likelihood, negative_elbo
from ..vae import reinforce_negative_elbo as surrogate

DTYPE = torch.float64
MU, SIGMA = 0.5, 0.8          # sigma != 1, so a missing 1/sigma factor shows
SHIFT, OMEGA = 2.0, 4.0       # quadratic shift, cosine frequency (omega * sigma > 1)
N_REPEATS, N_SAMPLES = 50_000, 4
Z_TOL = 4.0                   # tolerance in standard errors

_GRID = torch.linspace(-12.0, 12.0, 4001, dtype=DTYPE)
_PDF = torch.exp(-0.5 * _GRID**2) / math.sqrt(2 * math.pi)
_DECAY = math.exp(-0.5 * (OMEGA * SIGMA) ** 2)
COSTS = {
    "quadratic": dict(f=lambda z: (z - SHIFT) ** 2, slope=lambda z: 2 * (z - SHIFT),
                      grad=(2 * (MU - SHIFT), 2 * SIGMA)),
    "cosine": dict(f=lambda z: torch.cos(OMEGA * z), slope=lambda z: -OMEGA * torch.sin(OMEGA * z),
                   grad=(-OMEGA * math.sin(OMEGA * MU) * _DECAY,
                         -OMEGA**2 * SIGMA * math.cos(OMEGA * MU) * _DECAY)),
}


def _expect(g: torch.Tensor) -> torch.Tensor:
    """E[g(eps)] for eps ~ N(0, 1), g given on _GRID along dim 0 (trapezoid rule)."""
    return torch.trapezoid(g * _PDF.reshape(-1, *[1] * (g.dim() - 1)), _GRID, dim=0)


def exact_variances(cost: str, estimator: str, n_samples: int = N_SAMPLES) -> torch.Tensor:
    """Exact variance (2,) of an n_samples estimate: 'reinforce', 'pathwise' or 'loo'."""
    c = COSTS[cost]
    z = MU + SIGMA * _GRID
    fz = c["f"](z)[:, None]
    score = torch.stack([_GRID / SIGMA, (_GRID**2 - 1) / SIGMA], -1)
    if estimator == "pathwise":
        g = c["slope"](z)[:, None] * torch.stack([torch.ones_like(_GRID), _GRID], -1)
        return (_expect(g**2) - _expect(g) ** 2) / n_samples
    if estimator == "reinforce":
        g = fz * score
        return (_expect(g**2) - _expect(g) ** 2) / n_samples
    if estimator == "loo":
        m, G = _expect(fz), _expect(fz * score)
        v = _expect(fz**2) - m**2
        return (_expect((fz - m) ** 2 * score**2) - G**2
                + (v * _expect(score**2) + G**2) / (n_samples - 1)) / n_samples
    raise ValueError(f"unknown estimator {estimator!r}")


def _estimates(sc: SelfCheck, fn: Callable, cost: str, eps: torch.Tensor, label: str,
               quiet: bool = False) -> torch.Tensor:
    """The student's estimates (R, 2) on one cost, as float64; else one ✗ line, and a stop."""
    out = sc.call(fn, COSTS[cost]["f"], MU, SIGMA, eps.clone(), quiet=quiet,
                  what=f"{label} runs on the {cost} cost")
    sc.shape("output", out, (eps.shape[0], 2), hint="average over the S samples", quiet=quiet)
    out = out.detach().to("cpu", DTYPE)
    sc.require(f"estimates ({cost})", bool(torch.isfinite(out).all()), "NaN or inf",
               "look for a division by zero or an overflow")
    return out


def _statistics(sc: SelfCheck, cost: str, est: torch.Tensor, mean: torch.Tensor,
                variance: torch.Tensor, hint: str, names: Callable[[int], str]) -> None:
    """R estimates ``est`` (R, k) are unbiased and have the exact ``variance``, within Z_TOL
    standard errors (the variance's from the fourth moment); a ✗ names the worst component."""
    centred = est - est.mean(0)
    s2, m4 = centred.pow(2).mean(0), centred.pow(4).mean(0)
    se_mean = (est.std(0) / math.sqrt(len(est))).clamp_min(1e-300)
    se_variance = ((m4 - s2**2) / len(est)).sqrt().clamp_min(1e-300)
    for what, z in ((f"unbiased ({cost})", (est.mean(0) - mean) / se_mean),
                    (f"variance ({cost})", (s2 - variance) / se_variance)):
        worst = int(z.abs().argmax())
        sc.true(what, bool((z.abs() < Z_TOL).all()),
                f"{number(z[worst].abs())} s.e. off ({names(worst)})", hint)


# ---- the estimators: references, and the typical mistakes with their hints ---------------------
def _score(eps: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.stack([eps / sigma, (eps**2 - 1) / sigma], dim=-1)


def _ref_reinforce(f, mu, sigma, eps):
    return (f(mu + sigma * eps).unsqueeze(-1) * _score(eps, sigma)).mean(-2)


def _ref_pathwise(f, mu, sigma, eps, dz_dsigma=None):
    z = (mu + sigma * eps).detach().requires_grad_()
    (df,) = torch.autograd.grad(f(z).sum(), z)
    dz = torch.stack([torch.ones_like(eps), eps if dz_dsigma is None else dz_dsigma], -1)
    return (df.unsqueeze(-1) * dz).mean(-2)


def _ref_loo(f, mu, sigma, eps, leave_out=True):
    fz = f(mu + sigma * eps)
    b = ((fz.sum(-1, keepdim=True) - fz) / (eps.shape[-1] - 1) if leave_out
         else fz.mean(-1, keepdim=True))
    return ((fz - b).unsqueeze(-1) * _score(eps, sigma)).mean(-2)


MISTAKES = {   # estimator: hint → the mistaken estimator, recognised on the check's own noise
    "reinforce": {
        "divide by sigma: (eps, eps² − 1) / sigma":
            lambda f, m, s, e: _ref_reinforce(f, m, s, e) * s,
        "the sigma score is (eps² − 1) / sigma":
            lambda f, m, s, e: (f(m + s * e).unsqueeze(-1)
                                * torch.stack([e / s, e**2 / s], -1)).mean(-2),
    },
    "pathwise": {
        "dz/dsigma = eps, not 1": lambda f, m, s, e: _ref_pathwise(f, m, s, e, torch.ones_like(e)),
        "that is REINFORCE: use f'(z) · (1, eps)": _ref_reinforce,
    },
    "loo": {
        "leave f_s out of its own baseline":
            lambda f, m, s, e: _ref_loo(f, m, s, e, leave_out=False),
        "subtract the baseline b_s from f(z_s)": _ref_reinforce,
    },
}


def _check_estimator(name: str, fn: Callable, seed: int, label: str, estimator: str,
                     hint: str) -> None:
    """One estimator on each cost: shape (R, 2), unbiased, the exact variance of ``estimator``;
    a typical mistake gets its own hint."""
    with SelfCheck(name) as sc:
        for i, cost in enumerate(COSTS):
            eps = noise((N_REPEATS, N_SAMPLES), seed + i, DTYPE)
            est = _estimates(sc, fn, cost, eps, label)
            f = COSTS[cost]["f"]
            wrong = {h: w(f, MU, SIGMA, eps).detach() for h, w in MISTAKES[estimator].items()}
            _statistics(sc, cost, est, torch.tensor(COSTS[cost]["grad"], dtype=DTYPE),
                        exact_variances(cost, estimator), first_match(est, wrong, 1e-9, 1e-6, hint),
                        ["d/dmu", "d/dsigma"].__getitem__)


def check_reinforce(reinforce_estimate: Callable) -> None:
    """REINFORCE: shape (R, 2), unbiased, the exact variance, for both costs."""
    _check_estimator("reinforce_estimate", reinforce_estimate, 10, "REINFORCE", "reinforce",
                     "average f(z) · (eps, eps² − 1) / sigma")


def check_pathwise(pathwise_estimate: Callable) -> None:
    """Pathwise: shape (R, 2), unbiased, the exact variance, for both costs."""
    _check_estimator("pathwise_estimate", pathwise_estimate, 20, "pathwise", "pathwise",
                     "average f'(z) · (1, eps), f'(z) by autograd")


def check_loo_baseline(reinforce_loo_estimate: Callable) -> None:
    """REINFORCE with a leave-one-out baseline: unbiased, the exact variance, for both costs."""
    _check_estimator("reinforce_loo_estimate", reinforce_loo_estimate, 30, "REINFORCE + baseline",
                     "loo", "b_s = (row sum of f − f_s) / (S − 1)")


def check_variance_order(reinforce_estimate: Callable, pathwise_estimate: Callable,
                         reinforce_loo_estimate: Callable) -> None:
    """Once each estimator passes its own check: quadratic PW < LOO < SF; cosine SF < PW."""
    fns = {"REINFORCE": (reinforce_estimate, check_reinforce, "reinforce_estimate"),
           "pathwise": (pathwise_estimate, check_pathwise, "pathwise_estimate"),
           "REINFORCE + baseline": (reinforce_loo_estimate, check_loo_baseline,
                                    "reinforce_loo_estimate")}
    with SelfCheck("variance order") as sc:
        for fn, check, name in fns.values():
            sc.require("not checked", passes(check, fn), f"fix `{name}` first",
                       "its own check says what is wrong")
        eps = noise((20_000, N_SAMPLES), 40, DTYPE)
        var = {(cost, label): _estimates(sc, fn, cost, eps, label, quiet=True).var(0)
               for cost in COSTS for label, (fn, _, _) in fns.items()}
        for cost, title, order in (("quadratic", "quadratic",
                                    ["pathwise", "REINFORCE + baseline", "REINFORCE"]),
                                   ("cosine", "fast cosine", ["REINFORCE", "pathwise"])):
            ranked = sorted([k for k in fns if k in order], key=lambda k: var[cost, k].sum().item())
            ordered = all(bool((var[cost, a] < var[cost, b]).all())
                          for a, b in zip(order, order[1:]))
            sc.true(f"order ({title}): " + " < ".join(order), ordered, "got " + " < ".join(ranked))


# ---- the VAE surrogate -------------------------------------------------------------------------
def _same_gradient(sc: SelfCheck, what: str, params: list, loss: object, reference: torch.Tensor,
                   hint: str, mistakes: dict | None = None) -> None:
    """The gradient of ``loss`` w.r.t. ``params`` equals the ``reference`` loss's within 1e-5 +
    1e-4 × its largest entry (float32 noise); a typical mistake (hint → its loss) is matched
    within 1e-3 × it."""
    ref, g = grads(reference, params, flat=True), grads(loss, params, flat=True)
    scale = ref.abs().max().item()
    if g is None:
        sc.true(what, False, "no gradient reaches them", hint)
    wrong = {h: grads(value, params, flat=True) for h, value in (mistakes or {}).items()}
    sc.close(what, g, ref, 1e-5 + 1e-4 * scale, 0.0, hint, wrong,
             match=(1e-5 + 1e-3 * scale, 0.0))


DETACH_HINT = "detach z: only the score term carries the encoder's gradient"
BASELINE_HINT = "score term: (log p(x|z) − b).detach()"


def check_reinforce_surrogate(reinforce_negative_elbo: Callable, x: torch.Tensor | None = None,
                              repeats: int = 100) -> None:
    """The VAE surrogate against :func:`utils.vae.reinforce_negative_elbo`: value, detached z,
    gradients with and without a baseline; then (``repeats`` > 0) the encoder gradient unbiased,
    and less variable with a baseline near E[log p(x|z)]."""
    x = binary_images(32) if x is None else x
    with SelfCheck("reinforce_negative_elbo") as sc:
        with seeded(0):
            vae = VAE(z_dim=2, hidden_dim=32).to(x.device)
        eps = noise((len(x), 2), 50).to(x.device)
        decoder_inputs: list[bool] = []
        hook = vae.decoder.register_forward_pre_hook(lambda module, args: decoder_inputs.append(
            bool(args and getattr(args[0], "requires_grad", False))))
        try:
            out = sc.call(reinforce_negative_elbo, vae, x, eps.clone(), 0.0,
                          what="reinforce_negative_elbo runs on a small VAE")
        finally:
            hook.remove()
        sc.shape("−ELBO per image", out, (len(x),), hint="sum over pixels, not over images")
        z_loc, z_scale = vae.encoder(x)
        z = z_loc + z_scale * eps
        log_px = log_likelihood(vae, x, z)
        kl = gaussian_kl(z_loc, z_scale)
        target = negative_elbo(vae, x, eps).detach()
        sc.require("value = KL − log p(x|z)", bool(torch.isfinite(out).all()),
                   "contains NaN or inf", "log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)")
        log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)
        sc.close("value = −ELBO = KL − log p(x|z)", out, target, 1e-5, 1e-5,
                 "did you use the eps you were given?", unit=" nats", mistakes={
                     "include the KL term: gaussian_kl(...)": (-log_px.detach(), "no KL term"),
                     "return −ELBO, not the ELBO": (-target, "its sign is flipped"),
                     "multiply by (log_q − log_q.detach())":
                         ((target - log_px * log_q).detach(), "score term ≠ 0")})
        sc.true("z detached", not any(decoder_inputs), "z needs grad", DETACH_HINT)
        dec, enc = list(vae.decoder.parameters()), list(vae.encoder.parameters())
        _same_gradient(sc, "decoder gradient = pathwise", dec, out, negative_elbo(vae, x, eps),
                       "detach log p(x|z) in the score term")
        reference = surrogate(vae, x, eps, 0.0)
        _same_gradient(sc, "encoder gradient, b = 0", enc, out, reference,
                       "z detached; then subtract the score term", mistakes={
                           DETACH_HINT: reference - log_px,
                           "the score term needs a minus sign": 2 * kl - reference,
                           "the score term is missing": kl})
        baseline = log_px.mean().item()
        out_b = sc.call(reinforce_negative_elbo, vae, x, eps.clone(), baseline, quiet=True,
                        what="reinforce_negative_elbo runs with a baseline")
        _same_gradient(sc, "encoder gradient, b ≠ 0", enc, out_b,
                       surrogate(vae, x, eps, baseline), BASELINE_HINT)
        if repeats <= 0:
            return
        # the statistics of the encoder gradient (output-layer biases) over `repeats` draws
        heads = [vae.encoder.loc.bias, vae.encoder.log_scale.bias]

        def moments(loss_fn, *args):
            gen = generator(51)       # the same draws for every estimator
            grads = []
            for _ in range(repeats):
                e = torch.randn(len(x), 2, generator=gen).to(x.device)
                grads.append(torch.cat(torch.autograd.grad(loss_fn(vae, x, e, *args).mean(),
                                                           heads)))
            g = torch.stack(grads).cpu().double()
            return g.mean(0), g.var(0)

        m_pw, v_pw = moments(negative_elbo)
        m_sf, v_sf = moments(reinforce_negative_elbo, baseline)
        _, v_sf0 = moments(reinforce_negative_elbo, 0.0)
        z = (m_sf - m_pw) / ((v_sf + v_pw) / repeats).sqrt().clamp_min(1e-300)
        worst = int(z.abs().argmax())
        sc.true(f"encoder gradient unbiased ({repeats} draws vs pathwise)",
                bool((z.abs() < Z_TOL).all()), f"{z[worst].item():+.1f} standard errors apart",
                "z detached; then subtract the score term")
        sc.true("a baseline ≈ E[log p(x|z)] lowers the variance",
                bool(v_sf.sum() < 0.9 * v_sf0.sum()),
                f"with it {number(v_sf.sum())}, without {number(v_sf0.sum())}", BASELINE_HINT)


# ---- REINFORCE for a Bernoulli latent (exercise part 6) ----------------------------------------
# q(z) = Π_d Bernoulli(z_d; sigmoid(logits_d)) over D = 4 bits: the exact gradient of E_q[f(z)],
# and the exact variance of the estimator, are sums over the 2^D = 16 vectors z.
BERN_LOGITS = torch.tensor([0.4, -1.2, 0.9, 2.0], dtype=DTYPE)
BERN_REPEATS, BERN_SAMPLES = 40_000, 4
_W = torch.tensor([1.0, -2.0, 1.5, 0.5], dtype=DTYPE)
BERNOULLI_COSTS = {
    "weighted sum": lambda z: ((torch.as_tensor(z, dtype=DTYPE) * _W).sum(-1) - 1.0) ** 2,
    "and/or": lambda z: (4.0 * z[..., 0] * (1 - z[..., 1]) + z[..., 2] * z[..., 3]).to(DTYPE),
}


def _bernoulli_terms(f: Callable, logits: torch.Tensor):
    """(q(z), f(z), score(z) = z − sigmoid(logits)) for each of the 2^D binary vectors z."""
    p = torch.sigmoid(logits)
    d = len(logits)
    z = torch.tensor([[(i >> j) & 1 for j in range(d)] for i in range(2**d)], dtype=DTYPE)
    return (p**z * (1 - p) ** (1 - z)).prod(-1), f(z), z - p


def bernoulli_exact_gradient(f: Callable, logits: torch.Tensor) -> torch.Tensor:
    """∇_logits E_q[f(z)] by enumeration: Σ_z q(z) f(z) (z − sigmoid(logits)), shape (D,)."""
    q, fz, score = _bernoulli_terms(f, logits.detach().to(DTYPE))
    return (q[:, None] * fz[:, None] * score).sum(0)


def bernoulli_exact_variance(f: Callable, logits: torch.Tensor,
                             n_samples: int = BERN_SAMPLES) -> torch.Tensor:
    """The exact variance (D,) of the n_samples REINFORCE estimate, by enumeration."""
    q, fz, score = _bernoulli_terms(f, logits.detach().to(DTYPE))
    g = fz[:, None] * score
    return ((q[:, None] * g**2).sum(0) - (q[:, None] * g).sum(0) ** 2) / n_samples


def _bernoulli_reinforce(f, logits, u, flip=False, score="logits"):
    p = torch.sigmoid(logits)
    z = ((u > p) if flip else (u < p)).to(DTYPE)
    s = {"logits": z - p, "minus": p - z, "probs": z / p - (1 - z) / (1 - p)}[score]
    return (f(z).unsqueeze(-1) * s).mean(-2)


def check_bernoulli_reinforce(bernoulli_reinforce: Callable) -> None:
    """For each cost: shape (R, D), unbiased, the enumerated variance; a typical mistake,
    recognised on the same noise, gets its own hint."""
    with SelfCheck("bernoulli_reinforce") as sc:
        for i, (cost, f) in enumerate(BERNOULLI_COSTS.items()):
            u = torch.rand(BERN_REPEATS, BERN_SAMPLES, len(BERN_LOGITS), dtype=DTYPE,
                           generator=generator(60 + i))
            out = sc.call(bernoulli_reinforce, f, BERN_LOGITS.clone(), u.clone(),
                          what=f"bernoulli_reinforce runs ({cost})")
            sc.shape("output", out, (len(u), len(BERN_LOGITS)), quiet=i > 0,
                     hint="average over the S samples")
            est = out.detach().to("cpu", DTYPE)
            sc.require(f"estimates ({cost})", bool(torch.isfinite(est).all()), "NaN or inf",
                       "the score needs no division by p or 1 − p")
            hint = first_match(est, {
                "z = 1 when u < sigmoid(logits)":
                    _bernoulli_reinforce(f, BERN_LOGITS, u, flip=True),
                "score = z − sigmoid(logits), not p − z":
                    _bernoulli_reinforce(f, BERN_LOGITS, u, score="minus"),
                "score in p; in the logits: z − p":
                    _bernoulli_reinforce(f, BERN_LOGITS, u, score="probs")},
                1e-9, 1e-6, "average f(z) · (z − sigmoid(logits)) over S")
            _statistics(sc, cost, est, bernoulli_exact_gradient(f, BERN_LOGITS),
                        bernoulli_exact_variance(f, BERN_LOGITS), hint, "logit {}".format)


def check_bernoulli_exact_gradient(exact_gradient: Callable) -> None:
    """The enumerated gradient (D,) for each cost at two settings of the logits (D = 4 and 3)."""
    settings = [BERN_LOGITS, torch.tensor([-0.5, 1.5, 0.0], dtype=DTYPE)]
    with SelfCheck("bernoulli_exact_gradient") as sc:
        for cost, f in BERNOULLI_COSTS.items():
            for logits in settings:
                d = len(logits)
                g = f if d == 4 else (lambda z, f=f: f(torch.cat([z, torch.ones_like(z[..., :1])],
                                                                 -1)))
                out = sc.call(exact_gradient, g, logits.clone(), quiet=True,
                              what=f"bernoulli_exact_gradient runs ({cost}, D = {d})")
                sc.shape(f"gradient ({cost}, D = {d})", out, (d,), quiet=True,
                         hint="one value per logit: shape (D,)")
                q, fz, score = _bernoulli_terms(g, logits)
                p, weighted = torch.sigmoid(logits), (q[:, None] * fz[:, None] * score).sum(0)
                sc.close(f"{cost}, D = {d}", out, weighted, 1e-5, 1e-6,
                         "sum q(z) f(z) over all 2^D z, then autograd", mistakes={
                             "weight each z by q(z) = Π p^z (1 − p)^(1 − z)":
                                 (fz[:, None] * score).sum(0),
                             "that is the gradient in p: times p(1 − p)": weighted / (p * (1 - p)),
                             "a sign is flipped": -weighted})


ready = make_ready({
    "reinforce_estimate": ("Part 1", check_reinforce),
    "pathwise_estimate": ("Part 2", check_pathwise),
    "reinforce_loo_estimate": ("Part 3", check_loo_baseline),
    "reinforce_negative_elbo": ("Part 5", lambda fn: check_reinforce_surrogate(fn, repeats=0)),
    "bernoulli_exact_gradient": ("Part 6", check_bernoulli_exact_gradient),
    "bernoulli_reinforce": ("Part 6", check_bernoulli_reinforce),
})
