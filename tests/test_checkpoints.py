"""utils.checkpoints: a full-mode run saves what it trains, class mode loads it and never trains,
and refuses, in one sentence naming the file or the key and saying what to do, a missing entry, a
changed configuration, a tampered or corrupt file and a file that is not tensors and plain values.
Tiny models in temporary folders: nothing here touches checkpoints/ or needs MNIST."""
import hashlib
import json

import pytest
import torch
from torch import nn

from utils import checkpoints, runtime
from utils.checkpoints import CheckpointError, trained

NAME = "99_topic/net"
CONFIG = {"epochs": 3, "seed": 0, "data": "tiny", "sizes": (3, 2)}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """Full mode (the suite sets CI), no class mode or saving, checkpoints in a temporary folder."""
    for var in ("CI", runtime.CLASS_MODE_ENV, runtime.SAVE_CHECKPOINTS_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(runtime.CHECKPOINT_DIR_ENV, str(tmp_path))
    return tmp_path


def fake_training(model, calls=None):
    """A train() that changes the weights, draws random numbers and returns a history."""
    def train():
        if calls is not None:
            calls.append(1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        return {"train": [3.0, 2.0, 1.5], "validation": [3.5, 2.5, 2.0]}
    return train


def saved(folder, monkeypatch, model=None, name=NAME, config=CONFIG):
    """Train and save one model in full mode with saving on; returns (model, history, rng after)."""
    monkeypatch.setenv(runtime.SAVE_CHECKPOINTS_ENV, "1")
    torch.manual_seed(0)
    model = model or nn.Linear(3, 2)
    history = trained(name, config=config, model=model, train=fake_training(model))
    rng_after = torch.get_rng_state()
    monkeypatch.delenv(runtime.SAVE_CHECKPOINTS_ENV)
    return model, history, rng_after


def class_mode(monkeypatch):
    monkeypatch.setenv(runtime.CLASS_MODE_ENV, "1")


def never_called():
    pytest.fail("class mode trained a model instead of loading it")


def one_sentence(message):
    assert "\n" not in message and ". " not in message, f"more than one sentence: {message}"
    return message


# --- the round trip -----------------------------------------------------------------------------

def test_default_mode_trains_and_saves_nothing(folder):
    model, calls = nn.Linear(3, 2), []
    history = trained(NAME, config=CONFIG, model=model, train=fake_training(model, calls))
    assert calls == [1] and history["train"] == [3.0, 2.0, 1.5]
    assert not list(folder.iterdir())


def test_a_saved_model_is_loaded_in_class_mode_without_training(folder, monkeypatch, capsys):
    model, history, rng_after = saved(folder, monkeypatch)
    manifest = json.loads((folder / "99_topic" / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["net"]
    data = (folder / "99_topic" / "net.pt").read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    assert entry["config"] == {"epochs": 3, "seed": 0, "data": "tiny", "sizes": [3, 2]}
    assert entry["torch"] == torch.__version__.split("+")[0] and entry["dtype"] == "float16"
    assert entry["parameters"] == 8

    class_mode(monkeypatch)
    capsys.readouterr()
    torch.manual_seed(123)                                  # another random state than training's
    fresh = nn.Linear(3, 2)
    loaded = trained(NAME, config=CONFIG, model=fresh, train=never_called)
    assert loaded == history
    for p, q in zip(fresh.parameters(), model.parameters()):     # float16 copies of the weights
        torch.testing.assert_close(p, q.half().float(), atol=0, rtol=0)
        torch.testing.assert_close(p, q, atol=0, rtol=1e-3)
    assert torch.equal(torch.get_rng_state(), rng_after)    # random numbers as after training
    line = capsys.readouterr().out.strip()
    assert line.startswith("class mode: loaded net (3 epochs, trained ") and "float16" in line
    assert line.endswith("99_topic/net.pt") and "\n" not in line


def test_class_mode_calls_the_callback_once_with_the_last_epoch(folder, monkeypatch):
    saved(folder, monkeypatch)
    class_mode(monkeypatch)
    calls = []
    trained(NAME, config=CONFIG, model=nn.Linear(3, 2), train=never_called,
            callback=lambda epoch, history: calls.append((epoch, history["validation"][-1])))
    assert calls == [(2, 2.0)]


def test_a_result_without_a_model_round_trips(folder, monkeypatch, capsys):
    monkeypatch.setenv(runtime.SAVE_CHECKPOINTS_ENV, "1")
    result = (101.5, torch.arange(4.0))
    assert trained("99_topic/scores", config={"k": 5}, train=lambda: result) is result
    monkeypatch.delenv(runtime.SAVE_CHECKPOINTS_ENV)
    class_mode(monkeypatch)
    value, tensor = trained("99_topic/scores", config={"k": 5}, train=never_called)
    assert value == 101.5 and torch.equal(tensor, torch.arange(4.0))
    assert "class mode: loaded the result of scores" in capsys.readouterr().out


def test_smoke_mode_saves_nothing_and_says_so(folder, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv(runtime.SAVE_CHECKPOINTS_ENV, "1")
    monkeypatch.setattr(checkpoints, "_notes", set())
    model = nn.Linear(3, 2)
    trained(NAME, config=CONFIG, model=model, train=fake_training(model))
    assert not list(folder.iterdir()) and "smoke mode saves no checkpoints" in capsys.readouterr().out


def test_a_pyro_model_loaded_gives_the_outputs_of_the_trained_one(folder, monkeypatch):
    """The loaded PyroVAE: the same encoder and decoder outputs, the same ELBO with the same noise,
    and a param store that holds its own parameters, as train_svi leaves it (weights in float32
    here, so that "the same" is exact; the float16 copies differ by their rounding only)."""
    pyro = pytest.importorskip("pyro")
    from pyro.infer import Trace_ELBO

    from utils.pyro_vae import PyroVAE, train_svi
    from utils.vae import Decoder, Encoder

    monkeypatch.setattr(checkpoints, "STORE_DTYPE", torch.float32)
    torch.manual_seed(0)
    x = torch.rand(64, 784)
    make = lambda: PyroVAE(Encoder(2, 16), Decoder(2, 16), 2)
    trained_vae = make()
    monkeypatch.setenv(runtime.SAVE_CHECKPOINTS_ENV, "1")
    trained("99_topic/pyro", config={"epochs": 1}, model=trained_vae,
            train=lambda: train_svi(trained_vae, x, epochs=1, batch_size=32, desc=None))
    monkeypatch.delenv(runtime.SAVE_CHECKPOINTS_ENV)
    x_bin = (x > 0.5).float()
    pyro.set_rng_seed(1)
    loss_trained = Trace_ELBO().loss(trained_vae.model, trained_vae.guide, x_bin)

    class_mode(monkeypatch)
    pyro.clear_param_store()
    torch.manual_seed(5)
    loaded = make()
    trained("99_topic/pyro", config={"epochs": 1}, model=loaded, train=never_called)
    store = pyro.get_param_store()
    assert all(store[f"{part}$$${n}"] is p for part in ("encoder", "decoder")
               for n, p in getattr(loaded, part).named_parameters())
    with torch.no_grad():
        for a, b in zip(loaded.encoder(x_bin), trained_vae.encoder(x_bin)):
            assert torch.equal(a, b)
        assert torch.equal(loaded.decoder(torch.ones(3, 2)), trained_vae.decoder(torch.ones(3, 2)))
    pyro.set_rng_seed(1)
    assert Trace_ELBO().loss(loaded.model, loaded.guide, x_bin) == loss_trained


def test_lighter_shortens_only_in_class_mode_and_says_so(folder, monkeypatch, capsys):
    assert checkpoints.lighter(10_000, 1_000, "test images") == 10_000
    assert capsys.readouterr().out == ""
    class_mode(monkeypatch)
    assert checkpoints.lighter(10_000, 1_000, "test images") == 1_000
    assert capsys.readouterr().out == "class mode: test images: 1,000 instead of the full run's 10,000\n"


# --- the refusals -------------------------------------------------------------------------------

def test_a_tampered_file_is_refused_in_one_sentence(folder, monkeypatch):
    saved(folder, monkeypatch)
    path = folder / "99_topic" / "net.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01                            # one byte changed
    path.write_bytes(bytes(data))
    class_mode(monkeypatch)
    with pytest.raises(CheckpointError) as err:
        trained(NAME, config=CONFIG, model=nn.Linear(3, 2), train=never_called)
    message = one_sentence(str(err.value))
    assert str(path) in message and "SHA-256" in message and "changed or is corrupt" in message
    assert "git checkout" in message and "LVM_SAVE_CHECKPOINTS=1" in message


def test_a_changed_configuration_is_refused_naming_the_key(folder, monkeypatch):
    saved(folder, monkeypatch)
    class_mode(monkeypatch)
    with pytest.raises(CheckpointError) as err:
        trained(NAME, config=dict(CONFIG, epochs=5), model=nn.Linear(3, 2), train=never_called)
    message = one_sentence(str(err.value))
    assert "epochs=3" in message and "epochs=5" in message and "'epochs' differs" in message
    with pytest.raises(CheckpointError, match="'extra' differs"):
        trained(NAME, config=dict(CONFIG, extra=1), model=nn.Linear(3, 2), train=never_called)


def test_a_missing_entry_or_manifest_is_refused(folder, monkeypatch):
    class_mode(monkeypatch)
    with pytest.raises(CheckpointError, match="manifest.json does not exist"):
        trained(NAME, config=CONFIG, model=nn.Linear(3, 2), train=never_called)
    monkeypatch.delenv(runtime.CLASS_MODE_ENV)
    saved(folder, monkeypatch)
    class_mode(monkeypatch)
    with pytest.raises(CheckpointError) as err:
        trained("99_topic/other", config=CONFIG, model=nn.Linear(3, 2), train=never_called)
    message = one_sentence(str(err.value))
    assert "'other'" in message and "no entry" in message and "make execute" in message
    (folder / "99_topic" / "net.pt").unlink()
    with pytest.raises(CheckpointError, match="is missing: restore it"):
        trained(NAME, config=CONFIG, model=nn.Linear(3, 2), train=never_called)


class Payload:
    """Not a tensor: unpickling it would run code (here, only a flag)."""
    ran = False

    def __reduce__(self):
        return (Payload.run, ())

    @staticmethod
    def run():
        Payload.ran = True


def test_a_file_with_arbitrary_objects_is_refused_even_with_the_right_sha256(folder, monkeypatch):
    saved(folder, monkeypatch)
    path = folder / "99_topic" / "net.pt"
    torch.save({"format": 1, "weights": Payload(), "result": None}, path)
    manifest_path = folder / "99_topic" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["net"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    class_mode(monkeypatch)
    with pytest.raises(CheckpointError) as err:
        trained(NAME, config=CONFIG, model=nn.Linear(3, 2), train=never_called)
    assert "weights_only=True refused it" in one_sentence(str(err.value)) and not Payload.ran


def test_weights_that_do_not_fit_the_model_are_refused(folder, monkeypatch):
    saved(folder, monkeypatch)
    class_mode(monkeypatch)
    with pytest.raises(CheckpointError, match="do not fit this lecture's model 'net'"):
        trained(NAME, config=CONFIG, model=nn.Linear(4, 2), train=never_called)


def test_a_corrupt_manifest_is_refused(folder, monkeypatch):
    saved(folder, monkeypatch)
    (folder / "99_topic" / "manifest.json").write_text("{not json", encoding="utf-8")
    class_mode(monkeypatch)
    with pytest.raises(CheckpointError, match="cannot be read as JSON"):
        trained(NAME, config=CONFIG, model=nn.Linear(3, 2), train=never_called)


@pytest.mark.parametrize("name", ["net", "a/b/c", "04 vae/x", "../x/y", "../x", "a/.hidden"])
def test_a_name_is_lecture_slash_model(folder, name):
    with pytest.raises(ValueError, match="'<lecture>/<model>'"):
        trained(name, config=CONFIG, train=lambda: None)


def test_a_config_must_be_json_values(folder):
    with pytest.raises(TypeError, match=r"config\['x'\]"):
        trained(NAME, config={"x": torch.zeros(2)}, train=lambda: None)


# --- the settings ---------------------------------------------------------------------------

def test_class_mode_is_off_by_default_and_on_when_set(folder, monkeypatch):
    assert not runtime.is_class_mode()
    class_mode(monkeypatch)
    assert runtime.is_class_mode()


def test_class_mode_is_refused_in_smoke_mode_and_with_saving(folder, monkeypatch):
    class_mode(monkeypatch)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ValueError) as err:
        runtime.is_class_mode()
    assert "unset CI" in one_sentence(str(err.value))
    monkeypatch.delenv("CI")
    monkeypatch.setenv(runtime.SAVE_CHECKPOINTS_ENV, "1")
    with pytest.raises(ValueError, match="nothing to save"):
        runtime.is_class_mode()


def test_the_checkpoint_folder_setting(monkeypatch, tmp_path):
    monkeypatch.delenv(runtime.CHECKPOINT_DIR_ENV, raising=False)
    assert runtime.checkpoint_dir() == runtime.REPO_ROOT / "checkpoints"
    monkeypatch.setenv(runtime.CHECKPOINT_DIR_ENV, "elsewhere")
    assert runtime.checkpoint_dir() == runtime.REPO_ROOT / "elsewhere"
    monkeypatch.setenv(runtime.CHECKPOINT_DIR_ENV, str(tmp_path))
    assert runtime.checkpoint_dir() == tmp_path


def test_setup_says_class_mode_is_on(folder, monkeypatch, capsys):
    class_mode(monkeypatch)
    monkeypatch.setenv(runtime.THREADS_ENV, "1")
    monkeypatch.delenv("LVM_SIMULATED_ACCELERATOR", raising=False)
    before = torch.get_num_threads()
    try:
        runtime.setup(seed=0)
    finally:
        torch.set_num_threads(before)
    assert "| class mode: on (LVM_CLASS_MODE" in capsys.readouterr().out


def test_summary_counts_the_megabytes(folder, monkeypatch):
    saved(folder, monkeypatch)
    text = checkpoints.summary()
    assert "99_topic: 1 checkpoint(s)" in text and "MB in all" in text


# --- the benchmark: class-mode runs, and full runs that save the checkpoints -------------------

def _benchmarks():
    import sys
    if str(runtime.REPO_ROOT) not in sys.path:      # benchmarks/ is a folder, not a package
        sys.path.insert(0, str(runtime.REPO_ROOT))
    from benchmarks import notebooks, run
    return notebooks, run


def test_kernel_env_sets_class_mode_or_saving_and_lets_neither_leak_in(monkeypatch, tmp_path):
    notebooks, _ = _benchmarks()
    for var in (runtime.CLASS_MODE_ENV, runtime.SAVE_CHECKPOINTS_ENV, runtime.CHECKPOINT_DIR_ENV):
        monkeypatch.setenv(var, "stale")
    plain = notebooks.kernel_env(tmp_path, smoke=False, data_dir=tmp_path)
    assert not {runtime.CLASS_MODE_ENV, runtime.SAVE_CHECKPOINTS_ENV, runtime.CHECKPOINT_DIR_ENV} & set(plain)
    assert notebooks.kernel_env(tmp_path, False, tmp_path, class_mode=True)[runtime.CLASS_MODE_ENV] == "1"
    saving = notebooks.kernel_env(tmp_path, False, tmp_path, save_checkpoints=True)
    assert saving[runtime.SAVE_CHECKPOINTS_ENV] == "1" and runtime.CLASS_MODE_ENV not in saving


def test_class_mode_lectures_are_never_smoke_or_saved(tmp_path):
    notebooks, _ = _benchmarks()
    for kwargs in (dict(smoke=True), dict(smoke=False, save=True)):
        with pytest.raises(ValueError, match="class mode"):
            notebooks.run_lectures(data_dir=tmp_path, class_mode=True, **kwargs)


def test_save_outputs_replaces_the_lectures_checkpoints(tmp_path, monkeypatch):
    notebooks, _ = _benchmarks()
    copy, tree = tmp_path / "copy", tmp_path / "tree"
    for root in (copy, tree):
        (root / "lectures").mkdir(parents=True)
        (root / "images").mkdir()
    (copy / "lectures" / "06_topic.ipynb").write_text("executed", encoding="utf-8")
    (copy / "checkpoints" / "06_topic").mkdir(parents=True)
    (copy / "checkpoints" / "06_topic" / "manifest.json").write_text("{}", encoding="utf-8")
    (copy / "checkpoints" / "06_topic" / "new.pt").write_bytes(b"new")
    (tree / "checkpoints" / "06_topic").mkdir(parents=True)
    (tree / "checkpoints" / "06_topic" / "stale.pt").write_bytes(b"renamed since")
    (tree / "checkpoints" / "05_other").mkdir()
    monkeypatch.setattr(notebooks, "REPO_ROOT", tree)
    lines = []
    notebooks.save_outputs(copy / "lectures" / "06_topic.ipynb", copy, log=lines.append)
    assert sorted(p.name for p in (tree / "checkpoints" / "06_topic").iterdir()) == ["manifest.json", "new.pt"]
    assert (tree / "checkpoints" / "05_other").exists() and "1 checkpoint(s)" in lines[0]


def test_the_class_mode_section_judges_every_lecture_against_two_minutes():
    notebooks, run = _benchmarks()
    runs = [notebooks.NotebookRun("02_autoencoders", 61.0, 2**30, load=1.5),
            notebooks.NotebookRun("04_vae_pytorch", 130.0, 2**30, load=2.0),
            notebooks.NotebookRun("05_vae_pyro", 20.0, 2**30, error="CheckpointError: ...")]
    text, targets = run.section_class(runs)
    assert "| `lectures/02_autoencoders.ipynb` | 1 min 01 s | 1,024 MiB | 1.5 | met |" in text
    assert "| 2 min 10 s |" in text and "| missed |" in text and "error: CheckpointError" in text
    assert targets[0][2].startswith("missed (slowest: 04_vae_pytorch, 2 min 10 s); 1 lecture(s) failed")


def test_class_mode_is_its_own_benchmark_run():
    _, run = _benchmarks()
    for argv in (["--quick", "--class-mode"], ["--class-mode", "--save-outputs"]):
        with pytest.raises(SystemExit):
            run.main(argv)


def test_compare_saves_this_trees_run_with_its_checkpoints(monkeypatch, tmp_path):
    notebooks, _ = _benchmarks()
    from benchmarks import compare
    calls = []
    monkeypatch.setattr(notebooks, "execute_notebook", lambda path, env, save_to=None: calls.append(
        (path, env.get(runtime.SAVE_CHECKPOINTS_ENV), save_to)) or notebooks.NotebookRun(path.stem, 1.0, 0))
    compare.execute_one(tmp_path, "02_topic", threads=1, save=True)
    compare.execute_one(tmp_path, "02_topic", threads=1)
    path = tmp_path / "lectures" / "02_topic.ipynb"
    assert calls == [(path, "1", path), (path, None, None)]
