"""Self-checks for unit 05: the student's Pyro model and guide of the VAE, and a model for grey levels.

The student's object has ``encoder`` (images (N, 784) -> (z_loc, z_scale)), ``decoder`` (codes
(N, z_dim) -> logits (N, 784)), ``z_dim`` and two methods, ``model(x)`` and ``guide(x)``; the
exercise's last part adds ``model_cb(x)`` (a continuous-Bernoulli likelihood for grey-level images)
and a function ``cb_mean(logits)`` (that distribution's mean). The checks run the programs under
``pyro.poutine.trace`` on a fixed batch and inspect the recorded sites: names, observed or latent,
plate, batch and event shapes, distributions and registered parameters; then they compare the loss
that Pyro derives from them with a reference on the same noise: unit 04's
``utils.vae.negative_elbo`` and the course's ``utils.pyro_vae.PyroVAE`` wrapped around the student's
own networks.

One mistake gives one ✗: a check tests its program against the reference versions of what it builds
on (``check_model_cb`` replays the course's guide, not the student's), and ``check_elbo``, which needs
both the student's model and guide, first runs their checks silently and says "fix `model` first"
when one fails. Pyro's shape errors (a site without ``.to_event(1)``) become one ✗ line with the
``.to_event(1)`` hint, and Pyro's warnings stay inside the checks. Every check runs in a private
param store with validation on; the caller's param store and random state are left as they were.
Pass lines carry no numbers, so every run prints the same text.

:func:`ready` lets a notebook cell that uses the student's methods skip itself with one line while
one of them is unfinished or wrong: ``unit05.ready(vae.model, vae.guide)``.
"""
from __future__ import annotations

import contextlib
import copy
import math
import re
import warnings
from typing import Any, Callable

import pyro
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO
from torch.nn import functional as F

from . import ExerciseCheck as SelfCheck, isclose, make_ready, near, number, passes
from ._common import X_DIM, binary_images, saturate
from .unit04 import reference_cb_log_norm
from .._validate import one_line
from ..pyro_vae import PyroVAE
from ..vae import negative_elbo

SIDE = 28                     # the images' side: the programs also take images of shape (N, 28, 28)
N_FIXED = 16                  # images in the batch of the checks that ready() runs
SCALED = "an extra poutine.scale or factor?"
BY_HAND = "call it by hand on a small batch to see the traceback"
_SHAPE_MISMATCH = re.compile(r"Shape mismatch inside plate\('([^']*)'\) at site (\S+) dim (-?\d+), "
                             r"(\d+) vs (\d+)")


# ---- fixed inputs ------------------------------------------------------------------------------------
def _device(vae) -> torch.device:
    try:
        return next(vae.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


def binary_batch(n: int = N_FIXED, device="cpu") -> torch.Tensor:
    """Fixed binary 'images' (n, 784): each pixel on with probability 0.3."""
    return binary_images(n).to(device)


def grey_batch(n: int = N_FIXED, device="cpu") -> torch.Tensor:
    """Fixed grey-level 'images' (n, 784) in [0, 1]: most pixels exactly 0 as in MNIST, some exactly
    1, the others in between."""
    gen = torch.Generator().manual_seed(1)
    u = torch.rand(n, X_DIM, generator=gen)
    return torch.where(u < 0.6, 0.0, torch.where(u > 0.9, 1.0, (u - 0.6) / 0.3)).to(device)


# ---- helpers -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _isolated(seed: int = 0):
    """A private param store, validation on, Pyro's warnings kept inside, and a seeded random state
    restored afterwards."""
    with pyro.get_param_store().scope(), pyro.validation_enabled(True), \
            torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        yield


def _shape_error(err: Exception) -> tuple[str, str, str] | None:
    """(what, problem, hint) for Pyro's shape mismatch in the student's program: at the rightmost
    dimension a missing ``.to_event(1)``; None for any other error (SelfCheck.call's line)."""
    found = _SHAPE_MISMATCH.search(one_line(err))
    if not found:
        return None
    plate, site, dim, plate_size, size = found.groups()
    plate = plate if len(plate) <= 12 else plate[:11] + "…"
    problem = f"dim {dim} is {size}, plate '{plate}' says {plate_size}"
    return (f"site '{site}' fits its plate", problem, f"add .to_event(1) to the '{site}' distribution"
            if dim == "-1" else "the plate takes the rightmost batch dim: give tensors shape (N, ...)")


def _trace(sc: SelfCheck, program, x: torch.Tensor, label: str, quiet: bool = False):
    """Run ``program(x)`` under poutine.trace; a failure is one ✗ line and stops the group."""
    return sc.call(poutine.trace(program).get_trace, x, what=f"your {label} runs under poutine.trace",
                   quiet=quiet, hint=BY_HAND, explain=_shape_error)


def _elbo_loss(sc: SelfCheck, elbo, model, guide, x: torch.Tensor, label: str) -> float:
    """``elbo.loss(model, guide, x)``; an error (a shape mismatch among them) is one ✗ line."""
    return sc.call(elbo.loss, model, guide, x, what=f"your {label} runs", quiet=True, hint=BY_HAND,
                   explain=_shape_error)


def _sample_sites(trace) -> dict:
    """The trace's sample sites, without the plates' own bookkeeping sites."""
    return {name: site for name, site in trace.nodes.items()
            if site["type"] == "sample" and type(site["fn"]).__name__ != "_Subsample"}


def _plates(site) -> list[tuple[str, int, int]]:
    return sorted((f.name, f.size, f.dim) for f in site["cond_indep_stack"] if f.vectorized)


def _in_batch_plate(site, n: int) -> bool:
    return any(frame.size == n and frame.dim == -1 for frame in site["cond_indep_stack"])


def _base(fn):
    """The innermost distribution of an Independent(...) wrapper."""
    while hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return fn


def _check_site_shapes(sc: SelfCheck, site, name: str, n: int, event: int, event_name: str) -> None:
    """The site sits in a plate of size n at dim -1, with batch shape (n,) and event shape (event,);
    stops the group at the first ✗ (the checks after it would only repeat it)."""
    plates = ", ".join(f"'{p}' ({size}) at dim {dim}" for p, size, dim in _plates(site)) or "none"
    sc.true(f"'{name}' in a plate over the batch", _in_batch_plate(site, n),
             f"plates: {plates}", "sample inside `with pyro.plate('data', N):`")
    fn = site["fn"]
    got = (tuple(fn.batch_shape), tuple(fn.event_shape))
    sc.true(f"'{name}' has batch shape (N,), event shape ({event_name},)",
             got == ((n,), (event,)), f"batch {got[0]}, event {got[1]}",
             f"add .to_event(1) to the '{name}' distribution" if got[1] == ()
             else f"its tensors should have shape (N, {event_name})")


def _require_parts(sc: SelfCheck, vae,
                   parts: tuple[str, ...] = ("encoder", "decoder", "z_dim", "model", "guide")) -> None:
    """The student's object has what the checks use; else one ✗ line and the group stops."""
    missing = [part for part in parts if not hasattr(vae, part)]
    sc.require("your VAE has " + ", ".join(parts), not missing, f"it has no {', '.join(missing)}",
               "build it as in the exercise")


def _encode(sc: SelfCheck, vae, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Your encoder's (z_loc, z_scale) for ``x``, without gradients; anything else than two tensors
    of the same shape is one ✗ line and the group stops. No pass line."""
    with torch.no_grad():
        out = sc.call(vae.encoder, x, what="your encoder runs", quiet=True)
    sc.require("your encoder returns (z_loc, z_scale)",
               isinstance(out, (tuple, list)) and len(out) == 2
               and all(isinstance(t, torch.Tensor) for t in out) and out[0].shape == out[1].shape,
               f"it returned {type(out).__name__}" + (f" of length {len(out)}"
                                                      if isinstance(out, (tuple, list)) else ""),
               "return z_loc, z_scale: two tensors of shape (N, z_dim)")
    return out[0], out[1]


def _registered(trace, module) -> bool:
    """True when every parameter of ``module`` appears as a param site of ``trace``."""
    seen = {id(site["value"]) for site in trace.nodes.values() if site["type"] == "param"}
    return all(id(p) in seen for p in module.parameters())


def _traced_sites(sc: SelfCheck, vae, program, x: torch.Tensor, label: str, names: set[str],
                  what: str, hint: str, parts=("encoder", "decoder", "z_dim", "model", "guide")):
    """The start of a program's checks: the student's object has its parts, ``program(x)`` runs
    under poutine.trace, and its sample sites are exactly ``names`` (else one ✗ line ``what`` with
    ``hint``, and the group stops). Returns (trace, sample sites)."""
    _require_parts(sc, vae, parts)
    trace = _trace(sc, getattr(vae, program), x, label)
    sites = _sample_sites(trace)
    sc.true(what, set(sites) == names, f"found {sorted(sites)}", hint)
    return trace, sites


def _check_prior(sc: SelfCheck, prior, n: int, z_dim: int) -> None:
    """p(z) = N(0, I) on (N, z_dim): any distribution with the standard normal's log-density
    (a Normal(0, 1).to_event(1), a MultivariateNormal(0, I), ...) passes."""
    points = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(2)).mul(1.5)
    points = points.to(prior.mean.device)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(points).sum(-1)
    try:
        with torch.no_grad():
            got = prior.log_prob(points)
    except Exception:
        got = None
    ok = near(got, expected, 1e-4, 0.0)
    base = _base(prior)
    if isinstance(base, torch.distributions.Normal):
        loc, scale = base.loc.detach(), base.scale.detach()
        problem = (f"Normal, mean {number(loc.min())} to {number(loc.max())}, "
                   f"std {number(scale.min())} to {number(scale.max())}")
    else:
        shaped = isinstance(got, torch.Tensor) and got.shape == expected.shape
        gap = (got - expected).abs().max() if shaped else math.inf
        problem = f"{type(base).__name__} off by {number(gap)} nats"
    sc.true("p(z) = N(0, I)", ok, problem, "zero mean, unit variance: dist.Normal(zeros, ones)")


def _check_logits(sc: SelfCheck, lik, vae, z: torch.Tensor) -> None:
    """The likelihood's logits are the decoder's output at the sampled z (any shape of the same
    numbers); a sigmoid applied to them gets its own hint."""
    with torch.no_grad():
        expected = vae.decoder(z).detach().cpu().double()
    logits = lik.logits.detach().cpu().double()
    if logits.numel() == expected.numel():
        logits = logits.reshape(expected.shape)
    sc.close("logits = decoder(z) at the sampled z", logits, expected,
             hint="decode the z returned by pyro.sample('z', ...)",
             mistakes={"the decoder gives logits already: no sigmoid": torch.sigmoid(expected)})


def _square(x: torch.Tensor) -> torch.Tensor | None:
    """The batch as images of shape (N, 28, 28), or None when it is not (N, 784)."""
    return x.reshape(len(x), SIDE, SIDE) if x.dim() == 2 and x.shape[1] == X_DIM else None


def _check_square_model(sc: SelfCheck, vae, x: torch.Tensor, trace) -> None:
    """The model on the same images shaped (N, 28, 28), with the same z: 'x' is one event of shape
    (28, 28) per image, with the same log-density as the flat images'."""
    square = _square(x)
    if square is None:
        return
    what, hint = "on square images (N, side, side)", "logits.reshape(x.shape), .to_event(x.dim() - 1)"

    def on_square():
        site = _sample_sites(poutine.trace(poutine.replay(vae.model, trace=trace)).get_trace(square))["x"]
        with torch.no_grad():
            return site["fn"], site["fn"].log_prob(site["value"]), trace.nodes["x"]["fn"].log_prob(x)

    fn, log_p, flat_log_p = sc.call(on_square, what=what, quiet=True, hint=hint)
    shapes = (tuple(fn.batch_shape), tuple(fn.event_shape))
    sc.require(what, shapes == ((len(x),), (SIDE, SIDE)), f"'x' batch {shapes[0]}, event {shapes[1]}", hint)
    sc.close(what, log_p, flat_log_p, 1e-3, 0.0, hint)


def _check_square_guide(sc: SelfCheck, vae, x: torch.Tensor, z_loc: torch.Tensor) -> None:
    """The guide on the same images shaped (N, 28, 28): 'z' as for the flat images."""
    square = _square(x)
    if square is None:
        return
    what, hint = "on square images (N, side, side)", "the encoder takes (N, 784): x.reshape(len(x), -1)"
    fn = sc.call(lambda: _sample_sites(poutine.trace(vae.guide).get_trace(square))["z"]["fn"],
                 what=what, quiet=True, hint=hint)
    shapes = (tuple(fn.batch_shape), tuple(fn.event_shape))
    sc.true(what, shapes == ((len(x),), (vae.z_dim,)) and near(fn.mean, z_loc, 1e-5, 0.0),
            f"'z' batch {shapes[0]}, event {shapes[1]}", hint)


def _check_registered(sc: SelfCheck, trace, vae, network: str, program: str) -> None:
    sc.true(f"{network} registered", _registered(trace, getattr(vae, network)),
            "its parameters are not in the trace", f"call pyro.module('{network}', self.{network}) first")


# ---- the checks --------------------------------------------------------------------------------------
def check_model(vae, x: torch.Tensor | None = None) -> None:
    """The model: sites 'z' (latent, N(0, I)) and 'x' (observed, Bernoulli on logits), plate, shapes."""
    with SelfCheck("model") as sc, _isolated():
        x = binary_batch(device=_device(vae)) if x is None else x
        n = len(x)
        trace, sites = _traced_sites(sc, vae, "model", x, "model", {"z", "x"},
                                     "sites 'z' and 'x'",
                                     "pyro.sample('z', ...), pyro.sample('x', ..., obs=x)")
        z, xs = sites["z"], sites["x"]
        sc.true("'z' latent, 'x' observed (obs=x)",
                 not z["is_observed"] and xs["is_observed"] and torch.equal(xs["value"], x),
                 f"'z' observed: {z['is_observed']}, 'x' observed: {xs['is_observed']}",
                 "pass obs=x to the 'x' site only")
        _check_site_shapes(sc, z, "z", n, vae.z_dim, "z_dim")
        _check_site_shapes(sc, xs, "x", n, X_DIM, "pixels")
        _check_prior(sc, z["fn"], n, vae.z_dim)
        lik = _base(xs["fn"])
        from_logits = "logits" in vars(lik) and "probs" not in vars(lik)
        sc.true("p(x|z) from logits",
                isinstance(lik, torch.distributions.Bernoulli) and from_logits,
                f"got {type(lik).__name__}" + ("" if from_logits else " from probs"),
                "logits=self.decoder(z), no sigmoid: logits are stabler")
        if isinstance(lik, torch.distributions.Bernoulli):
            _check_logits(sc, lik, vae, z["value"])
        _check_registered(sc, trace, vae, "decoder", "model")
        _check_square_model(sc, vae, x, trace)


def check_guide(vae, x: torch.Tensor | None = None) -> None:
    """The guide: one latent site 'z' ~ N(z_loc(x), z_scale(x)^2) in a plate, event dim 1, for flat
    images (N, 784) and for the same images shaped (N, 28, 28)."""
    _check_guide(vae, x, square=True)


def _check_guide(vae, x: torch.Tensor | None, square: bool) -> None:
    """check_guide; ``square=False`` for flat images only (the course's PyroVAE takes no others)."""
    with SelfCheck("guide") as sc, _isolated():
        x = binary_batch(device=_device(vae)) if x is None else x
        n = len(x)
        trace, sites = _traced_sites(sc, vae, "guide", x, "guide", {"z"}, "one sample site, 'z'",
                                     "the guide samples 'z' only (no 'x' site)")
        z = sites["z"]
        sc.true("'z' is sampled, not observed", not z["is_observed"], "'z' is observed",
                 "no obs= in the guide")
        _check_site_shapes(sc, z, "z", n, vae.z_dim, "z_dim")
        q = z["fn"]
        z_loc, z_scale = _encode(sc, vae, x)
        sc.true("q(z|x) is a Normal", isinstance(_base(q), torch.distributions.Normal),
                 f"got {type(_base(q)).__name__}", "use dist.Normal(z_loc, z_scale).to_event(1)")
        sc.close("mean = encoder's z_loc", q.mean, z_loc, hint="pass the encoder's first output as the loc")
        sc.close("std = encoder's z_scale", q.stddev, z_scale,
                 hint="pass the encoder's second output as the scale",
                 mistakes={"Normal takes a std, not a variance: pass z_scale": z_scale.pow(2)})
        sc.true("z is reparameterized (gradients reach the encoder)",
                z["value"].requires_grad, "z carries no gradient", "do not detach z_loc or z_scale")
        _check_registered(sc, trace, vae, "encoder", "guide")
        if square:
            _check_square_guide(sc, vae, x, z_loc)


def _check_same_plates(sc: SelfCheck, model_trace, guide_trace) -> None:
    """The sites that model and guide share sit in the same plates (name, size, dim), and the guide
    uses no plate the model lacks (Pyro would only warn)."""
    model_sites, guide_sites = _sample_sites(model_trace), _sample_sites(guide_trace)
    for name in sorted(set(model_sites) & set(guide_sites)):
        in_model, in_guide = _plates(model_sites[name]), _plates(guide_sites[name])
        if in_model != in_guide:
            show = lambda plates: ", ".join(f"'{p}' ({size})" for p, size, _ in plates) or "none"
            sc.true(f"the plates of '{name}'", False,
                     f"model {show(in_model)}, guide {show(in_guide)}",
                     "one plate name in model and guide, e.g. 'data'")
    sc.true("model and guide use the same plates", True, "")


def check_elbo(vae, x: torch.Tensor | None = None) -> None:
    """Model and guide agree (same plates), and the losses Pyro derives from them, and the gradient,
    equal the reference on the same noise. Runs the model's and the guide's checks silently first."""
    with SelfCheck("elbo") as sc:
        with _isolated():
            _require_parts(sc, vae, ("encoder", "decoder", "z_dim", "model", "guide", "parameters"))
            x = binary_batch(device=_device(vae)) if x is None else x
        for part, check in (("model", check_model), ("guide", check_guide)):
            sc.require("not checked", passes(check, vae, x), f"fix `{part}` first (its check fails)")
        with _isolated():
            _check_elbo_loss(sc, vae, x)


def _check_elbo_loss(sc: SelfCheck, vae, x: torch.Tensor) -> None:
    """check_elbo once the model's and the guide's checks pass: the same plates, the losses and the
    gradient equal the reference's on the guide's own draw."""
    guide_trace = _trace(sc, vae.guide, x, "guide", quiet=True)
    replayed = poutine.replay(vae.guide, trace=guide_trace)
    model_trace = _trace(sc, poutine.replay(vae.model, trace=guide_trace), x, "model", quiet=True)
    _check_same_plates(sc, model_trace, guide_trace)
    z = guide_trace.nodes["z"]["value"]
    z_loc, z_scale = _encode(sc, vae, x)
    eps = ((z - z_loc) / z_scale).detach()        # the noise behind the guide's draw
    reference = sc.call(PyroVAE, vae.encoder, vae.decoder, vae.z_dim, quiet=True,
                        what="the course's PyroVAE builds around your networks")
    reference_replayed = poutine.replay(reference.guide, trace=guide_trace)

    mean_field = _elbo_loss(sc, TraceMeanField_ELBO(), vae.model, replayed, x, "model and guide")
    with torch.no_grad():
        expected = negative_elbo(vae, x, eps).sum().item()
    sc.close("mean-field loss = hand-written −ELBO", mean_field, expected, 1e-3, 1e-5,
             f"it is {number(mean_field / expected)}× that: {SCALED}")
    trace_elbo = _elbo_loss(sc, Trace_ELBO(), vae.model, replayed, x, "model and guide")
    expected = Trace_ELBO().loss(reference.model, reference_replayed, x)
    sc.close("Trace_ELBO loss = the course's PyroVAE's", trace_elbo, expected, 1e-3, 1e-5, SCALED)

    params = list(vae.parameters())
    loss = TraceMeanField_ELBO().differentiable_loss(vae.model, replayed, x)
    grads = (torch.autograd.grad(loss, params, allow_unused=True)
             if getattr(loss, "requires_grad", False) else [None] * len(params))
    sc.require("every network parameter gets a gradient", params and all(g is not None for g in grads),
               f"{sum(g is None for g in grads)} tensors get none",
               "do not detach anything in the model or the guide")
    expected = torch.cat([g.flatten() for g in torch.autograd.grad(
        negative_elbo(vae, x, eps).sum(), params, allow_unused=True, materialize_grads=True)])
    sc.close("the gradients equal the reference's", torch.cat([g.flatten() for g in grads]), expected,
             1e-4 * expected.abs().max().item(), 1e-4,
             "z must stay differentiable: sample it with pyro.sample, no detach")


# ---- the continuous Bernoulli (not in the lecture) ---------------------------------------------------
def cb_mean(logits: torch.Tensor) -> torch.Tensor:
    """The reference mean of a continuous Bernoulli with natural parameter η = ``logits``:
    E[x] = 1/(1 − e^(−η)) − 1/η, with its Taylor expansion ½ + η/12 − η³/720 near η = 0, where both
    terms blow up. Computed in float64, returned in the input's dtype."""
    eta = logits.double()
    small = eta.abs() < 1e-2
    safe = torch.where(small, torch.ones_like(eta), eta)
    exact = 1.0 / (-torch.expm1(-safe)) - 1.0 / safe
    taylor = 0.5 + eta / 12 - eta.pow(3) / 720
    return torch.where(small, taylor, exact).to(logits.dtype)


_CB_ETAS = torch.tensor([-40.0, -25.0, -12.0, -5.0, -1.0, -0.3, -1e-2, -1e-4, -1e-6, 0.0, 1e-6, 1e-4,
                         3e-3, 0.3, 1.0, 2.5, 8.0, 20.0, 40.0])


def check_cb_mean(cb_mean_fn: Callable) -> None:
    """The mean of CB(η) on a grid of η from −40 to 40, including 0 and |η| down to 1e-6."""
    eta = _CB_ETAS.clone()
    expected = cb_mean(eta)
    with SelfCheck("cb_mean") as sc:
        with torch.no_grad():
            out = sc.call(cb_mean_fn, eta.clone(), what="cb_mean(logits) runs")
        sc.shape("its result", out, tuple(eta.shape), quiet=True,
                 hint="one mean per logit: the same shape as `logits`")
        bad = ~isclose(out, expected, 1e-4, 0.0)                  # NaN counts as wrong
        wrong = {
            "λ = sigmoid(η) is not the mean: E[x] = 1/(1 − e^−η) − 1/η": torch.sigmoid(eta),
            "torch's CB .mean clamps λ and errs at large |η|: use the formula":
                torch.distributions.ContinuousBernoulli(logits=eta).mean,
        }
        hint = next((h for h, w in wrong.items() if near(out, w, 1e-4, 1e-5)), None)
        if hint is None:
            near_zero_only = not bad[eta.abs() > 0.1].any()
            hint = ("near η = 0 both terms blow up: for |η| < 0.1 use ½ + η/12" if near_zero_only
                    else "E[x] = 1/(1 − e^(−η)) − 1/η, and ½ at η = 0")
        where = ", ".join(f"{v:g}" for v in eta[bad][:1].tolist()) + (" …" if int(bad.sum()) > 1 else "")
        sc.true("E[x] for any η", not bad.any(), f"wrong at η = {where}", hint)


def cb_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """The exact log-normaliser of a continuous Bernoulli with natural parameter η = ``logits``:
    log C(η) = log(η / tanh(η/2)), log 2 + η²/12 − η⁴/720 near 0 (where the formula is 0/0).
    Computed in float64 on the CPU, for every η (torch's ContinuousBernoulli clamps λ = sigmoid(η)
    and errs from |η| ≈ 15 in float32, ≈ 30 in float64)."""
    return reference_cb_log_norm(logits.detach().cpu().double())


def cb_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log CB(x | η) = x η − softplus(η) + log C(η) elementwise, exact, float64 on the CPU."""
    eta, x = logits.detach().cpu().double(), x.detach().cpu().double()
    return x * eta - F.softplus(eta) + cb_log_norm(eta)


def _cb_loss_by_hand(sc: SelfCheck, vae, x: torch.Tensor, label: str, torch_hint: bool) -> None:
    """The TraceMeanField_ELBO loss of ``vae.model_cb`` with the course's guide replayed equals
    Σ_n [KL_n − log CB(x_n | decoder(z_n))] by hand with the exact log C (float64, CPU). With
    ``torch_hint``, a loss that matches torch's clamped ContinuousBernoulli says so."""
    reference = PyroVAE(vae.encoder, vae.decoder, vae.z_dim)
    guide_trace = poutine.trace(reference.guide).get_trace(x)
    loss = _elbo_loss(sc, TraceMeanField_ELBO(), vae.model_cb,
                 poutine.replay(reference.guide, trace=guide_trace), x, "model_cb")
    with torch.no_grad():
        z_loc, z_scale = (t.cpu().double() for t in vae.encoder(x))
        logits = vae.decoder(guide_trace.nodes["z"]["value"])
        kl = 0.5 * (z_loc**2 + z_scale**2 - 1 - 2 * z_scale.log()).sum(-1)
        by_hand = (kl - cb_log_prob(logits, x).sum(-1)).sum().item()
        with_torch = (kl - torch.distributions.ContinuousBernoulli(logits=logits)   # in the logits' dtype
                      .log_prob(x).cpu().double().sum(-1)).sum().item()
    ratio = loss / by_hand if by_hand else math.inf
    hint = ("torch's CB clamps λ: use ExactContinuousBernoulli"
            if torch_hint and near(loss, with_torch, 1e-3, 1e-5)
            else f"it is {number(ratio)}× that: {SCALED}" if abs(ratio - 1) > 0.01
            else "log p = x η − softplus(η) + log C(η), each term exact")
    sc.close(label, loss, by_hand, 1e-3, 1e-5, hint)


def check_model_cb(vae, x: torch.Tensor | None = None) -> None:
    """The grey-level model: 'x' ~ a continuous Bernoulli on logits = decoder(z), .to_event(1), with
    the grey levels as obs, the same prior and the guide's plate; its TraceMeanField_ELBO with the
    course's guide replayed equals Σ (KL − log CB(x | decoder(z))) by hand with the exact
    log-normaliser (:func:`cb_log_norm`), also where the decoder is sure of every pixel (logits ±40,
    where torch's ContinuousBernoulli clamps λ)."""
    with SelfCheck("model_cb") as sc, _isolated():
        x = grey_batch(device=_device(vae)) if x is None else x
        n = len(x)
        parts = ("encoder", "decoder", "z_dim", "model_cb")
        trace, sites = _traced_sites(sc, vae, "model_cb", x, "model_cb", {"z", "x"},
                                     "sites 'z' and 'x'", "name them 'z' and 'x', as in `model`", parts)
        z, xs = sites["z"], sites["x"]
        sc.true("'x' observed: the grey levels",
                 not z["is_observed"] and xs["is_observed"] and torch.equal(xs["value"], x),
                 "'z' is observed" if z["is_observed"] else "'x' is not observed"
                 if not xs["is_observed"] else "obs differs from x",
                 "obs=x itself: no binarize, grey levels are the data")
        _check_site_shapes(sc, z, "z", n, vae.z_dim, "z_dim")
        _check_site_shapes(sc, xs, "x", n, X_DIM, "pixels")
        _check_prior(sc, z["fn"], n, vae.z_dim)
        lik = _base(xs["fn"])
        from_logits = "logits" in vars(lik) and "probs" not in vars(lik)
        sc.true("p(x|z) continuous Bernoulli",
                 isinstance(lik, torch.distributions.ContinuousBernoulli) and from_logits,
                 f"got {type(lik).__name__}" + ("" if from_logits else " from probs"),
                 "ExactContinuousBernoulli(logits=self.decoder(z))")
        _check_logits(sc, lik, vae, z["value"])
        _check_registered(sc, trace, vae, "decoder", "model")
        reference = PyroVAE(vae.encoder, vae.decoder, vae.z_dim)
        sc.require("loss with the course's guide", passes(_check_guide, reference, None, False),
                   "not checked: fix the encoder first", "the guide's check says what is wrong")
        guide_trace = poutine.trace(reference.guide).get_trace(x)
        model_trace = _trace(sc, poutine.replay(vae.model_cb, trace=guide_trace), x, "model_cb", quiet=True)
        _check_same_plates(sc, model_trace, guide_trace)
        _cb_loss_by_hand(sc, vae, x, "loss = Σ(KL − log CB), exact log C", torch_hint=False)
        saturated = saturate(copy.deepcopy(vae), seed=3)
        if saturated is not None:
            with pyro.get_param_store().scope():          # the copy's parameters, not the original's
                _cb_loss_by_hand(sc, saturated, x, "where the decoder saturates", torch_hint=True)


# ---- for the notebook's cells that use the student's methods -----------------------------------------
def _on_method(check: Callable) -> Callable[[Any], None]:
    """``check(vae)`` for a bound method ``vae.model`` (ready() is given the methods)."""
    def run(method) -> None:
        check(getattr(method, "__self__", None))
    return run


def _guide_and_elbo(guide) -> None:
    """The guide's check; and when the model's check passes too, check_elbo (same plates, same loss)."""
    vae = getattr(guide, "__self__", None)
    check_guide(vae)
    if passes(check_model, vae):
        check_elbo(vae)


ready = make_ready({
    "model": ("Part 1", _on_method(check_model)),
    "guide": ("Parts 2-3", _guide_and_elbo),
    "model_cb": ("Part 5", _on_method(check_model_cb)),
    "cb_mean": ("Part 5", check_cb_mean),
})
