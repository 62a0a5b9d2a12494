"""Trained models saved by the full-mode run that trained them, and loaded instead of training in
class mode (so that an instructor can run every cell of a lecture live, in minutes).

Every training run of a lecture goes through :func:`trained`::

    history = trained("04_vae_pytorch/vae2", model=vae, train=lambda: train(vae, ...),
                      config=dict(z_dim=2, epochs=EPOCHS, ...), callback=redraw)

- **By default** (students) it calls ``train()`` and returns what that returned: the lecture trains.
- **With $LVM_SAVE_CHECKPOINTS on** in a full-mode run (``make execute``, the benchmark's
  ``--save-outputs``) it then also writes ``checkpoints/<lecture>/<name>.pt``: the model's state
  dict as a float16 copy, what ``train()`` returned (the history that later cells and figures
  read) and torch's CPU random state after training; and the file's entry in
  ``checkpoints/<lecture>/manifest.json``: file, SHA-256, bytes, the configuration it was trained
  with, torch's version, the date. Smoke-mode runs never write.
- **In class mode** ($LVM_CLASS_MODE on, :func:`utils.runtime.is_class_mode`) it never trains. It
  finds the manifest's entry and refuses, with a :class:`CheckpointError` of one sentence that says
  what to do, when the entry or its file is missing, when ``config`` differs from the one the model
  was trained with (naming the key), or when the file's SHA-256 is not the manifest's (the file was
  changed or is corrupt). Otherwise it loads the file with ``torch.load(..., weights_only=True)``
  (tensors and plain values, never arbitrary objects), copies the weights into ``model`` (for a Pyro
  model it registers them in a cleared param store, as training leaves it), restores torch's CPU
  random state as training left it, calls ``callback(last_epoch, history)`` once (a live figure
  then shows its final state), prints one line and returns the stored history.

Without ``model`` only what ``train()`` returns is stored: for a run whose model the lecture uses
for a few numbers only (those numbers are then the stored result), or for a measurement (times).
The stored weights are float16 (half the bytes, so the whole set stays small): a loaded model is the
trained one rounded to float16, so class mode's numbers differ slightly from the committed run's
(a tensor with values beyond float16's range is kept in float32).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any, Callable

import torch

from . import _validate as check
from .runtime import (CHECKPOINT_DIR_ENV, CLASS_MODE_ENV, REPO_ROOT, SAVE_CHECKPOINTS_ENV,
                      checkpoint_dir, is_class_mode, is_smoke_test, saves_checkpoints)

FORMAT = 1                                   # the layout of a .pt file's dict, in the manifest too
MANIFEST = "manifest.json"
STORE_DTYPE = torch.float16                  # floating-point weights are stored in this dtype
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=+-]*$")    # no leading dot: no "..", no hidden files
_notes: set[str] = set()                     # one-time notes already printed in this process


class CheckpointError(RuntimeError):
    """Class mode cannot load a model: the message is one sentence saying why and what to do."""


def trained(name: str, *, config: dict, train: Callable[[], Any],
            model: torch.nn.Module | None = None,
            callback: Callable[[int, Any], None] | None = None) -> Any:
    """Train (``train()``, returning its result) or, in class mode, load what a full run trained.

    ``name``: "<lecture>/<model>", e.g. "04_vae_pytorch/vae2" (letters, digits, ``_ . = + -``).
    ``config``: what the model was trained with (epochs, seeds, sizes, data: JSON values); class
    mode refuses a checkpoint trained with another. ``train``: trains ``model`` in place and returns
    what later cells need (a history: dicts, lists, numbers, strings, tensors). ``model``: the
    module to save or to load the weights into (None: only the result is kept). ``callback``: in
    class mode, called once as ``callback(last_epoch, history)`` after loading (a live figure's
    redraw); ignored when training, where ``train`` passes it to the loop itself.
    See the module's docstring for the three modes."""
    lecture, key = _split(name)
    config = _plain_config(config)
    check.function(train, "train", "lambda: train_vae(vae, data.train_x, ...)")
    if model is not None and not isinstance(model, torch.nn.Module):
        raise check.ArgumentTypeError(f"model must be the torch module that train() trains (or "
                                      f"None to keep only its result), got {check.describe(model)}")
    if callback is not None:
        check.function(callback, "callback", "lambda epoch, history: None")
    if is_class_mode():
        return load(name, config, model, callback=callback)
    result = train()
    if saves_checkpoints():
        if is_smoke_test():
            _note_once("smoke", f"{SAVE_CHECKPOINTS_ENV} is set, but smoke mode saves no checkpoints "
                                "(class mode loads the models of full-mode runs)")
        else:
            save(name, config, model, result)
    return result


# --- saving -------------------------------------------------------------------------------------

def save(name: str, config: dict, model: torch.nn.Module | None, result: Any,
         folder: Path | None = None) -> Path:
    """Write ``model``'s weights (float16), ``result`` and torch's CPU random state to
    <folder>/<lecture>/<model>.pt and its entry in <folder>/<lecture>/manifest.json (default
    folder: :func:`utils.runtime.checkpoint_dir`); return the file's path."""
    lecture, key = _split(name)
    config = _plain_config(config)
    folder = Path(folder) if folder is not None else checkpoint_dir()
    weights, dtypes = (_stored_weights(model) if model is not None else (None, []))
    payload = {"format": FORMAT, "weights": weights, "result": _detached(result),
               "pyro_modules": _pyro_modules(model), "rng": torch.get_rng_state()}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    path = folder / lecture / f"{key}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, data)
    entry = {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
             "config": config, "torch": torch.__version__.split("+")[0],
             "trained": dt.date.today().isoformat(), "format": FORMAT,
             "contents": "weights and result" if model is not None else "result only",
             "parameters": sum(p.numel() for p in model.parameters()) if model is not None else 0,
             "dtype": "+".join(dtypes) if dtypes else None}
    manifest_path = path.parent / MANIFEST
    manifest = _read_manifest(manifest_path) if manifest_path.exists() else {}
    manifest[key] = entry
    _write_atomically(manifest_path, (json.dumps(dict(sorted(manifest.items())), indent=1)
                                      + "\n").encode("utf-8"))
    return path


def _stored_weights(model: torch.nn.Module) -> tuple[dict, list[str]]:
    """The state dict on the CPU, floating-point tensors in STORE_DTYPE when their values fit."""
    out, dtypes = {}, set()
    limit = torch.finfo(STORE_DTYPE).max
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if v.is_floating_point() and (v.numel() == 0 or v.abs().max().item() <= limit):
            v = v.to(STORE_DTYPE)
        out[k] = v.clone()                       # its own storage: no views of larger tensors
        dtypes.add(str(v.dtype).removeprefix("torch."))
    return out, sorted(dtypes)


def _detached(value: Any) -> Any:
    """``value`` with every tensor detached and on the CPU (lists, tuples and dicts followed)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(v) for v in value)
    return value


def _pyro_modules(model: torch.nn.Module | None) -> list[str]:
    """The submodules of ``model`` whose parameters Pyro's param store holds (after train_svi)."""
    if model is None or not (callable(getattr(model, "model", None))
                             and callable(getattr(model, "guide", None))):
        return []
    try:
        import pyro
    except ImportError:
        return []
    store = pyro.get_param_store()
    names = []
    for child, module in model.named_children():
        params = list(module.named_parameters())
        if params and all(f"{child}$$${n}" in store and store[f"{child}$$${n}"] is p
                          for n, p in params):
            names.append(child)
    return names


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- loading ------------------------------------------------------------------------------------

def load(name: str, config: dict, model: torch.nn.Module | None = None, *,
         callback: Callable[[int, Any], None] | None = None, folder: Path | None = None,
         quiet: bool = False) -> Any:
    """Class mode's half of :func:`trained`: check the entry, the configuration and the SHA-256,
    load (weights_only), fill ``model``, restore the random state, call ``callback`` once, print
    one line; return the stored result. Every refusal is a :class:`CheckpointError`."""
    lecture, key = _split(name)
    config = _plain_config(config)
    folder = Path(folder) if folder is not None else checkpoint_dir()
    manifest_path = folder / lecture / MANIFEST
    retrain = (f"run the lecture once in full mode with {SAVE_CHECKPOINTS_ENV}=1 (`make execute "
               f"NB=lectures/{lecture}.ipynb`) to train and save it, or unset {CLASS_MODE_ENV} to "
               f"train it in this run")
    if not manifest_path.exists():
        raise CheckpointError(f"class mode needs the trained models of {lecture}, but "
                              f"{_shown(manifest_path)} does not exist: {retrain}")
    manifest = _read_manifest(manifest_path)
    if key not in manifest:
        raise CheckpointError(f"class mode needs the trained model {key!r}, but "
                              f"{_shown(manifest_path)} has no entry for it: {retrain}")
    entry = manifest[key]
    _same_config(key, entry.get("config"), config, manifest_path, retrain)
    path = folder / lecture / str(entry.get("file", ""))
    if not path.is_file():
        raise CheckpointError(f"{_shown(path)}, the checkpoint of {key!r} named by "
                              f"{_shown(manifest_path)}, is missing: restore it (`git checkout -- "
                              f"{_shown(path)}`), or {retrain}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise CheckpointError(f"{_shown(path)} is not the file that was saved (its SHA-256 differs "
                              f"from the one in {_shown(manifest_path)}: it was changed or is "
                              f"corrupt), so class mode does not load it: restore it (`git checkout "
                              f"-- {_shown(path)}`), or {retrain}")
    state = _load_weights_only(data, path, retrain)
    if model is not None:
        _fill(model, state.get("weights"), key, path, retrain)
        _register_in_pyro(model, state.get("pyro_modules") or [])
    if isinstance(state.get("rng"), torch.Tensor):
        torch.set_rng_state(state["rng"])
    result = state.get("result")
    if callback is not None and isinstance(result, dict) and result.get("train"):
        callback(len(result["train"]) - 1, result)
    if not quiet:
        print(_loaded_line(key, entry, path, model is not None))
    return result


def _load_weights_only(data: bytes, path: Path, retrain: str) -> dict:
    """torch.load with weights_only=True: a file holding other objects is refused, never run."""
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError,
            AttributeError, ImportError) as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = f"it refers to {found.group(1)}" if found else "it is not a readable torch file"
        raise CheckpointError(f"{_shown(path)} cannot be loaded as tensors and plain values "
                              f"(torch.load with weights_only=True refused it: {what}), so class "
                              f"mode does not load it: {retrain}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{_shown(path)} is not a course checkpoint of format {FORMAT}: "
                              f"{retrain}")
    return state


def _fill(model: torch.nn.Module, weights: Any, key: str, path: Path, retrain: str) -> None:
    """Copy the stored weights into ``model`` (strict: the same layers and shapes)."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"{_shown(path)} holds no weights for {key!r} (only a result), but "
                              f"the lecture gives a model to load them into: {retrain}")
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(f"the weights in {_shown(path)} do not fit this lecture's model "
                              f"{key!r} ({check.one_line(err)[:160]}): {retrain}") from None


def _register_in_pyro(model: torch.nn.Module, modules: list[str]) -> None:
    """As train_svi leaves it: a param store holding exactly the model's own parameters."""
    if not modules:
        return
    import pyro
    pyro.clear_param_store()
    for child in modules:
        pyro.module(child, getattr(model, child))


def _loaded_line(key: str, entry: dict, path: Path, has_model: bool) -> str:
    config = entry.get("config") or {}
    facts = []
    if "epochs" in config:
        facts.append(f"{config['epochs']} epoch{'s' if config['epochs'] != 1 else ''}")
    facts.append(f"trained {entry.get('trained', '?')}" if has_model else
                 f"computed {entry.get('trained', '?')}")
    if has_model and entry.get("dtype"):
        facts.append(f"{entry['dtype']} weights")
    what = key if has_model else f"the result of {key}"
    return f"class mode: loaded {what} ({', '.join(facts)}) from {_shown(path)}"


# --- the manifest and the configuration ---------------------------------------------------------

def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{_shown(path)} cannot be read as JSON ({check.one_line(err)}): "
                              f"restore it (`git checkout -- {_shown(path)}`)") from None
    if not isinstance(manifest, dict) or not all(isinstance(v, dict) for v in manifest.values()):
        raise CheckpointError(f"{_shown(path)} is not a manifest of checkpoints (a JSON object of "
                              f"entries): restore it (`git checkout -- {_shown(path)}`)")
    return manifest


def _same_config(key: str, saved: Any, asked: dict, manifest_path: Path, retrain: str) -> None:
    """Refuse, naming the first key that differs, a checkpoint trained with another configuration."""
    saved = saved if isinstance(saved, dict) else {}
    for k in sorted(set(saved) | set(asked)):
        if saved.get(k, _MISSING) != asked.get(k, _MISSING):
            was = "without it" if k not in saved else f"with {k}={saved[k]!r}"
            now = "does not set it" if k not in asked else f"asks for {k}={asked[k]!r}"
            raise CheckpointError(f"{key!r} in {_shown(manifest_path)} was trained {was}, but this "
                                  f"run {now} (configuration key {k!r} differs): {retrain}")


_MISSING = object()


def _plain_config(config: Any) -> dict:
    """``config`` as plain JSON values (tuples become lists), so that it compares with the stored."""
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise check.ArgumentTypeError(f"config must be a dict with str keys (what the model is "
                                      f"trained with, e.g. dict(epochs=10, seed=0)), got "
                                      f"{check.describe(config)}")
    for k, v in config.items():
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError):
            raise check.ArgumentTypeError(f"config[{k!r}] must be a number, a string, a bool, "
                                          f"None or a list of them (JSON), got "
                                          f"{check.describe(v)}") from None
    return json.loads(json.dumps(config))


def _split(name: Any) -> tuple[str, str]:
    parts = name.split("/") if isinstance(name, str) else []
    if len(parts) != 2 or not all(_NAME.match(p) for p in parts):
        raise ValueError(f"a checkpoint's name is '<lecture>/<model>', e.g. '04_vae_pytorch/vae2' "
                         f"(letters, digits and _ . = + - only), got {name!r}")
    return parts[0], parts[1]


def _shown(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it (no machine paths)."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _note_once(key: str, text: str) -> None:
    if key not in _notes:
        _notes.add(key)
        print(text)


# --- lighter evaluations in class mode -------------------------------------------------------------

def lighter(full: Any, light: Any, what: str) -> Any:
    """``full`` normally; in class mode ``light`` (fewer test images, draws, ...), saying so in one
    line, e.g. ``K_IMAGES = lighter(10_000, 1_000, "test images for −log p(x)")``."""
    if not is_class_mode():
        return full
    shown = lambda v: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
    print(f"class mode: {what}: {shown(light)} instead of the full run's {shown(full)}")
    return light


# --- the whole set ------------------------------------------------------------------------------

def summary(folder: Path | None = None) -> str:
    """One line per lecture (entries, megabytes) and the total: what the checkpoints weigh."""
    folder = Path(folder) if folder is not None else checkpoint_dir()
    lines, total = [], 0
    for manifest_path in sorted(folder.glob(f"*/{MANIFEST}")):
        manifest = _read_manifest(manifest_path)
        size = sum(int(e.get("bytes", 0)) for e in manifest.values())
        total += size
        lines.append(f"{manifest_path.parent.name}: {len(manifest)} checkpoint(s), "
                     f"{size / 1e6:.1f} MB")
    lines.append(f"checkpoints in {_shown(folder)}: {total / 1e6:.1f} MB in all")
    return "\n".join(lines)


__all__ = ["CheckpointError", "trained", "lighter", "save", "load", "summary", "CHECKPOINT_DIR_ENV"]
