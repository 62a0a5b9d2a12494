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
# # Exercise 03 · Gradient estimators: REINFORCE, pathwise, baselines
#
# **What you implement.** Six short functions, each a few lines:
#
# 1. `reinforce_estimate(f, mu, sigma, eps)`: the score-function (REINFORCE) estimator of
#    $\nabla_{(\mu,\sigma)}\,\mathbb E_{\mathcal N(\mu,\sigma^2)}[f(z)]$ (Part 1);
# 2. `pathwise_estimate(f, mu, sigma, eps)`: the pathwise (reparameterized) estimator of the same gradient (Part 2);
# 3. `reinforce_loo_estimate(f, mu, sigma, eps)`: REINFORCE with a leave-one-out baseline (Part 3);
# 4. `reinforce_negative_elbo(vae, x, eps, baseline)`: a VAE loss whose value is $-$ELBO, KL term
#    included, and whose encoder gradient is the REINFORCE estimate with a baseline (Part 5);
# 5. `bernoulli_exact_gradient(f, logits)` and `bernoulli_reinforce(f, logits, u)`: for a latent of
#    independent **bits**, where the pathwise estimator cannot go, the exact gradient by enumerating
#    every value of $z$, and the REINFORCE estimate (Part 6: the lecture does not write this out).
#
# **How to check.** After each function, run the self-check cell below it. Each check prints one line
# per test: ✓ when it passes, ✗ with what differed, by how much, and a hint. The checks are statistical
# but seeded: your estimators must be *unbiased* (the mean of many estimates lies within 4 standard
# errors of the exact gradient) and have the *exact variance* (computed by numerical integration, as in
# the lecture); a final check asks that the variances come out in the right order. Cells that *use*
# your functions begin with `if unit03.ready(...)`: until those functions pass their checks, such a
# cell prints one line saying which to finish first, and does nothing else.
#
# **Time.** About 60–75 minutes. Lecture 03 (sections 2, 3, 7 and 10) has what you need for Parts 1–5;
# Part 6 asks you to derive one short formula yourself.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %%
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch.distributions import Normal
from torch.nn import functional as F

from utils.checks import unit03
from utils.data import binarize, load_mnist
from utils.tables import table
from utils.vae import VAE, gaussian_kl, negative_elbo

data = load_mnist(subset=1000 if SMOKE else None).to(device)
data

# %% [markdown]
# ## The setting
#
# $q = \mathcal N(\mu, \sigma^2)$ and a cost $f$. Every estimator receives noise `eps` of shape `(R, S)`:
# $R$ independent estimates ("repeats"), each averaging $S$ samples $z = \mu + \sigma\varepsilon$.
# It returns a tensor of shape `(R, 2)`: for each row, the estimate of
# $\big(\partial_\mu, \partial_\sigma\big)\,\mathbb E_q[f(z)]$. Two costs to play with (the checks use
# their own copies, with other values of $\mu$, $\sigma$, $k$, $\omega$):
#
# $$
# f_{\text{quad}}(z) = (z-k)^2,\quad \nabla = \big(2(\mu-k),\ 2\sigma\big);\qquad
# f_{\cos}(z) = \cos(\omega z),\quad \nabla = \big(-\omega\sin\omega\mu,\ -\omega^2\sigma\cos\omega\mu\big)\,e^{-\omega^2\sigma^2/2}.
# $$

# %%
mu, sigma, k, omega = 1.0, 1.0, 2.0, 3.0
quadratic = lambda z: (z - k) ** 2
cosine = lambda z: torch.cos(omega * z)
exact = {"quadratic": torch.tensor([2 * (mu - k), 2 * sigma]),
         "cosine": torch.tensor([-omega * math.sin(omega * mu), -omega**2 * sigma * math.cos(omega * mu)])
         * math.exp(-0.5 * (omega * sigma) ** 2)}
eps = torch.randn(10_000, 8, dtype=torch.float64)        # R = 10,000 estimates of S = 8 samples
print({name: [round(v, 4) for v in g.tolist()] for name, g in exact.items()})


# %% [markdown]
# ## 1 · REINFORCE
#
# $$
# \nabla_\phi\,\mathbb E_q[f(z)] = \mathbb E_q\big[f(z)\,\nabla_\phi\log q_\phi(z)\big],\qquad
# \nabla_{(\mu,\sigma)}\log q(z) = \Big(\frac{z-\mu}{\sigma^2},\ \frac{(z-\mu)^2-\sigma^2}{\sigma^3}\Big)
# = \Big(\frac{\varepsilon}{\sigma},\ \frac{\varepsilon^2-1}{\sigma}\Big).
# $$
#
# Write the score out (no autograd needed), multiply by $f(z)$, and average over the $S$ samples
# (the last dimension of `eps`).

# %%
def reinforce_estimate(f, mu, sigma, eps):
    """Score-function estimates of (d/dmu, d/dsigma) E_{N(mu, sigma^2)}[f]: eps (R, S) -> (R, 2)."""
    # BEGIN SOLUTION
    z = mu + sigma * eps
    score = torch.stack([eps / sigma, (eps**2 - 1) / sigma], dim=-1)   # (R, S, 2)
    return (f(z).unsqueeze(-1) * score).mean(dim=-2)
    # END SOLUTION


# %% tags=["depends-on-solution", "nbval-check-output"]
unit03.check_reinforce(reinforce_estimate)

# %% [markdown]
# Once it passes, your estimator on the quadratic cost of the setting, averaged over the repeats,
# next to the exact gradient:

# %%
if unit03.ready(reinforce_estimate):
    g = reinforce_estimate(quadratic, mu, sigma, eps)
    print("mean over repeats:", g.mean(0).tolist(), " exact:", exact["quadratic"].tolist())


# %% [markdown]
# ## 2 · Pathwise
#
# $$
# z = \mu + \sigma\varepsilon:\qquad
# \nabla_{(\mu,\sigma)}\,\mathbb E_\varepsilon[f(z)] = \mathbb E_\varepsilon\big[f'(z)\,(1,\ \varepsilon)\big].
# $$
#
# Get $f'(z)$ from autograd: make `z` a tensor that requires grad and call
# `torch.autograd.grad(f(z).sum(), z)` (the sum's gradient is the per-sample derivative, because each
# term depends on its own $z$ only).

# %%
def pathwise_estimate(f, mu, sigma, eps):
    """Pathwise estimates of (d/dmu, d/dsigma) E_{N(mu, sigma^2)}[f]: eps (R, S) -> (R, 2)."""
    # BEGIN SOLUTION
    z = (mu + sigma * eps).detach().requires_grad_()
    (df_dz,) = torch.autograd.grad(f(z).sum(), z)
    dz_dphi = torch.stack([torch.ones_like(eps), eps], dim=-1)        # (dz/dmu, dz/dsigma)
    return (df_dz.unsqueeze(-1) * dz_dphi).mean(dim=-2)
    # END SOLUTION


# %% tags=["depends-on-solution", "nbval-check-output"]
unit03.check_pathwise(pathwise_estimate)


# %% [markdown]
# ## 3 · A leave-one-out baseline
#
# Since $\mathbb E_q[\nabla_\phi\log q_\phi] = 0$, subtracting from $f(z_s)$ anything that does not depend
# on $z_s$ keeps REINFORCE unbiased. The leave-one-out baseline for sample $s$ of a row is the mean of
# $f$ over the *other* $S-1$ samples of that row:
#
# $$
# b_s = \frac{1}{S-1}\sum_{t\neq s} f(z_t),\qquad
# \hat g = \frac1S\sum_s \big(f(z_s) - b_s\big)\,\nabla_\phi\log q_\phi(z_s).
# $$
#
# (Including $f(z_s)$ in its own baseline would bias the estimate. Why?)

# %%
def reinforce_loo_estimate(f, mu, sigma, eps):
    """REINFORCE with a leave-one-out baseline: eps (R, S) with S >= 2 -> (R, 2)."""
    # BEGIN SOLUTION
    S = eps.shape[-1]
    z = mu + sigma * eps
    fz = f(z)
    baseline = (fz.sum(dim=-1, keepdim=True) - fz) / (S - 1)
    score = torch.stack([eps / sigma, (eps**2 - 1) / sigma], dim=-1)
    return ((fz - baseline).unsqueeze(-1) * score).mean(dim=-2)
    # END SOLUTION


# %% tags=["depends-on-solution", "nbval-check-output"]
unit03.check_loo_baseline(reinforce_loo_estimate)


# %% [markdown]
# ## 4 · Which estimator wins?
#
# Plot the variance of your three estimators against $S$ for both costs, with the exact lines
# ($\mathbb V_1/S$ for REINFORCE and pathwise, the leave-one-out formula of the lecture for the baseline).
# `unit03.exact_variances` computes them for the checks' own parameters, so we use those here.

# %% mystnb={"image": {"alt": "Two log-log panels, quadratic and cosine cost, of the variance of REINFORCE, REINFORCE with a leave-one-out baseline and the pathwise estimator against the number of samples S, exact lines with your estimators' Monte Carlo variances as dots."}}
def plot_variances(S_values=(2, 4, 16, 64, 256)):
    estimators = {"REINFORCE": (reinforce_estimate, "reinforce", "tab:red"),
                  "REINFORCE + baseline": (reinforce_loo_estimate, "loo", "tab:purple"),
                  "pathwise": (pathwise_estimate, "pathwise", "tab:blue")}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, cost in zip(axes, ["quadratic", "cosine"]):
        f = unit03.COSTS[cost]["f"]
        for label, (fn, key, colour) in estimators.items():
            mc = [fn(f, unit03.MU, unit03.SIGMA, torch.randn(2000, S, dtype=torch.float64)).var(0).sum().item()
                  for S in S_values]
            ex = [unit03.exact_variances(cost, key, S).sum().item() for S in S_values]
            ax.plot(S_values, ex, color=colour, label=f"{label}: exact")
            ax.plot(S_values, mc, "o", color=colour, ms=5, label=f"{label}: yours")
        ax.set(xscale="log", yscale="log", xlabel="samples $S$", ylabel="variance (sum over $\\mu, \\sigma$)",
               title=f"{cost} cost (dots: 2,000 repeats)")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=10)
    fig.tight_layout()
    plt.show()


if unit03.ready(reinforce_estimate, pathwise_estimate, reinforce_loo_estimate):
    plot_variances()

# %% tags=["depends-on-solution", "nbval-check-output"]
unit03.check_variance_order(reinforce_estimate, pathwise_estimate, reinforce_loo_estimate)


# %% [markdown]
# ## 5 · REINFORCE for a VAE's encoder
#
# For a VAE (`utils.vae`), $-\mathrm{ELBO}(x) = \mathrm{KL}(q_\phi(z|x)\,\|\,p(z)) - \mathbb E_{q_\phi}[\log p_\theta(x|z)]$.
# Write a loss whose **value** equals $-$ELBO for the noise `eps`, exactly what `negative_elbo(vae, x, eps)`
# returns: **the closed-form KL term included** (`gaussian_kl(z_loc, z_scale)`), minus $\log p_\theta(x|z)$
# for the one sample. Its gradient with respect to the encoder must use the score function instead of the
# path through $z$ (the KL term keeps its own exact gradient):
#
# - sample $z = z_{\text{loc}} + z_{\text{scale}}\odot\varepsilon$ and `.detach()` it: no gradient may
#   reach the encoder through $z$;
# - $\log p_\theta(x|z)$: Bernoulli on the decoder's logits, `-F.binary_cross_entropy_with_logits(..., reduction="none").sum(-1)`;
# - $\log q_\phi(z|x)$ = `Normal(z_loc, z_scale).log_prob(z).sum(-1)`;
# - add the term $-\big(\log p_\theta(x|z) - b\big)_{\text{detached}}\cdot\big(\log q_\phi - \operatorname{stopgrad}\log q_\phi\big)$:
#   its value is zero, its gradient is the REINFORCE term with baseline $b$;
# - return, per image, $\mathrm{KL} - \log p_\theta(x|z) + (\text{that term})$.
#
# The check compares your loss with the reference on fixed weights and noise: its value, whether the
# decoder received a detached $z$, and the decoder's and encoder's gradients (with $b = 0$ and with a
# baseline); then, over 100 noise draws, that the encoder gradient is unbiased and that the baseline
# lowers its variance.

# %%
def reinforce_negative_elbo(vae, x, eps, baseline=0.0):
    """-ELBO per image (N,), with the score-function gradient for the encoder."""
    # BEGIN SOLUTION
    z_loc, z_scale = vae.encoder(x)
    z = (z_loc + z_scale * eps).detach()
    log_px_z = -F.binary_cross_entropy_with_logits(vae.decoder(z), x, reduction="none").sum(-1)
    log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)
    score_term = (log_px_z.detach() - baseline) * (log_q - log_q.detach())
    return gaussian_kl(z_loc, z_scale) - log_px_z - score_term
    # END SOLUTION


# %% tags=["depends-on-solution", "nbval-check-output"]
torch.manual_seed(3)
x = binarize(data.test_x[:64])
unit03.check_reinforce_surrogate(reinforce_negative_elbo, x)

# %% [markdown]
# Finally, use it: on one minibatch and an untrained VAE with $z_{\text{dim}} = 2$, how much larger is the
# encoder gradient's variance per parameter with your estimator than with the pathwise one?

# %%
torch.manual_seed(0)
vae = VAE(z_dim=2).to(device)
params = list(vae.encoder.parameters())
repeats = 20 if SMOKE else 100


def gradient_variance(loss_fn):
    g = torch.stack([torch.cat([p.flatten() for p in torch.autograd.grad(
        loss_fn(vae, x, torch.randn(len(x), 2, device=device)).mean(), params)]) for _ in range(repeats)])
    return g.var(0)


if unit03.ready(reinforce_negative_elbo):
    v_pw, v_sf = gradient_variance(negative_elbo), gradient_variance(reinforce_negative_elbo)
    active = v_pw > 0
    print(f"median over {int(active.sum()):,} encoder parameters of Var[REINFORCE] / Var[pathwise]: "
          f"{(v_sf[active] / v_pw[active]).median().item():.0f}  ({repeats} repeats, {len(x)} test images)")

# %% [markdown]
# ## 6 · A latent the pathwise estimator cannot handle: independent bits
#
# Now let $z \in \{0, 1\}^D$ be $D$ independent bits, $q_\phi(z) = \prod_d \mathrm{Bernoulli}(z_d;\,p_d)$
# with $p = \operatorname{sigmoid}(\ell)$, and the parameters the **logits** $\ell$. We want
# $\nabla_\ell\,\mathbb E_q[f(z)]$ for a cost $f$ of all the bits together. To sample, draw
# $u_d \sim \mathcal U(0, 1)$ and set $z_d = 1$ when $u_d < p_d$. That $z$ is a step function of $\ell$:
# its derivative is zero wherever it exists, so there is no path for a pathwise estimator to follow.

# %%
logits = torch.tensor([0.4, -1.2, 0.9, 2.0], dtype=torch.float64, requires_grad=True)
u = torch.rand(5, 4, dtype=torch.float64)
z = (u < torch.sigmoid(logits)).double()
print(z, "\nrequires grad:", z.requires_grad)


# %% [markdown]
# **6a · The exact gradient, by enumeration.** With $D$ small, the expectation is a finite sum over the
# $2^D$ vectors $z$:
#
# $$
# \mathbb E_q[f(z)] = \sum_{z \in \{0,1\}^D} q_\ell(z)\, f(z),\qquad
# q_\ell(z) = \prod_{d=1}^{D} p_d^{\,z_d} (1 - p_d)^{1 - z_d}.
# $$
#
# Write `bernoulli_exact_gradient(f, logits)`: build the $2^D$ vectors as a `(2**D, D)` float tensor, compute
# the sum as a differentiable function of the logits and return its gradient, shape `(D,)` (autograd on a
# copy of `logits` that requires grad is simplest). `f` maps a float tensor `(..., D)` to `(...)`.

# %%
def bernoulli_exact_gradient(f, logits):
    """Exact ∇_logits E_q[f(z)], q = independent Bernoulli(sigmoid(logits)), by enumerating z: (D,)."""
    # BEGIN SOLUTION
    logits = logits.detach().clone().requires_grad_()
    p = torch.sigmoid(logits)
    D = len(logits)
    z = torch.tensor([[(i >> d) & 1 for d in range(D)] for i in range(2**D)], dtype=logits.dtype)
    q = (p**z * (1 - p) ** (1 - z)).prod(-1)
    (grad,) = torch.autograd.grad((q * f(z)).sum(), logits)
    return grad
    # END SOLUTION


# %% [markdown]
# The check compares your gradient with its own enumeration, for two costs and two sizes ($D$ = 4 and 3).

# %% tags=["depends-on-solution", "nbval-check-output"]
unit03.check_bernoulli_exact_gradient(bernoulli_exact_gradient)


# %% [markdown]
# **6b · REINFORCE.** Enumeration costs $2^D$ evaluations of $f$; for a latent of a few hundred bits
# only an estimator is left. Derive the score of one bit with respect to its **logit**: write
# $\log q(z_d) = z_d \log p_d + (1 - z_d)\log(1 - p_d)$ and use $\partial p_d/\partial \ell_d = p_d(1 - p_d)$.
# The result is short. Then write `bernoulli_reinforce(f, logits, u)`: from uniforms `u` of shape
# `(R, S, D)`, draw $z$ as above (a float tensor), and return for each of the $R$ rows the average over its
# $S$ samples of $f(z)\,\nabla_\ell \log q_\ell(z)$: shape `(R, D)`. No autograd is needed.

# %%
def bernoulli_reinforce(f, logits, u):
    """REINFORCE estimates of ∇_logits E_q[f(z)] from uniforms u (R, S, D): shape (R, D)."""
    # BEGIN SOLUTION
    p = torch.sigmoid(logits)
    z = (u < p).to(logits.dtype)
    return (f(z).unsqueeze(-1) * (z - p)).mean(dim=-2)
    # END SOLUTION


# %% [markdown]
# The check runs your estimator 40,000 times ($S = 4$) for two costs and asks that the mean lie within
# 4 standard errors of the exact gradient, and that the variance match the exact one, both computed by
# enumeration.

# %% tags=["depends-on-solution", "nbval-check-output"]
unit03.check_bernoulli_reinforce(bernoulli_reinforce)


# %% [markdown]
# Your two functions side by side, on the checks' weighted-sum cost $f(z) = (w^\top z - 1)^2$: the
# exact gradient, the mean of $R$ single-sample REINFORCE estimates with its standard error, and their
# standard deviation (the noise of one estimate).

# %%
def compare_bernoulli(R=2_000 if SMOKE else 20_000):
    f, logits = unit03.BERNOULLI_COSTS["weighted sum"], unit03.BERN_LOGITS
    exact_grad = bernoulli_exact_gradient(f, logits)
    est = bernoulli_reinforce(f, logits, torch.rand(R, 1, len(logits), dtype=torch.float64))
    rows = [[f"logit {d} (p = {torch.sigmoid(logits[d]).item():.2f})", exact_grad[d].item(),
             est[:, d].mean().item(), est[:, d].std().item() / R**0.5, est[:, d].std().item()]
            for d in range(len(logits))]
    return table(["parameter", "exact (enumeration)", f"REINFORCE mean of {R:,}", "standard error",
                  "std of one estimate"], rows, digits=3)


if unit03.ready(bernoulli_exact_gradient, bernoulli_reinforce):
    display(compare_bernoulli())

# %% [markdown]
# How many single-sample estimates would you need to pin the gradient of the last logit down to
# ±0.01? Which of Part 3's ideas would cut that number, and why does it stay unbiased here too?

# %% [markdown] tags=["solution-only"]
# **Takeaway.** For discrete latents REINFORCE needs nothing but $\nabla\log q$, here $z - \operatorname{sigmoid}(\ell)$,
# and is unbiased, as enumeration confirms; its noise is large next to the gradient, which is why
# baselines (Part 3) or relaxations such as Gumbel-softmax (Jang et al., 2017) are used in practice.

# %% [markdown]
# **Where to go next.** Try a fast cosine with a *small* $\sigma$: which estimator wins now, and why
# does the product $\omega\sigma$ decide it? Then try the lecture's moving-average baseline in a short
# VAE training run with your `reinforce_negative_elbo`.
