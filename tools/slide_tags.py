"""Propose reveal.js slide metadata for a lecture, by the rules in CONTRIBUTING.md ("Slides").

    python -m tools.slide_tags lectures/NN_topic.md            # fill cells that have none
    python -m tools.slide_tags lectures/NN_topic.md --force    # recompute every cell
    python -m tools.slide_tags lectures/NN_topic.md --dry-run  # only print the plan

It writes the `slideshow` metadata into the .md and the .ipynb (nothing else changes: outputs are
kept, nothing is executed). Then look at the deck (`make slides`) and adjust by hand: the rules
are a starting point, the deck is what counts.

The rules, cell by cell (heights are estimated for the deck's 1280 x 720 canvas):
- code cells above the first `##` section (imports, `setup(`) or below `## Summary`: skip;
- a Markdown cell that opens with a `#` or `##` heading: slide;
- a Markdown cell that comments on the result above it (it follows a code cell and the next cell
  is Markdown: a takeaway) and still fits: fragment, revealed on the next key press;
- any other Markdown cell (a `###` heading, the next idea of the story): subslide, shown below its
  section in reveal.js's vertical stack;
- a code cell continues the slide of the prose above it ("-", nbconvert's default, left out of
  the metadata to keep the .md readable), a self-check cell (`SelfCheck(`) as a fragment; but a
  code cell that would overflow the slide starts a subslide of its own.
"""
from __future__ import annotations

import argparse
import base64
import math
import re
import struct
import sys
from pathlib import Path

# Estimated heights in the deck's 1280 x 720 canvas (tools/export.py, export_templates/course_slides)
BUDGET = 680              # usable height of a slide
TEXT_LINE, CHARS_PER_LINE, PARAGRAPH = 33, 115, 12
CODE_LINE, CODE_PAD = 19, 20
HEADING = {"#": 80, "##": 55, "###": 45}
DISPLAY_MATH = 70
IMAGE_MAX = 470, 1240     # max-height and width of a figure on a slide


def _png_size(b64: str) -> tuple[int, int]:
    head = base64.b64decode("".join(b64.split())[:64])
    return struct.unpack(">II", head[16:24])


def _text_height(text: str) -> float:
    """Rendered height of one paragraph or list item (TeX commands and markup take less room)."""
    shown = re.sub(r"[$*`{}_^]", "", re.sub(r"\\[a-zA-Z]+", "x", text))
    return TEXT_LINE * math.ceil(len(shown) / CHARS_PER_LINE)


def markdown_height(source: str) -> float:
    height, paragraph, in_math = 0.0, [], False

    def flush(gap=PARAGRAPH):
        nonlocal height, paragraph
        if paragraph:
            height += _text_height(" ".join(paragraph)) + gap
            paragraph = []

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


def code_height(cell) -> int:
    height = CODE_PAD + CODE_LINE * len(cell.source.splitlines())
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data:
            w, h = _png_size(data["image/png"])
            height += min(IMAGE_MAX[0], h * min(1.0, IMAGE_MAX[1] / w)) + 10
        elif output.get("output_type") == "stream":
            height += CODE_LINE * min(len(output.get("text", "").splitlines()), 12) + 10
        elif "text/plain" in data:
            height += CODE_LINE * min(len(str(data["text/plain"]).splitlines()), 12) + 10
    return height


def _heading(cell) -> str:
    """'#', '##', '###'... if a Markdown cell opens with a heading, else ''."""
    if cell.cell_type != "markdown":
        return ""
    first = cell.source.lstrip().split(" ", 1)[0]
    return first if set(first) == {"#"} else ""


def propose(cells, force: bool = False) -> list[str]:
    """A slide type per cell ('slide', 'subslide', 'fragment', '-', 'skip')."""
    first_section = next((i for i, c in enumerate(cells) if _heading(c) == "##"), len(cells))
    summary = next((i for i, c in enumerate(cells) if _heading(c) == "##"
                    and c.source.lstrip()[2:].strip().lower().startswith("summary")), len(cells))
    types, used = [], 0
    for i, cell in enumerate(cells):
        current = cell.metadata.get("slideshow", {}).get("slide_type")
        after_code = i > 0 and cells[i - 1].cell_type == "code"
        before_text = i + 1 == len(cells) or cells[i + 1].cell_type == "markdown"
        if cell.cell_type == "markdown":
            height = markdown_height(cell.source)
            if _heading(cell) in ("#", "##"):
                kind = "slide"
            elif (not _heading(cell) and after_code and before_text
                  and used + height <= BUDGET):
                kind = "fragment"      # a comment on the result above (a takeaway)
            else:
                kind = "subslide"
        elif i < first_section or i > summary:   # set-up above the first section, and
            kind, height = "skip", 0               # bookkeeping below the summary
        else:
            height = code_height(cell)
            kind = "fragment" if "SelfCheck(" in cell.source else "-"
            if used + height > BUDGET:
                kind = "subslide"
        if current and not force:
            kind = current
        types.append(kind)
        if kind in ("slide", "subslide"):
            used = height
        elif kind != "skip":
            used += height
    return types


def _set(cell, kind: str) -> None:
    """Write `kind`; "-" (nbconvert's default) is left out to keep the .md readable, unless the
    cell already says "-" (set by hand, against the rules)."""
    if kind == "-" and cell.metadata.get("slideshow", {}).get("slide_type") == "-":
        return
    if kind == "-":
        cell.metadata.get("slideshow", {}).pop("slide_type", None)
        if not cell.metadata.get("slideshow", True):
            del cell.metadata["slideshow"]
    else:
        cell.metadata.setdefault("slideshow", {})["slide_type"] = kind


def _keep_front_matter(old: str, new: str) -> str:
    """`new` with the YAML front matter (notebook metadata, unchanged here) of `old`."""
    def split(text):
        if text.startswith("---\n") and (end := text.find("\n---\n", 4)) > 0:
            return text[:end + 5], text[end + 5:]
        return "", text
    return split(old)[0] + split(new)[1] if split(old)[0] and split(new)[0] else new


def apply(md: Path, force: bool = False, dry_run: bool = False) -> list[str]:
    """Propose slide types for the pair md/.ipynb and write them into the metadata of both.

    Only metadata changes: the .md is rewritten by jupytext with its own content, the .ipynb by
    nbformat with its own content and outputs (so a pair being edited is never synced here).
    """
    import jupytext
    import nbformat
    from jupytext.config import load_jupytext_config

    config = load_jupytext_config(str(md.parent))
    text = jupytext.read(md, config=config)
    ipynb = md.with_suffix(".ipynb")
    executed = nbformat.read(ipynb, as_version=4) if ipynb.exists() else text
    if [c.cell_type for c in executed.cells] != [c.cell_type for c in text.cells]:
        sys.exit(f"{md} and {ipynb.name} have different cells: `make sync` first")
    if [c.source for c in executed.cells] != [c.source for c in text.cells]:
        print(f"warning: {md.name} and {ipynb.name} differ in content; only metadata is written")
    for cell, done in zip(text.cells, executed.cells):     # the .md's metadata is the source
        done.metadata.pop("slideshow", None)
        if "slideshow" in cell.metadata:
            done.metadata["slideshow"] = dict(cell.metadata["slideshow"])
    types = propose(executed.cells, force=force)        # heights from the committed outputs
    for i, (cell, kind) in enumerate(zip(text.cells, types)):
        first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
        print(f"{i:3d} {cell.cell_type:8s} {kind:9s} {first}")
    if not dry_run:
        for cell, done, kind in zip(text.cells, executed.cells, types):
            _set(cell, kind)
            _set(done, kind)
        md.write_text(_keep_front_matter(md.read_text(encoding="utf-8"),
                                         jupytext.writes(text, fmt="md:myst", config=config)),
                      encoding="utf-8")
        if ipynb.exists():
            nbformat.write(executed, ipynb)
    return types


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("markdown", type=Path, nargs="+", help="lectures/NN_topic.md")
    parser.add_argument("--force", action="store_true", help="recompute cells that have a type")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    for md in args.markdown:
        if md.suffix != ".md":
            parser.error(f"{md}: give the .md twin")
        print(md)
        apply(md, force=args.force, dry_run=args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
