"""utils.vae: the unit-04 VAE, its loss, evaluation and training loop, reused by units 03 and 05,
the self-checks and the benchmarks. One behaviour per test."""
import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

import utils.vae
from utils.data import fixed_binarization
from utils.vae import (VAE, Decoder, Encoder, evaluate, fit, gaussian_kl, iwae_log_px, log_likelihood,
                       negative_elbo, reinforce_negative_elbo, train_vae)


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


@pytest.fixture
def grey(x):
    """Grey-level stand-in images in [0.25, 0.75]."""
    return 0.25 + 0.5 * x


def indexed_images(n):
    """Binary images whose first 16 pixels spell out the image's index (binarizing keeps them)."""
    bits = (torch.arange(n)[:, None] >> torch.arange(16)) & 1
    return torch.cat([bits.float(), torch.zeros(n, 784 - 16)], dim=1)


def index_of(images):
    return ((images[:, :16].long()) << torch.arange(16)).sum(1).tolist()


def encoder_and_decoder_grads(vae, loss):
    n_enc = len(list(vae.encoder.parameters()))
    grads = torch.autograd.grad(loss.mean(), list(vae.parameters()))
    return torch.cat([g.flatten() for g in grads[:n_enc]]), torch.cat([g.flatten() for g in grads[n_enc:]])


# ---- the networks ----------------------------------------------------------------------------------
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


# ---- the loss ----------------------------------------------------------------------------------------
def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    z_loc, z_scale = torch.randn(10, 4), torch.rand(10, 4) + 0.1
    expected = kl_divergence(Independent(Normal(z_loc, z_scale), 1),
                             Independent(Normal(torch.zeros(4), torch.ones(4)), 1))
    torch.testing.assert_close(gaussian_kl(z_loc, z_scale), expected)


def test_gaussian_kl_is_zero_at_the_prior():
    torch.testing.assert_close(gaussian_kl(torch.zeros(2, 3), torch.ones(2, 3)), torch.zeros(2))


def test_log_likelihood_is_the_bernoulli_log_prob_of_the_decoder_logits(vae, x):
    z = torch.randn(len(x), 3)
    with torch.no_grad():
        expected = Independent(Bernoulli(logits=vae.decoder(z)), 1).log_prob(x)
        torch.testing.assert_close(log_likelihood(vae, x, z), expected, rtol=1e-5, atol=1e-3)


def test_negative_elbo_has_one_value_per_image(vae, x):
    assert negative_elbo(vae, x).shape == (len(x),)


def test_negative_elbo_matches_torch_distributions_with_the_same_noise(vae, x):
    eps = torch.randn(len(x), 3)
    with torch.no_grad():
        z_loc, z_scale = vae.encoder(x)
        log_px_z = Independent(Bernoulli(logits=vae.decoder(z_loc + z_scale * eps)), 1).log_prob(x)
        torch.testing.assert_close(negative_elbo(vae, x, eps), gaussian_kl(z_loc, z_scale) - log_px_z,
                                   rtol=1e-5, atol=1e-3)


def test_negative_elbo_without_noise_is_reproducible_under_a_seed(vae, x):
    torch.manual_seed(1)
    first = negative_elbo(vae, x)
    torch.manual_seed(1)
    torch.testing.assert_close(negative_elbo(vae, x), first)


# ---- the REINFORCE surrogate -------------------------------------------------------------------------
def test_reinforce_loss_has_the_value_of_the_negative_elbo(vae, x):
    eps = torch.randn(len(x), vae.z_dim)
    torch.testing.assert_close(reinforce_negative_elbo(vae, x, eps, baseline=3.0),
                               negative_elbo(vae, x, eps))


def test_reinforce_decoder_gradient_is_the_pathwise_one(vae, x):
    eps = torch.randn(len(x), vae.z_dim)
    _, reinforce = encoder_and_decoder_grads(vae, reinforce_negative_elbo(vae, x, eps))
    _, pathwise = encoder_and_decoder_grads(vae, negative_elbo(vae, x, eps))
    torch.testing.assert_close(reinforce, pathwise)


def test_reinforce_encoder_gradient_is_the_score_function_estimate(vae, x):
    eps, b = torch.randn(len(x), vae.z_dim), 5.0
    got, _ = encoder_and_decoder_grads(vae, reinforce_negative_elbo(vae, x, eps, baseline=b))
    z_loc, z_scale = vae.encoder(x)
    z = (z_loc + z_scale * eps).detach()
    log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)
    score = gaussian_kl(z_loc, z_scale) - (log_likelihood(vae, x, z).detach() - b) * log_q
    expected = torch.cat([g.flatten() for g in
                          torch.autograd.grad(score.mean(), list(vae.encoder.parameters()))])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_reinforce_baseline_changes_the_encoder_gradient(vae, x):
    eps = torch.randn(len(x), vae.z_dim)
    without, _ = encoder_and_decoder_grads(vae, reinforce_negative_elbo(vae, x, eps))
    with_baseline, _ = encoder_and_decoder_grads(vae, reinforce_negative_elbo(vae, x, eps, baseline=50.0))
    assert not torch.allclose(without, with_baseline)


# ---- evaluate ----------------------------------------------------------------------------------------
def test_evaluate_returns_a_python_float(vae, x):
    assert isinstance(evaluate(vae, x), float)


def test_evaluate_of_an_untrained_model_is_near_784_log_2_nats(vae, x):
    torch.manual_seed(0)
    assert 0.8 * 784 * math.log(2) < evaluate(vae, x, batch_size=100) < 1.2 * 784 * math.log(2)


def test_evaluate_is_the_mean_negative_elbo_under_the_same_seed(vae, x):
    torch.manual_seed(0)
    value = evaluate(vae, x, batch_size=len(x))
    torch.manual_seed(0)
    assert value == pytest.approx(negative_elbo(vae, x).mean().item(), rel=1e-6)


def test_evaluate_rejects_grey_levels_with_a_hint_to_binarize(vae, grey):
    with pytest.raises(ValueError, match="binar"):
        evaluate(vae, grey)


def test_evaluate_rejects_an_empty_set(vae):
    with pytest.raises(ValueError, match="at least one image"):
        evaluate(vae, torch.zeros(0, 784))


def test_evaluate_leaves_an_eval_mode_model_in_eval_mode(vae, x):
    vae.eval()
    evaluate(vae, x)
    assert not vae.training


def test_evaluate_leaves_a_training_model_in_training_mode(vae, x):
    vae.train()
    evaluate(vae, x)
    assert vae.training


# ---- importance weighting ----------------------------------------------------------------------------
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


# ---- fit: the training loop --------------------------------------------------------------------------
def test_fit_visits_every_image_once_per_epoch():
    seen = []
    fit(lambda xb: seen.extend(index_of(xb)) or 0.0, indexed_images(100), epochs=2, batch_size=32)
    assert sorted(seen[:100]) == sorted(seen[100:]) == list(range(100))


def test_fit_orders_minibatches_by_its_seed():
    orders = []
    for _ in range(2):
        seen = []
        fit(lambda xb: seen.extend(index_of(xb)) or 0.0, indexed_images(100), epochs=1,
            batch_size=32, seed=7)
        orders.append(seen)
    assert orders[0] == orders[1] != list(range(100))


def test_fit_with_another_seed_orders_minibatches_differently():
    orders = []
    for seed in (0, 1):
        seen = []
        fit(lambda xb: seen.extend(index_of(xb)) or 0.0, indexed_images(100), epochs=1,
            batch_size=32, seed=seed)
        orders.append(seen)
    assert orders[0] != orders[1]


def test_fit_hands_step_binary_minibatches(grey):
    batches = []
    fit(lambda xb: batches.append(xb) or 0.0, grey, epochs=1, batch_size=64)
    assert all(bool(((b == 0) | (b == 1)).all()) for b in batches)


def test_fit_binarizes_afresh_every_epoch():
    batches = []
    fit(lambda xb: batches.append(xb) or 0.0, torch.full((16, 784), 0.5), epochs=2, batch_size=16)
    assert not torch.equal(batches[0], batches[1])


def test_fit_train_history_is_the_image_weighted_mean_of_step_losses():
    history = fit(lambda xb: float(len(xb)), indexed_images(100), epochs=1, batch_size=64)
    assert history["train"] == [pytest.approx((64 * 64 + 36 * 36) / 100)]


def test_fit_validates_after_each_epoch():
    scores = iter([3.0, 2.0, 1.0])
    history = fit(lambda xb: 0.0, indexed_images(10), epochs=3, batch_size=5,
                  validate=lambda: next(scores))
    assert history["validation"] == [3.0, 2.0, 1.0]


def test_fit_without_validation_keeps_an_empty_validation_history():
    assert fit(lambda xb: 0.0, indexed_images(10), epochs=2, batch_size=5)["validation"] == []


def test_fit_calls_back_after_each_epoch_with_the_history_so_far():
    calls = []
    fit(lambda xb: 0.0, indexed_images(10), epochs=3, batch_size=5,
        callback=lambda epoch, history: calls.append((epoch, len(history["train"]))))
    assert calls == [(0, 1), (1, 2), (2, 3)]


def test_fit_rejects_an_empty_training_set():
    with pytest.raises(ValueError, match="empty"):
        fit(lambda xb: 0.0, torch.zeros(0, 784), epochs=1)


def test_fit_warns_when_the_loss_diverges(x):
    with pytest.warns(RuntimeWarning, match="diverged"):
        fit(lambda xb: float("nan"), x, epochs=1, batch_size=64)


def test_fit_stops_at_the_first_step_whose_loss_is_not_finite(x):
    losses = iter([1.0, float("inf"), 1.0, 1.0])
    steps = []
    with pytest.warns(RuntimeWarning, match=r"became inf at step 2 of epoch 1.*stopped"):
        history = fit(lambda xb: steps.append(1) or next(losses), x, epochs=3, batch_size=64,
                      validate=lambda: 1.0)
    assert len(steps) == 2 and history["train"] == [math.inf] and math.isnan(history["validation"][0])


def test_fit_stops_when_the_validation_loss_is_not_finite(x):
    with pytest.warns(RuntimeWarning, match="validation loss is nan after epoch 1"):
        history = fit(lambda xb: 1.0, x, epochs=3, batch_size=64, validate=lambda: math.nan)
    assert len(history["train"]) == 1


def test_fit_refuses_a_step_that_returns_no_number(x):
    with pytest.raises(TypeError, match=r"return loss.item\(\)"):
        fit(lambda xb: None, x, epochs=1, batch_size=64)


def test_fit_without_desc_shows_no_progress_bar(capsys):
    fit(lambda xb: 0.0, indexed_images(10), epochs=2, batch_size=5, desc=None)
    assert capsys.readouterr().err == ""


# ---- train_vae ---------------------------------------------------------------------------------------
def test_a_few_training_epochs_lower_the_loss(vae, x):
    before = evaluate(vae, x)
    history = train_vae(vae, x, x, epochs=3, batch_size=32, max_lr=1e-2, seed=0)
    assert len(history["train"]) == len(history["validation"]) == 3
    assert history["validation"][-1] < 0.9 * before


def test_train_vae_is_reproducible_under_the_same_seeds(vae, x, grey):
    twin = VAE(z_dim=3, hidden_dim=32)
    twin.load_state_dict(vae.state_dict())
    torch.manual_seed(5)
    first = train_vae(vae, grey, x, epochs=2, batch_size=64, seed=1, desc=None)
    torch.manual_seed(5)
    second = train_vae(twin, grey, x, epochs=2, batch_size=64, seed=1, desc=None)
    assert first == second
    assert all(torch.equal(p, q) for p, q in zip(vae.parameters(), twin.parameters()))


def test_train_vae_trains_on_a_custom_loss(vae, x):
    used = []

    def loss_fn(model, xb):
        used.append(len(xb))
        return negative_elbo(model, xb)

    train_vae(vae, x, None, epochs=2, batch_size=128, seed=0, loss_fn=loss_fn, desc=None)
    assert sum(used) == 2 * len(x)


def test_train_vae_calls_back_after_each_epoch(vae, x):
    calls = []
    train_vae(vae, x, None, epochs=2, batch_size=128, seed=0, desc=None,
              callback=lambda epoch, history: calls.append((epoch, len(history["train"]))))
    assert calls == [(0, 1), (1, 2)]


def test_train_vae_validates_with_evaluate_after_each_epoch(vae, x, monkeypatch):
    scored = []
    monkeypatch.setattr(utils.vae, "evaluate", lambda model, xv: scored.append(xv) or 1.5)
    history = train_vae(vae, x, x[:10], epochs=2, batch_size=128, seed=0, desc=None,
                        loss_fn=lambda model, xb: negative_elbo(model, xb))
    assert history["validation"] == [1.5, 1.5]
    assert all(v is not None and torch.equal(v, x[:10]) for v in scored)


def test_train_vae_stops_with_a_warning_when_the_loss_becomes_nan(vae, x):
    with pytest.warns(RuntimeWarning, match="training diverged"):
        history = train_vae(vae, x, x[:32], epochs=3, batch_size=64, desc=None,
                            loss_fn=lambda model, xb: negative_elbo(model, xb) * math.nan)
    assert len(history["train"]) == 1 and math.isnan(history["train"][0])


def test_train_vae_warns_when_its_last_step_leaves_nan_weights(vae, x):
    def nan_gradient(model, xb):          # finite value, NaN gradient: 0 · ∂sqrt(0) = 0 · inf
        bias = model.decoder.net[0].bias
        return negative_elbo(model, xb) + 0 * (bias - bias.detach()).sqrt().sum()

    with pytest.warns(RuntimeWarning, match="parameters are NaN or infinite after the last step"):
        history = train_vae(vae, x, epochs=1, batch_size=len(x), desc=None, loss_fn=nan_gradient)
    assert math.isfinite(history["train"][0])


def test_train_vae_refuses_a_loss_that_is_not_one_value_per_image(vae, x):
    with pytest.raises(ValueError, match=r"one loss per image, a tensor of shape \(128,\)"):
        train_vae(vae, x, epochs=1, desc=None, loss_fn=lambda model, xb: negative_elbo(model, xb).sum())


def test_train_vae_refuses_bad_arguments_before_any_step(vae, x):
    before = [p.clone() for p in vae.parameters()]
    with pytest.raises(ValueError, match="epochs"):
        train_vae(vae, x, epochs=0)
    assert all(torch.equal(p, q) for p, q in zip(vae.parameters(), before))


def test_evaluate_leaves_the_mode_as_it_was_when_it_fails(vae, x, monkeypatch):
    vae.eval()
    monkeypatch.setattr(vae.decoder, "forward", lambda z: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        evaluate(vae, x)
    assert not vae.training


def test_negative_elbo_reads_the_range_of_the_first_image_only(vae, x):
    """Each training step calls it: it checks shapes and dtypes, and one image's range."""
    bytes_first = x.clone()
    bytes_first[0] *= 255
    with pytest.raises(ValueError, match="first image"):
        negative_elbo(vae, bytes_first)


def test_train_vae_rejects_a_grey_level_validation_set(vae, x, grey):
    with pytest.raises(ValueError, match="binar"):
        train_vae(vae, x, grey, epochs=1, desc=None)


# ---- fixed_binarization ------------------------------------------------------------------------------
def test_fixed_binarization_gives_the_same_images_for_the_same_seed(grey):
    assert torch.equal(fixed_binarization(grey, 1), fixed_binarization(grey, 1))


def test_fixed_binarization_gives_other_images_for_another_seed(grey):
    assert not torch.equal(fixed_binarization(grey, 1), fixed_binarization(grey, 2))


def test_fixed_binarization_returns_binary_pixels(grey):
    bits = fixed_binarization(grey, 0)
    assert bool(((bits == 0) | (bits == 1)).all())


def test_fixed_binarization_turns_pixels_on_with_their_grey_level():
    assert fixed_binarization(torch.full((100, 784), 0.3), 0).mean().item() == pytest.approx(0.3, abs=0.005)


def test_fixed_binarization_leaves_the_global_generator_alone(grey):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    fixed_binarization(grey, 1)
    torch.testing.assert_close(torch.rand(3), expected)


# ---- speed: train_vae's Adam (bit for bit, or fused), light imports ---------------------------------

def _adam_run(make_optimizer, steps=30):
    """The weights after ``steps`` Adam + one-cycle steps on the −ELBO, from fixed weights and noise."""
    torch.manual_seed(0)
    model = VAE(z_dim=3, hidden_dim=32)
    opt = make_optimizer(model.parameters())
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for i in range(steps):
        torch.manual_seed(100 + i)
        x = torch.bernoulli(torch.full((32, 784), 0.3))
        opt.zero_grad()
        negative_elbo(model, x).mean().backward()
        opt.step()
        sched.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_train_vaes_adam_is_torchs_default_adam_bit_for_bit():
    default = _adam_run(lambda params: torch.optim.Adam(params, lr=3e-3))
    assert torch.equal(_adam_run(lambda params: utils.vae.adam(params, 3e-3)), default)


def test_fused_adam_equals_the_default_up_to_rounding():
    default = _adam_run(lambda params: torch.optim.Adam(params, lr=3e-3))
    fused = _adam_run(lambda params: utils.vae.adam(params, 3e-3, fused=True))
    torch.testing.assert_close(fused, default, atol=1e-4, rtol=0)


def test_train_vae_fused_trains_like_the_default(vae, x):
    state = {k: v.clone() for k, v in vae.state_dict().items()}
    histories = []
    for fused in (False, True):
        vae.load_state_dict(state)
        torch.manual_seed(3)
        histories.append(train_vae(vae, x, x[:64], epochs=2, batch_size=64, desc=None, fused=fused))
    torch.testing.assert_close(histories[1], histories[0], atol=1e-2, rtol=0)


def test_train_vae_refuses_a_fused_that_is_not_a_bool(vae, x):
    with pytest.raises(TypeError, match="fused must be True or False"):
        train_vae(vae, x, epochs=1, desc=None, fused="yes")


def test_utils_vae_imports_neither_matplotlib_nor_the_plots_module():
    import subprocess
    import sys
    code = ("import sys, utils.vae, utils.progress; "
            "print(sorted(m for m in ('matplotlib', 'utils.plots') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         encoding="utf-8", check=True)
    assert out.stdout.strip() == "[]"
