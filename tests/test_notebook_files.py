"""The notebook pipeline's invariants: .ipynb/.md/.py triples in sync, exercises generated,
committed outputs."""
import os
import shutil
import time
import tomllib
from pathlib import Path

import jupytext
import nbformat
import pytest

from tools import make_exercises

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("lectures", "exercises", "solutions")
NOTEBOOKS = sorted(p for f in FOLDERS for p in (ROOT / f).glob("*.ipynb"))
EXECUTED = [p for p in NOTEBOOKS if p.parent.name in ("lectures", "solutions")]
EXERCISES = [p for p in NOTEBOOKS if p.parent.name == "exercises"]
SOLUTIONS = [p for p in NOTEBOOKS if p.parent.name == "solutions"]
TWIN_SUFFIXES = (".md", ".py")                  # MyST Markdown, py:percent
PAIRED_FORMATS = "ipynb,md:myst,py:percent"


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def _cells(nb):
    """What pairing must preserve: cell types, sources and tags."""
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_every_folder_has_notebooks():
    for folder in FOLDERS:
        assert list((ROOT / folder).glob("*.ipynb")), f"{folder}/ has no notebook"


@pytest.mark.parametrize("suffix", TWIN_SUFFIXES)
@pytest.mark.parametrize("folder", FOLDERS)
def test_every_text_twin_has_its_notebook(folder, suffix):
    orphans = [p.name for p in (ROOT / folder).glob(f"[0-9]*{suffix}")
               if not p.with_suffix(".ipynb").exists()]
    assert not orphans, f"{folder}: {suffix} without .ipynb: {orphans}"


@pytest.mark.parametrize("suffix", TWIN_SUFFIXES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_and_its_text_twin_are_in_sync(path, suffix):
    twin = path.with_suffix(suffix)
    assert twin.exists(), f"{path.name} has no {suffix} twin: run `make sync`"
    assert _cells(jupytext.read(path)) == _cells(jupytext.read(twin)), \
        f"{path.name} and {twin.name} differ: run `make sync`"


def test_jupytext_config_pairs_the_three_forms():
    config = tomllib.loads((ROOT / "jupytext.toml").read_text(encoding="utf-8"))
    assert config["formats"] == PAIRED_FORMATS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_metadata_pairs_the_three_forms(path):
    """jupytext obeys a notebook's own `formats` over jupytext.toml: both must name all three."""
    formats = nbformat.read(path, as_version=4).metadata.get("jupytext", {}).get("formats")
    assert formats == PAIRED_FORMATS, \
        f"{path.name} pairs {formats!r}: run `jupytext --set-formats {PAIRED_FORMATS} {path.name}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_opens_in_jupyterlab_when_newer_than_its_twins(path, tmp_path):
    """After a `git pull` that changes only outputs, the .ipynb is newer than its text twins;
    Jupytext then opens it only if all three hold the same notebook, headers included."""
    try:
        from jupytext.sync_contentsmanager import TextFileContentsManager   # jupytext >= 1.17
    except ImportError:
        from jupytext.contentsmanager import TextFileContentsManager        # jupytext 1.16

    folder = tmp_path / path.parent.name
    folder.mkdir()
    shutil.copy(ROOT / "jupytext.toml", tmp_path)
    shutil.copy(path, folder)
    hour_ago = time.time() - 3600
    for suffix in TWIN_SUFFIXES:
        shutil.copy(path.with_suffix(suffix), folder)
        os.utime(folder / f"{path.stem}{suffix}", (hour_ago, hour_ago))   # the .ipynb an hour newer
    manager = TextFileContentsManager(root_dir=str(tmp_path))
    model = manager.get(f"{path.parent.name}/{path.name}")       # refuses if the pair differs
    assert len(model["content"].cells) == len(nbformat.read(path, as_version=4).cells)


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_committed_exercise_is_generated_from_its_solution(path):
    assert make_exercises.is_up_to_date(path), \
        f"exercises/{path.name} is stale: run `make exercises`"


def test_every_solution_has_a_lecture():
    lectures = {p.name for p in (ROOT / "lectures").glob("*.ipynb")}
    assert {p.name for p in SOLUTIONS} <= lectures


@pytest.mark.parametrize("path", EXERCISES, ids=_ids(EXERCISES))
def test_exercise_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"cells {dirty} of {path.name} carry outputs"


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_notebook_is_committed_executed_in_order_without_errors(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"execution counts out of order: {counts}"
    errors = [i for i, c in enumerate(code) for o in c.outputs if o.output_type == "error"]
    assert not errors, f"code cells {errors} hold error outputs"


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_notebook_is_committed_in_full_mode_on_full_mnist_with_figures(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "smoke mode: off" in text, "not executed in full mode (setup line missing or smoke)"
    assert "MNISTData(full MNIST:" in text and "subset" not in text.split("MNISTData(")[1][:80], \
        "not executed on full MNIST"
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, "no figure in the committed outputs"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.parent.name != "solutions"],
                         ids=_ids([p for p in NOTEBOOKS if p.parent.name != "solutions"]))
def test_only_solutions_tag_cells_nbval_check_output(path):
    """nbval runs the solutions only (the test plan in CONTRIBUTING.md): a lecture or exercise
    cell tagged `nbval-check-output` would never be compared with its committed output."""
    nb = nbformat.read(path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "nbval-check-output" in c.metadata.get("tags", [])]
    assert not tagged, (f"cells {tagged} of {path.name} are tagged nbval-check-output, which only "
                        "nbval's run of solutions/ compares")
