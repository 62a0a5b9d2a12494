"""utils.discrete (unit 07): the mixture and EM against scikit-learn, the relaxations, RLOO and the
categorical VAE's losses against their definitions. Tiny data only: fast."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from utils import discrete
from utils.discrete import (CategoricalVAE, e_step, fit_gmm, gmm_log_joint, gmm_log_likelihood,
                            gumbel_softmax, log_px_all, m_step, negative_elbo_exact, rloo_surrogate,
                            straight_through)

DTYPE = torch.float64


def _mixture_problem(n=300, d=3, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(k, d, generator=g, dtype=DTYPE)
    x = centres[torch.randint(k, (n,), generator=g)] + torch.randn(n, d, generator=g, dtype=DTYPE)
    weights = torch.full((k,), 1 / k, dtype=DTYPE)
    means = x[:k].clone()
    covariances = torch.cov(x.T).expand(k, d, d).clone()
    return x, weights, means, covariances


def test_log_joint_equals_torch_distributions():
    x, weights, means, covariances = _mixture_problem()
    mvn = torch.distributions.MultivariateNormal(means, covariance_matrix=covariances)
    expected = weights.log() + mvn.log_prob(x[:, None, :])
    torch.testing.assert_close(gmm_log_joint(x, weights, means, covariances), expected)
    torch.testing.assert_close(gmm_log_likelihood(x, weights, means, covariances),
                               torch.logsumexp(expected, 1))


def test_e_step_and_m_step_equal_sklearn():
    from sklearn.mixture import GaussianMixture
    x, weights, means, covariances = _mixture_problem()
    gm = GaussianMixture(3, covariance_type="full", weights_init=weights.numpy(),
                         means_init=means.numpy(), precisions_init=torch.linalg.inv(covariances).numpy(),
                         max_iter=1, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(x.numpy())                       # one E-step and one M-step from the initialisation
    resp = e_step(x, weights, means, covariances)
    torch.testing.assert_close(resp.sum(1), torch.ones(len(x), dtype=DTYPE))
    new = m_step(x, resp)
    for mine, theirs in zip(new, (gm.weights_, gm.means_, gm.covariances_)):
        torch.testing.assert_close(mine, torch.from_numpy(theirs), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(e_step(x, *new), torch.from_numpy(gm.predict_proba(x.numpy())),
                               rtol=1e-8, atol=1e-12)


def test_fit_gmm_equals_sklearn_score_and_never_lowers_the_likelihood():
    from sklearn.mixture import GaussianMixture
    x, weights, means, covariances = _mixture_problem(seed=1)
    params, history = fit_gmm(x, weights, means, covariances, iterations=15)
    assert len(history) == 16
    assert all(b >= a - 1e-12 for a, b in zip(history, history[1:]))
    assert history[-1] > history[0]
    gm = GaussianMixture(3, covariance_type="full", weights_init=weights.numpy(),
                         means_init=means.numpy(), precisions_init=torch.linalg.inv(covariances).numpy(),
                         max_iter=15, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(x.numpy())
    assert history[-1] == pytest.approx(gm.score(x.numpy()), abs=1e-9)
    assert gmm_log_likelihood(x, *params).mean().item() == pytest.approx(history[-1], abs=1e-12)


def test_fit_gmm_callback_sees_every_iteration():
    x, weights, means, covariances = _mixture_problem()
    seen = []
    fit_gmm(x, weights, means, covariances, 3, callback=lambda t, p, h: seen.append((t, len(h))))
    assert seen == [(1, 2), (2, 3), (3, 4)]


def test_gumbel_softmax_is_a_distribution_and_tends_to_the_argmax():
    torch.manual_seed(0)
    logits = torch.randn(5, 4)
    g = discrete.sample_gumbel((5, 4))
    y = gumbel_softmax(logits, 0.7, g)
    torch.testing.assert_close(y.sum(-1), torch.ones(5))
    assert (y > 0).all()
    cold = gumbel_softmax(logits.double(), 1e-3, g.double())
    torch.testing.assert_close(cold, F.one_hot((logits + g).argmax(-1), 4).double())


def test_gumbel_max_samples_the_categorical():
    torch.manual_seed(0)
    logits = torch.tensor([0.5, -1.0, 1.5])
    z = (logits + discrete.sample_gumbel((200_000, 3))).argmax(-1)
    freq = torch.bincount(z, minlength=3) / len(z)
    torch.testing.assert_close(freq, torch.softmax(logits, 0), atol=5e-3, rtol=0)


def test_straight_through_is_one_hot_forward_and_soft_backward():
    torch.manual_seed(1)
    logits = torch.randn(6, 5, requires_grad=True)
    g = discrete.sample_gumbel((6, 5))
    weights = torch.randn(6, 5)
    hard = straight_through(logits, 0.5, g)
    torch.testing.assert_close(hard.detach(), F.one_hot((logits + g).argmax(-1), 5).float())
    (grad_hard,) = torch.autograd.grad((hard * weights).sum(), logits)
    (grad_soft,) = torch.autograd.grad((gumbel_softmax(logits, 0.5, g) * weights).sum(), logits)
    torch.testing.assert_close(grad_hard, grad_soft)


def test_rloo_surrogate_value_and_unbiased_gradient():
    """On a fixed f(k) table, the mean RLOO gradient over many draws equals ∇ Σ_k q_k f(k)."""
    torch.manual_seed(0)
    f_table = torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 4.0, -1.0, 2.0]], dtype=DTYPE)   # (N, K)
    phi = torch.tensor([[0.2, -0.4, 0.9, 0.0], [1.0, 0.1, -0.3, 0.5]], dtype=DTYPE, requires_grad=True)
    (exact,) = torch.autograd.grad((torch.softmax(phi, -1) * f_table).sum(), phi)
    S, R = 4, 20_000
    log_q_all = torch.log_softmax(phi, -1)
    z = torch.distributions.Categorical(logits=phi.detach()).sample((R, S))     # (R, S, N)
    log_q = log_q_all.expand(R, S, 2, 4).gather(-1, z[..., None])[..., 0]
    f = f_table.expand(R, S, 2, 4).gather(-1, z[..., None])[..., 0]
    surrogate = rloo_surrogate(log_q.transpose(0, 1), f.transpose(0, 1))          # (R, N)
    torch.testing.assert_close(surrogate.detach(), f.mean(1))                    # value: mean of f
    (estimate,) = torch.autograd.grad(surrogate.sum() / R, phi)
    torch.testing.assert_close(estimate, exact, atol=0.03, rtol=0)
    with pytest.raises(ValueError):
        rloo_surrogate(log_q[0, :1], f[0, :1])


def _tiny_vae(seed=0, k=4):
    torch.manual_seed(seed)
    vae = CategoricalVAE(k=k, hidden_dim=16).double()
    x = torch.bernoulli(torch.full((5, 784), 0.3, dtype=DTYPE))
    return vae, x


def test_log_px_all_and_negative_elbo_exact_equal_a_hand_sum():
    vae, x = _tiny_vae()
    log_px = log_px_all(vae, x)
    assert log_px.shape == (4, 5)
    q = torch.softmax(vae.encoder(x), -1)
    hand = torch.zeros(5, dtype=DTYPE)
    for k in range(4):
        code = F.one_hot(torch.tensor(k), 4).to(DTYPE)
        log_px_k = torch.distributions.Bernoulli(logits=vae.decoder(code)).log_prob(x).sum(-1)
        torch.testing.assert_close(log_px[k], log_px_k)
        hand += q[:, k] * (log_px_k + math.log(1 / 4) - q[:, k].log())
    torch.testing.assert_close(negative_elbo_exact(vae, x), -hand)
    torch.testing.assert_close(discrete.exact_loss_per_image(vae, x), -hand)


def test_score_function_losses_value_and_gradient():
    vae, x = _tiny_vae(1)
    logits = vae.encoder(x).detach().requires_grad_()
    z = torch.tensor([[0, 1, 2, 3, 0], [1, 1, 0, 2, 3]])                          # (S=2, N=5)
    log_px = log_px_all(vae, x).detach()                                          # (K, N)
    f = log_px.gather(0, z)                                                       # (S, N)
    q = torch.softmax(logits.detach(), -1)
    onehot = F.one_hot(z, 4).to(DTYPE)
    kl = discrete.categorical_kl(logits)
    (grad_kl,) = torch.autograd.grad(kl.sum(), logits)
    baselines = {"none": torch.zeros_like(f), "batch": (f.sum(1, keepdim=True) - f) / 4,
                 "rloo": (f.sum(0, keepdim=True) - f) / 1}
    for name, b in baselines.items():
        loss = discrete.score_function_loss(vae, x, z=z, baseline=name, logits=logits)
        torch.testing.assert_close(loss.detach(), -f.mean(0) + kl.detach())
        (grad,) = torch.autograd.grad(loss.sum(), logits)
        expected = -((f - b)[..., None] * (onehot - q)).mean(0) + grad_kl
        torch.testing.assert_close(grad, expected, msg=name)


def test_plain_reinforce_is_unbiased_by_enumeration():
    """E_z[∇ reinforce_loss] = ∇ negative_elbo_exact, the expectation taken exactly over z."""
    vae, x = _tiny_vae(2)
    for analytic_kl in (True, False):
        logits = vae.encoder(x).detach().requires_grad_()
        (exact,) = torch.autograd.grad(negative_elbo_exact(vae, x, logits).sum(), logits)
        q = torch.softmax(logits.detach(), -1)
        mean = torch.zeros_like(exact)
        for k in range(4):            # every image draws k; image n's gradient depends on z_n only
            z = torch.full((1, 5), k)
            (g,) = torch.autograd.grad(discrete.reinforce_loss(vae, x, z=z, analytic_kl=analytic_kl,
                                                                logits=logits).sum(), logits)
            mean += q[:, k:k + 1] * g
        torch.testing.assert_close(mean, exact)


def test_relaxed_losses_shapes_and_straight_through_value():
    vae, x = _tiny_vae(3)
    g = discrete.sample_gumbel((3, 5, 4), DTYPE)
    st = discrete.straight_through_loss(vae, x, 0.5, gumbel=g)
    z = (vae.encoder(x) + g).argmax(-1)
    torch.testing.assert_close(st, discrete.reinforce_loss(vae, x, z=z))
    gs = discrete.gumbel_softmax_loss(vae, x, 0.5, gumbel=g)
    assert gs.shape == (5,) and torch.isfinite(gs).all()


def test_gradient_moments_and_bias_summary():
    vae, x = _tiny_vae(4)
    exact = discrete.gradient_moments(vae, x, lambda logits: negative_elbo_exact(vae, x, logits),
                                      repeats=3)
    assert float(exact["encoder"][1].max()) < 1e-30 and float(exact["logits"][1].max()) == 0
    params = list(vae.encoder.parameters())
    direct = torch.autograd.grad(negative_elbo_exact(vae, x).mean(), params)
    torch.testing.assert_close(exact["encoder"][0], torch.cat([g.flatten() for g in direct]))
    torch.manual_seed(0)
    x = torch.bernoulli(torch.full((40, 784), 0.3, dtype=DTYPE))      # 40 images: ~120 noise dims
    exact = discrete.gradient_moments(vae, x, lambda logits: negative_elbo_exact(vae, x, logits), 2)
    moments = discrete.gradient_moments(
        vae, x, lambda logits: discrete.rloo_loss(vae, x, 3, logits=logits), repeats=300, chunk=100)
    summary = discrete.bias_and_variance(*moments["logits"], exact["logits"][0], 300)
    assert 0.6 < summary["noise_ratio"] < 1.6                     # unbiased: the gap is the noise
    assert summary["noise"] == pytest.approx(
        math.sqrt(moments["logits"][1].sum().item() / 300) / summary["gradient_norm"])
    biased = discrete.gradient_moments(
        vae, x, lambda logits: discrete.gumbel_softmax_loss(vae, x, 2.0, logits=logits), 300, 100)
    assert discrete.bias_and_variance(*biased["logits"], exact["logits"][0], 300)["noise_ratio"] > 3


def test_train_and_purity():
    torch.manual_seed(0)
    vae = CategoricalVAE(k=3, hidden_dim=8)
    x = torch.rand(64, 784)
    history = discrete.train(vae, discrete.exact_loss, x, torch.bernoulli(x[:16]), steps=5,
                             evaluations=2, batch_size=16, desc=None)
    assert history["step"] == [2, 5] and len(history["validation"]) == 2
    assert all(math.isfinite(v) for v in history["validation"] + history["train"])
    torch.manual_seed(0)
    tracked = discrete.train(CategoricalVAE(k=3, hidden_dim=8), discrete.exact_loss, x, None, steps=4,
                             evaluations=2, batch_size=16, desc=None, track={"k": lambda v: v.k})
    assert tracked["k"] == [3.0, 3.0] and tracked["step"] == [2, 4]
    with pytest.raises(ValueError, match="track"):
        discrete.train(vae, discrete.exact_loss, x, None, steps=1, desc=None, track={"step": len})
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    assert discrete.purity(labels, torch.tensor([1, 1, 0, 0, 0, 2])) == pytest.approx(5 / 6)
    assert discrete.purity(labels, labels) == 1.0


def test_train_stops_with_a_warning_when_the_loss_diverges():
    vae, x = CategoricalVAE(k=3, hidden_dim=8), torch.rand(64, 784)
    calls = []

    def nan_at_step_3(vae, x):
        calls.append(1)
        loss = discrete.exact_loss(vae, x)
        return loss * math.nan if len(calls) == 3 else loss
    with pytest.warns(RuntimeWarning, match=r"loss became nan at step 3, so training stopped .*\(lr\)"):
        history = discrete.train(vae, nan_at_step_3, x, None, steps=10, evaluations=5,
                                 batch_size=16, desc=None)
    assert len(calls) == 3 and history["step"] == [2]
