"""Self-checks for exercise 01: PCA, the PPCA maximum-likelihood fit, its posterior, and PPCA by EM.

Each check runs the student's function on small float64 data (D dimensions, d = ``z_dim``) with
the references of what it builds on (``ppca_mle`` with the reference ``pca``, the E-step with the
reference ``ppca_posterior``, the M-step on the reference E-step): one mistake, one ✗.
"""
from __future__ import annotations

import math

import torch

from . import ExerciseCheck as SelfCheck, make_ready, number, with_references
from ._common import generator

ATOL, RTOL = 1e-6, 1e-5   # the data and references are float64: a float64 result matches closely


# ---- the reference solutions (what the checks compare with, and inject) ------------------------
def _pca(x: torch.Tensor, z_dim: int):
    """(top-d eigenvectors (D, d), all eigenvalues decreasing (D,), mean (D,))."""
    mean = x.mean(0)
    xc = x - mean
    evals, evecs = torch.linalg.eigh(xc.T @ xc / len(x))
    return evecs.flip(1)[:, :z_dim], evals.flip(0), mean


def _ppca_mle(x: torch.Tensor, z_dim: int):
    """The closed-form PPCA fit (Tipping & Bishop, 1999): (W, mu, sigma2)."""
    U, lam, mu = _pca(x, z_dim)
    sigma2 = lam[z_dim:].mean()
    return U * (lam[:z_dim] - sigma2).sqrt(), mu, sigma2


def _ppca_posterior(x, W, mu, sigma2):
    """(z_loc (N, d), z_cov (d, d)) = (M⁻¹Wᵀ(x − μ), σ²M⁻¹), M = WᵀW + σ²I."""
    M = W.T @ W + sigma2 * torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
    return torch.linalg.solve(M, W.T @ (x - mu).T).T, sigma2 * torch.linalg.inv(M)


def _ppca_e_step(x, W, mu, sigma2):
    """(E[z_n] (N, d), E[z_n z_nᵀ] (N, d, d))."""
    z_loc, z_cov = _ppca_posterior(x, W, mu, sigma2)
    return z_loc, z_cov + z_loc[:, :, None] * z_loc[:, None, :]


def _ppca_m_step(x, mu, z_loc, zz):
    """Bishop, PRML eqs. 12.56–12.57: (W_new (D, d), sigma2_new 0-d)."""
    xc = x - mu
    B = zz.sum(0)
    W = torch.linalg.solve(B, (xc.T @ z_loc).T).T             # [Σ (x_n − μ) E[z_n]ᵀ] B⁻¹
    sigma2 = (xc.pow(2).sum() - 2 * (z_loc * (xc @ W)).sum() + (B * (W.T @ W)).sum()) / xc.numel()
    return W, sigma2


def _log_likelihood(x, W, mu, sigma2) -> float:
    """Average log p(x) of the PPCA marginal N(μ, WWᵀ + σ²I), nats per data point."""
    L = torch.linalg.cholesky(W @ W.T + sigma2 * torch.eye(x.shape[1], dtype=x.dtype))
    white = torch.linalg.solve_triangular(L, (x - mu).T, upper=False)
    log_det = 2 * L.diagonal().log().sum() + x.shape[1] * math.log(2 * math.pi)
    return (-0.5 * (white.pow(2).sum(0) + log_det)).mean().item()


# ---- fixed inputs ------------------------------------------------------------------------------
def _toy_data(n: int = 500, x_dim: int = 6, seed: int = 0) -> torch.Tensor:
    """Correlated Gaussian data with distinct variances along random directions."""
    gen = generator(seed)
    basis, _ = torch.linalg.qr(torch.randn(x_dim, x_dim, generator=gen, dtype=torch.float64))
    scales = torch.linspace(3.0, 0.5, x_dim, dtype=torch.float64)
    z = torch.randn(n, x_dim, generator=gen, dtype=torch.float64)
    return (z * scales) @ basis.T + torch.linspace(-1, 1, x_dim, dtype=torch.float64)


def _random_model(x: torch.Tensor, z_dim: int, seed: int = 1):
    """A PPCA model that is not the MLE: (W (D, d), mu (D,), sigma2)."""
    gen = generator(seed)
    return torch.randn(x.shape[1], z_dim, generator=gen, dtype=x.dtype), x.mean(0), 0.7


# ---- the checks --------------------------------------------------------------------------------
def check_pca(pca) -> None:
    """``pca(x, z_dim)``: (components (D, d) orthonormal, eigenvalues (D,) decreasing, mean)."""
    x, z_dim = _toy_data(), 2
    n = len(x)
    top, evals, mean = _pca(x, z_dim)
    uncentred = torch.linalg.eigvalsh(x.T @ x / n).flip(0)
    with SelfCheck("pca") as sc:
        out = sc.call(pca, x, z_dim, what="runs on 500 points in 6-D")
        W, lam, mu = sc.unpack("returns three things", out, ("components", "eigenvalues", "mean"))
        sc.shape("components", W, (x.shape[1], z_dim), "one column per component: shape (D, d)")
        sc.shape("eigenvalues", lam, (x.shape[1],), "return all D eigenvalues")
        sc.close("mean", mu, mean, ATOL, RTOL, "the mean over images, x.mean(0)")
        sc.close("eigenvalues, largest first", lam, evals, ATOL, RTOL,
                 "eigenvalues of the covariance of the *centred* data, divided by N", mistakes={
                     "divide by N, not N − 1 (as torch.cov does)":
                         (evals * n / (n - 1), "N/(N−1) times the reference"),
                     "torch.linalg.eigh sorts them increasing: flip them":
                         (evals.flip(0), "in increasing order"),
                     "subtract the mean first (the *centred* data)":
                         (uncentred, "those of uncentred x")})
        W = W.detach().to("cpu", torch.float64)
        sc.close("columns are orthonormal", W.T @ W, torch.eye(z_dim, dtype=W.dtype), ATOL, RTOL,
                 "use eigenvectors as columns (evecs[:, i]), not rows")
        sc.close("components span the top-d eigenvectors", W @ W.T, top @ top.T, ATOL, RTOL,
                 "PCA keeps the directions of LARGEST variance")


def check_ppca_mle(ppca_mle) -> None:
    """``ppca_mle(x, z_dim)``: (W (D, d), mu (D,), sigma2), with the reference ``pca``."""
    x, z_dim = _toy_data(), 2
    U, evals, mean = _pca(x, z_dim)
    W_ref, _, sigma2 = _ppca_mle(x, z_dim)
    scaled, unshifted = U * (evals[:z_dim] - sigma2), U * evals[:z_dim].sqrt()
    with SelfCheck("ppca_mle") as sc:
        out = sc.call(with_references(ppca_mle, pca=_pca), x, z_dim,
                      what="runs (with the reference pca, so a mistake there does not show here)")
        W, mu, s2 = sc.unpack("returns three things", out, ("W", "mu", "sigma2"),
                              numbers=("sigma2",))
        sc.shape("W", W, (x.shape[1], z_dim), "W maps a d-dim z to a D-dim x: shape (D, d)")
        sc.close("mu is the data mean", mu, mean, ATOL, RTOL, "the MLE of mu is the sample mean")
        sc.close("sigma2 = mean of the discarded eigenvalues", s2, sigma2, ATOL, RTOL,
                 "average the D − d smallest, eigenvalues[z_dim:]", mistakes={
                     "divide the sum by D − d": (evals[z_dim:].sum(), "the sum, not the mean"),
                     "average eigenvalues[z_dim:]":
                         (evals[:z_dim].mean(), "mean of the kept ones")})
        W = W.detach().to("cpu", torch.float64)
        sc.close("W Wᵀ = U_d (Λ_d − σ²I) U_dᵀ", W @ W.T, W_ref @ W_ref.T, ATOL, RTOL,
                 "scale eigenvector i by sqrt(λ_i − σ²)", mistakes={
                     "scale eigenvector i by sqrt(λ_i − σ²)":
                         (scaled @ scaled.T, "W scaled by λ_i − σ²"),
                     "subtract σ²: sqrt(λ_i − σ²)":
                         (unshifted @ unshifted.T, "W scaled by sqrt(λ_i)")})


def check_ppca_posterior(ppca_posterior) -> None:
    """(z_loc (N, d), z_cov (d, d)) given every pixel, then given the pixels ``observed``."""
    x, z_dim = _toy_data(n=8), 2
    W, mu, sigma2 = _random_model(x, z_dim)
    seen = torch.tensor([True, False, True, True, False, True])            # 4 of the 6 pixels
    z_loc_ref, z_cov_ref = _ppca_posterior(x, W, mu, sigma2)
    z_loc_o, z_cov_o = _ppca_posterior(x[:, seen], W[seen], mu[seen], sigma2)
    ignored = "use only the seen pixels: x[:, observed], W[observed]"
    with SelfCheck("ppca_posterior") as sc:
        out = sc.call(ppca_posterior, x, W, mu, sigma2, what="runs")
        z_loc, z_cov = sc.unpack("returns two things", out, ("z_loc", "z_cov"))
        sc.shape("z_loc", z_loc, (len(x), z_dim), "one posterior mean per image: shape (N, d)")
        sc.shape("z_cov", z_cov, (z_dim, z_dim), "the posterior covariance is the same for every x")
        sc.close("posterior mean M⁻¹Wᵀ(x − μ)", z_loc, z_loc_ref, ATOL, RTOL,
                 "M = WᵀW + σ²I (d × d); did you subtract mu first?", mistakes={
                     "subtract mu first: x − mu":
                         (_ppca_posterior(x, W, 0 * mu, sigma2)[0], "the mean of uncentred x")})
        sc.close("posterior covariance σ²M⁻¹", z_cov, z_cov_ref, ATOL, RTOL, "σ² M⁻¹, not M σ⁻²",
                 mistakes={"σ² M⁻¹: multiply by sigma2": (z_cov_ref / sigma2, "M⁻¹ without σ²")})
        out = sc.call(ppca_posterior, x, W, mu, sigma2, observed=seen, what="4 of 6 seen: runs",
                      quiet=True, explain=lambda err: (
                          "4 of 6 seen", "takes no argument `observed`",
                          "add the argument observed=None")
                      if isinstance(err, TypeError) and "observed" in str(err) else None)
        z_loc, z_cov = sc.unpack("4 of 6 seen", out, ("z_loc", "z_cov"))
        sc.close("4 of 6 seen: mean", z_loc, z_loc_o, ATOL, RTOL, ignored, mistakes={
            f"{ignored} ": (z_loc_ref, "the mean given every pixel"),
            f" {ignored}": (_ppca_posterior(x * seen, W, mu, sigma2)[0], "unseen pixels as 0"),
            "drop the unseen rows of W too": (
                _ppca_posterior(torch.where(seen, x, mu), W, mu, sigma2)[0], "unseen pixels as μ")})
        sc.close("4 of 6 seen: covariance", z_cov, z_cov_o, ATOL, RTOL,
                 "σ² M_o⁻¹ with M_o = W_oᵀW_o + σ²I (W_o: the seen rows)", mistakes={
                     "M_o = W_oᵀW_o + σ²I: only the seen rows of W":
                         (z_cov_ref, "the covariance given every pixel")})


def check_ppca_e_step(ppca_e_step) -> None:
    """(E[z_n] (N, d), E[z_n z_nᵀ] (N, d, d)), with the reference ``ppca_posterior``."""
    x, z_dim = _toy_data(n=8), 2
    W, mu, sigma2 = _random_model(x, z_dim)
    z_loc_ref, zz_ref = _ppca_e_step(x, W, mu, sigma2)
    z_cov = _ppca_posterior(x, W, mu, sigma2)[1]
    outer = zz_ref - z_cov
    with SelfCheck("ppca_e_step") as sc:
        out = sc.call(with_references(ppca_e_step, ppca_posterior=_ppca_posterior),
                      x, W, mu, sigma2, what="runs (with the reference ppca_posterior)")
        z_loc, zz = sc.unpack("returns two things", out, ("z_loc", "zz"))
        sc.shape("E[z_n]", z_loc, (len(x), z_dim), "one posterior mean per image: shape (N, d)")
        sc.shape("E[z_n z_nᵀ]", zz, (len(x), z_dim, z_dim), "one d × d matrix per image: (N, d, d)")
        sc.close("E[z_n] = M⁻¹Wᵀ(x_n − μ)", z_loc, z_loc_ref, ATOL, RTOL,
                 "the posterior mean of Part 3 (ppca_posterior)")
        sc.close("E[z_n z_nᵀ] = σ²M⁻¹ + E[z_n] E[z_n]ᵀ", zz, zz_ref, ATOL, RTOL,
                 "E[z zᵀ] = Cov[z | x] + E[z] E[z]ᵀ", mistakes={
                     "add the posterior covariance σ²M⁻¹": (outer, "E[z_n] E[z_n]ᵀ alone"),
                     "add each image's outer product E[z_n] E[z_n]ᵀ":
                         (z_cov.expand_as(zz_ref), "σ²M⁻¹ alone"),
                     "the covariance is σ² M⁻¹, not M σ⁻²":
                         (outer + torch.linalg.inv(z_cov), "M σ⁻² + E[z_n] E[z_n]ᵀ")})


def check_ppca_m_step(ppca_m_step) -> None:
    """(W_new (D, d), sigma2_new) of (M1), (M2); EM with it reaches the closed-form maximum."""
    x, z_dim = _toy_data(n=200), 2
    n, x_dim = x.shape
    W0, mu, sigma2 = _random_model(x, z_dim)
    z_loc, zz = _ppca_e_step(x, W0, mu, sigma2)
    W_ref, s2_ref = _ppca_m_step(x, mu, z_loc, zz)
    W_outer = torch.linalg.solve(z_loc.T @ z_loc, (x - mu).T @ z_loc, left=False)
    with SelfCheck("ppca_m_step") as sc:
        out = sc.call(ppca_m_step, x, mu, z_loc.clone(), zz.clone(),
                      what="runs (given the reference E-step)")
        W, s2 = sc.unpack("returns two things", out, ("W", "sigma2"), numbers=("sigma2",))
        sc.shape("W", W, (x_dim, z_dim), "W maps a d-dim z to a D-dim x: shape (D, d)")
        sc.close("W_new, eq. (M1)", W, W_ref, ATOL, RTOL,
                 "(x − mu).T @ z_loc, times the inverse of zz.sum(0)", mistakes={
                     "use zz.sum(0) = Σ E[z_n z_nᵀ], which holds σ²M⁻¹":
                         (W_outer, "divided by Σ E[z_n] E[z_n]ᵀ")})
        sc.close("σ²_new, eq. (M2)", s2, s2_ref, ATOL, RTOL,
                 "sum the three terms of (M2) over n, with W_new; divide by N·D", mistakes={
                     "divide by N·D, not N": (s2_ref * x_dim, "D times the reference"),
                     "divide by N·D, not D": (s2_ref * n, "N times the reference"),
                     "use x − mu, not x":
                         (_ppca_m_step(x, 0 * mu, z_loc, zz)[1], "σ²_new of uncentred x")})

        def em(iterations: int = 100):
            W, s2, trace = W0, torch.tensor(sigma2, dtype=x.dtype), []
            for _ in range(iterations):
                W, s2 = ppca_m_step(x, mu, *_ppca_e_step(x, W, mu, s2))
                W = W.detach().to("cpu", x.dtype)
                s2 = torch.as_tensor(s2).to("cpu", x.dtype).reshape(())
                trace.append(_log_likelihood(x, W, mu, s2))
            return W, s2, torch.tensor(trace, dtype=torch.float64)

        W, s2, trace = sc.call(em, what="100 EM iterations run (the reference E-step, your M-step)")
        W_mle, _, s2_mle = _ppca_mle(x, z_dim)
        best = _log_likelihood(x, W_mle, mu, s2_mle)
        drop = (trace[:-1] - trace[1:]).max().item()
        sc.true("the log-likelihood never decreases", drop < 1e-9,
                f"it fell by up to {number(drop)} nats in one iteration",
                "EM never lowers log p(x): compare your M-step with (M1) and (M2)")
        sc.true("it reaches the closed-form maximum (Part 2)", abs(trace[-1] - best) < 1e-6,
                f"{number(trace[-1].item())} vs {number(best)} nats",
                "compare your M-step with (M1) and (M2)")
        sc.close("W Wᵀ and σ² equal the closed form (W only up to a rotation)",
                 torch.cat([(W @ W.T).flatten(), s2.reshape(1)]),
                 torch.cat([(W_mle @ W_mle.T).flatten(), s2_mle.reshape(1)]), 1e-5, 1e-4,
                 "compare your M-step with (M1) and (M2)")


ready = make_ready({
    "pca": ("Part 1", check_pca),
    "ppca_mle": ("Part 2", check_ppca_mle),
    "ppca_posterior": ("Part 3", check_ppca_posterior),
    "ppca_e_step": ("Part 5", check_ppca_e_step),
    "ppca_m_step": ("Part 5", check_ppca_m_step),
})
