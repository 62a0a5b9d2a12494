"""Unit 03 self-checks: pass on reference estimators, fail on stubs and on typical wrong answers."""
import pytest
import torch
from torch.distributions import Normal

from utils.checks import SelfCheckFailed, unit03
from utils.vae import gaussian_kl, log_likelihood
from utils.vae import reinforce_negative_elbo as surrogate   # the reference: one copy, in utils.vae


pytestmark = pytest.mark.usefixtures("one_thread")
PASS, FAIL = "\u2713", "\u2717"


def crosses(capsys, check, *args, limit=120, **kwargs):
    """The ✗ lines a failing check prints (in strict mode, the suite's, it raises at the end); each
    at most 120 characters, and every printed line a check line."""
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


def not_written(capsys, check, *args, **kwargs):
    """The one ✗ line of a check of an unwritten function (its hint is the shared one of SelfCheck)."""
    lines = crosses(capsys, check, *args, limit=200, **kwargs)
    assert len(lines) == 1 and "not implemented yet" in lines[0], "\n".join(lines)
    return lines[0]


# ---- reference estimators (as in solutions/03_gradient_estimators.md) -------------------------
def score(eps, sigma):
    return torch.stack([eps / sigma, (eps**2 - 1) / sigma], dim=-1)


def reinforce(f, mu, sigma, eps):
    return (f(mu + sigma * eps).unsqueeze(-1) * score(eps, sigma)).mean(-2)


def pathwise(f, mu, sigma, eps):
    z = (mu + sigma * eps).detach().requires_grad_()
    (df,) = torch.autograd.grad(f(z).sum(), z)
    return (df.unsqueeze(-1) * torch.stack([torch.ones_like(eps), eps], -1)).mean(-2)


def loo(f, mu, sigma, eps):
    fz = f(mu + sigma * eps)
    b = (fz.sum(-1, keepdim=True) - fz) / (eps.shape[-1] - 1)
    return ((fz - b).unsqueeze(-1) * score(eps, sigma)).mean(-2)


def stub(*args, **kwargs):
    raise NotImplementedError("exercise: write this part")


@pytest.fixture(scope="module")
def x():
    gen = torch.Generator().manual_seed(0)
    return torch.bernoulli(torch.full((32, 784), 0.3), generator=gen)


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


# ---- REINFORCE -----------------------------------------------------------------------------------
def test_reinforce_check_passes_on_reference(capsys):
    unit03.check_reinforce(reinforce)
    assert FAIL not in capsys.readouterr().out


def test_reinforce_check_fails_on_stub(capsys):
    not_written(capsys, unit03.check_reinforce, stub)


def test_reinforce_check_names_a_missing_one_over_sigma(capsys):
    wrong = lambda f, mu, sigma, eps: reinforce(f, mu, sigma, eps) * sigma
    assert "divide by sigma" in first_hint(capsys, unit03.check_reinforce, wrong)


def test_reinforce_check_names_a_sigma_score_without_minus_one(capsys):
    def wrong(f, mu, sigma, eps):
        return (f(mu + sigma * eps).unsqueeze(-1) * torch.stack([eps / sigma, eps**2 / sigma], -1)).mean(-2)
    assert "the sigma score is (eps² − 1) / sigma" in first_hint(capsys, unit03.check_reinforce, wrong)


def test_reinforce_check_reports_unaveraged_samples_as_a_shape(capsys):
    wrong = lambda f, mu, sigma, eps: f(mu + sigma * eps).unsqueeze(-1) * score(eps, sigma)
    line = first_hint(capsys, unit03.check_reinforce, wrong)
    assert "expected shape" in line and "average over the S samples" in line


# ---- pathwise ------------------------------------------------------------------------------------
def test_pathwise_check_passes_on_reference(capsys):
    unit03.check_pathwise(pathwise)
    assert FAIL not in capsys.readouterr().out


def test_pathwise_check_fails_on_stub(capsys):
    not_written(capsys, unit03.check_pathwise, stub)


def test_pathwise_check_names_dz_dsigma_equal_to_one(capsys):
    def wrong(f, mu, sigma, eps):
        z = (mu + sigma * eps).detach().requires_grad_()
        (df,) = torch.autograd.grad(f(z).sum(), z)
        return torch.stack([df, df], -1).mean(-2)
    assert "dz/dsigma = eps" in first_hint(capsys, unit03.check_pathwise, wrong)


def test_pathwise_check_names_reinforce_an_unbiased_but_noisier_estimator(capsys):
    # REINFORCE is unbiased too: only the variance check can tell it from the pathwise estimator
    line = first_hint(capsys, unit03.check_pathwise, reinforce)
    assert "variance (quadratic)" in line and "that is REINFORCE" in line


# ---- leave-one-out baseline ----------------------------------------------------------------------
def test_loo_check_passes_on_reference(capsys):
    unit03.check_loo_baseline(loo)
    assert FAIL not in capsys.readouterr().out


def test_loo_check_fails_on_stub(capsys):
    not_written(capsys, unit03.check_loo_baseline, stub)


def test_loo_check_names_a_baseline_that_includes_its_own_sample(capsys):
    def wrong(f, mu, sigma, eps):
        fz = f(mu + sigma * eps)
        return ((fz - fz.mean(-1, keepdim=True)).unsqueeze(-1) * score(eps, sigma)).mean(-2)
    assert "leave f_s out of its own baseline" in first_hint(capsys, unit03.check_loo_baseline, wrong)


def test_loo_check_names_a_missing_baseline(capsys):
    assert "subtract the baseline b_s" in first_hint(capsys, unit03.check_loo_baseline, reinforce)


# ---- variance order ------------------------------------------------------------------------------
def test_variance_order_check_passes_on_reference(capsys):
    unit03.check_variance_order(reinforce, pathwise, loo)
    assert FAIL not in capsys.readouterr().out


def test_variance_order_check_names_the_unfinished_estimator_in_one_line(capsys):
    lines = crosses(capsys, unit03.check_variance_order, stub, pathwise, loo)
    assert len(lines) == 1 and "fix `reinforce_estimate` first" in lines[0]


def test_variance_order_check_fails_when_estimators_are_swapped(capsys):
    assert "fix `reinforce_estimate` first" in first_hint(
        capsys, unit03.check_variance_order, pathwise, reinforce, loo)


# ---- VAE surrogate -------------------------------------------------------------------------------
def score_function_loss(vae, x, eps, baseline, detach=True, sign=-1.0, kl=True, zero_valued=True):
    """The surrogate, right by default; each keyword plants one mistake."""
    z_loc, z_scale = vae.encoder(x)
    z = z_loc + z_scale * eps
    z = z.detach() if detach else z
    log_px_z = log_likelihood(vae, x, z)
    log_q = Normal(z_loc, z_scale).log_prob(z.detach()).sum(-1)
    score_term = (log_px_z.detach() - baseline) * ((log_q - log_q.detach()) if zero_valued else log_q)
    return (gaussian_kl(z_loc, z_scale) if kl else 0.0) - log_px_z + sign * score_term


def test_surrogate_check_passes_on_reference(x, capsys):
    unit03.check_reinforce_surrogate(surrogate, x, repeats=100)
    out = capsys.readouterr().out
    assert FAIL not in out and "unbiased" in out and "lowers the variance" in out


def test_surrogate_check_passes_on_the_exercise_solution_written_out(x, capsys):
    unit03.check_reinforce_surrogate(score_function_loss, x, repeats=0)
    assert FAIL not in capsys.readouterr().out


def test_surrogate_check_fails_on_stub(x, capsys):
    not_written(capsys, unit03.check_reinforce_surrogate, stub, x)


def test_surrogate_check_names_an_undetached_z(x, capsys):
    # the baseline hides this mistake from the value, decoder-gradient and unbiasedness checks
    wrong = lambda vae, x, eps, baseline=0.0: score_function_loss(vae, x, eps, baseline, detach=False)
    line = first_hint(capsys, unit03.check_reinforce_surrogate, wrong, x, repeats=0)
    assert "z detached: z needs grad" in line
    assert "detach z: only the score term carries the encoder's gradient" in line


def test_surrogate_check_names_a_missing_kl_in_the_value(x, capsys):
    wrong = lambda vae, x, eps, baseline=0.0: score_function_loss(vae, x, eps, baseline, kl=False)
    line = first_hint(capsys, unit03.check_reinforce_surrogate, wrong, x, repeats=0)
    assert "value = −ELBO = KL − log p(x|z)" in line and "include the KL term" in line


def test_surrogate_check_names_a_score_term_whose_value_is_not_zero(x, capsys):
    wrong = lambda vae, x, eps, baseline=0.0: score_function_loss(vae, x, eps, baseline, zero_valued=False)
    assert "multiply by (log_q − log_q.detach())" in first_hint(
        capsys, unit03.check_reinforce_surrogate, wrong, x, repeats=0)


def test_surrogate_check_names_a_flipped_score_term(x, capsys):
    wrong = lambda vae, x, eps, baseline=0.0: score_function_loss(vae, x, eps, baseline, sign=1.0)
    line = first_hint(capsys, unit03.check_reinforce_surrogate, wrong, x, repeats=0)
    assert "encoder gradient, b = 0" in line and "needs a minus sign" in line


def test_surrogate_check_names_a_missing_score_term(x, capsys):
    wrong = lambda vae, x, eps, baseline=0.0: score_function_loss(vae, x, eps, baseline, sign=0.0)
    assert "the score term is missing" in first_hint(
        capsys, unit03.check_reinforce_surrogate, wrong, x, repeats=0)


def test_surrogate_check_names_an_ignored_baseline(x, capsys):
    wrong = lambda vae, x, eps, baseline=0.0: surrogate(vae, x, eps, 0.0)
    line = first_hint(capsys, unit03.check_reinforce_surrogate, wrong, x, repeats=0)
    assert "encoder gradient, b ≠ 0" in line and "(log p(x|z) − b).detach()" in line


def test_surrogate_check_names_the_elbo_returned_for_the_loss(x, capsys):
    wrong = lambda vae, x, eps, baseline=0.0: -surrogate(vae, x, eps, baseline)
    assert "return −ELBO, not the ELBO" in first_hint(capsys, unit03.check_reinforce_surrogate, wrong, x, repeats=0)


def test_surrogate_check_runs_without_images_of_its_own(capsys):
    unit03.check_reinforce_surrogate(surrogate, repeats=0)
    assert FAIL not in capsys.readouterr().out


# ---- Bernoulli latent: exact gradient by enumeration and REINFORCE ---------------------------------
def bernoulli_exact_gradient(f, logits):
    logits = logits.clone().requires_grad_()
    p = torch.sigmoid(logits)
    d = len(logits)
    z = torch.tensor([[(i >> j) & 1 for j in range(d)] for i in range(2**d)], dtype=logits.dtype)
    q = (p**z * (1 - p) ** (1 - z)).prod(-1)
    (grad,) = torch.autograd.grad((q * f(z)).sum(), logits)
    return grad


def bernoulli_reinforce(f, logits, u, flip=False, score="logits"):
    p = torch.sigmoid(logits)
    z = ((u > p) if flip else (u < p)).to(logits.dtype)
    s = {"logits": z - p, "minus": p - z, "probs": z / p - (1 - z) / (1 - p)}[score]
    return (f(z).unsqueeze(-1) * s).mean(-2)


def test_enumeration_matches_autograd_on_the_enumerated_expectation():
    for f in unit03.BERNOULLI_COSTS.values():
        torch.testing.assert_close(unit03.bernoulli_exact_gradient(f, unit03.BERN_LOGITS),
                                   bernoulli_exact_gradient(f, unit03.BERN_LOGITS))


def test_bernoulli_exact_gradient_check_passes_on_reference(capsys):
    unit03.check_bernoulli_exact_gradient(bernoulli_exact_gradient)
    assert FAIL not in capsys.readouterr().out


def test_bernoulli_exact_gradient_check_fails_on_stub(capsys):
    not_written(capsys, unit03.check_bernoulli_exact_gradient, stub)


def test_bernoulli_exact_gradient_check_names_the_gradient_in_the_probabilities(capsys):
    def wrong(f, logits):
        p = torch.sigmoid(logits).clone().requires_grad_()
        z = torch.tensor([[(i >> j) & 1 for j in range(len(p))] for i in range(2 ** len(p))], dtype=p.dtype)
        (grad,) = torch.autograd.grad(((p**z * (1 - p) ** (1 - z)).prod(-1) * f(z)).sum(), p)
        return grad
    assert "that is the gradient in p" in first_hint(capsys, unit03.check_bernoulli_exact_gradient, wrong)


def test_bernoulli_exact_gradient_check_names_unweighted_configurations(capsys):
    def wrong(f, logits):
        p = torch.sigmoid(logits)
        z = torch.tensor([[(i >> j) & 1 for j in range(len(p))] for i in range(2 ** len(p))], dtype=p.dtype)
        return (f(z)[:, None] * (z - p)).sum(0)
    assert "weight each z by q(z)" in first_hint(capsys, unit03.check_bernoulli_exact_gradient, wrong)


def test_bernoulli_reinforce_check_passes_on_reference(capsys):
    unit03.check_bernoulli_reinforce(bernoulli_reinforce)
    assert FAIL not in capsys.readouterr().out


def test_bernoulli_reinforce_check_fails_on_stub(capsys):
    not_written(capsys, unit03.check_bernoulli_reinforce, stub)


@pytest.mark.parametrize("mistake, hint", [
    (dict(flip=True), "z = 1 when u < sigmoid(logits)"),
    (dict(score="minus"), "not p − z"),
    (dict(score="probs"), "score in p; in the logits"),
])
def test_bernoulli_reinforce_check_names_each_typical_mistake(capsys, mistake, hint):
    wrong = lambda f, logits, u: bernoulli_reinforce(f, logits, u, **mistake)
    line = first_hint(capsys, unit03.check_bernoulli_reinforce, wrong)
    assert "unbiased" in line and hint in line


def test_bernoulli_reinforce_check_reports_unaveraged_samples_as_a_shape(capsys):
    def wrong(f, logits, u):
        z = (u < torch.sigmoid(logits)).to(logits.dtype)
        return f(z).unsqueeze(-1) * (z - torch.sigmoid(logits))
    assert "average over the S samples" in first_hint(capsys, unit03.check_bernoulli_reinforce, wrong)


# ---- ready(): the guard of the cells that use the student's functions -----------------------------
def test_ready_is_true_for_finished_functions(capsys):
    assert unit03.ready(bernoulli_exact_gradient, bernoulli_reinforce)
    assert capsys.readouterr().out == ""


def test_ready_names_the_unfinished_part_in_one_line(capsys):
    def bernoulli_reinforce(*args):
        raise NotImplementedError
    assert not unit03.ready(bernoulli_exact_gradient, bernoulli_reinforce)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "first finish `bernoulli_reinforce` (Part 6)" in out[0]
