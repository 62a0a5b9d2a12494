# ---
# jupyter:
#   jupytext:
#     default_lexer: ipython3
#     formats: ipynb,md:myst,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercise 01 · PCA and probabilistic PCA
#
# **What you implement.** Five functions, each a few lines of `torch`:
#
# 1. `pca(x, z_dim)`: the first $d$ principal components of a data matrix;
# 2. `ppca_mle(x, z_dim)`: the closed-form maximum-likelihood fit of probabilistic PCA;
# 3. `ppca_posterior(x, W, mu, sigma2)`: the Gaussian posterior $p(z \mid x)$;
# 4. (Part 4 applies them to MNIST: nothing to write);
# 5. `ppca_e_step` and `ppca_m_step`: PPCA fitted by **EM**, which lecture 01 does not cover, checked
#    against your closed-form fit of Part 2.
#
# **How to check.** After each function, run the self-check cell below it. It runs your function on a small synthetic data set with a known answer and prints one line per check: ✓ when it matches, or ✗ with what differed, by how much, and a hint. A check uses the course's own versions of the functions yours builds on, so each ✗ points at the function it is about. The cells that *use* your functions begin with `if unit01.ready(...)`: until those functions pass their checks, such a cell prints one line saying which to finish first, and does nothing else.
#
# **Time.** About 45–60 minutes (30 for Parts 1–3, 20 for EM). Lecture 01 has every formula you need, in the same symbols: $N$ images of $D = 784$ pixels, $d$ latent dimensions (`z_dim` in code), eigenvalues $\lambda_i$ of the data covariance, and $\sigma^2$ the variance of the pixel noise (`sigma2`).

# %%
import matplotlib.pyplot as plt
import torch

from utils.checks import unit01
from utils.data import load_mnist
from utils.plots import latent_scatter, reconstruction_rows
from utils.runtime import setup

device, SMOKE = setup(seed=0)


# %% [markdown]
# ## 1 · PCA
#
# Return the top-$d$ eigenvectors of the covariance $C = \frac1N \sum_n (x_n - \bar x)(x_n - \bar x)^\top$ of the **centred** data as the columns of a $(D, d)$ matrix, all $D$ eigenvalues in decreasing order, and the mean $\bar x$. Remember that `torch.linalg.eigh` sorts eigenvalues in increasing order.

# %%
def pca(x, z_dim):
    """Principal components of x (N, D): (components (D, z_dim), eigenvalues (D,) decreasing, mean (D,))."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit01.check_pca(pca)


# %% [markdown]
# ## 2 · The maximum-likelihood PPCA fit
#
# For $p(z) = \mathcal N(0, I_d)$ and $p(x \mid z) = \mathcal N(Wz + \mu, \sigma^2 I_D)$, Tipping & Bishop (1999) show that the likelihood is maximised by $\mu = \bar x$, $\sigma^2 = \frac{1}{D-d}\sum_{i > d} \lambda_i$ and $W = U_d (\Lambda_d - \sigma^2 I_d)^{1/2}$, with $U_d$ the top-$d$ eigenvectors and $\Lambda_d$ the diagonal matrix of their eigenvalues (taking the rotation $R = I$). Use your `pca`. (The check runs your `ppca_mle` with the course's `pca`, so a mistake in `pca` shows only in its own check.)

# %%
def ppca_mle(x, z_dim):
    """Closed-form PPCA fit: (W (D, z_dim), mu (D,), sigma2 scalar tensor)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit01.check_ppca_mle(ppca_mle)


# %% [markdown]
# ## 3 · The posterior
#
# With $M = W^\top W + \sigma^2 I_d$, the posterior given every pixel is $p(z \mid x) = \mathcal N\big(M^{-1} W^\top (x - \mu),\ \sigma^2 M^{-1}\big)$ (the lecture derives it). Here it must also work when only **some pixels are seen**: `observed` is a boolean mask of shape $(D,)$, True for the pixels seen in every row of `x` (`None`: all). Under PPCA the seen pixels $x_o$ are themselves Gaussian, $x_o = W_o z + \mu_o + \varepsilon_o$, with $W_o$, $\mu_o$ the rows of $W$, $\mu$ for those pixels. Derive the posterior $p(z \mid x_o)$ from that, then write it. Return the means for all rows of `x` as an $(N, d)$ tensor and the single $(d, d)$ covariance. Prefer `torch.linalg.solve` to forming an inverse for the mean.

# %%
def ppca_posterior(x, W, mu, sigma2, observed=None):
    """Posterior of PPCA given the pixels where ``observed`` (bool (D,), None: all) is True:
    (z_loc (N, z_dim), z_cov (z_dim, z_dim))."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check compares your posterior with the conditioned joint Gaussian, given every pixel and given 4 of 6 pixels.

# %% tags=["raises-exception"]
unit01.check_ppca_posterior(ppca_posterior)

# %% [markdown]
# ## 4 · Your functions on MNIST
#
# Fit PPCA with $d = 2$ on the training images and draw the posterior means of test digits, then compare reconstructions for several $d$. (These cells run once your three functions pass.)

# %%
data = load_mnist(subset=3000 if SMOKE else None).to(device)
data

# %% [markdown]
# The fits below run in float64, which not every device has (Apple's MPS has none), so they use CPU copies of the images.

# %%
x_train, x_test = data.train_x.cpu().double(), data.test_x.cpu().double()

# %% mystnb={"image": {"alt": "Scatter of the 2-D PPCA posterior means of 2,000 test digits, coloured by digit class"}}
if unit01.ready(pca, ppca_mle, ppca_posterior):
    W, mu, sigma2 = ppca_mle(x_train, 2)
    z_loc, z_cov = ppca_posterior(x_test[:2000], W, mu, sigma2)
    print(f"σ² = {sigma2:.4f}; posterior std per dimension: {z_cov.diagonal().sqrt().cpu().numpy().round(3)}")
    latent_scatter(z_loc, data.test_y[:2000], title="PPCA posterior means of test digits (d = 2)")
    plt.show()

# %% [markdown]
# How does the test reconstruction error (squared error summed over pixels, per image) fall with $d$? The posterior mean gives the reconstruction $\hat x = W\,\mathbb E[z\mid x] + \mu$.

# %% mystnb={"image": {"alt": "Three rows of ten test digits and their PPCA reconstructions for d = 2, 10 and 50"}}
if unit01.ready(pca, ppca_mle, ppca_posterior):
    fig, axes = plt.subplots(3, 1, figsize=(8, 5.2))
    for ax, z_dim in zip(axes, (2, 10, 50)):
        W, mu, sigma2 = ppca_mle(x_train, z_dim)
        z_loc, _ = ppca_posterior(x_test, W, mu, sigma2)
        x_hat = z_loc @ W.T + mu
        error = (x_test - x_hat).pow(2).sum(1).mean()
        reconstruction_rows(x_test[:10], x_hat[:10].clamp(0, 1), ax=ax,
                            title=f"d = {z_dim}: {error:.1f} per image")
    plt.tight_layout()
    plt.show()

# %% [markdown]
# What the `observed` argument is for: seeing only the top half of each test digit (the first 14 of its 28 rows), the posterior mean of $z$ still gives a whole image, $W\,\mathbb E[z \mid x_o] + \mu$, bottom half included.

# %% mystnb={"image": {"alt": "Two rows of ten test digits, the second filled in by PPCA from the top half only"}}
if unit01.ready(pca, ppca_mle, ppca_posterior):
    W, mu, sigma2 = ppca_mle(x_train, 50)
    top = torch.arange(x_test.shape[1]) < 14 * 28                     # the top 14 rows are seen
    z_loc, _ = ppca_posterior(x_test, W, mu, sigma2, observed=top)
    x_fill = z_loc @ W.T + mu
    error = (x_test - x_fill)[:, ~top].pow(2).sum(1).mean()
    reconstruction_rows(x_test[:10], x_fill[:10].clamp(0, 1),
                        title=f"d = 50, bottom half from the top half: {error:.1f} per image (bottom half)")
    plt.show()


# %% [markdown]
# **To think about.** The PPCA reconstruction shrinks $z$ towards the prior mean compared with plain PCA's projection: which term in $M = W^\top W + \sigma^2 I_d$ does that, and what happens to it as $\sigma^2 \to 0$?
#
# ## 5 · PPCA fitted by EM
#
# The closed form of Part 2 needs the eigendecomposition of the $D \times D$ covariance. The EM algorithm (Tipping & Bishop, 1999, Section 3.2; Roweis, 1998; Bishop, *PRML*, Section 12.2.2) reaches the same maximum of the likelihood without it: it treats the codes $z_n$ as missing data and alternates two steps, each costing $O(NDd)$. With $\mu = \bar x$ fixed and $M = W^\top W + \sigma^2 I_d$ computed from the current $W$ and $\sigma^2$:
#
# **E-step**: the posterior moments of each code (Part 3 gives the first),
#
# $$
# \text{(E1)}\quad \mathbb E[z_n] = M^{-1} W^\top (x_n - \mu), \qquad
# \text{(E2)}\quad \mathbb E[z_n z_n^\top] = \sigma^2 M^{-1} + \mathbb E[z_n]\, \mathbb E[z_n]^\top .
# $$
#
# **M-step**: maximise the expected complete-data log-likelihood over $W$, then over $\sigma^2$ (with the new $W$):
#
# $$
# \text{(M1)}\quad W_{\text{new}} = \Big[\sum_n (x_n - \mu)\, \mathbb E[z_n]^\top\Big] \Big[\sum_n \mathbb E[z_n z_n^\top]\Big]^{-1},
# $$
#
# $$
# \text{(M2)}\quad \sigma^2_{\text{new}} = \frac{1}{ND} \sum_n \Big( \lVert x_n - \mu \rVert^2 - 2\, \mathbb E[z_n]^\top W_{\text{new}}^\top (x_n - \mu) + \operatorname{tr}\big(\mathbb E[z_n z_n^\top]\, W_{\text{new}}^\top W_{\text{new}}\big) \Big).
# $$
#
# Write `ppca_e_step` to return $\mathbb E[z_n]$ for every row of `x` as an $(N, d)$ tensor and $\mathbb E[z_n z_n^\top]$ as an $(N, d, d)$ tensor (you may call your `ppca_posterior`). Write `ppca_m_step` without a Python loop over $n$: a sum over images is a matrix product, e.g. $\sum_n (x_n - \mu)\,\mathbb E[z_n]^\top$ = `(x - mu).T @ z_loc`, and $\sum_n \operatorname{tr}(A_n B) = \operatorname{tr}\big((\sum_n A_n) B\big)$.

# %%
def ppca_e_step(x, W, mu, sigma2):
    """E-step of PPCA: (E[z_n] (N, z_dim), E[z_n z_nᵀ] (N, z_dim, z_dim))."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check runs your E-step with the course's `ppca_posterior`: a mistake in yours shows only in its own check.

# %% tags=["raises-exception"]
unit01.check_ppca_e_step(ppca_e_step)


# %%
def ppca_m_step(x, mu, z_loc, zz):
    """M-step of PPCA, (M1) and (M2): (W_new (D, z_dim), sigma2_new scalar tensor)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check feeds your M-step the output of the course's E-step, compares one step with (M1) and (M2), then runs 100 EM iterations on the toy data: the log-likelihood must never decrease and must reach the closed-form maximum of Part 2, with the same $WW^\top$ and $\sigma^2$ ($W$ itself is identifiable only up to a rotation $R$).

# %% tags=["raises-exception"]
unit01.check_ppca_m_step(ppca_m_step)

# %% [markdown]
# Now EM on 2,000 MNIST training images with $d = 2$, from a random start, against your closed-form fit on the same images.

# %%
x_em, em_dim, iterations = x_train[:2000], 2, (30 if SMOKE else 100)


def log_likelihood(W, sigma2):
    """Average log p(x) of the images x_em under PPCA, nats per image."""
    cov_diag = torch.as_tensor(sigma2, dtype=x_em.dtype, device=x_em.device).expand(x_em.shape[1])
    return torch.distributions.LowRankMultivariateNormal(mu_em, W, cov_diag).log_prob(x_em).mean().item()


trace = []
if unit01.ready(pca, ppca_mle, ppca_posterior, ppca_e_step, ppca_m_step):
    W_mle, mu_em, sigma2_mle = ppca_mle(x_em, em_dim)
    generator = torch.Generator().manual_seed(0)
    W, sigma2 = 0.1 * torch.randn(x_em.shape[1], em_dim, generator=generator, dtype=x_em.dtype), 1.0
    for _ in range(iterations):
        W, sigma2 = ppca_m_step(x_em, mu_em, *ppca_e_step(x_em, W, mu_em, sigma2))
        trace.append(log_likelihood(W, sigma2))
    best = log_likelihood(W_mle, sigma2_mle)
    print(f"after {iterations} EM iterations: {trace[-1]:.3f} nats per image; closed form {best:.3f}; "
          f"σ² = {float(sigma2):.5f} vs {float(sigma2_mle):.5f}; "
          f"largest |ΔWWᵀ| = {(W @ W.T - W_mle @ W_mle.T).abs().max().item():.2g}")

# %% [markdown]
# How far the log-likelihood (nats per image) still is below the closed-form maximum after each iteration, on a log scale:

# %% mystnb={"image": {"alt": "Log-scale curve of the gap between the closed-form PPCA log-likelihood and EM's, falling with the iteration"}}
if trace:   # the EM run above finished
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.semilogy(range(1, iterations + 1), [max(best - value, 1e-12) for value in trace], "o-", ms=3)
    ax.set(xlabel="EM iteration", ylabel="closed form − EM (nats per image)",
           title=f"EM on {len(x_em):,} MNIST images, d = {em_dim}")
    plt.show()
else:
    print("⏭ skipped: first run the EM cell above (it needs Parts 1–3 and 5 to pass their checks)")

# %% [markdown]
# **To think about.** (a) Derive (M1): write $\mathbb E_{q}[\log p(x_n, z_n)]$ for $q(z_n) = p(z_n \mid x_n)$ with the old parameters, and set its gradient with respect to $W$ to zero. (b) Each EM iteration costs $O(NDd)$ and the closed form $O(ND^2 + D^3)$: for which $N$, $D$, $d$ is EM the cheaper route? (c) The log-likelihood gap falls by a roughly constant factor per iteration: what should set that factor? (Compare how fast it falls for $d = 2$ and for $d = 10$, and look at the eigenvalues $\lambda_d$ and $\lambda_{d+1}$.)
