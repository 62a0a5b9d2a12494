"""The self-checks of exercise 02: they pass on a reference solution and fail on stubs and on
typical wrong answers (conftest.py sets LVM_STRICT_CHECKS, so a failure raises)."""
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from utils.checks import SelfCheckFailed
from utils.checks import unit02


CROSS = "\u2717"


def fails_with(check, *args, hint):
    """``check(*args)`` in strict mode must fail with ``hint`` on its first ✗ line, and print only
    ✗ lines of at most 120 characters. Returns the ✗ lines."""
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SelfCheckFailed):
        check(*args)
    crosses = [line for line in out.getvalue().splitlines() if line.startswith(CROSS)]
    assert crosses and hint in crosses[0], out.getvalue()
    assert all(len(line) <= 120 for line in crosses), crosses
    return crosses


def student_namespace(**overrides):
    """The reference solution as a notebook would hold it, with ``overrides`` (a student's
    mistakes) in its namespace, where the functions that call each other look each other up."""
    import inspect
    namespace = {"torch": torch, "F": F}
    for fn in (reconstruction_loss, train_step, corrupt, denoising_step):
        exec(inspect.getsource(fn), namespace)
    namespace.update(overrides)
    return namespace


# --- a reference solution -------------------------------------------------------------------
def mlp(sizes, last=None):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers = layers[:-1] + ([last] if last is not None else [])
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    def __init__(self, z_dim, hidden_dim=64):
        super().__init__()
        self.net = mlp([784, hidden_dim, hidden_dim, z_dim])

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, z_dim, hidden_dim=64):
        super().__init__()
        self.net = mlp([z_dim, hidden_dim, hidden_dim, 784])

    def forward(self, z):
        return self.net(z)


def reconstruction_loss(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()


def train_step(encoder, decoder, optimizer, x_input, x_target):
    loss = reconstruction_loss(decoder(encoder(x_input)), x_target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def corrupt(x, p, generator=None):
    return x * (torch.rand(x.shape, generator=generator, device=x.device) >= p)


def denoising_step(encoder, decoder, optimizer, x, p, generator=None):
    return train_step(encoder, decoder, optimizer, corrupt(x, p, generator), x)


def stub(*args, **kwargs):
    raise NotImplementedError("exercise: write this part")


class StubModule(nn.Module):
    def __init__(self, z_dim, hidden_dim=64):
        raise NotImplementedError("exercise: write this part")


# --- encoder and decoder ----------------------------------------------------------------------
def test_modules_check_passes_on_reference(capsys):
    unit02.check_modules(Encoder, Decoder)
    out = capsys.readouterr().out
    assert "\u2717" not in out and "gradients reach every parameter" in out


def test_modules_check_fails_on_stub_modules(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_modules(StubModule, StubModule)
    assert "not implemented yet" in capsys.readouterr().out


def test_modules_check_fails_when_encoder_ignores_z_dim(capsys):
    class FixedEncoder(Encoder):
        def __init__(self, z_dim, hidden_dim=64):
            super().__init__(2, hidden_dim)

    with pytest.raises(SelfCheckFailed):
        unit02.check_modules(FixedEncoder, Decoder)
    assert "expected shape (64, 10), got (64, 2)" in capsys.readouterr().out


def test_modules_check_fails_when_decoder_ends_with_sigmoid(capsys):
    class SigmoidDecoder(Decoder):
        def forward(self, z):
            return torch.sigmoid(self.net(z))

    with pytest.raises(SelfCheckFailed):
        unit02.check_modules(Encoder, SigmoidDecoder)
    assert "no Sigmoid or Tanh at the end" in capsys.readouterr().out


def test_modules_check_fails_when_encoder_ends_with_relu(capsys):
    class ReluEncoder(Encoder):
        def forward(self, x):
            return torch.relu(self.net(x))

    with pytest.raises(SelfCheckFailed):
        unit02.check_modules(ReluEncoder, Decoder)
    assert "no ReLU or Sigmoid on z" in capsys.readouterr().out


def test_modules_check_fails_when_a_layer_is_unused(capsys):
    class ShortcutEncoder(Encoder):
        def __init__(self, z_dim, hidden_dim=64):
            super().__init__(z_dim, hidden_dim)
            self.unused = nn.Linear(784, z_dim)

    with pytest.raises(SelfCheckFailed):
        unit02.check_modules(ShortcutEncoder, Decoder)
    assert "get no gradient" in capsys.readouterr().out


# --- the loss ---------------------------------------------------------------------------------
def test_loss_check_passes_on_reference(capsys):
    unit02.check_reconstruction_loss(reconstruction_loss)
    assert "\u2717" not in capsys.readouterr().out


def test_loss_check_fails_on_stub(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_reconstruction_loss(stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_loss_check_fails_on_per_image_vector(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_reconstruction_loss(
            lambda logits, x: F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1))
    assert "expected shape (), got (8,)" in capsys.readouterr().out


def test_loss_check_fails_on_mean_over_pixels_with_hint(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_reconstruction_loss(F.binary_cross_entropy_with_logits)
    assert "sum over the 784 pixels" in capsys.readouterr().out


def test_loss_check_fails_on_sigmoid_before_bce_with_logits(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_reconstruction_loss(
            lambda logits, x: reconstruction_loss(torch.sigmoid(logits), x))
    assert "apply no sigmoid" in capsys.readouterr().out


def test_loss_check_fails_on_log_of_sigmoid_for_extreme_logits(capsys):
    def naive(logits, x):
        p = torch.sigmoid(logits)
        return -(x * p.log() + (1 - x) * (1 - p).log()).sum(-1).mean()

    with pytest.raises(SelfCheckFailed):
        unit02.check_reconstruction_loss(naive)
    out = capsys.readouterr().out
    assert "\u2713 reconstruction_loss: value = −log Bernoulli(x | logits)" in out
    assert "\u2717 reconstruction_loss: it stays finite" in out


# --- the training step ------------------------------------------------------------------------
def test_train_step_check_passes_on_reference(capsys):
    unit02.check_train_step(train_step, Encoder, Decoder)
    out = capsys.readouterr().out
    assert "\u2717" not in out and "a short training run lowers the loss" in out


def test_train_step_check_fails_on_stub(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_train_step(stub, Encoder, Decoder)
    assert "not implemented yet" in capsys.readouterr().out


def test_train_step_check_fails_without_zero_grad(capsys):
    def accumulating_step(encoder, decoder, optimizer, x_input, x_target):
        loss = reconstruction_loss(decoder(encoder(x_input)), x_target)
        loss.backward()
        optimizer.step()
        return loss.item()

    with pytest.raises(SelfCheckFailed):
        unit02.check_train_step(accumulating_step, Encoder, Decoder)
    assert "call optimizer.zero_grad() first" in capsys.readouterr().out


def test_train_step_check_fails_when_input_is_the_target(capsys):
    def autoassociative_step(encoder, decoder, optimizer, x_input, x_target):
        return train_step(encoder, decoder, optimizer, x_input, x_input)

    with pytest.raises(SelfCheckFailed):
        unit02.check_train_step(autoassociative_step, Encoder, Decoder)
    assert "with x_target" in capsys.readouterr().out


def test_train_step_check_fails_without_optimizer_step(capsys):
    def no_step(encoder, decoder, optimizer, x_input, x_target):
        loss = reconstruction_loss(decoder(encoder(x_input)), x_target)
        optimizer.zero_grad()
        loss.backward()
        return loss.item()

    with pytest.raises(SelfCheckFailed):
        unit02.check_train_step(no_step, Encoder, Decoder)
    assert "did not change" in capsys.readouterr().out


def test_train_step_check_fails_when_it_returns_a_tensor_batch(capsys):
    def per_image(encoder, decoder, optimizer, x_input, x_target):
        train_step(encoder, decoder, optimizer, x_input, x_target)
        return torch.zeros(len(x_input))

    with pytest.raises(SelfCheckFailed):
        unit02.check_train_step(per_image, Encoder, Decoder)
    assert "expected a number" in capsys.readouterr().out


# --- masking noise and the denoising step -----------------------------------------------------
def test_corrupt_check_passes_on_reference(capsys):
    unit02.check_corrupt(corrupt)
    assert "\u2717" not in capsys.readouterr().out


def test_corrupt_check_fails_on_stub(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_corrupt(stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_corrupt_check_fails_when_keep_probability_is_p(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_corrupt(lambda x, p, generator=None:
                             x * (torch.rand(x.shape, generator=generator) < p))
    assert "set to 0 with p = 0.25" in capsys.readouterr().out


def test_corrupt_check_fails_when_input_is_modified_in_place(capsys):
    def in_place(x, p, generator=None):
        x[torch.rand(x.shape, generator=generator) < p] = 0
        return x

    with pytest.raises(SelfCheckFailed):
        unit02.check_corrupt(in_place)
    assert "modified x in place" in capsys.readouterr().out


def test_corrupt_check_fails_when_generator_is_ignored(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_corrupt(lambda x, p, generator=None: corrupt(x, p))
    assert "pass generator=generator" in capsys.readouterr().out


def test_corrupt_check_fails_on_gaussian_noise(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_corrupt(lambda x, p, generator=None:
                             x + p * torch.randn(x.shape, generator=generator))
    assert "other than 0" in capsys.readouterr().out


def test_denoising_check_passes_on_reference(capsys):
    unit02.check_denoising_step(denoising_step, Encoder, Decoder)
    assert "\u2717" not in capsys.readouterr().out


def test_denoising_check_fails_on_stub(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_denoising_step(stub, Encoder, Decoder)
    assert "not implemented yet" in capsys.readouterr().out


def test_denoising_check_fails_when_target_is_the_noisy_input(capsys):
    def noisy_target(encoder, decoder, optimizer, x, p, generator=None):
        x_noisy = corrupt(x, p, generator)
        return train_step(encoder, decoder, optimizer, x_noisy, x_noisy)

    with pytest.raises(SelfCheckFailed):
        unit02.check_denoising_step(noisy_target, Encoder, Decoder)
    assert "Hint: the target is the clean x" in capsys.readouterr().out


def test_denoising_check_fails_without_corruption(capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_denoising_step(
            lambda encoder, decoder, optimizer, x, p, generator=None:
            train_step(encoder, decoder, optimizer, x, x), Encoder, Decoder)
    assert "the encoder sees corrupt(x, p, generator)" in capsys.readouterr().out


# --- behaviour shared by all checks -----------------------------------------------------------
def test_failed_check_prints_a_cross_and_does_not_raise_outside_strict_mode(capsys, monkeypatch):
    monkeypatch.delenv("LVM_STRICT_CHECKS")
    unit02.check_reconstruction_loss(F.binary_cross_entropy_with_logits)
    assert "\u2717 reconstruction_loss" in capsys.readouterr().out


def test_pass_lines_are_identical_across_runs(capsys):
    outputs = []
    for _ in range(2):
        unit02.check_modules(Encoder, Decoder)
        unit02.check_train_step(train_step, Encoder, Decoder)
        unit02.check_corrupt(corrupt)
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    unit02.check_modules(Encoder, Decoder)
    assert torch.equal(torch.rand(3), expected)


def test_every_message_is_one_line(capsys, monkeypatch):
    monkeypatch.delenv("LVM_STRICT_CHECKS")
    unit02.check_modules(Encoder, Decoder)
    unit02.check_reconstruction_loss(F.binary_cross_entropy_with_logits)
    unit02.check_train_step(stub, Encoder, Decoder)
    unit02.check_corrupt(lambda x, p, generator=None: x + p)
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line[0] in "\u2713\u2717" for line in lines), lines


@pytest.mark.parametrize("returned", [None, "0.5", [torch.zeros(2)]])
def test_loss_check_reports_a_wrong_return_value_in_one_line(returned, capsys):
    with pytest.raises(SelfCheckFailed):
        unit02.check_reconstruction_loss(lambda logits, x: returned)
    out = capsys.readouterr().out
    assert out.count("\u2717") == 1 and "expected a tensor" in out


# --- the planted mistakes -----------------------------------------------------------------
def test_decoder_ending_in_tanh_fails_with_the_logits_hint():
    class TanhDecoder(Decoder):
        def __init__(self, z_dim, hidden_dim=64):
            super().__init__(z_dim, hidden_dim)
            self.net = nn.Sequential(*self.net, nn.Tanh())

    crosses = fails_with(unit02.check_modules, Encoder, TanhDecoder,
                         hint="the loss takes logits: no Sigmoid or Tanh at the end")
    assert "outputs all in [-1, 1] for huge z" in crosses[0] and len(crosses) == 1


def test_decoder_ending_in_sigmoid_says_outputs_lie_in_0_1():
    class SigmoidDecoder(Decoder):
        def forward(self, z):
            return torch.sigmoid(self.net(z))

    crosses = fails_with(unit02.check_modules, Encoder, SigmoidDecoder,
                         hint="no Sigmoid or Tanh at the end")
    assert "outputs all in [0, 1]" in crosses[0]


def test_a_wrong_loss_does_not_fail_the_train_step_check(capsys):
    mean_over_pixels = F.binary_cross_entropy_with_logits     # a planted mistake: mean, not sum
    namespace = student_namespace(reconstruction_loss=mean_over_pixels)
    fails_with(unit02.check_reconstruction_loss, namespace["reconstruction_loss"],
               hint="sum over the 784 pixels instead")
    unit02.check_train_step(namespace["train_step"])          # strict: raises on any ✗
    out = capsys.readouterr().out
    assert CROSS not in out and "with the reference reconstruction_loss" in out


def test_wrong_corrupt_and_train_step_do_not_fail_the_denoising_check(capsys):
    def keeps_with_probability_p(x, p, generator=None):
        return x * (torch.rand(x.shape, generator=generator) < p)

    def no_zero_grad(encoder, decoder, optimizer, x_input, x_target):
        loss = reconstruction_loss(decoder(encoder(x_input)), x_target)
        loss.backward()
        optimizer.step()
        return loss.item()

    namespace = student_namespace(corrupt=keeps_with_probability_p, train_step=no_zero_grad)
    unit02.check_denoising_step(namespace["denoising_step"])
    assert CROSS not in capsys.readouterr().out


def test_a_diverging_step_prints_short_numbers():
    def ascent(encoder, decoder, optimizer, x_input, x_target):
        loss = reconstruction_loss(decoder(encoder(x_input)), x_target)
        optimizer.zero_grad()
        (-1e6 * loss).backward()
        optimizer.step()
        return loss.item()

    crosses = fails_with(unit02.check_train_step, ascent, hint="Hint: ")
    import re
    assert not any(re.search(r"\d{7}", line) for line in crosses), crosses   # 4.71e+25, not 47103…


def test_train_step_check_uses_reference_networks_by_default(capsys):
    unit02.check_train_step(train_step)
    assert CROSS not in capsys.readouterr().out


def test_ready_skips_in_one_line_naming_the_decoder(capsys):
    class TanhDecoder(Decoder):
        def forward(self, z):
            return torch.tanh(self.net(z))
    TanhDecoder.__name__ = "Decoder"

    assert unit02.ready(Encoder, Decoder, reconstruction_loss, train_step)
    assert capsys.readouterr().out == ""
    assert not unit02.ready(Encoder, TanhDecoder, reconstruction_loss, train_step)
    out = capsys.readouterr().out
    assert out.startswith("\u23ed skipped") and "`Decoder` (Part 1" in out
    assert len(out.strip().splitlines()) == 1
