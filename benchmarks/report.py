"""Pure helpers of the benchmark: spreads and ratios over repeats, number formatting, Markdown
tables, and the paragraphs built from the results the lectures record. No timing, no torch."""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

NOT_RECORDED = "not recorded by the lecture"

# The batching comparison is settled; its code is gone, its conclusion is quoted once here.
BATCHING_CONCLUSION = (
    "**Batching** (not re-measured): measured on 2026-11-22 by the previous benchmark (commit "
    "cc6ddf4; full MNIST, the unit-04 VAE with z_dim 2, batch 128, torch on 1 thread), the "
    "course's in-memory batching (`minibatches` + `binarize`) trained an epoch 1.38× (1.31–1.48) "
    "faster than torchvision's `MNIST` with a per-sample `ToTensor()` and a `DataLoader`, and "
    "produced the batches alone 6.2× faster; but even the DataLoader's whole training step was "
    "only 1.52× the compute floor: an epoch is mostly the model's compute, so no way of feeding "
    "batches could make it much faster with this model.")


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


def plural(n: int, word: str) -> str:
    """'1 epoch', '25 epochs'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


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


# --- results the lectures record (utils.runtime.record, read back after they ran) ------------

def read_lecture_results(folder: Path | None, name: str) -> dict | None:
    """The JSON lecture ``name`` wrote to ``folder`` through ``utils.runtime.record``, or None if
    there is none (the lecture was not executed, stopped before recording, or records nothing)."""
    if folder is None:
        return None
    path = Path(folder) / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def from_lecture(label: str, results: dict | None, describe: Callable[[dict], str]) -> str:
    """``describe(results)``, or a line saying the lecture recorded nothing or something else
    than expected (a missing key is reported, never raised: the rest of the report stands)."""
    if results is None:
        return f"{label}: {NOT_RECORDED}."
    try:
        return describe(results)
    except (KeyError, TypeError, ValueError) as err:
        return f"{label}: recorded by the lecture, but not in the expected form ({err!r})."


def quality_table(r: dict) -> str:
    """Lecture 04's test −ELBO and IWAE −log p(x) per latent size, with its settings."""
    rows = [[f"VAE, z_dim = {m['z_dim']}", f"{m['test_negative_elbo']:.2f}",
             f"{m['test_negative_log_px']:.2f}", f"{m['gap']:.2f}"] for m in r["models"]]
    return (markdown_table(["model (lecture 04)", "test −ELBO", f"test −log p(x), IWAE K = {r['k']}",
                            "gap"], rows, "lrrr")
            + f"\n\nRecorded by lecture 04 in this run: {plural(r['epochs'], 'epoch')}, batch "
              f"{r['batch_size']}, one-cycle Adam peaking at {r['max_lr']:g}. −log p(x) is the "
              f"importance-weighted estimate (`iwae_log_px`, K = {r['k']} samples per image), a "
              f"bound on −log p(x) in expectation that is tighter than the −ELBO.")


def pyro_quality(r: dict) -> str:
    """Lecture 05's Pyro-trained VAE against the hand-written one, with standard errors."""
    return (f"**Lecture 05** ({plural(r['epochs'], 'epoch')}, same model and loop): test −ELBO "
            f"{r['test_negative_elbo_pyro']:.2f} ± {r['standard_error_pyro']:.2f} trained with "
            f"Pyro's SVI, {r['test_negative_elbo_hand']:.2f} ± {r['standard_error_hand']:.2f} "
            f"hand-written (± the standard error of each estimate, as the lecture computes it).")


def variance_ratios(r: dict) -> str:
    """Lecture 03's Var_REINFORCE / Var_pathwise per encoder parameter."""
    return (f"**REINFORCE vs pathwise** (lecture 03, z_dim {r['z_dim']}, "
            f"{plural(r['draws'], 'gradient draw')} per estimator): Var_REINFORCE / Var_pathwise "
            f"per encoder parameter, over the {r['counted_parameters']:,} of "
            f"{r['total_parameters']:,} parameters with a nonzero pathwise variance: REINFORCE "
            f"median **{r['reinforce_median']:,.0f}×** (10%–90% of parameters: "
            f"{r['reinforce_p10']:,.0f}×–{r['reinforce_p90']:,.0f}×); with a baseline median "
            f"**{r['baseline_median']:,.0f}×** ({r['baseline_p10']:,.0f}×–{r['baseline_p90']:,.0f}×).")


def tradeoffs(r: dict) -> str:
    """Lecture 06's β sweep (rate, distortion, active units), warm-up and IWAE-training gain."""
    rows = [[f"{b['beta']:g}", f"{b['distortion']:.2f}", f"{b['rate']:.2f}",
             f"{b['negative_elbo']:.2f}", str(b["active_units"])] for b in r["beta"]]
    w, iwae = r["warmup"], r["iwae"]
    gains = iwae["gain_per_seed"]
    mean = sum(gains) / len(gains)
    sd = (sum((g - mean) ** 2 for g in gains) / max(len(gains) - 1, 1)) ** 0.5
    return (markdown_table(["β (lecture 06)", "distortion D", "rate R", "test −ELBO", "active units"],
                           rows, "lrrrr")
            + f"\n\nRecorded by lecture 06 in this run: z_dim {r['z_dim']}, "
              f"{plural(r['epochs'], 'epoch')} per model. KL warm-up: test −ELBO "
              f"{w['negative_elbo']:.2f} with {w['active_units']} active units, against "
              f"{w['negative_elbo_no_warmup']:.2f} with {w['active_units_no_warmup']} without. "
              f"Training on the importance-weighted bound with K = {iwae['k_train']} instead of 1 "
              f"lowered −log p(x) (IWAE, K = {iwae['k_eval']}, {iwae['n_eval']:,} test images) by "
              f"**{mean:.2f} ± {sd:.2f} nats** (mean ± sd over seeds "
              f"{', '.join(str(s) for s in iwae['seeds'])}).")


def _mean_sd(value) -> str:
    """A recorded figure: a number, or {"mean": m, "sd": s, "seeds": [...]} as "m ± s"."""
    if isinstance(value, dict):
        return f"{value['mean']:.2f} ± {value['sd']:.2f}"
    return f"{value:.2f}"


def discrete_latents(r: dict) -> str:
    """Lecture 07: EM against scikit-learn, SVI with enumeration, the encoder-gradient estimators
    (bias, variance, time per step, −ELBO after equal wall time) and the clusters against labels."""
    gap = abs(r["em_log_likelihood"] - r["sklearn_score"])
    relaxed = ("Gumbel-softmax", "straight-through")
    rows = [[e["estimator"], f"{'τ' if e['estimator'] in relaxed else 'S'} = {e['setting']:g}",
             f"{e['bias']:.3f}" if e.get("bias_resolved", True)
             else f"within the noise (±{e['noise']:.3f})", f"{e['variance']:.2e}"] for e in r["estimators"]]
    times = [[name, f"{1000 * s:.1f}", _mean_sd(r["final_negative_elbo"][name])
              if name in r["final_negative_elbo"] else "–"] for name, s in r["seconds_per_step"].items()]
    clusters = ", ".join(f"{name} NMI {r['nmi'][name]:.3f}, purity {r['purity'][name]:.3f}"
                         for name in r["nmi"])
    return (f"**Lecture 07** (K = {r['k']}): EM on {r['n_gmm']:,} training images in a "
            f"{r['pca_dim']}-D PCA space, {r['em_iterations']} iterations: mean log-likelihood "
            f"{r['em_log_likelihood']:.6f} nats per image, scikit-learn's `GaussianMixture` from the "
            f"same start {r['sklearn_score']:.6f} (difference {gap:.1e}); Pyro's SVI with the "
            f"component enumerated, {r['svi_steps']} steps: {r['svi_log_likelihood']:.4f}. "
            f"Clusters against the digit labels: {clusters}.\n\n"
            + markdown_table(["encoder-gradient estimator (lecture 07)", "setting",
                              "relative bias", "variance per parameter"], rows, "llrr")
            + f"\n\nBias and variance from {r['repeats']} draws per estimator on one minibatch, "
              f"against the exact gradient (enumeration), relative to its norm; a bias is given where "
              f"it stands above the noise of the draws.\n\n"
            + markdown_table(["estimator", f"ms per step ({r['device']}, {r['threads']} thread(s))",
                              f"validation −ELBO after {r['train_seconds']:g} s"], times, "lrr")
            + f"\n\nEvery estimator trained for the same {r['train_seconds']:g} s (steps × its "
              f"measured time per step) from the same warm start ({r['warm_start_steps']:,} steps of "
              f"exact enumeration, validation −ELBO {r['warm_start_negative_elbo']:.2f}); mean ± sd "
              f"over seeds {', '.join(str(s) for s in r['seeds'])}.")


QUALITY = (("04_vae_pytorch", "**Lecture 04**", quality_table),
           ("05_vae_pyro", "**Lecture 05**", pyro_quality),
           ("03_gradient_estimators", "**Lecture 03**", variance_ratios),
           ("06_elbo_tradeoffs", "**Lecture 06**", tradeoffs),
           ("07_discrete_latents", "**Lecture 07**", discrete_latents))


def quality_section(results: dict[str, dict | None], only: Sequence[str] | None = None) -> str:
    """The quality paragraphs from the lectures' records (keys: lecture names); with ``only``
    (lecture numbers, "07"), those lectures' paragraphs alone."""
    parts = [
        "**Quality**, nats per image (lower is better), as the lectures themselves measured it in "
        "this run (each writes its numbers with `utils.runtime.record`)."]
    parts += [from_lecture(label, results.get(name), describe) for name, label, describe in QUALITY
              if not only or name.startswith(tuple(only))]
    return "\n\n".join(parts)
