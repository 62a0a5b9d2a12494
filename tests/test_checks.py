"""utils.checks: one line per check, no traceback wall, strict mode raises."""
import pytest
import torch

from utils.checks import SelfCheck, SelfCheckFailed, STRICT_ENV


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


def test_a_bug_inside_a_check_is_not_swallowed(lenient):
    with pytest.raises(ZeroDivisionError):
        with SelfCheck("demo"):
            1 / 0
