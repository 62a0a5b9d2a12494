"""Unit 05 self-checks: pass on the reference model and guide, fail on stubs and on typical mistakes
(mutation tests: a planted mistake gets one ✗ line of at most 120 characters with its own hint)."""
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from torch import nn

from utils.checks import SelfCheckFailed, unit05
from utils.pyro_vae import PyroVAE
from utils.vae import Decoder, Encoder

N, Z_DIM = 8, 2


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def x():
    return torch.bernoulli(torch.full((N, 784), 0.3), generator=torch.Generator().manual_seed(0))


def reference_model(vae, x):
    """The course's model (utils.pyro_vae.PyroVAE) around the student's networks."""
    return PyroVAE(vae.encoder, vae.decoder, vae.z_dim).model(x)


def reference_guide(vae, x):
    """The course's guide (utils.pyro_vae.PyroVAE) around the student's networks."""
    return PyroVAE(vae.encoder, vae.decoder, vae.z_dim).guide(x)


class Student(nn.Module):
    """Unit 04's networks with a model and a guide given as plain functions of (vae, x)."""

    def __init__(self, model=reference_model, guide=reference_guide):
        super().__init__()
        torch.manual_seed(0)
        self.z_dim = Z_DIM
        self.encoder, self.decoder = Encoder(Z_DIM), Decoder(Z_DIM)
        self._model, self._guide = model, guide

    def model(self, x):
        return self._model(self, x)

    def guide(self, x):
        return self._guide(self, x)


def reference_model_cb(vae, x):
    """The grey-level model: a continuous Bernoulli on the decoder's logits."""
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.ContinuousBernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


class GreyStudent(Student):
    """Student with a third method, model_cb (exercise 05, Part 5)."""

    def __init__(self, model_cb=reference_model_cb, **kwargs):
        super().__init__(**kwargs)
        self._model_cb = model_cb

    def model_cb(self, x):
        return self._model_cb(self, x)


def reference_cb_mean(logits):
    small = logits.abs() < 0.1
    safe = torch.where(small, torch.ones_like(logits), logits)
    return torch.where(small, 0.5 + logits / 12, 1 / (1 - torch.exp(-safe)) - 1 / safe)


def stub(vae, x):
    raise NotImplementedError("exercise: write this part")


# ---- typical wrong models ----------------------------------------------------------------------------
def model_without_to_event(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)), obs=x)


def model_with_probs(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.Bernoulli(probs=torch.sigmoid(vae.decoder(z))).to_event(1), obs=x)


def model_with_site_named_obs(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("obs", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


def model_without_plate(vae, x):
    pyro.module("decoder", vae.decoder)
    z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(2))
    pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(2), obs=x)


def model_without_module(vae, x):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


def model_with_wide_prior(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 2.0).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


# ---- typical wrong guides ----------------------------------------------------------------------------
def guide_with_variance(vae, x):
    pyro.module("encoder", vae.encoder)
    with pyro.plate("data", x.shape[0]):
        z_loc, z_scale = vae.encoder(x)
        pyro.sample("z", dist.Normal(z_loc, z_scale**2).to_event(1))


def guide_without_to_event(vae, x):
    pyro.module("encoder", vae.encoder)
    with pyro.plate("data", x.shape[0]):
        z_loc, z_scale = vae.encoder(x)
        pyro.sample("z", dist.Normal(z_loc, z_scale))


def guide_with_x_site(vae, x):
    pyro.module("encoder", vae.encoder)
    with pyro.plate("data", x.shape[0]):
        z_loc, z_scale = vae.encoder(x)
        z = pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


def guide_without_module(vae, x):
    with pyro.plate("data", x.shape[0]):
        z_loc, z_scale = vae.encoder(x)
        pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))


def guide_with_detached_scale(vae, x):
    pyro.module("encoder", vae.encoder)
    with pyro.plate("data", x.shape[0]):
        z_loc, z_scale = vae.encoder(x)
        pyro.sample("z", dist.Normal(z_loc, z_scale.detach()).to_event(1))


def model_with_negated_logits(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=-vae.decoder(z)).to_event(1), obs=x)


def guide_in_another_plate(vae, x):
    pyro.module("encoder", vae.encoder)
    with pyro.plate("batch", x.shape[0]):
        z_loc, z_scale = vae.encoder(x)
        pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))


def model_with_latent_without_to_event(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0))
        pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


def model_with_mvn_prior(vae, x, cov=1.0):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.MultivariateNormal(x.new_zeros(vae.z_dim), cov * torch.eye(vae.z_dim)))
        pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


def model_with_scaled_prior(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        with poutine.scale(scale=4.0):
            z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


# ---- typical wrong grey-level models and means -------------------------------------------------------
def model_cb_with_bernoulli(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


def model_cb_on_binarized_images(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.ContinuousBernoulli(logits=vae.decoder(z)).to_event(1), obs=torch.bernoulli(x))


def model_cb_without_to_event(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.ContinuousBernoulli(logits=vae.decoder(z)), obs=x)


def model_cb_with_scaled_likelihood(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        with poutine.scale(scale=0.5):
            pyro.sample("x", dist.ContinuousBernoulli(logits=vae.decoder(z)).to_event(1), obs=x)


def cb_mean_naive(logits):
    return 1 / (1 - torch.exp(-logits)) - 1 / logits


def cb_mean_from_torch(logits):
    return dist.ContinuousBernoulli(logits=logits).mean


def cb_mean_stub(logits):
    raise NotImplementedError


def one_cross(capsys, hint, width=120):
    """The output has exactly one ✗ line; it carries ``hint``, is at most 120 characters long, and no
    Pyro table or warning leaks into the output."""
    captured = capsys.readouterr()
    crosses = [line for line in captured.out.splitlines() if line.startswith("\u2717")]
    assert len(crosses) == 1, captured.out
    assert hint in crosses[0] and "Hint: " in crosses[0], crosses[0]
    assert len(crosses[0]) <= width, (len(crosses[0]), crosses[0])
    assert "Trace Shapes" not in captured.out and "Warning" not in captured.out + captured.err
    return crosses[0]


def fails(check, *args):
    with pytest.raises(SelfCheckFailed):
        check(*args)


def no_cross(capsys):
    out = capsys.readouterr().out
    return "\u2717" not in out and "\u2713" in out


# ---- the reference passes ----------------------------------------------------------------------------
def test_check_model_passes_on_the_reference(x, capsys):
    unit05.check_model(Student(), x)
    assert no_cross(capsys)


def test_check_guide_passes_on_the_reference(x, capsys):
    unit05.check_guide(Student(), x)
    assert no_cross(capsys)


def test_check_elbo_passes_on_the_reference(x, capsys):
    unit05.check_elbo(Student(), x)
    assert no_cross(capsys)


def test_check_model_cb_passes_on_the_reference(capsys):
    unit05.check_model_cb(GreyStudent())
    assert no_cross(capsys)


def test_check_cb_mean_passes_on_a_stable_formula(capsys):
    unit05.check_cb_mean(reference_cb_mean)
    assert no_cross(capsys)


def test_checks_pass_without_a_batch_given(capsys):
    vae = GreyStudent()
    unit05.check_model(vae)
    unit05.check_guide(vae)
    unit05.check_elbo(vae)
    assert no_cross(capsys)


def test_a_multivariate_normal_prior_with_identity_covariance_passes(x, capsys):
    vae = Student(model=model_with_mvn_prior)
    unit05.check_model(vae, x)
    unit05.check_elbo(vae, x)
    assert no_cross(capsys)


def test_checks_leave_the_param_store_and_random_state_alone(x):
    pyro.clear_param_store()
    pyro.param("kept", torch.ones(1))
    state = torch.get_rng_state()
    unit05.check_elbo(Student(), x)
    unit05.check_model_cb(GreyStudent())
    assert list(pyro.get_param_store().keys()) == ["kept"]
    assert torch.equal(torch.get_rng_state(), state)
    pyro.clear_param_store()


def test_the_reference_cb_mean_matches_torch_where_torch_is_exact():
    eta = torch.linspace(-12, 12, 97, dtype=torch.float64)
    eta = eta[eta.abs() > 0.05]
    assert torch.allclose(unit05.cb_mean(eta), dist.ContinuousBernoulli(logits=eta).mean, atol=1e-9)
    assert unit05.cb_mean(torch.zeros(1)).item() == 0.5


# ---- stubs fail --------------------------------------------------------------------------------------
def test_check_model_fails_on_a_stub(x, capsys):
    fails(unit05.check_model, Student(model=stub), x)
    assert "not implemented yet" in one_cross(capsys, "in place of the `raise` line")


def test_check_guide_fails_on_a_stub(x, capsys):
    fails(unit05.check_guide, Student(guide=stub), x)
    assert "not implemented yet" in one_cross(capsys, "in place of the `raise` line")


def test_check_model_cb_fails_on_a_stub(capsys):
    fails(unit05.check_model_cb, GreyStudent(model_cb=stub))
    assert "not implemented yet" in one_cross(capsys, "in place of the `raise` line")


def test_check_cb_mean_fails_on_a_stub(capsys):
    fails(unit05.check_cb_mean, cb_mean_stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_check_elbo_on_a_stub_model_says_fix_the_model_first_in_one_line(x, capsys):
    fails(unit05.check_elbo, Student(model=stub), x)
    out = capsys.readouterr().out.strip()
    assert out == "\u2717 elbo: not checked: fix `model` first (its check fails)"


# ---- wrong models fail -------------------------------------------------------------------------------
def test_check_model_without_to_event_on_x_gets_one_line_with_the_to_event_hint(x, capsys):
    fails(unit05.check_model, Student(model=model_without_to_event), x)
    one_cross(capsys, "add .to_event(1) to the 'x' distribution")


def test_check_model_without_to_event_on_z_gets_one_line_with_the_to_event_hint(x, capsys):
    fails(unit05.check_model, Student(model=model_with_latent_without_to_event), x)
    one_cross(capsys, "add .to_event(1) to the 'z' distribution")


def test_check_elbo_does_not_repeat_the_models_shape_error(x, capsys):
    fails(unit05.check_elbo, Student(model=model_without_to_event), x)
    out = capsys.readouterr().out.strip()
    assert out == "\u2717 elbo: not checked: fix `model` first (its check fails)"


def test_check_model_fails_on_probs_instead_of_logits(x, capsys):
    fails(unit05.check_model, Student(model=model_with_probs), x)
    one_cross(capsys, "no sigmoid: logits are stabler")


def test_check_model_fails_on_a_wrong_site_name(x, capsys):
    fails(unit05.check_model, Student(model=model_with_site_named_obs), x)
    assert "'obs'" in one_cross(capsys, "pyro.sample('x', ..., obs=x)")


def test_check_model_fails_without_a_plate(x, capsys):
    fails(unit05.check_model, Student(model=model_without_plate), x)
    one_cross(capsys, "pyro.plate('data', N)")


def test_check_model_fails_without_pyro_module(x, capsys):
    fails(unit05.check_model, Student(model=model_without_module), x)
    one_cross(capsys, "pyro.module('decoder'")


def test_check_model_fails_on_a_wrong_prior_and_shows_its_scale(x, capsys):
    fails(unit05.check_model, Student(model=model_with_wide_prior), x)
    line = one_cross(capsys, "dist.Normal(zeros, ones)")
    assert "p(z) = N(0, I)" in line and "std 2 to 2" in line


def test_check_model_fails_on_a_multivariate_normal_with_the_wrong_covariance(x, capsys):
    fails(unit05.check_model, Student(model=lambda vae, x: model_with_mvn_prior(vae, x, cov=2.0)), x)
    assert "MultivariateNormal off by" in one_cross(capsys, "dist.Normal(zeros, ones)")


def test_check_model_fails_on_negated_logits(x, capsys):
    fails(unit05.check_model, Student(model=model_with_negated_logits), x)
    one_cross(capsys, "decode the z returned by pyro.sample")


# ---- wrong guides fail -------------------------------------------------------------------------------
def test_check_guide_fails_on_a_variance_as_scale(x, capsys):
    fails(unit05.check_guide, Student(guide=guide_with_variance), x)
    one_cross(capsys, "not a variance")


def test_check_guide_without_to_event_gets_one_line_with_the_to_event_hint(x, capsys):
    fails(unit05.check_guide, Student(guide=guide_without_to_event), x)
    one_cross(capsys, "add .to_event(1) to the 'z' distribution")


def test_check_guide_fails_on_an_observed_site(x, capsys):
    fails(unit05.check_guide, Student(guide=guide_with_x_site), x)
    one_cross(capsys, "(no 'x' site)")


def test_check_guide_fails_without_pyro_module(x, capsys):
    fails(unit05.check_guide, Student(guide=guide_without_module), x)
    one_cross(capsys, "pyro.module('encoder'")


# ---- model and guide together ------------------------------------------------------------------------
def test_check_elbo_fails_on_plates_with_different_names_without_pyros_warning(x, capsys):
    vae = Student(guide=guide_in_another_plate)
    unit05.check_model(vae, x)
    unit05.check_guide(vae, x)
    assert no_cross(capsys)                          # each program alone is right
    fails(unit05.check_elbo, vae, x)
    line = one_cross(capsys, "one plate name in model and guide")
    assert "'data'" in line and "'batch'" in line


def test_check_elbo_fails_on_a_latent_site_scaled_in_the_model_only(x, capsys):
    fails(unit05.check_elbo, Student(model=model_with_scaled_prior), x)
    one_cross(capsys, "an extra poutine.scale or factor?")


def test_check_elbo_on_a_wrong_guide_says_fix_the_guide_first(x, capsys):
    fails(unit05.check_elbo, Student(guide=guide_with_variance), x)
    assert capsys.readouterr().out.strip() == "\u2717 elbo: not checked: fix `guide` first (its check fails)"


def test_check_elbo_fails_on_a_detached_scale(x, capsys):
    fails(unit05.check_elbo, Student(guide=guide_with_detached_scale), x)
    one_cross(capsys, "do not detach anything")


# ---- the grey-level model and the continuous Bernoulli's mean ----------------------------------------
def test_check_model_cb_fails_on_a_bernoulli(capsys):
    fails(unit05.check_model_cb, GreyStudent(model_cb=model_cb_with_bernoulli))
    one_cross(capsys, "dist.ContinuousBernoulli(logits=self.decoder(z))")


def test_check_model_cb_fails_on_binarized_images(capsys):
    fails(unit05.check_model_cb, GreyStudent(model_cb=model_cb_on_binarized_images))
    one_cross(capsys, "no binarize, grey levels are the data")


def test_check_model_cb_without_to_event_gets_one_line_with_the_to_event_hint(capsys):
    fails(unit05.check_model_cb, GreyStudent(model_cb=model_cb_without_to_event))
    one_cross(capsys, "add .to_event(1) to the 'x' distribution")


def test_check_model_cb_fails_on_a_scaled_likelihood(capsys):
    fails(unit05.check_model_cb, GreyStudent(model_cb=model_cb_with_scaled_likelihood))
    assert "0.50" in one_cross(capsys, "an extra poutine.scale or factor?")


def test_check_cb_mean_fails_on_the_unstable_formula_near_zero(capsys):
    fails(unit05.check_cb_mean, cb_mean_naive)
    one_cross(capsys, "for |η| < 0.1 use ½ + η/12")


def test_check_cb_mean_fails_on_lambda_as_the_mean(capsys):
    fails(unit05.check_cb_mean, torch.sigmoid)
    one_cross(capsys, "λ = sigmoid(η) is not the mean")


def test_check_cb_mean_fails_on_torchs_clamped_mean(capsys):
    fails(unit05.check_cb_mean, cb_mean_from_torch)
    one_cross(capsys, "torch's CB .mean clamps λ")


# ---- ready() -----------------------------------------------------------------------------------------
def test_ready_passes_on_the_reference(capsys, monkeypatch):
    monkeypatch.delenv("LVM_STRICT_CHECKS", raising=False)
    vae = GreyStudent()
    assert unit05.ready(vae.model, vae.guide, vae.model_cb, reference_cb_mean)
    assert capsys.readouterr().out == ""


def test_ready_skips_in_one_line_naming_the_unwritten_model(capsys, monkeypatch):
    monkeypatch.delenv("LVM_STRICT_CHECKS", raising=False)
    vae = Student(model=stub)
    assert not unit05.ready(vae.model, vae.guide)
    out = capsys.readouterr().out.strip()
    assert out.startswith("\u23ed skipped: first finish `model` (Part 1") and "\n" not in out, out


def test_ready_skips_when_model_and_guide_use_different_plates(capsys, monkeypatch):
    monkeypatch.delenv("LVM_STRICT_CHECKS", raising=False)
    vae = Student(guide=guide_in_another_plate)
    assert not unit05.ready(vae.model, vae.guide)
    out = capsys.readouterr().out.strip()
    assert out.startswith("\u23ed skipped: first finish `guide` (Parts 2-3") and "\n" not in out, out


def test_pass_lines_carry_no_numbers(x, capsys):
    vae = GreyStudent()
    unit05.check_model(vae, x)
    unit05.check_guide(vae, x)
    unit05.check_elbo(vae, x)
    unit05.check_model_cb(vae)
    out = capsys.readouterr().out.replace("N(0, I)", "N(O, I)")       # the only number: a constant
    assert out.count("\u2713") >= 30 and not any(ch.isdigit() for ch in out), out
