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

from . import SelfCheck
from ..vae import VAE, log_likelihood, negative_elbo

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


def _noise(seed: int, repeats: int = N_REPEATS, n_samples: int = N_SAMPLES) -> torch.Tensor:
    return torch.randn(repeats, n_samples, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def _run(sc: SelfCheck, fn: Callable, cost: str, eps: torch.Tensor, label: str, hint: str) -> torch.Tensor:
    """Call the student's estimator on one cost; check the output's shape; return it as float64."""
    out = sc.call(fn, COSTS[cost]["f"], MU, SIGMA, eps.clone(), what=f"{label} runs on the {cost} cost")
    sc.shape(f"the {label} estimate for the {cost} cost", out, (eps.shape[0], 2),
             hint="return one row per repeat: average over the S samples (the last dimension of eps) "
                  "and stack (d/dmu, d/dsigma) as the last dimension")
    out = out.detach().to(DTYPE).cpu()
    if not torch.isfinite(out).all():
        sc.true(f"{label} estimates are finite", False, "they contain NaN or inf", hint)
    return out


def _quiet(sc: SelfCheck, fn: Callable, label: str, *args) -> torch.Tensor:
    """Run the estimator ``fn`` without a pass line; an error or a result that is not an (R, 2)
    tensor is one ✗ line and stops the group. Returns the result as float64 on the CPU."""
    eps = args[-1]
    out = sc.call(fn, *args, what=f"{label} runs", quiet=True)
    sc.shape(f"the {label} estimate", out, (eps.shape[0], 2), quiet=True,
             hint="return one row per repeat: (d/dmu, d/dsigma) averaged over the samples")
    return out.detach().to(DTYPE).cpu()


def _within_tolerance(sc: SelfCheck, what: str, z: torch.Tensor, got: torch.Tensor, got_name: str,
                      exact: torch.Tensor, exact_name: str, spec: str, hint: str) -> None:
    """Pass when both components (d/dmu, d/dsigma) of the z-scores ``z`` are within Z_TOL standard
    errors; else report the worst one: ``got_name`` is its ``got``, ``exact_name`` its ``exact``,
    both written with the format ``spec``."""
    worst = int(z.abs().argmax())
    name = ["d/dmu", "d/dsigma"][worst]
    sc.true(what, bool((z.abs() < Z_TOL).all()),
            f"{name}: {got_name} is {got[worst].item():{spec}}, {exact_name} is "
            f"{exact[worst].item():{spec}} ({z[worst].item():+.1f} standard errors away)", hint)


def _unbiased(sc: SelfCheck, est: torch.Tensor, cost: str, label: str, hint: str) -> None:
    exact = torch.tensor(COSTS[cost]["grad"], dtype=DTYPE)
    mean, se = est.mean(0), est.std(0) / math.sqrt(len(est))
    _within_tolerance(sc, f"{label} is unbiased for the {cost} cost (mean within {Z_TOL:g} standard errors "
                          f"of the exact gradient)", (mean - exact) / se.clamp_min(1e-300),
                      mean, f"mean of {len(est):,} estimates", exact, "the exact gradient", "+.4f", hint)


def _variance(sc: SelfCheck, est: torch.Tensor, cost: str, estimator: str, label: str, hint: str) -> None:
    exact = exact_variances(cost, estimator)
    centred = est - est.mean(0)
    s2, m4 = centred.pow(2).mean(0), centred.pow(4).mean(0)
    se = ((m4 - s2**2) / len(est)).sqrt().clamp_min(1e-300)
    _within_tolerance(sc, f"{label} has the exact variance for the {cost} cost (within {Z_TOL:g} standard "
                          f"errors; exact value by numerical integration)", (s2 - exact) / se,
                      s2, f"variance of your {N_SAMPLES}-sample estimates", exact, "exact", ".4g", hint)


REINFORCE_HINT = ("the score of N(mu, sigma^2) is ((z - mu) / sigma^2, ((z - mu)^2 - sigma^2) / sigma^3), "
                  "i.e. (eps / sigma, (eps^2 - 1) / sigma); multiply by f(z) and average over the samples")
PATHWISE_HINT = ("with z = mu + sigma * eps, dz/dmu = 1 and dz/dsigma = eps; get f'(z) with "
                 "torch.autograd.grad(f(z).sum(), z) on a z that requires grad")
LOO_HINT = ("the baseline for sample s is the mean of f over the OTHER S - 1 samples of the same row: "
            "(sum of f in the row - f_s) / (S - 1); it must not include f_s itself")


def _check_estimator(name: str, fn: Callable, seed: int, label: str, estimator: str,
                     hint: str) -> None:
    """The checks of one estimator ``fn``, for each cost in turn: it runs on fixed noise (seed
    ``seed`` + the cost's index) with output shape (R, 2), is unbiased, and has the exact variance
    of ``estimator`` (a name for :func:`exact_variances`). ``label`` names it in the printed lines."""
    with SelfCheck(name) as sc:
        for i, cost in enumerate(COSTS):
            est = _run(sc, fn, cost, _noise(seed + i), label, hint)
            _unbiased(sc, est, cost, label, hint)
            _variance(sc, est, cost, estimator, label, hint)


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
    """The variances come out in the right order: quadratic PW < LOO < SF; cosine SF < PW."""
    fns = {"REINFORCE": reinforce_estimate, "pathwise": pathwise_estimate,
           "REINFORCE + baseline": reinforce_loo_estimate}
    with SelfCheck("variance order") as sc:
        var = {}
        for cost in COSTS:
            eps = _noise(40, repeats=20_000)
            for label, fn in fns.items():
                est = _quiet(sc, fn, label, COSTS[cost]["f"], MU, SIGMA, eps.clone())
                var[cost, label] = est.var(0)
        q = {label: var["quadratic", label] for label in fns}
        sc.true("quadratic cost: pathwise < REINFORCE + baseline < REINFORCE (both components)",
                bool((q["pathwise"] < q["REINFORCE + baseline"]).all()
                     and (q["REINFORCE + baseline"] < q["REINFORCE"]).all()),
                "variances (d/dmu, d/dsigma): " + "; ".join(
                    f"{k} ({v[0].item():.3g}, {v[1].item():.3g})" for k, v in q.items()),
                "for a smooth cost the pathwise estimator should win, and a baseline should help REINFORCE")
        c = {label: var["cosine", label] for label in ("REINFORCE", "pathwise")}
        sc.true("fast cosine cost: REINFORCE < pathwise (both components)",
                bool((c["REINFORCE"] < c["pathwise"]).all()),
                "variances (d/dmu, d/dsigma): " + "; ".join(
                    f"{k} ({v[0].item():.3g}, {v[1].item():.3g})" for k, v in c.items()),
                "the pathwise estimator multiplies by f'(z) = -omega sin(omega z), which is large")


def _tiny_vae(device: torch.device) -> VAE:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        vae = VAE(z_dim=2, hidden_dim=32)
    return vae.to(device)


def _flat(grads) -> torch.Tensor:
    return torch.cat([g.flatten() for g in grads])


SURROGATE_HINT = ("sample z = z_loc + z_scale * eps, detach it, and add a term whose value is zero: "
                  "-(log p(x|z) - baseline).detach() * (log_q - log_q.detach())")


def check_reinforce_surrogate(reinforce_negative_elbo: Callable, x: torch.Tensor,
                              repeats: int = 300) -> None:
    """The VAE surrogate: value = -ELBO, decoder gradient = pathwise one, encoder gradient unbiased,
    and a baseline near E[log p(x|z)] lowers the encoder gradient's variance."""
    with SelfCheck("reinforce_negative_elbo") as sc:
        device = x.device
        vae = _tiny_vae(device)
        gen = torch.Generator().manual_seed(50)
        eps = torch.randn(len(x), 2, generator=gen).to(device)
        out = sc.call(reinforce_negative_elbo, vae, x, eps.clone(), 0.0,
                      what="reinforce_negative_elbo runs on a small VAE")
        sc.shape("-ELBO per image", out, (len(x),),
                 hint="return one value per image: sum over pixels and latent dimensions, not over images")
        target = negative_elbo(vae, x, eps)
        gap = (out.detach() - target.detach()).abs().max().item()
        sc.true("its value equals -ELBO (KL - log p(x|z)) for the same noise", gap < 1e-3 + 1e-5 * target.abs().max().item(),
                f"differs from negative_elbo by up to {gap:.3g} nats", SURROGATE_HINT)
        dec = list(vae.decoder.parameters())
        g_ref = _flat(torch.autograd.grad(target.mean(), dec))
        if not out.requires_grad:
            sc.true("its decoder gradient equals the pathwise one for the same noise", False,
                    "the returned tensor has no gradient (did you detach everything?)", SURROGATE_HINT)
            return
        g_out = _flat(torch.autograd.grad(out.mean(), dec, allow_unused=True, materialize_grads=True))
        gap = (g_out - g_ref).abs().max().item()
        sc.true("its decoder gradient equals the pathwise one for the same noise",
                gap < 1e-5 + 1e-4 * g_ref.abs().max().item(),
                f"decoder gradients differ by up to {gap:.3g}",
                "the decoder term is -log p(x|z) with the sampled z; the score term must not add to it")

        heads = [vae.encoder.loc.bias, vae.encoder.log_scale.bias]
        with torch.no_grad():
            z_loc, z_scale = vae.encoder(x)
            z = z_loc + z_scale * torch.randn(len(x), 2, generator=gen).to(device)
            baseline = log_likelihood(vae, x, z).mean().item()

        def moments(loss_fn, *args):
            noise = torch.Generator().manual_seed(51)       # the same draws for every estimator
            grads = []
            for _ in range(repeats):
                e = torch.randn(len(x), 2, generator=noise).to(device)
                grads.append(_flat(torch.autograd.grad(loss_fn(vae, x, e, *args).mean(), heads)))
            g = torch.stack(grads).double().cpu()
            return g.mean(0), g.var(0)

        m_pw, v_pw = moments(negative_elbo)
        try:
            m_sf, v_sf = moments(reinforce_negative_elbo, baseline)
            _, v_sf0 = moments(reinforce_negative_elbo, 0.0)
        except Exception as err:  # noqa: BLE001 - report in one line
            sc.true("encoder gradient can be computed", False, f"raised {type(err).__name__}: {err}",
                    SURROGATE_HINT)
            return
        z = (m_sf - m_pw) / ((v_sf + v_pw) / repeats).sqrt().clamp_min(1e-300)
        worst = int(z.abs().argmax())
        sc.true(f"its encoder gradient is unbiased (mean over {repeats} draws within {Z_TOL:g} standard "
                "errors of the pathwise mean, output-layer biases)", bool((z.abs() < Z_TOL).all()),
                f"an output-layer bias has mean gradient {m_sf[worst].item():+.4g} vs pathwise "
                f"{m_pw[worst].item():+.4g} ({z[worst].item():+.1f} standard errors)",
                "z must be detached (no pathwise gradient), and the score term needs the minus sign: "
                "-ELBO contains -E[log p(x|z)]")
        sc.true("a baseline near E[log p(x|z)] lowers the encoder gradient's variance (same noise)",
                bool(v_sf.sum() < 0.9 * v_sf0.sum()),
                f"total variance with the baseline {v_sf.sum().item():.4g}, without {v_sf0.sum().item():.4g}",
                "subtract the baseline from log p(x|z) inside the score term")
