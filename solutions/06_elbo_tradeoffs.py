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
# # 06 · Exercise: rate, distortion, active units and tighter bounds
#
# **What you implement.** Four functions, in the notation of lecture 06:
#
# 1. `rate_distortion(vae, x, eps=None)`: the distortion $D$ of each image and its rate $R$ split over
#    the latent dimensions, whose sum is the −ELBO;
# 2. `active_units(vae, x, threshold=0.01)`: how many latent dimensions a model's encoder uses;
# 3. `iwae_negative_bound(vae, x, k, eps=None)`: the importance-weighted bound $-\mathcal L_K$ as a
#    training loss, and the normalised importance weights;
# 4. `free_bits_rate(z_loc, z_scale, lam)`: the **free-bits** rate (Kingma et al., 2016), which the
#    lecture does not cover: a remedy for switched-off dimensions.
#
# With them you train five small VAEs (β = 1 and β = 4, K = 1 and K = 5, and β = 4 with free bits) and
# measure what each objective changes.
#
# **How to check.** Each function is followed by a self-check cell. It runs your function on fixed
# inputs against a reference and prints one line per check: a ✓, or a ✗ with what differed, by how
# much, and a hint. Re-run your function's cell after each change, then the check cell. The cells that
# *use* your functions begin with `if unit06.ready(...)`: until those functions pass their checks,
# such a cell prints one line saying which to finish first, and does nothing else.
#
# **Time.** About an hour, plus about two minutes of training on a laptop CPU.
#
# The networks are lecture 04's (`utils.vae.VAE`): `vae.encoder(x)` returns `(z_loc, z_scale)`, each
# of shape `(N, z_dim)`, where `z_scale` is the standard deviation σ (not the variance, not its log);
# `vae.decoder(z)` returns pixel **logits** of shape `(..., 784)`, for codes of shape `(..., z_dim)`.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %% [markdown]
# The tools, and the settings of every training run. All runs are short on purpose: two epochs on
# 10,000 images (one epoch on 1,000 in smoke mode).

# %%
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch.distributions import Normal
from torch.nn import functional as F

from utils.checks import unit06
from utils.data import fixed_binarization, load_mnist
from utils.tables import table
from utils.vae import VAE, evaluate, iwae_log_px, log_likelihood, train_vae

Z_DIM = 20                                        # latent size of every model
EPOCHS, N_TRAIN = (1, 1000) if SMOKE else (2, 10_000)    # epochs, training images of every run
BETA, LAM, K_TRAIN = 4.0, 0.5, 5                  # the high β, free nats per dimension, the IWAE's K
K_EVAL, N_EVAL = (50, 100) if SMOKE else (500, 500)      # samples and test images for −log p(x)

# %% [markdown]
# MNIST as in-memory tensors (at most 1,000 images per split in smoke mode). The test images are
# binarized once, with the lecture's seed, so every model is scored on the same bits.

# %%
data = load_mnist(subset=1000 if SMOKE else None).to(device)
x_test = fixed_binarization(data.test_x, seed=2)
data


# %% [markdown]
# ## 1 · Distortion and rate
#
# The −ELBO of an image is a distortion plus a rate, both in nats (Alemi et al., 2018):
#
# $$
# -\mathrm{ELBO}(x) = \underbrace{-\log p_\theta(x\mid z)}_{D}
# + \underbrace{\frac12 \sum_{d=1}^{z_\text{dim}} \big(\mu_d^2 + \sigma_d^2 - 1 - \log \sigma_d^2\big)}_{R \,=\, \mathrm{KL}(q_\phi(z\mid x)\,\|\,\mathcal N(0, I))},
# \qquad z = \mu + \sigma \odot \varepsilon ,
# $$
#
# with $\mu, \sigma$ = `vae.encoder(x)` and one sample $\varepsilon$ (`eps`; when it is `None`, draw
# it with `torch.randn_like`, one ε per image). $\log p_\theta(x\mid z)$ is the Bernoulli
# log-likelihood of the 784 pixels under the decoder's logits:
# `F.binary_cross_entropy_with_logits(logits, x, reduction="none")` is $-\log p$ per pixel (computed
# from the logits: `sigmoid` then a BCE saturates at large logits). Unlike the lecture, keep the rate
# **per latent dimension**, $R_{nd} = \frac12(\mu_{nd}^2 + \sigma_{nd}^2 - 1 - \log \sigma_{nd}^2)$,
# the term of the sum above: it shows which dimensions carry information. Return `(D, R)`: $D$ of
# shape `(N,)`, $R$ of shape `(N, z_dim)`; the rate of an image is `R.sum(-1)`.

# %%
def rate_distortion(vae, x, eps=None):
    """(D (N,), R (N, z_dim)): D = −log p(x|z) at z = z_loc + z_scale ⊙ eps, and R[n, d] the KL of
    q(z_d|x_n) from N(0, 1) in closed form (R.sum(-1) is KL(q(z|x) ‖ N(0, I)))."""
    # BEGIN SOLUTION
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn_like(z_loc)
    logits = vae.decoder(z_loc + z_scale * eps)
    distortion = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    rate = 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log())
    return distortion, rate
    # END SOLUTION


# %% [markdown]
# The check runs your function on a small VAE with fixed weights, images and noise and compares
# $D$ and $R$ with the lecture's `utils.tradeoffs.rate_distortion`; then twice with the same `eps`, at
# saturated logits (±40), without `eps` on copies of one image (each should get its own ε), and the
# gradients.

# %% tags=["depends-on-solution", "nbval-check-output"]
unit06.check_rate_distortion(rate_distortion)

# %% [markdown]
# Now train with the β-weighted loss $D + \beta R$ of the lecture. `train` runs lecture 04's loop
# (`utils.vae.train_vae`: Adam, one-cycle learning rate, dynamically binarized minibatches of 128)
# with any loss per image, always from the same initial weights (seed 0) and on the same minibatches,
# so two runs differ only in their loss. It keeps every model it trains in `trained`, by name: a cell
# that asks for a model again gets it without training (`trained.clear()` starts afresh).

# %%
trained = {}


def train(name, loss_fn):
    """The 20-D VAE trained with ``loss_fn(vae, x) -> (N,)``: trained once, then taken from `trained`."""
    if name not in trained:
        torch.manual_seed(0)
        model = VAE(z_dim=Z_DIM).to(device)
        train_vae(model, data.train_x[:N_TRAIN], epochs=EPOCHS, loss_fn=loss_fn, desc=name)
        trained[name] = model.eval()
    return trained[name]


def beta_model(beta):
    """The VAE trained on D + β R, with your rate_distortion."""
    def loss_fn(vae, x):
        distortion, rate = rate_distortion(vae, x)
        return distortion + beta * rate.sum(-1)
    return train(f"β = {beta:g}", loss_fn)


# %% [markdown]
# The two models, β = 1 (the −ELBO itself) and β = 4, scored on the test set with one ε per image
# from a fixed seed:

# %%
@torch.no_grad()
def scores(model):
    """Mean test D, R and D + R (the −ELBO) in nats per image, one ε per image from seed 0."""
    torch.manual_seed(0)
    distortion, rate = rate_distortion(model, x_test)
    rate = rate.sum(-1)
    return [distortion.mean().item(), rate.mean().item(), (distortion + rate).mean().item()]


if unit06.ready(rate_distortion):
    display(table(["trained on", "distortion D", "rate R", "−ELBO = D + R"],
                  [[f"D + {b:g} R", *scores(beta_model(b))] for b in (1.0, BETA)],
                  title=f"Test set, nats per image; {EPOCHS} epoch(s) on {N_TRAIN:,} images"))


# %% [markdown]
# Which model has the better −ELBO? What did the β = 4 model give up, and what did it gain?

# %% [markdown] tags=["solution-only"]
# **Takeaway.** Weighting the rate by 4 cuts it to less than a third of the β = 1 model's and pays
# several nats of distortion for it; since the −ELBO weighs a nat of either equally, the β = 1 model,
# trained on the −ELBO itself, has the better −ELBO.

# %% [markdown]
# ## 2 · Active units
#
# A latent dimension $d$ is **active** when its posterior mean moves with the image (Burda et al.,
# 2016):
#
# $$ A_d = \mathrm{Var}_x\big(\mathbb E_{q_\phi(z\mid x)}[z_d]\big) > 0.01 , $$
#
# where the variance is taken **over the images**, one value per dimension, and
# $\mathbb E_{q}[z_d]$ is the encoder's posterior mean `z_loc[:, d]`. Unlike the lecture's version,
# yours starts from a model and images: run the encoder on `x` (no gradients are needed), keep what
# $A_d$ is about, and reduce. Return `(count, variance)`: the number of active dimensions (an `int`)
# and $A_d$ for each dimension (shape `(z_dim,)`). Use the `threshold` argument.

# %%
def active_units(vae, x, threshold=0.01):
    """(number of active dimensions, A_d (z_dim,)): the variance over the images x (N, 784) of
    each dimension of vae's posterior mean."""
    # BEGIN SOLUTION
    with torch.no_grad():
        z_loc, _ = vae.encoder(x)
    variance = z_loc.var(0, unbiased=False)
    return int((variance > threshold).sum()), variance
    # END SOLUTION


# %% [markdown]
# The check uses a stand-in model whose encoder gives 500 fixed posterior means, with known variances
# over the images in its nine dimensions (one of them constant), and a posterior standard deviation
# of 0.5: the variances, the count at the default threshold, and the count at two other thresholds.

# %% tags=["depends-on-solution", "nbval-check-output"]
unit06.check_active_units(active_units)


# %% [markdown]
# Each dimension's $A_d$ on the test set, sorted, for the two models of Part 1; the legend counts
# the active ones.

# %% mystnb={"image": {"alt": "Active-unit variance A_d of each latent dimension, sorted, on a log scale, for the \u03b2 = 1 and \u03b2 = 4 models, with the 0.01 threshold as a dashed line."}}
def activity(model):
    """(count, A_d per dimension) of ``model`` on the test images, with your active_units."""
    return active_units(model, x_test)


def plot_activity(models, title):
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, model in models.items():
        count, variance = activity(model)
        ax.semilogy(sorted(variance.tolist(), reverse=True), "o-", ms=4, label=f"{name}: {count} active")
    ax.axhline(0.01, color="k", ls="--", lw=1, label="threshold 0.01")
    ax.set(xlabel="latent dimension, sorted by $A_d$", ylabel="$A_d$ = Var$_x$(E$_q$[$z_d$])", title=title)
    ax.legend(fontsize=10)
    plt.show()


if unit06.ready(rate_distortion, active_units):
    plot_activity({f"β = {b:g}": beta_model(b) for b in (1.0, BETA)}, "Test set, 20-D models")


# %% [markdown]
# How did the β = 4 model cut its rate: by shrinking every dimension a little, or by switching some
# off?

# %% [markdown] tags=["solution-only"]
# **Takeaway.** Both: every dimension's $A_d$ shrinks, and about a third of the β = 4 model's
# dimensions fall below the threshold, where the β = 1 model keeps all but one of its twenty.

# %% [markdown]
# ## 3 · The importance-weighted loss
#
# With $K$ reparameterized samples $z_k = \mu + \sigma \odot \varepsilon_k$ of the guide,
#
# $$
# -\mathcal L_K(x) = -\Big[\log \frac1K \sum_{k=1}^K w_k\Big]
# = -\Big[\operatorname{logsumexp}_k \log w_k - \log K\Big],
# \qquad \log w_k = \log p_\theta(x\mid z_k) + \log p(z_k) - \log q_\phi(z_k\mid x).
# $$
#
# `eps` has shape `(K, N, z_dim)`, so `z` has shape `(K, N, z_dim)` and `vae.decoder(z)` returns
# logits of shape `(K, N, 784)` (pair them with `x.expand(k, *x.shape)`); when `eps` is `None`, draw
# it with `torch.randn(k, *z_loc.shape)` (on `z_loc`'s device). `Normal(loc, scale).log_prob(z)` gives
# log-densities per dimension, to be summed over the last one. Never exponentiate $\log w_k$ (it is
# about −500 nats): use `torch.logsumexp` over the samples.
#
# Return the loss, one value per image (shape `(N,)`), and, which the lecture does not write out, the
# **normalised importance weights** $\tilde w_k = w_k / \sum_j w_j$ of each image, shape `(K, N)`
# (again without exponentiating $\log w_k$ itself). The gradient of $\mathcal L_K$ is the
# $\tilde w$-weighted average of the $K$ samples' gradients of $\log w_k$, so $\tilde w$ says how many
# of the $K$ samples actually train the model.

# %%
def iwae_negative_bound(vae, x, k, eps=None):
    """(−[logsumexp_k log w_k − log K] per image (N,), normalised weights w_k / Σ_j w_j (K, N)),
    from K samples (eps: (K, N, z_dim))."""
    # BEGIN SOLUTION
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn(k, *z_loc.shape, device=z_loc.device)
    z = z_loc + z_scale * eps                                          # (K, N, z_dim)
    logits = vae.decoder(z)                                            # (K, N, 784)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand(k, *x.shape), reduction="none").sum(-1)
    log_w = (log_px_z + Normal(0.0, 1.0).log_prob(z).sum(-1)
             - Normal(z_loc, z_scale).log_prob(z).sum(-1))             # (K, N)
    return -(torch.logsumexp(log_w, 0) - math.log(k)), log_w.softmax(0)
    # END SOLUTION


# %% [markdown]
# The check compares your loss with `utils.tradeoffs.iwae_negative_bound` on fixed weights, images
# and noise ($K = 5$), and your weights with $\tilde w_k$; then at saturated logits (±40), without
# `eps`, and compares the gradients.

# %% tags=["depends-on-solution", "nbval-check-output"]
unit06.check_iwae_negative_bound(iwae_negative_bound)


# %% [markdown]
# Train with your loss at $K = 1$ (a VAE, with a one-sample KL) and at $K = 5$ (an IWAE), then judge
# both by a much tighter estimate of $-\log p(x)$: `utils.vae.iwae_log_px` with `K_EVAL` samples on
# the first `N_EVAL` test images, the same images for both.

# %%
def iwae_model(k):
    return train(f"K = {k}", lambda vae, x: iwae_negative_bound(vae, x, k)[0])


@torch.no_grad()
def negative_log_px(model):
    """−log p(x) per image of the first N_EVAL test images, estimated with K_EVAL samples."""
    torch.manual_seed(0)
    return -iwae_log_px(model, x_test[:N_EVAL], K_EVAL)


if unit06.ready(iwae_negative_bound):
    nll = {k: negative_log_px(iwae_model(k)) for k in (1, K_TRAIN)}
    torch.manual_seed(0)
    rows = [[f"K = {k}", evaluate(iwae_model(k), x_test), nll[k].mean().item()] for k in nll]
    display(table(["trained on −L_K", "test −ELBO", f"−log p(x) (K = {K_EVAL}, {N_EVAL} images)"], rows,
                  title=f"Nats per image; {EPOCHS} epoch(s) on {N_TRAIN:,} images"))
    gain = nll[1] - nll[K_TRAIN]                                       # per image
    print(f"K = {K_TRAIN} lowers −log p(x) by {gain.mean():.2f} ± {gain.std() / len(gain) ** 0.5:.2f} "
          f"nats per image (mean ± standard error over the {len(gain)} test images)")
    with torch.no_grad():
        torch.manual_seed(0)
        w = iwae_negative_bound(iwae_model(K_TRAIN), x_test[:N_EVAL], K_TRAIN)[1]
    print(f"K = {K_TRAIN} model: {(1 / w.pow(2).sum(0)).mean():.2f} of its {K_TRAIN} samples carry "
          "weight (mean effective sample size 1 / Σ_k w̃_k² over the same images)")


# %% [markdown]
# Which model is better by each measure, and by how much? Which gain is the larger, and why would you
# expect that?

# %% [markdown] tags=["solution-only"]
# **Takeaway.** After the same short training the IWAE is better by both measures here, and by
# much more in $\log p(x)$, the quantity its bound approaches, than in the −ELBO. The −ELBO need not
# follow at all: $\mathcal L_5$ no longer asks the guide to match the posterior as closely as the ELBO
# does, and with longer training the IWAE's −ELBO can end up *worse* (lecture 06, §8; Rainforth
# et al., 2018).

# %% [markdown]
# ## 4 · Free bits (not in the lecture)
#
# Part 2 showed the β = 4 model switching dimensions off: under a strong rate penalty the
# cheapest move for the encoder is to send some dimensions to the prior for every image, and once the
# decoder ignores them nothing brings them back. **Free bits** (Kingma et al., 2016, *Improved
# Variational Inference with Inverse Autoregressive Flow*, NeurIPS) grant each
# latent dimension λ nats of rate for free: each dimension's KL, *averaged over the minibatch*, is
# clamped from below at λ,
#
# $$
# R_\text{free} = \sum_{d=1}^{z_\text{dim}} \max\Big(\lambda,\ \frac1N \sum_{n=1}^N \mathrm{KL}_{nd}\Big),
# \qquad \mathrm{KL}_{nd} = \tfrac12\big(\mu_{nd}^2 + \sigma_{nd}^2 - 1 - \log \sigma_{nd}^2\big).
# $$
#
# A dimension whose batch-average KL is below λ pays λ whatever it carries, so its gradient no
# longer pushes it towards the prior. Since $R_\text{free}$ is at least the batch-average rate,
# $D + R_\text{free}$ still bounds the batch's −ELBO from above. Two details matter: the clamp acts on
# each dimension separately (not on the total), and on its *batch average* (not on each image).
# Return one number for the batch: a 0-d tensor, in nats per image.
#
# Why free bits here, rather than the other common remedy, a cyclical β schedule (Part 5)? Free bits
# change the formula itself, per dimension and per batch, which is the bookkeeping this exercise
# practises, and their effect shows within a two-epoch run.

# %%
def free_bits_rate(z_loc, z_scale, lam):
    """Σ_d max(λ, mean over the batch of KL_nd): one number (a 0-d tensor) in nats per image."""
    # BEGIN SOLUTION
    kl = 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log())       # (N, z_dim)
    return kl.mean(0).clamp(min=lam).sum()
    # END SOLUTION


# %% [markdown]
# The check uses fixed guide outputs of 64 images: two dimensions far from the prior, two at it, and
# two at it except for a few images (their batch average is below λ, some images are above it).

# %% tags=["depends-on-solution", "nbval-check-output"]
unit06.check_free_bits_rate(free_bits_rate)


# %% [markdown]
# The training loss: each image's distortion plus β times the batch's free-bits rate (the training
# loop averages over the batch, so the rate counts once). It builds $D$ with the course's
# `log_likelihood`, so this run needs only your `free_bits_rate`. Same β = 4, same start, same
# minibatches as the β = 4 model of Part 1, with λ = 0.5 nats per dimension:

# %%
def free_bits_loss(vae, x):
    """D + β R_free per image (R_free: one number for the batch)."""
    z_loc, z_scale = vae.encoder(x)
    z = z_loc + z_scale * torch.randn_like(z_loc)
    return -log_likelihood(vae, x, z) + BETA * free_bits_rate(z_loc, z_scale, LAM)


def free_bits_model():
    return train(f"β = {BETA:g}, free bits λ = {LAM:g}", free_bits_loss)


if unit06.ready(free_bits_rate):
    free_bits_model()

# %% [markdown]
# The two β = 4 models side by side, on the test set:

# %% mystnb={"image": {"alt": "Active-unit variance A_d of each latent dimension, sorted, on a log scale, for \u03b2 = 4 with and without free bits, with the 0.01 threshold as a dashed line."}}
if unit06.ready(rate_distortion, active_units, free_bits_rate):
    pair = {f"β = {BETA:g}": beta_model(BETA), f"β = {BETA:g}, free bits λ = {LAM:g}": free_bits_model()}
    display(table(["trained on", "distortion D", "rate R", "−ELBO", "active units"],
                  [[name, *scores(m), activity(m)[0]] for name, m in pair.items()],
                  title=f"Test set, nats per image; {EPOCHS} epoch(s) on {N_TRAIN:,} images"))
    plot_activity(pair, f"Test set, β = {BETA:g}, with and without free bits")

# %% [markdown]
# How many dimensions does free bits keep active, and what does that buy in distortion? Is the −ELBO
# better or worse, and why might it be either?

# %% [markdown] tags=["solution-only"]
# **Takeaway.** Under the same β = 4, free bits keep all twenty dimensions above the activity
# threshold, spend several times the rate and lower the distortion by about ten nats; in this run the
# −ELBO improves too. The clamp only removes the pressure below λ: how much rate a dimension then uses
# is the model's choice.

# %% [markdown]
# ## 5 · Going further (optional)
#
# - Sweep λ (0.1, 0.25, 0.5, 1) at β = 4: where does the rate settle, and how many units stay active?
# - At β = 1 a short run leaves little to rescue (Part 2): train the β = 1 model and its free-bits
#   twin for 20 epochs on all 50,000 images and count the active units of each.
# - A **cyclical β schedule** (Fu et al., 2019, *Cyclical Annealing Schedule*): repeat lecture 06's
#   linear warm-up in cycles; compare the active units with a single warm-up.
# - Train with $K = 50$: does the gain in $\log p(x)$ keep growing, and what happens to the −ELBO?
