"""The utils API fails early and clearly: one row per call with bad input (the error it raises and
a pattern of its message, which says what was expected and what to do), and one row per call with
good input of another integer type (NumPy integers are counts like Python ints)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils import data, plots, runtime  # noqa: E402
from utils.checks import SelfCheck  # noqa: E402
from utils.pyro_vae import OneCycleAdam, PyroVAE, one_cycle_clipped_adam, train_svi  # noqa: E402
from utils.tables import table  # noqa: E402
from utils.vae import (VAE, Decoder, Encoder, evaluate, fit, gaussian_kl, iwae_log_px,  # noqa: E402
                       log_likelihood, negative_elbo, reinforce_negative_elbo, train_vae)

pytestmark = pytest.mark.usefixtures("one_thread")


def vae():
    torch.manual_seed(0)
    return VAE(z_dim=2, hidden_dim=8)


def pyro_vae():
    torch.manual_seed(0)
    return PyroVAE(Encoder(2, 8), Decoder(2, 8), 2)


def binary(n=16):
    return torch.bernoulli(torch.full((n, 784), 0.3), generator=torch.Generator().manual_seed(0))


def with_nan(x):
    x = x.clone()
    x[-1, -1] = float("nan")
    return x


def per_batch_mean(model, x):
    return negative_elbo(model, x).mean()


# id, call, error, message pattern
BAD = [
    # counts: a bool is no count, a string or float no int, and the range is said
    ("set_seed(True)", lambda: runtime.set_seed(True), TypeError, r"seed must be an int, got True"),
    ("set_seed(-1)", lambda: runtime.set_seed(-1), ValueError, r"seed must be a non-negative int"),
    ("set_seed(2**40)", lambda: runtime.set_seed(2**40),
     ValueError, r"seed must be an int of at most"),
    ("set_threads('2')", lambda: runtime.set_threads("2"),
     TypeError, r"threads must be an int.*without quotes"),
    ("set_threads(True)", lambda: runtime.set_threads(True),
     TypeError, r"True and False are not counts"),
    ("set_threads(0)", lambda: runtime.set_threads(0),
     ValueError, r"threads must be a positive int"),
    ("set_threads(1000)", lambda: runtime.set_threads(1000),
     ValueError, r"threads=1000 .*use at most"),
    ("iwae_log_px(k=True)", lambda: iwae_log_px(vae(), binary(), k=True),
     TypeError, r"k must be an int, got True"),
    ("iwae_log_px(k=0)", lambda: iwae_log_px(vae(), binary(), k=0),
     ValueError, r"k must be a positive int"),
    ("iwae_log_px(k=2.5)", lambda: iwae_log_px(vae(), binary(), k=2.5),
     TypeError, r"k must be an int, got the float"),
    ("evaluate(batch_size=0)", lambda: evaluate(vae(), binary(), batch_size=0),
     ValueError, r"batch_size must be a positive int"),
    ("train_vae(batch_size=True)", lambda: train_vae(vae(), binary(), batch_size=True),
     TypeError, r"batch_size must be an int, got True"),
    ("train_vae(epochs=0)", lambda: train_vae(vae(), binary(), epochs=0),
     ValueError, r"epochs must be a positive int"),
    ("train_vae(seed=-1)", lambda: train_vae(vae(), binary(), seed=-1),
     ValueError, r"seed must be a non-negative int"),
    ("VAE(z_dim=2.0)", lambda: VAE(z_dim=2.0),
     TypeError, r"z_dim must be an int, got the float 2.0"),
    ("image_grid(nrow=0)", lambda: plots.image_grid(binary(), nrow=0),
     ValueError, r"nrow must be a positive int"),
    ("LiveFigure(ncols=True)", lambda: plots.LiveFigure(ncols=True),
     TypeError, r"ncols must be an int"),
    ("table(digits=-1)", lambda: table(["a"], [[1.0]], digits=-1),
     ValueError, r"digits must be a non-negative int"),
    ("one_cycle_clipped_adam(total_steps=0)", lambda: one_cycle_clipped_adam(1e-3, 0, 128),
     ValueError, r"total_steps must be a positive int"),
    ("OneCycleAdam(total_steps=0)", lambda: OneCycleAdam(1e-3, 0),
     ValueError, r"total_steps must be a positive int"),
    ("OneCycleAdam(max_lr=-1)", lambda: OneCycleAdam(-1, 10),
     ValueError, r"max_lr must be a finite number greater than 0"),
    ("train_vae(max_lr=0)", lambda: train_vae(vae(), binary(), max_lr=0),
     ValueError, r"max_lr must be a finite number greater than 0"),
    # images: shape, dtype, device of the model, range, NaN, emptiness
    ("negative_elbo on 0..255 floats", lambda: negative_elbo(vae(), 255 * binary()),
     ValueError, r"first image.*\[0, 255\].*divide 0..255 bytes by 255"),
    ("negative_elbo on uint8", lambda: negative_elbo(vae(), binary().to(torch.uint8)),
     TypeError, r"dtype torch.uint8.*x.float\(\) / 255"),
    ("negative_elbo on (N, 28, 28)", lambda: negative_elbo(vae(), binary().view(-1, 28, 28)),
     ValueError, r"\(N, 784\), got shape \(16, 28, 28\).*x.reshape\(len\(x\), -1\)"),
    ("negative_elbo on float64", lambda: negative_elbo(vae(), binary().double()),
     TypeError, r"x is torch.float64 but the model's parameters are torch.float32"),
    ("negative_elbo on NumPy", lambda: negative_elbo(vae(), binary().numpy()),
     TypeError, r"torch.Tensor.*torch.from_numpy"),
    ("negative_elbo on no images", lambda: negative_elbo(vae(), binary()[:0]),
     ValueError, r"x is empty"),
    ("negative_elbo with eps of another shape",
     lambda: negative_elbo(vae(), binary(), torch.zeros(3, 2)),
     ValueError, r"eps must have the shape of z_loc, \(16, 2\)"),
    ("negative_elbo on a non-VAE", lambda: negative_elbo(torch.nn.Linear(784, 2), binary()),
     TypeError, r"vae must have .encoder, .decoder"),
    ("reinforce_negative_elbo(baseline='b')",
     lambda: reinforce_negative_elbo(vae(), binary(), baseline="b"),
     TypeError, r"baseline must be a number or a tensor"),
    ("gaussian_kl of mismatched shapes", lambda: gaussian_kl(torch.zeros(4, 2), torch.ones(4, 3)),
     ValueError, r"z_scale must have the shape of z_loc"),
    ("log_likelihood with one code too few",
     lambda: log_likelihood(vae(), binary(), torch.zeros(15, 2)),
     ValueError, r"one image and one code per row"),
    ("encoder on 100-pixel images", lambda: Encoder(2, 8)(torch.zeros(4, 100)),
     ValueError, r"100 pixels per image but this encoder takes 784"),
    ("decoder of z_dim 3 on 2-D codes", lambda: Decoder(3, 8)(torch.zeros(4, 2)),
     ValueError, r"codes of z_dim=3 numbers"),
    ("evaluate on no images", lambda: evaluate(vae(), binary()[:0]), ValueError, r"x is empty"),
    ("evaluate on grey levels", lambda: evaluate(vae(), 0.5 * binary()),
     ValueError, r"must be binary.*fixed_binarization"),
    ("evaluate on NaN", lambda: evaluate(vae(), with_nan(binary())), ValueError, r"x contains NaN"),
    ("evaluate on 0..255", lambda: evaluate(vae(), 255 * binary()),
     ValueError, r"divide 0..255 bytes by 255"),
    ("iwae_log_px on no images", lambda: iwae_log_px(vae(), binary()[:0]),
     ValueError, r"x is empty"),
    ("train_vae on no images", lambda: train_vae(vae(), binary()[:0]),
     ValueError, r"train_x is empty"),
    ("train_vae on NaN", lambda: train_vae(vae(), with_nan(binary()), desc=None),
     ValueError, r"train_x contains NaN"),
    ("train_vae on 0..255", lambda: train_vae(vae(), 255 * binary(), desc=None),
     ValueError, r"train_x must hold pixel intensities in \[0, 1\].*divide"),
    ("train_vae with a grey validation set", lambda: train_vae(vae(), binary(), 0.5 * binary()),
     ValueError, r"val_x must be binary"),
    ("train_vae of a non-module", lambda: train_vae("vae", binary()),
     TypeError, r"vae must be a torch module with parameters"),
    ("train_vae with a batch-mean loss",
     lambda: train_vae(vae(), binary(), loss_fn=per_batch_mean, desc=None),
     ValueError, r"one loss per image, a tensor of shape \(16,\)"),
    ("train_vae(loss_fn='elbo')", lambda: train_vae(vae(), binary(), loss_fn="elbo"),
     TypeError, r"loss_fn must be a function"),
    ("fit with a step that returns None", lambda: fit(lambda x: None, binary(), 1, desc=None),
     TypeError, r"step\(x\) must return .*return loss.item\(\)"),
    ("train_svi on no images", lambda: train_svi(pyro_vae(), binary()[:0]),
     ValueError, r"train_x is empty"),
    ("train_svi(optimizer='adam')", lambda: train_svi(pyro_vae(), binary(), optimizer="adam"),
     TypeError, r"optimizer must be a function, e.g. OneCycleAdam"),
    ("PyroVAE of a non-module", lambda: PyroVAE("encoder", Decoder(2, 8), 2),
     TypeError, r"encoder must be a torch module"),
    # figures
    ("save_figure('../x.png')", lambda: plots.save_figure(plt.figure(), "../x.png"),
     ValueError, r"leads out of images/"),
    ("save_figure('/tmp/x.png')", lambda: plots.save_figure(plt.figure(), "/tmp/x.png"),
     ValueError, r"absolute path"),
    ("save_figure('sub/x.png')", lambda: plots.save_figure(plt.figure(), "sub/x.png"),
     ValueError, r"folder part"),
    ("training_curves([1.0, 2.0])", lambda: plots.training_curves([1.0, 2.0]),
     TypeError, r"history must map each series' name"),
    ("latent_manifold of a z_dim-3 decoder", lambda: plots.latent_manifold(Decoder(3, 8), n=2),
     ValueError, r"2-D latent space.*z_dim=2"),
    # tables and self-checks
    ("table('ab', ...)", lambda: table("ab", [[1, 2]]), TypeError, r"columns must be a list"),
    ("table(rows=['xy'])", lambda: table(["a", "b"], ["xy"]), TypeError, r"row 0 must be a list"),
    ("table with no columns", lambda: table([], []), ValueError, r"columns is empty"),
    ("SelfCheck outside with", lambda: SelfCheck("pca").true("a", True, ""),
     RuntimeError, r"outside its `with` block"),
    # utils/data.py
    ("binarize on NaN", lambda: data.binarize(with_nan(binary())),
     ValueError, r"contains NaN"),
    ("minibatches(batch_size=True)", lambda: list(data.minibatches(binary(), batch_size=True)),
     TypeError, r"batch_size must be an int"),
]

GOOD = [
    ("set_seed(np.int64(3))", lambda: runtime.set_seed(np.int64(3))),
    ("set_threads(np.int64(1))", lambda: runtime.set_threads(np.int64(1))),
    ("iwae_log_px(k=np.int64(3))", lambda: iwae_log_px(vae(), binary(), k=np.int64(3))),
    ("evaluate(batch_size=np.int64(4))", lambda: evaluate(vae(), binary(), batch_size=np.int64(4))),
    ("train_vae with NumPy counts",
     lambda: train_vae(vae(), binary(), epochs=np.int64(1), batch_size=np.int32(8),
                       seed=np.int64(0), desc=None)),
    ("VAE(z_dim=np.int64(2))", lambda: VAE(z_dim=np.int64(2), hidden_dim=np.int64(8))),
    ("image_grid(nrow=np.int64(4))", lambda: plots.image_grid(binary(), nrow=np.int64(4))),
    ("table(digits=np.int64(1))", lambda: table(["a"], [[1.25]], digits=np.int64(1))),
    ("latent_manifold(extent=np.array)",
     lambda: plots.latent_manifold(lambda z: torch.zeros(len(z), 784),
                                   extent=np.array([-1, 1, -1, 1]), n=2)),
    ("minibatches(batch_size=np.int64(5))",
     lambda: list(data.minibatches(binary(), batch_size=np.int64(5)))),
]


def _rows(table_, width):
    """pytest parameters from rows (id, values..., optional marks): the id names the case."""
    return [pytest.param(*row[1:width], id=row[0], marks=row[width:]) for row in table_]


@pytest.fixture(autouse=True)
def _restore_threads_and_close_figures():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
    plt.close("all")


@pytest.mark.parametrize("call, error, message", _rows(BAD, 4))
def test_bad_input_is_refused_at_the_entry_saying_what_to_do(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call", _rows(GOOD, 2))
def test_numpy_integers_are_counts_like_python_ints(call):
    call()


def test_a_wrong_type_is_a_type_error_that_except_value_error_catches_too():
    with pytest.raises(ValueError):
        runtime.set_threads("2")
