"""Self-checks for the notebooks: one line per check (at most :data:`LINE` characters).

Each ``unitNN.py`` is a list of checks written with :class:`SelfCheck` (one hint per group, on its
first ✗; :class:`ExerciseCheck` stops there), :meth:`SelfCheck.call` (the one way to run a student's
function) and :func:`near` (the one tolerance rule: |actual − expected| ≤ atol + rtol·|expected|).
With $LVM_STRICT_CHECKS set (the test suite) a failed group raises. In IPython an unwritten
exercise function called, or one named before its cell ran, is one line (:func:`short_error`).
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
STAY_IN_TORCH = "stay in torch: no .item() or .numpy()"
_COUNTED, _WORDS = {2: "a pair", 3: "three values"}, {2: "two", 3: "three"}


class LineTooLong(ValueError):
    """A check's ✗ line cannot fit in LINE characters: its name, label and hint are too long."""


class SelfCheckFailed(AssertionError):
    """Raised at the end of a failed group of self-checks in strict mode."""


class _Abort(Exception):
    """Stops a group of checks after the student's code could not be run."""


class SelfCheck:
    """A group of checks: ``with SelfCheck("pca") as sc: sc.shape(...); sc.close(...)``. A check
    that breaks on an unforeseen value is one ✗ line too, except in strict mode."""

    stop = False                    # True: the group stops at its first ✗ (see ExerciseCheck)
    stub_hint = "write your code in place of the `raise` line"    # an unwritten function's hint

    def __init__(self, name: str):
        if not isinstance(name, str) or not name:
            raise TypeError(f"SelfCheck needs a name, e.g. SelfCheck('pca'), got {name!r}")
        self.name = name
        self.passed = self.failed = 0
        self._open = self._hinted = False

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
        if not self._open:
            raise RuntimeError(f"SelfCheck({self.name!r}) is used outside its `with` block: "
                               f"write `with SelfCheck({self.name!r}) as sc:` and call sc's "
                               "checks inside it")

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
        """``fn(*args, **kwargs)``, its warnings kept inside, with a pass line ``what`` unless
        ``quiet``. A stub or an error is one ✗ line (``hint``, or the (what, problem, hint) that
        ``explain(error)`` gives) and stops the group."""
        self._require_open()
        label = what or f"{getattr(fn, '__name__', 'your function')} runs"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fn(*args, **kwargs)
        except Exception as err:  # a student's bug: one line, not a traceback wall
            if is_stub(err):      # not torch's NotImplementedError (an operation a dtype lacks)
                self._report(label if len(label) < 30 else "", "not implemented yet",
                             self.stub_hint)
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
        """A guard: no line when ``condition`` holds; else one ✗ line, and the group stops."""
        self._require_open()
        if not condition:
            self._report(what, problem, hint)
            raise _Abort

    def shape(self, what: str, actual: Any, expected: Sequence[int] | None, hint: str = "",
              quiet: bool = False) -> bool:
        """Pass when ``actual`` is a tensor of shape ``expected`` (None: any); else stop the group.
        ``quiet``: no pass line (a guard before using a value)."""
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
        """Pass when ``actual`` is :func:`near` ``expected``; else report the largest gap (in
        ``unit``) and ``hint``, or the hint (and problem) of the first of ``mistakes`` (hint →
        value, or (value, problem)) that ``actual`` reproduces within (atol, rtol) or ``match``.
        ``show_gap``: the gap on the pass line too (lectures). Empty tensors never pass."""
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
                both = (f"{number(a.item())}{unit} instead of {number(e.item())}" if e.numel() == 1
                        else gap)
                fits = len(f"{FAIL} {self.name}: {what}: {both}. Hint: {hint}") <= LINE
                problem = both if fits else gap
        return self._report(what, problem, hint)

    def unpack(self, what: str, out: Any, names: Sequence[str], returns: str = "",
               numbers: Sequence[str] = (), hint: str = "") -> tuple:
        """The student's result as one float tensor per name (``numbers``: any value); else one ✗
        line with the ``return`` line (``returns``) or ``hint`` as hint, and the group stops."""
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

    def gradients(self, what: str, loss: Any, expected: torch.Tensor,
                  params: dict[str, torch.Tensor], hint: str, scale: float = 1e-4,
                  rtol: float = 1e-3) -> bool:
        """Pass when the gradient of ``loss`` w.r.t. each of ``params`` is near ``expected``'s:
        atol = ``scale`` × that gradient's largest entry, and ``rtol``. The ✗ line names the parts
        (a name's first component: "encoder") that differ."""
        names, tensors = list(params), list(params.values())
        if not (isinstance(loss, torch.Tensor) and loss.is_floating_point() and loss.requires_grad):
            return self.true(what, False, "carries no gradient", hint)
        wanted = torch.autograd.grad(expected.sum(), tensors, retain_graph=True)
        try:
            got = torch.autograd.grad(loss.sum(), tensors, allow_unused=True, retain_graph=True)
        except Exception as err:
            return self.true(what, False, f"backward failed: {one_line(err)}", hint)
        wrong = sorted({name.split(".")[0] for name, g, e in zip(names, got, wanted) if g is None
                        or not near(g, e, scale * (e.abs().max().item() + 1e-6), rtol)})
        return self.true(what, not wrong, f"missing or wrong ({_and(wrong) if wrong else ''})",
                         hint)


class ExerciseCheck(SelfCheck):
    """The exercises' :class:`SelfCheck`: the group stops at its first ✗ (one mistake, one ✗)."""

    stop = True


def near(actual: Any, expected: Any, atol: float, rtol: float) -> bool:
    """The one tolerance rule: the same shape (a number and a one-element tensor count as one)
    and :func:`isclose` everywhere, with each check's own atol and rtol."""
    if _as_double(expected) is None:
        return False
    a, e, problem = _comparable(actual, expected, "")
    return problem is None and bool(isclose(a, e, atol, rtol).all())


def first_match(actual: Any, mistakes: dict[str, Any], atol: float, rtol: float,
                default: str | None = None) -> str | None:
    """The first hint of ``mistakes`` (hint → value) that ``actual`` is near, else ``default``."""
    return next((hint for hint, value in mistakes.items() if near(actual, value, atol, rtol)),
                default)


def isclose(actual: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> torch.Tensor:
    """Elementwise, in float64: finite and |actual − expected| ≤ atol + rtol·|expected|."""
    a, e = _as_double(actual), _as_double(expected)
    return torch.isfinite(a) & ((a - e).abs() <= atol + rtol * e.abs())


def kind(value: Any) -> str:
    """A returned value in a few words: "None", "a NumPy array", "a tensor of shape (64,)"."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if type(value).__module__.split(".")[0] == "numpy":
        return "a NumPy array" if getattr(value, "ndim", 0) else "a NumPy number"
    name = type(value).__name__
    return ("an " if name[0] in "aeiou" else "a ") + name


def not_a_tensor(name: str, value: Any, hint: str = STAY_IN_TORCH) -> tuple[str, str] | None:
    """(problem, hint) unless ``value`` is a float tensor; ``name``: "D", "" for the only result."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return None
    lead = f"{name} is " if name else "got "
    if value is None:
        return f"{lead}None", "did you forget a `return`?"
    if isinstance(value, torch.Tensor):
        return f"{lead}{value.dtype}, not float", "compute it in floating point"
    return f"{lead if name else ''}{kind(value)}, not a tensor", hint


def _silently(check: Callable, *args) -> tuple[bool, str]:
    """(``check(*args)`` printed ✓ lines only and raised nothing, what it printed), silently."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(*args)
    except Exception:
        return False, printed.getvalue()
    return FAIL not in printed.getvalue() and PASS in printed.getvalue(), printed.getvalue()


def passes(check: Callable, *args) -> bool:
    """True when ``check(*args)``, run silently, passes ("fix `model` first" otherwise)."""
    return _silently(check, *args)[0]


def with_references(fn: Callable, **references: Callable) -> Callable:
    """A copy of ``fn`` (a plain function; else ``fn``) whose globals named in ``references`` are
    those references: its check tests ``fn`` alone."""
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
    """torch's global generator seeded inside, restored afterwards."""
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
    """``✗ name: what: problem. Hint: hint`` in at most ``width`` characters: the label cut first,
    then the problem, each down to MIN_PROBLEM characters, never the name or the hint. If even that
    is too long, strict mode raises :class:`LineTooLong`; a student gets the line cut."""
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
    """A unit's ``ready(*functions)`` guard; ``parts``: function name → (where it is written, e.g.
    "Part 1", its check)."""

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
                names.append(f"`{name}`")
        if unfinished:
            print(f"\u23ed skipped: first finish {_listed(unfinished, names)}")
        return not unfinished

    ready.__doc__ = ("True when each of ``functions`` passes its self-check, run silently; else "
                     "one line naming those to finish first, and False (``if ready(...):``).")
    return ready


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


def _listed(described: list[str], names: list[str], width: int = 90) -> str:
    """The functions to finish, with where each is while that fits in ``width`` characters, else
    their names only, else the first few and how many more."""
    for text in (_and(described), _and(names)):
        if len(text) <= width:
            return text
    for shown in range(len(names) - 1, 0, -1):
        text = _and(names[:shown] + [f"{len(names) - shown} more (see the \u2717 lines above)"])
        if len(text) <= width or shown == 1:
            return text


def _outside_packages(filename: str) -> bool:
    """True for code the student wrote: not an installed package and not ``utils``."""
    import utils
    package = str(Path(utils.__file__).resolve().parent)
    return "site-packages" not in filename and not filename.startswith(package)


def is_stub(error: BaseException) -> bool:
    """True for the course's stub: a ``raise NotImplementedError`` line of the student's code (not
    torch's, for an operation a dtype lacks: that is a bug to show)."""
    if not isinstance(error, NotImplementedError) or error.__traceback__ is None:
        return False
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_code.co_filename
    line = linecache.getline(where, tb.tb_lineno, tb.tb_frame.f_globals).strip()
    return _outside_packages(where) and bool(_RAISE_STUB.match(line))


_RAISE_STUB = re.compile(r"raise\s+NotImplementedError\b")
_WRITTEN_IN: dict[str, str] = {}    # where each exercise function is written: filled by make_ready


def _unwritten_function(tb) -> str:
    """The student's function that raised: the innermost frame of ``tb`` in the student's code."""
    name = "a function"
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name != "<module>" and _outside_packages(code.co_filename):
            name = f"`{code.co_name}`"
        tb = tb.tb_next
    return name


def short_error(evalue: BaseException, tb) -> str | None:
    """The one line a student sees for ``evalue`` raised in a cell (None: a full traceback): a call
    of an unwritten exercise function, or a name of one whose cell has not run yet."""
    if isinstance(evalue, NotImplementedError) and is_stub(evalue):
        return (f"\u23ed {_unwritten_function(tb)} is not written yet: replace its "
                "`raise NotImplementedError` with your code, run that cell, then this one")
    name = getattr(evalue, "name", None)
    if type(evalue) is NameError and name in _WRITTEN_IN:
        return (f"\u23ed `{name}` is not defined yet: run the cell that defines it "
                f"({_WRITTEN_IN[name]}) first, then this one")
    return None


def _short_errors(shell, etype, evalue, tb, tb_offset=None):
    """IPython's handler (``set_custom_exc``): :func:`short_error`'s line, shown by the handler
    itself (IPython discards what it returns), else the usual traceback."""
    try:
        line = short_error(evalue, tb)
    except Exception:   # never let the handler break: IPython would unregister it
        line = None
    if line is None:
        shell.showtraceback((etype, evalue, tb), tb_offset=tb_offset)
    else:
        shell._showtraceback(etype, evalue, [line])


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
    """``value`` (a tensor, array or number) as a detached float64 CPU tensor, else None."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().to("cpu", torch.float64)
        return torch.as_tensor(value, dtype=torch.float64)    # a Python float keeps its 53 bits
    except (TypeError, ValueError, RuntimeError):
        return None
