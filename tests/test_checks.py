"""utils.checks: one line per check, no traceback wall, strict mode raises; every check of units
01-05 stays one line per check whatever the student's function returns."""
import functools
import inspect
import re
import io
import sys

import numpy as np
import pytest
import torch

from _solutions import Notebook, marked, planted, solution, student   # the reference: solutions/
from utils.checks import (STRICT_ENV, SelfCheck, SelfCheckFailed, make_ready, number, unit01,
                          unit02, unit03, unit04, unit05)
from utils.vae import Decoder, Encoder


@pytest.fixture
def lenient(monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)


def _stub(*args):
    raise NotImplementedError


def test_passing_checks_print_one_tick_line_each(lenient, capsys):
    with SelfCheck("demo") as sc:
        sc.shape("z", torch.zeros(4, 2), (4, 2))
        sc.close("value", torch.tensor(1.0), torch.tensor(1.0 + 1e-7))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == ["\u2713 demo: z has shape (4, 2)", "\u2713 demo: value"]


def test_wrong_shape_says_expected_and_got_with_the_hint(lenient, capsys):
    with SelfCheck("demo") as sc:
        sc.shape("loss", torch.zeros(128, 2), (128,), hint="did you sum over the latent dimension?")
        sc.true("never reached", True, "")
    out = capsys.readouterr().out.strip()
    assert out == ("\u2717 demo: loss: expected shape (128,), got (128, 2). "
                   "Hint: did you sum over the latent dimension?")


def test_wrong_value_reports_the_largest_gap(lenient, capsys):
    with SelfCheck("demo") as sc:
        sc.close("kl", torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5]))
    assert "up to 0.5" in capsys.readouterr().out


def test_nan_is_reported_as_such(lenient, capsys):
    with SelfCheck("demo") as sc:
        sc.close("kl", torch.tensor([float("nan")]), torch.tensor([1.0]))
    assert "NaN" in capsys.readouterr().out


def test_stub_reports_not_implemented_in_one_line_without_traceback(lenient, capsys):
    with SelfCheck("demo") as sc:
        sc.call(_stub, 1)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "not implemented yet" in out[0] and "Traceback" not in out[0]


def test_a_crash_in_student_code_is_one_line_naming_the_error(lenient, capsys):
    with SelfCheck("demo") as sc:
        sc.call(lambda: torch.zeros(2) @ torch.zeros(3), what="matmul")
    out = capsys.readouterr().out.strip()
    assert out.startswith("\u2717 demo: matmul: raised RuntimeError")


def test_show_gap_puts_the_gap_on_the_pass_line(lenient, capsys):
    with SelfCheck("demo") as sc:
        sc.close("value", torch.tensor(1.0), torch.tensor(1.0 + 1e-7), show_gap=True)
    assert "largest gap" in capsys.readouterr().out


def test_strict_mode_raises_after_reporting_every_failure(monkeypatch, capsys):
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(SelfCheckFailed, match="2 self-check"):
        with SelfCheck("demo") as sc:
            sc.true("a", False, "was false")
            sc.true("b", False, "was false")
    assert capsys.readouterr().out.count("\u2717") == 2


def test_strict_mode_is_quiet_when_everything_passes(monkeypatch):
    monkeypatch.setenv(STRICT_ENV, "1")
    with SelfCheck("demo") as sc:
        sc.true("a", True, "")
    assert sc.passed == 1 and sc.failed == 0


def test_a_bug_inside_a_check_surfaces_in_strict_mode(monkeypatch):
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(ZeroDivisionError):
        with SelfCheck("demo"):
            1 / 0


def test_a_bug_inside_a_check_is_one_cross_line_for_a_student(lenient, capsys):
    with SelfCheck("demo"):
        1 / 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("\u2717 demo: the check could not finish: "
                                               "ZeroDivisionError") and "Hint: " in out[0]


def test_a_multi_line_error_of_student_code_is_reported_on_one_line(lenient, capsys):
    def student():
        raise ValueError("Shape mismatch inside plate('data')\n  Trace Shapes:\n   x 8 784")

    with SelfCheck("demo") as sc:
        sc.call(student)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "raised ValueError: Shape mismatch inside" in out[0]
    assert "Hint: " in out[0] and len(out[0]) <= 120 and "Trace Shapes" not in out[0]


def test_a_quiet_call_prints_nothing_when_it_runs(lenient, capsys):
    with SelfCheck("demo") as sc:
        assert sc.call(lambda: 3, quiet=True) == 3
    assert capsys.readouterr().out == ""


def test_a_guard_prints_nothing_when_it_holds_and_one_cross_when_not(lenient, capsys):
    with SelfCheck("demo") as sc:
        sc.require("a guard", True, "never shown")
        sc.shape("z", torch.zeros(2), (2,), quiet=True)
        sc.require("another guard", False, "it failed", "do this")
        sc.true("never reached", True, "")
    assert capsys.readouterr().out.strip() == "\u2717 demo: another guard: it failed. Hint: do this"


@pytest.mark.parametrize("method, args", [
    ("true", ("a", True, "")),
    ("shape", ("z", None, (1,))),
    ("close", ("v", torch.zeros(1), torch.zeros(1))),
    ("call", (print,)),
    ("require", ("a", True, "")),
])
def test_using_a_self_check_outside_its_with_block_is_a_clear_error(lenient, method, args):
    sc = SelfCheck("demo")
    with pytest.raises(RuntimeError, match=r"outside its `with` block.*with SelfCheck\('demo'\)"):
        getattr(sc, method)(*args)


def test_a_self_check_cannot_report_after_its_with_block_ended(lenient):
    with SelfCheck("demo") as sc:
        sc.true("a", True, "")
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        sc.true("b", True, "")


def test_empty_tensors_never_pass_as_close(lenient, capsys):
    with SelfCheck("demo") as sc:
        assert not sc.close("value", torch.zeros(0), torch.zeros(0))
    assert "empty" in capsys.readouterr().out


@pytest.mark.parametrize("actual", [None, "1.0", [torch.zeros(2), torch.zeros(3)]])
def test_close_reports_a_value_that_is_not_a_tensor(lenient, capsys, actual):
    with SelfCheck("demo") as sc:
        assert not sc.close("value", actual, torch.zeros(2))
    out = capsys.readouterr().out.strip()
    assert out.startswith("\u2717 demo: value: expected a tensor, got ")


def test_close_compares_a_numpy_result_by_value(lenient, capsys):
    with SelfCheck("demo") as sc:
        assert sc.close("value", np.array([1.0, 2.0]), torch.tensor([1.0, 2.0]))


def test_a_self_check_needs_a_name():
    with pytest.raises(TypeError, match="SelfCheck needs a name"):
        SelfCheck(None)


# ---- every check of units 01-05 against the wrong things a student's function may return -------
def _each_tensor(out, convert):
    """``out`` with ``convert`` applied to every tensor (or number) in it, tuples included."""
    if isinstance(out, tuple):
        return tuple(_each_tensor(o, convert) for o in out)
    return convert(out)


def _numpy(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _int64(t):
    return t.long() if isinstance(t, torch.Tensor) else int(t)


def _other_float(t):
    if not isinstance(t, torch.Tensor):
        return t
    return t.double() if t.dtype == torch.float32 else t.float()


def _raise(out):
    raise RuntimeError("a bug in the student's code")


BAD_RETURNS = {
    "None": lambda out: None,
    "a tuple of the wrong length": lambda out: out[:-1] if isinstance(out, tuple) else (out, out),
    "NumPy instead of torch": lambda out: _each_tensor(out, _numpy),
    "int64": lambda out: _each_tensor(out, _int64),
    "float64 for float32 and back": lambda out: _each_tensor(out, _other_float),
    "an exception": _raise,
}
ALWAYS_WRONG = {"None", "a tuple of the wrong length", "NumPy instead of torch", "an exception"}


def spoil(fn, bad):
    """The student's ``fn``: the reference, with its return value passed through ``bad``."""
    @functools.wraps(fn)
    def student(*args, **kwargs):
        return bad(fn(*args, **kwargs))
    return student


def spoil_module(cls, bad):
    """A module class whose forward passes the reference's output through ``bad``."""
    class Student(cls):
        def forward(self, *args):
            return bad(super().forward(*args))
    return Student


def _pyro_student(bad, name="PyroVAE"):
    """Exercise 05's reference VAE (class ``name``, z_dim = 2) with networks spoiled by ``bad``."""
    notebook = student(5, Encoder=spoil_module(Encoder, bad), Decoder=spoil_module(Decoder, bad))
    torch.manual_seed(0)
    return getattr(notebook, name)(z_dim=2)


BINARY = torch.bernoulli(torch.full((32, 784), 0.3), generator=torch.Generator().manual_seed(0))
GREY = torch.rand(512, 784, generator=torch.Generator().manual_seed(0))
S1, S2, S3, S4, S5 = (solution(unit) for unit in range(1, 6))
UNITS = {"unit01": unit01, "unit02": unit02, "unit03": unit03, "unit04": unit04, "unit05": unit05}
GIVEN_ONE_FUNCTION = {   # the checks given one function of the student's: the reference one
    "unit01.check_pca": S1.pca, "unit01.check_ppca_mle": S1.ppca_mle, "unit01.check_ppca_posterior": S1.ppca_posterior,
    "unit01.check_ppca_e_step": S1.ppca_e_step, "unit01.check_ppca_m_step": S1.ppca_m_step,
    "unit02.check_reconstruction_loss": S2.reconstruction_loss, "unit02.check_train_step": S2.train_step,
    "unit02.check_corrupt": S2.corrupt, "unit02.check_denoising_step": S2.denoising_step,
    "unit03.check_reinforce": S3.reinforce_estimate, "unit03.check_pathwise": S3.pathwise_estimate,
    "unit03.check_loo_baseline": S3.reinforce_loo_estimate,
    "unit03.check_bernoulli_exact_gradient": S3.bernoulli_exact_gradient,
    "unit03.check_bernoulli_reinforce": S3.bernoulli_reinforce, "unit04.check_cb_log_norm": S4.cb_log_norm,
    "unit04.check_cb_negative_elbo": S4.cb_negative_elbo, "unit04.check_reparameterize": S4.reparameterize,
    "unit04.check_gaussian_kl": S4.gaussian_kl, "unit04.check_negative_elbo": S4.negative_elbo,
    "unit05.check_cb_mean": S5.cb_mean,
}


def _given_one_function(check, bad):
    unit, name = check.split(".")
    getattr(UNITS[unit], name)(spoil(GIVEN_ONE_FUNCTION[check], bad))


CHECKS = {
    **{check: functools.partial(_given_one_function, check) for check in GIVEN_ONE_FUNCTION},
    "unit02.check_modules": lambda bad: unit02.check_modules(spoil_module(S2.Encoder, bad),
                                                             spoil_module(S2.Decoder, bad)),
    "unit03.check_variance_order": lambda bad: unit03.check_variance_order(
        spoil(S3.reinforce_estimate, bad), spoil(S3.pathwise_estimate, bad), spoil(S3.reinforce_loo_estimate, bad)),
    "unit03.check_reinforce_surrogate": lambda bad: unit03.check_reinforce_surrogate(
        spoil(S3.reinforce_negative_elbo, bad), BINARY),
    "unit04.check_training_lowers_loss": lambda bad: unit04.check_training_lowers_loss(
        spoil(S4.negative_elbo, bad), GREY),
    "unit05.check_model": lambda bad: unit05.check_model(_pyro_student(bad), BINARY[:8]),
    "unit05.check_guide": lambda bad: unit05.check_guide(_pyro_student(bad), BINARY[:8]),
    "unit05.check_elbo": lambda bad: unit05.check_elbo(_pyro_student(bad), BINARY[:8]),
    "unit05.check_model_cb": lambda bad: unit05.check_model_cb(_pyro_student(bad, "GreyPyroVAE")),
}


def test_the_table_covers_every_public_check_function():
    public = {f"{unit}.{name}" for unit, module in UNITS.items()
              for name, fn in vars(module).items()
              if name.startswith("check_") and inspect.isfunction(fn)}
    assert public == set(CHECKS)


@pytest.fixture
def groups(monkeypatch):
    """Every SelfCheck opened during the test, to count its failures."""
    opened = []
    original = SelfCheck.__init__

    def init(self, name):
        original(self, name)
        if not isinstance(sys.stdout, io.StringIO):   # not a prerequisite's check run silently
            opened.append(self)

    monkeypatch.setattr(SelfCheck, "__init__", init)
    return opened


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("bad", BAD_RETURNS)
@pytest.mark.parametrize("check", CHECKS)
def test_a_check_given_a_wrong_return_prints_cross_lines_with_one_hint_per_function_and_never_raises(
        check, bad, lenient, groups, capsys):
    CHECKS[check](BAD_RETURNS[bad])                          # no exception escapes
    lines = capsys.readouterr().out.splitlines()
    crosses = [line for line in lines if line.startswith("\u2717")]
    assert all(line and line[0] in "\u2713\u2717" for line in lines), lines  # one line a check
    assert len(crosses) == sum(sc.failed for sc in groups)             # ✗ lines = failed checks
    hinted = [line for line in crosses if "Hint: " in line or re.search(r"fix `\w+` first", line)]
    assert len(hinted) == len({sc.name for sc in groups if sc.failed}), crosses  # one per group
    assert not any("could not finish" in line for line in crosses), crosses  # no safety net
    if bad in ALWAYS_WRONG:
        assert len(crosses) == 1, crosses                              # one mistake, one ✗


def test_a_group_prints_one_hint_however_many_checks_fail(lenient, capsys):
    with SelfCheck("loss") as sc:
        sc.true("first", False, "wrong", hint="do this")
        sc.true("second", False, "also wrong", hint="do that")
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith("Hint: do this") and "Hint" not in second


@pytest.mark.parametrize("value, shown", [(544.1, "544.1"), (47103138414604852354088960.0, "4.71e+25"),
                                          (0.01234, "0.01234"), (100.0, "100"), (0, "0"),
                                          (float("inf"), "inf"), (-2.5e-7, "-2.5e-07")])
def test_numbers_in_messages_stay_short_at_any_size(value, shown):
    assert number(value) == shown


def test_ready_skips_a_cell_in_one_line_naming_the_unfinished_function(capsys):
    def check(fn):
        with SelfCheck(fn.__name__) as sc:
            sc.call(fn)

    def pca():
        raise NotImplementedError

    ready = make_ready({"pca": ("Part 1", check)})
    assert ready(pca) is False
    assert capsys.readouterr().out.strip() == (
        "\u23ed skipped: first finish `pca` (Part 1)")


def test_ready_names_many_unfinished_functions_in_one_short_line(capsys):
    def check(fn):
        with SelfCheck(fn.__name__) as sc:
            sc.call(fn)

    def stub(name):
        def fn():
            raise NotImplementedError
        fn.__name__ = name
        return fn

    names = ["reinforce_estimate", "pathwise_estimate", "reinforce_loo_estimate", "ppca_e_step",
             "ppca_m_step"]
    ready = make_ready({name: (f"Part {i}", check) for i, name in enumerate(names, 1)})
    assert ready(*map(stub, names)) is False
    line = capsys.readouterr().out.strip()
    assert line.startswith("\u23ed skipped: first finish `reinforce_estimate`") and len(line) <= 120


# --- the 120-character rule of ✗ lines, for every unit ---------------------------------------------
def test_a_long_line_is_cut_in_the_problem_first_then_the_label_never_the_hint():
    from utils.checks import fit_line
    hint = "call it by hand to see the traceback"
    line = fit_line("reinforce_loo_estimate", "REINFORCE + baseline runs on the quadratic cost",
                    "raised RuntimeError: " + "a very long message " * 10, hint)
    assert len(line) <= 120 and line.endswith(f". Hint: {hint}")
    assert "raised RuntimeError" in line and "\u2026" in line
    short = fit_line("demo", "label", "problem", "hint")
    assert short == "\u2717 demo: label: problem. Hint: hint"


def test_a_hint_too_long_to_fit_raises_in_strict_mode_and_is_cut_for_a_student(monkeypatch):
    from utils.checks import LineTooLong, fit_line
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(LineTooLong, match="shorten"):
        fit_line("demo", "label", "problem", "a hint " * 20)
    monkeypatch.delenv(STRICT_ENV)
    assert len(fit_line("demo", "label", "problem", "a hint " * 20)) == 120


def _unit_texts(path):
    """(SelfCheck names, hint strings) written as literals in a unit's check module: ``hint=``
    arguments, the strings of dict literals (the tables of typical mistakes and their hints) and
    the hint argument of ``.true``/``.require``."""
    import ast
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names, hints = set(), set()

    def text(node):
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "SelfCheck", "_SelfCheck") and node.args and text(node.args[0]):
            names.add(text(node.args[0]))
        if isinstance(node, ast.keyword) and node.arg == "hint" and text(node.value):
            hints.add(text(node.value))
        if isinstance(node, ast.Dict):
            hints.update(t for c in (*node.keys, *node.values) if c is not None and (t := text(c)))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("true", "require") and len(node.args) >= 4 and text(node.args[3])):
            hints.add(text(node.args[3]))
    return names, hints


UNIT_MODULES = sorted((ROOT_DIR := __import__("pathlib").Path(__file__).resolve().parent.parent
                       / "utils" / "checks").glob("unit*.py"))


@pytest.mark.parametrize("path", UNIT_MODULES, ids=lambda p: p.stem)
def test_every_hint_of_every_unit_fits_a_120_character_line(path):
    """Each hint, with the unit's longest check name and the shortest problem SelfCheck keeps
    (MIN_PROBLEM characters), fits in a ✗ line of 120 characters (lines with longer labels are
    held to it at run time: SelfCheck cuts the label, or raises LineTooLong in strict mode)."""
    from utils.checks import LINE, MIN_PROBLEM
    names, hints = _unit_texts(path)
    longest = max((len(name) for name in names), default=len(path.stem))
    too_long = sorted(h for h in hints
                      if len(f"\u2717 {'n' * longest}: {'p' * MIN_PROBLEM}. Hint: {h}") > LINE)
    assert not too_long, f"{path.name}: hints too long for a {LINE}-character line: {too_long}"


# --- tests/_solutions.py: the unit tests' reference is the solution's code, read through the markers ----
@pytest.mark.parametrize("unit", range(1, 8))
def test_every_definition_the_exercise_stubs_is_loaded_from_its_solution(unit):
    reference = solution(unit)
    assert marked(unit) and all(callable(getattr(reference, name)) for name in marked(unit))


def test_a_missing_definition_or_edit_is_a_clear_error_naming_it():
    with pytest.raises(AttributeError, match="does not define `pca_2`"):
        solution(1).pca_2
    with pytest.raises(LookupError, match="defines no top-level function or class `pca_2`"):
        planted(1, "pca_2", ("x", "y"))
    with pytest.raises(ValueError, match=r"'xc = x - 0' occurs 0 times in `pca`"):
        planted(1, "pca", ("xc = x - 0", "xc = x"))


def test_a_definition_using_what_the_notebook_computes_is_a_clear_error(tmp_path):
    path = tmp_path / "99_demo.py"
    path.write_text("import torch\ndata = torch.zeros(3)\n\n\ndef f():\n    # BEGIN SOLUTION\n"
                    "    return data\n    # END SOLUTION\n", encoding="utf-8")
    with pytest.raises(NameError, match="`f` uses `data`, which line 2 binds by running code"):
        Notebook(path).load(Notebook(path).marked)
