"""Unit 04 self-checks pass on the reference VAE loss, fail on stubs and on typical wrong answers.

The student's functions written correctly are the reference solution's, solutions/04_vae_pytorch.py
(its definitions between BEGIN and END SOLUTION, read by tests/_solutions.py), not copied here; a
planted mistake is an edit of that code or a wrapper around it (the table below), and the lecture's
own cells are read from lectures/04_vae_pytorch.py, to prove that pasting them does not pass Parts 1-2."""
import pytest
import torch
from torch.distributions import ContinuousBernoulli
from torch.nn import functional as F

from _checks import FAIL, fails, passes, printed
from _solutions import ROOT, STUB, altered, lecture, marked, notebook, planted, solution, student
from utils.checks import unit04
from utils.vae import VAE

pytestmark = pytest.mark.usefixtures("one_thread")
S = solution(4)
CHECK = {"reparameterize": unit04.check_reparameterize, "gaussian_kl": unit04.check_gaussian_kl,
         "negative_elbo": unit04.check_negative_elbo, "cb_log_norm": unit04.check_cb_log_norm,
         "cb_negative_elbo": unit04.check_cb_negative_elbo}


@pytest.fixture(scope="module")
def digits():
    """Structured stand-in images: noisy copies of five fixed prototypes, intensities in [0, 1]."""
    gen = torch.Generator().manual_seed(0)
    prototypes = (torch.rand(5, 784, generator=gen) < 0.2).float()
    which = torch.randint(0, 5, (512,), generator=gen)
    return (0.9 * prototypes[which] + 0.05).clamp(0, 1)


def test_the_solution_marks_every_function_of_the_exercise():
    assert set(marked(4)) == set(CHECK)


def test_the_checks_pass_on_the_reference_solution():
    lines = [line for name, check in CHECK.items() for line in passes(check, getattr(S, name))]
    assert len(lines) >= 20, lines


# ---- planted mistakes: (function, the mistaken one), what the one ✗ line it gets says (its hint first) -
def edit(name, *edits):
    return name, getattr(planted(4, name, *edits), name)


def wrapped(name, change):
    """The solution's ``name`` with ``change`` made to its result."""
    return name, altered(getattr(S, name), change)


BCE_SIGMOID = ("F.binary_cross_entropy_with_logits(logits, x,", "F.binary_cross_entropy(torch.sigmoid(logits), x,")
CB_LOG_PX = '''(-F.binary_cross_entropy_with_logits(logits, x, reduction="none")
                + cb_log_norm(logits)).sum(-1)'''
MISTAKES = {
    **{f"{name}: not written (the exercise's stub)": (edit(name, STUB), "not implemented yet") for name in CHECK},
    "reparameterize: z detached": (wrapped("reparameterize", lambda z: z.detach()),
                                   ("no .detach()", "z has no gradient")),
    "reparameterize: the eps given ignored": (
        ("reparameterize", lambda z_loc, z_log_var, eps=None: S.reparameterize(z_loc, z_log_var)),
        "with the eps given"),
    "reparameterize: no noise of its own": (
        edit("reparameterize", ("eps = torch.randn_like(z_loc)", "eps = torch.zeros_like(z_loc)")), "torch.randn_like"),
    "reparameterize: the log-variance as σ": (edit("reparameterize", ("torch.exp(0.5 * z_log_var)", "z_log_var")),
                                              "not σ: σ = exp(z_log_var / 2)"),
    "reparameterize: the variance as σ": (
        edit("reparameterize", ("torch.exp(0.5 * z_log_var)", "torch.exp(z_log_var)")), "is the variance"),
    "reparameterize: σ detached": (
        edit("reparameterize", ("torch.exp(0.5 * z_log_var) * eps", "torch.exp(0.5 * z_log_var).detach() * eps")),
        "wrong gradients"),
    "gaussian_kl: not summed": (edit("gaussian_kl", (".sum(-1)", "")),
                                ("expected shape (128,), got (128, 2)", "sum over the latent dimension")),
    "gaussian_kl: without the 1/2": (wrapped("gaussian_kl", lambda kl: 2 * kl), "missing the factor 1/2"),
    "gaussian_kl: the sign flipped": (wrapped("gaussian_kl", lambda kl: -kl), "a KL is never negative"),
    "gaussian_kl: detached": (wrapped("gaussian_kl", lambda kl: kl.detach()), ("missing or wrong", "torch ops only")),
    "gaussian_kl: 2·log σ²": (edit("gaussian_kl", ("- 1 - z_log_var)", "- 1 - 2 * z_log_var)")), "no factor 2"),
    "gaussian_kl: in log σ": (edit("gaussian_kl", ("z_log_var.exp() - 1 - z_log_var",
                                                   "(2 * z_log_var).exp() - 1 - 2 * z_log_var")), "not log σ"),
    "gaussian_kl: in σ²": (
        edit("gaussian_kl", ("z_log_var.exp() - 1 - z_log_var", "z_log_var - 1 - z_log_var.log()")),
        "z_log_var can be < 0"),
    "negative_elbo: the ELBO": (wrapped("negative_elbo", lambda loss: -loss), "you returned the ELBO"),
    "negative_elbo: the ELBO, written": (
        edit("negative_elbo", ("return gaussian_kl(z_loc, z_log_var) - log_px_z",
                               "return log_px_z - gaussian_kl(z_loc, z_log_var)")), "you returned the ELBO"),
    "negative_elbo: the batch mean": (wrapped("negative_elbo", lambda loss: loss.mean()),
                                      ("expected shape (128,), got ()", "not over the batch")),
    "negative_elbo: no KL": (edit("negative_elbo", ("return gaussian_kl(z_loc, z_log_var) - log_px_z",
                                                    "return -log_px_z")), "the KL term is missing"),
    "negative_elbo: the sample detached": (
        edit("negative_elbo", ("z = reparameterize(z_loc, z_log_var, eps)",
                               "z = reparameterize(z_loc, z_log_var, eps).detach()")),
        ("not .detach()", "missing or wrong (encoder)")),
    "negative_elbo: z_scale for z_log_var": (
        edit("negative_elbo", ("z_log_var = 2 * z_scale.log()", "z_log_var = z_scale")),
        "pass z_log_var = 2·log(z_scale)"),
    "negative_elbo: BCE of sigmoid": (edit("negative_elbo", BCE_SIGMOID), "use BCE with logits: no sigmoid"),
    "cb_log_norm: no limit at 0": (
        edit("cb_log_norm", ("return torch.where(small, near_zero, torch.log(safe / torch.tanh(safe / 2)))",
                             "return torch.log(logits / torch.tanh(logits / 2))")),
        ("its limit, log 2", "NaN or inf near logits = 0")),
    "cb_log_norm: the formula in probabilities": (
        edit("cb_log_norm", ("torch.log(safe / torch.tanh(safe / 2))",   # 1 − 2λ rounds to ±1 for large |f|
                             "torch.log(2 * torch.atanh(1 - 2 * torch.sigmoid(safe))"
                             " / (1 - 2 * torch.sigmoid(safe)))")),
        "use 1 − 2λ = −tanh(f/2)"),
    "cb_log_norm: C for log C": (wrapped("cb_log_norm", lambda log_c: log_c.exp()), "return log C, not C"),
    "cb_log_norm: a minus in the Taylor term": (   # harmless in float32
        edit("cb_log_norm", ("math.log(2.0) + logits**2 / 12", "math.log(2.0) - logits**2 / 12")),
        "a plus: C is least at f = 0"),
    "cb_log_norm: no f²/12": (edit("cb_log_norm", ("math.log(2.0) + logits**2 / 12", "math.log(2.0) + 0 * logits")),
                              "add the f²/12 term"),
    "cb_log_norm: log of a negative C": (
        edit("cb_log_norm", ("return torch.where(small, near_zero, torch.log(safe / torch.tanh(safe / 2)))",
                             "return torch.log(-torch.where(small, near_zero.exp(), safe / torch.tanh(safe / 2)))")),
        "NaN or inf at every logit"),
    "cb_log_norm: C negated": (edit("cb_log_norm", ("torch.log(safe / torch.tanh(safe / 2))",
                                                    "torch.log(-safe / torch.tanh(safe / 2))")),
                               "C = f / tanh(f/2) > 0 for every f"),
    "cb_log_norm: no safe f in torch.where": (
        edit("cb_log_norm", ("safe = torch.where(small, torch.ones_like(logits), logits)", "safe = logits")),
        "feed the formula a safe f"),
    "cb_negative_elbo: no log C": (("cb_negative_elbo", S.negative_elbo), "add log C"),
    "cb_negative_elbo: log C subtracted": (edit("cb_negative_elbo", ("+ cb_log_norm(logits)", "- cb_log_norm(logits)")),
                                           "not subtracted"),
    "cb_negative_elbo: probs given logits": (
        edit("cb_negative_elbo", (CB_LOG_PX, "ContinuousBernoulli(probs=logits).log_prob(x).sum(-1)")),
        "decoder gives logits: ContinuousBernoulli(logits=...)"),
    "cb_negative_elbo: torch's ContinuousBernoulli": (
        edit("cb_negative_elbo", (CB_LOG_PX, "ContinuousBernoulli(logits=logits).log_prob(x).sum(-1)")),
        "torch's CB clamps λ"),
    "cb_negative_elbo: BCE of sigmoid": (edit("cb_negative_elbo", BCE_SIGMOID), "use BCE with logits: no sigmoid"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_gets_one_cross_with_its_own_hint(mistake):
    (name, fn), hint = MISTAKES[mistake]
    line, = fails(CHECK[name], fn, hint=hint, one=True)
    assert "Hint: " in line, line


def test_negative_elbo_check_gives_one_line_for_probs_given_logits():
    _, probs = edit("negative_elbo", ('-F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)',
                                      "torch.distributions.Bernoulli(probs=logits).log_prob(x).sum(-1)"))
    line, = fails(unit04.check_negative_elbo, probs, hint="the decoder returns logits: Bernoulli(logits=...)",
                  one=True)
    assert "tensor(" not in line


# ---- a check uses the reference of what the function builds on: no cascade ---------------------------
@pytest.mark.parametrize("notebook", [
    planted(4, "reparameterize", ("torch.exp(0.5 * z_log_var)", "torch.exp(z_log_var)")),
    student(4, gaussian_kl=lambda z_loc, z_log_var: 2 * S.gaussian_kl(z_loc, z_log_var)),
], ids=["reparameterize", "gaussian_kl"])
def test_negative_elbo_check_passes_when_only_a_function_it_uses_is_wrong(notebook):
    passes(unit04.check_negative_elbo, notebook.negative_elbo)


def test_cb_negative_elbo_check_passes_with_a_wrong_log_norm_of_the_students():
    passes(unit04.check_cb_negative_elbo, student(4, cb_log_norm=lambda f: -S.cb_log_norm(f)).cb_negative_elbo)


# ---- training --------------------------------------------------------------------------------------
def test_training_check_passes_on_the_reference_with_one_line_per_check_and_no_progress_bar(digits):
    assert len(passes(unit04.check_training_lowers_loss, S.negative_elbo, digits)) == 2   # printed(): stderr empty


def test_training_check_fails_on_stub(digits):
    fails(unit04.check_training_lowers_loss, planted(4, "negative_elbo", STUB).negative_elbo, digits,
          hint="fix `negative_elbo` first", one=True)


def test_training_check_says_which_function_to_fix_first(digits):
    notebook = student(4, gaussian_kl=lambda z_loc, z_log_var: -S.gaussian_kl(z_loc, z_log_var))
    fails(unit04.check_training_lowers_loss, notebook.negative_elbo, digits,
          hint="not run: fix `gaussian_kl` first", one=True)


def test_training_check_fails_when_maximising_the_loss(digits):
    fails(unit04.check_training_lowers_loss, altered(S.negative_elbo, lambda loss: -loss), digits,
          hint="fix `negative_elbo` first", one=True)


def test_training_check_leaves_the_global_generator_alone(digits):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    unit04.check_training_lowers_loss(S.negative_elbo, digits)
    torch.testing.assert_close(torch.rand(3), expected)


# ---- continuous Bernoulli: the checks' references ----------------------------------------------------
def test_reference_log_norm_matches_torch_continuous_bernoulli():
    logits = torch.linspace(-10, 10, 201)
    x = torch.rand(201)
    expected = ContinuousBernoulli(logits=logits).log_prob(x) + F.binary_cross_entropy_with_logits(
        logits, x, reduction="none")
    torch.testing.assert_close(unit04.reference_cb_log_norm(logits), expected, atol=1e-4, rtol=1e-4)


def test_reference_cb_loss_matches_torch_continuous_bernoulli():
    torch.manual_seed(0)
    vae, x, eps = VAE(z_dim=2, hidden_dim=64), torch.rand(8, 784), torch.randn(8, 2)
    z_loc, z_scale = vae.encoder(x)
    logits = vae.decoder(z_loc + z_scale * eps)
    expected = S.gaussian_kl(z_loc, 2 * z_scale.log()) - ContinuousBernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(unit04.reference_cb_negative_elbo(vae, x, eps), expected, atol=1e-2, rtol=1e-4)


def test_the_reference_log_norm_is_exact_where_torch_clamps():
    """The reference log C in float32 matches log(f / tanh(f / 2)) in float64 at every logit up to
    ±60, where torch's ContinuousBernoulli (float32) is off by more than 0.1 nats from |f| = 20."""
    f = torch.tensor([-60.0, -40.0, -20.0, -15.0, 15.0, 20.0, 40.0, 60.0])
    exact = torch.log(f.double() / torch.tanh(f.double() / 2))
    torch.testing.assert_close(unit04.reference_cb_log_norm(f).double(), exact, atol=1e-5, rtol=1e-6)
    x = torch.full_like(f, 0.3)
    torch_log_c = ContinuousBernoulli(logits=f).log_prob(x) + F.binary_cross_entropy_with_logits(
        f, x, reduction="none")
    assert ((torch_log_c.double() - exact).abs()[f.abs() >= 20] > 0.1).all()


# ---- every check never raises, whatever the function returns -----------------------------------------
ODD = {"None": None, "a string": "x", "a tuple": (1, 2), "a NaN tensor": torch.full((128,), float("nan")),
       "an int tensor": torch.zeros(128, dtype=torch.long)}


@pytest.mark.parametrize("what", ODD)
@pytest.mark.parametrize("name", CHECK)
def test_check_never_raises_whatever_is_returned(name, what):
    raised, lines = printed(CHECK[name], lambda *args, **kwargs: ODD[what], strict=False)
    assert not raised and any(line.startswith(FAIL) for line in lines)


# ---- ready() ---------------------------------------------------------------------------------------
def test_ready_is_true_for_finished_functions(capsys):
    assert unit04.ready(*(getattr(S, name) for name in CHECK))
    assert capsys.readouterr().out == ""


def test_ready_names_the_function_to_finish_in_one_line(capsys):
    assert not unit04.ready(S.reparameterize, planted(4, "gaussian_kl", STUB).gaussian_kl, S.negative_elbo)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "`gaussian_kl` (Part 2)" in out[0]


# ---- Parts 1-3 cannot be passed by pasting the lecture's cell ------------------------------------------
@pytest.mark.parametrize("name", ["reparameterize", "gaussian_kl"])
def test_the_lectures_cell_pasted_fails_the_new_check(name):
    assert notebook("lectures", 4).source(name) != notebook("solutions", 4).source(name)
    fails(CHECK[name], getattr(lecture(4, name), name), hint="")


def test_the_lectures_negative_elbo_pasted_fails_too():
    fails(unit04.check_negative_elbo, lecture(4, "negative_elbo").negative_elbo,
          hint="pass z_log_var = 2·log(z_scale)")


def test_part_5c_seeds_before_it_creates_its_model():
    text = (ROOT / "solutions" / "04_vae_pytorch.py").read_text(encoding="utf-8")
    cell = next(c for c in text.split("# %%") if "cb_vae = VAE(" in c)
    assert 0 <= cell.find("torch.manual_seed(") < cell.find("cb_vae = VAE(")
