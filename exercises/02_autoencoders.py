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
# # Exercise 02 · Autoencoders: encoder, decoder, training step, denoising
#
# **What you implement.** An MLP autoencoder in plain PyTorch, piece by piece, then its denoising
# variant (Vincent et al., 2008):
#
# 1. `Encoder` and `Decoder`: two small MLPs, 784 pixels → $d$ numbers (`z_dim` in code) → 784 pixel **logits**;
# 2. `reconstruction_loss(logits, x)`: $-\log p_\theta(x \mid z)$ for Bernoulli pixels, in nats per image;
# 3. `train_step(encoder, decoder, optimizer, x_input, x_target)`: one gradient step;
# 4. `corrupt(x, p, generator)`: masking noise (each pixel set to 0 with probability $p$);
# 5. `denoising_step(...)`: a training step that reconstructs the *clean* image from a corrupted one.
#
# **How to check.** Each part ends with a self-check cell. Run it after your code cell: every line
# starting with ✓ passed; a line starting with ✗ says what differs, by how much, and gives a hint.
# A check uses the course's own versions of what your function builds on (the training step is
# checked with the course's loss, the denoising step with the course's training step and noise), so
# each ✗ points at the function it is about. The two training cells then train your model on MNIST
# and show what it does; they begin with `if unit02.ready(...)` and, until the functions they use
# pass their checks, print one line saying which to finish first, and do nothing else.
#
# **Time.** About 60 minutes (15 for the modules, 10 for the loss, 15 for the training step, 20 for
# the denoising part). Lecture 02 has everything you need; try without copying from it.

# %%
from utils.runtime import setup

device, SMOKE = setup(seed=0)

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch import nn
from torch.nn import functional as F

from utils.checks import unit02
from utils.data import binarize, load_mnist
from utils.plots import image_grid, reconstruction_rows, training_curves
from utils.tables import table
from utils.vae import fit

data = load_mnist(subset=2000 if SMOKE else None).to(device)
data


# %% [markdown]
# ## 1 · Encoder and decoder
#
# Write the encoder $g_\phi$ and the decoder $f_\theta$ as MLPs with two hidden layers of
# `hidden_dim` ReLU units each:
#
# $$
# g_\phi:\ \mathbb{R}^{784} \to \mathbb{R}^{d}, \qquad
# f_\theta:\ \mathbb{R}^{d} \to \mathbb{R}^{784}\ \text{(logits)} ,
# $$
#
# with $d$ the size of the code (`z_dim` in code), as in lecture 02.
#
# Two details matter. The last layer of each is a plain `nn.Linear`: the code $z$ may take any real
# value, and the decoder returns logits, not probabilities (the loss applies the logistic function
# $\operatorname{sigmoid}(\ell) = 1 / (1 + e^{-\ell})$ itself, stably).
# Build the layers in `__init__` after `super().__init__()`, for example with `nn.Sequential`.

# %%
class Encoder(nn.Module):
    """g_φ: images (N, 784) → codes (N, z_dim)."""

    def __init__(self, z_dim, hidden_dim=256):
        # YOUR CODE HERE
        raise NotImplementedError("exercise: write this part")

    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError("exercise: write this part")


class Decoder(nn.Module):
    """f_θ: codes (N, z_dim) → pixel logits (N, 784)."""

    def __init__(self, z_dim, hidden_dim=256):
        # YOUR CODE HERE
        raise NotImplementedError("exercise: write this part")

    def forward(self, z):
        # YOUR CODE HERE
        raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit02.check_modules(Encoder, Decoder)


# %% [markdown]
# ## 2 · The reconstruction loss
#
# With Bernoulli pixels $x_j \in \{0, 1\}$ ($j = 1, \dots, 784$) and logits $\ell = f_\theta(z)$,
#
# $$
# -\log p_\theta(x \mid z) = -\sum_{j=1}^{784} \Big[ x_j \log \operatorname{sigmoid}(\ell_j) + (1 - x_j) \log\big(1 - \operatorname{sigmoid}(\ell_j)\big) \Big] .
# $$
#
# Return this, summed over the 784 pixels and **averaged over the images** of the batch: one number,
# in nats per image. Compute it from the logits (`F.binary_cross_entropy_with_logits` with
# `reduction="none"`, or `torch.distributions.Bernoulli(logits=...)`), never as
# `torch.log(torch.sigmoid(...))`, which rounds to $\log 0$ for confident logits.

# %%
def reconstruction_loss(logits, x):
    """Mean over images of −log Bernoulli(x | logits) summed over pixels (nats per image)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit02.check_reconstruction_loss(reconstruction_loss)


# %% [markdown]
# ## 3 · The training step
#
# One step of gradient descent on the loss: encode `x_input`, decode, compare with `x_target`,
# then `optimizer.zero_grad()`, `loss.backward()`, `optimizer.step()`. Return the loss as a Python
# number (`loss.item()`), computed before the update. For a plain autoencoder the input is the
# target, `train_step(encoder, decoder, optimizer, x, x)`; keeping them separate lets Part 4 reuse
# the step for denoising.

# %%
def train_step(encoder, decoder, optimizer, x_input, x_target):
    """One optimizer step on reconstruction_loss(decoder(encoder(x_input)), x_target)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit02.check_train_step(train_step)


# %% [markdown]
# Now train a 10-D autoencoder on MNIST with your step (dynamic binarization, Adam, minibatches of
# 128). The loop is given; it also serves the denoising model of Part 4 through `step`.

# %%
def train(encoder, decoder, step, epochs, lr=2e-3, seed=0):
    """Adam and the course's loop (utils.vae.fit: shuffled, dynamically binarized minibatches of
    128) with step(encoder, decoder, optimizer, x); returns the training BCE per epoch."""
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=lr)
    history = fit(lambda x: step(encoder, decoder, optimizer, x), data.train_x, epochs, seed=seed)
    return history["train"]


@torch.no_grad()
def reconstruct(encoder, decoder, x):
    """x̂ = sigmoid(decoder(encoder(x))): intensities in [0, 1]."""
    return torch.sigmoid(decoder(encoder(x)))


def squared_error_per_image(x, x_hat):
    """Σ over the 784 pixels of (x − x̂)², [0, 1] intensities, averaged over images."""
    return (x - x_hat).pow(2).sum(-1).mean().item()


epochs = 1 if SMOKE else 5
z_dim = 10

# %% mystnb={"image": {"alt": "Ten test digits above their reconstructions by the trained 10-D autoencoder"}}
encoder = decoder = None   # set once your autoencoder is trained
if unit02.ready(Encoder, Decoder, reconstruction_loss, train_step):
    torch.manual_seed(0)
    encoder, decoder = Encoder(z_dim).to(device), Decoder(z_dim).to(device)
    history = train(encoder, decoder, lambda enc, dec, opt, x: train_step(enc, dec, opt, x, x), epochs)
    with torch.no_grad():
        x_test = binarize(data.test_x.cpu(), torch.Generator().manual_seed(1)).to(device)
        test_bce = reconstruction_loss(decoder(encoder(x_test)), x_test).item()
    print(f"autoencoder, z_dim={z_dim}, {epochs} epochs: training BCE {history[-1]:.1f}, "
          f"test BCE {test_bce:.1f} nats per image")
    reconstruction_rows(data.test_x[:10], reconstruct(encoder, decoder, data.test_x[:10]),
                        title=f"your autoencoder (z_dim={z_dim}): test images and reconstructions")
    plt.show()


# %% [markdown]
# ## 4 · A denoising autoencoder
#
# A denoising autoencoder sees a **corrupted** image and is trained to output the **clean** one
# (Vincent et al., 2008). It cannot just copy its input, so it has to learn what digits look like.
# We use masking noise: each pixel is independently set to 0 with probability $p$,
#
# $$
# \tilde x_j = m_j\, x_j, \qquad m_j \sim \mathrm{Bernoulli}(1 - p),
# $$
#
# and the loss is $-\log p_\theta(x \mid z = g_\phi(\tilde x))$: the clean $x$ is the target.
#
# First `corrupt(x, p, generator)`: draw the mask with `torch.rand(x.shape, generator=generator,
# device=x.device)`, so that a seeded generator gives a reproducible mask, and do not modify `x`
# in place.

# %%
def corrupt(x, p, generator=None):
    """Masking noise: a copy of x with each pixel set to 0 with probability p."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit02.check_corrupt(corrupt)


# %% [markdown]
# Then the denoising step: corrupt the batch, and take a `train_step` from the corrupted input to the
# clean target.

# %%
def denoising_step(encoder, decoder, optimizer, x, p, generator=None):
    """One optimizer step on −log p(x | z = encoder(corrupt(x, p))); returns the loss."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit02.check_denoising_step(denoising_step)

# %% [markdown]
# Train a denoising autoencoder with the same architecture and budget as the one of Part 3, with
# half of the pixels masked ($p = 0.5$), and compare the two on masked test images: the squared
# error per image between the output and the **clean** test image (summed over the 784 pixels,
# $[0, 1]$ intensities, averaged over the test images).

# %%
p = 0.5
dae_encoder = dae_decoder = None   # set once your denoising autoencoder is trained
if encoder is None:
    print("⏭ skipped: first train the autoencoder of Part 3 (the cell above Part 4)")
elif unit02.ready(corrupt, denoising_step):
    torch.manual_seed(0)
    dae_encoder, dae_decoder = Encoder(z_dim).to(device), Decoder(z_dim).to(device)
    dae_history = train(dae_encoder, dae_decoder,
                        lambda enc, dec, opt, x: denoising_step(enc, dec, opt, x, p), epochs)
    x_clean = data.test_x
    x_masked = corrupt(x_clean.cpu(), p, torch.Generator().manual_seed(2)).to(device)
    rows = [[name, squared_error_per_image(x_clean, reconstruct(enc, dec, x_clean)),
             squared_error_per_image(x_clean, reconstruct(enc, dec, x_masked))]
            for name, (enc, dec) in [("autoencoder", (encoder, decoder)),
                                     ("denoising autoencoder", (dae_encoder, dae_decoder))]]
    display(table(["model", "clean input", f"input with {p:.0%} of pixels masked"], rows,
                  title=f"Test set ({len(x_clean):,} images), z_dim = {z_dim}, {epochs} epoch(s) "
                        "each; squared error per image against the clean image"))

# %% mystnb={"image": {"alt": "Four rows of ten test digits: clean, half the pixels masked, the autoencoder's and the denoising autoencoder's reconstructions"}}
if dae_encoder is None:
    print("⏭ skipped: first train the denoising autoencoder (the cell above)")
else:
    n = 10
    panels = [x_clean[:n], x_masked[:n], reconstruct(encoder, decoder, x_masked[:n]),
              reconstruct(dae_encoder, dae_decoder, x_masked[:n])]
    names = ["clean", f"masked (p={p})", "autoencoder", "denoising AE"]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    image_grid(torch.cat(panels).cpu(), nrow=n, ax=ax, title="reconstructing masked test images")
    for i, name in enumerate(names):
        ax.text(-2, (i + 0.5) * 30, name, ha="right", va="center")
    plt.show()

# %% [markdown]
# **Questions to think about.**
#
# 1. The plain autoencoder was never shown a masked image. Why does it still do something sensible
#    with one, and where does it fail?
# 2. Compare the two models on *clean* test images in your table. (In the solution's full run, 5
#    epochs on 55,000 training images, the denoising autoencoder's squared error was about twice
#    the plain one's: 24.4 against 12.1 per image; a short smoke run may not show it yet.) Why is
#    the denoising autoencoder worse on clean images, and how would you change its training to fix
#    that?
# 3. Would a denoising autoencoder with a bottleneck *wider* than 784 still learn something useful?
#    Would a plain one?
# 4. Which likelihood does `reconstruction_loss` assume, and what would change if you used squared
#    error instead?
