"""The course site (`make html`) in a real browser: a lecture page typesets its math and shows its
figures, the search box finds a lecture, the dark switch changes the theme, and no page asks
anything of the network.

Headless Chromium (Debian's, driven by Playwright) may reach loopback only: a request for any
other host is aborted and fails the test. The site is served as `make serve` serves it (build/,
so the site is under /html/). Screenshots go to test-artifacts/browser/site_*.png. Skipped, with
the reason, where Chromium or Playwright is missing.
"""
import pytest

import _browser
from _browser import ARTIFACTS

pytestmark = pytest.mark.skipif(_browser.skip_reason() is not None,
                                reason=_browser.skip_reason() or "")

LECTURE = "html/lectures/01_lvm_pca.html"
SEARCH_WORD = "Tipping"          # lecture 01 cites Tipping & Bishop (1999)

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


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _browser.chromium() as (context, remote):
        yield context, remote


@pytest.fixture(scope="module")
def site():
    """The site built once per run, its build folder served on a loopback port."""
    with _browser.static_server(_browser.built_site()) as url:
        yield url


@pytest.fixture
def page(browser):
    with _browser.checked_page(*browser) as page:
        yield page


def _wait_for_mathjax(page):
    page.wait_for_function("() => window.MathJax && MathJax.Hub", timeout=20_000)
    page.evaluate(WAIT_FOR_MATHJAX)
    page.wait_for_function("() => window.__mathjaxDone === true", timeout=60_000)


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
