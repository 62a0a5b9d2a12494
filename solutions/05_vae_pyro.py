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
# # Exercise 05 · The VAE in Pyro: write the model and the guide
#
# **What you implement.** Two methods of a small `nn.Module` that holds unit 04's encoder and decoder:
#
# 1. `model(self, x)`: the generative model $p(z)\,p_\theta(x\mid z)$ with $p(z) = \mathcal N(0, I)$
#    and $p_\theta(x \mid z) = \mathrm{Bernoulli}(\text{logits} = f_\theta(z))$ over the 784 pixels;
# 2. `guide(self, x)`: the amortized posterior $q_\phi(z\mid x) = \mathcal N(\mu_\phi(x), \operatorname{diag}\sigma^2_\phi(x))$.
#
# Unlike the lecture's, your two programs take a batch of images in **either shape**: flat, `(N, 784)`,
# as the training loop gives them, or as images, `(N, 28, 28)`, as image tensors often come. Each is
# about six lines: `pyro.module`, `pyro.plate`, `pyro.sample`, `.to_event(...)`, one `reshape`. You then
# train your VAE with `SVI` (Part 4, nothing to write) and sample from it.
#
# 5. **Not in the lecture:** a model for *grey-level* images, `model_cb(self, x)`, whose pixels follow
#    a **continuous Bernoulli** (Loaiza-Ganem & Cunningham, 2019) with an exact normaliser (given), and
#    `cb_mean(logits)`, that distribution's mean, which is not the sigmoid of the logits. You train it
#    and compare the two as reconstructions.
#
# **How to check.** Each method has a self-check cell below it. It runs your program under
# `pyro.poutine.trace` and checks the recorded sites: names, which one is observed, the plate, batch
# and event shapes, the distributions, and the registered parameters. A third self-check compares the
# loss that Pyro derives from your model and guide, and its gradient, with the reference on a fixed batch
# and the same noise; the checks also run your programs on the same images shaped `(N, 28, 28)`. Every
# check prints one line: ✓ when it passes, ✗ with what differed and a hint.
# The cells that *use* your methods begin with `if unit05.ready(...)`: until those pass their checks,
# such a cell prints one line saying which to finish first, and does nothing else.
#
# **Time.** About 30–45 minutes for Parts 1–4 (lecture 05, sections 1–3, has all but the reshaping),
# 30 more for Part 5, plus about two minutes of training on a laptop CPU.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %%
import math

import matplotlib.pyplot as plt
import pyro
import pyro.distributions as dist
import torch
from IPython.display import display
from pyro import poutine
from pyro.infer import SVI, TraceMeanField_ELBO
from torch import nn
from torch.nn import functional as F

from utils.checks import SelfCheck, unit05
from utils.data import binarize, fixed_binarization, load_mnist, minibatches
from utils.plots import LiveFigure, image_grid, training_curves
from utils.plots import progress
from utils.pyro_vae import OneCycleAdam, train_svi
from utils.tables import table
from utils.vae import Decoder, Encoder, evaluate

pyro.enable_validation(True)  # keep it on: it catches wrong shapes and non-binary data
data = load_mnist(subset=2000 if SMOKE else None).to(device)
data

# %% [markdown]
# ## The networks (given)
#
# `Encoder(z_dim)` maps images `(N, 784)` to `(z_loc, z_scale)`, each `(N, z_dim)`, with
# `z_scale > 0`. `Decoder(z_dim)` maps codes `(N, z_dim)` to pixel **logits** `(N, 784)`. Both are
# unit 04's networks; like the data, they live on `device`.

# %%
x = binarize(data.train_x[:8])
encoder, decoder = Encoder(2).to(device), Decoder(2).to(device)
z_loc, z_scale = encoder(x)
print("z_loc", tuple(z_loc.shape), "z_scale", tuple(z_scale.shape), "logits", tuple(decoder(z_loc).shape))


# %% [markdown]
# ## 1 · The model
#
# Write `model(self, x)` for a batch `x` of binarized images, shape `(N, 784)` or `(N, 28, 28)`:
#
# - register the decoder's parameters: `pyro.module("decoder", self.decoder)`;
# - inside `with pyro.plate("data", N):` draw the code from the prior, a sample site named `"z"`
#   with `dist.Normal(loc, scale)` where `loc` is zeros and `scale` ones of shape `(N, z_dim)`;
# - then observe the images, a sample site named `"x"` with `dist.Bernoulli(logits=...)` and `obs=x`.
#   The decoder gives logits of shape `(N, 784)`: give them the shape of `x`;
# - make each image's 2 latent coordinates *one event* with `.to_event(1)`, and each image *one event*
#   whatever its shape: how many dimensions of `x` are the image's, and how many the batch's?
#   (`x.dim()` is the number of dimensions of `x`.) The plate keeps the batch dimension.
#
# ## 2 · The guide
#
# Write `guide(self, x)`:
#
# - register the encoder's parameters: `pyro.module("encoder", self.encoder)`;
# - inside the same plate, compute `z_loc, z_scale` with `self.encoder`, which takes flat images
#   `(N, 784)` only, and sample `"z"` from `dist.Normal(z_loc, z_scale)`, again with `.to_event(1)`.
#   The guide has no `"x"` site.

# %%
class PyroVAE(nn.Module):
    """Unit 04's encoder and decoder, with a Pyro model p(x, z) and guide q(z | x)."""

    def __init__(self, z_dim: int = 2):
        super().__init__()
        self.z_dim = z_dim
        self.encoder, self.decoder = Encoder(z_dim), Decoder(z_dim)

    def model(self, x):
        """p(z) = N(0, I); p(x | z) = Bernoulli(logits = decoder(z)), x: (N, 784) or (N, 28, 28)."""
        # BEGIN SOLUTION
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0]):
            z_loc = x.new_zeros(x.shape[0], self.z_dim)
            z_scale = x.new_ones(x.shape[0], self.z_dim)
            z = pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))
            logits = self.decoder(z).reshape(x.shape)                  # (N, 784) or (N, 28, 28)
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(x.dim() - 1), obs=x)
        # END SOLUTION

    def guide(self, x):
        """q(z | x) = N(z_loc(x), diag z_scale(x)^2); one site 'z'. x: (N, 784) or (N, 28, 28)."""
        # BEGIN SOLUTION
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0]):
            z_loc, z_scale = self.encoder(x.reshape(x.shape[0], -1))   # the encoder takes (N, 784)
            pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))
        # END SOLUTION


# %% [markdown]
# Look at what Pyro records when it runs your model (with the guide's `z` replayed into it, as the
# ELBO does), on a fixed batch of test images shaped as images. You should see the plate's batch
# dimension left of the `|` and the event dimensions right of it:

# %%
torch.manual_seed(0)
vae = PyroVAE(z_dim=2).to(device)
x_check = fixed_binarization(data.test_x[:16], seed=0)  # a fixed batch for the checks
if unit05.ready(vae.model, vae.guide):
    x_images = x_check.reshape(-1, 28, 28)
    guide_trace = poutine.trace(vae.guide).get_trace(x_images)
    model_trace = poutine.trace(poutine.replay(vae.model, trace=guide_trace)).get_trace(x_images)
    print(model_trace.format_shapes())

# %% [markdown]
# Self-check of the model:

# %% tags=["depends-on-solution", "nbval-check-output"]
unit05.check_model(vae, x_check)

# %% [markdown]
# Self-check of the guide:

# %% tags=["depends-on-solution", "nbval-check-output"]
unit05.check_guide(vae, x_check)

# %% [markdown]
# ## 3 · The loss Pyro derives from your programs
#
# `TraceMeanField_ELBO` runs your guide, replays its `z` in your model and returns
# $-\sum_i\big[\log p_\theta(x_i\mid z_i) - \mathrm{KL}\big(q_\phi(z\mid x_i)\,\|\,p(z)\big)\big]$, nats per batch.
# With the same noise, this is unit 04's `negative_elbo` summed over the batch. `Trace_ELBO` instead
# samples the KL part. The check compares both losses, and the gradient, with the reference:

# %% tags=["depends-on-solution", "nbval-check-output"]
unit05.check_elbo(vae, x_check)

# %% [markdown]
# ## 4 · Train it with SVI
#
# Nothing more to write. The course's `train_svi` (from `utils.pyro_vae`; lecture 05, section 4,
# writes it out) runs `SVI` with `TraceMeanField_ELBO` and `OneCycleAdam` (one fused Adam over all
# the parameters under unit 04's one-cycle schedule) on your model and guide, in the course's training
# loop: freshly binarized minibatches, and after every epoch the validation set (binarized once) scored
# with `evaluate`. `svi.step` returns the loss
# summed over the batch; `train_svi` divides by the number of images, so the curves are in nats per
# image. The test set is binarized once too, with its own seed.

# %% mystnb={"image": {"alt": "Training and validation negative ELBO of the student's Pyro VAE, in nats per image, falling over the epochs."}}
EPOCHS = 1 if SMOKE else 5


def redraw(epoch, history):
    live.clear()
    training_curves(history, ax=live.axes[0], title=f"your Pyro VAE, epoch {epoch + 1}")
    live.update()


if unit05.ready(vae.model, vae.guide):
    live = LiveFigure(ncols=1, figsize=(5.5, 3.5))
    history = train_svi(vae, data.train_x, fixed_binarization(data.val_x, seed=1), EPOCHS, callback=redraw)
    live.close()
    test = evaluate(vae, fixed_binarization(data.test_x, seed=0))
    print(f"test -ELBO after {EPOCHS} epochs: {test:.1f} nats per image")

# %% [markdown]
# Samples from your model: `poutine.uncondition` turns the observed site `x` into a sampled one, so
# running the model draws $z \sim p(z)$ and then the pixels. The top row shows the Bernoulli means,
# the bottom row the binary samples.

# %% mystnb={"image": {"alt": "Twelve digits sampled from the trained model: the Bernoulli pixel probabilities above, binary samples below."}}
if unit05.ready(vae.model, vae.guide):
    with torch.no_grad():
        prior_trace = poutine.trace(poutine.uncondition(vae.model)).get_trace(torch.zeros(12, 784, device=device))
    fig, axes = plt.subplots(2, 1, figsize=(8, 1.8))
    image_grid(prior_trace.nodes["x"]["fn"].base_dist.probs, nrow=12, ax=axes[0], title="pixel probabilities")
    image_grid(prior_trace.nodes["x"]["value"], nrow=12, ax=axes[1], title="Bernoulli samples")
    plt.show()


# %% [markdown]
# ## 5 · Grey levels: a continuous Bernoulli likelihood (not in the lecture)
#
# Parts 1–4 binarize MNIST, because a Bernoulli is a distribution over $\{0, 1\}$. The images are
# grey levels in $[0, 1]$, though, and the common shortcut of a Bernoulli (binary cross-entropy) on
# grey levels is not a likelihood at all: its "density" does not integrate to one over $[0, 1]$. The
# **continuous Bernoulli** (Loaiza-Ganem & Cunningham, 2019, *The continuous Bernoulli: fixing a
# pervasive error in variational autoencoders*, NeurIPS) is the normalized version. With
# $\lambda = \sigma(\eta)$ for a logit $\eta$, on $x \in [0, 1]$:
#
# $$
# p(x \mid \eta) = C(\eta)\, \lambda^x (1 - \lambda)^{1 - x},
# \qquad \log p(x\mid\eta) = x\,\eta - \operatorname{softplus}(\eta) + \log C(\eta),
# \qquad C(\eta) = \frac{\eta}{\tanh(\eta/2)}\ \ (C(0) = 2).
# $$
#
# **Torch's normaliser is not exact.** Pyro's `dist.ContinuousBernoulli` is torch's, and torch computes
# $\log C$ from $\lambda$ clamped away from 0 and 1 by the float type's resolution: where $|\eta|$ is
# large, $\lambda$ is clamped, and $\log C$ (and the mean) come out wrong. Decoders go there: a pixel the
# decoder is sure about has a large $|\eta|$. So here is the distribution with $\log C$ computed in $\eta$,
# exactly for every logit (unit 04, Part 5a, derives it), as a subclass of Pyro's: only `log_prob`
# changes.

# %%
class ExactContinuousBernoulli(dist.ContinuousBernoulli):
    """Pyro's ContinuousBernoulli with log C(η) = log(η / tanh(η/2)) exact for every logit η."""

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        eta, value = torch.broadcast_tensors(self.logits, value)
        small = eta.abs() < 1e-2                                        # 0/0 at η = 0: Taylor there
        safe = torch.where(small, torch.ones_like(eta), eta)
        log_norm = torch.where(small, math.log(2.0) + eta**2 / 12, torch.log(safe / torch.tanh(safe / 2)))
        return value * eta - F.softplus(eta) + log_norm


# %% [markdown]
# Two checks, on the CPU in float64 (`unit05.cb_log_norm` is the course's float64 reference). First,
# each density integrates to one over $[0, 1]$ (Simpson's rule on 20,001 points) for logits up to
# $\pm 40$, with our normaliser; torch's, in float32, does not at large $|\eta|$. Second, how far torch's
# `log_prob` normaliser and `.mean` are from the exact values, in float32 and in float64: the table
# prints the largest error over $\pm\eta$.

# %%
def simpson(values, h):                       # ∫ over [0, 1] on an odd number of points, spacing h
    return h / 3 * (values[..., 0] + values[..., -1] + 4 * values[..., 1:-1:2].sum(-1)
                    + 2 * values[..., 2:-1:2].sum(-1))


def torch_errors(eta, dtype):                 # max over ±η of |torch − exact|: log C and mean
    e = torch.tensor([eta, -eta], dtype=dtype)
    half = torch.full_like(e, 0.5)
    log_c = dist.ContinuousBernoulli(logits=e).log_prob(half) - 0.5 * e + F.softplus(e)
    exact = unit05.cb_log_norm(e)
    return ((log_c.double() - exact).abs().max().item(),
            (dist.ContinuousBernoulli(logits=e).mean.double() - unit05.cb_mean(e.double())).abs().max().item())


grid = torch.linspace(0, 1, 20_001, dtype=torch.float64)
etas = torch.tensor([-40.0, -20.0, -3.0, 1e-3, 5.0, 25.0, 40.0], dtype=torch.float64)[:, None]
ours = simpson(ExactContinuousBernoulli(logits=etas, validate_args=False).log_prob(grid).exp(), grid[1].item())
theirs = simpson(dist.ContinuousBernoulli(logits=etas.float()).log_prob(grid.float()).double().exp(),
                 grid[1].item())
errors = {(eta, dtype): torch_errors(eta, dtype) for eta in (10.0, 15.0, 20.0, 30.0, 35.0)
          for dtype in (torch.float32, torch.float64)}

# %% [markdown]
# The checks of both claims, and the errors:

# %% tags=["nbval-check-output"]
with SelfCheck("continuous Bernoulli normaliser") as sc:
    sc.close("∫ p(x | η) dx = 1 with the exact log C, |η| ≤ 40", ours, torch.ones_like(ours), atol=1e-9)
    sc.true("torch's float32 density does not integrate to 1 at |η| = 40",
            bool((theirs[[0, -1]] - 1).abs().min() > 0.1), "it does")
    sc.true("torch float32: log C and mean within 1e-4 at |η| = 10, off by more at 15",
            max(errors[10.0, torch.float32]) < 1e-4 < min(errors[15.0, torch.float32]), "not so")
    sc.true("torch float64: within 1e-4 up to |η| = 30, not at 35",
            max(errors[30.0, torch.float64]) < 1e-4 < max(errors[35.0, torch.float64]), "not so")
display(table(["|η|", "float32: log C error", "float32: mean error", "float64: log C error",
               "float64: mean error"],
              [[f"{eta:g}", *(f"{e:.1e}" for e in errors[eta, torch.float32] + errors[eta, torch.float64])]
               for eta in (10.0, 15.0, 20.0, 30.0, 35.0)]))

# %% [markdown]
# **The data: grey levels kept inside $[\varepsilon, 1 - \varepsilon]$.** A continuous Bernoulli's density at
# $x = 0$ grows without bound as $\eta \to -\infty$ ($\log p(0\mid\eta) \approx \log|\eta|$), and most
# MNIST pixels are exactly 0: on raw MNIST the $-$ELBO is unbounded below, and its value would mostly
# measure how far the logits have drifted. Clamping the pixels into $[\varepsilon, 1 - \varepsilon]$
# makes every pixel's $\log p(x\mid\eta)$ bounded above over all $\eta$, so the $-$ELBO is bounded below.
# The cell computes that bound (on a float64 grid of $x$ and $\eta$, on the CPU): no model of these
# data can score below it.

# %% tags=["nbval-check-output"]
EPS = 0.01                                   # about 2.5 grey levels of 255
eta_grid = torch.linspace(-2000, 2000, 40_001, dtype=torch.float64)
x_grid = torch.linspace(EPS, 0.5, 50, dtype=torch.float64)[:, None]   # symmetric about ½
log_p = x_grid * eta_grid - F.softplus(eta_grid) + unit05.cb_log_norm(eta_grid)
best = log_p.max(-1).values                  # sup over η, per x
with SelfCheck("a bounded −ELBO") as sc:
    sc.true("the sup over η is largest at x = ε", bool(best.argmax() == 0), "it is not")
    sc.true("and lies inside the grid of η", bool(log_p[0].argmax() not in (0, len(eta_grid) - 1)),
            "widen the grid")
print(f"ε = {EPS}: log p(x | η) ≤ {best.max():.3f} nats per pixel, so −ELBO ≥ "
      f"{-784 * best.max():,.1f} nats per image")


# %% [markdown]
# Pyro has the distribution's structure; you have its exact `log_prob`. Write `model_cb(self, x)`: the
# model of Part 1 (flat images are enough here) with `ExactContinuousBernoulli(logits=...)` for the site
# `"x"`, observing the grey levels themselves (no binarization). The guide stays the same. It is a
# method of a subclass, so your `guide` comes with it:

# %%
class GreyPyroVAE(PyroVAE):
    """Your PyroVAE with a second model, for grey-level images in [0, 1]."""

    def model_cb(self, x):
        """p(z) = N(0, I); p(x | z) = ExactContinuousBernoulli(logits = decoder(z)); sites 'z', 'x'."""
        # BEGIN SOLUTION
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0]):
            z_loc = x.new_zeros(x.shape[0], self.z_dim)
            z_scale = x.new_ones(x.shape[0], self.z_dim)
            z = pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))
            pyro.sample("x", ExactContinuousBernoulli(logits=self.decoder(z)).to_event(1), obs=x)
        # END SOLUTION


torch.manual_seed(0)
vae_cb = GreyPyroVAE(z_dim=2).to(device)

# %% [markdown]
# The check traces your model on fixed grey-level images and compares the loss Pyro derives from it
# (with the course's guide replayed) with $\sum_n \big[\mathrm{KL}_n - \log p(x_n \mid z_n)\big]$
# computed by hand on the same noise, with the exact $\log C$ in float64; then again with a decoder
# that is sure of every pixel (logits $\pm 40$), where torch's normaliser is off:

# %% tags=["depends-on-solution", "nbval-check-output"]
unit05.check_model_cb(vae_cb)


# %% [markdown]
# **The mean is not λ.** With a Bernoulli, $\lambda = \sigma(\eta)$ is the mean, and it is what one
# shows as a reconstruction. The continuous Bernoulli's mean is
#
# $$
# \mathbb E[x] = \frac{1}{1 - e^{-\eta}} - \frac1\eta \quad (\eta \neq 0), \qquad \mathbb E[x] = \tfrac12 \text{ at } \eta = 0 ,
# $$
#
# which lies between ½ and λ: a pixel the decoder is sure about is less extreme on average than λ
# says. Write `cb_mean(logits)`, elementwise, in torch. Near $\eta = 0$ both terms are huge and cancel
# (try $\eta = 10^{-6}$ in float32): there use the Taylor expansion $\tfrac12 + \eta/12$. Torch's own
# `ContinuousBernoulli(...).mean` clamps λ as its normaliser does: in float32 it is off from about
# $|\eta| = 15$, in float64 from about 30 (the table above measures both), and decoders often are
# there (the reconstruction cell below prints what share of this model's test logits are): write the
# formula.

# %%
def cb_mean(logits):
    """E[x] of a continuous Bernoulli with the given logits η, elementwise; ½ at η = 0."""
    # BEGIN SOLUTION
    small = logits.abs() < 0.1
    safe = torch.where(small, torch.ones_like(logits), logits)      # no 0/0, even in the branch not taken
    return torch.where(small, 0.5 + logits / 12, 1 / (-torch.expm1(-safe)) - 1 / safe)
    # END SOLUTION


# %% tags=["depends-on-solution", "nbval-check-output"]
unit05.check_cb_mean(cb_mean)

# %% [markdown]
# Train it on the grey levels clamped into $[\varepsilon, 1 - \varepsilon]$, with the same optimizer and
# schedule as `train_svi` (which binarizes every batch, so here is its loop written out without that),
# and score the test set, clamped the same way:

# %%
EPOCHS_CB = 1                      # on all training images: about two minutes on a laptop CPU
test_grey = data.test_x.clamp(EPS, 1 - EPS)


def train_grey(vae, epochs, batch_size=128):
    """SVI on the clamped grey-level training images; returns the test −ELBO in nats per image."""
    pyro.clear_param_store()
    steps = epochs * -(-len(data.train_x) // batch_size)
    optimizer = OneCycleAdam(3e-3, steps)
    svi = SVI(vae.model_cb, vae.guide, optimizer, loss=TraceMeanField_ELBO())
    order = torch.Generator().manual_seed(0)
    for _ in progress(range(epochs), desc="continuous Bernoulli"):
        for (xb,) in minibatches(data.train_x, batch_size=batch_size, generator=order):
            svi.step(xb.clamp(EPS, 1 - EPS))
            optimizer.step()
    with torch.no_grad():
        return svi.evaluate_loss(test_grey) / len(test_grey)


if unit05.ready(vae_cb.model_cb, vae_cb.guide):
    test_cb = train_grey(vae_cb, EPOCHS_CB)
    print(f"continuous Bernoulli VAE, {EPOCHS_CB} epoch(s) on {len(data.train_x):,} grey-level images "
          f"clamped into [{EPS}, {1 - EPS}]: test −ELBO {test_cb:.1f} nats per image (bound: "
          f"{-784 * best.max():,.1f})")

# %% [markdown]
# This number is a bound on a *density* over $[\varepsilon, 1 - \varepsilon]^{784}$: it can be negative,
# it is bounded below by the value printed above, and it is not comparable with Part 4's nats, which
# bound a *probability* of binary images.
#
# Now the reconstructions of test images, decoded from the posterior mean: λ, and your `cb_mean`.
# The numbers say how far each is from the image, on average per pixel.

# %% mystnb={"image": {"alt": "Ten grey-level test digits, below them their reconstructions shown as lambda, then as the continuous-Bernoulli mean, each row titled with its mean absolute error."}}
if unit05.ready(vae_cb.model_cb, vae_cb.guide, cb_mean):
    with torch.no_grad():
        logits = vae_cb.decoder(vae_cb.encoder(test_grey)[0])
        shown = {"test images": test_grey, "λ = sigmoid(logits)": torch.sigmoid(logits),
                 "E[x] = cb_mean(logits)": cb_mean(logits)}
    fig, axes = plt.subplots(3, 1, figsize=(8, 3.6), layout="constrained")
    for ax, (title, images) in zip(axes, shown.items()):
        error = (images - test_grey).abs().mean().item()
        image_grid(images[:10], nrow=10, ax=ax, title=title + ("" if images is test_grey else
                                                                  f": mean |error| {error:.3f} per pixel"))
    plt.show()
    print(f"{(logits.abs() > 15).float().mean():.0%} of these test logits have |η| > 15, where torch's "
          f"float32 continuous Bernoulli is off")

# %% [markdown]
# Which is closer to the images, and where in the image do the two reconstructions differ most? What
# does that tell you about showing λ as "the reconstruction" of a continuous-Bernoulli VAE?

# %% [markdown] tags=["solution-only"]
# **Takeaway.** λ is not what the model predicts: the prediction is $\mathbb E[x]$, always between λ
# and ½, so it is greyer than λ. On MNIST, whose pixels are mostly exactly 0 or close to 1, the
# sharper λ can even be closer to the images by mean absolute error (compare the two errors in the
# figure's titles): a sign that the continuous Bernoulli, a smooth
# density on $[0, 1]$, fits such nearly binary images poorly, not that λ is the better prediction.
# Its $-$ELBO means something only with an exact normaliser and data kept away from 0 and 1.
#
# ## Going further (optional)
#
# - Delete `.to_event(1)` from the guide and run the guide's self-check: read Pyro's error message.
#   Which dimension does the plate claim, and what is there instead?
# - Replace `logits=...` by `probs=torch.sigmoid(...)`. The loss barely changes on this batch. Why is it
#   still worse practice? (Think of a decoder that is very sure a pixel is black.)
# - Train with `train_svi(..., elbo=Trace_ELBO())` instead of the default `TraceMeanField_ELBO()`
#   (import it from `pyro.infer`). Lecture 05, section 8, measured the encoder gradient's variance of
#   both on this VAE: which was noisier, at the initial and at the trained weights? Does the training
#   curve show a difference after a few epochs?
# - Train Part 5's model for 20 epochs and sample from it (`poutine.uncondition(vae_cb.model_cb)`):
#   are the samples' pixel values like MNIST's, where most pixels are exactly 0?
# - Train Part 5's model with `dist.ContinuousBernoulli` (torch's normaliser) instead, and score both
#   models with the exact one: how far apart are the two test $-$ELBOs?
