"""Self-checks for the exercise notebooks: one printed line per check, no traceback walls.

Each unit's checks live in ``utils/checks/unitNN.py`` and are built on :class:`SelfCheck`.
With $LVM_STRICT_CHECKS set (the test suite sets it), failed checks raise at the end.

Shared by every unit (a unit module is a list of checks written with these):
- :class:`SelfCheck`: a group of checks for one function; at most one hint per group (the first
  ✗ carries it: later ✗ lines of the group follow from the same mistake or are about the details);
  :class:`ExerciseCheck`, the exercises' group, stops at its first ✗ (one mistake, one ✗ line);
- :meth:`SelfCheck.call`: the one way to run a student's function (a stub, an error, a warning);
- :func:`near`: the one tolerance rule, |actual − expected| ≤ atol + rtol·|expected| elementwise
  (torch.isclose's), with each check's own atol and rtol; :meth:`SelfCheck.close` reports by it and
  names the typical mistake that the student's numbers reproduce;
- :func:`passes`, :func:`with_references`, :func:`seeded`: a check run silently, a student's
  function with the reference versions of what it builds on, a seeded and restored random state;
- :func:`make_ready`: the ``ready(...)`` guard of cells that *use* the student's functions;
- :func:`number`: numbers in messages, short whatever their size;
- :data:`LINE`: every ✗ line has at most 120 characters (:meth:`SelfCheck._report` cuts what the
  student's code produced to fit; a hint too long to fit is the check's bug, raised in strict mode);
- in IPython, a cell that calls an unwritten function (the exercise's ``raise NotImplementedError``)
  shows one line naming the function instead of a traceback, and so does a cell that names an
  exercise function whose cell has not run yet (:func:`short_error`).
"""
from __future__ import annotations

import contextlib
import io
import linecache
import math
import re
import types
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from .._validate import describe, one_line
from ..runtime import env_flag

STRICT_ENV = "LVM_STRICT_CHECKS"
PASS, FAIL = "\u2713", "\u2717"
LINE = 120          # the longest ✗ line, in characters: readable in a narrow notebook
MIN_PROBLEM = 24    # characters of the problem kept when a ✗ line is cut to LINE


class LineTooLong(ValueError):
    """A check's ✗ line cannot fit in LINE characters: its name, label and hint are too long."""


class SelfCheckFailed(AssertionError):
    """Raised at the end of a failed group of self-checks in strict mode."""


class _Abort(Exception):
    """Stops a group of checks after the student's code could not be run."""


class SelfCheck:
    """A group of checks: ``with SelfCheck("pca") as sc: sc.shape(...); sc.close(...)``.

    Whatever the student's function returns or raises, a group prints one line per check and never
    a traceback: a failed check is one ✗ line with a hint, and a check that cannot go on stops the
    group. Should a check itself break on an unforeseen value, that too becomes one ✗ line, except in
    strict mode ($LVM_STRICT_CHECKS, the test suite), where the error surfaces for the authors.
    """

    stop = False                    # True: the group stops at its first ✗ (see ExerciseCheck)
    stub_hint = "write your code in place of the `raise` line"    # the hint for an unwritten function

    def __init__(self, name: str):
        if not isinstance(name, str) or not name:
            raise TypeError(f"SelfCheck needs a name, e.g. SelfCheck('pca'), got {name!r}")
        self.name = name
        self.passed = 0
        self.failed = 0
        self._open = False
        self._hinted = False

    def __enter__(self) -> "SelfCheck":
        self._open = True
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is not None and not issubclass(exc_type, _Abort):
                if not issubclass(exc_type, Exception) or env_flag(STRICT_ENV):
                    return False  # Ctrl-C, or strict mode: a bug in the check must surface
                self.stop = False
                self._report("the check could not finish", f"{exc_type.__name__}: {one_line(exc)}",
                             "compare your result with the docstring")
        finally:
            self._open = False
        if self.failed and env_flag(STRICT_ENV):
            raise SelfCheckFailed(f"{self.failed} self-check(s) of {self.name} failed (see above)")
        return True

    def _require_open(self) -> None:
        """A check reports inside its ``with`` block only: say how to write it otherwise."""
        if not self._open:
            raise RuntimeError(f"SelfCheck({self.name!r}) is used outside its `with` block: write "
                               f"`with SelfCheck({self.name!r}) as sc:` and call sc's checks inside it")

    def _report(self, what: str, problem: str | None, hint: str = "") -> bool:
        self._require_open()
        if problem is None:
            self.passed += 1
            print(f"{PASS} {self.name}: {what}")
            return True
        self.failed += 1
        shown = hint and not self._hinted   # one hint per group: the first ✗ carries it
        self._hinted = self._hinted or bool(hint)
        print(fit_line(self.name, what, one_line(problem), hint if shown else ""))
        if self.stop:
            raise _Abort
        return False

    def call(self, fn: Callable, *args, what: str | None = None, quiet: bool = False,
             hint: str = "", explain: Callable[[Exception], tuple | None] | None = None,
             **kwargs) -> Any:
        """Run the student's ``fn`` (its warnings kept inside) and return its result, with a pass
        line ``what`` unless ``quiet`` (a run that repeats one already reported). An unwritten
        function (the exercise's stub) is one ✗ line "not implemented yet"; an error is one ✗ line
        naming it, with ``hint`` (or: call it by hand), or the (what, problem, hint) that
        ``explain(error)`` gives for an error it recognises. Either stops the group."""
        self._require_open()
        label = what or f"{getattr(fn, '__name__', 'your function')} runs"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fn(*args, **kwargs)
        except Exception as err:  # a student's bug: one line, not a traceback wall
            if is_stub(err):      # not torch's NotImplementedError (an operation a dtype lacks): a bug
                self._report(label if len(label) < 30 else "", "not implemented yet", self.stub_hint)
            else:
                self._report(*((explain and explain(err)) or (
                    label, f"raised {type(err).__name__}: {one_line(err)}",
                    hint or "call it by hand to see the traceback")))
            raise _Abort from None
        if not quiet:
            self._report(label, None)
        return result

    def true(self, what: str, condition: bool, problem: str, hint: str = "") -> bool:
        """Pass when ``condition`` holds; else report ``problem``."""
        return self._report(what, None if condition else problem, hint)

    def require(self, what: str, condition: bool, problem: str, hint: str = "") -> None:
        """A guard, not a check of its own: no line when ``condition`` holds; else report
        ``problem`` in one ✗ line and stop the group (what follows could not run)."""
        self._require_open()
        if not condition:
            self._report(what, problem, hint)
            raise _Abort

    def shape(self, what: str, actual: Any, expected: Sequence[int] | None, hint: str = "",
              quiet: bool = False) -> bool:
        """Pass when ``actual`` is a tensor of shape ``expected`` (None: any shape); stops the group
        otherwise. ``quiet``: no pass line (a guard before using a value, not a check of its own)."""
        self._require_open()
        if not isinstance(actual, torch.Tensor):
            self._report(what, f"expected a torch.Tensor, got {describe(actual)}",
                         hint or "return a torch tensor (not a NumPy array, a list or None)")
            raise _Abort
        got = tuple(actual.shape)
        if expected is not None and got != tuple(expected):
            self._report(what, f"expected shape {tuple(expected)}, got {got}",
                         hint or "compare the shape with the one the docstring asks for")
            raise _Abort
        return True if quiet else self._report(f"{what} has shape {got}", None)

    def close(self, what: str, actual: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4,
              hint: str = "", mistakes: dict[str, Any] | None = None, show_gap: bool = False,
              unit: str = "", match: tuple[float, float] | None = None) -> bool:
        """Pass when ``actual`` is :func:`near` ``expected`` (atol + rtol·|expected|); else report the
        largest gap (in ``unit``; for a number, both numbers when the line has room) and ``hint``,
        or, when the student's numbers reproduce one of ``mistakes`` (hint → its value, or (value,
        problem)) within the same tolerance (or within ``match``, an (atol, rtol) of its own), that
        mistake's hint (and problem). ``show_gap`` adds the largest gap to the pass line too
        (lectures use it; exercises keep pass lines free of numbers so that they are the same in
        every run). Empty tensors never pass: there is nothing to compare."""
        self._require_open()
        a, e, problem = _comparable(actual, expected, what)
        if problem is None:
            worst = (a - e).abs().max().item()
            if bool(isclose(a, e, atol, rtol).all()):
                return self._report(f"{what} (largest gap {worst:.2g})" if show_gap else what, None)
            for mistake, value in (mistakes or {}).items():
                value, problem = value if isinstance(value, tuple) else (value, None)
                if value is not None and near(a, value, *(match or (atol, rtol))):
                    hint = mistake.strip()
                    break
                problem = None
            if problem is None:
                gap = f"off by up to {number(worst)}{unit}"
                both = f"{number(a.item())}{unit} instead of {number(e.item())}" if e.numel() == 1 else gap
                problem = both if len(f"{FAIL} {self.name}: {what}: {both}. Hint: {hint}") <= LINE else gap
        return self._report(what, problem, hint)

    def unpack(self, what: str, out: Any, names: Sequence[str], returns: str = "",
               numbers: Sequence[str] = (), hint: str = "") -> tuple:
        """The student's result as one float tensor per name (those in ``numbers`` may be anything:
        the caller checks them); None, a single value, another number of values or a value of
        another kind is one ✗ line that says which, with the ``return`` line as hint (``returns``,
        default the names) or ``hint`` for a value that is not a tensor, and stops the group. No
        pass line."""
        returns, n = returns or ", ".join(names), len(names)
        if out is None:
            self.require(what, False, "returned None", f"end with `return {returns}`")
        if isinstance(out, torch.Tensor) or not isinstance(out, (tuple, list)):
            self.require(what, False, f"got {kind(out)}, not {_COUNTED.get(n, f'{n} values')}",
                         f"return {'both' if n == 2 else 'all'}: `return {returns}`")
        self.require(what, len(out) == n, f"got {len(out)} values, not {n}",
                     f"return exactly {_WORDS.get(n, n)}: `return {returns}`")
        for name, value in zip(names, out):
            problem = None if name in numbers else not_a_tensor(name, value, hint or STAY_IN_TORCH)
            self.require(what, problem is None, *(problem or ("", "")))
        return tuple(out)

    def gradients(self, what: str, loss: Any, expected: torch.Tensor, params: dict[str, torch.Tensor],
                  hint: str, scale: float = 1e-4, rtol: float = 1e-3) -> bool:
        """Pass when the gradient of ``loss`` (the student's) w.r.t. each of ``params`` is near the
        one of ``expected`` (the reference's): atol = ``scale`` × that reference gradient's largest
        entry, as the entries near 0 carry float32 noise of the size of the largest, and ``rtol``.
        The ✗ line names the parts ("encoder", "z_loc": a name's first component) that differ."""
        names, tensors = list(params), list(params.values())
        if not (isinstance(loss, torch.Tensor) and loss.is_floating_point() and loss.requires_grad):
            return self.true(what, False, "carries no gradient", hint)
        wanted = torch.autograd.grad(expected.sum(), tensors, retain_graph=True)
        try:
            got = torch.autograd.grad(loss.sum(), tensors, allow_unused=True, retain_graph=True)
        except Exception as err:
            return self.true(what, False, f"backward failed: {one_line(err)}", hint)
        wrong = sorted({name.split(".")[0] for name, g, e in zip(names, got, wanted)
                        if g is None or not near(g, e, scale * (e.abs().max().item() + 1e-6), rtol)})
        return self.true(what, not wrong, f"missing or wrong ({_and(wrong) if wrong else ''})", hint)


class ExerciseCheck(SelfCheck):
    """The exercises' :class:`SelfCheck`: the group stops at its first ✗, so that one mistake gives
    one ✗ line and one hint (what would follow depends on the failed check)."""

    stop = True


_COUNTED = {2: "a pair", 3: "three values"}
_WORDS = {2: "two", 3: "three"}


def near(actual: Any, expected: Any, atol: float, rtol: float) -> bool:
    """The one tolerance rule of the checks: ``actual`` and ``expected`` (tensors, arrays or numbers)
    have the same shape (a number and a one-element tensor count as one) and :func:`isclose` holds
    everywhere. Each check states its own atol and rtol, sized for float32 arithmetic on any device."""
    if _as_double(expected) is None:
        return False
    a, e, problem = _comparable(actual, expected, "")
    return problem is None and bool(isclose(a, e, atol, rtol).all())


def isclose(actual: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> torch.Tensor:
    """Elementwise: ``actual`` is finite and |actual − expected| ≤ atol + rtol·|expected|
    (torch.isclose's rule), in float64 on the CPU."""
    a, e = _as_double(actual), _as_double(expected)
    return torch.isfinite(a) & ((a - e).abs() <= atol + rtol * e.abs())


def kind(value: Any) -> str:
    """What a student's function returned, in a few words: "None", "a NumPy array", "an int",
    "a tensor of shape (64,)"."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if type(value).__module__.split(".")[0] == "numpy":
        return "a NumPy array" if getattr(value, "ndim", 0) else "a NumPy number"
    name = type(value).__name__
    return ("an " if name[0] in "aeiou" else "a ") + name


STAY_IN_TORCH = "stay in torch: no .item() or .numpy()"


def not_a_tensor(name: str, value: Any, hint: str = STAY_IN_TORCH) -> tuple[str, str] | None:
    """(problem, hint) when ``value`` is not a floating-point torch tensor, else None; ``name`` is
    "D", say, or "" for the function's only result."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return None
    lead = f"{name} is " if name else "got "
    if value is None:
        return f"{lead}None", "did you forget a `return`?"
    if isinstance(value, torch.Tensor):
        return f"{lead}{value.dtype}, not float", "compute it in floating point"
    return f"{lead if name else ''}{kind(value)}, not a tensor", hint


def _silently(check: Callable, *args) -> tuple[bool, str]:
    """Run ``check(*args)`` without printing: (whether it printed no ✗ and at least one ✓, and what
    it printed). Any exception (SelfCheckFailed in strict mode) is a failure."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(*args)
    except Exception:
        return False, printed.getvalue()
    return FAIL not in printed.getvalue() and PASS in printed.getvalue(), printed.getvalue()


def passes(check: Callable, *args) -> bool:
    """True when ``check(*args)``, run silently, passes: a check built on others runs only when
    theirs pass ("fix `model` first")."""
    return _silently(check, *args)[0]


def with_references(fn: Callable, **references: Callable) -> Callable:
    """``fn`` with each name of ``references`` it looks up as a global bound to the reference instead
    (a copy: the student's namespace is left alone), so that its check tests ``fn`` alone, not the
    student's other functions. Not a plain function (a lambda is one): ``fn`` itself."""
    names = set(getattr(getattr(fn, "__code__", None), "co_names", ())) & set(references)
    if not isinstance(fn, types.FunctionType) or not names:
        return fn
    env = dict(fn.__globals__)
    env.update({name: references[name] for name in names})
    out = types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
    out.__kwdefaults__ = fn.__kwdefaults__
    return out


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's global generator seeded with ``seed`` inside, restored afterwards: every run of a
    check prints the same lines, and the caller's random state is left alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _cut(text: str, room: int) -> str:
    """``text`` in at most ``room`` characters, cut at a word's end when one is near, with " …"."""
    if len(text) <= room:
        return text
    cut = text[:max(room - 2, 1)]
    if " " in cut[len(cut) // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,:;.") + " \u2026"


def fit_line(name: str, what: str, problem: str, hint: str = "", width: int = LINE) -> str:
    """The ✗ line ``✗ name: what: problem. Hint: hint`` in at most ``width`` characters.

    The label ``what`` (the check's own words) is cut first, down to MIN_PROBLEM characters, then
    the problem (what the student's code gave: an error message, numbers), down to MIN_PROBLEM
    too; the name and the hint are never cut. When even that does not fit, the check's own text is too long: in strict
    mode ($LVM_STRICT_CHECKS, the test suite) that raises :class:`LineTooLong`; a student gets the
    line cut at ``width``."""
    tail = f". Hint: {hint}" if hint else ""

    def line(w: str, p: str) -> str:
        return f"{FAIL} {name}: {w}: {p}{tail}" if w else f"{FAIL} {name}: {p}{tail}"

    full = line(what, problem)
    if len(full) <= width:
        return full
    if what:   # the label first: the problem holds what the student's code gave
        what = _cut(what, max(width - len(line("", problem)) - 2, min(MIN_PROBLEM, len(what))))
    problem = _cut(problem, max(width - len(line(what, "")), min(MIN_PROBLEM, len(problem))))
    fitted = line(what, problem)
    if len(fitted) <= width:
        return fitted
    if env_flag(STRICT_ENV):
        raise LineTooLong(f"a \u2717 line of {len(fitted)} characters (at most {width}): shorten "
                          f"the check's label or hint: {fitted!r}")
    return fitted[:width - 1] + "\u2026"


def number(value: Any) -> str:
    """A number for a message, short at any size: 544.1, 0.0123, 4.71e+25, inf, nan."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}" if abs(x) < 1 else f"{x:.1f}".rstrip("0").rstrip(".")
    return f"{x:.3g}"


def make_ready(parts: dict[str, tuple[str, Callable[[Callable], None]]]) -> Callable[..., bool]:
    """The ``ready(*functions)`` guard of a unit: ``parts`` maps each exercise function's name to
    (where it is written, e.g. "Part 1", and its check). ``ready(f, g)`` runs the checks of f and g
    silently and returns True when all pass; otherwise it prints one line naming the functions to
    finish first and returns False, so that a cell that uses them reads ``if unit01.ready(pca):``
    and skips itself instead of failing with a traceback or drawing empty axes."""

    _WRITTEN_IN.update({name: where for name, (where, _) in parts.items()})

    def ready(*functions: Callable) -> bool:
        unfinished, names = [], []
        for fn in functions:
            name = getattr(fn, "__name__", "")
            if not callable(fn):
                print(f"\u23ed skipped: expected one of your functions, got {describe(fn)}; "
                      "re-run its cell")
                return False
            if name not in parts:
                continue
            where, check = parts[name]
            passed, printed = _silently(check, fn)
            if not passed:
                written = "not implemented yet" not in printed
                unfinished.append(f"`{name}` ({where}: fails its check)" if written
                                  else f"`{name}` ({where})")
                names.append((f"`{name}`", where))
        if unfinished:
            print(f"\u23ed skipped: first finish {_listed(unfinished, [n for n, _ in names])}")
        return not unfinished

    ready.__doc__ = ("True when each of ``functions`` (the exercise's, by name) passes its self-check, "
                     "run silently. Otherwise print one line naming those to finish first and return "
                     "False: a cell that uses them runs ``if ready(...):`` and skips itself instead of "
                     "failing with a traceback.")
    return ready


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


def _listed(described: list[str], names: list[str], width: int = 90) -> str:
    """The functions to finish, with where each is (``described``) while that fits in ``width``
    characters, else their names only, else the first few and how many more."""
    for text in (_and(described), _and(names)):
        if len(text) <= width:
            return text
    for shown in range(len(names) - 1, 0, -1):
        text = _and(names[:shown] + [f"{len(names) - shown} more (see the \u2717 lines above)"])
        if len(text) <= width or shown == 1:
            return text


def _outside_packages(filename: str) -> bool:
    """True for code the student wrote: a notebook cell or their own file, not an installed
    package and not ``utils``."""
    import utils
    package = str(Path(utils.__file__).resolve().parent)
    return "site-packages" not in filename and not filename.startswith(package)


def is_stub(error: BaseException) -> bool:
    """True when ``error`` is the course's stub: a ``raise NotImplementedError`` line written in a
    notebook cell or a student's file (the exercise's ``raise NotImplementedError("exercise: ...")``).
    torch raises NotImplementedError too, for operations a dtype lacks (``bool_tensor - 1``): those
    are bugs to show, not unwritten code."""
    if not isinstance(error, NotImplementedError):
        return False
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_code.co_filename
    line = linecache.getline(where, tb.tb_lineno, tb.tb_frame.f_globals).strip()
    return _outside_packages(where) and bool(_RAISE_STUB.match(line))


_RAISE_STUB = re.compile(r"raise\s+NotImplementedError\b")


def _unwritten_function(tb) -> str:
    """The student's function that raised: the innermost frame of ``tb`` outside installed
    packages and outside ``utils`` (a function defined in a notebook cell or the student's file)."""
    name = "a function"
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name != "<module>" and _outside_packages(code.co_filename):
            name = f"`{code.co_name}`"
        tb = tb.tb_next
    return name


#: Where each exercise function is written ("Part 1"), by name: filled by :func:`make_ready`, read by
#: the IPython handler when a cell names a function whose cell has not run yet.
_WRITTEN_IN: dict[str, str] = {}


def short_error(evalue: BaseException, tb) -> str | None:
    """The one line a student sees for ``evalue`` raised in a cell, or None for a full traceback:
    a call of an unwritten exercise function (the course's stub), or a cell that names an
    exercise function before that function's cell has run."""
    if isinstance(evalue, NotImplementedError) and is_stub(evalue):
        return (f"\u23ed {_unwritten_function(tb)} is not written yet: replace its "
                "`raise NotImplementedError` with your code, run that cell, then this one")
    name = getattr(evalue, "name", None)
    if type(evalue) is NameError and name in _WRITTEN_IN:
        return (f"\u23ed `{name}` is not defined yet: run the cell that defines it "
                f"({_WRITTEN_IN[name]}) first, then this one")
    return None


def _short_errors(shell, etype, evalue, tb, tb_offset=None):
    """IPython handler (``set_custom_exc``) for NotImplementedError and NameError: one line for the
    cases of :func:`short_error`, IPython's usual traceback for everything else.

    IPython (8.x and 9.x alike) discards what a custom handler returns, so the handler shows the
    line itself, through ``shell._showtraceback``: in a kernel that is an ``error`` message whose
    traceback is that one line (what JupyterLab and nbclient show), in a terminal it is printed.
    The cell still fails, so "Run All" stops there unless the cell is tagged ``raises-exception``."""
    try:
        line = short_error(evalue, tb)
    except Exception:   # never let the handler break: IPython would unregister it
        line = None
    if line is None:
        shell.showtraceback((etype, evalue, tb), tb_offset=tb_offset)
    else:
        shell._showtraceback(etype, evalue, [line])
    return None


def _install_short_errors() -> None:
    try:
        from IPython import get_ipython
    except ImportError:   # plain Python: tracebacks as usual
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((NotImplementedError, NameError), _short_errors)


_install_short_errors()


def _comparable(actual: Any, expected: Any, what: str):
    """(actual, reference) as float64 CPU tensors, and why they cannot be compared (else None)."""
    e = _as_double(expected)
    if e is None:   # the check's own reference: a bug in the check, not the student's
        raise TypeError(f"the reference of {what!r} must be a tensor or a number, got "
                        f"{describe(expected)}")
    a = _as_double(actual)
    if a is None:
        return a, e, f"expected a tensor, got {describe(actual)}"
    if a.shape != e.shape and a.numel() == e.numel() == 1:
        a = a.reshape(e.shape)
    if a.shape != e.shape:
        return a, e, f"expected shape {tuple(e.shape)}, got {tuple(a.shape)}"
    if a.numel() == 0:
        return a, e, "got an empty tensor: there is nothing to compare"
    if not torch.isfinite(a).all():
        return a, e, "contains NaN or inf"
    return a, e, None


def _as_double(value: Any) -> torch.Tensor | None:
    """``value`` (a tensor, array or number) as a detached float64 CPU tensor; None if it is none."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        return torch.as_tensor(value).detach().to("cpu", torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
