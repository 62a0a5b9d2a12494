# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: mystnb,-slideshow
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
# # 04 · The variational autoencoder in plain PyTorch
#
# Unit 02's autoencoder compressed digits into two numbers, but it could not *generate*: decoding a
# random code gave a smudge, because nothing told the encoder where codes should live. Unit 03 showed
# how to differentiate an expectation through a sample. This lecture puts the two together into the
# **variational autoencoder** (VAE; Kingma & Welling, 2014; Rezende et al., 2014): a latent variable
# model whose decoder is a neural network, fitted by maximising a lower bound on the log-likelihood.
# Everything is written out by hand in PyTorch; unit 05 rewrites the same model in Pyro.
#
# **Learning goals.** After this lecture you can
#
# 1. write the VAE's generative model $p(z)\,p_\theta(x\mid z)$ and its amortized guide $q_\phi(z\mid x)$ as PyTorch modules, with a Bernoulli likelihood on logits;
# 2. derive the evidence lower bound (ELBO) from Jensen's inequality and name its gap;
# 3. compute the Gaussian KL term in closed form and draw reparameterized samples;
# 4. train a VAE on dynamically binarized MNIST and read its 2-D latent space (means, uncertainty, decoded manifold, samples, interpolations);
# 5. estimate $\log p_\theta(x)$ by importance weighting, measure how loose the ELBO is, and compare a 2-D with a 20-D latent.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %% [markdown]
# The tools: PyTorch and its distributions (to check our formulas against), the course's data,
# plotting, self-check and table helpers, and the settings of this lecture. With `LVM_CLASS_MODE=1`
# (class mode, for running the lecture live) the two VAEs are loaded from `checkpoints/`, as the
# committed full run trained them, instead of being trained, and §10 estimates $\log p(x)$ on fewer
# test images.

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence
from torch.nn import functional as F

import utils.vae                      # the reusable copy of this lecture's code, compared in §12
from utils.checkpoints import lighter, trained
from utils.checks import SelfCheck
from utils.data import binarize, fixed_binarization, load_mnist, minibatches
from utils.plots import (LiveFigure, image_grid, latent_manifold, latent_scatter, legend_below,
                         progress, reconstruction_rows, save_figure, training_curves)
from utils.runtime import record
from utils.tables import table

EPOCHS = 1 if SMOKE else 25          # smoke mode shrinks data and epochs only
BATCH_SIZE, MAX_LR = 128, 3e-3       # minibatch size; peak learning rate of the one-cycle schedule
K = 100                              # importance samples per test image for log p(x) (§10)

# %% [markdown]
# MNIST as in-memory tensors: 55,000 training, 5,000 validation and 10,000 test images (at most
# 1,000 per split in smoke mode).

# %%
data = load_mnist(subset=1000 if SMOKE else None).to(device)
data


# %% [markdown]
# ## 1 · The model: a prior and a decoder
#
# The generative story has two steps. First draw a code $z\in\mathbb R^d$ (the latent size $d$ is
# `z_dim` in the code) from a fixed, simple prior; then draw each of the $D = 784$ pixels
# independently given the code, with a probability computed by a neural network $f_\theta$, the
# **decoder**:
#
# $$
# p(z) = \mathcal N(z;\, 0, I_d), \qquad
# p_\theta(x \mid z) = \prod_{i=1}^{D} \operatorname{Bernoulli}\big(x_i;\ \operatorname{sigmoid}(f_\theta(z)_i)\big).
# $$
#
# The network outputs **logits** $f_i = f_\theta(z)_i$, not probabilities. The log-likelihood of a
# binary image is then
#
# $$
# \log p_\theta(x\mid z) = \sum_{i} \big[x_i \log\operatorname{sigmoid}(f_i) + (1-x_i)\log(1-\operatorname{sigmoid}(f_i))\big]
# = \sum_i \big[x_i f_i - \log(1+e^{f_i})\big],
# $$
#
# and the right-hand form (a softplus, $\log(1+e^{f})$) is finite for every logit. Computing
# $\operatorname{sigmoid}(f)$ first and then its log is not: in float32, $\operatorname{sigmoid}(40)$
# rounds to exactly 1, $\log(1-1) = -\infty$, and a pixel with $x_i = 1$ then contributes
# $0\cdot(-\infty)$, which is NaN. PyTorch computes the right-hand form, with the sign flipped (the
# binary cross-entropy), in one stable call, `F.binary_cross_entropy_with_logits`; we use that call,
# as `utils.vae` and Pyro's `Bernoulli` do, and check it against the formula written out.

# %%
class Decoder(nn.Module):
    """f_θ: a code z (N, z_dim) -> 784 pixel logits of p_θ(x|z)."""

    def __init__(self, z_dim, hidden_dim=256, x_dim=784):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, x_dim))

    def forward(self, z):
        return self.net(z)                      # logits, not probabilities


def log_px_given_z(logits, x):
    """log p_θ(x|z) = Σ_i [x_i f_i − softplus(f_i)] per image (x broadcasts over sample axes)."""
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)


# %% [markdown]
# We check it against the formula written out and against PyTorch's own Bernoulli distribution
# (built on logits), on logits up to ±40 where the naive formula breaks.

# %%
logits = torch.linspace(-40, 40, 784).repeat(3, 1)        # three "images" of extreme logits
x = torch.bernoulli(torch.full((3, 784), 0.5))
naive = (x * torch.sigmoid(logits).log() + (1 - x) * (1 - torch.sigmoid(logits)).log()).sum(-1)
print("naive log sigmoid(f) formula:", naive.tolist())

with SelfCheck("Bernoulli log-likelihood") as sc:
    sc.true("in float32, sigmoid(40) rounds to exactly 1", torch.sigmoid(torch.tensor(40.0)).item() == 1.0,
            f"sigmoid(40) = {torch.sigmoid(torch.tensor(40.0)).item()!r}")
    sc.close("log_px_given_z = Σ_i [x_i f_i − softplus(f_i)], written out",
             log_px_given_z(logits, x), (x * logits - F.softplus(logits)).sum(-1),
             atol=1e-3, show_gap=True)
    sc.close("... = Independent(Bernoulli(logits=f)).log_prob(x)", log_px_given_z(logits, x),
             Independent(Bernoulli(logits=logits), 1).log_prob(x), atol=1e-3, show_gap=True)

# %% [markdown]
# **Dynamic binarization.** MNIST pixels are grey levels in $[0, 1]$, but a Bernoulli likelihood
# models 0/1 pixels. We treat each grey level as the probability that the pixel is on and draw a
# fresh binary image **every time an image is used** (`utils.data.binarize`): a form of data
# augmentation, a fresh random variant of every image in every epoch. How fresh? Two draws of an
# image with grey levels $p_i$ coincide with probability $\prod_i \big(p_i^2 + (1-p_i)^2\big)$, which
# the cell below computes for every training image: vanishingly small for a typical image (the
# median is printed below), but a few images are almost black and white already, and their draws
# often coincide (their count is printed too).
# Validation and test images are
# binarized once, each set with its own fixed seed (`fixed_binarization`: validation 1, test 2), so
# that every model is scored on the same bits.

# %% mystnb={"image": {"alt": "One training digit in grey levels next to three different random binarizations of it (dynamic binarization)."}}
digit = data.train_x[:1]
fig, axes = plt.subplots(1, 4, figsize=(9, 2.6))
image_grid(digit, nrow=1, ax=axes[0], title="grey levels")
for i, ax in enumerate(axes[1:]):
    image_grid(binarize(digit), nrow=1, ax=ax, title=f"binary draw {i + 1}")
plt.show()

x_val = fixed_binarization(data.val_x, seed=1)
x_test = fixed_binarization(data.test_x, seed=2)
log_p_repeat = torch.cat([(xb**2 + (1 - xb)**2).log().sum(1)          # log P(two draws coincide)
                          for (xb,) in minibatches(data.train_x, batch_size=5000, shuffle=False)])
p_repeat = log_p_repeat.exp()
print(f"P(two draws of a training image coincide): median {p_repeat.median():.1e}; above 1% for "
      f"{int((p_repeat > 0.01).sum())} of {len(p_repeat):,} images")
with SelfCheck("dynamic binarization") as sc:
    sc.true("binarized pixels are 0 or 1", bool(((x_test == 0) | (x_test == 1)).all()),
            "found values other than 0 and 1")
    sc.close("mean of the bits ≈ mean grey level", x_test.mean(), data.test_x.mean(),
             atol=5e-3, show_gap=True)


# %% [markdown]
# **Takeaway.** The decoder outputs logits and the log-likelihood is computed from them with a
# softplus, never through $\log\operatorname{sigmoid}$ of a rounded probability; the data are binary
# draws whose probabilities are the grey levels.

# %% [markdown]
# ## 2 · The guide: an amortized Gaussian encoder
#
# The posterior $p_\theta(z\mid x) = p_\theta(x\mid z)\,p(z) / p_\theta(x)$ has no closed form once
# $f_\theta$ is a neural network. We approximate it by a diagonal Gaussian whose mean and standard
# deviation are computed from the image by a second network, the **encoder**:
#
# $$
# q_\phi(z\mid x) = \mathcal N\big(z;\ \mu_\phi(x),\ \operatorname{diag}\sigma_\phi(x)^2\big).
# $$
#
# One network serves every image (*amortized* inference): instead of fitting $2d$ numbers for each of
# the 55,000 training images, we fit one function that predicts them, and it also works on images it
# has never seen. The encoder outputs $\log\sigma$ and exponentiates it, so that the standard
# deviation $\sigma > 0$ without constraints. In Pyro's vocabulary (unit 05) the prior with the
# decoder is the **model** and the encoder is the **guide**.

# %%
class Encoder(nn.Module):
    """q_φ(z|x) = N(z_loc(x), diag z_scale(x)²): pixels (N, 784) -> z_loc, z_scale (N, z_dim)."""

    def __init__(self, z_dim, hidden_dim=256, x_dim=784):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(x_dim, hidden_dim), nn.ReLU(),
                                  nn.Linear(hidden_dim, hidden_dim), nn.ReLU())
        self.loc = nn.Linear(hidden_dim, z_dim)
        self.log_scale = nn.Linear(hidden_dim, z_dim)

    def forward(self, x):
        h = self.body(x)
        return self.loc(h), self.log_scale(h).exp()     # z_loc, z_scale > 0


class VAE(nn.Module):
    """The model's decoder and the guide's encoder, trained together."""

    def __init__(self, z_dim, hidden_dim=256):
        super().__init__()
        self.z_dim = z_dim
        self.encoder = Encoder(z_dim, hidden_dim)
        self.decoder = Decoder(z_dim, hidden_dim)


# %% [markdown]
# An untrained 2-D model on 128 test images: the guide returns one row per image and one column per
# latent dimension, every standard deviation is positive, and the decoder maps codes back to 784
# logits.

# %%
vae = VAE(z_dim=2).to(device)
z_loc, z_scale = vae.encoder(x_test[:128])
print(f"parameters: {sum(p.numel() for p in vae.parameters()):,}")
with SelfCheck("guide") as sc:
    sc.shape("z_loc", z_loc, (128, 2))
    sc.shape("z_scale", z_scale, (128, 2))
    sc.true("z_scale > 0", bool((z_scale > 0).all()), "a standard deviation must be positive")
    sc.shape("decoder logits", vae.decoder(z_loc), (128, 784))

# %% [markdown]
# **Takeaway.** The guide is one network that maps any image to the mean and standard deviation of a
# Gaussian over codes; with the decoder it makes the VAE.

# %% [markdown]
# ## 3 · The evidence lower bound, from Jensen's inequality
#
# We would like to maximise $\log p_\theta(x) = \log \int p_\theta(x\mid z)\,p(z)\,dz$, but the
# integral is intractable. Multiply and divide by $q_\phi(z\mid x)$ and use that $\log$ is concave
# (Jensen: $\log \mathbb E[w] \ge \mathbb E[\log w]$):
#
# $$
# \log p_\theta(x) = \log \mathbb E_{q_\phi(z\mid x)}\!\left[\frac{p_\theta(x\mid z)\,p(z)}{q_\phi(z\mid x)}\right]
# \;\ge\; \mathbb E_{q_\phi(z\mid x)}\!\left[\log \frac{p_\theta(x\mid z)\,p(z)}{q_\phi(z\mid x)}\right]
# = \underbrace{\mathbb E_{q_\phi}\big[\log p_\theta(x\mid z)\big] - \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big)}_{\mathrm{ELBO}(x;\,\theta,\phi)} .
# $$
#
# The first term rewards codes that reconstruct $x$; the second keeps the guide close to the prior.
# Writing $p_\theta(x\mid z)p(z) = p_\theta(z\mid x)\,p_\theta(x)$ inside the expectation shows
# exactly what the inequality throws away:
#
# $$
# \log p_\theta(x) - \mathrm{ELBO}(x) = \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x)\big) \;\ge 0,
# $$
#
# so raising the ELBO in $\phi$ pulls the guide towards the true posterior, and raising it in
# $\theta$ raises the likelihood (or tightens the bound). We check both statements on a toy model
# where every quantity is known: $z\sim\mathcal N(0,1)$, $x\mid z\sim\mathcal N(z, s^2)$, so
# $p(x) = \mathcal N(0, 1+s^2)$ and $p(z\mid x) = \mathcal N\big(x/(1+s^2),\ s^2/(1+s^2)\big)$.
# Each guide's ELBO is a Monte Carlo average over 200,000 samples, so the check allows five standard
# errors.

# %%
s, x0 = 0.5, torch.tensor(1.3)                                     # toy model, one observation
log_px = Normal(0.0, math.sqrt(1 + s**2)).log_prob(x0)             # exact log p(x0)
posterior = Normal(x0 / (1 + s**2), s / math.sqrt(1 + s**2))       # exact p(z | x0)


def toy_elbo(q, n=200_000):
    """Monte Carlo ELBO E_q[log p(x0|z) + log p(z) − log q(z)] and its standard error."""
    z = q.sample((n,))
    log_w = Normal(z, s).log_prob(x0) + Normal(0.0, 1.0).log_prob(z) - q.log_prob(z)
    return log_w.mean(), log_w.std() / math.sqrt(n)


rows = []
with SelfCheck("ELBO derivation (toy model)") as sc:
    for q in [posterior, Normal(0.0, 1.0), Normal(1.5, 0.3), Normal(-0.5, 0.8)]:
        elbo, se = toy_elbo(q)
        gap, kl = log_px - elbo, kl_divergence(q, posterior)
        rows.append([f"N({q.loc.item():.2f}, {q.scale.item():.2f}²)", elbo, gap, kl])
        sc.close("log p(x) − ELBO = KL(q ‖ p(z|x))", gap, kl, atol=5 * se + 1e-5, show_gap=True)
table(["guide q", "ELBO", "log p(x) − ELBO", "KL(q ‖ p(z|x))"], rows, digits=4)

# %% [markdown]
# The gap equals the KL to the true posterior for every guide, and it vanishes when the guide *is*
# the posterior: then $p(x, z)/q(z)$ equals $p(x)$ for every sample, so even one sample gives the
# exact log-likelihood. The figure moves the guide's mean and shows the bound touching
# $\log p(x)$ at the posterior mean.

# %% mystnb={"image": {"alt": "The ELBO of a Gaussian guide against its mean m: a curve that touches the dashed line at log p(x) only at the posterior mean, marked by a red line, and lies below it everywhere else."}}
means = torch.linspace(-1.0, 2.5, 36)
bounds = torch.stack([toy_elbo(Normal(m, posterior.scale), n=20_000)[0] for m in means])
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(means, bounds, label="ELBO of q = N(m, posterior std²)")
ax.axhline(log_px, color="k", linestyle="--", label="log p(x)")
ax.axvline(posterior.loc, color="tab:red", linewidth=0.8, label="posterior mean")
ax.set(xlabel="guide mean m", ylabel="nats", title="The ELBO is a lower bound on log p(x)")
ax.legend()
plt.show()
with SelfCheck("ELBO derivation (toy model)") as sc:
    sc.close("the highest ELBO on the grid is at the posterior mean (within a grid step)",
             means[bounds.argmax()], posterior.loc, atol=0.1 + 1e-6, rtol=0, show_gap=True)


# %% [markdown]
# **Takeaway.** For every guide, $\log p(x) - \mathrm{ELBO} = \mathrm{KL}(q\,\|\,p(z\mid x)) \ge 0$:
# raising the ELBO over the guide pulls it towards the true posterior, and the bound is tight exactly
# when the guide is that posterior.

# %% [markdown]
# ## 4 · The KL term in closed form
#
# Both distributions in $\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z))$ are Gaussian, so the KL is a formula
# rather than an expectation to be sampled. For a diagonal Gaussian in $d$ dimensions against
# $\mathcal N(0, I_d)$:
#
# $$
# \mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I_d)\big)
# = \frac12 \sum_{j=1}^{d} \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big).
# $$

# %%
def gaussian_kl(z_loc, z_scale):
    """KL(N(z_loc, z_scale²) ‖ N(0, I)) per image, summed over the latent dimension: (N,)."""
    return 0.5 * (z_loc.pow(2) + z_scale.pow(2) - 1 - 2 * z_scale.log()).sum(-1)


# %% [markdown]
# We check it against `torch.distributions.kl_divergence` and against a Monte Carlo estimate
# $\frac1S\sum_s [\log q(z_s) - \log p(z_s)]$, $z_s\sim q$, on a few random Gaussians.

# %%
torch.manual_seed(0)
z_loc, z_scale = torch.randn(5, 3), torch.rand(5, 3) + 0.2
q = Independent(Normal(z_loc, z_scale), 1)
prior = Independent(Normal(torch.zeros(3), torch.ones(3)), 1)
z = q.sample((100_000,))                                          # (S, 5, 3)
kl_mc = q.log_prob(z) - prior.log_prob(z)                         # (S, 5)
kl_se = kl_mc.std(0) / math.sqrt(len(z))
with SelfCheck("Gaussian KL") as sc:
    sc.close("closed form = torch.distributions.kl_divergence", gaussian_kl(z_loc, z_scale),
             kl_divergence(q, prior), atol=1e-5, show_gap=True)
    sc.close("closed form = Monte Carlo estimate (100,000 samples, within 5 s.e.)",
             gaussian_kl(z_loc, z_scale), kl_mc.mean(0), atol=(5 * kl_se).min().item(),
             show_gap=True)
    sc.close("KL(N(0, I) ‖ N(0, I)) = 0", gaussian_kl(torch.zeros(1, 3), torch.ones(1, 3)),
             torch.zeros(1))

# %% [markdown]
# The Monte Carlo estimate is right on average but noisy; the closed form has no noise at all.
# The figure shows how slowly the noise shrinks with the number of samples, for the first Gaussian.

# %% mystnb={"image": {"alt": "Monte Carlo estimates of a KL divergence against the number of samples S on a log axis: five repeats that scatter widely at small S and converge to the dashed closed-form value."}}
sizes = torch.logspace(0, 5, 11).long()
fig, ax = plt.subplots(figsize=(7, 4))
for rep in range(5):
    estimates = [kl_mc[torch.randperm(len(kl_mc))[:n], 0].mean() for n in sizes.tolist()]
    ax.plot(sizes, estimates, color="tab:blue", alpha=0.5, marker=".")
ax.axhline(gaussian_kl(z_loc, z_scale)[0], color="k", linestyle="--", label="closed form")
ax.set(xscale="log", xlabel="Monte Carlo samples S", ylabel="KL estimate (nats)",
       title="Monte Carlo KL vs the closed form (5 repeats)")
ax.legend()
plt.show()


# %% [markdown]
# **Takeaway.** The KL between a diagonal Gaussian guide and the standard normal prior is one line of
# code with no sampling noise, so only the reconstruction term needs a sample.

# %% [markdown]
# ## 5 · Reparameterized sampling
#
# The reconstruction term $\mathbb E_{q_\phi}[\log p_\theta(x\mid z)]$ has no closed form, so we
# estimate it with a sample $z\sim q_\phi(z\mid x)$, and we need its gradient in $\phi$. Unit 03
# measured the **pathwise** (reparameterized) estimator's gradient to be far less noisy than the
# score-function one on this VAE: write the sample as a deterministic, differentiable function of
# $\phi$ and of noise that does not depend on $\phi$,
#
# $$
# z = \mu_\phi(x) + \sigma_\phi(x)\odot\varepsilon, \qquad \varepsilon\sim\mathcal N(0, I_d),
# \qquad \frac{\partial z}{\partial \mu} = 1,\quad \frac{\partial z}{\partial \sigma} = \varepsilon .
# $$

# %%
def reparameterize(z_loc, z_scale, eps=None):
    """z = z_loc + z_scale ⊙ ε with ε ~ N(0, I): a sample of q that gradients flow through."""
    if eps is None:
        eps = torch.randn_like(z_loc)
    return z_loc + z_scale * eps


# %% [markdown]
# Two checks: the samples have the right mean and standard deviation, and the pathwise gradient of
# $\mathbb E[z^2] = \mu^2 + \sigma^2$ is $(2\mu, 2\sigma)$.

# %%
mu = torch.tensor([1.5, -0.5], requires_grad=True)
sigma = torch.tensor([0.5, 2.0], requires_grad=True)
z = reparameterize(mu.expand(200_000, 2), sigma.expand(200_000, 2))
z.pow(2).mean(0).sum().backward()                        # ∇ of the MC estimate of Σ_j E[z_j²]
with SelfCheck("reparameterized sample") as sc:
    sc.close("sample mean = μ", z.mean(0), mu, atol=0.02, show_gap=True)
    sc.close("sample std = σ", z.std(0), sigma, atol=0.02, show_gap=True)
    sc.close("pathwise ∂E[z²]/∂μ = 2μ", mu.grad, 2 * mu.detach(), atol=0.03, show_gap=True)
    sc.close("pathwise ∂E[z²]/∂σ = 2σ", sigma.grad, 2 * sigma.detach(), atol=0.05, show_gap=True)


# %% [markdown]
# **Takeaway.** Writing the sample as $\mu + \sigma\odot\varepsilon$ moves the randomness into
# $\varepsilon$, so gradients reach the guide's parameters through $z$.

# %% [markdown]
# ## 6 · The loss: the negative ELBO per image
#
# With one reparameterized sample per image, the ELBO estimate is
# $\log p_\theta(x\mid z) - \mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z))$, $z = \mu + \sigma\odot\varepsilon$.
# Optimisers *minimise*, so the loss is its negative, in nats per image. Gradient descent on
# $-\mathrm{ELBO}$, $\theta \leftarrow \theta - \eta\,\nabla_\theta(-\mathrm{ELBO})$, is gradient
# *ascent* on the ELBO.

# %%
def negative_elbo(vae, x, eps=None):
    """−ELBO per image in nats, shape (N,): one reparameterized sample of the guide."""
    z_loc, z_scale = vae.encoder(x)                      # guide q_φ(z|x)
    z = reparameterize(z_loc, z_scale, eps)              # z ~ q_φ(z|x), differentiable in φ
    logits = vae.decoder(z)                              # model p_θ(x|z)
    return gaussian_kl(z_loc, z_scale) - log_px_given_z(logits, x)


# %% [markdown]
# The same quantity written with `torch.distributions` objects must agree to float precision when it
# uses the same noise $\varepsilon$. An untrained decoder outputs logits near 0, i.e. probability
# $\tfrac12$ per pixel, so the untrained loss should sit near $784\log 2$ nats.

# %%
x = x_test[:256]
eps = torch.randn(256, 2, device=device)
with torch.no_grad():
    z_loc, z_scale = vae.encoder(x)
    q = Independent(Normal(z_loc, z_scale), 1)
    p_z = Independent(Normal(torch.zeros_like(z_loc), torch.ones_like(z_scale)), 1)
    p_x_z = Independent(Bernoulli(logits=vae.decoder(z_loc + z_scale * eps)), 1)
    reference = kl_divergence(q, p_z) - p_x_z.log_prob(x)
    loss = negative_elbo(vae, x, eps)
print(f"untrained −ELBO: {loss.mean():.1f} nats per image; 784·log 2 = {784 * math.log(2):.1f}")
with SelfCheck("negative ELBO") as sc:
    sc.shape("negative_elbo(vae, x)", loss, (256,))
    sc.close("hand-written −ELBO = torch.distributions version", loss, reference,
             atol=1e-3, show_gap=True)
    sc.true("untrained −ELBO within 10% of 784·log 2",
            abs(loss.mean().item() / (784 * math.log(2)) - 1) < 0.1, "far from 784·log 2")


# %% [markdown]
# **Takeaway.** The loss is $\mathrm{KL} - \log p_\theta(x\mid z)$ per image with one reparameterized
# sample: it equals the `torch.distributions` version on the same noise and starts near
# $784\log 2$ nats for an untrained decoder.

# %% [markdown]
# ## 7 · Training a 2-D VAE
#
# The training loop batches from the in-memory tensors (`minibatches`), binarizes every minibatch
# afresh, and takes one Adam step on the mean −ELBO of the batch. The learning rate follows a
# **one-cycle** schedule (Smith & Topin, 2019): it warms up to `max_lr` and anneals to nearly zero.
# After each epoch we record the training −ELBO (the running mean over the epoch's batches) and the
# validation −ELBO, and redraw a live view.
#
# First the score: the mean −ELBO over images that are **already binary** (the validation set
# binarized once with seed 1, the test set with seed 2), one noise draw $\varepsilon$ per image.

# %%
@torch.no_grad()
def evaluate(vae, x_binary, batch_size=1000):
    """Mean −ELBO in nats per image over already-binarized images, one ε per image."""
    total = sum(negative_elbo(vae, xb).sum().item()
                for (xb,) in minibatches(x_binary, batch_size=batch_size, shuffle=False))
    return total / len(x_binary)


# %% [markdown]
# The loop. Its random numbers come from two places, in a fixed order: the minibatch order from a
# generator of its own (seeded with `seed`), and everything else (each minibatch's bits, each
# $\varepsilon$ of the loss and of the validation) from torch's global generator. `callback(epoch,
# history)` runs after each epoch, e.g. to redraw a figure.

# %%
def train(vae, train_x, val_x, epochs, batch_size=BATCH_SIZE, max_lr=MAX_LR, seed=0, callback=None):
    """Adam + one-cycle on dynamically binarized minibatches; −ELBO per epoch (nats per image)."""
    gen = torch.Generator().manual_seed(seed)             # minibatch order
    steps = epochs * math.ceil(len(train_x) / batch_size)
    optimizer = torch.optim.Adam(vae.parameters(), lr=max_lr, fused=True)  # fused: one pass per tensor
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=steps)
    history = {"train": [], "validation": []}
    for epoch in (bar := progress(range(epochs), desc=f"{vae.z_dim}-D VAE, epochs")):
        total = 0.0
        for (x,) in minibatches(train_x, batch_size=batch_size, generator=gen):
            loss = negative_elbo(vae, binarize(x)).mean()  # minimise −ELBO = maximise ELBO
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(x)
        history["train"].append(total / len(train_x))
        history["validation"].append(evaluate(vae, val_x))   # val_x: binarized once
        bar.set_postfix(train=f"{history['train'][-1]:.1f}", val=f"{history['validation'][-1]:.1f}")
        if callback is not None:
            callback(epoch, history)
    return history


# %% [markdown]
# The schedule on its own, over 1,000 steps: it should start well below `MAX_LR`, peak at `MAX_LR`
# and end near zero.

# %%
dummy = torch.optim.Adam([torch.zeros(1)], lr=MAX_LR)      # a parameter that only carries the lr
schedule = torch.optim.lr_scheduler.OneCycleLR(dummy, max_lr=MAX_LR, total_steps=1000)
lrs = [schedule.get_last_lr()[0]]
for _ in range(999):
    dummy.step()
    schedule.step()
    lrs.append(schedule.get_last_lr()[0])
with SelfCheck("one-cycle schedule") as sc:
    sc.true("it warms up: the first learning rate is below MAX_LR / 10", lrs[0] < MAX_LR / 10, f"{lrs[0]:g}")
    sc.close("its peak is MAX_LR", torch.tensor(max(lrs)), torch.tensor(MAX_LR), atol=0, rtol=1e-9)
    sc.true("it anneals to nearly zero: the last is below MAX_LR / 1000", lrs[-1] < MAX_LR / 1000,
            f"{lrs[-1]:g}")


# %% [markdown]
# The live view: the latent means of 1,000 validation images coloured by digit (for a latent of more
# than two dimensions, projected onto their top two principal axes), and the two curves.

# %%
def live_view(vae):
    """A LiveFigure and the callback that redraws it after each epoch."""
    live = LiveFigure(ncols=2, figsize=(12, 4.4))

    def redraw(epoch, history):
        left, right = live.clear()
        with torch.no_grad():
            z = vae.encoder(x_val[:1000])[0]
        title, axis_labels = f"{vae.z_dim}-D latent means (validation)", ("$z_1$", "$z_2$")
        if z.shape[1] > 2:                                 # project onto the top-2 principal axes
            z = (z - z.mean(0)) @ torch.linalg.svd(z - z.mean(0), full_matrices=False).Vh[:2].T
            title = f"{vae.z_dim}-D latent means, projected"
            axis_labels = ("principal axis 1 of the means", "principal axis 2")
        latent_scatter(z, data.val_y[:1000], ax=left, title=title, axis_labels=axis_labels)
        training_curves(history, ax=right, title=f"epoch {epoch + 1}")
        live.update()
    return live, redraw


# %% [markdown]
# Train the 2-D model from a fixed seed for `EPOCHS` epochs (25 in a full run) on the 55,000
# training images.

# %% mystnb={"image": {"alt": "Live training figure of the 2-D VAE: left, the latent means of 1,000 validation images coloured by digit; right, train and validation \u2212ELBO in nats per image falling over the epochs."}}
torch.manual_seed(0)
vae = VAE(z_dim=2).to(device)
live, redraw = live_view(vae)
history = trained("04_vae_pytorch/vae2", model=vae, callback=redraw,
                  train=lambda: train(vae, data.train_x, x_val, EPOCHS, callback=redraw),
                  config=dict(z_dim=2, epochs=EPOCHS, batch_size=BATCH_SIZE, max_lr=MAX_LR, seed=0,
                              data=data.source))
live.close()

# %% [markdown]
# The test set was binarized once (seed 2), and we evaluate with fixed noise too (seed 0), so the
# number below is reproducible.

# %% mystnb={"image": {"alt": "Train and validation negative ELBO of the 2-D VAE in nats per image against the epoch, falling steeply and then flattening, the two curves close together."}}
torch.manual_seed(0)
test_nelbo = {2: evaluate(vae, x_test)}
print(f"2-D VAE, {EPOCHS} epochs: final train −ELBO {history['train'][-1]:.2f}, "
      f"validation {history['validation'][-1]:.2f}, test {test_nelbo[2]:.2f} nats per image")
fig, ax = plt.subplots(figsize=(5.5, 3.5))
training_curves(history, ax=ax, title="2-D VAE on dynamically binarized MNIST")
save_figure(fig, "04_training_curves.png")
plt.show()
with SelfCheck("training curves") as sc:
    sc.true("epoch 1: the training −ELBO (averaged over the epoch) is above the validation −ELBO",
            history["train"][0] > history["validation"][0], f"{history['train'][0]:.2f}")

# %% [markdown]
# Early on the training curve lies above the validation curve: it averages over an epoch during
# which the weights were still improving, while the validation value is measured at the epoch's end.
# At the end the training −ELBO is below the validation and test values printed above; their
# difference is this run's generalization gap.
#
# **Takeaway.** Adam with a one-cycle schedule on freshly binarized minibatches trains the VAE by
# minimising the mean −ELBO; validation and test sets are binarized once, so every epoch and every
# model is scored on the same bits.

# %% [markdown]
# ## 8 · Reading the 2-D latent space
#
# **Posterior means and uncertainty.** Each test image maps to a Gaussian: the dot is its mean
# $\mu_\phi(x)$, the error bars its standard deviation $\sigma_\phi(x)$ in each direction.

# %% mystnb={"image": {"alt": "Posterior means of 3,000 test digits in the 2-D latent space, coloured by digit, with error bars of one posterior standard deviation: each class occupies a region, and the error bars are small next to the spread of the means."}}
with torch.no_grad():
    test_loc, test_scale = vae.encoder(x_test)
fig, ax = plt.subplots(figsize=(6.5, 5))
latent_scatter(test_loc[:3000], data.test_y[:3000], z_std=test_scale[:3000], ax=ax,
               title="q(z|x) of 3,000 test digits: mean ± std")
save_figure(fig, "04_latent_means.png")
plt.show()
print("median posterior std per dimension:", [round(v, 3) for v in test_scale.median(0).values.tolist()],
      "| std of the means across test images:", [round(v, 3) for v in test_loc.std(0).tolist()])


# %% [markdown]
# Digits of one class form regions, and the posterior standard deviations are small compared with
# the spread of the means (the two lines printed above): one image pins its code down much more
# than the prior does.
#
# **The decoded manifold.** Decoding a grid of codes shows what the decoder has learnt to draw in
# each region. The red outline encloses 95% of the posterior means of the 55,000 training images
# (where the *aggregate posterior* $\frac1N\sum_n q_\phi(z\mid x_n)$ puts its mass; each mean is
# jittered by Gaussian noise of standard deviation one tenth, about one histogram bin, so that the outline is not ragged);
# the dashed circle holds 95% of the prior's mass. Codes outside the outline decode to images the
# model rarely uses.

# %% mystnb={"image": {"alt": "A 21 \u00d7 21 grid of digits decoded from codes between \u22124 and 4 in each latent dimension, changing smoothly across the plane, with a red outline holding 95% of the training images' posterior means and a dashed blue circle holding 95% of the prior."}}
def decode(z, model=None):
    """Pixel probabilities sigmoid(f_θ(z)) of codes z under `model` (default: the 2-D VAE)."""
    with torch.no_grad():
        return torch.sigmoid((model or vae).decoder(z.to(device))).cpu()


with torch.no_grad():
    train_loc = torch.cat([vae.encoder(binarize(xb))[0]
                           for (xb,) in minibatches(data.train_x, batch_size=5000, shuffle=False)])
torch.manual_seed(0)
outline = (train_loc.cpu() + 0.1 * torch.randn(4, *train_loc.shape)).reshape(-1, 2)
fig, ax = plt.subplots(figsize=(6.5, 6.5))
latent_manifold(decode, extent=(-4, 4, -4, 4), n=21, contour_points=outline, ax=ax,
                title="2-D VAE: decoded grid of codes",
                contour_label="95% of the training images' posterior means (aggregate posterior)")
ax.add_patch(plt.Circle((0, 0), math.sqrt(-2 * math.log(0.05)), fill=False, linestyle="--",
                        linewidth=2, color="tab:blue", label="95% of the prior N(0, I)"))
legend_below(ax)                                           # under the axes: it hides no digit
save_figure(fig, "04_manifold.png")
plt.show()

# %% [markdown]
# The circle's radius: for $z\sim\mathcal N(0, I_2)$, $\lVert z\rVert^2$ is exponential with mean 2,
# so $P(\lVert z\rVert > r) = e^{-r^2/2}$, and $r = \sqrt{2\log 20}$ leaves 5% outside. Checked
# on prior draws:

# %%
r = math.sqrt(2 * math.log(20))
inside = (torch.randn(100_000, 2).norm(dim=1) < r).double().mean()    # CPU, on purpose
with SelfCheck("prior circle") as sc:
    sc.close("P(|z| < r) = 1 − exp(−r²/2) = 0.95 (100,000 draws, within 5 s.e.)", inside,
             torch.tensor(1 - math.exp(-r**2 / 2)), atol=5 * math.sqrt(0.95 * 0.05 / 100_000), rtol=0,
             show_gap=True)

# %% [markdown]
# **Samples from the prior, reconstructions, interpolation.** A VAE can do what unit 02's
# autoencoder could not: draw $z\sim\mathcal N(0, I)$ and decode it. We show the pixel probabilities
# $\operatorname{sigmoid}(f_\theta(z))$ (the mean of $p_\theta(x\mid z)$), which read better than
# binary draws.

# %% mystnb={"image": {"alt": "Fifty digits decoded from codes drawn from the prior N(0, I) by the 2-D VAE, blurry but mostly recognisable."}}
torch.manual_seed(0)
fig, ax = plt.subplots(figsize=(7, 3.6))
image_grid(decode(torch.randn(50, 2)), nrow=10, ax=ax, title="2-D VAE: decoded z ~ N(0, I)")
plt.show()

# %% [markdown]
# Reconstructions: twelve test digits above what the decoder makes of their posterior means.

# %% mystnb={"image": {"alt": "Twelve test digits above their reconstructions by the 2-D VAE."}}
fig, ax = plt.subplots(figsize=(12, 2.8))
reconstruction_rows(data.test_x[:12], decode(test_loc[:12]), n=12, ax=ax,
                    title="2-D VAE: test digits and sigmoid(f(z_loc))")
plt.show()

# %% [markdown]
# Between two test digits, we walk in a straight line from one posterior mean to the other.

# %% mystnb={"image": {"alt": "A test 4, ten images decoded along the straight line from its code to the code of a test 7, and the test 7: the decoded digit changes gradually from a 4 to a 7."}}
first_of = {int(d): int((data.test_y == d).nonzero()[0]) for d in data.test_y.unique()}
a, b = first_of[4], first_of[7]                             # the first test 4 and test 7
t = torch.linspace(0, 1, 10, device=device)[:, None]
path = (1 - t) * test_loc[a] + t * test_loc[b]
fig, ax = plt.subplots(figsize=(12, 1.9))
image_grid(torch.cat([data.test_x[a:a + 1].cpu(), decode(path), data.test_x[b:b + 1].cpu()]),
           nrow=12, ax=ax, title="test 4 → decoded line z(t) = (1−t)·z_loc(4) + t·z_loc(7) → test 7")
plt.show()


# %% [markdown]
# **Takeaway.** In two dimensions each digit class occupies a region of the latent plane, each
# image's posterior is much narrower than the prior, and the decoder turns prior samples and straight
# lines between codes into images.

# %% [markdown]
# ## 9 · Explore the latent space yourself
#
# Move the sliders to choose $z_1, z_2$; the decoder redraws the digit. The widget needs a running
# kernel with a widget front end (JupyterLab, VS Code, Colab). Where there is none (a static HTML
# page, a headless run), the static figure below the sliders shows what they would: the decoded
# codes of a 7 × 7 grid over the sliders' range, one per whole-number position of $z_1$ and $z_2$.

# %% mystnb={"image": {"alt": "Static view of the slider explorer: a 7 \u00d7 7 grid of digits decoded from the codes z1, z2 = \u22123, \u22122, \u2026, 3, with the two latent axes labelled."}}
def show_code(z1=0.0, z2=0.0):
    """Decode the code (z1, z2) and draw it."""
    fig, ax = plt.subplots(figsize=(3, 3))
    image_grid(decode(torch.tensor([[z1, z2]])), nrow=1, ax=ax, title=f"z = ({z1:.1f}, {z2:.1f})")
    plt.show()


try:
    import ipywidgets as widgets
    from IPython import get_ipython
    from IPython.display import display
    if get_ipython() is None:                              # run as a plain Python script
        raise RuntimeError("it needs a Jupyter kernel")
    slider = dict(min=-3.0, max=3.0, step=0.1, continuous_update=True)
    display(widgets.interactive(show_code, z1=widgets.FloatSlider(value=0.0, **slider),
                                z2=widgets.FloatSlider(value=0.0, **slider)))
except Exception as err:                                   # no widgets here: static figure only
    print(f"interactive explorer unavailable ({err}); static view below")

fig, ax = plt.subplots(figsize=(6, 6))                     # the static view of the sliders
latent_manifold(decode, extent=(-3, 3, -3, 3), n=7, ax=ax,
                title="static view: decoded codes, z₁, z₂ = −3, −2, …, 3")
plt.show()

# %% [markdown]
# **Takeaway.** The decoder is a map from the plane of codes to images; moving a code moves the
# decoded digit through the shapes of the regions it crosses.

# %% [markdown]
# ## 10 · How loose is the bound? An importance-weighted estimate of log p(x)
#
# The ELBO is a lower bound; how far below $\log p_\theta(x)$ is it? Write $\log p_\theta(x)$ as an
# expectation under the guide and average $K$ importance weights before taking the log
# (Burda et al., 2016):
#
# $$
# \log p_\theta(x) = \log \mathbb E_{q_\phi(z\mid x)}\big[w\big],\quad w = \frac{p_\theta(x\mid z)\,p(z)}{q_\phi(z\mid x)},
# \qquad
# \mathcal L_K(x) = \mathbb E_{z_{1:K}\sim q_\phi}\Big[\log \frac1K\sum_{k=1}^K w_k\Big].
# $$
#
# By Jensen again $\mathcal L_K \le \log p_\theta(x)$; $\mathcal L_1$ is the ELBO, and
# $\mathcal L_K$ grows with $K$ towards $\log p_\theta(x)$. The code computes one draw of what is
# inside the expectation, $\hat{\mathcal L}_K(x) = \log\frac1K\sum_k w_k$ with fresh
# $z_{1:K}\sim q_\phi$: an unbiased estimate of $\mathcal L_K(x)$, hence a lower bound on
# $\log p_\theta(x)$ **only in expectation**. A single draw can land above $\log p_\theta(x)$ (and
# $-\hat{\mathcal L}_K$ below $-\log p_\theta(x)$). The sum of weights is computed as a `logsumexp`
# of log-weights, which never overflows.
#
# All three statements on section 3's toy model, where $\log p(x)$ is known, with the prior
# $\mathcal N(0, 1)$ as a poor guide: 4,000 draws of $\hat{\mathcal L}_K$ for each $K$.

# %%
torch.manual_seed(0)                                              # CPU: the same draws on every device
q_toy = Normal(0.0, 1.0)                                          # the prior as the guide
z = q_toy.sample((4000, 1000))                                    # 4,000 draws of K = 1,000 codes
log_w = Normal(z, s).log_prob(x0) + Normal(0.0, 1.0).log_prob(z) - q_toy.log_prob(z)
draws = {k: torch.logsumexp(log_w[:, :k], 1) - math.log(k) for k in (1, 10, 100, 1000)}
toy_means = torch.stack([d.mean() for d in draws.values()])
with SelfCheck("importance-weighted bound (toy model)") as sc:
    for k, d in draws.items():
        sc.true(f"E[L̂_{k}] ≤ log p(x) (within 5 s.e.)", d.mean() <= log_px + 5 * d.std() / math.sqrt(len(d)),
                f"mean {d.mean():.4f} > log p(x) = {log_px:.4f}")
    sc.true("E[L̂_K] grows with K", bool((toy_means.diff() > 0).all()), f"means {toy_means.tolist()}")
    sc.true("single draws of L̂_K land above log p(x)", bool((draws[10] > log_px).any()), "none did")
table(["K", "mean of L̂_K", "log p(x)", "share of draws above log p(x)"],
      [[k, d.mean(), log_px, (d > log_px).double().mean()] for k, d in draws.items()], digits=4)


# %% [markdown]
# Now the VAE: one draw of $\hat{\mathcal L}_K$ per image, with the guide $q_\phi(z\mid x)$, in batches
# of images so that $K$ decoded samples per image fit in memory.

# %%
@torch.no_grad()
def iwae_log_px(vae, x, k, batch_size=None):
    """log (1/K) Σ_k w_k per image, with K samples z_k ~ q_φ(z|x): shape (N,)."""
    batch_size = batch_size or max(1, 5_000 // k)
    out = []
    for (xb,) in minibatches(x, batch_size=batch_size, shuffle=False):
        z_loc, z_scale = vae.encoder(xb)
        q = Normal(z_loc, z_scale)
        z = q.sample((k,))                                              # (K, B, z_dim)
        log_w = (log_px_given_z(vae.decoder(z), xb)
                 + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1))
        out.append(torch.logsumexp(log_w, dim=0) - math.log(k))
    return torch.cat(out)


# %% [markdown]
# On 200 test images: the estimate for several $K$, each against the ELBO (averaged over 20 noise
# draws), all in nats per image averaged over the images.

# %%
torch.manual_seed(0)
x_few = x_test[:50 if SMOKE else 200]
elbo_few = -torch.stack([negative_elbo(vae, x_few).detach() for _ in range(20)]).mean(0)
ks = [1, 10, 100, 1000]
bounds = {k: iwae_log_px(vae, x_few, k) for k in ks}
with SelfCheck("importance-weighted bound") as sc:
    se = (bounds[1] - elbo_few).std() / math.sqrt(len(x_few))
    sc.close("L_1 = ELBO (within 5 s.e.)", bounds[1].mean(), elbo_few.mean(),
             atol=5 * se.item(), show_gap=True)
    sc.true("L_1 ≤ L_10 ≤ L_100 ≤ L_1000 on average",
            all(bounds[a].mean() <= bounds[b].mean() for a, b in zip(ks, ks[1:])),
            "the bound did not grow with K")
table(["K", "estimate of L_K", "ELBO", "L_K − ELBO"],
      [[k, bounds[k].mean(), elbo_few.mean(), (bounds[k] - elbo_few).mean()] for k in ks])

# %% [markdown]
# Now the whole test set (its first 1,000 images in class mode) with $K = 100$ samples per image.
# The sweep above shows how much more $K = 1000$ would add: $-\hat{\mathcal L}_K$ estimates
# $-\log p_\theta(x)$ from above in expectation, and tightens slowly with $K$.

# %%
x_nll = x_test[:lighter(len(x_test), 1000, f"test images for −log p(x) with K = {K}")]
torch.manual_seed(0)
test_nll = {2: -iwae_log_px(vae, x_nll, K).mean().item()}
print(f"2-D VAE, test set: −ELBO {test_nelbo[2]:.2f}, −log p(x) ≈ −L_{K} {test_nll[2]:.2f} "
      f"nats per image; the ELBO is {test_nelbo[2] - test_nll[2]:.2f} nats below")


# %% [markdown]
# Where does the gap come from? Cremer, Li & Duvenaud (2018, *Inference Suboptimality in Variational
# Autoencoders*) split it in two, with $q^*_x$ the diagonal Gaussian that maximises the ELBO of the
# one image $x$:
#
# $$
# \log p_\theta(x) - \mathrm{ELBO}(q_\phi)
# = \underbrace{\log p_\theta(x) - \mathrm{ELBO}(q^*_x)}_{\text{approximation gap}}
# + \underbrace{\mathrm{ELBO}(q^*_x) - \mathrm{ELBO}(q_\phi)}_{\text{amortization gap}} .
# $$
#
# The approximation gap is the price of the family (a diagonal Gaussian cannot match a curved or
# multimodal posterior), the amortization gap the price of one encoder for all images. Both are
# $\ge 0$: $q_\phi(z\mid x)$ is itself a diagonal Gaussian, so $q^*_x$ does at least as well, and no
# ELBO exceeds $\log p_\theta(x)$. We measure them on a few test images. For each image we fit its own
# Gaussian by Adam on the ELBO, starting from the encoder's (its mean and log standard deviation move
# in units of the encoder's standard deviation; 32 samples per step; the learning rate decays):

# %%
def elbo_of(x, loc, scale, samples=1000):
    """Monte Carlo ELBO per image of the guide N(loc, scale²) and its standard error: (N,), (N,)."""
    z = loc + scale * torch.randn(samples, *loc.shape, device=loc.device)
    terms = log_px_given_z(vae.decoder(z), x) - gaussian_kl(loc, scale)       # (samples, N)
    return terms.mean(0), terms.std(0) / math.sqrt(samples)


def optimise_guide(x, steps=150, samples=32):
    """Per image, the diagonal Gaussian of highest ELBO, by Adam from the encoder's: loc, scale."""
    with torch.no_grad():
        loc0, scale0 = vae.encoder(x)
    shift = torch.zeros_like(loc0, requires_grad=True)         # loc = loc0 + scale0 · shift
    log_ratio = torch.zeros_like(loc0, requires_grad=True)     # scale = scale0 · exp(log_ratio)
    opt = torch.optim.Adam([shift, log_ratio], lr=0.05)
    decay = torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.01, total_iters=steps)
    for _ in range(steps):
        loss = -elbo_of(x, loc0 + scale0 * shift, scale0 * log_ratio.exp(), samples)[0].sum()
        shift.grad, log_ratio.grad = torch.autograd.grad(loss, [shift, log_ratio])
        opt.step()
        decay.step()
    return (loc0 + scale0 * shift).detach(), (scale0 * log_ratio.exp()).detach()


# %% [markdown]
# Then each guide's ELBO from 1,000 samples, and $\log p_\theta(x)$ estimated by
# $\hat{\mathcal L}_{1000}$ with $q^*_x$ as the guide (a lower bound in expectation, so the
# approximation gap is, if anything, underestimated). Since $\mathcal L_K \ge \mathrm{ELBO}$ for the
# same guide, the order amortized ELBO ≤ optimised ELBO ≤ $\log p_\theta(x)$ must hold on average,
# within the estimates' noise.

# %%
torch.manual_seed(0)
x_gap = x_test[:5 if SMOKE else 20]
best = optimise_guide(x_gap)
with torch.no_grad():
    (elbo_amortized, se_a), (elbo_best, se_b) = elbo_of(x_gap, *vae.encoder(x_gap)), elbo_of(x_gap, *best)
    z = best[0] + best[1] * torch.randn(1000, *best[0].shape, device=device)
    log_w = (log_px_given_z(vae.decoder(z), x_gap) + Normal(0.0, 1.0).log_prob(z).sum(-1)
             - Normal(*best).log_prob(z).sum(-1))
    log_px_gap = torch.logsumexp(log_w, 0) - math.log(1000)
amortization, approximation = elbo_best - elbo_amortized, log_px_gap - elbo_best
se_of_mean = lambda *se: torch.stack(se).pow(2).sum().sqrt() / len(x_gap)   # s.e. of a mean gap
with SelfCheck("the two gaps") as sc:
    sc.true("amortization gap ≥ 0 on average (within 5 s.e.)",
            amortization.mean() >= -5 * se_of_mean(se_a, se_b), f"{amortization.mean():.3f}")
    sc.true("approximation gap ≥ 0 on average (within 5 s.e.)",
            approximation.mean() >= -5 * se_of_mean(se_b), f"{approximation.mean():.3f}")
print(f"{len(x_gap)} test images, nats per image: amortization gap {amortization.mean():.2f}, "
      f"approximation gap ≥ {approximation.mean():.2f} (ELBO {elbo_amortized.mean():.2f} → "
      f"{elbo_best.mean():.2f})")

# %% [markdown]
# In the committed run (full MNIST, 25 epochs, torch on 1 thread) the line above reads an
# amortization gap of 3.27 nats per image and an approximation gap of at least 1.18 on these 20 test
# images: for this 2-D model, one encoder for all images costs more than the Gaussian family does, as
# far as this lower bound on the approximation gap can tell.
#
# **Takeaway.** Averaging $K$ importance weights inside the log gives an estimate of
# $\log p_\theta(x)$ that is a lower bound in expectation and tightens as $K$ grows; its distance from
# the ELBO measures how loose the ELBO is, and fitting one Gaussian per image splits that distance into
# the price of amortization and the price of the Gaussian family.

# %% [markdown]
# ## 11 · A 20-D latent, trained the same way
#
# Two dimensions make pictures, not good density models: a 2-D bottleneck has to crush the
# variety of handwriting into a plane. The same architecture and schedule with $d = 20$:
# the live view now shows the latent means along their two principal axes.

# %% mystnb={"image": {"alt": "Live training figure of the 20-D VAE: left, its latent means of validation images projected on their two principal axes, coloured by digit; right, train and validation \u2212ELBO falling over the epochs."}}
torch.manual_seed(0)
vae20 = VAE(z_dim=20).to(device)
live, redraw = live_view(vae20)
history20 = trained("04_vae_pytorch/vae20", model=vae20, callback=redraw,
                    train=lambda: train(vae20, data.train_x, x_val, EPOCHS, callback=redraw),
                    config=dict(z_dim=20, epochs=EPOCHS, batch_size=BATCH_SIZE, max_lr=MAX_LR, seed=0,
                                data=data.source))
live.close()
torch.manual_seed(0)
test_nelbo[20] = evaluate(vae20, x_test)
torch.manual_seed(0)
test_nll[20] = -iwae_log_px(vae20, x_nll, K).mean().item()

# %% [markdown]
# The two models on the test set, in nats per image of *binary* images: $-\log$ of a probability,
# so never negative. Unit 01's PPCA log-likelihood is a density over continuous grey levels, not a
# probability of binary pixels: its nats are on another scale and cannot be compared with these.

# %%
quality = [[z_dim, test_nelbo[z_dim], test_nll[z_dim], test_nelbo[z_dim] - test_nll[z_dim]]
           for z_dim in (2, 20)]
table(["latent size d", "test −ELBO", f"test −log p(x) ≈ −L_{K}", "gap"], quality,
      title=f"{data.source}: {EPOCHS} epochs, batch {BATCH_SIZE}, one-cycle max lr {MAX_LR:g}, "
            f"device {device}; nats per image")

# %% [markdown]
# The same numbers for the course's benchmark, as JSON (written only when `$LVM_RESULTS_DIR` is
# set; otherwise nothing happens).

# %%
record("04_vae_pytorch", epochs=EPOCHS, batch_size=BATCH_SIZE, max_lr=MAX_LR, k=K,
       models=[{"z_dim": z_dim, "test_negative_elbo": nelbo, "test_negative_log_px": nll, "gap": gap}
               for z_dim, nelbo, nll, gap in quality])

# %% [markdown]
# Prior samples of the two models side by side.

# %% mystnb={"image": {"alt": "Forty digits decoded from prior samples by the 2-D VAE, on the left, blurry but digit-like, and by the 20-D VAE, on the right, sharper and more varied, some not recognisable."}}
torch.manual_seed(0)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.2))
image_grid(decode(torch.randn(40, 2)), nrow=10, ax=axes[0], title="2-D VAE: decoded z ~ N(0, I)")
image_grid(decode(torch.randn(40, 20), vae20), nrow=10, ax=axes[1],
           title="20-D VAE: decoded z ~ N(0, I)")
save_figure(fig, "04_samples_2d_vs_20d.png")
plt.show()


# %% [markdown]
# Reconstructions of the same test digits, and the straight line between the test 4 and the test 7
# of section 8, decoded by each model.

# %% mystnb={"image": {"alt": "Top, twelve test digits with their reconstructions by the 2-D and the 20-D VAE; bottom, the interpolation from a test 4 to a test 7 decoded by each model."}}
def labelled_rows(rows, labels, ax, title):
    """Rows of images (each (n, 784)) stacked into one grid, with a label left of each row."""
    image_grid(torch.cat([r.cpu() for r in rows]), nrow=len(rows[0]), ax=ax, title=title)
    for r, label in enumerate(labels):
        ax.text(-2, 30 * r + 15, label, ha="right", va="center")


with torch.no_grad():
    loc20 = vae20.encoder(x_test)[0]
path20 = (1 - t) * loc20[a] + t * loc20[b]
ends = lambda decoded: torch.cat([data.test_x[a:a + 1].cpu(), decoded, data.test_x[b:b + 1].cpu()])
fig, axes = plt.subplots(2, 1, figsize=(9, 4.2))
labelled_rows([data.test_x[:12], decode(test_loc[:12]), decode(loc20[:12], vae20)],
              ["test digit", "2-D", "20-D"], axes[0], "reconstructions sigmoid(f(z_loc))")
labelled_rows([ends(decode(path)), ends(decode(path20, vae20))], ["2-D", "20-D"], axes[1],
              "interpolation from a test 4 to a test 7")
plt.show()

# %% [markdown]
# The 20-D model reconstructs the particular strokes of each test digit, where the 2-D model draws a
# more typical digit, sometimes of a nearby class. Its prior samples are sharper and more varied, but
# some are not recognisable digits. A likely reason, not measured here: the prior puts mass on regions
# of the 20-D space where the aggregate posterior $\frac1N\sum_n q_\phi(z\mid x_n)$ has little, so the
# decoder was never trained there (Hoffman & Johnson, 2016, *ELBO Surgery*, analyse this mismatch).
# The 20-D interpolation starts and ends with the test digits' own strokes.
#
# **Takeaway.** With the same architecture, schedule and epochs, the 20-D latent gives a much lower
# test −ELBO and −log p(x) than the 2-D one (the table), at the price of a latent space we can no
# longer draw.

# %% [markdown]
# ## 12 · The reusable copy in `utils/vae.py`
#
# Units 03 and 05, the exercises' self-checks and the benchmark import this lecture's model, loss,
# evaluation and training loop from `utils.vae` instead of repeating them, so each must compute
# exactly what this lecture wrote. First the model, the loss, the KL and the importance-weighted
# estimate: the weights trained here, loaded into the reusable model, with the same noise, must give
# the same numbers bit for bit.

# %%
reusable = utils.vae.VAE(z_dim=2).to(device)
reusable.load_state_dict(vae.state_dict())                # strict: the same layers and shapes
x_check = x_test[:1000]                                   # 1,000 test images (fewer in smoke mode)
eps = torch.randn(len(x_check), 2, device=device)
exact = dict(atol=0, rtol=0, show_gap=True)
with torch.no_grad(), SelfCheck("utils.vae matches this lecture") as sc:
    sc.close("utils.vae.negative_elbo = negative_elbo (same weights, same ε)",
             utils.vae.negative_elbo(reusable, x_check, eps), negative_elbo(vae, x_check, eps), **exact)
    sc.close("utils.vae.gaussian_kl = gaussian_kl", utils.vae.gaussian_kl(*vae.encoder(x_test)),
             gaussian_kl(*vae.encoder(x_test)), **exact)
    torch.manual_seed(1)
    ours = iwae_log_px(vae, x_test[:200], 100, batch_size=100)
    torch.manual_seed(1)
    theirs = utils.vae.iwae_log_px(reusable, x_test[:200], 100, batch_size=100)
    sc.close("utils.vae.iwae_log_px = iwae_log_px (same random numbers)", theirs, ours, **exact)
    torch.manual_seed(2)
    ours = evaluate(vae, x_test)
    torch.manual_seed(2)
    sc.close("utils.vae.evaluate = evaluate (same random numbers)",
             utils.vae.evaluate(reusable, x_test), ours, **exact)

# %% [markdown]
# Then the training loop. From the same initial weights and the same seeds, two epochs on 512
# training images (validated on 256 validation images) through our `train` and through
# `utils.vae.train_vae` must give identical histories and identical final weights: both draw their
# random numbers in the same order.

# %%
torch.manual_seed(0)
ours, theirs = VAE(z_dim=2).to(device), utils.vae.VAE(z_dim=2).to(device)
theirs.load_state_dict(ours.state_dict())                 # the same initial weights
torch.manual_seed(3)
history_ours = train(ours, data.train_x[:512], x_val[:256], epochs=2)
torch.manual_seed(3)
history_theirs = utils.vae.train_vae(theirs, data.train_x[:512], x_val[:256], epochs=2,
                                     batch_size=BATCH_SIZE, max_lr=MAX_LR, seed=0, desc=None)
with SelfCheck("utils.vae.train_vae matches train") as sc:
    for split in ("train", "validation"):
        sc.close(f"the same {split} −ELBO after each epoch", torch.tensor(history_theirs[split]),
                 torch.tensor(history_ours[split]), **exact)
    sc.close("the same final weights", torch.cat([p.flatten() for p in theirs.parameters()]),
             torch.cat([p.flatten() for p in ours.parameters()]).detach(), **exact)

# %% [markdown]
# **Takeaway.** The lecture's model, loss, evaluation and training loop and those of `utils.vae`
# give identical numbers from identical weights and random numbers, so what later units import is
# what this lecture taught.

# %% [markdown]
# ## Summary
#
# - A VAE is a latent variable model $p(z)\,p_\theta(x\mid z)$ with a neural decoder, fitted together
#   with an amortized Gaussian guide $q_\phi(z\mid x)$ by maximising the ELBO
#   $\mathbb E_q[\log p_\theta(x\mid z)] - \mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z))$.
# - Jensen's inequality gives the bound; its gap is $\mathrm{KL}(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x))$.
# - The KL to the standard normal prior has a closed form; the reconstruction term is estimated with
#   one reparameterized sample $z = \mu + \sigma\odot\varepsilon$, which lets gradients reach the
#   encoder.
# - Bernoulli likelihoods are computed from logits; MNIST is binarized afresh at every use in
#   training, and once (with a fixed seed) for validation and test.
# - A 2-D latent gives readable pictures: class regions, posterior uncertainty, a decoded manifold,
#   samples and interpolations. A 20-D latent gives a much better density model (see the table).
# - The importance-weighted estimate $\hat{\mathcal L}_K$ of $\log p_\theta(x)$ is a lower bound in
#   expectation (not draw by draw) and shows how far the ELBO sits below $\log p_\theta(x)$; that gap
#   is part amortization, part the Gaussian family (Cremer et al., 2018), measured here on a few images.
#
# **Next:** unit 05 writes the same model and guide in Pyro and shows that `Trace_ELBO` computes
# the same objective.

# %% [markdown]
# ## Pointers
#
# - D. P. Kingma, M. Welling (2014). *Auto-Encoding Variational Bayes.* ICLR.
# - D. J. Rezende, S. Mohamed, D. Wierstra (2014). *Stochastic Backpropagation and Approximate
#   Inference in Deep Generative Models.* ICML.
# - Y. Burda, R. Grosse, R. Salakhutdinov (2016). *Importance Weighted Autoencoders.* ICLR.
# - C. Cremer, X. Li, D. Duvenaud (2018). *Inference Suboptimality in Variational Autoencoders.* ICML.
# - M. D. Hoffman, M. J. Johnson (2016). *ELBO Surgery: Yet Another Way to Carve Up the Variational
#   Evidence Lower Bound.* NIPS Workshop in Advances in Approximate Bayesian Inference.
# - D. M. Blei, A. Kucukelbir, J. D. McAuliffe (2017). *Variational Inference: A Review for
#   Statisticians.* JASA.
# - L. N. Smith, N. Topin (2019). *Super-Convergence: Very Fast Training of Neural Networks Using
#   Large Learning Rates.* (the one-cycle schedule)
# - D. P. Kingma, M. Welling (2019). *An Introduction to Variational Autoencoders.* Foundations and
#   Trends in Machine Learning.
