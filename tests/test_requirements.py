"""What students install vs what authors and CI install (issue 12: two requirement files)."""
from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_ONLY = {"pytest", "pytest-xdist", "nbval", "nbclient", "nbconvert", "playwright", "psutil",
            "sphinx-revealjs", "jupyter-server-mathjax"}
AUTHORING_MODULES = {"nbformat", "jupytext", "nbconvert", "nbclient"}
LOCAL = ({"utils", "tools", "benchmarks", "tests"}
         | {p.stem for p in (Path(__file__).resolve().parent).glob("*.py")})  # tests import tests


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[ ;]", line)[0].lower().replace("_", "-"))
    return names


def imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - LOCAL - {"__future__"}


def python_sources(*folders: str) -> list[str]:
    return [p.read_text(encoding="utf-8") for f in folders for p in sorted((ROOT / f).rglob("*.py"))]


def notebook_sources() -> list[str]:
    out = []
    for folder in ("lectures", "solutions", "exercises"):
        for path in sorted((ROOT / folder).glob("[0-9]*.md")):
            nb = jupytext.read(path)
            out += ["\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                    for c in nb.cells if c.cell_type == "code"]
    return out


def distributions(modules: set[str]) -> dict[str, set[str]]:
    mapping = packages_distributions()
    return {m: {d.lower().replace("_", "-") for d in mapping.get(m, [m])} for m in modules}


STUDENT = requirement_names(ROOT / "requirements.txt")
DEV = requirement_names(ROOT / "requirements-dev.txt") | STUDENT


def test_the_student_requirements_hold_no_test_export_or_benchmark_package():
    assert not STUDENT & DEV_ONLY, f"move {sorted(STUDENT & DEV_ONLY)} to requirements-dev.txt"


def test_the_dev_requirements_include_the_student_ones():
    text = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert "-r requirements.txt" in text.splitlines()


def test_every_package_the_notebooks_and_utils_import_is_a_direct_student_requirement():
    modules = set().union(*(imported_modules(s) for s in python_sources("utils") + notebook_sources()))
    missing = {m: d for m, d in distributions(modules).items() if not d & STUDENT}
    assert not missing, f"not listed in requirements.txt: {missing}"


def test_every_package_tests_tools_and_benchmarks_import_is_a_direct_requirement():
    sources = python_sources("tests", "tools", "benchmarks") + [(ROOT / "conftest.py").read_text(encoding="utf-8")]
    modules = set().union(*(imported_modules(s) for s in sources))
    missing = {m: d for m, d in distributions(modules).items() if not d & DEV}
    assert not missing, f"not listed in requirements.txt or requirements-dev.txt: {missing}"


@pytest.mark.parametrize("path", sorted((ROOT / "utils").rglob("*.py")), ids=lambda p: p.name)
def test_utils_holds_no_authoring_module(path):
    used = imported_modules(path.read_text(encoding="utf-8")) & AUTHORING_MODULES
    assert not used, f"{path.name} imports {used}: authoring code belongs in tools/"


def test_make_lab_installs_only_the_student_requirements():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lab = re.search(r"^lab: (.*)$", makefile, re.M).group(1)
    assert ".installed-dev" not in lab and ".installed" in lab
    stamp = re.search(r"^\$\(VENV\)/\.installed: .*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "requirements-dev" not in stamp


def _pins(path: Path, operator: str) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if operator in line:
            name, version = line.split(operator)
            pins[name.strip().lower()] = version.split(",")[0].strip()
    return pins


def test_every_student_lower_bound_is_a_version_of_the_lowest_versions_run():
    lowest = _pins(ROOT / "requirements-lowest.txt", "==")
    bounds = _pins(ROOT / "requirements.txt", ">=")
    assert set(bounds) == set(lowest), "requirements.txt and requirements-lowest.txt name different packages"
    for name, bound in bounds.items():
        assert lowest[name].startswith(bound), (
            f"{name}>={bound} in requirements.txt, but the lowest-versions run used {lowest[name]}: "
            "a lower bound is the oldest release the course was run with (make test-lowest)")
