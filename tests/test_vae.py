"""utils.vae: the unit-04 VAE reused by units 03, 05 and the benchmarks."""
import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from utils.vae import VAE, Decoder, Encoder, evaluate, gaussian_kl, iwae_log_px, negative_elbo, train_vae


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return VAE(z_dim=3, hidden_dim=32)


@pytest.fixture
def x():
    """Binary stand-in images: noisy copies of four fixed prototypes."""
    gen = torch.Generator().manual_seed(0)
    prototypes = (torch.rand(4, 784, generator=gen) < 0.2).float()
    which = torch.randint(0, 4, (256,), generator=gen)
    return torch.bernoulli(0.9 * prototypes[which] + 0.05, generator=gen)


def test_encoder_returns_loc_and_positive_scale_of_latent_shape():
    z_loc, z_scale = Encoder(z_dim=5, hidden_dim=16)(torch.rand(7, 784))
    assert z_loc.shape == z_scale.shape == (7, 5)
    assert (z_scale > 0).all()


def test_decoder_returns_unbounded_logits_per_pixel():
    torch.manual_seed(0)
    decoder = Decoder(z_dim=2, hidden_dim=16)
    logits = decoder(10 * torch.randn(50, 2))
    assert logits.shape == (50, 784)
    assert logits.min() < 0 < logits.max()  # logits, not probabilities in [0, 1]


def test_vae_exposes_encoder_decoder_and_z_dim(vae):
    assert vae.z_dim == 3 and isinstance(vae.encoder, Encoder) and isinstance(vae.decoder, Decoder)


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    z_loc, z_scale = torch.randn(10, 4), torch.rand(10, 4) + 0.1
    expected = kl_divergence(Independent(Normal(z_loc, z_scale), 1),
                             Independent(Normal(torch.zeros(4), torch.ones(4)), 1))
    torch.testing.assert_close(gaussian_kl(z_loc, z_scale), expected)


def test_gaussian_kl_is_zero_at_the_prior():
    torch.testing.assert_close(gaussian_kl(torch.zeros(2, 3), torch.ones(2, 3)), torch.zeros(2))


def test_negative_elbo_is_per_image_and_matches_distributions_with_given_noise(vae, x):
    eps = torch.randn(len(x), 3)
    with torch.no_grad():
        loss = negative_elbo(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        log_px_z = Independent(Bernoulli(logits=vae.decoder(z_loc + z_scale * eps)), 1).log_prob(x)
    assert loss.shape == (len(x),)
    torch.testing.assert_close(loss, gaussian_kl(z_loc, z_scale) - log_px_z, rtol=1e-5, atol=1e-3)


def test_negative_elbo_without_noise_is_reproducible_under_a_seed(vae, x):
    torch.manual_seed(1)
    first = negative_elbo(vae, x)
    torch.manual_seed(1)
    torch.testing.assert_close(negative_elbo(vae, x), first)


def test_evaluate_is_the_mean_negative_elbo_in_nats_per_image(vae, x):
    torch.manual_seed(0)
    value = evaluate(vae, x, batch_size=100, generator=torch.Generator().manual_seed(0))
    assert isinstance(value, float)
    assert 0.8 * 784 * math.log(2) < value < 1.2 * 784 * math.log(2)  # untrained: p ≈ 1/2 per pixel


def test_iwae_estimate_is_at_least_the_elbo_on_average(vae, x):
    torch.manual_seed(0)
    elbo = -torch.stack([negative_elbo(vae, x).detach() for _ in range(10)]).mean(0)
    log_px = iwae_log_px(vae, x, k=50)
    assert log_px.shape == (len(x),)
    assert log_px.mean() > elbo.mean()


def test_iwae_estimate_with_one_sample_is_an_elbo_estimate(vae, x):
    torch.manual_seed(0)
    elbo = -torch.stack([negative_elbo(vae, x).detach() for _ in range(10)]).mean(0)
    one = torch.stack([iwae_log_px(vae, x, k=1) for _ in range(10)]).mean(0)
    assert abs(one.mean() - elbo.mean()) < 0.5


def test_iwae_rejects_a_non_positive_number_of_samples(vae, x):
    with pytest.raises(ValueError, match="k must be a positive int"):
        iwae_log_px(vae, x, k=0)


def test_a_few_training_epochs_lower_the_loss(vae, x):
    before = evaluate(vae, x, generator=torch.Generator().manual_seed(0))
    history = train_vae(vae, x, x, epochs=3, batch_size=32, max_lr=1e-2, seed=0)
    assert len(history["train"]) == len(history["validation"]) == 3
    assert history["validation"][-1] < 0.9 * before


def test_train_vae_calls_back_each_epoch_and_accepts_a_custom_loss(vae, x):
    calls = []
    used = []

    def loss_fn(model, xb):
        used.append(len(xb))
        return negative_elbo(model, xb)

    train_vae(vae, x, None, epochs=2, batch_size=128, seed=0, loss_fn=loss_fn,
              callback=lambda epoch, history: calls.append((epoch, len(history["train"]))))
    assert calls == [(0, 1), (1, 2)]
    assert sum(used) == 2 * len(x)
