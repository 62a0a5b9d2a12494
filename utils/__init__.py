"""Shared plumbing for the latent-variable-models course.

One module per concern: ``runtime`` (smoke mode, device, seeds, threads),
``data`` (MNIST as in-memory tensors), ``plots`` (figures, live figures,
progress bars), ``checks`` (self-checks for the exercises) and ``vae``
(the unit-04 VAE, reused by later units and the benchmarks).
"""
