"""Figures for the course: image grids, latent scatters, manifolds, curves, live figures, progress."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from .runtime import is_smoke_test

IMAGE_SIDE = 28
IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"


def progress(iterable=None, **kwargs):
    """A progress bar (``tqdm.auto``: a widget in JupyterLab, text elsewhere)."""
    return tqdm(iterable, **kwargs)


def save_figure(fig, name: str) -> Path:
    """Save ``fig`` as images/<name> (a .png or .svg file, byte-stable across runs).

    In smoke mode nothing is written: the committed figures come from full runs.
    """
    path = IMAGES_DIR / name
    if path.suffix not in (".png", ".svg"):
        raise ValueError(f"figure name must end in .png or .svg, got {name!r}")
    if is_smoke_test():
        return path
    metadata = {"Software": None} if path.suffix == ".png" else {"Date": None, "Creator": None}
    fig.savefig(path, bbox_inches="tight", dpi=150, metadata=metadata)
    return path


def _to_numpy(a) -> np.ndarray:
    """A tensor or array as a NumPy array on the CPU."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def as_images(x) -> np.ndarray:
    """Images (N, 784), (N, 28, 28) or (N, 1, 28, 28) as an (N, 28, 28) array."""
    a = _to_numpy(x)
    if a.ndim == 1 and a.size == IMAGE_SIDE**2:
        a = a[None]
    if a.ndim == 2 and a.shape[1] == IMAGE_SIDE**2:
        return a.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if a.ndim == 3 and a.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        return a
    if a.ndim == 4 and a.shape[1:] == (1, IMAGE_SIDE, IMAGE_SIDE):
        return a[:, 0]
    raise ValueError(f"expected MNIST images of shape (N, 784), (N, 28, 28) or (N, 1, 28, 28), "
                     f"got {tuple(a.shape)}")


def image_grid(x, nrow: int = 10, ax=None, title: str | None = None, cmap: str = "gray_r"):
    """Tile images into one picture, ``nrow`` per row; return the axes."""
    imgs = as_images(x)
    if not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive int, got {nrow!r}")
    n = len(imgs)
    rows = -(-n // nrow)
    canvas = np.full((rows * (IMAGE_SIDE + 2), nrow * (IMAGE_SIDE + 2)), np.nan)
    for i, img in enumerate(imgs):
        r, c = divmod(i, nrow)
        canvas[r * (IMAGE_SIDE + 2) + 1:(r + 1) * (IMAGE_SIDE + 2) - 1,
               c * (IMAGE_SIDE + 2) + 1:(c + 1) * (IMAGE_SIDE + 2) - 1] = img
    if ax is None:
        _, ax = plt.subplots(figsize=(nrow * 0.6, rows * 0.6 + (0.4 if title else 0)))
    ax.imshow(canvas, cmap=cmap)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def reconstruction_rows(x, x_hat, n: int = 10, title: str | None = None, ax=None):
    """Originals (top row) above their reconstructions (bottom row)."""
    a, b = as_images(x)[:n], as_images(x_hat)[:n]
    if a.shape != b.shape:
        raise ValueError(f"originals and reconstructions differ in shape: {a.shape} vs {b.shape}")
    ax = image_grid(np.concatenate([a, b]), nrow=len(a), ax=ax, title=title)
    ax.text(-2, IMAGE_SIDE / 2, "original", ha="right", va="center")
    ax.text(-2, 1.5 * IMAGE_SIDE + 2, "reconstruction", ha="right", va="center")
    return ax


def _check_latent_2d(z: np.ndarray, name: str = "z") -> None:
    """Raise ValueError unless ``z`` is an (N, 2) array."""
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) for a 2-D plot, got {tuple(z.shape)}; "
                         "for a larger latent, project it to 2-D first (e.g. PCA).")


def latent_scatter(z, labels, z_std=None, ax=None, title: str | None = None,
                   s: float = 3, alpha: float = 0.6):
    """2-D codes coloured by digit label, with optional error bars of posterior std."""
    z, labels = _to_numpy(z), _to_numpy(labels)
    _check_latent_2d(z)
    if labels.shape != (len(z),):
        raise ValueError(f"labels must have shape ({len(z)},), got {labels.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    if z_std is not None:
        z_std = _to_numpy(z_std)
        if z_std.shape != z.shape:
            raise ValueError(f"z_std must have the shape of z {z.shape}, got {z_std.shape}")
        colours = plt.get_cmap("tab10")(labels % 10)
        ax.errorbar(z[:, 0], z[:, 1], xerr=z_std[:, 0], yerr=z_std[:, 1], fmt="none",
                    ecolor=colours, alpha=0.25, linewidth=0.6)
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5,
                        s=s, alpha=alpha)
    ax.figure.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def latent_manifold(decode: Callable[[torch.Tensor], torch.Tensor], extent=(-3, 3, -3, 3),
                    n: int = 15, contour_points=None, ax=None, title: str | None = None):
    """Decode an n×n grid of 2-D codes over ``extent``; optionally outline ``contour_points``.

    ``decode`` maps codes (m, 2) to images (m, 784) with values in [0, 1].
    """
    x0, x1, y0, y1 = extent
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with min < max, got {extent}")
    z1 = torch.linspace(x0, x1, n)
    z2 = torch.linspace(y1, y0, n)  # top row = largest z2
    grid = torch.stack(torch.meshgrid(z2, z1, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
    with torch.no_grad():
        imgs = as_images(decode(grid))
    canvas = imgs.reshape(n, n, IMAGE_SIDE, IMAGE_SIDE).transpose(0, 2, 1, 3)
    canvas = canvas.reshape(n * IMAGE_SIDE, n * IMAGE_SIDE)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(canvas, cmap="gray_r", extent=(x0, x1, y0, y1))
    if contour_points is not None:
        _outline(ax, _to_numpy(contour_points), extent)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def _outline(ax, points: np.ndarray, extent, bins: int = 60) -> None:
    """Draw the contour holding about 95% of ``points`` (a 2-D histogram's level set)."""
    _check_latent_2d(points, "contour_points")
    x0, x1, y0, y1 = extent
    hist, xe, ye = np.histogram2d(points[:, 0], points[:, 1], bins=bins, range=[[x0, x1], [y0, y1]])
    levels = np.sort(hist.ravel())[::-1]
    mass = np.cumsum(levels) / max(levels.sum(), 1)
    level = levels[min(np.searchsorted(mass, 0.95), len(levels) - 1)]
    xc, yc = (xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2
    ax.contour(xc, yc, hist.T, levels=[max(level, 0.5)], colors="tab:red", linewidths=1.5)


def training_curves(history: Mapping[str, Sequence[float]], ax=None,
                    ylabel: str = "negative ELBO (nats per image)", xlabel: str = "epoch",
                    title: str | None = None):
    """One line per named series, e.g. {'train': [...], 'validation': [...]}."""
    if not history:
        raise ValueError("history is empty: expected e.g. {'train': [...], 'validation': [...]}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, values in history.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 1:
            raise ValueError(f"series {name!r} must be 1-D, got shape {values.shape}")
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


class LiveFigure:
    """A figure redrawn in place while training, through an IPython display handle.

    ``live = LiveFigure(ncols=2)``; then ``live.update()`` after drawing on ``live.axes``;
    ``live.close()`` at the end. Outside IPython nothing is displayed until ``close``.
    """

    def __init__(self, ncols: int = 1, figsize=(10, 4)):
        self.fig, axes = plt.subplots(1, ncols, figsize=figsize, squeeze=False)
        self.axes = list(axes[0])
        self._handle = None

    def clear(self) -> list:
        """Clear the whole figure (colorbars included) and return fresh axes."""
        n = len(self.axes)
        self.fig.clear()
        self.axes = [self.fig.add_subplot(1, n, i + 1) for i in range(n)]
        return self.axes

    def update(self) -> None:
        """Show the figure's current state in place of the previous one."""
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        self.fig.tight_layout()
        if self._handle is None:
            self._handle = display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)

    def close(self) -> None:
        """Show the final state once more and release the figure (no duplicate at cell end)."""
        self.update()
        plt.close(self.fig)
