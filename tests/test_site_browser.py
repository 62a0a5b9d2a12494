"""The course site (`make html`) in a real browser: a lecture page typesets its math and shows its
figures, the search box finds a lecture and quotes its text, the dark switch changes the theme,
the ☰ and "contents" buttons open their panels on a phone, text keeps a contrast of 4.5:1 in both
modes, nothing runs off a phone's screen, ← → do not turn the page from inside a code block, and
no page asks anything of the network or logs an error.

Headless Chromium (Debian's, driven by Playwright) may reach loopback only: a request for any
other host is aborted and fails the test. The site is served as `make serve` serves it (build/,
so the site is under /html/). Screenshots go to test-artifacts/browser/site_*.png. Skipped, with
the reason, where Chromium or Playwright is missing.
"""
import contextlib
import re

import pytest

import _browser
from _browser import ARTIFACTS, ROOT

pytestmark = [pytest.mark.skipif(_browser.skip_reason() is not None,
                                 reason=_browser.skip_reason() or ""),
              pytest.mark.slow]

LECTURE = "html/lectures/01_lvm_pca.html"
ELBO_LECTURE = "html/lectures/04_vae_pytorch.html"      # §3: the ELBO, the widest equation
SEARCH_WORD = "Tipping"          # lecture 01 cites Tipping & Bishop (1999)
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 800}
LECTURES = sorted(p.stem for p in (ROOT / "lectures").glob("[0-9]*.ipynb"))

# MathJax 2 is done once its start-up (the first typeset) and then its queue have run.
WAIT_FOR_MATHJAX = """() => { window.__mathjaxDone = false;
  MathJax.Hub.Register.StartupHook("End", () => {
    MathJax.Hub.Queue(() => { window.__mathjaxDone = true; }); }); }"""
MATH_AND_IMAGES = """() => {
  const math = [...document.querySelectorAll("article .MathJax, article .MathJax_Display")];
  const images = [...document.querySelectorAll("article img")];
  return {
    math: math.length,
    mathShown: math.filter(m => m.getBoundingClientRect().width > 0).length,
    mathErrors: document.querySelectorAll(".MathJax .merror, .MathJax .noError").length,
    untypeset: document.querySelectorAll("article span.math").length -
               document.querySelectorAll("article span.math .MathJax, article span.math script")
                 .length,
    images: images.length,
    imagesLoaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
  };
}"""

# WCAG 2 contrast of every piece of text shown in the article, the sidebars and the footer: its
# colour against the background it sits on (the first opaque background of its ancestors, with
# the translucent ones above it laid over).
CONTRAST = """() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const v = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3]))
    .concat([1]);
  const background = element => {
    const layers = [];
    for (let a = element; a; a = a.parentElement) {
      const c = parse(getComputedStyle(a).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop() : [255, 255, 255, 1];
    for (const layer of layers.reverse()) bg = over(layer, bg);
    return bg;
  };
  const luminance = c => { const f = v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05); };
  const found = [];
  const scope = "article *, .bd-sidebar-primary *, .bd-sidebar-secondary *, footer *";
  for (const element of document.querySelectorAll(scope)) {
    if (![...element.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(element), box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || style.visibility === "hidden" ||
        element.closest("script, .MathJax_Preview, .MJX_Assistive_MathML, [aria-hidden=true]"))
      continue;
    const bg = background(element);
    found.push({kind: element.closest("caption") ? "caption"
                      : element.closest("td, th") ? "table cell" : "text",
                text: element.textContent.trim().slice(0, 40), tag: element.tagName,
                ratio: ratio(over(parse(style.color), bg), bg)});
  }
  return found;
}"""

# At a phone's width: the page must not scroll sideways, and content wider than the column must
# sit in a box of its own that scrolls (an equation, a code cell, an output), never be clipped.
PHONE_LAYOUT = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = e => ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
  const offPage = [], clipped = [];
  for (const element of document.querySelectorAll("article *")) {
    const box = element.getBoundingClientRect();
    // MathJax's own hidden copies: the MathML for screen readers (1 px, by design), the preview
    if (box.width === 0 || element.closest(".MJX_Assistive_MathML, .MathJax_Preview, math"))
      continue;
    const style = getComputedStyle(element);
    if (["hidden", "clip"].includes(style.overflowX) && element.scrollWidth > element.clientWidth + 2)
      clipped.push(`${element.tagName}.${element.className} ${element.clientWidth} px shows ` +
                   `${element.scrollWidth} px`);
    // text wider than its own box (a long word) runs over it without the box growing
    const runsOver = style.overflowX === "visible" && element.scrollWidth > element.clientWidth + 1
      && box.left + element.scrollWidth > width + 0.5;
    if (box.right <= width + 0.5 && !runsOver) continue;
    let scroller = element.parentElement;
    while (scroller && scroller !== document.body && !scrolls(scroller))
      scroller = scroller.parentElement;
    if (!scroller || scroller === document.body || scroller.getBoundingClientRect().right > width + 0.5)
      offPage.push(`${element.tagName}.${element.className} ends at ` +
                   `${Math.round(Math.max(box.right, box.left + element.scrollWidth))} px`);
  }
  const progress = [...document.querySelectorAll("article .lvm-progress")];
  const figures = [...document.querySelectorAll("article .cell_output img")].map(i => ({
    natural: i.naturalWidth, shown: i.getBoundingClientRect().width}));
  return {width, pageWidth: document.documentElement.scrollWidth, offPage, clipped,
          progress: progress.map(p => [p.clientWidth, p.scrollWidth]), figures};
}"""

NUMBER = r"^[−\-+]?[\d,]*\.?\d+(?:[eE][−\-+]?\d+)?\s*%?$"
TABLES = """(number) => [...document.querySelectorAll("article table td, article table th")]
  .map(c => { const s = getComputedStyle(c), text = c.textContent.trim();
    return {text, numeric: new RegExp(number).test(text), align: s.textAlign,
            left: parseFloat(s.paddingLeft), right: parseFloat(s.paddingRight),
            rule: parseFloat(s.borderBottomWidth), header: c.tagName === "TH"}; })"""


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _browser.chromium() as (context, remote):
        yield context, remote


@pytest.fixture(scope="module")
def site():
    """The site (the test run's one build, tests/_browser.py: built_course), its build folder
    served on a loopback port."""
    with _browser.static_server(_browser.built_course()) as url:
        yield url


@pytest.fixture
def page(browser):
    with _browser.checked_page(*browser) as page:
        yield page


@contextlib.contextmanager
def first_visit(browser, viewport=None, mode=None):
    """A page of a new browser context (no stored theme: a first visit, unless `mode` stores one),
    reaching loopback only. Yields (page, problems): on exit no request may have left loopback,
    and no JavaScript error, console error or failed response (≥ 400) may have happened."""
    context, _ = browser
    fresh = context.browser.new_context(viewport=viewport or LAPTOP)
    problems = []

    def only_loopback(route):
        if route.request.url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            problems.append(f"network: {route.request.url}")
            route.abort()

    fresh.route("**/*", only_loopback)
    if mode:
        fresh.add_init_script(f"localStorage.setItem('mode', '{mode}');"
                              f"localStorage.setItem('theme', '{mode}');")
    page = fresh.new_page()
    page.on("pageerror", lambda error: problems.append(f"JavaScript: {error}"))
    page.on("console", lambda m: m.type == "error" and problems.append(
        f"console: {m.text} ({m.location.get('url', '')})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}"))
    try:
        yield page, problems
    finally:
        fresh.close()
    assert not problems, problems


def _wait_for_mathjax(page):
    if not page.locator("script[src*='MathJax.js']").count():
        return                                              # a page without math loads none
    page.wait_for_function("() => window.MathJax && MathJax.Hub", timeout=20_000)
    page.evaluate(WAIT_FOR_MATHJAX)
    page.wait_for_function("() => window.__mathjaxDone === true", timeout=180_000)


def test_a_lecture_page_typesets_its_math_and_shows_its_figures(page, site):
    page.goto(f"{site}/{LECTURE}")
    _wait_for_mathjax(page)
    found = page.evaluate(MATH_AND_IMAGES)
    assert found["math"] > 10 and found["mathShown"] == found["math"], found
    assert found["mathErrors"] == 0, found
    assert found["images"] and found["imagesLoaded"] == found["images"], found
    sidebar = page.locator(".bd-sidebar-primary nav.bd-docs-nav")
    assert sidebar.is_visible()
    assert sidebar.locator("a", has_text="02 · Autoencoders").count() >= 1
    page.screenshot(path=ARTIFACTS / "site_lecture_sidebar.png")


def test_the_search_box_finds_a_lecture_by_a_word_from_its_text(page, site):
    page.goto(f"{site}/html/index.html")
    page.locator("button.search-button__button:visible").first.click()
    box = page.locator("#pst-search-dialog[open] input[name='q']")
    box.fill(SEARCH_WORD)
    box.press("Enter")
    page.wait_for_url("**/html/search.html?q=*")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#search-progress')?.textContent"
                           ".includes('Preparing')", timeout=30_000)
    hrefs = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert any(h.split("?")[0].endswith("lectures/01_lvm_pca.html") for h in hrefs), hrefs
    page.screenshot(path=ARTIFACTS / "site_search_results.png")


@pytest.mark.parametrize("word", ["ELBO", "Bernoulli"])
def test_search_results_quote_the_body_text_not_the_page_chrome_or_tex(browser, site, word):
    """Snippets come from the article: no theme buttons, no banner, no TeX source."""
    with first_visit(browser) as (page, _):
        page.goto(f"{site}/html/search.html?q={word}")
        page.wait_for_function("() => document.querySelector('#search-results')?.textContent"
                               ".includes('Search finished')", timeout=60_000)
        page.wait_for_function("() => document.querySelectorAll('#search-results p.context')"
                               ".length >= Math.min(3, document.querySelectorAll("
                               "'#search-results ul.search li').length)", timeout=60_000)
        snippets = page.locator("#search-results p.context").all_text_contents()
    assert len(snippets) >= 2, snippets
    for snippet in snippets:
        for chrome in ("System Settings", "Light Dark", "Download this notebook", "This page is the",
                       "Ctrl+K", "\\(", "\\mathbb", "\\frac", "\\mathcal"):
            assert chrome not in snippet, (chrome, snippet)
    assert sum(word.lower() in s.lower() for s in snippets) >= len(snippets) // 2, snippets


def test_the_dark_switch_turns_the_page_dark(page, site):
    page.goto(f"{site}/{LECTURE}")
    assert page.locator("html").get_attribute("data-theme") == "light"
    page.locator("button.theme-switch-button").first.click()
    page.locator("button.theme-change-button[data-mode='dark']").first.click()
    page.wait_for_selector("html[data-theme='dark']", timeout=5_000)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(v) for v in background[background.index("(") + 1:-1].split(",")[:3])
    assert max(red, green, blue) < 80, background
    page.locator("article h1").click()                    # closes the switch's menu
    _wait_for_mathjax(page)
    page.locator("article .cell_output img").first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "site_dark.png")


def test_a_first_visit_logs_no_error_and_every_request_is_answered(browser, site):
    """No "Got invalid theme mode", no 404 (/favicon.ico), no refused font, on a fresh browser."""
    with first_visit(browser) as (page, problems):
        for path in ("html/index.html", LECTURE, "html/units/04_vae_pytorch.html"):
            page.goto(f"{site}/{path}")
            _wait_for_mathjax(page)
            page.wait_for_timeout(500)
        assert page.locator("html").get_attribute("data-theme") == "light"
        icon = page.evaluate("document.querySelector('link[rel~=icon]')?.href")
        assert icon and page.request.get(icon).ok, icon
        assert page.request.get(f"{site}/favicon.ico").ok


def test_the_visible_menu_button_opens_the_unit_list_on_a_phone(browser, site):
    with first_visit(browser, PHONE) as (page, _):
        page.goto(f"{site}/{ELBO_LECTURE}")
        unit = page.locator("nav.bd-docs-nav a", has_text="Unit 02").first
        assert not unit.is_visible()
        buttons = page.locator(".primary-toggle:visible")
        assert buttons.count() == 1
        buttons.click()
        unit.wait_for(state="visible", timeout=5_000)
        assert page.evaluate("document.querySelector('#pst-primary-sidebar-modal').open")
        page.screenshot(path=ARTIFACTS / "site_phone_menu.png")
        page.keyboard.press("Escape")
        unit.wait_for(state="hidden", timeout=5_000)
        contents = page.locator("nav.page-toc a", has_text="The evidence lower bound").first
        assert not contents.is_visible()
        buttons = page.locator(".secondary-toggle:visible")
        assert buttons.count() == 1
        buttons.click()
        contents.wait_for(state="visible", timeout=5_000)
        page.screenshot(path=ARTIFACTS / "site_phone_contents.png")


def test_the_menu_button_hides_and_shows_the_sidebar_on_a_laptop(browser, site):
    with first_visit(browser, LAPTOP) as (page, _):
        page.goto(f"{site}/{ELBO_LECTURE}")
        sidebar = page.locator("#pst-primary-sidebar nav.bd-docs-nav")
        assert sidebar.is_visible()
        page.locator(".primary-toggle:visible").click()
        sidebar.wait_for(state="hidden", timeout=5_000)
        page.locator(".primary-toggle:visible").click()
        sidebar.wait_for(state="visible", timeout=5_000)


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_each_page_shows_one_search_box(browser, site, viewport):
    with first_visit(browser, viewport) as (page, _):
        for path in ("html/index.html", ELBO_LECTURE):
            page.goto(f"{site}/{path}")
            boxes = page.locator(".search-button__button:visible, form.bd-search:visible")
            assert boxes.count() == 1, (path, boxes.count())
        boxes.click()
        page.locator("#pst-search-dialog[open] input[name='q']").wait_for(timeout=5_000)


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_every_text_has_a_contrast_of_at_least_4_5_to_1(browser, site, mode):
    pages = ("html/index.html", "html/units/04_vae_pytorch.html", ELBO_LECTURE,
             "html/exercises/04_vae_pytorch.html", "html/solutions/06_elbo_tradeoffs.html")
    kinds, low = {}, []
    with first_visit(browser, LAPTOP, mode=mode) as (page, _):
        for path in pages:
            page.goto(f"{site}/{path}")
            assert page.locator("html").get_attribute("data-theme") == mode
            _wait_for_mathjax(page)
            for text in page.evaluate(CONTRAST):
                kinds.setdefault(text["kind"], []).append(text["ratio"])
                if text["ratio"] < 4.5:
                    low.append((path, text))
    assert {"caption", "table cell", "text"} <= set(kinds), set(kinds)
    summary = {kind: (len(r), round(min(r), 2)) for kind, r in kinds.items()}
    assert not low, f"{len(low)} texts under 4.5:1 ({summary}): {low[:10]}"


def test_tables_have_padding_rules_and_right_aligned_numbers(browser, site):
    with first_visit(browser, LAPTOP) as (page, _):
        page.goto(f"{site}/{ELBO_LECTURE}")
        cells = page.evaluate(TABLES, NUMBER)
        page.locator("article table caption").first.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "site_table.png")
    assert len(cells) > 20
    numbers = [c for c in cells if c["numeric"] and not c["header"]]
    assert len(numbers) > 10
    assert all(c["align"] in ("right", "end") for c in numbers), \
        [c for c in numbers if c["align"] not in ("right", "end")][:5]
    assert min(min(c["left"], c["right"]) for c in cells) >= 6, cells[:3]
    assert min(c["rule"] for c in cells) >= 1, cells[:3]


@pytest.mark.parametrize("stem", LECTURES)
def test_nothing_runs_off_a_phone_screen(browser, site, stem):
    """390 × 844: equations and wide outputs scroll in their own box, progress lines wrap, and a
    figure keeps at least 80 % of its own width (its labels readable) in a box that scrolls."""
    with first_visit(browser, PHONE) as (page, _):
        page.goto(f"{site}/html/lectures/{stem}.html")
        _wait_for_mathjax(page)
        page.evaluate("() => Promise.all([...document.images].map(i => i.decode().catch(() => 0)))")
        found = page.evaluate(PHONE_LAYOUT)
        if stem.startswith("04"):                     # §3's ELBO: whole, or in a box that scrolls
            equation = page.locator("article div.math", has_text="ELBO").first
            equation.scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "site_phone_elbo.png")
            box = equation.evaluate("e => [e.getBoundingClientRect().right, e.clientWidth, "
                                    "e.scrollWidth, getComputedStyle(e).overflowX]")
            assert box[0] <= PHONE["width"] and (box[2] <= box[1] or box[3] == "auto"), box
    assert found["pageWidth"] <= found["width"], found["pageWidth"]
    assert not found["offPage"], found["offPage"][:10]
    assert not found["clipped"], found["clipped"][:10]
    assert all(scroll <= client + 1 for client, scroll in found["progress"]), found["progress"]
    for figure in found["figures"]:
        assert figure["shown"] >= min(figure["natural"], 358) - 1, figure
        assert figure["shown"] >= 0.8 * figure["natural"] - 1, figure


def test_arrow_keys_in_a_code_block_do_not_turn_the_page(page, site):
    page.set_viewport_size(LAPTOP)
    page.goto(f"{site}/{LECTURE}")
    code = page.locator("article div.cell_input pre").nth(2)
    code.click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(1_000)
    assert page.url.endswith(LECTURE)
    page.locator("article section > p").first.click()    # in the prose, → is the next page
    with page.expect_navigation(timeout=10_000):
        page.keyboard.press("ArrowRight")
    assert re.search(r"/html/exercises/01_lvm_pca\.html$", page.url), page.url

