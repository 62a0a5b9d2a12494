"""Static exports of the course, built from the committed outputs (nothing is executed).

    python -m tools.export slides   # build/slides/: a reveal.js deck per lecture (+ index.html)
    python -m tools.export html     # build/html/: every lecture, exercise and solution (+ index.html)
    python -m tools.export all

(`make slides`, `make html`.) Nothing is fetched at build or view time: MathJax 2 comes from the
`jupyter-server-mathjax` package and reveal.js from `sphinx-revealjs` (both in requirements.txt),
copied into build/_static/; the templates in tools/export_templates/ drop every CDN script of
nbconvert's stock templates (jQuery, RequireJS, Mermaid, the widget manager). Each page written is
checked for a script, style sheet or image that would still come from the network.
"""
from __future__ import annotations

import argparse
import base64
import html
import importlib.util
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
TEMPLATES = Path(__file__).resolve().parent / "export_templates"
FOLDERS = ("lectures", "exercises", "solutions")
COURSE_TITLE = "Latent variable models: from PCA to VAEs in PyTorch and Pyro"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
MATHJAX_LOCAL_CONFIG = "mathjax-local-config.js"   # loaded before MathJax.js on every page
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SLIDE_SIZE = (1280, 720)   # reveal.js scales this 16:9 canvas to the screen

# A resource the browser would load from the network: a script, style sheet, image or frame whose
# address is absolute, a CSS @import of one, or a JavaScript import() of one. Links (<a href>) are
# fine: they are followed only when clicked.
_REMOTE = re.compile(
    r"""<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?["']?(?:https?:)?//"""
    r"""|\bimport\s*\(\s*["'](?:https?:)?//""", re.IGNORECASE)
_NOTEBOOK_HREF = re.compile(r'href="(?![a-z]+:|/|#)([^"#]+)\.ipynb(#[^"]*)?"')


def _package_dir(module: str, pip_name: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{pip_name} is not installed: run `make` targets through the Makefile, "
                 f"or `.venv/bin/pip install -r requirements.txt`")
    return Path(list(spec.submodule_search_locations)[0])


def copy_static(build: Path = BUILD) -> Path:
    """Copy MathJax 2 and reveal.js into build/_static (once; again only when a version changes)."""
    static = build / "_static"
    mathjax = _package_dir("jupyter_server_mathjax", "jupyter-server-mathjax") / "static"
    reveal = _package_dir("sphinx_revealjs", "sphinx-revealjs") / "_static" / "revealjs"
    stamp = static / ".sources"
    sources = f"{mathjax.resolve()}\n{reveal.resolve()}\n{_MATHJAX_LOCAL_CONFIG_JS}"
    if stamp.exists() and stamp.read_text() == sources:
        return static
    shutil.rmtree(static, ignore_errors=True)
    # MathJax's translations are loaded only for a browser set to another language: English only.
    shutil.copytree(mathjax, static / "mathjax",
                    ignore=lambda d, names: [n for n in names if Path(d).name == "localization"
                                             and n != "en"])
    shutil.copytree(reveal / "dist", static / "reveal.js" / "dist")
    shutil.copytree(reveal / "plugin" / "notes", static / "reveal.js" / "plugin" / "notes")
    shutil.copy2(reveal / "LICENSE", static / "reveal.js" / "LICENSE")
    (static / MATHJAX_LOCAL_CONFIG).write_text(_MATHJAX_LOCAL_CONFIG_JS)
    stamp.write_text(sources)
    return static


def notebooks(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("[0-9]*.ipynb"))


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The committed notebook, with every widget drawn from its saved state as static HTML.

    A static page has no kernel, and the widget manager would come from a CDN. The state that
    nbconvert saved when the notebook ran (notebook metadata) has each widget's last values:
    tqdm's bars become their final bar, controls a label with their value, and the outputs of an
    Output widget (interact) plain outputs. Without a saved state, the text/plain form is kept.
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
    if "value" in values and name != "OutputModel":          # sliders, dropdowns, check boxes
        value = values["value"]
        value = f"{value:.3g}" if isinstance(value, float) else html.escape(str(value))
        return f"<span><b>{description}</b> {value}</span>"
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


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def _check_offline(page: Path) -> None:
    match = _REMOTE.search(page.read_text(encoding="utf-8"))
    if match:
        raise RuntimeError(f"{page} would load {match.group(0)!r}... from the network")


def _write(page: Path, body: str) -> Path:
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(body, encoding="utf-8")
    _check_offline(page)
    return page


def _exporter(kind: str, out_dir: Path, static: Path):
    """nbconvert's HTML or slides exporter with the course templates and local assets."""
    from nbconvert import HTMLExporter, SlidesExporter
    from traitlets.config import Config

    name = "SlidesExporter" if kind == "slides" else "HTMLExporter"
    c = Config()
    c[name].extra_template_basedirs = [str(TEMPLATES)]
    c[name].template_name = "course_slides" if kind == "slides" else "course_html"
    c[name].mathjax_url = f"{_relative(static / 'mathjax' / 'MathJax.js', out_dir)}?config={MATHJAX_CONFIG}"
    c[name].embed_images = True          # images referenced by Markdown cells go inline too
    if kind == "slides":
        c[name].reveal_url_prefix = _relative(static / "reveal.js", out_dir)
        c[name].reveal_theme = "white"   # its fonts ship with reveal.js ("simple" loads Google's)
        c[name].reveal_width, c[name].reveal_height = map(str, SLIDE_SIZE)
        c[name].reveal_number = "c/t"
        c[name].reveal_transition = "fade"
        return SlidesExporter(config=c)
    return HTMLExporter(config=c)


def _convert(exporter, path: Path, nav: str, out_dir: Path, static: Path) -> str:
    resources = {"metadata": {"name": path.stem, "path": str(path.parent)}, "course_nav": nav,
                 "course_mathjax_config": _relative(static / MATHJAX_LOCAL_CONFIG, out_dir)}
    body, _ = exporter.from_notebook_node(read_notebook(path), resources=resources)
    return _IMAGE_SRC.sub(_inline_image, body)


# Markdown images of the committed figures (`![alt](../images/NAME.png)`): nbconvert only embeds
# images below the notebook's own folder, so the pages carry these as data URIs too.
_IMAGE_SRC = re.compile(r'src="\.\./images/([\w.-]+\.png)"')


def _inline_image(match: re.Match) -> str:
    path = ROOT / "images" / match.group(1)
    if not path.exists():
        raise FileNotFoundError(f"a notebook shows {path}, which does not exist: run its lecture "
                                "or `python -m tools.figures`")
    return f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"'


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def _first_figure(nb) -> bytes | None:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                return base64.b64decode(png)
    return None


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def build_slides(build: Path = BUILD, paths: list[Path] | None = None) -> list[Path]:
    """A reveal.js deck per lecture: build/slides/NN_topic.slides.html, and an index."""
    static = copy_static(build)
    out_dir = build / "slides"
    exporter = _exporter("slides", out_dir, static)
    paths = paths or notebooks("lectures")
    written = []
    for path in paths:
        nav = _link("index.html", "all decks") + " · " + _link(
            f"../html/lectures/{path.stem}.html", "as a page")
        body = _convert(exporter, path, nav, out_dir, static)
        # links between lectures go to their decks; exercises and solutions to the HTML site
        body = _NOTEBOOK_HREF.sub(
            lambda m: f'href="{_slides_target(m.group(1))}{m.group(2) or ""}"', body)
        written.append(_write(out_dir / f"{path.stem}.slides.html", body))
    decks = sorted(out_dir.glob("*.slides.html"))
    items = "\n".join(
        f"<li>{_link(deck.name, _deck_title(deck))}</li>" for deck in decks)
    written.append(_write(out_dir / "index.html", _PAGE.format(
        title=f"{COURSE_TITLE}: slides", head="", body=(
            f"<h1>Slides</h1><p>{_link('../html/index.html', 'the course as web pages')}</p>"
            f"<p>Keys: arrows or space to move, <kbd>Esc</kbd> for the overview, <kbd>S</kbd> "
            f"for the speaker view, <kbd>F</kbd> for full screen.</p><ol>{items}</ol>"))))
    return written


def _deck_title(deck: Path) -> str:
    source = ROOT / "lectures" / deck.name.replace(".slides.html", ".ipynb")
    return (_title(nbformat.read(source, as_version=4)) if source.exists() else "") or deck.name


def _slides_target(stem: str) -> str:
    if stem.startswith("../"):                       # ../exercises/X or ../solutions/X
        return f"../html/{stem[3:]}.html"
    return f"{stem}.slides.html"


def build_html(build: Path = BUILD, folders=FOLDERS) -> list[Path]:
    """Every lecture, exercise and solution as a page, and build/html/index.html linking them."""
    static = copy_static(build)
    site = build / "html"
    written = []
    units: dict[str, dict[str, Path]] = {}
    for folder in folders:
        out_dir = site / folder
        exporter = _exporter("html", out_dir, static)
        for path in notebooks(folder):
            units.setdefault(path.stem, {})[folder] = path
            nav = " ".join([_link("../index.html", "course index")]
                           + [_link(f"../{other}/{path.stem}.html", other[:-1])
                              for other in FOLDERS if other != folder
                              and (ROOT / other / path.name).exists()]
                           + ([_link(f"../../slides/{path.stem}.slides.html", "slides")]
                              if folder == "lectures" else []))
            body = _convert(exporter, path, nav, out_dir, static)
            body = _NOTEBOOK_HREF.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)
            written.append(_write(out_dir / f"{path.stem}.html", body))
    written.append(_write(site / "index.html", _index(units, site, static)))
    return written


def _index(units: dict[str, dict[str, Path]], site: Path, static: Path) -> str:
    """The course's front page: per unit its title, learning goals, a figure and its pages."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    sections, titles = [], []
    for stem in sorted(units):
        pages = units[stem]
        main = pages.get("lectures") or next(iter(pages.values()))
        nb = nbformat.read(main, as_version=4)
        intro = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        goals = "\n".join(line for line in intro.splitlines() if not line.startswith("# "))
        links = [_link(f"{folder}/{stem}.html", folder[:-1]) for folder in FOLDERS
                 if folder in pages]
        if "lectures" in pages:
            links.insert(1, _link(f"../slides/{stem}.slides.html", "slides"))
        figure = _first_figure(nb)
        img = ""
        if figure:
            (site / "figures").mkdir(parents=True, exist_ok=True)
            (site / "figures" / f"{stem}.png").write_bytes(figure)
            img = (f'<a href="{_folder_of(pages)}/{stem}.html"><img class="thumb" '
                   f'src="figures/{stem}.png" alt="a figure of {html.escape(stem)}"></a>')
        titles.append((stem, _title(nb) or stem))
        sections.append(
            f'<section class="unit" id="{stem}">{img}<h2>{html.escape(_title(nb) or stem)}</h2>'
            f'<p class="pages">{" · ".join(links)}</p>'
            f'<div class="goals">{markdown2html_mistune(goals)}</div></section>')
    mathjax = _relative(static / "mathjax" / "MathJax.js", site)
    head = _MATHJAX.format(url=f"{mathjax}?config={MATHJAX_CONFIG}",
                          config=_relative(static / MATHJAX_LOCAL_CONFIG, site))
    toc = "".join(f'<li><a href="#{stem}">{html.escape(title)}</a></li>'
                  for stem, title in titles)
    body = (f"<h1>{html.escape(COURSE_TITLE)}</h1>"
            f"<p>Read each lecture, run it in JupyterLab (<code>make lab</code>), then work its "
            f"exercise; the solution shows one way to do it. The lectures are also "
            f"{_link('../slides/index.html', 'slides')}.</p>"
            f'<ol class="toc">{toc}</ol>' + "\n".join(sections))
    return _PAGE.format(title=COURSE_TITLE, head=head, body=body)


def _folder_of(pages: dict[str, Path]) -> str:
    return "lectures" if "lectures" in pages else next(iter(pages))


# jupyter-server-mathjax ships the STIX-Web fonts only (as the classic Notebook used them):
# MathJax's default TeX web fonts are not there, and its combined configurations declare them
# (the MathML output's style sheet), so every page names its parts and fonts before MathJax.js.
_MATHJAX_LOCAL_CONFIG_JS = """window.MathJax = {
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               linebreaks: {automatic: true}},
  SVG: {font: "STIX-Web"},
  // the hidden MathML copy kept for screen readers would ask for the missing TeX fonts
  NativeMML: {styles: {
    '[mathvariant="double-struck"]': {"font-family": "serif"},
    '[mathvariant="script"]': {"font-family": "serif"},
    '[mathvariant="fraktur"]': {"font-family": "serif"},
    '[mathvariant="bold-script"]': {"font-family": "serif", "font-weight": "bold"},
    '[mathvariant="bold-fraktur"]': {"font-family": "serif", "font-weight": "bold"}
  }},
  menuSettings: {zoom: "Double-Click"}
};
"""

_MATHJAX = """<script src="{config}"></script>
<script src="{url}"></script>
<script type="text/x-mathjax-config">
MathJax.Hub.Config({{tex2jax: {{inlineMath: [['$','$'], ['\\\\(','\\\\)']], processEscapes: true}},
                    messageStyle: 'none'}});
</script>"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
{head}
<style>
body {{ font: 17px/1.5 system-ui, sans-serif; max-width: 1000px; margin: 0 auto; padding: 1em;
       color: #222; }}
.unit {{ border-top: 1px solid #ddd; padding: 0.5em 0 1em; overflow: hidden; }}
.thumb {{ float: right; max-width: 300px; max-height: 190px; margin: 0 0 0.5em 1em; }}
.pages a {{ font-weight: 600; }}
h1 {{ font-size: 1.8em; }}
.toc {{ font-size: 1.1em; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("slides", "html", "all"))
    parser.add_argument("--build", type=Path, default=BUILD, help="output folder (default build/)")
    args = parser.parse_args(argv)
    # nbconvert warns, per page, that figures have no alternative text: true, and not news
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    start = time.perf_counter()
    written = []
    if args.what in ("html", "all"):
        written += build_html(args.build)
    if args.what in ("slides", "all"):
        written += build_slides(args.build)
    for page in written:
        print(_relative(page, Path.cwd()) if page.is_relative_to(Path.cwd()) else page)
    index = args.build / ("html" if args.what != "slides" else "slides") / "index.html"
    print(f"{len(written)} pages in {time.perf_counter() - start:.1f} s; open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
