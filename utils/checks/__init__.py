"""Self-checks for the exercise notebooks: one printed line per check, no traceback walls.

Each unit's checks live in ``utils/checks/unitNN.py`` and are built on :class:`SelfCheck`.
With $LVM_STRICT_CHECKS set (the test suite sets it), failed checks raise at the end.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import torch

from ..runtime import env_flag

STRICT_ENV = "LVM_STRICT_CHECKS"
PASS, FAIL = "\u2713", "\u2717"


class SelfCheckFailed(AssertionError):
    """Raised at the end of a failed group of self-checks in strict mode."""


class _Abort(Exception):
    """Stops a group of checks after the student's code could not be run."""


class SelfCheck:
    """A group of checks: ``with SelfCheck("pca") as sc: sc.shape(...); sc.close(...)``."""

    def __init__(self, name: str):
        self.name = name
        self.passed = 0
        self.failed = 0

    def __enter__(self) -> "SelfCheck":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and not issubclass(exc_type, _Abort):
            return False  # a bug in the check itself: let it surface
        if self.failed and env_flag(STRICT_ENV):
            raise SelfCheckFailed(f"{self.failed} self-check(s) of {self.name} failed (see above)")
        return True

    def _report(self, what: str, problem: str | None, hint: str = "") -> bool:
        if problem is None:
            self.passed += 1
            print(f"{PASS} {self.name}: {what}")
            return True
        self.failed += 1
        print(f"{FAIL} {self.name}: {what}: {problem}" + (f". Hint: {hint}" if hint else ""))
        return False

    def call(self, fn: Callable, *args, what: str | None = None, **kwargs) -> Any:
        """Run the student's ``fn``; on an exception report it in one line and stop the group."""
        label = what or f"{getattr(fn, '__name__', 'your function')} runs"
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError:
            self._report(label, "not implemented yet", "replace the `raise NotImplementedError` "
                         "with your code, run that cell, then this one")
            raise _Abort from None
        except Exception as err:  # a student's bug: one line, not a traceback wall
            self._report(label, f"raised {type(err).__name__}: {err}")
            raise _Abort from None
        self.passed += 1
        print(f"{PASS} {self.name}: {label}")
        return result

    def true(self, what: str, condition: bool, problem: str, hint: str = "") -> bool:
        """Pass when ``condition`` holds; else report ``problem``."""
        return self._report(what, None if condition else problem, hint)

    def shape(self, what: str, actual: Any, expected: Sequence[int], hint: str = "") -> bool:
        """Pass when ``actual`` is a tensor of shape ``expected``; stops the group otherwise."""
        if not isinstance(actual, torch.Tensor):
            self._report(what, f"expected a torch.Tensor, got {type(actual).__name__}", hint)
            raise _Abort
        got = tuple(actual.shape)
        if got != tuple(expected):
            self._report(what, f"expected shape {tuple(expected)}, got {got}", hint)
            raise _Abort
        return self._report(f"{what} has shape {got}", None)

    def close(self, what: str, actual: torch.Tensor, expected: torch.Tensor,
              atol: float = 1e-5, rtol: float = 1e-4, hint: str = "",
              show_gap: bool = False) -> bool:
        """Pass when ``actual`` matches ``expected`` within tolerance; report the largest gap.

        ``show_gap`` adds the largest gap to the pass line too (lectures use it; exercises
        keep pass lines free of numbers so that they are the same in every run).
        """
        actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
        if actual.shape != expected.shape:
            return self._report(what, f"expected shape {tuple(expected.shape)}, "
                                      f"got {tuple(actual.shape)}", hint)
        a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
        if not torch.isfinite(a).all():
            return self._report(what, "contains NaN or inf", hint)
        gap = (a - e).abs()
        ok = bool((gap <= atol + rtol * e.abs()).all())
        worst = gap.max().item() if gap.numel() else 0.0
        if ok and show_gap:
            what = f"{what} (largest gap {worst:.2g})"
        return self._report(what, None if ok else
                            f"differs from the reference by up to {worst:.3g} "
                            f"(tolerance {atol:g} + {rtol:g}·|reference|)", hint)
