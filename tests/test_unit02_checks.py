"""The self-checks of exercise 02 pass on the reference solution (solutions/02_autoencoders.py, read
by tests/_solutions.py) and fail on its stubs and on typical wrong answers, each with its own hint;
a wrong answer is the solution with a mistake planted in it, or a wrapper around it."""
import re

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from _checks import FAIL, PASS, fails, passes, printed
from _solutions import STUB, planted, solution, student
from utils.checks import unit02

pytestmark = pytest.mark.usefixtures("one_thread")
S = solution(2)
CHECK = {"modules": lambda networks: unit02.check_modules(*networks),     # (Encoder, Decoder)
         "reconstruction_loss": unit02.check_reconstruction_loss,
         "train_step": unit02.check_train_step, "corrupt": unit02.check_corrupt,   # the steps: with the check's
         "denoising_step": unit02.check_denoising_step}                            # own reference networks
REFERENCE = {"modules": (S.Encoder, S.Decoder), **{name: getattr(S, name) for name in list(CHECK)[1:]}}
NO_ZERO_GRAD = ("    optimizer.zero_grad()\n", "")
KEEP_WITH_PROBABILITY_P = (">= p", "< p")


@pytest.mark.parametrize("name", CHECK)
def test_each_check_passes_on_the_reference(name):
    passes(CHECK[name], REFERENCE[name])


def test_modules_check_says_gradients_reach_every_parameter():
    assert "gradients reach every parameter" in "\n".join(passes(CHECK["modules"], REFERENCE["modules"]))


def test_train_step_check_says_a_short_run_lowers_the_loss():
    assert "a short training run lowers the loss" in "\n".join(passes(unit02.check_train_step, S.train_step))


# ---- planted mistakes: (check, the mistaken function or modules), the hint of the one ✗ line it gets ---
class FixedEncoder(S.Encoder):
    def __init__(self, z_dim, hidden_dim=64):
        super().__init__(2, hidden_dim)


class SigmoidDecoder(S.Decoder):
    def forward(self, z):
        return torch.sigmoid(super().forward(z))


class ReluEncoder(S.Encoder):
    def forward(self, x):
        return torch.relu(super().forward(x))


class ShortcutEncoder(S.Encoder):
    def __init__(self, z_dim, hidden_dim=64):
        super().__init__(z_dim, hidden_dim)
        self.unused = nn.Linear(784, z_dim)


class TanhDecoder(S.Decoder):
    def __init__(self, z_dim, hidden_dim=64):
        super().__init__(z_dim, hidden_dim)
        self.net = nn.Sequential(*self.net, nn.Tanh())


def edit(name, *edits):
    return name, getattr(planted(2, name, *edits), name)


MISTAKES = {
    "modules: not written (the exercise's stubs)": (
        ("modules", (planted(2, "Encoder", STUB).Encoder, planted(2, "Decoder", STUB).Decoder)), "not implemented yet"),
    **{f"{name}: not written (the exercise's stub)": (edit(name, STUB), "not implemented yet")
       for name in list(CHECK)[1:]},
    "modules: the encoder ignores z_dim": (("modules", (FixedEncoder, S.Decoder)),
                                           "expected shape (64, 10), got (64, 2)"),
    "modules: the decoder ends with a sigmoid": (("modules", (S.Encoder, SigmoidDecoder)),
                                                 "no Sigmoid or Tanh at the end"),
    "modules: the encoder ends with a ReLU": (("modules", (ReluEncoder, S.Decoder)), "no ReLU or Sigmoid on z"),
    "modules: the encoder with an unused layer": (("modules", (ShortcutEncoder, S.Decoder)), "get no gradient"),
    "reconstruction_loss: one value per image": (edit("reconstruction_loss", (".sum(-1).mean()", ".sum(-1)")),
                                                 "expected shape (), got (8,)"),
    "reconstruction_loss: the mean over pixels": (("reconstruction_loss", F.binary_cross_entropy_with_logits),
                                                  "sum over the 784 pixels"),
    "reconstruction_loss: a sigmoid before BCE with logits": (
        ("reconstruction_loss", lambda logits, x: S.reconstruction_loss(torch.sigmoid(logits), x)), "apply no sigmoid"),
    "train_step: no zero_grad": (edit("train_step", NO_ZERO_GRAD), "call optimizer.zero_grad() first"),
    "train_step: the input as the target": (
        ("train_step", lambda encoder, decoder, optimizer, x_input, x_target:
         S.train_step(encoder, decoder, optimizer, x_input, x_input)), "with x_target"),
    "train_step: no optimizer.step": (edit("train_step", ("    optimizer.step()\n", "")), "did not change"),
    "train_step: a tensor of losses": (
        ("train_step", lambda encoder, decoder, optimizer, x_input, x_target:
         torch.zeros(len(x_input)) + 0 * S.train_step(encoder, decoder, optimizer, x_input, x_target)),
        "expected a number"),
    "corrupt: each pixel kept with probability p": (edit("corrupt", KEEP_WITH_PROBABILITY_P), "set to 0 with p = 0.25"),
    "corrupt: x modified in place": (edit("corrupt", ("return x * keep", "x[~keep] = 0\n    return x")),
                                     "modified x in place"),
    "corrupt: the generator ignored": (("corrupt", lambda x, p, generator=None: S.corrupt(x, p)),
                                       "pass generator=generator"),
    "corrupt: Gaussian noise": (
        ("corrupt", lambda x, p, generator=None: x + p * torch.randn(x.shape, generator=generator)), "other than 0"),
    "denoising_step: the noisy input as the target": (
        edit("denoising_step", ("return train_step(", "x = corrupt(x, p, generator)\n    return train_step("),
             ("corrupt(x, p, generator), x)", "x, x)")),
        "Hint: the target is the clean x"),
    "denoising_step: no corruption": (
        ("denoising_step", lambda encoder, decoder, optimizer, x, p, generator=None:
         S.train_step(encoder, decoder, optimizer, x, x)), "the encoder sees corrupt(x, p, generator)"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_gets_one_cross_with_its_own_hint(mistake):
    (name, mistaken), hint = MISTAKES[mistake]
    fails(CHECK[name], mistaken, hint=hint, one=True)


def test_a_loss_of_log_sigmoid_passes_its_value_but_not_for_extreme_logits():
    _, naive = edit("reconstruction_loss", ('F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
                                            "-(x * torch.sigmoid(logits).log() "
                                            "+ (1 - x) * (1 - torch.sigmoid(logits)).log())"))
    raised, lines = printed(unit02.check_reconstruction_loss, naive)
    out = "\n".join(lines)
    assert raised and f"{PASS} reconstruction_loss: value = −log Bernoulli(x | logits)" in out
    assert f"{FAIL} reconstruction_loss: it stays finite" in out


def test_decoder_ending_in_tanh_gets_one_cross_with_the_logits_hint():
    fails(CHECK["modules"], (S.Encoder, TanhDecoder), one=True,
          hint=("the loss takes logits: no Sigmoid or Tanh at the end", "outputs all in [-1, 1] for huge z"))


def test_decoder_ending_in_sigmoid_says_outputs_lie_in_0_1():
    fails(CHECK["modules"], (S.Encoder, SigmoidDecoder),
          hint=("no Sigmoid or Tanh at the end", "outputs all in [0, 1]"))


def test_a_diverging_step_prints_short_numbers():
    _, ascent = edit("train_step", ("loss.backward()", "(-1e6 * loss).backward()"))
    crosses = fails(unit02.check_train_step, ascent, hint="Hint: ")
    assert not any(re.search(r"\d{7}", line) for line in crosses), crosses   # 4.71e+25, not 47103…


# ---- a check uses the reference of what the function builds on: no cascade ---------------------------
def test_a_wrong_loss_does_not_fail_the_train_step_check():
    notebook = student(2, reconstruction_loss=F.binary_cross_entropy_with_logits)   # mean, not sum
    fails(unit02.check_reconstruction_loss, notebook.reconstruction_loss, hint="sum over the 784 pixels instead")
    assert "with the reference reconstruction_loss" in "\n".join(passes(unit02.check_train_step,
                                                                         notebook.train_step))


def test_wrong_corrupt_and_train_step_do_not_fail_the_denoising_check():
    notebook = student(2, corrupt=edit("corrupt", KEEP_WITH_PROBABILITY_P)[1],
                       train_step=edit("train_step", NO_ZERO_GRAD)[1])
    passes(unit02.check_denoising_step, notebook.denoising_step)


# ---- behaviour shared by all checks ---------------------------------------------------------------
def test_a_failed_check_prints_a_cross_and_does_not_raise_in_a_students_notebook():
    raised, lines = printed(unit02.check_reconstruction_loss, F.binary_cross_entropy_with_logits, strict=False)
    assert not raised and any(line.startswith(f"{FAIL} reconstruction_loss") for line in lines)


def test_every_message_is_one_line_in_a_students_notebook():
    for name, fn in [("modules", REFERENCE["modules"]), ("reconstruction_loss", F.binary_cross_entropy_with_logits),
                     ("train_step", planted(2, "train_step", STUB).train_step),
                     ("corrupt", lambda x, p, generator=None: x + p)]:
        assert printed(CHECK[name], fn, strict=False)[1]


def test_pass_lines_are_identical_across_runs():
    def run():
        return [line for name in ("modules", "train_step", "corrupt") for line in passes(CHECK[name], REFERENCE[name])]
    assert run() == run()


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    unit02.check_modules(S.Encoder, S.Decoder)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("returned", [None, "0.5", [torch.zeros(2)]])
def test_loss_check_reports_a_wrong_return_value_in_one_line(returned):
    fails(unit02.check_reconstruction_loss, lambda logits, x: returned, hint="expected a tensor", one=True)


def test_ready_skips_in_one_line_naming_the_decoder(capsys):
    class Decoder(S.Decoder):          # a decoder ending in tanh, under the student's name
        def forward(self, z):
            return torch.tanh(super().forward(z))

    assert unit02.ready(S.Encoder, S.Decoder, S.reconstruction_loss, S.train_step)
    assert capsys.readouterr().out == ""
    assert not unit02.ready(S.Encoder, Decoder, S.reconstruction_loss, S.train_step)
    out = capsys.readouterr().out
    assert out.startswith("\u23ed skipped") and "`Decoder` (Part 1" in out
    assert len(out.strip().splitlines()) == 1
