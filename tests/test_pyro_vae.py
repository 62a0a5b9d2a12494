"""utils.pyro_vae: the Pyro model/guide of the unit-04 VAE and its SVI training loop."""
import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO
from torch.distributions import Normal

from pyro.infer import SVI

from utils.pyro_vae import OneCycleAdam, PyroVAE, one_cycle_clipped_adam, train_svi
from utils.vae import Decoder, Encoder, log_likelihood, negative_elbo

pytestmark = pytest.mark.usefixtures("one_thread")

Z_DIM = 2


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return PyroVAE(Encoder(Z_DIM, hidden_dim=32), Decoder(Z_DIM, hidden_dim=32), Z_DIM)


@pytest.fixture
def x():
    """A batch of 64 binary stand-in images."""
    return torch.bernoulli(torch.full((64, 784), 0.3), generator=torch.Generator().manual_seed(0))


@pytest.fixture(autouse=True)
def clean_store():
    """Every test starts and ends with an empty param store and validation on."""
    pyro.clear_param_store()
    with pyro.validation_enabled(True):
        yield
    pyro.clear_param_store()


def _noise(vae, x, seed):
    """The ε that the guide draws from torch's global generator after ``pyro.set_rng_seed(seed)``."""
    pyro.set_rng_seed(seed)
    guide_trace = poutine.trace(vae.guide).get_trace(x)
    z_loc, z_scale = vae.encoder(x)
    return guide_trace.nodes["z"]["value"], ((guide_trace.nodes["z"]["value"] - z_loc) / z_scale)


def test_mean_field_loss_is_negative_elbo_summed_over_the_batch(vae, x):
    _, eps = _noise(vae, x, seed=1)
    pyro.set_rng_seed(1)
    loss = TraceMeanField_ELBO().loss(vae.model, vae.guide, x)
    expected = negative_elbo(vae, x, eps.detach()).sum().item()
    assert loss == pytest.approx(expected, rel=1e-6)


def test_trace_elbo_loss_samples_the_kl_with_the_same_noise(vae, x):
    z, _ = _noise(vae, x, seed=1)
    pyro.set_rng_seed(1)
    loss = Trace_ELBO().loss(vae.model, vae.guide, x)
    z_loc, z_scale = vae.encoder(x)
    log_q = Normal(z_loc, z_scale).log_prob(z).sum(-1)
    log_p = Normal(0.0, 1.0).log_prob(z).sum(-1)
    expected = -(log_likelihood(vae, x, z) + log_p - log_q).sum().item()
    assert loss == pytest.approx(expected, rel=1e-6)


def test_trace_has_one_log_density_per_image_in_one_plate(vae, x):
    guide_trace = poutine.trace(vae.guide).get_trace(x)
    model_trace = poutine.trace(poutine.replay(vae.model, trace=guide_trace)).get_trace(x)
    model_trace.compute_log_prob()
    for name, event in (("z", Z_DIM), ("x", 784)):
        site = model_trace.nodes[name]
        assert site["value"].shape == (len(x), event)
        assert site["log_prob"].shape == (len(x),)
        assert [frame.dim for frame in site["cond_indep_stack"]] == [-1]
    assert model_trace.nodes["x"]["is_observed"] and not model_trace.nodes["z"]["is_observed"]


def test_clipped_adam_clamps_gradient_entries_at_100_per_image():
    optimizer = one_cycle_clipped_adam(1e-3, total_steps=10, batch_size=128)
    param = torch.zeros(3, requires_grad=True)
    param.grad = torch.tensor([1e6, -1e6, 1.0])
    optimizer([param])                     # Pyro builds one ClippedAdam per parameter on first use
    assert optimizer.optim_objs[param].optimizer.param_groups[0]["clip_norm"] == 100 * 128


def test_one_cycle_adam_steps_one_fused_adam_over_every_parameter_on_torchs_schedule(vae, x):
    optimizer = OneCycleAdam(3e-3, total_steps=10)
    svi = SVI(vae.model, vae.guide, optimizer, loss=TraceMeanField_ELBO())
    dummy = torch.optim.Adam([torch.zeros(1)], lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(dummy, max_lr=3e-3, total_steps=10)
    for _ in range(3):
        svi.step(x)
        optimizer.step()
        dummy.step()
        schedule.step()
    assert {id(p) for p in optimizer.params} == {id(p) for p in vae.parameters()}
    assert optimizer.optimizer.defaults["fused"] and not optimizer.optim_objs
    assert optimizer.optimizer.param_groups[0]["lr"] == schedule.get_last_lr()[0]


def test_an_svi_step_with_one_cycle_adam_is_the_hand_written_adam_step(vae, x):
    """The same noise: SVI's update equals torch's fused Adam stepped on the gradient of Pyro's
    differentiable loss (summed over the batch, as svi.step's)."""
    start = {k: v.clone() for k, v in vae.state_dict().items()}
    pyro.set_rng_seed(1)
    loss = TraceMeanField_ELBO().differentiable_loss(vae.model, vae.guide, x)
    params = list(vae.parameters())
    reference = torch.optim.Adam(params, lr=3e-3, fused=True)
    torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=3e-3, total_steps=10)
    loss.backward()
    reference.step()
    expected = [p.detach().clone() for p in params]
    vae.zero_grad(set_to_none=True)          # svi.step adds to a .grad left over
    vae.load_state_dict(start)
    pyro.clear_param_store()
    pyro.set_rng_seed(1)
    SVI(vae.model, vae.guide, OneCycleAdam(3e-3, total_steps=10), loss=TraceMeanField_ELBO()).step(x)
    moved = min((e - s).abs().max().item() for e, s in zip(expected, start.values()))
    gap = max((p - e).abs().max().item() for p, e in zip(vae.parameters(), expected))
    assert moved > 1e-4 and gap == 0         # a step of max_lr / 25


def test_svi_with_one_cycle_adam_leaves_no_gradient_behind(vae, x):
    SVI(vae.model, vae.guide, OneCycleAdam(3e-3, total_steps=10), loss=TraceMeanField_ELBO()).step(x)
    assert all(p.grad is None for p in vae.parameters())


def test_one_cycle_adam_refuses_a_step_over_other_parameters(vae, x):
    optimizer = OneCycleAdam(3e-3, total_steps=10)
    SVI(vae.model, vae.guide, optimizer, loss=TraceMeanField_ELBO()).step(x)
    pyro.clear_param_store()
    other = PyroVAE(Encoder(Z_DIM, hidden_dim=32), Decoder(Z_DIM, hidden_dim=32), Z_DIM)
    with pytest.raises(RuntimeError, match="build a new OneCycleAdam"):
        SVI(other.model, other.guide, optimizer, loss=TraceMeanField_ELBO()).step(x)


def test_train_svi_trains_with_another_pyro_optimizer_when_given_one(vae, x):
    made = []

    def clipped(max_lr, total_steps):
        made.append(one_cycle_clipped_adam(max_lr, total_steps, 32))
        return made[-1]
    train_svi(vae, x, None, epochs=1, batch_size=32, desc=None, optimizer=clipped)
    assert len(made) == 1 and len(made[0].optim_objs) == len(list(vae.parameters()))


def test_train_svi_clears_the_param_store(vae, x):
    pyro.param("stale", torch.ones(3))
    train_svi(vae, x, x[:16], epochs=1, batch_size=32)
    names = set(pyro.get_param_store().keys())
    assert "stale" not in names
    assert names == {f"encoder$$${n}" for n, _ in vae.encoder.named_parameters()} | \
        {f"decoder$$${n}" for n, _ in vae.decoder.named_parameters()}


def test_train_svi_trains_the_modules_own_parameters(vae, x):
    before = [p.detach().clone() for p in vae.parameters()]
    train_svi(vae, x, None, epochs=1, batch_size=32)
    store = pyro.get_param_store()
    assert all(store[f"decoder$$${n}"] is p for n, p in vae.decoder.named_parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, vae.parameters()))


def test_train_svi_is_reproducible_from_the_seeds(vae, x):
    state = {k: v.clone() for k, v in vae.state_dict().items()}
    histories = []
    for _ in range(2):
        vae.load_state_dict(state)
        pyro.set_rng_seed(3)
        histories.append(train_svi(vae, x, x[:16], epochs=2, batch_size=32, seed=0))
    assert histories[0] == histories[1]
    assert [len(v) for v in histories[0].values()] == [2, 2]


def test_train_svi_rejects_a_grey_level_validation_set(vae, x):
    with pytest.raises(ValueError, match="binary"):
        train_svi(vae, x, torch.full((16, 784), 0.5), epochs=1, batch_size=32)


# ---- Pyro's validation: the first step of a run, then off --------------------------------------------

def _validation_per_step(vae, x, **kwargs):
    """Whether Pyro's validation was on in each call of the guide during train_svi."""
    seen, guide = [], vae.guide

    def spy(batch):
        seen.append(pyro.infer.util.is_validation_enabled())
        return guide(batch)

    vae.guide = spy
    try:
        train_svi(vae, x, None, epochs=1, batch_size=16, desc=None, **kwargs)
    finally:
        del vae.guide
    return seen


def test_train_svi_validates_the_first_step_only(vae, x):
    assert _validation_per_step(vae, x) == [True, False, False, False]
    assert pyro.infer.util.is_validation_enabled()       # restored after the run


def test_train_svi_can_validate_every_step(vae, x):
    assert _validation_per_step(vae, x, validate_every_step=True) == [True] * 4


def test_train_svi_leaves_validation_off_when_pyro_has_it_off(vae, x):
    with pyro.validation_enabled(False):
        assert _validation_per_step(vae, x) == [False] * 4


def test_train_svi_gives_the_same_numbers_with_validation_on_every_step(vae, x):
    state = {k: v.clone() for k, v in vae.state_dict().items()}
    histories = []
    for every in (False, True):
        vae.load_state_dict(state)
        pyro.set_rng_seed(3)
        histories.append(train_svi(vae, x, x[:16], epochs=2, batch_size=32, desc=None,
                                   validate_every_step=every))
    assert histories[0] == histories[1]


def test_train_svi_catches_a_wrong_model_at_its_first_step(x):
    class NegativeScale(torch.nn.Module):           # an encoder whose "scale" can be negative
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(784, 2 * Z_DIM)

        def forward(self, batch):
            loc, scale = self.net(batch).chunk(2, -1)
            return loc, scale - 10.0

    torch.manual_seed(0)
    wrong = PyroVAE(NegativeScale(), Decoder(Z_DIM, hidden_dim=32), Z_DIM)
    with pytest.raises(ValueError, match="scale"):
        train_svi(wrong, x, None, epochs=1, batch_size=32, desc=None)


def test_train_svi_refuses_a_validate_every_step_that_is_not_a_bool(vae, x):
    with pytest.raises(TypeError, match="validate_every_step must be True or False"):
        train_svi(vae, x, None, epochs=1, validate_every_step=1)
