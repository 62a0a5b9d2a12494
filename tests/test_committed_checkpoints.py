"""The committed checkpoints (class mode, docs/instructors.md) are what their manifests say, and
small: every file's SHA-256 and size match its entry, no file lacks an entry, every lecture that
trains through `utils.checkpoints.trained` has its folder, and the whole set stays under 20 MB."""
import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "checkpoints"
MAX_BYTES = 20 * 1024**2
TRAINING = sorted(p.stem for p in (ROOT / "lectures").glob("[0-9]*.py")
                  if "trained(" in p.read_text(encoding="utf-8"))
MANIFESTS = sorted(FOLDER.glob("*/manifest.json"))
ENTRIES = [(m.parent.name, key, entry) for m in MANIFESTS
           for key, entry in json.loads(m.read_text(encoding="utf-8")).items()]


def test_every_lecture_that_trains_has_committed_checkpoints():
    assert TRAINING, "no lecture calls trained(): has the class-mode wiring moved?"
    assert [m.parent.name for m in MANIFESTS] == TRAINING


@pytest.mark.parametrize("lecture, key, entry", ENTRIES, ids=[f"{l}/{k}" for l, k, _ in ENTRIES])
def test_a_checkpoint_file_matches_its_manifest_entry(lecture, key, entry):
    data = (FOLDER / lecture / entry["file"]).read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"])


def test_no_checkpoint_file_lacks_a_manifest_entry():
    listed = {(lecture, entry["file"]) for lecture, _, entry in ENTRIES}
    on_disk = {(p.parent.name, p.name) for p in FOLDER.glob("*/*.pt")}
    assert on_disk == listed


def test_the_whole_set_is_under_20_mb():
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size < MAX_BYTES, f"{size / 1024**2:.1f} MB of checkpoints"
