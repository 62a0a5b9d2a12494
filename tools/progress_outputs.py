"""Progress bars in executed notebooks, as they finished: for viewers without a kernel.

``tqdm.auto`` draws a live widget in JupyterLab. What a notebook file keeps of it is a widget view
(``application/vnd.jupyter.widget-view+json``) plus the ``text/plain`` tqdm wrote when the bar was
*created* ("0%| 0/25"), while the bar's last state (100%, 25/25, the time and the postfix) lives
only in the widget state that nbclient saves in the notebook's metadata (``metadata.widgets``).
GitHub, nbconvert's text and HTML exports and a site built from the file (which would need the
widget scripts from a CDN) show "0%" or nothing.

:func:`finalize_progress` rewrites each tqdm bar's output from that saved state into a plain output:
``text/plain`` as tqdm prints the finished bar in a terminal
(``z_dim=2: 100%|██████████| 12/12 [01:43<00:00, 10.28s/it, train=132.3]``) and ``text/html`` with
a ``<progress>`` element. The widget view of the bar is dropped (so no viewer prefers it to the
static form), and so is the saved state of widgets no output shows any more; other widgets
(sliders, ``interact``) keep their views and state. A live run in JupyterLab is unchanged: this
touches only saved files. ``make execute`` and ``python -m benchmarks.run --save-outputs`` apply it
after executing; by hand: ``python -m tools.progress_outputs lectures/*.ipynb solutions/*.ipynb``.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BAR_WIDTH = 10                      # tqdm's bar width when it has no terminal width to fill
_REFERENCE = re.compile(r"IPY_MODEL_([0-9a-f]+)")


def _state(nb) -> dict:
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def _model(state: dict, model_id) -> dict | None:
    if not isinstance(model_id, str):
        return None
    return state.get(model_id.replace("IPY_MODEL_", ""))


def _bar_parts(state: dict, model_id: str) -> tuple[str, float, float, str, str] | None:
    """(left text, value, max, right text, bar style) of a tqdm bar, or None for another widget.

    tqdm.notebook draws an HBox of three children: HTML (description and percentage), a
    FloatProgress (value, max) and HTML (count, times, postfix)."""
    box = _model(state, model_id)
    if not box or box.get("model_name") != "HBoxModel":
        return None
    children = [_model(state, c) for c in box.get("state", {}).get("children", [])]
    if len(children) != 3 or not all(children):
        return None
    names = [c.get("model_name") for c in children]
    if names[0] != "HTMLModel" or names[2] != "HTMLModel" or not names[1].endswith("ProgressModel"):
        return None
    left, bar, right = (c.get("state", {}) for c in children)
    return (_text(left.get("value", "")), float(bar.get("value") or 0), float(bar.get("max") or 0),
            _text(right.get("value", "")), bar.get("bar_style", ""))


def _text(widget_html: str) -> str:
    """tqdm's widget HTML as plain text: entities decoded, figure spaces as spaces."""
    return html.unescape(str(widget_html)).replace("\u2007", " ").replace("\xa0", " ")


def _bar(value: float, maximum: float) -> str:
    """tqdm's text bar (``██████▌   ``), or '' when the total was unknown."""
    if maximum <= 0:
        return ""
    from tqdm.std import Bar

    return format(Bar(min(max(value / maximum, 0.0), 1.0), BAR_WIDTH), "")


def static_outputs(left: str, value: float, maximum: float, right: str, style: str = "") -> dict:
    """The data of a finished bar: ``text/plain`` as tqdm prints it, ``text/html`` to match."""
    bar = _bar(value, maximum)
    plain = f"{left}|{bar}|{right}" if bar else f"{left}{right}"
    colour = {"danger": "#d9534f"}.get(style)
    progress = "" if not bar else (
        f'<progress value="{value:g}" max="{maximum:g}" style="width: 20em; vertical-align: middle'
        f'{f"; accent-color: {colour}" if colour else ""}">{html.escape(bar)}</progress>')
    html_text = (f'<div class="lvm-progress" style="white-space: pre">{html.escape(left)}'
                 f'{" " + progress + " " if progress else ""}{html.escape(right.strip())}</div>')
    return {"text/plain": plain, "text/html": html_text}


def finalize_progress(nb) -> int:
    """Replace every tqdm bar's widget output of ``nb`` by its final state (in place); return how
    many bars were rewritten. Bars without saved state (a notebook run without
    store_widget_state, or already finalized) are left alone."""
    state = _state(nb)
    rewritten = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            parts = _bar_parts(state, view.get("model_id")) if isinstance(view, dict) else None
            if parts is None:
                continue
            output["data"] = nbformat.from_dict(static_outputs(*parts))
            rewritten += 1
    if rewritten:
        _drop_unshown_widget_state(nb)
    return rewritten


def _drop_unshown_widget_state(nb) -> None:
    """Keep only the saved state of widgets some output still shows (and what they refer to)."""
    state = _state(nb)
    shown = [o["data"][WIDGET_VIEW].get("model_id", "") for c in nb.cells
             for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    keep, todo = set(), [m.replace("IPY_MODEL_", "") for m in shown]
    while todo:
        model_id = todo.pop()
        if model_id in keep or model_id not in state:
            continue
        keep.add(model_id)
        todo += _REFERENCE.findall(str(state[model_id].get("state", {})))
    if keep:
        for model_id in set(state) - keep:
            del state[model_id]
    else:
        del nb.metadata["widgets"]


def finalize_file(path: Path) -> int:
    """Apply :func:`finalize_progress` to a notebook file; rewrite it only if a bar changed."""
    nb = nbformat.read(path, as_version=4)
    n = finalize_progress(nb)
    if n:
        nbformat.write(nb, path)
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="executed .ipynb files, in place")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"{path}: {finalize_file(path)} progress bar(s) set to their final state")
    return 0


if __name__ == "__main__":
    sys.exit(main())
