"""Figures that lectures show as committed images rather than draw in a code cell.

    python -m tools.figures                      # regenerate every figure below into images/
    python -m tools.figures 02_autoencoder_architecture.png

Each figure is one function ``draw(path)`` that writes a PNG to ``path`` and returns it; the
``FIGURES`` table maps a file name in images/ to its function. To add a figure, write its
function and add a row. Lectures show the result with a Markdown image,
``![what the figure shows](../images/NN_name.png)``.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"


def _write_png(fig, path: Path) -> Path:
    """Save ``fig`` as a byte-stable PNG (no software tag), the way utils.plots.save_figure does."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", dpi=150, metadata={"Software": None})
    plt.close(fig)
    return path


def _first_test_image() -> np.ndarray:
    """The first MNIST test image (784 grey levels), as the lectures load it."""
    from utils.data import load_mnist

    return load_mnist().test_x[0].numpy()


def autoencoder_architecture(path: Path, image=None, z_dim: int = 2, hidden_dim: int = 256) -> Path:
    """Lecture 02's MLP autoencoder as coloured bars (height ∝ √layer width) joined by funnels,
    with an input digit on the left. ``image``: 784 grey levels (default: the first test image)."""
    image = _first_test_image() if image is None else np.asarray(image, dtype=float)
    widths = [784, hidden_dim, hidden_dim, z_dim, hidden_dim, hidden_dim, 784]
    colours = ["tab:blue"] * 3 + ["tab:orange"] + ["tab:green"] * 3
    xs = np.linspace(2.0, 9.2, len(widths))
    heights = [max(3.2 * math.sqrt(w / 784), 0.25) for w in widths]
    fig, ax = plt.subplots(figsize=(10, 4))
    for i in range(1, len(widths)):       # grey funnels between consecutive layers
        (x0, h0), (x1, h1) = (xs[i - 1], heights[i - 1]), (xs[i], heights[i])
        corners = [(x0 + 0.12, 2 - h0 / 2), (x1 - 0.12, 2 - h1 / 2),
                   (x1 - 0.12, 2 + h1 / 2), (x0 + 0.12, 2 + h0 / 2)]
        ax.add_patch(Polygon(corners, color="0.88", zorder=0))
    for i, (x, h, w, c) in enumerate(zip(xs, heights, widths, colours)):
        ax.add_patch(Rectangle((x - 0.12, 2 - h / 2), 0.24, h, color=c, zorder=1))
        ax.text(x, 2 - h / 2 - 0.1, f"$z$\n{w}" if i == 3 else str(w), ha="center", va="top")
    ax.imshow(image.reshape(28, 28), cmap="gray_r", extent=(0.1, 1.5, 1.3, 2.7))
    ax.annotate("", xy=(xs[0] - 0.15, 2), xytext=(1.55, 2), arrowprops=dict(arrowstyle="->"))
    ax.text(0.8, 1.2, "input $x$\n784 pixels", ha="center", va="top")
    ax.text(xs[-1] + 0.25, 2, "logits $f_\\theta(z)$\n\n"
            "$\\hat x = \\operatorname{sigmoid}(f_\\theta(z))$", ha="left", va="center")
    ax.text(xs[1], 3.85, "encoder $g_\\phi$", ha="center", fontsize=12, color="tab:blue")
    ax.text(xs[5], 3.85, "decoder $f_\\theta$", ha="center", fontsize=12, color="tab:green")
    ax.text(xs[3], 2.5, "bottleneck", ha="center", color="tab:orange")
    ax.text(5.6, -0.45, "Linear + ReLU between bars; no activation on $z$ or on the logits.\n"
            "Loss: $-\\log p(x \\mid z)$ = BCE(logits, $x$), summed over the 784 pixels",
            ha="center", va="top", fontsize=11, color="0.3")
    ax.set(xlim=(0, 11.2), ylim=(-0.6, 4.2))
    ax.set_axis_off()
    ax.set_title(f"MLP autoencoder: 784 → {hidden_dim} → {hidden_dim} → $z$ ($d$ = {z_dim}) "
                 f"→ {hidden_dim} → {hidden_dim} → 784")
    return _write_png(fig, path)


FIGURES = {
    "02_autoencoder_architecture.png": autoencoder_architecture,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the committed figures in images/.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"figures to draw (default: all): {', '.join(FIGURES)}")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in FIGURES]
    if unknown:
        parser.error(f"no figure called {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    for name in args.names or FIGURES:
        print(f"wrote {FIGURES[name](IMAGES / name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
