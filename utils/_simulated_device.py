"""A CPU device that behaves like an accelerator, so that device bugs show without a GPU (tests).

CI has no GPU, yet the mistakes that break the course on one are easy to make and invisible on the
CPU: data moved to the device while a model stays behind, a tensor made without ``device=``, or
float64 on the device (Apple's mps has none). With ``LVM_SIMULATED_ACCELERATOR`` set,
:func:`utils.runtime.setup` returns :data:`SIMULATED_DEVICE` (``cpu:0``) and activates a torch
function mode that remembers which storages were put "on the device" and then, like CUDA and mps:

- refuses an operation that mixes device tensors with CPU tensors (CPU scalars, 0-d, are allowed,
  as CUDA allows them; indexing a device tensor with a CPU index is allowed, as CUDA allows it);
- refuses float64 (and complex128) on the device, as mps does;
- refuses ``.numpy()`` of a device tensor (so ``np.asarray``, matplotlib), as CUDA does;
- answers ``tensor.device`` with ``cpu:0`` for a device tensor, so ``device=x.device`` works.

Tensors are really on the CPU: results are the CPU's. What is "on the device" is a property of the
storage (a view of a device tensor is on the device; ``.to(device)`` copies, ``.cpu()`` copies
back), kept in a weak set, so a freed storage is forgotten.
"""
from __future__ import annotations

import weakref

import torch
from torch.overrides import TorchFunctionMode

SIMULATED_DEVICE = torch.device("cpu", 0)
_CPU = torch.device("cpu")
_WIDE = (torch.float64, torch.complex128)

_on_device: "weakref.WeakSet[torch.UntypedStorage]" = weakref.WeakSet()


class DeviceMixError(RuntimeError):
    """An operation mixed tensors of the (simulated) accelerator and of the CPU."""


def _storage(t: torch.Tensor):
    try:
        return t.untyped_storage()
    except (RuntimeError, NotImplementedError):    # sparse and other storage-less tensors
        return None


def on_device(t: torch.Tensor) -> bool:
    """Whether ``t`` lives on the simulated accelerator."""
    s = _storage(t)
    return s is not None and s in _on_device


def _mark(t: torch.Tensor) -> None:
    s = _storage(t)
    if s is not None:
        _on_device.add(s)


def _tensors(obj, out: list) -> list:
    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _tensors(item, out)
    elif isinstance(obj, dict):
        for item in obj.values():
            _tensors(item, out)
    return out


def _as_device(value):
    """``value`` as a torch.device if it names one (a str, a device or an int index), else None."""
    if isinstance(value, torch.device):
        return value
    if isinstance(value, str):
        try:
            return torch.device(value)
        except RuntimeError:
            return None
    return None


def _is_sim(device) -> bool:
    return device is not None and device.type == "cpu" and device.index == 0


def _is_plain_cpu(device) -> bool:
    return device is not None and device.type == "cpu" and device.index is None


def _target_device(func, args, kwargs):
    """The device a call asks for (``device=``, or ``.to(device)``), or None."""
    if "device" in kwargs:
        return _as_device(kwargs["device"]) or (kwargs["device"] if isinstance(kwargs["device"], torch.device) else None)
    if func is torch.Tensor.to:
        for a in args[1:]:
            if isinstance(a, torch.Tensor):
                return SIMULATED_DEVICE if on_device(a) else _CPU
            d = _as_device(a)
            if d is not None:
                return d
    return None


def _wide_message(what: str) -> str:
    return (f"{what} on the accelerator: Apple's mps has no float64 (simulated accelerator). "
            "Do float64 work on a CPU copy: x.cpu().double()")


def _copy_if_shared(result, source):
    if isinstance(result, torch.Tensor) and isinstance(source, torch.Tensor) \
            and _storage(result) is not None and _storage(result) is _storage(source):
        return result.clone()
    return result


class SimulatedAccelerator(TorchFunctionMode):
    """The torch function mode behind ``LVM_SIMULATED_ACCELERATOR`` (see the module's docstring)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = getattr(func, "__name__", "")
        if name == "__get__":                                    # a property of a tensor
            owner = getattr(func, "__self__", None)
            prop = getattr(owner, "__name__", "")
            result = func(*args, **kwargs)
            tensor = args[0] if args else None
            if prop == "device" and isinstance(tensor, torch.Tensor) and on_device(tensor):
                return SIMULATED_DEVICE
            if prop == "grad" and isinstance(result, torch.Tensor) and on_device(tensor):
                _mark(result)                                    # made by autograd's engine
            return result
        target = _target_device(func, args, kwargs)
        if _is_sim(target) and "device" in kwargs:
            kwargs["device"] = _CPU
        if func is torch.Tensor.to and _is_sim(target):
            args = tuple(_CPU if _as_device(a) is not None and _is_sim(_as_device(a)) else a for a in args)
        inputs = _tensors(args, []) + _tensors(kwargs, [])
        marked = [t for t in inputs if on_device(t)]
        self._check_mixing(func, name, inputs, marked, args)
        if name in ("numpy", "__array__") and marked:
            raise TypeError("can't convert a tensor on the accelerator to numpy: use .cpu() first "
                            "(simulated accelerator)")
        result = func(*args, **kwargs)
        if func in (torch.Tensor.cpu,) or (func is torch.Tensor.to and _is_plain_cpu(target)):
            return _copy_if_shared(result, args[0]) if marked else result
        if func is torch.Tensor.to and _is_sim(target) and not marked:
            result = _copy_if_shared(result, args[0])
        to_device = _is_sim(target) or (bool(marked) and not _is_plain_cpu(target))
        if to_device:
            for t in _tensors(result, []):
                if t.dtype in _WIDE:
                    raise TypeError(_wide_message(f"{name or func} gives {t.dtype}"))
                _mark(t)
        return result

    @staticmethod
    def _check_mixing(func, name, inputs, marked, args):
        if not marked or func in (torch.Tensor.to, torch.Tensor.copy_, torch.Tensor.cpu) \
                or name in ("__getitem__", "__repr__", "__format__", "__str__", "__set__", "set_") \
                or (name.startswith("_") and not name.startswith("__")):   # torch's internals
            return
        others = [t for t in inputs if t.dim() > 0 and t.numel() > 0 and not on_device(t)]
        if name == "__setitem__":                      # a CPU index is fine, a CPU value is not
            others = [t for t in _tensors([args[0], args[2]], []) if t.dim() > 0 and not on_device(t)]
        if others:
            shapes = ", ".join(str(tuple(t.shape)) for t in others[:3])
            raise DeviceMixError(
                f"{name or func} mixes tensors on the accelerator with CPU tensors of shape {shapes}: "
                "move them to the same device with .to(device) (simulated accelerator)")


_mode: SimulatedAccelerator | None = None


def activate() -> None:
    """Turn the simulation on for the rest of this process (once; later calls do nothing)."""
    global _mode
    if _mode is None:
        _mode = SimulatedAccelerator()
        _mode.__enter__()
