"""Self-checks for exercise 06: what the ELBO trades off.

The student writes four functions:

- ``rate_distortion(vae, x, eps=None) -> (D, R)``: the distortion −log p(x|z) of each image (N,)
  at z = z_loc + z_scale ⊙ eps and the rate of each image and latent dimension (N, z_dim), the KL
  of q(z_d|x) from p(z_d) in closed form (lecture 06 returns the rate summed over dimensions);
- ``active_units(vae, x, threshold=0.01) -> (count, variance)``: Var over the images x of each
  latent dimension's posterior mean under vae's encoder, and how many exceed the threshold (Burda
  et al., 2016; lecture 06 starts from the means);
- ``iwae_negative_bound(vae, x, k, eps=None) -> (loss (N,), weights (K, N))``:
  −[logsumexp_k log w_k − log K] with ``eps`` of shape (K, N, z_dim), and the normalised
  importance weights softmax_k log w_k (lecture 06 returns the loss only);
- ``free_bits_rate(z_loc, z_scale, lam) -> ()``: Σ_d max(λ, mean over the batch of KL_d)
  (Kingma et al., 2016), which lecture 06 does not write out.

Each check runs one function on fixed weights, images and noise and compares it with a reference:
:mod:`utils.tradeoffs` for the first three (the lecture's reusable copy), :func:`free_bits_rate`
below for the fourth. A check uses only the reference encoder and decoder (:class:`utils.vae.VAE`),
never another of the student's functions, so one mistake gives one ✗. A ✗ names what differed and
by how much, with one hint: the typical mistake that reproduces the student's numbers, when one
does. A check stops at its first ✗, so it gives at most one hint per function. Whatever the
student's function returns or raises, a check prints one line per check, never a traceback: a ✗
line has at most 120 characters (an error message of the student's is cut to fit), a ✓ line far
fewer, so that both read in a narrow notebook. Random numbers come from fixed seeds in a forked
generator: every run prints the same lines, and the caller's random state is left alone.

:func:`ready` lets a notebook cell that uses the student's functions skip itself with one line
while one of them is unfinished or wrong.
"""
from __future__ import annotations

import contextlib
import io
import math
import re
import warnings
from typing import Any, Callable, Iterator

import torch
from torch.distributions import Normal
from torch.nn import functional as F

from . import FAIL, PASS, is_stub, make_ready, number
from . import SelfCheck as _SelfCheck
from .. import tradeoffs
from ..vae import VAE

N, Z_DIM, HIDDEN, X_DIM = 64, 4, 64, 784    # the fixed batch and model of the checks
K = 5                                       # importance samples in the iwae check
LAM = 0.5                                   # free bits per latent dimension, in nats
THRESHOLD = 0.01                            # Burda et al.'s activity threshold
LINE = 120                                  # the longest ✗ line, in characters
NOT_IMPLEMENTED = "replace the `raise NotImplementedError` with your code"
NO_GRAD_HINT = "stay in torch: no .detach(), .item() or no_grad()"
NOT_TENSOR_HINT = "stay in torch: no .item() or .numpy()"


_TOLERANCE = re.compile(r" \(tolerance [^)]*\)")


class SelfCheck(_SelfCheck):
    """utils.checks.SelfCheck with shorter ✗ lines: a gap is said in fewer words ("off by up to
    1.7", without the tolerance)."""

    def _report(self, what: str, problem: str | None, hint: str = "") -> bool:
        if problem is not None:
            problem = _TOLERANCE.sub("", problem).replace("differs from the reference by", "off by")
        return super()._report(what, problem, hint)


# ---- the reference free-bits rate (lecture 06 does not write it out) ----------------------------------
def free_bits_rate(z_loc: torch.Tensor, z_scale: torch.Tensor, lam: float) -> torch.Tensor:
    """The free-bits rate of a batch (Kingma et al., 2016), a 0-d tensor in nats per image:
    Σ_d max(λ, (1/N) Σ_n KL_nd), KL_nd = ½ (μ_nd² + σ_nd² − 1 − log σ_nd²). Each latent dimension
    pays at least λ nats; below that its KL has no gradient, so nothing pushes it to the prior."""
    kl = 0.5 * (z_loc.pow(2) + z_scale.pow(2) - 1 - 2 * z_scale.log())    # (N, z_dim)
    return kl.mean(0).clamp(min=lam).sum()


# ---- fixed inputs ------------------------------------------------------------------------------------
@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """torch's global generator seeded with ``seed`` inside, restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _small_vae(seed: int = 0) -> VAE:
    """A small VAE with fixed weights: its guide sits away from the prior (a few nats of rate) and
    its decoder reacts to z, so the K importance weights of an image differ by several nats."""
    with _seeded(seed):
        vae = VAE(Z_DIM, HIDDEN)
    with torch.no_grad():
        vae.encoder.loc.bias.copy_(torch.tensor([0.8, -0.6, 0.3, 1.0]))
        vae.encoder.log_scale.bias.fill_(-0.7)
        vae.decoder.net[0].weight.mul_(4.0)
    return vae


def _saturated(seed: int = 0) -> tuple[VAE, torch.Tensor]:
    """A small VAE whose decoder gives logits of about ±40 (first half of the pixels +40, second
    half −40) and binary images that contradict half of them: −log p of such a pixel is 40 nats,
    which BCE on sigmoid(logits) cannot give (1 − sigmoid(40) is 0 in float32; BCE clamps its log
    at −100)."""
    vae = _small_vae(seed)
    with torch.no_grad():
        last = vae.decoder.net[-1]
        last.weight.mul_(0.01)
        last.bias.copy_(torch.cat([torch.full((X_DIM // 2,), 40.0), torch.full((X_DIM // 2,), -40.0)]))
    x = torch.zeros(N, X_DIM)
    x[:, ::2] = 1.0                                  # every other pixel on: half contradict the logits
    return vae, x


SIGMOID_HINT = "use BCE with logits: BCE on sigmoid(logits) saturates"


def _binary_images(seed: int = 0, n: int = N) -> torch.Tensor:
    """Fixed binary 'images': each pixel on with a probability that varies over the image."""
    gen = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.rand(n, X_DIM, generator=gen) ** 3, generator=gen)


def _noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _activity_codes() -> torch.Tensor:
    """Posterior means (500, 9) whose per-dimension variances over the images (biased) are exactly
    VARIANCES: 4 dimensions above 0.01, 2 above 0.1, 6 with a standard deviation above 0.01, and
    a last dimension constant at 0.5 (variance 0). Every dimension has a non-zero mean."""
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(500, len(_VARIANCES) - 1, generator=gen, dtype=torch.float64)
    z = (z - z.mean(0)) / z.std(0, unbiased=False)
    z = z * torch.tensor(_VARIANCES[:-1], dtype=torch.float64).sqrt() + 0.3
    return torch.cat([z, torch.full((500, 1), 0.5, dtype=torch.float64)], 1).float()


_VARIANCES = [1.0, 0.3, 0.05, 0.02, 0.006, 0.003, 1e-5, 1e-6, 0.0]


def _free_bits_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """(z_loc, z_scale) of 64 images and 6 dimensions: dimensions 0-1 far from the prior (mean KL
    above λ), 2-3 at it, 4-5 at it except for 8 images (mean KL below λ, some images above it)."""
    gen = torch.Generator().manual_seed(4)
    z_loc = torch.randn(N, 6, generator=gen) * torch.tensor([1.5, 1.5, 0.05, 0.05, 0.05, 0.05])
    z_scale = torch.cat([0.3 + 0.5 * torch.rand(N, 2, generator=gen),
                         0.95 + 0.05 * torch.rand(N, 4, generator=gen)], 1)
    z_loc[:8, 4:] = 1.5
    return z_loc, z_scale


# ---- helpers -----------------------------------------------------------------------------------------
def _clip(sc: SelfCheck, what: str, lead: str, err: BaseException, hint: str = "") -> str:
    """``lead`` and the first line of ``err``'s message (the student's, of any length), cut with " …"
    so that the ✗ line ``what`` of ``sc`` with ``hint`` stays within LINE characters."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = f"{lead}{lines[0] if lines else ''}" + (" …" if len(lines) > 1 else "")
    room = LINE - len(f"{FAIL} {sc.name}: {what}: ") - (len(f". Hint: {hint}") if hint else 0)
    room = max(room, len(lead) + 12)
    if len(text) <= room:
        return text
    cut = text[:room - 1]
    if " " in cut[len(lead) + 8:]:   # at a word's end, when one is near
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,:;") + " …"


def _describe(value: Any) -> str:
    """What a student's function returned, in a few words: "None", "a NumPy array", "a float",
    "a tensor of shape (64,)"."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if type(value).__module__.split(".")[0] == "numpy":
        return "a NumPy array" if getattr(value, "ndim", 0) else "a NumPy number"
    name = type(value).__name__
    return ("an " if name[0] in "aeiou" else "a ") + name


def _run(sc: SelfCheck, fn: Callable, *args, what: str, hint: str = "", quiet: bool = False):
    """Run the student's ``fn``: (True, result), or (False, None) after one ✗ line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(*args)
    except Exception as err:  # the student's bug: one line, not a traceback wall
        if is_stub(err):      # the exercise's stub (not torch's NotImplementedError)
            sc.true(what, False, "not implemented yet", NOT_IMPLEMENTED)
            return False, None
        hint = hint or "run it by hand for the full traceback"
        sc.true(what, False, _clip(sc, what, f"{type(err).__name__}: ", err, hint), hint)
        return False, None
    if not quiet:
        sc.true(what, True, "")
    return True, result


def _float_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def _not_a_tensor(name: str, value: Any, hint: str = NOT_TENSOR_HINT) -> tuple[str, str]:
    """(problem, hint) for a value that should have been a float torch tensor; ``name`` is "D", say,
    or "" for the function's only result."""
    lead = f"{name} is " if name else "got "
    if value is None:
        return f"{lead}None", "did you forget a `return`?"
    if isinstance(value, torch.Tensor):
        return f"{lead}{value.dtype}, not float", "compute it in floating point"
    kind = _describe(value)
    return (f"{lead}{kind}, not a tensor" if name else f"{kind}, not a tensor"), hint


def _near(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> bool:
    """True when tensors of the same shape agree within ``tol`` relative to |b| + 1."""
    try:
        a, b = a.detach().cpu().double(), b.detach().cpu().double()
    except Exception:
        return False
    return a.shape == b.shape and bool(((a - b).abs() <= tol * (b.abs() + 1)).all())


def _hint(actual: torch.Tensor, candidates: dict[str, torch.Tensor], default: str) -> str:
    """The hint of the first typical mistake that reproduces ``actual``, else ``default``."""
    for hint, wrong in candidates.items():
        if _near(actual, wrong):
            return hint
    return default


def _same_gradients(sc: SelfCheck, what: str, loss: Any, expected: torch.Tensor,
                    params: dict[str, torch.Tensor], hint: str) -> bool:
    """Pass when the gradient of ``loss`` (the student's) w.r.t. each of ``params`` matches the one of
    ``expected`` (the reference's)."""
    names, tensors = list(params), list(params.values())
    if not (_float_tensor(loss) and loss.requires_grad):
        return sc.true(what, False, "carries no gradient", hint)
    wanted = torch.autograd.grad(expected.sum(), tensors)
    try:
        got = torch.autograd.grad(loss.sum(), tensors, allow_unused=True)
    except Exception as err:
        return sc.true(what, False, _clip(sc, what, "backward failed: ", err, NO_GRAD_HINT),
                       NO_GRAD_HINT)
    wrong = [name for name, g, e in zip(names, got, wanted)
             if g is None or g.shape != e.shape
             or not torch.allclose(g, e, rtol=1e-3, atol=1e-4 * (e.abs().max().item() + 1e-6))]
    return sc.true(what, not wrong, _clip(sc, what, "missing or wrong for ", ValueError(
        ", ".join(wrong) + f" ({len(wrong)} of {len(names)})"), hint), hint)


def _not_a_pair(out: Any, returns: str) -> tuple[str, str] | None:
    """(problem, hint) when ``out`` is None, not a tuple or list, or not of length 2; else None.
    ``returns`` is the return statement the hints ask for ("distortion, rate")."""
    if out is None:
        return "returned None", f"end with `return {returns}`"
    if isinstance(out, torch.Tensor) or not isinstance(out, (tuple, list)):
        return f"got {_describe(out)}, not a pair", f"end with `return {returns}`"
    if len(out) != 2:
        return f"got {len(out)} values, not 2", f"return exactly two: `return {returns}`"
    return None


def _check_result(sc: SelfCheck, what: str, problem: tuple[str, str] | None,
                  quiet: bool = False) -> bool:
    """The line ``what`` on what the student's function returned: ✗ with (problem, hint) when
    ``problem`` is not None; else ✓, or no line when ``quiet``. True when there is no problem."""
    if problem:
        sc.true(what, False, *problem)
        return False
    if not quiet:
        sc.true(what, True, "")
    return True


# ---- rate and distortion -----------------------------------------------------------------------------
def _pair_problem(out: Any) -> tuple[str, str] | None:
    """(problem, hint) when ``out`` is not (D, R): D a float tensor of shape (N,), R of shape
    (N, z_dim) (the rate of each image and latent dimension); else None."""
    problem = _not_a_pair(out, "distortion, rate")
    if problem:
        return problem
    shapes = {"D": (N,), "R": (N, Z_DIM)}
    shape_hints = {
        "D": {(N, X_DIM): "sum over the 784 pixels (dim -1)",
              (N, Z_DIM): "one D per image: did you swap D and R?",
              (): "do not sum or average over the batch"},
        "R": {(N,): "R per latent dimension: do not sum over dim -1",
              (Z_DIM,): "R per image and dimension: do not average over images",
              (): "R per image and dimension: do not sum or average"},
    }
    for name, value in zip(("D", "R"), out):
        if not _float_tensor(value):
            return _not_a_tensor(name, value)
        if tuple(value.shape) != shapes[name]:
            return (f"{name} has shape {tuple(value.shape)}, not {shapes[name]}",
                    shape_hints[name].get(tuple(value.shape), "see the docstring's shapes"))
    return None


def _same_noise_for_all(d: torch.Tensor) -> bool:
    """True when the D of N identical images are all equal: one ε shared by every image."""
    d = d.detach().cpu().double()
    return bool(torch.allclose(d, d[:1].expand_as(d), rtol=1e-6, atol=1e-6))


def check_rate_distortion(rate_distortion: Callable) -> None:
    """D (N,) and R per image and dimension (N, z_dim) on fixed weights, images and noise, against
    utils.tradeoffs.rate_distortion; the given eps is used (two calls, same eps, same result); the
    right D at saturated logits (±40); its own noise, one ε per image, when eps is None; gradients
    of D + Σ_d R as the reference's."""
    vae, x, eps = _small_vae(), _binary_images(), _noise((N, Z_DIM), 1)
    with torch.no_grad():
        ref_d, ref_r_total = tradeoffs.rate_distortion(vae, x, eps)
        z_loc, z_scale = vae.encoder(x)
        logits = vae.decoder(z_loc + z_scale * eps)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        ref_r = 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log())      # (N, z_dim)
        z = z_loc + z_scale * eps
        d_wrong = {
            "D = −log p(x|z) ≥ 0: you returned log p(x|z)": -ref_d,
            "sum over the 784 pixels, do not average": bce.mean(-1),
            "z = z_loc + z_scale * eps, not z = z_loc":
                F.binary_cross_entropy_with_logits(vae.decoder(z_loc), x, reduction="none").sum(-1),
            "z_scale is the std: do not square it":
                F.binary_cross_entropy_with_logits(vae.decoder(z_loc + z_scale**2 * eps), x,
                                                   reduction="none").sum(-1),
            "the decoder returns logits: no sigmoid before the BCE":
                F.binary_cross_entropy_with_logits(logits.sigmoid(), x, reduction="none").sum(-1),
        }
        r_wrong = {
            "flipped sign: a KL divergence is never negative": -ref_r,
            "z_scale is σ: σ² = z_scale**2, log σ² = 2·log z_scale":
                0.5 * (z_loc**2 + z_scale - 1 - z_scale.log()),
            "log σ² = 2·log(z_scale): you used log(z_scale)":
                0.5 * (z_loc**2 + z_scale**2 - 1 - z_scale.log()),
            "KL = ½ Σ (…): keep the factor ½": 2 * ref_r,
            "use the closed-form KL, not the one-sample estimate":
                Normal(z_loc, z_scale).log_prob(z) - Normal(0.0, 1.0).log_prob(z),
        }
        sat_vae, sat_x = _saturated()
        sat_d = tradeoffs.rate_distortion(sat_vae, sat_x, eps)[0]
    with SelfCheck("rate_distortion") as sc:
        with torch.no_grad(), _seeded(10):
            ran, out = _run(sc, rate_distortion, vae, x.clone(), eps.clone(),
                            what="it runs")
        if not ran:
            return
        if not _check_result(sc, "returns (D, R)", _pair_problem(out)):
            return
        d, r = out
        with torch.no_grad(), _seeded(11):
            ran, again = _run(sc, rate_distortion, vae, x.clone(), eps.clone(), quiet=True,
                              what="runs again")
        if not ran or not _check_result(sc, "again: (D, R)", _pair_problem(again), quiet=True):
            return
        if not sc.true("same eps, same D", _near(again[0], d, 1e-6),
                       "two calls with the same eps gave different D",
                       "use the given eps: draw noise only when eps is None"):
            return
        if not sc.close("D = −log p(x|z)", d, ref_d,
                        atol=1e-4, rtol=1e-5,
                        hint=_hint(d, d_wrong, "D: BCE with logits, reduction='none', .sum(-1)")):
            return
        if not sc.close("R per dimension", r, ref_r,
                        atol=1e-5, rtol=1e-5,
                        hint=_hint(r, r_wrong, "R_nd = ½ (z_loc² + z_scale² − 1 − log z_scale²)")):
            return
        with torch.no_grad():
            ran, out = _run(sc, rate_distortion, sat_vae, sat_x.clone(), eps.clone(), quiet=True,
                            what="runs at logits ±40")
        if not ran or not _check_result(sc, "at logits ±40: (D, R)", _pair_problem(out), quiet=True):
            return
        if not sc.close("D, logits ±40", out[0], sat_d, atol=1e-2, rtol=1e-5,
                        hint=SIGMOID_HINT):
            return
        same = x[:1].expand(N, X_DIM).clone()            # N copies of one image
        with torch.no_grad(), _seeded(0):
            ran, out = _run(sc, rate_distortion, vae, same, what="runs without eps",
                            hint="eps=None: eps = torch.randn_like(z_loc)")
        if not ran:
            return
        if not _check_result(sc, "without eps: (D, R)", _pair_problem(out), quiet=True):
            return
        if not sc.true("without eps: one ε per image", not _same_noise_for_all(out[0]),
                       f"{N} copies of one image got the same D",
                       "draw one ε per image: eps = torch.randn_like(z_loc)"):
            return
        params = dict(vae.named_parameters())
        ran, out = _run(sc, rate_distortion, vae, x.clone(), eps.clone(), quiet=True,
                        what="runs with gradients on")
        if ran and _check_result(sc, "with gradients on: (D, R)", _pair_problem(out), quiet=True):
            _same_gradients(sc, "gradients of D + Σ_d R",
                            out[0] + out[1].sum(-1), sum(tradeoffs.rate_distortion(vae, x, eps)),
                            params, NO_GRAD_HINT)


# ---- active units ------------------------------------------------------------------------------------
def _count(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (int, 0-d tensor, NumPy scalar); else None."""
    if isinstance(value, (bool, str, bytes)):
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.dim() > 0:
            return None
        value = value.item()
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return None
    return int(as_float) if math.isfinite(as_float) and as_float == int(as_float) else None


def _units_problem(out: Any, z_dim: int, n: int) -> tuple[str, str] | None:
    """(problem, hint) when ``out`` is not (count, variance (z_dim,)); else None."""
    problem = _not_a_pair(out, "count, variance")
    if problem:
        return problem
    count, variance = out
    if not _float_tensor(variance):
        if _count(variance) is not None and _float_tensor(count):
            return "got (variance, count)", "swap them: `return count, variance`"
        return _not_a_tensor("variance", variance, "stay in torch: use z_loc.var(0)")
    if tuple(variance.shape) != (z_dim,):
        hint = {(n,): "variance over the images: z_loc.var(0)",
                (n, z_dim): "reduce over the images: z_loc.var(0)",
                (): "reduce over the images (dim 0) only"}
        return (f"variance has shape {tuple(variance.shape)}, not ({z_dim},)",
                hint.get(tuple(variance.shape), "one variance per latent dimension"))
    if _count(count) is None:
        return (f"count is {_describe(count)}, not a whole number",
                "count = int((variance > threshold).sum())")
    return None


class _CodesEncoder(torch.nn.Module):
    """An encoder whose posterior means are the first columns of its input: the check's images
    carry the codes it wants (posterior std 0.5 everywhere)."""

    def __init__(self, z_dim: int):
        super().__init__()
        self.z_dim = z_dim
        self.scale = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_loc = x[:, :self.z_dim] * 1.0
        return z_loc, self.scale.expand_as(z_loc)


class _CodesVAE(torch.nn.Module):
    """A stand-in VAE for the active-units check: ``encoder(x)`` returns known posterior means."""

    def __init__(self, z_dim: int):
        super().__init__()
        self.encoder = _CodesEncoder(z_dim)


def check_active_units(active_units: Callable) -> None:
    """The variance over the images of each dimension's posterior mean (the encoder's z_loc, not a
    sample) and the number above the threshold, for a model whose encoder gives fixed codes built
    with known variances."""
    codes = _activity_codes()
    n, z_dim = codes.shape
    vae, x = _CodesVAE(z_dim), torch.cat([codes, torch.zeros(n, X_DIM - z_dim)], 1)
    expected = codes.double().var(0, unbiased=False)
    stated = torch.tensor(_VARIANCES, dtype=torch.float64)
    with SelfCheck("active_units") as sc:
        with _seeded(0):
            ran, out = _run(sc, active_units, vae, x.clone(), what="it runs")
        if not ran:
            return
        if not _check_result(sc, "(count, variance)", _units_problem(out, z_dim, n)):
            return
        count, variance = _count(out[0]), out[1]
        wrong = {
            "the variance, not the standard deviation: no sqrt": stated.sqrt(),
            "subtract each dimension's mean over the images": codes.double().pow(2).mean(0),
        }
        if variance.detach().cpu().double().min() > 0.2:   # σ² = 0.25 added: samples, not means
            hint = "use the posterior means z_loc, not samples of z"
        else:
            hint = _hint(variance, wrong, "A_d = Var over images of z_loc[:, d] (z_loc.var(0))")
        # the biased (1/N) and the unbiased (1/(N − 1)) variance both pass: they differ by 0.2 %
        if not sc.close("variance over images", variance,
                        expected, atol=1e-6, rtol=3e-3, hint=hint):
            return
        count_hints = {
            2: "the threshold is 0.01 by default: use `threshold`",
            6: "you compared the standard deviation, not the variance",
            5: "you counted inactive dims: active means variance > threshold",
        }
        if not sc.true("4 of 9 active at 0.01", count == 4,
                       f"counted {count}",
                       count_hints.get(count, "count = int((variance > threshold).sum())")):
            return

        def count_at(threshold: float) -> tuple[bool, int | None]:
            """Run active_units at ``threshold`` (no pass line): whether it ran, and the count it
            returned (None when it returned something else than (count, variance))."""
            ran, out = _run(sc, active_units, vae, x.clone(), threshold, quiet=True,
                            what=f"runs with threshold={threshold}")
            return ran, (_count(out[0]) if ran and not _units_problem(out, z_dim, n) else None)

        ran, got = count_at(0.04)
        if not ran:
            return
        if not sc.true("threshold=0.04: 3 active", got == 3, f"counted {got}",
                       "use the `threshold` argument, not a fixed number" if got == 4 else ""):
            return
        ran, got = count_at(0.0)
        if not ran:
            return
        sc.true("threshold=0: 8 of 9 active", got == 8, f"counted {got}",
                "active means variance > threshold: use >, not >="
                if got == 9 else "count = int((variance > threshold).sum())")


# ---- the importance-weighted loss --------------------------------------------------------------------
def _iwae_shape_hint(shape: tuple[int, ...]) -> str:
    return {(): "do not sum or average over the batch",
            (K,): "logsumexp over the K samples (dim 0)",
            (K, N): "reduce over K: torch.logsumexp(log_w, 0)",
            (N, Z_DIM): "sum log p(z), log q(z|x) over dim -1",
            (K, N, Z_DIM): "sum log p(z), log q(z|x) over dim -1",
            }.get(shape, "one loss per image")


def _iwae_problem(out: Any, k: int = K) -> tuple[str, str] | None:
    """(problem, hint) when ``out`` is not (loss (N,), weights (k, N)); else None."""
    if _float_tensor(out):
        return (f"got a tensor of shape {tuple(out.shape)}, not a pair",
                "return both: `return loss, weights`")
    problem = _not_a_pair(out, "loss, weights")
    if problem:
        return problem
    loss, weights = out
    if not _float_tensor(loss):
        return _not_a_tensor("the loss", loss)
    if tuple(loss.shape) != (N,):
        return f"loss has shape {tuple(loss.shape)}, not ({N},)", _iwae_shape_hint(tuple(loss.shape))
    if not _float_tensor(weights):
        return _not_a_tensor("weights", weights)
    if tuple(weights.shape) != (k, N):
        return (f"weights have shape {tuple(weights.shape)}, not ({k}, {N})",
                "one weight per sample and image: (K, N)")
    return None


def check_iwae_negative_bound(iwae_negative_bound: Callable) -> None:
    """(−[logsumexp_k log w_k − log K] per image, normalised weights softmax_k log w_k (K, N)) with
    the reference encoder and decoder on fixed weights, images and noise (K = 5), against
    utils.tradeoffs.iwae_negative_bound; the right loss at saturated logits (±40); its own noise
    of shape (k, N, z_dim) when eps is None; gradients of the loss as the reference's."""
    vae, x, eps = _small_vae(), _binary_images(1), _noise((K, N, Z_DIM), 2)
    with torch.no_grad():
        expected = tradeoffs.iwae_negative_bound(vae, x, K, eps)
        z_loc, z_scale = vae.encoder(x)
        z = z_loc + z_scale * eps
        log_px = -F.binary_cross_entropy_with_logits(vae.decoder(z), x.expand(K, *x.shape),
                                                     reduction="none").sum(-1)
        log_pz = Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_qz = Normal(z_loc, z_scale).log_prob(z).sum(-1)
        log_w = log_px + log_pz - log_qz
        weights = log_w.softmax(0)
        lse, log_k = torch.logsumexp(log_w, 0), math.log(K)
        wrong = {
            "logsumexp_k log w_k − log K, not the mean of log w_k": -log_w.mean(0),
            "subtract log K: the bound averages the K weights": -lse,
            "log K has the wrong sign: −(logsumexp − log K)": -(lse + log_k),
            "return the *negative* bound, a loss to minimise": lse - log_k,
            "log w misses + log p(z), the prior": -(torch.logsumexp(log_px - log_qz, 0) - log_k),
            "log w misses − log q(z|x), the guide": -(torch.logsumexp(log_px + log_pz, 0) - log_k),
            "log q(z|x) enters log w with a − sign":
                -(torch.logsumexp(log_px + log_pz + log_qz, 0) - log_k),
            "log p(z) enters log w with a + sign":
                -(torch.logsumexp(log_px - log_pz - log_qz, 0) - log_k),
            "Normal takes the std z_scale, not the variance":
                -(torch.logsumexp(log_px + log_pz - Normal(z_loc, z_scale**2).log_prob(z).sum(-1), 0)
                  - log_k),
            "no closed-form KL: log w already holds p(z) / q(z|x)":
                -(torch.logsumexp(log_px, 0) - log_k) + tradeoffs.rate_distortion(vae, x, eps[0])[1],
        }
        weights_wrong = {
            "normalise over the K samples (dim 0)": log_w.softmax(1),
            "normalise: the weights of an image sum to 1": log_w.exp(),
            "weights of the full log w = log p(x|z) + log p(z) − log q":
                (log_px + log_pz).softmax(0),
        }
        sat_vae, sat_x = _saturated()
        sat_expected = tradeoffs.iwae_negative_bound(sat_vae, sat_x, K, eps)
    with SelfCheck("iwae_negative_bound") as sc:
        with torch.no_grad():
            ran, out = _run(sc, iwae_negative_bound, vae, x.clone(), K, eps.clone(),
                            what="it runs")
        if not ran:
            return
        if not _check_result(sc, "returns", _iwae_problem(out)):
            return
        loss, got_weights = out
        if not torch.isfinite(loss).all() and torch.isfinite(expected).all():
            hint = "exp(log w) underflows: use torch.logsumexp(log_w, 0)"
        else:
            hint = _hint(loss, wrong, "z_k = z_loc + z_scale * eps[k] with the given eps")
        if not sc.close(f"−L_K, K = {K}", loss, expected, atol=1e-4, rtol=1e-5, hint=hint):
            return
        if not sc.close("normalised weights", got_weights, weights, atol=1e-5, rtol=1e-4,
                        hint=_hint(got_weights, weights_wrong, "w̃_k = softmax of log w_k over k")):
            return
        with torch.no_grad():
            ran, out = _run(sc, iwae_negative_bound, sat_vae, sat_x.clone(), K, eps.clone(),
                            quiet=True, what="runs at logits ±40")
        if not ran or not _check_result(sc, "at logits ±40", _iwae_problem(out), quiet=True):
            return
        if not sc.close("−L_K, logits ±40", out[0], sat_expected, atol=1e-2, rtol=1e-5,
                        hint=SIGMOID_HINT):
            return
        with torch.no_grad(), _seeded(0):
            ran, out = _run(sc, iwae_negative_bound, vae, x.clone(), 3, quiet=True,
                            what="runs without eps, k=3",
                            hint="eps=None: eps = torch.randn(k, *z_loc.shape)")
        if not ran:
            return
        problem = _iwae_problem(out, k=3)
        if not sc.true("without eps, k=3", problem is None, problem[0] if problem else "",
                       "eps=None: draw eps of shape (k, N, z_dim)"):
            return
        ran, out = _run(sc, iwae_negative_bound, vae, x.clone(), K, eps.clone(), quiet=True,
                        what="runs with gradients on")
        if ran and _check_result(sc, "with gradients on", _iwae_problem(out), quiet=True):
            _same_gradients(sc, "gradients",
                            out[0], tradeoffs.iwae_negative_bound(vae, x, K, eps),
                            dict(vae.named_parameters()), NO_GRAD_HINT)


# ---- free bits ---------------------------------------------------------------------------------------
def check_free_bits_rate(free_bits_rate_fn: Callable) -> None:
    """Σ_d max(λ, mean_n KL_nd) on fixed guide outputs against :func:`free_bits_rate`, with λ = 0.5
    and λ = 0.1; zero gradient for the dimensions under λ."""
    z_loc, z_scale = _free_bits_inputs()
    z_dim = z_loc.shape[1]
    per_dim = 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log())
    expected = free_bits_rate(z_loc, z_scale, LAM)
    mean_kl = per_dim.mean(0)
    separately = "clamp each dimension's batch-mean KL separately"
    wrong = {
        "clamp the batch-mean KL, not each image's KL":
            per_dim.clamp(min=LAM).mean(0).sum(),
        separately: mean_kl.sum(),
        f"{separately} ": mean_kl.sum().clamp(min=LAM * z_dim),
        f" {separately}": per_dim.sum(1).clamp(min=LAM).mean(),
        "average over the batch (nats per image), do not sum": per_dim.sum(0).clamp(min=LAM).sum(),
        "clamp from below: max(λ, ·), .clamp(min=lam)": mean_kl.clamp(max=LAM).sum(),
        "sum over the latent dimensions, do not average": mean_kl.clamp(min=LAM).mean(),
        "z_scale is σ: σ² = z_scale**2, log σ² = 2·log z_scale":
            (0.5 * (z_loc**2 + z_scale - 1 - z_scale.log())).mean(0).clamp(min=LAM).sum(),
        "log σ² = 2·log(z_scale): you used log(z_scale)":
            (0.5 * (z_loc**2 + z_scale**2 - 1 - z_scale.log())).mean(0).clamp(min=LAM).sum(),
    }
    shape_hints = {(z_dim,): "sum the clamped values over the latent dimensions",
                   (N,): "average over the batch (dim 0) before clamping",
                   (N, z_dim): "mean over the batch, clamp at λ, sum over dimensions"}

    def problem_of(out: Any) -> tuple[str, str] | None:
        if not _float_tensor(out):
            return _not_a_tensor("", out)
        if out.dim() != 0:
            return (f"got shape {tuple(out.shape)}",
                    shape_hints.get(tuple(out.shape), "one number for the batch"))
        return None

    with SelfCheck("free_bits_rate") as sc:
        loc, scale = z_loc.clone().requires_grad_(), z_scale.clone().requires_grad_()
        ran, out = _run(sc, free_bits_rate_fn, loc, scale, LAM,
                        what="it runs")
        if not ran:
            return
        if not _check_result(sc, "returns a 0-d tensor", problem_of(out)):
            return
        if not sc.close(f"R_free at λ = {LAM}", out,
                        expected, atol=1e-5, rtol=1e-5,
                        hint=_hint(out, wrong, "R_free = Σ_d max(λ, mean_n KL_nd)").strip()):
            return
        if not _same_gradients(sc, "gradient 0 under λ", out,
                               free_bits_rate(loc, scale, LAM), {"z_loc": loc, "z_scale": scale},
                               "use .clamp(min=lam), not Python's max or .item()"):
            return
        with torch.no_grad():
            ran, out = _run(sc, free_bits_rate_fn, z_loc.clone(), z_scale.clone(), 0.1, quiet=True,
                            what="runs with lam=0.1")
        if ran and problem_of(out):
            sc.true("R_free at λ = 0.1", False, *problem_of(out))
        elif ran:
            sc.close("R_free at λ = 0.1", out, free_bits_rate(z_loc, z_scale, 0.1),
                     atol=1e-5, rtol=1e-5, hint="use the `lam` argument, not a fixed number")


# ---- for the notebook's cells that use the student's functions ---------------------------------------
_PARTS: dict[str, tuple[str, Callable[[Callable], None]]] = {
    "rate_distortion": ("Part 1", check_rate_distortion),
    "active_units": ("Part 2", check_active_units),
    "iwae_negative_bound": ("Part 3", check_iwae_negative_bound),
    "free_bits_rate": ("Part 4", check_free_bits_rate),
}


ready = make_ready(_PARTS)
