"""Self-checks for exercise 07: EM for a Gaussian mixture, BIC, RLOO, Gumbel-softmax.

The student writes ``e_step(x, weights, means, covariances) -> (resp (N, K), log p(x) (N,))``,
``m_step(x, resp, reg_covar=1e-6) -> (weights (K,), means (K, D), covariances (K, D, D))``,
``bic(x, weights, means, covariances) -> ()``, ``rloo_surrogate(log_q, f) -> (N,)``,
``gumbel_softmax(logits, tau, gumbel=None)`` and ``straight_through(logits, tau, gumbel=None)``,
each (N, K). Each check compares one of them on fixed float64 inputs with :mod:`utils.discrete`
(the M-step on the reference E-step, BIC with the reference E-step, straight-through with the
reference relaxed sample): one mistake, one ✗. Statistical checks allow Z_TOL standard errors.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Callable

import torch
from torch.distributions import MultivariateNormal
from torch.nn import functional as F

from . import make_ready, near, not_a_tensor, number, seeded, with_references
from ._common import SelfCheck, generator, grads, shaped
from .. import discrete

DTYPE = torch.float64
N, D, K = 300, 3, 4              # the mixture checks' data: N points in D dimensions, K components
EM_STEPS, REG = 50, 1e-6         # EM iterations checked against sklearn; sklearn's reg_covar
EXACT = (1e-9, 1e-7)             # float64 against float64: atol, rtol
Z_TOL = 4.0                      # statistical checks: allowed standard errors
R = 20_000                       # repeats of the statistical checks
TAU = 0.5                        # the Gumbel checks' temperature
ROW = torch.tensor([1.0, 0.2, -0.5, 2.0, -1.5, 0.0], dtype=DTYPE)   # the statistical checks' logits
SOFTMAX_HINT = "exp overflows: use .softmax(-1), never exp(...) / sum"


def _e_step(x, weights, means, covariances):
    """The reference E-step as the exercise asks for it: (resp, log p(x_n))."""
    return (discrete.e_step(x, weights, means, covariances),
            discrete.gmm_log_likelihood(x, weights, means, covariances))


# ---- fixed inputs ------------------------------------------------------------------------------
def _mixture(seed: int = 0, n: int = N, d: int = D, k: int = K):
    """(x (n, d), weights (k,), means (k, d), covariances (k, d, d)): data from k clusters and a
    mixture that is not yet fitted to them."""
    gen = generator(seed)
    centres = 3.0 * torch.randn(k, d, generator=gen, dtype=DTYPE)
    x = centres[torch.arange(n) % k] + torch.randn(n, d, generator=gen, dtype=DTYPE)
    weights = torch.arange(1, k + 1, dtype=DTYPE) / (k * (k + 1) / 2)
    means = x[torch.randperm(n, generator=gen)[:k]]
    a = torch.randn(k, d, d, generator=gen, dtype=DTYPE)
    return x, weights, means, a @ a.transpose(1, 2) / d + torch.eye(d, dtype=DTYPE)


@functools.cache
def _sklearn_fit(seed: int, k: int, steps: int) -> tuple[float, Any]:
    """sklearn's GaussianMixture after ``steps`` EM steps from _mixture(seed, k=k)'s parameters:
    (its mean log-likelihood of the data, the fitted model)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture
    x, weights, means, covariances = (t.numpy() for t in _mixture(seed, k=k))
    gm = GaussianMixture(k, covariance_type="full", tol=0.0, reg_covar=REG, max_iter=steps,
                         weights_init=weights, means_init=means,
                         precisions_init=torch.linalg.inv(torch.as_tensor(covariances)).numpy(),
                         init_params="random_from_data", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(x)
    return float(gm.score(x)), gm


# ---- what the student's functions return -------------------------------------------------------
def _posterior(sc: SelfCheck, out: Any, what: str, n: int, k: int) -> tuple:
    """(resp (n, k), log p(x) (n,)) from the student's e_step; else one ✗ line."""
    resp, log_px = sc.unpack(what, out, ("resp", "log_px"), "resp, log_px")
    sc.require(what, not (resp.dim() == 1 and log_px.dim() == 2), "got (log_px, resp)",
               "swap them: `return resp, log_px`")
    shaped(sc, what, "resp has", resp, (n, k), {(k, n): "resp[n, k]: one row per point, (N, K)"},
            "one responsibility per point and component: (N, K)")
    shaped(sc, what, "log_px has", log_px, (n,), {
        (): "one log p(x_n) per point: do not sum or average", (n, k): "logsumexp over k (dim 1)",
        (k,): "logsumexp over the components (dim 1)"}, "one log p(x_n) per point: (N,)")
    return resp, log_px


def _parameters(sc: SelfCheck, out: Any, what: str, k: int, d: int) -> tuple:
    """(weights (k,), means (k, d), covariances (k, d, d)) from the student's m_step."""
    weights, means, covariances = sc.unpack(what, out, ("weights", "means", "covariances"),
                                            "weights, means, covariances")
    shaped(sc, what, "weights have", weights, (k,), {(): "one weight per component: (K,)"},
            "one weight per component: (K,)")
    shaped(sc, what, "means have", means, (k, d), {(d, k): "means[k] is μ_k: shape (K, D)"},
            "one mean per component: (K, D)")
    shaped(sc, what, "covariances have", covariances, (k, d, d), {
        (d, d): "one covariance per component: (K, D, D)",
        (k, N, N): "Σ_k is D × D: diffᵀ @ (r ⊙ diff), not diff @ diffᵀ"},
            "one D × D covariance per component: (K, D, D)")
    return weights, means, covariances


def _sample(sc: SelfCheck, out: Any, what: str, shape: tuple[int, ...]) -> torch.Tensor:
    """A float tensor of ``shape`` from the student's sampler; else one ✗ line."""
    sc.require(what, not_a_tensor("", out) is None, *(not_a_tensor("", out) or ("", "")))
    shaped(sc, what, "got", out, shape, {shape[::-1]: "softmax over the categories (dim -1)"},
            "one vector of K probabilities per row, like logits")
    return out


# ---- the mixture: E-step, M-step, BIC ----------------------------------------------------------
def check_e_step(e_step: Callable) -> None:
    """Responsibilities and log p(x_n) against utils.discrete; far from every mean; another K, D."""
    x, weights, means, covariances = _mixture()
    log_joint = discrete.gmm_log_joint(x, weights, means, covariances)          # (N, K)
    log_density = log_joint - weights.log()
    precision = MultivariateNormal(means, precision_matrix=covariances).log_prob(x[:, None])
    resp_wrong = {
        "normalise over the K components (dim 1): each row sums to 1": log_joint.softmax(0),
        "add log π_k to each component's log-density": log_density.softmax(1),
        "add log π_k, not π_k": (log_density + weights).softmax(1),
        "resp is a probability: softmax, not log_softmax": log_joint.log_softmax(1),
        "Σ_k is a covariance: covariance_matrix=Σ_k": (precision + weights.log()).softmax(1)}
    log_px_wrong = {
        "log p(x_n) = logsumexp over k, not the max": log_joint.max(1).values,
        "log Σ_k π_k N(x; μ_k, Σ_k): logsumexp, not the sum of logs": log_joint.sum(1),
        "log Σ_k π_k N(x; μ_k, Σ_k): logsumexp, not the mean of logs": log_joint.mean(1),
        "add log π_k to each component's log-density": log_density.logsumexp(1),
        "return log p(x_n), not p(x_n)": log_joint.logsumexp(1).exp()}
    far = _mixture(1, d=5, k=2)
    far = (far[0] + 60.0, *far[1:])           # log p(x) ≈ −5800: exp(log joint) underflows to 0
    with SelfCheck("e_step") as sc:
        out = sc.call(e_step, x.clone(), weights.clone(), means.clone(), covariances.clone(),
                      what="it runs")
        resp, log_px = _posterior(sc, out, "returns (resp, log_px)", N, K)
        sc.true("returns (resp, log_px)", True, "")
        sc.close("responsibilities", resp, discrete.e_step(x, weights, means, covariances), *EXACT,
                 "r_nk = π_k N(x_n; μ_k, Σ_k) / Σ_j π_j N(x_n; μ_j, Σ_j)", resp_wrong)
        sc.close("log p(x_n)", log_px, discrete.gmm_log_likelihood(x, weights, means, covariances),
                 *EXACT,
                 "log p(x_n) = logsumexp_k (log π_k + log N(x_n; μ_k, Σ_k))", log_px_wrong)
        out = sc.call(e_step, *(t.clone() for t in far), quiet=True, what="runs at K = 2, D = 5")
        resp, log_px = _posterior(sc, out, "K = 2, D = 5", N, 2)
        ref_resp, ref_log_px = _e_step(*far)
        finite = bool(torch.isfinite(resp).all() and torch.isfinite(log_px).all())
        sc.true(f"far from every mean (log p ≈ {number(ref_log_px.mean())})", finite
                and near(resp, ref_resp, *EXACT) and near(log_px, ref_log_px, 1e-8, 1e-10),
                "NaN or inf" if not finite else "differs from the reference",
                "exp underflows: use logsumexp and softmax in log space" if not finite
                else "take K and D from the arguments")


def check_m_step(m_step: Callable) -> None:
    """One M-step from the reference E-step's responsibilities; reg_covar used; then 50 EM steps
    (reference E-step, your M-step) never lower log p(x) and end at sklearn's log p(x)."""
    x, weights, means, covariances = _mixture()
    resp = discrete.e_step(x, weights, means, covariances)
    ref_weights, ref_means, ref_covariances = discrete.m_step(x, resp, REG)
    n_k, eye = resp.sum(0), torch.eye(D, dtype=DTYPE)
    diff = x[None] - ref_means[:, None]                                          # (K, N, D)
    scatter = diff.transpose(1, 2) @ diff
    weighted = (resp.T[:, :, None] * diff).transpose(1, 2) @ diff
    unweighted = "weight each (x_n − μ_k)(x_n − μ_k)ᵀ by r_nk"
    covariance_wrong = {
        unweighted: scatter / n_k[:, None, None] + REG * eye,
        f"{unweighted} ": scatter / N + REG * eye,
        "divide by N_k = Σ_n r_nk, not N": weighted / N + REG * eye,
        "centre on μ_k: (x_n − μ_k)(x_n − μ_k)ᵀ":
            (resp.T[:, :, None] * x).transpose(1, 2) @ x / n_k[:, None, None] + REG * eye,
        "add reg_covar to each diagonal: Σ_k + reg_covar · I": ref_covariances - REG * eye,
        "add reg_covar to the diagonal only: reg_covar · torch.eye(D)": ref_covariances + REG
        - REG * eye}
    with SelfCheck("m_step") as sc:
        out = sc.call(m_step, x.clone(), resp.clone(), what="it runs")
        got = _parameters(sc, out, "returns (weights, means, covariances)", K, D)
        sc.true("returns (weights, means, covariances)", True, "")
        sc.close("weights π_k", got[0], ref_weights, *EXACT, "π_k = N_k / N, N_k = Σ_n r_nk",
                 {"π_k = N_k / N: divide by the number of points": n_k})
        sc.close("means μ_k", got[1], ref_means, *EXACT, "μ_k = Σ_n r_nk x_n / N_k", {
            "divide by N_k = Σ_n r_nk, not N": resp.T @ x / N,
            "weight each x_n by r_nk": x.mean(0).expand(K, D)})
        sc.close("covariances Σ_k", got[2], ref_covariances, *EXACT,
                 "Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k + reg_covar · I",
                 covariance_wrong)
        out = sc.call(m_step, x.clone(), resp.clone(), 0.1, quiet=True, what="runs, reg_covar=0.1")
        got = _parameters(sc, out, "reg_covar=0.1", K, D)
        sc.close("reg_covar=0.1", got[2], discrete.m_step(x, resp, 0.1)[2], *EXACT,
                 "use the reg_covar argument, not a fixed number")
        log_px = [discrete.gmm_log_likelihood(x, weights, means, covariances).mean()]
        for _ in range(EM_STEPS):
            resp = discrete.e_step(x, weights, means, covariances)
            out = sc.call(m_step, x, resp, quiet=True, what="runs in the EM loop")
            weights, means, covariances = _parameters(sc, out, "in the EM loop", K, D)
            log_px.append(sc.call(discrete.gmm_log_likelihood, x, weights, means, covariances,
                                  quiet=True, what="the EM loop", hint="a covariance is not "
                                  "positive definite: add reg_covar").mean())
        drops = torch.stack(log_px).diff()
        sc.true(f"{EM_STEPS} EM steps never lower log p(x)", bool((drops > -1e-10).all()),
                f"it fell by {number(-drops.min())} nats", "compare each update with the formulas")
        sklearn_log_px = torch.tensor(_sklearn_fit(0, K, EM_STEPS)[0], dtype=DTYPE)
        sc.close(f"after {EM_STEPS} steps: sklearn's log p(x)", log_px[-1], sklearn_log_px, 1e-8,
                 1e-8, "compare each update with the formulas", unit=" nats")


def check_bic(bic: Callable) -> None:
    """BIC = −2 Σ_n log p(x_n) + p log N against sklearn's GaussianMixture.bic, for two fits."""
    bic = with_references(bic, e_step=_e_step)
    with SelfCheck("bic") as sc:
        for i, (seed, k) in enumerate(((0, K), (1, 2))):
            x = _mixture(seed, k=k)[0]
            gm = _sklearn_fit(seed, k, 100)[1]
            params = [torch.as_tensor(a, dtype=DTYPE) for a in (gm.weights_, gm.means_,
                                                                gm.covariances_)]
            out = sc.call(bic, x.clone(), *params, quiet=i > 0, what="it runs")
            sc.require("returns one number", not_a_tensor("", out) is None or
                       isinstance(out, float), *(not_a_tensor("", out) or ("", "")))
            sc.require("returns one number", torch.as_tensor(out).numel() == 1,
                       f"got shape {tuple(torch.as_tensor(out).shape)}",
                       "sum log p(x_n) over the points")
            log_l, n, d = _e_step(x, *params)[1].sum(), len(x), x.shape[1]
            p = (k - 1) + k * d + k * d * (d + 1) // 2
            log_n = math.log(n)
            expected = torch.tensor(gm.bic(x.numpy()), dtype=DTYPE)
            sc.close(f"K = {k}, D = {d}: sklearn's BIC", out, expected, 1e-6, 1e-9,
                     "BIC = −2 Σ_n log p(x_n) + p log N", unit="", mistakes={
                         "the K weights sum to 1: K − 1 free parameters":
                             -2 * log_l + (p + 1) * log_n,
                         "a symmetric D × D covariance has D(D + 1)/2 free parameters":
                             -2 * log_l + (p + k * d * (d - 1) // 2) * log_n,
                         "count the K means too: K · D parameters":
                             -2 * log_l + (p - k * d) * log_n,
                         "−2 × the sum of log p(x_n) over the points, not the mean":
                             -2 * log_l / n + p * log_n,
                         "BIC = −2 log L + p log N: the factor −2": -log_l + p * log_n,
                         "the penalty is p · log N (natural log of the number of points)":
                             -2 * log_l + p * n,
                         "BIC = −2 log L + p log N: a lower BIC is better":
                             2 * log_l - p * log_n})


# ---- RLOO ---------------------------------------------------------------------------------------
S = 4                                                              # samples per image
F_TABLE = torch.tensor([3.0, -1.0, 2.0, 5.0, 0.0, 1.0], dtype=DTYPE) + 10.0   # f(z): far from 0


def _score_terms(logits: torch.Tensor, z: torch.Tensor, theta: torch.Tensor):
    """(log q(z_s) (S, N), f_s (S, N)): f = theta[z] carries a gradient of its own."""
    return logits.log_softmax(-1).gather(-1, z.T).T, theta[z]


def check_rloo_surrogate(rloo_surrogate: Callable) -> None:
    """Value and gradients against utils.discrete.rloo_surrogate on fixed samples; then, over R
    draws, the gradient unbiased against enumeration and less variable than plain REINFORCE's."""
    gen = generator(8)
    n = 64
    logits = (1.5 * torch.randn(n, len(F_TABLE), generator=gen, dtype=DTYPE)).requires_grad_()
    theta = F_TABLE.clone().requires_grad_()
    z = torch.multinomial(logits.detach().softmax(-1), S, True, generator=gen).T      # (S, N)
    log_q, f = _score_terms(logits, z, theta)
    ref = discrete.rloo_surrogate(log_q, f)
    fixed, score = f.detach(), log_q - log_q.detach()
    others = (fixed.sum(0) - fixed) / (S - 1)
    wrong = {
        "leave f_s out: b_s = (Σ_j f_j − f_s)/(S − 1)":
            (f + (fixed - fixed.mean(0)) * score).mean(0),
        "subtract the baseline: (f_s − b_s) · ∇log q_s": (f + fixed * score).mean(0),
        "b_s averages the S − 1 other samples: divide by S − 1":
            (f + (fixed - (fixed.sum(0) - fixed) / S) * score).mean(0),
        "f_s − b_s, not b_s − f_s": (f - (fixed - others) * score).mean(0),
        "the value is mean_s f_s: use (log q − log q.detach())":
            ((fixed - others) * log_q).mean(0),
        "return the surrogate to maximise (mean f), not a loss":
            -(f + (fixed - others) * score).mean(0),
        "average over the S samples (dim 0), do not sum": (f + (fixed - others) * score).sum(0)}

    def grad(out, wrt):
        return torch.autograd.grad(out.sum(), wrt, retain_graph=True, allow_unused=True)[0]

    with SelfCheck("rloo_surrogate") as sc:
        out = sc.call(rloo_surrogate, log_q, f, what="it runs")
        problem = not_a_tensor("", out)
        sc.require("returns (N,)", problem is None, *(problem or ("", "")))
        shaped(sc, "returns (N,)", "got", out, (n,), {
            (S,): "average over the samples (dim 0): one value per image",
            (): "one value per image: do not sum or average over images",
            (S, n): "average over the S samples (dim 0)"}, "one value per image: (N,)")
        sc.true("returns (N,)", True, "")
        sc.close("value = mean of f", out, ref, *EXACT, "the value is mean_s f_s", wrong)
        sc.require("gradient", out.requires_grad, "carries no gradient",
                   "no .detach() on log_q, no .item()")
        g = grad(out, logits)
        sc.require("∇ of log q", g is not None and bool(g.abs().sum() > 0), "none reaches log_q",
                   "score term: (f − b).detach() · (log_q − log_q.detach())")
        sc.close("∇ of log q", g, grad(ref, logits), *EXACT,
                 "(f_s − b_s).detach() · ∇log q_s, averaged over s",
                 {hint: grad(value, logits) for hint, value in wrong.items()})
        sc.close("∇ through f", grad(out, theta), grad(ref, theta), *EXACT,
                 "keep f's own gradient: the value term is f, not f.detach()")
        # R draws: image r of the batch is draw r, with the logits ROW
        leaf = ROW.expand(R, len(ROW)).clone().requires_grad_()
        z = torch.multinomial(ROW.softmax(0).expand(R, len(ROW)), S, True, generator=gen).T
        log_q, f = _score_terms(leaf, z, F_TABLE)
        out = sc.call(rloo_surrogate, log_q, f, quiet=True, what=f"runs on {R:,} draws")
        est = grad(out, leaf)
        q = ROW.softmax(0)
        dlog_q = torch.eye(len(ROW), dtype=DTYPE) - q                     # ∇ log q(k), row k
        exact = (q[:, None] * F_TABLE[:, None] * dlog_q).sum(0)
        se = (est.var(0) / R).sqrt()
        z_score = (est.mean(0) - exact) / se
        sc.true("unbiased: enumeration within s.e.", bool((z_score.abs() < Z_TOL).all()),
                f"{number(z_score.abs().max())} s.e. off", "b_s must not depend on z_s")
        plain = ((q[:, None] * (F_TABLE[:, None] * dlog_q) ** 2).sum(0) - exact**2) / S
        sc.true("variance below plain REINFORCE's", bool(est.var(0).sum() < plain.sum()),
                f"{number(est.var(0).sum())}, plain REINFORCE {number(plain.sum())}",
                "subtract b_s from f_s in the score term")


# ---- Gumbel-softmax and straight-through -------------------------------------------------------
def _logits_and_noise(seed: int = 5, n: int = 64, k: int = 6):
    gen = generator(seed)
    logits = 1.5 * torch.randn(n, k, generator=gen, dtype=DTYPE)
    gumbel = -torch.empty(n, k, dtype=DTYPE).exponential_(generator=gen).log()
    return logits, gumbel


def _gradient(y: torch.Tensor, logits: torch.Tensor, w: torch.Tensor) -> torch.Tensor | None:
    """d(Σ w ⊙ y)/d logits, or None when no gradient reaches the logits."""
    g = grads(w * y, (logits,))
    return None if g is None else g[0]


def _frequencies(sc: SelfCheck, what: str, y: torch.Tensor, hint: str) -> None:
    """The argmax of each row is category k with probability softmax(ROW)_k (Gumbel-max)."""
    p = ROW.softmax(0)
    freq = F.one_hot(y.detach().cpu().argmax(-1), len(ROW)).to(DTYPE).mean(0)
    z = (freq - p) / (p * (1 - p) / len(y)).sqrt()
    sc.true(what, bool((z.abs() < Z_TOL).all()),
            f"{number(z.abs().max())} s.e. from softmax(logits)", hint)


def check_gumbel_softmax(gumbel_softmax: Callable) -> None:
    """softmax((logits + g)/τ) with the given noise; its τ → 0 limit; the gradient; without
    noise: one draw per row, argmax frequencies = softmax(logits), the mean relaxed sample."""
    logits, gumbel = _logits_and_noise()
    ref = discrete.gumbel_softmax(logits, TAU, gumbel)
    wrong = {"add the noise: softmax((logits + g) / τ)": ((logits - gumbel) / TAU).softmax(-1),
             "τ divides the noisy logits, inside the softmax": (logits + gumbel).softmax(-1) / TAU,
             "divide by τ, do not multiply": ((logits + gumbel) * TAU).softmax(-1),
             "divide logits + g by τ, not the logits alone": (logits / TAU + gumbel).softmax(-1),
             "softmax over the categories (dim -1)": ((logits + gumbel) / TAU).softmax(0),
             "return probabilities: softmax, not log_softmax":
                 ((logits + gumbel) / TAU).log_softmax(-1)}
    w = torch.linspace(-1.0, 2.0, logits.shape[1], dtype=DTYPE)
    with SelfCheck("gumbel_softmax") as sc:
        out = sc.call(gumbel_softmax, logits.clone(), TAU, gumbel.clone(), what="it runs")
        y = _sample(sc, out, "returns (N, K)", tuple(logits.shape))
        again = sc.call(gumbel_softmax, logits.clone(), TAU, gumbel.clone(), quiet=True,
                        what="runs again")
        sc.true("same noise, same sample", near(_sample(sc, again, "again", y.shape), y, 1e-12, 0),
                "two calls with the same gumbel differ", "use the given gumbel: draw only if None")
        sc.close(f"τ = {TAU}, given noise", y, ref, *EXACT, "softmax((logits + g) / τ)", wrong)
        out = sc.call(gumbel_softmax, logits.clone(), 1e-4, gumbel.clone(), quiet=True,
                      what="runs at τ = 1e-4")
        hard = F.one_hot((logits + gumbel).argmax(-1), logits.shape[1]).to(DTYPE)
        sc.close("τ → 0: one-hot of argmax(logits + g)",
                 _sample(sc, out, "τ = 1e-4", hard.shape), hard, 1e-6, 0.0, SOFTMAX_HINT)
        leaf = logits.clone().requires_grad_()
        out = sc.call(gumbel_softmax, leaf, TAU, gumbel.clone(), quiet=True,
                      what="runs, gradients on")
        g = _gradient(_sample(sc, out, "with gradients on", hard.shape), leaf, w)
        sc.close("gradient reaches the logits", g, _gradient(discrete.gumbel_softmax(
            leaf, TAU, gumbel), leaf, w), *EXACT, "no .detach(), argmax or .item(): stay in torch")
        with seeded(0):
            out = sc.call(gumbel_softmax, ROW.expand(R, len(ROW)).clone(), 1.0, quiet=True,
                          what="runs without noise")
        y = _sample(sc, out, "without noise", (R, len(ROW))).detach().cpu().to(DTYPE)
        noise_hint = "g = −log(−log u), u ~ U(0, 1), one per entry"
        sc.true("without noise: each row its own draw", not near(y, y[:1].expand_as(y), 1e-6, 0),
                "every row got the same sample", "draw noise of logits' shape: torch.rand_like")
        _frequencies(sc, "without noise: argmax ~ softmax(logits)", y, noise_hint)
        with torch.no_grad():
            ref = discrete.gumbel_softmax(ROW.expand(10 * R, len(ROW)), 1.0, -torch.empty(
                10 * R, len(ROW), dtype=DTYPE).exponential_(generator=generator(6)).log())
        z = (y.mean(0) - ref.mean(0)) / (y.var(0) / R + ref.var(0) / (10 * R)).sqrt()
        sc.true("without noise: mean relaxed sample", bool((z.abs() < Z_TOL).all()),
                f"{number(z.abs().max())} s.e. from the reference", noise_hint)


def check_straight_through(straight_through: Callable) -> None:
    """The one-hot of argmax(logits + g) forwards, the relaxed sample's gradient backwards (with
    the reference gumbel_softmax); without noise: one-hot rows, frequencies = softmax(logits)."""
    straight_through = with_references(straight_through, gumbel_softmax=discrete.gumbel_softmax)
    logits, gumbel = _logits_and_noise(7)
    soft = discrete.gumbel_softmax(logits, TAU, gumbel)
    hard = F.one_hot(soft.argmax(-1), logits.shape[1]).to(DTYPE)
    w = torch.linspace(-1.0, 2.0, logits.shape[1], dtype=DTYPE)
    leaf = logits.clone().requires_grad_()
    ref_grad = _gradient(discrete.gumbel_softmax(leaf, TAU, gumbel), leaf, w)
    at_one = _gradient(discrete.gumbel_softmax(leaf, 1.0, gumbel), leaf, w)
    with SelfCheck("straight_through") as sc:
        out = sc.call(straight_through, leaf, TAU, gumbel.clone(), what="it runs")
        y = _sample(sc, out, "returns (N, K)", tuple(logits.shape))
        one_hot = near(y.sum(-1), torch.ones(len(y)), 1e-6, 0) and near(y.max(-1).values,
                                                                       torch.ones(len(y)), 1e-6, 0)
        sc.close("forward: one-hot of argmax(logits + g)", y, hard, 1e-6, 0.0,
                 "pass `gumbel` on to gumbel_softmax" if one_hot else
                 "y_hard = one_hot(y_soft.argmax(-1)) of the relaxed sample", {
                     "forward the one-hot sample, not the relaxed one": soft,
                     "the argmax of logits + g: the noise picks the category":
                         F.one_hot(logits.argmax(-1), logits.shape[1]).to(DTYPE)})
        g = _gradient(y, leaf, w)
        sc.require("∇ = ∇ y_soft", g is not None and bool(g.abs().sum() > 0),
                   "no gradient reaches the logits", "y = y_hard − y_soft.detach() + y_soft")
        sc.close("∇ = ∇ y_soft", g, ref_grad, *EXACT,
                 "y = y_hard − y_soft.detach() + y_soft", {
                     "y_hard − y_soft.detach() + y_soft: detach the subtracted one": -ref_grad,
                     "the relaxed sample at the given τ": at_one})
        with seeded(1):
            out = sc.call(straight_through, ROW.expand(R, len(ROW)).clone(), 1.0, quiet=True,
                          what="runs without noise")
        y = _sample(sc, out, "without noise", (R, len(ROW))).detach().cpu().to(DTYPE)
        ones = torch.ones(R, dtype=DTYPE)
        sc.true("without noise: one-hot rows", near(y.sum(-1), ones, 1e-6, 0)
                and near(y.max(-1).values, ones, 1e-6, 0), "rows that are not one-hot",
                "y_hard = one_hot(argmax)")
        _frequencies(sc, "without noise: argmax ~ softmax(logits)", y,
                     "gumbel=None: pass it on to gumbel_softmax")


ready = make_ready({
    "e_step": ("Part 1", check_e_step),
    "m_step": ("Part 1", check_m_step),
    "bic": ("Part 2", check_bic),
    "rloo_surrogate": ("Part 3", check_rloo_surrogate),
    "gumbel_softmax": ("Part 4", check_gumbel_softmax),
    "straight_through": ("Part 4", check_straight_through),
})
