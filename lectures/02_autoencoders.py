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
# # 02 · Autoencoders: a learned, non-linear bottleneck
#
# Unit 01 compressed MNIST digits with PCA: a *linear* map from the $D = 784$ pixels to $d$ numbers
# and a linear map back. An autoencoder replaces both maps with neural networks and learns them by
# gradient descent. This lecture builds one in plain PyTorch, reads its loss as a likelihood,
# measures it against PCA, and ends with the one thing it cannot do, which is the reason the next
# units build the VAE.
#
# **Learning goals.** After this lecture you can
#
# 1. write an encoder $g_\phi$ and a decoder $f_\theta$ as small MLPs and explain the bottleneck;
# 2. read a reconstruction loss as a negative log-likelihood: binary cross-entropy ↔ Bernoulli,
#    squared error ↔ Gaussian (maximum likelihood), and L2 weight decay ↔ a Gaussian prior (MAP);
# 3. train a 2-D autoencoder on MNIST with binary cross-entropy on logits and watch its latent space
#    form while it trains;
# 4. compare it with PCA at the same $d$ on the test set, with one metric and stated units;
# 5. say when a *linear* autoencoder finds PCA's subspace, and measure how far it lands otherwise;
# 6. explain why decoding random codes gives non-digits, and what the VAE adds to fix that.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %% [markdown]
# The imports, and the lecture's settings: how long each model trains (one epoch in smoke mode).
# With `LVM_CLASS_MODE=1` (class mode, for running the lecture live) every model is loaded from
# `checkpoints/`, as the committed full run trained it, instead of being trained.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.distributions import Bernoulli, Normal
from torch.nn import functional as F

from utils.checkpoints import trained
from utils.checks import SelfCheck
from utils.data import binarize, fixed_binarization, load_mnist, minibatches
from utils.plots import LiveFigure, image_grid, latent_scatter, reconstruction_rows, training_curves
from utils.tables import table
from utils.vae import fit

EPOCHS_2D = 1 if SMOKE else 12       # the 2-D autoencoder (Section 3)
EPOCHS_10D = 1 if SMOKE else 8       # the 10-D autoencoder (Section 4)
EPOCHS_LINEAR = 1 if SMOKE else 10   # the two linear autoencoders (Section 5) ...
N_LINEAR = 10_000                    # ... trained on this many training images

# %% [markdown]
# In full mode the data is all of MNIST: 55,000 training, 5,000 validation and 10,000 test images,
# each a vector $x \in [0, 1]^{D}$ of grey levels. Smoke mode (the `CI` variable) keeps 2,000 per
# split and trains for one epoch; every other line runs the same. The validation and test sets are
# binarized once (seeds 1 and 2, as in lecture 04), so every evaluation scores the same binary images.

# %%
data = load_mnist(subset=2000 if SMOKE else None).to(device)
val_binary = fixed_binarization(data.val_x, seed=1)
test_binary = fixed_binarization(data.test_x, seed=2)
data


# %% [markdown]
# ## 1 · Encoder, decoder, bottleneck
#
# An autoencoder is two functions trained together. The **encoder** $g_\phi$ maps an image to a code,
# the **decoder** $f_\theta$ maps the code back to an image:
#
# $$
# z = g_\phi(x) \in \mathbb{R}^{d}, \qquad \hat x = \operatorname{sigmoid}\big(f_\theta(z)\big) \in (0, 1)^{D},
# \qquad d \ll D = 784 .
# $$
#
# $d$ is the width of the **bottleneck** (`z_dim` in code). Because every reconstruction has to pass
# through $d$ numbers, the pair cannot learn the identity map; it has to find the $d$ numbers that
# say the most about the image. Here both maps are MLPs with two hidden layers of 256 ReLU units.
# The decoder returns **logits** $f_\theta(z) \in \mathbb{R}^{D}$; the logistic function
# $\operatorname{sigmoid}(\ell) = 1/(1 + e^{-\ell})$ is applied only when we want pixel intensities,
# never before the loss (Section 2 says why). With *linear* maps, squared error and no sigmoid, the
# best autoencoder spans the same subspace as PCA (Bourlard & Kamp, 1988; Baldi & Hornik, 1989);
# Section 5 measures that, and what changes with the sigmoid output and BCE loss used here.

# %%
def mlp(in_dim, out_dim, hidden_dim=256):
    """Two hidden layers of ReLU units; no activation on the output."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(),
                         nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                         nn.Linear(hidden_dim, out_dim))


class Autoencoder(nn.Module):
    """x → z = encoder(x) → logits = decoder(z), through a bottleneck of z_dim numbers."""

    def __init__(self, z_dim, hidden_dim=256, x_dim=784):
        super().__init__()
        self.z_dim = z_dim
        self.encoder = mlp(x_dim, z_dim, hidden_dim)   # g_φ: pixels → code (any real numbers)
        self.decoder = mlp(z_dim, x_dim, hidden_dim)   # f_θ: code → pixel logits

    def forward(self, x):
        return self.decoder(self.encoder(x))


# %% [markdown]
# A quick check of the shapes on a batch of eight test images, and of the size of the model:

# %%
ae = Autoencoder(z_dim=2).to(device)
x = data.test_x[:8]
z = ae.encoder(x)
logits = ae.decoder(z)
with SelfCheck("shapes") as sc:
    sc.shape("codes z = encoder(x)", z, (8, 2))
    sc.shape("logits = decoder(z)", logits, (8, 784))
n_params = {name: sum(p.numel() for p in part.parameters())
            for name, part in [("encoder", ae.encoder), ("decoder", ae.decoder)]}
print(f"parameters: encoder {n_params['encoder']:,}, decoder {n_params['decoder']:,}")


# %% [markdown]
# The same layer sizes as a picture (bar heights ∝ √width; drawn by `tools/figures.py`,
# regenerated with `python -m tools.figures`):
#
# ![The 2-D autoencoder as bars joined by grey funnels: an input digit of 784 pixels, the encoder's
# layers 784, 256, 256 in blue, the orange bottleneck z of 2 numbers, the decoder's layers 256, 256,
# 784 in green ending in logits, with x-hat equal to sigmoid of the logits; Linear and ReLU between
# bars, loss BCE(logits, x) summed over the 784 pixels](../images/02_autoencoder_architecture.png)

# %% [markdown]
# **Takeaway.** An autoencoder is an encoder and a decoder with a narrow code between them; the
# narrowness, not the networks, is what forces it to summarise.

# %% [markdown]
# ## 2 · The loss is a negative log-likelihood
#
# The decoder does not have to output "an image"; it can output the parameters of a **distribution
# over images**, $p_\theta(x \mid z)$. Training by maximum likelihood then means minimising
# $-\log p_\theta(x \mid z = g_\phi(x))$ summed over the training images. Which distribution we pick
# decides which loss we get.
#
# ### Bernoulli pixels ↔ binary cross-entropy
#
# Treat each pixel as a coin, $x_j \in \{0, 1\}$, with probability $\operatorname{sigmoid}(\ell_j)$ of
# being on, where $\ell = f_\theta(z)$ are the logits. Pixels are independent given $z$, so
#
# $$
# -\log p_\theta(x \mid z) = -\sum_{j=1}^{D} \Big[ x_j \log \operatorname{sigmoid}(\ell_j) + (1 - x_j) \log\big(1 - \operatorname{sigmoid}(\ell_j)\big) \Big]
# = \sum_{j=1}^{D} \mathrm{BCE}(\ell_j, x_j),
# $$
#
# the binary cross-entropy, summed over pixels, in **nats per image**. To make grey levels into coin
# flips we use **dynamic binarization**: every time an image is used, each pixel is drawn as 1 with
# probability equal to its intensity. We write the loss with PyTorch's BCE on logits and check it
# against the Bernoulli distribution and against the formula above.

# %%
def bce_per_image(logits, x):
    """−log p(x | z) for Bernoulli pixels with these logits: nats per image, shape (N,)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


x = binarize(data.test_x[:8])
with torch.no_grad():
    logits = ae(x)
p = torch.sigmoid(logits)   # the pixels' probabilities of being on
with SelfCheck("Bernoulli likelihood") as sc:
    sc.close("BCE with logits = −Bernoulli(logits).log_prob(x) summed over pixels",
             bce_per_image(logits, x), -Bernoulli(logits=logits).log_prob(x).sum(-1), show_gap=True)
    sc.close("= −Σ_j [x_j log sigmoid(ℓ_j) + (1 − x_j) log(1 − sigmoid(ℓ_j))]", bce_per_image(logits, x),
             -(x * p.log() + (1 - x) * (1 - p).log()).sum(-1), atol=1e-3, show_gap=True)

# %% [markdown]
# Why logits: PyTorch computes the BCE from $\ell$ using
# $\log \operatorname{sigmoid}(\ell) = -\operatorname{softplus}(-\ell)$, which stays finite where
# `torch.log(torch.sigmoid(ℓ))` rounds to $\log 0 = -\infty$. A confident logit on a pixel that is off
# shows the difference:

# %%
l, x_j = torch.tensor(30.0), torch.tensor(0.0)  # a confident logit, a pixel that is off
print(f"ℓ = 30, x = 0: BCE from the logit = {F.binary_cross_entropy_with_logits(l, x_j):.1f} nats; "
      f"−log(1 − sigmoid(ℓ)) = {-torch.log(1 - torch.sigmoid(l)):.1f} (sigmoid(30) rounds to 1 in float32)")
ells = torch.linspace(-40, 40, 161)
with SelfCheck("log sigmoid") as sc:
    sc.close("−softplus(−ℓ) in float32 = log sigmoid(ℓ) computed in float64, ℓ from −40 to 40",
             -F.softplus(-ells), torch.sigmoid(ells.double()).log(), atol=1e-6, show_gap=True)

# %% [markdown]
# Before training, with random weights, the logits are close to 0, every pixel gets probability about
# 1/2, and the loss is close to $D \log 2$ nats per image. Below it, the share of training pixels that
# are close to black or white, which is why Bernoulli pixels are a fair model:

# %%
print(f"untrained model: {bce_per_image(logits, x).mean():.1f} nats per image; "
      f"784 log 2 = {784 * math.log(2):.1f}")
near_black_or_white = ((data.train_x < 0.1) | (data.train_x > 0.9)).float().mean().item()
print(f"training pixels below 0.1 or above 0.9: {near_black_or_white:.1%}")

# %% [markdown]
# ### Gaussian pixels ↔ squared error
#
# If instead the decoder's output is the mean of a Gaussian with a fixed standard deviation $s$ per
# pixel, $p_\theta(x \mid z) = \mathcal N(x;\, \hat x, s^2 I)$, then
#
# $$
# -\log p_\theta(x \mid z) = \frac{1}{2 s^2} \sum_{j=1}^{D} (x_j - \hat x_j)^2 + \frac{D}{2} \log(2 \pi s^2),
# $$
#
# the squared error scaled by $1/(2s^2)$ plus a constant that does not depend on $\theta$ or $\phi$.
# Minimising squared error is therefore maximum likelihood under Gaussian pixel noise.

# %%
s = 0.1  # the fixed pixel noise scale of the Gaussian
x, x_hat = data.test_x[:8], torch.sigmoid(logits)
squared_error = (x - x_hat).pow(2).sum(-1)
constant = 784 / 2 * math.log(2 * math.pi * s**2)
with SelfCheck("Gaussian likelihood") as sc:
    sc.close("−Normal(x̂, s).log_prob(x) summed = squared error / (2 s²) + (784/2) log(2π s²)",
             -Normal(x_hat, s).log_prob(x).sum(-1), squared_error / (2 * s**2) + constant,
             atol=1e-3, show_gap=True)

# %% [markdown]
# ### Weight decay ↔ a Gaussian prior (MAP)
#
# A prior over the weights, $p(\theta) = \mathcal N(0, s_\theta^2 I)$ (here $\theta$ stands for all
# weights, encoder and decoder), turns maximum likelihood into maximum a posteriori (MAP)
# estimation. Over $N$ training images,
#
# $$
# -\log p(\theta \mid \mathcal D) = -\sum_{n=1}^{N} \log p_\theta(x_n \mid z_n) + \frac{\lVert\theta\rVert^2}{2 s_\theta^2} + \text{const},
# $$
#
# and dividing by $N$ gives the usual per-image loss plus $\tfrac{\alpha}{2}\lVert\theta\rVert^2$ with
# the weight decay coefficient $\alpha = 1 / (N s_\theta^2)$. First the prior's negative log-density:

# %%
s_theta, N = 1.0, len(data.train_x)
alpha = 1 / (N * s_theta**2)   # the weight decay that matches this prior
theta = torch.cat([p.detach().flatten() for p in ae.decoder.parameters()]).cpu().double()
nll = bce_per_image(logits, x).cpu().double()   # stand-in per-image losses of a data set of 8 images
with SelfCheck("Gaussian prior") as sc:
    sc.close("−log N(θ; 0, s²I) = ‖θ‖²/(2s²) + (P/2) log(2π s²)",
             -Normal(0.0, s_theta).log_prob(theta).sum(),
             theta.pow(2).sum() / (2 * s_theta**2) + len(theta) / 2 * math.log(2 * math.pi * s_theta**2),
             rtol=1e-9, show_gap=True)
    sc.close("(Σ_n −log p(x_n|z_n) + ‖θ‖²/(2s²)) / N = mean + (α/2)‖θ‖², α = 1/(N s²); N = 8 here",
             (nll.sum() + theta.pow(2).sum() / (2 * s_theta**2)) / len(nll),
             nll.mean() + 1 / (len(nll) * s_theta**2) / 2 * theta.pow(2).sum(), rtol=1e-9, show_gap=True)
print(f"N = {N:,} images, s_θ = {s_theta}: α = 1/(N s_θ²) = {alpha:.2e}")

# %% [markdown]
# The term $\tfrac{\alpha}{2}\lVert\theta\rVert^2$ has the gradient $\alpha\theta$, and that is what
# `weight_decay=α` adds to the gradient in `torch.optim.SGD` and in `torch.optim.Adam`, *before* Adam
# rescales it: both then take their usual steps on the penalised (MAP) loss, Adam with its per-weight
# step sizes. `AdamW` is a different update: it shrinks the weights by $\eta\alpha\theta$ outside Adam's
# rescaling ("decoupled weight decay", Loshchilov & Hutter, 2019), so its steps are not those on the
# penalised loss. We check all three from the same weights on the same batch, three steps each, with a
# large coefficient $\lambda = 0.1$, so that the penalty moves the weights by far more than the check's
# tolerance (the check prints by how much: an equality check the penalty cannot move could not fail):

# %%
x = binarize(data.test_x[:64])
lam = 0.1                              # a large coefficient: the penalty moves the weights visibly


def after_steps(optimizer_class, lr, weight_decay=0.0, penalty=0.0, steps=3):
    """A copy of the model after `steps` steps on the batch x; returns its decoder parameters."""
    model = Autoencoder(z_dim=2).to(device)
    model.load_state_dict(ae.state_dict())
    optimizer = optimizer_class(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = bce_per_image(model(x), x).mean()
        loss = loss + penalty * sum(p.pow(2).sum() for p in model.parameters())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in model.decoder.parameters()])


# %% [markdown]
# For SGD and Adam: `weight_decay=λ` against the penalty $\tfrac{\lambda}{2}\lVert\theta\rVert^2$ in the loss
# (equal), and against no penalty at all (the gap shows the check can see the penalty); then AdamW:

# %%
with SelfCheck("weight decay") as sc:
    for optimizer_class, lr in ((torch.optim.SGD, 0.1), (torch.optim.Adam, 1e-3)):
        name, decayed = optimizer_class.__name__, after_steps(optimizer_class, lr, weight_decay=lam)
        sc.close(f"{name}(weight_decay=λ) = {name} on loss + (λ/2)‖θ‖², 3 steps", decayed,
                 after_steps(optimizer_class, lr, penalty=lam / 2), atol=1e-6, rtol=1e-4, show_gap=True)
        moved = (decayed - after_steps(optimizer_class, lr)).abs().max().item()
        sc.true(f"{name}: the penalty moves the weights by {moved:.1e}, far beyond that tolerance",
                moved > 1e-4, f"only {moved:.1e}")
    adamw_gap = (after_steps(torch.optim.AdamW, 1e-3, weight_decay=lam)
                 - after_steps(torch.optim.Adam, 1e-3, weight_decay=lam)).abs().max().item()
    sc.true(f"AdamW(weight_decay=λ) ≠ Adam(weight_decay=λ): largest gap {adamw_gap:.1e}",
            adamw_gap > 1e-4, f"only {adamw_gap:.1e}: decoupled decay should differ")


# %% [markdown]
# **Takeaway.** A reconstruction loss is a choice of pixel distribution: BCE assumes Bernoulli pixels,
# squared error assumes Gaussian pixels of fixed variance, and L2 weight decay adds a Gaussian prior on
# the weights. We train with BCE on logits, because most MNIST pixels are close to black or white
# (the share printed above); in this lecture we use no weight decay.

# %% [markdown]
# ## 3 · Training a 2-D autoencoder, watching its latent space
#
# Training minimises the likelihood of Section 2 averaged over a minibatch of freshly binarized
# images, with Adam. The learning rate follows a one-cycle schedule (up, then down; Smith & Topin,
# 2019), which reaches a low loss in few epochs. The loop around the step (shuffled minibatches, each
# binarized afresh, a validation score after every epoch) is the course's shared `utils.vae.fit`; the
# validation score is the mean BCE over the validation images binarized once above:

# %%
@torch.no_grad()
def mean_bce(ae, x_binary):
    """Mean −log p(x | z) in nats per image over already-binary images."""
    return sum(bce_per_image(ae(xb), xb).sum().item()
               for (xb,) in minibatches(x_binary, batch_size=2000, shuffle=False)) / len(x_binary)


# %% [markdown]
# The step is the part that is the autoencoder's own: the BCE of the batch, one Adam step, one step
# of the schedule. `adam_one_cycle_step` builds it for any model and per-image loss (Section 5 reuses
# it for linear autoencoders):

# %%
def adam_one_cycle_step(model, loss_fn, total_steps, max_lr):
    """step(x): one Adam step on loss_fn(model(x), x).mean(), with a one-cycle learning rate."""
    optimizer = torch.optim.Adam(model.parameters(), lr=max_lr, fused=True)  # fused: one pass per tensor
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps)

    def step(x):
        loss = loss_fn(model(x), x).mean()   # nats per image for the BCE
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        return loss.item()
    return step


def train_autoencoder(ae, epochs, batch_size=128, max_lr=3e-3, seed=0, callback=None):
    """Adam with a one-cycle learning rate on the BCE of dynamically binarized minibatches."""
    steps = epochs * math.ceil(len(data.train_x) / batch_size)
    step = adam_one_cycle_step(ae, bce_per_image, steps, max_lr)
    return fit(step, data.train_x, epochs, batch_size=batch_size, seed=seed, callback=callback,
               validate=lambda: mean_bce(ae, val_binary), desc=f"z_dim={ae.z_dim}")


# %% [markdown]
# After every epoch the callback encodes the whole test set and redraws its codes, coloured by digit
# (the labels are never used for training), next to the loss curves:

# %%
@torch.no_grad()
def encode(ae, x):
    """Codes of x, on the CPU (for plots)."""
    return ae.encoder(x).cpu()


def show_latent(epoch, history):
    """Redraw the test-set codes and the loss curves in the live figure."""
    left, right = live.clear()
    latent_scatter(encode(ae2, data.test_x), data.test_y.cpu(), ax=left, s=2, alpha=0.5,
                   title=f"test-set codes after epoch {epoch + 1}")
    training_curves(history, ax=right, ylabel="BCE (nats per image)",
                    title="−log p(x | z) during training")
    live.update()


# %% [markdown]
# We train a 2-D autoencoder from a fixed seed, for 12 epochs in full mode:

# %% mystnb={"image": {"alt": "Live training figure: left, the test-set codes of the 2-D autoencoder coloured by digit, forming separate, oddly shaped regions of different sizes; right, training and validation BCE in nats per image falling over the epochs."}}
torch.manual_seed(0)
ae2 = Autoencoder(z_dim=2).to(device)
bce_untrained = mean_bce(ae2, val_binary)
live = LiveFigure(ncols=2, figsize=(11, 4.2))
history2 = trained("02_autoencoders/ae2", model=ae2,
                   train=lambda: train_autoencoder(ae2, EPOCHS_2D, callback=show_latent),
                   config=dict(z_dim=2, epochs=EPOCHS_2D, max_lr=3e-3, seed=0, data=data.source),
                   callback=show_latent)
live.close()
print(f"d = 2, {EPOCHS_2D} epochs: test BCE {mean_bce(ae2, test_binary):.1f} nats per image")

# %% [markdown]
# In the figure the digits separate into regions without ever seeing a label: similar images need
# similar codes for the decoder to reconstruct them from two numbers. The regions are oddly shaped, of
# different sizes, and leave gaps between them; nothing in the loss asks for anything else. We come
# back to this in Section 6. How much the codes say about the digit, measured: label each test image
# with the digit of its nearest code among 1,000 validation images, and count how often that is right
# (guessing gives about 10%):

# %%
z_val2 = encode(ae2, data.val_x[:1000])
nearest_val = torch.cdist(encode(ae2, data.test_x), z_val2).argmin(1)
agreement = (data.val_y[:1000].cpu()[nearest_val] == data.test_y.cpu()).float().mean().item()
print(f"d = 2: the nearest validation code has the test image's digit for {agreement:.1%} of test images")
with SelfCheck("digits in the codes") as sc:
    if not SMOKE:   # one smoke epoch on 2,000 images has barely begun to sort the digits
        sc.true("the nearest code's digit is right far more often than guessing (> 30%)",
                agreement > 0.3, f"only {agreement:.1%}")


# %% [markdown]
# Reconstructions of the first ten test images, as intensities $\hat x = \operatorname{sigmoid}(f_\theta(z))$
# (the mean of the Bernoulli pixels, which is what dynamic binarization trains them to estimate):

# %% mystnb={"image": {"alt": "The first ten test digits above their reconstructions by the 2-D autoencoder: most come back as a smoothed version of the same digit, some as a similar digit of another class."}}
@torch.no_grad()
def reconstruct(ae, x):
    """x̂ = sigmoid(decoder(encoder(x))): reconstructed intensities in [0, 1]."""
    return torch.sigmoid(ae(x))


with SelfCheck("training") as sc:
    sc.true("training lowered the validation BCE below the untrained model's",
            history2["validation"][-1] < bce_untrained,
            f"validation BCE {bce_untrained:.1f} before, {history2['validation'][-1]:.1f} after")
print(f"validation BCE: {bce_untrained:.1f} nats per image untrained, "
      f"{history2['validation'][-1]:.1f} after {EPOCHS_2D} epochs")
reconstruction_rows(data.test_x[:10], reconstruct(ae2, data.test_x[:10]),
                    title="2-D autoencoder: test images (top) and reconstructions (bottom)")
plt.show()


# %% [markdown]
# **Takeaway.** Two numbers per image keep the rough shape of a digit, and the codes carry much of its
# class (the nearest-code agreement above), although no label was used; in the reconstructions thin
# details are lost and some digits come back as a similar digit of another class.

# %% [markdown]
# ## 4 · Autoencoder vs PCA at the same $d$
#
# Is the non-linearity worth it? We compare with PCA at the same bottleneck width. PCA (unit 01)
# centres the data, $\bar x = \frac1N \sum_n x_n$, takes the top-$d$ eigenvectors $W \in \mathbb{R}^{D\times d}$
# of the covariance $C = \frac{1}{N-1} \sum_n (x_n - \bar x)(x_n - \bar x)^\top$, and reconstructs
#
# $$
# \hat x = \bar x + W W^\top (x - \bar x).
# $$
#
# Its squared reconstruction error on the training set is the sum of the discarded eigenvalues,
# $\frac1N \sum_n \lVert x_n - \hat x_n \rVert^2 = \frac{N-1}{N} \sum_{k > d} \lambda_k$, a formula we
# check. PCA is fitted on the same 55,000 training images as the autoencoders (in float64 on the CPU).

# %%
def pca(x):
    """Mean, eigenvalues (largest first) and eigenvectors (columns) of the covariance of x, float64."""
    x = x.cpu().double()
    x_mean = x.mean(0)
    xc = x - x_mean
    cov = xc.T @ xc / (len(x) - 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)          # ascending order
    return x_mean, eigenvalues.flip(0), eigenvectors.flip(1)


x_train = data.train_x.cpu().double()
x_mean, eigenvalues, eigenvectors = pca(x_train)


# %% [markdown]
# The reconstruction $\hat x = \bar x + W W^\top (x - \bar x)$ in code, the metric we compare with,
# and the check of the training error against the discarded eigenvalues:

# %%
def pca_reconstruct(x, d):
    """x̂ = x̄ + W Wᵀ (x − x̄) with W the top-d principal directions."""
    W = eigenvectors[:, :d]
    return (x_mean + (x.cpu().double() - x_mean) @ W @ W.T).float()


def squared_error_per_image(x, x_hat):
    """Σ_j (x_j − x̂_j)² over the 784 pixels ([0, 1] intensities), averaged over images."""
    return (x.cpu() - x_hat.cpu()).pow(2).sum(-1).mean().item()


with SelfCheck("PCA") as sc:
    for d in (2, 10):
        err = sum((xb - pca_reconstruct(xb, d).double()).pow(2).sum()     # in chunks: small
                  for xb in x_train.split(10_000)) / len(x_train)              # temporaries
        sc.close(f"d={d}: training squared error = (N−1)/N · Σ discarded eigenvalues",
                 err, (len(x_train) - 1) / len(x_train) * eigenvalues[d:].sum(), rtol=1e-4,
                 show_gap=True)

# %% [markdown]
# The same metric for both methods: the squared error per test image, summed over the 784 pixels on
# the $[0,1]$ intensity scale (units: intensity², per image), averaged over the test images. For the
# autoencoder $\hat x = \operatorname{sigmoid}(f_\theta(g_\phi(x)))$, the Bernoulli mean. We train a
# second autoencoder with a 10-D bottleneck the same way (8 epochs in full mode).

# %%
torch.manual_seed(0)
ae10 = Autoencoder(z_dim=10).to(device)
history10 = trained("02_autoencoders/ae10", model=ae10, train=lambda: train_autoencoder(ae10, EPOCHS_10D),
                    config=dict(z_dim=10, epochs=EPOCHS_10D, max_lr=3e-3, seed=0, data=data.source))
print(f"d = 10, {EPOCHS_10D} epochs: test BCE {mean_bce(ae10, test_binary):.1f} nats per image")

# %% [markdown]
# The table scores PCA and the autoencoders at $d = 2$ and $d = 10$ on the test set, against the
# mean image ($d = 0$) as the baseline:

# %%
x_test = data.test_x
errors = {"mean image (d = 0)": squared_error_per_image(x_test, x_mean.float().expand_as(x_test.cpu()))}
for d, ae_d in ((2, ae2), (10, ae10)):
    errors[f"PCA, d = {d}"] = squared_error_per_image(x_test, pca_reconstruct(x_test, d))
    errors[f"autoencoder, d = {d}"] = squared_error_per_image(x_test, reconstruct(ae_d, x_test))
with SelfCheck("autoencoder vs PCA") as sc:
    for d in (2, 10):
        ratio = errors[f"autoencoder, d = {d}"] / errors[f"PCA, d = {d}"]
        print(f"d = {d}: the autoencoder's error is {ratio:.0%} of PCA's")
        if not SMOKE:   # one smoke epoch on 2,000 images is too short to rank them
            sc.true(f"d = {d}: the autoencoder's test squared error is below PCA's", ratio < 1,
                    f"{ratio:.0%} of PCA's")
table(["method", "squared error per image", "relative to the mean image (%)"],
      [[name, err, round(100 * err / errors["mean image (d = 0)"])] for name, err in errors.items()],
      title=f"test set, {len(x_test):,} images: Σ over 784 pixels of (x − x̂)², averaged over images")

# %% [markdown]
# The autoencoder beats PCA at both widths (checked in full mode), although it was trained on BCE and
# is scored here on squared error, PCA's own criterion: on the data it is fitted to, PCA is the best
# *linear* $d$-dimensional reconstruction in exactly this metric (Eckart & Young, 1936; checked in
# Section 5). With two numbers per image it comes close to PCA with ten (28.41 against 26.71 per
# image). The table and the ratios come from the committed full run (full MNIST, 12 and 8 epochs,
# seed 0, one thread). Side by side on the first test images:

# %% mystnb={"image": {"alt": "Ten test digits with their reconstructions by PCA and by the autoencoder at d = 2 and at d = 10, one row each: the autoencoder's rows are much closer to the test digits at both widths."}}
x = data.test_x[:10]
rows = [x, pca_reconstruct(x, 2), reconstruct(ae2, x), pca_reconstruct(x, 10), reconstruct(ae10, x)]
names = ["test image", "PCA, d=2", "AE, d=2", "PCA, d=10", "AE, d=10"]
fig, ax = plt.subplots(figsize=(9, 5))
image_grid(torch.cat([r.cpu() for r in rows]).clamp(0, 1), nrow=10, ax=ax,
           title="reconstructions of test images at the same bottleneck width d")
for i, name in enumerate(names):
    ax.text(-2, (i + 0.5) * 30, name, ha="right", va="center")
plt.show()


# %% [markdown]
# **Takeaway.** At the same $d$ the non-linear encoder and decoder keep much more of each image
# than the best linear projection (the table); at $d = 2$ PCA draws blurred blends of a few stroke
# patterns, the autoencoder sharper digit shapes (the figure).

# %% [markdown]
# ## 5 · When is a linear autoencoder PCA?
#
# Take the simplest autoencoder: a linear encoder $z = A x + a$ and a linear decoder with output
# $B z + b$, $B \in \mathbb{R}^{D \times d}$. With **squared error and the identity output**,
# $\hat x = B z + b$, Baldi & Hornik (1989) showed that every local minimum of the training error is
# a global one, and that at the minimum the columns of $B$ span the top-$d$ principal subspace of the
# training data (when the covariance has distinct eigenvalues); $B$ itself is determined only up to
# an invertible $d \times d$ mixing, so we compare subspaces, not matrices. With the output and loss
# this lecture trains with, $\hat x = \operatorname{sigmoid}(B z + b)$ and BCE, the decoder fits a
# $d$-dimensional affine subspace of *logits* $\ell = B z + b$ under the Bernoulli loss, which in its
# exponential-family form reads
#
# $$
# \mathrm{BCE}(\ell, x) = \log\big(1 + e^{\ell}\big) - x\,\ell
# $$
#
# (the log-partition function minus $x$ times the natural parameter $\ell$). Minimising that loss over
# a low-dimensional subspace of natural parameters is exponential-family PCA (Collins, Dasgupta &
# Schapire, 2001), for Bernoulli pixels called logistic PCA (Schein, Saul & Ungar, 2003). The
# difference: there every image's code is a free parameter, here it is a linear function of the image;
# we check the loss and the subspace below, but fit no logistic PCA, so how close the two subspaces are
# is not measured here. Nothing in that objective refers to the covariance of the grey levels.
#
# To compare subspaces we use **principal angles**. With orthonormal bases $Q_1, Q_2 \in \mathbb{R}^{D \times d}$
# of the two subspaces, $\cos\theta_1, \dots, \cos\theta_d$ are the singular values of $Q_1^\top Q_2$:
# all angles are $0°$ for the same subspace, and an angle of $90°$ means one subspace holds a direction
# orthogonal to all of the other. We check the function on two cases whose answer we know.

# %%
def principal_angles(A, B):
    """Principal angles in degrees (largest first) between the column spaces of A and B."""
    Q1, Q2 = torch.linalg.qr(A.double())[0], torch.linalg.qr(B.double())[0]
    cosines = torch.linalg.svdvals(Q1.T @ Q2).clamp(max=1.0)
    return torch.rad2deg(torch.arccos(cosines)).flip(0)


W = eigenvectors[:, :10]
mixing = torch.randn(10, 10, dtype=torch.float64)   # an invertible mixing keeps the subspace
with SelfCheck("principal angles") as sc:
    sc.close("the top-10 directions and a mixed basis of them: all angles 0°",
             principal_angles(W, W @ mixing), torch.zeros(10), atol=1e-3, show_gap=True)
    sc.close("the top-10 directions and the next ten: all angles 90°",
             principal_angles(W, eigenvectors[:, 10:20]), torch.full((10,), 90.0), atol=1e-3,
             show_gap=True)


# %% [markdown]
# The linear autoencoder is `nn.Linear(784, d)` followed by `nn.Linear(d, 784)`; its decoder's
# weight is $B$. It trains with the step of Section 3 on grey levels (no binarization, so the two
# runs differ only in output and loss), in shuffled minibatches of 128:

# %%
def squared_error_loss(output, x):
    """Squared error per image with the identity output x̂ = output."""
    return (output - x).pow(2).sum(-1)


def linear_autoencoder(d=10, seed=0):
    """x ↦ B (A x + a) + b: a linear encoder and a linear decoder, initialised from `seed`."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, d), nn.Linear(d, 784)).to(device)


def train_linear_autoencoder(linear_ae, loss_fn, x, epochs, batch_size=128, max_lr=3e-2, seed=0):
    """Train linear_ae in place on loss_fn(B (A x + a) + b, x)."""
    step = adam_one_cycle_step(linear_ae, loss_fn, epochs * math.ceil(len(x) / batch_size), max_lr)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for (xb,) in minibatches(x, batch_size=batch_size, generator=order):
            step(xb)


# %% [markdown]
# We train both on the first 10,000 training images with $d = 10$ (10 epochs in full mode), compute
# PCA on the same images, and measure the angles between each decoder's column space and the top-10
# principal subspace. PCA is the best rank-$d$ affine reconstruction in squared error of the data it is
# fitted to (Eckart & Young, 1936), so the linear autoencoder trained on squared error can at best
# match its error: a check that holds after any amount of training.

# %%
x_linear = data.train_x[:N_LINEAR]
_, eigenvalues_linear, eigenvectors_linear = pca(x_linear)
pca_error = (len(x_linear) - 1) / len(x_linear) * eigenvalues_linear[10:].sum().item()
setups = {"squared error, identity output": ("linear-squared-error", squared_error_loss, lambda out: out),
          "BCE, sigmoid output": ("linear-bce", bce_per_image, torch.sigmoid)}
linear_errors, angles, linear_models = {}, {}, {}
for name, (tag, loss_fn, to_intensities) in setups.items():
    model = linear_models[name] = linear_autoencoder(d=10)
    trained(f"02_autoencoders/{tag}", model=model,
            config=dict(d=10, epochs=EPOCHS_LINEAR, images=N_LINEAR, seed=0, data=data.source),
            train=lambda: train_linear_autoencoder(model, loss_fn, x_linear, EPOCHS_LINEAR))
    with torch.no_grad():
        linear_errors[name] = squared_error_per_image(x_linear, to_intensities(model(x_linear)))
    angles[name] = principal_angles(model[1].weight.detach().cpu(), eigenvectors_linear[:, :10])
with SelfCheck("linear autoencoder") as sc:
    sc.true("squared error of the squared-error linear autoencoder ≥ PCA's (Eckart–Young)",
            linear_errors["squared error, identity output"] >= pca_error * (1 - 1e-6),
            f"{linear_errors['squared error, identity output']:.4f} < PCA's {pca_error:.4f}")

# %% [markdown]
# The BCE-trained model, checked against the two statements above: its loss is the exponential-family
# form, and its logits on the 10,000 images lie in a 10-dimensional affine subspace (the 11th singular
# value of the centred logits vanishes next to the first):

# %%
with torch.no_grad():
    logits_linear = linear_models["BCE, sigmoid output"](x_linear).cpu().double()
singular = torch.linalg.svdvals(logits_linear - logits_linear.mean(0))
ell, x_grey = logits_linear[:100], x_linear[:100].cpu().double()
with SelfCheck("logistic PCA") as sc:
    sc.close("BCE(ℓ, x) = log(1 + e^ℓ) − x ℓ, on the model's logits for 100 images",
             F.binary_cross_entropy_with_logits(ell, x_grey, reduction="none"),
             torch.log1p(ell.exp()) - x_grey * ell, atol=1e-9, show_gap=True)
    sc.true(f"logits in a 10-dimensional affine subspace: σ₁₁/σ₁ = {singular[10] / singular[0]:.1e}",
            singular[10] / singular[0] < 1e-6, "the 11th singular value does not vanish")

# %% [markdown]
# The two decoders against PCA, on the same 10,000 training images:

# %%
sq_gap = linear_errors["squared error, identity output"] - pca_error
print(f"squared error, identity output: {sq_gap:.3f} per image ({sq_gap / pca_error:.2%}) above PCA's")
rows = [["PCA (the reference subspace)", pca_error, 0.0, 0.0]]
rows += [[f"linear autoencoder, {name}", linear_errors[name], a.max(), a.median()]
         for name, a in angles.items()]
table(["d = 10", "squared error per image", "largest angle to PCA (°)", "median angle (°)"], rows,
      title=f"{len(x_linear):,} training images, {EPOCHS_LINEAR} epochs; x̂ = sigmoid(output) for BCE")

# %% [markdown]
# All ten angles, largest first:

# %% mystnb={"image": {"alt": "The ten principal angles, largest first, between each linear autoencoder's decoder column space and the top-10 PCA subspace: near 0\u00b0 for squared error with identity output, far larger for BCE with sigmoid output."}}
fig, ax = plt.subplots(figsize=(8, 4))
for name, a in angles.items():
    ax.plot(range(1, 11), a, marker="o", label=name)
ax.set(xlabel="principal angle (largest first)", ylabel="degrees", ylim=(0, 90),
       title="decoder column space vs the top-10 PCA subspace (d = 10)")
ax.legend()
plt.show()


# %% [markdown]
# In the committed run (full mode: the first 10,000 training images as grey levels, $d = 10$,
# 10 epochs of Adam, seed 0, one thread, one run of each): the decoder trained with squared error and
# the identity output lies within 2.39° of the top-10 PCA subspace (median angle 0.75°), and its
# squared error, 26.99 per image, is 0.05% above PCA's 26.98. The decoder trained with BCE and the
# sigmoid output is far from it: its largest angle is 87.26°, a direction almost orthogonal to the
# whole PCA subspace, and its median angle 40.87°. That is not a worse fit in squared error (24.07 per
# image, below PCA's): with the sigmoid the reconstruction is no longer a linear rank-10 map, so
# PCA's optimality does not bound it.
#
# **Takeaway.** With squared error and an identity output the linear autoencoder found PCA's subspace,
# as Eckart–Young and Baldi & Hornik (1989) predict; with the sigmoid output and BCE, the one other
# case tested here, it learnt a different subspace. So "a linear autoencoder is PCA" depends on the
# loss and the output, not only on linearity.

# %% [markdown]
# ## 6 · What an autoencoder cannot do: generate
#
# A model of the data should let us draw new images: pick a code $z$, decode it. With the
# autoencoder, which $z$? Nothing in its loss says how codes are distributed, so the natural guess is
# a broad Gaussian around them. We draw codes from $\mathcal N(\bar z, (2\,s_z)^2 I)$, with $\bar z$
# and $s_z$ the mean and the standard deviation of the test-set codes (over all coordinates), and
# decode them, for both autoencoders.

# %% mystnb={"image": {"alt": "Left, the 2-D autoencoder's test codes coloured by digit with 30 random codes marked by crosses, many in gaps or far outside; right, random codes decoded by the d = 2 and d = 10 autoencoders: exaggerated digits, blends and blobs."}}
def random_codes(z_codes, n):
    """n codes from N(z̄, (2 s_z)² I): a broad Gaussian around the given codes."""
    return z_codes.mean(0) + 2 * z_codes.std() * torch.randn(n, z_codes.shape[1])


torch.manual_seed(1)
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1.25, 1, 1]})
for ae_d, ax in ((ae2, axes[1]), (ae10, axes[2])):
    z_test = encode(ae_d, data.test_x)
    z_random = random_codes(z_test, 30)
    with torch.no_grad():
        x_random = torch.sigmoid(ae_d.decoder(z_random.to(device)))
    image_grid(x_random, nrow=6, ax=ax, title=f"30 random codes decoded\nby the d = {ae_d.z_dim} autoencoder")
    if ae_d is ae2:
        latent_scatter(z_test, data.test_y.cpu(), ax=axes[0], s=2, alpha=0.3,
                       title="d = 2: test codes and the 30 random codes (×)")
        axes[0].scatter(z_random[:, 0], z_random[:, 1], marker="x", color="k", s=30)
plt.show()

# %% [markdown]
# How far do random codes land from the codes the decoder was trained on, and near which digits?
# For 1,000 random codes we measure the distance to the nearest test-set code, and compare it with
# the same distance for validation-set codes (real images the autoencoder never trained on):

# %%
nearest = {}
for ae_d in (ae2, ae10):
    z_test, z_val = encode(ae_d, data.test_x), encode(ae_d, data.val_x[:1000])
    z_random = random_codes(z_test, 1000)
    dist_val = torch.cdist(z_val, z_test).min(1).values.median().item()
    dist_random, nearest[ae_d.z_dim] = torch.cdist(z_random, z_test).min(1)
    print(f"d = {ae_d.z_dim:2d}: median distance to the nearest test code: validation codes "
          f"{dist_val:.2f}, random codes {dist_random.median():.2f} "
          f"({dist_random.median() / dist_val:.1f}× farther)")

# %% [markdown]
# The digit of that nearest test code tells us which digit, if any, a random code is closest to; we
# compare the shares with those of the test images:

# %% mystnb={"image": {"alt": "Two bar charts, for d = 2 and d = 10: the share of each digit among test images, about 10% each, against the digit of the test code nearest to each random code, strongly skewed towards a few digits for d = 2."}}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
test_share = torch.bincount(data.test_y.cpu(), minlength=10) / len(data.test_y)
for (z_dim, idx), ax in zip(nearest.items(), axes):
    random_share = torch.bincount(data.test_y.cpu()[idx], minlength=10) / len(idx)
    ax.bar(np.arange(10) - 0.2, test_share, width=0.4, label="test images")
    ax.bar(np.arange(10) + 0.2, random_share, width=0.4, label="random codes (digit of nearest test code)")
    ax.set(xticks=range(10), xlabel="digit", title=f"autoencoder with d = {z_dim} latent dimensions")
axes[0].set_ylabel("share")
fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=2, frameon=False,
           bbox_to_anchor=(0.5, 0.0))                      # below the panels: it hides no bar
plt.show()

# %% [markdown]
# In 2-D the digits' regions differ in size. Do the random codes over-represent the digits whose
# codes spread farthest from the centre? For each digit, the median distance of its test codes from
# their mean, its share among the random codes' nearest digits relative to its share of the test set,
# and the rank correlation of the two:

# %%
z_test2, labels = encode(ae2, data.test_x), data.test_y.cpu()
spread = torch.stack([(z_test2[labels == k] - z_test2.mean(0)).norm(dim=1).median() for k in range(10)])
over = torch.bincount(labels[nearest[2]], minlength=10) / len(nearest[2]) / test_share
ranks = lambda v: v.argsort().argsort().double()
rho = torch.corrcoef(torch.stack([ranks(spread), ranks(over)]))[0, 1].item()
print("d = 2, digits from the farthest-spread to the most central:",
      ", ".join(str(k) for k in spread.argsort(descending=True).tolist()))
print("        digits from the most to the least over-represented: ",
      ", ".join(str(k) for k in over.argsort(descending=True).tolist()))
print(f"rank correlation of spread and over-representation: {rho:.2f}")

# %% [markdown]
# A broad Gaussian mostly hits the large outer regions, so its samples over-represent those digits
# (the bar chart, and a rank correlation of 0.82 between spread and over-representation in the
# committed run), drawn with exaggerated strokes; codes in the gaps
# decode to blends. In 10-D the random codes lie far from the codes of real images (the printed
# distances), and many decode to blobs and broken strokes that are no digit at all.
#
# **Why.** The autoencoder's loss only constrains the codes of the training images; it fits no
# distribution $p(z)$ over codes, so there is nothing to sample from and no guarantee that a code
# between or beyond the training codes decodes to a digit. The **variational autoencoder** fixes
# exactly this (Kingma & Welling, 2014): it adds a prior $p(z) = \mathcal N(0, I)$, makes the encoder output a distribution
# $q_\phi(z \mid x)$, and adds a KL term that pulls the codes towards the prior, so that decoding
# $z \sim p(z)$ gives digits (units 03–05).
#
# **Takeaway.** An autoencoder fits no distribution over its codes, so random codes decode to
# non-digits; a generative model needs the prior and the probabilistic encoder that the VAE adds.

# %% [markdown]
# ## Summary
#
# - An autoencoder is an encoder $g_\phi$ and a decoder $f_\theta$ trained to reconstruct their input
#   through a bottleneck of $d$ numbers.
# - Its loss is a negative log-likelihood: BCE on logits = Bernoulli pixels, squared error = Gaussian
#   pixels with fixed variance (maximum likelihood); L2 weight decay = a Gaussian prior on the weights
#   (MAP), with $\alpha = 1/(N s_\theta^2)$ for a per-image loss; `weight_decay` in SGD and Adam is that
#   penalty, AdamW's decoupled decay is not. Each identity was checked numerically.
# - A 2-D MLP autoencoder trained with BCE organises MNIST by digit without labels (nearest-code
#   agreement in Section 3); at $d = 2$ and $d = 10$ it reconstructs test images with a smaller squared
#   error than PCA (table in Section 4).
# - A linear autoencoder trained with squared error and an identity output found PCA's subspace (as
#   Eckart–Young and Baldi & Hornik predict); trained with a sigmoid output and BCE, a logistic-PCA-like
#   objective, it found a subspace far from PCA's (principal angles in Section 5).
# - It is not a generative model: random codes decode to non-digits because no distribution over codes
#   was fitted. The VAE (units 03–05) adds the prior and a probabilistic encoder.

# %% [markdown]
# ## Pointers
#
# - H. Bourlard, Y. Kamp (1988), *Auto-association by multilayer perceptrons and singular value
#   decomposition*, Biological Cybernetics. P. Baldi, K. Hornik (1989), *Neural networks and principal
#   component analysis: learning from examples without local minima*, Neural Networks.
# - C. Eckart, G. Young (1936), *The approximation of one matrix by another of lower rank*,
#   Psychometrika: the best low-rank approximation in squared error, which PCA attains.
# - M. Collins, S. Dasgupta, R. E. Schapire (2001), *A generalization of principal components analysis
#   to the exponential family*, NIPS; A. I. Schein, L. K. Saul, L. H. Ungar (2003), *A generalized linear
#   model for principal component analysis of binary data*, AISTATS: logistic PCA, low-rank logits
#   under the Bernoulli loss.
# - I. Loshchilov, F. Hutter (2019), *Decoupled weight decay regularization*, ICLR: why an L2 penalty
#   and weight decay differ under Adam (AdamW).
# - G. E. Hinton, R. R. Salakhutdinov (2006), *Reducing the dimensionality of data with neural
#   networks*, Science: deep autoencoders against PCA on MNIST.
# - P. Vincent, H. Larochelle, Y. Bengio, P.-A. Manzagol (2008), *Extracting and composing robust
#   features with denoising autoencoders*, ICML: the denoising variant of the exercise.
# - D. P. Kingma, M. Welling (2014), *Auto-Encoding Variational Bayes*, ICLR: the VAE.
# - L. N. Smith, N. Topin (2019), *Super-convergence: very fast training of neural networks using
#   large learning rates*: the one-cycle schedule.
# - C. M. Bishop (2006), *Pattern Recognition and Machine Learning*, §5.5 (regularisation) and
#   §12.4.2 (autoassociative networks); I. Goodfellow, Y. Bengio, A. Courville (2016), *Deep
#   Learning*, ch. 14 (autoencoders).
