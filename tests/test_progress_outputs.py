"""tools.progress_outputs: an executed notebook's progress bars are saved at their final state.

One small notebook (a utils.plots.progress bar, a slider) is executed once in a kernel, as
`make execute` does (nbclient, widget state stored), then finalized."""
import copy

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter, MarkdownExporter

import _executions
from tools import progress_outputs as po

pytestmark = pytest.mark.slow           # a kernel (make test-fast leaves it out)

BAR_CELL = """from utils.plots import progress
for i in (bar := progress(range(7), desc="demo epochs")):
    bar.set_postfix(loss=f"{10 - i:.1f}")"""
SLIDER_CELL = """import ipywidgets
ipywidgets.IntSlider(value=4, description="k")"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The demo notebook as nbclient saved it (before finalizing)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(BAR_CELL), nbformat.v4.new_code_cell(SLIDER_CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    folder = tmp_path_factory.mktemp("progress")
    path = folder / "demo.ipynb"
    _executions.record(path, _executions.SYNTHETIC)
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    nbformat.write(nb, path)
    return path


@pytest.fixture
def finalized(executed):
    nb = nbformat.read(executed, as_version=4)
    assert po.finalize_progress(nb) == 1
    return nb


def _bar_output(nb):
    return nb.cells[0].outputs[-1]


def test_executed_notebook_saves_the_bar_at_zero_percent(executed):
    """The problem being fixed: what a static viewer sees without finalizing."""
    data = _bar_output(nbformat.read(executed, as_version=4))["data"]
    assert po.WIDGET_VIEW in data and "0%" in data["text/plain"] and "0/7" in data["text/plain"]


def test_finalized_bar_text_is_the_finished_bar_as_tqdm_prints_it(finalized):
    text = _bar_output(finalized)["data"]["text/plain"]
    assert text.startswith("demo epochs: 100%|██████████| 7/7 [")
    assert text.endswith("loss=4.0]") and "&lt;" not in text and "\u2007" not in text


def test_finalized_bar_has_an_html_form_with_a_full_progress_element(finalized):
    page = _bar_output(finalized)["data"]["text/html"]
    assert '<progress value="7" max="7"' in page and "7/7" in page and "loss=4.0" in page


def test_bar_widget_view_is_dropped_so_no_viewer_prefers_it(finalized):
    assert po.WIDGET_VIEW not in _bar_output(finalized)["data"]


def test_other_widgets_keep_their_view_and_saved_state(finalized):
    view = finalized.cells[1].outputs[0]["data"][po.WIDGET_VIEW]
    state = finalized.metadata["widgets"][po.WIDGET_STATE]["state"]
    assert state[view["model_id"]]["state"]["value"] == 4
    assert not any(m["model_name"] == "FloatProgressModel" for m in state.values())


def test_finalizing_a_finalized_notebook_changes_nothing(finalized):
    again = copy.deepcopy(finalized)
    assert po.finalize_progress(again) == 0
    assert again == finalized


def test_a_notebook_with_only_bars_loses_its_widget_metadata(executed):
    nb = nbformat.read(executed, as_version=4)
    nb.cells = nb.cells[:1]
    po.finalize_progress(nb)
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize("exporter", [MarkdownExporter, HTMLExporter])
def test_text_and_html_exports_show_the_finished_bar(finalized, exporter):
    body, _ = exporter().from_notebook_node(finalized)
    assert "7/7" in body and "0/7" not in body


def test_the_command_rewrites_the_file_in_place(executed, tmp_path, capsys):
    path = tmp_path / "copy.ipynb"
    path.write_bytes(executed.read_bytes())
    assert po.main([str(path)]) == 0
    assert "1 progress bar(s)" in capsys.readouterr().out
    assert "100%" in _bar_output(nbformat.read(path, as_version=4))["data"]["text/plain"]
