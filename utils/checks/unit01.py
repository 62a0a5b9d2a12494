"""Self-checks for exercise 01: PCA, the PPCA maximum-likelihood fit, its posterior, and PPCA
fitted by EM (the E-step and the M-step, which lecture 01 does not write out).

Each check runs the student's function on a small synthetic data set with a known answer.
Symbols as in lecture 01: D data dimensions, d latent dimensions (``z_dim``), eigenvalues λ_i.

A check tests its function against the *reference* versions of what it builds on: the student's
``ppca_mle`` runs with the reference ``pca`` in place of theirs, the E-step with the reference
``ppca_posterior``, and the M-step is fed the reference E-step's output, so one mistake gives one ✗
with the hint that fits it. A group stops at its first ✗ (one hint per function), and every line
is short. :func:`ready` lets a notebook cell that uses the student's functions skip itself with one
line while one of them is unfinished or wrong.
"""
from __future__ import annotations

import math
import types
import warnings
from typing import Any, Callable

import torch

from . import SelfCheck, _Abort, is_stub, make_ready, number
from .._validate import describe, one_line

NOT_WRITTEN = "write your code in place of the `raise` line"


# ---- the reference solutions (what the checks compare with, and inject) ---------------------------
def _pca(x: torch.Tensor, z_dim: int):
    """Reference PCA: (top-d eigenvectors (D, d), all eigenvalues decreasing (D,), mean (D,))."""
    mean = x.mean(0)
    xc = x - mean
    evals, evecs = torch.linalg.eigh(xc.T @ xc / len(x))
    return evecs.flip(1)[:, :z_dim], evals.flip(0), mean


def _ppca_mle(x: torch.Tensor, z_dim: int):
    """Reference closed-form PPCA fit (Tipping & Bishop, 1999): (W, mu, sigma2)."""
    U, lam, mu = _pca(x, z_dim)
    sigma2 = lam[z_dim:].mean()
    return U * (lam[:z_dim] - sigma2).sqrt(), mu, sigma2


def _ppca_posterior(x, W, mu, sigma2):
    """Reference posterior: (z_loc (N, d), z_cov (d, d)) = (M⁻¹Wᵀ(x − μ), σ²M⁻¹)."""
    M = W.T @ W + sigma2 * torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
    return torch.linalg.solve(M, W.T @ (x - mu).T).T, sigma2 * torch.linalg.inv(M)


def _e_step(x, W, mu, sigma2):
    """Reference E-step: (E[z_n] (N, d), E[z_n z_nᵀ] (N, d, d))."""
    M_inv = torch.linalg.inv(W.T @ W + sigma2 * torch.eye(W.shape[1], dtype=W.dtype))
    z_loc, z_cov = (x - mu) @ W @ M_inv, sigma2 * M_inv
    return z_loc, z_cov + z_loc[:, :, None] * z_loc[:, None, :]


def _m_step(x, mu, z_loc, zz):
    """Reference M-step (Bishop, PRML eqs. 12.56–12.57): (W_new (D, d), sigma2_new 0-d)."""
    xc = x - mu
    B = zz.sum(0)
    W = torch.linalg.solve(B, (xc.T @ z_loc).T).T             # [Σ (x_n − μ) E[z_n]ᵀ] B⁻¹
    sigma2 = (xc.pow(2).sum() - 2 * (z_loc * (xc @ W)).sum() + (B * (W.T @ W)).sum()) / xc.numel()
    return W, sigma2


def _log_likelihood(x, W, mu, sigma2) -> float:
    """Average log p(x) of the PPCA marginal N(μ, WWᵀ + σ²I), nats per data point (small D)."""
    L = torch.linalg.cholesky(W @ W.T + sigma2 * torch.eye(x.shape[1], dtype=x.dtype))
    white = torch.linalg.solve_triangular(L, (x - mu).T, upper=False)
    log_det = 2 * L.diagonal().log().sum()
    return (-0.5 * (white.pow(2).sum(0) + log_det + x.shape[1] * math.log(2 * math.pi))).mean().item()


# ---- helpers ------------------------------------------------------------------------------------
def _with_references(fn: Callable, **references: Callable) -> Callable:
    """``fn`` with the given names in its globals replaced by the reference functions (a copy: the
    student's namespace is left alone). Not a plain function (a lambda is one): ``fn`` itself."""
    if not isinstance(fn, types.FunctionType):
        return fn
    namespace = dict(fn.__globals__)
    namespace.update(references)
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def _run(sc: SelfCheck, fn: Callable, *args, what: str = "runs", note: str = "") -> Any:
    """Run the student's ``fn``: its result and a ✓ line (``what`` and ``note``), or one short ✗
    line and stop the group."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(*args)
    except Exception as err:  # the student's bug: one line, not a traceback wall
        if is_stub(err):      # the exercise's stub (not torch's NotImplementedError)
            sc.true(what, False, "not implemented yet", NOT_WRITTEN)
            raise _Abort from None
        message = one_line(err)
        message = message if len(message) <= 36 else message[:35] + "…"
        sc.true(what, False, f"raised {type(err).__name__}: {message}",
                "run it by hand to see the traceback")
        raise _Abort from None
    sc.true(f"{what} {note}".strip(), True, "")
    return result


def _parts(sc: SelfCheck, out, names: tuple[str, ...], what: str) -> tuple:
    """The student's result as one tensor (or number) per name; anything else is one ✗ line
    and stops the group, so that a missing ``return`` is reported, not raised. No pass line."""
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        sc.true(what, False, f"expected ({', '.join(names)}), got {describe(out)}",
                f"return {', '.join(names)}")
        raise _Abort
    for name, part in zip(names, out):
        if not isinstance(part, (torch.Tensor, int, float)) or isinstance(part, bool):
            kind = "a NumPy array" if type(part).__module__ == "numpy" else describe(part)
            sc.true(what, False, f"{name} is {kind}, not a torch tensor",
                    f"return {', '.join(names)} as torch tensors")
            raise _Abort
    return tuple(out)


def _double(value) -> torch.Tensor | None:
    try:
        return torch.as_tensor(value).detach().to("cpu", torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None


def _near(actual, expected: torch.Tensor, atol: float, rtol: float) -> bool:
    a = _double(actual)
    return (a is not None and a.shape == expected.shape and bool(torch.isfinite(a).all())
            and bool(((a - expected).abs() <= atol + rtol * expected.abs()).all()))


def _compare(sc: SelfCheck, what: str, actual, expected: torch.Tensor, hint: str,
             atol: float = 1e-6, rtol: float = 1e-5,
             mistakes: tuple[tuple[Any, str, str], ...] = ()) -> None:
    """✓ when ``actual`` matches ``expected``; else one short ✗ line and stop the group. The ✗ names
    the first of ``mistakes`` (value, problem, hint) whose value the student's result matches;
    otherwise it gives the largest gap and ``hint``."""
    expected = expected.detach().to("cpu", torch.float64)
    a = _double(actual)
    if a is not None and a.numel() == expected.numel() == 1:
        a = a.reshape(expected.shape)      # a number, a 0-d or a one-element tensor: all fine
    if a is None:
        problem = f"expected a tensor, got {describe(actual)}"
    elif a.shape != expected.shape:
        problem = f"expected shape {tuple(expected.shape)}, got {tuple(a.shape)}"
    elif not torch.isfinite(a).all():
        problem = "contains NaN or inf"
    elif _near(a, expected, atol, rtol):
        sc.true(what, True, "")
        return
    else:
        problem = f"off by up to {number((a - expected).abs().max())}"
        for value, mistake, mistake_hint in mistakes:
            if _near(a, value.detach().to("cpu", torch.float64), atol, rtol):
                problem, hint = mistake, mistake_hint
                break
    sc.true(what, False, problem, hint)
    raise _Abort


def _toy_data(n: int = 500, x_dim: int = 6, seed: int = 0) -> torch.Tensor:
    """Correlated Gaussian data with distinct variances along random directions."""
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(x_dim, x_dim, generator=gen, dtype=torch.float64))
    scales = torch.linspace(3.0, 0.5, x_dim, dtype=torch.float64)
    z = torch.randn(n, x_dim, generator=gen, dtype=torch.float64)
    return (z * scales) @ basis.T + torch.linspace(-1, 1, x_dim, dtype=torch.float64)


def _random_model(x: torch.Tensor, z_dim: int, seed: int = 1):
    """A PPCA model that is not the MLE: (W (D, d), mu (D,), sigma2), fixed by ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(x.shape[1], z_dim, generator=gen, dtype=x.dtype), x.mean(0), 0.7


# ---- the checks ---------------------------------------------------------------------------------
def check_pca(pca) -> None:
    """``pca(x, z_dim)`` must return (components (D, d) orthonormal, eigenvalues (D,) descending,
    mean (D,))."""
    x, z_dim = _toy_data(), 2
    n = len(x)
    _, evals, mean = _pca(x, z_dim)
    evecs = torch.linalg.eigh((x - mean).T @ (x - mean))[1].flip(1)
    uncentred = torch.linalg.eigvalsh(x.T @ x / n).flip(0)
    with SelfCheck("pca") as sc:
        out = _run(sc, pca, x, z_dim, note="on 500 points in 6-D")
        W, lam, mu = _parts(sc, out, ("components", "eigenvalues", "mean"), "returns three things")
        sc.shape("components", W, (x.shape[1], z_dim), "one column per component: shape (D, d)")
        sc.shape("eigenvalues", lam, (x.shape[1],), "return all D eigenvalues")
        _compare(sc, "mean", mu, mean, "the mean over images, x.mean(0)", atol=1e-6)
        _compare(sc, "eigenvalues, largest first", lam, evals,
                 "eigenvalues of the covariance of the *centred* data, divided by N",
                 mistakes=((evals * n / (n - 1), "N/(N−1) times the reference",
                            "divide by N, not N − 1 (as torch.cov does)"),
                           (evals.flip(0), "in increasing order",
                            "torch.linalg.eigh sorts them increasing: flip them"),
                           (uncentred, "those of uncentred x",
                            "subtract the mean first (the *centred* data)")))
        W = _double(W)
        _compare(sc, "columns are orthonormal", W.T @ W, torch.eye(z_dim, dtype=W.dtype),
                 "use eigenvectors as columns (evecs[:, i]), not rows")
        top = evecs[:, :z_dim]
        _compare(sc, "components span the top-d eigenvectors", W @ W.T, top @ top.T,
                 "PCA keeps the directions of LARGEST variance")


def check_ppca_mle(ppca_mle) -> None:
    """``ppca_mle(x, z_dim)`` must return (W (D, d), mu (D,), sigma2 float) of Tipping & Bishop.
    It runs with the reference ``pca`` in place of the student's, so a mistake there does not
    show here (the check of ``pca`` reports it)."""
    x, z_dim = _toy_data(), 2
    _, evals, mean = _pca(x, z_dim)
    W_ref, _, sigma2 = _ppca_mle(x, z_dim)
    U = W_ref / (evals[:z_dim] - sigma2).sqrt()
    with SelfCheck("ppca_mle") as sc:
        out = _run(sc, _with_references(ppca_mle, pca=_pca), x, z_dim,
                   note="(with the reference pca, so a mistake there does not show here)")
        W, mu, s2 = _parts(sc, out, ("W", "mu", "sigma2"), "returns three things")
        sc.shape("W", W, (x.shape[1], z_dim), "W maps a d-dim z to a D-dim x: shape (D, d)")
        _compare(sc, "mu is the data mean", mu, mean, "the MLE of mu is the sample mean")
        _compare(sc, "sigma2 = mean of the discarded eigenvalues", s2, sigma2,
                 "average the D − d smallest, eigenvalues[z_dim:]",
                 mistakes=((evals[z_dim:].sum(), "the sum, not the mean",
                            "divide the sum by D − d"),
                           (evals[:z_dim].mean(), "mean of the kept ones",
                            "average eigenvalues[z_dim:]")))
        W = _double(W)
        scaled = U * (evals[:z_dim] - sigma2)
        _compare(sc, "W Wᵀ = U_d (Λ_d − σ²I) U_dᵀ", W @ W.T, W_ref @ W_ref.T,
                 "scale eigenvector i by sqrt(λ_i − σ²)",
                 mistakes=((scaled @ scaled.T, "W scaled by λ_i − σ²",
                            "scale eigenvector i by sqrt(λ_i − σ²)"),
                           ((U * evals[:z_dim].sqrt()) @ (U * evals[:z_dim].sqrt()).T,
                            "W scaled by sqrt(λ_i)", "subtract σ²: sqrt(λ_i − σ²)")))


def check_ppca_posterior(ppca_posterior) -> None:
    """``ppca_posterior(x, W, mu, sigma2, observed=None)`` must return (z_loc (N, d), z_cov (d, d)):
    the posterior given every pixel, then given only the pixels where the boolean mask ``observed``
    (D,) is True (conditioning the joint Gaussian of (z, x_observed), which the lecture does not
    write out)."""
    x = _toy_data(n=8)
    z_dim = 2
    W, mu, sigma2 = _random_model(x, z_dim)
    eye = torch.eye(x.shape[1], dtype=x.dtype)
    # Reference: condition the joint Gaussian of (z, x) on x.
    gain = torch.linalg.solve(W @ W.T + sigma2 * eye, W).T                 # Wᵀ (WWᵀ + σ²I)⁻¹
    z_loc_ref = (x - mu) @ gain.T
    z_cov_ref = torch.eye(z_dim, dtype=x.dtype) - gain @ W
    M = W.T @ W + sigma2 * torch.eye(z_dim, dtype=x.dtype)
    seen = torch.tensor([True, False, True, True, False, True])            # 4 of the 6 pixels
    o = seen.nonzero().squeeze(1)
    gain_o = torch.linalg.solve(W[o] @ W[o].T + sigma2 * torch.eye(len(o), dtype=x.dtype), W[o]).T
    z_loc_o = (x[:, o] - mu[o]) @ gain_o.T
    z_cov_o = torch.eye(z_dim, dtype=x.dtype) - gain_o @ W[o]
    zero_filled = (x * seen - mu) @ gain.T                                  # unseen pixels set to 0
    mean_filled = ((x - mu) * seen) @ gain.T                                # unseen set to their mean
    with SelfCheck("ppca_posterior") as sc:
        out = _run(sc, ppca_posterior, x, W, mu, sigma2)
        z_loc, z_cov = _parts(sc, out, ("z_loc", "z_cov"), "returns two things")
        sc.shape("z_loc", z_loc, (len(x), z_dim), "one posterior mean per image: shape (N, d)")
        sc.shape("z_cov", z_cov, (z_dim, z_dim), "the posterior covariance is the same for every x")
        _compare(sc, "posterior mean M⁻¹Wᵀ(x − μ)", z_loc, z_loc_ref,
                 "M = WᵀW + σ²I (d × d); did you subtract mu first?",
                 mistakes=((x @ gain.T, "the mean of uncentred x", "subtract mu first: x − mu"),))
        _compare(sc, "posterior covariance σ²M⁻¹", z_cov, z_cov_ref, "σ² M⁻¹, not M σ⁻²",
                 mistakes=((torch.linalg.inv(M), "M⁻¹ without σ²", "σ² M⁻¹: multiply by sigma2"),))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out, error = ppca_posterior(x, W, mu, sigma2, observed=seen), None
        except Exception as err:
            out, error = None, err
        if isinstance(error, TypeError) and "observed" in str(error):
            sc.true("4 of 6 seen", False, "takes no argument `observed`",
                    "add the argument observed=None")
            raise _Abort
        if error is not None:   # the student's bug, reported in one line by _run
            out = _run(sc, lambda: ppca_posterior(x, W, mu, sigma2, observed=seen),
                       what="4 of 6 seen: runs")
        z_loc, z_cov = _parts(sc, out, ("z_loc", "z_cov"), "4 of 6 seen")
        ignored = "use only the seen pixels: x[:, observed], W[observed]"
        _compare(sc, "4 of 6 seen: mean", z_loc, z_loc_o, ignored,
                 mistakes=((z_loc_ref, "the mean given every pixel", ignored),
                           (zero_filled, "unseen pixels as 0", ignored),
                           (mean_filled, "unseen pixels as μ", "drop the unseen rows of W too")))
        _compare(sc, "4 of 6 seen: covariance", z_cov, z_cov_o,
                 "σ² M_o⁻¹ with M_o = W_oᵀW_o + σ²I (W_o: the seen rows)",
                 mistakes=((z_cov_ref, "the covariance given every pixel",
                            "M_o = W_oᵀW_o + σ²I: only the seen rows of W"),))


def check_ppca_e_step(ppca_e_step) -> None:
    """``ppca_e_step(x, W, mu, sigma2)`` must return (E[z_n] (N, d), E[z_n z_nᵀ] (N, d, d)).
    It runs with the reference ``ppca_posterior`` in place of the student's."""
    x, z_dim = _toy_data(n=8), 2
    W, mu, sigma2 = _random_model(x, z_dim)
    z_loc_ref, zz_ref = _e_step(x, W, mu, sigma2)
    z_cov = _ppca_posterior(x, W, mu, sigma2)[1]
    outer = zz_ref - z_cov
    M = W.T @ W + sigma2 * torch.eye(z_dim, dtype=x.dtype)
    with SelfCheck("ppca_e_step") as sc:
        out = _run(sc, _with_references(ppca_e_step, ppca_posterior=_ppca_posterior),
                   x, W, mu, sigma2, note="(with the reference ppca_posterior)")
        z_loc, zz = _parts(sc, out, ("z_loc", "zz"), "returns two things")
        sc.shape("E[z_n]", z_loc, (len(x), z_dim), "one posterior mean per image: shape (N, d)")
        sc.shape("E[z_n z_nᵀ]", zz, (len(x), z_dim, z_dim), "one d × d matrix per image: (N, d, d)")
        _compare(sc, "E[z_n] = M⁻¹Wᵀ(x_n − μ)", z_loc, z_loc_ref,
                 "the posterior mean of Part 3 (ppca_posterior)")
        _compare(sc, "E[z_n z_nᵀ] = σ²M⁻¹ + E[z_n] E[z_n]ᵀ", zz, zz_ref,
                 "E[z zᵀ] = Cov[z | x] + E[z] E[z]ᵀ",
                 mistakes=((outer, "E[z_n] E[z_n]ᵀ alone", "add the posterior covariance σ²M⁻¹"),
                           (z_cov.expand_as(zz_ref), "σ²M⁻¹ alone",
                            "add each image's outer product E[z_n] E[z_n]ᵀ"),
                           (outer + M / sigma2, "M σ⁻² + E[z_n] E[z_n]ᵀ",
                            "the covariance is σ² M⁻¹, not M σ⁻²")))


def check_ppca_m_step(ppca_m_step) -> None:
    """``ppca_m_step(x, mu, z_loc, zz)`` must return (W_new (D, d), sigma2_new) of (M1) and (M2) in
    the notebook (Bishop, PRML eqs. 12.56–12.57), given the reference E-step's z_loc and zz. Then EM (the reference E-step and the
    student's M-step) must climb the log-likelihood to the closed-form maximum."""
    x, z_dim = _toy_data(n=200), 2
    n, x_dim = x.shape
    W0, mu, sigma2 = _random_model(x, z_dim)
    z_loc, zz = _e_step(x, W0, mu, sigma2)
    W_ref, s2_ref = _m_step(x, mu, z_loc, zz)
    s2_raw = _m_step(x, torch.zeros_like(mu), z_loc, zz)[1]
    W_outer = torch.linalg.solve(z_loc.T @ z_loc, (x - mu).T @ z_loc, left=False)
    with SelfCheck("ppca_m_step") as sc:
        out = _run(sc, ppca_m_step, x, mu, z_loc.clone(), zz.clone(), note="(given the reference E-step)")
        W, s2 = _parts(sc, out, ("W", "sigma2"), "returns two things")
        sc.shape("W", W, (x_dim, z_dim), "W maps a d-dim z to a D-dim x: shape (D, d)")
        _compare(sc, "W_new, eq. (M1)", W, W_ref,
                 "(x − mu).T @ z_loc, times the inverse of zz.sum(0)",
                 mistakes=((W_outer, "divided by Σ E[z_n] E[z_n]ᵀ",
                            "use zz.sum(0) = Σ E[z_n z_nᵀ], which holds σ²M⁻¹"),))
        _compare(sc, "σ²_new, eq. (M2)", s2, s2_ref,
                 "sum the three terms of (M2) over n, with W_new; divide by N·D",
                 mistakes=((s2_ref * x_dim, "D times the reference", "divide by N·D, not N"),
                           (s2_ref * n, "N times the reference", "divide by N·D, not D"),
                           (s2_raw, "σ²_new of uncentred x", "use x − mu, not x")))

        def em(iterations: int = 100):
            W, s2, trace = W0, torch.tensor(sigma2, dtype=x.dtype), []
            for _ in range(iterations):
                W, s2 = ppca_m_step(x, mu, *_e_step(x, W, mu, s2))
                W, s2 = _double(W), _double(s2).reshape(())
                trace.append(_log_likelihood(x, W, mu, s2))
            return W, s2, torch.tensor(trace, dtype=torch.float64)

        W, s2, trace = _run(sc, em, what="100 EM iterations run",
                            note="(the reference E-step, your M-step)")
        W_mle, _, s2_mle = _ppca_mle(x, z_dim)
        best = _log_likelihood(x, W_mle, mu, s2_mle)
        drop = (trace[:-1] - trace[1:]).max().item()
        sc.true("the log-likelihood never decreases", drop < 1e-9,
                f"it fell by up to {number(drop)} nats in one iteration",
                "EM never lowers log p(x): compare your M-step with (M1) and (M2)")
        if not sc.true("it reaches the closed-form maximum (Part 2)", abs(trace[-1] - best) < 1e-6,
                       f"{number(trace[-1].item())} vs {number(best)} nats",
                       "compare your M-step with (M1) and (M2)"):
            raise _Abort
        _compare(sc, "W Wᵀ and σ² equal the closed form (W only up to a rotation)",
                 torch.cat([(W @ W.T).flatten(), s2.reshape(1)]),
                 torch.cat([(W_mle @ W_mle.T).flatten(), s2_mle.reshape(1)]),
                 "compare your M-step with (M1) and (M2)", atol=1e-5, rtol=1e-4)


# ---- for the notebook's cells that use the student's functions -------------------------------------
_PARTS: dict[str, tuple[str, Callable[[Callable], None]]] = {
    "pca": ("Part 1", check_pca),
    "ppca_mle": ("Part 2", check_ppca_mle),
    "ppca_posterior": ("Part 3", check_ppca_posterior),
    "ppca_e_step": ("Part 5", check_ppca_e_step),
    "ppca_m_step": ("Part 5", check_ppca_m_step),
}

ready = make_ready(_PARTS)
