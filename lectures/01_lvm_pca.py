# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -slideshow
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
# # 01 · Latent variable models and PCA
#
# **Learning goals.** After this lecture you can
#
# - explain why a model with a low-dimensional latent variable $z$ can describe images far more cheaply than a fully observed model of all pixels;
# - derive PCA as the projection that *maximises* retained variance, compute it on MNIST with `torch.linalg`, and read an explained-variance curve;
# - write down probabilistic PCA (Tipping & Bishop, 1999), fit it in closed form, evaluate its marginal likelihood, compute the posterior $p(z \mid x)$ and sample new digits from it;
# - check each of these formulas numerically.
#
# PCA is the simplest latent variable model with a linear decoder; the rest of the course (autoencoders, VAEs) replaces that linear map with neural networks. Symbols used throughout: $D = 784$ pixels per image, $N$ images, $d$ latent dimensions (principal components), $\lambda_i$ the eigenvalues of the data covariance and $\sigma$ a standard deviation.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %% [markdown]
# The libraries this lecture uses, and its one setting: how many images per split smoke mode keeps.

# %%
import math

import daft
import matplotlib.pyplot as plt
import torch
from sklearn.decomposition import PCA

from utils.checks import SelfCheck
from utils.data import load_mnist
from utils.plots import image_grid, latent_scatter, reconstruction_rows, save_figure
from utils.tables import table

SUBSET = 3000 if SMOKE else None     # images per split in smoke mode; None: all of MNIST

# %% [markdown]
# ## 1 · Why latent variables?
#
# An MNIST image $x$ has $D = 784$ pixels. A *fully observed* model must describe how every pixel depends on every other one, for instance through the chain rule $p(x) = \prod_{j=1}^{D} p(x_j \mid x_{<j})$. Even for binary pixels, a lookup table for this joint needs $2^{D}-1$ numbers.
#
# A *latent variable model* instead says: there is an unobserved cause $z \in \mathbb{R}^d$ with $d \ll D$ (which digit, slant, thickness, …), and **given $z$ the pixels are independent**:
#
# $$
# p(x, z) = p(z) \prod_{j=1}^{D} p(x_j \mid z), \qquad p(x) = \int p(x \mid z)\, p(z)\, \mathrm{d}z .
# $$
#
# All dependence between pixels flows through $z$. The figure below (drawn by code with `daft`) shows the two structures: on the left every pixel is a parent of the later ones; on the right a single $z_n$ per image explains its $D$ pixels, repeated for the $N$ images (plates).

# %% mystnb={"image": {"alt": "Two graphical models. Left, fully observed: four shaded pixel nodes x1 to x4 with an arrow between every pair. Right, latent variable model: an open node z_n with an arrow to a shaded pixel node x_nj, inside a plate j = 1..D nested in a plate n = 1..N."}}
WIDTH = 8.4                                                   # grid units across the figure
pgm = daft.PGM(shape=(WIDTH, 4.0), origin=(0.0, -0.9), grid_unit=2.4, node_unit=1.3)
corners = [(0.9, 2.5), (2.9, 2.5), (2.9, 0.9), (0.9, 0.9)]   # fully observed: every pair linked
for i, (px, py) in enumerate(corners):
    pgm.add_node(f"x{i}", f"$x_{i + 1}$", px, py, observed=True)
for i in range(4):
    for j in range(i + 1, 4):
        pgm.add_edge(f"x{i}", f"x{j}")
pgm.add_node("z", "$z_n$", 6.3, 2.45)                    # latent variable model with plates
pgm.add_node("xj", "$x_{nj}$", 6.3, 1.25, observed=True)
pgm.add_edge("z", "xj")
pgm.add_plate([5.0, -0.2, 2.6, 3.3], label="$n = 1..N$", position="bottom left")   # outer plate first
pgm.add_plate([5.3, 0.35, 2.0, 1.55], label="$j = 1..D$", position="bottom right")  # below the node
pgm.render()
for x, caption in ((1.9, "fully observed: $p(x)=\\prod_j\\, p(x_j\\mid x_{<j})$"),
                   (6.3, "latent variable model: $p(z)\\prod_j\\, p(x_j\\mid z)$")):
    pgm.ax.text(x / WIDTH, 0.02, caption, transform=pgm.ax.transAxes, ha="center", va="bottom")
save_figure(pgm.ax.figure, "01_graphical_models.png")
plt.show()

# %% [markdown]
# A simple prior and a simple conditional can still produce a complicated marginal. Here $z \sim \mathcal{N}(0, 1)$ is one-dimensional and $p(x \mid z) = \mathcal{N}\big((\cos 2z,\ \sin 3z),\ 0.05^2 I\big)$: each piece is a Gaussian, yet $p(x)$ is a thin curved ribbon in the plane, which no single Gaussian describes.

# %% mystnb={"image": {"alt": "5,000 samples of p(x) in the plane forming a thin, self-crossing curved ribbon, each point coloured by the latent z that generated it, with a colour bar for z."}}
z = torch.randn(5000)
x = torch.stack([torch.cos(2 * z), torch.sin(3 * z)], dim=1) + 0.05 * torch.randn(5000, 2)
fig, ax = plt.subplots(figsize=(5.2, 4.2))
points = ax.scatter(x[:, 0], x[:, 1], c=z, cmap="viridis", s=2)
fig.colorbar(points, ax=ax, label="latent $z$ of the sample")
ax.set(xlabel="$x_1$", ylabel="$x_2$", title="samples of $p(x)$, coloured by their $z$")
plt.show()

# %% [markdown]
# **Takeaway.** A latent variable model explains the dependence between many observed variables through a few unobserved causes, and a simple prior with a simple conditional can still give a complicated marginal $p(x)$.

# %% [markdown]
# ## 2 · PCA: the directions of largest variance
#
# For the rest of this lecture both $p(z)$ and $p(x\mid z)$ are Gaussian and the map from $z$ to $x$ is linear, so every integral has a closed form. The data are the MNIST images as grey levels in $[0, 1]$, held in memory as tensors.

# %%
data = load_mnist(subset=SUBSET).to(device)
data

# %% [markdown]
# Let $\bar x$ be the mean image and $C = \frac{1}{N}\sum_n (x_n - \bar x)(x_n - \bar x)^\top$ the covariance of the **centred** data. PCA looks for $d$ orthonormal directions $W = [w_1, \dots, w_d] \in \mathbb{R}^{D \times d}$ that keep as much variance as possible:
#
# $$
# \max_{W}\ \operatorname{tr}\!\left(W^\top C\, W\right) \quad \text{subject to } W^\top W = I_d .
# $$
#
# The maximiser is the $d$ eigenvectors of $C$ with the largest eigenvalues $\lambda_1 \ge \dots \ge \lambda_d$, and the maximum is $\sum_{i \le d} \lambda_i$. `torch.linalg.eigh` returns eigenvalues in *increasing* order, so we flip them.

# %%
x = data.train_x.cpu().double()            # float64 for the checks, on a CPU copy (mps has none)
x_mean = x.mean(0)
xc = x - x_mean                             # centre first
C = xc.T @ xc / len(x)                      # D x D covariance
eigenvalues, eigenvectors = torch.linalg.eigh(C)
eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)   # largest first
print(f"largest eigenvalues: {eigenvalues[:5].cpu().numpy().round(3)}")

# %% [markdown]
# Two checks. The top-$d$ eigenvectors attain $\sum_{i\le d}\lambda_i$, and 200 random orthonormal $W$ all stay below it; and PCA by SVD of the centred data matrix gives the same spectrum ($\lambda_i = s_i^2 / N$).

# %%
z_dim = 10                                  # d, the number of components
W = eigenvectors[:, :z_dim]
best = torch.trace(W.T @ C @ W)
random_W, _ = torch.linalg.qr(torch.randn(200, x.shape[1], z_dim, dtype=x.dtype, device=x.device))
random_values = torch.einsum("bjk,jl,blk->b", random_W, C, random_W)
s = torch.linalg.svdvals(xc)
del xc                                      # the centred copy (345 MB) is not needed again
with SelfCheck("pca") as sc:
    sc.close("tr(WᵀCW) of the top-10 eigenvectors = sum of the top-10 eigenvalues", best,
             eigenvalues[:z_dim].sum(), atol=1e-8, rtol=1e-9, show_gap=True)
    sc.true(f"200 random orthonormal W keep less variance (best random {random_values.max():.2f} "
            f"< {best:.2f})", bool((random_values < best).all()), "a random W beat PCA")
    sc.close("eigenvalues = squared singular values / N", s**2 / len(x), eigenvalues,
             atol=1e-8, rtol=1e-6, show_gap=True)


# %% [markdown]
# **Maximum variance is minimum reconstruction error.** Projecting onto the subspace and back, $\hat x = \bar x + W W^\top (x - \bar x)$, loses exactly the variance along the discarded directions: $\frac1N\sum_n \lVert x_n - \hat x_n\rVert^2 = \sum_{i > d} \lambda_i$. So maximising the kept variance and minimising the squared reconstruction error are one problem.

# %%
def pca_reconstruct(x, W, x_mean):
    """Project onto span(W) and map back to pixel space."""
    return x_mean + (x - x_mean) @ W @ W.T

squared_errors = [(xb - pca_reconstruct(xb, W, x_mean)).pow(2).sum() for xb in x.split(10_000)]
mse_train = sum(squared_errors) / len(x)    # in chunks of 10,000 images: small temporaries
with SelfCheck("pca") as sc:
    sc.close("mean squared reconstruction error = sum of discarded eigenvalues", mse_train,
             eigenvalues[z_dim:].sum(), rtol=1e-8, show_gap=True)

# %% [markdown]
# ### How many components?
#
# The fraction of variance kept by the first $d$ components is $\sum_{i\le d}\lambda_i / \sum_{i}\lambda_i$; the table lists the smallest $d$ that reaches a few levels.

# %% mystnb={"image": {"alt": "Fraction of the variance kept by PCA against the number of components d on a log axis, rising from about 0.1 at d = 1 to 1 at d = 784, with dotted guides and markers where it reaches 50%, 90% and 95%."}}
explained = eigenvalues.cumsum(0) / eigenvalues.sum()
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(torch.arange(1, len(explained) + 1), explained.cpu(), c="k", label="variance kept")
rows = []
for level, colour in zip((0.5, 0.9, 0.95), ("tab:blue", "tab:orange", "tab:red")):
    needed = int((explained < level).sum()) + 1          # each level: a marker, named in the legend
    ax.plot([1, needed, needed], [level, level, 0], ls=":", c=colour, marker="o", markevery=[1],
            label=f"{level:.0%} kept with d = {needed}")
    rows.append([f"{level:.0%}", needed])
ax.set(xscale="log", ylim=(0, 1.02), xlabel="number of components d",
       ylabel="fraction of variance kept", title="PCA on MNIST: explained variance")
ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))    # beside the axes: it hides no line
plt.show()
table(["variance kept", "components d needed"], rows)

# %% [markdown]
# A few dozen directions carry most of the variance of 784 pixels: the images live near a low-dimensional subspace. In two dimensions the test digits already form clusters, though they overlap heavily (PCA never saw the labels):

# %% mystnb={"image": {"alt": "Test digits projected on the first two principal components, one dot per image coloured by its digit label: the classes form heavily overlapping clusters."}}
x_test = data.test_x.cpu().double()
z_test = (x_test - x_mean) @ eigenvectors[:, :2]
latent_scatter(z_test, data.test_y, title="test set projected on the first 2 principal components")
plt.show()

# %% [markdown]
# ### Reconstructions and components
#
# The same test digits reconstructed from $d = 2$, $10$ and $50$ components. The error is the squared error summed over the 784 pixels (intensities in $[0, 1]$), averaged over the test set.

# %% mystnb={"image": {"alt": "Twelve test digits above their PCA reconstructions from d = 2, 10 and 50 components: blurry blends at 2, recognisable digits at 10, close to the originals at 50."}}
fig, axes = plt.subplots(3, 1, figsize=(8, 5.2))
for ax, z_dim in zip(axes, (2, 10, 50)):
    x_hat = pca_reconstruct(x_test, eigenvectors[:, :z_dim], x_mean)
    mse = (x_test - x_hat).pow(2).sum(1).mean().item()
    reconstruction_rows(x_test[:12], x_hat[:12].clamp(0, 1), ax=ax,
                        title=f"d = {z_dim} components: test squared error {mse:.1f} per image")
plt.tight_layout()
plt.show()

# %% [markdown]
# The components themselves are images: the mean, then directions one can add or subtract (red positive, blue negative).

# %% mystnb={"image": {"alt": "The mean image, a blurry grey digit shape, next to the first eight principal components drawn as images in red (positive) and blue (negative), with a colour bar from \u22121 to 1."}}
fig, axes = plt.subplots(1, 2, figsize=(12, 2.6), gridspec_kw={"width_ratios": [1.2, 8]})
image_grid(x_mean, nrow=1, ax=axes[0], title="mean image")
v = eigenvectors[:, :8].T                                   # each scaled to largest |weight| = 1
image_grid(v / v.abs().amax(1, keepdim=True), nrow=8, ax=axes[1], cmap="RdBu_r",
           title="first 8 principal components", colorbar="relative\nweight")
axes[1].images[0].set_clim(-1, 1)
plt.show()

# %% [markdown]
# **Takeaway.** The top-$d$ eigenvectors of the data covariance keep the most variance and, equivalently, leave the smallest squared reconstruction error, and on the full MNIST training set 87 of the 784 directions already keep 90% of the variance.

# %% [markdown]
# ## 3 · Probabilistic PCA
#
# PCA is a projection, not a model: it cannot tell how likely an image is, nor generate one. **Probabilistic PCA** (Tipping & Bishop, 1999) turns it into a latent variable model with a linear-Gaussian decoder:
#
# $$
# z \sim \mathcal{N}(0, I_d), \qquad x = W z + \mu + \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, \sigma^2 I_D)
# \quad\Longleftrightarrow\quad p(x \mid z) = \mathcal{N}(W z + \mu,\ \sigma^2 I_D).
# $$
#
# **Marginal.** $x$ is a linear function of Gaussians, so it is Gaussian with mean $\mu$ and covariance $\operatorname{Cov}(Wz) + \operatorname{Cov}(\varepsilon)$:
#
# $$
# p(x) = \mathcal{N}\big(x;\ \mu,\ W W^\top + \sigma^2 I_D\big).
# $$

# %% [markdown]
# **Maximum likelihood in closed form.** With the eigen-decomposition of the data covariance $C$ from above, the likelihood is maximised by
#
# $$
# \mu = \bar x, \qquad \sigma^2 = \frac{1}{D-d}\sum_{i=d+1}^{D} \lambda_i, \qquad W = U_d\,(\Lambda_d - \sigma^2 I_d)^{1/2} R,
# $$
#
# with $U_d$ the top-$d$ eigenvectors, $\Lambda_d$ the diagonal matrix of their eigenvalues and $R$ any rotation (we take $R = I$). The noise variance $\sigma^2$ is the average variance the model throws away.

# %%
z_dim = 50
sigma2 = eigenvalues[z_dim:].mean()
W = eigenvectors[:, :z_dim] * (eigenvalues[:z_dim] - sigma2).sqrt()
mu = x_mean
print(f"d = {z_dim}: σ² = {sigma2:.5f} (noise std σ = {sigma2.sqrt():.3f} in intensity units)")


# %% [markdown]
# ### Checking the marginal likelihood
#
# We write the Gaussian log-density out, with $\Sigma = WW^\top + \sigma^2 I_D$,
#
# $$
# \log p(x) = -\tfrac12\Big[D \log 2\pi + \log\lvert\Sigma\rvert + (x-\mu)^\top \Sigma^{-1}(x-\mu)\Big],
# $$
#
# and compare it with `torch.distributions.LowRankMultivariateNormal`, which takes the low-rank factor $W$ and the diagonal $\sigma^2$ and never forms the $784\times784$ matrix.

# %%
def ppca_log_marginal(x, W, mu, sigma2):
    """log N(x; mu, W Wᵀ + sigma2 I), written out with a full D x D covariance."""
    D = W.shape[0]
    Sigma = W @ W.T + sigma2 * torch.eye(D, dtype=W.dtype, device=W.device)
    diff = x - mu
    maha = (diff * torch.linalg.solve(Sigma, diff.T).T).sum(1)
    return -0.5 * (D * math.log(2 * math.pi) + torch.linalg.slogdet(Sigma).logabsdet + maha)

marginal = torch.distributions.LowRankMultivariateNormal(mu, cov_factor=W, cov_diag=sigma2.expand(len(mu)))
x_check = x_test[:500]
with SelfCheck("ppca") as sc:
    sc.close("log p(x) written out = LowRankMultivariateNormal.log_prob (nats)",
             ppca_log_marginal(x_check, W, mu, sigma2), marginal.log_prob(x_check),
             atol=1e-6, rtol=1e-9, show_gap=True)
test_log_likelihood = marginal.log_prob(x_test).mean()
print(f"average test log-likelihood: {test_log_likelihood:.1f} nats per image (d = {z_dim})")

# %% [markdown]
# The printed value is the log of a *density* on grey levels in $[0,1]^{784}$, which can exceed 1, so a positive log-likelihood is fine here; it is not comparable with the VAE's −ELBO of units 04–05, which is the log of a *probability* of binary pixels, in nats per image.
#
# **Takeaway.** Probabilistic PCA turns PCA into a Gaussian density $\mathcal N(\mu, WW^\top + \sigma^2 I_D)$ whose maximum-likelihood parameters come in closed form from the eigen-decomposition.

# %% [markdown]
# ## 4 · Checking the maximum-likelihood solution
#
# Two independent checks. First, scikit-learn fits the same model: `PCA.noise_variance_` is $\sigma^2$ and `PCA.score(x)` is the average PPCA log-likelihood $\frac1N\sum_n \log \mathcal N(x_n; \mu, WW^\top + \sigma^2 I_D)$, in nats per image. It uses the unbiased covariance, with $N-1$ in the denominator, so its $\Sigma$ is ours times $N/(N-1)$; with that factor our closed form must reproduce its score on the test set.

# %%
sk = PCA(n_components=z_dim, svd_solver="covariance_eigh").fit(x.cpu().numpy())
N = len(x)
scale = N / (N - 1)                         # sklearn's covariance = ours × N/(N−1)
sk_marginal = torch.distributions.LowRankMultivariateNormal(
    mu, cov_factor=W * math.sqrt(scale), cov_diag=(sigma2 * scale).expand(len(mu)))
sk_score = torch.tensor(sk.score(x_test.cpu().numpy()), dtype=x.dtype)
with SelfCheck("ppca MLE") as sc:
    sc.close("σ² = mean of discarded eigenvalues matches scikit-learn's noise_variance_",
             sigma2 * scale, torch.tensor(sk.noise_variance_), rtol=1e-6, show_gap=True)
    sc.close("our PPCA test log-likelihood (N−1 convention) = PCA.score (nats per image)",
             sk_marginal.log_prob(x_test).mean(), sk_score, atol=1e-6, rtol=1e-9, show_gap=True)
print(f"N vs N − 1 changes the test log-likelihood by {test_log_likelihood - sk_score:+.4f} nats per image")


# %% [markdown]
# Second, the maximum-likelihood solution must beat any perturbation of itself: scaling $W$ or $\sigma^2$ away from the closed form lowers the average training log-likelihood.

# %%
def average_log_likelihood(W, sigma2):
    dist = torch.distributions.LowRankMultivariateNormal(mu, W, sigma2.expand(len(mu)))
    return torch.cat([dist.log_prob(xb) for xb in x.split(10_000)]).mean()   # in chunks

best = average_log_likelihood(W, sigma2)
with SelfCheck("ppca MLE") as sc:
    for name, W_alt, s2_alt in [("W × 1.05", W * 1.05, sigma2), ("W × 0.95", W * 0.95, sigma2),
                                ("σ² × 1.1", W, sigma2 * 1.1), ("σ² × 0.9", W, sigma2 * 0.9)]:
        worse = average_log_likelihood(W_alt, s2_alt)
        sc.true(f"perturbing {name} lowers the log-likelihood by {best - worse:.2f} nats",
                bool(worse < best), f"{name} raised it to {worse:.3f}")


# %% [markdown]
# **Takeaway.** scikit-learn's `PCA.score` is exactly this PPCA log-likelihood (up to its $N-1$ convention), and every perturbation of the closed-form $W$ and $\sigma^2$ lowers the likelihood, as a maximum must.

# %% [markdown]
# ## 5 · The posterior $p(z \mid x)$
#
# Bayes' rule for a linear-Gaussian model gives another Gaussian. With $M = W^\top W + \sigma^2 I_d$ (a small $d\times d$ matrix),
#
# $$
# p(z \mid x) = \mathcal{N}\big(z;\ M^{-1} W^\top (x - \mu),\ \sigma^2 M^{-1}\big).
# $$
#
# Check: the pair $(z, x)$ is jointly Gaussian with $\operatorname{Cov}(z) = I_d$, $\operatorname{Cov}(z, x) = W^\top$ and $\operatorname{Cov}(x) = \Sigma$, so the textbook conditioning formula gives mean $W^\top \Sigma^{-1}(x-\mu)$ and covariance $I_d - W^\top \Sigma^{-1} W$. The two must agree.

# %%
def ppca_posterior(x, W, mu, sigma2):
    """Mean (N, d) and covariance (d, d) of p(z | x) for PPCA."""
    M = W.T @ W + sigma2 * torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
    z_loc = torch.linalg.solve(M, W.T @ (x - mu).T).T
    z_cov = sigma2 * torch.linalg.inv(M)
    return z_loc, z_cov

z_loc, z_cov = ppca_posterior(x_check, W, mu, sigma2)
Sigma = W @ W.T + sigma2 * torch.eye(W.shape[0], dtype=W.dtype, device=W.device)
gain = torch.linalg.solve(Sigma, W).T                          # Wᵀ Σ⁻¹
with SelfCheck("ppca posterior") as sc:
    sc.close("mean M⁻¹Wᵀ(x − μ) = conditioning the joint Gaussian", z_loc, (x_check - mu) @ gain.T,
             atol=1e-8, show_gap=True)
    sc.close("covariance σ²M⁻¹ = I − WᵀΣ⁻¹W", z_cov, torch.eye(z_dim, dtype=W.dtype, device=W.device) - gain @ W,
             atol=1e-8, show_gap=True)

# %% [markdown]
# **Posterior uncertainty.** With $d = 2$ we can draw the posterior of every test digit: its mean and one posterior standard deviation as error bars. Note that $\sigma^2 M^{-1}$ does not depend on $x$: in PPCA every image is equally uncertain, a limitation the VAE's encoder will remove. The printed standard deviations are small next to the prior's unit spread: one image of 784 pixels pins its two coordinates down well.

# %% mystnb={"image": {"alt": "PPCA posterior means of 1,000 test digits for d = 2, coloured by digit, each with error bars of one posterior standard deviation that are the same small size for every image."}}
sigma2_2 = eigenvalues[2:].mean()
W_2 = eigenvectors[:, :2] * (eigenvalues[:2] - sigma2_2).sqrt()
z_loc_2, z_cov_2 = ppca_posterior(x_test[:1000], W_2, mu, sigma2_2)
z_std_2 = z_cov_2.diagonal().sqrt().expand_as(z_loc_2)
print(f"posterior std per latent dimension (d = 2): {z_cov_2.diagonal().sqrt().cpu().numpy().round(3)}")
latent_scatter(z_loc_2, data.test_y[:1000], z_std=z_std_2, s=6,
               title="PPCA posterior means ± 1 std (d = 2), test digits")
plt.show()

# %% [markdown]
# **Takeaway.** PPCA's posterior $p(z\mid x)$ is Gaussian in closed form, with a mean linear in $x$ and a covariance $\sigma^2 M^{-1}$ that is the same for every image.

# %% [markdown]
# ## 6 · Generating new digits
#
# Sampling follows the generative story: $z \sim \mathcal{N}(0, I_d)$, then $x = Wz + \mu + \varepsilon$. The top row shows the means $Wz + \mu$, the bottom row full samples with the isotropic pixel noise $\varepsilon$, which explains why PPCA samples look grainy: the model has no notion of "a pixel is either ink or paper".

# %% mystnb={"image": {"alt": "Twelve PPCA samples: the top row the means Wz + \u03bc, smooth digit-like blurs; the bottom row the same images with the pixel noise \u03b5 added, grainy."}}
z = torch.randn(12, z_dim, dtype=W.dtype, device=W.device)
x_loc = z @ W.T + mu
x_sample = x_loc + sigma2.sqrt() * torch.randn_like(x_loc)
reconstruction_rows(x_loc.clamp(0, 1), x_sample.clamp(0, 1), title=f"PPCA samples, d = {z_dim}")
plt.gca().texts[0].set_text("mean Wz+μ")
plt.gca().texts[1].set_text("with noise ε")
plt.show()

# %% [markdown]
# A last check of the marginal by simulation: the covariance of many samples $x = Wz + \mu + \varepsilon$ approaches $WW^\top + \sigma^2 I_D$ (here on the 2-component model, to keep it cheap; the tolerance reflects the Monte Carlo error of 200,000 samples).

# %%
num_samples, block = 200_000, slice(300, 310)           # a 10-pixel block of the 784 x 784 matrix
z = torch.randn(num_samples, 2, dtype=W.dtype, device=W.device)
noise = torch.randn(num_samples, 10, dtype=W.dtype, device=W.device)
samples = z @ W_2[block].T + mu[block] + sigma2_2.sqrt() * noise
sample_cov = torch.cov(samples.T)
model_cov = W_2[block] @ W_2[block].T + sigma2_2 * torch.eye(10, dtype=W.dtype, device=W.device)
with SelfCheck("ppca marginal") as sc:
    sc.close("sample covariance of x = Wz + μ + ε ≈ WWᵀ + σ²I", sample_cov, model_cov,
             atol=5e-3, rtol=0.02, show_gap=True)

# %% [markdown]
# **Takeaway.** Drawing $z$ from the prior and decoding it linearly generates new digits, blurry in the mean and grainy once the pixel noise is added, and their covariance matches the model's $WW^\top + \sigma^2 I_D$.

# %% [markdown]
# ## Summary
#
# - A latent variable model explains the dependence between many observed variables through a few unobserved ones: $p(x) = \int p(x\mid z)p(z)\,\mathrm{d}z$.
# - PCA **maximises** the retained variance $\operatorname{tr}(W^\top C W)$ under $W^\top W = I_d$; the solution is the top-$d$ eigenvectors of the covariance of the centred data, and it equally minimises the squared reconstruction error (error = sum of discarded eigenvalues).
# - Probabilistic PCA is the latent variable model $p(z)=\mathcal N(0,I_d)$, $p(x\mid z) = \mathcal N(Wz+\mu, \sigma^2 I_D)$, with marginal $\mathcal N(\mu, WW^\top + \sigma^2 I_D)$, closed-form maximum likelihood ($\sigma^2$ = mean discarded eigenvalue, $W = U_d(\Lambda_d-\sigma^2I_d)^{1/2}R$) and posterior $\mathcal N(M^{-1}W^\top(x-\mu), \sigma^2 M^{-1})$; scikit-learn's `PCA.score` is its log-likelihood.
# - Its limits (a linear decoder, Gaussian pixel noise, the same posterior uncertainty for every image) are what autoencoders and VAEs relax next.
#
# **Next:** [02 · Autoencoders](02_autoencoders.ipynb), and the exercise [exercises/01_lvm_pca.ipynb](../exercises/01_lvm_pca.ipynb).

# %% [markdown]
# ## Pointers
#
# - M. E. Tipping, C. M. Bishop (1999). *Probabilistic principal component analysis.* JRSS B 61(3).
# - C. M. Bishop (2006). *Pattern Recognition and Machine Learning*, ch. 12.
# - S. Roweis (1998). *EM algorithms for PCA and SPCA.* NeurIPS.
