"""What a self-check prints, as the tests assert it: one line per check, each a ✓ or a ✗ line, and
the first ✗ line of a failed check carries the hint that names the mistake.

- ``fails(check, *args, hint=...)``: in strict mode (the suite's) the check raises SelfCheckFailed;
  its first ✗ line holds ``hint`` (or each of a tuple of fragments), every ✗ line has at most 120
  characters (``utils.checks.LINE``);
  returns the ✗ lines (``one=True``: there is exactly one);
- ``passes(check, *args)``: the check prints ✓ lines only, at least one, and raises nothing;
  returns them;
- ``printed(check, *args)``: whether it raised SelfCheckFailed, and its lines (``strict=False``: as in
  a student's notebook, where a failed check raises nothing);
- ``odd_students(stub, odd_returns, error)``: a student's function for each odd thing it may do
  (a stub, an error with a long message, each value of ``odd_returns``), by what it does, each a
  function of the check's name; ``one_short_cross(check, function)`` asserts what a check prints
  for one of them.

Whichever, the check prints nothing but check lines, nothing on stderr, and returns None (a check
cell shows its lines, not a value). Keyword arguments other than these helpers' own go to the check.
"""
from __future__ import annotations

import contextlib
import io
import os
from unittest import mock

from utils.checks import LINE, STRICT_ENV, SelfCheckFailed

PASS, FAIL = "\u2713", "\u2717"


def printed(check, *args, strict: bool = True, pass_width: int | None = None, **kwargs):
    """(raised SelfCheckFailed, printed lines) of ``check(*args, **kwargs)``; ``pass_width``: the
    longest ✓ line allowed."""
    out, err = io.StringIO(), io.StringIO()
    environment = {STRICT_ENV: "1"} if strict else {}
    with mock.patch.dict(os.environ, environment), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        if not strict:
            os.environ.pop(STRICT_ENV, None)
        try:
            returned, raised = check(*args, **kwargs), False
        except SelfCheckFailed:
            returned, raised = None, True
    lines = out.getvalue().splitlines()
    text = out.getvalue() + err.getvalue()
    assert returned is None and err.getvalue() == "", text
    assert all(line[:1] in (PASS, FAIL) for line in lines), text
    assert pass_width is None or all(len(line) <= pass_width for line in lines if line[0] == PASS), text
    return raised, lines


def fails(check, *args, hint: str | tuple[str, ...], one: bool = False, hint_width: int | None = None,
          **kwargs) -> list[str]:
    """The ✗ lines of ``check(*args, **kwargs)``, which must fail with ``hint`` (each of a tuple of
    fragments) on its first ✗ line; ``one``: that is its only ✗ line; ``hint_width``: the longest hint
    allowed after ". Hint: "."""
    raised, lines = printed(check, *args, **kwargs)
    crosses = [line for line in lines if line.startswith(FAIL)]
    assert raised and crosses, "\n".join(lines)
    assert all(fragment in crosses[0] for fragment in ((hint,) if isinstance(hint, str) else hint)), \
        "\n".join(crosses)
    assert all(len(line) <= LINE for line in crosses), "\n".join(crosses)
    assert not one or len(crosses) == 1, "\n".join(crosses)
    assert hint_width is None or len(crosses[0].partition(". Hint: ")[2]) <= hint_width, crosses[0]
    return crosses


def passes(check, *args, **kwargs) -> list[str]:
    """The lines of ``check(*args, **kwargs)``, which must all be ✓ lines (at least one)."""
    raised, lines = printed(check, *args, **kwargs)
    assert not raised and lines and all(line.startswith(PASS) for line in lines), "\n".join(lines)
    return lines


def returning(value):
    """A student's function that returns ``value`` whatever it is given."""
    return lambda *args, **kwargs: value


def raising(message: str):
    """A student's function that raises a RuntimeError with ``message``, then "and on" 40 times."""
    def function(*args, **kwargs):
        raise RuntimeError(message + " and this message goes on " + "and on " * 40)
    return function


def odd_students(stub, odd_returns: dict, error: str) -> dict:
    """{what it does: a function of the check's name giving the student's function}: ``stub(name)``
    (the unwritten function), one that raises ``error`` at length, one per value of ``odd_returns``."""
    return {"a stub": stub, "a long error message": lambda name: raising(error),
            **{what: lambda name, value=value: returning(value) for what, value in odd_returns.items()}}


def one_short_cross(check, function, pass_width: int | None = None) -> None:
    """In a student's notebook (strict mode off), ``check(function)`` prints exactly one ✗ line of at
    most LINE characters and at most one hint, and raises nothing."""
    lines = printed(check, function, strict=False, pass_width=pass_width)[1]
    crosses = [line for line in lines if line.startswith(FAIL)]
    assert len(crosses) == 1 and len(crosses[0]) <= LINE, "\n".join(lines)
    assert sum(". Hint: " in line for line in lines) <= 1, "\n".join(lines)
