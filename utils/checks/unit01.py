"""Self-checks for exercise 01: PCA, the PPCA maximum-likelihood fit and the PPCA posterior.

Each check runs the student's function on a small synthetic data set with a known answer.
Symbols as in lecture 01: D data dimensions, d latent dimensions (``z_dim``), eigenvalues λ_i.
"""
from __future__ import annotations

import torch

from . import SelfCheck, _Abort


def _parts(sc: SelfCheck, out, names: tuple[str, ...], what: str) -> tuple:
    """The student's result as one tensor (or number) per name; anything else is one ✗ line
    and stops the group, so that a missing ``return`` is reported, not raised. No pass line."""
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        sc.true(what, False, f"expected ({', '.join(names)}), got {_describe(out)}",
                f"return {', '.join(names)}")
        raise _Abort
    for name, part in zip(names, out):
        if not isinstance(part, (torch.Tensor, int, float)):
            sc.true(what, False, f"{name} is a {type(part).__name__}, not a tensor",
                    f"return {', '.join(names)} as tensors")
            raise _Abort
    return tuple(out)


def _describe(out) -> str:
    if isinstance(out, (tuple, list)):
        return f"a {type(out).__name__} of {len(out)}"
    return type(out).__name__


def _toy_data(n: int = 500, x_dim: int = 6, seed: int = 0) -> torch.Tensor:
    """Correlated Gaussian data with distinct variances along random directions."""
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(x_dim, x_dim, generator=gen, dtype=torch.float64))
    scales = torch.linspace(3.0, 0.5, x_dim, dtype=torch.float64)
    z = torch.randn(n, x_dim, generator=gen, dtype=torch.float64)
    return (z * scales) @ basis.T + torch.linspace(-1, 1, x_dim, dtype=torch.float64)


def _reference_eig(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending), eigenvectors and mean of the 1/N covariance of ``x``."""
    mean = x.mean(0)
    xc = x - mean
    evals, evecs = torch.linalg.eigh(xc.T @ xc / len(x))
    return evals.flip(0), evecs.flip(1), mean


def check_pca(pca) -> None:
    """``pca(x, z_dim)`` must return (components (D, d) orthonormal, eigenvalues (D,) descending,
    mean (D,))."""
    x, z_dim = _toy_data(), 2
    evals, evecs, mean = _reference_eig(x)
    with SelfCheck("pca") as sc:
        out = sc.call(pca, x, z_dim, what="pca(x, z_dim) runs")
        if not sc.true("returns three things", isinstance(out, tuple) and len(out) == 3,
                       f"expected (components, eigenvalues, mean), got {type(out).__name__}",
                       "return components, eigenvalues, mean"):
            raise _Abort
        W, lam, mu = _parts(sc, out, ("components", "eigenvalues", "mean"),
                            "components, eigenvalues and mean are tensors")
        sc.shape("components", W, (x.shape[1], z_dim), "one column per component: shape (D, d)")
        sc.shape("eigenvalues", lam, (x.shape[1],), "return all D eigenvalues")
        sc.close("mean", mu, mean, hint="the mean over images, x.mean(0)")
        sc.close("eigenvalues, largest first", lam, evals, atol=1e-6, rtol=1e-5,
                 hint="eigenvalues of the covariance of the *centred* data, divided by N, "
                      "sorted in decreasing order (torch.linalg.eigh sorts them increasing)")
        sc.close("columns are orthonormal", W.T @ W, torch.eye(z_dim, dtype=W.dtype), atol=1e-6,
                 hint="use eigenvectors as columns (evecs[:, i]), not rows")
        top = evecs[:, :z_dim]
        sc.close("components span the top-d eigenvectors", W @ W.T, top @ top.T, atol=1e-6,
                 hint="PCA keeps the directions of LARGEST variance")


def check_ppca_mle(ppca_mle) -> None:
    """``ppca_mle(x, z_dim)`` must return (W (D, d), mu (D,), sigma2 float) of Tipping & Bishop."""
    x, z_dim = _toy_data(), 2
    evals, evecs, mean = _reference_eig(x)
    sigma2 = evals[z_dim:].mean()
    W_ref = evecs[:, :z_dim] * (evals[:z_dim] - sigma2).sqrt()
    with SelfCheck("ppca_mle") as sc:
        out = sc.call(ppca_mle, x, z_dim, what="ppca_mle(x, z_dim) runs")
        W, mu, s2 = _parts(sc, out, ("W", "mu", "sigma2"), "returns three things")
        sc.shape("W", W, (x.shape[1], z_dim), "W maps a d-dim z to a D-dim x: shape (D, d)")
        sc.close("mu is the data mean", mu, mean, hint="the MLE of mu is the sample mean")
        sc.close("sigma2 is the mean of the discarded eigenvalues", torch.as_tensor(s2), sigma2,
                 atol=1e-6, rtol=1e-5, hint="average the D − d SMALLEST eigenvalues")
        sc.close("W Wᵀ matches U_d (Λ_d − σ²I) U_dᵀ", W @ W.T, W_ref @ W_ref.T, atol=1e-6,
                 rtol=1e-5, hint="scale eigenvector i by sqrt(λ_i − σ²), not by λ_i")


def check_ppca_posterior(ppca_posterior) -> None:
    """``ppca_posterior(x, W, mu, sigma2)`` must return (z_loc (N, d), z_cov (d, d))."""
    x = _toy_data(n=8)
    gen = torch.Generator().manual_seed(1)
    z_dim = 2
    W = torch.randn(x.shape[1], z_dim, generator=gen, dtype=torch.float64)
    mu, sigma2 = x.mean(0), 0.7
    # Reference: condition the joint Gaussian of (z, x) on x.
    cov_x = W @ W.T + sigma2 * torch.eye(x.shape[1], dtype=x.dtype)
    gain = torch.linalg.solve(cov_x, W).T                     # Wᵀ (WWᵀ + σ²I)⁻¹
    z_loc_ref = (x - mu) @ gain.T
    z_cov_ref = torch.eye(z_dim, dtype=x.dtype) - gain @ W
    with SelfCheck("ppca_posterior") as sc:
        out = sc.call(ppca_posterior, x, W, mu, sigma2, what="ppca_posterior runs")
        z_loc, z_cov = _parts(sc, out, ("z_loc", "z_cov"), "returns two things")
        sc.shape("z_loc", z_loc, (len(x), z_dim), "one posterior mean per image: shape (N, d)")
        sc.shape("z_cov", z_cov, (z_dim, z_dim), "the posterior covariance is the same for every x")
        sc.close("posterior mean M⁻¹Wᵀ(x − μ)", z_loc, z_loc_ref, atol=1e-6,
                 hint="M = WᵀW + σ²I (d × d); did you subtract mu first?")
        sc.close("posterior covariance σ²M⁻¹", z_cov, z_cov_ref, atol=1e-6,
                 hint="σ² M⁻¹, not M σ⁻²")
