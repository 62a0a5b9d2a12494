"""Self-checks for exercise 01: PCA, the PPCA maximum-likelihood fit and the PPCA posterior.

Each check runs the student's function on a small synthetic data set with a known answer.
"""
from __future__ import annotations

import torch

from . import SelfCheck


def _toy_data(n: int = 500, d: int = 6, seed: int = 0) -> torch.Tensor:
    """Correlated Gaussian data with distinct variances along random directions."""
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    scales = torch.linspace(3.0, 0.5, d, dtype=torch.float64)
    z = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return (z * scales) @ basis.T + torch.linspace(-1, 1, d, dtype=torch.float64)


def _reference_eig(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending), eigenvectors and mean of the 1/N covariance of ``x``."""
    mean = x.mean(0)
    xc = x - mean
    evals, evecs = torch.linalg.eigh(xc.T @ xc / len(x))
    return evals.flip(0), evecs.flip(1), mean


def check_pca(pca) -> None:
    """``pca(x, k)`` must return (components (D, k) orthonormal, eigenvalues (D,) descending, mean (D,))."""
    x, k = _toy_data(), 2
    evals, evecs, mean = _reference_eig(x)
    with SelfCheck("pca") as sc:
        out = sc.call(pca, x, k, what="pca(x, k) runs")
        sc.true("returns three things", isinstance(out, tuple) and len(out) == 3,
                f"expected (components, eigenvalues, mean), got {type(out).__name__}",
                "return components, eigenvalues, mean")
        W, lam, mu = out
        sc.shape("components", W, (x.shape[1], k), "one column per component: shape (D, k)")
        sc.shape("eigenvalues", lam, (x.shape[1],), "return all D eigenvalues")
        sc.close("mean", mu, mean, hint="the mean over images, x.mean(0)")
        sc.close("eigenvalues, largest first", lam, evals, atol=1e-6, rtol=1e-5,
                 hint="eigenvalues of the covariance of the *centred* data, divided by N, "
                      "sorted in decreasing order (torch.linalg.eigh sorts them increasing)")
        sc.close("columns are orthonormal", W.T @ W, torch.eye(k, dtype=W.dtype), atol=1e-6,
                 hint="use eigenvectors as columns (evecs[:, i]), not rows")
        sc.close("components span the top-k eigenvectors", W @ W.T, evecs[:, :k] @ evecs[:, :k].T,
                 atol=1e-6, hint="PCA keeps the directions of LARGEST variance")


def check_ppca_mle(ppca_mle) -> None:
    """``ppca_mle(x, k)`` must return (W (D, k), mu (D,), sigma2 float) of Tipping & Bishop."""
    x, k = _toy_data(), 2
    evals, evecs, mean = _reference_eig(x)
    sigma2 = evals[k:].mean()
    W_ref = evecs[:, :k] * (evals[:k] - sigma2).sqrt()
    with SelfCheck("ppca_mle") as sc:
        W, mu, s2 = sc.call(ppca_mle, x, k, what="ppca_mle(x, k) runs")
        sc.shape("W", W, (x.shape[1], k), "W maps a k-dim z to a D-dim x: shape (D, k)")
        sc.close("mu is the data mean", mu, mean, hint="the MLE of mu is the sample mean")
        sc.close("sigma2 is the mean of the discarded eigenvalues", torch.as_tensor(s2), sigma2,
                 atol=1e-6, rtol=1e-5, hint="average the D - k SMALLEST eigenvalues")
        sc.close("W Wᵀ matches U_k (Λ_k − σ²I) U_kᵀ", W @ W.T, W_ref @ W_ref.T, atol=1e-6,
                 rtol=1e-5, hint="scale eigenvector j by sqrt(lambda_j - sigma2), not lambda_j")


def check_ppca_posterior(ppca_posterior) -> None:
    """``ppca_posterior(x, W, mu, sigma2)`` must return (z_loc (N, k), z_cov (k, k))."""
    x = _toy_data(n=8)
    gen = torch.Generator().manual_seed(1)
    W = torch.randn(x.shape[1], 2, generator=gen, dtype=torch.float64)
    mu, sigma2 = x.mean(0), 0.7
    # Reference: condition the joint Gaussian of (z, x) on x.
    cov_x = W @ W.T + sigma2 * torch.eye(x.shape[1], dtype=x.dtype)
    gain = torch.linalg.solve(cov_x, W).T                     # Wᵀ (WWᵀ + σ²I)⁻¹
    z_loc_ref = (x - mu) @ gain.T
    z_cov_ref = torch.eye(2, dtype=x.dtype) - gain @ W
    with SelfCheck("ppca_posterior") as sc:
        z_loc, z_cov = sc.call(ppca_posterior, x, W, mu, sigma2, what="ppca_posterior runs")
        sc.shape("z_loc", z_loc, (len(x), 2), "one posterior mean per image: shape (N, k)")
        sc.shape("z_cov", z_cov, (2, 2), "the posterior covariance is the same for every x")
        sc.close("posterior mean M⁻¹Wᵀ(x − μ)", z_loc, z_loc_ref, atol=1e-6,
                 hint="M = WᵀW + σ²I (k × k); did you subtract mu first?")
        sc.close("posterior covariance σ²M⁻¹", z_cov, z_cov_ref, atol=1e-6,
                 hint="σ² M⁻¹, not M σ⁻²")
