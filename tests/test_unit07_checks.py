"""Unit 07 self-checks: pass on the reference functions; on each typical mistake, planted in the
reference (solutions/07_discrete_latents.py, read by tests/_solutions.py) or made to its result, one
✗ line with the mistake's own hint and no traceback; never an exception but SelfCheckFailed."""
import functools

import numpy as np
import pytest
import torch

import _checks
from _checks import FAIL, returning
from _solutions import STUB, altered, planted, solution, student
from utils.checks import SelfCheckFailed, unit07

pytestmark = pytest.mark.usefixtures("one_thread")
S = solution(7)
CHECK = {"e_step": unit07.check_e_step, "m_step": unit07.check_m_step, "bic": unit07.check_bic,
         "rloo_surrogate": unit07.check_rloo_surrogate, "gumbel_softmax": unit07.check_gumbel_softmax,
         "straight_through": unit07.check_straight_through}
PASS_LINE, HINT = 100, 70    # unit 07's longest ✓ line and longest hint, in characters (a ✗ line: 120)
printed = functools.partial(_checks.printed, pass_width=PASS_LINE)
passes = functools.partial(_checks.passes, pass_width=PASS_LINE)
fails = functools.partial(_checks.fails, pass_width=PASS_LINE, hint_width=HINT, one=True)


# ---- every check -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CHECK)
def test_check_passes_on_the_reference_with_no_cross(name):
    passes(CHECK[name], getattr(S, name))


ODD_RETURNS = {"None": None, "a string": "resp", "an int": 3, "a dict": {"resp": 1}, "an empty tuple": (),
               "a NumPy array": np.zeros(64), "a list of tensors": [torch.zeros(64)] * 3,
               "a NaN tensor": torch.full((64,), float("nan")),
               "an int tensor": torch.zeros(64, dtype=torch.long),
               "a pair of None": (None, None), "a pair of strings": ("a", "b"),
               "three NaN tensors": (torch.full((4,), float("nan")),) * 3}


PLANTED = _checks.odd_students(lambda name: getattr(planted(7, name, STUB), name), ODD_RETURNS,
                               "Expected x of shape (300, 1, 3) to broadcast with (4, 3), but")


@pytest.mark.parametrize("what", PLANTED)
@pytest.mark.parametrize("name", CHECK)
def test_check_never_raises_in_a_students_notebook_and_prints_short_lines_with_one_cross(name, what):
    """Each planted wrong return (ODD_RETURNS), a stub and an error message of any length: one ✗ line
    of at most 120 characters, every ✓ line at most 100, one hint."""
    _checks.one_short_cross(CHECK[name], PLANTED[what](name), PASS_LINE)


@pytest.mark.parametrize("name", CHECK)
def test_check_raises_self_check_failed_in_strict_mode(name):
    with pytest.raises(SelfCheckFailed):
        CHECK[name](getattr(planted(7, name, STUB), name))


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
    return name, getattr(planted(7, name, *edits), name)


def returns(name, change):
    """The solution's ``name`` with ``change`` made to its result."""
    return name, altered(getattr(S, name), change)


NAIVE_E_STEP = ("return log_joint.softmax(1), log_joint.logsumexp(1)",
                "joint = log_joint.exp()\n    return joint / joint.sum(1, keepdim=True), joint.sum(1).log()")
COVARIANCE = "    covariances = covariances + reg_covar * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)\n"
PENALTY = "n_parameters = (k - 1) + k * d + k * d * (d + 1) // 2"
BIC = "-2 * e_step(x, weights, means, covariances)[1].sum() + n_parameters * math.log(n)"
RLOO = "(f + (f_fixed - baseline) * (log_q - log_q.detach())).mean(0)"
NOISE = "-torch.log(-torch.log(torch.rand_like(logits).clamp_min(1e-20)))"
SAMPLE = "((logits + gumbel) / tau).softmax(-1)"
MISTAKES = {
    **{f"{name}: not written (the exercise's stub)": (edit(name, STUB), "replace the `raise NotImplementedError`")
       for name in CHECK},
    # the E-step
    "e_step: responsibilities normalised over the points": (edit("e_step", ("log_joint.softmax(1)", "log_joint.softmax(0)")),
                                                            "normalise over the K components (dim 1)"),
    "e_step: no weights": (edit("e_step", ("weights.log() + ", "")), "add log π_k to each component's log-density"),
    "e_step: π_k for log π_k": (edit("e_step", ("weights.log() +", "weights +")), "add log π_k, not π_k"),
    "e_step: the covariance as a precision": (edit("e_step", ("covariance_matrix=", "precision_matrix=")),
                                              "Σ_k is a covariance"),
    "e_step: log-responsibilities": (edit("e_step", ("log_joint.softmax(1)", "log_joint.log_softmax(1)")),
                                     "softmax, not log_softmax"),
    "e_step: the max for logsumexp": (edit("e_step", ("log_joint.logsumexp(1)", "log_joint.max(1).values")),
                                      "logsumexp over k, not the max"),
    "e_step: the sum of the log joint": (edit("e_step", ("log_joint.logsumexp(1)", "log_joint.sum(1)")),
                                         "not the sum of logs"),
    "e_step: p(x) for log p(x)": (returns("e_step", lambda resp, log_px: (resp, log_px.exp())),
                                  "return log p(x_n), not p(x_n)"),
    "e_step: exp in linear space underflows": (edit("e_step", NAIVE_E_STEP),
                                               ("exp underflows: use logsumexp", "NaN or inf")),
    "e_step: the results swapped": (returns("e_step", lambda resp, log_px: (log_px, resp)), "swap them"),
    "e_step: resp transposed": (returns("e_step", lambda resp, log_px: (resp.T, log_px)),
                                ("resp[n, k]: one row per point", "(4, 300)")),
    "e_step: log p(x) summed over the points": (returns("e_step", lambda resp, log_px: (resp, log_px.sum())),
                                                "do not sum or average"),
    "e_step: log p(x) not reduced over k": (returns("e_step", lambda resp, log_px: (resp, resp.log())),
                                            "logsumexp over k (dim 1)"),
    "e_step: one result only": (returns("e_step", lambda resp, log_px: resp), "return both: `return resp, log_px`"),
    "e_step: no broadcast over the components": (edit("e_step", ("x[:, None, :]", "x")), "raised"),
    # the M-step
    "m_step: the covariance unweighted": (edit("m_step", ("(resp.T[:, :, None] * diff)", "diff")),
                                          "weight each (x_n − μ_k)(x_n − μ_k)ᵀ by r_nk"),
    "m_step: the covariance divided by N": (edit("m_step", ("/ n_k[:, None, None]", "/ len(x)")), "divide by N_k"),
    "m_step: the means divided by N": (edit("m_step", ("resp.T @ x / n_k[:, None]", "resp.T @ x / len(x)")),
                                       ("means μ_k", "divide by N_k = Σ_n r_nk, not N")),
    "m_step: unweighted means": (edit("m_step", ("resp.T @ x / n_k[:, None]", "x.mean(0).expand(resp.shape[1], -1)")),
                                 "weight each x_n by r_nk"),
    "m_step: N_k for the weights": (edit("m_step", ("n_k / len(x), means", "n_k, means")), "π_k = N_k / N"),
    "m_step: no reg_covar": (edit("m_step", (COVARIANCE, "")), "add reg_covar to each diagonal"),
    "m_step: reg_covar fixed": (edit("m_step", ("reg_covar * torch.eye", "1e-6 * torch.eye")),
                                "use the reg_covar argument"),
    "m_step: reg_covar added everywhere": (
        edit("m_step", ("reg_covar * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)", "reg_covar")),
        "add reg_covar to the diagonal only"),
    "m_step: the second moment, not centred": (edit("m_step", ("diff = x[None] - means[:, None]",
                                                               "diff = x[None].expand(len(means), -1, -1)")),
                                               "centre on μ_k"),
    "m_step: means transposed": (returns("m_step", lambda w, m, c: (w, m.T, c)), "means[k] is μ_k: shape (K, D)"),
    "m_step: an N × N covariance": (returns("m_step", lambda w, m, c: (w, m, torch.zeros(4, 300, 300))), "Σ_k is D × D"),
    "m_step: two results": (returns("m_step", lambda w, m, c: (m, c)), "return exactly three: `return weights, means, covariances`"),
    # BIC
    "bic: K weights counted": (edit("bic", ("(k - 1)", "k")), "K − 1 free parameters"),
    "bic: D² covariance entries": (edit("bic", ("k * d * (d + 1) // 2", "k * d * d")), "D(D + 1)/2 free parameters"),
    "bic: no means counted": (edit("bic", (PENALTY, "n_parameters = (k - 1) + k * d * (d + 1) // 2")), "count the K means"),
    "bic: the mean log-likelihood": (edit("bic", ("[1].sum()", "[1].mean()")), "not the mean"),
    "bic: no factor −2": (edit("bic", ("-2 * e_step", "-e_step")), "the factor −2"),
    "bic: the sign flipped": (edit("bic", (BIC, f"-({BIC})")), "a lower BIC is better"),
    "bic: p · N": (edit("bic", ("math.log(n)", "n")), "natural log of the number of points"),
    "bic: one value per point": (edit("bic", ("[1].sum()", "[1]")), "sum log p(x_n) over the points"),
    "bic: a string": (returns("bic", lambda value: f"{value:.1f}"), "stay in torch"),
    # RLOO
    "rloo: the baseline includes the sample": (edit("rloo_surrogate", ("(f_fixed.sum(0) - f_fixed) / (s - 1)",
                                                                       "f_fixed.mean(0)")),
                                               "leave f_s out: b_s = (Σ_j f_j − f_s)/(S − 1)"),
    "rloo: no baseline": (edit("rloo_surrogate", ("(f_fixed - baseline)", "f_fixed")), "subtract the baseline"),
    "rloo: the baseline divided by S": (edit("rloo_surrogate", ("/ (s - 1)", "/ s")), "divide by S − 1"),
    "rloo: b − f": (edit("rloo_surrogate", ("(f_fixed - baseline)", "(baseline - f_fixed)")), "f_s − b_s, not b_s − f_s"),
    "rloo: (f − b)·log q, the textbook surrogate": (
        edit("rloo_surrogate", (RLOO, "((f_fixed - baseline) * log_q).mean(0)")), "the value is mean_s f_s"),
    "rloo: a loss": (returns("rloo_surrogate", lambda value: -value), "not a loss"),
    "rloo: summed over the samples": (edit("rloo_surrogate", (".mean(0)", ".sum(0)")), "do not sum"),
    "rloo: averaged over the images": (edit("rloo_surrogate", (".mean(0)", ".mean(1)")),
                                       ("average over the samples (dim 0)", "got shape (4,)")),
    "rloo: f detached in the value": (edit("rloo_surrogate", ("(f + (f_fixed", "(f_fixed + (f_fixed")),
                                      "keep f's own gradient"),
    "rloo: log q detached": (edit("rloo_surrogate", ("(log_q - log_q.detach())", "(log_q.detach() - log_q.detach())")),
                             "none reaches log_q"),
    # Gumbel-softmax
    "gumbel: the noise subtracted": (edit("gumbel_softmax", ("(logits + gumbel)", "(logits - gumbel)")), "add the noise"),
    "gumbel: τ after the softmax": (edit("gumbel_softmax", (SAMPLE, "(logits + gumbel).softmax(-1) / tau")),
                                    "τ divides the noisy logits, inside the softmax"),
    "gumbel: τ multiplies": (edit("gumbel_softmax", ("/ tau)", "* tau)")), "divide by τ, do not multiply"),
    "gumbel: τ divides the logits only": (edit("gumbel_softmax", (SAMPLE, "(logits / tau + gumbel).softmax(-1)")),
                                          "not the logits alone"),
    "gumbel: softmax over the rows": (edit("gumbel_softmax", ("softmax(-1)", "softmax(0)")),
                                      "softmax over the categories (dim -1)"),
    "gumbel: a log-probability": (edit("gumbel_softmax", ("softmax(-1)", "log_softmax(-1)")), "not log_softmax"),
    "gumbel: exp overflows at small τ": (
        edit("gumbel_softmax", (SAMPLE, "((logits + gumbel) / tau).exp() / ((logits + gumbel) / tau).exp().sum(-1, keepdim=True)")),
        "exp overflows"),
    "gumbel: exponential noise, −log u": (edit("gumbel_softmax", (NOISE, "-torch.log(torch.rand_like(logits))")),
                                          "g = −log(−log u)"),
    "gumbel: Gaussian noise": (edit("gumbel_softmax", (NOISE, "torch.randn_like(logits)")), "g = −log(−log u)"),
    "gumbel: one draw for every row": (
        edit("gumbel_softmax", (NOISE, "-torch.log(-torch.log(torch.rand(logits.shape[-1], dtype=logits.dtype)))")),
        "draw noise of logits' shape"),
    "gumbel: the given noise ignored": (edit("gumbel_softmax", ("    if gumbel is None:\n        gumbel =", "    gumbel =")),
                                        "use the given gumbel"),
    "gumbel: detached": (returns("gumbel_softmax", lambda y: y.detach()), "no .detach()"),
    # straight-through
    "straight-through: the relaxed sample forward": (edit("straight_through", ("return hard - soft.detach() + soft",
                                                                               "return soft")),
                                                     "forward the one-hot sample"),
    "straight-through: the argmax of the logits": (edit("straight_through", ("soft.argmax(-1)", "logits.argmax(-1)")),
                                                   "the noise picks the category"),
    "straight-through: the hard sample alone": (edit("straight_through", ("return hard - soft.detach() + soft",
                                                                          "return hard")),
                                                "no gradient reaches the logits"),
    "straight-through: the wrong term detached": (edit("straight_through", ("hard - soft.detach() + soft",
                                                                            "hard + soft.detach() - soft")),
                                                  "detach the subtracted one"),
    "straight-through: τ = 1 in the relaxed sample": (
        edit("straight_through", ("gumbel_softmax(logits, tau, gumbel)", "gumbel_softmax(logits, 1.0, gumbel)")),
        "the relaxed sample at the given τ"),
    "straight-through: the noise not passed on": (
        edit("straight_through", ("gumbel_softmax(logits, tau, gumbel)", "gumbel_softmax(logits, tau)")),
        "pass `gumbel` on to gumbel_softmax"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_gets_one_cross_with_its_own_hint(mistake):
    (name, fn), hint = MISTAKES[mistake]
    fails(CHECK[name], fn, hint=hint)


WRONG_RETURNS = [   # (check, returned, what the ✗ line says, hint)
    ("e_step", None, "returned None", "return resp, log_px"),
    ("e_step", (np.zeros((300, 4)), np.zeros(300)), "resp is a NumPy array, not a tensor", "stay in torch"),
    ("m_step", (torch.zeros(4), torch.zeros(4, 3)), "got 2 values, not 3", "return exactly three"),
    ("bic", torch.zeros(300), "got shape (300,)", "sum log p(x_n) over the points"),
    ("rloo_surrogate", torch.zeros(4, 64), "got shape (4, 64), not (64,)", "average over the S samples"),
    ("gumbel_softmax", torch.zeros(6, 64), "got shape (6, 64), not (64, 6)", "softmax over the categories"),
    ("straight_through", np.zeros((64, 6)), "a NumPy array, not a tensor", "stay in torch"),
]


@pytest.mark.parametrize("name, returned, problem, hint", WRONG_RETURNS)
def test_a_wrong_return_is_reported_in_one_line(name, returned, problem, hint):
    line, = fails(CHECK[name], returning(returned), hint=hint)
    assert problem in line


# ---- one mistake, one ✗: a check uses the references of what the function builds on -------------------
def test_bic_is_checked_with_the_reference_e_step_whatever_the_students_e_step():
    wrong_e_step = getattr(planted(7, "e_step", ("weights.log() + ", "")), "e_step")
    passes(unit07.check_bic, student(7, e_step=wrong_e_step).bic)


def test_straight_through_is_checked_with_the_reference_gumbel_softmax():
    wrong = getattr(planted(7, "gumbel_softmax", ("(logits + gumbel)", "(logits - gumbel)")), "gumbel_softmax")
    passes(unit07.check_straight_through, student(7, gumbel_softmax=wrong).straight_through)


def test_the_m_step_check_reaches_sklearns_log_likelihood_with_the_reference_m_step():
    lines = passes(unit07.check_m_step, S.m_step)
    assert any("50 EM steps never lower" in line for line in lines)
    assert any("sklearn's log p(x)" in line for line in lines)


# ---- ready -------------------------------------------------------------------------------------------
def test_ready_is_silent_and_true_when_every_function_passes(capsys):
    assert unit07.ready(*(getattr(S, name) for name in CHECK))
    assert capsys.readouterr().out == ""


def test_ready_names_every_function_to_finish_first_in_one_line(capsys):
    unweighted = edit("m_step", ("(resp.T[:, :, None] * diff)", "diff"))[1]
    assert unit07.ready(S.e_step, unweighted, planted(7, "rloo_surrogate", STUB).rloo_surrogate) is False
    assert capsys.readouterr().out.strip().splitlines() == [
        "⏭ skipped: first finish `m_step` (Part 1: fails its check) and `rloo_surrogate` (Part 3)"]


def test_ready_leaves_the_global_generator_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    unit07.ready(*(getattr(S, name) for name in CHECK))
    torch.testing.assert_close(torch.rand(3), expected)
