"""Unit-01 self-checks pass on correct code and fail, in strict mode, on stubs and wrong answers.

A mutation test plants one mistake and asserts the ✗ line and its specific hint (at most 120
characters a line); a cascade test plants a mistake in a prerequisite and asserts that the check of
the function built on it still passes."""
import itertools
from pathlib import Path

import pytest
import torch

from utils.checks import SelfCheckFailed, unit01

CROSS = "\u2717"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv("LVM_STRICT_CHECKS", "1")


@pytest.fixture(autouse=True, scope="module")
def threads(one_thread):
    yield


def pca(x, z_dim):
    mean = x.mean(0)
    evals, evecs = torch.linalg.eigh((x - mean).T @ (x - mean) / len(x))
    return evecs.flip(1)[:, :z_dim], evals.flip(0), mean


def ppca_mle(x, z_dim):
    W, lam, mu = pca(x, z_dim)
    sigma2 = lam[z_dim:].mean()
    return W * (lam[:z_dim] - sigma2).sqrt(), mu, sigma2


ROOT = Path(__file__).resolve().parent.parent


def solution(name, *mutations, path="solutions/01_lvm_pca.md"):
    """The function ``name`` as written in the notebook at ``path`` (its source read from the file,
    up to the end of the function), with each (old, new) of ``mutations`` replaced in it."""
    text = (ROOT / path).read_text(encoding="utf-8")
    lines = text[text.index(f"def {name}("):].splitlines()
    body = [lines[0]] + list(itertools.takewhile(lambda line: not line or line.startswith(" "),
                                                 lines[1:]))
    source = "\n".join(line for line in body if "SOLUTION" not in line)
    for old, new in mutations:
        assert old in source, f"{old!r} not in {name}"
        source = source.replace(old, new)
    namespace = {"torch": torch}
    exec(compile(source, f"<{path}: {name}>", "exec"), namespace)
    return namespace[name]


ppca_posterior = solution("ppca_posterior")


def ppca_e_step(x, W, mu, sigma2):
    z_loc, z_cov = ppca_posterior(x, W, mu, sigma2)
    return z_loc, z_cov + z_loc[:, :, None] * z_loc[:, None, :]


def ppca_m_step(x, mu, z_loc, zz):
    xc = x - mu
    W = (xc.T @ z_loc) @ torch.linalg.inv(zz.sum(0))
    sigma2 = (xc.pow(2).sum() - 2 * (z_loc * (xc @ W)).sum()
              + torch.einsum("nij,ji->", zz, W.T @ W)) / xc.numel()
    return W, sigma2


def stub(*args):
    raise NotImplementedError


def fails_with(check, fn, hint):
    """Run ``check(fn)`` in strict mode: it must fail, print ``hint`` on its first ✗ line, and
    print only ✗ lines of at most 120 characters. Returns the ✗ lines."""
    import io
    import contextlib
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SelfCheckFailed):
        check(fn)
    crosses = [line for line in out.getvalue().splitlines() if line.startswith(CROSS)]
    assert crosses and hint in crosses[0], out.getvalue()
    assert all(len(line) <= 120 for line in crosses), crosses
    return crosses


def student_namespace(**overrides):
    """The reference solution as a notebook would hold it, with ``overrides`` (a student's
    mistakes) in its namespace: the functions that call each other look each other up there."""
    import inspect
    import textwrap
    namespace = {"torch": torch}
    for fn in (pca, ppca_mle, ppca_e_step, ppca_m_step):
        exec(textwrap.dedent(inspect.getsource(fn)), namespace)
    namespace["ppca_posterior"] = ppca_posterior
    namespace.update(overrides)
    return namespace


def test_correct_functions_pass(capsys):
    unit01.check_pca(pca)
    unit01.check_ppca_mle(ppca_mle)
    unit01.check_ppca_posterior(ppca_posterior)
    assert "\u2717" not in capsys.readouterr().out


@pytest.mark.parametrize("check", [unit01.check_pca, unit01.check_ppca_mle, unit01.check_ppca_posterior])
def test_stub_fails_with_not_implemented_message(check, capsys):
    with pytest.raises(SelfCheckFailed):
        check(stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_pca_keeping_smallest_variance_directions_fails(capsys):
    def smallest(x, z_dim):
        mean = x.mean(0)
        evals, evecs = torch.linalg.eigh((x - mean).T @ (x - mean) / len(x))
        return evecs[:, :z_dim], evals.flip(0), mean
    with pytest.raises(SelfCheckFailed):
        unit01.check_pca(smallest)
    assert "LARGEST variance" in capsys.readouterr().out


def test_pca_on_uncentred_data_fails(capsys):
    def uncentred(x, z_dim):
        evals, evecs = torch.linalg.eigh(x.T @ x / len(x))
        return evecs.flip(1)[:, :z_dim], evals.flip(0), x.mean(0)
    with pytest.raises(SelfCheckFailed):
        unit01.check_pca(uncentred)
    assert "centred" in capsys.readouterr().out


def test_posterior_covariance_written_m_over_sigma2_fails(capsys):
    def wrong(x, W, mu, sigma2):
        z_loc, _ = ppca_posterior(x, W, mu, sigma2)
        M = W.T @ W + sigma2 * torch.eye(W.shape[1], dtype=W.dtype)
        return z_loc, M / sigma2
    with pytest.raises(SelfCheckFailed):
        unit01.check_ppca_posterior(wrong)
    assert "not M σ⁻²" in capsys.readouterr().out


def test_posterior_with_wrong_shape_names_expected_and_actual(capsys):
    def transposed(x, W, mu, sigma2):
        z_loc, z_cov = ppca_posterior(x, W, mu, sigma2)
        return z_loc.T, z_cov
    with pytest.raises(SelfCheckFailed):
        unit01.check_ppca_posterior(transposed)
    assert "expected shape (8, 2), got (2, 8)" in capsys.readouterr().out


def test_ppca_hint_names_the_square_root_in_course_symbols(capsys):
    def wrong(x, z_dim):
        W, lam, mu = pca(x, z_dim)
        sigma2 = lam[z_dim:].mean()
        return W * (lam[:z_dim] - sigma2), mu, sigma2
    with pytest.raises(SelfCheckFailed):
        unit01.check_ppca_mle(wrong)
    assert "sqrt(λ_i − σ²)" in capsys.readouterr().out


def test_every_message_is_one_line(capsys, monkeypatch):
    monkeypatch.delenv("LVM_STRICT_CHECKS")
    for check, fn in [(unit01.check_pca, stub), (unit01.check_pca, pca),
                      (unit01.check_ppca_mle, lambda x, z_dim: ppca_mle(x, z_dim + 1)),
                      (unit01.check_ppca_posterior, lambda *args: (None, None))]:
        check(fn)
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line[0] in "\u2713\u2717" for line in lines), lines


@pytest.mark.parametrize("returned", [None, (1.0, 2.0), (None, None, None)])
@pytest.mark.parametrize("check", [unit01.check_pca, unit01.check_ppca_mle, unit01.check_ppca_posterior])
def test_a_wrong_return_value_is_one_cross_not_an_exception(check, returned, capsys):
    with pytest.raises(SelfCheckFailed):
        check(lambda *args: returned)
    out = capsys.readouterr().out
    assert out.count("\u2717") == 1 and "Hint: " in out


# --- the planted mistakes -----------------------------------------------------------------
def test_pca_with_torch_cov_says_divide_by_n(capsys):
    def cov_pca(x, z_dim):
        evals, evecs = torch.linalg.eigh(torch.cov(x.T))
        return evecs.flip(1)[:, :z_dim], evals.flip(0), x.mean(0)
    fails_with(unit01.check_pca, cov_pca, "divide by N, not N − 1 (as torch.cov does)")


def test_pca_with_increasing_eigenvalues_says_flip_them():
    def unsorted(x, z_dim):
        W, lam, mu = pca(x, z_dim)
        return W, lam.flip(0), mu
    fails_with(unit01.check_pca, unsorted, "sorts them increasing: flip them")


def wrong_pca(x, z_dim):
    """A planted mistake: the covariance of uncentred data."""
    evals, evecs = torch.linalg.eigh(x.T @ x / len(x))
    return evecs.flip(1)[:, :z_dim], evals.flip(0), x.mean(0)


def test_a_wrong_pca_fails_its_own_check_but_not_the_check_of_ppca_mle(capsys):
    namespace = student_namespace(pca=wrong_pca)
    fails_with(unit01.check_pca, namespace["pca"], "*centred*")
    unit01.check_ppca_mle(namespace["ppca_mle"])         # strict mode: raises on any ✗
    out = capsys.readouterr().out
    assert CROSS not in out and "with the reference pca" in out


def test_ppca_mle_check_leaves_the_student_namespace_alone():
    namespace = student_namespace(pca=wrong_pca)
    unit01.check_ppca_mle(namespace["ppca_mle"])
    assert namespace["pca"] is wrong_pca


def test_ppca_mle_scaled_by_lambda_minus_sigma2_names_the_square_root():
    def unrooted(x, z_dim):
        W, lam, mu = pca(x, z_dim)
        sigma2 = lam[z_dim:].mean()
        return W * (lam[:z_dim] - sigma2), mu, sigma2
    fails_with(unit01.check_ppca_mle, unrooted, "sqrt(λ_i − σ²)")


def test_ppca_mle_sigma2_as_the_mean_of_kept_eigenvalues_says_discarded():
    def kept(x, z_dim):
        W, mu, _ = ppca_mle(x, z_dim)
        return W, mu, pca(x, z_dim)[1][:z_dim].mean()
    fails_with(unit01.check_ppca_mle, kept, "eigenvalues[z_dim:]")


def test_e_step_without_the_posterior_covariance_says_add_it():
    def outer_only(x, W, mu, sigma2):
        z_loc, _ = ppca_posterior(x, W, mu, sigma2)
        return z_loc, z_loc[:, :, None] * z_loc[:, None, :]
    fails_with(unit01.check_ppca_e_step, outer_only, "add the posterior covariance σ²M⁻¹")


def test_e_step_without_the_outer_product_says_add_it():
    def cov_only(x, W, mu, sigma2):
        z_loc, z_cov = ppca_posterior(x, W, mu, sigma2)
        return z_loc, z_cov.expand(len(x), -1, -1)
    fails_with(unit01.check_ppca_e_step, cov_only, "outer product E[z_n] E[z_n]ᵀ")


def test_e_step_returning_one_matrix_for_all_images_names_the_shape():
    def summed(x, W, mu, sigma2):
        z_loc, zz = ppca_e_step(x, W, mu, sigma2)
        return z_loc, zz.sum(0)
    fails_with(unit01.check_ppca_e_step, summed, "one d × d matrix per image")


def test_a_wrong_posterior_does_not_fail_the_e_step_check(capsys):
    def wrong_posterior(x, W, mu, sigma2):
        z_loc, z_cov = ppca_posterior(x, W, mu, sigma2)
        return z_loc, z_cov / sigma2 ** 2
    namespace = student_namespace(ppca_posterior=wrong_posterior)
    unit01.check_ppca_e_step(namespace["ppca_e_step"])
    assert CROSS not in capsys.readouterr().out


def test_m_step_on_uncentred_x_says_subtract_mu():
    def uncentred(x, mu, z_loc, zz):
        return ppca_m_step(x, torch.zeros_like(mu), z_loc, zz)
    fails_with(unit01.check_ppca_m_step, uncentred, "use x − mu, not x")


def test_m_step_dividing_by_outer_products_says_use_zz():
    def outer(x, mu, z_loc, zz):
        W = ((x - mu).T @ z_loc) @ torch.linalg.inv(z_loc.T @ z_loc)
        return W, ppca_m_step(x, mu, z_loc, zz)[1]
    fails_with(unit01.check_ppca_m_step, outer, "use zz.sum(0) = Σ E[z_n z_nᵀ]")


def test_m_step_sigma2_divided_by_n_only_says_divide_by_nd():
    def per_image(x, mu, z_loc, zz):
        W, sigma2 = ppca_m_step(x, mu, z_loc, zz)
        return W, sigma2 * x.shape[1]
    fails_with(unit01.check_ppca_m_step, per_image, "divide by N·D, not N")


def test_em_with_the_m_step_reaches_the_closed_form(capsys):
    unit01.check_ppca_m_step(ppca_m_step)
    out = capsys.readouterr().out
    assert CROSS not in out and "it reaches the closed-form maximum" in out
    assert "W Wᵀ and σ² equal the closed form" in out


@pytest.mark.parametrize("check", [unit01.check_ppca_e_step, unit01.check_ppca_m_step])
def test_em_checks_pass_on_correct_code_and_fail_on_stubs(check, capsys):
    check({unit01.check_ppca_e_step: ppca_e_step, unit01.check_ppca_m_step: ppca_m_step}[check])
    assert CROSS not in capsys.readouterr().out
    crosses = fails_with(check, stub, "not implemented yet")
    assert len(crosses) == 1


def test_ready_names_the_unfinished_function_in_one_line(capsys):
    assert unit01.ready(pca, ppca_mle, ppca_posterior, ppca_e_step, ppca_m_step)
    assert capsys.readouterr().out == ""

    def unwritten(x, mu, z_loc, zz):
        raise NotImplementedError
    unwritten.__name__ = "ppca_m_step"
    assert not unit01.ready(pca, unwritten)
    out = capsys.readouterr().out
    assert out.startswith("\u23ed skipped") and "`ppca_m_step` (Part 5" in out
    assert len(out.strip().splitlines()) == 1


# ---- Part 3 asks for the posterior given some pixels (issue 22): planted mistakes → hints ----------
POSTERIOR_MUTATIONS = {
    "the mask ignored": ([("x, W, mu = x[:, observed], W[observed], mu[observed]", "pass")],
                         "use only the seen pixels"),
    "unseen pixels set to 0, all rows of W kept": (
        [("x, W, mu = x[:, observed], W[observed], mu[observed]", "x = x * observed")],
        "use only the seen pixels"),
    "unseen pixels set to their mean, all rows of W kept": (
        [("x, W, mu = x[:, observed], W[observed], mu[observed]", "x = torch.where(observed, x, mu)")],
        "drop the unseen rows of W too"),
    "no argument observed (the lecture's signature)": (
        [("def ppca_posterior(x, W, mu, sigma2, observed=None):", "def ppca_posterior(x, W, mu, sigma2):"),
         ("    if observed is not None:", "    if False:")],
        "add the argument observed=None"),
    "covariance from every row of W": (
        [("    z_cov = sigma2 * torch.linalg.inv(M)",
          "    W_all = W if observed is None else W_full\n"
          "    z_cov = sigma2 * torch.linalg.inv(W_all.T @ W_all + sigma2 * torch.eye(W.shape[1], dtype=W.dtype))"),
         ("    if observed is not None:", "    W_full = W\n    if observed is not None:")],
        "only the seen rows of W"),
}


@pytest.mark.parametrize("mistake", POSTERIOR_MUTATIONS)
def test_a_planted_mistake_in_the_solutions_posterior_gets_its_own_hint(mistake):
    mutations, hint = POSTERIOR_MUTATIONS[mistake]
    crosses = fails_with(unit01.check_ppca_posterior, solution("ppca_posterior", *mutations), hint)
    assert len(crosses) == 1, crosses


def test_the_lectures_own_posterior_cell_does_not_pass_the_exercises_check():
    """Lecture 01's ppca_posterior, read from the lecture, pasted into the exercise: it fails."""
    fails_with(unit01.check_ppca_posterior, solution("ppca_posterior", path="lectures/01_lvm_pca.md"),
               "observed")


def test_the_solution_fits_on_cpu_copies_in_float64():
    """Solution 01 does its float64 work on CPU copies (MPS has no float64): never `.double()` of
    the device data, never a float64 tensor moved `.to(device)`."""
    text = (ROOT / "solutions" / "01_lvm_pca.md").read_text(encoding="utf-8")
    assert "data.train_x.cpu().double()" in text and "data.test_x.cpu().double()" in text
    assert "data.train_x.double()" not in text and "dtype=x_em.dtype).to(device)" not in text
