"""Unit 03 self-checks pass on the reference estimators (solutions/03_gradient_estimators.py, read by
tests/_solutions.py) and fail on their stubs and on typical wrong answers, each with its own hint; a
wrong answer is the solution with a mistake planted in it, or a wrapper around it."""
import pytest
import torch

from _checks import fails, passes
from _solutions import STUB, planted, solution
from utils.checks import unit03
from utils.vae import reinforce_negative_elbo as course_surrogate   # the course's copy, in utils.vae

pytestmark = pytest.mark.usefixtures("one_thread")
S = solution(3)
X = torch.bernoulli(torch.full((32, 784), 0.3), generator=torch.Generator().manual_seed(0))   # binary images
CHECK = {"reinforce_estimate": unit03.check_reinforce, "pathwise_estimate": unit03.check_pathwise,
         "reinforce_loo_estimate": unit03.check_loo_baseline,
         "reinforce_negative_elbo": lambda fn: unit03.check_reinforce_surrogate(fn, X, repeats=0),
         "bernoulli_exact_gradient": unit03.check_bernoulli_exact_gradient,
         "bernoulli_reinforce": unit03.check_bernoulli_reinforce}


# ---- exact variances -----------------------------------------------------------------------------
def test_exact_pathwise_variance_of_quadratic_matches_closed_form():
    # f' = 2(z - k): Var[2(z - k)] = 4 sigma^2; Var[2(z - k) eps] = 4 (mu - k)^2 + 8 sigma^2
    s, m, k = unit03.SIGMA, unit03.MU, unit03.SHIFT
    expected = torch.tensor([4 * s**2, 4 * (m - k) ** 2 + 8 * s**2], dtype=torch.float64) / 4
    torch.testing.assert_close(unit03.exact_variances("quadratic", "pathwise", 4), expected)


def test_exact_loo_variance_approaches_constant_baseline_value_for_large_s():
    big = 10**6
    limit = unit03.exact_variances("quadratic", "loo", big) * big
    assert limit[0] < unit03.exact_variances("quadratic", "reinforce", 1)[0]


def test_enumeration_matches_autograd_on_the_enumerated_expectation():
    for f in unit03.BERNOULLI_COSTS.values():
        torch.testing.assert_close(unit03.bernoulli_exact_gradient(f, unit03.BERN_LOGITS),
                                   S.bernoulli_exact_gradient(f, unit03.BERN_LOGITS))


# ---- every check passes on the reference -----------------------------------------------------------
@pytest.mark.parametrize("name", CHECK)
def test_each_check_passes_on_the_reference(name):
    passes(CHECK[name], getattr(S, name))


def test_surrogate_check_finds_the_course_copy_unbiased_and_its_baseline_lowering_the_variance():
    out = "\n".join(passes(unit03.check_reinforce_surrogate, course_surrogate, X, repeats=100))
    assert "unbiased" in out and "lowers the variance" in out


# ---- planted mistakes: (function, the mistaken one), what the one ✗ line it gets says (its hint first) -
def edit(name, *edits):
    return name, getattr(planted(3, name, *edits), name)


MISTAKES = {
    **{f"{name}: not written (the exercise's stub)": (edit(name, STUB), "not implemented yet") for name in CHECK},
    "reinforce: no 1/sigma": (
        ("reinforce_estimate", lambda f, mu, sigma, eps: S.reinforce_estimate(f, mu, sigma, eps) * sigma),
        "divide by sigma"),
    "reinforce: sigma score without −1": (
        edit("reinforce_estimate", ("(eps**2 - 1) / sigma", "eps**2 / sigma")),
        "the sigma score is (eps² − 1) / sigma"),
    "reinforce: samples not averaged": (
        edit("reinforce_estimate", (".mean(dim=-2)", "")), ("average over the S samples", "expected shape")),
    "pathwise: dz/dsigma = 1": (
        edit("pathwise_estimate", ("[torch.ones_like(eps), eps]", "[torch.ones_like(eps), torch.ones_like(eps)]")),
        "dz/dsigma = eps"),
    "pathwise: REINFORCE, unbiased but noisier": (
        ("pathwise_estimate", S.reinforce_estimate), ("that is REINFORCE", "variance (quadratic)")),
    "loo: f_s in its own baseline": (
        edit("reinforce_loo_estimate", ("(fz.sum(dim=-1, keepdim=True) - fz) / (S - 1)",
                                        "fz.mean(dim=-1, keepdim=True)")), "leave f_s out of its own baseline"),
    "loo: no baseline": (("reinforce_loo_estimate", S.reinforce_estimate), "subtract the baseline b_s"),
    "surrogate: z not detached": (
        edit("reinforce_negative_elbo", ("z = (z_loc + z_scale * eps).detach()", "z = z_loc + z_scale * eps"),
             (".log_prob(z)", ".log_prob(z.detach())")),
        ("detach z: only the score term carries the encoder's gradient", "z detached: z needs grad")),
    "surrogate: no KL in the value": (
        edit("reinforce_negative_elbo", ("gaussian_kl(z_loc, z_scale) - log_px_z", "-log_px_z")),
        ("include the KL term", "value = −ELBO = KL − log p(x|z)")),
    "surrogate: a score term whose value is not 0": (
        edit("reinforce_negative_elbo", ("(log_q - log_q.detach())", "log_q")),
        "multiply by (log_q − log_q.detach())"),
    "surrogate: the score term flipped": (edit("reinforce_negative_elbo", ("- score_term", "+ score_term")),
                                          ("needs a minus sign", "encoder gradient, b = 0")),
    "surrogate: no score term": (edit("reinforce_negative_elbo", ("- score_term", "")), "the score term is missing"),
    "surrogate: the baseline ignored": (
        ("reinforce_negative_elbo", lambda vae, x, eps, baseline=0.0: S.reinforce_negative_elbo(vae, x, eps, 0.0)),
        ("(log p(x|z) − b).detach()", "encoder gradient, b ≠ 0")),
    "surrogate: the ELBO for the loss": (
        ("reinforce_negative_elbo", lambda vae, x, eps, baseline=0.0: -S.reinforce_negative_elbo(vae, x, eps,
                                                                                                 baseline)),
        "return −ELBO, not the ELBO"),
    "enumeration: the gradient in p": (
        edit("bernoulli_exact_gradient",
             ("p = torch.sigmoid(logits)", "p = torch.sigmoid(logits).detach().requires_grad_()"),
             ("(q * f(z)).sum(), logits)", "(q * f(z)).sum(), p)")),
        "that is the gradient in p"),
    "enumeration: configurations not weighted by q": (
        edit("bernoulli_exact_gradient", ("(grad,) = torch.autograd.grad((q * f(z)).sum(), logits)",
                                          "grad = (f(z)[:, None] * (z - p)).sum(0).detach()")),
        "weight each z by q(z)"),
    "bernoulli_reinforce: z = 1 when u > p": (
        edit("bernoulli_reinforce", ("(u < p)", "(u > p)")), ("z = 1 when u < sigmoid(logits)", "unbiased")),
    "bernoulli_reinforce: score p − z": (edit("bernoulli_reinforce", ("(z - p)", "(p - z)")),
                                         ("not p − z", "unbiased")),
    "bernoulli_reinforce: score in p": (edit("bernoulli_reinforce", ("(z - p)", "(z / p - (1 - z) / (1 - p))")),
                                        ("score in p; in the logits", "unbiased")),
    "bernoulli_reinforce: samples not averaged": (
        edit("bernoulli_reinforce", (".mean(dim=-2)", "")), "average over the S samples"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_gets_one_cross_with_its_own_hint(mistake):
    (name, fn), hint = MISTAKES[mistake]
    fails(CHECK[name], fn, hint=hint, one=True)


# ---- the order of the variances, and a surrogate without images of its own -----------------------
def test_variance_order_check_passes_on_the_reference():
    passes(unit03.check_variance_order, S.reinforce_estimate, S.pathwise_estimate, S.reinforce_loo_estimate)


def test_variance_order_check_names_the_unfinished_estimator_in_one_line():
    fails(unit03.check_variance_order, planted(3, "reinforce_estimate", STUB).reinforce_estimate,
          S.pathwise_estimate, S.reinforce_loo_estimate, hint="fix `reinforce_estimate` first", one=True)


def test_variance_order_check_fails_when_estimators_are_swapped():
    fails(unit03.check_variance_order, S.pathwise_estimate, S.reinforce_estimate, S.reinforce_loo_estimate,
          hint="fix `reinforce_estimate` first")


def test_surrogate_check_runs_without_images_of_its_own():
    passes(unit03.check_reinforce_surrogate, S.reinforce_negative_elbo, repeats=0)


# ---- ready(): the guard of the cells that use the student's functions -----------------------------
def test_ready_is_true_for_finished_functions(capsys):
    assert unit03.ready(S.bernoulli_exact_gradient, S.bernoulli_reinforce)
    assert capsys.readouterr().out == ""


def test_ready_names_the_unfinished_part_in_one_line(capsys):
    assert not unit03.ready(S.bernoulli_exact_gradient, planted(3, "bernoulli_reinforce", STUB).bernoulli_reinforce)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "first finish `bernoulli_reinforce` (Part 6)" in out[0]
