"""Progress bars for the course's loops, without matplotlib: ``utils.vae`` (and through it every
training run, the checks and the benchmarks) shows epochs with this, and importing it costs tqdm only.
``utils.plots`` re-exports :func:`progress`, so ``from utils.plots import progress`` keeps working.
"""
from __future__ import annotations

from tqdm.auto import tqdm


def progress(iterable=None, **kwargs):
    """A progress bar (``tqdm.auto``: a widget in JupyterLab, text elsewhere, e.g. in a script).

    A saved notebook keeps the widget's first state as text ("0%"); ``make execute`` and the
    benchmark save it at its final state (``tools.progress_outputs``) for viewers without a kernel.
    """
    return tqdm(iterable, **kwargs)
