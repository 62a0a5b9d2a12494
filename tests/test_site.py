"""`make html` (tools.site: Sphinx, MyST-NB, sphinx-book-theme): every notebook is a page of one
book with a unit page per unit, the pages say what they are and link their downloads, nothing is
loaded from the network, and every figure has alt text. Built once per test run (the run's one
build, tests/_browser.py: built_course, shared with the deck and browser tests) from the
committed notebooks (nothing executes). The tests that read the build, or build a small site of
their own, are `slow` (`make test-fast` leaves them out)."""
import filecmp
import re
from pathlib import Path

import nbformat
import pytest

from _browser import ROOT, built_course
from tools import site

NOTEBOOKS = {folder: sorted((ROOT / folder).glob("[0-9]*.ipynb")) for folder in site.FOLDERS}
STEMS = sorted({p.stem for paths in NOTEBOOKS.values() for p in paths})
LOCAL_REF = re.compile(r'<(?:a|img|link|script)\b[^>]*?\b(?:href|src)="(?![a-z]+:|#|//)([^"#?]*)')
# A resource the browser would fetch by itself (not a link it follows when clicked): any
# attribute of any element but <a> naming an http(s) or protocol-relative address, or CSS
# url(...) / @import of one.
REMOTE_IN_HTML = re.compile(
    r"""<(?!a\b)\w+\b[^>]*?\b(?:src|href|data|srcset|poster)\s*=\s*["']?(?:https?:)?//""",
    re.IGNORECASE)
REMOTE_IN_CSS = re.compile(r"""url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
                           re.IGNORECASE)
IMG = re.compile(r"<img\b[^>]*>")


@pytest.fixture(scope="module")
def build() -> Path:
    """The run's one build; a test that uses it (or `html`) is `slow` (conftest.py)."""
    return built_course()


@pytest.fixture(scope="module")
def html(build) -> Path:
    return build / "html"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def has(text: str, part: str) -> bool:
    """`part in text`, without pytest's diff of a whole page when it fails (slow)."""
    return part in text


def pages(html: Path) -> list[Path]:
    return [p for p in html.rglob("*.html") if "_static" not in p.relative_to(html).parts]


def test_every_notebook_is_a_page(html):
    for folder, paths in NOTEBOOKS.items():
        assert paths, f"no notebooks in {folder}/"
        for path in paths:
            assert (html / folder / f"{path.stem}.html").is_file(), path


def test_the_landing_page_links_every_unit_page_in_order(html):
    index = read(html / "index.html")
    article = index[index.index('<article'):]
    linked = re.findall(r'href="units/([^"#]+)\.html"', article)
    assert list(dict.fromkeys(linked)) == STEMS


def test_every_unit_page_links_its_lecture_exercise_solution_and_deck(build, html):
    """`make html` builds the decks too (tools.slides), so every unit page links its deck, which
    is there; no page tells the reader how to build or serve anything."""
    for stem in STEMS:
        unit = read(html / "units" / f"{stem}.html")
        for folder in site.FOLDERS:
            assert has(unit, f'href="../{folder}/{stem}.html"'), (stem, folder)
        deck = re.search(rf'href="([^"]*{stem}\.slides\.html)"', unit)
        assert deck, f"unit {stem} does not link its deck"
        assert (html / "units" / deck.group(1)).resolve() == \
            (build / "slides" / f"{stem}.slides.html").resolve()
        assert (build / "slides" / f"{stem}.slides.html").is_file()
        article = unit[unit.index("<article"):unit.index("</article>")]
        for instruction in ("make slides", "make serve", "make html", "build/"):
            assert instruction not in article, (stem, instruction)


def test_a_unit_page_links_a_deck_only_when_it_was_built():
    page = site.unit_page("01_x", ["lectures", "exercises"], "01 · X", deck=False)
    assert "slides" not in page.lower()
    assert "01_x.slides.html" in site.unit_page("01_x", ["lectures"], "01 · X", deck=True)


def test_the_landing_page_says_where_to_start_and_how_to_set_up(html):
    index = read(html / "index.html")
    article = index[index.index("<article"):index.index("</article>")]
    start = article[article.index('id="start-here"'):]
    first = STEMS[0]
    for href in (f"units/{first}.html", f"lectures/{first}.html", f"exercises/{first}.html"):
        assert has(start, f'href="{href}'), href
    setup = re.sub(r"<[^>]+>", "", article[article.index('id="set-up'):])
    for words in ("make lab", "README.md", "On Windows", "requirements.txt"):
        assert has(setup, words), words


def test_the_sidebar_lists_every_unit_and_notebook(html):
    expected = {html / "index.html"} | {html / "units" / f"{stem}.html" for stem in STEMS}
    expected |= {html / folder / f"{path.stem}.html"
                 for folder, paths in NOTEBOOKS.items() for path in paths}
    for page in (html / "lectures" / f"{STEMS[0]}.html", html / "units" / f"{STEMS[-1]}.html"):
        text = read(page)
        nav = text[text.index('<nav class="bd-links bd-docs-nav"'):]
        nav = nav[:nav.index("</nav>")]
        hrefs = re.findall(r'<a class="(?:current )?reference internal" href="([^"]*)"', nav)
        linked = {page if href == "#" else (page.parent / href).resolve() for href in hrefs}
        assert linked == {p.resolve() for p in expected}, page


def test_notebook_pages_have_previous_and_next_links_in_reading_order(html):
    page = read(html / "lectures" / f"{STEMS[0]}.html")
    assert re.search(rf'class="left-prev"\s+href="../units/{STEMS[0]}.html"', page)
    assert re.search(rf'class="right-next"\s+href="../exercises/{STEMS[0]}.html"', page)


def test_every_page_has_the_search_box_and_the_search_index_knows_each_notebook(html):
    for page in pages(html):
        text = read(page)
        assert has(text, 'class="btn search-button-field search-button__button'), page
        target = "#" if page == html / "search.html" else r"(\.\./)*search\.html"
        assert re.search(rf'<form class="bd-search[^>]*\s+action="{target}"', text), page
    index = read(html / "searchindex.js")
    for folder, paths in NOTEBOOKS.items():
        for path in paths:
            assert has(index, f'"{folder}/{path.stem}"'), path


def test_every_page_offers_the_light_dark_switch(html):
    for page in pages(html):
        assert has(read(page), 'theme-change-button" data-mode="dark"'), page


def test_exercise_and_solution_pages_say_which_is_which(html):
    for stem in STEMS:
        exercise = read(html / "exercises" / f"{stem}.html")
        solution = read(html / "solutions" / f"{stem}.html")
        assert has(exercise, 'admonition-title">Exercise: your version to fill in<'), stem
        assert has(solution, 'admonition-title">Solution: worked answers<'), stem
        assert "Solution" not in exercise.split("<title>")[1].split("</title>")[0], stem
        assert "Exercise" not in solution.split("<title>")[1].split("</title>")[0], stem
        lecture = read(html / "lectures" / f"{stem}.html")
        assert has(lecture, 'admonition-title">Lecture<'), stem


def test_notebook_pages_offer_their_three_forms_for_download(html):
    """Each download is saved under a name that says its kind (the lecture, exercise and solution
    of a unit share a file name): no two downloads of the site are saved under one name."""
    names = {}
    kinds = {"lectures": "lecture", "exercises": "exercise", "solutions": "solution"}
    for folder, paths in NOTEBOOKS.items():
        for path in paths:
            page = read(html / folder / f"{path.stem}.html")
            for ext in (".ipynb", ".md", ".py"):
                name = f"{path.stem}_{kinds[folder]}{ext}"
                assert has(page, f'href="{path.stem}{ext}" download="{name}"'), (path, ext)
                assert name not in names, (name, names.get(name), path)
                names[name] = path
                served = html / folder / f"{path.stem}{ext}"
                assert served.is_file(), f"{served} is missing (is {path.with_suffix(ext)} there?)"
                assert filecmp.cmp(served, path.with_suffix(ext), shallow=False), served
    assert len(names) == 3 * sum(len(paths) for paths in NOTEBOOKS.values())


def test_no_page_or_style_sheet_loads_anything_from_the_network(html):
    checked = 0
    for path in list(html.rglob("*.html")) + list(html.rglob("*.css")):
        text = read(path)
        found = (REMOTE_IN_HTML if path.suffix == ".html" else REMOTE_IN_CSS).search(text)
        assert not found, f"{path.relative_to(html)} loads {text[found.start():found.end() + 80]}"
        checked += 1
    assert checked > 20


def test_math_is_typeset_by_the_mathjax_copied_into_the_build(html):
    page = read(html / "lectures" / f"{STEMS[0]}.html")
    scripts = re.findall(r'<script[^>]*src="([^"]*MathJax\.js[^"]*)"', page)
    assert scripts == ["../_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"]
    assert (html / "_static" / "mathjax" / "MathJax.js").is_file()
    assert (html / "_static" / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert has(page, 'webFont: "STIX-Web"')                    # the fonts the package ships
    assert has(page, r'<span class="math notranslate nohighlight">\(')


def test_local_links_and_images_point_to_files_that_exist(build, html):
    checked = 0
    for page in pages(html):
        for ref in LOCAL_REF.findall(read(page)):
            if ref:
                assert (page.parent / ref).exists(), f"{page.relative_to(html)}: {ref} is missing"
                checked += 1
    assert checked > 100


def test_no_widget_view_or_widget_manager_reaches_the_pages(html):
    for page in pages(html):
        text = read(page)
        assert not has(text, "application/vnd.jupyter.widget"), page
        assert not has(text, "embed-amd") and not has(text, "require.min.js"), page


def test_widget_views_keep_their_text_or_disappear(tmp_path):
    view = {"model_id": "m", "version_major": 2, "version_minor": 0}
    texts = ("epochs: 100%|██████████| 3/3", "interactive(children=(FloatSlider(),))")
    outputs = [nbformat.v4.new_output("display_data",
                                      data={site.WIDGET_VIEW: view, "text/plain": text})
               for text in texts]
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}})
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · Title\n\nText."),
                nbformat.v4.new_code_cell("x", outputs=outputs)]
    nbformat.write(nb, tmp_path / "01_t.ipynb")
    shown = site.page_notebook(tmp_path / "01_t.ipynb", "lectures", ["lectures"])
    assert "widgets" not in shown.metadata
    assert [dict(o.data) for o in shown.cells[1].outputs] == [{"text/plain": texts[0]}]


def test_a_markdown_images_alt_text_wrapped_over_lines_keeps_a_space_at_each_break(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · Title\n\n![the encoder's\nlayers](a.png)")]
    nbformat.write(nb, tmp_path / "01_t.ipynb")
    shown = site.page_notebook(tmp_path / "01_t.ipynb", "lectures", ["lectures"])
    assert "![the encoder's layers](a.png)" in shown.cells[0].source


def test_every_figure_has_alt_text(html):
    """Markdown images carry theirs; a code cell's figures take the cell's metadata
    `mystnb: {image: {alt: "..."}}`. Without it, docutils writes the file name as alt."""
    missing = {}
    for page in pages(html):
        for img in IMG.findall(read(page)):
            alt = re.search(r'\balt="([^"]*)"', img)
            src = re.search(r'\bsrc="([^"]*)"', img).group(1)
            if not alt or not alt.group(1).strip() or alt.group(1) == src \
                    or alt.group(1).endswith(Path(src).name):
                name = str(page.relative_to(html))
                missing[name] = missing.get(name, 0) + 1
    assert not missing, f"figures without alt text, per page: {dict(sorted(missing.items()))}"


@pytest.mark.slow           # a small site, built by Sphinx
def test_a_code_cells_mystnb_image_alt_metadata_becomes_its_figures_alt_text(tmp_path):
    png = nbformat.read(NOTEBOOKS["lectures"][0], as_version=4)
    data = next(o.data["image/png"] for c in png.cells if c.cell_type == "code"
                for o in c.outputs if "image/png" in o.get("data", {}))
    nb = nbformat.v4.new_notebook()
    figure = nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": data, "text/plain": "<Figure>"})])
    figure.metadata["mystnb"] = {"image": {"alt": "Ten digits in a row"}}
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · A unit\n\nText."), figure]
    (tmp_path / "root" / "lectures").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "root" / "lectures" / "01_unit.ipynb")
    out = site.build(tmp_path / "build", root=tmp_path / "root", slides=False)
    images = IMG.findall(read(out / "lectures" / "01_unit.html"))
    assert len(images) == 1 and 'alt="Ten digits in a row"' in images[0], images
    unit = read(out / "units" / "01_unit.html")          # no deck was built: none is linked
    assert "slides" not in unit[unit.index("<article"):unit.index("</article>")]


def test_exercise_and_solution_titles_take_one_form(html):
    """"Exercise 01 · Topic" and "04 · Exercise: topic" both become "01 · Exercise: Topic"."""
    assert site.page_title("# Exercise 01 · PCA and probabilistic PCA", "exercises") == \
        "# 01 · Exercise: PCA and probabilistic PCA"
    assert site.page_title("# 04 · Exercise: the VAE loss, written by hand", "solutions") == \
        "# 04 · Solution: The VAE loss, written by hand"
    assert site.page_title("# 04 · The VAE", "lectures") == "# 04 · The VAE"
    for folder, kind in (("exercises", "Exercise"), ("solutions", "Solution")):
        for path in NOTEBOOKS[folder]:
            page = read(html / folder / f"{path.stem}.html")
            heading = re.search(r"<h1>(.*?)<a class=\"headerlink\"", page).group(1)
            assert re.fullmatch(rf"{path.stem[:2]} · {kind}: [A-Z].+", heading), heading
            assert page.split("<title>")[1].startswith(heading), page.split("<title>")[1][:80]


def test_no_page_says_author_name_not_set_or_carries_a_second_menu_bar(html):
    """The theme's header bar (a second search box and hidden copies of the ☰ and contents
    buttons, to which the theme bound the sidebars) is gone; the theme mode has a default."""
    for page in pages(html):
        text = read(page)
        assert not has(text, "Author name not set"), page
        header = re.search(r'<header id="pst-header"[^>]*>(.*?)</header>', text, re.S)
        assert header is None or not header.group(1).strip(), page
        assert text.count("primary-toggle") == 1, page
        assert text.count('class="btn search-button-field') == 1, page
        assert has(text, 'localStorage.getItem("mode") || "auto"'), page
        assert re.search(r'<link rel="icon" href="(\.\./)*_static/favicon\.svg"', text), page
    assert (html / "_static" / "favicon.svg").is_file()
    assert (html.parent / "favicon.ico").is_file()


def test_no_two_figures_of_a_page_share_an_alt_text(html):
    """An alt text describes its figure: a cell that draws two figures gives each its own (a
    cell's `mystnb.image.alt` goes to every figure of the cell: split such a cell in two)."""
    shared = {}
    for page in pages(html):
        alts = [re.search(r'\balt="([^"]*)"', img).group(1) for img in IMG.findall(read(page))]
        twice = {alt[:60] for alt in alts if alts.count(alt) > 1}
        if twice:
            shared[str(page.relative_to(html))] = sorted(twice)
    assert not shared, shared


def test_figures_carry_their_width_for_narrow_screens(html):
    """The build gives each figure its natural width (--course-img-w), which course.css uses to
    keep a figure readable on a phone."""
    page = read(html / "lectures" / f"{STEMS[0]}.html")
    sized = re.findall(r'<img style="--course-img-w: (\d+)px"', page)
    assert sized and len(sized) == len(IMG.findall(page)), (len(sized), len(IMG.findall(page)))
