"""utils.runtime: smoke mode, device choice, seeding, threads."""
import numpy as np
import pytest
import torch

from utils import runtime


def test_smoke_mode_follows_the_ci_variable(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert runtime.is_smoke_test()
    monkeypatch.delenv("CI")
    assert not runtime.is_smoke_test()


@pytest.mark.parametrize("value", ["", "0", "false", "False", "no", "off", " OFF "])
def test_a_setting_set_to_an_off_value_is_off(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert not runtime.is_smoke_test()


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "anything"])
def test_a_setting_set_to_any_other_value_is_on(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert runtime.is_smoke_test()


def test_record_writes_json_only_when_the_results_folder_is_set(monkeypatch, tmp_path):
    monkeypatch.delenv(runtime.RESULTS_ENV, raising=False)
    runtime.record("unit", value=1.5)
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(runtime.RESULTS_ENV, str(tmp_path))
    runtime.record("unit", value=1.5, label="x")
    import json
    assert json.loads((tmp_path / "unit.json").read_text(encoding="utf-8")) == {"value": 1.5, "label": "x"}


def _accelerators(monkeypatch, cuda: bool, mps: bool):
    monkeypatch.delenv("LVM_SIMULATED_ACCELERATOR", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize("setting, cuda, mps, expected", [
    ("", False, False, "cpu"),          # auto, no accelerator
    ("", True, True, "cuda"),           # auto prefers CUDA
    ("", False, True, "cpu"),           # auto never picks mps: the course is not verified there
    ("auto", True, False, "cuda"),
    ("cpu", True, True, "cpu"),         # asked for: taken
    (" CUDA ", True, False, "cuda"),    # case and spaces do not matter
    ("mps", False, True, "mps"),        # mps on request
])
def test_lvm_device_picks_the_device(monkeypatch, setting, cuda, mps, expected):
    _accelerators(monkeypatch, cuda, mps)
    monkeypatch.setenv("LVM_DEVICE", setting)
    assert runtime.get_device() == torch.device(expected)


def test_auto_says_why_it_left_mps_out(monkeypatch):
    _accelerators(monkeypatch, cuda=False, mps=True)
    monkeypatch.delenv("LVM_DEVICE", raising=False)
    device, why = runtime.choose_device()
    assert device == torch.device("cpu") and "LVM_DEVICE=mps" in why


@pytest.mark.parametrize("setting, message", [
    ("gpu", "is not a device the course knows: set it to one of auto, cpu, cuda, mps"),
    ("cuda", "asks for cuda, which this torch cannot use here"),
    ("mps", "asks for mps, which this torch cannot use here"),
])
def test_a_wrong_or_unavailable_device_is_refused_in_one_sentence(monkeypatch, setting, message):
    _accelerators(monkeypatch, cuda=False, mps=False)
    monkeypatch.setenv("LVM_DEVICE", setting)
    with pytest.raises(ValueError, match=message) as error:
        runtime.get_device()
    assert "\n" not in str(error.value) and "unset it" in str(error.value)


def test_setup_prints_the_device_and_the_reason(monkeypatch, capsys):
    _accelerators(monkeypatch, cuda=False, mps=False)
    monkeypatch.setenv("LVM_DEVICE", "cpu")
    runtime.setup(seed=0, threads=1)
    assert "| device: cpu (LVM_DEVICE=cpu) |" in capsys.readouterr().out


def test_same_seed_gives_same_torch_numpy_and_pyro_draws():
    import pyro

    draws = []
    for _ in range(2):
        runtime.set_seed(7)
        draws.append((torch.rand(3), np.random.rand(3), pyro.sample("u", pyro.distributions.Uniform(0, 1))))
    assert torch.equal(draws[0][0], draws[1][0])
    assert np.array_equal(draws[0][1], draws[1][1])
    assert torch.equal(draws[0][2], draws[1][2])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed"):
        runtime.set_seed(seed)


def test_a_numpy_integer_seed_is_accepted():
    runtime.set_seed(np.int64(3))


def test_the_thread_probe_times_every_candidate_and_restores_the_setting():
    before = torch.get_num_threads()
    timings = runtime.probe_threads([1, 2], steps=1, rounds=2)
    assert set(timings) == {1, 2} and all(t > 0 for t in timings.values())
    assert torch.get_num_threads() == before


def test_threads_default_to_the_fastest_probed_count_and_follow_the_environment(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
        monkeypatch.setattr(runtime, "available_cores", lambda: 4)
        monkeypatch.setattr(runtime, "probe_threads", lambda: {1: 9.0, 2: 5.0, 4: 7.0})
        assert runtime.set_threads() == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv(runtime.THREADS_ENV, "2")
        assert runtime.set_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("value", ["zero", "0"])
def test_bad_thread_setting_is_rejected(monkeypatch, value):
    monkeypatch.setenv(runtime.THREADS_ENV, value)
    with pytest.raises(ValueError, match="thread|LVM_NUM_THREADS"):
        runtime.set_threads()


@pytest.mark.parametrize("value", ["2", True, 1.0])
def test_a_thread_count_that_is_not_an_int_is_rejected(value):
    with pytest.raises(TypeError, match="int"):
        runtime.set_threads(value)


def test_a_numpy_integer_thread_count_is_accepted():
    before = torch.get_num_threads()
    try:
        assert runtime.set_threads(np.int64(1)) == 1
    finally:
        torch.set_num_threads(before)


def test_more_threads_than_cores_are_refused(monkeypatch):
    monkeypatch.setattr(runtime, "available_cores", lambda: 2)
    with pytest.raises(ValueError, match=r"threads=3 asks for more threads than the 2 core\(s\)"):
        runtime.set_threads(3)


def test_a_thread_setting_above_the_cores_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setattr(runtime, "available_cores", lambda: 2)
    monkeypatch.setenv(runtime.THREADS_ENV, "8")
    with pytest.raises(ValueError, match=r"LVM_NUM_THREADS=8 .*at most 2"):
        runtime.set_threads()


@pytest.mark.parametrize("name", ["../x", "sub/x", "", None])
def test_record_refuses_a_name_that_is_not_a_plain_file_name(monkeypatch, tmp_path, name):
    monkeypatch.setenv(runtime.RESULTS_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="plain name"):
        runtime.record(name, value=1)


def test_record_names_a_value_json_cannot_store_even_when_not_writing(monkeypatch):
    monkeypatch.delenv(runtime.RESULTS_ENV, raising=False)
    with pytest.raises(TypeError, match=r"record cannot store loss=a tensor.*tensor.item\(\)"):
        runtime.record("unit", epochs=2, loss=torch.ones(2))


def test_setup_prints_one_line_stating_the_mode(monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("LVM_SIMULATED_ACCELERATOR", raising=False)   # no mode in this process
    before = torch.get_num_threads()
    try:
        device, smoke = runtime.setup(seed=0)
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("smoke mode: off")
    assert smoke is False and isinstance(device, torch.device)
