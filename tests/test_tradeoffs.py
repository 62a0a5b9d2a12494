"""utils.tradeoffs, unit 06's reusable copy: rate and distortion, the β-weighted loss, KL warm-up,
the importance-weighted training loss and active units."""
import math

import pytest
import torch

import utils.tradeoffs
from torch.distributions import Normal, kl_divergence

from utils.tradeoffs import (KLWarmup, active_units, beta_negative_elbo, information_terms,
                             iwae_negative_bound, median_ratio, rate_distortion, seconds_per_step)
from utils.vae import VAE, gaussian_kl, log_likelihood, negative_elbo

N, Z_DIM = 16, 3


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(z_dim=Z_DIM, hidden_dim=32)


@pytest.fixture(scope="module")
def x():
    return torch.bernoulli(torch.rand(N, 784, generator=torch.Generator().manual_seed(1)))


def test_distortion_plus_rate_is_the_negative_elbo_with_the_same_noise(vae, x):
    eps = torch.randn(N, Z_DIM)
    distortion, rate = rate_distortion(vae, x, eps)
    assert distortion.shape == rate.shape == (N,)
    torch.testing.assert_close(distortion + rate, negative_elbo(vae, x, eps))


def test_rate_is_the_closed_form_kl_to_the_standard_normal(vae, x):
    _, rate = rate_distortion(vae, x, torch.zeros(N, Z_DIM))
    z_loc, z_scale = vae.encoder(x)
    torch.testing.assert_close(rate, kl_divergence(Normal(z_loc, z_scale), Normal(0.0, 1.0)).sum(-1))


def test_distortion_and_rate_are_non_negative(vae, x):
    distortion, rate = rate_distortion(vae, x)
    assert bool((distortion >= 0).all()) and bool((rate >= 0).all())


@pytest.mark.parametrize("beta", [0.0, 1.0, 3.5])
def test_beta_loss_is_distortion_plus_beta_times_rate(vae, x, beta):
    eps = torch.randn(N, Z_DIM)
    distortion, rate = rate_distortion(vae, x, eps)
    torch.testing.assert_close(beta_negative_elbo(vae, x, beta, eps), distortion + beta * rate)


def test_beta_one_is_the_negative_elbo(vae, x):
    eps = torch.randn(N, Z_DIM)
    torch.testing.assert_close(beta_negative_elbo(vae, x, 1.0, eps), negative_elbo(vae, x, eps))


def test_warmup_beta_rises_linearly_to_one_then_stays(vae, x):
    warmup = KLWarmup(4)
    betas = []
    for _ in range(7):
        betas.append(warmup.beta)
        warmup(vae, x)
    assert betas == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_warmup_loss_is_the_beta_loss_at_the_current_beta(vae, x):
    warmup = KLWarmup(2)
    warmup(vae, x)                                   # β was 0; now 0.5
    torch.manual_seed(3)
    loss = warmup(vae, x)
    torch.manual_seed(3)
    torch.testing.assert_close(loss, beta_negative_elbo(vae, x, 0.5))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_warmup_rejects_a_step_count_that_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="warmup_steps"):
        KLWarmup(bad)


def test_iwae_bound_with_one_sample_is_the_sampled_log_weight(vae, x):
    eps = torch.randn(1, N, Z_DIM)
    z_loc, z_scale = vae.encoder(x)
    z = z_loc + z_scale * eps[0]
    log_w = (log_likelihood(vae, x, z) + Normal(0.0, 1.0).log_prob(z).sum(-1)
             - Normal(z_loc, z_scale).log_prob(z).sum(-1))
    torch.testing.assert_close(iwae_negative_bound(vae, x, 1, eps), -log_w)


def test_iwae_bound_of_k_identical_samples_equals_one_sample(vae, x):
    """log (1/K) Σ w over K equal weights is log w: the −log K term is what makes this hold."""
    eps = torch.randn(1, N, Z_DIM)
    torch.testing.assert_close(iwae_negative_bound(vae, x, 5, eps.expand(5, N, Z_DIM)),
                               iwae_negative_bound(vae, x, 1, eps))


def test_iwae_bound_is_per_image(vae, x):
    assert iwae_negative_bound(vae, x, 3).shape == (N,)


def test_iwae_bound_tightens_with_k_on_average(vae, x):
    torch.manual_seed(0)
    many = x.repeat(200, *[1] * (x.dim() - 1))     # 200 independent draws per image, one call
    with torch.no_grad():
        means = [iwae_negative_bound(vae, many, k).mean() for k in (1, 10)]
    assert means[1] < means[0]


def test_iwae_bound_gradients_reach_the_encoder(vae, x):
    vae.zero_grad()
    iwae_negative_bound(vae, x, 3).mean().backward()
    assert vae.encoder.loc.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("bad", [0, True, 2.0])
def test_iwae_bound_rejects_a_sample_count_that_is_not_a_positive_int(vae, x, bad):
    with pytest.raises(ValueError, match="k must be"):
        iwae_negative_bound(vae, x, bad)


def test_active_units_counts_dimensions_whose_mean_varies_over_images():
    z_loc = torch.stack([torch.linspace(-1, 1, 100),        # variance 0.34: active
                         torch.full((100,), 0.7),            # constant: inactive
                         0.05 * torch.linspace(-1, 1, 100)], 1)  # variance 0.00085: inactive
    count, variance = active_units(z_loc)
    assert count == 1
    torch.testing.assert_close(variance, z_loc.var(0, unbiased=False))


def test_active_units_threshold_is_strict():
    z_loc = torch.tensor([[-0.5], [0.5]])                    # variance exactly 0.25
    assert active_units(z_loc, threshold=0.25)[0] == 0
    assert active_units(z_loc, threshold=0.2499)[0] == 1


def test_active_units_rejects_a_single_image_or_a_vector():
    for bad in (torch.zeros(1, 4), torch.zeros(10)):
        with pytest.raises(ValueError, match="z_loc must be"):
            active_units(bad)


def test_noise_of_the_wrong_shape_is_refused_naming_eps(vae, x):
    with pytest.raises(ValueError, match=r"eps must have shape \(16, 3\)"):
        rate_distortion(vae, x, torch.zeros(4, Z_DIM))
    with pytest.raises(ValueError, match=r"eps must have shape \(3, 16, 3\)"):
        iwae_negative_bound(vae, x, 3, torch.zeros(5, N, Z_DIM))


def _posteriors(n=40, z_dim=3, seed=0, spread=1.0):
    gen = torch.Generator().manual_seed(seed)
    z_loc = spread * torch.randn(n, z_dim, generator=gen, dtype=torch.float64)
    z_scale = 0.2 + torch.rand(n, z_dim, generator=gen, dtype=torch.float64)
    z = z_loc + z_scale * torch.randn(n, z_dim, generator=gen, dtype=torch.float64)
    return z_loc, z_scale, z


def test_information_terms_match_a_direct_computation_over_all_posteriors():
    z_loc, z_scale, z = _posteriors()
    m = 25                                                          # codes of the first 25 images
    log_q = Normal(z_loc, z_scale).log_prob(z[:m, None, :]).sum(-1)  # (M, N)
    log_q_aggregate = torch.logsumexp(log_q, 1) - math.log(len(z_loc))
    info, kl = information_terms(z_loc, z_scale, z[:m], chunk=7)
    torch.testing.assert_close(info, log_q.diagonal() - log_q_aggregate)
    torch.testing.assert_close(kl, log_q_aggregate - Normal(0.0, 1.0).log_prob(z[:m]).sum(-1))


def test_information_and_aggregate_kl_add_up_to_the_rate_on_average():
    """R̄ = I + KL(q(z) ‖ p(z)): the sum of the two terms is a one-sample estimate of each image's
    KL(q(z|x) ‖ p(z)); averaged over many codes it is the closed-form mean rate."""
    z_loc, z_scale, _ = _posteriors(n=30)
    torch.manual_seed(0)
    sums = torch.stack([sum(information_terms(z_loc, z_scale, z_loc + z_scale * torch.randn_like(z_loc)))
                        for _ in range(200)])                      # (draws, N)
    rate = gaussian_kl(z_loc, z_scale).mean()
    standard_error = sums.mean(1).std() / 200 ** 0.5
    assert abs(sums.mean() - rate) < 4 * standard_error


def test_information_is_at_most_log_n_and_reaches_it_for_separate_posteriors():
    z_loc, z_scale, z = _posteriors(n=50, spread=200.0)          # far apart: the code names the image
    info, _ = information_terms(z_loc, z_scale, z)
    assert bool((info <= math.log(50) + 1e-9).all())
    torch.testing.assert_close(info, torch.full((50,), math.log(50), dtype=torch.float64))


def test_information_is_zero_when_every_image_has_the_same_posterior():
    z_loc, z_scale, z = _posteriors(n=20)
    info, kl = information_terms(z_loc[:1].expand(20, 3), z_scale[:1].expand(20, 3), z)
    torch.testing.assert_close(info, torch.zeros(20, dtype=torch.float64))


def test_information_terms_refuse_codes_of_the_wrong_shape():
    z_loc, z_scale, z = _posteriors(n=10)
    for bad in (torch.zeros(11, 3), torch.zeros(5, 4), torch.zeros(3)):
        with pytest.raises(ValueError, match="z must hold"):
            information_terms(z_loc, z_scale, bad)
    with pytest.raises(ValueError, match="z_loc and z_scale"):
        information_terms(z_loc, z_scale[:, :2], z)


def test_seconds_per_step_times_every_loss_in_every_round_and_trains_its_models(vae, x, monkeypatch):
    monkeypatch.setattr(utils.tradeoffs, "_STEP_TIMES", {})
    made = []

    def make_model():
        torch.manual_seed(0)
        made.append(VAE(z_dim=Z_DIM, hidden_dim=32))
        return made[-1]

    before = [p.detach().clone() for p in make_model().parameters()]
    made.clear()
    times = seconds_per_step({"one": negative_elbo, "five": lambda m, xb: iwae_negative_bound(m, xb, 5)},
                             make_model, x, steps=2, rounds=3)
    assert set(times) == {"one", "five"} and all(len(t) == 3 and min(t) > 0 for t in times.values())
    assert len(made) == 2                                  # one fresh model per loss
    for model in made:                                     # each took 1 + 3 × 2 Adam steps
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_seconds_per_step_measures_once_so_a_rerun_repeats_and_leaves_the_random_state(vae, x, monkeypatch):
    monkeypatch.setattr(utils.tradeoffs, "_STEP_TIMES", {})
    made = []

    def make_model():
        made.append(VAE(z_dim=Z_DIM, hidden_dim=32))
        return made[-1]

    torch.manual_seed(3)
    expected_draw = torch.rand(1)
    torch.manual_seed(3)
    first = seconds_per_step({"one": negative_elbo}, make_model, x, steps=1, rounds=2)
    assert torch.equal(torch.rand(1), expected_draw)       # the timing drew no global noise
    again = seconds_per_step({"one": negative_elbo}, make_model, x, steps=1, rounds=2)
    assert again == first and len(made) == 1               # no second measurement


def test_median_ratio_compares_within_rounds():
    times = {"slow": [2.0, 6.0, 3.0], "fast": [1.0, 2.0, 2.0]}
    assert median_ratio(times, "slow", "fast") == (2.0, 1.5, 3.0)


@pytest.mark.parametrize("bad", [0, 1.5])
def test_seconds_per_step_rejects_bad_counts(vae, x, bad):
    with pytest.raises(ValueError, match="steps"):
        seconds_per_step({"one": negative_elbo}, lambda: vae, x, steps=bad)
