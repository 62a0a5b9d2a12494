"""Unit 05 self-checks: pass on the reference model and guide, fail on stubs and on typical mistakes
(mutation tests: a planted mistake gets one ✗ line of at most 120 characters with its own hint).

The reference programs are the reference solution's, solutions/05_vae_pyro.py (its definitions that
hold a BEGIN SOLUTION marker, and what they use, read by tests/_solutions.py), not copied here; the
planted mistakes of the table below are edits of that code, and the lecture's own model and guide are
read from lectures/05_vae_pyro.py, to prove that pasting them does not pass Parts 1-2."""
import pyro
import pyro.distributions as dist
import pytest
import torch
from torch.nn import functional as F

from _checks import FAIL, PASS, fails, passes, printed
from _solutions import ROOT, STUB, lecture, planted, solution
from utils.checks import unit05
from utils.vae import Decoder, Encoder

pytestmark = pytest.mark.usefixtures("one_thread")
N, Z_DIM = 8, 2
S = solution(5)
X = torch.bernoulli(torch.full((N, 784), 0.3), generator=torch.Generator().manual_seed(0))   # binary images


def built(notebook, name="PyroVAE"):
    """The notebook's class ``name`` built as the notebook builds it: seed 0, z_dim = 2."""
    torch.manual_seed(0)
    return getattr(notebook, name)(z_dim=Z_DIM)


CHECK = {"model": lambda notebook: unit05.check_model(built(notebook), X),
         "guide": lambda notebook: unit05.check_guide(built(notebook), X),
         "elbo": lambda notebook: unit05.check_elbo(built(notebook), X),
         "model_cb": lambda notebook: unit05.check_model_cb(built(notebook, "GreyPyroVAE")),
         "cb_mean": lambda notebook: unit05.check_cb_mean(notebook.cb_mean)}


# ---- the reference passes --------------------------------------------------------------------------
@pytest.mark.parametrize("checked", CHECK)
def test_each_check_passes_on_the_reference_solution(checked):
    passes(CHECK[checked], S)


def test_checks_pass_without_a_batch_given():
    vae = built(S, "GreyPyroVAE")
    for check in (unit05.check_model, unit05.check_guide, unit05.check_elbo):
        passes(check, vae)


def test_checks_leave_the_param_store_and_random_state_alone():
    pyro.clear_param_store()
    pyro.param("kept", torch.ones(1))
    state = torch.get_rng_state()
    unit05.check_elbo(built(S), X)
    unit05.check_model_cb(built(S, "GreyPyroVAE"))
    assert list(pyro.get_param_store().keys()) == ["kept"]
    assert torch.equal(torch.get_rng_state(), state)
    pyro.clear_param_store()


def test_pass_lines_carry_no_numbers():
    vae = built(S, "GreyPyroVAE")
    lines = [line for check, *args in [(unit05.check_model, vae, X), (unit05.check_guide, vae, X),
                                       (unit05.check_elbo, vae, X), (unit05.check_model_cb, vae)]
             for line in passes(check, *args)]
    out = "\n".join(lines).replace("N(0, I)", "N(O, I)")       # the only number: a constant
    assert len(lines) >= 30 and not any(ch.isdigit() for ch in out), out


def test_the_reference_cb_mean_matches_torch_where_torch_is_exact():
    eta = torch.linspace(-12, 12, 97, dtype=torch.float64)
    eta = eta[eta.abs() > 0.05]
    assert torch.allclose(unit05.cb_mean(eta), dist.ContinuousBernoulli(logits=eta).mean, atol=1e-9)
    assert unit05.cb_mean(torch.zeros(1)).item() == 0.5


def test_the_exact_normaliser_matches_torch_where_torch_is_exact_and_not_beyond():
    eta = torch.tensor([-12.0, -3.0, -1e-3, 0.0, 2e-3, 0.5, 8.0, 12.0], dtype=torch.float64)
    half = torch.full_like(eta, 0.5)
    torch_log_c = dist.ContinuousBernoulli(logits=eta).log_prob(half) - 0.5 * eta + F.softplus(eta)
    torch.testing.assert_close(unit05.cb_log_norm(eta), torch_log_c, atol=1e-9, rtol=0)
    exact = S.ExactContinuousBernoulli(logits=eta.float()).log_prob(half.float())
    torch.testing.assert_close(exact.double(), torch_log_c + 0.5 * eta - F.softplus(eta), atol=2e-6, rtol=0)
    big = torch.tensor([20.0, 40.0])
    torch_big = dist.ContinuousBernoulli(logits=big).log_prob(torch.full_like(big, 0.5))
    exact_big = S.ExactContinuousBernoulli(logits=big).log_prob(torch.full_like(big, 0.5))
    truth = 0.5 * big.double() - F.softplus(big.double()) + unit05.cb_log_norm(big)
    assert ((torch_big.double() - truth).abs() > 0.1).all()
    torch.testing.assert_close(exact_big.double(), truth, atol=1e-5, rtol=0)


# ---- planted mistakes: "checked: what", (definition, edits, what the one ✗ line says, its hint first) --
MODEL, GUIDE, MODEL_CB = "PyroVAE.model", "PyroVAE.guide", "GreyPyroVAE.model_cb"
NOT_WRITTEN = ("in place of the `raise` line", "not implemented yet")
Z_SAMPLE = 'pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))'
Z_SITE = f"z = {Z_SAMPLE}"
X_SITE = 'pyro.sample("x", dist.Bernoulli(logits=self.decoder(z)).to_event(1), obs=x)'
TORCH_CB = ("ExactContinuousBernoulli(logits=self.decoder(z))", "dist.ContinuousBernoulli(logits=self.decoder(z))")
TORCH_CB_SITE = 'pyro.sample("x", dist.ContinuousBernoulli(logits=self.decoder(z)).to_event(1), obs=x)'
MVN = "dist.MultivariateNormal(x.new_zeros(self.z_dim), {} * torch.eye(self.z_dim))"
SCALED = "with poutine.scale(scale={}):\n                "
MISTAKES = {
    "model: not written": (MODEL, STUB, NOT_WRITTEN),
    "model: no .to_event on 'x'": (MODEL, (".to_event(x.dim() - 1), obs=x", ", obs=x"),
                                   "add .to_event(1) to the 'x' distribution"),
    "model: no .to_event on 'z'": (MODEL, (".to_event(1))", ")"), "add .to_event(1) to the 'z' distribution"),
    "model: probs, not logits": (MODEL, ("Bernoulli(logits=logits)", "Bernoulli(probs=torch.sigmoid(logits))"),
                                 "no sigmoid: logits are stabler"),
    "model: the sigmoid of the logits": (MODEL, ("Bernoulli(logits=logits)", "Bernoulli(logits=torch.sigmoid(logits))"),
                                         "the decoder gives logits already: no sigmoid"),
    "model: the site named 'obs'": (MODEL, ('pyro.sample("x",', 'pyro.sample("obs",'),
                                    ("pyro.sample('x', ..., obs=x)", "'obs'")),
    "model: no plate": (MODEL, ('with pyro.plate("data", x.shape[0]):', "if True:"), (".to_event(1))", ".to_event(2))"),
                        (".to_event(x.dim() - 1)", ".to_event(x.dim())"), "pyro.plate('data', N)"),
    "model: no pyro.module": (MODEL, ('pyro.module("decoder", self.decoder)', "pass"), "pyro.module('decoder'"),
    "model: a wide prior": (MODEL, ("z_scale = x.new_ones(", "z_scale = 2 * x.new_ones("),
                            ("dist.Normal(zeros, ones)", "p(z) = N(0, I)", "std 2 to 2")),
    "model: a MultivariateNormal of covariance 2": (MODEL, ("dist.Normal(z_loc, z_scale).to_event(1)", MVN.format(2.0)),
                                                    ("dist.Normal(zeros, ones)", "MultivariateNormal off by")),
    "model: the logits negated": (MODEL, ("Bernoulli(logits=logits)", "Bernoulli(logits=-logits)"),
                                  "decode the z returned by pyro.sample"),
    "model: the logits not reshaped": (MODEL, ("logits = self.decoder(z).reshape(x.shape)", "logits = self.decoder(z)"),
                                       "logits.reshape(x.shape)"),
    "model: one event dimension for any image": (MODEL, (".to_event(x.dim() - 1)", ".to_event(1)"),
                                                 ".to_event(x.dim() - 1)"),
    "guide: not written": (GUIDE, STUB, NOT_WRITTEN),
    "guide: a variance as the scale": (GUIDE, ("Normal(z_loc, z_scale)", "Normal(z_loc, z_scale**2)"),
                                       "not a variance"),
    "guide: no .to_event": (GUIDE, (".to_event(1)", ""), "add .to_event(1) to the 'z' distribution"),
    "guide: an observed site": (GUIDE, (Z_SAMPLE, f"{Z_SITE}\n            {X_SITE}"), "(no 'x' site)"),
    "guide: no pyro.module": (GUIDE, ('pyro.module("encoder", self.encoder)', "pass"), "pyro.module('encoder'"),
    "guide: images not flattened": (GUIDE, ("self.encoder(x.reshape(x.shape[0], -1))", "self.encoder(x)"),
                                    "the encoder takes (N, 784)"),
    "elbo: model and guide in plates of other names": (GUIDE, ('pyro.plate("data"', 'pyro.plate("batch"'),
                                                       ("one plate name in model and guide", "'data'", "'batch'")),
    "elbo: a latent site scaled in the model only": (MODEL, (Z_SITE, SCALED.format(4.0) + Z_SITE),
                                                     "an extra poutine.scale or factor?"),
    "elbo: the guide's scale detached": (GUIDE, ("Normal(z_loc, z_scale)", "Normal(z_loc, z_scale.detach())"),
                                         "do not detach anything"),
    "model_cb: not written": (MODEL_CB, STUB, NOT_WRITTEN),
    "model_cb: a Bernoulli": (MODEL_CB, ("ExactContinuousBernoulli(logits=", "dist.Bernoulli(logits="),
                              "ExactContinuousBernoulli(logits=self.decoder(z))"),
    "model_cb: binarized images": (MODEL_CB, TORCH_CB, ("obs=x)", "obs=torch.bernoulli(x))"),
                                   "no binarize, grey levels are the data"),
    "model_cb: no .to_event": (MODEL_CB, TORCH_CB, (".to_event(1), obs=x", ", obs=x"),
                               "add .to_event(1) to the 'x' distribution"),
    "model_cb: a scaled likelihood": (MODEL_CB, TORCH_CB, (TORCH_CB_SITE, SCALED.format(0.5) + TORCH_CB_SITE),
                                      ("an extra poutine.scale or factor?", "0.50")),
    "model_cb: a plate of another name": (MODEL_CB, ('pyro.plate("data"', 'pyro.plate("batch"'),
                                          "one plate name in model and guide"),
    "model_cb: the sigmoid of the logits": (
        MODEL_CB, ("(logits=self.decoder(z))", "(logits=torch.sigmoid(self.decoder(z)))"),
        "the decoder gives logits already: no sigmoid"),
    "model_cb: torch's ContinuousBernoulli": (MODEL_CB, TORCH_CB, "torch's CB clamps λ"),
    "model_cb: the given class with a minus in its Taylor term": (   # the check compares with the exact log C
        "ExactContinuousBernoulli", ("math.log(2.0) + eta**2 / 12", "math.log(2.0) - eta**2 / 12"), "each term exact"),
    "model_cb: the given class with log C subtracted": (
        "ExactContinuousBernoulli", ("- F.softplus(eta) + log_norm", "- F.softplus(eta) - log_norm"),
        "an extra poutine.scale or factor?"),
    "cb_mean: not written": ("cb_mean", STUB, "not implemented yet"),
    "cb_mean: the formula near 0": (
        "cb_mean", ("torch.where(small, 0.5 + logits / 12, 1 / (-torch.expm1(-safe)) - 1 / safe)",
                    "1 / (1 - torch.exp(-logits)) - 1 / logits"), "for |η| < 0.1 use ½ + η/12"),
}


def with_mistake(mistake):
    """The solution with the planted mistake ``mistake`` of the table."""
    target, *edits, _ = MISTAKES[mistake]
    return planted(5, target, *edits)


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_gets_one_cross_with_its_own_hint(mistake):
    line, = fails(CHECK[mistake.partition(":")[0]], with_mistake(mistake), hint=MISTAKES[mistake][-1], one=True)
    assert "Hint: " in line, line


@pytest.mark.parametrize("mean, hint", [(torch.sigmoid, "λ = sigmoid(η) is not the mean"),
                                        (lambda logits: dist.ContinuousBernoulli(logits=logits).mean,
                                         "torch's CB .mean clamps λ")], ids=["λ", "torch's mean"])
def test_check_cb_mean_names_a_mean_that_is_not_the_formula(mean, hint):
    fails(unit05.check_cb_mean, mean, hint=hint, one=True)


@pytest.mark.parametrize("mistake", ["model: not written", "model: no .to_event on 'x'"])
def test_check_elbo_does_not_repeat_the_models_error(mistake):
    assert printed(CHECK["elbo"], with_mistake(mistake)) == (
        True, [f"{FAIL} elbo: not checked: fix `model` first (its check fails)"])


def test_check_elbo_on_a_wrong_guide_says_fix_the_guide_first():
    assert printed(CHECK["elbo"], with_mistake("guide: a variance as the scale")) == (
        True, [f"{FAIL} elbo: not checked: fix `guide` first (its check fails)"])


def test_plates_of_other_names_pass_the_model_and_guide_checks_each_alone():
    notebook = with_mistake("elbo: model and guide in plates of other names")
    passes(CHECK["model"], notebook)
    passes(CHECK["guide"], notebook)


def test_a_multivariate_normal_prior_with_identity_covariance_passes():
    notebook = planted(5, MODEL, ("dist.Normal(z_loc, z_scale).to_event(1)", MVN.format(1.0)))
    passes(CHECK["model"], notebook)
    passes(CHECK["elbo"], notebook)


def test_the_check_of_model_cb_catches_torchs_clamped_normaliser_only_at_large_logits():
    """With an untrained decoder (|logits| < 15) torch's normaliser is exact and the loss matches;
    the check sees the difference only where the decoder saturates (±40), and says what it is."""
    raised, lines = printed(CHECK["model_cb"], with_mistake("model_cb: torch's ContinuousBernoulli"))
    out = "\n".join(lines)
    assert raised and f"{PASS} model_cb: loss = Σ(KL − log CB), exact log C" in out
    assert f"{FAIL} model_cb: where the decoder saturates" in out and "torch's CB clamps λ" in out


# ---- ready() -----------------------------------------------------------------------------------------
def test_ready_passes_on_the_reference(capsys):
    vae = built(S, "GreyPyroVAE")
    assert unit05.ready(vae.model, vae.guide, vae.model_cb, S.cb_mean)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("mistake, says", [("model: not written", "first finish `model` (Part 1"),
                                           ("elbo: model and guide in plates of other names",
                                            "first finish `guide` (Parts 2-3")])
def test_ready_skips_in_one_line_naming_what_to_finish(capsys, monkeypatch, mistake, says):
    monkeypatch.delenv("LVM_STRICT_CHECKS", raising=False)
    vae = built(with_mistake(mistake))
    assert not unit05.ready(vae.model, vae.guide)
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"\u23ed skipped: {says}") and "\n" not in out, out


# ---- Parts 1-2 cannot be passed by pasting the lecture's cell ------------------------------------------
@pytest.mark.parametrize("checked, hint", [("model", ".to_event(x.dim() - 1)"), ("guide", "(N, 784)")])
def test_the_lectures_cell_pasted_fails_the_new_check(checked, hint):
    torch.manual_seed(0)
    vae = lecture(5, "PyroVAE").PyroVAE(Encoder(Z_DIM), Decoder(Z_DIM), Z_DIM)   # as written in the lecture
    line, = fails(getattr(unit05, f"check_{checked}"), vae, X, hint=hint, one=True)
    assert "Hint: " in line


def test_the_notebook_moves_the_given_networks_to_the_device():
    """Issue 21: the cell "The networks (given)" runs its networks on the data's device."""
    text = (ROOT / "solutions" / "05_vae_pyro.py").read_text(encoding="utf-8")
    cell = text[text.index("## The networks (given)"):text.index("## 1 · The model")]
    assert "Encoder(2).to(device)" in cell and "Decoder(2).to(device)" in cell
