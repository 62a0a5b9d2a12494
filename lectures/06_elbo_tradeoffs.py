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
# # 06 · What the ELBO trades off: rate, distortion and tighter bounds
#
# Units 04 and 05 trained one VAE with one objective and read off one number, the test −ELBO. Anyone
# who trains VAEs next asks: why are the samples blurry, why do some latent dimensions do nothing, what
# happens if the KL term is weighted, and can a tighter bound train a better model? This lecture
# answers each question with a measurement. It reuses unit 04's model (`utils.vae.VAE`) and loop
# (`utils.vae.train_vae`) and unit 05's Pyro model (`utils.pyro_vae.PyroVAE`).
#
# **Learning goals.** After this lecture you can
#
# 1. split the −ELBO into a distortion and a rate, both in nats per image, and say what each costs;
# 2. train with the β-weighted objective $D + \beta R$ and place models in the rate–distortion plane;
# 3. count active latent units, and show that an inactive one is the prior and is ignored by the decoder;
# 4. measure what KL warm-up changes;
# 5. train with the importance-weighted bound, and judge it by a tight estimate of $\log p(x)$;
# 6. write β and the importance-weighted bound in Pyro (`poutine.scale`, `RenyiELBO`).

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %% [markdown]
# The tools, and this lecture's settings. The training budget is small on purpose: the whole lecture
# runs in a few minutes on a laptop CPU. The summary says what a longer run would change.

# %%
import math

import matplotlib.pyplot as plt
import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import RenyiELBO, TraceMeanField_ELBO
from torch.distributions import Normal, kl_divergence

import utils.tradeoffs                 # the reusable copy of this lecture's code
from utils.checks import SelfCheck
from utils.data import fixed_binarization, load_mnist
from utils.plots import image_grid, reconstruction_rows, save_figure
from utils.pyro_vae import PyroVAE, train_svi
from utils.runtime import record
from utils.tables import table
from utils.vae import VAE, evaluate, gaussian_kl, iwae_log_px, log_likelihood, negative_elbo, train_vae

Z_DIM = 20                             # latent size of every model here
BETAS = [0.1, 0.3, 1.0, 3.0, 10.0]     # the β sweep (Section 2)
EPOCHS = 1 if SMOKE else 2             # epochs of each β-sweep and warm-up run
K_TRAIN, SEEDS = 5, [0, 1, 2]          # the importance-weighted training runs (Section 8) ...
IWAE_EPOCHS = 1                        # ... each one epoch long
K_EVAL = 100 if SMOKE else 1000        # importance samples per test image for log p(x)
N_EVAL = 100 if SMOKE else 300         # test images for that estimate

# %% [markdown]
# MNIST as in-memory tensors (at most 1,000 images per split in smoke mode). Validation and test
# images are binarized once, with unit 04's seeds, so every model is scored on the same bits.

# %%
data = load_mnist(subset=1000 if SMOKE else None).to(device)
x_val = fixed_binarization(data.val_x, seed=1)
x_test = fixed_binarization(data.test_x, seed=2)
data


# %% [markdown]
# ## 1 · Distortion and rate
#
# Unit 04 wrote the ELBO as a reconstruction term minus a KL term. Read as costs, in nats per image,
# its negative is a sum of two non-negative parts (Alemi et al., 2018):
#
# $$
# -\mathrm{ELBO}(x) = \underbrace{\mathbb{E}_{q_\phi(z\mid x)}\big[-\log p_\theta(x\mid z)\big]}_{D,\ \text{distortion}}
# \;+\; \underbrace{\mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big)}_{R,\ \text{rate}} .
# $$
#
# - **Distortion** $D$ is how many nats the decoder still needs to describe the image once it knows
#   the code: low $D$ means sharp, faithful reconstructions. $D \ge 0$ because a Bernoulli
#   probability is at most 1.
# - **Rate** $R$ is how far the code of this image moves away from the prior: the information the code
#   carries about $x$, in nats. $R = 0$ means the code says nothing about the image.
#
# We estimate $D$ with one reparameterized sample $z = \mu + \sigma \odot \varepsilon$ and compute $R$ in
# closed form, exactly as unit 04's `negative_elbo` does; so with the same $\varepsilon$ the two parts
# must add up to it.

# %%
def rate_distortion(vae, x, eps=None):
    """(D, R) per image: D = −log p(x|z) at z = μ + σ ⊙ ε, R = KL(q(z|x) ‖ p(z)) in closed form."""
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn_like(z_loc)
    z = z_loc + z_scale * eps
    return -log_likelihood(vae, x, z), gaussian_kl(z_loc, z_scale)


# %% [markdown]
# The checks, on an untrained model and 64 test images: the sum against `negative_elbo` with the same
# noise, the rate against `torch.distributions.kl_divergence`, both parts non-negative, and the
# function against the course's reusable copy.

# %%
torch.manual_seed(0)
vae = VAE(z_dim=Z_DIM).to(device)
x, eps = x_test[:64], torch.randn(64, Z_DIM, device=device)
with torch.no_grad():
    D, R = rate_distortion(vae, x, eps)
    z_loc, z_scale = vae.encoder(x)
    with SelfCheck("distortion and rate") as sc:
        sc.close("D + R = −ELBO (negative_elbo, same ε)", D + R, negative_elbo(vae, x, eps), rtol=1e-6)
        sc.close("R = KL from torch.distributions", R,
                 kl_divergence(Normal(z_loc, z_scale), Normal(0.0, 1.0)).sum(-1), rtol=1e-5)
        sc.true("D ≥ 0 and R ≥ 0 for every image", bool((D >= 0).all() and (R >= 0).all()),
                "a negative part")
        for mine, reusable in zip((D, R), utils.tradeoffs.rate_distortion(vae, x, eps)):
            sc.close("equal to utils.tradeoffs.rate_distortion", mine, reusable, rtol=1e-6)


# %% [markdown]
# **Takeaway.** The −ELBO is a distortion plus a rate, $D + R$: nats to describe the image given its
# code plus nats the code spends to say something about the image.

# %% [markdown]
# ## 2 · The β-weighted objective
#
# A VAE trained on the −ELBO pays one nat of rate as dearly as one nat of distortion. The β-VAE
# (Higgins et al., 2017) trains on
#
# $$ D + \beta R, $$
#
# so $\beta < 1$ makes rate cheap (codes carry more, reconstructions sharpen) and $\beta > 1$ makes
# it dear (codes stay closer to the prior). Only $\beta = 1$ is the −ELBO, a bound on $-\log p(x)$; for
# other values we still *report* $D$, $R$ and $D + R$ on the test set. If training finds the
# optimum of $D + \beta R$, that model sits where the best achievable curve $D(R)$ has slope $-\beta$
# (Alemi et al., 2018).

# %%
def beta_negative_elbo(vae, x, beta, eps=None):
    """D + β R per image: β = 1 is the −ELBO."""
    distortion, rate = rate_distortion(vae, x, eps)
    return distortion + beta * rate


# %% [markdown]
# At β = 1 it must be unit 04's loss, and for any β the reusable copy:

# %%
with torch.no_grad(), SelfCheck("β-weighted loss") as sc:
    sc.close("β = 1 is negative_elbo", beta_negative_elbo(vae, x, 1.0, eps),
             negative_elbo(vae, x, eps), rtol=1e-6)
    sc.close("β = 3 equals utils.tradeoffs.beta_negative_elbo", beta_negative_elbo(vae, x, 3.0, eps),
             utils.tradeoffs.beta_negative_elbo(vae, x, 3.0, eps), rtol=1e-6)


# %% [markdown]
# Now the sweep: one 20-D VAE per β, each from the same initial weights (seed 0), the same minibatches
# and unit 04's training (Adam with a one-cycle learning rate) for `EPOCHS` epochs. Only the loss
# differs. Validation reports the true −ELBO after each epoch whatever the training loss.

# %%
def train_beta_vae(beta, epochs=EPOCHS, loss_fn=None):
    """A 20-D VAE from seed 0 trained on D + β R (or on ``loss_fn``); returns (model, history)."""
    torch.manual_seed(0)
    model = VAE(z_dim=Z_DIM).to(device)
    loss_fn = loss_fn or (lambda m, xb: beta_negative_elbo(m, xb, beta))
    history = train_vae(model, data.train_x, x_val, epochs=epochs, loss_fn=loss_fn, desc=f"β = {beta:g}")
    return model.eval(), history

sweep = {beta: train_beta_vae(beta) for beta in BETAS}


# %% [markdown]
# On the test set, with one $\varepsilon$ per image from a fixed seed, the distortion and rate of each
# model. The check: $D + R$ is what unit 04's `evaluate` reports with the same noise.

# %%
@torch.no_grad()
def test_rate_distortion(model, x=x_test):
    """Mean D and R over ``x`` in nats per image, one ε per image from seed 0."""
    torch.manual_seed(0)
    distortion, rate = rate_distortion(model, x)
    return distortion.mean().item(), rate.mean().item()

rd = {beta: test_rate_distortion(model) for beta, (model, _) in sweep.items()}
torch.manual_seed(0)
nelbo_one = evaluate(sweep[1.0][0], x_test, batch_size=len(x_test))
with SelfCheck("test −ELBO") as sc:
    sc.close("D + R = evaluate(...) at β = 1, same noise", torch.tensor(sum(rd[1.0])),
             torch.tensor(nelbo_one), rtol=1e-5)

# %% [markdown]
# **Takeaway.** β is one knob on the loss; everything else in the training stays unit 04's.

# %% [markdown]
# ## 3 · The rate–distortion plane
#
# Each model is a point $(R, D)$. On this plane the lines $D + R = c$ have slope −1 and join models with
# the same −ELBO: the best ELBO is the point on the lowest such line. This is the picture of Alemi et
# al. (2018, their Figure 1).

# %% mystnb={"image": {"alt": "The \u03b2 sweep in the rate\u2013distortion plane: distortion D against rate R in nats per image, one point per \u03b2 from 0.1 (high rate, low distortion) to 10 (rate near 0, high distortion), grey lines of equal \u2212ELBO, and the best \u2212ELBO circled."}}
best_beta = min(rd, key=lambda b: sum(rd[b]))
fig, ax = plt.subplots(figsize=(8.5, 5.8))
rates, distortions = zip(*((r, d) for d, r in rd.values()))
levels = sorted({round(d + r, -1) for d, r in rd.values()})
for c in levels:
    ax.plot([0, c], [c, 0], color="0.75", lw=1.5, zorder=0)        # D + R = c
ax.plot([], [], color="0.75", lw=1.5,                               # one legend entry for them all
        label="equal −ELBO: D + R = " + ", ".join(f"{c:.0f}" for c in levels) + "\n(lowest at the bottom left)")
ax.plot(rates, distortions, "o-", color="C0")
for beta, (d, r) in rd.items():
    ax.annotate(f"β = {beta:g}", (r, d), textcoords="offset points", xytext=(6, 4))
ax.plot(rd[best_beta][1], rd[best_beta][0], "o", ms=12, mfc="none", color="C3", label="best −ELBO")
ax.set(xlabel="rate R (nats per image)", ylabel="distortion D (nats per image)",
       xlim=(0, max(rates) * 1.15 + 1), ylim=(0, max(distortions) * 1.1),
       title=f"Test set, 20-D VAE, {EPOCHS} epoch(s) per β")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)   # under the axes
save_figure(fig, "06_rate_distortion.png")

# %% [markdown]
# The numbers behind the figure (active units are counted in Section 5):

# %%
table(["β", "distortion D", "rate R", "−ELBO = D + R", "D + βR (trained on)"],
      [[f"{b:g}", d, r, d + r, d + b * r] for b, (d, r) in rd.items()],
      title=f"Test set, nats per image; {data.source}, {EPOCHS} epoch(s) per β")


# %% [markdown]
# **Takeaway.** Raising β moves a model up and to the left, trading rate for distortion. The best
# −ELBO belongs to β = 1, the model trained on the −ELBO itself, with β = 0.3 within a fraction of a
# nat of it in this run; β = 0.1 buys 20 nats less distortion with 35 more nats of rate, a worse ELBO.

# %% [markdown]
# ## 4 · What the two terms look like
#
# Rate buys faithful reconstructions; a small rate keeps codes close to the prior, so that samples from
# the prior decode to something like the data. Reconstructions (the decoder's pixel probabilities at
# $z = \mu(x)$) and prior samples at the lowest and the highest β:

# %% mystnb={"image": {"alt": "For \u03b2 = 0.1 and \u03b2 = 10: ten test digits above their reconstructions, and thirty prior samples; sharp reconstructions but odd samples at low \u03b2, the same few blurry prototypes for both at high \u03b2."}}
@torch.no_grad()
def decode(model, z):
    return torch.sigmoid(model.decoder(z))

torch.manual_seed(1)
z_prior = torch.randn(30, Z_DIM, device=device)
fig, axes = plt.subplots(2, 2, figsize=(13, 5.4), gridspec_kw={"height_ratios": [1, 1.5]})
for col, beta in enumerate((BETAS[0], BETAS[-1])):
    model = sweep[beta][0]
    d, r = rd[beta]
    reconstruction_rows(x_test[:10], decode(model, model.encoder(x_test[:10])[0]), ax=axes[0, col],
                        title=f"β = {beta:g} (D = {d:.0f}, R = {r:.0f} nats)")
    image_grid(decode(model, z_prior), nrow=10, ax=axes[1, col], title=f"β = {beta:g}: prior samples")
fig.tight_layout()
save_figure(fig, "06_low_high_beta.png")


# %% [markdown]
# **Takeaway.** Low β reconstructs sharply, but many of its prior samples are not digits (its codes
# have moved away from the prior); at β = 10, with about one nat of rate, every image is reconstructed
# as one of a few blurry prototypes, and the prior samples are those prototypes.

# %% [markdown]
# ## 5 · Active units and posterior collapse
#
# A latent dimension that the encoder never moves carries no information. Burda et al. (2016) call
# dimension $d$ **active** when its posterior mean varies across the data:
#
# $$ A_d = \mathrm{Var}_{x}\big(\mathbb{E}_{q_\phi(z\mid x)}[z_d]\big) > 0.01 . $$
#
# With an inactive dimension the objective pays no rate for it: its posterior sits on the prior. When
# most dimensions do this the model has suffered **posterior collapse**.

# %%
def active_units(z_loc, threshold=0.01):
    """(count, variance per dimension) of the posterior means z_loc (N, z_dim) over the images."""
    variance = z_loc.var(0, unbiased=False)
    return int((variance > threshold).sum()), variance

with torch.no_grad():
    z_means = {beta: model.encoder(x_test)[0] for beta, (model, _) in sweep.items()}
counts = {beta: active_units(z)[0] for beta, z in z_means.items()}
with SelfCheck("active units") as sc:
    sc.true("the same counts as utils.tradeoffs.active_units",
            all(counts[b] == utils.tradeoffs.active_units(z)[0] for b, z in z_means.items()),
            "the counts differ")

# %% [markdown]
# Each dimension's variance $A_d$, sorted, for every β, with the threshold:

# %% mystnb={"image": {"alt": "The activity A_d of each dimension of the 20-D models on a log scale, sorted, one line per \u03b2, with the 0.01 threshold dashed: the higher \u03b2, the fewer dimensions above the threshold."}}
fig, ax = plt.subplots(figsize=(8, 5))
for beta, z in z_means.items():
    ax.semilogy(sorted(active_units(z)[1].tolist(), reverse=True), "o-", ms=4,
                label=f"β = {beta:g}: {counts[beta]} active")
ax.axhline(0.01, color="k", ls="--", lw=1, label="threshold 0.01")
ax.set(xlabel="latent dimension (sorted by A_d)", ylabel="A_d = Var_x(E_q[z_d])",
       title="Active units of the 20-D models (test set)", xticks=range(0, Z_DIM, 2))
ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))     # beside the axes: it hides no point
save_figure(fig, "06_active_units.png")

# %% [markdown]
# **Takeaway.** The higher β, the fewer dimensions the model uses: β trades rate away by switching
# dimensions off, not only by shrinking all of them.

# %% [markdown]
# ## 6 · An inactive dimension is the prior, and the decoder ignores it
#
# Two claims to check on one model with both kinds of dimension: an inactive dimension's posterior is
# the prior for *every* image (its share of the rate, the per-dimension KL, is about 0), and changing
# its value does not change the decoded image. We take the largest β that still has an active unit,
# its most active dimension and its least active one.

# %%
beta_c = max(b for b in BETAS if 0 < counts[b] < Z_DIM) if any(0 < counts[b] < Z_DIM for b in BETAS) else BETAS[-1]
model_c = sweep[beta_c][0]
variance = active_units(z_means[beta_c])[1]
d_on, d_off = int(variance.argmax()), int(variance.argmin())
with torch.no_grad():
    z_loc, z_scale = model_c.encoder(x_test)
    kl_per_dim = 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log())   # (N, z_dim), sums to R
print(f"β = {beta_c:g}: dimension {d_off} (A = {variance[d_off]:.1e}) has KL at most "
      f"{kl_per_dim[:, d_off].max():.4f} nats over {len(x_test):,} test images; "
      f"dimension {d_on} (A = {variance[d_on]:.2f}) averages {kl_per_dim[:, d_on].mean():.2f} nats")

# %% [markdown]
# Now move each of the two dimensions from −3 to 3 (prior standard deviations) in the codes of four
# test images, keep the others at the posterior mean, and decode. The change is measured as the mean
# absolute difference of the decoded pixel probabilities from those at $z_d = -3$:

# %%
steps = torch.linspace(-3, 3, 9, device=device)

def sweep_dimension(d):
    """Decoded images (4, 9, 784) with z_d set to each step, and their mean pixel change."""
    z = z_loc[:4, None, :].repeat(1, len(steps), 1)        # four codes, nine copies of each
    z[:, :, d] = steps
    images = decode(model_c, z)
    return images, (images - images[:, :1]).abs().mean().item()

(img_on, change_on), (img_off, change_off) = sweep_dimension(d_on), sweep_dimension(d_off)
print(f"mean pixel change: {change_on:.3f} along the active dimension, {change_off:.4f} along the inactive one")
with SelfCheck("an inactive dimension") as sc:
    if SMOKE:   # one epoch on 1,000 images leaves no clearly inactive dimension
        print("smoke mode: the models are too short-trained for these two checks; the full run makes them")
    else:
        sc.true("its posterior is the prior: KL < 0.05 nats for every test image",
                kl_per_dim[:, d_off].max().item() < 0.05, f"max KL {kl_per_dim[:, d_off].max():.3f} nats")
        sc.true("the decoder ignores it: under a tenth of the active dimension's pixel change",
                change_off * 10 < change_on, f"changes {change_off:.3g} vs {change_on:.3g}")

# %% [markdown]
# Each row is one test image, each column one value of $z_d$:

# %% mystnb={"image": {"alt": "For the \u03b2 = 10 model, test images decoded while one latent coordinate sweeps from \u22123 to 3: along the active dimension the digit changes, along the inactive one every row stays the same."}}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, images, d, kind in ((axes[0], img_on, d_on, "active"), (axes[1], img_off, d_off, "inactive")):
    image_grid(images.reshape(-1, 784), nrow=len(steps), ax=ax,
               title=f"β = {beta_c:g}, {kind} dimension {d}: z_{d} from −3 to 3")
save_figure(fig, "06_inactive_dimension.png")


# %% [markdown]
# **Takeaway.** An inactive unit costs no rate because its posterior is the prior, and it is useless
# for the same reason: the decoder has learnt to ignore it.

# %% [markdown]
# ## 7 · KL warm-up
#
# Posterior collapse often starts early: before the decoder can use a code, every nat of rate is pure
# cost, and the encoder learns to send none. **KL warm-up** (Bowman et al., 2016; Sønderby et al., 2016)
# trains on $D + \beta_t R$ with $\beta_t$ rising linearly from 0 to 1 over the first $T$ steps, then
# keeps β = 1. We warm up over the first half of the budget and compare with the β = 1 model of
# the sweep: same seed, same epochs, same minibatches.

# %%
def warmup_loss(warmup_steps):
    """A training loss D + β_t R whose β_t = min(1, t / warmup_steps) at call t = 0, 1, 2, …"""
    calls = [0]
    def loss_fn(model, x):
        beta_t = min(1.0, calls[0] / warmup_steps)
        calls[0] += 1
        return beta_negative_elbo(model, x, beta_t)
    return loss_fn


# %% [markdown]
# The check: over 12 calls with a 5-step warm-up (β = 0, 0.2, …, 1, 1, …) the same losses as the
# reusable `KLWarmup`, each call with the same noise.

# %%
ours, reusable = warmup_loss(5), utils.tradeoffs.KLWarmup(5)
pairs = []
with torch.no_grad():
    for step in range(12):
        torch.manual_seed(step)
        loss_ours = ours(vae, x).mean()
        torch.manual_seed(step)
        pairs.append((loss_ours, reusable(vae, x).mean()))
with SelfCheck("KL warm-up") as sc:
    sc.close("12 steps: the losses of utils.tradeoffs.KLWarmup", *map(torch.stack, zip(*pairs)), rtol=1e-6)

# %% [markdown]
# The warm-up run, with β reaching 1 halfway through the budget, against the sweep's β = 1 model:

# %%
steps_per_epoch = math.ceil(len(data.train_x) / 128)
warm, warm_history = train_beta_vae(1.0, loss_fn=warmup_loss(max(1, EPOCHS * steps_per_epoch // 2)))
with torch.no_grad():
    warm_count = active_units(warm.encoder(x_test)[0])[0]
rd_warm = test_rate_distortion(warm)
table(["training (β = 1 at the end)", "test −ELBO", "distortion D", "rate R", "active units"],
      [["no warm-up", sum(rd[1.0]), *rd[1.0], counts[1.0]], ["KL warm-up", sum(rd_warm), *rd_warm, warm_count]],
      title=f"{EPOCHS} epoch(s) each, same seed; nats per image on the test set")


# %% [markdown]
# **Takeaway.** Here warm-up changed little: a fraction of a nat of −ELBO and a couple of active
# units, from one seed each, while in Section 8 the seed alone moves a similar model's −ELBO over a
# range of several nats. Warm-up matters where a decoder can model the data without the code (Bowman et al.'s
# autoregressive text decoder); this MLP decoder with independent pixels cannot, so it uses the code
# from the start.

# %% [markdown]
# ## 8 · Training with a tighter bound
#
# Unit 04 used the importance-weighted estimate only to *evaluate*. Burda et al. (2016) train with it:
#
# $$
# \mathcal{L}_K(x) = \mathbb{E}_{z_1,\dots,z_K \sim q_\phi(z\mid x)}\Big[\log \frac1K \sum_{k=1}^K w_k\Big],
# \qquad w_k = \frac{p_\theta(x\mid z_k)\,p(z_k)}{q_\phi(z_k\mid x)},
# $$
#
# with $\mathrm{ELBO} = \mathcal{L}_1 \le \mathcal{L}_K \le \mathcal{L}_{K+1} \le \log p_\theta(x)$ (their
# Theorem 1). With reparameterized $z_k = \mu + \sigma \odot \varepsilon_k$ the loss $-\mathcal{L}_K$ is
# trained like the −ELBO; the $\log$ of a mean is a `logsumexp` minus $\log K$.

# %%
def iwae_negative_bound(vae, x, k, eps=None):
    """−[logsumexp_k log w_k − log K] per image, from K reparameterized samples (eps: (K, N, z_dim))."""
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn(k, *z_loc.shape, device=x.device)
    z = z_loc + z_scale * eps                                            # (K, N, z_dim)
    log_w = (log_likelihood(vae, x.expand(k, *x.shape), z) + Normal(0.0, 1.0).log_prob(z).sum(-1)
             - Normal(z_loc, z_scale).log_prob(z).sum(-1))
    return -(torch.logsumexp(log_w, 0) - math.log(k))


# %% [markdown]
# Three checks on the untrained model: the reusable copy; at $K = 1$ the estimate averages to the −ELBO
# (it replaces the closed-form KL by a one-sample estimate, so only the mean over many draws agrees);
# and the bound tightens with $K$ (the −bound falls).

# %%
torch.manual_seed(4)
eps5 = torch.randn(K_TRAIN, 64, Z_DIM, device=device)
with torch.no_grad(), SelfCheck("importance-weighted loss") as sc:
    sc.close("equal to utils.tradeoffs.iwae_negative_bound", iwae_negative_bound(vae, x, K_TRAIN, eps5),
             utils.tradeoffs.iwae_negative_bound(vae, x, K_TRAIN, eps5), rtol=1e-6)
    draws = torch.stack([iwae_negative_bound(vae, x, 1).mean() for _ in range(400)])
    sc.close("K = 1 averages to the −ELBO (400 draws, within 4 standard errors)", draws.mean(),
             torch.stack([negative_elbo(vae, x).mean() for _ in range(400)]).mean(),
             atol=4 * draws.std().item() / 20)
    bounds = [torch.stack([iwae_negative_bound(vae, x, k).mean() for _ in range(50)]).mean() for k in (1, 5, 50)]
    sc.true("−L_1 > −L_5 > −L_50 (the bound tightens)", bool(bounds[0] > bounds[1] > bounds[2]),
            f"got {[round(b.item(), 2) for b in bounds]}")


# %% [markdown]
# Now train with $K = 1$ (a VAE, with a one-sample KL) and $K = 5$ (an IWAE) for one epoch each, from
# three seeds each. A $K = 5$ step decodes five samples per image, so it costs about three times a
# $K = 1$ step: the comparison is at equal epochs, not equal compute. Each model is judged by the −ELBO of the test set and by $-\log p(x)$ estimated with
# $K = $ `K_EVAL` samples on the first `N_EVAL` test images, the same images for all models.

# %%
def train_iwae(k, seed):
    torch.manual_seed(seed)
    model = VAE(z_dim=Z_DIM).to(device)
    train_vae(model, data.train_x, epochs=IWAE_EPOCHS, seed=seed, desc=f"K = {k}, seed {seed}",
              loss_fn=lambda m, xb: iwae_negative_bound(m, xb, k))
    torch.manual_seed(seed)
    return evaluate(model.eval(), x_test), -iwae_log_px(model, x_test[:N_EVAL], K_EVAL)

iwae_runs = {(k, seed): train_iwae(k, seed) for seed in SEEDS for k in (1, K_TRAIN)}

# %% [markdown]
# Per seed, the gain of $K = 5$ over $K = 1$ on the same images, then the mean and spread over seeds:

# %%
gain = torch.stack([iwae_runs[1, s][1] - iwae_runs[K_TRAIN, s][1] for s in SEEDS])  # (seeds, N_EVAL)
rows = [[f"seed {s}", iwae_runs[1, s][0], iwae_runs[K_TRAIN, s][0], iwae_runs[1, s][1].mean().item(),
         iwae_runs[K_TRAIN, s][1].mean().item(), gain[i].mean().item()] for i, s in enumerate(SEEDS)]
gain_per_seed = gain.mean(1)
rows.append(["mean ± sd over seeds", "", "", "", "",
             f"{gain_per_seed.mean():.2f} ± {gain_per_seed.std():.2f}"])
table(["run", "test −ELBO, K = 1", f"test −ELBO, K = {K_TRAIN}", f"−log p(x), K = 1",
       f"−log p(x), K = {K_TRAIN}", "gain in −log p(x)"], rows,
      title=f"{IWAE_EPOCHS} epoch each; −log p(x): IWAE estimate with {K_EVAL} samples on {N_EVAL} test images; nats")


# %% [markdown]
# For reference, Burda et al. (2016, Table 1; one stochastic layer, 3,280 epochs, $\log p(x)$
# estimated with 5,000 samples) report $-\log p(x)$ = 86.76 nats for the VAE and 85.54 for the IWAE
# with $k = 5$: a gain of 1.2 nats after a training budget about a thousand times ours.
#
# **Takeaway.** After one epoch, training on $\mathcal{L}_5$ gave a better test log-likelihood by more
# than 10 nats for every seed, and a better test ELBO too. The paper's gain after full training
# is 1.2 nats: early in training the tighter bound mostly speeds learning up. With long training the
# ELBO of an IWAE-trained model can end up *worse* (Rainforth et al., 2018): its guide is no longer
# asked to match the posterior as closely.

# %% [markdown]
# ## 9 · The same in Pyro
#
# **β with `poutine.scale`.** Pyro multiplies a site's log-density by the scale of the handler around it.
# Scaling the latent site `z` by β in the model *and* in the guide scales $\log p(z) - \log q(z\mid x)$,
# which is the rate; with `TraceMeanField_ELBO` the closed-form KL is scaled. Unit 05's model and guide,
# with that one change:

# %%
class BetaPyroVAE(PyroVAE):
    """utils.pyro_vae.PyroVAE with the latent site's log-densities scaled by β."""

    def __init__(self, encoder, decoder, z_dim, beta):
        super().__init__(encoder, decoder, z_dim)
        self.beta = beta

    def model(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0]):
            with poutine.scale(scale=self.beta):
                z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], self.z_dim), 1.0).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=self.decoder(z)).to_event(1), obs=x)

    def guide(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0]), poutine.scale(scale=self.beta):
            z_loc, z_scale = self.encoder(x)
            pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))


# %% [markdown]
# With the same weights and the same seed (Pyro's guide draws ε with the same call as
# `rate_distortion`, as unit 05 showed), Pyro's loss, summed over the batch, must equal ours:

# %%
pyro.clear_param_store()                    # nothing left from an earlier run of this notebook
beta_pyro = BetaPyroVAE(vae.encoder, vae.decoder, Z_DIM, beta=3.0)
pyro.set_rng_seed(5)
loss_pyro = TraceMeanField_ELBO().loss(beta_pyro.model, beta_pyro.guide, x)
pyro.set_rng_seed(5)
with torch.no_grad(), SelfCheck("β in Pyro") as sc:
    sc.close("poutine.scale(β) loss = Σ (D + β R), same weights and noise", torch.tensor(loss_pyro),
             beta_negative_elbo(vae, x, 3.0).sum(), rtol=1e-5)

# %% [markdown]
# **The importance-weighted bound with `RenyiELBO`.** Li & Turner's (2016) Rényi bound with
# $\alpha = 0$ is $\mathcal{L}_K$: Pyro's `RenyiELBO(alpha=0, num_particles=K)` computes
# $\log \frac1K\sum_k w_k$ per image (the data plate is shared by all sites, so it is not summed into
# the weights), sums over the batch and returns the negative. With vectorized particles the guide
# draws all $K \times N$ values of ε at once, the shape our function draws:

# %%
plain_pyro = PyroVAE(vae.encoder, vae.decoder, Z_DIM)
renyi = RenyiELBO(alpha=0, num_particles=K_TRAIN, vectorize_particles=True, max_plate_nesting=1)
pyro.set_rng_seed(6)
loss_renyi = renyi.loss(plain_pyro.model, plain_pyro.guide, x)
pyro.set_rng_seed(6)
with torch.no_grad(), SelfCheck("importance weighting in Pyro") as sc:
    sc.close("RenyiELBO(alpha=0) loss = Σ −L_5, same weights and noise", torch.tensor(loss_renyi),
             iwae_negative_bound(vae, x, K_TRAIN).sum(), rtol=1e-5)

# %% [markdown]
# One short SVI run with each (one epoch on 10,000 images; unit 05's `train_svi`), scored on the
# validation set by the −ELBO:

# %%
n_short = 500 if SMOKE else 10_000
short_runs = {}
for name, make, elbo in [("β = 3 (poutine.scale)", lambda e, d: BetaPyroVAE(e, d, Z_DIM, 3.0), TraceMeanField_ELBO()),
                         (f"RenyiELBO(alpha=0), K = {K_TRAIN}", lambda e, d: PyroVAE(e, d, Z_DIM), renyi)]:
    torch.manual_seed(0)
    base = VAE(z_dim=Z_DIM).to(device)
    history = train_svi(make(base.encoder, base.decoder), data.train_x[:n_short], x_val, epochs=1, elbo=elbo, desc=name)
    short_runs[name] = history["validation"][-1]
table(["Pyro SVI, 1 epoch", "validation −ELBO"], list(short_runs.items()),
      title=f"{n_short:,} training images; nats per image")

# %% [markdown]
# **Takeaway.** In Pyro, β is a handler around one site and the importance-weighted bound is a choice
# of ELBO; both are the hand-written losses, in the sign (a loss) and the units (nats summed over the
# batch) that Pyro uses.

# %% [markdown]
# ## Summary
#
# - $-\mathrm{ELBO} = D + R$: distortion (nats to describe the image given its code) plus rate (nats
#   the code carries), both measured per image on the test set.
# - Training on $D + \beta R$ moves a model along the rate–distortion trade-off; only $\beta = 1$ is
#   the ELBO, and the best −ELBO lies on the lowest line $D + R = c$.
# - A latent dimension is active when its posterior mean varies over the data; an inactive one has
#   the prior as posterior and is ignored by the decoder; high β switches dimensions off.
# - KL warm-up is a remedy for collapse whose value depends on the model; measure it.
# - The importance-weighted bound $\mathcal{L}_K$ trains a model with a better $\log p(x)$, judged by
#   a much tighter estimate; in Pyro it is `RenyiELBO(alpha=0)`, and β is `poutine.scale`.
#
# The numbers of this run, written for the course's benchmark report (`benchmarks/results.md`):

# %%
record("06_elbo_tradeoffs", epochs=EPOCHS, z_dim=Z_DIM,
       beta=[{"beta": b, "distortion": d, "rate": r, "negative_elbo": d + r, "active_units": counts[b]}
             for b, (d, r) in rd.items()],
       warmup={"negative_elbo": sum(rd_warm), "active_units": warm_count,
               "negative_elbo_no_warmup": sum(rd[1.0]), "active_units_no_warmup": counts[1.0]},
       iwae={"k_train": K_TRAIN, "k_eval": K_EVAL, "n_eval": N_EVAL, "seeds": SEEDS,
             "gain_per_seed": gain_per_seed.tolist()})

# %% [markdown]
# **What a longer run would change.** Every model here trained for one or two epochs, far from
# convergence. Longer training usually lowers the distortion at every β (the points of Section 3 move down),
# and the IWAE gain measured here is an early-training gain: Burda et al.'s fully trained models differ
# by 1.2 nats. What carries over is the shape of the trade-off and the way to measure it; the numbers
# need re-measuring at any other budget.

# %% [markdown]
# ## Pointers
#
# - A. Alemi et al. (2018), *Fixing a Broken ELBO*, ICML: the rate–distortion plane.
# - I. Higgins et al. (2017), *β-VAE: Learning basic visual concepts with a constrained variational framework*, ICLR.
# - Y. Burda, R. Grosse, R. Salakhutdinov (2016), *Importance Weighted Autoencoders*, ICLR: $\mathcal{L}_K$, active units.
# - S. Bowman et al. (2016), *Generating Sentences from a Continuous Space*, CoNLL; C. K. Sønderby et al. (2016), *Ladder Variational Autoencoders*, NeurIPS: KL warm-up.
# - T. Rainforth et al. (2018), *Tighter Variational Bounds are Not Necessarily Better*, ICML: why the guide can get worse as $K$ grows.
# - Y. Li, R. Turner (2016), *Rényi Divergence Variational Inference*, NeurIPS; Pyro's `RenyiELBO` and `poutine.scale` documentation.
