"""Argument checks shared by every public function in ``utils``: one place, one wording.

Each check raises at the entry of a function, before any work, with a message that says what was
expected, what was got and what to do. A wrong *type* raises :class:`ArgumentTypeError`, which is a
``TypeError`` and also a ``ValueError``, so ``except ValueError`` catches every bad argument.
Checks marked O(1) read only shapes and dtypes; the others scan a tensor once and are meant for the
entry of a whole run (evaluation, training), not for every training step.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (a TypeError that ``except ValueError`` catches too)."""


def describe(value: Any) -> str:
    """A short description of ``value`` for an error message: its type and, if any, its shape."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return repr(value) + (" (a bool)" if value is not None else "")
    if isinstance(value, (torch.Tensor, np.ndarray)):
        kind = "tensor" if isinstance(value, torch.Tensor) else "NumPy array"
        what = f"{kind} of shape {tuple(value.shape)} and dtype {value.dtype}"
    elif isinstance(value, (tuple, list)):
        what = f"{type(value).__name__} of length {len(value)}"
    elif isinstance(value, (str, numbers.Number)):
        return f"the {type(value).__name__} {value!r}"
    else:
        what = type(value).__name__
    return ("an " if what[0].lower() in "aeiou" else "a ") + what


def one_line(text: Any) -> str:
    """The first non-blank line of ``text`` (an error message), with " …" if more lines followed."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[0] + (" …" if len(lines) > 1 else "")


def _int_hint(value: Any) -> str:
    """What to do instead of passing ``value`` where a whole number is meant."""
    if isinstance(value, str):
        return ": pass the number itself, without quotes"
    if isinstance(value, (bool, np.bool_)):
        return ": True and False are not counts; pass a number such as 1"
    if isinstance(value, torch.Tensor):
        return ": pass a Python number, e.g. value.item()"
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return f": pass a whole number (an int) such as {int(value)}"
    return ": pass a whole number such as 10"


def count(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as a Python int: a Python or NumPy integer (never a bool) in [minimum, maximum].

    Used for every count, size and seed of the utils API (``subset``, ``batch_size``, ``k``,
    ``epochs``, ``seed``, threads, ...)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an int, got {describe(value)}{_int_hint(value)}")
    value = int(value)
    if value < minimum:
        kind = {0: "non-negative int (0 or more)", 1: "positive int (1 or more)"}.get(
            minimum, f"int of at least {minimum}")
        raise ValueError(f"{name} must be a {kind}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an int of at most {maximum}, got {value}")
    return value


def positive_number(value: Any, name: str) -> float:
    """``value`` as a finite float greater than zero (a learning rate, a scale)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a positive number, got {describe(value)}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number greater than 0, got {value}")
    return value


def function(value: Any, name: str, example: str) -> Any:
    """``value`` unchanged if it can be called; else an error showing ``example`` of a good one."""
    if not callable(value):
        raise ArgumentTypeError(f"{name} must be a function, e.g. {example}, got {describe(value)}")
    return value


def has_parts(obj: Any, name: str, *parts: str) -> None:
    """O(1): ``obj`` has every attribute in ``parts`` (e.g. a VAE's encoder and decoder)."""
    missing = [part for part in parts if not hasattr(obj, part)]
    if missing:
        raise ArgumentTypeError(f"{name} must have {', '.join('.' + p for p in parts)} (like a "
                                f"utils.vae.VAE), got {describe(obj)} without {', '.join(missing)}")


def tensor(value: Any, name: str) -> torch.Tensor:
    """O(1): ``value`` is a torch tensor (NumPy arrays get the conversion to use)."""
    if isinstance(value, torch.Tensor):
        return value
    how = ("torch.from_numpy(...)" if isinstance(value, np.ndarray) else "torch.as_tensor(...)")
    raise ArgumentTypeError(f"{name} must be a torch.Tensor, got {describe(value)}: convert it "
                            f"with {how}")


def _flatten_hint(x: torch.Tensor, name: str) -> str:
    """How to turn ``x`` into a 2-D batch of flat images."""
    if x.ndim == 1:
        return f"for one image use {name}.reshape(1, -1)"
    return f"flatten the images with {name}.reshape(len({name}), -1)"


def float_tensor(x: Any, name: str = "x") -> torch.Tensor:
    """O(1): ``x`` is a non-empty float tensor (pixel intensities, not bytes)."""
    x = tensor(x, name)
    if not torch.is_floating_point(x):
        fix = f"{name}.float() / 255" if x.dtype == torch.uint8 else f"{name}.float()"
        raise ArgumentTypeError(f"{name} must hold float pixel intensities in [0, 1], got dtype "
                                f"{x.dtype}: convert with {fix}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): pass at least one image")
    return x


def images(x: Any, name: str = "x", like: torch.nn.Module | Any = None) -> torch.Tensor:
    """O(1): ``x`` is a non-empty 2-D float tensor of flat images (N, pixels), with the dtype and
    device of ``like``'s parameters when ``like`` is a module that has some."""
    x = tensor(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a batch of flat images of shape (N, 784), got shape "
                         f"{tuple(x.shape)}: {_flatten_hint(x, name)}")
    float_tensor(x, name)
    if isinstance(like, torch.nn.Module):
        same_dtype_and_device(x, name, like)
    return x


def same_dtype_and_device(x: torch.Tensor, name: str, module: torch.nn.Module) -> None:
    """O(1): ``x`` has the dtype and device of ``module``'s first parameter (if it has one)."""
    param = _first_parameter(module)
    if param is None:
        return
    if x.dtype != param.dtype:
        raise ArgumentTypeError(f"{name} is {x.dtype} but the model's parameters are {param.dtype}: "
                                f"convert with {name}.to({param.dtype})")
    if x.device != param.device:
        raise ValueError(f"{name} is on {x.device} but the model is on {param.device}: move it "
                         f"with {name}.to(device)")


def _first_parameter(module: torch.nn.Module) -> torch.nn.Parameter | None:
    """The first parameter of ``module`` or its submodules, breadth first: a walk over a few dicts
    (``module.parameters()`` builds every parameter's name first, which a training step notices)."""
    queue = [module]
    for current in queue:
        for param in current._parameters.values():
            if param is not None:
                return param
        queue.extend(child for child in current._modules.values() if child is not None)
    return None


def _range_problem(x: torch.Tensor, name: str) -> str:
    """Why the values of ``x`` are not intensities in [0, 1] (called only once a check failed)."""
    if torch.isnan(x).any():
        return f"{name} contains NaN: find where it came from (a division by zero?) and fix it there"
    lo, hi = (v.item() for v in torch.aminmax(x))
    fix = "divide 0..255 bytes by 255" if 1 < hi <= 255 and lo >= 0 else "rescale them to [0, 1]"
    return f"{name} must hold pixel intensities in [0, 1], got values in [{lo:.3g}, {hi:.3g}]: {fix}"


def unit_interval(x: torch.Tensor, name: str = "x") -> None:
    """One scan: every value of the non-empty float tensor ``x`` is in [0, 1] (NaN fails)."""
    lo, hi = (v.item() for v in torch.aminmax(x.detach()))
    if not (lo >= 0 and hi <= 1):                             # NaN compares False: it fails too
        raise ValueError(_range_problem(x.detach(), name))


def first_image_in_unit_interval(x: torch.Tensor, name: str = "x") -> None:
    """O(pixels): the first image of the batch ``x`` is in [0, 1]. A cheap guard for a loss that
    runs every training step: it catches 0..255 bytes, not a stray NaN further down the batch."""
    unit_interval(x[:1], f"{name} (its first image)")


def binary(x: torch.Tensor, name: str = "x") -> None:
    """One scan: every value of the float tensor ``x`` is 0 or 1 (a Bernoulli likelihood's data)."""
    if bool(((x == 0) | (x == 1)).all()):
        return
    unit_interval(x, name)                                    # NaN or out of range: say so
    raise ValueError(f"{name} must be binary (0/1 pixels) for a Bernoulli likelihood: binarize it "
                     "first, e.g. fixed_binarization(x, seed) for a validation or test set")
