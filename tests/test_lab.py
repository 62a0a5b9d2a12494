"""`make lab`, the README's command that opens the course, really serves it, with the course's
JupyterLab settings (jupyter-config/): no news question, no update check, no JupyterLab 3
MathJax extension. The JupyterLab is the test run's one (tests/_browser.py: shared_lab), shared
with tests/test_browser.py's lab and RISE tests: both files are the pytest-xdist group
`jupyterlab`, so on one worker."""
import json
import re
import shutil
import urllib.request

import pytest

import _browser
from _browser import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(_browser.LAB_GROUP)]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.fixture
def lab(request):
    """`make lab` on a free loopback port without a browser, shared by the session's tests."""
    if shutil.which("make") is None:   # Windows: the README's PowerShell steps start JupyterLab
        pytest.skip("`make` is not installed here")
    base, token, _ = _browser.shared_lab(request)
    return base, token


def test_make_lab_serves_the_lecture_listing(lab):
    base, token = lab
    status, body = _get(f"{base}/api/contents/lectures?token={token}")
    names = {item["name"] for item in json.loads(body)["content"]}
    expected = {p.name for p in (ROOT / "lectures").glob("*.ipynb")}
    assert status == 200 and expected and expected <= names


def test_make_lab_serves_the_jupyterlab_page(lab):
    base, token = lab
    status, body = _get(f"{base}/lab?token={token}")
    assert status == 200 and "JupyterLab" in body


def _page_config(body: str) -> dict:
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      body, re.S)
    return json.loads(found.group(1))


def test_make_lab_never_asks_about_news_nor_checks_for_updates(lab):
    """The course's defaults (jupyter-config/lab-settings/overrides.json) reach a fresh
    JupyterLab: the test's own settings folder is empty of them."""
    base, token = lab
    name = "@jupyterlab/apputils-extension:notification"
    status, body = _get(f"{base}/lab/api/settings/{name}?token={token}")
    settings = json.loads(body)
    assert status == 200 and settings["settings"] == {}        # nothing set by the test itself
    defaults = {key: value.get("default")
                for key, value in settings["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false", defaults           # "none" asks the question
    assert defaults["checkForUpdates"] is False, defaults


@pytest.mark.parametrize("app", ["lab", "rise/lectures/01_lvm_pca.ipynb"])
def test_make_lab_turns_off_the_jupyterlab_3_mathjax_extension(lab, app):
    """@jupyterlab/mathjax3-extension (pulled in by jupyterlab-rise) is built for JupyterLab 3;
    JupyterLab 4 and RISE's app typeset math themselves. Off in both (page_config.json)."""
    base, token = lab
    status, body = _get(f"{base}/{app}?token={token}")
    config = _page_config(body)
    assert status == 200
    assert "@jupyterlab/mathjax3-extension" in config["disabledExtensions"], config[
        "disabledExtensions"]
