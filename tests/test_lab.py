"""`make lab`, the README's command that opens the course, really serves it."""
import json
import shutil
import urllib.request

import pytest

import _browser
from _browser import ROOT


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def lab():
    if shutil.which("make") is None:   # Windows: the README's PowerShell steps start JupyterLab
        pytest.skip("`make` is not installed here")
    """`make lab` on a free loopback port without a browser (tests/_browser.py); stopped after."""
    with _browser.make_lab() as (base, token, _):
        yield base, token


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
