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
# # 04 · Exercise: the VAE loss, written by hand
#
# **What you implement.** The three pieces of the variational autoencoder's training objective from
# lecture 04:
#
# 1. `reparameterize(z_loc, z_log_var, eps=None)`: a sample $z = \mu + \sigma\odot\varepsilon$ of the
#    guide $q_\phi(z\mid x) = \mathcal N(\mu, \operatorname{diag}\sigma^2)$ that gradients flow through,
#    with the guide given by its **log-variance** $\ell = \log\sigma^2$ (the lecture uses $\sigma$);
# 2. `gaussian_kl(z_loc, z_log_var)`: $\mathrm{KL}(q_\phi(z\mid x)\,\|\,\mathcal N(0, I))$ in closed form,
#    in $\ell$, one value per image;
# 3. `negative_elbo(vae, x, eps=None)`: the loss $-\mathrm{ELBO}(x)$ in nats per image, from the
#    encoder, your sample, the Bernoulli decoder (on logits) and your KL.
#
# Then you train a 2-D VAE with your loss and look at what it learnt (Part 4). Part 5 goes where the
# lecture does not: a decoder for the **grey levels themselves**, the continuous Bernoulli
# (Loaiza-Ganem & Cunningham, 2019), with
#
# 4. `cb_log_norm(logits)`: the log of its normalising constant, stable for every logit;
# 5. `cb_negative_elbo(vae, x, eps=None)`: the $-$ELBO of grey-level images under it;
#
# and a short comparison with the binarized model of Part 4.
#
# **How to check.** Every function is followed by a self-check cell. It runs your function on fixed
# inputs and compares it with a reference; it prints one line per check, a ✓ or a ✗ with what
# differed and a hint. Re-run your function's cell after each change, then the check cell. The cells
# that *use* your functions begin with `if unit04.ready(...)`: until those functions pass their
# checks, such a cell prints one line saying which to finish first, and does nothing else; the
# figures of a trained model wait for its training cell to have run.
#
# **Time.** About 75 minutes (Parts 1–4: 45, Part 5: 30), plus about three minutes of training on a
# laptop CPU.
#
# The networks are given (`utils.vae.VAE`, the lecture's model): `vae.encoder(x)` returns
# `(z_loc, z_scale)` of shape `(N, z_dim)`, and `vae.decoder(z)` returns pixel **logits** of shape
# `(N, 784)`.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %% [markdown]
# The tools: PyTorch, the self-checks of this exercise, the course's data and plotting helpers, and
# the lecture's VAE networks, evaluation and training loop from `utils.vae`.

# %%
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch.distributions import ContinuousBernoulli
from torch.nn import functional as F

from utils.checks import unit04
from utils.data import binarize, fixed_binarization, load_mnist, minibatches
from utils.plots import LiveFigure, image_grid, latent_scatter, progress, training_curves
from utils.tables import table
from utils.vae import VAE, evaluate, train_vae

EPOCHS = 1 if SMOKE else 10

# %% [markdown]
# MNIST as in-memory tensors (at most 1,000 images per split in smoke mode).

# %%
data = load_mnist(subset=1000 if SMOKE else None).to(device)
data


# %% [markdown]
# ## 1 · The reparameterized sample, from the log-variance
#
# The lecture's encoder returns the standard deviation $\sigma$ (it outputs $\log\sigma$ and
# exponentiates). Many VAE codes let the encoder output the **log-variance** $\ell = \log\sigma^2$
# instead, unconstrained as well (Kingma & Welling, 2014, *Auto-Encoding Variational Bayes*, appendix C,
# write their Gaussian encoder so). Your two first functions take that parameterisation:
# `z_log_var` is $\ell$, so $\sigma = e^{\ell/2}$, and $\ell$ may be negative.
#
# Write $z = \mu + \sigma\odot\varepsilon$ with $\sigma = \exp(\ell/2)$. When `eps` is given, use it
# (the checks pass fixed noise); when it is `None`, draw $\varepsilon\sim\mathcal N(0, I)$ of the same
# shape as `z_loc`. Use torch operations only, so that gradients reach `z_loc` and `z_log_var`; the
# check also asks for $\partial z/\partial\ell = \sigma\varepsilon/2$.

# %%
def reparameterize(z_loc, z_log_var, eps=None):
    """A sample z = z_loc + σ ⊙ eps of N(z_loc, diag σ²), σ = exp(z_log_var / 2), with gradients."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit04.check_reparameterize(reparameterize)


# %% [markdown]
# ## 2 · The KL term in closed form
#
# $$
# \mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big)
# = \frac12 \sum_{j=1}^{d} \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big),
# $$
#
# where $d$ is the latent size (`z_dim`) and $\sigma_j$ a standard deviation. Rewrite it in the
# log-variance $\ell_j = \log\sigma_j^2$ (what are $\sigma_j^2$ and $\log\sigma_j^2$ in $\ell_j$?) and
# compute it from `z_log_var` directly, with no $\log$ and no square root. Return one value per image:
# shape `(N,)` for inputs of shape `(N, z_dim)`. The check also compares your gradient in $\ell$ with
# $\partial\,\mathrm{KL}/\partial\ell_j = (e^{\ell_j} - 1)/2$: zero where $\sigma_j = 1$, as the prior.

# %%
def gaussian_kl(z_loc, z_log_var):
    """KL(N(z_loc, diag exp(z_log_var)) ‖ N(0, I)) per image, summed over the latent dimension: (N,)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit04.check_gaussian_kl(gaussian_kl)


# %% [markdown]
# ## 3 · The negative ELBO
#
# With one sample $z = \mu_\phi(x) + \sigma_\phi(x)\odot\varepsilon$,
#
# $$
# -\mathrm{ELBO}(x) = -\log p_\theta(x\mid z) + \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big),
# \qquad
# \log p_\theta(x\mid z) = \sum_{i=1}^{784} \big[x_i f_i - \log(1 + e^{f_i})\big],
# $$
#
# where $f = f_\theta(z)$ are the decoder's logits. `F.binary_cross_entropy_with_logits(logits, x,
# reduction="none")` computes $-[x_i f_i - \log(1+e^{f_i})]$ per pixel, from the logits: exact even
# where the decoder is sure of a pixel (BCE on `sigmoid(logits)` is not: the sigmoid rounds to 1, and the
# check tries logits of ±40). Return one value per image (shape `(N,)`), in nats: sum over pixels, do not
# average over the batch. Use your two functions above: the encoder gives $\sigma$ (`z_scale`), they
# take $\ell = 2\log\sigma$.
# (The check runs your `negative_elbo` with the reference `reparameterize` and `gaussian_kl` in place of
# yours, so that a mistake in those shows in their own checks only.)

# %%
def negative_elbo(vae, x, eps=None):
    """−ELBO per image in nats, shape (N,), with one reparameterized sample of the guide."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit04.check_negative_elbo(negative_elbo)

# %% [markdown]
# The last check trains a small VAE for a few Adam steps with your loss on real digits. The optimizer
# *minimises* what you return, so the reference $-$ELBO must go down.

# %% tags=["raises-exception"]
unit04.check_training_lowers_loss(negative_elbo, data.train_x[:2000])

# %% [markdown]
# ## 4 · Train a 2-D VAE with your loss
#
# `train_vae` is the lecture's training loop (Adam, one-cycle learning rate, dynamically binarized
# minibatches of 128). `loss_fn=negative_elbo` makes it minimise *your* loss; the validation curve
# is scored with the reference loss (`utils.vae.evaluate`) on validation images binarized once, as in
# the lecture (seed 1). The live figure shows those images' latent means after every epoch. The test
# set is binarized once too (seed 0) and scored the same way.

# %% mystnb={"image": {"alt": "Left, the latent means of 2,000 validation digits coloured by digit class; right, the training and validation negative ELBO in nats per image against the epoch."}}
torch.manual_seed(0)
vae = VAE(z_dim=2).to(device)
x_val = fixed_binarization(data.val_x, seed=1)
history = None                      # set when training has run


def redraw(epoch, history):
    left, right = live.clear()
    with torch.no_grad():
        z_loc, _ = vae.encoder(x_val[:2000])
    latent_scatter(z_loc, data.val_y[:2000], ax=left, title="validation images: z_loc")
    training_curves(history, ax=right, title=f"epoch {epoch + 1}")
    live.update()


if unit04.ready(reparameterize, gaussian_kl, negative_elbo):
    live = LiveFigure(ncols=2, figsize=(12, 4.5))
    history = train_vae(vae, data.train_x, x_val, epochs=EPOCHS, loss_fn=negative_elbo, callback=redraw)
    live.close()
    test = evaluate(vae, fixed_binarization(data.test_x, seed=0))
    print(f"{EPOCHS} epochs: test −ELBO {test:.2f} nats per image")


# %% [markdown]
# What has the model learnt? Decode codes drawn from the prior, and reconstruct test digits.

# %% mystnb={"image": {"alt": "Left, 30 digits decoded from codes drawn from the prior; right, ten test digits above their reconstructions from the latent means."}}
def show_samples_and_reconstructions():
    with torch.no_grad():
        samples = torch.sigmoid(vae.decoder(torch.randn(30, 2, device=device)))
        z_loc, _ = vae.encoder(binarize(data.test_x[:10]))
        reconstructions = torch.sigmoid(vae.decoder(z_loc))
    fig, axes = plt.subplots(1, 2, figsize=(12, 3))
    image_grid(samples, nrow=10, ax=axes[0], title="decoded z ~ N(0, I)")
    image_grid(torch.cat([data.test_x[:10], reconstructions]), nrow=10, ax=axes[1],
               title="test digits (top), reconstructions (bottom)")
    plt.show()


if history is None:
    print("⏭ skipped: first train the model (the cell above), then re-run this cell")
else:
    show_samples_and_reconstructions()


# %% [markdown]
# ## 5 · A decoder for grey levels: the continuous Bernoulli
#
# MNIST pixels are grey levels in $[0, 1]$. Parts 1–4 binarized them so that the Bernoulli decoder
# models them. A common shortcut skips that step and minimises the binary cross-entropy on the grey
# levels directly; but $\lambda^x(1-\lambda)^{1-x}$ is not a density on $[0, 1]$: its integral over $x$
# is $1/C(\lambda)$, not 1, so that loss is no log-likelihood. The **continuous Bernoulli** (Loaiza-Ganem
# & Cunningham, 2019) puts the missing constant back:
#
# $$
# p(x \mid \lambda) = C(\lambda)\,\lambda^{x}(1-\lambda)^{1-x},\qquad
# C(\lambda) = \frac{2\,\operatorname{artanh}(1 - 2\lambda)}{1 - 2\lambda}\ \ (\lambda \ne \tfrac12),\qquad C(\tfrac12) = 2 .
# $$
#
# With the decoder's logit $f$ and $\lambda = \operatorname{sigmoid}(f)$, one pixel contributes
# $\log p(x\mid z) = x f - \log(1 + e^{f}) + \log C$: the Bernoulli term of Part 3, plus $\log C$.
#
# **5a · `cb_log_norm(logits)`: $\log C$ for every logit.** Two traps wait in the formula above:
#
# - at $f = 0$ it is $0/0$. Its limit is $\log 2$; near 0, use $\log 2 + f^2/12$ (the start of its Taylor
#   series). `torch.where` evaluates both branches, and a NaN in the branch it does not pick still makes
#   the *gradient* NaN: give the formula a safe value (say 1) where $|f|$ is small;
# - for large $|f|$, $\lambda$ rounds to exactly 0 or 1 in float32 and $\operatorname{artanh}(\pm1)$ is
#   infinite, though $C$ is finite. Write $C$ in $f$ instead: show that $1 - 2\lambda = -\tanh(f/2)$, and
#   what $\operatorname{artanh}(1 - 2\lambda)$ becomes.
#
# The check compares your values with its own on logits from $-30$ to $30$ (0 and tiny ones included),
# looks at the $f^2/12$ term on float64 logits near 0 (in float32 it is below rounding), and asks for a
# finite gradient.

# %%
def cb_log_norm(logits):
    """log C(λ) of the continuous Bernoulli with λ = sigmoid(logits), elementwise, finite everywhere."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% tags=["raises-exception"]
unit04.check_cb_log_norm(cb_log_norm)


# %% [markdown]
# **5b · `cb_negative_elbo(vae, x, eps=None)`.** The $-$ELBO of grey-level images `x` (not binarized):
# as `negative_elbo`, with each pixel's $\log p(x_i\mid z)$ now $x_i f_i - \log(1 + e^{f_i}) + \log C(f_i)$.
# Use your `reparameterize`, `gaussian_kl` (with $\ell = 2\log\sigma$) and `cb_log_norm`; return shape
# `(N,)`, in nats.

# %%
def cb_negative_elbo(vae, x, eps=None):
    """−ELBO per image in nats, shape (N,), of grey levels x in [0, 1] under a continuous Bernoulli."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check compares your loss with the course's reference, `unit04.reference_cb_negative_elbo`, on fixed
# weights, grey images and noise (with the reference versions of your three other functions in place of
# yours). That reference computes $\log C = \log\big(f/\tanh(f/2)\big)$ exactly for every logit; torch's
# `ContinuousBernoulli` agrees with it only where $|f|$ is moderate (it clamps $\lambda$ away from 0
# and 1), so the check also tries a decoder with logits of $\pm 40$.

# %% tags=["raises-exception"]
unit04.check_cb_negative_elbo(cb_negative_elbo)

# %% [markdown]
# **5c · Train it, and compare.** `train_vae` binarizes every minibatch, so the grey-level model gets a
# plain loop of its own: Adam, minibatches of 128, the grey levels kept inside $[\varepsilon, 1 - \varepsilon]$.
# Why not as they are: most MNIST pixels are exactly 0, and at $x = 0$ the density
# $\exp(-\log(1 + e^{f}) + \log C(f))$ grows without bound as $f \to -\infty$ ($\log C \approx \log|f|$),
# so on raw MNIST the $-$ELBO is unbounded below and its value mostly says how far the logits have
# drifted. Inside $[\varepsilon, 1 - \varepsilon]$ every pixel's log-density is bounded above, and the
# $-$ELBO below (exercise 05, Part 5, computes that bound).

# %%
EPOCHS_CB = 1 if SMOKE else 5
EPS = 0.01                          # grey levels kept inside [EPS, 1 − EPS]: about 2.5 grey levels of 255
torch.manual_seed(0)                # first: the model's initial weights, then the training noise
cb_vae = VAE(z_dim=2).to(device)
cb_curve = None                     # set when training has run


def train_grey(model, x_train, epochs, lr=1e-3, seed=0):
    opt, gen, curve = torch.optim.Adam(model.parameters(), lr=lr), torch.Generator().manual_seed(seed), []
    for _ in progress(range(epochs), desc="epochs (grey levels)"):
        total = 0.0
        for (xb,) in minibatches(x_train, batch_size=128, generator=gen):
            loss = cb_negative_elbo(model, xb.clamp(EPS, 1 - EPS)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        curve.append(total / len(x_train))
    return curve


if unit04.ready(reparameterize, gaussian_kl, cb_log_norm, cb_negative_elbo):
    cb_curve = train_grey(cb_vae, data.train_x, EPOCHS_CB)


# %% [markdown]
# Each model's test $-$ELBO, in nats per image, under its own likelihood. The two numbers measure
# different things: the Bernoulli one is a *probability* of binary images, so it is at least 0; the
# continuous Bernoulli one is a *density* of grey levels, which can exceed 1, so its $-$ELBO can be
# negative. A density and a probability are not on one scale: neither number says which model is better.

# %%
@torch.no_grad()
def cb_test_nelbo(model, x, batch_size=1000):
    torch.manual_seed(0)
    return sum(cb_negative_elbo(model, x[i:i + batch_size]).sum().item()
               for i in range(0, len(x), batch_size)) / len(x)


if history is None or cb_curve is None:
    print("⏭ skipped: first train both models (Part 4 and the cell above), then re-run this cell")
else:
    display(table(["model (2-D latent)", "test data", "likelihood", "test −ELBO (nats per image)"],
                  [[f"Part 4, {EPOCHS} epochs", "binarized once (seed 0)", "Bernoulli (probability)", test],
                   [f"Part 5, {EPOCHS_CB} epochs", f"grey levels in [{EPS}, {1 - EPS}]",
                    "continuous Bernoulli (density)", cb_test_nelbo(cb_vae, data.test_x.clamp(EPS, 1 - EPS))]]))


# %% [markdown]
# What the grey-level model draws. Its parameter $\lambda = \operatorname{sigmoid}(f)$ is **not** the mean
# of the continuous Bernoulli (Loaiza-Ganem & Cunningham's point): the mean,
# `ContinuousBernoulli(logits=f).mean`, is pulled towards ½. Decoded from the same prior draws:

# %% mystnb={"image": {"alt": "Three rows of ten digits decoded from the same prior draws; the Bernoulli model's pixel probabilities, the continuous-Bernoulli model's parameter lambda, and its mean, which is greyer."}}
def show_decoders(n=10):
    z = torch.randn(n, 2, device=device)
    with torch.no_grad():
        rows = {"Part 4 (Bernoulli): sigmoid(f)": torch.sigmoid(vae.decoder(z)),
                "Part 5 (continuous Bernoulli): λ = sigmoid(f)": torch.sigmoid(cb_vae.decoder(z)),
                "Part 5: mean of ContinuousBernoulli(logits=f)": ContinuousBernoulli(logits=cb_vae.decoder(z)).mean}
    fig, axes = plt.subplots(3, 1, figsize=(10, 4.6))
    for ax, (title, images) in zip(axes, rows.items()):
        image_grid(images, nrow=n, ax=ax, title=title)
    fig.tight_layout()
    plt.show()


if history is None or cb_curve is None:
    print("⏭ skipped: first train both models (Part 4 and Part 5c), then re-run this cell")
else:
    show_decoders()

# %% [markdown]
# Which of the three rows would you show as "samples" of the grey-level model, and why? What would
# sampling pixels from the continuous Bernoulli itself look like?

# %% [markdown]
# ## 6 · Going further (optional)
#
# - Train with `z_dim=20` (`VAE(z_dim=20)`) and compare the test $-$ELBO with the 2-D model.
# - Weight the KL term by $\beta$ (`beta * gaussian_kl(...)`) in a copy of your loss, train with
#   $\beta = 4$, and look at the latent means and the reconstructions: what does a stronger pull
#   towards the prior buy, and what does it cost? (Higgins et al., 2017, *β-VAE*.)
# - Replace your closed-form KL by a one-sample Monte Carlo estimate $\log q(z) - \log p(z)$: does
#   training still work, and is the test $-$ELBO worse?
