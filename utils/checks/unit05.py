"""Self-checks for unit 05: the student's Pyro model and guide of the VAE.

The student's object has ``encoder`` (images (N, 784) -> (z_loc, z_scale)), ``decoder`` (codes
(N, z_dim) -> logits (N, 784)), ``z_dim`` and two methods, ``model(x)`` and ``guide(x)``. The checks
run them under ``pyro.poutine.trace`` on a fixed batch of binarized images and inspect the recorded
sites: names, observed or latent, plate, batch and event shapes, distributions and registered
parameters. The last group compares the loss that Pyro derives from them with the reference on the same
noise: unit 04's ``utils.vae.negative_elbo`` and the course's ``utils.pyro_vae.PyroVAE`` wrapped
around the student's own networks. Every check runs in a private param store with validation on;
the caller's param store and random state are left as they were. Pass lines carry no numbers, so
every run prints the same text.
"""
from __future__ import annotations

import contextlib

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

from . import SelfCheck, _Abort
from ..pyro_vae import PyroVAE
from ..vae import negative_elbo

X_DIM = 784


# ---- helpers -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _isolated(seed: int = 0):
    """A private param store, validation on, and a seeded random state restored afterwards."""
    with pyro.get_param_store().scope(), pyro.validation_enabled(True), \
            torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _trace(sc: SelfCheck, program, x: torch.Tensor, label: str):
    """Run ``program(x)`` under poutine.trace; a failure is reported in one line and stops the group."""
    return sc.call(lambda: poutine.trace(program).get_trace(x), what=f"your {label} runs under poutine.trace")


def _sample_sites(trace) -> dict:
    """The trace's sample sites, without the plates' own bookkeeping sites."""
    return {name: site for name, site in trace.nodes.items()
            if site["type"] == "sample" and type(site["fn"]).__name__ != "_Subsample"}


def _require(sc: SelfCheck, what: str, condition: bool, problem: str, hint: str = "") -> None:
    """A check that the following checks depend on: on failure, stop the group."""
    if not sc.true(what, condition, problem, hint):
        raise _Abort


def _in_batch_plate(site, n: int) -> bool:
    return any(frame.size == n and frame.dim == -1 for frame in site["cond_indep_stack"])


def _base(fn):
    """The innermost distribution of an Independent(...) wrapper."""
    while hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return fn


def _check_site_shapes(sc: SelfCheck, site, name: str, n: int, event: int, event_name: str) -> None:
    fn = site["fn"]
    sc.true(f"'{name}' sits inside a pyro.plate over the batch (its rightmost batch dimension)",
            _in_batch_plate(site, n),
            f"no plate of size {n} at dim -1 around '{name}' "
            f"(plates found: {[(f.name, f.size, f.dim) for f in site['cond_indep_stack']]})",
            "wrap the sample statements in `with pyro.plate('data', x.shape[0]):`")
    got = (tuple(fn.batch_shape), tuple(fn.event_shape), tuple(site["value"].shape))
    sc.true(f"'{name}' has batch shape (N,), event shape ({event_name},) and one value per image",
            got == ((n,), (event,), (n, event)),
            f"batch shape {got[0]}, event shape {got[1]}, value shape {got[2]}; expected ({n},), "
            f"({event},) and ({n}, {event})",
            "add .to_event(1) to the distribution, so that its last dimension is one event"
            if got[1] == () else "check the shapes of the tensors you pass to the distribution")


def _require_parts(sc: SelfCheck, vae,
                   parts: tuple[str, ...] = ("encoder", "decoder", "z_dim", "model", "guide")) -> None:
    """The student's object has what the checks use; else one ✗ line and the group stops."""
    missing = [part for part in parts if not hasattr(vae, part)]
    sc.require("your VAE has " + ", ".join(parts), not missing, f"it has no {', '.join(missing)}",
               "build it as in the exercise: a torch module with encoder, decoder and z_dim "
               "attributes and model and guide methods")


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
                  what: str, hint: str):
    """The start of the model's and the guide's checks: the student's object has its parts,
    ``program(x)`` runs under poutine.trace, and its sample sites are exactly ``names`` (else one ✗
    line ``what`` with ``hint``, and the group stops). Returns (trace, sample sites)."""
    _require_parts(sc, vae)
    trace = _trace(sc, program, x, label)
    sites = _sample_sites(trace)
    _require(sc, what, set(sites) == names, f"found sample sites {sorted(sites)}", hint)
    return trace, sites


# ---- the checks --------------------------------------------------------------------------------------
def check_model(vae, x: torch.Tensor) -> None:
    """The model: sites 'z' (latent, N(0, I)) and 'x' (observed, Bernoulli on logits), plate, shapes."""
    with SelfCheck("model") as sc, _isolated():
        n = len(x)
        trace, sites = _traced_sites(sc, vae, vae.model, x, "model", {"z", "x"},
                                     "the sample sites are 'z' and 'x'",
                                     "name the latent code 'z' and the image 'x': "
                                     "pyro.sample('z', ...) and pyro.sample('x', ..., obs=x)")
        z, xs = sites["z"], sites["x"]
        sc.true("'z' is latent and 'x' is observed with obs=x",
                not z["is_observed"] and xs["is_observed"] and torch.equal(xs["value"], x),
                f"'z' observed: {z['is_observed']}, 'x' observed: {xs['is_observed']}",
                "pass the images as obs=x to the 'x' site only")
        _check_site_shapes(sc, z, "z", n, vae.z_dim, "z_dim")
        _check_site_shapes(sc, xs, "x", n, X_DIM, "pixels")
        prior = z["fn"]
        normal = isinstance(_base(prior), torch.distributions.Normal)
        sc.true("p(z) is the standard normal (mean zero, identity covariance)",
                normal and torch.allclose(prior.mean, torch.zeros_like(prior.mean))
                and torch.allclose(prior.variance, torch.ones_like(prior.variance)),
                f"Normal with mean in [{prior.mean.min():.3g}, {prior.mean.max():.3g}] and variance "
                f"in [{prior.variance.min():.3g}, {prior.variance.max():.3g}]" if normal
                else f"got {type(_base(prior)).__name__}",
                "use dist.Normal(zeros, ones) with tensors of shape (N, z_dim)")
        lik = _base(xs["fn"])
        from_logits = "logits" in vars(lik) and "probs" not in vars(lik)
        sc.true("p(x|z) is a Bernoulli built from logits",
                isinstance(lik, torch.distributions.Bernoulli) and from_logits,
                f"got {type(lik).__name__}" + ("" if from_logits else " built from probabilities"),
                "use dist.Bernoulli(logits=self.decoder(z)): no sigmoid, the logits are stabler")
        if isinstance(lik, torch.distributions.Bernoulli):
            with torch.no_grad():
                expected = vae.decoder(z["value"])
            sc.close("the logits are the decoder's output at the sampled z", lik.logits, expected,
                     hint="decode the z returned by pyro.sample('z', ...)")
        sc.true("pyro.module registers the decoder's parameters", _registered(trace, vae.decoder),
                "some decoder parameters are not in the trace",
                "call pyro.module('decoder', self.decoder) at the start of the model")


def check_guide(vae, x: torch.Tensor) -> None:
    """The guide: one latent site 'z' ~ N(z_loc(x), z_scale(x)^2) in a plate, event dim 1."""
    with SelfCheck("guide") as sc, _isolated():
        n = len(x)
        trace, sites = _traced_sites(sc, vae, vae.guide, x, "guide", {"z"}, "the only sample site is 'z'",
                                     "the guide samples the latent 'z' and nothing else (no 'x' site)")
        z = sites["z"]
        sc.true("'z' is sampled, not observed", not z["is_observed"], "'z' is observed",
                "no obs= in the guide")
        _check_site_shapes(sc, z, "z", n, vae.z_dim, "z_dim")
        q = z["fn"]
        z_loc, z_scale = _encode(sc, vae, x)
        _require(sc, "q(z|x) is a Normal", isinstance(_base(q), torch.distributions.Normal),
                 f"got {type(_base(q)).__name__}", "use dist.Normal(z_loc, z_scale).to_event(1)")
        if q.mean.shape != z_loc.shape:
            raise _Abort  # the shape check above has already said what is wrong
        sc.close("its mean is the encoder's z_loc", q.mean, z_loc,
                 hint="pass the encoder's first output as the loc")
        close_to_sq = torch.allclose(q.stddev, z_scale.pow(2), rtol=1e-4, atol=1e-6)
        sc.close("its standard deviation is the encoder's z_scale", q.stddev, z_scale,
                 hint="Normal takes a standard deviation, not a variance: pass z_scale itself"
                 if close_to_sq else "pass the encoder's second output as the scale")
        sc.true("z is reparameterized (gradients flow back to the encoder)",
                z["value"].requires_grad, "the sampled z carries no gradient",
                "do not detach z_loc or z_scale, and sample with pyro.sample (Normal has rsample)")
        sc.true("pyro.module registers the encoder's parameters", _registered(trace, vae.encoder),
                "some encoder parameters are not in the trace",
                "call pyro.module('encoder', self.encoder) at the start of the guide")


def check_elbo(vae, x: torch.Tensor) -> None:
    """Pyro's losses from the student's model and guide equal the reference on the same noise."""
    with SelfCheck("elbo") as sc, _isolated():
        _require_parts(sc, vae, ("encoder", "decoder", "z_dim", "model", "guide", "parameters"))
        guide_trace = _trace(sc, vae.guide, x, "guide")
        _require(sc, "the guide has a site 'z' to replay", "z" in _sample_sites(guide_trace),
                 "no sample site 'z' in the guide", "run the guide's self-check first")
        replayed = poutine.replay(vae.guide, trace=guide_trace)
        z = guide_trace.nodes["z"]["value"]
        z_loc, z_scale = _encode(sc, vae, x)
        sc.shape("the guide's z", z, tuple(z_loc.shape), quiet=True,
                 hint="run the guide's self-check first: it says what differs")
        eps = ((z - z_loc) / z_scale).detach()        # the noise behind the guide's draw
        reference = sc.call(PyroVAE, vae.encoder, vae.decoder, vae.z_dim, quiet=True,
                            what="the course's PyroVAE builds around your networks")
        reference_replayed = poutine.replay(reference.guide, trace=guide_trace)

        mean_field = sc.call(lambda: TraceMeanField_ELBO().loss(vae.model, replayed, x),
                             what="TraceMeanField_ELBO runs on your model and guide")
        expected = sc.call(lambda: negative_elbo(vae, x, eps).sum().item(), quiet=True,
                           what="unit 04's negative_elbo runs on your networks")
        sc.close("TraceMeanField_ELBO equals the hand-written negative ELBO summed over the batch",
                 torch.tensor(mean_field), torch.tensor(expected), atol=1e-3, rtol=1e-5,
                 hint=f"your loss is {mean_field / expected:.4g}× the reference: are the pixels and "
                      "the latent coordinates summed (.to_event(1)), the prior N(0, I) and the "
                      "likelihood Bernoulli(logits=decoder(z))?")
        trace_elbo = sc.call(lambda: Trace_ELBO().loss(vae.model, replayed, x),
                             what="Trace_ELBO runs on your model and guide")
        expected = sc.call(lambda: Trace_ELBO().loss(reference.model, reference_replayed, x),
                           quiet=True, what="the reference Trace_ELBO runs on your networks")
        sc.close("Trace_ELBO equals the reference model and guide's (utils.pyro_vae.PyroVAE)",
                 torch.tensor(trace_elbo), torch.tensor(expected), atol=1e-3, rtol=1e-5,
                 hint="compare your guide's Normal with the encoder's (z_loc, z_scale)")

        params = list(vae.parameters())
        loss = sc.call(lambda: TraceMeanField_ELBO().differentiable_loss(vae.model, replayed, x),
                       quiet=True, what="TraceMeanField_ELBO's differentiable loss runs")
        grads = (torch.autograd.grad(loss, params, allow_unused=True)
                 if getattr(loss, "requires_grad", False) else [None] * len(params))
        if not params or any(g is None for g in grads):
            sc.true("the loss depends on every parameter of the encoder and the decoder", False,
                    f"{sum(g is None for g in grads)} parameter tensors get no gradient",
                    "do not detach anything in the model or the guide")
            raise _Abort
        grads = torch.cat([g.flatten() for g in grads])
        expected = torch.cat([g.flatten() for g in
                              torch.autograd.grad(negative_elbo(vae, x, eps).sum(), params,
                                                  allow_unused=True, materialize_grads=True)])
        sc.close("the gradients equal the reference's", grads, expected,
                 atol=1e-4 * expected.abs().max().item(), rtol=1e-4,
                 hint="z must stay differentiable: sample it with pyro.sample in the guide, no detach")
