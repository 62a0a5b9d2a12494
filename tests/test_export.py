"""`make slides` and `make html`: every page is built from the committed outputs, loads nothing
from the network, and links only to pages that exist; every lecture carries slide metadata."""
import re
from pathlib import Path

import nbformat
import pytest

from _browser import ROOT, built_exports
from tools import export

LECTURES = sorted((ROOT / "lectures").glob("[0-9]*.ipynb"))
PAGES = {folder: sorted((ROOT / folder).glob("[0-9]*.ipynb")) for folder in export.FOLDERS}
LOCAL_REF = re.compile(r'(?:href|src)="(?![a-z]+:|#|//)([^"#?]+)')


@pytest.fixture(scope="module")
def build() -> Path:
    return built_exports()


def test_every_notebook_has_a_page_and_every_lecture_a_deck(build):
    for folder, paths in PAGES.items():
        for path in paths:
            assert (build / "html" / folder / f"{path.stem}.html").is_file(), path
    for path in LECTURES:
        assert (build / "slides" / f"{path.stem}.slides.html").is_file(), path
    assert (build / "html" / "index.html").is_file() and (build / "slides" / "index.html").is_file()


def test_no_page_loads_anything_from_the_network(build):
    pages = list(build.rglob("*.html"))
    assert pages
    for page in pages:
        export._check_offline(page)          # raises on a remote script, style sheet or image


def test_pages_link_to_files_that_exist_and_never_to_notebooks(build):
    for page in list((build / "html").rglob("*.html")) + list((build / "slides").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        for ref in LOCAL_REF.findall(text):
            assert not ref.endswith(".ipynb"), f"{page.name} links {ref}"
            assert (page.parent / ref).exists(), f"{page.relative_to(build)}: {ref} is missing"


def test_the_index_lists_every_unit_in_order_with_its_pages(build):
    index = (build / "html" / "index.html").read_text(encoding="utf-8")
    units = re.findall(r'<section class="unit" id="([^"]+)"', index)
    assert units == sorted({p.stem for paths in PAGES.values() for p in paths})
    for path in LECTURES:
        assert f'href="lectures/{path.stem}.html"' in index
        assert f'href="../slides/{path.stem}.slides.html"' in index


def test_widgets_become_static_html_from_their_saved_state(tmp_path):
    """A tqdm bar shows its last state; a widget without saved state keeps its text form."""
    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    state = {"bar": model("HBoxModel", children=["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]),
             "l": model("HTMLModel", value="epochs: 100%"),
             "p": model("FloatProgressModel", value=12.0, max=12.0),
             "r": model("HTMLModel", value=" 12/12 [00:10&lt;00:00]"),
             "out": model("OutputModel", outputs=[{"output_type": "stream", "name": "stdout",
                                                   "text": "shown by interact"}])}
    nb = nbformat.v4.new_notebook(metadata={"widgets": {
        "application/vnd.jupyter.widget-state+json": {"state": state}}})
    views = [("bar", "  0%|          | 0/12"), ("out", "Output()"), ("gone", "HBox(...)")]
    nb.cells.append(nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("display_data", data={
            export.WIDGET_VIEW: {"model_id": model_id}, "text/plain": text})
        for model_id, text in views]))
    nbformat.write(nb, tmp_path / "widgets.ipynb")
    read = export.read_notebook(tmp_path / "widgets.ipynb")
    assert "widgets" not in read.metadata
    bar, shown, gone = read.cells[0].outputs
    assert '<progress value="12.0" max="12.0"' in bar.data["text/html"]
    assert "epochs: 100%" in bar.data["text/html"] and "12/12" in bar.data["text/html"]
    assert shown.output_type == "stream" and shown.text == "shown by interact"
    assert dict(gone.data) == {"text/plain": "HBox(...)"}


@pytest.mark.parametrize("path", LECTURES, ids=[p.name for p in LECTURES])
def test_lecture_carries_slide_metadata(path):
    """CONTRIBUTING.md ("Slides"): the title and sections are slides, the set-up is skipped."""
    nb = nbformat.read(path, as_version=4)
    kind = [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in nb.cells]
    assert kind[0] == "slide", "the title cell is not a slide: run `python -m tools.slide_tags`"
    for cell, k in zip(nb.cells, kind):
        if cell.cell_type == "markdown" and re.match(r"#{1,2} ", cell.source.lstrip()):
            assert k == "slide", f"section {cell.source.splitlines()[0]!r} is not a slide"
    setup = [k for c, k in zip(nb.cells, kind) if c.cell_type == "code" and "setup(" in c.source]
    assert setup[:1] == ["skip"], "the set-up cell (`setup(...)`) is not skipped"


def test_slide_tags_follow_the_rules():
    from tools import slide_tags

    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md("# 07 · Title\n\nGoals."), code("from utils.runtime import setup"),
             code("import torch"), md("## 1 · A section\n\nProse."), code("x = 1"),
             code('with SelfCheck("x") as sc:\n    sc.true("x", True)'),
             md("**Takeaway.** Short."), md("### A sub-topic"), code("\n".join(["y = 2"] * 40)),
             md("More prose."), code("z = 3"), md("## Summary\n\n- done"), code("print(time)")]
    assert slide_tags.propose(cells) == [
        "slide", "skip", "skip", "slide", "-", "fragment", "fragment", "subslide", "subslide",
        "subslide", "-", "slide", "skip"]
    cells[4].metadata["slideshow"] = {"slide_type": "subslide"}     # set by hand: kept
    assert slide_tags.propose(cells)[4] == "subslide"
    assert slide_tags.propose(cells, force=True)[4] == "-"
