"""Unit 05 self-checks: pass on the reference model and guide, fail on stubs and on typical mistakes."""
import pyro
import pyro.distributions as dist
import pytest
import torch
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


# ---- the reference passes ----------------------------------------------------------------------------
def test_check_model_passes_on_the_reference(x):
    unit05.check_model(Student(), x)


def test_check_guide_passes_on_the_reference(x):
    unit05.check_guide(Student(), x)


def test_check_elbo_passes_on_the_reference(x):
    unit05.check_elbo(Student(), x)


def test_checks_leave_the_param_store_and_random_state_alone(x):
    pyro.clear_param_store()
    pyro.param("kept", torch.ones(1))
    state = torch.get_rng_state()
    unit05.check_elbo(Student(), x)
    assert list(pyro.get_param_store().keys()) == ["kept"]
    assert torch.equal(torch.get_rng_state(), state)
    pyro.clear_param_store()


# ---- stubs fail --------------------------------------------------------------------------------------
def test_check_model_fails_on_a_stub(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_model(Student(model=stub), x)
    assert "not implemented yet" in capsys.readouterr().out


def test_check_guide_fails_on_a_stub(x):
    with pytest.raises(SelfCheckFailed):
        unit05.check_guide(Student(guide=stub), x)


def test_check_elbo_fails_on_a_stub_model(x):
    with pytest.raises(SelfCheckFailed):
        unit05.check_elbo(Student(model=stub), x)


# ---- wrong models fail -------------------------------------------------------------------------------
def test_check_model_fails_without_to_event(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_model(Student(model=model_without_to_event), x)
    assert "Shape mismatch" in capsys.readouterr().out


def test_check_model_fails_on_probs_instead_of_logits(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_model(Student(model=model_with_probs), x)
    assert "logits" in capsys.readouterr().out


def test_check_model_fails_on_a_wrong_site_name(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_model(Student(model=model_with_site_named_obs), x)
    assert "'obs'" in capsys.readouterr().out


def test_check_model_fails_without_a_plate(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_model(Student(model=model_without_plate), x)
    assert "pyro.plate" in capsys.readouterr().out


def test_check_model_fails_without_pyro_module(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_model(Student(model=model_without_module), x)
    assert "pyro.module('decoder'" in capsys.readouterr().out


def test_check_model_fails_on_a_wrong_prior(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_model(Student(model=model_with_wide_prior), x)
    assert "\u2717 model: p(z) is the standard normal" in capsys.readouterr().out


# ---- wrong guides fail -------------------------------------------------------------------------------
def test_check_guide_fails_on_a_variance_as_scale(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_guide(Student(guide=guide_with_variance), x)
    assert "not a variance" in capsys.readouterr().out


def test_check_guide_fails_without_to_event(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_guide(Student(guide=guide_without_to_event), x)
    assert "Shape mismatch" in capsys.readouterr().out


def test_check_guide_fails_on_an_observed_site(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_guide(Student(guide=guide_with_x_site), x)
    assert "no 'x' site" in capsys.readouterr().out


def test_check_guide_fails_without_pyro_module(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_guide(Student(guide=guide_without_module), x)
    assert "pyro.module('encoder'" in capsys.readouterr().out


# ---- wrong losses fail -------------------------------------------------------------------------------
def test_check_elbo_fails_on_a_wrong_likelihood(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_elbo(Student(model=model_with_negated_logits), x)
    assert "\u2717 elbo: TraceMeanField_ELBO equals" in capsys.readouterr().out


def test_check_elbo_fails_on_a_variance_as_scale(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_elbo(Student(guide=guide_with_variance), x)
    assert "\u2717 elbo" in capsys.readouterr().out


def test_check_elbo_fails_on_a_detached_scale(x, capsys):
    with pytest.raises(SelfCheckFailed):
        unit05.check_elbo(Student(guide=guide_with_detached_scale), x)
    assert "get no gradient" in capsys.readouterr().out


def test_pass_lines_carry_no_numbers(x, capsys):
    vae = Student()
    unit05.check_model(vae, x)
    unit05.check_guide(vae, x)
    unit05.check_elbo(vae, x)
    out = capsys.readouterr().out
    assert out.count("\u2713") >= 20 and not any(ch.isdigit() for ch in out), out
