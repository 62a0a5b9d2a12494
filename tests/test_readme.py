"""The README is a student's page and the repository is self-contained (issue 24, items 6 and 7).

- README.md has fewer than 800 words (counted as `wc -w` counts) and no paragraph over 120 words;
  a list item and a table row count as paragraphs of their own.
- Every relative link in README.md, CONTRIBUTING.md and docs/*.md (and the other Markdown pages
  outside the notebook folders) resolves to a file in the repository, and its #anchor to a heading.
- No file in the repository cites a document outside it: no course specification kept outside the
  repository (its file name is built below, so this file does not cite it), and `../shared` (the data
  folder beside a CI clone) only in the code that looks for it.
- The lecture findings that docs/results.md quotes are printed by the lectures' committed outputs,
  as written there (a number with a decimal point or a thousands comma, as
  tests/test_stated_numbers.py checks a lecture's prose).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_WORDS, MAX_PARAGRAPH = 800, 120
OUTSIDE = {"COURSE" + ".md": "a course document that is not in the repository",
           "../shared": "the data folder beside a CI clone"}
FENCE = re.compile(r"^\s*(```|~~~)")
ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)")   # 2.31, 18,670


def words(text: str) -> int:
    """Words as `wc -w` counts them: runs of non-blank characters."""
    return len(text.split())


def paragraphs(markdown: str) -> list[str]:
    """Blocks separated by blank lines; a list item, a table row and a heading are each a
    paragraph of their own (an item's indented continuation lines belong to it); a fenced code
    block is one paragraph."""
    out: list[list[str]] = []
    in_fence = False
    current: list[str] | None = None
    for line in markdown.splitlines():
        if FENCE.match(line):
            if not in_fence:
                current = [line]
                out.append(current)
            else:
                current.append(line)
                current = None
            in_fence = not in_fence
            continue
        if in_fence:
            current.append(line)
        elif not line.strip():
            current = None
        elif current is None or ITEM.match(line) or line.lstrip().startswith(("|", "#")):
            current = [line]
            out.append(current)
        else:
            current.append(line)
    return ["\n".join(p) for p in out]


def test_paragraphs_split_items_rows_and_code_blocks():
    text = "One two\nthree.\n\n- a b\n  c\n- d\n\n| x | y |\n|---|---|\n\n```\nx = 1\n\ny = 2\n```\n# H"
    assert [words(p) for p in paragraphs(text)] == [3, 4, 2, 5, 1, 8, 2]


def test_readme_is_short():
    text = README.read_text(encoding="utf-8")
    assert words(text) < MAX_WORDS, (
        f"README.md has {words(text)} words (fewer than {MAX_WORDS}): it is a student's page; "
        "move the rest to a page in docs/ and link it")


def test_no_readme_paragraph_is_longer_than_120_words():
    long = [(words(p), p[:80]) for p in paragraphs(README.read_text(encoding="utf-8"))
            if words(p) > MAX_PARAGRAPH]
    assert not long, f"paragraphs over {MAX_PARAGRAPH} words in README.md: {long}"


def _pages() -> list[Path]:
    """README, CONTRIBUTING, docs/ and every other Markdown page outside the notebook folders."""
    pages = {p for p in ROOT.glob("*.md")} | set((ROOT / "docs").glob("*.md"))
    for folder in ("benchmarks", "jupyter-config"):
        pages |= set((ROOT / folder).glob("*.md"))
    return sorted(pages)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^\s*```.*?^\s*```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M)}


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_in_the_repository(page):
    checked = 0
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):          # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.is_relative_to(ROOT), f"{page.name} links {target}, outside the repository"
        assert file.exists(), f"{page.name} links {target}, which does not exist"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file), f"{page.name} links {target}: no heading #{anchor}"
        checked += 1
    if page in (README, ROOT / "docs" / "results.md"):
        assert checked, f"{page.name} links nothing"


def test_readme_links_every_page_of_docs():
    text = README.read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in text, f"README.md does not link docs/{page.name}"


def shared_allowed(name: str) -> bool:
    """Where `../shared` may be named: the CI entry point, and the code of the tests and the
    benchmarks that looks for the folder (never a page, a notebook or the course's utils)."""
    return name == ".ci/run" or (name.startswith(("tests/", "benchmarks/")) and name.endswith(".py"))


def _repository_text_files() -> list[Path]:
    """The tracked files (and the pages this test checks), text only."""
    files = set(_pages())
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        files |= {ROOT / name for name in listed.stdout.decode("utf-8").split("\0") if name}
    texts = []
    for path in sorted(files):
        if path.is_file() and path.suffix not in (".png", ".svg", ".ico"):
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            texts.append(path)
    return texts


def test_no_file_cites_a_document_outside_the_repository():
    found = []
    for path in _repository_text_files():
        name = path.relative_to(ROOT).as_posix()
        if name == "tests/test_readme.py":                   # this test names them, to find them
            continue
        text = path.read_text(encoding="utf-8")
        for needle, what in OUTSIDE.items():
            if needle in text and not (needle == "../shared" and shared_allowed(name)):
                found.append(f"{name} names {needle} ({what})")
    assert not found, "\n".join(found)


def _lecture_outputs(stem: str) -> str:
    nb = json.loads((ROOT / "lectures" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    parts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for mime in ("text/plain", "text/markdown", "text/html"):
                parts.append("".join(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def test_the_lecture_findings_in_docs_results_are_what_the_lectures_print():
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    section = text[text.index("## What each lecture found"):]
    stems = {p.stem[:2]: p.stem for p in (ROOT / "lectures").glob("[0-9]*.ipynb")}
    missing, checked = [], 0
    for unit, finding in re.findall(r"^- \*\*(\d\d)\*\*:(.+?)(?=^- |^\S|\Z)", section, re.M | re.S):
        outputs = _lecture_outputs(stems[unit])
        for number in NUMBER.findall(finding):
            checked += 1
            if not re.search(rf"(?<![\d.]){re.escape(number)}(?!\d)", outputs):
                missing.append(f"lecture {unit}: {number}")
    assert checked > 20
    assert not missing, ("docs/results.md quotes numbers its lectures no longer print (re-executed?): "
                         + ", ".join(missing))
