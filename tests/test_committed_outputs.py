"""Committed outputs carry no trace of the machine that ran them.

A lecture, solution or exercise is committed with its outputs (exercises with none) and shown as
is on the course site and in the decks. An output that names a path of the machine it ran on (a
temporary folder, a home directory, the repository's absolute path, or the repr of a `Path`
object, e.g. a cell ending in `save_figure(...)` whose return value Jupyter prints) is a build
leftover: meaningless to a reader, and different on every run.
"""
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for folder in ("lectures", "solutions", "exercises")
                   for p in (ROOT / folder).glob("[0-9]*.ipynb"))

# What a reader may see of an output: text, HTML, Markdown, LaTeX, JSON, tracebacks. Images are
# base64 (whose alphabet has "/": "/tmp/" can occur by chance) and are not read.
_TEXT_TYPES = re.compile(r"^(text/|application/(json|javascript)$)")


def _machine_paths() -> re.Pattern:
    """Paths that belong to one machine: temporary folders, home directories, this checkout."""
    fixed = [r"/tmp/", r"/var/folders/", r"/private/var/", r"/home/\w", r"/root/", r"/Users/\w",
             r"[A-Za-z]:(\\\\|\\|/)(Users|Windows|Temp)\b", r"\b(Posix|Windows|Pure\w*)Path\("]
    checkout = {str(ROOT), ROOT.as_posix(), str(ROOT).replace("\\", "\\\\")}
    return re.compile("|".join(fixed + [re.escape(p) for p in sorted(checkout) if len(p) > 1]),
                      re.IGNORECASE)


MACHINE_PATH = _machine_paths()


def _texts(output: dict):
    """Every text a reader can see in one output (recursing into Output widgets' saved outputs)."""
    if output.get("output_type") == "stream":
        yield output.get("text", "")
    elif output.get("output_type") == "error":
        yield output.get("ename", "")
        yield output.get("evalue", "")
        yield "\n".join(output.get("traceback", []))
    for mime, value in output.get("data", {}).items():
        if _TEXT_TYPES.match(mime):
            yield value if isinstance(value, str) else json.dumps(value)


def leftovers(nb) -> list[str]:
    """'cell N: ...text around the path...' for every machine path in the notebook's outputs
    (the cells' outputs and the outputs saved in its widget state)."""
    found = []
    outputs = [(i, o) for i, cell in enumerate(nb.cells) for o in cell.get("outputs", [])]
    state = (nb.metadata.get("widgets", {})
             .get("application/vnd.jupyter.widget-state+json", {}).get("state", {}))
    outputs += [("widget", o) for model in state.values()
                for o in model.get("state", {}).get("outputs", [])]
    for where, output in outputs:
        for text in _texts(output):
            for match in MACHINE_PATH.finditer(text):
                around = text[max(0, match.start() - 40):match.end() + 60].replace("\n", " ")
                found.append(f"cell {where}: …{around}…")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_committed_outputs_name_no_path_of_the_machine_that_ran_them(path):
    found = leftovers(nbformat.read(path, as_version=4))
    assert not found, (
        f"{path.relative_to(ROOT)}: {len(found)} output(s) name a path of the machine that ran "
        "it (a cell that saves a file should not print its return value: end it with `;` or "
        "assign it):\n" + "\n".join(found[:10]))


def _notebook(*outputs, widget_outputs=()):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x", outputs=list(outputs)))
    if widget_outputs:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
            "m": {"model_name": "OutputModel", "state": {"outputs": list(widget_outputs)}}}}}
    return nb


@pytest.mark.parametrize("text", [
    "PosixPath('images/06_rate_distortion.png')",
    "saved to /tmp/lvm-bench-j2gb570u/repo/images/x.png",
    "/home/ada/lvm/images/x.png", "/root/.cache/torch", "/Users/ada/lvm",
    r"C:\Users\ada\lvm", "WindowsPath('C:/x')", f"{ROOT.as_posix()}/images/x.png",
])
def test_a_machine_path_in_any_kind_of_output_is_found(text):
    new = nbformat.v4.new_output
    for output in (new("stream", name="stdout", text=text),
                   new("execute_result", data={"text/plain": text}, execution_count=1),
                   new("display_data", data={"text/html": f"<pre>{text}</pre>"}),
                   new("error", ename="OSError", evalue=text, traceback=[])):
        assert leftovers(_notebook(output)), (text, output)
    assert leftovers(_notebook(widget_outputs=[new("stream", name="stdout", text=text)]))


def test_ordinary_outputs_and_images_are_not_leftovers():
    new = nbformat.v4.new_output
    fine = [new("stream", name="stdout", text="full MNIST: 60000 training images, 10000 test\n"
                "saved images/06_rate_distortion.png · the root of the tree / 2"),
            new("display_data", data={"image/png": "iVBOR/tmp/home/Users/x==",
                                      "text/plain": "<Figure size 640x480 with 1 Axes>"})]
    assert leftovers(_notebook(*fine)) == []
