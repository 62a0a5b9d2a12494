"""In-process measurements on the unit-04 VAE (utils.vae): training throughput of the course's
in-memory batching against the usual torchvision DataLoader, the overhead over the compute floor,
Pyro's SVI step against the hand-written step, quality (test −ELBO and IWAE) and the
REINFORCE-vs-pathwise variance ratio. Every comparison alternates its contenders within one run."""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch.nn import functional as F

from utils.data import SPLIT_SEED, FULL_VAL_SIZE, MNISTData, binarize, data_dir, minibatches
from utils.vae import VAE, gaussian_kl, iwae_log_px, negative_elbo, train_vae

BATCH_SIZE = 128    # utils.vae.train_vae's default, the batch size lecture 04 trains with
HIDDEN_DIM = 256    # utils.vae's default


def train_step(vae: VAE, opt: torch.optim.Optimizer, x: torch.Tensor) -> torch.Tensor:
    """One hand-written step: −ELBO (mean over the batch), backward, Adam."""
    loss = negative_elbo(vae, x).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def fresh_vae(z_dim: int = 2, seed: int = 0) -> tuple[VAE, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    vae = VAE(z_dim=z_dim, hidden_dim=HIDDEN_DIM)
    return vae, torch.optim.Adam(vae.parameters(), lr=1e-3)


# --- the two ways of feeding batches --------------------------------------------------------

def course_batches(train_x: torch.Tensor, batch_size: int, seed: int = 0) -> Iterator[torch.Tensor]:
    """The course's way, endlessly: shuffled slices of the in-memory tensor, binarized."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        for (xb,) in minibatches(train_x, batch_size=batch_size, generator=gen):
            yield binarize(xb)


def tutorial_loader(batch_size: int, train_indices: torch.Tensor):
    """The usual tutorial pattern: torchvision MNIST with a per-sample ToTensor() transform and
    a DataLoader(batch_size, shuffle=True) with the default num_workers=0. It is restricted to the
    course's 55,000 training images (same images, same epoch length) with a Subset."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    train = datasets.MNIST(str(data_dir()), train=True, download=False,
                           transform=transforms.ToTensor())
    return DataLoader(Subset(train, train_indices.tolist()), batch_size=batch_size, shuffle=True)


def tutorial_batches(loader) -> Iterator[torch.Tensor]:
    """Batches from the tutorial DataLoader, endlessly: flattened and binarized per batch."""
    while True:
        for x, _ in loader:
            yield torch.bernoulli(x.view(len(x), -1))


def course_train_indices(n_train: int = 60_000) -> torch.Tensor:
    """Indices (into torchvision's 60,000 training images) of the course's training split."""
    perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return perm[:-FULL_VAL_SIZE]


def time_epoch_course(vae, opt, train_x, batch_size, gen, max_steps=None) -> tuple[float, int]:
    """(seconds, steps) of one epoch (or its first ``max_steps``) the course's way, as
    utils.vae.train_vae does it (loss.item() per step included)."""
    t0, steps, total = time.perf_counter(), 0, 0.0
    for (xb,) in minibatches(train_x, batch_size=batch_size, generator=gen):
        total += train_step(vae, opt, binarize(xb)).item()
        steps += 1
        if max_steps and steps >= max_steps:
            break
    return time.perf_counter() - t0, steps


def time_epoch_tutorial(vae, opt, loader, max_steps=None) -> tuple[float, int]:
    """(seconds, steps) of one epoch (or its first ``max_steps``) the tutorial way."""
    t0, steps, total = time.perf_counter(), 0, 0.0
    for x, _ in loader:
        total += train_step(vae, opt, torch.bernoulli(x.view(len(x), -1))).item()
        steps += 1
        if max_steps and steps >= max_steps:
            break
    return time.perf_counter() - t0, steps


def time_feeding_course(train_x, batch_size, gen, max_steps) -> tuple[float, int]:
    """(seconds, batches) of producing the course's batches alone, no training."""
    t0, steps = time.perf_counter(), 0
    for (xb,) in minibatches(train_x, batch_size=batch_size, generator=gen):
        binarize(xb)
        steps += 1
        if steps >= max_steps:
            break
    return time.perf_counter() - t0, steps


def time_feeding_tutorial(loader, max_steps) -> tuple[float, int]:
    """(seconds, batches) of producing the tutorial DataLoader's batches alone, no training."""
    t0, steps = time.perf_counter(), 0
    for x, _ in loader:
        torch.bernoulli(x.view(len(x), -1))
        steps += 1
        if steps >= max_steps:
            break
    return time.perf_counter() - t0, steps


@dataclass
class Throughput:
    steps_per_epoch: int
    course: list[float] = field(default_factory=list)     # seconds per epoch, per repeat
    tutorial: list[float] = field(default_factory=list)
    measured_steps: int = 0                                # steps timed per run (scaled if < epoch)
    feed_course: list[float] = field(default_factory=list)     # batches alone, s per epoch
    feed_tutorial: list[float] = field(default_factory=list)
    feed_steps: int = 0


def throughput(data: MNISTData, repeats: int, max_steps: int | None, feed_steps: int = 100,
               log=print) -> Throughput:
    """Seconds per epoch, course vs tutorial, alternating which goes first in each repeat; and
    the same for producing the batches alone (``feed_steps`` batches, scaled to an epoch)."""
    n = len(data.train_x)
    steps_per_epoch = math.ceil(n / BATCH_SIZE)
    loader = tutorial_loader(BATCH_SIZE, course_train_indices())
    if len(loader.dataset) != n:
        raise RuntimeError(f"the tutorial subset has {len(loader.dataset)} images, the course {n}")
    vae_c, opt_c = fresh_vae()
    vae_t, opt_t = fresh_vae()
    gen = torch.Generator().manual_seed(0)
    time_epoch_course(vae_c, opt_c, data.train_x, BATCH_SIZE, gen, max_steps=10)   # warm-up
    time_epoch_tutorial(vae_t, opt_t, loader, max_steps=10)
    out = Throughput(steps_per_epoch)
    for r in range(repeats):
        order = ["course", "tutorial"] if r % 2 == 0 else ["tutorial", "course"]
        for which in order:
            if which == "course":
                sec, steps = time_epoch_course(vae_c, opt_c, data.train_x, BATCH_SIZE, gen, max_steps)
            else:
                sec, steps = time_epoch_tutorial(vae_t, opt_t, loader, max_steps)
            getattr(out, which).append(sec * steps_per_epoch / steps)
            out.measured_steps = steps
        for which in order:
            if which == "course":
                sec, steps = time_feeding_course(data.train_x, BATCH_SIZE, gen, feed_steps)
            else:
                sec, steps = time_feeding_tutorial(loader, feed_steps)
            getattr(out, f"feed_{which}").append(sec * steps_per_epoch / steps)
            out.feed_steps = steps
        log(f"    repeat {r + 1}/{repeats}: course {out.course[-1]:.2f} s/epoch, "
            f"tutorial {out.tutorial[-1]:.2f} s/epoch")
    return out


# --- overhead over the compute floor ---------------------------------------------------------

def time_block(step: Callable[[], object], n: int) -> float:
    """Seconds per call of ``step`` over ``n`` calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int, block: int,
                warmup: int = 5) -> dict[str, list[float]]:
    """Seconds per call of each contender: ``repeats`` rounds of ``block`` calls each, the
    order rotated every round, so drifts in machine load hit all contenders alike."""
    names = list(contenders)
    for name in names:
        time_block(contenders[name], warmup)
    times = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(time_block(contenders[name], block))
    return times


def compute_floor(data: MNISTData, repeats: int, block: int) -> dict[str, list[float]]:
    """Seconds per training step: the step alone on a pre-made binarized batch (the floor), the
    course's full step (next slice + binarize + step) and the tutorial's full step."""
    vae, opt = fresh_vae()
    course = course_batches(data.train_x, BATCH_SIZE)
    tutorial = tutorial_batches(tutorial_loader(BATCH_SIZE, course_train_indices()))
    fixed = binarize(data.train_x[:BATCH_SIZE], torch.Generator().manual_seed(0))
    return interleaved({
        "floor": lambda: train_step(vae, opt, fixed),
        "course": lambda: train_step(vae, opt, next(course)),
        "tutorial": lambda: train_step(vae, opt, next(tutorial)),
    }, repeats, block)


# --- Pyro's cost -----------------------------------------------------------------------------

def torch_loop_step(vae: VAE, x: torch.Tensor, lr: float = 1e-4) -> Callable[[], None]:
    """The hand-written step as train_vae takes it: negative_elbo, Adam, one-cycle schedule."""
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=10**6)

    def step():
        loss = negative_elbo(vae, x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return step


def pyro_cost(data: MNISTData, repeats: int, block: int, z_dim: int = 2) -> dict[str, list[float]]:
    """Seconds per step on the same binarized batch of 128, interleaved: the hand-written step vs
    ``svi.step`` as lecture 05 trains (ClippedAdam + one-cycle, Pyro validation on as the lecture
    sets it) with Trace_ELBO and with TraceMeanField_ELBO, and Trace_ELBO with validation off."""
    import pyro
    from pyro.infer import SVI, Trace_ELBO, TraceMeanField_ELBO

    from .pyro_vae import PyroVAE, one_cycle_clipped_adam

    x = binarize(data.train_x[:BATCH_SIZE], torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    hand = VAE(z_dim=z_dim, hidden_dim=HIDDEN_DIM)
    pv = PyroVAE(copy.deepcopy(hand.encoder), copy.deepcopy(hand.decoder), z_dim)
    pyro.clear_param_store()
    before = pyro.infer.util.is_validation_enabled()

    def svi_loop(elbo, validate: bool = True) -> Callable[[], None]:
        optimizer = one_cycle_clipped_adam(1e-4, 10**6, BATCH_SIZE)
        svi = SVI(pv.model, pv.guide, optimizer, loss=elbo)

        def step():
            pyro.enable_validation(validate)
            svi.step(x)
            optimizer.step()                              # the one-cycle schedule, as lecture 05
        return step

    try:
        return interleaved({
            "hand-written": torch_loop_step(hand, x),
            "Trace_ELBO": svi_loop(Trace_ELBO()),
            "TraceMeanField_ELBO": svi_loop(TraceMeanField_ELBO()),
            "Trace_ELBO, validation off": svi_loop(Trace_ELBO(), validate=False),
        }, repeats, block)
    finally:
        pyro.enable_validation(before)


# --- quality ---------------------------------------------------------------------------------

@dataclass
class Quality:
    z_dim: int
    epochs: int
    seconds: float
    neg_elbo: float       # test −ELBO, nats per image
    neg_log_px: float     # test −log p(x) (IWAE, K samples), nats per image
    k: int
    source: str           # where the numbers come from


@torch.no_grad()
def mean_negative_elbo(vae: VAE, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean −ELBO in nats per image over the already-binarized images x (as lecture 04)."""
    total = sum(negative_elbo(vae, xb).sum().item()
                for (xb,) in minibatches(x, batch_size=batch_size, shuffle=False))
    return total / len(x)


def train_like_lecture04(vae: VAE, train_x, x_val, epochs: int, max_lr: float = 3e-3,
                         seed: int = 0) -> None:
    """Lecture 04's training loop without its figures: Adam + one-cycle on dynamically binarized
    minibatches, the validation −ELBO after each epoch (it draws noise, so it is kept)."""
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * math.ceil(len(train_x) / BATCH_SIZE)
    opt = torch.optim.Adam(vae.parameters(), lr=max_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=steps)
    for _ in range(epochs):
        for (xb,) in minibatches(train_x, batch_size=BATCH_SIZE, generator=gen):
            loss = negative_elbo(vae, binarize(xb)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        mean_negative_elbo(vae, x_val)


def quality_direct(data: MNISTData, z_dims=(2, 20), epochs: int = 25, k: int = 100,
                   max_lr: float = 3e-3, log=print) -> list[Quality]:
    """Lecture 04's quality numbers recomputed with its settings and seeds: validation and test
    sets binarized once (seeds 1 and 2), torch.manual_seed(0) before initialising, evaluating and
    the IWAE estimate (K samples, batches of 20,000 // K images)."""
    x_val = binarize(data.val_x, torch.Generator().manual_seed(1))
    x_test = binarize(data.test_x, torch.Generator().manual_seed(2))
    out = []
    for z_dim in z_dims:
        log(f"    training a {z_dim}-D VAE for {epochs} epochs ...")
        torch.manual_seed(0)
        vae = VAE(z_dim=z_dim, hidden_dim=HIDDEN_DIM)
        t0 = time.perf_counter()
        train_like_lecture04(vae, data.train_x, x_val, epochs, max_lr)
        seconds = time.perf_counter() - t0
        torch.manual_seed(0)
        neg_elbo = mean_negative_elbo(vae, x_test)
        torch.manual_seed(0)
        nll = -iwae_log_px(vae, x_test, k=k, batch_size=max(1, 20_000 // k)).mean().item()
        out.append(Quality(z_dim, epochs, seconds, neg_elbo, nll, k, "benchmarks (utils.vae)"))
    return out


# --- REINFORCE vs pathwise -------------------------------------------------------------------

def log_likelihood(vae: VAE, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p_θ(x|z) per image: Bernoulli on the decoder's logits, summed over pixels."""
    return -F.binary_cross_entropy_with_logits(vae.decoder(z), x, reduction="none").sum(-1)


def reinforce_negative_elbo(vae: VAE, x: torch.Tensor, eps: torch.Tensor,
                            baseline: float = 0.0) -> torch.Tensor:
    """−ELBO per image with the score-function gradient for the encoder (lecture 03, §10):
    z is held fixed and a zero-valued term (ℓ − b)·(log q − stopgrad log q) carries the gradient."""
    z_loc, z_scale = vae.encoder(x)
    z = (z_loc + z_scale * eps).detach()
    log_px_z = log_likelihood(vae, x, z)
    log_q = torch.distributions.Normal(z_loc, z_scale).log_prob(z).sum(-1)
    score_term = (log_px_z.detach() - baseline) * (log_q - log_q.detach())
    return gaussian_kl(z_loc, z_scale) - log_px_z - score_term


def encoder_gradient_variance(vae: VAE, x: torch.Tensor, loss_fn, repeats: int,
                              **kwargs) -> torch.Tensor:
    """Per-parameter variance of the encoder's gradient over ``repeats`` fresh noise draws
    (Welford's update)."""
    params = list(vae.encoder.parameters())
    mean = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    for r in range(1, repeats + 1):
        eps = torch.randn(len(x), vae.z_dim)
        for g, mu, s in zip(torch.autograd.grad(loss_fn(vae, x, eps, **kwargs).mean(), params),
                            mean, m2):
            delta = g - mu
            mu += delta / r
            s += delta * (g - mu)
    return torch.cat([s.flatten() for s in m2]) / (repeats - 1)


@dataclass
class VarianceRatio:
    name: str
    median: float
    q10: float
    q90: float


@dataclass
class VarianceStudy:
    z_dim: int
    repeats: int
    batch: int
    active: int
    params: int
    ratios: list[VarianceRatio]
    seconds: float


def gradient_variance_ratio(data: MNISTData, repeats: int, z_dim: int = 4) -> VarianceStudy:
    """Lecture 03's study (§10) with its seeds: a z_dim=4 VAE trained one epoch (train_vae),
    one fixed minibatch of 128, the encoder's gradient estimated ``repeats`` times each way; the
    ratio Var_REINFORCE / Var_pathwise per encoder parameter (those with a nonzero pathwise
    variance), without and with the lecture's constant pilot baseline."""
    t0 = time.perf_counter()
    torch.manual_seed(0)
    vae = VAE(z_dim=z_dim, hidden_dim=HIDDEN_DIM)
    train_vae(vae, data.train_x, data.val_x, epochs=1)
    torch.manual_seed(1)
    x = binarize(data.train_x[:128])
    torch.randn(len(x), z_dim)                            # the lecture's same-noise check draws ε
    with torch.no_grad():
        z_loc, z_scale = vae.encoder(x)
        pilot_b = log_likelihood(vae, x, z_loc + z_scale * torch.randn(len(x), z_dim)).mean().item()
    var_pw = encoder_gradient_variance(vae, x, negative_elbo_eps, repeats)
    var = {"REINFORCE": encoder_gradient_variance(vae, x, reinforce_negative_elbo, repeats),
           "REINFORCE + baseline": encoder_gradient_variance(vae, x, reinforce_negative_elbo,
                                                             repeats, baseline=pilot_b)}
    active = var_pw > 0
    ratios = []
    for name, v in var.items():
        ratio = (v[active] / var_pw[active]).double()
        q = torch.quantile(ratio, torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)).tolist()
        ratios.append(VarianceRatio(name, q[1], q[0], q[2]))
    return VarianceStudy(z_dim, repeats, len(x), int(active.sum()), len(var_pw), ratios,
                         time.perf_counter() - t0)


def negative_elbo_eps(vae: VAE, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """utils.vae.negative_elbo with given noise (the pathwise estimator)."""
    return negative_elbo(vae, x, eps)
