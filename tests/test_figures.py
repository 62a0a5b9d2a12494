"""tools.figures: each figure function writes a PNG to the path it is given."""
import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402

from tools import figures  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_autoencoder_architecture_writes_a_png(tmp_path):
    path = figures.autoencoder_architecture(tmp_path / "architecture.png", image=torch.rand(784))
    assert path == tmp_path / "architecture.png"
    assert path.stat().st_size > 1000
    assert path.read_bytes().startswith(PNG_SIGNATURE)
