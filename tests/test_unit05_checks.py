"""Unit 05 self-checks: pass on the reference model and guide, fail on stubs and on typical mistakes
(mutation tests: a planted mistake gets one ✗ line of at most 120 characters with its own hint).

The reference programs are read from the reference solution itself, solutions/05_vae_pyro.py (its
classes and functions), not copied here; the planted mistakes of the table below are textual
mutations of that code, and the lecture's own model and guide are read from lectures/05_vae_pyro.md,
to prove that pasting them does not pass Parts 1-2."""
import ast
import math
import re
from pathlib import Path

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from torch import nn
from torch.nn import functional as F

from utils.checks import SelfCheckFailed, unit05
from utils.vae import Decoder, Encoder

N, Z_DIM = 8, 2
ROOT = Path(__file__).resolve().parents[1]
SOLUTION, LECTURE = ROOT / "solutions" / "05_vae_pyro.py", ROOT / "lectures" / "05_vae_pyro.md"
DEFINED = ("ExactContinuousBernoulli", "PyroVAE", "GreyPyroVAE", "cb_mean")


def definitions(text: str) -> dict[str, str]:
    """The source of every top-level class and function in the code of ``text`` (a py:percent
    script, or the code cells of a MyST notebook), by name; cells that are not plain Python (a
    magic) are skipped."""
    if text.lstrip().startswith("---"):
        cells = re.findall(r"```\{code-cell\}[^\n]*\n(?:---\n.*?\n---\n|:tags:[^\n]*\n)?(.*?)```", text, flags=re.S)
    else:
        cells = [chunk.partition("\n")[2] for chunk in text.split("\n# %%")]   # without the "# %%" line
    found = {}
    for cell in cells:
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        found.update({node.name: ast.get_source_segment(cell, node) for node in tree.body
                      if isinstance(node, (ast.FunctionDef, ast.ClassDef))})
    return found


def load(sources: dict[str, str], mutation: tuple[str, str, str] | None = None) -> dict:
    """Define ``sources`` in one namespace, in order, as the notebook does, with one ``mutation``
    (name, old text, new text) applied; the old text must occur in that definition exactly once."""
    sources = dict(sources)
    if mutation is not None:
        name, old, new = mutation
        assert sources[name].count(old) == 1, f"{old!r} not once in the solution's {name}"
        sources[name] = sources[name].replace(old, new)
    namespace = {"torch": torch, "pyro": pyro, "dist": dist, "nn": nn, "F": F, "math": math,
                 "Encoder": Encoder, "Decoder": Decoder}
    for name, source in sources.items():
        exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace


SOLUTION_SOURCES = {name: definitions(SOLUTION.read_text(encoding="utf-8"))[name] for name in DEFINED}
SOLVED = load(SOLUTION_SOURCES)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def x():
    return torch.bernoulli(torch.full((N, 784), 0.3), generator=torch.Generator().manual_seed(0))


def reference_model(vae, x):
    """The reference solution's model, run on the student's object."""
    return SOLVED["PyroVAE"].model(vae, x)


def reference_guide(vae, x):
    """The reference solution's guide, run on the student's object."""
    return SOLVED["PyroVAE"].guide(vae, x)


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
    """The reference solution's grey-level model: an exact continuous Bernoulli on the logits."""
    return SOLVED["GreyPyroVAE"].model_cb(vae, x)


class GreyStudent(Student):
    """Student with a third method, model_cb (exercise 05, Part 5)."""

    def __init__(self, model_cb=reference_model_cb, **kwargs):
        super().__init__(**kwargs)
        self._model_cb = model_cb

    def model_cb(self, x):
        return self._model_cb(self, x)


reference_cb_mean = SOLVED["cb_mean"]


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
        z_loc, z_scale = vae.encoder(x.reshape(len(x), -1))
        pyro.sample("z", dist.Normal(z_loc, z_scale.detach()).to_event(1))


def model_with_negated_logits(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=-vae.decoder(z)).to_event(1), obs=x)


def guide_in_another_plate(vae, x):
    pyro.module("encoder", vae.encoder)
    with pyro.plate("batch", x.shape[0]):
        z_loc, z_scale = vae.encoder(x.reshape(len(x), -1))
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
        logits = vae.decoder(z).view(*x.shape)
        pyro.sample("x", dist.Bernoulli(logits=logits).to_event(len(x.shape[1:])), obs=x)


def model_with_scaled_prior(vae, x):
    pyro.module("decoder", vae.decoder)
    with pyro.plate("data", x.shape[0]):
        with poutine.scale(scale=4.0):
            z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1))
        logits = vae.decoder(z).reshape(x.shape)
        pyro.sample("x", dist.Bernoulli(logits=logits).to_event(x.dim() - 1), obs=x)


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
    one_cross(capsys, "ExactContinuousBernoulli(logits=self.decoder(z))")


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


# ---- planted mistakes in the reference solution: each gets one ✗ whose hint names it -----------------
def _build(ns, name):
    torch.manual_seed(0)
    return ns[name](z_dim=Z_DIM)


CHECK_OF = {"model": lambda ns, x: unit05.check_model(_build(ns, "PyroVAE"), x),
            "guide": lambda ns, x: unit05.check_guide(_build(ns, "PyroVAE"), x),
            "model_cb": lambda ns, x: unit05.check_model_cb(_build(ns, "GreyPyroVAE"))}
MUTATIONS = [   # (what is checked, (definition, old text, new text)), expected fragment of the ✗ line
    ("model", ("PyroVAE", "dist.Bernoulli(logits=logits)", "dist.Bernoulli(logits=torch.sigmoid(logits))"),
     "the decoder gives logits already: no sigmoid"),
    ("model", ("PyroVAE", "logits = self.decoder(z).reshape(x.shape)", "logits = self.decoder(z)"),
     "logits.reshape(x.shape)"),
    ("model", ("PyroVAE", ".to_event(x.dim() - 1)", ".to_event(1)"), ".to_event(x.dim() - 1)"),
    ("guide", ("PyroVAE", "self.encoder(x.reshape(x.shape[0], -1))", "self.encoder(x)"),
     "the encoder takes (N, 784)"),
    ("guide", ("PyroVAE", "the encoder takes (N, 784)\n            pyro.sample(\"z\", dist.Normal(z_loc, z_scale)",
               "the encoder takes (N, 784)\n            pyro.sample(\"z\", dist.Normal(z_loc, z_scale**2)"),
     "not a variance"),
    ("model_cb", ("GreyPyroVAE", 'pyro.plate("data", x.shape[0])', 'pyro.plate("batch", x.shape[0])'),
     "one plate name in model and guide"),
    ("model_cb", ("GreyPyroVAE", "ExactContinuousBernoulli(logits=self.decoder(z))",
                  "ExactContinuousBernoulli(logits=torch.sigmoid(self.decoder(z)))"),
     "the decoder gives logits already: no sigmoid"),
    ("model_cb", ("GreyPyroVAE", "ExactContinuousBernoulli(logits=self.decoder(z))",
                  "dist.ContinuousBernoulli(logits=self.decoder(z))"), "torch's CB clamps λ"),
    ("model_cb", ("ExactContinuousBernoulli", "math.log(2.0) + eta**2 / 12", "math.log(2.0) - eta**2 / 12"),
     "each term exact"),     # the given class, spoilt: the check compares with the exact log C
    ("model_cb", ("ExactContinuousBernoulli", "value * eta - F.softplus(eta) + log_norm",
                  "value * eta - F.softplus(eta) - log_norm"), "an extra poutine.scale or factor?"),
]


@pytest.mark.parametrize("checked, mutation, hint", MUTATIONS,
                         ids=[f"{c}:{m[1][:30]}" for c, m, _ in MUTATIONS])
def test_a_planted_mistake_gets_one_cross_with_its_own_hint(x, capsys, checked, mutation, hint):
    ns = load(SOLUTION_SOURCES, mutation)
    if hint is None:
        CHECK_OF[checked](ns, x)
        assert no_cross(capsys)
        return
    fails(CHECK_OF[checked], ns, x)
    one_cross(capsys, hint)


@pytest.mark.parametrize("checked", CHECK_OF)
def test_the_checks_pass_on_the_reference_solution(x, capsys, checked):
    CHECK_OF[checked](SOLVED, x)
    assert no_cross(capsys)


def test_the_check_of_model_cb_catches_torchs_clamped_normaliser_only_at_large_logits(capsys):
    """With an untrained decoder (|logits| < 15) torch's normaliser is exact and the loss matches;
    the check sees the difference only where the decoder saturates (±40), and says what it is."""
    fails(unit05.check_model_cb, GreyStudent(model_cb=lambda vae, x: load(
        SOLUTION_SOURCES, ("GreyPyroVAE", "ExactContinuousBernoulli(logits=self.decoder(z))",
                           "dist.ContinuousBernoulli(logits=self.decoder(z))"))[
        "GreyPyroVAE"].model_cb(vae, x)))
    out = capsys.readouterr().out
    assert "\u2713 model_cb: loss = Σ(KL − log CB), exact log C" in out
    assert "\u2717 model_cb: where the decoder saturates" in out and "torch's CB clamps λ" in out


def test_the_exact_normaliser_matches_torch_where_torch_is_exact_and_not_beyond():
    eta = torch.tensor([-12.0, -3.0, -1e-3, 0.0, 2e-3, 0.5, 8.0, 12.0], dtype=torch.float64)
    half = torch.full_like(eta, 0.5)
    torch_log_c = dist.ContinuousBernoulli(logits=eta).log_prob(half) - 0.5 * eta + F.softplus(eta)
    torch.testing.assert_close(unit05.cb_log_norm(eta), torch_log_c, atol=1e-9, rtol=0)
    exact = SOLVED["ExactContinuousBernoulli"](logits=eta.float()).log_prob(half.float())
    torch.testing.assert_close(exact.double(), torch_log_c + 0.5 * eta - F.softplus(eta), atol=2e-6, rtol=0)
    big = torch.tensor([20.0, 40.0])
    torch_big = dist.ContinuousBernoulli(logits=big).log_prob(torch.full_like(big, 0.5))
    exact_big = SOLVED["ExactContinuousBernoulli"](logits=big).log_prob(torch.full_like(big, 0.5))
    truth = 0.5 * big.double() - F.softplus(big.double()) + unit05.cb_log_norm(big)
    assert ((torch_big.double() - truth).abs() > 0.1).all()
    torch.testing.assert_close(exact_big.double(), truth, atol=1e-5, rtol=0)


# ---- Parts 1-2 cannot be passed by pasting the lecture's cell ------------------------------------------
LECTURE_SOURCES = definitions(LECTURE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("check", [unit05.check_model, unit05.check_guide], ids=["model", "guide"])
def test_the_lectures_cell_pasted_fails_the_new_check(x, capsys, check):
    lecture = load({"PyroVAE": LECTURE_SOURCES["PyroVAE"]})["PyroVAE"]   # as written in the lecture
    assert "def model(self, x)" in LECTURE_SOURCES["PyroVAE"]
    torch.manual_seed(0)
    fails(check, lecture(Encoder(Z_DIM), Decoder(Z_DIM), Z_DIM), x)
    one_cross(capsys, "(N, 784)" if check is unit05.check_guide else ".to_event(x.dim() - 1)")


def test_the_notebook_moves_the_given_networks_to_the_device():
    """Issue 21: the cell "The networks (given)" runs its networks on the data's device."""
    text = SOLUTION.read_text(encoding="utf-8")
    cell = text[text.index("## The networks (given)"):text.index("## 1 · The model")]
    assert "Encoder(2).to(device)" in cell and "Decoder(2).to(device)" in cell
