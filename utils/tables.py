"""One small helper for the tables lectures print: HTML in Jupyter, aligned text in a terminal."""
from __future__ import annotations

import html
import math
import numbers
from typing import Any, Sequence

from . import _validate as check


def _fmt(value, digits: int) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.{digits}f}"
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:   # a 0-d tensor or array
        return _fmt(value.item(), digits)
    return str(value)


def _as_list(values: Any, name: str, example: str) -> list:
    """``values`` (a list, tuple or other iterable, but not a string) as a list."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise check.ArgumentTypeError(f"{name} must be a list, e.g. {example}, got "
                                      f"{check.describe(values)}")
    return list(values)


class Table:
    """Rows under named columns; numbers right-aligned with ``digits`` decimals (ints exact)."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence], digits: int = 2,
                 title: str | None = None):
        columns = [str(c) for c in _as_list(columns, "columns", "['model', 'nats']")]
        if not columns:
            raise ValueError("columns is empty: give one name per column, e.g. ['model', 'nats']")
        rows = [_as_list(r, f"row {i}", "['2-D', 138.78]")
                for i, r in enumerate(_as_list(rows, "rows", "[['2-D', 138.78]]"))]
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(f"row {i} has {len(row)} values for {len(columns)} columns: give "
                                 "one value per column (None for an empty cell)")
        digits = check.count(digits, "digits", minimum=0, maximum=20)
        if title is not None and not isinstance(title, str):
            raise check.ArgumentTypeError(f"title must be a str or None, got {check.describe(title)}")
        self.columns, self.title = columns, title
        self.cells = [[_fmt(v, digits) for v in row] for row in rows]
        self.numeric = [all(isinstance(r[j], numbers.Number) or hasattr(r[j], "item")
                            for r in rows) and bool(rows) for j in range(len(columns))]

    def __str__(self) -> str:
        widths = [max([len(c)] + [len(r[j]) for r in self.cells]) for j, c in enumerate(self.columns)]

        def line(values):
            return "  ".join(v.rjust(w) if num else v.ljust(w)
                             for v, w, num in zip(values, widths, self.numeric)).rstrip()
        out = [line(self.columns), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in self.cells]
        return "\n".join(([self.title] if self.title else []) + out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        def cell(tag, v, num):
            style = ' style="text-align:right"' if num else ' style="text-align:left"'
            return f"<{tag}{style}>{html.escape(v)}</{tag}>"
        head = "".join(cell("th", c, n) for c, n in zip(self.columns, self.numeric))
        body = "".join("<tr>" + "".join(cell("td", v, n) for v, n in zip(r, self.numeric)) + "</tr>"
                       for r in self.cells)
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table(columns: Sequence[str], rows: Sequence[Sequence], digits: int = 2,
          title: str | None = None) -> Table:
    """``table(["model", "test −ELBO"], [["2-D", 138.78]])``: shown as HTML in Jupyter, as text
    when printed; the last expression of a cell displays it."""
    return Table(columns, rows, digits=digits, title=title)
