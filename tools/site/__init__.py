"""The course site: `python -m tools.site` (`make html`) builds build/html/ with Sphinx, MyST-NB
and sphinx-book-theme from the committed notebooks; nothing executes, nothing is fetched.

It first assembles a source tree in build/site-src/ (the repository stays clean): the notebooks
of lectures/, exercises/ and solutions/ (each with a banner saying what the page is and linking
its three downloadable forms), images/, a landing page, one page per unit, conf.py from this
folder and MathJax 2 from jupyter-server-mathjax with its settings (tools/_shared.py, as the
decks have them). Files are rewritten only when they change, so a second build is incremental.
It also builds the decks (tools.slides, as `make slides` does) into build/slides/, unless
--no-slides; a unit page links its deck only when the deck is there. Serve build/ (`make serve`)
to reach both.
"""
from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import nbformat

from tools._shared import (BUILD, COURSE_TITLE, ROOT, WIDGET_VIEW, mathjax_config_js,
                           mathjax_files)

HERE = Path(__file__).resolve().parent
FOLDERS = ("lectures", "exercises", "solutions")
FORMS = (".ipynb", ".md", ".py")                 # the three paired forms of every notebook
# The text form of a widget that is no more than its Python repr ("interactive(children=(...")
_WIDGET_REPR = re.compile(r"^\w+\(children=")
_IMAGE_ALT = re.compile(r"!\[[^\]]*\]\(")

KIND = {"lectures": "lecture", "exercises": "exercise", "solutions": "solution"}
ROLE = {
    "lectures": ("Lecture", "note", "read it top to bottom; every output is the committed, "
                 "full-mode run, and every formula is checked numerically."),
    "exercises": ("Exercise: your version to fill in", "important",
                  "the gaps are yours to write; the self-check cells tell you when each part is "
                  "right. Download it and work it in JupyterLab (`make lab`)."),
    "solutions": ("Solution: worked answers", "tip",
                  "the exercise, filled in and executed. Try the exercise first."),
}


def notebooks(root: Path, folder: str) -> list[Path]:
    return sorted((root / folder).glob("[0-9]*.ipynb"))


def _write(path: Path, data: str | bytes) -> None:
    """Write only when the content changes (Sphinx then rebuilds only what changed)."""
    data = data.encode("utf-8") if isinstance(data, str) else data
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _copy(source: Path, target: Path) -> None:
    _write(target, source.read_bytes())


def title(path: Path) -> str:
    """The notebook's first heading."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (m := re.search(r"^# (.+)$", cell.source, re.M)):
            return m.group(1).strip()
    return path.stem


def _links(stem: str, folders: list[str], here: str) -> str:
    return " · ".join(f"[{KIND[f]}](../{f}/{stem}.ipynb)" for f in folders if f != here)


def download_name(folder: str, stem: str, ext: str) -> str:
    """The name a download is saved under: the lecture, exercise and solution of a unit share a
    file name in the repository, so the kind goes into it (01_lvm_pca_exercise.ipynb)."""
    return f"{stem}_{KIND[folder]}{ext}"


# "Exercise 01 · Topic" or "04 · Exercise: topic": one form for the pages, "01 · Exercise: Topic"
_EXERCISE_TITLE = re.compile(r"^# (?:Exercise\s+(\d+)\s*·\s*|(\d+)\s*·\s*Exercise\s*:\s*)(.+)$")


def page_title(head: str, folder: str) -> str:
    """The title line of an exercise or solution page in the form "# 01 · Exercise: Topic"
    ("Solution" for a solution), whichever of the two forms the notebook uses; other titles as
    they are."""
    m = _EXERCISE_TITLE.match(head) if folder in ("exercises", "solutions") else None
    if not m:
        return head
    topic = m.group(3).strip()
    return f"# {m.group(1) or m.group(2)} · {KIND[folder].capitalize()}: {topic[:1].upper()}{topic[1:]}"


def _banner(folder: str, stem: str, siblings: list[str]) -> str:
    heading, kind, text = ROLE[folder]
    downloads = " ".join(f'<a href="{stem}{ext}" download="{download_name(folder, stem, ext)}">'
                         f'{ext}</a>' for ext in FORMS)
    return (f"```{{admonition}} {heading}\n:class: {kind} course-role course-{folder}\n"
            f"This page is the **{heading.split(':')[0].lower()}** of unit {stem[:2]}: {text}\n\n"
            f"Same unit: [overview](../units/{stem}.md) · {_links(stem, siblings, folder)}\n\n"
            f'<span class="course-downloads">Download this notebook: {downloads}</span>\n```\n')


def page_notebook(path: Path, folder: str, siblings: list[str]) -> nbformat.NotebookNode:
    """The notebook as its page shows it: a banner under its title, widgets left out.

    A static page has no kernel, and ipywidgets' manager would come from a CDN: widget views are
    dropped (with the saved widget state), keeping their text form when it says something (a
    tqdm bar's text) and nothing when it is only the widget's repr; a static figure follows the
    lecture's interactive explorer. Exercise and solution titles take one form (`page_title`).
    A Markdown image's alt text wrapped over lines keeps a space at each break.
    """
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                if _WIDGET_REPR.match(data.get("text/plain", "")) or not data.get("text/plain"):
                    continue
            kept.append(output)
        cell.outputs = kept
    for cell in nb.cells:            # MyST drops the line breaks of a wrapped alt text: spaces
        if cell.cell_type == "markdown":
            cell.source = _IMAGE_ALT.sub(lambda m: m.group(0).replace("\n", " "), cell.source)
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    head, _, rest = first.source.partition("\n")
    head = page_title(head, folder)
    if folder == "solutions":
        head = re.sub(r"\bExercise\b", "Solution", head)
    if head.startswith("# "):
        first.source = f"{head}\n\n{_banner(folder, path.stem, siblings)}\n{rest}"
    else:
        first.source = f"{_banner(folder, path.stem, siblings)}\n{first.source}"
    return nb


def unit_page(stem: str, folders: list[str], unit_title: str, deck: bool = True) -> str:
    """A unit's page: its notebooks in working order, and its deck when `deck` (it was built)."""
    rows = {
        "lectures": ("Lecture", "the lecture, executed: read it, then run it in JupyterLab"),
        "exercises": ("Exercise", "your version to fill in, with self-checks"),
        "solutions": ("Solution", "worked answers: the exercise filled in and executed"),
    }
    slides = (f"* - Slides\n  - <a href=\"../../slides/{stem}.slides.html\">the lecture as a "
              "reveal.js deck</a> (→ or space: next slide; F: full screen; S: speaker view)\n"
              if deck else "")
    toc = "\n".join(f"{rows[f][0]} <../{f}/{stem}>" for f in folders)
    return (f"# Unit {unit_title}\n\n"
            f"Work the unit in this order: read the **lecture**, fill in the **exercise**, "
            f"then compare with the **solution**.\n\n"
            f"```{{list-table}}\n:class: unit-pages\n:widths: 15 85\n\n"
            + "".join(f"* - {rows[f][0]}\n  - [{rows[f][1]}](../{f}/{stem}.ipynb)\n"
                      for f in folders)
            + f"{slides}```\n\n"
            f"```{{toctree}}\n:hidden:\n\n{toc}\n```\n")


def index_page(units: dict[str, str], decks: bool = True) -> str:
    listing = "\n".join(f"- [{t}](units/{stem}.md)" for stem, t in units.items())
    toc = "\n".join(f"units/{stem}" for stem in units)
    first = next(iter(units), None)
    start = (f"## Start here\n\nThe units build on each other: begin with "
             f"[unit {units[first]}](units/{first}.md). Read its "
             f"[lecture](lectures/{first}.ipynb) top to bottom, then work its "
             f"[exercise](exercises/{first}.ipynb) in JupyterLab and compare with the "
             f"[solution](solutions/{first}.ipynb); then go on to the next unit.\n\n"
             if first else "")
    return (
        f"# {COURSE_TITLE}\n\n"
        "An executable course on MNIST: PCA and probabilistic PCA, autoencoders, the "
        "REINFORCE-versus-reparameterization story, variational autoencoders written both in "
        "plain PyTorch and in Pyro, and what the ELBO trades off. Every lecture is a Jupyter "
        "notebook shown here with its committed outputs; every formula is checked numerically.\n\n"
        + start +
        "## Set up, to run the notebooks\n\n"
        "The pages here can be read as they are. To run a notebook, work from a clone of the "
        "course's repository. On Linux or macOS (Python 3.11 or newer, and `make`), run "
        "`make lab` in it: it creates a virtual environment in `.venv/`, installs what the course "
        "needs (`requirements.txt`) and opens JupyterLab. On Windows, where `make` is missing, the "
        "repository's `docs/windows.md` (linked from its `README.md`) gives the same steps for "
        "PowerShell.\n\n"
        "Each unit has a **lecture** (read and run it), an **exercise** (your version to fill in, "
        "with self-checks) and its **solution** (worked answers)"
        + (", and its lecture as a slide deck" if decks else "") + ". Every notebook "
        "page links its three forms for download: `.ipynb` (JupyterLab), `.md` (MyST Markdown) "
        "and `.py` (a plain script, cells for VS Code), named by kind "
        "(`01_lvm_pca_lecture.ipynb`, `01_lvm_pca_exercise.ipynb`, …).\n\n"
        f"## Units\n\n{listing}\n\n"
        f"```{{toctree}}\n:caption: Units\n:hidden:\n\n{toc}\n```\n")


_IMG_TAG = re.compile(r"<img\b[^>]*>")


def sized_images(app, pagename, templatename, context, doctree) -> None:
    """Sphinx's html-page-context: each image of the page that has no size of its own gets its
    natural width as the CSS variable --course-img-w. On a narrow screen course.css keeps a
    figure at 80 % of that width at least (its labels stay readable) and its box scrolls."""
    body = context.get("body") or ""
    if "<img" not in body:
        return
    files = {dest: Path(app.srcdir, key) for key, dest in app.builder.images.items()}

    def size(match: re.Match) -> str:
        tag = match.group(0)
        src = re.search(r'\bsrc="([^"]+)"', tag)
        path = files.get(src.group(1).rsplit("/", 1)[-1]) if src else None
        if path is None or re.search(r"\b(?:style|width|height)=", tag):
            return tag
        try:
            from PIL import Image
            with Image.open(path) as image:
                width = image.size[0]
        except (OSError, ValueError):
            return tag
        return tag.replace("<img", f'<img style="--course-img-w: {width}px"', 1)

    context["body"] = _IMG_TAG.sub(size, body)


# The site's own MathJax settings, besides the fonts both builds share (tools/_shared.py): Sphinx
# writes math as \( \) and \[ \]; notebook HTML outputs may hold $...$ as in Jupyter. A display
# too wide for the column scrolls in its box (course.css, linebreaks=False) rather than break at a
# point MathJax picks (inside an underbrace, say).
SITE_MATHJAX = r"""  tex2jax: {inlineMath: [["\\(", "\\)"], ["$", "$"]], displayMath: [["\\[", "\\]"], ["$$", "$$"]],
            processEscapes: true, processClass: "math|output_area|cell_output",
            ignoreClass: "tex2jax_ignore|mathjax_ignore"},
  messageStyle: "none",
"""


def _copy_tree(source: Path, target: Path) -> set[Path]:
    written = set()
    for path in source.rglob("*"):
        if path.is_file():
            _copy(path, target / path.relative_to(source))
            written.add(target / path.relative_to(source))
    return written


def assemble(src: Path, root: Path = ROOT, decks: set[str] | None = None) -> list[str]:
    """Write the Sphinx source tree into `src`; returns the documents (without suffix). `decks`:
    the stems whose deck was built (their unit pages link it); None, every lecture's."""
    wanted: set[Path] = set()

    def put(path: Path, data: str | bytes) -> None:
        _write(path, data)
        wanted.add(path)

    stems = sorted({p.stem for f in FOLDERS for p in notebooks(root, f)})
    units, docs = {}, ["index"]
    for stem in stems:
        folders = [f for f in FOLDERS if (root / f / f"{stem}.ipynb").is_file()]
        for folder in folders:
            nb = page_notebook(root / folder / f"{stem}.ipynb", folder, folders)
            put(src / folder / f"{stem}.ipynb", nbformat.writes(nb))
            for ext in FORMS:                       # the unchanged files, for download
                if (root / folder / f"{stem}{ext}").is_file():
                    put(src / "_extra" / folder / f"{stem}{ext}",
                        (root / folder / f"{stem}{ext}").read_bytes())
            docs.append(f"{folder}/{stem}")
        units[stem] = title(root / folders[0] / f"{stem}.ipynb")
        deck = "lectures" in folders and (decks is None or stem in decks)
        put(src / "units" / f"{stem}.md", unit_page(stem, folders, units[stem], deck))
        docs.append(f"units/{stem}")
    put(src / "index.md", index_page(units, decks is None or bool(decks)))
    put(src / "conf.py", (HERE / "conf.py").read_bytes())
    put(src / "mathjax-config.js", mathjax_config_js(linebreaks=False, extra=SITE_MATHJAX))
    wanted |= _copy_tree(HERE / "static", src / "_static")
    if (root / "images").is_dir():
        wanted |= _copy_tree(root / "images", src / "images")
    for path, rel in mathjax_files():
        put(src / "_static" / "mathjax" / rel, path.read_bytes())
    for path in list(src.rglob("*")):               # whatever a former build left that is gone
        if path.is_file() and path not in wanted:
            path.unlink()
    return docs


def _favicon_ico(path: Path) -> None:
    """build/favicon.ico, for pages that name no icon (a browser asks /favicon.ico then)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 31, 31), radius=6, fill=(31, 78, 140, 255))
    draw.line([(3 + i, 26 - round(19 * 2.718 ** (-((i - 13) / 5) ** 2))) for i in range(27)],
              fill=(255, 255, 255, 255), width=3)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="ICO", sizes=[(32, 32)])


def build(build_dir: Path = BUILD, root: Path = ROOT, quiet: bool = True,
          slides: bool = True) -> Path:
    """Build the decks into build_dir/slides (unless not `slides`), assemble build_dir/site-src
    and build build_dir/html; returns the html folder. Unit pages link the decks that exist."""
    from sphinx.cmd.build import build_main

    if slides and (lectures := notebooks(root, "lectures")):
        from tools import slides as deck_builder
        deck_builder.build(build_dir, lectures)
    decks = {p.name.removesuffix(".slides.html")
             for p in (build_dir / "slides").glob("*.slides.html")}
    src, out = build_dir / "site-src", build_dir / "html"
    assemble(src, root, decks)
    args = ["-b", "html", "-d", str(build_dir / "site-doctrees"), str(src), str(out)]
    if build_main((["-q"] if quiet else []) + args) != 0:
        raise SystemExit("sphinx-build failed (see above)")
    _favicon_ico(build_dir / "favicon.ico")
    _write(build_dir / "index.html",                 # `make serve` serves build/: go to the site
           '<!DOCTYPE html>\n<meta charset="utf-8">\n<title>Latent variable models</title>\n'
           '<link rel="icon" href="html/_static/favicon.svg">\n'
           '<meta http-equiv="refresh" content="0; url=html/index.html">\n'
           '<a href="html/index.html">The course site</a>'
           + (' · <a href="slides/">the slide decks</a>' if decks else "") + "\n")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, default=BUILD, help="build folder (default build/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="Sphinx's progress output")
    parser.add_argument("--no-slides", action="store_true",
                        help="do not build the decks (unit pages link those already built)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = build(args.build, quiet=not args.verbose, slides=not args.no_slides)
    pages = sum("_static" not in p.relative_to(out).parts for p in out.rglob("*.html"))
    print(f"{out}/index.html: {pages} pages in {time.perf_counter() - start:.1f} s")
    return 0
