"""The course's JupyterLab settings (jupyter-config/) reach a plain `jupyter lab`, not only `make
lab`: requirements.txt installs them as a package without code into the environment's prefix."""
import json
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "jupyter-config"
DATA_FILES = tomllib.loads((CONFIG / "pyproject.toml").read_text(encoding="utf-8"))[
    "tool"]["setuptools"]["data-files"]
INSTALLED = [(Path(folder) / Path(source).name, CONFIG / source)
             for folder, sources in DATA_FILES.items() for source in sources]


def test_requirements_install_the_settings_package():
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "./jupyter-config" in lines


def test_the_settings_go_where_jupyterlab_reads_them():
    assert sorted(str(target) for target, _ in INSTALLED) == [
        "etc/jupyter/labconfig/page_config.json", "share/jupyter/lab/settings/overrides.json"]


@pytest.mark.parametrize("target, source", INSTALLED, ids=lambda p: getattr(p, "name", ""))
def test_this_environment_has_the_course_settings_installed(target, source):
    installed = Path(sys.prefix) / target
    assert installed.exists(), f"{installed} is missing: run `pip install -r requirements.txt`"
    have = json.loads(installed.read_text(encoding="utf-8"))
    # JupyterLab itself may add entries to the file (e.g. `jupyter labextension disable` or lock):
    # every setting of the course must be there, with its value.
    for section, values in json.loads(source.read_text(encoding="utf-8")).items():
        assert {k: have.get(section, {}).get(k) for k in values} == values, section
