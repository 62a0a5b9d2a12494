"""Reveal.js decks of the lectures, with slide breaks taken from each lecture's structure.

    python -m tools.slides                      # `make slides`: build/slides/NN_topic.slides.html
    python -m tools.slides lectures/01_lvm_pca.ipynb          # one deck (and the index)
    python -m tools.slides --plan lectures/01_lvm_pca.ipynb   # print every cell's slide type
    python -m tools.slides --apply-metadata lectures/01_lvm_pca.ipynb [--output COPY.ipynb]
    python -m tools.slides --strip-metadata lectures/01_lvm_pca.md

Decks are built from the committed outputs (nothing executes) and read with no network: reveal.js
(with its speaker-notes plugin) comes from the `sphinx-revealjs` package and MathJax 2 from
`jupyter-server-mathjax` (its font settings shared with the site: tools/_shared.py), copied into
build/slides/_static/, so the folder build/slides/ is self-contained. Every page written is checked
for a script, style sheet or image that would come from the network.

Slide breaks are not stored in the lectures: `slide_types` applies the rule below to an in-memory
copy of the notebook at build time, from its Markdown structure and the committed outputs (heights
estimated for the deck's 1280 x 720 canvas). Per-cell `slideshow` metadata in a lecture is ignored.
The rule, cell by cell:
- the title cell (`#`) and every `##` section: slide;
- every other cell above the first `##` section (the set-up: imports, settings, data, and the
  prose about them) and every code cell below `## Summary` (bookkeeping): skip;
- a Markdown cell that comments on the result above it (it follows a code cell, the next cell is
  Markdown, and it still fits): fragment;
- any other Markdown cell (a `###` heading, the next step of the story): subslide;
- a code cell: continues the slide of the prose above it ("-"); a self-check cell (`SelfCheck(`,
  or a top-level `check_...(` call) is a fragment; but a code cell that would overflow the slide
  starts a subslide of its own.
A cell that really needs another type says so in its metadata, `"slide_override": "<type>"`, with
<type> one of slide, subslide, fragment, -, skip, notes (speaker notes, shown in the speaker view).

A deck shows the cells as the rule types them, with two differences (`deck_cells`): a Markdown
cell taller than a slide is split at its paragraphs, and a code cell taller than a slide shows
its input, then its outputs on subslides of their own. Heights are estimates: a slide whose
content still runs past the canvas is zoomed out in the browser to fit (never below
FIT_MIN_ZOOM; tests/test_browser.py measures every slide of every deck). A widget shows what it
last drew (a progress bar, interact's figure), its controls are left out. -> and space visit
every slide (reveal's linear navigation).

RISE (jupyterlab-rise, live slides in JupyterLab) reads `slideshow` metadata from the notebook
itself: `--apply-metadata` writes the rule's types there (in place, or into a copy with
`--output`), RISE's settings as notebook metadata `rise`, and the NN_topic.css that RISE asks
for beside the notebook (once); `--strip-metadata` removes the old hand-set `slideshow` metadata
from a lecture's .md, .ipynb and .py twins (keeping `slide_override`). Neither changes anything
else in a notebook.
"""
from __future__ import annotations

import argparse
import base64
import copy
import html
import json
import logging
import math
import os
import re
import shutil
import struct
import sys
import time
from pathlib import Path

import nbformat

from tools._shared import (BUILD, COURSE_TITLE, MATHJAX_CONFIG, ROOT, WIDGET_VIEW,
                           mathjax_config_js, mathjax_dir, mathjax_files, package_dir)

TEMPLATES = Path(__file__).resolve().parent / "slides_templates"
TEMPLATE = "course_slides"
MATHJAX_LOCAL_CONFIG = "mathjax-local-config.js"   # loaded before MathJax.js in every deck
SLIDE_SIZE = (1280, 720)   # reveal.js scales this 16:9 canvas to the screen
REVEAL_THEME = "white"     # its font (Source Sans Pro) ships with reveal.js; "simple" loads Google's

# RISE's settings for a notebook that --apply-metadata prepares (notebook metadata `rise`): its
# default theme, "simple", loads fonts from Google; "white" uses the fonts shipped with reveal.js.
# "scroll": a live slide taller than the window scrolls (RISE cannot split a cell as a deck does).
# "margin": 0.05 (RISE's default 0.1) leaves a tall slide a little room above it on the screen.
RISE_SETTINGS = {"theme": "white", "transition": "fade", "scroll": True, "margin": 0.05}
# NN_topic.css beside a lecture (RISE loads it after rise.css, for that notebook alone)
RISE_LECTURE_CSS = ("/* RISE (live slides, Alt+R) loads this file for {name}.ipynb alone, after "
                    "rise.css:\n   styles for this lecture's slides go here. */\n")
OVERRIDE = "slide_override"                        # cell metadata key: a type chosen by hand
TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")

# Estimated heights on the 1280 x 720 canvas (the deck's style: slides_templates/course_slides)
BUDGET = 620              # usable height of a slide (680 px), less a margin for the estimates
TEXT_LINE, CHARS_PER_LINE, PARAGRAPH = 33, 115, 12
CODE_LINE, CODE_PAD = 19, 20
HEADING = {"#": 80, "##": 55, "###": 45}
DISPLAY_MATH = 70
IMAGE_MAX = 470, 1240     # max-height and width of a figure on a slide
OUTPUT_CHARS_PER_LINE = 120   # a wider line of text output wraps (pre-wrap)
TABLE_ROW = 34                # a row of an HTML table (utils.tables)
# A deck's safety net (courseFit in the template): a slide whose content still runs past the
# canvas is zoomed out to fit, but never below this (22-px text stays >= 13 px on the canvas, so
# >= 20 px on a 1920-px projector). The rule keeps slides that would need more zoom apart.
FIT_MIN_ZOOM = 0.6
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)")
_SELF_CHECK = re.compile(r"\bSelfCheck\(|^check_\w*\(", re.MULTILINE)

# A resource the browser would load from the network: a script, style sheet, image or frame whose
# address is absolute, a CSS @import of one, or a JavaScript import() of one. Links (<a href>) are
# fine: they are followed only when clicked.
_REMOTE = re.compile(
    r"""<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?["']?(?:https?:)?//"""
    r"""|\bimport\s*\(\s*["'](?:https?:)?//""", re.IGNORECASE)
_NOTEBOOK_HREF = re.compile(r'href="(?![a-z]+:|/|#)([^"#]+)\.ipynb(#[^"]*)?"')
# Markdown images of the committed figures (`![alt](../images/NAME.png)`): nbconvert embeds only
# images below the notebook's own folder, so the decks carry these as data URIs too.
_IMAGE_SRC = re.compile(r'src="\.\./images/([\w.-]+\.png)"')


# ---------------------------------------------------------------------------------------------
# The rule: a slide type per cell, from the lecture's structure

def _png_size(b64: str) -> tuple[int, int]:
    head = base64.b64decode("".join(b64.split())[:64])
    return struct.unpack(">II", head[16:24])


def _text_height(text: str) -> float:
    """Rendered height of one paragraph or list item (TeX commands and markup take less room)."""
    shown = re.sub(r"[$*`{}_^]", "", re.sub(r"\\[a-zA-Z]+", "x", text))
    return TEXT_LINE * math.ceil(len(shown) / CHARS_PER_LINE)


def _image_height(src: str) -> float:
    """Shown height of a Markdown image: from the PNG's size if it is one of images/."""
    path = ROOT / "images" / Path(src).name
    if src.startswith("../images/") and path.suffix == ".png" and path.exists():
        w, h = struct.unpack(">II", path.read_bytes()[16:24])
        return min(IMAGE_MAX[0], h * min(1.0, IMAGE_MAX[1] / w)) + 10
    return IMAGE_MAX[0]


def markdown_height(source: str) -> float:
    height, paragraph, in_math = 0.0, [], False

    def flush(gap=PARAGRAPH):
        nonlocal height, paragraph
        if paragraph:
            height += _text_height(" ".join(paragraph)) + gap
            paragraph = []

    # an image (its alt text may wrap over several lines) on a line of its own
    source = _MD_IMAGE.sub(lambda m: f"\n![]({m.group(1)})\n", source)
    for line in source.splitlines():
        stripped = line.strip()
        if in_math:                                  # inside a $$ ... $$ block
            in_math = not stripped.endswith("$$")
            continue
        if stripped.startswith("$$"):
            flush()
            height += DISPLAY_MATH
            in_math = stripped == "$$" or not stripped.endswith("$$")
        elif not stripped:
            flush()
        elif (image := _MD_IMAGE.match(stripped)):   # a figure of images/ on a line of its own
            flush()
            height += _image_height(image.group(1))
        elif stripped.split(" ", 1)[0] in HEADING:
            flush()
            height += HEADING[stripped.split(" ", 1)[0]]
        elif re.match(r"([-*+]|\d+\.) ", stripped):   # a list item
            flush(gap=4)
            paragraph = [stripped]
        else:
            paragraph.append(stripped)
    flush()
    return height


def _output_lines(text: str) -> int:
    """Lines a text output takes on a slide: every line (outputs are not collapsed), wrapped."""
    return sum(max(1, math.ceil(len(line) / OUTPUT_CHARS_PER_LINE))
               for line in text.splitlines())


def _source_removed(cell) -> bool:
    return bool(cell.get("metadata", {}).get("transient", {}).get("remove_source"))


def input_height(cell) -> float:
    if _source_removed(cell) or not cell.source.strip():
        return 0.0
    return CODE_PAD + CODE_LINE * len(cell.source.splitlines())


def outputs_height(cell) -> float:
    height = 0.0
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data:
            w, h = _png_size(data["image/png"])
            height += min(IMAGE_MAX[0], h * min(1.0, IMAGE_MAX[1] / w)) + 10
        elif output.get("output_type") == "stream":
            height += CODE_LINE * _output_lines(output.get("text", "")) + 10
        elif "text/html" in data:
            page = "".join(data["text/html"])
            rows = page.count("<tr")
            height += (TABLE_ROW * rows + 20 if rows else
                       CODE_LINE * max(1, len(re.sub(r"<[^>]+>", "", page).splitlines())) + 10)
        elif "text/plain" in data:
            height += CODE_LINE * _output_lines(str(data["text/plain"])) + 10
    return height


def code_height(cell) -> float:
    return input_height(cell) + outputs_height(cell)


def _heading(cell) -> str:
    """'#', '##', '###'... if a Markdown cell opens with a heading, else ''."""
    if cell.cell_type != "markdown":
        return ""
    first = cell.source.lstrip().split(" ", 1)[0]
    return first if first and set(first) == {"#"} else ""


def is_self_check(cell) -> bool:
    return cell.cell_type == "code" and bool(_SELF_CHECK.search(cell.source))


def override(cell) -> str | None:
    """The slide type a cell sets by hand (metadata `slide_override`), or None."""
    kind = cell.get("metadata", {}).get(OVERRIDE)
    if kind is not None and kind not in TYPES:
        raise ValueError(f"{OVERRIDE}: {kind!r} is not one of {', '.join(TYPES)} "
                         f"(cell {cell.source.strip()[:40]!r})")
    return kind


def slide_types(cells) -> list[str]:
    """The rule (module docstring): a slide type per cell. `slideshow` metadata is ignored; a
    `slide_override` wins. Heights come from the cells' sources and their committed outputs."""
    first_section = next((i for i, c in enumerate(cells) if _heading(c) == "##"), len(cells))
    summary = next((i for i, c in enumerate(cells) if _heading(c) == "##"
                    and c.source.lstrip()[2:].strip().lower().startswith("summary")), len(cells))
    types, used = [], 0.0
    for i, cell in enumerate(cells):
        after_code = i > 0 and cells[i - 1].cell_type == "code"
        before_text = i + 1 == len(cells) or cells[i + 1].cell_type == "markdown"
        height = 0.0
        if cell.cell_type == "markdown" and _heading(cell) in ("#", "##"):
            kind, height = "slide", markdown_height(cell.source)
        elif i < first_section:                 # the set-up, and the prose about it
            kind = "skip"
        elif cell.cell_type == "markdown":
            height = markdown_height(cell.source)
            if not _heading(cell) and after_code and before_text and used + height <= BUDGET:
                kind = "fragment"               # a comment on the result above (a takeaway)
            else:
                kind = "subslide"
        elif cell.cell_type != "code" or i > summary:
            kind = "skip"                       # raw cells; bookkeeping below the summary
        else:
            height = code_height(cell)
            kind = "fragment" if is_self_check(cell) else "-"
            if used + height > BUDGET:
                kind = "subslide"
        kind = override(cell) or kind
        types.append(kind)
        if kind in ("slide", "subslide"):
            used = height
        elif kind not in ("skip", "notes"):
            used += height
    return types


def _markdown_blocks(source: str) -> list[str]:
    """A Markdown cell's blocks (paragraphs, lists, display math, fenced code), in order."""
    blocks, current, fence, math_open = [], [], False, False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = not fence
        elif fence:
            pass
        elif math_open:                               # inside a $$ ... $$ block
            math_open = not stripped.endswith("$$")
        elif stripped.startswith("$$"):
            math_open = stripped == "$$" or not stripped.endswith("$$")
        if not stripped and not fence and not math_open and current:
            blocks.append("\n".join(current))
            current = []
        elif stripped or current:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _new_id(cell, k: int) -> None:
    """A part of a split cell gets an id of its own (cell ids are unique in a notebook)."""
    if "id" in cell:
        cell.id = f"{cell.id[:58]}-p{k}"


def _split_markdown(cell) -> list:
    """A Markdown cell taller than a slide as several cells, each fitting one (blocks kept
    whole); the continuations start subslides of their own."""
    parts, chunk = [], []
    for block in _markdown_blocks(cell.source):
        if chunk and markdown_height("\n\n".join(chunk + [block])) > BUDGET:
            parts.append(chunk)
            chunk = []
        chunk.append(block)
    parts.append(chunk)
    cells = []
    for k, chunk in enumerate(parts):
        part = copy.deepcopy(cell)
        part.source = "\n\n".join(chunk)
        if k:
            part.metadata[OVERRIDE] = "subslide"
            _new_id(part, k)
        cells.append(part)
    return cells


def _split_code(cell) -> list:
    """A code cell taller than a slide as its input, then its outputs on subslides of their own
    (as many as the outputs need, each output kept whole)."""
    groups, group, used = [], [], 0.0
    for output in cell.outputs:
        height = outputs_height({"outputs": [output]})
        if group and used + height > BUDGET:
            groups.append(group)
            group, used = [], 0.0
        group.append(output)
        used += height
    if group:
        groups.append(group)
    source = copy.deepcopy(cell)
    source.outputs = []
    cells = [source] if cell.source.strip() else []
    for k, group in enumerate(groups, start=1):
        shown = copy.deepcopy(cell)
        _new_id(shown, k)
        shown.outputs = group
        shown.metadata.setdefault("transient", {})["remove_source"] = True
        shown.metadata[OVERRIDE] = "subslide"
        cells.append(shown)
    return cells


def deck_cells(cells) -> list:
    """The cells a deck shows: a Markdown cell taller than a slide is split at its blocks, a code
    cell taller than a slide into its input and its outputs (a deck only: RISE shows the cells
    as they are, and scrolls). Cells the rule skips are left as they are."""
    types = slide_types(cells)
    shown = []
    for cell, kind in zip(cells, types):
        if kind in ("skip", "notes"):
            shown.append(cell)
        elif cell.cell_type == "markdown" and markdown_height(cell.source) > BUDGET:
            shown.extend(_split_markdown(cell))
        elif (cell.cell_type == "code" and cell.get("outputs") and input_height(cell) > 0
              and code_height(cell) > BUDGET) or (
                cell.cell_type == "code" and outputs_height(cell) > BUDGET):
            shown.extend(_split_code(cell))
        else:
            shown.append(cell)
    return shown


def with_slide_metadata(nb) -> nbformat.NotebookNode:
    """A copy of `nb` whose cells carry the rule's `slideshow` metadata and no other."""
    nb = copy.deepcopy(nb)
    for cell, kind in zip(nb.cells, slide_types(nb.cells)):
        cell.metadata.pop("slideshow", None)
        if kind != "-":                          # "-" is reveal's default: left out
            cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


# ---------------------------------------------------------------------------------------------
# Reading a committed notebook for a static deck

def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The committed notebook, with every widget drawn from its saved state as static HTML.

    A deck has no kernel, and the widget manager would come from a CDN. The state that nbconvert
    saved when the notebook ran (notebook metadata) has each widget's last values: tqdm's bars
    become their final bar, the outputs of an Output widget (interact) plain outputs, and
    controls (sliders...) are left out: on a slide they could not move. Without a saved state, the
    text/plain form is kept.
    """
    nb = nbformat.read(path, as_version=4)
    widgets = nb.metadata.pop("widgets", {})
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        outputs = []
        for output in cell.outputs:
            view = output.get("data", {}).pop(WIDGET_VIEW, None)
            drawn = _widget_outputs(view.get("model_id"), state) if view else []
            if drawn:
                outputs.extend(nbformat.from_dict(o) for o in drawn)
            elif output.get("data", True):        # keep what is left (text/plain)
                outputs.append(output)
        cell.outputs = outputs
    return nb


_BOXES = {"HBoxModel": "row", "VBoxModel": "column", "BoxModel": "row", "GridBoxModel": "row"}


def _widget_html(model_id: str, state: dict) -> str:
    """A widget's last state as static HTML ('' for an Output widget or an unknown one)."""
    model = state.get(model_id.replace("IPY_MODEL_", ""))
    if model is None:
        return ""
    name, values = model.get("model_name", ""), model.get("state", {})
    description = html.escape(str(values.get("description", "")))
    if name in _BOXES:
        inner = "".join(_widget_html(child, state) for child in values.get("children", []))
        return (f'<div style="display: flex; flex-direction: {_BOXES[name]}; gap: 0.5em; '
                f'align-items: center">{inner}</div>') if inner else ""
    if name in ("HTMLModel", "HTMLMathModel"):
        return f'<span style="white-space: nowrap">{description} {values.get("value", "")}</span>'
    if name == "LabelModel":
        return f"<span>{html.escape(str(values.get('value', '')))}</span>"
    if name.endswith("ProgressModel"):
        return (f'<span>{description}</span><progress value="{values.get("value", 0)}" '
                f'max="{values.get("max", 1)}" style="width: 20em"></progress>')
    # sliders, dropdowns, check boxes: a control that cannot move on a slide is left out; what
    # it drove (an Output widget's last outputs, e.g. interact's figure) is shown
    return ""


def _widget_outputs(model_id: str | None, state: dict) -> list[dict]:
    """Outputs standing for a widget view: its HTML, then what its Output widgets showed."""
    if not model_id or model_id.replace("IPY_MODEL_", "") not in state:
        return []
    snippet = _widget_html(model_id, state)
    drawn = [{"output_type": "display_data", "metadata": {}, "data": {"text/html": snippet}}
             ] if snippet else []
    return drawn + _shown_by_output_widgets(model_id, state)


def _shown_by_output_widgets(model_id: str, state: dict, depth: int = 0) -> list[dict]:
    model = state.get(model_id.replace("IPY_MODEL_", ""), {})
    values = model.get("state", {})
    if model.get("model_name") == "OutputModel":
        return [dict(o) for o in values.get("outputs", [])]
    if depth > 20:
        return []
    return [o for child in values.get("children", [])
            for o in _shown_by_output_widgets(child, state, depth + 1)]


# ---------------------------------------------------------------------------------------------
# Building the decks

def copy_static(out_dir: Path) -> Path:
    """MathJax 2 and reveal.js into out_dir/_static (again only when a package moves)."""
    static = out_dir / "_static"
    mathjax = mathjax_dir()
    reveal = package_dir("sphinx_revealjs", "sphinx-revealjs") / "_static" / "revealjs"
    stamp = static / ".sources"
    sources = f"{mathjax.resolve()}\n{reveal.resolve()}\n{REVEAL_THEME}\n{_MATHJAX_LOCAL_CONFIG_JS}"
    if stamp.exists() and stamp.read_text(encoding="utf-8") == sources:
        return static
    shutil.rmtree(static, ignore_errors=True)
    for path, rel in mathjax_files():
        (static / "mathjax" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, static / "mathjax" / rel)
    # of reveal's themes only the deck's (the others @import fonts from Google) and its fonts
    shutil.copytree(reveal / "dist", static / "reveal.js" / "dist", ignore=_other_themes)
    shutil.copytree(reveal / "plugin" / "notes", static / "reveal.js" / "plugin" / "notes")
    shutil.copy2(reveal / "LICENSE", static / "reveal.js" / "LICENSE")
    (static / MATHJAX_LOCAL_CONFIG).write_text(_MATHJAX_LOCAL_CONFIG_JS, encoding="utf-8")
    stamp.write_text(sources, encoding="utf-8")
    return static


def _other_themes(folder: str, names: list[str]) -> list[str]:
    keep = {"theme": {f"{REVEAL_THEME}.css", "fonts"}, "fonts": {"source-sans-pro"}}
    return [n for n in names if Path(folder).name in keep and n not in keep[Path(folder).name]]


def remote_resource(text: str) -> str | None:
    """The first thing in an HTML page that a browser would load from the network, or None."""
    match = _REMOTE.search(text)
    return match.group(0) if match else None


def _write(page: Path, body: str) -> Path:
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(body, encoding="utf-8")
    if (found := remote_resource(body)):
        raise RuntimeError(f"{page} would load {found!r}... from the network")
    return page


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def _exporter(out_dir: Path, static: Path):
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    c = Config()
    c.SlidesExporter.extra_template_basedirs = [str(TEMPLATES)]
    c.SlidesExporter.template_name = TEMPLATE
    c.SlidesExporter.mathjax_url = (f"{_relative(static / 'mathjax' / 'MathJax.js', out_dir)}"
                                    f"?config={MATHJAX_CONFIG}")
    c.SlidesExporter.embed_images = True          # images of Markdown cells go inline too
    c.SlidesExporter.reveal_url_prefix = _relative(static / "reveal.js", out_dir)
    c.SlidesExporter.reveal_theme = REVEAL_THEME
    c.SlidesExporter.reveal_width, c.SlidesExporter.reveal_height = map(str, SLIDE_SIZE)
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.reveal_transition = "fade"
    return SlidesExporter(config=c)


def _inline_image(match: re.Match) -> str:
    path = ROOT / "images" / match.group(1)
    if not path.exists():
        raise FileNotFoundError(f"a notebook shows {path}, which does not exist: run its lecture "
                                "or `python -m tools.figures`")
    return f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"'


def _link_target(stem: str) -> str:
    """Where a notebook link of a lecture goes in a deck: another lecture's deck, or the course
    site's page of an exercise or solution (`make html` builds build/html/)."""
    if stem.startswith("../"):                       # ../exercises/X or ../solutions/X
        return f"../html/{stem[3:]}.html"
    return f"{stem}.slides.html"


def title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (m := re.search(r"^# (.+)$", cell.source, re.M)):
            return m.group(1).strip()
    return ""


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def lectures() -> list[Path]:
    return sorted((ROOT / "lectures").glob("[0-9]*.ipynb"))


def build_deck(path: Path, out_dir: Path, exporter=None) -> Path:
    """build/slides/NN_topic.slides.html from the committed notebook at `path`."""
    static = copy_static(out_dir)
    exporter = exporter or _exporter(out_dir, static)
    nb = read_notebook(path)
    nb.cells = deck_cells(nb.cells)
    nb = with_slide_metadata(nb)
    resources = {"course_fit_min_zoom": FIT_MIN_ZOOM,
                 "metadata": {"name": path.stem, "path": str(path.parent)},
                 "course_nav": " · ".join([_link("index.html", "all decks"),
                                           _link("../html/index.html", "course site")]),
                 "course_mathjax_config": _relative(static / MATHJAX_LOCAL_CONFIG, out_dir)}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = _IMAGE_SRC.sub(_inline_image, body)
    body = _NOTEBOOK_HREF.sub(lambda m: f'href="{_link_target(m.group(1))}{m.group(2) or ""}"',
                              body)
    return _write(out_dir / f"{path.stem}.slides.html", body)


def build(build_dir: Path = BUILD, paths: list[Path] | None = None) -> list[Path]:
    """A deck per lecture in build_dir/slides/, and an index of every deck there."""
    out_dir = build_dir / "slides"
    exporter = _exporter(out_dir, copy_static(out_dir))
    written = [build_deck(path, out_dir, exporter) for path in (paths or lectures())]
    items = []
    for deck in sorted(out_dir.glob("*.slides.html")):
        source = ROOT / "lectures" / deck.name.replace(".slides.html", ".ipynb")
        name = (title(nbformat.read(source, as_version=4)) if source.exists() else "") or deck.name
        items.append(f"<li>{_link(deck.name, name)}</li>")
    written.append(_write(out_dir / "index.html", _INDEX.format(
        title=html.escape(f"{COURSE_TITLE}: slides"), items="\n".join(items),
        site=_link("../html/index.html", "the course site"))))
    return written


# ---------------------------------------------------------------------------------------------
# Slide metadata in notebook files: write the rule's (for RISE), strip the old hand-set ones

def _dump_ipynb(data: dict) -> str:
    """A notebook's JSON as Jupyter and nbformat write it."""
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def apply_metadata(path: Path, output: Path | None = None) -> list[str]:
    """Write the rule's `slideshow` metadata into the .ipynb at `path` (or a copy at `output`),
    replacing any there, and RISE's settings (`RISE_SETTINGS`) as its notebook metadata `rise`;
    nothing else changes. Returns the types, one per cell."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    types = slide_types(nbformat.reads(text, as_version=4).cells)
    for cell, kind in zip(data["cells"], types):
        cell["metadata"].pop("slideshow", None)
        if kind != "-":
            cell["metadata"]["slideshow"] = {"slide_type": kind}
    data["metadata"]["rise"] = dict(RISE_SETTINGS)
    (output or path).parent.mkdir(parents=True, exist_ok=True)
    (output or path).write_text(_dump_ipynb(data), encoding="utf-8")
    rise_css(output or path)
    return types


def rise_css(notebook: Path) -> Path:
    """NN_topic.css beside the notebook: RISE asks for it (after the folder's rise.css) whether
    it exists or not, and a missing one comes back as an HTML error page that the browser refuses
    as a style sheet (a console error on every slideshow). Written once; an edited one is kept."""
    path = notebook.with_suffix(".css")
    if not path.exists():
        path.write_text(RISE_LECTURE_CSS.format(name=notebook.stem), encoding="utf-8")
    return path


def twins(path: Path) -> list[Path]:
    """The paired forms (.ipynb, .md, .py) of a notebook that exist."""
    return [p for p in (path.with_suffix(s) for s in (".ipynb", ".md", ".py")) if p.exists()]


def strip_metadata(path: Path) -> dict[Path, int]:
    """Remove every cell's `slideshow` metadata from the notebook's .ipynb, .md and .py twins
    (a `slide_override` stays). Only that metadata changes; a text twin that jupytext would not
    write back unchanged is refused (sync it first). Returns the cells changed per file."""
    import jupytext
    from jupytext.config import load_jupytext_config

    changed: dict[Path, int] = {}
    plan: dict[Path, str] = {}
    for twin in twins(path):
        text = twin.read_text(encoding="utf-8")
        if twin.suffix == ".ipynb":
            data = json.loads(text)
            cells = [c for c in data["cells"] if "slideshow" in c.get("metadata", {})]
            for cell in cells:
                del cell["metadata"]["slideshow"]
            new = _dump_ipynb(data) if cells else text
        else:
            config = load_jupytext_config(str(twin.resolve().parent))
            fmt = {".md": "md:myst", ".py": "py:percent"}[twin.suffix]
            nb = jupytext.reads(text, fmt=fmt, config=config)
            if jupytext.writes(nb, fmt=fmt, config=config) != text:
                raise RuntimeError(f"{twin}: jupytext would rewrite more than the slide "
                                   f"metadata; bring the twins in step first (`make sync`)")
            cells = [c for c in nb.cells if "slideshow" in c.metadata]
            for cell in cells:
                del cell.metadata["slideshow"]
            new = jupytext.writes(nb, fmt=fmt, config=config) if cells else text
        changed[twin] = len(cells)
        plan[twin] = new
    for twin, new in plan.items():                  # write only once every twin is understood
        if changed[twin]:
            twin.write_text(new, encoding="utf-8")
    return changed


# ---------------------------------------------------------------------------------------------

# Every deck names MathJax's fonts before MathJax.js (tools/_shared.py); nbconvert's template
# configures the rest (tex2jax) after it. A display wider than the slide breaks into lines.
_MATHJAX_LOCAL_CONFIG_JS = mathjax_config_js(linebreaks=True)

_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style>
body {{ font: 17px/1.5 system-ui, sans-serif; max-width: 900px; margin: 0 auto; padding: 1em;
       color: #222; }}
li {{ margin: 0.3em 0; font-size: 1.1em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Keys in a deck: &rarr; or space to move on (through every slide: a section's steps
stack below its first slide, &darr;), <kbd>S</kbd>
for the speaker view, <kbd>Esc</kbd> for the overview, <kbd>F</kbd> for full screen.
Also: {site}.</p>
<ol>
{items}
</ol>
</body>
</html>
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", type=Path, nargs="*",
                        help="lectures/NN_topic.ipynb (default: every lecture)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--plan", action="store_true", help="print every cell's slide type")
    what.add_argument("--apply-metadata", action="store_true",
                      help="write the rule's slideshow metadata into the .ipynb (for RISE)")
    what.add_argument("--strip-metadata", action="store_true",
                      help="remove per-cell slideshow metadata from the .ipynb/.md/.py twins")
    parser.add_argument("--output", type=Path, help="with --apply-metadata: write a copy here")
    parser.add_argument("--build", type=Path, default=BUILD, help="output folder (default build/)")
    args = parser.parse_args(argv)
    if args.output and not (args.apply_metadata and len(args.notebooks) == 1):
        parser.error("--output goes with --apply-metadata and one notebook")
    if (args.plan or args.apply_metadata or args.strip_metadata) and not args.notebooks:
        parser.error("name the notebook(s)")

    if args.strip_metadata:
        for path in args.notebooks:
            for twin, n in strip_metadata(path).items():
                print(f"{twin}: slideshow metadata removed from {n} cells")
        return 0
    if args.plan or args.apply_metadata:
        for path in args.notebooks:
            ipynb = path.with_suffix(".ipynb")        # heights come from the committed outputs
            nb = nbformat.read(ipynb, as_version=4)
            types = (apply_metadata(ipynb, args.output) if args.apply_metadata
                     else slide_types(nb.cells))
            print(ipynb if not args.output else f"{ipynb} -> {args.output}")
            for i, (cell, kind) in enumerate(zip(nb.cells, types)):
                first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
                mark = " (override)" if OVERRIDE in cell.metadata else ""
                print(f"{i:3d} {cell.cell_type:8s} {kind:9s} {first}{mark}")
        return 0

    # nbconvert warns, per deck, that figures have no alternative text: true, and not news
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    start = time.perf_counter()
    written = build(args.build, [p.with_suffix(".ipynb") for p in args.notebooks] or None)
    for page in written:
        print(_relative(page, Path.cwd()) if page.is_relative_to(Path.cwd()) else page)
    print(f"{len(written) - 1} decks in {time.perf_counter() - start:.1f} s; "
          f"open {args.build / 'slides' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
