"""Figures for the course: image grids, latent scatters, manifolds, curves, live figures (and
``progress``, re-exported from ``utils.progress``).

Importing this module applies the course's figure style (``STYLE``): figures are embedded at
80 dpi and every text is at least 12 pt, i.e. at least 13.3 pixels high in the embedded image, the
height of 10 pt text in a browser (96 px per inch): readable on a projector at the committed size.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import _validate as check
from . import data
from .progress import progress  # noqa: F401 (re-exported: `from utils.plots import progress`)
from .runtime import is_class_mode, is_smoke_test, run_number

IMAGE_SIDE = 28
IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
FULL_MNIST = "full MNIST"                  # utils.data's name for the full data set
DATA_SOURCE_HOOK = "last_loaded_source"    # utils.data's record of what load_mnist last loaded
_told_in_run: int | None = None            # the notebook run in which save_figure said why it wrote nothing

# The course's figure style. A notebook embeds a figure at figure.dpi, and a browser shows it at
# 96 image pixels per inch, so text of s points appears at s * dpi / 96 points: 12 pt at 80 dpi is
# 10 pt on screen. Titles ("large") come out at 14.4 pt.
STYLE = {"figure.dpi": 80, "font.size": 12, "axes.titlesize": "large", "axes.labelsize": "medium",
         "xtick.labelsize": "medium", "ytick.labelsize": "medium", "legend.fontsize": "medium",
         "legend.title_fontsize": "medium", "figure.titlesize": "large"}
MIN_SCREEN_PT = 10      # the smallest text a figure may show, in points as a browser displays it


def use_course_style() -> None:
    """Apply ``STYLE`` to matplotlib (done on import; call again after changing rcParams)."""
    plt.rcParams.update(STYLE)


def screen_points(fontsize: float, dpi: float) -> float:
    """How large text of ``fontsize`` points drawn at ``dpi`` looks in a browser (96 px per inch)."""
    return fontsize * dpi / 96


use_course_style()


def save_figure(fig, name: str) -> Path:
    """Save ``fig`` as images/<name> (a .png or .svg file, byte-stable across runs); return the path.

    ``name`` is a plain file name: save_figure never writes outside images/. The committed figures
    come only from a deliberate full run on full MNIST, so in smoke mode, or when the MNIST loaded
    in this process was not the full set (the fallback sample, a subset), nothing is written, and
    the first such call in each run of the notebook prints one line saying why.
    """
    path = _figure_path(name)
    if not callable(getattr(fig, "savefig", None)):
        raise check.ArgumentTypeError(f"fig must be a matplotlib figure (e.g. from plt.subplots() or "
                                      f"ax.figure), got {check.describe(fig)}")
    reason = _reason_not_to_save()
    if reason is not None:
        _say_once_why_not_saved(reason)
        return path
    metadata = {"Software": None} if path.suffix == ".png" else {"Date": None, "Creator": None}
    fig.savefig(path, bbox_inches="tight", dpi=150, metadata=metadata)
    return path


def _figure_path(name: str) -> Path:
    """images/<name> for a plain .png or .svg file name; anything that could leave images/ raises."""
    if not isinstance(name, str):
        raise check.ArgumentTypeError(f"figure name must be a str such as '04_manifold.png', got "
                                      f"{check.describe(name)}")
    posix, windows = PurePosixPath(name.replace("\\", "/")), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive:
        raise ValueError(f"figure name must be a file name inside images/, got the absolute path "
                         f"{name!r}: give a plain name such as '04_manifold.png'")
    if ".." in posix.parts:
        raise ValueError(f"figure name {name!r} leads out of images/ ('..'): give a plain name such "
                         "as '04_manifold.png'")
    if len(posix.parts) > 1:
        raise ValueError(f"figure name {name!r} has a folder part, but figures live directly in "
                         "images/: give a plain name such as '04_manifold.png'")
    if posix.suffix not in (".png", ".svg"):
        raise ValueError(f"figure name must end in .png or .svg, got {name!r}")
    return IMAGES_DIR / name


def _reason_not_to_save() -> str | None:
    """Why this process must not write committed figures (smoke mode, class mode, not full MNIST),
    or None: the committed figures come from full training only."""
    if is_smoke_test():
        return "smoke mode is on (CI is set)"
    if is_class_mode():
        return "class mode is on (LVM_CLASS_MODE is set: the models were loaded, not trained)"
    source = getattr(data, DATA_SOURCE_HOOK, None)
    if source is not None and source != FULL_MNIST:
        return f"this run loaded {source}, not {FULL_MNIST}"
    return None


def _say_once_why_not_saved(reason: str) -> None:
    """Print, once per run of the notebook (utils.runtime.setup starts a run), one line saying why
    figures are not written and how to write them: a re-run in the same kernel shows it again."""
    global _told_in_run
    if _told_in_run == run_number():
        return
    _told_in_run = run_number()
    print(f"save_figure: {reason}, so no figure is written to images/ in this run; to write them, "
          f"run in full mode (CI unset) on {FULL_MNIST}, e.g. make execute NB=<notebook>.ipynb")


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


def image_grid(x, nrow: int = 10, ax=None, title: str | None = None, cmap: str = "gray_r",
               colorbar: str | None = None):
    """Tile images into one picture, ``nrow`` per row; return the axes.

    ``colorbar``: a label; when given, a colour bar with that label explains the grey (or colour)
    levels, e.g. for signed images such as principal components.
    """
    imgs = as_images(x)
    nrow = check.count(nrow, "nrow")
    n = len(imgs)
    if n == 0:
        raise ValueError("x holds no images (shape (0, 784)): pass at least one image to draw")
    rows = -(-n // nrow)
    canvas = np.full((rows * (IMAGE_SIDE + 2), nrow * (IMAGE_SIDE + 2)), np.nan)
    for i, img in enumerate(imgs):
        r, c = divmod(i, nrow)
        canvas[r * (IMAGE_SIDE + 2) + 1:(r + 1) * (IMAGE_SIDE + 2) - 1,
               c * (IMAGE_SIDE + 2) + 1:(c + 1) * (IMAGE_SIDE + 2) - 1] = img
    if ax is None:
        _, ax = plt.subplots(figsize=(nrow * 0.8, rows * 0.8 + (0.4 if title else 0)))
    image = ax.imshow(canvas, cmap=cmap)
    ax.set_axis_off()
    if colorbar:               # a bar beside the tiles, as tall as they are, a fifth of a tile wide
        tile = 1 / min(n, nrow)
        cax = ax.inset_axes([1 + 0.1 * tile, 0, 0.2 * tile, 1])
        ax.figure.colorbar(image, cax=cax, label=colorbar)
    if title:
        ax.set_title(title)
    return ax


def reconstruction_rows(x, x_hat, n: int = 10, title: str | None = None, ax=None):
    """Originals (top row) above their reconstructions (bottom row)."""
    n = check.count(n, "n")
    a, b = as_images(x)[:n], as_images(x_hat)[:n]
    if a.shape != b.shape:
        raise ValueError(f"originals and reconstructions differ in shape: {a.shape} vs {b.shape}")
    ax = image_grid(np.concatenate([a, b]), nrow=len(a), ax=ax, title=title)
    ax.text(-2, IMAGE_SIDE / 2, "original", ha="right", va="center")
    ax.text(-2, 1.5 * IMAGE_SIDE + 2, "reconstruction", ha="right", va="center")
    return ax


ERROR_BAR_ALPHA, ERROR_BAR_WIDTH = 0.6, 1.0   # latent_scatter's error bars: visible, under the points


def _check_latent_2d(z: np.ndarray, name: str = "z") -> None:
    """Raise ValueError unless ``z`` is an (N, 2) array."""
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) for a 2-D plot, got {tuple(z.shape)}; "
                         "for a larger latent, project it to 2-D first (e.g. PCA).")


def latent_scatter(z, labels, z_std=None, ax=None, title: str | None = None,
                   s: float = 3, alpha: float = 0.6, axis_labels=("$z_1$", "$z_2$")):
    """2-D codes coloured by digit label, with optional error bars of posterior std.

    The error bars (one std each way) are drawn under the points, opaque enough to see on a
    projector. ``axis_labels``: what the two coordinates are (e.g. principal axes of a projection).
    """
    z, labels = _to_numpy(z), _to_numpy(labels)
    _check_latent_2d(z)
    if len(z) == 0:
        raise ValueError("z holds no codes (shape (0, 2)): pass at least one code to draw")
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
                    ecolor=colours, alpha=ERROR_BAR_ALPHA, linewidth=ERROR_BAR_WIDTH, zorder=1)
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5,
                        s=s, alpha=alpha, zorder=2)
    ax.figure.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    if title:
        ax.set_title(title)
    return ax


def latent_manifold(decode: Callable[[torch.Tensor], torch.Tensor], extent=(-3, 3, -3, 3),
                    n: int = 15, contour_points=None, ax=None, title: str | None = None,
                    contour_label: str = "95% of the given codes"):
    """Decode an n×n grid of 2-D codes over ``extent``; optionally outline ``contour_points``.

    ``decode`` maps codes (m, 2) to images (m, 784) with values in [0, 1]. Each image is centred on
    its code, so the axes read off the code of any tile. The red outline of ``contour_points`` (the
    region holding about 95% of them) is named in a legend below the axes by ``contour_label``.
    """
    check.function(decode, "decode", "lambda z: torch.sigmoid(vae.decoder(z))")
    x0, x1, y0, y1 = extent = _extent(extent)
    n = check.count(n, "n")
    z1 = torch.linspace(x0, x1, n)
    z2 = torch.linspace(y1, y0, n)  # top row = largest z2
    grid = torch.stack(torch.meshgrid(z2, z1, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
    imgs = _decode_grid(decode, grid)
    canvas = imgs.reshape(n, n, IMAGE_SIDE, IMAGE_SIDE).transpose(0, 2, 1, 3)
    canvas = canvas.reshape(n * IMAGE_SIDE, n * IMAGE_SIDE)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    hx, hy = ((x1 - x0) / (n - 1) / 2, (y1 - y0) / (n - 1) / 2) if n > 1 else (0.5, 0.5)
    shown = (x0 - hx, x1 + hx, y0 - hy, y1 + hy)          # tile i is centred on code i
    ax.imshow(canvas, cmap="gray_r", extent=shown)
    if contour_points is not None:
        _outline(ax, _to_numpy(contour_points), shown, label=contour_label)
        legend_below(ax)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def _extent(extent) -> tuple[float, float, float, float]:
    """``extent`` as four finite floats (xmin, xmax, ymin, ymax) with min < max."""
    try:
        values = np.asarray(_to_numpy(extent), dtype=float)
    except (TypeError, ValueError):
        values = None
    if values is None or values.shape != (4,) or not np.isfinite(values).all():
        raise ValueError(f"extent must be four finite numbers (xmin, xmax, ymin, ymax), e.g. "
                         f"(-3, 3, -3, 3), got {extent!r}")
    x0, x1, y0, y1 = (float(v) for v in values)
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with min < max, got {extent}")
    return x0, x1, y0, y1


def _decode_grid(decode: Callable[[torch.Tensor], torch.Tensor], grid: torch.Tensor) -> np.ndarray:
    """``decode(grid)`` as (m, 28, 28) intensities in [0, 1], one image per code of ``grid``."""
    try:
        with torch.no_grad():
            out = decode(grid)
    except (RuntimeError, ValueError, TypeError) as err:   # e.g. a decoder of another z_dim
        raise ValueError(f"decode failed on a grid of 2-D codes of shape {tuple(grid.shape)} "
                         f"({type(err).__name__}: {check.one_line(err)}): latent_manifold draws a "
                         "2-D latent space, so pass the decoder of a model with z_dim=2") from None
    imgs = as_images(out)
    if len(imgs) != len(grid):
        raise ValueError(f"decode returned {len(imgs)} images for {len(grid)} codes: return one "
                         "image per code")
    lo, hi = float(np.min(imgs)), float(np.max(imgs))
    if not (lo >= 0 and hi <= 1):
        raise ValueError(f"decode must return pixel intensities in [0, 1], got values in "
                         f"[{lo:.3g}, {hi:.3g}]: apply torch.sigmoid to the decoder's logits")
    return imgs


def legend_below(ax, ncol: int = 1):
    """Put the legend of ``ax`` under the axes, where it hides no data (e.g. no manifold tile)."""
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=ncol, frameon=False)


def _outline(ax, points: np.ndarray, extent, bins: int = 60, label: str | None = None) -> None:
    """Draw the contour holding about 95% of ``points`` (a 2-D histogram's level set), and a legend
    entry ``label`` for it."""
    _check_latent_2d(points, "contour_points")
    x0, x1, y0, y1 = extent
    hist, xe, ye = np.histogram2d(points[:, 0], points[:, 1], bins=bins, range=[[x0, x1], [y0, y1]])
    levels = np.sort(hist.ravel())[::-1]
    mass = np.cumsum(levels) / max(levels.sum(), 1)
    level = levels[min(np.searchsorted(mass, 0.95), len(levels) - 1)]
    xc, yc = (xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2
    ax.contour(xc, yc, hist.T, levels=[max(level, 0.5)], colors="tab:red", linewidths=2)
    ax.plot([], [], color="tab:red", linewidth=2, label=label)   # the contour's legend entry


def training_curves(history: Mapping[str, Sequence[float]], ax=None,
                    ylabel: str = "negative ELBO (nats per image)", xlabel: str = "epoch",
                    title: str | None = None):
    """One line per named series, e.g. {'train': [...], 'validation': [...]}."""
    if not isinstance(history, Mapping):
        raise check.ArgumentTypeError(f"history must map each series' name to its values, e.g. "
                                      f"{{'train': [3.1, 2.5]}}, got {check.describe(history)}: "
                                      "wrap the values as {'loss': values}")
    if not history:
        raise ValueError("history is empty: expected e.g. {'train': [...], 'validation': [...]}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, values in history.items():
        try:
            values = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise check.ArgumentTypeError(f"series {name!r} must be a list of numbers, got "
                                          f"{check.describe(values)}") from None
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
        ncols = check.count(ncols, "ncols")
        if isinstance(figsize, (str, bytes)) or not isinstance(figsize, Sequence) or len(figsize) != 2:
            raise ValueError(f"figsize must be (width, height) in inches, e.g. (10, 4), got {figsize!r}")
        figsize = tuple(check.positive_number(v, "each figsize value") for v in figsize)
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
