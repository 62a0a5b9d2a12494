"""Self-checks for exercise 02 (autoencoders): modules, loss, training step, denoising.

Every check builds its own fixed inputs (seeded, on the CPU) and computes the reference answer
here, so that the pass lines are the same in every run and need no data set. A check tests its
function against the reference versions of what it builds on: ``train_step`` runs with the reference
``reconstruction_loss`` and reference networks, ``denoising_step`` with the reference ``train_step``
and ``corrupt``, so one mistake gives one ✗ with the hint that fits it. :func:`ready` lets a notebook
cell that uses the student's functions skip itself with one line while one of them is unfinished
or wrong.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from . import SelfCheck, _Abort, is_stub, make_ready, number
from .._validate import one_line
from .unit01 import NOT_WRITTEN, _with_references

X_DIM = 784


def _reference_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log Bernoulli(x | logits), summed over pixels, averaged over images (nats per image)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()


def _images(n: int, seed: int) -> torch.Tensor:
    """``n`` binary 784-pixel images: noisy copies of four fixed random blobs (a toy MNIST)."""
    gen = torch.Generator().manual_seed(seed)
    prototypes = (torch.rand(4, X_DIM, generator=gen) < 0.3).float()
    pick = torch.randint(0, 4, (n,), generator=gen)
    flip = torch.rand(n, X_DIM, generator=gen) < 0.05
    return torch.where(flip, 1 - prototypes[pick], prototypes[pick])


class _Encoder(nn.Module):
    """The reference encoder: 784 → 64 → 64 → z_dim, ReLU between, a Linear layer last."""

    def __init__(self, z_dim: int, hidden_dim: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(X_DIM, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, z_dim))

    def forward(self, x):
        return self.net(x)


class _Decoder(nn.Module):
    """The reference decoder: z_dim → 64 → 64 → 784 logits."""

    def __init__(self, z_dim: int, hidden_dim: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, X_DIM))

    def forward(self, z):
        return self.net(z)


def _train_step(encoder, decoder, optimizer, x_input, x_target) -> float:
    """The reference training step."""
    loss = _reference_loss(decoder(encoder(x_input)), x_target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _corrupt(x, p, generator=None):
    """The reference masking noise."""
    return x * (torch.rand(x.shape, generator=generator, device=x.device) >= p)


def _seeded(sc: SelfCheck, cls, z_dim: int, seed: int, what: str, quiet: bool = False):
    """``cls(z_dim)`` built with a fixed seed (the global random state is left untouched)."""
    def build():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(z_dim)

    return _call(sc, build, what=what, quiet=quiet)


def _build(sc: SelfCheck, Encoder, Decoder, z_dim: int, seed: int = 0):
    """An encoder and a decoder, built with a fixed seed; the reference ones when None."""
    return (_seeded(sc, Encoder or _Encoder, z_dim, seed, f"Encoder({z_dim}) builds", Encoder is None),
            _seeded(sc, Decoder or _Decoder, z_dim, seed, f"Decoder({z_dim}) builds", Decoder is None))


def _with_reference(sc: SelfCheck, Encoder, Decoder):
    """An encoder and a decoder (z_dim=2, seed 0) and a deep copy of each, which a
    reference update steps alongside: (encoder, decoder, ref_encoder, ref_decoder)."""
    encoder, decoder = _build(sc, Encoder, Decoder, z_dim=2)
    return encoder, decoder, copy.deepcopy(encoder), copy.deepcopy(decoder)


def _adam(encoder, decoder) -> torch.optim.Adam:
    """Adam with learning rate 1e-3 over the encoder's and the decoder's parameters."""
    return torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)


def _loss_value(sc: SelfCheck, loss, what: str) -> float:
    """The loss returned by a student's step as a float (a Python number or a one-element tensor);
    anything else is one ✗ line and stops the group. No pass line."""
    if isinstance(loss, torch.Tensor) and loss.numel() == 1:
        return float(loss.item())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    sc.true(what, False, f"expected a number, got {type(loss).__name__}"
            + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""),
            "return loss.item() of the scalar loss")
    raise _Abort


def _loss_tensor(sc: SelfCheck, loss, what: str) -> torch.Tensor:
    """The loss returned by the student's function as a tensor (a Python number becomes 0-d);
    anything else (None, a list, ...) is one ✗ line and stops the group. No pass line."""
    if isinstance(loss, (int, float)):
        loss = torch.as_tensor(loss)
    if not isinstance(loss, torch.Tensor):
        sc.true(what, False, f"expected a tensor, got {type(loss).__name__}",
                "did you forget `return`? (one number)")
        raise _Abort
    return loss


def _fail(sc: SelfCheck, what: str, problem: str, hint: str) -> None:
    """One ✗ line, then stop the group (one mistake, one ✗)."""
    sc.true(what, False, problem, hint)
    raise _Abort


def _call(sc: SelfCheck, fn: Callable, *args, what: str, note: str = "", quiet: bool = False):
    """Run the student's ``fn``: its result and a ✓ line (``what`` and ``note``; none if
    ``quiet``), or one short ✗ line (``what``) and stop the group."""
    try:
        result = fn(*args)
    except Exception as err:  # the student's bug: one line, not a traceback wall
        if is_stub(err):      # the exercise's stub (not torch's NotImplementedError)
            _fail(sc, what, "not implemented yet", NOT_WRITTEN)
        message = one_line(err)
        message = message if len(message) <= 36 else message[:35] + "…"
        _fail(sc, what, f"raised {type(err).__name__}: {message}", "run it by hand to see the traceback")
    if not quiet:
        sc.true(f"{what} {note}".strip(), True, "")
    return result


def check_modules(Encoder, Decoder) -> None:
    """Encoder(z_dim)(x) has shape (N, z_dim) and can be negative; Decoder(z_dim)(z) returns
    (N, 784) logits, unbounded (no Sigmoid or Tanh at the end). The decoder gets fixed random codes,
    not the student's encoder's output; the group stops at its first ✗."""
    with SelfCheck("modules") as sc:
        x = _images(64, seed=0)
        gen = torch.Generator().manual_seed(6)
        for z_dim in (2, 10):
            encoder, decoder = _build(sc, Encoder, Decoder, z_dim)
            z = _call(sc, encoder, x, what=f"encoder(x) runs (z_dim={z_dim})")
            sc.shape("encoder(x)", z, (64, z_dim), f"map each image to z_dim={z_dim} numbers")
            codes = torch.randn(64, z_dim, generator=gen)
            logits = _call(sc, decoder, codes, what=f"decoder(z) runs (z_dim={z_dim})")
            sc.shape("decoder(z)", logits, (64, X_DIM), "map each code to 784 pixel logits")
        if not bool((z < 0).any()):
            _fail(sc, "codes can be negative", f"all {z.numel()} code values are ≥ 0",
                  "end the encoder with nn.Linear: no ReLU or Sigmoid on z")
        sc.true("codes can be negative", True, "")
        huge = _call(sc, decoder, 100 * codes, what="decoder runs on huge codes (100 × randn)",
                     quiet=True)
        sc.shape("decoder(100 z)", huge, (64, X_DIM), quiet=True)
        if bool(((huge >= -1) & (huge <= 1)).all()):
            low = 0 if bool((huge >= 0).all()) else -1
            _fail(sc, "decoder", f"outputs all in [{low}, 1] for huge z",
                  "the loss takes logits: no Sigmoid or Tanh at the end")
        sc.true("decoder outputs are logits (unbounded: no Sigmoid or Tanh at the end)", True, "")
        total = z.cpu().double().pow(2).sum() + logits.cpu().double().pow(2).mean()
        if total.requires_grad:                    # else no parameter gets a gradient: said below
            total.backward()
        dead = [part for part, module in (("encoder", encoder), ("decoder", decoder))
                for p in module.parameters() if p.grad is None]
        n_params = sum(1 for _ in encoder.parameters()) + sum(1 for _ in decoder.parameters())
        sc.true("gradients reach every parameter of the encoder and the decoder",
                n_params > 0 and not dead,
                "no trainable parameters" if n_params == 0 else
                f"{len(dead)} {' and '.join(sorted(set(dead)))} tensor(s) get no gradient",
                "use every layer you build in forward")


def check_reconstruction_loss(reconstruction_loss) -> None:
    """The loss equals BCE on logits summed over pixels, averaged over the batch."""
    with SelfCheck("reconstruction_loss") as sc:
        gen = torch.Generator().manual_seed(2)
        logits = 3 * torch.randn(8, X_DIM, generator=gen)
        x = (torch.rand(8, X_DIM, generator=gen) < 0.3).float()
        expected = _reference_loss(logits, x)
        loss = _call(sc, reconstruction_loss, logits.clone(), x.clone(),
                     what="runs", note="on 8 fixed images")
        loss = _loss_tensor(sc, loss, "returns a tensor")
        sc.shape("reconstruction_loss(logits, x)", loss, (),
                 "sum over pixels, mean over images")
        loss = loss.detach().to(expected.dtype)
        hints = [(expected / X_DIM, "the mean over pixels", "sum over the 784 pixels instead"),
                 (expected * len(x), "the sum over the batch", "average over the images"),
                 (-expected, "the sign is flipped", "the loss is the *negative* log-likelihood"),
                 (_reference_loss(torch.sigmoid(logits), x), "BCE of sigmoid(logits)",
                  "these are logits: apply no sigmoid")]
        what = "value (nats per image)"
        if not torch.isclose(loss, expected, rtol=1e-5, atol=1e-3):
            problem, hint = next(((p, h) for value, p, h in hints
                                  if torch.isclose(loss, value, rtol=1e-4)),
                                 (f"{number(loss)} instead of {number(expected)}",
                                  "F.binary_cross_entropy_with_logits, summed over pixels"))
            _fail(sc, what, problem, hint)
        sc.true("value = −log Bernoulli(x | logits), nats per image", True, "")
        extreme = torch.tensor([[200.0, -200.0, 200.0, -200.0]])
        target = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
        value = _call(sc, reconstruction_loss, extreme, target,
                      what="runs on extreme logits (±200)")
        value = _loss_tensor(sc, value, "returns a tensor on extreme logits")
        sc.close("it stays finite and exact for extreme logits (±200)", value,
                 _reference_loss(extreme, target), atol=1e-3,
                 hint="log(sigmoid(…)) underflows: use the logits")


def check_train_step(train_step, Encoder=None, Decoder=None) -> None:
    """One step: returns the pre-step loss, updates both networks like a reference, lowers the loss.
    It runs with the reference ``reconstruction_loss`` in place of the student's, and with the
    reference networks unless ``Encoder`` and ``Decoder`` are given."""
    train_step = _with_references(train_step, reconstruction_loss=_reference_loss)
    with SelfCheck("train_step") as sc:
        x = _images(256, seed=3)
        encoder, decoder, ref_encoder, ref_decoder = _with_reference(sc, Encoder, Decoder)
        params = list(encoder.parameters()) + list(decoder.parameters())
        ref_params = list(ref_encoder.parameters()) + list(ref_decoder.parameters())
        optimizer = torch.optim.Adam(params, lr=1e-3)
        ref_optimizer = torch.optim.Adam(ref_params, lr=1e-3)

        # step 1: the input is blank, the target is x (so input and target are told apart)
        blank = torch.zeros_like(x[:64])
        with torch.no_grad():
            before = _reference_loss(ref_decoder(ref_encoder(blank)), x[:64])
            wrong_target = _reference_loss(ref_decoder(ref_encoder(blank)), blank)
        loss = _call(sc, train_step, encoder, decoder, optimizer, blank, x[:64],
                     what="runs", note="(with the reference reconstruction_loss and networks)")
        loss = _loss_value(sc, loss, "returns the minibatch loss")
        what = "returns the loss before the update"
        if not math.isclose(loss, before.item(), rel_tol=1e-5, abs_tol=1e-3):
            if math.isclose(loss, wrong_target.item(), rel_tol=1e-4):
                _fail(sc, what, "it compares with x_input", "compare decoder(encoder(x_input)) "
                      "with x_target")
            _fail(sc, what, f"{number(loss)} instead of {number(before)}",
                  "reconstruction_loss(decoder(encoder(x_input)), x_target), before step()")
        sc.true(what, True, "")
        unchanged = [part for part, module, ref in (("encoder", encoder, ref_encoder),
                                                    ("decoder", decoder, ref_decoder))
                     if all(torch.equal(p, q) for p, q in zip(module.parameters(),
                                                             ref.parameters()))]
        if unchanged:
            _fail(sc, "updates both networks", f"{' and '.join(unchanged)} did not change",
                  "call loss.backward() and optimizer.step()")
        sc.true("updates the encoder and the decoder", True, "")

        # the same step and two more on the reference; the parameters must agree
        def ref_step(x_in, x_target):
            loss = _reference_loss(ref_decoder(ref_encoder(x_in)), x_target)
            ref_optimizer.zero_grad()
            loss.backward()
            ref_optimizer.step()

        def two_more_steps():
            for batch in (x[64:128], x[128:192]):
                train_step(encoder, decoder, optimizer, batch, batch)

        ref_step(blank, x[:64])
        _call(sc, two_more_steps, what="two more steps run")
        for batch in (x[64:128], x[128:192]):
            ref_step(batch, batch)
        gap = max((p - q).abs().max().item() for p, q in zip(params, ref_params))
        if not gap < 1e-4:
            _fail(sc, "3 steps = reference Adam steps", f"off by up to {number(gap)}",
                  "call optimizer.zero_grad() first")
        sc.true("three steps match a reference Adam update step by step", True, "")

        # a short run from a fresh start lowers the loss on the whole toy set
        encoder, decoder = _build(sc, Encoder, Decoder, z_dim=2, seed=1)
        optimizer = _adam(encoder, decoder)
        with torch.no_grad():
            start = _reference_loss(decoder(encoder(x)), x).item()

        def short_run():
            for step in range(60):
                batch = x[(step % 4) * 64:(step % 4 + 1) * 64]
                train_step(encoder, decoder, optimizer, batch, batch)

        _call(sc, short_run, what="a short training run (60 steps) runs")
        with torch.no_grad():
            end = _reference_loss(decoder(encoder(x)), x).item()
        sc.true("a short training run lowers the loss", end < 0.9 * start,
                f"{number(start)} → {number(end)} nats per image in 60 steps",
                "minimise the loss (check its sign)")


def check_corrupt(corrupt) -> None:
    """Masking noise: each pixel is set to 0 with probability p, independently."""
    with SelfCheck("corrupt") as sc:
        gen = torch.Generator().manual_seed(4)
        x = 0.05 + 0.95 * torch.rand(200, X_DIM, generator=gen)  # no zero pixels
        x_copy = x.clone()
        out = _call(sc, corrupt, x, 0.25, torch.Generator().manual_seed(0),
                    what="runs with p = 0.25")
        sc.shape("corrupt(x, p, generator)", out, tuple(x.shape),
                 "return a corrupted copy of the whole batch")
        sc.true("x itself is left unchanged", torch.equal(x, x_copy),
                "it modified x in place", "use x * mask, not x[...] = 0")
        sc.true("every pixel is either kept or set to 0", bool(((out == 0) | (out == x)).all()),
                "pixels changed to values other than 0",
                "x * (torch.rand(...) >= p)")
        dropped = (out == 0).float().mean().item()
        sc.true("a fraction p of the pixels is dropped", abs(dropped - 0.25) < 0.01,
                f"{dropped:.1%} set to 0 with p = 0.25", "drop a pixel when torch.rand(...) < p")
        again = _call(sc, corrupt, x, 0.25, torch.Generator().manual_seed(0),
                      what="a second call with an identically seeded generator runs")
        sc.shape("the second call's result", again, tuple(x.shape), quiet=True)
        sc.true("the same seed gives the same corruption", torch.equal(out, again),
                "two equally seeded calls gave different masks",
                "pass generator=generator to torch.rand")
        other = _call(sc, corrupt, x, 0.25, torch.Generator().manual_seed(1),
                      what="a call with another seed runs")
        sc.shape("the result with another seed", other, tuple(x.shape), quiet=True)
        sc.true("another seed gives another corruption", not torch.equal(out, other),
                "two different seeds gave the same mask", "draw the mask with torch.rand")
        kept = _call(sc, corrupt, x, 0.0, None, what="corrupt(x, p=0) runs")
        blank = _call(sc, corrupt, x, 1.0, None, what="corrupt(x, p=1) runs")
        for p, result in ((0, kept), (1, blank)):
            sc.shape(f"corrupt(x, p={p})", result, tuple(x.shape), quiet=True)
        sc.true("p = 0 keeps every pixel and p = 1 drops every pixel",
                torch.equal(kept, x) and bool((blank == 0).all()),
                "corrupt(x, 0) is not x or corrupt(x, 1) is not all zeros",
                "drop a pixel when torch.rand(...) < p")


def check_denoising_step(denoising_step, Encoder=None, Decoder=None) -> None:
    """A denoising step: the corrupted batch goes in, the clean batch is the target. It runs with
    the reference ``train_step`` and ``corrupt`` in place of the student's, and with the reference
    networks unless ``Encoder`` and ``Decoder`` are given."""
    denoising_step = _with_references(denoising_step, train_step=_train_step, corrupt=_corrupt,
                                      reconstruction_loss=_reference_loss)
    with SelfCheck("denoising_step") as sc:
        x = _images(64, seed=5)
        encoder, decoder, ref_encoder, ref_decoder = _with_reference(sc, Encoder, Decoder)
        optimizer = _adam(encoder, decoder)
        blank = torch.zeros_like(x)  # p = 1 drops every pixel, whatever the random mask
        with torch.no_grad():
            clean_target = _reference_loss(ref_decoder(ref_encoder(blank)), x)
            noisy_target = _reference_loss(ref_decoder(ref_encoder(blank)), blank)
            no_noise = _reference_loss(ref_decoder(ref_encoder(x)), x)
        loss = _call(sc, denoising_step, encoder, decoder, optimizer, x, 1.0,
                     torch.Generator().manual_seed(0), what="runs with p = 1",
                     note="(with the reference train_step and corrupt)")
        loss = _loss_value(sc, loss, "returns the minibatch loss")
        what = "with p = 1: the loss of the clean x given a blank input"
        if not math.isclose(loss, clean_target.item(), rel_tol=1e-5, abs_tol=1e-3):
            if math.isclose(loss, noisy_target.item(), rel_tol=1e-4):
                _fail(sc, what, "the target is the corrupted x", "the target is the clean x")
            if math.isclose(loss, no_noise.item(), rel_tol=1e-4):
                _fail(sc, what, "the input is the clean x", "the encoder sees corrupt(x, p, generator)")
            _fail(sc, what, f"{number(loss)} instead of {number(clean_target)}",
                  "train_step(..., corrupt(x, p, generator), x)")
        sc.true(what, True, "")
        changed = any(not torch.equal(p, q) for p, q in zip(decoder.parameters(),
                                                           ref_decoder.parameters()))
        sc.true("it takes an optimizer step", changed, "the decoder's parameters did not change",
                "use train_step, which calls optimizer.step()")


# ---- for the notebook's cells that use the student's functions -------------------------------------
_PARTS: dict[str, tuple[str, Callable[[Callable], None]]] = {
    "Encoder": ("Part 1", lambda Encoder: check_modules(Encoder, _Decoder)),
    "Decoder": ("Part 1", lambda Decoder: check_modules(_Encoder, Decoder)),
    "reconstruction_loss": ("Part 2", check_reconstruction_loss),
    "train_step": ("Part 3", check_train_step),
    "corrupt": ("Part 4", check_corrupt),
    "denoising_step": ("Part 4", check_denoising_step),
}

ready = make_ready(_PARTS)
