"""Unit 04 self-checks: pass on the reference VAE loss, fail on stubs and on typical wrong answers."""
import pytest
import torch
from torch.nn import functional as F

from utils.checks import SelfCheckFailed, unit04


pytestmark = pytest.mark.usefixtures("one_thread")


# ---- the student's functions, written correctly (as in solutions/04_vae_pytorch.md) ----------------
def reparameterize(z_loc, z_scale, eps=None):
    if eps is None:
        eps = torch.randn_like(z_loc)
    return z_loc + z_scale * eps


def gaussian_kl(z_loc, z_scale):
    return 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log()).sum(-1)


def negative_elbo(vae, x, eps=None):
    z_loc, z_scale = vae.encoder(x)
    z = reparameterize(z_loc, z_scale, eps)
    log_px_z = -F.binary_cross_entropy_with_logits(vae.decoder(z), x, reduction="none").sum(-1)
    return gaussian_kl(z_loc, z_scale) - log_px_z


def stub(*args, **kwargs):
    raise NotImplementedError("exercise: write this part")


@pytest.fixture(scope="module")
def digits():
    """Structured stand-in images: noisy copies of five fixed prototypes, intensities in [0, 1]."""
    gen = torch.Generator().manual_seed(0)
    prototypes = (torch.rand(5, 784, generator=gen) < 0.2).float()
    which = torch.randint(0, 5, (512,), generator=gen)
    return (0.9 * prototypes[which] + 0.05).clamp(0, 1)


def failed(capsys):
    return "\u2717" in capsys.readouterr().out


# ---- reparameterize --------------------------------------------------------------------------------
def test_reparameterize_check_passes_on_reference(capsys):
    unit04.check_reparameterize(reparameterize)
    assert not failed(capsys)


def test_reparameterize_check_fails_on_stub(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_reparameterize(stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_reparameterize_check_names_variance_for_std(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_reparameterize(lambda loc, scale, eps=None: reparameterize(loc, scale**2, eps))
    assert "do not square it" in capsys.readouterr().out


def test_reparameterize_check_fails_when_gradient_is_blocked(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_reparameterize(lambda loc, scale, eps=None: reparameterize(loc, scale, eps).detach())
    assert "z has no gradient" in capsys.readouterr().out


def test_reparameterize_check_fails_when_eps_is_ignored(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_reparameterize(lambda loc, scale, eps=None: reparameterize(loc, scale))
    assert "the eps you were given" in capsys.readouterr().out


def test_reparameterize_check_fails_without_own_noise(capsys):
    def no_default(loc, scale, eps=None):
        return loc + scale * (eps if eps is not None else torch.zeros_like(loc))
    with pytest.raises(SelfCheckFailed):
        unit04.check_reparameterize(no_default)
    assert "torch.randn_like" in capsys.readouterr().out


# ---- gaussian_kl -----------------------------------------------------------------------------------
def test_kl_check_passes_on_reference(capsys):
    unit04.check_gaussian_kl(gaussian_kl)
    assert not failed(capsys)


def test_kl_check_fails_on_stub():
    with pytest.raises(SelfCheckFailed):
        unit04.check_gaussian_kl(stub)


def test_kl_check_reports_unsummed_shape(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_gaussian_kl(lambda loc, scale: 0.5 * (loc**2 + scale**2 - 1 - 2 * scale.log()))
    out = capsys.readouterr().out
    assert "expected shape (128,), got (128, 2)" in out and "sum over the latent dimension" in out


def test_kl_check_names_missing_half(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_gaussian_kl(lambda loc, scale: 2 * gaussian_kl(loc, scale))
    assert "missing the factor 1/2" in capsys.readouterr().out


def test_kl_check_names_log_scale_for_log_variance(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_gaussian_kl(lambda loc, scale: 0.5 * (loc**2 + scale**2 - 1 - scale.log()).sum(-1))
    assert "log σ² = 2·log(z_scale)" in capsys.readouterr().out


def test_kl_check_fails_when_not_differentiable(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_gaussian_kl(lambda loc, scale: gaussian_kl(loc, scale).detach())
    assert "gradient is missing or wrong" in capsys.readouterr().out


# ---- negative_elbo ---------------------------------------------------------------------------------
def test_negative_elbo_check_passes_on_reference(capsys):
    unit04.check_negative_elbo(negative_elbo)
    assert not failed(capsys)


def test_negative_elbo_check_fails_on_stub():
    with pytest.raises(SelfCheckFailed):
        unit04.check_negative_elbo(stub)


def test_negative_elbo_check_names_flipped_sign(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_negative_elbo(lambda vae, x, eps=None: -negative_elbo(vae, x, eps))
    assert "you returned the ELBO" in capsys.readouterr().out


def test_negative_elbo_check_reports_batch_mean_shape(capsys):
    with pytest.raises(SelfCheckFailed):
        unit04.check_negative_elbo(lambda vae, x, eps=None: negative_elbo(vae, x, eps).mean())
    assert "expected shape (128,), got ()" in capsys.readouterr().out


def test_negative_elbo_check_names_missing_kl(capsys):
    def no_kl(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(reparameterize(z_loc, z_scale, eps))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    with pytest.raises(SelfCheckFailed):
        unit04.check_negative_elbo(no_kl)
    assert "the KL term is missing" in capsys.readouterr().out


def test_negative_elbo_check_fails_when_noise_is_detached(capsys):
    def detached(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        z = reparameterize(z_loc, z_scale, eps).detach()
        log_px_z = -F.binary_cross_entropy_with_logits(vae.decoder(z), x, reduction="none").sum(-1)
        return gaussian_kl(z_loc, z_scale) - log_px_z
    with pytest.raises(SelfCheckFailed):
        unit04.check_negative_elbo(detached)
    assert "gradient is missing or wrong for encoder.body" in capsys.readouterr().out


# ---- training --------------------------------------------------------------------------------------
def test_training_check_passes_on_reference(capsys, digits):
    unit04.check_training_lowers_loss(negative_elbo, digits)
    assert not failed(capsys)


def test_training_check_fails_on_stub(digits):
    with pytest.raises(SelfCheckFailed):
        unit04.check_training_lowers_loss(stub, digits)


def test_training_check_fails_when_maximising_the_loss(capsys, digits):
    with pytest.raises(SelfCheckFailed):
        unit04.check_training_lowers_loss(lambda vae, x: -negative_elbo(vae, x), digits)
    assert "must be the *negative* ELBO" in capsys.readouterr().out


def test_training_check_prints_one_line_per_check_and_no_progress_bar(capsys, digits):
    unit04.check_training_lowers_loss(negative_elbo, digits)
    out = capsys.readouterr()
    assert len(out.out.strip().splitlines()) == 2 and out.err == ""


def test_training_check_leaves_the_global_generator_alone(digits):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    unit04.check_training_lowers_loss(negative_elbo, digits)
    torch.testing.assert_close(torch.rand(3), expected)
