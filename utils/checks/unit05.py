"""Self-checks for exercise 05: the student's Pyro model and guide of the VAE, and a model for
grey levels (``model_cb``, a continuous Bernoulli, and its mean ``cb_mean``).

The checks trace the student's programs on a fixed batch and inspect the sites; then they compare
Pyro's loss with ``utils.vae.negative_elbo`` and ``utils.pyro_vae.PyroVAE`` (around the student's
networks) on the same noise. ``check_model_cb`` replays the course's guide, ``check_elbo`` first
runs the model's and guide's checks: one mistake, one ✗. Each check runs in a private param store
with validation on; the caller's param store and random state are left alone.
"""
from __future__ import annotations

import contextlib
import copy
import math
import re
import warnings
from typing import Callable

import pyro
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO
from torch.nn import functional as F

from . import ExerciseCheck as SelfCheck, first_match, isclose, make_ready, near, number, passes
from ._common import X_DIM, binary_images, generator, grads, saturate
from .unit04 import reference_cb_log_norm
from .._validate import one_line
from ..pyro_vae import PyroVAE
from ..vae import gaussian_kl, negative_elbo

SIDE = 28                     # the programs also take images of shape (N, 28, 28)
N_FIXED = 16                  # images in the batch of the checks that ready() runs
SCALED = "an extra poutine.scale or factor?"
BY_HAND = "call it by hand on a small batch to see the traceback"
PARTS = ("encoder", "decoder", "z_dim", "model", "guide")
_SHAPE_MISMATCH = re.compile(r"Shape mismatch inside plate\('([^']*)'\) at site (\S+) dim (-?\d+), "
                             r"(\d+) vs (\d+)")


# ---- tracing the student's programs ------------------------------------------------------------
def _batch(vae, x: torch.Tensor | None, grey: bool = False) -> torch.Tensor:
    """``x``, or the fixed batch on the device of ``vae``: binary images, or grey levels in [0, 1]
    (most pixels exactly 0 as in MNIST, some exactly 1)."""
    if x is not None:
        return x
    try:
        device = next(vae.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        device = torch.device("cpu")
    if not grey:
        return binary_images(N_FIXED).to(device)
    u = torch.rand(N_FIXED, X_DIM, generator=generator(1))
    return torch.where(u < 0.6, 0.0, torch.where(u > 0.9, 1.0, (u - 0.6) / 0.3)).to(device)


@contextlib.contextmanager
def _isolated(seed: int = 0):
    """A private param store, validation on, warnings kept inside, a seeded and restored state."""
    with pyro.get_param_store().scope(), pyro.validation_enabled(True), \
            torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        yield


def _shape_error(err: Exception) -> tuple[str, str, str] | None:
    """(what, problem, hint) for Pyro's shape mismatch (dim -1: no ``.to_event(1)``), else None."""
    found = _SHAPE_MISMATCH.search(one_line(err))
    if not found:
        return None
    plate, site, dim, plate_size, size = found.groups()
    plate = plate if len(plate) <= 12 else plate[:11] + "…"
    problem = f"dim {dim} is {size}, plate '{plate}' says {plate_size}"
    return (f"site '{site}' fits its plate", problem,
            f"add .to_event(1) to the '{site}' distribution" if dim == "-1"
            else "the plate takes the rightmost batch dim: give tensors shape (N, ...)")


def _trace(sc: SelfCheck, program, x: torch.Tensor, label: str, quiet: bool = False):
    return sc.call(poutine.trace(program).get_trace, x, quiet=quiet, hint=BY_HAND,
                   what=f"your {label} runs under poutine.trace", explain=_shape_error)


def _elbo_loss(sc: SelfCheck, elbo, model, guide, x: torch.Tensor, label: str) -> float:
    return sc.call(elbo.loss, model, guide, x, what=f"your {label} runs", quiet=True, hint=BY_HAND,
                   explain=_shape_error)


def _sample_sites(trace) -> dict:
    """The trace's sample sites, without the plates' own bookkeeping sites."""
    return {name: site for name, site in trace.nodes.items()
            if site["type"] == "sample" and type(site["fn"]).__name__ != "_Subsample"}


def _plates(site) -> list[tuple[str, int, int]]:
    return sorted((f.name, f.size, f.dim) for f in site["cond_indep_stack"] if f.vectorized)


def _base(fn):
    """The innermost distribution of an Independent(...) wrapper."""
    while hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return fn


def _require_parts(sc: SelfCheck, vae, parts: tuple[str, ...]) -> None:
    missing = [part for part in parts if not hasattr(vae, part)]
    sc.require("your VAE has " + ", ".join(parts), not missing, f"it has no {', '.join(missing)}",
               "build it as in the exercise")


def _traced_sites(sc: SelfCheck, vae, program: str, x: torch.Tensor, names: set[str], what: str,
                  hint: str, parts=PARTS):
    """The student's object has ``parts``, ``program(x)`` runs under poutine.trace, and its sample
    sites are ``names`` (else one ✗ line ``what`` with ``hint``). Returns (trace, sites)."""
    _require_parts(sc, vae, parts)
    trace = _trace(sc, getattr(vae, program), x, program)
    sites = _sample_sites(trace)
    sc.true(what, set(sites) == names, f"found {sorted(sites)}", hint)
    return trace, sites


def _encode(sc: SelfCheck, vae, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Your encoder's (z_loc, z_scale), without gradients; else one ✗ line, and a stop."""
    with torch.no_grad():
        out = sc.call(vae.encoder, x, what="your encoder runs", quiet=True)
    sc.require("your encoder returns (z_loc, z_scale)",
               isinstance(out, (tuple, list)) and len(out) == 2
               and all(isinstance(t, torch.Tensor) for t in out) and out[0].shape == out[1].shape,
               f"it returned {type(out).__name__}" + (f" of length {len(out)}"
                                                      if isinstance(out, (tuple, list)) else ""),
               "return z_loc, z_scale: two tensors of shape (N, z_dim)")
    return out[0], out[1]


# ---- what every program's check checks ---------------------------------------------------------
def _check_site_shapes(sc: SelfCheck, site, name: str, n: int, event: int, event_name: str) -> None:
    """The site is in a plate of size n at dim -1, with batch shape (n,), event shape (event,)."""
    plates = ", ".join(f"'{p}' ({size}) at dim {dim}" for p, size, dim in _plates(site)) or "none"
    sc.true(f"'{name}' in a plate over the batch",
            any(f.size == n and f.dim == -1 for f in site["cond_indep_stack"]),
            f"plates: {plates}", "sample inside `with pyro.plate('data', N):`")
    got = (tuple(site["fn"].batch_shape), tuple(site["fn"].event_shape))
    sc.true(f"'{name}' has batch shape (N,), event shape ({event_name},)",
            got == ((n,), (event,)), f"batch {got[0]}, event {got[1]}",
            f"add .to_event(1) to the '{name}' distribution" if got[1] == ()
            else f"its tensors should have shape (N, {event_name})")


def _check_prior(sc: SelfCheck, prior, n: int, z_dim: int) -> None:
    """p(z) = N(0, I) on (N, z_dim): any distribution with the standard normal's log-density."""
    points = torch.randn(n, z_dim, generator=generator(2)).mul(1.5).to(prior.mean.device)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(points).sum(-1)
    try:
        with torch.no_grad():
            got = prior.log_prob(points)
    except Exception:
        got = None
    base = _base(prior)
    if isinstance(base, torch.distributions.Normal):
        loc, scale = base.loc.detach(), base.scale.detach()
        problem = (f"Normal, mean {number(loc.min())} to {number(loc.max())}, "
                   f"std {number(scale.min())} to {number(scale.max())}")
    else:
        shaped = isinstance(got, torch.Tensor) and got.shape == expected.shape
        gap = (got - expected).abs().max() if shaped else math.inf
        problem = f"{type(base).__name__} off by {number(gap)} nats"
    sc.true("p(z) = N(0, I)", near(got, expected, 1e-4, 0.0), problem,
            "zero mean, unit variance: dist.Normal(zeros, ones)")


def _check_registered(sc: SelfCheck, trace, vae, network: str) -> None:
    """Every parameter of the network appears as a param site of ``trace``."""
    seen = {id(site["value"]) for site in trace.nodes.values() if site["type"] == "param"}
    sc.true(f"{network} registered", all(id(p) in seen for p in getattr(vae, network).parameters()),
            "its parameters are not in the trace",
            f"call pyro.module('{network}', self.{network}) first")


def _check_model_program(sc: SelfCheck, vae, x: torch.Tensor, program: str, likelihood: type,
                         texts: dict[str, str], observed: Callable[[dict, dict], str]):
    """What ``model`` and ``model_cb`` share: the sites, 'x' observed (else ``observed(z, x)``),
    plates, shapes, prior, a ``likelihood`` on the decoder's logits; ``texts``. The trace."""
    n = len(x)
    trace, sites = _traced_sites(sc, vae, program, x, {"z", "x"}, "sites 'z' and 'x'",
                                 texts["sites"], PARTS[:3] + (program,) if program != "model"
                                 else PARTS)
    z, xs = sites["z"], sites["x"]
    sc.true(texts["observed"],
            not z["is_observed"] and xs["is_observed"] and torch.equal(xs["value"], x),
            observed(z, xs), texts["observed hint"])
    _check_site_shapes(sc, z, "z", n, vae.z_dim, "z_dim")
    _check_site_shapes(sc, xs, "x", n, X_DIM, "pixels")
    _check_prior(sc, z["fn"], n, vae.z_dim)
    lik = _base(xs["fn"])
    from_logits = "logits" in vars(lik) and "probs" not in vars(lik)
    sc.true(texts["likelihood"], isinstance(lik, likelihood) and from_logits,
            f"got {type(lik).__name__}" + ("" if from_logits else " from probs"),
            texts["likelihood hint"])
    with torch.no_grad():   # the logits at the sampled z, in any shape of the same numbers
        expected = vae.decoder(z["value"]).detach().cpu().double()
    logits = lik.logits.detach().cpu().double()
    if logits.numel() == expected.numel():
        logits = logits.reshape(expected.shape)
    sc.close("logits = decoder(z) at the sampled z", logits, expected,
             hint="decode the z returned by pyro.sample('z', ...)",
             mistakes={"the decoder gives logits already: no sigmoid": torch.sigmoid(expected)})
    _check_registered(sc, trace, vae, "decoder")
    return trace


def _check_same_plates(sc: SelfCheck, model_trace, guide_trace) -> None:
    """The sites that model and guide share are in the same plates (Pyro would only warn)."""
    model_sites, guide_sites = _sample_sites(model_trace), _sample_sites(guide_trace)
    for name in sorted(set(model_sites) & set(guide_sites)):
        in_model, in_guide = _plates(model_sites[name]), _plates(guide_sites[name])
        if in_model != in_guide:
            show = lambda plates: ", ".join(f"'{p}' ({size})" for p, size, _ in plates) or "none"
            sc.true(f"the plates of '{name}'", False,
                    f"model {show(in_model)}, guide {show(in_guide)}",
                    "one plate name in model and guide, e.g. 'data'")
    sc.true("model and guide use the same plates", True, "")


def _square(x: torch.Tensor) -> torch.Tensor | None:
    """The batch as images of shape (N, 28, 28), or None when it is not (N, 784)."""
    return x.reshape(len(x), SIDE, SIDE) if x.dim() == 2 and x.shape[1] == X_DIM else None


# ---- the checks --------------------------------------------------------------------------------
def check_model(vae, x: torch.Tensor | None = None) -> None:
    """Sites 'z' (latent, N(0, I)) and 'x' (observed, Bernoulli on logits), also for (N, 28, 28)."""
    with SelfCheck("model") as sc, _isolated():
        x = _batch(vae, x)
        trace = _check_model_program(sc, vae, x, "model", torch.distributions.Bernoulli, {
            "sites": "pyro.sample('z', ...), pyro.sample('x', ..., obs=x)",
            "observed": "'z' latent, 'x' observed (obs=x)",
            "observed hint": "pass obs=x to the 'x' site only",
            "likelihood": "p(x|z) from logits",
            "likelihood hint": "logits=self.decoder(z), no sigmoid: logits are stabler"},
            lambda z, xs: f"'z' observed: {z['is_observed']}, 'x' observed: {xs['is_observed']}")
        square = _square(x)
        if square is None:
            return
        what, hint = ("on square images (N, side, side)",
                      "logits.reshape(x.shape), .to_event(x.dim() - 1)")

        def on_square():   # the same z: 'x' one event (28, 28) per image, the same log-density
            replayed = poutine.replay(vae.model, trace=trace)
            site = _sample_sites(poutine.trace(replayed).get_trace(square))["x"]
            with torch.no_grad():
                return (site["fn"], site["fn"].log_prob(site["value"]),
                        trace.nodes["x"]["fn"].log_prob(x))

        fn, log_p, flat_log_p = sc.call(on_square, what=what, quiet=True, hint=hint)
        shapes = (tuple(fn.batch_shape), tuple(fn.event_shape))
        sc.require(what, shapes == ((len(x),), (SIDE, SIDE)),
                   f"'x' batch {shapes[0]}, event {shapes[1]}", hint)
        sc.close(what, log_p, flat_log_p, 1e-3, 0.0, hint)


def check_guide(vae, x: torch.Tensor | None = None) -> None:
    """One latent site 'z' ~ N(z_loc(x), z_scale(x)²) in a plate, for (N, 784) and (N, 28, 28)."""
    _check_guide(vae, x, square=True)


def _check_guide(vae, x: torch.Tensor | None, square: bool) -> None:
    """check_guide; ``square=False``: flat images only (the course's PyroVAE takes no others)."""
    with SelfCheck("guide") as sc, _isolated():
        x = _batch(vae, x)
        trace, sites = _traced_sites(sc, vae, "guide", x, {"z"}, "one sample site, 'z'",
                                     "the guide samples 'z' only (no 'x' site)")
        z = sites["z"]
        sc.true("'z' is sampled, not observed", not z["is_observed"], "'z' is observed",
                "no obs= in the guide")
        _check_site_shapes(sc, z, "z", len(x), vae.z_dim, "z_dim")
        q = z["fn"]
        z_loc, z_scale = _encode(sc, vae, x)
        sc.true("q(z|x) is a Normal", isinstance(_base(q), torch.distributions.Normal),
                f"got {type(_base(q)).__name__}", "use dist.Normal(z_loc, z_scale).to_event(1)")
        sc.close("mean = encoder's z_loc", q.mean, z_loc,
                 hint="pass the encoder's first output as the loc")
        sc.close("std = encoder's z_scale", q.stddev, z_scale,
                 hint="pass the encoder's second output as the scale",
                 mistakes={"Normal takes a std, not a variance: pass z_scale": z_scale.pow(2)})
        sc.true("z is reparameterized (gradients reach the encoder)",
                z["value"].requires_grad, "z carries no gradient", "do not detach z_loc or z_scale")
        _check_registered(sc, trace, vae, "encoder")
        square = _square(x) if square else None
        if square is None:
            return
        what, hint = ("on square images (N, side, side)",
                      "the encoder takes (N, 784): x.reshape(len(x), -1)")
        fn = sc.call(lambda: _sample_sites(poutine.trace(vae.guide).get_trace(square))["z"]["fn"],
                     what=what, quiet=True, hint=hint)
        shapes = (tuple(fn.batch_shape), tuple(fn.event_shape))
        sc.true(what, shapes == ((len(x),), (vae.z_dim,)) and near(fn.mean, z_loc, 1e-5, 0.0),
                f"'z' batch {shapes[0]}, event {shapes[1]}", hint)


def check_elbo(vae, x: torch.Tensor | None = None) -> None:
    """Once model and guide pass their checks: the same plates; Pyro's losses and gradient equal
    the reference's on the guide's own draw."""
    with SelfCheck("elbo") as sc:
        with _isolated():
            _require_parts(sc, vae, PARTS + ("parameters",))
            x = _batch(vae, x)
        for part, check in (("model", check_model), ("guide", check_guide)):
            sc.require("not checked", passes(check, vae, x),
                       f"fix `{part}` first (its check fails)")
        with _isolated():
            guide_trace = _trace(sc, vae.guide, x, "guide", quiet=True)
            replayed = poutine.replay(vae.guide, trace=guide_trace)
            model_trace = _trace(sc, poutine.replay(vae.model, trace=guide_trace), x, "model",
                                 quiet=True)
            _check_same_plates(sc, model_trace, guide_trace)
            z = guide_trace.nodes["z"]["value"]
            z_loc, z_scale = _encode(sc, vae, x)
            eps = ((z - z_loc) / z_scale).detach()        # the noise behind the guide's draw
            reference = sc.call(PyroVAE, vae.encoder, vae.decoder, vae.z_dim, quiet=True,
                                what="the course's PyroVAE builds around your networks")
            mean_field = _elbo_loss(sc, TraceMeanField_ELBO(), vae.model, replayed, x,
                                    "model and guide")
            with torch.no_grad():
                expected = negative_elbo(vae, x, eps).sum().item()
            sc.close("mean-field loss = hand-written −ELBO", mean_field, expected, 1e-3, 1e-5,
                     f"it is {number(mean_field / expected)}× that: {SCALED}")
            trace_elbo = _elbo_loss(sc, Trace_ELBO(), vae.model, replayed, x, "model and guide")
            expected = Trace_ELBO().loss(reference.model,
                                         poutine.replay(reference.guide, trace=guide_trace), x)
            sc.close("Trace_ELBO loss = the course's PyroVAE's", trace_elbo, expected, 1e-3, 1e-5,
                     SCALED)
            params = list(vae.parameters())
            loss = TraceMeanField_ELBO().differentiable_loss(vae.model, replayed, x)
            got = grads(loss, params) or [None] * len(params)
            sc.require("every network parameter gets a gradient",
                       params and all(g is not None for g in got),
                       f"{sum(g is None for g in got)} tensors get none",
                       "do not detach anything in the model or the guide")
            expected = grads(negative_elbo(vae, x, eps), params, flat=True)
            sc.close("the gradients equal the reference's", torch.cat([g.flatten() for g in got]),
                     expected, 1e-4 * expected.abs().max().item(), 1e-4,
                     "z must stay differentiable: sample it with pyro.sample, no detach")


# ---- the continuous Bernoulli (not in the lecture) ---------------------------------------------
def cb_mean(logits: torch.Tensor) -> torch.Tensor:
    """The reference mean of CB(η = ``logits``): 1/(1 − e^(−η)) − 1/η, ½ + η/12 − η³/720 near 0
    (where both terms blow up); in float64, returned in the input's dtype."""
    eta = logits.double()
    small = eta.abs() < 1e-2
    safe = torch.where(small, torch.ones_like(eta), eta)
    exact = 1.0 / (-torch.expm1(-safe)) - 1.0 / safe
    taylor = 0.5 + eta / 12 - eta.pow(3) / 720
    return torch.where(small, taylor, exact).to(logits.dtype)


_CB_ETAS = torch.tensor([-40.0, -25.0, -12.0, -5.0, -1.0, -0.3, -1e-2, -1e-4, -1e-6, 0.0, 1e-6,
                         1e-4, 3e-3, 0.3, 1.0, 2.5, 8.0, 20.0, 40.0])


def check_cb_mean(cb_mean_fn: Callable) -> None:
    """The mean of CB(η) on a grid of η from −40 to 40, 0 and |η| down to 1e-6 included."""
    eta = _CB_ETAS.clone()
    expected = cb_mean(eta)
    with SelfCheck("cb_mean") as sc:
        with torch.no_grad():
            out = sc.call(cb_mean_fn, eta.clone(), what="cb_mean(logits) runs")
        sc.shape("its result", out, tuple(eta.shape), quiet=True,
                 hint="one mean per logit: the same shape as `logits`")
        bad = ~isclose(out, expected, 1e-4, 0.0)                  # NaN counts as wrong
        hint = first_match(out, {
            "λ = sigmoid(η) is not the mean: E[x] = 1/(1 − e^−η) − 1/η": torch.sigmoid(eta),
            "torch's CB .mean clamps λ and errs at large |η|: use the formula":
                torch.distributions.ContinuousBernoulli(logits=eta).mean}, 1e-4, 1e-5,
            "near η = 0 both terms blow up: for |η| < 0.1 use ½ + η/12"
            if not bad[eta.abs() > 0.1].any() else "E[x] = 1/(1 − e^(−η)) − 1/η, and ½ at η = 0")
        where = (", ".join(f"{v:g}" for v in eta[bad][:1].tolist())
                 + (" …" if int(bad.sum()) > 1 else ""))
        sc.true("E[x] for any η", not bad.any(), f"wrong at η = {where}", hint)


def cb_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """The exact log-normaliser of CB(η = ``logits``), log(η / tanh(η/2)), in float64 on the CPU
    (torch's ContinuousBernoulli clamps λ = sigmoid(η) and errs from |η| ≈ 15 in float32)."""
    return reference_cb_log_norm(logits.detach().cpu().double())


def _cb_loss_by_hand(sc: SelfCheck, vae, x: torch.Tensor, label: str, torch_hint: bool) -> None:
    """The loss of ``vae.model_cb`` with the course's guide replayed equals Σ_n [KL_n − log
    CB(x_n | decoder(z_n))] with the exact log C; ``torch_hint``: name torch's clamped CB."""
    reference = PyroVAE(vae.encoder, vae.decoder, vae.z_dim)
    guide_trace = poutine.trace(reference.guide).get_trace(x)
    loss = _elbo_loss(sc, TraceMeanField_ELBO(), vae.model_cb,
                      poutine.replay(reference.guide, trace=guide_trace), x, "model_cb")
    with torch.no_grad():
        kl = gaussian_kl(*(t.cpu().double() for t in vae.encoder(x)))
        logits = vae.decoder(guide_trace.nodes["z"]["value"])
        eta, grey = logits.detach().cpu().double(), x.detach().cpu().double()
        log_cb = grey * eta - F.softplus(eta) + cb_log_norm(eta)
        by_hand = (kl - log_cb.sum(-1)).sum().item()
        with_torch = (kl - torch.distributions.ContinuousBernoulli(logits=logits)   # logits' dtype
                      .log_prob(x).cpu().double().sum(-1)).sum().item()
    ratio = loss / by_hand if by_hand else math.inf
    hint = ("torch's CB clamps λ: use ExactContinuousBernoulli"
            if torch_hint and near(loss, with_torch, 1e-3, 1e-5)
            else f"it is {number(ratio)}× that: {SCALED}" if abs(ratio - 1) > 0.01
            else "log p = x η − softplus(η) + log C(η), each term exact")
    sc.close(label, loss, by_hand, 1e-3, 1e-5, hint)


def check_model_cb(vae, x: torch.Tensor | None = None) -> None:
    """'x' ~ a continuous Bernoulli on logits = decoder(z), obs the grey levels, the prior and
    plate of ``model``; its loss with the exact log C, also at logits ±40."""
    with SelfCheck("model_cb") as sc, _isolated():
        x = _batch(vae, x, grey=True)
        _check_model_program(sc, vae, x, "model_cb", torch.distributions.ContinuousBernoulli, {
            "sites": "name them 'z' and 'x', as in `model`",
            "observed": "'x' observed: the grey levels",
            "observed hint": "obs=x itself: no binarize, grey levels are the data",
            "likelihood": "p(x|z) continuous Bernoulli",
            "likelihood hint": "ExactContinuousBernoulli(logits=self.decoder(z))"},
            lambda z, xs: "'z' is observed" if z["is_observed"] else "'x' is not observed"
            if not xs["is_observed"] else "obs differs from x")
        reference = PyroVAE(vae.encoder, vae.decoder, vae.z_dim)
        sc.require("loss with the course's guide", passes(_check_guide, reference, None, False),
                   "not checked: fix the encoder first", "the guide's check says what is wrong")
        guide_trace = poutine.trace(reference.guide).get_trace(x)
        model_trace = _trace(sc, poutine.replay(vae.model_cb, trace=guide_trace), x, "model_cb",
                             quiet=True)
        _check_same_plates(sc, model_trace, guide_trace)
        _cb_loss_by_hand(sc, vae, x, "loss = Σ(KL − log CB), exact log C", torch_hint=False)
        saturated = saturate(copy.deepcopy(vae), seed=3)
        if saturated is not None:
            with pyro.get_param_store().scope():     # the copy's parameters, not the original's
                _cb_loss_by_hand(sc, saturated, x, "where the decoder saturates", torch_hint=True)


def _guide_and_elbo(vae) -> None:
    """The guide's check, and check_elbo when the model's check passes too."""
    check_guide(vae)
    if passes(check_model, vae):
        check_elbo(vae)


ready = make_ready({   # ready() is given the methods: vae.model, vae.guide, vae.model_cb
    "model": ("Part 1", lambda method: check_model(getattr(method, "__self__", None))),
    "guide": ("Parts 2-3", lambda method: _guide_and_elbo(getattr(method, "__self__", None))),
    "model_cb": ("Part 5", lambda method: check_model_cb(getattr(method, "__self__", None))),
    "cb_mean": ("Part 5", check_cb_mean),
})
