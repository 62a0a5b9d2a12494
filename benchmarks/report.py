"""Pure helpers of the benchmark: spreads and ratios over repeats, number formatting, Markdown
tables and the README block between the BENCHMARK markers. No timing, no torch."""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

START_MARKER = "<!-- BENCHMARK:START -->"
END_MARKER = "<!-- BENCHMARK:END -->"


@dataclass(frozen=True)
class Spread:
    """Minimum, median and maximum of a set of repeated measurements."""

    min: float
    median: float
    max: float
    n: int

    def fmt(self, digits: int = 2, unit: str = "") -> str:
        """'median (min–max)unit', e.g. '2.31× (2.10–2.52)' with unit='×'."""
        return (f"{self.median:.{digits}f}{unit} "
                f"({self.min:.{digits}f}–{self.max:.{digits}f})")


def spread(values: Iterable[float]) -> Spread:
    """The min/median/max of ``values`` (at least one finite number)."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("spread needs at least one value")
    if any(v != v for v in vals):
        raise ValueError(f"spread got NaN among {vals}")
    return Spread(min(vals), statistics.median(vals), max(vals), len(vals))


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-repeat ratios a_i / b_i of measurements taken side by side (same repeat i)."""
    if len(numerators) != len(denominators):
        raise ValueError(f"paired ratios need as many numerators as denominators, "
                         f"got {len(numerators)} and {len(denominators)}")
    if not numerators:
        raise ValueError("paired ratios need at least one pair")
    if any(b <= 0 for b in denominators):
        raise ValueError(f"denominators must be positive, got {list(denominators)}")
    return [a / b for a, b in zip(numerators, denominators)]


def ratio_spread(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """min/median/max over repeats of the paired ratio a_i / b_i."""
    return spread(paired_ratios(numerators, denominators))


def target_verdict(value: float, target: float, at_least: bool) -> str:
    """'met (2.6× ≥ 2×)' or 'missed by 12% (1.76× < 2×)'; ``at_least`` says which side passes."""
    ok = value >= target if at_least else value <= target
    sign = "≥" if at_least else "≤"
    if ok:
        return f"met ({value:.2f}× {sign} {target:g}×)"
    short = (target - value) / target if at_least else (value - target) / target
    other = "<" if at_least else ">"
    return f"missed by {100 * short:.0f}% ({value:.2f}× {other} {target:g}×)"


def fmt_seconds(s: float | None) -> str:
    """Seconds as '850 ms', '12.3 s', '4 min 05 s'; None as '–'."""
    if s is None:
        return "–"
    if s < 1:
        return f"{1000 * s:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    return f"{m} min {sec:02d} s"


def fmt_mib(nbytes: float | None) -> str:
    """Bytes as '1,234 MiB'; None as '–'."""
    if nbytes is None:
        return "–"
    return f"{nbytes / 2**20:,.0f} MiB"


def _cell(value) -> str:
    """A table cell: text with pipes escaped and newlines flattened."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` is one letter per column: l, r or c (default l)."""
    if not headers:
        raise ValueError("a table needs at least one column")
    align = align or "l" * len(headers)
    if len(align) != len(headers):
        raise ValueError(f"align has {len(align)} letters for {len(headers)} columns")
    rule = {"l": "---", "r": "---:", "c": ":---:"}
    if set(align) - set(rule):
        raise ValueError(f"align letters must be l, r or c, got {align!r}")
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join(rule[a] for a in align) + "|"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)} has {len(row)} cells for {len(headers)} columns")
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def replace_between_markers(text: str, block: str, start: str = START_MARKER,
                            end: str = END_MARKER) -> str:
    """``text`` with everything strictly between the two markers replaced by ``block``.

    The markers stay; nothing outside them changes. Each marker must occur exactly once,
    start before end.
    """
    for marker in (start, end):
        count = text.count(marker)
        if count != 1:
            raise ValueError(f"expected the marker {marker!r} exactly once, found it {count} times")
    i, j = text.index(start) + len(start), text.index(end)
    if j < i:
        raise ValueError(f"{end!r} comes before {start!r}")
    return text[:i] + "\n" + block.strip("\n") + "\n" + text[j:]


# --- numbers printed by the lectures (read back from the notebooks executed in the same run) ---

QUALITY_ROW = re.compile(r"^\|\s*(\d+)-D\s*\|\s*(-?[\d.]+)\s*\|\s*(-?[\d.]+)\s*\|\s*(-?[\d.]+)\s*\|"
                         r"\s*(\d+)\s*\|\s*([\d.]+)\s*s\s*\|", re.M)
QUALITY_K = re.compile(r"IWAE K\s*=\s*(\d+)")
VARIANCE_ROW = re.compile(r"^(REINFORCE(?: \+ baseline)?)\s+variance / pathwise variance per "
                          r"parameter: median\s+([\d.]+)\s+\(10% ([\d.]+), 90% ([\d.]+)\)", re.M)


def parse_quality_table(text: str) -> list[dict]:
    """Lecture 04's printed Markdown rows '| 2-D | −ELBO | −log p(x) | gap | epochs | 123 s |'
    with the K of its header: one dict per latent size (the last row printed for each)."""
    k = QUALITY_K.search(text)
    rows = {}
    for m in QUALITY_ROW.finditer(text):
        rows[int(m.group(1))] = dict(z_dim=int(m.group(1)), neg_elbo=float(m.group(2)),
                                     neg_log_px=float(m.group(3)), epochs=int(m.group(5)),
                                     seconds=float(m.group(6)), k=int(k.group(1)) if k else None)
    return [rows[z] for z in sorted(rows)]


def parse_variance_ratios(text: str) -> dict[str, float]:
    """Lecture 03's printed median variance ratios: {'REINFORCE': 16858.0, ...}."""
    return {m.group(1): float(m.group(2)) for m in VARIANCE_ROW.finditer(text)}
