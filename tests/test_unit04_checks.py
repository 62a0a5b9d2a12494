"""Unit 04 self-checks: pass on the reference VAE loss, fail on stubs and on typical wrong answers.

The student's functions written correctly are read from the reference solution itself,
solutions/04_vae_pytorch.py (its code between BEGIN and END SOLUTION), not copied here; a planted
mistake is a textual mutation of that code (a table below), and the lecture's own cells are read
from lectures/04_vae_pytorch.md, to prove that pasting them does not pass Parts 1-2."""
import ast
import math
import re
import types
from pathlib import Path

import pytest
import torch
from torch.distributions import Bernoulli, ContinuousBernoulli
from torch.nn import functional as F

from utils.checks import SelfCheckFailed, unit04


pytestmark = pytest.mark.usefixtures("one_thread")
PASS, FAIL = "\u2713", "\u2717"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION, LECTURE = ROOT / "solutions" / "04_vae_pytorch.py", ROOT / "lectures" / "04_vae_pytorch.md"
STUDENT = ("reparameterize", "gaussian_kl", "negative_elbo", "cb_log_norm", "cb_negative_elbo")


def function_sources(text: str) -> dict[str, str]:
    """The source of every top-level function defined in the code of ``text`` (a py:percent script;
    for MyST Markdown, its code cells), by name."""
    if text.lstrip().startswith("---"):                      # MyST: keep the code cells
        text = "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(?:---\n.*?\n---\n|:tags:[^\n]*\n)?(.*?)```",
                                    text, flags=re.S))
    tree = ast.parse(text)
    return {node.name: ast.get_source_segment(text, node) for node in tree.body
            if isinstance(node, ast.FunctionDef)}


def load(sources: dict[str, str], mutation: tuple[str, str, str] | None = None) -> dict:
    """Define the functions ``sources`` in one namespace (as in a notebook), with one ``mutation``
    (function, old text, new text) applied; the old text must occur in that function exactly once."""
    sources = dict(sources)
    if mutation is not None:
        name, old, new = mutation
        assert sources[name].count(old) == 1, f"{old!r} not once in the solution's {name}"
        sources[name] = sources[name].replace(old, new)
    namespace = {"torch": torch, "F": F, "math": math, "ContinuousBernoulli": ContinuousBernoulli}
    for name in sources:
        exec(compile(sources[name], f"<{name}>", "exec"), namespace)
    return namespace


SOLUTION_SOURCES = {name: source for name, source in function_sources(SOLUTION.read_text(encoding="utf-8")).items()
                    if name in STUDENT}
SOLVED = load(SOLUTION_SOURCES)
# the student's functions, written correctly: the reference solution's (tests/test_checks.py uses them)
reparameterize, gaussian_kl, negative_elbo, cb_log_norm, cb_negative_elbo = (SOLVED[n] for n in STUDENT)


def test_the_solution_defines_every_function_of_the_exercise():
    assert set(SOLUTION_SOURCES) == set(STUDENT)
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
    return FAIL in capsys.readouterr().out


def crosses(capsys, check, *args, limit=120, **kwargs):
    """The ✗ lines of a failing check (in strict mode, the suite's, it raises at the end): each at
    most ``limit`` characters, and every printed line a check line."""
    with pytest.raises(SelfCheckFailed):
        check(*args, **kwargs)
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(line[0] in (PASS, FAIL) for line in lines), "\n".join(lines)
    bad = [line for line in lines if line.startswith(FAIL)]
    assert bad and all(len(line) <= limit for line in bad), "\n".join(bad)
    return bad


def first_hint(capsys, check, *args, **kwargs):
    """The first ✗ line of a failing check: the one that carries the hint."""
    return crosses(capsys, check, *args, **kwargs)[0]


def not_written(capsys, check, *args):
    """One ✗ line for an unwritten function (its hint is the shared one of SelfCheck.call)."""
    lines = crosses(capsys, check, *args, limit=200)
    assert len(lines) == 1 and "not implemented yet" in lines[0], "\n".join(lines)


def with_globals(fn, **names):
    """``fn`` as if defined in a notebook whose globals hold ``names`` (the student's other functions)."""
    import types
    return types.FunctionType(fn.__code__, {**fn.__globals__, **names}, fn.__name__, fn.__defaults__)


# ---- reparameterize --------------------------------------------------------------------------------
def test_reparameterize_check_passes_on_reference(capsys):
    unit04.check_reparameterize(reparameterize)
    assert not failed(capsys)


def test_reparameterize_check_fails_on_stub(capsys):
    not_written(capsys, unit04.check_reparameterize, stub)




def test_reparameterize_check_fails_when_gradient_is_blocked(capsys):
    wrong = lambda loc, scale, eps=None: reparameterize(loc, scale, eps).detach()
    line = first_hint(capsys, unit04.check_reparameterize, wrong)
    assert "z has no gradient" in line and "no .detach()" in line


def test_reparameterize_check_fails_when_eps_is_ignored(capsys):
    wrong = lambda loc, log_var, eps=None: reparameterize(loc, log_var)
    assert "with the eps given" in first_hint(capsys, unit04.check_reparameterize, wrong)


def test_reparameterize_check_fails_without_own_noise(capsys):
    def no_default(loc, log_var, eps=None):
        return loc + torch.exp(0.5 * log_var) * (eps if eps is not None else torch.zeros_like(loc))
    assert "torch.randn_like" in first_hint(capsys, unit04.check_reparameterize, no_default)


# ---- gaussian_kl -----------------------------------------------------------------------------------
def test_kl_check_passes_on_reference(capsys):
    unit04.check_gaussian_kl(gaussian_kl)
    assert not failed(capsys)


def test_kl_check_fails_on_stub(capsys):
    not_written(capsys, unit04.check_gaussian_kl, stub)


def test_kl_check_reports_unsummed_shape(capsys):
    wrong = lambda loc, log_var: 0.5 * (loc**2 + log_var.exp() - 1 - log_var)
    line = first_hint(capsys, unit04.check_gaussian_kl, wrong)
    assert "expected shape (128,), got (128, 2)" in line and "sum over the latent dimension" in line


def test_kl_check_names_missing_half(capsys):
    wrong = lambda loc, log_var: 2 * gaussian_kl(loc, log_var)
    assert "missing the factor 1/2" in first_hint(capsys, unit04.check_gaussian_kl, wrong)


def test_kl_check_names_a_flipped_sign(capsys):
    wrong = lambda loc, log_var: -gaussian_kl(loc, log_var)
    assert "a KL is never negative" in first_hint(capsys, unit04.check_gaussian_kl, wrong)


def test_kl_check_fails_when_not_differentiable(capsys):
    wrong = lambda loc, log_var: gaussian_kl(loc, log_var).detach()
    line = first_hint(capsys, unit04.check_gaussian_kl, wrong)
    assert "missing or wrong" in line and "torch ops only" in line


# ---- negative_elbo ---------------------------------------------------------------------------------
def test_negative_elbo_check_passes_on_reference(capsys):
    unit04.check_negative_elbo(negative_elbo)
    assert not failed(capsys)


def test_negative_elbo_check_fails_on_stub(capsys):
    not_written(capsys, unit04.check_negative_elbo, stub)


def test_negative_elbo_check_names_flipped_sign(capsys):
    wrong = lambda vae, x, eps=None: -negative_elbo(vae, x, eps)
    assert "you returned the ELBO" in first_hint(capsys, unit04.check_negative_elbo, wrong)


def test_negative_elbo_check_reports_batch_mean_shape(capsys):
    wrong = lambda vae, x, eps=None: negative_elbo(vae, x, eps).mean()
    line = first_hint(capsys, unit04.check_negative_elbo, wrong)
    assert "expected shape (128,), got ()" in line and "not over the batch" in line


def test_negative_elbo_check_names_missing_kl(capsys):
    def no_kl(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(reparameterize(z_loc, 2 * z_scale.log(), eps))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    assert "the KL term is missing" in first_hint(capsys, unit04.check_negative_elbo, no_kl)


def test_negative_elbo_check_names_a_detached_sample(capsys):
    def detached(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        z = reparameterize(z_loc, 2 * z_scale.log(), eps).detach()
        log_px_z = -F.binary_cross_entropy_with_logits(vae.decoder(z), x, reduction="none").sum(-1)
        return gaussian_kl(z_loc, 2 * z_scale.log()) - log_px_z
    line = first_hint(capsys, unit04.check_negative_elbo, detached)
    assert "missing or wrong (encoder)" in line and "not .detach()" in line


def test_negative_elbo_check_gives_one_line_for_probs_given_logits(capsys):
    def probs_for_logits(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(reparameterize(z_loc, 2 * z_scale.log(), eps))
        return gaussian_kl(z_loc, 2 * z_scale.log()) - Bernoulli(probs=logits).log_prob(x).sum(-1)
    lines = crosses(capsys, unit04.check_negative_elbo, probs_for_logits)
    assert len(lines) == 1 and "the decoder returns logits: Bernoulli(logits=...)" in lines[0]
    assert "tensor(" not in lines[0]


@pytest.mark.parametrize("wrong_part", ["reparameterize", "gaussian_kl"])
def test_negative_elbo_check_passes_when_only_a_function_it_uses_is_wrong(capsys, wrong_part):
    # no cascade: the check injects the references, so a wrong KL or sample fails only its own check
    wrong = {"reparameterize": lambda loc, log_var, eps=None: loc + log_var.exp() * eps,
             "gaussian_kl": lambda loc, log_var: 2 * gaussian_kl(loc, log_var)}[wrong_part]
    parts = {"reparameterize": reparameterize, "gaussian_kl": gaussian_kl, wrong_part: wrong}
    unit04.check_negative_elbo(with_globals(negative_elbo, **parts))
    assert not failed(capsys)


# ---- training --------------------------------------------------------------------------------------
def test_training_check_passes_on_reference(capsys, digits):
    unit04.check_training_lowers_loss(negative_elbo, digits)
    assert not failed(capsys)


def test_training_check_fails_on_stub(capsys, digits):
    lines = crosses(capsys, unit04.check_training_lowers_loss, stub, digits)
    assert len(lines) == 1 and "fix `negative_elbo` first" in lines[0]


def test_training_check_says_which_function_to_fix_first(capsys, digits):
    wrong_kl = lambda loc, log_var: -gaussian_kl(loc, log_var)
    loss = with_globals(negative_elbo, reparameterize=reparameterize, gaussian_kl=wrong_kl)
    lines = crosses(capsys, unit04.check_training_lowers_loss, loss, digits)
    assert len(lines) == 1 and "not run: fix `gaussian_kl` first" in lines[0]


def test_training_check_fails_when_maximising_the_loss(capsys, digits):
    lines = crosses(capsys, unit04.check_training_lowers_loss, lambda vae, x, eps=None: -negative_elbo(vae, x, eps),
                    digits)
    assert len(lines) == 1 and "fix `negative_elbo` first" in lines[0]


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


# ---- continuous Bernoulli --------------------------------------------------------------------------
def test_reference_log_norm_matches_torch_continuous_bernoulli():
    logits = torch.linspace(-10, 10, 201)
    x = torch.rand(201)
    expected = ContinuousBernoulli(logits=logits).log_prob(x) + F.binary_cross_entropy_with_logits(
        logits, x, reduction="none")
    torch.testing.assert_close(unit04.reference_cb_log_norm(logits), expected, atol=1e-4, rtol=1e-4)


def test_reference_cb_loss_matches_torch_continuous_bernoulli():
    vae, x = unit04._small_vae(), unit04._grey_images()
    _, _, eps = unit04._inputs(3)
    z_loc, z_scale = vae.encoder(x)
    logits = vae.decoder(z_loc + z_scale * eps)
    expected = gaussian_kl(z_loc, 2 * z_scale.log()) - ContinuousBernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(unit04.reference_cb_negative_elbo(vae, x, eps), expected, atol=1e-2, rtol=1e-4)


def test_cb_log_norm_check_passes_on_reference(capsys):
    unit04.check_cb_log_norm(cb_log_norm)
    assert not failed(capsys)


def test_cb_log_norm_check_fails_on_stub(capsys):
    not_written(capsys, unit04.check_cb_log_norm, stub)


def test_cb_log_norm_check_names_the_limit_at_zero(capsys):
    wrong = lambda f: torch.log(f / torch.tanh(f / 2))
    line = first_hint(capsys, unit04.check_cb_log_norm, wrong)
    assert "NaN or inf near logits = 0" in line and "its limit, log 2" in line


def test_cb_log_norm_check_names_the_formula_in_probabilities_at_large_logits(capsys):
    def in_probs(f):
        lam = torch.sigmoid(f)
        safe = torch.where((lam - 0.5).abs() < 1e-3, torch.full_like(lam, 0.25), lam)
        c = 2 * torch.atanh(1 - 2 * safe) / (1 - 2 * safe)
        return torch.where((lam - 0.5).abs() < 1e-3, torch.log(torch.tensor(2.0)), torch.log(c))
    assert "use 1 − 2λ = −tanh(f/2)" in first_hint(capsys, unit04.check_cb_log_norm, in_probs)


def test_cb_log_norm_check_names_a_nan_gradient_through_torch_where(capsys):
    def where_trap(f):
        return torch.where(f.abs() < 1e-3, torch.log(torch.tensor(2.0)) + f**2 / 12, torch.log(f / torch.tanh(f / 2)))
    assert "feed the formula a safe f" in first_hint(capsys, unit04.check_cb_log_norm, where_trap)


def test_cb_log_norm_check_names_c_for_log_c(capsys):
    assert "return log C, not C" in first_hint(capsys, unit04.check_cb_log_norm, lambda f: cb_log_norm(f).exp())


def test_cb_negative_elbo_check_passes_on_reference(capsys):
    unit04.check_cb_negative_elbo(cb_negative_elbo)
    assert not failed(capsys)


def test_cb_negative_elbo_check_fails_on_stub(capsys):
    not_written(capsys, unit04.check_cb_negative_elbo, stub)


def test_cb_negative_elbo_check_names_a_missing_log_norm(capsys):
    assert "add log C" in first_hint(capsys, unit04.check_cb_negative_elbo, negative_elbo)


def test_cb_negative_elbo_check_names_a_subtracted_log_norm(capsys):
    def wrong(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(reparameterize(z_loc, 2 * z_scale.log(), eps))
        return negative_elbo(vae, x, eps) + cb_log_norm(logits).sum(-1)
    assert "not subtracted" in first_hint(capsys, unit04.check_cb_negative_elbo, wrong)


def test_cb_negative_elbo_check_names_probs_given_logits(capsys):
    def wrong(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(reparameterize(z_loc, 2 * z_scale.log(), eps))
        return gaussian_kl(z_loc, 2 * z_scale.log()) - ContinuousBernoulli(probs=logits).log_prob(x).sum(-1)
    line = first_hint(capsys, unit04.check_cb_negative_elbo, wrong)
    assert "decoder gives logits: ContinuousBernoulli(logits=...)" in line


def test_cb_negative_elbo_check_passes_with_a_wrong_log_norm_of_the_students(capsys):
    loss = with_globals(cb_negative_elbo, cb_log_norm=lambda f: -cb_log_norm(f))
    unit04.check_cb_negative_elbo(loss)
    assert not failed(capsys)


# ---- every check never raises, whatever the function returns -----------------------------------------
CHECKS = [unit04.check_reparameterize, unit04.check_gaussian_kl, unit04.check_negative_elbo,
          unit04.check_cb_log_norm, unit04.check_cb_negative_elbo]
ODD = {"None": None, "a string": "x", "a tuple": (1, 2), "a NaN tensor": torch.full((128,), float("nan")),
       "an int tensor": torch.zeros(128, dtype=torch.long)}


@pytest.mark.parametrize("what", ODD)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_check_never_raises_whatever_is_returned(capsys, monkeypatch, check, what):
    monkeypatch.delenv("LVM_STRICT_CHECKS", raising=False)
    check(lambda *args, **kwargs: ODD[what])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all(line[0] in (PASS, FAIL) for line in lines) and any(l[0] == FAIL for l in lines)


# ---- ready() ---------------------------------------------------------------------------------------
def test_ready_is_true_for_finished_functions(capsys):
    assert unit04.ready(reparameterize, gaussian_kl, negative_elbo, cb_log_norm, cb_negative_elbo)
    assert capsys.readouterr().out == ""


def test_ready_names_the_function_to_finish_in_one_line(capsys):
    def gaussian_kl(*args):
        raise NotImplementedError
    assert not unit04.ready(reparameterize, gaussian_kl, negative_elbo)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "`gaussian_kl` (Part 2)" in out[0]


# ---- planted mistakes in the reference solution: each gets a ✗ whose hint names it ------------------
CHECK_OF = {"reparameterize": lambda ns: unit04.check_reparameterize(ns["reparameterize"]),
            "gaussian_kl": lambda ns: unit04.check_gaussian_kl(ns["gaussian_kl"]),
            "negative_elbo": lambda ns: unit04.check_negative_elbo(ns["negative_elbo"]),
            "cb_log_norm": lambda ns: unit04.check_cb_log_norm(ns["cb_log_norm"]),
            "cb_negative_elbo": lambda ns: unit04.check_cb_negative_elbo(ns["cb_negative_elbo"])}
BCE_SIGMOID = ("F.binary_cross_entropy_with_logits(logits, x,", "F.binary_cross_entropy(torch.sigmoid(logits), x,")
MUTATIONS = [   # (function, old text, new text), expected fragment of the first ✗ line
    (("reparameterize", "torch.exp(0.5 * z_log_var)", "z_log_var"), "not σ: σ = exp(z_log_var / 2)"),
    (("reparameterize", "torch.exp(0.5 * z_log_var)", "torch.exp(z_log_var)"), "is the variance"),
    (("reparameterize", "torch.exp(0.5 * z_log_var) * eps", "torch.exp(0.5 * z_log_var).detach() * eps"),
     "wrong gradients"),
    (("gaussian_kl", "- 1 - z_log_var)", "- 1 - 2 * z_log_var)"), "no factor 2"),
    (("gaussian_kl", "z_log_var.exp() - 1 - z_log_var", "(2 * z_log_var).exp() - 1 - 2 * z_log_var"),
     "not log σ"),
    (("gaussian_kl", "z_log_var.exp() - 1 - z_log_var", "z_log_var - 1 - z_log_var.log()"),
     "z_log_var can be < 0"),
    (("negative_elbo", "z_log_var = 2 * z_scale.log()", "z_log_var = z_scale"), "pass z_log_var = 2·log(z_scale)"),
    (("negative_elbo",) + BCE_SIGMOID, "use BCE with logits: no sigmoid"),                 # exercise 02's rule
    (("negative_elbo", "return gaussian_kl(z_loc, z_log_var) - log_px_z",
      "return log_px_z - gaussian_kl(z_loc, z_log_var)"), "you returned the ELBO"),
    (("cb_log_norm", "math.log(2.0) + logits**2 / 12", "math.log(2.0) - logits**2 / 12"),   # harmless in float32
     "a plus: C is least at f = 0"),
    (("cb_log_norm", "math.log(2.0) + logits**2 / 12", "math.log(2.0) + 0 * logits"), "add the f²/12 term"),
    (("cb_log_norm", "return torch.where(small, near_zero, torch.log(safe / torch.tanh(safe / 2)))",
      "return torch.log(-torch.where(small, near_zero.exp(), safe / torch.tanh(safe / 2)))"),
     "NaN or inf at every logit"),
    (("cb_log_norm", "torch.log(safe / torch.tanh(safe / 2))", "torch.log(-safe / torch.tanh(safe / 2))"),
     "C = f / tanh(f/2) > 0 for every f"),
    (("cb_log_norm", "safe = torch.where(small, torch.ones_like(logits), logits)", "safe = logits"),
     "feed the formula a safe f"),
    (("cb_negative_elbo",) + BCE_SIGMOID, "use BCE with logits: no sigmoid"),
    (("cb_negative_elbo", '''(-F.binary_cross_entropy_with_logits(logits, x, reduction="none")
                + cb_log_norm(logits)).sum(-1)''', "ContinuousBernoulli(logits=logits).log_prob(x).sum(-1)"),
     "torch's CB clamps λ"),
    (("cb_negative_elbo", "+ cb_log_norm(logits)", "- cb_log_norm(logits)"), "not subtracted"),
]


@pytest.mark.parametrize("mutation, hint", MUTATIONS, ids=lambda m: m[1][:28] if isinstance(m, tuple) else None)
def test_a_planted_mistake_gets_a_cross_with_its_own_hint(capsys, mutation, hint):
    lines = crosses(capsys, CHECK_OF[mutation[0]], load(SOLUTION_SOURCES, mutation))
    assert hint in lines[0] and "Hint: " in lines[0], "\n".join(lines)


def test_the_checks_pass_on_the_reference_solution(capsys):
    for check in CHECK_OF.values():
        check(SOLVED)
    out = capsys.readouterr().out
    assert FAIL not in out and out.count(PASS) >= 20, out


# ---- Parts 1-2 cannot be passed by pasting the lecture's cell ------------------------------------------
LECTURE_SOURCES = function_sources(LECTURE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["reparameterize", "gaussian_kl"])
def test_the_lectures_cell_pasted_fails_the_new_check(capsys, name):
    lecture = load({name: LECTURE_SOURCES[name]})          # the lecture's own function, as written there
    assert LECTURE_SOURCES[name] != SOLUTION_SOURCES[name]
    crosses(capsys, CHECK_OF[name], lecture)


def test_the_lectures_negative_elbo_pasted_fails_too(capsys):
    lecture = load({"negative_elbo": LECTURE_SOURCES["negative_elbo"]})
    lecture["log_px_given_z"] = lambda logits, x: -F.binary_cross_entropy_with_logits(
        logits, x, reduction="none").sum(-1)
    assert "pass z_log_var = 2·log(z_scale)" in first_hint(capsys, unit04.check_negative_elbo,
                                                           lecture["negative_elbo"])


# ---- Part 5: the exact reference, and the order of seeding in Part 5c ----------------------------------
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


def test_part_5c_seeds_before_it_creates_its_model():
    cell = next(c for c in SOLUTION.read_text(encoding="utf-8").split("# %%") if "cb_vae = VAE(" in c)
    assert 0 <= cell.find("torch.manual_seed(") < cell.find("cb_vae = VAE(")
