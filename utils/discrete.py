"""Discrete latent variables (unit 07): the Gaussian mixture and EM, the Gumbel-softmax relaxation,
leave-one-out REINFORCE, and a VAE with one categorical latent and its gradient estimators.

The one reusable copy: lecture 07 writes each piece out and checks it equal to these; the unit-07
self-checks and the benchmark import them. Sign conventions:

- ``gmm_*`` functions return log-densities (nats); ``fit_gmm`` reports the *mean* log-likelihood
  per point, which EM never lowers.
- Every ``*_loss`` of the categorical VAE is a per-image **loss to minimise**, shape (N,), in nats:
  its value is an estimate of the −ELBO (the Gumbel-softmax loss: of the relaxed −ELBO) and its
  gradient is the named estimator of ∇(−ELBO). They plug into :func:`train` and
  ``utils.tradeoffs.seconds_per_step`` as ``loss(vae, x)``.
- :func:`rloo_surrogate` returns a quantity to **maximise** (the mean of ``f``), as the ELBO is.

Mixture functions work in the dtype and on the device of their inputs (the lecture runs them in
float64 on CPU copies); the VAE lives on the course device.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from . import _validate as check
from .data import binarize, minibatches
from .progress import progress
from .vae import Decoder, _warn_diverged, adam

LOG_2PI = math.log(2 * math.pi)


# --- the Gaussian mixture and EM -----------------------------------------------------------------

def gmm_log_joint(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                  covariances: torch.Tensor) -> torch.Tensor:
    """log π_k + log N(x_n | μ_k, Σ_k) for every point and component, shape (N, K).

    x (N, d), weights (K,), means (K, d), covariances (K, d, d) full and positive definite; through
    the Cholesky factor Σ_k = L_k L_kᵀ: log N = −½ [d log 2π + 2 Σ_i log L_k,ii + ‖L_k⁻¹(x − μ_k)‖²]."""
    x = check.tensor(x, "x")
    if x.dim() != 2 or means.dim() != 2 or covariances.dim() != 3 or weights.dim() != 1:
        raise ValueError(f"expected x (N, d), weights (K,), means (K, d), covariances (K, d, d); got "
                         f"{tuple(x.shape)}, {tuple(weights.shape)}, {tuple(means.shape)}, "
                         f"{tuple(covariances.shape)}")
    d = x.shape[1]
    chol = torch.linalg.cholesky(covariances)                            # (K, d, d)
    diff = (x[None] - means[:, None]).transpose(1, 2)                    # (K, d, N)
    solved = torch.linalg.solve_triangular(chol, diff, upper=False)      # L⁻¹ (x − μ)
    mahalanobis = solved.pow(2).sum(1)                                   # (K, N)
    log_det = 2 * torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)   # (K,)
    log_normal = -0.5 * (d * LOG_2PI + log_det[:, None] + mahalanobis)
    return (weights.log()[:, None] + log_normal).T


def gmm_log_likelihood(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                       covariances: torch.Tensor) -> torch.Tensor:
    """log p(x_n) = logsumexp_k [log π_k + log N(x_n | μ_k, Σ_k)], shape (N,)."""
    return torch.logsumexp(gmm_log_joint(x, weights, means, covariances), 1)


def e_step(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
           covariances: torch.Tensor) -> torch.Tensor:
    """The responsibilities r_nk = p(z_n = k | x_n), shape (N, K), rows summing to 1: the log joint
    normalised in log space (log r = log joint − logsumexp over k), then exponentiated."""
    log_joint = gmm_log_joint(x, weights, means, covariances)
    return (log_joint - torch.logsumexp(log_joint, 1, keepdim=True)).exp()


def m_step(x: torch.Tensor, resp: torch.Tensor,
           reg_covar: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The closed-form maximiser of Σ_n Σ_k r_nk log[π_k N(x_n | μ_k, Σ_k)]: (weights (K,),
    means (K, d), covariances (K, d, d)).

    N_k = Σ_n r_nk + 10·eps (eps of the dtype), π_k = N_k / Σ_j N_j, μ_k = Σ_n r_nk x_n / N_k,
    Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k + reg_covar·I: exactly the update of
    sklearn.mixture.GaussianMixture(covariance_type="full"), so the fits equal sklearn's."""
    x, resp = check.tensor(x, "x"), check.tensor(resp, "resp")
    if resp.dim() != 2 or resp.shape[0] != x.shape[0]:
        raise ValueError(f"resp must have shape (N, K) with N = {x.shape[0]} rows, got "
                         f"{tuple(resp.shape)}")
    nk = resp.sum(0) + 10 * torch.finfo(resp.dtype).eps
    means = resp.T @ x / nk[:, None]
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    covariances = torch.stack([
        (resp[:, k, None] * (x - means[k])).T @ (x - means[k]) / nk[k] + reg_covar * eye
        for k in range(resp.shape[1])])
    return nk / nk.sum(), means, covariances


def fit_gmm(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor,
            iterations: int, reg_covar: float = 1e-6,
            callback: Callable[[int, tuple, list], None] | None = None) -> tuple[tuple, list[float]]:
    """EM from the given parameters for ``iterations`` (E-step, M-step) rounds; no stopping rule.

    Returns ((weights, means, covariances), history) where history[t] is the mean log-likelihood
    per point (nats) after t iterations: history[0] at the initial parameters, len = iterations + 1.
    ``callback(t, params, history)`` runs after each iteration t = 1, 2, ..., with the parameters
    after t iterations, whose mean log-likelihood is history[t]."""
    iterations = check.count(iterations, "iterations", minimum=0)
    params = (weights, means, covariances)
    history = []
    for t in range(iterations + 1):
        log_joint = gmm_log_joint(x, *params)
        log_px = torch.logsumexp(log_joint, 1, keepdim=True)
        history.append(log_px.mean().item())
        if t > 0 and callback is not None:
            callback(t, params, history)
        if t == iterations:
            break
        params = m_step(x, (log_joint - log_px).exp(), reg_covar)
    return params, history


# --- relaxed and score-function gradients ---------------------------------------------------------

def sample_gumbel(shape, dtype=torch.float32, device=None) -> torch.Tensor:
    """Standard Gumbel noise g = −log(−log U), U ~ Uniform(0, 1) (U kept away from 0)."""
    u = torch.rand(shape, dtype=dtype, device=device).clamp_min(torch.finfo(dtype).tiny)
    return -torch.log(-torch.log(u))


def gumbel_softmax(logits: torch.Tensor, tau: float, gumbel: torch.Tensor | None = None) -> torch.Tensor:
    """A relaxed one-hot sample softmax((logits + g)/τ) over the last dimension, shape of
    ``logits + gumbel``; g standard Gumbel noise (drawn when ``gumbel`` is None). As τ → 0 it tends
    to the one-hot of argmax(logits + g), a sample of Categorical(logits) (Gumbel-max); the sample is
    a differentiable function of the logits (Jang et al., 2017; Maddison et al., 2017)."""
    tau = check.positive_number(tau, "tau")
    if gumbel is None:
        gumbel = sample_gumbel(logits.shape, logits.dtype, logits.device)
    return torch.softmax((logits + gumbel) / tau, -1)


def straight_through(logits: torch.Tensor, tau: float,
                     gumbel: torch.Tensor | None = None) -> torch.Tensor:
    """Straight-through Gumbel-softmax: the forward value is the hard one-hot of argmax(logits + g)
    (an exact categorical sample), the gradient is that of the relaxed sample:
    hard − soft.detach() + soft."""
    if gumbel is None:
        gumbel = sample_gumbel(logits.shape, logits.dtype, logits.device)
    soft = gumbel_softmax(logits, tau, gumbel)
    hard = F.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


def rloo_surrogate(log_q: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Leave-one-out REINFORCE (Kool, van Hoof & Welling, 2019), to MAXIMISE: per image (N,),
    mean over the S samples of f_s + (f_s − b_s)·(log q_s − stopgrad log q_s), with the baseline
    b_s = mean of f over the other S − 1 samples (detached).

    log_q: log q(z_s | x) of S ≥ 2 samples, shape (S, N); f: their values, shape (S, N), e.g. the
    per-sample ELBO. The value is the mean of f. The score part's gradient is
    (1/S) Σ_s (f_s − b_s) ∇log q_s = 1/(S−1) Σ_s (f_s − f̄) ∇log q_s, unbiased for ∇ E_q[f] with f
    held fixed; any gradient ``f`` itself carries (e.g. to a decoder) is added unchanged, so detach
    what should not be differentiated. Negate it for a loss."""
    if log_q.shape != f.shape or log_q.dim() < 1 or log_q.shape[0] < 2:
        raise ValueError(f"log_q and f must share a shape (S, ...) with S ≥ 2 samples, got "
                         f"{tuple(log_q.shape)} and {tuple(f.shape)}")
    s = f.shape[0]
    f_fixed = f.detach()
    baseline = (f_fixed.sum(0, keepdim=True) - f_fixed) / (s - 1)
    return (f + (f_fixed - baseline) * (log_q - log_q.detach())).mean(0)


# --- the categorical VAE ---------------------------------------------------------------------------

class CategoricalEncoder(nn.Module):
    """q_φ(z|x) = Categorical(logits(x)): pixels (N, 784) -> logits (N, K), the unit-04 MLP body."""

    def __init__(self, k: int = 10, hidden_dim: int = 256, x_dim: int = 784):
        super().__init__()
        k, hidden_dim, x_dim = (check.count(v, n) for v, n in ((k, "k"), (hidden_dim, "hidden_dim"),
                                                                (x_dim, "x_dim")))
        self.net = nn.Sequential(nn.Linear(x_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CategoricalVAE(nn.Module):
    """p(z) = 1/K uniform, p_θ(x|z) = Bernoulli(logits = decoder(onehot(z))) with unit 04's
    ``utils.vae.Decoder(z_dim=K)``, and the guide q_φ(z|x) = Categorical(encoder(x))."""

    def __init__(self, k: int = 10, hidden_dim: int = 256):
        super().__init__()
        self.k = check.count(k, "k", minimum=2)
        self.encoder = CategoricalEncoder(k, hidden_dim)
        self.decoder = Decoder(z_dim=k, hidden_dim=hidden_dim)


def log_px_given_z(vae: CategoricalVAE, x: torch.Tensor, z_onehot: torch.Tensor) -> torch.Tensor:
    """log p_θ(x|z) per image, summed over pixels: z_onehot (..., N, K) (one-hot or relaxed),
    x (N, 784) broadcast over the leading sample dimensions; shape (..., N)."""
    logits = vae.decoder(z_onehot)
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)


def log_px_all(vae: CategoricalVAE, x: torch.Tensor) -> torch.Tensor:
    """log p_θ(x | z = k) for every k and image, shape (K, N): the K codes are decoded once (the
    decoder sees only z) and scored against every image, Σ_i [x_i f_ki − softplus(f_ki)]."""
    codes = torch.eye(vae.k, dtype=x.dtype, device=x.device)
    logits = vae.decoder(codes)                                          # (K, 784)
    return logits @ x.T - F.softplus(logits).sum(-1, keepdim=True)


def categorical_kl(logits: torch.Tensor) -> torch.Tensor:
    """KL(q ‖ uniform) = Σ_k q_k log q_k + log K per image, q = softmax(logits): shape (N,)."""
    log_q = torch.log_softmax(logits, -1)
    return (log_q.exp() * log_q).sum(-1) + math.log(logits.shape[-1])


def negative_elbo_exact(vae: CategoricalVAE, x: torch.Tensor,
                        logits: torch.Tensor | None = None) -> torch.Tensor:
    """−ELBO per image by enumeration, shape (N,):
    −Σ_k q_k [log p(x|k) + log p(k) − log q_k] = −Σ_k q_k log p(x|k) + KL(q ‖ uniform)."""
    logits = vae.encoder(x) if logits is None else logits
    q = torch.softmax(logits, -1)
    return -(q * log_px_all(vae, x).T).sum(-1) + categorical_kl(logits)


def _samples(logits: torch.Tensor, samples: int, z: torch.Tensor | None) -> torch.Tensor:
    """S category indices per image, shape (S, N): ``z`` if given, else drawn from q."""
    if z is not None:
        return z.reshape(-1, logits.shape[0])
    samples = check.count(samples, "samples")
    return torch.distributions.Categorical(logits=logits).sample((samples,))


def score_function_loss(vae: CategoricalVAE, x: torch.Tensor, samples: int = 1,
                        baseline: str = "none", z: torch.Tensor | None = None,
                        analytic_kl: bool = True, logits: torch.Tensor | None = None) -> torch.Tensor:
    """A REINFORCE loss per image (N,): value = S-sample estimate of the −ELBO, gradient =
    −[(f_s − b_s) ∇_φ log q(z_s|x) + ∇_θ log p(x|z_s)] averaged over the S samples ``z`` (S, N).

    f_s = log p(x|z_s) with the KL to the prior in closed form (``analytic_kl=True``, the default),
    or f_s = log p(x|z_s) + log p(z_s) − log q(z_s|x) (``analytic_kl=False``: Pyro's
    TraceGraph_ELBO form, in which −log q's own, mean-zero gradient is left out).
    ``baseline``: "none"; "batch": b = mean of f over the *other* images of the minibatch (same
    sample index), detached; "rloo": b_s = mean of f over the image's other S − 1 samples.
    ``logits``: the encoder's output for ``x`` if already computed (every loss here takes it)."""
    logits = vae.encoder(x) if logits is None else logits
    z = _samples(logits, samples, z)
    log_q_all = torch.log_softmax(logits, -1)
    log_q = log_q_all.gather(-1, z.T).T                                  # (S, N)
    f = log_px_given_z(vae, x, F.one_hot(z, vae.k).to(x.dtype))
    if not analytic_kl:
        f = f - math.log(vae.k) - log_q.detach()
    f_fixed = f.detach()
    if baseline == "rloo":
        return -rloo_surrogate(log_q, f) + _kl_part(logits, analytic_kl)
    if baseline == "none":
        b = torch.zeros_like(f_fixed)
    elif baseline == "batch":
        n = f.shape[1]
        if n < 2:
            raise ValueError("the batch baseline needs at least 2 images in the minibatch")
        b = (f_fixed.sum(1, keepdim=True) - f_fixed) / (n - 1)
    else:
        raise ValueError(f"baseline must be 'none', 'batch' or 'rloo', got {baseline!r}")
    surrogate = f + (f_fixed - b) * (log_q - log_q.detach())
    return -surrogate.mean(0) + _kl_part(logits, analytic_kl)


def _kl_part(logits: torch.Tensor, analytic_kl: bool) -> torch.Tensor:
    return categorical_kl(logits) if analytic_kl else torch.zeros_like(logits[:, 0])


def reinforce_loss(vae, x, samples: int = 1, z=None, analytic_kl: bool = True,
                   logits=None) -> torch.Tensor:
    """Plain REINFORCE: :func:`score_function_loss` with no baseline."""
    return score_function_loss(vae, x, samples, "none", z, analytic_kl, logits)


def reinforce_baseline_loss(vae, x, samples: int = 1, z=None, analytic_kl: bool = True,
                            logits=None) -> torch.Tensor:
    """REINFORCE with the batch baseline: b = mean of f over the other images of the minibatch."""
    return score_function_loss(vae, x, samples, "batch", z, analytic_kl, logits)


def rloo_loss(vae, x, samples: int = 4, z=None, analytic_kl: bool = True,
              logits=None) -> torch.Tensor:
    """RLOO with S ≥ 2 samples per image (:func:`rloo_surrogate`), negated, plus the closed-form KL."""
    return score_function_loss(vae, x, samples, "rloo", z, analytic_kl, logits)


def gumbel_softmax_loss(vae: CategoricalVAE, x: torch.Tensor, tau: float = 1.0, samples: int = 1,
                        gumbel: torch.Tensor | None = None,
                        logits: torch.Tensor | None = None) -> torch.Tensor:
    """The relaxed −ELBO per image (N,): −mean_s log p(x | y_s) + KL(q ‖ uniform), y_s the
    Gumbel-softmax sample at temperature τ (``gumbel``: noise of shape (S, N, K)). Decoding a
    relaxed y is not the model's likelihood, so value and gradient are both biased; pathwise."""
    logits = vae.encoder(x) if logits is None else logits
    if gumbel is None:
        gumbel = sample_gumbel((check.count(samples, "samples"), *logits.shape), logits.dtype,
                               logits.device)
    y = gumbel_softmax(logits, tau, gumbel)
    return -log_px_given_z(vae, x, y).mean(0) + categorical_kl(logits)


def straight_through_loss(vae: CategoricalVAE, x: torch.Tensor, tau: float = 1.0,
                          samples: int = 1, gumbel: torch.Tensor | None = None,
                          logits: torch.Tensor | None = None) -> torch.Tensor:
    """Straight-through Gumbel-softmax per image (N,): the value is an unbiased S-sample −ELBO
    (the decoder sees exact one-hot samples), the gradient the relaxed one's (biased)."""
    logits = vae.encoder(x) if logits is None else logits
    if gumbel is None:
        gumbel = sample_gumbel((check.count(samples, "samples"), *logits.shape), logits.dtype,
                               logits.device)
    y = straight_through(logits, tau, gumbel)
    return -log_px_given_z(vae, x, y).mean(0) + categorical_kl(logits)


def exact_loss(vae, x, logits=None) -> torch.Tensor:
    """:func:`negative_elbo_exact`, the reference: exact value, exact gradient."""
    return negative_elbo_exact(vae, x, logits)


def exact_loss_per_image(vae: CategoricalVAE, x: torch.Tensor) -> torch.Tensor:
    """The same −ELBO by enumeration, decoding all K codes for every image (K·N decoder passes),
    as a model whose decoder also sees the image (or a second latent) must: what enumeration
    costs in general. Equal to :func:`negative_elbo_exact` up to rounding."""
    logits = vae.encoder(x)
    codes = torch.eye(vae.k, dtype=x.dtype, device=x.device)[:, None].expand(vae.k, len(x), vae.k)
    q = torch.softmax(logits, -1)
    return -(q * log_px_given_z(vae, x, codes).T).sum(-1) + categorical_kl(logits)


# --- gradients, training and clusters --------------------------------------------------------------

def gradient_moments(vae: CategoricalVAE, x: torch.Tensor,
                     loss_from_logits: Callable[[torch.Tensor], torch.Tensor],
                     repeats: int, chunk: int = 20) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Mean and variance over ``repeats`` independent draws of the gradient of
    ``loss_from_logits(logits).mean()`` on the minibatch ``x``, float64 on the CPU:
    {'logits': (mean, variance) each (N, K), 'encoder': (mean, variance) each (P,), one entry per
    encoder parameter}.

    ``loss_from_logits`` computes a per-image loss from the encoder's logits (fresh noise each call).
    The encoder runs once; each draw's gradient with respect to the logits is pulled back to the
    encoder's parameters by batched vector-Jacobian products, ``chunk`` draws at a time. Sums are
    taken of g − (the first draw), so a deterministic gradient has variance exactly 0."""
    repeats = check.count(repeats, "repeats", minimum=2)
    params = list(vae.encoder.parameters())
    logits = vae.encoder(x)
    leaf = logits.detach().requires_grad_()
    sums: dict[str, list] = {}
    for start in range(0, repeats, chunk):
        d_logits = torch.stack([torch.autograd.grad(loss_from_logits(leaf).mean(), leaf)[0]
                                for _ in range(min(chunk, repeats - start))])
        grads = torch.autograd.grad(logits, params, grad_outputs=d_logits, retain_graph=True,
                                    is_grads_batched=True)
        flat = {"logits": d_logits.cpu().double(),
                "encoder": torch.cat([g.reshape(len(d_logits), -1) for g in grads], 1).cpu().double()}
        for key, g in flat.items():
            if key not in sums:
                sums[key] = [g[0].clone(), 0.0, 0.0]
            shifted = g - sums[key][0]
            sums[key][1] = sums[key][1] + shifted.sum(0)
            sums[key][2] = sums[key][2] + shifted.pow(2).sum(0)
    out = {}
    for key, (shift, total, total_sq) in sums.items():
        mean = total / repeats
        out[key] = (shift + mean, ((total_sq - repeats * mean.pow(2)) / (repeats - 1)).clamp_min(0))
    return out


def bias_and_variance(mean: torch.Tensor, variance: torch.Tensor, exact: torch.Tensor,
                      repeats: int) -> dict[str, float]:
    """Summaries of an estimator's gradient against the exact one ``exact`` (P,), from the mean and
    per-parameter variance over ``repeats`` draws: 'variance' (mean per parameter, one draw),
    'bias' = ‖E ĝ − g‖/‖g‖ estimated without its noise (‖ḡ − g‖² − Σ var / R, clipped at 0, then
    the square root), 'noise_ratio' = ‖ḡ − g‖² / (Σ var / R), about 1 for an unbiased estimator,
    'noise' = √(Σ var / R)/‖g‖, the expected distance of the mean of R draws from its expectation
    relative to ‖g‖ (a bias well below it cannot be told from noise), and 'gradient_norm' = ‖g‖."""
    gap = (mean - exact).pow(2).sum().item()
    noise = variance.sum().item() / repeats
    norm = exact.pow(2).sum().sqrt().item()
    return {"variance": variance.mean().item(), "bias": math.sqrt(max(gap - noise, 0.0)) / norm,
            "noise_ratio": gap / noise if noise > 0 else math.inf, "gradient_norm": norm,
            "noise": math.sqrt(noise) / norm}


@torch.no_grad()
def evaluate(vae: CategoricalVAE, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean exact −ELBO (enumeration) in nats per image over the binary images ``x``."""
    total = sum(negative_elbo_exact(vae, xb).sum().item()
                for (xb,) in minibatches(x, batch_size=batch_size, shuffle=False))
    return total / len(x)


def train(vae: CategoricalVAE, loss_fn: Callable, train_x: torch.Tensor, val_x: torch.Tensor | None,
          steps: int, evaluations: int = 10, batch_size: int = 128, lr: float = 1e-3,
          seed: int = 0, desc: str | None = "steps",
          track: dict[str, Callable[[CategoricalVAE], float]] | None = None) -> dict[str, list]:
    """``steps`` Adam steps (fused, constant ``lr``) on ``loss_fn(vae, x).mean()``, minibatches of
    ``train_x`` shuffled by a generator seeded with ``seed`` (epoch after epoch) and binarized
    afresh. The exact −ELBO on ``val_x`` is measured ``evaluations`` times, evenly spaced.
    Returns {'step': [...], 'train': [...], 'validation': [...]}: at each evaluation, the step
    count, the mean training loss since the last evaluation and the validation −ELBO (nats).
    ``track``: optional {name: fn}; each ``fn(vae)`` (a float, e.g. how many codes are in use) is
    also recorded at every evaluation, under its own name in the returned dict, without gradients.
    A NaN or infinite loss stops training there, with a RuntimeWarning (as :func:`utils.vae.fit`)."""
    steps, evaluations = check.count(steps, "steps"), check.count(evaluations, "evaluations")
    track = dict(track or {})
    if any(name in ("step", "train", "validation") or not callable(fn) for name, fn in track.items()):
        raise ValueError("track must map new names (not 'step', 'train' or 'validation') to "
                         "functions of the model, e.g. {'codes': lambda vae: ...}")
    check.unit_interval(check.float_tensor(train_x, "train_x"), "train_x")
    opt = adam(vae.parameters(), lr, fused=True)
    gen = torch.Generator().manual_seed(check.count(seed, "seed", minimum=0))
    marks = {round(steps * (i + 1) / evaluations) for i in range(evaluations)}
    history: dict[str, list] = {"step": [], "train": [], "validation": [], **{name: [] for name in track}}
    batches, running, seen = iter(()), 0.0, 0
    for step in progress(range(1, steps + 1), desc=desc) if desc else range(1, steps + 1):
        xb = next(batches, None)
        if xb is None:
            batches = iter(minibatches(train_x, batch_size=batch_size, generator=gen))
            xb = next(batches)
        loss = loss_fn(vae, binarize(xb[0])).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()
        if not math.isfinite(value):
            _warn_diverged(f"the loss became {value} at step {step}", rate="lr", stacklevel=3)
            break
        running, seen = running + value, seen + 1
        if step in marks:
            history["step"].append(step)
            history["train"].append(running / seen)
            history["validation"].append(evaluate(vae, val_x) if val_x is not None else math.nan)
            with torch.no_grad():
                for name, fn in track.items():
                    history[name].append(float(fn(vae)))
            running, seen = 0.0, 0
    return history


def purity(labels: torch.Tensor, clusters: torch.Tensor) -> float:
    """Σ_k max_c |{n: cluster k, label c}| / N: the share of points whose cluster's most common
    label is their own."""
    labels, clusters = labels.cpu().long(), clusters.cpu().long()
    counts = torch.zeros(int(clusters.max()) + 1, int(labels.max()) + 1, dtype=torch.long)
    counts.index_put_((clusters, labels), torch.ones_like(labels), accumulate=True)
    return counts.max(1).values.sum().item() / len(labels)


__all__ = ["gmm_log_joint", "gmm_log_likelihood", "e_step", "m_step", "fit_gmm", "sample_gumbel",
           "gumbel_softmax", "straight_through", "rloo_surrogate", "CategoricalEncoder",
           "CategoricalVAE", "log_px_given_z", "log_px_all", "categorical_kl", "negative_elbo_exact",
           "score_function_loss", "reinforce_loss", "reinforce_baseline_loss", "rloo_loss",
           "gumbel_softmax_loss", "straight_through_loss", "exact_loss", "exact_loss_per_image",
           "gradient_moments", "bias_and_variance", "evaluate", "train", "purity"]
