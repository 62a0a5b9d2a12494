"""Measured claims about the course: lecture run times and memory, the training step against its
compute floor and across torch thread counts, Pyro's cost per step, model quality (as the lectures
record it) and the test suite's wall time. Run ``python -m benchmarks.run --help`` (or
``make benchmark``); the full report is benchmarks/results.md.

Modules: ``report`` (pure helpers: spreads, ratios, Markdown tables, the paragraphs built from the
lectures' recorded results), ``measure`` (in-process timings through ``utils.vae`` and
``utils.pyro_vae``), ``notebooks`` (lectures executed headless, the test suite timed), ``run`` (CLI).
"""
