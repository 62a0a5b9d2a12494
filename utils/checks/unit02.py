"""Self-checks for exercise 02 (autoencoders): modules, loss, training step, denoising.

Every check builds its own fixed inputs (seeded, on the CPU; no data set) and reference answer.
``train_step`` runs with the reference ``reconstruction_loss`` and networks, ``denoising_step``
with the reference ``train_step`` and ``corrupt``: one mistake, one ✗.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from . import ExerciseCheck as SelfCheck, make_ready, number, seeded, with_references
from ._common import X_DIM, generator


# ---- the references ----------------------------------------------------------------------------
def _reference_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log Bernoulli(x | logits), summed over pixels, averaged over images (nats per image)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()


def _network(n_in: int, n_out: int, hidden_dim: int = 64) -> nn.Sequential:
    """n_in → 64 → 64 → n_out, ReLU between, a Linear layer last."""
    return nn.Sequential(nn.Linear(n_in, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim),
                         nn.ReLU(), nn.Linear(hidden_dim, n_out))


def _Encoder(z_dim: int) -> nn.Sequential:
    return _network(X_DIM, z_dim)


def _Decoder(z_dim: int) -> nn.Sequential:
    return _network(z_dim, X_DIM)


def _train_step(encoder, decoder, optimizer, x_input, x_target) -> float:
    loss = _reference_loss(decoder(encoder(x_input)), x_target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _corrupt(x, p, generator=None):
    return x * (torch.rand(x.shape, generator=generator, device=x.device) >= p)


# ---- fixed inputs ------------------------------------------------------------------------------
def _images(n: int, seed: int) -> torch.Tensor:
    """``n`` binary 784-pixel images: noisy copies of four fixed random blobs (a toy MNIST)."""
    gen = generator(seed)
    prototypes = (torch.rand(4, X_DIM, generator=gen) < 0.3).float()
    pick = torch.randint(0, 4, (n,), generator=gen)
    flip = torch.rand(n, X_DIM, generator=gen) < 0.05
    return torch.where(flip, 1 - prototypes[pick], prototypes[pick])


def _build(sc: SelfCheck, Encoder, Decoder, z_dim: int, seed: int = 0):
    """An encoder and a decoder, each built with a fixed seed; the reference ones for None."""
    def build(cls):
        with seeded(seed):
            return cls(z_dim)

    return (sc.call(build, Encoder or _Encoder, what=f"Encoder({z_dim}) builds",
                    quiet=Encoder is None),
            sc.call(build, Decoder or _Decoder, what=f"Decoder({z_dim}) builds",
                    quiet=Decoder is None))


def _with_reference(sc: SelfCheck, Encoder, Decoder):
    """(encoder, decoder) (z_dim = 2, seed 0) and a copy of each for a reference update."""
    encoder, decoder = _build(sc, Encoder, Decoder, z_dim=2)
    return encoder, decoder, copy.deepcopy(encoder), copy.deepcopy(decoder)


def _adam(encoder, decoder) -> torch.optim.Adam:
    return torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)


def _loss(sc: SelfCheck, loss, what: str, number_only: bool = False) -> torch.Tensor:
    """The student's loss as a tensor (a number becomes 0-d; ``number_only``: a number or a
    one-element tensor); else one ✗ line."""
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return torch.as_tensor(float(loss))
    if number_only:
        sc.require(what, isinstance(loss, torch.Tensor) and loss.numel() == 1,
                   f"expected a number, got {type(loss).__name__}"
                   + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""),
                   "return loss.item() of the scalar loss")
    sc.require(what, isinstance(loss, torch.Tensor),
               f"expected a tensor, got {type(loss).__name__}",
               "did you forget `return`? (one number)")
    return loss


# ---- the checks --------------------------------------------------------------------------------
def check_modules(Encoder, Decoder) -> None:
    """Encoder(z_dim)(x): (N, z_dim), can be negative; Decoder(z_dim)(z) of fixed codes: (N, 784)
    unbounded logits; gradients reach every parameter."""
    with SelfCheck("modules") as sc:
        x = _images(64, seed=0)
        gen = generator(6)
        for z_dim in (2, 10):
            encoder, decoder = _build(sc, Encoder, Decoder, z_dim)
            z = sc.call(encoder, x, what=f"encoder(x) runs (z_dim={z_dim})")
            sc.shape("encoder(x)", z, (64, z_dim), f"map each image to z_dim={z_dim} numbers")
            codes = torch.randn(64, z_dim, generator=gen)
            logits = sc.call(decoder, codes, what=f"decoder(z) runs (z_dim={z_dim})")
            sc.shape("decoder(z)", logits, (64, X_DIM), "map each code to 784 pixel logits")
        sc.true("codes can be negative", bool((z < 0).any()),
                f"all {z.numel()} code values are ≥ 0",
                "end the encoder with nn.Linear: no ReLU or Sigmoid on z")
        huge = sc.call(decoder, 100 * codes, what="decoder runs on huge codes (100 × randn)",
                       quiet=True)
        sc.shape("decoder(100 z)", huge, (64, X_DIM), quiet=True)
        sc.require("decoder", not bool(((huge >= -1) & (huge <= 1)).all()),
                   f"outputs all in [{0 if bool((huge >= 0).all()) else -1}, 1] for huge z",
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
    """BCE on logits summed over pixels, averaged over the batch; exact at logits ±200."""
    with SelfCheck("reconstruction_loss") as sc:
        gen = generator(2)
        logits = 3 * torch.randn(8, X_DIM, generator=gen)
        x = (torch.rand(8, X_DIM, generator=gen) < 0.3).float()
        expected = _reference_loss(logits, x)
        loss = sc.call(reconstruction_loss, logits.clone(), x.clone(),
                       what="runs on 8 fixed images")
        loss = _loss(sc, loss, "returns a tensor")
        sc.shape("reconstruction_loss(logits, x)", loss, (), "sum over pixels, mean over images")
        sc.close("value = −log Bernoulli(x | logits), nats per image", loss, expected, 1e-3, 1e-5,
                 "F.binary_cross_entropy_with_logits, summed over pixels", mistakes={
                     "sum over the 784 pixels instead": (expected / X_DIM, "the mean over pixels"),
                     "average over the images": (expected * len(x), "the sum over the batch"),
                     "the loss is the *negative* log-likelihood":
                         (-expected, "the sign is flipped"),
                     "these are logits: apply no sigmoid":
                         (_reference_loss(torch.sigmoid(logits), x), "BCE of sigmoid(logits)")})
        extreme = torch.tensor([[200.0, -200.0, 200.0, -200.0]])
        target = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
        value = sc.call(reconstruction_loss, extreme, target, what="runs on extreme logits (±200)")
        value = _loss(sc, value, "returns a tensor on extreme logits")
        sc.close("it stays finite and exact for extreme logits (±200)", value,
                 _reference_loss(extreme, target), atol=1e-3,
                 hint="log(sigmoid(…)) underflows: use the logits")


def check_train_step(train_step, Encoder=None, Decoder=None) -> None:
    """The pre-step loss, the update of a reference Adam step, a short run lowering the loss; with
    the reference ``reconstruction_loss`` and networks (unless ``Encoder``, ``Decoder`` given)."""
    train_step = with_references(train_step, reconstruction_loss=_reference_loss)
    with SelfCheck("train_step") as sc:
        x = _images(256, seed=3)
        encoder, decoder, ref_encoder, ref_decoder = _with_reference(sc, Encoder, Decoder)
        optimizer, ref_optimizer = _adam(encoder, decoder), _adam(ref_encoder, ref_decoder)
        # step 1: the input is blank, the target is x (so input and target are told apart)
        blank = torch.zeros_like(x[:64])
        with torch.no_grad():
            before = _reference_loss(ref_decoder(ref_encoder(blank)), x[:64])
            wrong_target = _reference_loss(ref_decoder(ref_encoder(blank)), blank)
        loss = sc.call(train_step, encoder, decoder, optimizer, blank, x[:64],
                       what="runs (with the reference reconstruction_loss and networks)")
        loss = _loss(sc, loss, "returns the minibatch loss", number_only=True)
        sc.close("returns the loss before the update", loss, before, 1e-3, 1e-5,
                 "reconstruction_loss(decoder(encoder(x_input)), x_target), before step()",
                 mistakes={"compare decoder(encoder(x_input)) with x_target":
                           (wrong_target, "it compares with x_input")})
        unchanged = [part for part, module, ref in (("encoder", encoder, ref_encoder),
                                                    ("decoder", decoder, ref_decoder))
                     if all(torch.equal(p, q) for p, q in zip(module.parameters(),
                                                             ref.parameters()))]
        sc.true("updates the encoder and the decoder", not unchanged,
                f"{' and '.join(unchanged)} did not change",
                "call loss.backward() and optimizer.step()")
        # the same step and two more on the reference; the parameters must agree
        _train_step(ref_encoder, ref_decoder, ref_optimizer, blank, x[:64])
        batches = (x[64:128], x[128:192])
        sc.call(lambda: [train_step(encoder, decoder, optimizer, b, b) for b in batches],
                what="two more steps run")
        for batch in batches:
            _train_step(ref_encoder, ref_decoder, ref_optimizer, batch, batch)
        flat = [torch.cat([p.detach().flatten() for p in (*e.parameters(), *d.parameters())])
                for e, d in ((encoder, decoder), (ref_encoder, ref_decoder))]
        sc.close("three steps match a reference Adam update step by step", *flat, 1e-4, 0,
                 "call optimizer.zero_grad() first")
        # a short run from a fresh start lowers the loss on the whole toy set
        encoder, decoder = _build(sc, Encoder, Decoder, z_dim=2, seed=1)
        optimizer = _adam(encoder, decoder)
        with torch.no_grad():
            start = _reference_loss(decoder(encoder(x)), x).item()
        batches = [x[(step % 4) * 64:(step % 4 + 1) * 64] for step in range(60)]
        sc.call(lambda: [train_step(encoder, decoder, optimizer, b, b) for b in batches],
                what="a short training run (60 steps) runs")
        with torch.no_grad():
            end = _reference_loss(decoder(encoder(x)), x).item()
        sc.true("a short training run lowers the loss", end < 0.9 * start,
                f"{number(start)} → {number(end)} nats per image in 60 steps",
                "minimise the loss (check its sign)")


def check_corrupt(corrupt) -> None:
    """Masking noise: each pixel set to 0 with probability p, drawn from the generator given."""
    with SelfCheck("corrupt") as sc:
        x = 0.05 + 0.95 * torch.rand(200, X_DIM, generator=generator(4))   # no zero pixels
        x_copy = x.clone()
        out = sc.call(corrupt, x, 0.25, generator(0), what="runs with p = 0.25")
        sc.shape("corrupt(x, p, generator)", out, tuple(x.shape),
                 "return a corrupted copy of the whole batch")
        sc.true("x itself is left unchanged", torch.equal(x, x_copy),
                "it modified x in place", "use x * mask, not x[...] = 0")
        sc.true("every pixel is either kept or set to 0", bool(((out == 0) | (out == x)).all()),
                "pixels changed to values other than 0", "x * (torch.rand(...) >= p)")
        dropped = (out == 0).float().mean().item()
        sc.true("a fraction p of the pixels is dropped", abs(dropped - 0.25) < 0.01,
                f"{dropped:.1%} set to 0 with p = 0.25", "drop a pixel when torch.rand(...) < p")
        again = sc.call(corrupt, x, 0.25, generator(0),
                        what="a second call with an identically seeded generator runs")
        sc.shape("the second call's result", again, tuple(x.shape), quiet=True)
        sc.true("the same seed gives the same corruption", torch.equal(out, again),
                "two equally seeded calls gave different masks",
                "pass generator=generator to torch.rand")
        other = sc.call(corrupt, x, 0.25, generator(1), what="a call with another seed runs")
        sc.shape("the result with another seed", other, tuple(x.shape), quiet=True)
        sc.true("another seed gives another corruption", not torch.equal(out, other),
                "two different seeds gave the same mask", "draw the mask with torch.rand")
        kept, blank = (sc.call(corrupt, x, p, None, what=f"corrupt(x, p={p:g}) runs")
                       for p in (0.0, 1.0))
        for p, result in ((0, kept), (1, blank)):
            sc.shape(f"corrupt(x, p={p})", result, tuple(x.shape), quiet=True)
        sc.true("p = 0 keeps every pixel and p = 1 drops every pixel",
                torch.equal(kept, x) and bool((blank == 0).all()),
                "corrupt(x, 0) is not x or corrupt(x, 1) is not all zeros",
                "drop a pixel when torch.rand(...) < p")


def check_denoising_step(denoising_step, Encoder=None, Decoder=None) -> None:
    """The corrupted batch in, the clean batch the target; with the reference ``train_step`` and
    ``corrupt``, and the reference networks unless given."""
    denoising_step = with_references(denoising_step, train_step=_train_step, corrupt=_corrupt,
                                     reconstruction_loss=_reference_loss)
    with SelfCheck("denoising_step") as sc:
        x = _images(64, seed=5)
        encoder, decoder, ref_encoder, ref_decoder = _with_reference(sc, Encoder, Decoder)
        blank = torch.zeros_like(x)  # p = 1 drops every pixel, whatever the random mask
        with torch.no_grad():
            clean_target = _reference_loss(ref_decoder(ref_encoder(blank)), x)
            noisy_target = _reference_loss(ref_decoder(ref_encoder(blank)), blank)
            no_noise = _reference_loss(ref_decoder(ref_encoder(x)), x)
        loss = sc.call(denoising_step, encoder, decoder, _adam(encoder, decoder), x, 1.0,
                       generator(0),
                       what="runs with p = 1 (with the reference train_step and corrupt)")
        loss = _loss(sc, loss, "returns the minibatch loss", number_only=True)
        sc.close("with p = 1: the loss of the clean x given a blank input", loss, clean_target,
                 1e-3, 1e-5, "train_step(..., corrupt(x, p, generator), x)", mistakes={
                     "the target is the clean x": (noisy_target, "the target is the corrupted x"),
                     "the encoder sees corrupt(x, p, generator)":
                         (no_noise, "the input is the clean x")})
        changed = any(not torch.equal(p, q) for p, q in zip(decoder.parameters(),
                                                           ref_decoder.parameters()))
        sc.true("it takes an optimizer step", changed, "the decoder's parameters did not change",
                "use train_step, which calls optimizer.step()")


ready = make_ready({
    "Encoder": ("Part 1", lambda Encoder: check_modules(Encoder, _Decoder)),
    "Decoder": ("Part 1", lambda Decoder: check_modules(_Encoder, Decoder)),
    "reconstruction_loss": ("Part 2", check_reconstruction_loss),
    "train_step": ("Part 3", check_train_step),
    "corrupt": ("Part 4", check_corrupt),
    "denoising_step": ("Part 4", check_denoising_step),
})
