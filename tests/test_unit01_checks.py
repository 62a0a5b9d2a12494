"""Unit-01 self-checks pass on the reference solution and fail, in strict mode, on its stubs and on
planted mistakes: each mistake gets a ✗ line (at most 120 characters) with its own hint. A cascade
test plants a mistake in a prerequisite and asserts that the check of the function built on it
still passes.

The reference is solutions/01_lvm_pca.py (tests/_solutions.py); a planted mistake is an edit of its
code or a wrapper around it (the tables below)."""
import pytest
import torch

from _checks import fails, passes, printed
from _solutions import ROOT, STUB, altered, lecture, planted, solution, student
from utils.checks import unit01

pytestmark = pytest.mark.usefixtures("one_thread")
S = solution(1)
CHECK = {name: getattr(unit01, f"check_{name}") for name in
         ("pca", "ppca_mle", "ppca_posterior", "ppca_e_step", "ppca_m_step")}
UNCENTRED = ("xc = x - mean", "xc = x")       # pca: the covariance of uncentred data


@pytest.mark.parametrize("name", CHECK)
def test_each_check_passes_on_the_reference(name):
    passes(CHECK[name], getattr(S, name))


def test_em_with_the_m_step_reaches_the_closed_form():
    out = "\n".join(passes(unit01.check_ppca_m_step, S.ppca_m_step))
    assert "it reaches the closed-form maximum" in out and "W Wᵀ and σ² equal the closed form" in out


# ---- planted mistakes: (function, the mistaken one), the hint of the one ✗ line it gets -------------
def edit(name, *edits):
    """The solution's ``name`` with ``edits`` planted in it."""
    return name, getattr(planted(1, name, *edits), name)


def sigma2_divided_by_n_only(x, mu, z_loc, zz):
    W, sigma2 = S.ppca_m_step(x, mu, z_loc, zz)
    return W, sigma2 * x.shape[1]


SEEN = "x, W, mu = x[:, observed], W[observed], mu[observed]"
MISTAKES = {
    **{f"{name}: not written (the exercise's stub)": (edit(name, STUB), "not implemented yet") for name in CHECK},
    "pca: the smallest-variance directions": (
        edit("pca", ("eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)",
                     "eigenvalues = eigenvalues.flip(0)")), "LARGEST variance"),
    "pca: uncentred data": (edit("pca", UNCENTRED), "centred"),
    "pca: torch.cov": (edit("pca", ("torch.linalg.eigh(xc.T @ xc / len(x))", "torch.linalg.eigh(torch.cov(x.T))")),
                       "divide by N, not N − 1 (as torch.cov does)"),
    "pca: eigenvalues increasing": (("pca", altered(S.pca, lambda W, lam, mu: (W, lam.flip(0), mu))),
                                    "sorts them increasing: flip them"),
    "ppca_mle: W scaled by λ − σ²": (
        edit("ppca_mle", ("(eigenvalues[:z_dim] - sigma2).sqrt()", "(eigenvalues[:z_dim] - sigma2)")),
        "sqrt(λ_i − σ²)"),
    "ppca_mle: σ² the mean of the kept eigenvalues": (
        ("ppca_mle", lambda x, z_dim: S.ppca_mle(x, z_dim)[:2] + (S.pca(x, z_dim)[1][:z_dim].mean(),)),
        "eigenvalues[z_dim:]"),
    "ppca_posterior: covariance M σ⁻²": (
        edit("ppca_posterior", ("z_cov = sigma2 * torch.linalg.inv(M)", "z_cov = M / sigma2")), "not M σ⁻²"),
    "ppca_posterior: means transposed": (
        ("ppca_posterior", altered(S.ppca_posterior, lambda z_loc, z_cov: (z_loc.T, z_cov))),
        "expected shape (8, 2), got (2, 8)"),
    "ppca_e_step: without the posterior covariance": (
        edit("ppca_e_step", ("z_cov + z_loc[:, :, None]", "z_loc[:, :, None]")),
        "add the posterior covariance σ²M⁻¹"),
    "ppca_e_step: without the outer product": (
        edit("ppca_e_step", ("z_cov + z_loc[:, :, None] * z_loc[:, None, :]", "z_cov.expand(len(x), -1, -1)")),
        "outer product E[z_n] E[z_n]ᵀ"),
    "ppca_e_step: one matrix for all images": (
        ("ppca_e_step", altered(S.ppca_e_step, lambda z_loc, zz: (z_loc, zz.sum(0)))), "one d × d matrix per image"),
    "ppca_m_step: uncentred x": (
        ("ppca_m_step", lambda x, mu, z_loc, zz: S.ppca_m_step(x, torch.zeros_like(mu), z_loc, zz)),
        "use x − mu, not x"),
    "ppca_m_step: W divided by the outer products": (
        edit("ppca_m_step", ("torch.linalg.solve(zz_sum,", "torch.linalg.solve(z_loc.T @ z_loc,")),
        "use zz.sum(0) = Σ E[z_n z_nᵀ]"),
    "ppca_m_step: σ² divided by N only": (("ppca_m_step", sigma2_divided_by_n_only), "divide by N·D, not N"),
    # Part 3 asks for the posterior given some pixels (issue 22)
    "ppca_posterior: the mask ignored": (edit("ppca_posterior", (SEEN, "pass")), "use only the seen pixels"),
    "ppca_posterior: unseen pixels set to 0, all rows of W kept": (
        edit("ppca_posterior", (SEEN, "x = x * observed")), "use only the seen pixels"),
    "ppca_posterior: unseen pixels set to their mean, all rows of W kept": (
        edit("ppca_posterior", (SEEN, "x = torch.where(observed, x, mu)")), "drop the unseen rows of W too"),
    "ppca_posterior: no argument observed (the lecture's signature)": (
        edit("ppca_posterior", ("sigma2, observed=None):", "sigma2):"), ("if observed is not None:", "if False:")),
        "add the argument observed=None"),
    "ppca_posterior: covariance from every row of W": (
        edit("ppca_posterior", ("    z_cov = sigma2 * torch.linalg.inv(M)",
                                "    W_all = W if observed is None else W_full\n    z_cov = sigma2 * "
                                "torch.linalg.inv(W_all.T @ W_all + sigma2 * torch.eye(W.shape[1], dtype=W.dtype))"),
             ("    if observed is not None:", "    W_full = W\n    if observed is not None:")),
        "only the seen rows of W"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_gets_one_cross_with_its_own_hint(mistake):
    (name, fn), hint = MISTAKES[mistake]
    fails(CHECK[name], fn, hint=hint, one=True)


def test_the_lectures_own_posterior_cell_does_not_pass_the_exercises_check():
    """Lecture 01's ppca_posterior, read from the lecture, pasted into the exercise: it fails."""
    fails(unit01.check_ppca_posterior, lecture(1, "ppca_posterior").ppca_posterior, hint="observed")


# ---- a check uses the reference of what the function builds on: no cascade ---------------------------
def test_a_wrong_pca_fails_its_own_check_but_not_the_check_of_ppca_mle():
    notebook = planted(1, "pca", UNCENTRED)
    fails(unit01.check_pca, notebook.pca, hint="*centred*")
    assert "with the reference pca" in "\n".join(passes(unit01.check_ppca_mle, notebook.ppca_mle))


def test_ppca_mle_check_leaves_the_student_namespace_alone():
    notebook = planted(1, "pca", UNCENTRED)
    wrong_pca = notebook.pca
    passes(unit01.check_ppca_mle, notebook.ppca_mle)
    assert notebook.pca is wrong_pca


def test_a_wrong_posterior_does_not_fail_the_e_step_check():
    def wrong_posterior(x, W, mu, sigma2):
        z_loc, z_cov = S.ppca_posterior(x, W, mu, sigma2)
        return z_loc, z_cov / sigma2 ** 2
    passes(unit01.check_ppca_e_step, student(1, ppca_posterior=wrong_posterior).ppca_e_step)


# ---- whatever a student's function returns, one line per check ------------------------------------
def test_every_message_is_one_line_in_a_students_notebook():
    for name, fn in [("pca", planted(1, "pca", STUB).pca), ("pca", S.pca),
                     ("ppca_mle", lambda x, z_dim: S.ppca_mle(x, z_dim + 1)),
                     ("ppca_posterior", lambda *args: (None, None))]:
        assert printed(CHECK[name], fn, strict=False)[1]


@pytest.mark.parametrize("returned", [None, (1.0, 2.0), (None, None, None)])
@pytest.mark.parametrize("name", ["pca", "ppca_mle", "ppca_posterior"])
def test_a_wrong_return_value_is_one_cross_not_an_exception(name, returned):
    fails(CHECK[name], lambda *args: returned, hint="Hint: ", one=True)


def test_ready_names_the_unfinished_function_in_one_line(capsys):
    assert unit01.ready(*(getattr(S, name) for name in CHECK))
    assert capsys.readouterr().out == ""
    assert not unit01.ready(S.pca, planted(1, "ppca_m_step", STUB).ppca_m_step)
    out = capsys.readouterr().out
    assert out.startswith("\u23ed skipped") and "`ppca_m_step` (Part 5" in out
    assert len(out.strip().splitlines()) == 1


def test_the_solution_fits_on_cpu_copies_in_float64():
    """Solution 01 does its float64 work on CPU copies (MPS has no float64): never `.double()` of
    the device data, never a float64 tensor moved `.to(device)`."""
    text = (ROOT / "solutions" / "01_lvm_pca.md").read_text(encoding="utf-8")
    assert "data.train_x.cpu().double()" in text and "data.test_x.cpu().double()" in text
    assert "data.train_x.double()" not in text and "dtype=x_em.dtype).to(device)" not in text
