"""utils.plots: figures accept the shapes the course uses and reject the ones they cannot draw."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("shape", [(6, 784), (6, 28, 28), (6, 1, 28, 28)])
def test_image_grid_accepts_flat_square_and_channel_images(shape):
    ax = plots.image_grid(torch.rand(shape), nrow=3)
    assert ax.images[0].get_array().shape == (2 * 30, 3 * 30)


def test_image_grid_rejects_non_mnist_shapes():
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        plots.image_grid(torch.rand(6, 100))


def test_latent_scatter_colours_points_by_label():
    z, labels = torch.randn(50, 2), torch.randint(0, 10, (50,))
    ax = plots.latent_scatter(z, labels)
    points = ax.collections[-1]
    assert np.array_equal(points.get_array(), labels.numpy())
    assert ax.get_xlabel() == "$z_1$"


def test_latent_scatter_draws_error_bars_for_posterior_std():
    ax = plots.latent_scatter(torch.randn(20, 2), torch.arange(20) % 10, z_std=torch.rand(20, 2))
    assert len(ax.collections) >= 3  # two error-bar collections and the points


def test_latent_scatter_rejects_a_3d_latent_with_a_hint():
    with pytest.raises(ValueError, match=r"\(N, 2\).*project"):
        plots.latent_scatter(torch.randn(10, 3), torch.zeros(10, dtype=torch.long))


def test_latent_scatter_rejects_mismatched_labels_and_std():
    with pytest.raises(ValueError, match="labels"):
        plots.latent_scatter(torch.randn(10, 2), torch.zeros(9))
    with pytest.raises(ValueError, match="z_std"):
        plots.latent_scatter(torch.randn(10, 2), torch.zeros(10), z_std=torch.ones(10, 3))


def test_reconstruction_rows_rejects_mismatched_pairs():
    with pytest.raises(ValueError, match="differ in shape"):
        plots.reconstruction_rows(torch.rand(5, 784), torch.rand(4, 784))


def test_latent_manifold_decodes_a_grid_with_top_row_at_largest_z2():
    seen = []

    def decode(z):
        seen.append(z.clone())
        return torch.sigmoid(z[:, 1:2]).expand(-1, 784)  # brightness grows with z2

    ax = plots.latent_manifold(decode, extent=(-2, 2, -2, 2), n=4)
    assert seen[0].shape == (16, 2)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (4 * 28, 4 * 28)
    assert canvas[0, 0] > canvas[-1, 0]


def test_latent_manifold_draws_the_outline_of_given_points():
    points = torch.randn(2000, 2)
    ax = plots.latent_manifold(lambda z: torch.zeros(len(z), 784), n=3, contour_points=points)
    assert ax.collections, "no contour drawn"


def test_latent_manifold_rejects_an_empty_extent():
    with pytest.raises(ValueError, match="extent"):
        plots.latent_manifold(lambda z: torch.zeros(len(z), 784), extent=(1, -1, -1, 1))


def test_training_curves_draw_one_line_per_series():
    ax = plots.training_curves({"train": [3, 2, 1], "validation": [3.5, 2.5, 2]})
    assert len(ax.lines) == 2 and "nats per image" in ax.get_ylabel()


def test_training_curves_reject_empty_history():
    with pytest.raises(ValueError, match="empty"):
        plots.training_curves({})


def test_live_figure_outside_ipython_is_silent_and_closes():
    live = plots.LiveFigure(ncols=2)
    live.axes[0].plot([0, 1])
    live.update()
    assert len(live.clear()) == 2
    live.close()
    assert not plt.fignum_exists(live.fig.number)


def test_save_figure_writes_into_images_and_rejects_other_formats(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "IMAGES_DIR", tmp_path)
    monkeypatch.delenv("CI", raising=False)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    assert plots.save_figure(fig, "x.png") == tmp_path / "x.png"
    first = (tmp_path / "x.png").read_bytes()
    plots.save_figure(fig, "x.png")
    assert (tmp_path / "x.png").read_bytes() == first  # byte-stable: no churn in git
    with pytest.raises(ValueError, match=".png or .svg"):
        plots.save_figure(fig, "x.jpg")


def test_save_figure_writes_nothing_in_smoke_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "IMAGES_DIR", tmp_path)
    monkeypatch.setenv("CI", "true")
    fig, _ = plt.subplots()
    plots.save_figure(fig, "x.png")
    assert not (tmp_path / "x.png").exists()


def test_progress_counts_every_item():
    assert list(plots.progress(range(3), disable=True)) == [0, 1, 2]
