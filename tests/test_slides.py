"""`make slides` (tools/slides.py): a reveal.js deck per lecture from the committed outputs, slide
breaks from the lecture's structure at build time, offline, 16:9, with speaker notes; and the
metadata helpers for RISE (--apply-metadata) and for dropping old slide metadata (--strip-metadata)."""
import difflib
import html.parser
import json
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from tools import slides

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "lectures").glob("[0-9]*.ipynb"))
LOCAL_REF = re.compile(r'(?:href|src)="(?![a-z]+:|#|//)([^"#?]+)')
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def _without_slide_metadata(nb):
    for cell in nb.cells:
        cell.metadata.pop("slideshow", None)
    return nb


@pytest.fixture(scope="module")
def decks() -> Path:
    """The decks of the lectures: the test run's one build (tests/_browser.py: built_course,
    `make html`, which builds the decks as `make slides` does), shared with the site and browser
    tests. The rule ignores the lectures' `slideshow` metadata (tested below). A test that uses
    it is `slow` (the root conftest.py marks it: `make test-fast` builds nothing)."""
    import _browser

    return _browser.built_course() / "slides"


class _Sections(html.parser.HTMLParser):
    """The text of each top-level <section> of a reveal deck (a slide and its subslides)."""

    def __init__(self):
        super().__init__()
        self.depth, self.top = 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.depth += 1
            if self.depth == 1:
                self.top.append("")

    def handle_endtag(self, tag):
        if tag == "section":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.top[-1] += data


def top_level_slides(deck: Path) -> list[str]:
    parser = _Sections()
    parser.feed(deck.read_text(encoding="utf-8"))
    return parser.top


def test_every_lecture_has_a_deck_and_the_index_lists_each(decks):
    index = (decks / "index.html").read_text(encoding="utf-8")
    for path in LECTURES:
        assert (decks / f"{path.stem}.slides.html").is_file(), path
        assert f'href="{path.stem}.slides.html"' in index


def test_no_deck_or_style_sheet_loads_anything_from_the_network(decks):
    pages = list(decks.glob("*.html")) + list((decks / "_static").rglob("*.css"))
    assert len(pages) > len(LECTURES)
    for page in pages:
        assert slides.remote_resource(page.read_text(encoding="utf-8")) is None, page


def test_decks_link_to_files_that_exist_or_to_the_course_site(decks):
    """Deck to deck and deck to _static must exist; exercises and solutions are pages of the
    site (`make html` builds build/html/ beside build/slides/)."""
    for page in decks.glob("*.html"):
        for ref in LOCAL_REF.findall(page.read_text(encoding="utf-8")):
            assert not ref.endswith(".ipynb"), f"{page.name} links {ref}"
            assert ref.startswith("../html/") or (page.parent / ref).exists(), (page.name, ref)


def test_decks_are_16_by_9_and_load_reveal_and_its_speaker_notes_locally(decks):
    text = (decks / f"{LECTURES[0].stem}.slides.html").read_text(encoding="utf-8")
    assert "width: 1280," in text and "height: 720," in text
    assert "plugins: [RevealNotes]" in text
    for src in ("_static/reveal.js/dist/reveal.js", "_static/reveal.js/plugin/notes/notes.js",
                "_static/mathjax/MathJax.js"):
        assert f'src="{src}' in text and (decks / src).is_file(), src


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_deck_has_the_title_then_one_slide_per_section(decks, path):
    nb = nbformat.read(path, as_version=4)
    sections = [c.source.lstrip()[3:].splitlines()[0].strip() for c in nb.cells
                if c.cell_type == "markdown" and c.source.lstrip().startswith("## ")]
    top = top_level_slides(decks / f"{path.stem}.slides.html")
    assert len(top) == 1 + len(sections)
    assert slides.title(nb) in top[0]
    for heading, text in zip(sections, top[1:]):
        shown = re.sub(r"\$[^$]*\$", "", heading).split("·")[-1].strip()[:20]
        assert shown in text.lstrip()[:200], (heading, text[:200])


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_deck_skips_the_set_up_cells(decks, path):
    text = (decks / f"{path.stem}.slides.html").read_text(encoding="utf-8")
    assert "setup" not in "".join(top_level_slides(decks / f"{path.stem}.slides.html")[:1])
    assert "device, SMOKE" not in re.sub(r"<[^>]+>", "", text)


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_rule_ignores_the_lectures_slideshow_metadata(path):
    nb = nbformat.read(path, as_version=4)
    with_metadata = slides.slide_types(nb.cells)
    assert slides.slide_types(_without_slide_metadata(nb).cells) == with_metadata


def _lecture_cells():
    return [md("# 07 · Title\n\nGoals."), code("from utils.runtime import setup"),
            md("The imports."), code("import torch"), md("## 1 · A section\n\nProse."),
            code("x = 1"), code('with SelfCheck("x") as sc:\n    sc.true("x", True)'),
            md("**Takeaway.** Short."), md("### A sub-topic"), code("\n".join(["y = 2"] * 40)),
            md("More prose."), code("z = 3"), code("check_answer(z)"),
            md("## Summary\n\n- done"), code("print(time)"), md("## Pointers")]


def test_rule_follows_the_lecture_structure():
    assert slides.slide_types(_lecture_cells()) == [
        "slide", "skip", "skip", "skip", "slide", "-", "fragment", "fragment", "subslide",
        "subslide", "subslide", "-", "fragment", "slide", "skip", "slide"]


def test_rule_makes_a_code_cell_too_tall_for_the_slide_a_subslide():
    cells = [md("## 1 · A section"), code("a = 1"), code("\n".join(["b = 2"] * 10)),
             code("\n".join(["c = 3"] * 30))]
    assert slides.slide_types(cells) == ["slide", "-", "-", "subslide"]


def test_rule_counts_a_markdown_figure_in_the_slide_height():
    figure = next((ROOT / "images").glob("*.png")).name
    text = f"One line.\n\n![A figure whose alt text\nwraps over two lines](../images/{figure})"
    assert slides.markdown_height(text) > slides.markdown_height("One line.") + 100


def test_slide_override_wins_and_slideshow_metadata_does_not():
    cells = _lecture_cells()
    cells[5].metadata["slideshow"] = {"slide_type": "subslide"}
    assert slides.slide_types(cells)[5] == "-"
    cells[5].metadata[slides.OVERRIDE] = "subslide"
    cells[2].metadata[slides.OVERRIDE] = "notes"
    assert slides.slide_types(cells)[5] == "subslide"
    assert slides.slide_types(cells)[2] == "notes"


def test_an_unknown_slide_override_is_an_error():
    cells = _lecture_cells()
    cells[5].metadata[slides.OVERRIDE] = "sub-slide"
    with pytest.raises(ValueError, match="sub-slide"):
        slides.slide_types(cells)


def test_deck_notebook_carries_only_the_rule_as_slideshow_metadata():
    nb = nbformat.v4.new_notebook(cells=_lecture_cells())
    nb.cells[5].metadata["slideshow"] = {"slide_type": "skip"}
    done = slides.with_slide_metadata(nb)
    kinds = [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in done.cells]
    assert kinds == slides.slide_types(nb.cells)
    assert nb.cells[5].metadata["slideshow"] == {"slide_type": "skip"}   # the input is untouched


def test_apply_metadata_writes_the_rule_into_a_copy_and_nothing_else(tmp_path):
    source = tmp_path / "lecture.ipynb"
    nb = nbformat.v4.new_notebook(cells=_lecture_cells())
    nb.cells[5].metadata["slideshow"] = {"slide_type": "skip"}
    nb.cells[5].metadata["tags"] = ["kept"]
    nbformat.write(nb, source)
    before = source.read_text(encoding="utf-8")
    types = slides.apply_metadata(source, tmp_path / "present" / "lecture.ipynb")
    assert source.read_text(encoding="utf-8") == before
    copy = json.loads((tmp_path / "present" / "lecture.ipynb").read_text(encoding="utf-8"))
    assert [c["metadata"].get("slideshow", {}).get("slide_type", "-")
            for c in copy["cells"]] == types == slides.slide_types(nb.cells)
    assert copy["metadata"]["rise"] == slides.RISE_SETTINGS
    assert copy["cells"][5]["metadata"]["tags"] == ["kept"]
    original = json.loads(before)
    for cell in copy["cells"] + original["cells"]:
        cell["metadata"].pop("slideshow", None)
    copy["metadata"].pop("rise")
    assert copy == original


def _write_twins(folder: Path) -> Path:
    """A paired notebook (.ipynb, .md, .py) with slide metadata and one override."""
    nb = nbformat.v4.new_notebook(cells=_lecture_cells())
    nb.metadata["jupytext"] = {"formats": "ipynb,md:myst,py:percent"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for cell, kind in zip(nb.cells, slides.slide_types(nb.cells)):
        cell.metadata["slideshow"] = {"slide_type": kind}
    nb.cells[5].metadata[slides.OVERRIDE] = "subslide"
    nb.cells[6].metadata["tags"] = ["kept"]
    nbformat.write(nb, folder / "07_topic.ipynb")
    for ext, fmt in ((".md", "md:myst"), (".py", "py:percent")):
        (folder / f"07_topic{ext}").write_text(jupytext.writes(nb, fmt=fmt), encoding="utf-8")
    return folder / "07_topic.md"


def test_strip_metadata_removes_slideshow_metadata_from_every_twin(tmp_path):
    md_path = _write_twins(tmp_path)
    changed = slides.strip_metadata(md_path)
    assert set(changed) == {tmp_path / f"07_topic{e}" for e in (".ipynb", ".md", ".py")}
    for path in changed:
        assert "slideshow" not in path.read_text(encoding="utf-8"), path
        cells = jupytext.read(path).cells
        assert cells[5].metadata[slides.OVERRIDE] == "subslide"
        assert cells[6].metadata["tags"] == ["kept"]


def test_strip_metadata_changes_nothing_else_in_the_ipynb(tmp_path):
    md_path = _write_twins(tmp_path)
    ipynb = md_path.with_suffix(".ipynb")
    expected = json.loads(ipynb.read_text(encoding="utf-8"))
    for cell in expected["cells"]:
        del cell["metadata"]["slideshow"]
    slides.strip_metadata(md_path)
    assert ipynb.read_text(encoding="utf-8") == slides._dump_ipynb(expected)
    assert nbformat.validate(nbformat.read(ipynb, as_version=4)) is None


def test_strip_metadata_changes_only_slide_metadata_lines_in_the_text_twins(tmp_path):
    md_path = _write_twins(tmp_path)
    before = {p: p.read_text(encoding="utf-8") for p in slides.twins(md_path)
              if p.suffix != ".ipynb"}
    slides.strip_metadata(md_path)
    for path, old in before.items():
        new = path.read_text(encoding="utf-8")
        diff = list(difflib.ndiff(old.splitlines(), new.splitlines()))
        removed = [line[2:] for line in diff if line.startswith("- ")]
        added = [line[2:] for line in diff if line.startswith("+ ")]
        assert removed, path
        # jupytext writes a lone metadata key in its short form: `tags: [kept]` -> `:tags: [kept]`
        rewritten = {re.sub(r"^:(\w+):", r"\1:", line) for line in added}
        for line in removed:
            assert (re.search(r"slideshow|slide_type", line) or line.strip() in ("", "---", "+++")
                    or line in rewritten), (path, line)
        for line in added:
            assert (line.strip() in ("", "---", "+++") or line.startswith("# %%")
                    or re.match(r":\w+: ", line)), (path, line)
    assert _cells(jupytext.read(md_path)) == _cells(jupytext.reads(before[md_path], "md:myst"))


def _cells(nb):
    """Type, source and metadata but `slideshow` of every cell (ids are new at every read)."""
    return [(c.cell_type, c.source, {k: v for k, v in c.metadata.items() if k != "slideshow"})
            for c in nb.cells]


def test_strip_metadata_refuses_a_twin_jupytext_would_rewrite(tmp_path):
    md_path = _write_twins(tmp_path)
    md_path.write_text(md_path.read_text(encoding="utf-8") + "\n\n\n", encoding="utf-8")
    before = (tmp_path / "07_topic.ipynb").read_text(encoding="utf-8")
    with pytest.raises(RuntimeError, match="make sync"):
        slides.strip_metadata(md_path)
    assert (tmp_path / "07_topic.ipynb").read_text(encoding="utf-8") == before


def test_widgets_become_static_html_from_their_saved_state(tmp_path):
    """A tqdm bar shows its last state; interact's sliders are left out and its figure (the Output
    widget's last outputs) shown; a widget without saved state keeps its text form."""
    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    state = {"bar": model("HBoxModel", children=["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]),
             "l": model("HTMLModel", value="epochs: 100%"),
             "p": model("FloatProgressModel", value=12.0, max=12.0),
             "r": model("HTMLModel", value=" 12/12 [00:10&lt;00:00]"),
             "out": model("OutputModel", outputs=[{"output_type": "stream", "name": "stdout",
                                                   "text": "shown by interact"}]),
             "interact": model("VBoxModel", children=["IPY_MODEL_z1", "IPY_MODEL_out"]),
             "z1": model("FloatSliderModel", description="z1", value=0.0)}
    nb = nbformat.v4.new_notebook(metadata={"widgets": {
        "application/vnd.jupyter.widget-state+json": {"state": state}}})
    views = [("bar", "  0%|          | 0/12"), ("interact", "interactive(...)"),
             ("gone", "HBox(...)")]
    nb.cells.append(nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("display_data", data={
            slides.WIDGET_VIEW: {"model_id": model_id}, "text/plain": text})
        for model_id, text in views]))
    nbformat.write(nb, tmp_path / "widgets.ipynb")
    read = slides.read_notebook(tmp_path / "widgets.ipynb")
    assert "widgets" not in read.metadata
    bar, shown, gone = read.cells[0].outputs
    assert '<progress value="12.0" max="12.0"' in bar.data["text/html"]
    assert "epochs: 100%" in bar.data["text/html"] and "12/12" in bar.data["text/html"]
    assert shown.output_type == "stream" and shown.text == "shown by interact"   # no slider
    assert dict(gone.data) == {"text/plain": "HBox(...)"}


# ---- the committed lectures: the rule as RISE's metadata in the .ipynb, none in the text twins -----
@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_a_lecture_notebook_carries_the_rule_as_slideshow_metadata_for_rise(path):
    nb = nbformat.read(path, as_version=4)
    stored = [cell.metadata.get("slideshow", {}).get("slide_type", "-") for cell in nb.cells]
    assert stored == slides.slide_types(nb.cells), (
        f"run `python -m tools.slides --apply-metadata {path.relative_to(ROOT)}` (or `make sync`)")
    assert nb.metadata.get("rise") == slides.RISE_SETTINGS


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_a_lecture_text_twin_carries_no_slideshow_metadata(path):
    nb = nbformat.read(path, as_version=4)
    kept = nb.metadata["jupytext"].get("cell_metadata_filter", "").split(",")
    assert "-slideshow" in kept, kept                 # other keys (mystnb's alt texts) may be kept
    for twin in (path.with_suffix(".md"), path.with_suffix(".py")):
        cells = jupytext.read(twin).cells
        assert not [i for i, cell in enumerate(cells) if "slideshow" in cell.metadata], twin.name


# ---- what a deck shows: cells too tall for a slide are split (a deck only, not RISE) ---------
def test_a_markdown_cell_taller_than_a_slide_is_split_at_its_paragraphs():
    paragraphs = [f"Paragraph {k}: " + "words " * 120 for k in range(8)]
    cells = [md("## 1 · A section"), md("\n\n".join(paragraphs))]
    assert slides.markdown_height(cells[1].source) > slides.BUDGET
    shown = slides.deck_cells(cells)
    assert len(shown) > 2
    assert "\n\n".join(c.source for c in shown[1:]) == cells[1].source
    assert all(slides.markdown_height(c.source) <= slides.BUDGET for c in shown[1:])
    assert slides.slide_types(shown)[2:] == ["subslide"] * (len(shown) - 2)


def test_a_code_cell_taller_than_a_slide_shows_its_outputs_on_a_subslide_of_their_own():
    check = code("with SelfCheck('x') as sc:\n" + "    sc.true('x', True)\n" * 10, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="\u2713 a check\n" * 25)])
    cells = [md("## 1 · A section"), md("Prose."), check]
    assert slides.code_height(check) > slides.BUDGET
    shown = slides.deck_cells(cells)
    assert [c.cell_type for c in shown] == ["markdown", "markdown", "code", "code"]
    assert shown[2].source == check.source and shown[2].outputs == []
    assert shown[3].outputs == check.outputs and shown[3].metadata["transient"] == {
        "remove_source": True}
    assert slides.slide_types(shown)[2:] == ["fragment", "subslide"]
    assert check.outputs and "transient" not in check.metadata    # the lecture is untouched


def test_text_outputs_count_every_line_in_the_height():
    short = code("print(x)", outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                             text="line\n" * 5)])
    long = code("print(x)", outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                            text="line\n" * 30)])
    assert slides.code_height(long) - slides.code_height(short) == 25 * slides.CODE_LINE


def test_apply_metadata_writes_the_css_file_rise_asks_for_and_keeps_an_edited_one(tmp_path):
    source = tmp_path / "lecture.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=_lecture_cells()), source)
    slides.apply_metadata(source, tmp_path / "present" / "lecture.ipynb")
    css = tmp_path / "present" / "lecture.css"
    assert css.read_text(encoding="utf-8").startswith("/*")
    css.write_text(".reveal h2 { color: teal; }\n", encoding="utf-8")
    slides.apply_metadata(source, tmp_path / "present" / "lecture.ipynb")
    assert css.read_text(encoding="utf-8") == ".reveal h2 { color: teal; }\n"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_a_lecture_has_the_css_file_rise_asks_for(path):
    """RISE loads NN_topic.css beside the notebook; a missing one is an error in the console."""
    css = path.with_suffix(".css")
    assert css.is_file(), f"run `python -m tools.slides --apply-metadata {path.relative_to(ROOT)}`"
    assert slides.remote_resource(css.read_text(encoding="utf-8")) is None


def test_decks_navigate_linearly_and_leave_no_slider_behind(decks):
    for path in LECTURES:
        text = (decks / f"{path.stem}.slides.html").read_text(encoding="utf-8")
        assert 'navigationMode: "linear"' in text
        assert "jupyter-widgets" not in text and 'type="range"' not in text
