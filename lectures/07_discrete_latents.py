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
# # 07 · Discrete latent variables: mixtures, enumeration and gradients for discrete codes
#
# Units 01–06 gave every image a continuous code $z\in\mathbb R^d$. Many questions ask for a
# *choice* instead: which of $K$ groups does this image belong to? A latent variable that takes one of
# $K$ values changes two things. Its integral becomes a sum, which can be computed exactly when $K$ is
# small; and a sample of it is not a differentiable function of the distribution's parameters, so the
# reparameterization trick of units 03–04 does not apply. This lecture takes both sides: the Gaussian
# mixture fitted by EM and by exact enumeration in Pyro, then a VAE with a categorical code, whose
# encoder gradient we estimate five ways and compare against the exact one.
#
# **Learning goals.** After this lecture you can
#
# 1. write a mixture model as a latent variable model with a categorical $z$, compute its likelihood by
#    log-sum-exp and its posterior responsibilities, and derive EM from the ELBO;
# 2. fit a Gaussian mixture by EM and reproduce scikit-learn's fit from the same initialisation;
# 3. let Pyro sum a discrete site out (`config_enumerate`, `TraceEnum_ELBO`) and read the shapes it uses;
# 4. estimate the gradient of an expectation over a categorical code by REINFORCE (plain, with a
#    baseline, leave-one-out) and by the Gumbel-softmax relaxation and its straight-through variant,
#    and measure each one's bias, variance and cost against exact enumeration;
# 5. say what the clusters of a mixture or a categorical VAE are, and what they are not.

# %%
from utils.runtime import setup
device, SMOKE = setup(seed=0)

# %% [markdown]
# The libraries and the lecture's settings. With `LVM_CLASS_MODE=1` (class mode, for running the
# lecture live) the SVI fit, the step times and the VAE training runs are loaded from `checkpoints/`,
# as the committed full run made them.

# %%
import copy
import math
import warnings

import matplotlib.pyplot as plt
import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import SVI, TraceEnum_ELBO, TraceGraph_ELBO, config_enumerate
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import normalized_mutual_info_score
from sklearn.mixture import GaussianMixture
from torch.distributions import Categorical, MultivariateNormal, constraints, kl_divergence
from torch.nn import functional as F

import utils.discrete                    # the reusable copy of this lecture's code
import utils.tradeoffs
from utils.checkpoints import trained
from utils.checks import SelfCheck
from utils.data import fixed_binarization, load_mnist
from utils.plots import image_grid, save_figure
from utils.runtime import record
from utils.tables import table

K = 10                                   # mixture components; categories of the VAE's code
N_GMM, PCA_DIM = 10_000, 10              # §1–2: training images in the mixture; PCA dimensions d

# %% [markdown]
# MNIST as in-memory tensors (2,000 images per split in smoke mode).

# %%
data = load_mnist(subset=2000 if SMOKE else None).to(device)
data

# %% [markdown]
# ## 1 · A mixture is a latent variable model with a categorical z
#
# The generative story of a Gaussian mixture: pick a component $z \in \{1,\dots,K\}$ with
# probability $\pi_z$, then draw $x$ from that component's Gaussian:
#
# $$
# p(z = k) = \pi_k, \qquad p(x \mid z = k) = \mathcal N(x;\ \mu_k, \Sigma_k), \qquad
# p(x) = \sum_{k=1}^{K} \pi_k\, \mathcal N(x;\ \mu_k, \Sigma_k).
# $$
#
# The integral of units 01–06 is a sum of $K$ terms here. Its logarithm is computed as a
# log-sum-exp, $\log p(x) = \operatorname{logsumexp}_k\big[\log \pi_k + \log\mathcal N(x;\mu_k,\Sigma_k)\big]$,
# because in 10 dimensions the densities themselves under- and overflow where their logs do not. The
# posterior over the component, the **responsibility** of component $k$ for the point $x_n$, is
# Bayes' rule on the same $K$ numbers:
#
# $$
# r_{nk} = p(z_n = k \mid x_n) = \frac{\pi_k\, \mathcal N(x_n; \mu_k, \Sigma_k)}{\sum_j \pi_j\, \mathcal N(x_n; \mu_j, \Sigma_j)}
# = \exp\!\big(\log p(x_n, z_n = k) - \log p(x_n)\big).
# $$
#
# The data: the first 10,000 training images projected on their top $d = 10$ principal directions
# (unit 01's projection; $d$ small enough that the whole section takes seconds), in float64 on a CPU
# copy.

# %%
x_pixels = data.train_x[:N_GMM].cpu().double()
x_mean = x_pixels.mean(0)
eigenvalues, eigenvectors = torch.linalg.eigh(torch.cov(x_pixels.T, correction=0))
W = eigenvectors.flip(1)[:, :PCA_DIM]                 # top-d directions, largest eigenvalue first
x = (x_pixels - x_mean) @ W                           # (N, d) PCA coordinates
labels = data.train_y[:N_GMM].cpu()
kept = eigenvalues.flip(0)[:PCA_DIM].sum() / eigenvalues.sum()
print(f"{len(x):,} training images in d = {PCA_DIM} dimensions, keeping {kept:.1%} of the pixel variance")


# %% [markdown]
# The log joint $\log\pi_k + \log\mathcal N(x_n;\mu_k,\Sigma_k)$ for all $n$ and $k$ at once, through
# the Cholesky factor $\Sigma_k = L_kL_k^\top$: $\log\lvert\Sigma_k\rvert = 2\sum_i \log L_{k,ii}$ and
# $(x-\mu_k)^\top\Sigma_k^{-1}(x-\mu_k) = \lVert L_k^{-1}(x-\mu_k)\rVert^2$, one triangular solve and no
# inverse. The responsibilities normalise it in log space.

# %%
def log_joint(x, weights, means, covariances):
    """log π_k + log N(x_n | μ_k, Σ_k), shape (N, K)."""
    L = torch.linalg.cholesky(covariances)                                     # (K, d, d)
    white = torch.linalg.solve_triangular(L, (x - means[:, None]).mT, upper=False)   # L⁻¹(x − μ_k)
    log_det = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    log_normal = -0.5 * (x.shape[1] * math.log(2 * math.pi) + log_det[:, None] + white.pow(2).sum(1))
    return (weights.log()[:, None] + log_normal).T


def responsibilities(x, weights, means, covariances):
    """r_nk = p(z_n = k | x_n), shape (N, K): the log joint minus log p(x_n), exponentiated."""
    joint = log_joint(x, weights, means, covariances)
    return (joint - torch.logsumexp(joint, 1, keepdim=True)).exp()


# %% [markdown]
# The initialisation every fit in §1–2 starts from: equal weights, $K$ random data points as means and
# the data's covariance for every component.

# %%
torch.manual_seed(0)
init = (torch.full((K,), 1 / K, dtype=x.dtype),
        x[torch.randperm(len(x))[:K]].clone(),
        torch.cov(x.T, correction=0).expand(K, -1, -1).clone())
joint, r = log_joint(x, *init), responsibilities(x, *init)
with SelfCheck("mixture likelihood") as sc:
    sc.close("log joint = log π_k + MultivariateNormal.log_prob", joint,
             init[0].log() + MultivariateNormal(init[1], init[2]).log_prob(x[:, None]), atol=1e-9, show_gap=True)
    sc.close("responsibilities: every row sums to 1", r.sum(1), torch.ones(len(x), dtype=x.dtype), atol=1e-12)
    sc.close("log_joint = utils.discrete.gmm_log_joint", joint, utils.discrete.gmm_log_joint(x, *init),
             atol=0, rtol=0, show_gap=True)
    sc.close("responsibilities = utils.discrete.e_step", r, utils.discrete.e_step(x, *init), atol=0, rtol=0)


# %% [markdown]
# **EM from the ELBO.** For any distribution $q_n(k)$ over the component of each point, Jensen's
# inequality gives unit 04's bound, and its gap is again a KL divergence:
#
# $$
# \log p(x_n) \;\ge\; \sum_k q_n(k)\big[\log p(x_n, z_n = k) - \log q_n(k)\big]
# = \log p(x_n) - \mathrm{KL}\big(q_n \,\|\, p(z_n \mid x_n)\big).
# $$
#
# With a discrete $z$ the posterior is available, so EM alternates two exact maximisations of the
# bound. **E-step:** set $q_n = p(z_n\mid x_n;\theta)$, the responsibilities; the KL is 0 and the bound
# *equals* $\log p(x_n;\theta)$. **M-step:** with $q$ fixed, the bound is
# $\sum_{n,k} r_{nk}\log[\pi_k\mathcal N(x_n;\mu_k,\Sigma_k)]$ plus a constant, maximised in closed form:
#
# $$
# N_k = \sum_n r_{nk},\quad \pi_k = \frac{N_k}{N},\quad \mu_k = \frac{1}{N_k}\sum_n r_{nk}\,x_n,\quad
# \Sigma_k = \frac{1}{N_k}\sum_n r_{nk}\,(x_n-\mu_k)(x_n-\mu_k)^\top .
# $$
#
# Hence the likelihood never decreases:
# $\log p(x;\theta_{t+1}) \ge \mathrm{ELBO}(q_t, \theta_{t+1}) \ge \mathrm{ELBO}(q_t,\theta_t) = \log p(x;\theta_t)$.
# Two details follow scikit-learn, so that the fits can be compared exactly: $N_k$ gets $10$ machine
# epsilons added (no division by an empty component) and each $\Sigma_k$ gets `reg_covar` $= 10^{-6}$ on
# its diagonal.

# %%
def m_step(x, r, reg_covar=1e-6):
    """Weights (K,), means (K, d) and covariances (K, d, d) maximising Σ r_nk log π_k N(x_n|μ_k, Σ_k)."""
    n_k = r.sum(0) + 10 * torch.finfo(r.dtype).eps
    means = r.T @ x / n_k[:, None]
    eye = torch.eye(x.shape[1], dtype=x.dtype)
    covariances = torch.stack([(r[:, k, None] * (x - means[k])).T @ (x - means[k]) / n_k[k]
                               + reg_covar * eye for k in range(len(n_k))])
    return n_k / n_k.sum(), means, covariances


with SelfCheck("M-step") as sc:
    for name, mine, reusable in zip(("weights", "means", "covariances"), m_step(x, r),
                                    utils.discrete.m_step(x, r)):
        sc.close(f"{name} = utils.discrete.m_step's", mine, reusable, atol=0, rtol=0)

# %% [markdown]
# EM for `EM_ITERATIONS` rounds, checking the sandwich above at every iteration: the bound with the
# old $q$ rises in the M-step, and the new likelihood is at least that bound.

# %%
EM_ITERATIONS = 10 if SMOKE else 50
params, history, sandwich = init, [], []
for t in range(EM_ITERATIONS + 1):
    joint = log_joint(x, *params)
    log_px = torch.logsumexp(joint, 1, keepdim=True)
    history.append(log_px.mean().item())                             # log p(x; θ_t) per image
    if t == EM_ITERATIONS:
        break
    r = (joint - log_px).exp()                                       # E-step: q_t = p(z | x; θ_t)
    params = m_step(x, r)                                            # M-step: θ_{t+1}
    elbo_new = (r * (log_joint(x, *params) - r.clamp_min(1e-300).log())).sum(1).mean().item()
    sandwich.append(elbo_new)                                        # ELBO(q_t, θ_{t+1})
rises = [b - a for a, b in zip(history, history[1:])]
with SelfCheck("EM") as sc:
    sc.true(f"log p(x) never decreased in {EM_ITERATIONS} iterations (smallest rise {min(rises):.2e})",
            min(rises) >= -1e-10, f"it fell by {-min(rises):.2e}")
    sc.true("every iteration: log p(x; θ_t) ≤ ELBO(q_t, θ_t+1) ≤ log p(x; θ_t+1)",
            all(h0 - 1e-10 <= e <= h1 + 1e-10 for h0, e, h1 in zip(history, sandwich, history[1:])),
            "the sandwich failed at some iteration")

# %% [markdown]
# scikit-learn's `GaussianMixture` from the same initialisation (`weights_init`, `means_init`,
# `precisions_init` = the inverse covariances) and for the same number of iterations: `tol=0` disables
# its stopping rule, so it runs all of them (and warns that it did not converge, which we silence).
# Its `score` is the mean log-likelihood per image.

# %%
sk = GaussianMixture(K, covariance_type="full", weights_init=init[0].numpy(), means_init=init[1].numpy(),
                     precisions_init=torch.linalg.inv(init[2]).numpy(), max_iter=EM_ITERATIONS, tol=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    sk.fit(x.numpy())
sk_score = sk.score(x.numpy())
em_params, em_history = utils.discrete.fit_gmm(x, *init, EM_ITERATIONS)
print(f"mean log-likelihood after {EM_ITERATIONS} EM iterations, nats per image: ours {history[-1]:.6f}, "
      f"scikit-learn {sk_score:.6f} (from {history[0]:.6f} at the initialisation)")
with SelfCheck("EM = scikit-learn") as sc:
    sc.close("our log-likelihood = GaussianMixture.score", history[-1], sk_score, atol=1e-8, rtol=0, show_gap=True)
    sc.close("our means = GaussianMixture.means_", params[1], torch.from_numpy(sk.means_), atol=1e-7, show_gap=True)
    sc.close("history = utils.discrete.fit_gmm's", torch.tensor(history), torch.tensor(em_history), atol=0, rtol=0)

# %% [markdown]
# In the committed run (the first 10,000 training images of full MNIST, $d = 10$, 50 iterations) both
# reach −15.266198 nats per image, from −20.093059 at the initialisation, and the means agree to
# rounding error.
#
# The climb of the likelihood, iteration by iteration: fast at first, then slow, as EM typically is
# (its rate near a maximum depends on how much the components overlap).

# %% mystnb={"image": {"alt": "Mean log-likelihood per image of the Gaussian mixture against the EM iteration, rising steeply in the first iterations and then flattening, with scikit-learn's score after the last iteration marked on the curve."}}
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.plot(range(len(history)), history, marker=".", label="EM (this lecture)")
ax.plot([EM_ITERATIONS], [sk_score], "o", ms=12, mfc="none", color="C3", label="scikit-learn score")
ax.set(xlabel="EM iteration", ylabel="mean log p(x) (nats per image)",
       title=f"Gaussian mixture, K = {K}, d = {PCA_DIM}: {len(x):,} images")
ax.legend(loc="lower right")
_ = save_figure(fig, "07_em_likelihood.png")
plt.show()


# %% [markdown]
# **Takeaway.** A mixture is a latent variable model whose posterior is exact, so EM can make the ELBO
# tight at every E-step, and the likelihood can only rise: ours matched scikit-learn's score after the
# same iterations from the same start.

# %% [markdown]
# ## 2 · Exact enumeration in Pyro
#
# Pyro writes the same mixture as a generative program. The component is a `pyro.sample` site like any
# other; `config_enumerate` marks it for **parallel enumeration** (`infer={"enumerate": "parallel"}`),
# and `TraceEnum_ELBO` then sums it out instead of sampling it. The parameters are plain
# `pyro.param`s, point estimates: the guide has nothing left to infer, so it is empty, and the
# loss is $-\sum_n \log p(x_n)$. The covariances are parameterized by their Cholesky factors.

# %%
@config_enumerate
def gmm_model(x):
    weights = pyro.param("weights", init[0].clone(), constraint=constraints.simplex)
    means = pyro.param("means", init[1].clone())
    scale_tril = pyro.param("scale_tril", torch.linalg.cholesky(init[2]), constraint=constraints.lower_cholesky)
    with pyro.plate("data", len(x)):
        z = pyro.sample("z", dist.Categorical(weights))
        pyro.sample("x", dist.MultivariateNormal(means[z], scale_tril=scale_tril[z]), obs=x)


def gmm_guide(x):
    pass                                  # nothing to sample: z is summed out, the rest are params


# %% [markdown]
# **What the shapes say.** `max_plate_nesting=1` tells Pyro that plates use at most the rightmost batch
# dimension (here the `data` plate, size $N$), so the first dimension free for enumeration is the next
# one to the left. Parallel enumeration then puts the $K$ values of $z$ there: $z$ has shape $(K, 1)$,
# which broadcasts against the plate, and every log-probability downstream has shape $(K, N)$, one row
# per value of $z$. Without enumeration (a plain trace) $z$ is one sample per image, shape $(N,)$:

# %%
pyro.clear_param_store()                  # nothing left from an earlier run of this notebook
enumerated = poutine.trace(poutine.enum(gmm_model, first_available_dim=-2)).get_trace(x)
sampled = poutine.trace(gmm_model).get_trace(x)
for name, trace in (("parallel enumeration", enumerated), ("one sample per image", sampled)):
    trace.compute_log_prob()
    print(f"{name}: z {tuple(trace.nodes['z']['value'].shape)}, log p(z) "
          f"{tuple(trace.nodes['z']['log_prob'].shape)}, log p(x|z) {tuple(trace.nodes['x']['log_prob'].shape)}")
print(enumerated.format_shapes())

# %% [markdown]
# `TraceEnum_ELBO` sums $p(z)\,p(x\mid z)$ over that enumeration dimension in log space: its loss must
# be the negative log-likelihood written by hand (summed over the images), and its gradient the
# gradient of that.

# %%
enum_elbo = TraceEnum_ELBO(max_plate_nesting=1)
loss = enum_elbo.loss(gmm_model, gmm_guide, x)
store = pyro.get_param_store()
w, m, L = store["weights"], store["means"], store["scale_tril"]
hand = -torch.logsumexp(log_joint(x, w, m, L @ L.mT), 1).sum()
enum_elbo.loss_and_grads(gmm_model, gmm_guide, x)
(grad_means,) = torch.autograd.grad(hand, m)
with SelfCheck("TraceEnum_ELBO") as sc:
    sc.close("loss = −Σ log p(x_n) by log-sum-exp (nats)", torch.tensor(loss, dtype=x.dtype), hand.detach(), atol=0, rtol=1e-10, show_gap=True)
    sc.close("∂loss/∂means = autograd of the hand-written −log-likelihood", m.unconstrained().grad,
             grad_means, rtol=1e-9, atol=1e-9, show_gap=True)

# %% [markdown]
# Trained by SVI (Adam on the full data set, `SVI_STEPS` steps from the same initialisation), these
# point estimates climb the same likelihood by gradient steps instead of EM's closed-form updates.

# %%
SVI_STEPS, SVI_LR = (50 if SMOKE else 200), 0.1


def fit_svi():
    pyro.clear_param_store()
    svi = SVI(gmm_model, gmm_guide, pyro.optim.Adam({"lr": SVI_LR}), TraceEnum_ELBO(max_plate_nesting=1))
    losses = [svi.step(x) / len(x) for _ in range(SVI_STEPS)]          # −mean log p(x) per step
    store = pyro.get_param_store()
    return dict(losses=losses, weights=store["weights"].detach(), means=store["means"].detach(),
                scale_tril=store["scale_tril"].detach())


svi_fit = trained("07_discrete_latents/gmm-svi", train=fit_svi,
                  config=dict(steps=SVI_STEPS, lr=SVI_LR, n=len(x), d=PCA_DIM, k=K, data=data.source))
svi_params = (svi_fit["weights"], svi_fit["means"], svi_fit["scale_tril"] @ svi_fit["scale_tril"].mT)
svi_log_px = utils.discrete.gmm_log_likelihood(x, *svi_params).mean().item()

# %% [markdown]
# Both fits, scored by the same function on the same images:

# %%
SVI_TOLERANCE = 0.05                       # nats per image
print(f"mean log-likelihood, nats per image: EM after {EM_ITERATIONS} iterations {history[-1]:.4f}; "
      f"SVI after {SVI_STEPS} Adam steps {svi_log_px:.4f} (difference {svi_log_px - history[-1]:+.4f})")
with SelfCheck("SVI with enumeration") as sc:
    if SMOKE:
        print("smoke mode: too few steps to compare; the full run checks it")
    else:
        sc.close(f"SVI reaches EM's log-likelihood within {SVI_TOLERANCE} nats per image",
                 svi_log_px, history[-1], atol=SVI_TOLERANCE, rtol=0, show_gap=True)


# %% [markdown]
# In the committed run SVI ended 0.0064 nats per image below EM, within the stated tolerance. One
# initialisation only: whether the two climbed to the same local maximum we did not check.
#
# **Takeaway.** With `config_enumerate` and `TraceEnum_ELBO` Pyro sums a discrete site out exactly,
# along a tensor dimension left of the plates (`max_plate_nesting`), so the loss is the exact negative
# log-likelihood and gradient steps on it reach EM's fit.

# %% [markdown]
# ## 3 · A VAE with a categorical code
#
# Now the decoder is unit 04's neural network and the code is one of $K = 10$ categories, given to the
# decoder as a one-hot vector:
#
# $$
# p(z = k) = \tfrac1K, \qquad p_\theta(x\mid z) = \prod_i \mathrm{Bernoulli}\big(x_i;\ \operatorname{sigmoid} f_\theta(\mathrm{onehot}(z))_i\big),
# \qquad q_\phi(z\mid x) = \mathrm{Categorical}\big(\operatorname{softmax} g_\phi(x)\big).
# $$
#
# The encoder $g_\phi$ returns $K$ logits. With a categorical $q$ the ELBO is a finite sum, and the KL
# to the uniform prior has a closed form:
#
# $$
# \mathrm{ELBO}(x) = \sum_{k=1}^{K} q_\phi(k\mid x)\big[\log p_\theta(x\mid k) + \log\tfrac1K - \log q_\phi(k\mid x)\big]
# = \sum_k q_\phi(k\mid x)\log p_\theta(x\mid k) - \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big).
# $$

# %%
def log_px_given_z(vae, x, z_onehot):
    """log p(x | z) per image for codes (..., N, K) or (K, 1, K): Bernoulli on the decoder's logits."""
    logits, x = torch.broadcast_tensors(vae.decoder(z_onehot), x)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def kl_to_uniform(logits):
    log_q = torch.log_softmax(logits, -1)
    return (log_q.exp() * log_q).sum(-1) + math.log(logits.shape[-1])


def negative_elbo_exact(vae, x):
    """−ELBO per image by enumerating the K codes: −Σ_k q_k log p(x|k) + KL(q ‖ uniform)."""
    logits = vae.encoder(x)
    codes = torch.eye(K, device=x.device)[:, None]                     # (K, 1, K): every code
    log_px = log_px_given_z(vae, x, codes)                             # (K, N)
    return -(torch.softmax(logits, -1) * log_px.T).sum(-1) + kl_to_uniform(logits)


# %% [markdown]
# The model class is `utils.discrete.CategoricalVAE`: an encoder from 784 pixels to $K$ logits (unit
# 04's two hidden layers) and unit 04's decoder with `z_dim=K`. The checks, on an untrained model and
# 128 validation images: the enumeration against `torch.distributions`, and against the reusable copy.

# %%
x_val = fixed_binarization(data.val_x, seed=1)                       # unit 04's validation bits
torch.manual_seed(0)
vae = utils.discrete.CategoricalVAE(k=K).to(device)
xb = x_val[:128]
with torch.no_grad(), SelfCheck("exact ELBO") as sc:
    q = Categorical(logits=vae.encoder(xb))
    kl = kl_divergence(q, Categorical(logits=torch.zeros(K, device=device)))
    sc.close("KL in closed form = torch kl_divergence", kl_to_uniform(q.logits), kl, atol=1e-5)
    sc.close("log p(x|k) = utils.discrete.log_px_all", log_px_given_z(vae, xb, torch.eye(K, device=device)[:, None]),
             utils.discrete.log_px_all(vae, xb), rtol=1e-5, atol=1e-3)
    sc.close("−ELBO = utils.discrete.negative_elbo_exact", negative_elbo_exact(vae, xb),
             utils.discrete.negative_elbo_exact(vae, xb), rtol=1e-6, atol=1e-3, show_gap=True)


# %% [markdown]
# ### The gradient problem, five ways
#
# The decoder's gradient is easy: it is inside the sum. The encoder's is the problem: $\phi$ sets the
# probabilities of the $K$ codes. Enumeration differentiates the sum above exactly, at the price of
# $K$ terms per image. The estimators differentiate a sample instead (unit 03), in their
# standard forms; each keeps the KL in closed form and estimates
# $\nabla_\phi\,\mathbb E_{q_\phi}[f(z)]$ with $f(z) = \log p_\theta(x\mid z)$:
#
# - **REINFORCE** (Williams, 1992): $\frac1S\sum_s \big(f(z_s) - b\big)\nabla_\phi\log q_\phi(z_s\mid x)$,
#   $z_s \sim q_\phi$. Unbiased for any $b$ that does not depend on $z_s$; plain: $b = 0$.
# - **With a batch baseline**: $b$ = the mean of $f$ over the *other* images of the minibatch (no
#   state, and independent of this image's sample).
# - **RLOO** (leave-one-out; Kool, van Hoof & Welling, 2019): $S \ge 2$ samples per image, each with the
#   baseline $b_s = \frac{1}{S-1}\sum_{j\ne s} f(z_j)$, the mean of the image's *other* samples.
# - **Gumbel-softmax / Concrete** (Jang, Gu & Poole, 2017; Maddison, Mnih & Teh, 2017): with Gumbel
#   noise $g_k = -\log(-\log u_k)$, $\arg\max_k(\text{logits}_k + g_k)$ is an exact sample of $q_\phi$;
#   replacing the argmax by $y = \operatorname{softmax}((\text{logits} + g)/\tau)$ gives a point of the
#   simplex that is differentiable in $\phi$, and the decoder is fed $y$. Biased: $p_\theta(x\mid y)$
#   for a non-one-hot $y$ is not in the model; the bias shrinks as $\tau \to 0$, the variance grows.
# - **Straight-through** (Bengio, Léonard & Courville, 2013; with the Gumbel-softmax as in Jang et al.):
#   the forward pass uses the exact one-hot sample, the backward pass the relaxed sample's gradient.
#
# Written out, each as a loss per image whose value is the (relaxed, for Gumbel-softmax) −ELBO estimate
# and whose gradient is the estimator's (negated, since we minimise):

# %%
def score_function_loss(vae, x, z, baseline=None):
    """REINFORCE for codes z (S, N): value −mean_s f(z_s) + KL, gradient −(f − b) ∇ log q."""
    logits = vae.encoder(x)
    log_q = torch.log_softmax(logits, -1).gather(-1, z.T).T             # log q(z_s | x), (S, N)
    f = log_px_given_z(vae, x, F.one_hot(z, K).to(x.dtype))              # f(z_s) = log p(x | z_s)
    b = 0.0 if baseline is None else baseline(f.detach())
    surrogate = f + (f.detach() - b) * (log_q - log_q.detach())         # value f, gradient (f − b) ∇ log q
    return -surrogate.mean(0) + kl_to_uniform(logits)


batch_baseline = lambda f: (f.sum(1, keepdim=True) - f) / (f.shape[1] - 1)     # the other images
leave_one_out = lambda f: (f.sum(0, keepdim=True) - f) / (f.shape[0] - 1)      # the other samples


def relaxed_loss(vae, x, gumbel, tau, hard=False):
    """Gumbel-softmax (hard=False) or straight-through (hard=True) for noise g (S, N, K)."""
    logits = vae.encoder(x)
    y = torch.softmax((logits + gumbel) / tau, -1)                       # relaxed one-hot sample
    if hard:
        y = F.one_hot(y.argmax(-1), K).to(y.dtype) - y.detach() + y      # one-hot forward, soft backward
    return -log_px_given_z(vae, x, y).mean(0) + kl_to_uniform(logits)


# %% [markdown]
# Each against the reusable copy with the same codes and the same noise, values and encoder gradients:

# %%
def encoder_grad(loss):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss.mean(), list(vae.encoder.parameters()))])


z = torch.randint(K, (4, len(xb)), device=device)
g = utils.discrete.sample_gumbel((4, len(xb), K), device=device)
pairs = {"REINFORCE": (score_function_loss(vae, xb, z), utils.discrete.reinforce_loss(vae, xb, z=z)),
         "batch baseline": (score_function_loss(vae, xb, z, batch_baseline),
                            utils.discrete.reinforce_baseline_loss(vae, xb, z=z)),
         "RLOO": (score_function_loss(vae, xb, z, leave_one_out), utils.discrete.rloo_loss(vae, xb, z=z)),
         "Gumbel-softmax": (relaxed_loss(vae, xb, g, 0.5), utils.discrete.gumbel_softmax_loss(vae, xb, 0.5, gumbel=g)),
         "straight-through": (relaxed_loss(vae, xb, g, 0.5, hard=True),
                              utils.discrete.straight_through_loss(vae, xb, 0.5, gumbel=g))}
with SelfCheck("estimators = utils.discrete") as sc:
    for name, (mine, reusable) in pairs.items():
        sc.close(f"{name}: value and encoder gradient", torch.cat([mine.detach(), encoder_grad(mine)]),
                 torch.cat([reusable.detach(), encoder_grad(reusable)]), rtol=1e-5, atol=1e-5)

# %% [markdown]
# ### Training at equal wall time
#
# The estimators cost different amounts per step, so we compare them for the same *time*. First one
# step of each (forward, backward, Adam step on a minibatch of 128) is timed in interleaved rounds
# (`utils.tradeoffs.seconds_per_step`, unit 06). One more row times enumeration written as it must be in
# general, decoding every code for every image ($K\cdot N$ decoder passes): in this model the decoder
# sees only $z$, so the $K$ decoded images serve the whole minibatch and enumeration needs just $K$.

# %%
TAU, S_RLOO = 0.5, 4                       # temperature of the relaxed estimators; RLOO's samples
losses = {"exact (enumeration)": utils.discrete.exact_loss,
          "REINFORCE": utils.discrete.reinforce_loss,
          "REINFORCE + batch baseline": utils.discrete.reinforce_baseline_loss,
          f"RLOO, S = {S_RLOO}": lambda v, x: utils.discrete.rloo_loss(v, x, S_RLOO),
          f"Gumbel-softmax, τ = {TAU}": lambda v, x: utils.discrete.gumbel_softmax_loss(v, x, TAU),
          f"straight-through, τ = {TAU}": lambda v, x: utils.discrete.straight_through_loss(v, x, TAU),
          "exact, K codes per image": utils.discrete.exact_loss_per_image}
measure = lambda: utils.tradeoffs.seconds_per_step(losses, lambda: utils.discrete.CategoricalVAE(k=K).to(device),
                                                   data.train_x[:128])
timing = trained("07_discrete_latents/step-times", config=dict(losses=list(losses), batch=128, k=K),
                 train=lambda: dict(times=measure(), device=device.type, threads=torch.get_num_threads()))
seconds = {name: sorted(t)[len(t) // 2] for name, t in timing["times"].items()}   # median of the rounds
print(f"seconds per step on {timing['device']} with {timing['threads']} torch thread(s), median of "
      f"{len(timing['times']['REINFORCE'])} rounds: " + ", ".join(f"{n} {1000 * s:.1f} ms" for n, s in seconds.items()))


# %% [markdown]
# **From random weights: the plateau.** Enumeration first, on its own, from the initial weights (Adam,
# learning rate $10^{-3}$, minibatches of 128, dynamic binarization) for `WARM_STEPS` steps. Every 100
# steps we measure the exact −ELBO on the 5,000 validation images (enumeration, so no estimator judges
# itself) and two things about the code on the same images: the mean $\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z))$,
# which is $\log K$ when $q_\phi$ puts all its mass on one code, and the information the code carries
# about the image, $I(x;z) = H(\bar q) - \frac1N\sum_n H\big(q_\phi(z\mid x_n)\big)$ with $\bar q$ the
# average of the $q_\phi(z\mid x_n)$: 0 when every image gets the same $q_\phi$, at most $\log K$.

# %%
def information(vae):
    """I(x; z) = H(mean of q) − mean of H(q) over the validation images, in nats."""
    q = torch.softmax(vae.encoder(x_val), -1)
    entropy = lambda p: -(p * p.clamp_min(1e-30).log()).sum(-1)
    return (entropy(q.mean(0)) - entropy(q).mean()).item()


WARM_STEPS, EVERY = (10, 5) if SMOKE else (1200, 100)
track = dict(kl=lambda v: utils.discrete.categorical_kl(v.encoder(x_val)).mean().item(), information=information,
             codes=lambda v: v.encoder(x_val).argmax(1).unique().numel())      # codes the images use
torch.manual_seed(0)
warm = utils.discrete.CategoricalVAE(k=K).to(device)
plateau = trained("07_discrete_latents/warm-start", model=warm,
                  train=lambda: utils.discrete.train(warm, losses["exact (enumeration)"], data.train_x, x_val,
                                                     WARM_STEPS, WARM_STEPS // EVERY, track=track, desc="exact"),
                  config=dict(estimator="exact (enumeration)", steps=WARM_STEPS, lr=1e-3, batch=128, seed=0,
                              every=EVERY, data=data.source))
table(["step", "validation −ELBO", "mean KL(q ‖ p)", "I(x; z)", "codes in use"],
      [[step, value, kl, info, int(codes)] for step, value, kl, info, codes
       in zip(*(plateau[key] for key in ("step", "validation", "kl", "information", "codes")))],
      digits=2, title=f"exact enumeration from random weights; nats (log K = {math.log(K):.2f})")

# %% [markdown]
# In the committed run (full MNIST; one run, the picture of the plateau, not a comparison) the
# −ELBO stayed between 209.37 and 209.60 for the first 800 steps, and on every one of those evaluations
# the validation images put nearly all of $q_\phi$ on one and the same code: the mean KL is $\log K$ and the code
# carries 0.00 nats about the image. The decoder draws one image for everyone, and with $q_\phi$
# one-hot the softmax passes almost no gradient back to the encoder, whatever the estimator. By step
# 900 a second code was in use and by step 1,000 all ten; at step 1,200 the −ELBO was 173.31 and the
# code carried 2.17 nats. We end the warm-up there, a length chosen from this table: the run has
# left the plateau, and its −ELBO still falls by several nats per 100 steps, so the estimators below
# start where the code is in use and there is still much to learn.
#
# **From one warm start, at equal time, three seeds.** Every estimator then trains a copy of that warm
# start for the same budget of `TRAIN_SECONDS` seconds, converted to steps with the times measured
# above, once per seed in `SEEDS`: the seed sets the order of the minibatches, their binarization and
# the estimator's noise; the warm start is the same for all. Each run starts a fresh Adam (learning
# rate $10^{-3}$) and measures the validation −ELBO six times.

# %%
SEEDS, TRAIN_SECONDS = (0, 1, 2), (0.25 if SMOKE else 3.0)
runs, models = {}, {}
for name in list(losses)[:-1]:
    steps, runs[name] = max(10, round(TRAIN_SECONDS / seconds[name])), []
    tag = name.split(",")[0].replace(" ", "-").replace("(", "").replace(")", "")
    for seed in SEEDS:
        model = copy.deepcopy(warm)
        models.setdefault(name, model)                     # seed 0's model; §4–5 use the exact one's
        torch.manual_seed(seed)
        runs[name].append(trained(
            f"07_discrete_latents/{tag}.seed={seed}", model=model if name.startswith("exact") and seed == 0 else None,
            train=lambda: utils.discrete.train(model, losses[name], data.train_x, x_val, steps, 6, seed=seed, desc=None),
            config=dict(estimator=name, steps=steps, lr=1e-3, batch=128, seed=seed, warm_start=WARM_STEPS,
                        data=data.source)))
    print(f"{name}: {steps} steps per seed, validation −ELBO at the end "
          + ", ".join(f"{run['validation'][-1]:.2f}" for run in runs[name]))

# %% [markdown]
# Both stages in one figure: on the left the run from random weights, on the right the runs from its
# end against the training time they used (steps × the measured time per step), the mean over the
# seeds with a band of ± one standard deviation.

# %% mystnb={"image": {"alt": "Left: validation \u2212ELBO of the categorical VAE trained by exact enumeration from random weights against the step, flat for several hundred steps and then falling. Right: validation \u2212ELBO against training time for six estimators started from the end of that run, the mean of three seeds with a band of one standard deviation."}}
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw=dict(width_ratios=(2, 3)))
left.plot(plateau["step"], plateau["validation"], "o-", color="C0")
left.set(xlabel="step", ylabel="validation −ELBO (nats per image)", title="exact, from random weights")
warm_value = plateau["validation"][-1]
for i, (name, rs) in enumerate(runs.items()):
    t = [0.0] + [s * seconds[name] for s in rs[0]["step"]]
    curves = torch.tensor([[warm_value] + run["validation"] for run in rs])
    mean, sd = curves.mean(0), curves.std(0)
    right.plot(t, mean, marker="o", color=f"C{i}", label=name)
    right.fill_between(t, mean - sd, mean + sd, color=f"C{i}", alpha=0.2)
right.set(xlabel=f"training time (s): steps × time per step ({timing['device']}, {timing['threads']} thread(s))",
          title=f"from the warm start: {TRAIN_SECONDS:g} s each, mean ± sd of {len(SEEDS)} seeds")
right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
_ = save_figure(fig, "07_equal_time.png")
plt.show()

# %% [markdown]
# The final values, mean and standard deviation over the seeds:

# %%
final = {name: torch.tensor([run["validation"][-1] for run in rs], dtype=torch.float64) for name, rs in runs.items()}
table(["estimator", "steps", "ms per step", "validation −ELBO at the end, mean ± sd", "each seed"],
      [[name, runs[name][0]["step"][-1], 1000 * seconds[name], f"{v.mean():.2f} ± {v.std():.2f}",
        ", ".join(f"{e:.2f}" for e in v)] for name, v in final.items()],
      title=f"{data.source}; from the warm start (−ELBO {warm_value:.2f}), {TRAIN_SECONDS:g} s of training each, "
            f"seeds {SEEDS}; nats per image")

# %% [markdown]
# What the committed run shows (full MNIST, CPU, 2 torch threads; 3 s per run from the warm start
# at 173.31, seeds 0, 1 and 2; mean ± sd of the final validation −ELBO): enumeration went furthest,
# to 169.26 ± 0.26, with the most steps, since its step is the cheapest. RLOO with $S = 4$
# (171.73 ± 0.12, in fewer steps than any other) and Gumbel-softmax at $\tau = 0.5$ (172.14 ± 0.73)
# improved on the warm start in every seed; the batch baseline ended where it began (173.38 ± 0.18).
# Plain REINFORCE (180.34 ± 3.90) and straight-through (182.18 ± 1.71) left the model worse than the
# warm start in every seed, and their seeds disagree the most. Three seeds give the spread of these
# runs over minibatch order and noise, from one warm start with one learning rate and one budget: not
# a ranking of the estimators in general.
#
# ### Bias and variance on one minibatch
#
# Now the estimators side by side on the *same* weights and the same minibatch: the warm start that
# every run above began from, and 100 validation images. Where to measure matters: on the plateau
# $q_\phi$ is one-hot, where the softmax's gradient vanishes for every estimator, and at the initial
# weights the decoder has learnt nothing yet; at the warm start the code is in use, as in most of
# training. Each estimator draws its gradient `REPEATS` times with fresh noise; from the draws we take,
# per encoder parameter, the mean and the variance of one draw, and compare the mean with the exact
# gradient (enumeration, variance 0).

# %%
REPEATS = 20 if SMOKE else 100
vae, x_grad = warm, x_val[:100]                                      # every run's warm start
D = utils.discrete
settings = {("REINFORCE", 1): lambda l: D.reinforce_loss(vae, x_grad, 1, logits=l),
            ("REINFORCE", 4): lambda l: D.reinforce_loss(vae, x_grad, 4, logits=l),
            ("REINFORCE + batch baseline", 1): lambda l: D.reinforce_baseline_loss(vae, x_grad, 1, logits=l)}
settings.update({("RLOO", s): (lambda l, s=s: D.rloo_loss(vae, x_grad, s, logits=l)) for s in (2, 4, 8)})
TAUS = (0.1, 0.25, 0.5, 1.0, 2.0)
for tau in TAUS:
    settings["Gumbel-softmax", tau] = lambda l, tau=tau: D.gumbel_softmax_loss(vae, x_grad, tau, logits=l)
    settings["straight-through", tau] = lambda l, tau=tau: D.straight_through_loss(vae, x_grad, tau, logits=l)
exact = D.gradient_moments(vae, x_grad, lambda l: D.exact_loss(vae, x_grad, logits=l), 2)
torch.manual_seed(1)
moments = {key: D.gradient_moments(vae, x_grad, loss, REPEATS) for key, loss in settings.items()}
summary = {key: {space: D.bias_and_variance(*m[space], exact[space][0], REPEATS) for space in m}
           for key, m in moments.items()}

# %% [markdown]
# For an unbiased estimator the squared distance of the mean of $R$ draws from the exact gradient is,
# in expectation, the noise $\sum_j \mathrm{Var}_j / R$: their ratio is about 1. We test it on the
# gradient with respect to the logits, where the images contribute independent noise; a biased
# estimator's ratio grows with $R$. At these weights a few images, with a rare draw of an unlikely
# code, carry much of the noise, so the ratio of one measurement spreads widely around 1: the test
# accepts $[1/3, 3]$.

# %%
ratio = {key: s["logits"]["noise_ratio"] for key, s in summary.items()}
with SelfCheck("unbiased estimators") as sc:
    for key in [k for k in settings if k[0] in ("REINFORCE", "REINFORCE + batch baseline", "RLOO")]:
        sc.true(f"{key[0]}, S = {key[1]}: |mean − exact|² / noise = {ratio[key]:.2f}, within [1/3, 3]",
                1 / 3 <= ratio[key] <= 3, f"ratio {ratio[key]:.2f}: biased?")
print("Gumbel-softmax |mean − exact|² / noise by τ: "
      + ", ".join(f"τ = {t:g}: {ratio['Gumbel-softmax', t]:.1f}" for t in TAUS))

# %% [markdown]
# The measured bias (relative to the exact gradient's norm, with the noise of the mean removed) where
# it stands out of that noise (the squared gap more than twice the noise), and the variance per
# encoder parameter of one draw:

# %%
resolved = {key: s["encoder"]["noise_ratio"] > 2 for key, s in summary.items()}
bias_text = {key: f"{s['encoder']['bias']:.3f}" if resolved[key] else "within the noise"
             for key, s in summary.items()}
table(["estimator", "S or τ", "bias ‖E ĝ − g‖ / ‖g‖", "noise of the mean / ‖g‖", "variance per parameter",
       "|mean − exact|² / noise"],
      [[name, f"{'τ' if name in ('Gumbel-softmax', 'straight-through') else 'S'} = {v:g}", bias_text[name, v],
        s["encoder"]["noise"], f"{s['encoder']['variance']:.2e}", s["logits"]["noise_ratio"]]
       for (name, v), s in summary.items()],
      title=f"Encoder gradient at the warm start, {len(x_grad)} validation images, {REPEATS} draws each; "
            f"‖g‖ = {summary['REINFORCE', 1]['encoder']['gradient_norm']:.3g}", digits=3)

# %% [markdown]
# The same numbers as pictures: variance against the number of samples $S$ for the score-function
# estimators, and bias (where resolved) and variance against the temperature $\tau$ for the relaxed ones.

# %% mystnb={"image": {"alt": "Left: variance per encoder parameter against the number of samples S (1, 2, 4, 8) on log axes for REINFORCE, REINFORCE with a batch baseline and RLOO. Right: bias and variance relative to RLOO (S = 4) of Gumbel-softmax and straight-through against the temperature tau on log axes."}}
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
for name, marker in (("REINFORCE", "o"), ("REINFORCE + batch baseline", "s"), ("RLOO", "^")):
    keys = [k for k in summary if k[0] == name]
    left.plot([k[1] for k in keys], [summary[k]["encoder"]["variance"] for k in keys], marker=marker, label=name)
left.set(xscale="log", yscale="log", xlabel="samples per image S", ylabel="variance per parameter",
         title="score function: unbiased")
left.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"], minor=False)
left.set_xticks([], minor=True)
left.legend()
for name, style in (("Gumbel-softmax", "-"), ("straight-through", "--")):
    bias = [summary[name, t]["encoder"]["bias"] if resolved[name, t] else math.nan for t in TAUS]
    right.plot(TAUS, bias, "o" + style, color="C3", label=f"{name}: bias")
    right.plot(TAUS, [summary[name, t]["encoder"]["variance"] / summary["RLOO", 4]["encoder"]["variance"] for t in TAUS],
               "s" + style, color="C0", label=f"{name}: variance / RLOO's (S = 4)")
right.set(xscale="log", yscale="log", xlabel="temperature τ", ylabel="bias / ‖g‖; variance / RLOO's",
          title="relaxed: biased")
right.set_xticks(TAUS, [f"{t:g}" for t in TAUS], minor=False)
right.set_xticks([], minor=True)
right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False, ncol=2)
_ = save_figure(fig, "07_bias_variance.png")
plt.show()

# %% [markdown]
# At the warm start (the committed run: 100 images, 100 draws per setting, $\lVert g\rVert$ = 21.9) the
# baselines matter most: plain REINFORCE's variance per parameter was 1.45, the batch baseline's
# 9.03e-02 and RLOO's with $S = 4$ 7.67e-04, below every relaxed setting (Gumbel-softmax's lowest,
# at $\tau = 2$, was 8.14e-04). All six score-function settings passed the unbiasedness test, and none
# showed a bias above the noise of its mean. The relaxed estimators are biased wherever 100 draws can
# see it: Gumbel-softmax's bias was 0.277 of the gradient's norm at $\tau = 0.5$ and 0.718 at
# $\tau = 2$, while its variance fell; below $\tau = 0.5$ it was hidden in the noise of the mean
# (0.314 of the norm at $\tau = 0.25$). Straight-through's bias was larger, between 0.784 and 1.327
# wherever it was resolved, since its forward pass never follows the relaxation it differentiates.
# One step of enumeration took 3.7 ms here, and 20.2 ms when it decodes all $K$ codes for every image.
#
# **What each buys.** One table with the measured cost and quality of each, for the configurations
# trained above:

# %%
trained_as = {"exact (enumeration)": None, "REINFORCE": ("REINFORCE", 1),
              "REINFORCE + batch baseline": ("REINFORCE + batch baseline", 1), f"RLOO, S = {S_RLOO}": ("RLOO", S_RLOO),
              f"Gumbel-softmax, τ = {TAU}": ("Gumbel-softmax", TAU), f"straight-through, τ = {TAU}": ("straight-through", TAU)}
buys = {"exact (enumeration)": "exact, no noise; K terms per image", "REINFORCE": "unbiased, by far the noisiest",
        "REINFORCE + batch baseline": "unbiased, less noisy", f"RLOO, S = {S_RLOO}": "unbiased, least noisy; S decodes",
        f"Gumbel-softmax, τ = {TAU}": "biased (value too)", f"straight-through, τ = {TAU}": "biased"}
rows = [[name, buys[name], "0" if key is None else bias_text[key],
         "0" if key is None else f"{summary[key]['encoder']['variance']:.2e}", 1000 * seconds[name],
         f"{final[name].mean():.2f} ± {final[name].std():.2f}"] for name, key in trained_as.items()]
rows.append(["exact, K codes per image", "exact; K× the decodes", "0", "0", 1000 * seconds["exact, K codes per image"], ""])
table(["estimator", "buys", "bias / ‖g‖", "variance per parameter", "ms per step",
       f"−ELBO after {TRAIN_SECONDS:g} s, {len(SEEDS)} seeds"],
      rows, digits=3, title=f"{timing['device']}, {timing['threads']} thread(s); nats per image")

# %% [markdown]
# **Takeaway.** A categorical code can stall training on a plateau where every image uses one code;
# from a warm start where the code is in use, the score-function estimators were unbiased and their
# baselines cut the variance by one to three orders of magnitude (leave-one-out the most), the relaxed
# ones were biased and no quieter than RLOO, and enumeration, exact and here the cheapest per step,
# went furthest at equal time in all three seeds.

# %% [markdown]
# ## 4 · What the clusters are
#
# Both models assign every image to one of $K = 10$ groups: the mixture by its responsibilities, the VAE
# by its encoder, each taking the most probable $k$. MNIST happens to have 10 digit classes, so one can
# ask how well the groups agree with the labels, with the normalized mutual information (NMI: 0 for
# independent assignments, 1 for the same partition up to renaming) and the purity (the share of images
# whose cluster's most common digit is their own).

# %%
vae = models["exact (enumeration)"]                  # by enumeration: the warm start, then seed 0
gmm_clusters = utils.discrete.e_step(x, *params).argmax(1)
x_test = fixed_binarization(data.test_x, seed=2)
with torch.no_grad():
    vae_clusters = vae.encoder(x_test).argmax(1).cpu()
test_labels = data.test_y.cpu()
agreement = {"Gaussian mixture (PCA, training images)": (labels, gmm_clusters),
             "categorical VAE (test images)": (test_labels, vae_clusters)}
scores = {name: (normalized_mutual_info_score(y.numpy(), c.numpy()), utils.discrete.purity(y, c))
          for name, (y, c) in agreement.items()}
table(["model", "images", "NMI with the digit labels", "purity"],
      [[name, len(agreement[name][0]), *s] for name, s in scores.items()], digits=3)


# %% [markdown]
# In the committed run the mixture's clusters reach an NMI of 0.568 (purity 0.621) and the categorical
# VAE's 0.510 (purity 0.574): far from 1 for both.
#
# What each cluster *is*: for the mixture, its mean mapped back to pixels, $\bar x + W\mu_k$; for the
# VAE, the decoder's image of code $k$, $\operatorname{sigmoid} f_\theta(\mathrm{onehot}(k))$, and the
# average test image the encoder puts there. Above each, its most common digit and that digit's share.

# %% mystnb={"image": {"alt": "Three rows of ten images: the Gaussian mixture component means as pixel images, the categorical VAE decoded prototypes, and the mean test image per VAE cluster, each titled with its most common digit and that digit share."}}
def majority(y, c, k):
    members = y[c == k]
    if len(members) == 0:
        return "empty"
    top = members.mode().values.item()
    return f"{top}: {(members == top).float().mean():.0%}"


with torch.no_grad():
    prototypes = torch.sigmoid(vae.decoder(torch.eye(K, device=device))).cpu()
cluster_means = torch.stack([data.test_x.cpu()[vae_clusters == k].mean(0) if (vae_clusters == k).any()
                             else torch.zeros(784) for k in range(K)])
rows = [("mixture: mean μ_k in pixels", (x_mean + params[1] @ W.T).clamp(0, 1), labels, gmm_clusters),
        ("VAE: decoded code k", prototypes, test_labels, vae_clusters),
        ("VAE: mean test image of cluster k", cluster_means, test_labels, vae_clusters)]
fig, axes = plt.subplots(3, K, figsize=(13, 5.4))
for row, (title, images, y, c) in enumerate(rows):
    for k in range(K):
        image_grid(images[k:k + 1], nrow=1, ax=axes[row, k], title=majority(y, c, k))
    axes[row, 0].text(-0.15, 0.5, title, transform=axes[row, 0].transAxes, ha="right", va="center")
plt.tight_layout()
_ = save_figure(fig, "07_clusters.png")
plt.show()

# %% [markdown]
# A cluster is a region where the model found it cheap to describe images alike, not a label. Neither
# model saw a digit label. Where one digit is written in two common styles (a 7 with and without a bar,
# a slanted and an upright 1) a model may spend two clusters on it and merge two similar digits (4 and
# 9, 3 and 5) into one; the "most common digit" above each image is our reading of the cluster, not the
# model's. Using clusters as class predictions needs labels to name them, and an NMI well below 1 says
# how much of the partition the digit classes explain.
#
# **Takeaway.** Both models' clusters agree with the digit labels only in part (measured by NMI and
# purity above); a cluster is a mode of the data that the model found useful, not a class.

# %% [markdown]
# ## 5 · Pyro's estimators for the discrete VAE
#
# The categorical VAE as a Pyro model and guide, on a float64 CPU copy of the VAE trained by
# enumeration (so that the comparisons below are not blurred by float32 rounding). The guide's site has no `rsample`, so Pyro needs either
# a score-function estimator or enumeration (unit 03, §12). `TraceGraph_ELBO` samples $z$ and builds the
# REINFORCE surrogate; with `config_enumerate` on the guide, `TraceEnum_ELBO` sums over the $K$ values
# of $z$ weighted by $q_\phi$ instead.

# %%
vae64 = copy.deepcopy(vae).cpu().double()


def vae_model(x):
    pyro.module("decoder", vae64.decoder)
    with pyro.plate("data", len(x)):
        z = pyro.sample("z", dist.Categorical(logits=x.new_zeros(K)))         # uniform prior
        pyro.sample("x", dist.Bernoulli(logits=vae64.decoder(F.one_hot(z, K).to(x.dtype))).to_event(1), obs=x)


drawn = []                                                                     # the z each guide run drew


def vae_guide(x):
    pyro.module("encoder", vae64.encoder)
    with pyro.plate("data", len(x)):
        drawn.append(pyro.sample("z", dist.Categorical(logits=vae64.encoder(x))))


# %% [markdown]
# A helper runs one of Pyro's ELBOs on a minibatch and returns its loss and the gradient of every
# parameter of the VAE (encoder first), the same way we take them from our own losses:

# %%
def pyro_loss_and_grads(elbo, guide, x):
    pyro.clear_param_store()
    vae64.zero_grad()
    loss = elbo.loss_and_grads(vae_model, guide, x)
    return torch.tensor(loss, dtype=x.dtype), torch.cat([p.grad.flatten() for p in vae64.parameters()])


def our_loss_and_grads(loss):
    grads = torch.autograd.grad(loss.sum(), list(vae64.parameters()))
    return loss.sum().detach().cpu(), torch.cat([g.flatten() for g in grads])


# %% [markdown]
# **TraceEnum_ELBO** must give exactly the enumeration's loss and gradients. **TraceGraph_ELBO** uses,
# for the site $z$, the cost downstream of it, $f = \log p(x\mid z) + \log p(z) - \log q_\phi(z\mid x)$,
# with no closed-form KL and no baseline unless asked; for the $z$ it drew (recorded by the guide),
# `utils.discrete.reinforce_loss(..., analytic_kl=False)` builds that surrogate by hand (the mean-zero
# gradient of $-\log q$ inside $f$ left out, as Pyro does: unit 03, §12).

# %%
x8 = x_val[:8].cpu().double()
pyro.set_rng_seed(3)
enum_loss, enum_grads = pyro_loss_and_grads(TraceEnum_ELBO(max_plate_nesting=1), config_enumerate(vae_guide), x8)
drawn.clear()
graph_loss, graph_grads = pyro_loss_and_grads(TraceGraph_ELBO(), vae_guide, x8)
z_pyro = drawn[0][None]                                                        # (S = 1, N)
ours_enum = our_loss_and_grads(utils.discrete.negative_elbo_exact(vae64, x8))
ours_graph = our_loss_and_grads(utils.discrete.reinforce_loss(vae64, x8, z=z_pyro, analytic_kl=False))
with SelfCheck("Pyro's estimators") as sc:
    sc.close("TraceEnum_ELBO loss = Σ −ELBO by enumeration", enum_loss, ours_enum[0], atol=1e-8, rtol=1e-10,
             show_gap=True)
    sc.close("TraceEnum_ELBO gradients = autograd of the enumeration", enum_grads, ours_enum[1],
             atol=1e-8, rtol=1e-6, show_gap=True)
    sc.close("TraceGraph_ELBO loss = Σ −f(z) for the z it drew", graph_loss, ours_graph[0], atol=1e-8, rtol=1e-10,
             show_gap=True)
    sc.close("TraceGraph_ELBO gradients = hand-written REINFORCE, same z", graph_grads, ours_graph[1],
             atol=1e-8, rtol=1e-6, show_gap=True)

# %% [markdown]
# **Takeaway.** For the discrete VAE, `TraceEnum_ELBO` is the exact enumeration and `TraceGraph_ELBO` is
# REINFORCE with the full per-sample ELBO as its cost, each equal to the hand-written loss on the same
# weights and the same sample.

# %% [markdown]
# ## Summary
#
# - A mixture model is a latent variable model with a categorical $z$: $p(x)$ is a log-sum-exp of $K$
#   terms and the posterior (the responsibilities) is exact.
# - EM is coordinate ascent on the ELBO: the E-step makes it tight ($q$ = the posterior), the M-step
#   maximises it in closed form, so the likelihood never decreases. Ours equals scikit-learn's from
#   the same initialisation.
# - Pyro sums a discrete site out with `config_enumerate` and `TraceEnum_ELBO`, along a dimension left
#   of the plates (`max_plate_nesting`); the loss is the exact negative log-likelihood.
# - For a categorical code in a VAE, the encoder's gradient can be exact (enumeration, $K$ terms per
#   image), unbiased and noisy (REINFORCE; a baseline, best the leave-one-out one, lowers the noise), or
#   biased (Gumbel-softmax, whose bias grows with $\tau$, and straight-through). Measure bias and variance
#   against the exact gradient where it exists and where the code is in use, and compare training at
#   equal time from the same start over several seeds: from random weights, a categorical code can
#   sit on a plateau where every image uses the same code.
# - Clusters agree with labels only in part; a cluster is not a class.
#
# The numbers of this run, for the course's benchmark report:

# %%
record("07_discrete_latents", k=K, n_gmm=len(x), pca_dim=PCA_DIM, em_iterations=EM_ITERATIONS,
       em_log_likelihood=history[-1], sklearn_score=sk_score, svi_log_likelihood=svi_log_px, svi_steps=SVI_STEPS,
       train_seconds=TRAIN_SECONDS, repeats=REPEATS, device=timing["device"], threads=timing["threads"],
       seconds_per_step=seconds, seeds=list(SEEDS), warm_start_steps=WARM_STEPS, warm_start_negative_elbo=warm_value,
       final_negative_elbo={name: {"mean": v.mean().item(), "sd": v.std().item(), "per_seed": v.tolist()}
                            for name, v in final.items()},
       estimators=[{"estimator": name, "setting": v, **{k: s["encoder"][k] for k in ("bias", "variance", "noise")},
                    "bias_resolved": resolved[name, v], "noise_ratio_logits": s["logits"]["noise_ratio"]}
                   for (name, v), s in summary.items()],
       nmi={name: s[0] for name, s in scores.items()}, purity={name: s[1] for name, s in scores.items()})

# %% [markdown]
# ## Pointers
#
# - A. P. Dempster, N. M. Laird, D. B. Rubin (1977), *Maximum Likelihood from Incomplete Data via the
#   EM Algorithm*, JRSS B; R. M. Neal, G. E. Hinton (1998), *A View of the EM Algorithm that Justifies
#   Incremental, Sparse, and Other Variants* (EM as coordinate ascent on the ELBO).
# - C. M. Bishop (2006), *Pattern Recognition and Machine Learning*, ch. 9 (mixtures and EM).
# - scikit-learn documentation, `sklearn.mixture.GaussianMixture`; Pyro documentation, tutorials
#   *Inference with Discrete Latent Variables* and *Gaussian Mixture Model* (`config_enumerate`,
#   `TraceEnum_ELBO`, `max_plate_nesting`).
# - R. J. Williams (1992), *Simple statistical gradient-following algorithms for connectionist
#   reinforcement learning* (REINFORCE).
# - W. Kool, H. van Hoof, M. Welling (2019), *Buy 4 REINFORCE Samples, Get a Baseline for Free!*, ICLR
#   workshop DeepRLStructPred (RLOO).
# - E. Jang, S. Gu, B. Poole (2017), *Categorical Reparameterization with Gumbel-Softmax*, ICLR;
#   C. J. Maddison, A. Mnih, Y. W. Teh (2017), *The Concrete Distribution: A Continuous Relaxation of
#   Discrete Random Variables*, ICLR.
# - Y. Bengio, N. Léonard, A. Courville (2013), *Estimating or Propagating Gradients Through Stochastic
#   Neurons for Conditional Computation* (straight-through).
# - A. Mnih, K. Gregor (2014), *Neural Variational Inference and Learning in Belief Networks* (baselines
#   for discrete latents); G. Tucker et al. (2017), *REBAR*, and W. Grathwohl et al. (2018), *RELAX*
#   (unbiased, lower-variance estimators that combine both families).
