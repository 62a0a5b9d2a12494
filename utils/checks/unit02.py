"""Self-checks for exercise 02 (autoencoders): modules, loss, training step, denoising.

Every check builds its own fixed inputs (seeded, on the CPU) and computes the reference answer
here, so that the pass lines are the same in every run and need no data set.
"""
from __future__ import annotations

import copy
import math

import torch
from torch.nn import functional as F

from . import SelfCheck, _Abort

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


def _build(sc: SelfCheck, Encoder, Decoder, z_dim: int, seed: int = 0):
    """The student's encoder and decoder, built with a fixed seed (global RNG left untouched)."""
    def build():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return Encoder(z_dim), Decoder(z_dim)

    return sc.call(build, what=f"Encoder(z_dim={z_dim}) and Decoder(z_dim={z_dim}) build")


def _with_reference(sc: SelfCheck, Encoder, Decoder):
    """The student's encoder and decoder (z_dim=2, seed 0) and a deep copy of each, which a
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
    sc.true(what, False, f"expected a number (the minibatch loss), got {type(loss).__name__}"
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
                "return the loss, one number per batch (did you forget `return`?)")
        raise _Abort
    return loss


def check_modules(Encoder, Decoder) -> None:
    """Encoder(z_dim)(x) has shape (N, z_dim), Decoder(z_dim)(z) returns (N, 784) logits."""
    with SelfCheck("encoder and decoder") as sc:
        x = _images(64, seed=0)
        for z_dim in (2, 10):
            encoder, decoder = _build(sc, Encoder, Decoder, z_dim)
            z = sc.call(encoder, x, what=f"encoder(x) runs (z_dim={z_dim})")
            sc.shape("encoder(x)", z, (64, z_dim),
                     f"the encoder maps each image (784 pixels) to z_dim={z_dim} numbers")
            logits = sc.call(decoder, z, what=f"decoder(z) runs (z_dim={z_dim})")
            sc.shape("decoder(z)", logits, (64, X_DIM),
                     "the decoder maps each code back to 784 pixel logits")
        sc.true("the codes can be negative (no ReLU or sigmoid on z)", bool((z < 0).any()),
                f"all {z.numel()} code values are ≥ 0",
                "end the encoder with a Linear layer: a final ReLU or sigmoid wastes half "
                "the code space or more")
        sc.true("the decoder returns logits (not probabilities)",
                bool((logits < 0).any() or (logits > 1).any()),
                "every decoder output lies in [0, 1]",
                "end the decoder with a Linear layer and no sigmoid: the loss takes logits")
        total = z.double().pow(2).sum() + logits.double().pow(2).mean()
        if total.requires_grad:                    # else no parameter gets a gradient: said below
            total.backward()
        dead = [part for part, module in (("encoder", encoder), ("decoder", decoder))
                for p in module.parameters() if p.grad is None]
        n_params = sum(1 for _ in encoder.parameters()) + sum(1 for _ in decoder.parameters())
        sc.true("gradients reach every parameter of the encoder and the decoder",
                n_params > 0 and not dead,
                "no trainable parameters" if n_params == 0 else
                f"{len(dead)} parameter tensor(s) of the {', '.join(sorted(set(dead)))} get no "
                "gradient",
                "build the layers as attributes (e.g. self.net = nn.Sequential(...)) after "
                "super().__init__(), and use all of them in forward")


def check_reconstruction_loss(reconstruction_loss) -> None:
    """The loss equals BCE on logits summed over pixels, averaged over the batch."""
    with SelfCheck("reconstruction_loss") as sc:
        gen = torch.Generator().manual_seed(2)
        logits = 3 * torch.randn(8, X_DIM, generator=gen)
        x = (torch.rand(8, X_DIM, generator=gen) < 0.3).float()
        expected = _reference_loss(logits, x)
        loss = sc.call(reconstruction_loss, logits.clone(), x.clone(),
                       what="reconstruction_loss(logits, x) runs")
        loss = _loss_tensor(sc, loss, "reconstruction_loss returns a tensor")
        sc.shape("reconstruction_loss(logits, x)", loss, (),
                 "return one number: the per-image sum over pixels, averaged over the batch")
        loss = loss.detach().to(expected.dtype)
        hints = [(expected / X_DIM, "it equals the mean over pixels: sum over the 784 pixels "
                                    "instead (nats per image)"),
                 (expected * len(x), "it equals the sum over the batch: average over the images"),
                 (-expected, "the sign is flipped: the loss is the *negative* log-likelihood"),
                 (_reference_loss(torch.sigmoid(logits), x),
                  "it matches BCE of sigmoid(logits): the inputs are logits already, do not "
                  "apply a sigmoid first")]
        hint = next((h for value, h in hints if torch.isclose(loss, value, rtol=1e-4)),
                    "−log Bernoulli(x | logits) = F.binary_cross_entropy_with_logits(logits, x, "
                    "reduction='none'), summed over pixels, averaged over images")
        sc.close("the value on a fixed batch equals −log Bernoulli(x | logits) in nats per image",
                 loss, expected, atol=1e-3, rtol=1e-5, hint=hint)
        extreme = torch.tensor([[200.0, -200.0, 200.0, -200.0]])
        target = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
        value = sc.call(reconstruction_loss, extreme, target,
                        what="reconstruction_loss runs on extreme logits (±200)")
        value = _loss_tensor(sc, value, "reconstruction_loss returns a tensor on extreme logits")
        sc.close("it stays finite and exact for extreme logits (±200)", value,
                 _reference_loss(extreme, target), atol=1e-3,
                 hint="compute from the logits (binary_cross_entropy_with_logits or "
                      "Bernoulli(logits=...)); log(sigmoid(...)) underflows to log(0)")


def check_train_step(train_step, Encoder, Decoder) -> None:
    """One step: returns the pre-step loss, updates both networks like a reference, lowers the loss."""
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
        loss = sc.call(train_step, encoder, decoder, optimizer, blank, x[:64],
                       what="train_step(encoder, decoder, optimizer, x_input, x_target) runs")
        loss = _loss_value(sc, loss, "train_step returns the minibatch loss")
        hint = ("the loss compares decoder(encoder(x_input)) with x_target, not with x_input"
                if math.isclose(loss, wrong_target.item(), rel_tol=1e-4) else
                "return the loss computed before optimizer.step(), as loss.item()")
        sc.close("it returns the loss of x_target given x_input, before the update",
                 torch.tensor(loss), before, atol=1e-3, rtol=1e-5, hint=hint)
        unchanged = [part for part, module, ref in (("encoder", encoder, ref_encoder),
                                                    ("decoder", decoder, ref_decoder))
                     if all(torch.equal(p, q) for p, q in zip(module.parameters(),
                                                             ref.parameters()))]
        sc.true("it updates the encoder and the decoder", not unchanged,
                f"the {' and the '.join(unchanged)} did not change",
                "call loss.backward() and optimizer.step() inside train_step")

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
        sc.call(two_more_steps, what="two more steps run")
        for batch in (x[64:128], x[128:192]):
            ref_step(batch, batch)
        gap = max((p - q).abs().max().item() for p, q in zip(params, ref_params))
        sc.true("three steps match a reference Adam update step by step", gap < 1e-4,
                f"the parameters differ from the reference's by up to {gap:.3g}",
                "call optimizer.zero_grad() before loss.backward() (otherwise gradients "
                "accumulate), and use reconstruction_loss as the loss")

        # a short run from a fresh start lowers the loss on the whole toy set
        encoder, decoder = _build(sc, Encoder, Decoder, z_dim=2, seed=1)
        optimizer = _adam(encoder, decoder)
        with torch.no_grad():
            start = _reference_loss(decoder(encoder(x)), x).item()
        def short_run():
            for step in range(60):
                batch = x[(step % 4) * 64:(step % 4 + 1) * 64]
                train_step(encoder, decoder, optimizer, batch, batch)

        sc.call(short_run, what="a short training run (60 steps) runs")
        with torch.no_grad():
            end = _reference_loss(decoder(encoder(x)), x).item()
        sc.true("a short training run lowers the loss", end < 0.9 * start,
                f"the loss went from {start:.1f} to {end:.1f} nats per image in 60 steps "
                "(expected at least 10% lower)",
                "check the sign of the loss (minimise the negative log-likelihood)")


def check_corrupt(corrupt) -> None:
    """Masking noise: each pixel is set to 0 with probability p, independently."""
    with SelfCheck("corrupt") as sc:
        gen = torch.Generator().manual_seed(4)
        x = 0.05 + 0.95 * torch.rand(200, X_DIM, generator=gen)  # no zero pixels
        x_copy = x.clone()
        out = sc.call(corrupt, x, 0.25, torch.Generator().manual_seed(0),
                      what="corrupt(x, p=0.25, generator) runs")
        sc.shape("corrupt(x, p, generator)", out, tuple(x.shape),
                 "return a corrupted copy of the whole batch")
        sc.true("x itself is left unchanged", torch.equal(x, x_copy),
                "corrupt modified its input in place",
                "work on a copy (x * mask, or torch.where) instead of x[...] = 0")
        sc.true("every pixel is either kept or set to 0", bool(((out == 0) | (out == x)).all()),
                "some pixels changed to values other than 0",
                "masking noise keeps a pixel or zeroes it: x * (torch.rand(...) >= p)")
        dropped = (out == 0).float().mean().item()
        sc.true("a fraction p of the pixels is dropped", abs(dropped - 0.25) < 0.01,
                f"{dropped:.1%} of the pixels were set to 0 with p = 0.25",
                "drop a pixel when torch.rand(...) < p (not >= p)")
        again = sc.call(corrupt, x, 0.25, torch.Generator().manual_seed(0),
                        what="a second call with an identically seeded generator runs")
        sc.shape("the second call's result", again, tuple(x.shape), quiet=True)
        sc.true("the same generator seed gives the same corruption", torch.equal(out, again),
                "two calls with identically seeded generators gave different masks",
                "pass generator=generator to torch.rand")
        other = sc.call(corrupt, x, 0.25, torch.Generator().manual_seed(1),
                        what="a call with another seed runs")
        sc.shape("the result with another seed", other, tuple(x.shape), quiet=True)
        sc.true("another seed gives another corruption", not torch.equal(out, other),
                "two different seeds gave the same mask", "draw the mask with torch.rand")
        kept = sc.call(corrupt, x, 0.0, None, what="corrupt(x, p=0) runs")
        blank = sc.call(corrupt, x, 1.0, None, what="corrupt(x, p=1) runs")
        for p, result in ((0, kept), (1, blank)):
            sc.shape(f"corrupt(x, p={p})", result, tuple(x.shape), quiet=True)
        sc.true("p = 0 keeps every pixel and p = 1 drops every pixel",
                torch.equal(kept, x) and bool((blank == 0).all()),
                "corrupt(x, 0) is not x or corrupt(x, 1) is not all zeros",
                "drop a pixel when torch.rand(...) < p")


def check_denoising_step(denoising_step, Encoder, Decoder) -> None:
    """A denoising step: the corrupted batch goes in, the clean batch is the target."""
    with SelfCheck("denoising_step") as sc:
        x = _images(64, seed=5)
        encoder, decoder, ref_encoder, ref_decoder = _with_reference(sc, Encoder, Decoder)
        optimizer = _adam(encoder, decoder)
        blank = torch.zeros_like(x)  # p = 1 drops every pixel, whatever the random mask
        with torch.no_grad():
            clean_target = _reference_loss(ref_decoder(ref_encoder(blank)), x)
            noisy_target = _reference_loss(ref_decoder(ref_encoder(blank)), blank)
            no_noise = _reference_loss(ref_decoder(ref_encoder(x)), x)
        loss = sc.call(denoising_step, encoder, decoder, optimizer, x, 1.0,
                       torch.Generator().manual_seed(0),
                       what="denoising_step(encoder, decoder, optimizer, x, p=1, generator) runs")
        loss = _loss_value(sc, loss, "denoising_step returns the minibatch loss")
        if math.isclose(loss, noisy_target.item(), rel_tol=1e-4):
            hint = "the target is the clean x; only the encoder's input is corrupted"
        elif math.isclose(loss, no_noise.item(), rel_tol=1e-4):
            hint = "the encoder should see corrupt(x, p, generator), not x"
        else:
            hint = "return train_step(encoder, decoder, optimizer, corrupt(x, p, generator), x)"
        sc.close("with p = 1 it reconstructs the clean x from a blank input", torch.tensor(loss),
                 clean_target, atol=1e-3, rtol=1e-5, hint=hint)
        changed = any(not torch.equal(p, q) for p, q in zip(decoder.parameters(),
                                                           ref_decoder.parameters()))
        sc.true("it takes an optimizer step", changed, "the decoder's parameters did not change",
                "use train_step, which calls optimizer.step()")
