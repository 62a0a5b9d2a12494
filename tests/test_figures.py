"""tools.figures: each figure function writes a PNG to the path it is given."""
import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402

from tools import figures  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_autoencoder_architecture_writes_a_png(tmp_path):
    path = figures.autoencoder_architecture(tmp_path / "architecture.png", image=torch.rand(784))
    assert path == tmp_path / "architecture.png"
    assert path.stat().st_size > 1000
    assert path.read_bytes().startswith(PNG_SIGNATURE)


# --- the lectures' figures as committed: alt text and a static fallback --------------------------
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402
import pytest  # noqa: E402

LECTURES = sorted((Path(__file__).resolve().parent.parent / "lectures").glob("[0-9][0-9]_*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"


def _figure_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"
            and any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_lecture_cell_that_shows_a_figure_has_one_line_alt_text(path):
    nb = nbformat.read(path, as_version=4)
    cells = _figure_cells(nb)
    assert cells, f"{path.name} shows no figure"
    for cell in cells:
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
        first_line = cell.source.splitlines()[0]
        assert alt.strip(), f"{path.name}: the cell starting {first_line!r} shows a figure but has no alt text"
        assert "\n" not in alt, f"{path.name}: the alt text of {first_line!r} spans several lines"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_markdown_image_in_a_lecture_has_alt_text(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for alt, src in re.findall(r"!\[([^\]]*)\]\(([^)]*)\)", cell.source):
                assert alt.strip(), f"{path.name}: the image {src} has no alt text"


def test_the_latent_slider_of_lecture_04_is_followed_by_a_static_figure():
    nb = nbformat.read(next(p for p in LECTURES if p.stem.startswith("04_")), as_version=4)
    slider = [c for c in nb.cells if c.cell_type == "code" and "widgets.interactive" in c.source]
    assert len(slider) == 1
    kinds = [next((k for k in (WIDGET, "image/png") if k in o.get("data", {})), None)
             for o in slider[0].get("outputs", [])]
    assert WIDGET in kinds and "image/png" in kinds[kinds.index(WIDGET):], \
        "static viewers need a PNG after the slider widget"
