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
# # 07 · Exercise: mixtures, EM, and gradients for discrete codes
#
# **What you implement.** Six functions, in the notation of lecture 07:
#
# 1. `e_step(x, weights, means, covariances)`: the responsibilities of a Gaussian mixture and the
#    log-likelihood of each point;
# 2. `m_step(x, resp, reg_covar=1e-6)`: the mixture's new weights, means and covariances;
# 3. `bic(x, weights, means, covariances)`: the **Bayesian information criterion** (Schwarz, 1978),
#    which the lecture does not cover: a way to choose the number of components $K$;
# 4. `rloo_surrogate(log_q, f)`: leave-one-out REINFORCE (Kool et al., 2019);
# 5. `gumbel_softmax(logits, tau, gumbel=None)` and `straight_through(logits, tau, gumbel=None)`: a
#    relaxed categorical sample and its straight-through variant (Jang et al., 2017; Maddison et al.,
#    2017).
#
# With them you fit mixtures to MNIST in a 10-dimensional PCA space (and match scikit-learn's
# `GaussianMixture` to many digits), choose $K$, and measure the bias and variance of three gradient
# estimators of a VAE with a categorical latent against the exact gradient, which enumeration gives.
#
# **How to check.** Each function is followed by a self-check cell. It runs your function on fixed
# inputs against a reference and prints one line per check: a ✓, or a ✗ with what differed, by how
# much, and a hint. Re-run your function's cell after each change, then the check cell. The cells that
# *use* your functions begin with `if unit07.ready(...)`: until those functions pass their checks,
# such a cell prints one line saying which to finish first, and does nothing else.
#
# **Time.** About an hour and a half, plus about two minutes of computing on a laptop CPU.
#
# The mixture's parameters are `weights` $\pi$ of shape `(K,)`, `means` $\mu$ of shape `(K, D)` and
# full `covariances` $\Sigma$ of shape `(K, D, D)`; the data `x` has shape `(N, D)`. The mixture runs
# in float64 on the CPU (its checks compare with scikit-learn to nine digits), the VAE on `device`.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %% [markdown]
# The tools, and the sizes of every run (smaller in smoke mode).

# %%
import copy
import math
import warnings

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from sklearn.mixture import GaussianMixture
from torch.distributions import Categorical, MultivariateNormal
from torch.nn import functional as F

from utils import discrete
from utils.checks import SelfCheck, unit07
from utils.data import fixed_binarization, load_mnist
from utils.plots import image_grid
from utils.tables import table

PCA_DIM, N_GMM, K_GMM, EM_STEPS = 10, 10_000, 10, 50   # PCA space, training images, components, EM steps
K_SWEEP = (1, 2, 5, 10, 20, 40)                        # the numbers of components Part 2 compares
Z_K, S, TAU = 10, 4, 1.0                               # VAE: categories, samples per image, temperature
WARM_STEPS, STEPS, REPEATS = (50, 20, 20) if SMOKE else (1000, 300, 100)

# %% [markdown]
# MNIST as in-memory tensors (at most 1,000 images per split in smoke mode).

# %%
data = load_mnist(subset=1000 if SMOKE else None).to(device)
data

# %% [markdown]
# The mixture lives in the space of the 10 leading principal components of 10,000 training images
# (lecture 01): each image becomes 10 numbers, in float64 on the CPU.

# %%
train_images = data.train_x[:N_GMM].cpu().double()
pixel_mean = train_images.mean(0)
_, eigenvectors = torch.linalg.eigh(torch.cov(train_images.T, correction=0))
W = eigenvectors.flip(1)[:, :PCA_DIM]                   # (784, 10): the leading directions
x_train = (train_images - pixel_mean) @ W               # (N, 10)
x_test = (data.test_x.cpu().double() - pixel_mean) @ W
x_train.shape, x_test.shape


# %% [markdown]
# ## 1 · The E-step and the M-step
#
# A Gaussian mixture is a latent variable model with a categorical $z \in \{1, \dots, K\}$:
# $p(z = k) = \pi_k$ and $p(x \mid z = k) = \mathcal N(x; \mu_k, \Sigma_k)$. The **E-step** computes
# the posterior of $z$ for each point, the *responsibilities*, and with it the log-likelihood:
#
# $$
# r_{nk} = p(z_n = k \mid x_n) = \frac{\pi_k\, \mathcal N(x_n; \mu_k, \Sigma_k)}{\sum_{j} \pi_j\,
# \mathcal N(x_n; \mu_j, \Sigma_j)}, \qquad
# \log p(x_n) = \operatorname{logsumexp}_k \big[\log \pi_k + \log \mathcal N(x_n; \mu_k, \Sigma_k)\big].
# $$
#
# Work in log space: in 10 dimensions a density far from a mean is $e^{-1000}$, which is 0 in float64.
# `MultivariateNormal(means, covariance_matrix=covariances).log_prob(x[:, None, :])` gives
# $\log \mathcal N(x_n; \mu_k, \Sigma_k)$ for every point and component at once, shape `(N, K)`
# (the point axis against the batch of $K$ components). Return `(resp, log_px)`: `resp` of shape
# `(N, K)` with rows summing to 1, `log_px` of shape `(N,)`.

# %%
def e_step(x, weights, means, covariances):
    """(resp (N, K), log p(x_n) (N,)) of the mixture with weights (K,), means (K, D) and
    covariances (K, D, D) at the points x (N, D)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check compares both results with `utils.discrete` on 300 points in 3 dimensions and $K = 4$,
# then with $K = 2$ in 5 dimensions at points so far from every mean that $\log p(x)$ is thousands of nats below 0.

# %% tags=["raises-exception"]
unit07.check_e_step(e_step)


# %% [markdown]
# The **M-step** maximises $\sum_n \sum_k r_{nk} \log[\pi_k \mathcal N(x_n; \mu_k, \Sigma_k)]$ with the
# responsibilities held fixed, in closed form. With $N_k = \sum_n r_{nk}$, the effective number of
# points of component $k$:
#
# $$
# \pi_k = \frac{N_k}{N}, \qquad \mu_k = \frac{1}{N_k} \sum_n r_{nk}\, x_n, \qquad
# \Sigma_k = \frac{1}{N_k} \sum_n r_{nk}\, (x_n - \mu_k)(x_n - \mu_k)^\top + \epsilon I ,
# $$
#
# where $\epsilon$ is `reg_covar`, a small ridge that keeps each $\Sigma_k$ invertible when a component
# holds few points (scikit-learn adds the same). Every sum over $n$ is weighted by $r_{nk}$: the
# M-step of a mixture is $K$ weighted maximum-likelihood fits. Return
# `(weights (K,), means (K, D), covariances (K, D, D))`.

# %%
def m_step(x, resp, reg_covar=1e-6):
    """(weights (K,), means (K, D), covariances (K, D, D)) maximising the expected complete-data
    log-likelihood for the responsibilities resp (N, K)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check runs one M-step from the reference E-step's responsibilities and compares the three
# results with `utils.discrete`, once with another `reg_covar`; then it runs 50 EM steps (the
# reference E-step, your M-step): the log-likelihood must never fall, and must end where scikit-learn's
# `GaussianMixture` ends from the same start.

# %% tags=["raises-exception"]
unit07.check_m_step(m_step)


# %% [markdown]
# Now EM on MNIST. The start: equal weights, $K$ distinct training points as means, and the data's
# covariance for every component. `em` alternates your two steps and records the mean log-likelihood
# before each step and after the last.

# %%
def initial_mixture(x, k, seed=0):
    """(weights, means, covariances): 1/k each, k distinct points of x, the covariance of x."""
    gen = torch.Generator().manual_seed(seed)
    means = x[torch.randperm(len(x), generator=gen)[:k]]
    covariances = torch.cov(x.T, correction=0).expand(k, -1, -1).clone()
    return torch.full((k,), 1 / k, dtype=x.dtype), means, covariances


def em(x, params, steps=EM_STEPS):
    """``steps`` rounds of your E- and M-step from params: (the parameters, [mean log p(x)])."""
    history = []
    for _ in range(steps):
        resp, log_px = e_step(x, *params)
        history.append(log_px.mean().item())
        params = m_step(x, resp)
    return params, history + [e_step(x, *params)[1].mean().item()]


# %% [markdown]
# scikit-learn's `GaussianMixture` from the same start (`weights_init`, `means_init` and the inverse
# covariances as `precisions_init`), for the same number of steps: `tol=0` stops it from stopping early.

# %%
def sklearn_mixture(x, params, steps=EM_STEPS):
    """sklearn's GaussianMixture fitted to x by `steps` EM steps from params."""
    weights, means, covariances = (t.numpy() for t in params)
    gm = GaussianMixture(len(weights), covariance_type="full", tol=0.0, max_iter=steps,
                         init_params="random_from_data", weights_init=weights, means_init=means,
                         precisions_init=torch.linalg.inv(params[2]).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # it warns that 50 steps have not converged
        return gm.fit(x.numpy())


if unit07.ready(e_step, m_step):
    start = initial_mixture(x_train, K_GMM)
    mixture, history = em(x_train, start)
    sklearn_log_px = sklearn_mixture(x_train, start).score(x_train.numpy())
    with SelfCheck("EM on MNIST") as sc:
        sc.true("log p(x) never falls", min(b - a for a, b in zip(history, history[1:])) > -1e-9,
                "it fell")
        sc.close("the same log p(x) as sklearn's GaussianMixture", history[-1], sklearn_log_px,
                 1e-6, 1e-8, show_gap=True)
    print(f"mean log p(x): {history[0]:.3f} at the start, {history[-1]:.4f} after {EM_STEPS} steps "
          f"(sklearn: {sklearn_log_px:.4f}) nats per image, in the {PCA_DIM}-D PCA space")

# %% [markdown]
# The log-likelihood step by step, and each component's mean taken back to pixels (the PCA
# reconstruction of $\mu_k$), with the weights in the same order:

# %% mystnb={"image": {"alt": "Left, the mean log-likelihood rising over 50 EM steps; right, the ten component means shown as digit images."}}
if unit07.ready(e_step, m_step):
    fig, (ax, ax_img) = plt.subplots(1, 2, figsize=(12, 3.5), width_ratios=(1, 2))
    ax.plot(history, "o-", ms=3)
    ax.set(xlabel="EM step", ylabel="mean log p(x) (nats)", title="EM never lowers log p(x)")
    weights, means, _ = mixture
    image_grid((means @ W.T + pixel_mean).clamp(0, 1), nrow=5, ax=ax_img, title="component means")
    plt.show()
    print("weights π_k:", ", ".join(f"{w:.2f}" for w in weights.tolist()))


# %% [markdown]
# Do the components' means look like digits? Which digits share a component, and which get more
# than one?

# %% [markdown]
# ## 2 · How many components? BIC (not in the lecture)
#
# More components always fit the training data better: $K = N$ components, one per point with a
# shrinking covariance, would drive the likelihood to infinity. Two ways to choose $K$: the
# log-likelihood of **held-out** data (the test images), and the **Bayesian information criterion**
# (Schwarz, 1978), which needs no held-out data:
#
# $$
# \mathrm{BIC} = -2 \sum_{n=1}^N \log p(x_n) + p \log N ,
# $$
#
# lower is better, where $p$ is the number of free parameters of the mixture: $K - 1$ weights (they sum
# to 1), $K D$ mean coordinates and $K \cdot D(D + 1)/2$ covariance entries (each $\Sigma_k$ is
# symmetric). The penalty $p \log N$ comes from a Laplace approximation of the marginal likelihood
# $p(x_{1:N} \mid K)$, the model's evidence (Bishop, *PRML*, §4.4.1). Use your `e_step` for
# $\log p(x_n)$. Return one number (a 0-d tensor, or a float).

# %%
def bic(x, weights, means, covariances):
    """−2 Σ_n log p(x_n) + p log N: the BIC of the mixture on the points x (N, D)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check compares your BIC with scikit-learn's `GaussianMixture.bic` for two fitted mixtures
# ($K = 4$ in 3 dimensions, $K = 2$ in 3 dimensions), with the reference E-step in place of yours.

# %% tags=["raises-exception"]
unit07.check_bic(bic)

# %% [markdown]
# One mixture for each $K$, each from the same kind of start with 50 EM steps, scored on the training
# images (the fit), on the test images (held out) and by BIC:

# %%
if unit07.ready(e_step, m_step, bic):
    sweep = {}
    for k in K_SWEEP:
        params, history = em(x_train, initial_mixture(x_train, k))
        sweep[k] = [history[-1], e_step(x_test, *params)[1].mean().item(),
                    float(bic(x_train, *params))]
    best = {"held out": max(sweep, key=lambda k: sweep[k][1]), "BIC": min(sweep, key=lambda k: sweep[k][2])}
    display(table(["K", "train log p(x)", "test log p(x)", "BIC"], [[k, *v] for k, v in sweep.items()],
                  title=f"Nats per image; BIC of the {len(x_train):,} training images"))
    print(f"best K by test log-likelihood: {best['held out']}; by BIC: {best['BIC']}")


# %% [markdown]
# Does the training log-likelihood ever stop improving with $K$? Do the two criteria agree? How would
# their choice change with ten times fewer training images?

# %% [markdown]
# ## 3 · Leave-one-out REINFORCE
#
# Part 5 trains a VAE whose latent is one of $K$ categories. For its encoder we need
# $\nabla_\phi \mathbb E_{q_\phi(z \mid x)}[f(z)]$, and $z$ cannot be reparameterized. REINFORCE with
# $S$ samples $z_1, \dots, z_S$ per image estimates it as
# $\frac1S \sum_s f(z_s) \nabla_\phi \log q_\phi(z_s \mid x)$, unbiased but noisy. Subtracting a
# baseline $b_s$ that does not depend on $z_s$ keeps it unbiased; the **leave-one-out** baseline uses
# the other samples of the same image (Kool et al., 2019, *Buy 4 REINFORCE Samples, Get a Baseline for
# Free!*):
#
# $$
# \hat g = \frac1S \sum_{s=1}^S \big(f_s - b_s\big)\, \nabla_\phi \log q_\phi(z_s \mid x), \qquad
# b_s = \frac{1}{S - 1} \sum_{j \ne s} f_j .
# $$
#
# Write it as a **surrogate** whose value is $\frac1S \sum_s f_s$ (the estimate itself) and whose
# gradient is $\hat g$ plus whatever gradient $f$ carries itself (for the VAE: the decoder's):
#
# $$
# \text{surrogate} = \frac1S \sum_s \Big[f_s + \mathrm{sg}(f_s - b_s)\,\big(\log q_s - \mathrm{sg}(\log q_s)\big)\Big],
# $$
#
# with $\mathrm{sg}$ = `.detach()` (stop-gradient): the second term is 0 in value, and its gradient is
# the score term. `log_q` and `f` have shape `(S, N)`; return one value per image, shape `(N,)`, a
# quantity to **maximise**.

# %%
def rloo_surrogate(log_q, f):
    """mean over the S samples of f_s + (f_s − b_s)·(log q_s − sg(log q_s)), b_s the mean of the
    other samples' f (detached): (N,) from log_q and f of shape (S, N)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check compares the value and both gradients (to the logits of $q$, and through $f$) with
# `utils.discrete.rloo_surrogate` on fixed samples ($S = 4$); then it draws 20,000 independent
# estimates for a categorical $q$ over six values and compares their mean with the exact gradient
# (enumeration of the six values) and their variance with plain REINFORCE's.

# %% tags=["raises-exception"]
unit07.check_rloo_surrogate(rloo_surrogate)


# %% [markdown]
# **Takeaway.** A baseline built from the other samples costs nothing extra and leaves the estimate
# unbiased; including the sample in its own baseline would shrink the gradient by $(S - 1)/S$.
#
# ## 4 · Gumbel-softmax and straight-through
#
# A categorical sample can be written as $z = \arg\max_k (\ell_k + g_k)$ with logits $\ell$ and
# independent standard Gumbel noise $g_k = -\log(-\log u_k)$, $u_k \sim \mathcal U(0, 1)$ (the
# Gumbel-max trick). The argmax has no useful gradient; the **Gumbel-softmax** (or Concrete) sample
# replaces it by a softmax at a temperature $\tau > 0$:
#
# $$
# y = \operatorname{softmax}\Big(\frac{\ell + g}{\tau}\Big),
# $$
#
# a point inside the simplex, a differentiable function of $\ell$, and as $\tau \to 0$ the one-hot
# vector of the argmax. Use the given `gumbel` noise, or when it is `None` draw one $g$ for every entry
# of `logits` (`torch.rand_like`). Return `y`, with the shape of `logits` (`(..., K)`).

# %%
def gumbel_softmax(logits, tau, gumbel=None):
    """softmax((logits + g) / τ) over the last dimension; g standard Gumbel noise."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check compares your sample with `utils.discrete.gumbel_softmax` on fixed noise at $\tau = 0.5$
# and at $\tau = 10^{-4}$, compares gradients, and, without noise, draws 20,000 samples: their argmax
# must follow $\operatorname{softmax}(\ell)$, and their mean must match the reference's.

# %% tags=["raises-exception"]
unit07.check_gumbel_softmax(gumbel_softmax)


# %% [markdown]
# The **straight-through** variant sends the exact one-hot sample forward and the relaxed sample's
# gradient backward: $y_\text{hard} - \mathrm{sg}(y_\text{soft}) + y_\text{soft}$, which equals
# $y_\text{hard}$ in value and has the gradient of $y_\text{soft}$. Build $y_\text{soft}$ with your
# `gumbel_softmax` (pass `gumbel` on) and $y_\text{hard}$ with `F.one_hot` of its argmax.

# %%
def straight_through(logits, tau, gumbel=None):
    """The one-hot of argmax(logits + g) in value, the gradient of gumbel_softmax(logits, tau, g)."""
    # YOUR CODE HERE
    raise NotImplementedError("exercise: write this part")


# %% [markdown]
# The check runs your function with the reference `gumbel_softmax`: the forward value, the gradient
# (that of the relaxed sample at the same $\tau$), and one-hot rows with the right frequencies without
# noise.

# %% tags=["raises-exception"]
unit07.check_straight_through(straight_through)

# %% [markdown]
# One set of logits and one draw of noise, at four temperatures: the relaxed sample moves from the
# centre of the simplex towards a corner as $\tau$ falls.

# %% mystnb={"image": {"alt": "Bar charts of one relaxed sample over five categories at four temperatures, nearly uniform at the highest and nearly one-hot at the lowest."}}
if unit07.ready(gumbel_softmax):
    logits, gumbel = torch.tensor([1.0, 0.5, -0.5, 2.0, 0.0]), discrete.sample_gumbel(5)
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.5), sharey=True)
    for ax, tau in zip(axes, (5.0, 1.0, 0.5, 0.1)):
        ax.bar(range(5), gumbel_softmax(logits, tau, gumbel).tolist())
        ax.set(title=f"τ = {tau:g}", xlabel="category")
    axes[0].set_ylabel("y")
    plt.show()


# %% [markdown]
# **Takeaway.** The temperature trades bias for smoothness: a low $\tau$ gives nearly one-hot samples
# but steep gradients, a high $\tau$ smooth gradients of samples that are not categories.
#
# ## 5 · A VAE with a categorical latent
#
# The model of the lecture (`utils.discrete.CategoricalVAE`): $p(z)$ uniform over $K = 10$
# categories, $p_\theta(x \mid z) = \mathrm{Bernoulli}(\text{decoder}(\text{onehot}(z)))$, and the
# guide $q_\phi(z \mid x) = \mathrm{Categorical}(\text{encoder}(x))$. With only ten values of $z$ the
# −ELBO is a sum (`discrete.negative_elbo_exact`), and so is its exact gradient, the reference for
# every estimator. Each loss below takes the encoder's `logits` and returns the −ELBO per image with
# the KL to the uniform prior in closed form (`discrete.categorical_kl`); only the estimate of
# $\mathbb E_q[\log p(x \mid z)]$ differs: your RLOO, or your relaxed or straight-through sample, $S$
# samples per image each.

# %%
def rloo_loss(vae, x, logits):
    """−ELBO per image, E_q[log p(x|z)] by your RLOO surrogate over S samples."""
    z = Categorical(logits=logits).sample((S,))                          # (S, N)
    log_q = logits.log_softmax(-1).gather(-1, z.T).T                     # (S, N)
    f = discrete.log_px_given_z(vae, x, F.one_hot(z, vae.k).to(x.dtype))
    return -rloo_surrogate(log_q, f) + discrete.categorical_kl(logits)


def relaxed_loss(sample):
    """The −ELBO per image with E_q[log p(x|z)] from S samples y = sample(logits, TAU)."""
    def loss(vae, x, logits):
        y = sample(logits.expand(S, *logits.shape), TAU)                 # (S, N, K)
        return -discrete.log_px_given_z(vae, x, y).mean(0) + discrete.categorical_kl(logits)
    return loss


# %% [markdown]
# The estimators are compared on a model that has learned something: a VAE trained with the exact
# gradient (1,000 steps in full mode, the course's training loop `discrete.train`), on a fixed
# minibatch of 64 binarized training images.

# %%
torch.manual_seed(0)
warm = discrete.CategoricalVAE(k=Z_K).to(device)
discrete.train(warm, discrete.exact_loss, data.train_x, None, steps=WARM_STEPS, desc="exact")
x_batch = fixed_binarization(data.train_x[:64], seed=3)
exact = torch.cat([g.flatten() for g in torch.autograd.grad(
    discrete.negative_elbo_exact(warm, x_batch).mean(), list(warm.encoder.parameters()))]).cpu().double()
print(f"−ELBO of the minibatch: {discrete.negative_elbo_exact(warm, x_batch).mean():.2f} nats per image")

# %% [markdown]
# Each estimator's encoder gradient, drawn `REPEATS` times on that minibatch, against the exact one:
# the relative bias $\lVert \mathbb E \hat g - g \rVert / \lVert g \rVert$ (with the noise of the
# average removed), the variance per parameter, and the noise ratio
# $\lVert \bar g - g \rVert^2 / (\sum \mathrm{Var}/R)$, which is about 1 for an unbiased estimator.
# Both are estimated from the $R$ = `REPEATS` draws: for an estimator as noisy as plain REINFORCE
# (no baseline, `utils.discrete`, the yardstick for RLOO, with the same $S$) the bias column is mostly
# that noise.

# %%
estimators = {"REINFORCE (no baseline)": lambda vae, x, logits: discrete.reinforce_loss(
                  vae, x, samples=S, logits=logits),
              "RLOO (yours)": rloo_loss, f"Gumbel-softmax, τ = {TAU:g} (yours)": relaxed_loss(gumbel_softmax),
              f"straight-through, τ = {TAU:g} (yours)": relaxed_loss(straight_through)}
if unit07.ready(rloo_surrogate, gumbel_softmax, straight_through):
    rows = []
    for name, loss in estimators.items():
        mean, variance = discrete.gradient_moments(
            warm, x_batch, lambda logits: loss(warm, x_batch, logits), REPEATS)["encoder"]
        stats = discrete.bias_and_variance(mean, variance, exact, REPEATS)
        rows.append([name, f"{stats['bias']:.3f}", f"{stats['variance']:.2e}", f"{stats['noise_ratio']:.2f}"])
    display(table(["estimator", "relative bias", "variance per parameter", "noise ratio"], rows,
                  title=f"Encoder gradient, S = {S} samples per image, {REPEATS} draws"))

# %% [markdown]
# Which estimators are unbiased? Which has the lowest variance? Does RLOO's baseline help as much as
# you expected?

# %% [markdown]
# Then training: from that model, `STEPS` more steps with each estimator (same minibatches, same
# learning rate), the exact −ELBO on 1,000 validation images measured along the way:

# %% mystnb={"image": {"alt": "Validation negative ELBO against training steps for exact enumeration, RLOO and straight-through Gumbel-softmax, all starting from the same model."}}
x_val = fixed_binarization(data.val_x[:1000], seed=4)
runs = {"exact (enumeration)": discrete.exact_loss, "RLOO": rloo_loss,
        f"straight-through, τ = {TAU:g}": relaxed_loss(straight_through)}
if unit07.ready(rloo_surrogate, gumbel_softmax, straight_through):
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, loss in runs.items():
        model = copy.deepcopy(warm)
        run = discrete.train(model, lambda vae, x, loss=loss: loss(vae, x, vae.encoder(x)), data.train_x,
                             x_val, steps=STEPS, evaluations=3, seed=1, desc=name)
        ax.plot([0] + run["step"], [discrete.evaluate(warm, x_val)] + run["validation"], "o-", label=name)
    ax.set(xlabel="further training steps", ylabel="validation −ELBO (nats per image)")
    ax.legend()
    plt.show()

# %% [markdown]
# Which estimator trains fastest per step? Per second (RLOO decodes $S$ samples, enumeration all $K$
# categories)?

# %% [markdown]
# ## 6 · Going further (optional)
#
# - Held-out likelihood against BIC with 1,000 training images: which $K$ does each choose now?
# - **Hard EM**: replace the responsibilities by the one-hot of their argmax. With all covariances
#   fixed to $\sigma^2 I$ and $\sigma \to 0$ this is k-means; compare its clusters with EM's.
# - Sweep $\tau$ (0.1, 0.5, 1, 2) for the straight-through estimator: how do its bias and variance
#   move?
# - Raise $K$ to 100: how do the cost of enumeration and the variance of RLOO change?
