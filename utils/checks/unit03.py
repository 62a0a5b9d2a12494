"""Self-checks for unit 03: REINFORCE, pathwise and baseline estimators, and the VAE surrogate.

The student's estimators have the signature ``estimator(f, mu, sigma, eps) -> (R, 2)``: from noise
``eps`` of shape (R, S) (R independent estimates of S samples each, z = mu + sigma * eps) they return
the S-sample estimates of (d/dmu, d/dsigma) E_{N(mu, sigma^2)}[f(z)]. The checks compare them with
exact answers: analytic gradients, and exact variances computed by numerical integration. Every
statistical check uses a fixed seed, so it passes or fails the same way on every run; tolerances are
4 standard errors of the quantity checked.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch.distributions import Normal

from . import ExerciseCheck as SelfCheck, make_ready, near, number, passes, seeded
from ._common import binary_images, noise
from ..vae import VAE, gaussian_kl, log_likelihood, negative_elbo
from ..vae import reinforce_negative_elbo as surrogate

DTYPE = torch.float64
MU, SIGMA = 0.5, 0.8          # sigma != 1, so a missing 1/sigma factor shows
SHIFT, OMEGA = 2.0, 4.0       # quadratic shift, cosine frequency (omega * sigma > 1)
N_REPEATS, N_SAMPLES = 50_000, 4
Z_TOL = 4.0                   # tolerance in standard errors

_GRID = torch.linspace(-12.0, 12.0, 4001, dtype=DTYPE)
_PDF = torch.exp(-0.5 * _GRID**2) / math.sqrt(2 * math.pi)


def _expect(g: torch.Tensor) -> torch.Tensor:
    """E[g(eps)] for eps ~ N(0, 1), g given on _GRID along dim 0 (trapezoid rule)."""
    return torch.trapezoid(g * _PDF.reshape(-1, *[1] * (g.dim() - 1)), _GRID, dim=0)


COSTS = {
    "quadratic": dict(f=lambda z: (z - SHIFT) ** 2, slope=lambda z: 2 * (z - SHIFT),
                      grad=(2 * (MU - SHIFT), 2 * SIGMA)),
    "cosine": dict(f=lambda z: torch.cos(OMEGA * z), slope=lambda z: -OMEGA * torch.sin(OMEGA * z),
                   grad=(-OMEGA * math.sin(OMEGA * MU) * math.exp(-0.5 * (OMEGA * SIGMA) ** 2),
                         -OMEGA**2 * SIGMA * math.cos(OMEGA * MU) * math.exp(-0.5 * (OMEGA * SIGMA) ** 2))),
}


def exact_variances(cost: str, estimator: str, n_samples: int = N_SAMPLES) -> torch.Tensor:
    """Exact variance (2,) of an n_samples estimate: 'reinforce', 'pathwise' or 'loo' (leave-one-out)."""
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
    """Call the student's estimator on one cost; check the output's shape; return it as float64
    (a result with NaN or inf is one ✗ line and stops the group)."""
    out = sc.call(fn, COSTS[cost]["f"], MU, SIGMA, eps.clone(), quiet=quiet,
                  what=f"{label} runs on the {cost} cost")
    sc.shape("output", out, (eps.shape[0], 2), hint="average over the S samples", quiet=quiet)
    out = out.detach().to("cpu", DTYPE)
    sc.require(f"estimates ({cost})", bool(torch.isfinite(out).all()), "NaN or inf",
               "look for a division by zero or an overflow")
    return out


def _statistics(sc: SelfCheck, cost: str, est: torch.Tensor, mean: torch.Tensor,
                variance: torch.Tensor, hint: str, names: Callable[[int], str]) -> None:
    """Two checks of R independent estimates ``est`` (R, k): unbiased (their average within Z_TOL
    standard errors of the exact ``mean``) and the exact ``variance`` (their variance within Z_TOL
    standard errors, from the fourth moment). A ✗ names the worst component (``names``)."""
    centred = est - est.mean(0)
    s2, m4 = centred.pow(2).mean(0), centred.pow(4).mean(0)
    se_mean = (est.std(0) / math.sqrt(len(est))).clamp_min(1e-300)
    se_variance = ((m4 - s2**2) / len(est)).sqrt().clamp_min(1e-300)
    for what, z in ((f"unbiased ({cost})", (est.mean(0) - mean) / se_mean),
                    (f"variance ({cost})", (s2 - variance) / se_variance)):
        worst = int(z.abs().argmax())
        sc.true(what, bool((z.abs() < Z_TOL).all()), f"{number(z[worst].abs())} s.e. off ({names(worst)})",
                hint)


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


REINFORCE_HINT = "average f(z) · (eps, eps² − 1) / sigma"
PATHWISE_HINT = "average f'(z) · (1, eps), f'(z) by autograd"
LOO_HINT = "b_s = (row sum of f − f_s) / (S − 1)"

# Typical mistakes of each estimator, as functions of (f, mu, sigma, eps), with their hints: when
# the student's estimates equal one of them on the check's own noise, its hint is the one shown.
MISTAKES = {
    "reinforce": {
        "divide by sigma: (eps, eps² − 1) / sigma":
            lambda f, m, s, e: _ref_reinforce(f, m, s, e) * s,
        "the sigma score is (eps² − 1) / sigma":
            lambda f, m, s, e: (f(m + s * e).unsqueeze(-1) * torch.stack([e / s, e**2 / s], -1)).mean(-2),
    },
    "pathwise": {
        "dz/dsigma = eps, not 1":
            lambda f, m, s, e: _ref_pathwise(f, m, s, e, torch.ones_like(e)),
        "that is REINFORCE: use f'(z) · (1, eps)": _ref_reinforce,
    },
    "loo": {
        "leave f_s out of its own baseline":
            lambda f, m, s, e: _ref_loo(f, m, s, e, leave_out=False),
        "subtract the baseline b_s from f(z_s)": _ref_reinforce,
    },
}


def _mistake(est: torch.Tensor, estimator: str, cost: str, eps: torch.Tensor, default: str) -> str:
    """The hint of the typical mistake that ``est`` reproduces on noise ``eps``, else ``default``."""
    for hint, wrong in MISTAKES[estimator].items():
        expected = wrong(COSTS[cost]["f"], MU, SIGMA, eps).detach()
        if near(est, expected, 1e-9, 1e-6):   # the same float64 arithmetic as the student's
            return hint
    return default


def _check_estimator(name: str, fn: Callable, seed: int, label: str, estimator: str,
                     hint: str) -> None:
    """The checks of one estimator ``fn``, for each cost in turn: it runs on fixed noise (seed
    ``seed`` + the cost's index) with output shape (R, 2), is unbiased, and has the exact variance
    of ``estimator`` (a name for :func:`exact_variances`). ``label`` names it in the printed lines;
    a typical mistake (:data:`MISTAKES`) gets its own hint."""
    with SelfCheck(name) as sc:
        for i, cost in enumerate(COSTS):
            eps = noise((N_REPEATS, N_SAMPLES), seed + i, DTYPE)
            est = _estimates(sc, fn, cost, eps, label)
            _statistics(sc, cost, est, torch.tensor(COSTS[cost]["grad"], dtype=DTYPE),
                        exact_variances(cost, estimator), _mistake(est, estimator, cost, eps, hint),
                        ["d/dmu", "d/dsigma"].__getitem__)


def check_reinforce(reinforce_estimate: Callable) -> None:
    """REINFORCE: runs, has shape (R, 2), is unbiased, and has the exact variance, for both costs."""
    _check_estimator("reinforce_estimate", reinforce_estimate, 10, "REINFORCE", "reinforce",
                     REINFORCE_HINT)


def check_pathwise(pathwise_estimate: Callable) -> None:
    """Pathwise: runs, has shape (R, 2), is unbiased, and has the exact variance, for both costs."""
    _check_estimator("pathwise_estimate", pathwise_estimate, 20, "pathwise", "pathwise",
                     PATHWISE_HINT)


def check_loo_baseline(reinforce_loo_estimate: Callable) -> None:
    """REINFORCE with a leave-one-out baseline: unbiased, with the exact variance, for both costs."""
    _check_estimator("reinforce_loo_estimate", reinforce_loo_estimate, 30, "REINFORCE + baseline",
                     "loo", LOO_HINT)


def check_variance_order(reinforce_estimate: Callable, pathwise_estimate: Callable,
                         reinforce_loo_estimate: Callable) -> None:
    """The variances come out in the right order: quadratic PW < LOO < SF; cosine SF < PW. Each
    estimator must first pass its own check (else one line says which to fix first)."""
    fns = {"REINFORCE": reinforce_estimate, "pathwise": pathwise_estimate,
           "REINFORCE + baseline": reinforce_loo_estimate}
    checks = [(check_reinforce, reinforce_estimate, "reinforce_estimate"),
              (check_pathwise, pathwise_estimate, "pathwise_estimate"),
              (check_loo_baseline, reinforce_loo_estimate, "reinforce_loo_estimate")]
    with SelfCheck("variance order") as sc:
        for check, fn, name in checks:
            sc.require("not checked", passes(check, fn), f"fix `{name}` first",
                       "its own check says what is wrong")
        var = {}
        for cost in COSTS:
            eps = noise((20_000, N_SAMPLES), 40, DTYPE)
            for label, fn in fns.items():
                var[cost, label] = _estimates(sc, fn, cost, eps, label, quiet=True).var(0)

        def order(cost, labels):
            ranked = sorted(labels, key=lambda k: var[cost, k].sum().item())
            return "got " + " < ".join(ranked)
        q = {label: var["quadratic", label] for label in fns}
        sc.true("order (quadratic): pathwise < REINFORCE + baseline < REINFORCE",
                bool((q["pathwise"] < q["REINFORCE + baseline"]).all()
                     and (q["REINFORCE + baseline"] < q["REINFORCE"]).all()),
                order("quadratic", fns))
        c = {label: var["cosine", label] for label in ("REINFORCE", "pathwise")}
        sc.true("order (fast cosine): REINFORCE < pathwise", bool((c["REINFORCE"] < c["pathwise"]).all()),
                order("cosine", c))


def _flat(grads) -> torch.Tensor:
    return torch.cat([g.flatten() for g in grads])


def _grads(loss: object, params: list) -> torch.Tensor | None:
    """The flat gradient of ``loss.sum()`` w.r.t. ``params`` (zeros where unused), None if it has none."""
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return None
    return _flat(torch.autograd.grad(loss.sum(), params, allow_unused=True, materialize_grads=True,
                                     retain_graph=True))


def _same_gradient(sc: SelfCheck, what: str, g: torch.Tensor | None, ref: torch.Tensor, hint: str,
                   mistakes: dict | None = None) -> None:
    """The flat gradient ``g`` equals ``ref``: atol = 1e-5 + 1e-4 × ref's largest entry (the entries
    near 0 carry the float32 error of the largest); a typical mistake within 1e-3 × it."""
    scale = ref.abs().max().item()
    if g is None:
        sc.true(what, False, "no gradient reaches them", hint)
    sc.close(what, g, ref, 1e-5 + 1e-4 * scale, 0.0, hint, mistakes, match=(1e-5 + 1e-3 * scale, 0.0))


DETACH_HINT = "detach z: only the score term carries the encoder's gradient"
BASELINE_HINT = "score term: (log p(x|z) − b).detach()"


def check_reinforce_surrogate(reinforce_negative_elbo: Callable, x: torch.Tensor | None = None,
                              repeats: int = 100) -> None:
    """The VAE surrogate, against the reference (:func:`utils.vae.reinforce_negative_elbo`) on
    fixed weights and noise: its value is −ELBO = KL − log p(x|z), the decoder sees a detached z,
    the decoder gradient is the pathwise one, and the encoder gradient is the REINFORCE one, with
    and without a baseline. Then (``repeats`` > 0) the statistics: the encoder gradient is unbiased,
    and a baseline near E[log p(x|z)] lowers its variance."""
    x = binary_images(32) if x is None else x
    with SelfCheck("reinforce_negative_elbo") as sc:
        with seeded(0):
            vae = VAE(z_dim=2, hidden_dim=32).to(x.device)
        eps = noise((len(x), 2), 50).to(x.device)
        decoder_inputs: list[bool] = []
        hook = vae.decoder.register_forward_pre_hook(
            lambda module, args: decoder_inputs.append(bool(args and getattr(args[0], "requires_grad", False))))
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
        sc.require("value = KL − log p(x|z)", bool(torch.isfinite(out).all()), "contains NaN or inf",
                   "log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)")
        log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)
        sc.close("value = −ELBO = KL − log p(x|z)", out, target, 1e-5, 1e-5,
                 "did you use the eps you were given?", unit=" nats", mistakes={
                     "include the KL term: gaussian_kl(...)": (-log_px.detach(), "no KL term"),
                     "return −ELBO, not the ELBO": (-target, "its sign is flipped"),
                     "multiply by (log_q − log_q.detach())": ((target - log_px * log_q).detach(),
                                                              "score term ≠ 0")})
        sc.true("z detached", not any(decoder_inputs), "z needs grad", DETACH_HINT)
        dec, enc = list(vae.decoder.parameters()), list(vae.encoder.parameters())
        _same_gradient(sc, "decoder gradient = pathwise", _grads(out, dec),
                       _grads(negative_elbo(vae, x, eps), dec), "detach log p(x|z) in the score term")
        g_ref = _grads(surrogate(vae, x, eps, 0.0), enc)
        _same_gradient(sc, "encoder gradient, b = 0", _grads(out, enc), g_ref,
                       "z detached; then subtract the score term", mistakes={
                           DETACH_HINT: g_ref + _grads(-log_px, enc),
                           "the score term needs a minus sign": 2 * _grads(kl, enc) - g_ref,
                           "the score term is missing": _grads(kl, enc)})
        baseline = log_px.mean().item()
        out_b = sc.call(reinforce_negative_elbo, vae, x, eps.clone(), baseline, quiet=True,
                        what="reinforce_negative_elbo runs with a baseline")
        _same_gradient(sc, "encoder gradient, b ≠ 0", _grads(out_b, enc),
                       _grads(surrogate(vae, x, eps, baseline), enc), BASELINE_HINT)
        if repeats > 0:
            _surrogate_statistics(sc, reinforce_negative_elbo, vae, x, baseline, repeats)


def _surrogate_statistics(sc: SelfCheck, fn: Callable, vae: VAE, x: torch.Tensor, baseline: float,
                          repeats: int) -> None:
    """The encoder gradient (output-layer biases) over ``repeats`` noise draws: unbiased against the
    pathwise one, and less variable with the baseline than without."""
    heads = [vae.encoder.loc.bias, vae.encoder.log_scale.bias]

    def moments(loss_fn, *args):
        gen = torch.Generator().manual_seed(51)       # the same draws for every estimator
        grads = []
        for _ in range(repeats):
            e = torch.randn(len(x), 2, generator=gen).to(x.device)
            grads.append(_flat(torch.autograd.grad(loss_fn(vae, x, e, *args).mean(), heads)))
        g = torch.stack(grads).cpu().double()
        return g.mean(0), g.var(0)

    m_pw, v_pw = moments(negative_elbo)
    m_sf, v_sf = moments(fn, baseline)
    _, v_sf0 = moments(fn, 0.0)
    z = (m_sf - m_pw) / ((v_sf + v_pw) / repeats).sqrt().clamp_min(1e-300)
    worst = int(z.abs().argmax())
    sc.true(f"encoder gradient unbiased ({repeats} draws vs pathwise)",
            bool((z.abs() < Z_TOL).all()), f"{z[worst].item():+.1f} standard errors apart",
            "z detached; then subtract the score term")
    sc.true("a baseline ≈ E[log p(x|z)] lowers the variance",
            bool(v_sf.sum() < 0.9 * v_sf0.sum()),
            f"with it {number(v_sf.sum())}, without {number(v_sf0.sum())}", BASELINE_HINT)


# ---- REINFORCE for a Bernoulli latent (exercise part 6) -----------------------------------------
# q(z) = Π_d Bernoulli(z_d; sigmoid(logits_d)) over D = 4 bits; the exact gradient of E_q[f(z)] is
# a sum over the 2^D = 16 vectors z (enumeration), and so is the exact variance of the estimator.
BERN_LOGITS = torch.tensor([0.4, -1.2, 0.9, 2.0], dtype=DTYPE)
BERN_REPEATS, BERN_SAMPLES = 40_000, 4
_W = torch.tensor([1.0, -2.0, 1.5, 0.5], dtype=DTYPE)
BERNOULLI_COSTS = {
    "weighted sum": lambda z: ((torch.as_tensor(z, dtype=DTYPE) * _W).sum(-1) - 1.0) ** 2,
    "and/or": lambda z: (4.0 * z[..., 0] * (1 - z[..., 1]) + z[..., 2] * z[..., 3]).to(DTYPE),
}


def configurations(d: int) -> torch.Tensor:
    """All 2^d binary vectors of length d, shape (2^d, d), float64."""
    return torch.tensor([[(i >> j) & 1 for j in range(d)] for i in range(2**d)], dtype=DTYPE)


def _bernoulli_terms(f: Callable, logits: torch.Tensor):
    """(q(z), f(z), score(z)) for every z of :func:`configurations`; score = z − sigmoid(logits)."""
    p = torch.sigmoid(logits)
    z = configurations(len(logits))
    q = (p**z * (1 - p) ** (1 - z)).prod(-1)
    return q, f(z), z - p


def bernoulli_exact_gradient(f: Callable, logits: torch.Tensor) -> torch.Tensor:
    """∇_logits E_q[f(z)] by enumeration: Σ_z q(z) f(z) (z − sigmoid(logits)), shape (D,)."""
    q, fz, score = _bernoulli_terms(f, logits.detach().to(DTYPE))
    return (q[:, None] * fz[:, None] * score).sum(0)


def bernoulli_exact_variance(f: Callable, logits: torch.Tensor, n_samples: int = BERN_SAMPLES) -> torch.Tensor:
    """Exact variance (D,) of the n_samples REINFORCE estimate, by enumeration."""
    q, fz, score = _bernoulli_terms(f, logits.detach().to(DTYPE))
    g = fz[:, None] * score
    return ((q[:, None] * g**2).sum(0) - (q[:, None] * g).sum(0) ** 2) / n_samples


def _bernoulli_reinforce(f, logits, u, flip=False, score="logits"):
    p = torch.sigmoid(logits)
    z = ((u > p) if flip else (u < p)).to(DTYPE)
    s = {"logits": z - p, "minus": p - z, "probs": z / p - (1 - z) / (1 - p)}[score]
    return (f(z).unsqueeze(-1) * s).mean(-2)


BERNOULLI_MISTAKES = {
    "z = 1 when u < sigmoid(logits)":
        lambda f, l, u: _bernoulli_reinforce(f, l, u, flip=True),
    "score = z − sigmoid(logits), not p − z":
        lambda f, l, u: _bernoulli_reinforce(f, l, u, score="minus"),
    "score in p; in the logits: z − p":
        lambda f, l, u: _bernoulli_reinforce(f, l, u, score="probs"),
}
BERNOULLI_HINT = "average f(z) · (z − sigmoid(logits)) over S"


def check_bernoulli_reinforce(bernoulli_reinforce: Callable) -> None:
    """For each cost: shape (R, D); unbiased against the exact (enumerated) gradient; the exact
    (enumerated) variance. A typical mistake, recognised on the same noise, gets its own hint."""
    with SelfCheck("bernoulli_reinforce") as sc:
        for i, (cost, f) in enumerate(BERNOULLI_COSTS.items()):
            u = torch.rand(BERN_REPEATS, BERN_SAMPLES, len(BERN_LOGITS), dtype=DTYPE,
                           generator=torch.Generator().manual_seed(60 + i))
            out = sc.call(bernoulli_reinforce, f, BERN_LOGITS.clone(), u.clone(),
                          what=f"bernoulli_reinforce runs ({cost})")
            sc.shape("output", out, (len(u), len(BERN_LOGITS)), quiet=i > 0,
                     hint="average over the S samples")
            est = out.detach().to("cpu", DTYPE)
            sc.require(f"estimates ({cost})", bool(torch.isfinite(est).all()), "NaN or inf",
                       "the score needs no division by p or 1 − p")
            hint = next((h for h, wrong in BERNOULLI_MISTAKES.items()
                         if near(est, wrong(f, BERN_LOGITS, u), 1e-9, 1e-6)), BERNOULLI_HINT)
            _statistics(sc, cost, est, bernoulli_exact_gradient(f, BERN_LOGITS),
                        bernoulli_exact_variance(f, BERN_LOGITS), hint, "logit {}".format)


def check_bernoulli_exact_gradient(exact_gradient: Callable) -> None:
    """The enumerated gradient (D,) for each cost at two settings of the logits (D = 4 and 3)."""
    settings = [BERN_LOGITS, torch.tensor([-0.5, 1.5, 0.0], dtype=DTYPE)]
    with SelfCheck("bernoulli_exact_gradient") as sc:
        for cost, f in BERNOULLI_COSTS.items():
            for logits in settings:
                d = len(logits)
                g = f if d == 4 else (lambda z, f=f: f(torch.cat([z, torch.ones_like(z[..., :1])], -1)))
                out = sc.call(exact_gradient, g, logits.clone(), quiet=True,
                              what=f"bernoulli_exact_gradient runs ({cost}, D = {d})")
                sc.shape(f"gradient ({cost}, D = {d})", out, (d,), quiet=True,
                         hint="one value per logit: shape (D,)")
                q, fz, score = _bernoulli_terms(g, logits)
                p, weighted = torch.sigmoid(logits), (q[:, None] * fz[:, None] * score).sum(0)
                sc.close(f"{cost}, D = {d}", out, bernoulli_exact_gradient(g, logits), 1e-5, 1e-6,
                         "sum q(z) f(z) over all 2^D z, then autograd", mistakes={
                             "weight each z by q(z) = Π p^z (1 − p)^(1 − z)": (fz[:, None] * score).sum(0),
                             "that is the gradient in p: times p(1 − p)": weighted / (p * (1 - p)),
                             "a sign is flipped": -weighted})


# ---- for the notebook's cells that use the student's functions ---------------------------------
ready = make_ready({
    "reinforce_estimate": ("Part 1", check_reinforce),
    "pathwise_estimate": ("Part 2", check_pathwise),
    "reinforce_loo_estimate": ("Part 3", check_loo_baseline),
    "reinforce_negative_elbo": ("Part 5", lambda fn: check_reinforce_surrogate(fn, repeats=0)),
    "bernoulli_exact_gradient": ("Part 6", check_bernoulli_exact_gradient),
    "bernoulli_reinforce": ("Part 6", check_bernoulli_reinforce),
})
