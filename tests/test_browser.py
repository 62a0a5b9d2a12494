"""The course in a real browser: JupyterLab runs a lecture, RISE presents one as live slides at
projector size (and every slide of every lecture fits RISE's full screen), and the reveal.js
decks of `make slides` render, every slide within the canvas.

Headless Chromium (Debian's, driven by Playwright) may reach loopback only: a request for any
other host is aborted and fails the test. One JupyterLab (`make lab`) serves the whole test run
(tests/_browser.py: shared_lab; this file and tests/test_lab.py are one pytest-xdist group, so on
one worker); the decks are the test run's one build (tests/_browser.py: built_course).
Screenshots go to test-artifacts/browser/.
Skipped, with the reason, where Chromium or Playwright is missing.
"""
import contextlib
import json
import re
import secrets
import shutil
import time

import nbformat
import pytest

import _browser
import _executions
from _browser import ARTIFACTS, ROOT

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:                      # the module is skipped below
    PlaywrightTimeout = TimeoutError

pytestmark = [pytest.mark.skipif(_browser.skip_reason() is not None,
                                 reason=_browser.skip_reason() or ""),
              pytest.mark.slow, pytest.mark.xdist_group(_browser.LAB_GROUP)]

from tools import slides

LECTURE = "lectures/01_lvm_pca.ipynb"
DECKS = [p.stem for p in slides.lectures()]
PROJECTOR = {"width": 1440, "height": 900}   # the window the issue measured RISE in
RISE_MIN_BODY_PX = 24                        # body text of a live slide, rendered
NEWS_QUESTION = "official Jupyter news"
RISE_SHORTCUT = "Alt+r"  # jupyterlab-rise's "Render as Reveal Slideshow" (also a toolbar button)
RISE_FULL_SCREEN = ".jp-Toolbar-item[data-jp-item-name='fullscreen']"  # the slideshow's button
RISE_NEXT = "Space"   # reveal's "next": each sub-slide and fragment in turn (Up/Down: off)
DECK = "slides/01_lvm_pca.slides.html"
RUN_CODE_CELLS = 2      # run the lecture's first code cells (that save no file) up to the 2nd with output

# MathJax 2 is done once its start-up (the first typeset) and then its queue have run.
# (The hook must not return the queue's callback: MathJax would wait for it, and it for MathJax.)
WAIT_FOR_MATHJAX = """() => { window.__mathjaxDone = false;
  MathJax.Hub.Register.StartupHook("End", () => {
    MathJax.Hub.Queue(() => { window.__mathjaxDone = true; }); }); }"""
MATH_AND_IMAGES = """(currentSlide) => {
  const root = currentSlide ? Reveal.getCurrentSlide() : document;
  const math = [...root.querySelectorAll(".MathJax, .MathJax_Display")];
  const images = [...root.querySelectorAll("img")];
  return {
    math: math.length,
    mathShown: math.filter(m => m.getBoundingClientRect().width > 0).length,
    mathErrors: root.querySelectorAll(".MathJax .merror, .MathJax .noError").length,
    images: images.length,
    imagesLoaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
  };
}"""


@pytest.fixture(scope="module")
def processes(request):
    """Checks, after the module, that every process its tests started has ended (but the
    session's JupyterLab, which tests/_browser.py stops, and checks, at the end)."""
    before = _browser.descendants()
    yield
    lab = getattr(request.session, "_lvm_shared_lab", None)

    def left():
        server = {lab[2]} | _browser.descendants(lab[2]) if lab else set()
        return _browser.alive(_browser.descendants() - before - server)
    deadline = time.monotonic() + 15
    while left() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left(), f"processes left running: {sorted(left())}"


@pytest.fixture
def lab(request, processes):
    """The session's JupyterLab; the kernels a test started are shut down after it."""
    base, token, server = _browser.shared_lab(request)
    yield base, token, server
    assert not _browser.shutdown_kernels(base, token, server), "a kernel survived its shutdown"


@pytest.fixture(scope="module")
def browser(processes):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _browser.chromium() as (context, remote):
        yield context, remote


@pytest.fixture(scope="module")
def site():
    """The decks (the run's one build) served on a loopback port."""
    with _browser.static_server(_browser.built_course()) as url:
        yield url


@pytest.fixture
def page(browser):
    with _browser.checked_page(*browser) as page:
        yield page


def _cells_to_run(n: int) -> tuple[list[int], int]:
    """The first code cells that write no file (positions among the code cells), up to the n-th
    that has an output in the committed notebook, and how many of them have a figure there.
    (A cell that saves a figure into images/ would rewrite a committed file from a test.)"""
    nb = nbformat.read(ROOT / LECTURE, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    chosen, with_output = [], 0
    for k, cell in enumerate(code):
        if with_output == n:
            break
        if "save_figure(" not in cell.source:
            chosen.append(k)
            with_output += bool(cell.outputs)
    figures = sum(any("image/png" in o.get("data", {}) for o in code[k].outputs) for k in chosen)
    return chosen, figures


def _wait_for_mathjax(page):
    page.wait_for_function("() => window.MathJax && MathJax.Hub", timeout=20_000)
    page.evaluate(WAIT_FOR_MATHJAX)
    page.wait_for_function("() => window.__mathjaxDone === true", timeout=30_000)


def _news_question_shown(page) -> bool:
    return page.locator(".Toastify__toast", has_text=NEWS_QUESTION).count() > 0


def test_jupyterlab_opens_and_runs_a_lecture(browser, lab):
    context, remote = browser
    remote.clear()
    base, token, server = lab
    _executions.record(ROOT / LECTURE, _executions.PARTIAL)      # counted apart from full runs
    page = context.new_page()
    page.goto(_browser.lab_url(base, token, LECTURE))
    # rendered: the committed outputs and typeset Markdown are there, the kernel is idle
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell .jp-OutputArea-output",
                           timeout=60_000)
    page.wait_for_selector(".jp-RenderedMarkdown mjx-container", timeout=30_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=60_000)
    # a fresh JupyterLab as `make lab` starts it asks no question about news
    page.wait_for_timeout(2000)
    assert not _news_question_shown(page), "JupyterLab asks about Jupyter news"
    page.screenshot(path=ARTIFACTS / "jupyterlab_opened.png")

    # clear every output (not saved: the test's settings turn autosave off), then run the
    # first code cells as a student does: click into the cell, Ctrl+Enter
    page.get_by_role("menuitem", name="Edit").click()
    page.get_by_role("menuitem", name="Clear Outputs of All Cells").click()
    assert page.locator(".jp-CodeCell .jp-OutputArea-output").count() == 0
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    chosen, committed_figures = _cells_to_run(RUN_CODE_CELLS)
    for k in chosen:
        cells.nth(k).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")
        page.wait_for_timeout(150)
    last = cells.nth(chosen[-1])
    last.locator(".jp-InputPrompt", has_text=f"[{len(chosen)}]").wait_for(timeout=90_000)
    last.locator(".jp-OutputArea-output").first.wait_for(timeout=30_000)

    prompts = [cells.nth(k).locator(".jp-InputPrompt").inner_text() for k in chosen]
    assert prompts == [f"[{i}]:" for i in range(1, len(chosen) + 1)], prompts
    setup_output = cells.first.locator(".jp-OutputArea").inner_text()
    assert "smoke mode" in setup_output, setup_output
    ran = page.locator(".jp-CodeCell .jp-OutputArea").evaluate_all(
        "areas => areas.map(a => a.innerText).join('\\n')")
    assert "Traceback" not in ran, ran
    count_figures = """() => [...document.querySelectorAll(
        ".jp-CodeCell .jp-OutputArea-output img")].filter(
        i => i.complete && i.naturalWidth > 0).length"""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"() => ({count_figures})() >= {committed_figures}",
                               timeout=10_000)
    figures = page.evaluate(count_figures)
    assert figures == committed_figures, f"{figures} figures, {committed_figures} committed"
    assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").all_inner_texts()
    assert page.locator(".Toastify__toast--error").count() == 0
    last.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "jupyterlab_ran.png")
    page.close()
    assert not _browser.shutdown_kernels(base, token, server), "the lecture's kernel survived"
    assert not remote, f"JupyterLab asked the network for {remote}"


def test_slide_deck_loads_reveal_typesets_math_and_shows_figures(page, site):
    page.goto(f"{site}/{DECK}")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=20_000)
    _wait_for_mathjax(page)
    assert page.evaluate("Reveal.getTotalSlides()") > 10
    page.screenshot(path=ARTIFACTS / "slides_title.png")
    # the first slide that holds both math and a figure, with all its fragments shown
    indices = page.evaluate("""() => {
      for (const s of document.querySelectorAll(".reveal .slides section")) {
        if (s.querySelector("section")) continue;               // a vertical stack
        if (s.querySelector(".MathJax") && s.querySelector(".jp-RenderedImage img")) {
          const i = Reveal.getIndices(s); return [i.h, i.v || 0];
        }
      }
      return null; }""")
    assert indices, "no slide holds both math and a figure"
    page.evaluate(f"Reveal.slide({indices[0]}, {indices[1]})")
    page.evaluate("() => { while (Reveal.nextFragment()) {} }")
    _wait_for_mathjax(page)
    page.wait_for_timeout(500)                                    # the slide transition
    found = page.evaluate(MATH_AND_IMAGES, True)
    assert found["math"] and found["mathShown"] == found["math"], found
    assert found["images"] and found["imagesLoaded"] == found["images"], found
    assert found["mathErrors"] == 0, found
    page.screenshot(path=ARTIFACTS / "slides_math_and_figure.png")


@pytest.mark.parametrize("deck", DECKS)
def test_every_slide_of_a_deck_fits_the_canvas(page, site, deck):
    """Every slide (fragments shown, math typeset) ends above the canvas' bottom (720 px), zoomed
    out by the deck's courseFit no further than slides.FIT_MIN_ZOOM."""
    page.goto(f"{site}/slides/{deck}.slides.html")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=20_000)
    _wait_for_mathjax(page)
    measured = page.evaluate(_browser.MEASURE_SLIDES)
    assert len(measured) == page.evaluate("Reveal.getTotalSlides()")
    height = slides.SLIDE_SIZE[1]
    over = [s for s in measured if s["height"] > height]
    shrunk = [s for s in measured if s["zoom"] < 1]
    print(f"{deck}: {len(measured)} slides, tallest {max(s['height'] for s in measured)} px, "
          f"{len(over)} over {height} px, {len(shrunk)} zoomed out (smallest zoom "
          f"{min([s['zoom'] for s in measured]):.2f})")
    assert not over, f"slides taller than the {height}-px canvas: {over}"
    assert all(s["zoom"] >= slides.FIT_MIN_ZOOM - 1e-3 for s in measured), measured


def test_right_arrow_visits_every_slide_and_the_number_clears_the_arrows(page, site):
    """-> alone walks through every slide of a deck (sub-slides too), in the order of the
    lecture; the slide number overlaps neither the arrows nor the links."""
    page.goto(f"{site}/slides/04_vae_pytorch.slides.html")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=20_000)
    total = page.evaluate("Reveal.getTotalSlides()")
    assert page.evaluate("Reveal.getVerticalSlides().length") > 0   # the case that mattered
    seen = set()
    for _ in range(total * 4):                                      # fragments take presses too
        where, last = page.evaluate("[JSON.stringify(Reveal.getIndices()), "
                                    "Reveal.isLastSlide() && !Reveal.availableFragments().next]")
        seen.add(where)
        if last:
            break
        page.keyboard.press("ArrowRight")
    slides_seen = {tuple(json_indices(i)[:2]) for i in seen}
    assert len(slides_seen) == total, f"-> visited {len(slides_seen)} of {total} slides"
    boxes = page.evaluate("""() => Object.fromEntries(
      [["number", ".reveal .slide-number"], ["nav", ".course-nav"],
       ...[...document.querySelectorAll(".reveal .controls button")].map(
         (b, k) => ["arrow" + k, b])].map(([name, el]) => {
        const node = typeof el === "string" ? document.querySelector(el) : el;
        const r = node.getBoundingClientRect();
        return [name, [r.left, r.top, r.right, r.bottom]]; }))""")
    number = boxes.pop("number")
    assert number[2] > number[0], "no slide number"
    for name, box in boxes.items():
        overlap = (min(number[2], box[2]) > max(number[0], box[0])
                   and min(number[3], box[3]) > max(number[1], box[1]))
        assert not overlap, (name, box, number)


def json_indices(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"-?\d+", text)]


_COURSE_IMAGE = re.compile(r"\.\./images/([\w.-]+)")   # a figure of images/ that a cell shows


@contextlib.contextmanager
def _presentable_copy(lecture: str):
    """A copy of `lecture` with the slide rule as its `slideshow` metadata (`--apply-metadata
    --output`), the folder's `rise.css` and the lecture's NN_topic.css, in a fresh folder of
    build/ below the server's root, laid out as the repository is (lectures/ and images/ side by
    side), so that the figures a cell shows from ../images/ load at their real size. RISE saves
    the notebook before it shows it: the lecture itself is never opened, so never saved."""
    folder = ROOT / "build" / f"rise-test-{secrets.token_hex(4)}"
    source = ROOT / lecture
    (folder / "lectures").mkdir(parents=True)
    try:
        copy = folder / "lectures" / source.name
        for css in (source.parent / "rise.css", source.with_suffix(".css")):
            if css.exists():
                shutil.copy2(css, folder / "lectures" / css.name)
        slides.apply_metadata(source, copy)                 # keeps the NN_topic.css copied
        for name in set(_COURSE_IMAGE.findall(source.read_text(encoding="utf-8"))):
            (folder / "images").mkdir(exist_ok=True)
            shutil.copy2(ROOT / "images" / name, folder / "images" / name)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# the rendered size of text: its computed size times the zoom and transforms above it
RENDERED_PX = """(el) => {
  const box = document.createElement("span");
  box.style.cssText = "display:inline-block;width:100px;height:0;";
  el.appendChild(box);
  const scale = box.getBoundingClientRect().width / 100;
  box.remove();
  return parseFloat(getComputedStyle(el).fontSize) * scale; }"""


# The slide shown (RISE: a sub-slide `section` in a slide `section`), where it is and how far its
# content runs past what the window shows: below or above the `.reveal` element (which RISE's
# full screen makes the whole screen; reveal's scale is in the rectangles), or, where RISE made
# the section scroll (a slide taller than 95 % of the window), below the section's own bottom.
# `ready`: its math typeset and its images loaded, so the layout is final. `figureScale`: the
# smallest of its figures as shown, against the figure's own size (lectures/rise.css shrinks a
# figure that its code cell would otherwise push past the screen).
RISE_SLIDE = """() => {
  const slides = [...document.querySelectorAll(".reveal .slides > section")];
  const h = slides.findIndex(s => s.classList.contains("present"));
  const stack = [...slides[h].querySelectorAll(":scope > section")];
  const v = stack.findIndex(s => s.classList.contains("present"));
  const slide = stack[v], view = document.querySelector(".reveal").getBoundingClientRect();
  let top = Infinity, bottom = -Infinity;
  for (const el of slide.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) {
      top = Math.min(top, r.top); bottom = Math.max(bottom, r.bottom); }
  }
  const shown = sel => [...slide.querySelectorAll(sel)].filter(e => e.checkVisibility());  // skip
  const math = shown("mjx-container"), images = shown("img");
  const scales = images.filter(i => i.naturalWidth > 0).map(i => {
    const r = i.getBoundingClientRect();
    return Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight); });
  return {h, v, fragments: slides[h].querySelectorAll(".fragment.visible").length,
          figureScale: Math.min(1, ...scales),
          height: Math.round(bottom - top), view: Math.round(view.height),
          over: Math.round(Math.max(bottom - view.bottom, view.top - top,
                                    slide.scrollHeight > slide.clientHeight
                                      ? slide.scrollHeight - slide.clientHeight : -Infinity)),
          scrolls: getComputedStyle(slide).overflowY === "scroll",
          ready: math.every(m => m.getBoundingClientRect().width > 0)
                 && images.every(i => i.complete && i.naturalWidth > 0),
          text: slide.innerText.trim().slice(0, 40).replace(/\\s+/g, " ")}; }"""


def _every_rise_slide(page, slideshow, tallest_shot) -> list[dict]:
    """Walk the slideshow from its first slide to its last with the presenter's key (RISE_NEXT),
    measuring each slide and sub-slide (RISE_SLIDE) once, when its layout is final; the tallest
    is screenshot into `tallest_shot`. (One round trip to the browser per key: it waits for the
    next step's final layout and measures it.)"""
    step = ("(before) => { const s = (%s)(); return s.ready && JSON.stringify([s.h, s.v, "
            "s.fragments]) !== before && s; }" % RISE_SLIDE)
    total = slideshow.locator(".reveal .slides > section > section").count()
    measured, seen = [], set()
    slide = slideshow.wait_for_function(step, arg="", timeout=20_000).json_value()
    for _ in range(4 * total):                                   # fragments take presses too
        if (slide["h"], slide["v"]) not in seen:
            seen.add((slide["h"], slide["v"]))
            if all(slide["height"] > other["height"] for other in measured):
                # the fade from the slide before played to its end at once (not waited for)
                page.screenshot(path=tallest_shot, animations="disabled")
            measured.append(slide)
        if len(seen) == total and not slideshow.locator(
                ".reveal section.present .fragment:not(.visible)").count():
            break
        page.keyboard.press(RISE_NEXT)
        before = json.dumps([slide["h"], slide["v"], slide["fragments"]], separators=(",", ":"))
        slide = slideshow.wait_for_function(step, arg=before, timeout=20_000).json_value()
    assert len(seen) == total, f"{RISE_NEXT} reached {len(seen)} of {total} slides"
    return measured


def _projector_page(context):
    """A new page at projector size, and the lists its console messages and failed responses
    (status 400 or more) are collected into."""
    page = context.new_page()
    page.set_viewport_size(PROJECTOR)
    console, failed = [], []
    page.on("console", lambda m: console.append((m.type, m.text, m.location.get("url", ""))))
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    return page, console, failed


def test_rise_shows_a_lecture_as_live_slides_at_projector_size(browser, lab):
    context, remote = browser
    remote.clear()
    base, token, server = lab
    nb = nbformat.read(ROOT / LECTURE, as_version=4)
    sections = sum(c.cell_type == "markdown" and c.source.lstrip().startswith("## ")
                   for c in nb.cells)
    with _presentable_copy(LECTURE) as copy:
        path = copy.relative_to(ROOT).as_posix()
        page, console, failed = _projector_page(context)
        page.goto(_browser.lab_url(base, token, path))
        page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell .jp-OutputArea-output",
                               timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=60_000)
        # the instructor's way: the title cell selected (command mode), then the shortcut
        page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")
        page.keyboard.press(RISE_SHORTCUT)
        panel = page.wait_for_selector(f"iframe[src*='/rise/{path}']", state="attached",
                                       timeout=60_000)
        slideshow = panel.content_frame()
        slideshow.wait_for_selector(".reveal .slides > section.present", timeout=90_000)
        # the title and every `##` section are slides of their own
        assert slideshow.locator(".reveal .slides > section").count() == 1 + sections
        # the slide shown (the title) has its math typeset by MathJax, with a size on screen
        slideshow.wait_for_function("""() => {
          const math = [...document.querySelectorAll(
            ".reveal .slides > section.present mjx-container")];
          return math.length > 0 && math.every(m => m.getBoundingClientRect().width > 0); }""",
                                    timeout=30_000)
        assert slideshow.locator("section.present mjx-container [data-mjx-error]").count() == 0
        # the title as written: lectures/rise.css undoes the theme's capitals
        title = slideshow.locator(".reveal .slides > section.present").first
        assert "Latent variable models and PCA" in title.inner_text()
        # for the screenshot, the slideshow alone: close the notebook's tab (saved: no question)
        page.locator("#jp-main-dock-panel .lm-TabBar-tab").first.locator(
            ".lm-TabBar-tabCloseIcon").click()
        page.wait_for_timeout(1500)                             # reveal fits the new size
        # projector-sized: body text and title measured as rendered (lectures/rise.css)
        body = slideshow.locator(".reveal section.present .jp-RenderedMarkdown p").first
        heading = slideshow.locator(".reveal section.present .jp-RenderedMarkdown h1").first
        body_px, title_px = body.evaluate(RENDERED_PX), heading.evaluate(RENDERED_PX)
        print(f"RISE at {PROJECTOR['width']}x{PROJECTOR['height']}: body {body_px:.1f} px, "
              f"title {title_px:.1f} px")
        assert body_px >= RISE_MIN_BODY_PX and title_px > body_px, (body_px, title_px)
        # no cell-selection bar, no selected-cell highlight on a slide
        bars = slideshow.evaluate("""() => [...document.querySelectorAll(
          ".reveal .jp-Collapser, .reveal .jp-Collapser-child")].filter(e => {
            const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length""")
        assert bars == 0, f"{bars} cell-selection bars on the slides"
        assert not _news_question_shown(page), "JupyterLab asks about Jupyter news"
        panel.screenshot(path=ARTIFACTS / "rise_slide.png")
        # the title slide fits the slideshow's tab (JupyterLab's menu and file browser around it)
        title_fit = slideshow.evaluate(RISE_SLIDE)
        print(f"RISE in its tab ({title_fit['view']} px high): title slide "
              f"{title_fit['height']} px")
        assert title_fit["over"] <= 0, f"the title slide runs {title_fit['over']} px past its tab"
        # presenting: the slideshow's full-screen button; it fills the 1,440 x 900 screen, where
        # every slide and sub-slide, walked with the presenter's key, fits (lectures/rise.css)
        page.locator(RISE_FULL_SCREEN).locator("jp-button, button").first.click()
        slideshow.wait_for_function("([w, h]) => document.fullscreenElement !== null "
                                    "&& innerWidth === w && innerHeight === h",
                                    arg=[PROJECTOR["width"], PROJECTOR["height"]], timeout=10_000)
        page.wait_for_timeout(500)                              # reveal fits the new size
        assert body.evaluate(RENDERED_PX) >= RISE_MIN_BODY_PX
        page.screenshot(path=ARTIFACTS / "rise_full_screen.png")
        started = time.monotonic()
        measured = _every_rise_slide(page, slideshow, ARTIFACTS / "rise_full_screen_tallest.png")
        over = [s for s in measured if s["over"] > 0]
        tallest = max(measured, key=lambda s: s["height"])
        print(f"RISE full screen {PROJECTOR['width']}x{PROJECTOR['height']}: {len(measured)} "
              f"slides measured in {time.monotonic() - started:.1f} s, tallest "
              f"{tallest['height']} px ({tallest['h']}.{tallest['v']}: {tallest['text']!r}); "
              f"closest to an edge: {max(s['over'] for s in measured)} px past it (> 0: cut); "
              f"{len(over)} cut, {sum(s['scrolls'] for s in measured)} in RISE's scroll box")
        assert not over, f"slides that run past the {PROJECTOR['height']}-px screen: {over}"
        page.close()
    errors = [m for m in console if m[0] == "error"]
    print(f"RISE console: {len(errors)} errors: "
          f"{sorted({re.sub(r'[0-9]+', 'N', m[1])[:80] for m in errors})}")
    ours = [m for m in errors if "/files/" in m[1] + m[2]] + [
        f for f in failed if "/files/" in f[1]]
    assert not ours, f"console errors about the course's own files: {ours}"
    assert not remote, f"RISE asked the network for {remote}"


# Every other lecture, presented the same way: each slide and sub-slide fits the full screen.
RISE_LECTURES = [p.relative_to(ROOT).as_posix() for p in slides.lectures()
                 if p.relative_to(ROOT).as_posix() != LECTURE]
FULL_SCREEN = "() => document.querySelector('div.reveal').requestFullscreen()"  # RISE's button


@pytest.mark.parametrize("lecture", RISE_LECTURES, ids=lambda p: p.split("/")[-1][:2])
def test_rise_fits_every_slide_of_every_lecture_on_a_full_screen(browser, lab, lecture):
    """The slideshow page itself (what RISE's tab shows in its frame, /rise/PATH), made full
    screen as RISE's full-screen button does (the `.reveal` element asks for it), walked with
    the presenter's key: no slide or sub-slide runs past the 1,440 x 900 screen or scrolls, the
    body text stays projector-sized, and every figure loads (its real height is measured)."""
    context, remote = browser
    remote.clear()
    base, token, _ = lab
    with _presentable_copy(lecture) as copy:
        page, console, failed = _projector_page(context)
        started = time.monotonic()
        page.goto(f"{base}/rise/{copy.relative_to(ROOT).as_posix()}?token={token}")
        page.wait_for_selector(".reveal .slides > section.present", timeout=90_000)
        page.evaluate(FULL_SCREEN)
        page.wait_for_function("([w, h]) => document.fullscreenElement?.classList.contains("
                               "'reveal') && innerWidth === w && innerHeight === h",
                               arg=[PROJECTOR["width"], PROJECTOR["height"]], timeout=10_000)
        body = page.locator(".reveal section.present .jp-RenderedMarkdown p").first
        body_px = body.evaluate(RENDERED_PX)
        name = copy.stem
        measured = _every_rise_slide(page, page.main_frame,
                                     ARTIFACTS / f"rise_full_screen_tallest_{name}.png")
        page.close()
    over = [s for s in measured if s["over"] > 0]
    tallest = max(measured, key=lambda s: s["height"])
    smallest = min(measured, key=lambda s: s["figureScale"])
    print(f"RISE full screen, {name}: {len(measured)} slides in {time.monotonic() - started:.1f} s"
          f", body {body_px:.1f} px, tallest {tallest['height']} px ({tallest['h']}.{tallest['v']}"
          f": {tallest['text']!r}), closest to an edge {max(s['over'] for s in measured)} px past "
          f"it; {len(over)} cut; smallest figure at {smallest['figureScale']:.0%} of its size "
          f"({smallest['h']}.{smallest['v']})")
    assert body_px >= RISE_MIN_BODY_PX, body_px
    assert not over, f"{name}: slides that run past the {PROJECTOR['height']}-px screen: {over}"
    ours = [m for m in console if m[0] == "error" and "/files/" in m[1] + m[2]] + [
        f for f in failed if "/files/" in f[1]]
    assert not ours, f"{name}: the course's own files failed to load: {ours}"
    assert not remote, f"RISE asked the network for {remote}"
