"""Unit 06 self-checks: pass on the reference functions; on each typical mistake, planted in the
reference (solutions/06_elbo_tradeoffs.py, read by tests/_solutions.py) or made to its result, one ✗
line with the mistake's own hint and no traceback; never an exception but SelfCheckFailed."""
import functools

import numpy as np
import pytest
import torch

import _checks
from _checks import FAIL, returning
from _solutions import STUB, altered, lecture, planted, solution
from utils.checks import SelfCheckFailed, unit06

pytestmark = pytest.mark.usefixtures("one_thread")
S = solution(6)
CHECK = {"rate_distortion": unit06.check_rate_distortion, "active_units": unit06.check_active_units,
         "iwae_negative_bound": unit06.check_iwae_negative_bound, "free_bits_rate": unit06.check_free_bits_rate}
PASS_LINE, HINT = 100, 60    # unit 06's longest ✓ line and longest hint, in characters (a ✗ line: 120)
printed = functools.partial(_checks.printed, pass_width=PASS_LINE)
passes = functools.partial(_checks.passes, pass_width=PASS_LINE)
fails = functools.partial(_checks.fails, pass_width=PASS_LINE, hint_width=HINT, one=True)


# ---- every check -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CHECK)
def test_check_passes_on_the_reference_with_no_cross(name):
    passes(CHECK[name], getattr(S, name))


ODD_RETURNS = {"None": None, "a string": "D", "an int": 3, "a dict": {"D": 1}, "an empty tuple": (),
               "a NumPy array": np.zeros(64), "a list of tensors": [torch.zeros(64)] * 3,
               "a NaN tensor": torch.full((64,), float("nan")),
               "an int tensor": torch.zeros(64, dtype=torch.long),
               "a pair of None": (None, None), "a pair of strings": ("a", "b")}


PLANTED = _checks.odd_students(lambda name: getattr(planted(6, name, STUB), name), ODD_RETURNS,
                               "The size of tensor a (784) must match the size of tensor b (4) at non-singleton dimension 1,")


@pytest.mark.parametrize("what", PLANTED)
@pytest.mark.parametrize("name", CHECK)
def test_check_never_raises_in_a_students_notebook_and_prints_short_lines_with_one_cross(name, what):
    """Each planted wrong return (ODD_RETURNS), a stub and an error message of any length: one ✗ line
    of at most 120 characters, every ✓ line at most 100, one hint."""
    _checks.one_short_cross(CHECK[name], PLANTED[what](name), PASS_LINE)


@pytest.mark.parametrize("name", CHECK)
def test_check_raises_self_check_failed_in_strict_mode(name):
    with pytest.raises(SelfCheckFailed):
        CHECK[name](getattr(planted(6, name, STUB), name))


@pytest.mark.parametrize("name", CHECK)
def test_check_leaves_the_global_generator_alone(name):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    CHECK[name](getattr(S, name))
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("name", CHECK)
def test_check_prints_the_same_lines_on_every_run(name):
    assert passes(CHECK[name], getattr(S, name)) == passes(CHECK[name], getattr(S, name))


# ---- planted mistakes: (function, the mistaken one), what the one ✗ line says (its hint first) --------
def edit(name, *edits):
    return name, getattr(planted(6, name, *edits), name)


def rate_distortion(change):
    """The solution's rate_distortion with ``change(D, R)`` made to its result."""
    return "rate_distortion", altered(S.rate_distortion, change)


def iwae_loss(change):
    """The solution's iwae_negative_bound, its loss changed by ``change(loss, vae, x, k, eps)``, its
    weights right."""
    def fn(vae, x, k, eps=None):
        loss, weights = S.iwae_negative_bound(vae, x, k, eps)
        return change(loss, vae, x, k, eps), weights
    return "iwae_negative_bound", fn


def iwae_loss_edited(*edits):
    """The loss of the solution's iwae_negative_bound with ``edits`` planted in it, the weights right."""
    mistaken = planted(6, "iwae_negative_bound", *edits).iwae_negative_bound
    return iwae_loss(lambda loss, vae, x, k, eps: mistaken(vae, x, k, eps)[0])


def active_units(*edits):
    return edit("active_units", *edits)


def free_bits(returned):
    """The solution's free_bits_rate returning ``returned`` (an expression in its KL per image and
    dimension, ``kl``)."""
    return edit("free_bits_rate", ("return kl.mean(0).clamp(min=lam).sum()", f"return {returned}"))


KL_SIGMA = "z_scale**2 - 1 - 2 * z_scale.log()"
BCE_SIGMOID = ("F.binary_cross_entropy_with_logits(logits,", "F.binary_cross_entropy(torch.sigmoid(logits),")
NEGATIVE_BOUND = "-(torch.logsumexp(log_w, 0) - math.log(k))"
MISTAKES = {
    **{f"{name}: not written (the exercise's stub)": (edit(name, STUB), "replace the `raise NotImplementedError`")
       for name in CHECK},
    "rate_distortion: D and R swapped": (rate_distortion(lambda d, r: (r, d)),
                                         ("did you swap D and R", "D has shape (64, 4)")),
    "rate_distortion: the rate negated": (rate_distortion(lambda d, r: (d, -r)), "a KL divergence is never negative"),
    "rate_distortion: σ for σ²": (edit("rate_distortion", (KL_SIGMA, "z_scale - 1 - z_scale.log()")),
                                  "σ² = z_scale**2"),
    "rate_distortion: log σ for log σ²": (edit("rate_distortion", (KL_SIGMA, "z_scale**2 - 1 - z_scale.log()")),
                                          "log σ² = 2·log(z_scale)"),
    "rate_distortion: a Monte Carlo rate": (
        edit("rate_distortion", (f"rate = 0.5 * (z_loc**2 + {KL_SIGMA})", "z = z_loc + z_scale * eps\n    "
                                 "rate = Normal(z_loc, z_scale).log_prob(z) - Normal(0.0, 1.0).log_prob(z)")),
        "not the one-sample estimate"),
    "rate_distortion: D not summed over pixels": (
        edit("rate_distortion", ('reduction="none").sum(-1)', 'reduction="none")')),
        ("sum over the 784 pixels (dim -1)", "D has shape (64, 784), not (64,)")),
    "rate_distortion: D averaged over pixels": (rate_distortion(lambda d, r: (d / 784, r)),
                                                "sum over the 784 pixels, do not average"),
    "rate_distortion: log p(x|z) for D": (rate_distortion(lambda d, r: (-d, r)), "you returned log p(x|z)"),
    "rate_distortion: summed over the batch": (rate_distortion(lambda d, r: (d.sum(), r.sum())),
                                               ("do not sum or average over the batch", "has shape (), not (64,)")),
    "rate_distortion: averaged over the batch": (rate_distortion(lambda d, r: (d.mean(), r.mean())),
                                                 ("do not sum or average over the batch", "has shape (), not (64,)")),
    "rate_distortion: D at the posterior mean": (
        ("rate_distortion", lambda vae, x, eps=None: S.rate_distortion(vae, x, torch.zeros(len(x), vae.z_dim))),
        "not z = z_loc"),
    "rate_distortion: eps=None not handled": (
        edit("rate_distortion", ("    if eps is None:\n        eps = torch.randn_like(z_loc)\n", "")),
        "eps = torch.randn_like(z_loc)"),
    "rate_distortion: two mistakes, one hint": (rate_distortion(lambda d, r: (d / 784, -r)),
                                                "sum over the 784 pixels, do not average"),
    "rate_distortion: detached": (rate_distortion(lambda d, r: (d.detach(), r.detach())), ("no .detach()",
                                  "carries no gradient")),
    "rate_distortion: one eps shared by every image": (
        edit("rate_distortion", ("eps = torch.randn_like(z_loc)", "eps = torch.randn(z_loc.shape[-1])")),
        "draw one ε per image"),
    "rate_distortion: the given eps ignored": (
        edit("rate_distortion", ("    if eps is None:\n        eps = torch.randn_like(z_loc)",
                                 "    eps = torch.randn_like(z_loc)")), "use the given eps"),
    "rate_distortion: BCE on sigmoid(logits)": (edit("rate_distortion", BCE_SIGMOID),
                                                "BCE on sigmoid(logits) saturates"),
    "rate_distortion: the rate summed over dimensions (the lecture's)": (
        edit("rate_distortion", ("2 * z_scale.log())", "2 * z_scale.log()).sum(-1)")), "R per latent dimension"),
    "active_units: the variance over the latent axis": (
        active_units(("z_loc.var(0, unbiased=False)", "z_loc.var(1, unbiased=False)")),
        ("variance over the images: z_loc.var(0)", "variance has shape (500,), not (9,)")),
    "active_units: >= for >": (active_units(("(variance > threshold)", "(variance >= threshold)")), "use >, not >="),
    "active_units: a wrong threshold": (active_units(("threshold=0.01", "threshold=0.1")),
                                        ("the threshold is 0.01 by default", "counted 2")),
    "active_units: the threshold as a number": (active_units(("(variance > threshold)", "(variance > 0.01)")),
                                                "use the `threshold` argument"),
    "active_units: the standard deviation returned": (
        active_units((".var(0, unbiased=False)", ".std(0, unbiased=False)")), "not the standard deviation"),
    "active_units: the standard deviation compared": (
        active_units(("(variance > threshold)", "(variance.sqrt() > threshold)")),
        ("compared the standard deviation", "counted 6")),
    "active_units: an uncentred second moment": (active_units(("z_loc.var(0, unbiased=False)", "z_loc.pow(2).mean(0)")),
                                                 "subtract each dimension's mean"),
    "active_units: sampled codes for the means": (
        active_units(("z_loc, _ = vae.encoder(x)",
                      "z_loc, z_scale = vae.encoder(x)\n        z_loc = z_loc + z_scale * torch.randn_like(z_loc)")),
        "posterior means z_loc, not samples"),
    "active_units: the count as a string": (active_units(("return int((variance > threshold).sum()),", 'return "4",')),
                                            ("int((variance > threshold).sum())", "not a whole number")),
    "iwae: the mean of log w": (iwae_loss_edited((NEGATIVE_BOUND, "-log_w.mean(0)")), "not the mean of log w_k"),
    "iwae: no log K": (iwae_loss_edited((" - math.log(k))", ")")), "subtract log K"),
    "iwae: log K with the wrong sign": (iwae_loss_edited(("- math.log(k))", "+ math.log(k))")),
                                        "log K has the wrong sign"),
    "iwae: summed over the batch": (iwae_loss(lambda loss, *args: loss.sum()),
                                    ("do not sum or average over the batch", "shape (), not (64,)")),
    "iwae: averaged over the batch": (iwae_loss(lambda loss, *args: loss.mean()),
                                      ("do not sum or average over the batch", "shape (), not (64,)")),
    "iwae: logsumexp over the images": (iwae_loss_edited(("torch.logsumexp(log_w, 0)", "torch.logsumexp(log_w, 1)")),
                                        "logsumexp over the K samples (dim 0)"),
    "iwae: exp underflows": (iwae_loss_edited((NEGATIVE_BOUND, "-log_w.exp().mean(0).log()")),
                             ("use torch.logsumexp", "NaN or inf")),
    "iwae: no prior": (iwae_loss_edited(("log_px_z + Normal(0.0, 1.0).log_prob(z).sum(-1)", "log_px_z")),
                       "log w misses + log p(z), the prior"),
    "iwae: the bound for the loss": (iwae_loss(lambda loss, *args: -loss), "return the *negative* bound"),
    "iwae: the variance in the guide's density": (
        iwae_loss_edited(("Normal(z_loc, z_scale).log_prob(z)", "Normal(z_loc, z_scale**2).log_prob(z)")),
        "not the variance"),
    "iwae: the given eps ignored": (iwae_loss(lambda loss, vae, x, k, eps: S.iwae_negative_bound(vae, x, k)[0]),
                                    "with the given eps"),
    "iwae: noise of the wrong shape when eps is None": (
        iwae_loss(lambda loss, vae, x, k, eps: loss if eps is not None else
                  S.iwae_negative_bound(vae, x, 1, torch.randn(len(x), vae.z_dim)[None])[0].sum()),
        "draw eps of shape (k, N, z_dim)"),
    "iwae: detached": (iwae_loss(lambda loss, *args: loss.detach()), "no .detach()"),
    "iwae: the prior's sign flipped": (
        edit("iwae_negative_bound", ("log_w = (log_px_z + Normal(0.0, 1.0)", "log_w = (log_px_z - Normal(0.0, 1.0)")),
        "log p(z) enters log w with a + sign"),
    "iwae: BCE on sigmoid(logits)": (edit("iwae_negative_bound", BCE_SIGMOID), "BCE on sigmoid(logits) saturates"),
    "iwae: weights normalised over the images": (edit("iwae_negative_bound", ("log_w.softmax(0)", "log_w.softmax(1)")),
                                                 "normalise over the K samples (dim 0)"),
    "iwae: unnormalised weights": (edit("iwae_negative_bound", ("log_w.softmax(0)", "log_w.exp()")),
                                   "the weights of an image sum to 1"),
    "iwae: the loss alone (the lecture's)": (edit("iwae_negative_bound", (", log_w.softmax(0)", "")),
                                             "return both: `return loss, weights`"),
    "free_bits: clamped per image": (free_bits("kl.clamp(min=lam).mean(0).sum()"),
                                     "clamp the batch-mean KL, not each image's KL"),
    "free_bits: the total clamped at λ": (free_bits("kl.mean(0).sum().clamp(min=lam)"),
                                          "clamp each dimension's batch-mean KL separately"),
    "free_bits: the total clamped at z_dim·λ": (free_bits("kl.mean(0).sum().clamp(min=lam * z_loc.shape[1])"),
                                                "clamp each dimension's batch-mean KL separately"),
    "free_bits: no clamp": (free_bits("kl.mean(0).sum()"), "clamp each dimension's batch-mean KL separately"),
    "free_bits: summed over the batch": (free_bits("kl.sum(0).clamp(min=lam).sum()"),
                                         "average over the batch (nats per image), do not sum"),
    "free_bits: clamped from above": (free_bits("kl.mean(0).clamp(max=lam).sum()"), "clamp from below"),
    "free_bits: λ as a number": (("free_bits_rate", lambda z_loc, z_scale, lam: S.free_bits_rate(z_loc, z_scale, 0.5)),
                                 "use the `lam` argument"),
    "free_bits: one rate per dimension": (free_bits("kl.mean(0).clamp(min=lam)"),
                                          ("sum the clamped values over the latent dimensions", "got shape (6,)")),
    "free_bits: a Python float": (("free_bits_rate", altered(S.free_bits_rate, lambda rate: rate.item())),
                                  ("stay in torch", "a float, not a tensor")),
    "free_bits: Python's max": (free_bits("sum(torch.tensor(max(lam, v.item())) for v in kl.mean(0))"),
                                "not Python's max or .item()"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_gets_one_cross_with_its_own_hint(mistake):
    (name, fn), hint = MISTAKES[mistake]
    fails(CHECK[name], fn, hint=hint)


def test_active_units_check_accepts_the_unbiased_variance():
    passes(unit06.check_active_units, active_units(("z_loc.var(0, unbiased=False)", "z_loc.var(0)"))[1])


WRONG_RETURNS = [   # (check, returned, what the ✗ line says, hint)
    ("rate_distortion", None, "returned None", "return distortion, rate"),
    ("rate_distortion", torch.zeros(64), "got a tensor of shape (64,), not a pair", "return distortion, rate"),
    ("rate_distortion", (torch.zeros(64),) * 3, "got 3 values, not 2", "return exactly two"),
    ("rate_distortion", (np.zeros(64), np.zeros(64)), "D is a NumPy array, not a tensor", "stay in torch"),
    ("active_units", None, "returned None", "return count, variance"),
    ("active_units", 4, "got an int, not a pair", "return count, variance"),
    ("active_units", (4, np.zeros(9)), "variance is a NumPy array, not a tensor", "stay in torch: use z_loc.var(0)"),
    ("active_units", (torch.zeros(9), 4), "got (variance, count)", "swap them: `return count, variance`"),
    ("iwae_negative_bound", None, "returned None", ""),
    ("iwae_negative_bound", torch.zeros(64), "got a tensor of shape (64,), not a pair", ""),
    ("iwae_negative_bound", np.zeros(64), "got a NumPy array, not a pair", ""),
    ("iwae_negative_bound", (torch.zeros(64), np.zeros((5, 64))), "weights is a NumPy array, not a tensor", ""),
    ("iwae_negative_bound", (torch.zeros(64), torch.zeros(64)), "weights have shape (64,), not (5, 64)", ""),
]


@pytest.mark.parametrize("name, returned, problem, hint", WRONG_RETURNS)
def test_a_wrong_return_is_reported_in_one_line(name, returned, problem, hint):
    line, = fails(CHECK[name], returning(returned), hint=hint)
    assert problem in line


def test_reference_free_bits_rate_charges_at_least_lambda_per_dimension():
    z_loc, z_scale = torch.zeros(10, 3), torch.ones(10, 3)
    assert unit06.free_bits_rate(z_loc, z_scale, 0.25).item() == pytest.approx(0.75)
    z_loc[:, 0] = 2.0                                     # KL of dimension 0: ½·4 = 2 nats
    assert unit06.free_bits_rate(z_loc, z_scale, 0.25).item() == pytest.approx(2.5)


# ---- ready -------------------------------------------------------------------------------------------
def test_ready_is_silent_and_true_when_every_function_passes(capsys):
    assert unit06.ready(*(getattr(S, name) for name in CHECK))
    assert capsys.readouterr().out == ""


def test_ready_names_every_function_to_finish_first_in_one_line(capsys):
    doubled = free_bits("2 * kl.mean(0).clamp(min=lam).sum()")[1]
    assert unit06.ready(S.rate_distortion, planted(6, "iwae_negative_bound", STUB).iwae_negative_bound,
                        doubled) is False
    assert capsys.readouterr().out.strip().splitlines() == [
        "⏭ skipped: first finish `iwae_negative_bound` (Part 3) and "
        "`free_bits_rate` (Part 4: fails its check)"]


def test_ready_is_false_in_one_line_for_what_is_not_a_function(capsys):
    assert unit06.ready(None) is False
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_ready_leaves_the_global_generator_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    unit06.ready(*(getattr(S, name) for name in CHECK))
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("name", ["rate_distortion", "active_units", "iwae_negative_bound"])
def test_the_lectures_own_cell_does_not_pass_the_exercises_check(name):
    """Lecture 06's function, read from the lecture (with the imports it uses), pasted into the
    exercise, fails the exercise's check: each part asks for more than the lecture wrote."""
    raised, lines = printed(CHECK[name], getattr(lecture(6, name), name))
    assert raised and any(line.startswith(FAIL) for line in lines), "\n".join(lines)
