"""Unit 06 self-checks: pass on the reference functions; on each typical mistake, planted here, one ✗
line with the mistake's own hint and no traceback; never an exception but SelfCheckFailed."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Normal
from torch.nn import functional as F

from utils.checks import SelfCheckFailed, unit06

pytestmark = pytest.mark.usefixtures("one_thread")
PASS, FAIL = "\u2713", "\u2717"


# ---- the student's functions, written correctly: read from solutions/06_elbo_tradeoffs.md ------------
SOLUTION = Path(__file__).resolve().parent.parent / "solutions" / "06_elbo_tradeoffs.md"


def solution(name, *mutations):
    """The solution's function ``name``, its source read from the solution notebook, with each
    (old, new) of ``mutations`` replaced in it (a planted mistake; old must occur)."""
    text = SOLUTION.read_text(encoding="utf-8")
    start = text.index(f"def {name}(")
    end = text.index("```", start)
    source = "\n".join(line for line in text[start:end].splitlines() if "SOLUTION" not in line)
    for old, new in mutations:
        assert old in source, f"{old!r} not in {name}"
        source = source.replace(old, new)
    namespace = {"torch": torch, "F": F, "Normal": Normal, "math": math}
    exec(compile(source, f"<solution {name}>", "exec"), namespace)
    return namespace[name]


rate_distortion = solution("rate_distortion")
active_units = solution("active_units")
iwae_negative_bound = solution("iwae_negative_bound")
free_bits_rate = solution("free_bits_rate")


def iwae_loss(vae, x, k, eps=None):
    """The loss of the solution's iwae_negative_bound (its first result)."""
    return iwae_negative_bound(vae, x, k, eps)[0]


def with_weights(loss_fn):
    """A student's iwae_negative_bound returning ``loss_fn``'s loss with the right weights."""
    def fn(vae, x, k, eps=None):
        return loss_fn(vae, x, k, eps), iwae_negative_bound(vae, x, k, eps)[1]
    return fn


def from_means(fn):
    """A student's active_units(vae, x, threshold) that applies ``fn(z_loc, threshold)`` to the
    encoder's posterior means (the old, lecture-shaped signature)."""
    def wrapped(vae, x, *threshold):
        with torch.no_grad():
            return fn(vae.encoder(x)[0], *threshold)
    return wrapped


def log_weights(vae, x, k, eps=None):
    """(K, N) log-weights, the common part of the correct and the planted iwae losses."""
    z_loc, z_scale = vae.encoder(x)
    if eps is None:
        eps = torch.randn(k, *z_loc.shape)
    z = z_loc + z_scale * eps
    log_px = -F.binary_cross_entropy_with_logits(vae.decoder(z), x.expand(k, *x.shape),
                                                 reduction="none").sum(-1)
    return log_px, Normal(0.0, 1.0).log_prob(z).sum(-1), Normal(z_loc, z_scale).log_prob(z).sum(-1)


def kl_per_dim(z_loc, z_scale):
    return 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log())


def stub(*args, **kwargs):
    raise NotImplementedError("exercise: write this part")


CHECKS = {"rate_distortion": (unit06.check_rate_distortion, rate_distortion),
          "active_units": (unit06.check_active_units, active_units),
          "iwae_negative_bound": (unit06.check_iwae_negative_bound, iwae_negative_bound),
          "free_bits_rate": (unit06.check_free_bits_rate, free_bits_rate)}


LINE, PASS_LINE = 120, 100    # the longest ✗ line, and the longest ✓ line, in characters


def short(lines):
    """True when every ✗ line has at most LINE characters and every ✓ line at most PASS_LINE."""
    return all(len(line) <= (LINE if line.startswith(FAIL) else PASS_LINE) for line in lines)


def run(capsys, check, fn):
    """(passed, printed lines) of one check; in strict mode (the suite's) a failure raises at the end.
    Every line, ✓ or ✗, is short enough for a narrow notebook."""
    try:
        returned, raised = check(fn), False
    except SelfCheckFailed:
        returned, raised = None, True
    lines = capsys.readouterr().out.strip().splitlines()
    assert returned is None          # a check cell shows its lines, not a value
    passed = not raised and bool(lines) and not any(line.startswith(FAIL) for line in lines)
    assert short(lines), "\n".join(lines)
    return passed, lines


def one_cross(capsys, check, fn, hint):
    """The check fails with exactly one ✗ line, which holds ``hint``; every line is a check line."""
    passed, lines = run(capsys, check, fn)
    crosses = [line for line in lines if line.startswith(FAIL)]
    assert not passed and len(crosses) == 1, "\n".join(lines)
    assert hint in crosses[0], crosses[0]
    assert all(line[0] in (PASS, FAIL) for line in lines), "\n".join(lines)
    assert len(crosses[0].partition(". Hint: ")[2]) <= 60, "a hint longer than 60 characters"
    return crosses[0]


# ---- every check -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CHECKS)
def test_check_passes_on_the_reference_with_no_cross(capsys, name):
    check, fn = CHECKS[name]
    passed, lines = run(capsys, check, fn)
    assert passed and lines and all(line.startswith(PASS) for line in lines), "\n".join(lines)


@pytest.mark.parametrize("name", CHECKS)
def test_check_reports_a_stub_in_one_line_as_not_implemented(capsys, name):
    one_cross(capsys, CHECKS[name][0], stub, "replace the `raise NotImplementedError`")


@pytest.mark.parametrize("name", CHECKS)
def test_check_raises_self_check_failed_in_strict_mode(name):
    with pytest.raises(SelfCheckFailed):
        CHECKS[name][0](stub)


ODD_RETURNS = {"None": None, "a string": "D", "an int": 3, "a dict": {"D": 1}, "an empty tuple": (),
               "a NumPy array": np.zeros(64), "a list of tensors": [torch.zeros(64)] * 3,
               "a NaN tensor": torch.full((64,), float("nan")),
               "an int tensor": torch.zeros(64, dtype=torch.long),
               "a pair of None": (None, None), "a pair of strings": ("a", "b")}


@pytest.mark.parametrize("what", ODD_RETURNS)
@pytest.mark.parametrize("name", CHECKS)
def test_check_never_raises_in_a_students_notebook_whatever_is_returned(capsys, monkeypatch, name, what):
    monkeypatch.delenv("LVM_STRICT_CHECKS", raising=False)
    value = ODD_RETURNS[what]
    CHECKS[name][0](lambda *args, **kwargs: value)
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(line[0] in (PASS, FAIL) for line in lines) and sum(l[0] == FAIL for l in lines) == 1, \
        "\n".join(lines)


def long_error(*args, **kwargs):
    raise RuntimeError("The size of tensor a (784) must match the size of tensor b (4) at non-singleton "
                       "dimension 1, and this message goes on " + "and on " * 40)


PLANTED = {"a stub": stub, "a long error message": long_error,
           **{what: (lambda value: lambda *args, **kwargs: value)(value)
              for what, value in ODD_RETURNS.items()}}


@pytest.mark.parametrize("name", CHECKS)
def test_every_planted_mistake_prints_short_lines_with_at_most_one_hint(capsys, monkeypatch, name):
    """Each planted wrong return (ODD_RETURNS), a stub and an error message of any length: every ✗
    line at most 120 characters, every ✓ line at most 100, one hint. (The planted mistakes of the
    tests below go through `run`, which asserts the same line lengths.)"""
    monkeypatch.delenv("LVM_STRICT_CHECKS", raising=False)
    for what, fn in PLANTED.items():
        CHECKS[name][0](fn)
        lines = capsys.readouterr().out.strip().splitlines()
        assert lines and short(lines), f"{what}:\n" + "\n".join(lines)
        assert sum(". Hint: " in line for line in lines) <= 1, f"{what}:\n" + "\n".join(lines)


@pytest.mark.parametrize("name", CHECKS)
def test_check_leaves_the_global_generator_alone(name):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    CHECKS[name][0](CHECKS[name][1])
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("name", CHECKS)
def test_check_prints_the_same_lines_on_every_run(capsys, name):
    check, fn = CHECKS[name]
    assert run(capsys, check, fn) == run(capsys, check, fn)


# ---- rate_distortion ---------------------------------------------------------------------------------
def test_rate_distortion_check_names_distortion_and_rate_swapped(capsys):
    line = one_cross(capsys, unit06.check_rate_distortion,
                     lambda vae, x, eps=None: rate_distortion(vae, x, eps)[::-1], "did you swap D and R")
    assert "D has shape (64, 4)" in line


def test_rate_distortion_check_names_a_rate_with_the_wrong_sign(capsys):
    def wrong(vae, x, eps=None):
        d, r = rate_distortion(vae, x, eps)
        return d, -r
    one_cross(capsys, unit06.check_rate_distortion, wrong, "a KL divergence is never negative")


def test_rate_distortion_check_names_the_variance_where_the_std_goes(capsys):
    def wrong(vae, x, eps=None):
        d, _ = rate_distortion(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        return d, 0.5 * (z_loc**2 + z_scale - 1 - z_scale.log())
    one_cross(capsys, unit06.check_rate_distortion, wrong, "σ² = z_scale**2")


def test_rate_distortion_check_names_log_scale_for_log_variance(capsys):
    def wrong(vae, x, eps=None):
        d, _ = rate_distortion(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        return d, 0.5 * (z_loc**2 + z_scale**2 - 1 - z_scale.log())
    one_cross(capsys, unit06.check_rate_distortion, wrong, "log σ² = 2·log(z_scale)")


def test_rate_distortion_check_names_the_monte_carlo_rate(capsys):
    def wrong(vae, x, eps=None):
        d, _ = rate_distortion(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        z = z_loc + z_scale * (torch.randn_like(z_loc) if eps is None else eps)
        return d, Normal(z_loc, z_scale).log_prob(z) - Normal(0.0, 1.0).log_prob(z)
    one_cross(capsys, unit06.check_rate_distortion, wrong, "not the one-sample estimate")


def test_rate_distortion_check_reports_a_distortion_not_summed_over_pixels(capsys):
    def wrong(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        d = F.binary_cross_entropy_with_logits(vae.decoder(z_loc + z_scale * eps), x, reduction="none")
        return d, rate_distortion(vae, x, eps)[1]
    line = one_cross(capsys, unit06.check_rate_distortion, wrong, "sum over the 784 pixels (dim -1)")
    assert "D has shape (64, 784), not (64,)" in line


def test_rate_distortion_check_names_a_distortion_averaged_over_pixels(capsys):
    def wrong(vae, x, eps=None):
        d, r = rate_distortion(vae, x, eps)
        return d / 784, r
    one_cross(capsys, unit06.check_rate_distortion, wrong, "sum over the 784 pixels, do not average")


def test_rate_distortion_check_names_log_likelihood_for_distortion(capsys):
    def wrong(vae, x, eps=None):
        d, r = rate_distortion(vae, x, eps)
        return -d, r
    one_cross(capsys, unit06.check_rate_distortion, wrong, "you returned log p(x|z)")


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_rate_distortion_check_reports_a_batch_reduction(capsys, reduce):
    def wrong(vae, x, eps=None):
        return tuple(getattr(t, reduce)() for t in rate_distortion(vae, x, eps))
    line = one_cross(capsys, unit06.check_rate_distortion, wrong, "do not sum or average over the batch")
    assert "has shape (), not (64,)" in line


def test_rate_distortion_check_names_a_distortion_at_the_posterior_mean(capsys):
    def wrong(vae, x, eps=None):
        return rate_distortion(vae, x, torch.zeros(len(x), vae.z_dim))
    one_cross(capsys, unit06.check_rate_distortion, wrong, "not z = z_loc")


def test_rate_distortion_check_fails_when_eps_none_is_not_handled(capsys):
    def wrong(vae, x, eps=None):
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(z_loc + z_scale * eps)
        return (F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1),
                rate_distortion(vae, x, eps)[1])
    one_cross(capsys, unit06.check_rate_distortion, wrong, "eps = torch.randn_like(z_loc)")


def test_rate_distortion_check_gives_one_hint_for_two_mistakes(capsys):
    def wrong(vae, x, eps=None):
        d, r = rate_distortion(vae, x, eps)
        return d / 784, -r
    one_cross(capsys, unit06.check_rate_distortion, wrong, "sum over the 784 pixels, do not average")


def test_rate_distortion_check_fails_when_the_result_is_detached(capsys):
    def wrong(vae, x, eps=None):
        return tuple(t.detach() for t in rate_distortion(vae, x, eps))
    line = one_cross(capsys, unit06.check_rate_distortion, wrong, "no .detach()")
    assert "carries no gradient" in line


@pytest.mark.parametrize("value, problem, hint", [
    (None, "returned None", "return distortion, rate"),
    (torch.zeros(64), "got a tensor of shape (64,), not a pair", "return distortion, rate"),
    ((torch.zeros(64),) * 3, "got 3 values, not 2", "return exactly two"),
    ((np.zeros(64), np.zeros(64)), "D is a NumPy array, not a tensor", "stay in torch"),
])
def test_rate_distortion_check_reports_a_wrong_return_in_one_line(capsys, value, problem, hint):
    line = one_cross(capsys, unit06.check_rate_distortion, lambda vae, x, eps=None: value, hint)
    assert problem in line


# ---- active_units ------------------------------------------------------------------------------------
def test_active_units_check_accepts_the_unbiased_variance(capsys):
    passed, lines = run(capsys, unit06.check_active_units, from_means(
        lambda z, threshold=0.01: (int((z.var(0) > threshold).sum()), z.var(0))))
    assert passed, "\n".join(lines)


def test_active_units_check_reports_the_variance_over_the_latent_axis(capsys):
    def wrong(z_loc, threshold=0.01):
        variance = z_loc.var(1)
        return int((variance > threshold).sum()), variance
    line = one_cross(capsys, unit06.check_active_units, from_means(wrong), "variance over the images: z_loc.var(0)")
    assert "variance has shape (500,), not (9,)" in line


def test_active_units_check_names_greater_or_equal_for_greater(capsys):
    def wrong(z_loc, threshold=0.01):
        variance = z_loc.var(0, unbiased=False)
        return int((variance >= threshold).sum()), variance
    one_cross(capsys, unit06.check_active_units, from_means(wrong), "use >, not >=")


def test_active_units_check_names_a_wrong_threshold(capsys):
    def wrong(z_loc, threshold=0.1):
        variance = z_loc.var(0, unbiased=False)
        return int((variance > threshold).sum()), variance
    line = one_cross(capsys, unit06.check_active_units, from_means(wrong), "the threshold is 0.01 by default")
    assert "counted 2" in line


def test_active_units_check_names_a_threshold_written_as_a_number(capsys):
    def wrong(z_loc, threshold=0.01):
        variance = z_loc.var(0, unbiased=False)
        return int((variance > 0.01).sum()), variance
    one_cross(capsys, unit06.check_active_units, from_means(wrong), "use the `threshold` argument")


def test_active_units_check_names_the_std_returned_as_the_variance(capsys):
    def wrong(z_loc, threshold=0.01):
        std = z_loc.std(0, unbiased=False)
        return int((std > threshold).sum()), std
    one_cross(capsys, unit06.check_active_units, from_means(wrong), "not the standard deviation")


def test_active_units_check_names_the_std_compared_with_the_threshold(capsys):
    def wrong(z_loc, threshold=0.01):
        variance = z_loc.var(0, unbiased=False)
        return int((variance.sqrt() > threshold).sum()), variance
    line = one_cross(capsys, unit06.check_active_units, from_means(wrong), "compared the standard deviation")
    assert "counted 6" in line


def test_active_units_check_names_an_uncentred_second_moment(capsys):
    def wrong(z_loc, threshold=0.01):
        moment = z_loc.pow(2).mean(0)
        return int((moment > threshold).sum()), moment
    one_cross(capsys, unit06.check_active_units, from_means(wrong), "subtract each dimension's mean")


@pytest.mark.parametrize("value, problem, hint", [
    (None, "returned None", "return count, variance"),
    (4, "got an int, not a pair", "return count, variance"),
    ((4, np.zeros(9)), "variance is a NumPy array, not a tensor", "stay in torch: use z_loc.var(0)"),
    ((torch.zeros(9), 4), "got (variance, count)", "swap them: `return count, variance`"),
    ("4", "not a whole number", "int((variance > threshold).sum())"),
])
def test_active_units_check_reports_a_wrong_return_in_one_line(capsys, value, problem, hint):
    def wrong(z_loc, threshold=0.01):
        return (value, z_loc.var(0, unbiased=False)) if value == "4" else value
    line = one_cross(capsys, unit06.check_active_units, from_means(wrong), hint)
    assert problem in line


# ---- iwae_negative_bound -----------------------------------------------------------------------------
def test_iwae_check_names_the_mean_of_log_weights(capsys):
    def wrong(vae, x, k, eps=None):
        log_px, log_pz, log_qz = log_weights(vae, x, k, eps)
        return -(log_px + log_pz - log_qz).mean(0)
    one_cross(capsys, unit06.check_iwae_negative_bound, with_weights(wrong), "not the mean of log w_k")


def test_iwae_check_names_the_missing_log_k(capsys):
    def wrong(vae, x, k, eps=None):
        return iwae_loss(vae, x, k, eps) - math.log(k)
    one_cross(capsys, unit06.check_iwae_negative_bound, with_weights(wrong), "subtract log K")


def test_iwae_check_names_log_k_with_the_wrong_sign(capsys):
    def wrong(vae, x, k, eps=None):
        return iwae_loss(vae, x, k, eps) - 2 * math.log(k)
    one_cross(capsys, unit06.check_iwae_negative_bound, with_weights(wrong), "log K has the wrong sign")


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_iwae_check_reports_a_batch_reduction(capsys, reduce):
    line = one_cross(capsys, unit06.check_iwae_negative_bound,
                     with_weights(lambda vae, x, k, eps=None: getattr(iwae_loss(vae, x, k, eps), reduce)()),
                     "do not sum or average over the batch")
    assert "shape (), not (64,)" in line


def test_iwae_check_reports_logsumexp_over_the_images(capsys):
    def wrong(vae, x, k, eps=None):
        log_px, log_pz, log_qz = log_weights(vae, x, k, eps)
        return -(torch.logsumexp(log_px + log_pz - log_qz, 1) - math.log(k))
    one_cross(capsys, unit06.check_iwae_negative_bound, with_weights(wrong),
              "logsumexp over the K samples (dim 0)")


def test_iwae_check_names_the_underflow_of_exp(capsys):
    def wrong(vae, x, k, eps=None):
        log_px, log_pz, log_qz = log_weights(vae, x, k, eps)
        return -(log_px + log_pz - log_qz).exp().mean(0).log()
    line = one_cross(capsys, unit06.check_iwae_negative_bound, with_weights(wrong), "use torch.logsumexp")
    assert "NaN or inf" in line


def test_iwae_check_names_a_missing_prior_term(capsys):
    def wrong(vae, x, k, eps=None):
        log_px, _, log_qz = log_weights(vae, x, k, eps)
        return -(torch.logsumexp(log_px - log_qz, 0) - math.log(k))
    one_cross(capsys, unit06.check_iwae_negative_bound, with_weights(wrong), "log w misses + log p(z), the prior")


def test_iwae_check_names_the_bound_returned_for_the_loss(capsys):
    one_cross(capsys, unit06.check_iwae_negative_bound,
              with_weights(lambda vae, x, k, eps=None: -iwae_loss(vae, x, k, eps)), "return the *negative* bound")


def test_iwae_check_names_the_variance_in_the_guide_density(capsys):
    def wrong(vae, x, k, eps=None):
        eps = torch.randn(k, len(x), vae.z_dim) if eps is None else eps
        log_px, log_pz, _ = log_weights(vae, x, k, eps)
        z_loc, z_scale = vae.encoder(x)
        log_q = Normal(z_loc, z_scale**2).log_prob(z_loc + z_scale * eps).sum(-1)
        return -(torch.logsumexp(log_px + log_pz - log_q, 0) - math.log(k))
    one_cross(capsys, unit06.check_iwae_negative_bound, with_weights(wrong), "not the variance")


def test_iwae_check_fails_when_the_given_eps_is_ignored(capsys):
    one_cross(capsys, unit06.check_iwae_negative_bound,
              with_weights(lambda vae, x, k, eps=None: iwae_loss(vae, x, k)), "with the given eps")


def test_iwae_check_names_noise_of_the_wrong_shape_when_eps_is_none(capsys):
    def wrong(vae, x, k, eps=None):
        if eps is None:
            return iwae_loss(vae, x, 1, torch.randn(len(x), vae.z_dim)[None]).sum()
        return iwae_loss(vae, x, k, eps)
    one_cross(capsys, unit06.check_iwae_negative_bound, with_weights(wrong), "draw eps of shape (k, N, z_dim)")


def test_iwae_check_fails_when_the_loss_is_detached(capsys):
    one_cross(capsys, unit06.check_iwae_negative_bound,
              with_weights(lambda vae, x, k, eps=None: iwae_loss(vae, x, k, eps).detach()), "no .detach()")


@pytest.mark.parametrize("value, problem", [
    (None, "returned None"),
    (torch.zeros(64), "got a tensor of shape (64,), not a pair"),
    (np.zeros(64), "got a NumPy array, not a pair"),
    ((torch.zeros(64), np.zeros((5, 64))), "weights is a NumPy array, not a tensor"),
    ((torch.zeros(64), torch.zeros(64)), "weights have shape (64,), not (5, 64)"),
])
def test_iwae_check_reports_a_wrong_return_in_one_line(capsys, value, problem):
    line = one_cross(capsys, unit06.check_iwae_negative_bound, lambda vae, x, k, eps=None: value, "")
    assert problem in line


# ---- free_bits_rate ----------------------------------------------------------------------------------
def test_free_bits_check_names_clamping_per_image(capsys):
    one_cross(capsys, unit06.check_free_bits_rate,
              lambda z_loc, z_scale, lam: kl_per_dim(z_loc, z_scale).clamp(min=lam).mean(0).sum(),
              "clamp the batch-mean KL, not each image's KL")


@pytest.mark.parametrize("total", ["λ", "z_dim·λ"])
def test_free_bits_check_names_clamping_the_total(capsys, total):
    def wrong(z_loc, z_scale, lam):
        bound = lam if total == "λ" else lam * z_loc.shape[1]
        return kl_per_dim(z_loc, z_scale).mean(0).sum().clamp(min=bound)
    one_cross(capsys, unit06.check_free_bits_rate, wrong, "clamp each dimension's batch-mean KL separately")


def test_free_bits_check_names_a_missing_clamp(capsys):
    one_cross(capsys, unit06.check_free_bits_rate,
              lambda z_loc, z_scale, lam: kl_per_dim(z_loc, z_scale).mean(0).sum(),
              "clamp each dimension's batch-mean KL separately")


def test_free_bits_check_names_a_sum_over_the_batch(capsys):
    one_cross(capsys, unit06.check_free_bits_rate,
              lambda z_loc, z_scale, lam: kl_per_dim(z_loc, z_scale).sum(0).clamp(min=lam).sum(),
              "average over the batch (nats per image), do not sum")


def test_free_bits_check_names_a_clamp_from_above(capsys):
    one_cross(capsys, unit06.check_free_bits_rate,
              lambda z_loc, z_scale, lam: kl_per_dim(z_loc, z_scale).mean(0).clamp(max=lam).sum(),
              "clamp from below")


def test_free_bits_check_names_a_lambda_written_as_a_number(capsys):
    one_cross(capsys, unit06.check_free_bits_rate,
              lambda z_loc, z_scale, lam: free_bits_rate(z_loc, z_scale, 0.5), "use the `lam` argument")


def test_free_bits_check_reports_one_rate_per_dimension(capsys):
    line = one_cross(capsys, unit06.check_free_bits_rate,
                     lambda z_loc, z_scale, lam: kl_per_dim(z_loc, z_scale).mean(0).clamp(min=lam),
                     "sum the clamped values over the latent dimensions")
    assert "got shape (6,)" in line


def test_free_bits_check_reports_a_python_float(capsys):
    line = one_cross(capsys, unit06.check_free_bits_rate,
                     lambda z_loc, z_scale, lam: free_bits_rate(z_loc, z_scale, lam).item(), "stay in torch")
    assert "a float, not a tensor" in line


def test_free_bits_check_fails_when_the_clamp_blocks_the_gradient(capsys):
    def wrong(z_loc, z_scale, lam):
        mean_kl = kl_per_dim(z_loc, z_scale).mean(0)
        return sum(torch.tensor(max(lam, v.item())) for v in mean_kl)
    one_cross(capsys, unit06.check_free_bits_rate, wrong, "not Python's max or .item()")


def test_reference_free_bits_rate_charges_at_least_lambda_per_dimension():
    z_loc, z_scale = torch.zeros(10, 3), torch.ones(10, 3)
    assert unit06.free_bits_rate(z_loc, z_scale, 0.25).item() == pytest.approx(0.75)
    z_loc[:, 0] = 2.0                                     # KL of dimension 0: ½·4 = 2 nats
    assert unit06.free_bits_rate(z_loc, z_scale, 0.25).item() == pytest.approx(2.5)


# ---- ready -------------------------------------------------------------------------------------------
def test_ready_is_silent_and_true_when_every_function_passes(capsys):
    assert unit06.ready(rate_distortion, active_units, iwae_negative_bound, free_bits_rate)
    assert capsys.readouterr().out == ""


def test_ready_names_every_function_to_finish_first_in_one_line(capsys):
    def iwae_negative_bound(vae, x, k, eps=None):
        raise NotImplementedError("exercise: write this part")

    def free_bits_rate(z_loc, z_scale, lam):
        return globals()["free_bits_rate"](z_loc, z_scale, lam) * 2
    assert unit06.ready(rate_distortion, iwae_negative_bound, free_bits_rate) is False
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
    unit06.ready(rate_distortion, active_units, iwae_negative_bound, free_bits_rate)
    torch.testing.assert_close(torch.rand(3), expected)


# ---- planted mistakes in the solution's own code (issue 22): mutation → the hint it must get ---------
MUTATIONS = {
    "rate_distortion: one eps shared by every image": (
        "rate_distortion", [("eps = torch.randn_like(z_loc)", "eps = torch.randn(z_loc.shape[-1])")],
        "draw one ε per image"),
    "rate_distortion: the given eps ignored": (
        "rate_distortion", [("    if eps is None:\n        eps = torch.randn_like(z_loc)",
                             "    eps = torch.randn_like(z_loc)")],
        "use the given eps"),
    "rate_distortion: BCE on sigmoid(logits)": (
        "rate_distortion", [("F.binary_cross_entropy_with_logits(logits, x,",
                             "F.binary_cross_entropy(torch.sigmoid(logits), x,")],
        "BCE on sigmoid(logits) saturates"),
    "rate_distortion: the rate summed over dimensions (the lecture's)": (
        "rate_distortion", [("2 * z_scale.log())", "2 * z_scale.log()).sum(-1)")],
        "R per latent dimension"),
    "active_units: sampled codes for the means": (
        "active_units", [("z_loc, _ = vae.encoder(x)",
                          "z_loc, z_scale = vae.encoder(x)\n        z_loc = z_loc + z_scale * torch.randn_like(z_loc)")],
        "posterior means z_loc, not samples"),
    "iwae_negative_bound: the prior's sign flipped": (
        "iwae_negative_bound", [("log_w = (log_px_z + Normal(0.0, 1.0)", "log_w = (log_px_z - Normal(0.0, 1.0)")],
        "log p(z) enters log w with a + sign"),
    "iwae_negative_bound: BCE on sigmoid(logits)": (
        "iwae_negative_bound", [("F.binary_cross_entropy_with_logits(logits,",
                                 "F.binary_cross_entropy(torch.sigmoid(logits),")],
        "BCE on sigmoid(logits) saturates"),
    "iwae_negative_bound: weights normalised over the images": (
        "iwae_negative_bound", [("log_w.softmax(0)", "log_w.softmax(1)")],
        "normalise over the K samples (dim 0)"),
    "iwae_negative_bound: unnormalised weights": (
        "iwae_negative_bound", [("log_w.softmax(0)", "log_w.exp()")],
        "the weights of an image sum to 1"),
    "iwae_negative_bound: the loss alone (the lecture's)": (
        "iwae_negative_bound", [(", log_w.softmax(0)", "")],
        "return both: `return loss, weights`"),
}


@pytest.mark.parametrize("mistake", MUTATIONS)
def test_a_planted_mistake_in_the_solution_gets_its_own_hint(capsys, mistake):
    name, mutations, hint = MUTATIONS[mistake]
    one_cross(capsys, CHECKS[name][0], solution(name, *mutations), hint)


@pytest.mark.parametrize("name", ["rate_distortion", "active_units", "iwae_negative_bound"])
def test_the_lectures_own_cell_does_not_pass_the_exercises_check(capsys, name):
    """Lecture 06's function, its source read from the lecture (with the imports it uses), pasted
    into the exercise, fails the exercise's check: each part asks for more than the lecture wrote."""
    import utils.vae
    text = (SOLUTION.parent.parent / "lectures" / "06_elbo_tradeoffs.md").read_text(encoding="utf-8")
    start = text.index(f"def {name}(")
    lines = text[start:].splitlines()
    body = [lines[0]] + [line for line in __import__("itertools").takewhile(
        lambda line: not line or line.startswith((" ", "\t")), lines[1:])]
    namespace = {"torch": torch, "F": F, "Normal": Normal, "math": math,
                 "log_likelihood": utils.vae.log_likelihood, "gaussian_kl": utils.vae.gaussian_kl}
    exec("\n".join(body), namespace)
    passed, lines = run(capsys, CHECKS[name][0], namespace[name])
    assert not passed and any(line.startswith(FAIL) for line in lines), "\n".join(lines)
