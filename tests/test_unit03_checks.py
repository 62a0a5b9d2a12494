"""Unit 03 self-checks: pass on reference estimators, fail on stubs and on typical wrong answers."""
import pytest
import torch
from torch.distributions import Normal

from utils.checks import SelfCheckFailed, unit03
from utils.vae import gaussian_kl, log_likelihood
from utils.vae import reinforce_negative_elbo as surrogate   # the reference: one copy, in utils.vae


pytestmark = pytest.mark.usefixtures("one_thread")


# ---- reference estimators (as in solutions/03_gradient_estimators.md) -------------------------
def score(eps, sigma):
    return torch.stack([eps / sigma, (eps**2 - 1) / sigma], dim=-1)


def reinforce(f, mu, sigma, eps):
    return (f(mu + sigma * eps).unsqueeze(-1) * score(eps, sigma)).mean(-2)


def pathwise(f, mu, sigma, eps):
    z = (mu + sigma * eps).detach().requires_grad_()
    (df,) = torch.autograd.grad(f(z).sum(), z)
    return (df.unsqueeze(-1) * torch.stack([torch.ones_like(eps), eps], -1)).mean(-2)


def loo(f, mu, sigma, eps):
    fz = f(mu + sigma * eps)
    b = (fz.sum(-1, keepdim=True) - fz) / (eps.shape[-1] - 1)
    return ((fz - b).unsqueeze(-1) * score(eps, sigma)).mean(-2)


def stub(*args, **kwargs):
    raise NotImplementedError("exercise: write this part")


@pytest.fixture(scope="module")
def x():
    gen = torch.Generator().manual_seed(0)
    return torch.bernoulli(torch.full((32, 784), 0.3), generator=gen)


# ---- exact variances -----------------------------------------------------------------------------
def test_exact_pathwise_variance_of_quadratic_matches_closed_form():
    # f' = 2(z - k): Var[2(z - k)] = 4 sigma^2; Var[2(z - k) eps] = 4 (mu - k)^2 + 8 sigma^2
    s, m, k = unit03.SIGMA, unit03.MU, unit03.SHIFT
    expected = torch.tensor([4 * s**2, 4 * (m - k) ** 2 + 8 * s**2], dtype=torch.float64) / 4
    torch.testing.assert_close(unit03.exact_variances("quadratic", "pathwise", 4), expected)


def test_exact_loo_variance_approaches_constant_baseline_value_for_large_s():
    big = 10**6
    limit = unit03.exact_variances("quadratic", "loo", big) * big
    assert limit[0] < unit03.exact_variances("quadratic", "reinforce", 1)[0]


# ---- REINFORCE -----------------------------------------------------------------------------------
def test_reinforce_check_passes_on_reference(capsys):
    unit03.check_reinforce(reinforce)
    assert "\u2717" not in capsys.readouterr().out


def test_reinforce_check_fails_on_stub(capsys):
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce(stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_reinforce_check_fails_without_one_over_sigma():
    wrong = lambda f, mu, sigma, eps: reinforce(f, mu, sigma, eps) * sigma
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce(wrong)


def test_reinforce_check_fails_when_score_for_sigma_lacks_minus_one():
    def wrong(f, mu, sigma, eps):
        return (f(mu + sigma * eps).unsqueeze(-1) * torch.stack([eps / sigma, eps**2 / sigma], -1)).mean(-2)
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce(wrong)


def test_reinforce_check_fails_on_unaveraged_samples(capsys):
    wrong = lambda f, mu, sigma, eps: f(mu + sigma * eps).unsqueeze(-1) * score(eps, sigma)
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce(wrong)
    assert "expected shape" in capsys.readouterr().out


# ---- pathwise ------------------------------------------------------------------------------------
def test_pathwise_check_passes_on_reference(capsys):
    unit03.check_pathwise(pathwise)
    assert "\u2717" not in capsys.readouterr().out


def test_pathwise_check_fails_on_stub():
    with pytest.raises(SelfCheckFailed):
        unit03.check_pathwise(stub)


def test_pathwise_check_fails_without_dz_dsigma_equal_eps():
    def wrong(f, mu, sigma, eps):
        z = (mu + sigma * eps).detach().requires_grad_()
        (df,) = torch.autograd.grad(f(z).sum(), z)
        return torch.stack([df, df], -1).mean(-2)
    with pytest.raises(SelfCheckFailed):
        unit03.check_pathwise(wrong)


def test_pathwise_check_fails_on_an_unbiased_but_noisier_estimator():
    # REINFORCE is unbiased too: only the variance check can tell it from the pathwise estimator
    with pytest.raises(SelfCheckFailed):
        unit03.check_pathwise(reinforce)


# ---- leave-one-out baseline ----------------------------------------------------------------------
def test_loo_check_passes_on_reference(capsys):
    unit03.check_loo_baseline(loo)
    assert "\u2717" not in capsys.readouterr().out


def test_loo_check_fails_on_stub():
    with pytest.raises(SelfCheckFailed):
        unit03.check_loo_baseline(stub)


def test_loo_check_fails_when_baseline_includes_own_sample():
    def wrong(f, mu, sigma, eps):
        fz = f(mu + sigma * eps)
        return ((fz - fz.mean(-1, keepdim=True)).unsqueeze(-1) * score(eps, sigma)).mean(-2)
    with pytest.raises(SelfCheckFailed):
        unit03.check_loo_baseline(wrong)


def test_loo_check_fails_without_a_baseline():
    with pytest.raises(SelfCheckFailed):
        unit03.check_loo_baseline(reinforce)


# ---- variance order ------------------------------------------------------------------------------
def test_variance_order_check_passes_on_reference(capsys):
    unit03.check_variance_order(reinforce, pathwise, loo)
    assert "\u2717" not in capsys.readouterr().out


def test_variance_order_check_fails_on_stub():
    with pytest.raises(SelfCheckFailed):
        unit03.check_variance_order(stub, pathwise, loo)


def test_variance_order_check_fails_when_estimators_are_swapped():
    with pytest.raises(SelfCheckFailed):
        unit03.check_variance_order(pathwise, reinforce, loo)


# ---- VAE surrogate -------------------------------------------------------------------------------
def test_surrogate_check_passes_on_reference(x, capsys):
    unit03.check_reinforce_surrogate(surrogate, x, repeats=200)
    assert "\u2717" not in capsys.readouterr().out


def test_surrogate_check_fails_on_stub(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce_surrogate(stub, x, repeats=200)
    assert "not implemented yet" in capsys.readouterr().out


def test_surrogate_check_fails_without_score_term(x):
    def wrong(vae, x, eps, baseline=0.0):
        z_loc, z_scale = vae.encoder(x)
        z = (z_loc + z_scale * eps).detach()
        log_px_z = log_likelihood(vae, x, z)
        return gaussian_kl(z_loc, z_scale) - log_px_z
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce_surrogate(wrong, x, repeats=200)


def test_surrogate_check_fails_with_flipped_sign_of_score_term(x):
    def wrong(vae, x, eps, baseline=0.0):
        z_loc, z_scale = vae.encoder(x)
        z = (z_loc + z_scale * eps).detach()
        log_px_z = log_likelihood(vae, x, z)
        log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)
        return gaussian_kl(z_loc, z_scale) - log_px_z + (log_px_z.detach() - baseline) * (log_q - log_q.detach())
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce_surrogate(wrong, x, repeats=200)


def test_surrogate_check_fails_when_z_is_not_detached(x):
    def wrong(vae, x, eps, baseline=0.0):
        z_loc, z_scale = vae.encoder(x)
        z = z_loc + z_scale * eps
        log_px_z = log_likelihood(vae, x, z)
        log_q = Normal(z_loc, z_scale).log_prob(z.detach()).sum(-1)
        return gaussian_kl(z_loc, z_scale) - log_px_z - (log_px_z.detach() - baseline) * (log_q - log_q.detach())
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce_surrogate(wrong, x, repeats=200)


def test_surrogate_check_fails_when_baseline_is_ignored(x):
    wrong = lambda vae, x, eps, baseline=0.0: surrogate(vae, x, eps, 0.0)
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce_surrogate(wrong, x, repeats=200)


def test_surrogate_check_fails_when_value_is_not_the_elbo(x, capsys):
    def wrong(vae, x, eps, baseline=0.0):
        z_loc, z_scale = vae.encoder(x)
        z = (z_loc + z_scale * eps).detach()
        log_px_z = log_likelihood(vae, x, z)
        log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)
        return gaussian_kl(z_loc, z_scale) - log_px_z - (log_px_z.detach() - baseline) * log_q
    with pytest.raises(SelfCheckFailed):
        unit03.check_reinforce_surrogate(wrong, x, repeats=200)
    assert "differs from negative_elbo" in capsys.readouterr().out
